//! Applying a planned sweep in batches of write transactions, each customer re-read and
//! re-decided inside the batch that changes it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::plan::{Context, Failures, Planned, Tally};
use super::{SweepAction, Within, day_number};
use crate::domain::customer::RuleFields;
use crate::service::pools::into_pool;
use crate::service::{Error, Result, access::audit, new_id};
use crate::store::audit::NewAudit;
use crate::store::customers::{self, TimelineEvent};
use crate::store::customers::{Reader, Unscoped};
use crate::store::pools;

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
        let today = day_number(now);
        for batch in plan.chunks(batch_size) {
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
                        into_pool(&mut c, pool, now, &action.reason);
                        customers::put(tx, Some(&before), &c)?;
                        pools::remove_counter(tx, &warn_key)?;
                        // The reports' daily recall count, per former owner and pool.
                        pools::bump(
                            tx,
                            &format!(
                                "recall/{}/{}/{}",
                                action.owner_id,
                                pool.id,
                                crate::service::pools::day_key(now)
                            ),
                        )?;
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
}
