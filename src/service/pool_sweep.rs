//! Recall sweeps: owned customers that broke their pool's rules go back to the pool; those
//! close to it get a warning for their owner. A dry run computes exactly what the real sweep
//! would do at a given instant; the real sweep applies it in batches of write transactions,
//! re-checking each customer inside the batch that changes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Caller;
use super::customers::CustomerView;
use super::followups::Reminder;
use super::pool_rules::{self, RecallDecision, RecallInput};
use super::pools::{into_pool, target_pool};
use super::{App, Error, Result, audit, new_id};
use crate::domain::customer::{Customer, RuleFields};
use crate::domain::org::{Department, User};
use crate::domain::pool::Pool;
use crate::script::views::{CustomerView as ScriptCustomer, PoolView};
use crate::script::{RecallRule, ScriptError};
use crate::store::audit::NewAudit;
use crate::store::customers::{self, TimelineEvent};
use crate::store::{ReadTransaction, WriteTransaction, pools, rule_fields, users};

/// Customers changed per write transaction.
pub const BATCH: usize = 1000;
/// Customers decoded before their rules are evaluated together.
const EVAL_CHUNK: usize = 4096;
/// Threads evaluating rules during a sweep (the design's small server has 2 cores).
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    pub as_of: DateTime<Utc>,
    pub dry_run: bool,
    /// Owned customers looked at.
    pub scanned: u64,
    pub recalled: u64,
    pub warned: u64,
    /// In customer id order.
    pub actions: Vec<SweepAction>,
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
}

impl Context {
    fn new(pools: Vec<Pool>, departments: Vec<Department>, users: Vec<User>) -> Context {
        let mut ctx = Context {
            views: pools.iter().map(PoolView::new).collect(),
            pools,
            departments,
            users: users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            by_owner: BTreeMap::new(),
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

    /// The pool (and its script view) a customer of `owner` would go to.
    fn pool_for(&self, owner: &str) -> Option<(&Pool, &PoolView)> {
        // An owner unknown to the user table goes where a department-less owner's would.
        let k = match self.by_owner.get(owner) {
            Some(k) => *k,
            None => {
                let pool = target_pool(&self.pools, &self.departments, None)?;
                self.pools.iter().position(|p| p.id == pool.id)?
            }
        };
        Some((self.pools.get(k)?, self.views.get(k)?))
    }
}

/// Since when the current owner holds the customer: the later of held_since and created_at.
pub fn held_since(c: &Customer) -> DateTime<Utc> {
    c.held_since.map_or(c.created_at, |h| h.max(c.created_at))
}

/// Shanghai day number of an instant (for "one warning per day").
fn day_number(at: DateTime<Utc>) -> u64 {
    let local = at.with_timezone(&super::customers::shanghai()).date_naive();
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
        let held_since = c.held_since();
        let script = match rule {
            Some(r) if r.is_default() => Ok(pool_rules::recall_as_default_script(
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
        let decision = script.unwrap_or_else(|e| {
            tracing::error!(error = %e, "pool.recall plugin failed; built-in rule used");
            pool_rules::recall(&RecallInput {
                customer: c.clone(),
                pool: pool.clone(),
                locked: c.locked,
                held_since,
                now,
            })
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

    /// Actions for `rows`, evaluated on up to [`THREADS`] threads, in `rows` order.
    fn evaluate(
        &self,
        ctx: &Context,
        rule: Option<&RecallRule<'_>>,
        rows: &[RuleFields],
        now: DateTime<Utc>,
    ) -> Result<Vec<SweepAction>> {
        let run = |part: &[RuleFields]| -> Result<Vec<SweepAction>> {
            let mut out = Vec::new();
            for c in part {
                out.extend(self.action_of(ctx, rule, c, now)?);
            }
            Ok(out)
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(THREADS);
        if threads < 2 || rows.len() < 64 {
            return run(rows);
        }
        let (first, second) = rows.split_at(rows.len() / 2);
        std::thread::scope(|s| {
            let other = s.spawn(|| run(second));
            let mut out = run(first)?;
            match other.join() {
                Ok(rest) => out.extend(rest?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            Ok(out)
        })
    }

    /// What a sweep at `now` would do, from one consistent snapshot, in customer id order.
    /// Reads only the compact rule view of owned customers (`store::rule_fields`), never a
    /// record; when every pool's rule declares a horizon, only the customers inactive since
    /// before the latest cutoff are read at all (a range of the activity index).
    fn sweep_plan(&self, now: DateTime<Utc>) -> Result<(u64, Vec<SweepAction>)> {
        let rule = self
            .plugins
            .recall_rule()
            .map_err(|e| tracing::error!(error = %e, "pool.recall plugin unavailable"))
            .ok();
        self.store.read(|tx| {
            let ctx = Context::read(tx)?;
            let mut out = Vec::new();
            if ctx.pools.is_empty() {
                return Ok((0, out));
            }
            let scanned = rule_fields::owned_count(tx)?;
            // Per pool: the instant after which a claim or follow-up keeps a customer safe.
            let cutoffs: BTreeMap<&str, DateTime<Utc>> = ctx
                .pools
                .iter()
                .zip(&ctx.views)
                .filter_map(|(p, v)| {
                    let days = rule.as_ref()?.horizon(v, now).unwrap_or_else(|e| {
                        tracing::error!(error = %e, "pool.recall horizon failed; every customer evaluated");
                        None
                    })?;
                    (days > 0).then(|| (p.id.as_str(), now - Duration::days(days)))
                })
                .collect();
            // A pool without a horizon needs every owned customer; otherwise the latest cutoff
            // bounds the range and each customer is checked against its own pool's below.
            let until = ctx
                .pools
                .iter()
                .map(|p| cutoffs.get(p.id.as_str()).copied())
                .collect::<Option<Vec<_>>>()
                .and_then(|cuts| cuts.into_iter().max());
            let mut pending: Vec<RuleFields> = Vec::with_capacity(EVAL_CHUNK);
            let mut failed: Option<Error> = None;
            rule_fields::scan_owned(tx, until, |c| {
                let Some(owner) = c.owner_id.as_deref() else {
                    return true;
                };
                let Some((pool, _)) = ctx.pool_for(owner) else {
                    return true;
                };
                if let Some(cut) = cutoffs.get(pool.id.as_str())
                    && c.held_since() > *cut
                    && c.last_followup_at.is_none_or(|f| f > *cut)
                {
                    return true;
                }
                pending.push(c);
                if pending.len() >= EVAL_CHUNK {
                    match self.evaluate(&ctx, rule.as_ref(), &pending, now) {
                        Ok(actions) => out.extend(actions),
                        Err(e) => {
                            failed = Some(e);
                            return false;
                        }
                    }
                    pending.clear();
                }
                true
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            out.extend(self.evaluate(&ctx, rule.as_ref(), &pending, now)?);
            // The index is in activity order; reports and batches go in id order.
            out.sort_unstable_by(|a, b| a.customer_id.cmp(&b.customer_id));
            Ok((scanned, out))
        })
    }

    /// Applies planned actions in batches; each customer is re-read and re-decided inside its
    /// batch, so a follow-up or claim that landed meanwhile wins. Returns what was done.
    fn apply_sweep(&self, now: DateTime<Utc>, plan: Vec<SweepAction>) -> Result<Vec<SweepAction>> {
        let rule = self.plugins.recall_rule().ok();
        let mut done = Vec::with_capacity(plan.len());
        let today = day_number(now);
        for batch in plan.chunks(BATCH) {
            let applied = self.store.write(|tx| {
                let ctx = Context::read_w(tx)?;
                let mut applied = Vec::new();
                for planned in batch {
                    let Some(before) = customers::get_w(tx, &planned.customer_id)? else {
                        continue;
                    };
                    let fields = RuleFields::from(&before);
                    let Some(action) = self.action_of(&ctx, rule.as_ref(), &fields, now)? else {
                        continue;
                    };
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
                Ok::<_, Error>(applied)
            })?;
            done.extend(applied);
        }
        Ok(done)
    }

    /// Runs (or previews) a sweep as of `now`.
    pub fn sweep_at(&self, now: DateTime<Utc>, dry_run: bool) -> Result<SweepReport> {
        let (scanned, plan) = self.sweep_plan(now)?;
        let actions = if dry_run {
            plan
        } else {
            self.apply_sweep(now, plan)?
        };
        Ok(SweepReport {
            as_of: now,
            dry_run,
            scanned,
            recalled: actions.iter().filter(|a| a.action == "recall").count() as u64,
            warned: actions.iter().filter(|a| a.action == "warn").count() as u64,
            actions,
        })
    }

    /// `POST /pools/sweep`: pool managers preview (or run) a sweep at any instant.
    pub fn sweep_pools(
        &self,
        caller: &Caller,
        as_of: Option<DateTime<Utc>>,
        dry_run: bool,
        source: &str,
    ) -> Result<SweepReport> {
        caller.require("pool.manage")?;
        let now = as_of.unwrap_or_else(|| self.now());
        let report = self.sweep_at(now, dry_run)?;
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
        self.store.read(|tx| {
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
                let Some(c) = customers::get(tx, id)? else {
                    continue;
                };
                if c.owner_id.as_deref() != Some(caller.user.id.as_str()) {
                    continue;
                }
                if let Some((RecallDecision::Warn { days_left, reason }, _)) =
                    self.decide(&ctx, rule.as_ref(), &RuleFields::from(&c), now)?
                {
                    out.push(Reminder {
                        customer: CustomerView::from(&c),
                        due_at: now + Duration::days(days_left),
                        kind: "recall_warning".into(),
                        days_left: Some(days_left),
                        reason: Some(reason),
                    });
                }
            }
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
        let report = self.sweep_at(now, false)?;
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
