//! Recall sweeps: owned customers that broke their pool's rules go back to the pool; those
//! close to it get a warning for their owner. A dry run computes exactly what the real sweep
//! would do at a given instant; the real sweep applies it in batches of write transactions,
//! re-checking each customer inside the batch that changes it.

mod apply;
mod plan;

use plan::{Context, Kind, Tally};

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::{Customer, RuleFields};
use crate::domain::roles::DataScope;
use crate::script::PluginFailure;
use crate::script::hooks::RECALL;
use crate::service::access::auth::Caller;
use crate::service::followups::Reminder;
use crate::service::pools::rules::RecallDecision;
use crate::service::{Error, Result, access::audit};
use crate::store::pools;

/// Customers changed per write transaction. A recall changes about a dozen B-trees, several
/// at random places (the activity index, owner keys, report keys, owner touch): the larger
/// the batch, the more of those pages one commit rewrites for many recalls instead of one.
/// Profiled at 100k customers (issue 18.7): with 1,000 a third of the sweep was commits;
/// 5,000 is ×1.25 faster on a quiet machine (×1.3–1.4 under load) and 20,000 barely more,
/// while the write lock is held about 0.3 s per batch (other writers wait that long at most).
pub const BATCH: usize = 5000;
/// Batches one write transaction of the real sweep takes at most while no other writer waits
/// for the lock (it ends after the batch during which one begins to wait). At 1M customers
/// a first sweep over a large backlog ran ×1.25 faster with 20,000 customers per transaction
/// than with 5,000 (docs/benchmarks.md, "Sweep transactions that yield"): more of the pages a
/// commit rewrites carry several changes.
pub const TX_MAX_BATCHES: usize = 8;
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

/// Shanghai day number of an instant (for "one warning per day": the value of a
/// `recall_warn/<owner>/<customer>` counter).
pub fn day_number(at: DateTime<Utc>) -> u64 {
    let local = at
        .with_timezone(&crate::service::customers::shanghai())
        .date_naive();
    u64::try_from(local.to_epoch_days()).unwrap_or(0)
}

impl crate::service::pools::UseCases<'_> {
    /// Runs (or previews) a sweep as of `now`; the report lists the first `limit` actions.
    pub fn sweep_at(&self, now: DateTime<Utc>, dry_run: bool, limit: usize) -> Result<SweepReport> {
        self.sweep_within(now, dry_run, limit, &Within::All, BATCH)
    }

    /// The real sweep as of `now`, writing `batch` customers per write transaction (the tests
    /// hold every batch size to the same result; [`Self::sweep_at`] uses [`BATCH`]).
    pub fn sweep_in_batches(&self, now: DateTime<Utc>, batch: usize) -> Result<SweepReport> {
        self.sweep_within(now, false, 0, &Within::All, batch.max(1))
    }

    fn sweep_within(
        &self,
        now: DateTime<Utc>,
        dry_run: bool,
        limit: usize,
        within: &Within,
        batch: usize,
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
            self.apply_sweep(now, &plan.planned, limit, within, batch)?
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
        let report = self.sweep_within(now, dry_run, limit, &within, BATCH)?;
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
