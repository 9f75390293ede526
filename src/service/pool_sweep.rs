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
use super::pool_rules::{RecallDecision, RecallInput};
use super::pools::{into_pool, target_pool};
use super::{App, Error, Result, audit, new_id};
use crate::domain::customer::Customer;
use crate::domain::org::{Department, User};
use crate::domain::pool::Pool;
use crate::store::audit::NewAudit;
use crate::store::customers::{self, TimelineEvent};
use crate::store::{ReadTransaction, WriteTransaction, pools, users};

/// Customers changed per write transaction.
pub const BATCH: usize = 1000;

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
    departments: Vec<Department>,
    users: BTreeMap<String, User>,
}

impl Context {
    fn read(tx: &ReadTransaction) -> Result<Context> {
        Ok(Context {
            pools: pools::all(tx)?,
            departments: crate::store::org::departments(tx)?,
            users: users::all(tx)?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect(),
        })
    }

    fn read_w(tx: &WriteTransaction) -> Result<Context> {
        Ok(Context {
            pools: pools::all_w(tx)?,
            departments: crate::store::org::departments_w(tx)?,
            users: users::all_w(tx)?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect(),
        })
    }

    /// The pool an owned customer would go to.
    fn pool_for(&self, c: &Customer) -> Option<&Pool> {
        let owner = c.owner_id.as_ref()?;
        let dept = self
            .users
            .get(owner)
            .and_then(|u| u.department_id.as_deref());
        target_pool(&self.pools, &self.departments, dept)
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
        c: &Customer,
        now: DateTime<Utc>,
    ) -> Result<Option<(RecallDecision, String)>> {
        if c.owner_id.is_none() || c.deleted_at.is_some() {
            return Ok(None);
        }
        let Some(pool) = ctx.pool_for(c) else {
            return Ok(None);
        };
        let input = RecallInput {
            customer: c.clone(),
            pool: pool.clone(),
            locked: c.locked,
            held_since: held_since(c),
            now,
        };
        Ok(Some((self.recall_rule(&input)?, pool.id.clone())))
    }

    fn action_of(
        &self,
        ctx: &Context,
        c: &Customer,
        now: DateTime<Utc>,
    ) -> Result<Option<SweepAction>> {
        let Some((decision, pool_id)) = self.decide(ctx, c, now)? else {
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

    /// What a sweep at `now` would do, from one consistent snapshot.
    fn sweep_plan(&self, now: DateTime<Utc>) -> Result<(u64, Vec<SweepAction>)> {
        self.store.read(|tx| {
            let ctx = Context::read(tx)?;
            let mut scanned = 0u64;
            let mut out = Vec::new();
            if ctx.pools.is_empty() {
                return Ok((0, out));
            }
            let mut failed: Option<Error> = None;
            customers::scan(tx, None, |c| {
                if c.owner_id.is_none() || c.deleted_at.is_some() {
                    return true;
                }
                scanned += 1;
                match self.action_of(&ctx, &c, now) {
                    Ok(Some(a)) => out.push(a),
                    Ok(None) => {}
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                }
                true
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            Ok((scanned, out))
        })
    }

    /// Applies planned actions in batches; each customer is re-read and re-decided inside its
    /// batch, so a follow-up or claim that landed meanwhile wins. Returns what was done.
    fn apply_sweep(&self, now: DateTime<Utc>, plan: Vec<SweepAction>) -> Result<Vec<SweepAction>> {
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
                    let Some(action) = self.action_of(&ctx, &before, now)? else {
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
                    self.decide(&ctx, &c, now)?
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
