//! Planning a sweep: the compact rule view scanned once by one thread, rules evaluated by two,
//! the actions sorted into id order for reports and batches.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use chrono::{DateTime, Duration, Utc};

use super::{EVAL_CHUNK, SweepAction, THREADS, Within};
use crate::domain::customer::RuleFields;
use crate::domain::deal::DealStage;
use crate::domain::org::{Department, User};
use crate::domain::pool::Pool;
use crate::script::hooks::RECALL;
use crate::script::views::{CustomerView as ScriptCustomer, PoolView};
use crate::script::{PluginFailure, RecallRule, ScriptError};
use crate::service::pools::rules::{self, RecallDecision, RecallFacts, Verdict};
use crate::service::pools::target_pool;
use crate::service::{Error, Result};
use crate::store::{ReadTransaction, WriteTransaction, pools, rule_fields, users};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Recall,
    Warn,
}

/// One customer a sweep plans to recall or warn. Small on purpose: the first sweep over
/// freshly loaded data may plan for most customers; names and reasons are built only for the
/// actions a report lists or the sweep applies.
pub(super) struct Planned {
    pub(super) id: Box<str>,
    /// Index into `Context::pools`.
    pub(super) pool: usize,
    pub(super) kind: Kind,
}

/// What a dry run found: the plan in customer id order and the first actions in full.
pub(super) struct Plan {
    pub(super) scanned: u64,
    pub(super) pool_ids: Vec<String>,
    pub(super) planned: Vec<Planned>,
    pub(super) listed: Vec<SweepAction>,
    pub(super) errors: Failures,
}

/// `pool.recall` failures: how many, and the first few.
pub(super) type Failures = (u64, Vec<PluginFailure>);

/// Encoded compact rows copied out of the store, handed to an evaluating thread (the read
/// transaction's borrowed values cannot leave the scanning thread).
#[derive(Default)]
pub(super) struct Chunk {
    pub(super) ids: String,
    pub(super) bytes: Vec<u8>,
    /// Per row: end of its id in `ids`, end of its value in `bytes`.
    pub(super) ends: Vec<(usize, usize)>,
}

impl Chunk {
    pub(super) fn push(&mut self, id: &str, value: &[u8]) {
        self.ids.push_str(id);
        self.bytes.extend_from_slice(value);
        self.ends.push((self.ids.len(), self.bytes.len()));
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn rows(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let mut from = (0, 0);
        self.ends.iter().filter_map(move |&(i, b)| {
            let row = (self.ids.get(from.0..i)?, self.bytes.get(from.1..b)?);
            from = (i, b);
            Some(row)
        })
    }
}

/// Recalls and warnings per pool id.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) by_pool: BTreeMap<String, (u64, u64)>,
}

impl Tally {
    pub(super) fn add(&mut self, pool_id: &str, recall: bool) {
        if !self.by_pool.contains_key(pool_id) {
            self.by_pool.insert(pool_id.to_string(), (0, 0));
        }
        if let Some((r, w)) = self.by_pool.get_mut(pool_id) {
            if recall {
                *r += 1;
            } else {
                *w += 1;
            }
        }
    }
}

/// What the rules need besides the customer: pools, departments, owners.
pub(super) struct Context {
    pub(super) pools: Vec<Pool>,
    /// The script's view of each pool, built once.
    pub(super) views: Vec<PoolView>,
    pub(super) departments: Vec<Department>,
    pub(super) users: BTreeMap<String, User>,
    /// Owner id → index of the pool their customers go to.
    pub(super) by_owner: BTreeMap<String, usize>,
    /// Where customers of an owner unknown to the user table go.
    pub(super) unknown_owner: Option<usize>,
    /// `pool.recall` failures met (each such customer is kept).
    pub(super) errors: crate::script::errors::Collector,
    /// Customers with an open deal → its most advanced stage (`store::deals::lead_stages`).
    pub(super) deal_stages: HashMap<String, DealStage>,
}

impl Context {
    pub(super) fn new(
        pools: Vec<Pool>,
        departments: Vec<Department>,
        users: Vec<User>,
        deal_stages: HashMap<String, DealStage>,
    ) -> Context {
        let mut ctx = Context {
            deal_stages,
            views: pools.iter().map(PoolView::new).collect(),
            pools,
            departments,
            users: users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            by_owner: BTreeMap::new(),
            unknown_owner: None,
            errors: Default::default(),
        };
        let by_owner = ctx
            .users
            .iter()
            .filter_map(|(id, u)| {
                let pool = target_pool(&ctx.pools, &ctx.departments, u.department_id.as_deref())?;
                let k = ctx.pools.iter().position(|p| p.id == pool.id)?;
                Some((id.clone(), k))
            })
            .collect();
        ctx.by_owner = by_owner;
        ctx.unknown_owner = target_pool(&ctx.pools, &ctx.departments, None)
            .and_then(|pool| ctx.pools.iter().position(|p| p.id == pool.id));
        ctx
    }

    pub(super) fn read(tx: &ReadTransaction) -> Result<Context> {
        Ok(Context::new(
            pools::all(tx)?,
            crate::store::org::departments(tx)?,
            users::all(tx)?,
            crate::store::deals::lead_stages(tx)?,
        ))
    }

    pub(super) fn read_w(tx: &WriteTransaction) -> Result<Context> {
        Ok(Context::new(
            pools::all_w(tx)?,
            crate::store::org::departments_w(tx)?,
            users::all_w(tx)?,
            crate::store::deals::lead_stages(tx)?,
        ))
    }

    /// The index of the pool a customer of `owner` would go to.
    pub(super) fn pool_index(&self, owner: &str) -> Option<usize> {
        // An owner unknown to the user table goes where a department-less owner's would.
        match self.by_owner.get(owner) {
            Some(k) => Some(*k),
            None => self.unknown_owner,
        }
    }

    /// The pool (and its script view) a customer of `owner` would go to.
    pub(super) fn pool_for(&self, owner: &str) -> Option<(&Pool, &PoolView)> {
        let k = self.pool_index(owner)?;
        Some((self.pools.get(k)?, self.views.get(k)?))
    }
}

impl crate::service::pools::UseCases<'_> {
    /// The rule's decision for one owned, live customer (`None`: no pool to recall into).
    pub(super) fn decide(
        &self,
        ctx: &Context,
        rule: Option<&RecallRule<'_>>,
        c: &RuleFields,
        now: DateTime<Utc>,
    ) -> Result<Option<(RecallDecision, String)>> {
        if c.deleted_at.is_some() {
            return Ok(None);
        }
        // What the rule reads of the customer's deals.
        let with_deal;
        let c = match ctx.deal_stages.get(&c.id) {
            Some(s) if c.deal_stage != Some(*s) => {
                with_deal = RuleFields {
                    deal_stage: Some(*s),
                    ..c.clone()
                };
                &with_deal
            }
            _ => c,
        };
        let Some((pool, view)) = c.owner_id.as_deref().and_then(|o| ctx.pool_for(o)) else {
            return Ok(None);
        };
        // Engine rule: locked, won and deleted customers are never recalled or warned.
        if rules::recall_forbidden(c) {
            return Ok(Some((RecallDecision::Keep, pool.id.clone())));
        }
        let held_since = c.held_since();
        let script = match rule {
            Some(r) if r.is_default() => Ok(rules::recall_as_default_script(
                &pool.settings,
                c,
                c.locked,
                held_since,
                now,
            )),
            Some(r) => r.recall_with(
                ScriptCustomer::from_fields(c, held_since, c.locked),
                view.clone(),
                now,
            ),
            None => Err(ScriptError {
                file: String::new(),
                line: None,
                message: "没有可用的 pool.recall 插件".into(),
            }),
        };
        // A failing rule keeps the customer; the failure is counted, and logged once per sweep.
        let decision = script.unwrap_or_else(|e| {
            ctx.errors.add(PluginFailure::new(
                RECALL.name,
                rule.and_then(|r| r.version.clone()),
                &e,
                Some(&c.id),
                now,
            ));
            RecallDecision::Keep
        });
        Ok(Some((decision, pool.id.clone())))
    }

    pub(super) fn action_of(
        &self,
        ctx: &Context,
        rule: Option<&RecallRule<'_>>,
        c: &RuleFields,
        now: DateTime<Utc>,
    ) -> Result<Option<SweepAction>> {
        let Some((decision, pool_id)) = self.decide(ctx, rule, c, now)? else {
            return Ok(None);
        };
        let (action, reason, days_left) = match decision {
            RecallDecision::Keep => return Ok(None),
            RecallDecision::Warn { days_left, reason } => ("warn", reason, Some(days_left)),
            RecallDecision::Recall { reason } => ("recall", reason, None),
        };
        Ok(Some(SweepAction {
            customer_id: c.id.clone(),
            customer_name: c.name.clone(),
            owner_id: c.owner_id.clone().unwrap_or_default(),
            action: action.into(),
            reason,
            days_left,
            pool_id,
        }))
    }

    /// The plan entries for one chunk of compact rows, appended to `out` (in chunk order).
    /// With the unedited default rule this decides from the borrowed bytes with integers:
    /// nothing is allocated for a customer the sweep keeps.
    #[allow(clippy::too_many_arguments)] // one chunk's inputs, all borrowed from one plan
    pub(super) fn plan_chunk(
        &self,
        ctx: &Context,
        rule: Option<&RecallRule<'_>>,
        cutoffs: &[Option<DateTime<Utc>>],
        chunk: &Chunk,
        now: DateTime<Utc>,
        within: &Within,
        out: &mut Vec<Planned>,
    ) -> Result<()> {
        let fast = rule.is_some_and(|r| r.is_default());
        for (id, bytes) in chunk.rows() {
            let r = rule_fields::decode_ref(bytes)?;
            if r.deleted_at.is_some() {
                continue;
            }
            let Some((owner, k)) = r.owner_id.and_then(|o| Some((o, ctx.pool_index(o)?))) else {
                continue;
            };
            let Some(pool) = ctx.pools.get(k) else {
                continue;
            };
            if !within.allows(&pool.id, owner) {
                continue;
            }
            let held_since = r.held_since();
            // Claimed and followed up after the pool's horizon cutoff: cannot be due.
            if let Some(cut) = cutoffs.get(k).copied().flatten()
                && held_since > cut
                && r.last_followup_at.is_none_or(|f| f > cut)
            {
                continue;
            }
            let kind = if fast {
                let facts = RecallFacts {
                    stage: r.stage,
                    grade: r.grade,
                    locked: r.locked,
                    deleted: false,
                    last_followup_at: r.last_followup_at,
                    held_since,
                    deal_stage: ctx.deal_stages.get(id).copied(),
                };
                match rules::verdict_as_default_script(&pool.settings, &facts, now) {
                    Verdict::Keep => continue,
                    Verdict::Warn { .. } => Kind::Warn,
                    Verdict::Recall { .. } => Kind::Recall,
                }
            } else {
                let fields = rule_fields::decode(id, bytes)?;
                match self.decide(ctx, rule, &fields, now)? {
                    None | Some((RecallDecision::Keep, _)) => continue,
                    Some((RecallDecision::Warn { .. }, _)) => Kind::Warn,
                    Some((RecallDecision::Recall { .. }, _)) => Kind::Recall,
                }
            };
            out.push(Planned {
                id: id.into(),
                pool: k,
                kind,
            });
        }
        Ok(())
    }

    /// What a sweep at `now` would do, from one consistent snapshot: the plan in customer id
    /// order, and the first `limit` actions in full. Reads only the compact rule view of owned
    /// customers (`store::rule_fields`), never a record; when every pool's rule declares a
    /// horizon, only the customers inactive since before the latest cutoff are read at all (a
    /// range of the activity index). The scanning thread copies the rows out in chunks, and
    /// [`THREADS`] threads decide them.
    pub(super) fn sweep_plan(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        within: &Within,
    ) -> Result<Plan> {
        // Without a rule every customer is kept, each counted as a failure.
        let rule = self.plugins.recall_rule().ok();
        self.store.read(|tx| {
            let ctx = Context::read(tx)?;
            let pool_ids = ctx.pools.iter().map(|p| p.id.clone()).collect();
            if ctx.pools.is_empty() {
                return Ok(Plan {
                    scanned: 0,
                    pool_ids,
                    planned: Vec::new(),
                    listed: Vec::new(),
                    errors: (0, Vec::new()),
                });
            }
            let scanned = rule_fields::owned_count(tx)?;
            let cutoffs = Self::horizon_cutoffs(&ctx, rule.as_ref(), now);
            let mut planned =
                self.plan_in_parallel(tx, &ctx, rule.as_ref(), &cutoffs, now, within)?;
            // The index is in activity order; reports and batches go in id order.
            planned.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            let mut listed = Vec::with_capacity(limit.min(planned.len()));
            for p in planned.iter().take(limit) {
                let Some(fields) = rule_fields::get(tx, &p.id)? else {
                    continue;
                };
                listed.extend(self.action_of(&ctx, rule.as_ref(), &fields, now)?);
            }
            Ok(Plan {
                scanned,
                pool_ids,
                planned,
                listed,
                errors: ctx.errors.take(),
            })
        })
    }

    /// Per pool: the instant after which a claim or follow-up keeps a customer safe (`None`:
    /// no horizon, every owned customer is evaluated). A failing horizon skips nobody.
    fn horizon_cutoffs(
        ctx: &Context,
        rule: Option<&RecallRule>,
        now: DateTime<Utc>,
    ) -> Vec<Option<DateTime<Utc>>> {
        ctx.views
            .iter()
            .map(|v| {
                let days = rule?.horizon(v, now).unwrap_or_else(|e| {
                    ctx.errors.add(PluginFailure::new(
                        RECALL.name,
                        rule.and_then(|r| r.version.clone()),
                        &e,
                        None,
                        now,
                    ));
                    None
                })?;
                (days > 0).then(|| now - Duration::days(days))
            })
            .collect()
    }

    /// The compact rule view scanned by this thread up to the latest cutoff, rules evaluated
    /// by [`THREADS`] workers in chunks of [`EVAL_CHUNK`] rows; the first error stops all.
    fn plan_in_parallel(
        &self,
        tx: &ReadTransaction,
        ctx: &Context,
        rule: Option<&RecallRule>,
        cutoffs: &[Option<DateTime<Utc>>],
        now: DateTime<Utc>,
        within: &Within,
    ) -> Result<Vec<Planned>> {
        // A pool without a horizon needs every owned customer; otherwise the latest cutoff
        // bounds the range and each customer is checked against its own pool's.
        let until = cutoffs
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .and_then(|cuts| cuts.into_iter().max());
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, THREADS);
        let stop = AtomicBool::new(false);
        let (send, receive) = mpsc::sync_channel::<Chunk>(2 * threads);
        let receive = Mutex::new(receive);
        std::thread::scope(|s| -> Result<Vec<Planned>> {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> Result<Vec<Planned>> {
                        let mut out = Vec::new();
                        loop {
                            let next = match receive.lock() {
                                Ok(r) => r.recv(),
                                Err(_) => return Ok(out),
                            };
                            let Ok(chunk) = next else {
                                return Ok(out);
                            };
                            if let Err(e) =
                                self.plan_chunk(ctx, rule, cutoffs, &chunk, now, within, &mut out)
                            {
                                stop.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    })
                })
                .collect();
            let mut chunk = Chunk::default();
            let scan = rule_fields::scan_owned_raw(tx, until, |id, value| {
                chunk.push(id, value);
                let full = chunk.len() >= EVAL_CHUNK;
                !(full
                    && (stop.load(Ordering::Relaxed)
                        || send.send(std::mem::take(&mut chunk)).is_err()))
            });
            if chunk.len() > 0 {
                // A worker that stopped early reports its error below.
                let _ = send.send(chunk);
            }
            drop(send);
            let mut planned = Vec::new();
            let mut failed = scan.err().map(Error::from);
            for w in workers {
                match w.join() {
                    Ok(Ok(part)) => planned.extend(part),
                    Ok(Err(e)) => failed = failed.or(Some(e)),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(planned),
            }
        })
    }
}
