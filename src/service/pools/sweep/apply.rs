//! Applying a planned sweep in batches of write transactions, each customer re-read and
//! re-decided inside the batch that changes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::plan::{Context, Failures, Planned, Tally};
use super::{SweepAction, TX_MAX_BATCHES, Within, day_number};
use crate::domain::customer::{Customer, RuleFields};
use crate::script::RecallRule;
use crate::service::pools::into_pool;
use crate::service::{Error, Result, access::audit, new_id};
use crate::store::audit::NewAudit;
use crate::store::customers::{self, TimelineEvent};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{WriteTransaction, pools};

/// What one applied action writes besides the record, in the batch's order: a recall (index
/// into the batch's actions, customer id) or a warning (the same).
enum Step {
    Recall(usize, String),
    Warn(usize, String),
}

impl crate::service::pools::UseCases<'_> {
    /// Applies planned actions in batches; each customer is re-read and re-decided inside its
    /// batch, so a follow-up or claim that landed meanwhile wins. Returns the counts of what
    /// was done and the first `limit` actions.
    pub(super) fn apply_sweep(
        &self,
        now: DateTime<Utc>,
        plan: &[Planned],
        limit: usize,
        within: &Within,
        batch_size: usize,
    ) -> Result<(Tally, Vec<SweepAction>, Failures)> {
        let rule = self.plugins.recall_rule().ok();
        let mut errors = (0, Vec::new());
        let mut tally = Tally::default();
        let mut listed = Vec::with_capacity(limit.min(plan.len()));
        let batch_size = batch_size.max(1);
        let mut rest = plan;
        while !rest.is_empty() {
            // One transaction takes batches until it holds TX_MAX_BATCHES of them, the plan
            // ends, or another writer waits for the lock (which then waits for this batch and the
            // commit).
            let (applied, taken) = self.store.write(|tx| {
                let mut applied = Vec::new();
                let mut taken = 0;
                for (k, batch) in rest.chunks(batch_size).enumerate() {
                    if k > 0 && (k >= TX_MAX_BATCHES || self.store.writers_waiting()) {
                        break;
                    }
                    applied.extend(self.apply_batch(
                        tx,
                        now,
                        batch,
                        rule.as_ref(),
                        within,
                        &mut errors,
                    )?);
                    taken += batch.len();
                }
                Ok::<_, Error>((applied, taken))
            })?;
            rest = rest.get(taken..).ok_or_else(|| {
                Error::Internal(format!(
                    "the sweep applied {taken} customers of {} left",
                    rest.len()
                ))
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

    /// One batch of the plan inside the sweep's transaction: each customer re-read and
    /// re-decided, then the changes written table by table. Returns the actions applied.
    fn apply_batch(
        &self,
        tx: &WriteTransaction,
        now: DateTime<Utc>,
        batch: &[Planned],
        rule: Option<&RecallRule<'_>>,
        within: &Within,
        errors: &mut Failures,
    ) -> Result<Vec<SweepAction>> {
        let today = day_number(now);
        let ctx = Context::read_w(tx)?;
        let ids: Vec<&str> = batch.iter().map(|p| &*p.id).collect();
        let records = Reader::unscoped(tx, Unscoped::Jobs).any_many(&ids)?;
        // Decided one by one, written table by table: nothing a customer of the batch
        // writes is read by the decision of another (the records, their warning
        // counters and the context are each customer's own or the batch's).
        let mut applied = Vec::with_capacity(records.len());
        let mut recalls: Vec<(Customer, Customer)> = Vec::with_capacity(records.len());
        let mut steps: Vec<Step> = Vec::with_capacity(records.len());
        for before in records.into_iter().flatten() {
            let fields = RuleFields::from(&before);
            let Some(action) = self.action_of(&ctx, rule, &fields, now)? else {
                continue;
            };
            // Moved out of the caller's reach since the plan was made.
            if !within.allows(&action.pool_id, &action.owner_id) {
                continue;
            }
            if action.action == "recall" {
                let Some(pool) = ctx.pools.iter().find(|p| p.id == action.pool_id) else {
                    continue;
                };
                let mut c = before.clone();
                into_pool(&mut c, pool, now, &action.reason);
                steps.push(Step::Recall(applied.len(), before.id.clone()));
                recalls.push((before, c));
            } else {
                steps.push(Step::Warn(applied.len(), before.id));
            }
            applied.push(action);
        }
        let pairs: Vec<(&Customer, &Customer)> = recalls.iter().map(|(b, c)| (b, c)).collect();
        customers::put_many(tx, &pairs)?;
        drop(pairs);
        let n_recalls = recalls.len();
        // Freeing two records per recall (tens of allocations each) is a large part of
        // the writer's malloc/free time: the other core does it while this one writes
        // on. Without a thread (none could be started) they are freed here, as before.
        let freed = std::thread::Builder::new()
            .name("sweep-free".into())
            .spawn(move || drop(recalls));
        // Counters: the recalled customers' warnings go, the reports' daily recall
        // count (per former owner and pool) grows, warnings are given once a day.
        let day = crate::service::pools::day_key(now);
        let mut gone = Vec::with_capacity(n_recalls);
        let mut recalled: BTreeMap<String, u64> = BTreeMap::new();
        let mut warned = Vec::new();
        for step in &steps {
            match step {
                Step::Recall(k, id) => {
                    if let Some(action) = applied.get(*k) {
                        gone.push(format!("recall_warn/{}/{id}", action.owner_id));
                        *recalled
                            .entry(format!(
                                "recall/{}/{}/{day}",
                                action.owner_id, action.pool_id
                            ))
                            .or_insert(0) += 1;
                    }
                }
                Step::Warn(k, id) => {
                    if let Some(action) = applied.get(*k) {
                        warned.push(format!("recall_warn/{}/{id}", action.owner_id));
                    }
                }
            }
        }
        let mut fresh = pools::sweep_counters(tx, &gone, &recalled, &warned, today)?.into_iter();
        let mut events = Vec::with_capacity(steps.len());
        let mut entries = Vec::with_capacity(n_recalls);
        for step in &steps {
            match step {
                Step::Recall(k, id) => {
                    let Some(action) = applied.get(*k) else {
                        continue;
                    };
                    events.push((
                        id.as_str(),
                        TimelineEvent::new(
                            new_id(now),
                            now,
                            "system",
                            "recalled",
                            Some(action.owner_id.clone()),
                            Some(action.pool_id.clone()),
                            Some(action.reason.clone()),
                        ),
                    ));
                    entries.push(NewAudit {
                        actor_id: None,
                        actor: "system".into(),
                        action: "customer.recalled",
                        target: Some(id.clone()),
                        detail: json!({
                            "from": action.owner_id, "pool_id": action.pool_id,
                            "reason": action.reason,
                        }),
                        source: "pool sweep".into(),
                    });
                }
                Step::Warn(k, id) => {
                    // One warning a day: the reminder and a timeline entry.
                    let (Some(action), Some(true)) = (applied.get(*k), fresh.next()) else {
                        continue;
                    };
                    events.push((
                        id.as_str(),
                        TimelineEvent::new(
                            new_id(now),
                            now,
                            "system",
                            "recall_warning",
                            None,
                            action.days_left.map(|d| d.to_string()),
                            Some(action.reason.clone()),
                        ),
                    ));
                }
            }
        }
        customers::add_events(tx, &events)?;
        audit::record_many(tx, now, entries)?;
        if let Ok(freeing) = freed
            && let Err(panic) = freeing.join()
        {
            std::panic::resume_unwind(panic);
        }
        let (n, first) = ctx.errors.take();
        errors.0 += n;
        errors.1.extend(first);
        Ok(applied)
    }
}
