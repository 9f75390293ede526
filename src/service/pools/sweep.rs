//! Recall sweeps: owned customers that broke their pool's rules go back to the pool; those
//! close to it get a warning for their owner. A dry run computes exactly what the real sweep
//! would do at a given instant; the real sweep applies it in batches of write transactions,
//! re-checking each customer inside the batch that changes it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::{Customer, RuleFields};
use crate::domain::org::{Department, User};
use crate::domain::pool::Pool;
use crate::domain::roles::DataScope;
use crate::script::hooks::RECALL;
use crate::script::views::{CustomerView as ScriptCustomer, PoolView};
use crate::script::{PluginFailure, RecallRule, ScriptError};
use crate::service::access::auth::Caller;
use crate::service::followups::Reminder;
use crate::service::pools::rules::{self, RecallDecision, RecallFacts, Verdict};
use crate::service::pools::{into_pool, target_pool};
use crate::service::{App, Error, Result, access::audit, new_id};
use crate::store::audit::NewAudit;
use crate::store::customers::{self, TimelineEvent};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{ReadTransaction, WriteTransaction, pools, rule_fields, users};

/// Customers changed per write transaction.
pub const BATCH: usize = 1000;
/// Compact rows the scanning thread copies out before handing them to an evaluating thread.
const EVAL_CHUNK: usize = 4096;
/// Threads evaluating rules during a sweep, besides the scanning one (the design's small
/// server has 2 cores).
const THREADS: usize = 2;

/// One thing a sweep does to one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SweepAction {
    pub customer_id: String,
    pub customer_name: String,
    pub owner_id: String,
    /// `recall` or `warn`.
    pub action: String,
    /// The rule's reason (Chinese).
    pub reason: String,
    /// Whole days until recall (`warn` only).
    pub days_left: Option<i64>,
    /// The pool the customer goes (or would go) to.
    pub pool_id: String,
}

/// What a sweep did (or would do) in one pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoolSweepCount {
    pub pool_id: String,
    /// Customers recalled into this pool.
    pub recalled: u64,
    /// Owners warned about customers that would go to this pool.
    pub warned: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    pub as_of: DateTime<Utc>,
    pub dry_run: bool,
    /// Owned customers looked at.
    pub scanned: u64,
    pub recalled: u64,
    pub warned: u64,
    /// Per pool: every pool (zeros included), in pool id order.
    pub pools: Vec<PoolSweepCount>,
    /// The first `limit` actions in customer id order.
    pub actions: Vec<SweepAction>,
    /// Whether there were more actions than `actions` lists.
    pub truncated: bool,
    /// `pool.recall` failures (each such customer was kept, not recalled or warned).
    pub errors: u64,
    /// The first failures, with file, line and customer.
    pub first_errors: Vec<PluginFailure>,
}

/// Actions a report lists when the caller does not say.
pub const REPORT_LIMIT: usize = 200;
/// The most actions a report lists.
pub const MAX_REPORT_LIMIT: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Recall,
    Warn,
}

/// One customer a sweep plans to recall or warn. Small on purpose: the first sweep over
/// freshly loaded data may plan for most customers; names and reasons are built only for the
/// actions a report lists or the sweep applies.
struct Planned {
    id: Box<str>,
    /// Index into `Context::pools`.
    pool: usize,
    kind: Kind,
}

/// What a dry run found: the plan in customer id order and the first actions in full.
struct Plan {
    scanned: u64,
    pool_ids: Vec<String>,
    planned: Vec<Planned>,
    listed: Vec<SweepAction>,
    errors: Failures,
}

/// `pool.recall` failures: how many, and the first few.
type Failures = (u64, Vec<PluginFailure>);

/// Encoded compact rows copied out of the store, handed to an evaluating thread (the read
/// transaction's borrowed values cannot leave the scanning thread).
#[derive(Default)]
struct Chunk {
    ids: String,
    bytes: Vec<u8>,
    /// Per row: end of its id in `ids`, end of its value in `bytes`.
    ends: Vec<(usize, usize)>,
}

impl Chunk {
    fn push(&mut self, id: &str, value: &[u8]) {
        self.ids.push_str(id);
        self.bytes.extend_from_slice(value);
        self.ends.push((self.ids.len(), self.bytes.len()));
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn rows(&self) -> impl Iterator<Item = (&str, &[u8])> {
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
struct Tally {
    by_pool: BTreeMap<String, (u64, u64)>,
}

impl Tally {
    fn add(&mut self, pool_id: &str, recall: bool) {
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
struct Context {
    pools: Vec<Pool>,
    /// The script's view of each pool, built once.
    views: Vec<PoolView>,
    departments: Vec<Department>,
    users: BTreeMap<String, User>,
    /// Owner id → index of the pool their customers go to.
    by_owner: BTreeMap<String, usize>,
    /// Where customers of an owner unknown to the user table go.
    unknown_owner: Option<usize>,
    /// `pool.recall` failures met (each such customer is kept).
    errors: crate::script::errors::Collector,
}

impl Context {
    fn new(pools: Vec<Pool>, departments: Vec<Department>, users: Vec<User>) -> Context {
        let mut ctx = Context {
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

    fn read(tx: &ReadTransaction) -> Result<Context> {
        Ok(Context::new(
            pools::all(tx)?,
            crate::store::org::departments(tx)?,
            users::all(tx)?,
        ))
    }

    fn read_w(tx: &WriteTransaction) -> Result<Context> {
        Ok(Context::new(
            pools::all_w(tx)?,
            crate::store::org::departments_w(tx)?,
            users::all_w(tx)?,
        ))
    }

    /// The index of the pool a customer of `owner` would go to.
    fn pool_index(&self, owner: &str) -> Option<usize> {
        // An owner unknown to the user table goes where a department-less owner's would.
        match self.by_owner.get(owner) {
            Some(k) => Some(*k),
            None => self.unknown_owner,
        }
    }

    /// The pool (and its script view) a customer of `owner` would go to.
    fn pool_for(&self, owner: &str) -> Option<(&Pool, &PoolView)> {
        let k = self.pool_index(owner)?;
        Some((self.pools.get(k)?, self.views.get(k)?))
    }
}

/// What one sweep may touch. The scheduled job and callers with scope `all` sweep every
/// customer; anyone else with `pool.manage` sweeps only customers whose pool they manage
/// ([`crate::service::pools::manages`]) and whose owner is inside their data scope.
pub(crate) enum Within {
    All,
    Only {
        pools: BTreeSet<String>,
        /// `None`: every owner.
        owners: Option<BTreeSet<String>>,
    },
}

impl Within {
    fn allows(&self, pool_id: &str, owner: &str) -> bool {
        match self {
            Within::All => true,
            Within::Only { pools, owners } => {
                pools.contains(pool_id) && owners.as_ref().is_none_or(|o| o.contains(owner))
            }
        }
    }

    fn allows_pool(&self, pool_id: &str) -> bool {
        match self {
            Within::All => true,
            Within::Only { pools, .. } => pools.contains(pool_id),
        }
    }
}

/// Since when the current owner holds the customer: the later of held_since and created_at.
pub fn held_since(c: &Customer) -> DateTime<Utc> {
    c.held_since.map_or(c.created_at, |h| h.max(c.created_at))
}

/// Shanghai day number of an instant (for "one warning per day").
fn day_number(at: DateTime<Utc>) -> u64 {
    let local = at
        .with_timezone(&crate::service::customers::shanghai())
        .date_naive();
    u64::try_from(local.to_epoch_days()).unwrap_or(0)
}

impl App {
    /// The rule's decision for one owned, live customer (`None`: no pool to recall into).
    fn decide(
        &self,
        ctx: &Context,
        rule: Option<&RecallRule<'_>>,
        c: &RuleFields,
        now: DateTime<Utc>,
    ) -> Result<Option<(RecallDecision, String)>> {
        if c.deleted_at.is_some() {
            return Ok(None);
        }
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

    fn action_of(
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
    fn plan_chunk(
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
    fn sweep_plan(&self, now: DateTime<Utc>, limit: usize, within: &Within) -> Result<Plan> {
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
            // Per pool: the instant after which a claim or follow-up keeps a customer safe.
            let cutoffs: Vec<Option<DateTime<Utc>>> = ctx
                .views
                .iter()
                .map(|v| {
                    // A failing horizon skips nobody (every customer is evaluated).
                    let days = rule.as_ref()?.horizon(v, now).unwrap_or_else(|e| {
                        ctx.errors.add(PluginFailure::new(
                            RECALL.name,
                            rule.as_ref().and_then(|r| r.version.clone()),
                            &e,
                            None,
                            now,
                        ));
                        None
                    })?;
                    (days > 0).then(|| now - Duration::days(days))
                })
                .collect();
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
            let mut planned = std::thread::scope(|s| -> Result<Vec<Planned>> {
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
                                if let Err(e) = self.plan_chunk(
                                    &ctx,
                                    rule.as_ref(),
                                    &cutoffs,
                                    &chunk,
                                    now,
                                    within,
                                    &mut out,
                                ) {
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
            })?;
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

    /// Applies planned actions in batches; each customer is re-read and re-decided inside its
    /// batch, so a follow-up or claim that landed meanwhile wins. Returns the counts of what
    /// was done and the first `limit` actions.
    fn apply_sweep(
        &self,
        now: DateTime<Utc>,
        plan: &[Planned],
        limit: usize,
        within: &Within,
    ) -> Result<(Tally, Vec<SweepAction>, Failures)> {
        let rule = self.plugins.recall_rule().ok();
        let mut errors = (0, Vec::new());
        let mut tally = Tally::default();
        let mut listed = Vec::with_capacity(limit.min(plan.len()));
        let today = day_number(now);
        for batch in plan.chunks(BATCH) {
            let applied = self.store.write(|tx| {
                let ctx = Context::read_w(tx)?;
                let mut applied = Vec::new();
                let all = Reader::unscoped(tx, Unscoped::Jobs);
                for planned in batch {
                    let Some(before) = all.any(&planned.id)? else {
                        continue;
                    };
                    let fields = RuleFields::from(&before);
                    let Some(action) = self.action_of(&ctx, rule.as_ref(), &fields, now)? else {
                        continue;
                    };
                    // Moved out of the caller's reach since the plan was made.
                    if !within.allows(&action.pool_id, &action.owner_id) {
                        continue;
                    }
                    let warn_key = format!("recall_warn/{}/{}", action.owner_id, before.id);
                    if action.action == "recall" {
                        let Some(pool) = ctx.pools.iter().find(|p| p.id == action.pool_id) else {
                            continue;
                        };
                        let mut c = before.clone();
                        into_pool(&mut c, pool, now);
                        customers::put(tx, Some(&before), &c)?;
                        pools::remove_counter(tx, &warn_key)?;
                        customers::add_event(
                            tx,
                            &c.id,
                            &TimelineEvent::new(
                                new_id(now),
                                now,
                                "system",
                                "recalled",
                                Some(action.owner_id.clone()),
                                Some(pool.id.clone()),
                                Some(action.reason.clone()),
                            ),
                        )?;
                        audit::record(
                            tx,
                            now,
                            NewAudit {
                                actor_id: None,
                                actor: "system".into(),
                                action: "customer.recalled",
                                target: Some(c.id.clone()),
                                detail: json!({
                                    "from": action.owner_id, "pool_id": pool.id,
                                    "reason": action.reason,
                                }),
                                source: "pool sweep".into(),
                            },
                        )?;
                    } else if pools::counter_w(tx, &warn_key)? != today {
                        // One warning a day: the reminder and a timeline entry.
                        pools::set_counter(tx, &warn_key, today)?;
                        customers::add_event(
                            tx,
                            &before.id,
                            &TimelineEvent::new(
                                new_id(now),
                                now,
                                "system",
                                "recall_warning",
                                None,
                                action.days_left.map(|d| d.to_string()),
                                Some(action.reason.clone()),
                            ),
                        )?;
                    }
                    applied.push(action);
                }
                let (n, first) = ctx.errors.take();
                errors.0 += n;
                errors.1.extend(first);
                Ok::<_, Error>(applied)
            })?;
            for action in applied {
                tally.add(&action.pool_id, action.action == "recall");
                if listed.len() < limit {
                    listed.push(action);
                }
            }
        }
        errors.1.truncate(crate::script::errors::REPORT_FIRST);
        Ok((tally, listed, errors))
    }

    /// Runs (or previews) a sweep as of `now`; the report lists the first `limit` actions.
    pub fn sweep_at(&self, now: DateTime<Utc>, dry_run: bool, limit: usize) -> Result<SweepReport> {
        self.sweep_within(now, dry_run, limit, &Within::All)
    }

    fn sweep_within(
        &self,
        now: DateTime<Utc>,
        dry_run: bool,
        limit: usize,
        within: &Within,
    ) -> Result<SweepReport> {
        let limit = limit.min(MAX_REPORT_LIMIT);
        // The real sweep re-decides every customer it applies: nothing to list from the plan.
        let plan = self.sweep_plan(now, if dry_run { limit } else { 0 }, within)?;
        let (tally, actions, applied_errors) = if dry_run {
            let mut tally = Tally::default();
            for p in &plan.planned {
                if let Some(id) = plan.pool_ids.get(p.pool) {
                    tally.add(id, p.kind == Kind::Recall);
                }
            }
            (tally, plan.listed, (0, Vec::new()))
        } else {
            self.apply_sweep(now, &plan.planned, limit, within)?
        };
        let (errors, mut first_errors) = plan.errors;
        let errors = errors + applied_errors.0;
        first_errors.extend(applied_errors.1);
        first_errors.truncate(crate::script::errors::REPORT_FIRST);
        if errors > 0 {
            // One line per sweep, however many customers failed.
            let first = first_errors.first();
            tracing::error!(
                hook = RECALL.name,
                errors,
                dry_run,
                first = %first.map_or(String::new(), |f| format!(
                    "{}:{}: {} (customer {})",
                    f.file,
                    f.line.unwrap_or(0),
                    f.message,
                    f.record_id.as_deref().unwrap_or("-")
                )),
                "pool.recall failed during the sweep; those customers were kept"
            );
            if !dry_run {
                self.plugins
                    .errors
                    .record_many(RECALL.name, errors, first_errors.clone());
            }
        } else if !dry_run && plan.scanned > 0 {
            self.plugins.errors.ok(RECALL.name);
        }
        let recalled = tally.by_pool.values().map(|(r, _)| r).sum();
        let warned = tally.by_pool.values().map(|(_, w)| w).sum();
        let truncated = recalled + warned > actions.len() as u64;
        Ok(SweepReport {
            as_of: now,
            dry_run,
            scanned: plan.scanned,
            recalled,
            warned,
            pools: plan
                .pool_ids
                .into_iter()
                .filter(|pool_id| within.allows_pool(pool_id))
                .map(|pool_id| {
                    let (recalled, warned) =
                        tally.by_pool.get(&pool_id).copied().unwrap_or_default();
                    PoolSweepCount {
                        pool_id,
                        recalled,
                        warned,
                    }
                })
                .collect(),
            actions,
            truncated,
            errors,
            first_errors,
        })
    }

    /// `POST /pools/sweep`: pool managers preview a sweep at any instant, or run one now, over
    /// the pools and customers inside their scope ([`Within`]).
    pub fn sweep_pools(
        &self,
        caller: &Caller,
        as_of: Option<DateTime<Utc>>,
        dry_run: bool,
        limit: usize,
        source: &str,
    ) -> Result<SweepReport> {
        caller.require(Capability::PoolManage)?;
        if !dry_run && as_of.is_some_and(|t| t != self.now()) {
            return Err(Error::validation(
                "as_of",
                "实际回收只按当前时间执行；指定时间只能用于预览（dry_run=true）",
            ));
        }
        let within = if caller.access.scope == DataScope::All {
            Within::All
        } else {
            let scope = self.scope_of(caller)?;
            let pools = self.store.read(|tx| {
                let departments = crate::store::org::departments(tx)?;
                Ok::<_, Error>(
                    pools::all(tx)?
                        .into_iter()
                        .filter(|p| crate::service::pools::manages(p, caller, &departments))
                        .map(|p| p.id)
                        .collect(),
                )
            })?;
            Within::Only {
                pools,
                owners: scope.owner_filter().cloned(),
            }
        };
        let now = as_of.unwrap_or_else(|| self.now());
        let report = self.sweep_within(now, dry_run, limit, &within)?;
        if !dry_run {
            let at = self.now();
            self.store.write(|tx| {
                audit::record(
                    tx,
                    at,
                    audit::by_user(
                        &caller.user,
                        "pool.swept",
                        source,
                        None,
                        json!({"as_of": now, "recalled": report.recalled, "warned": report.warned}),
                    ),
                )
            })?;
        }
        Ok(report)
    }

    /// The caller's customers the sweep warned about and that are still about to be recalled.
    pub(crate) fn recall_warnings(&self, caller: &Caller) -> Result<Vec<Reminder>> {
        let now = self.now();
        let scope = self.scope_of(caller)?;
        self.store.read(|tx| {
            let read = scope.customers(tx);
            let prefix = format!("recall_warn/{}/", caller.user.id);
            let keys = pools::counters_with_prefix(tx, &prefix)?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let ctx = Context::read(tx)?;
            let rule = self.plugins.recall_rule().ok();
            let mut out = Vec::new();
            for (key, _) in keys {
                let id = key.trim_start_matches(&prefix);
                let Some(c) = read.any(id)? else {
                    continue;
                };
                if c.owner_id.as_deref() != Some(caller.user.id.as_str()) {
                    continue;
                }
                if let Some((RecallDecision::Warn { days_left, reason }, _)) =
                    self.decide(&ctx, rule.as_ref(), &RuleFields::from(&c), now)?
                {
                    out.push(Reminder {
                        customer: self.viewer(caller).view(&c)?,
                        due_at: now + Duration::days(days_left),
                        kind: "recall_warning".into(),
                        days_left: Some(days_left),
                        reason: Some(reason),
                    });
                }
            }
            // A rule failing here hides the warning; the failure is recorded, not dropped.
            let (n, first) = ctx.errors.take();
            self.plugins.errors.record_many(RECALL.name, n, first);
            Ok(out)
        })
    }

    /// The background job's step: sweeps when `interval` has passed since the last sweep
    /// (kept in `counters`, so a restart does not sweep twice). Returns the report if it ran.
    pub fn sweep_if_due(&self, interval: Duration) -> Result<Option<SweepReport>> {
        let now = self.now();
        let last = self
            .store
            .read(|tx| Ok::<_, Error>(pools::counter(tx, "sweep/last")?))?;
        let last = DateTime::<Utc>::from_timestamp(i64::try_from(last).unwrap_or(0), 0)
            .unwrap_or_default();
        if last != DateTime::<Utc>::default() && now < last + interval {
            return Ok(None);
        }
        let report = self.sweep_at(now, false, 0)?;
        self.store.write(|tx| {
            pools::set_counter(
                tx,
                "sweep/last",
                u64::try_from(now.timestamp()).unwrap_or(0),
            )?;
            Ok::<_, Error>(())
        })?;
        Ok(Some(report))
    }
}
