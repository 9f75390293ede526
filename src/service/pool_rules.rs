//! The pool rules (`pool.recall`, `pool.can_claim`, `assign.pick`): the service asks the plugin
//! engine through `App::decide` (pool_sweep.rs, `pool.recall`), [`App::claim_rule`] and friends; the same rules in plain Rust below answer
//! when a plugin fails at run time (logged), so a broken script never stops claims or sweeps.

use chrono::{DateTime, Duration, Utc};

use super::{App, Result};
use crate::domain::customer::{RuleFields, Stage};
use crate::domain::pool::PoolSettings;

pub use crate::script::{
    AssignCandidate, AssignDecision, AssignInput, ClaimDecision, ClaimInput, RecallDecision,
    RecallInput,
};

/// Whole days from `now` until `due`, rounded up (a recall 1 hour away is 1 day away).
fn days_until(now: DateTime<Utc>, due: DateTime<Utc>) -> i64 {
    let secs = (due - now).num_seconds();
    (secs + 86_399).div_euclid(86_400)
}

/// `pool.recall`: keep, warn or recall an owned customer.
pub fn recall(i: &RecallInput) -> RecallDecision {
    recall_of(
        &i.pool.settings,
        &i.customer,
        i.customer.last_followup_at,
        i.locked,
        i.held_since,
        i.now,
    )
}

/// The default `plugins/pool.rhai` in Rust: [`recall`] on whole seconds, as scripts see time
/// (every instant is given to a script as Unix seconds). A sweep uses it when the default
/// script serves, so a million customers are not each run through the interpreter; a test
/// holds it equal to the script on random customers, pools and instants.
pub fn recall_as_default_script(
    s: &PoolSettings,
    c: &RuleFields,
    locked: bool,
    held_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RecallDecision {
    let whole = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    recall_of(
        s,
        c,
        c.last_followup_at.map(whole),
        locked,
        whole(held_since),
        whole(now),
    )
}

fn recall_of(
    s: &PoolSettings,
    c: &RuleFields,
    last_followup_at: Option<DateTime<Utc>>,
    locked: bool,
    held_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RecallDecision {
    if !s.recall_enabled || locked || c.stage == Stage::Won || c.deleted_at.is_some() {
        return RecallDecision::Keep;
    }
    let mut due: Vec<(DateTime<Utc>, String)> = Vec::new();
    let from = last_followup_at.map_or(held_since, |f| f.max(held_since));
    let grade = c.grade.as_deref();
    let days = s.no_followup_days_for(grade);
    due.push((
        from + Duration::days(i64::from(days)),
        format!(
            "超过{days}天未跟进（{}级客户）",
            grade
                .filter(|g| s.no_followup_days.contains_key(*g))
                .unwrap_or("默认")
        ),
    ));
    if let Some(n) = s.no_signing_days
        && !matches!(c.stage, Stage::Signed | Stage::Won)
    {
        due.push((
            held_since + Duration::days(i64::from(n)),
            format!("领取或分配后{n}天内未签约"),
        ));
    }
    let Some((at, reason)) = due.into_iter().min_by_key(|(at, _)| *at) else {
        return RecallDecision::Keep;
    };
    if at <= now {
        return RecallDecision::Recall { reason };
    }
    let days_left = days_until(now, at);
    if days_left <= i64::from(s.warn_days_before) {
        RecallDecision::Warn { days_left, reason }
    } else {
        RecallDecision::Keep
    }
}

/// `pool.can_claim`: may this user take this customer out of the pool now?
pub fn can_claim(i: &ClaimInput) -> ClaimDecision {
    let s = &i.pool.settings;
    let refuse = |rule: &str, reason: String| ClaimDecision::Refuse {
        rule: rule.to_string(),
        reason,
    };
    if s.protect_new_hours > 0
        && let Some(at) = i.entered_pool_at
        && i.now < at + Duration::hours(i64::from(s.protect_new_hours))
    {
        return refuse(
            "protect_new",
            format!("该客户进入公海未满{}小时，暂不可领取", s.protect_new_hours),
        );
    }
    if s.reclaim_cooldown_days > 0
        && let Some(at) = i.last_released_by_this_user_at
        && i.now < at + Duration::days(i64::from(s.reclaim_cooldown_days))
    {
        return refuse(
            "reclaim_cooldown",
            format!(
                "您{}天内曾负责该客户，冷却期内不可重新领取",
                s.reclaim_cooldown_days
            ),
        );
    }
    if i.claims_today_in_pool >= u64::from(s.claim_daily_limit) {
        return refuse(
            "claim_daily_limit",
            format!(
                "今日在该公海已领取{}个客户，已达每日上限",
                i.claims_today_in_pool
            ),
        );
    }
    let owned = if s.max_owned_counts_won {
        i.owned_count
    } else {
        i.owned_count_excluding_won
    };
    if owned >= u64::from(s.max_owned) {
        return refuse(
            "max_owned",
            format!("名下客户已达上限（{}个），请先跟进或释放客户", s.max_owned),
        );
    }
    ClaimDecision::Allow
}

/// `assign.pick`: who gets a new lead. Candidates arrive sorted by user id; the cursor counts
/// the assignments made so far in this scope.
pub fn assign(i: &AssignInput) -> AssignDecision {
    let n = i.candidates.len() as u64;
    if n == 0 {
        return AssignDecision {
            user_id: None,
            reason: "没有可分配的业务员".into(),
        };
    }
    let pick = |idx: u64, reason: &str| AssignDecision {
        user_id: usize::try_from(idx % n)
            .ok()
            .and_then(|k| i.candidates.get(k))
            .map(|c| c.user.id.clone()),
        reason: reason.to_string(),
    };
    match i.mode.as_str() {
        "weighted" => {
            let total: u64 = i
                .candidates
                .iter()
                .map(|c| u64::from(c.weight.max(1)))
                .sum();
            let mut slot = i.cursor % total.max(1);
            for c in &i.candidates {
                let w = u64::from(c.weight.max(1));
                if slot < w {
                    return AssignDecision {
                        user_id: Some(c.user.id.clone()),
                        reason: "按权重轮流分配".into(),
                    };
                }
                slot -= w;
            }
            pick(i.cursor, "按权重轮流分配")
        }
        "least_loaded" => {
            // Fewest open leads; ties go round in cursor order.
            let start = i.cursor % n;
            let best = (0..n)
                .map(|k| (start + k) % n)
                .filter_map(|k| {
                    usize::try_from(k)
                        .ok()
                        .and_then(|k| i.candidates.get(k))
                        .map(|c| (c.open_leads, k))
                })
                .min_by_key(|(load, _)| *load)
                .map_or(0, |(_, k)| k);
            pick(best, "分配给跟进中线索最少的业务员")
        }
        "by_city" => pick(i.cursor, "按城市分配（同城业务员轮流）"),
        _ => pick(i.cursor, "轮流分配"),
    }
}

impl App {
    /// The one place the service asks `pool.can_claim`.
    pub(crate) fn claim_rule(&self, i: &ClaimInput) -> Result<ClaimDecision> {
        Ok(self.plugins.can_claim(i).unwrap_or_else(|e| {
            tracing::error!(error = %e, "pool.can_claim plugin failed; built-in rule used");
            can_claim(i)
        }))
    }

    /// The one place the service asks `assign.pick`.
    pub(crate) fn assign_rule(&self, i: &AssignInput) -> Result<AssignDecision> {
        Ok(self.plugins.assign(i).unwrap_or_else(|e| {
            tracing::error!(error = %e, "assign.pick plugin failed; built-in rule used");
            assign(i)
        }))
    }
}
