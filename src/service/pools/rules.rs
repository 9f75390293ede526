//! The pool rules (`pool.recall`, `pool.can_claim`, `assign.pick`): the service asks the plugin
//! engine through `App::decide` (sweep.rs, `pool.recall`), [`App::claim_rule`] and friends.
//! The same rules in plain Rust below are the default script's twin (sweeps use it for speed
//! and tests compare the two); they never stand in for a failing script: a failure has its own
//! safe outcome per hook (see `script::hooks`), recorded in the plugins' error log.

use chrono::{DateTime, Duration, Utc};

use crate::domain::customer::{RuleFields, Stage};
use crate::domain::deal::DealStage;
use crate::domain::pool::PoolSettings;
use crate::service::Result;

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
    let facts = RecallFacts::of(c, c.last_followup_at, locked, held_since);
    verdict_as_default_script(s, &facts, now).decision()
}

/// What the default recall rule reads of a customer, borrowed (a sweep builds it from the
/// compact rule view without allocating).
#[derive(Debug, Clone, Copy)]
pub struct RecallFacts<'a> {
    pub stage: Stage,
    pub grade: Option<&'a str>,
    pub locked: bool,
    pub deleted: bool,
    pub last_followup_at: Option<DateTime<Utc>>,
    /// Since when the current owner holds the customer (see `RuleFields::held_since`).
    pub held_since: DateTime<Utc>,
    /// The customer's most advanced open deal (see `RuleFields::deal_stage`).
    pub deal_stage: Option<DealStage>,
}

impl<'a> RecallFacts<'a> {
    fn of(
        c: &'a RuleFields,
        last_followup_at: Option<DateTime<Utc>>,
        locked: bool,
        held_since: DateTime<Utc>,
    ) -> RecallFacts<'a> {
        RecallFacts {
            stage: c.stage,
            grade: c.grade.as_deref(),
            locked,
            deleted: c.deleted_at.is_some(),
            last_followup_at,
            held_since,
            deal_stage: c.deal_stage,
        }
    }
}

/// Which limit a recall or warning comes from; its Chinese reason is formatted only when
/// asked for ([`Cause::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause<'a> {
    /// No follow-up for `days` days; `grade` is the grade whose setting applied, or `默认`.
    NoFollowup { days: u32, grade: &'a str },
    /// Not signed within `days` days of being claimed or assigned.
    NoSigning { days: u32 },
}

impl Cause<'_> {
    /// The rule's reason, as customers' timelines and the audit show it.
    pub fn reason(&self) -> String {
        match self {
            Cause::NoFollowup { days, grade } => format!("超过{days}天未跟进（{grade}级客户）"),
            Cause::NoSigning { days } => format!("领取或分配后{days}天内未签约"),
        }
    }
}

/// The default recall rule's verdict, before any text is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    Keep,
    Warn { days_left: i64, cause: Cause<'a> },
    Recall { cause: Cause<'a> },
}

impl Verdict<'_> {
    /// The decision with its reason text.
    pub fn decision(&self) -> RecallDecision {
        match self {
            Verdict::Keep => RecallDecision::Keep,
            Verdict::Warn { days_left, cause } => RecallDecision::Warn {
                days_left: *days_left,
                reason: cause.reason(),
            },
            Verdict::Recall { cause } => RecallDecision::Recall {
                reason: cause.reason(),
            },
        }
    }
}

/// [`recall_as_default_script`] without the reason text: what a sweep plans with.
pub fn verdict_as_default_script<'a>(
    s: &'a PoolSettings,
    f: &RecallFacts<'a>,
    now: DateTime<Utc>,
) -> Verdict<'a> {
    let whole = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    let f = RecallFacts {
        last_followup_at: f.last_followup_at.map(whole),
        held_since: whole(f.held_since),
        ..*f
    };
    verdict(s, &f, whole(now))
}

fn recall_of(
    s: &PoolSettings,
    c: &RuleFields,
    last_followup_at: Option<DateTime<Utc>>,
    locked: bool,
    held_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RecallDecision {
    verdict(
        s,
        &RecallFacts::of(c, last_followup_at, locked, held_since),
        now,
    )
    .decision()
}

fn verdict<'a>(s: &'a PoolSettings, f: &RecallFacts<'a>, now: DateTime<Utc>) -> Verdict<'a> {
    if !s.recall_enabled || f.locked || f.stage == Stage::Won || f.deleted {
        return Verdict::Keep;
    }
    // A deal the lender approved (or paid out): the customer stays with its officer.
    if f.deal_stage.is_some_and(DealStage::past_submitted) {
        return Verdict::Keep;
    }
    let from = f
        .last_followup_at
        .map_or(f.held_since, |l| l.max(f.held_since));
    let days = s.no_followup_days_for(f.grade);
    let grade = f
        .grade
        .and_then(|g| s.no_followup_days.get_key_value(g))
        .map_or("默认", |(g, _)| g.as_str());
    let mut at = from + Duration::days(i64::from(days));
    let mut cause = Cause::NoFollowup { days, grade };
    if let Some(n) = s.no_signing_days
        && !matches!(f.stage, Stage::Signed | Stage::Won)
    {
        // On a tie the follow-up limit is the reason.
        let signing = f.held_since + Duration::days(i64::from(n));
        if signing < at {
            at = signing;
            cause = Cause::NoSigning { days: n };
        }
    }
    if at <= now {
        return Verdict::Recall { cause };
    }
    let days_left = days_until(now, at);
    if days_left <= i64::from(s.warn_days_before) {
        Verdict::Warn { days_left, cause }
    } else {
        Verdict::Keep
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

/// The built-in assignment rule's reasons (as the default `assign.rhai` writes them too), kept
/// in the timeline. The UI shows them in the reader's language by matching the zh-CN
/// dictionary's `assign.reason.*` texts (`components/assign-reasons.js`; tested below).
pub const REASON_ROUND_ROBIN: &str = "轮流分配";
pub const REASON_WEIGHTED: &str = "按权重轮流分配";
pub const REASON_LEAST_LOADED: &str = "分配给跟进中线索最少的业务员";
pub const REASON_BY_CITY: &str = "按城市分配（同城业务员轮流）";
pub const REASON_NOBODY: &str = "没有可分配的业务员";

/// What the built-in assignment rule reads of a candidate.
pub trait Offered {
    fn user_id(&self) -> &str;
    fn weight(&self) -> u32;
    fn open_leads(&self) -> u64;
}

impl Offered for AssignCandidate {
    fn user_id(&self) -> &str {
        &self.user.id
    }
    fn weight(&self) -> u32 {
        self.weight
    }
    fn open_leads(&self) -> u64 {
        self.open_leads
    }
}

/// `assign.pick` as the default `assign.rhai` decides it: who gets a new lead. Candidates
/// arrive sorted by user id; the cursor counts the assignments made so far in this scope.
pub fn assign(i: &AssignInput) -> AssignDecision {
    assign_among(&i.candidates, &i.mode, i.cursor)
}

/// [`assign`] over the offered candidates themselves: the Rust twin of the unedited default
/// script (`Plugins::assign_is_default`), which the service runs instead of the interpreter
/// (`script::tests::the_default_assign_scripts_rust_twin_decides_alike`).
pub fn assign_among<C: Offered>(candidates: &[C], mode: &str, cursor: u64) -> AssignDecision {
    let n = candidates.len() as u64;
    if n == 0 {
        return AssignDecision {
            user_id: None,
            reason: REASON_NOBODY.into(),
            turns: Vec::new(),
        };
    }
    let pick = |idx: u64, reason: &str| AssignDecision {
        user_id: usize::try_from(idx % n)
            .ok()
            .and_then(|k| candidates.get(k))
            .map(|c| c.user_id().to_string()),
        reason: reason.to_string(),
        turns: Vec::new(),
    };
    match mode {
        "weighted" => {
            let total: u64 = candidates
                .iter()
                .map(|c| u64::from(c.weight().max(1)))
                .sum();
            let mut slot = cursor % total.max(1);
            for c in candidates {
                let w = u64::from(c.weight().max(1));
                if slot < w {
                    return AssignDecision {
                        user_id: Some(c.user_id().to_string()),
                        reason: REASON_WEIGHTED.into(),
                        turns: Vec::new(),
                    };
                }
                slot -= w;
            }
            pick(cursor, REASON_WEIGHTED)
        }
        "least_loaded" => {
            // Fewest open leads; ties go round in cursor order.
            let start = cursor % n;
            let best = (0..n)
                .map(|k| (start + k) % n)
                .filter_map(|k| {
                    usize::try_from(k)
                        .ok()
                        .and_then(|k| candidates.get(k))
                        .map(|c| (c.open_leads(), k))
                })
                .min_by_key(|(load, _)| *load)
                .map_or(0, |(_, k)| k);
            pick(best, REASON_LEAST_LOADED)
        }
        "by_city" => pick(cursor, REASON_BY_CITY),
        _ => pick(cursor, REASON_ROUND_ROBIN),
    }
}

/// The rule name of a claim refused because `pool.can_claim` failed.
pub const PLUGIN_ERROR: &str = "plugin_error";

/// Engine rules no script can override: a customer that is locked, won or deleted is never
/// recalled or claimed, and one still inside the pool's new-customer protection is never
/// claimed. Checked before the script runs.
pub fn claim_forbidden(i: &ClaimInput) -> Option<ClaimDecision> {
    let c = &i.customer;
    let refuse = |rule: &str, reason: String| {
        Some(ClaimDecision::Refuse {
            rule: rule.to_string(),
            reason,
        })
    };
    if c.deleted_at.is_some() {
        return refuse("deleted", "该客户已删除，不可领取".into());
    }
    if c.locked {
        return refuse("locked", "该客户已锁定，不可领取".into());
    }
    if c.stage == Stage::Won {
        return refuse("won", "该客户已成交，不可领取".into());
    }
    let hours = i.pool.settings.protect_new_hours;
    if hours > 0
        && let Some(at) = i.entered_pool_at
        && i.now < at + Duration::hours(i64::from(hours))
    {
        return refuse(
            "protect_new",
            format!("该客户进入公海未满{hours}小时，暂不可领取"),
        );
    }
    None
}

/// The engine rule of recalls: locked, won and deleted customers are kept whatever the
/// script says.
pub fn recall_forbidden(c: &RuleFields) -> bool {
    c.locked || c.stage == Stage::Won || c.deleted_at.is_some()
}

impl crate::service::pools::UseCases<'_> {
    /// The one place the service asks `pool.can_claim`: engine rules first, then the script;
    /// a script that fails refuses the claim (rule `plugin_error`, the error as the reason)
    /// and the failure is recorded.
    pub(crate) fn claim_rule(&self, i: &ClaimInput) -> Result<ClaimDecision> {
        if let Some(d) = claim_forbidden(i) {
            return Ok(d);
        }
        let hook = crate::script::hooks::CAN_CLAIM;
        Ok(match self.plugins.can_claim(i) {
            Ok(d) => {
                self.plugins.errors.ok(hook.name);
                d
            }
            Err(e) => {
                let customer = &i.customer.id;
                tracing::error!(error = %e, %customer, "pool.can_claim failed; claim refused");
                self.plugins
                    .record_failure(hook, &e, Some(&i.customer.id), i.now);
                ClaimDecision::Refuse {
                    rule: PLUGIN_ERROR.into(),
                    reason: format!("领取规则插件出错，暂不能领取，请联系管理员：{e}"),
                }
            }
        })
    }

    /// The one place the service asks `assign.pick`. A script that fails, or names someone it
    /// was not offered, assigns nobody: the caller then keeps the lead in its pool (or with
    /// the creator) with the reason, and the failure is recorded.
    pub(crate) fn assign_rule(&self, i: &AssignInput) -> Result<AssignDecision> {
        let hook = crate::script::hooks::ASSIGN_PICK;
        let result = self.plugins.assign(i);
        Ok(match result {
            Ok(d) => {
                self.plugins.errors.ok(hook.name);
                d
            }
            Err(e) => {
                let customer = &i.customer.id;
                tracing::error!(error = %e, %customer, "assign.pick failed; nobody assigned");
                self.plugins
                    .record_failure(hook, &e, Some(&i.customer.id), i.now);
                AssignDecision {
                    user_id: None,
                    reason: format!("分配规则插件出错，未自动分配：{e}"),
                    turns: Vec::new(),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::assign::{creator_note, pool_note};
    use super::*;

    /// The zh-CN dictionary's `assign.reason.*` texts: the UI translates a timeline note only
    /// when it matches one exactly, so a reason changed here without the dictionary would stay
    /// Chinese in English mode.
    fn dictionary_reasons() -> Vec<String> {
        include_str!("../../../web-assets/i18n/zh-CN.js")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("'assign.reason."))
            .filter_map(|l| l.split_once("': '"))
            .map(|(_, v)| v.trim_end_matches(',').trim_end_matches('\'').to_string())
            .collect()
    }

    #[test]
    fn every_built_in_assignment_reason_has_a_translation() {
        let known = dictionary_reasons();
        for reason in [
            REASON_ROUND_ROBIN,
            REASON_WEIGHTED,
            REASON_LEAST_LOADED,
            REASON_BY_CITY,
            REASON_NOBODY,
            &pool_note("{reason}", "{pool}"),
            &creator_note("{reason}"),
        ] {
            assert!(
                known.iter().any(|k| k == reason),
                "{reason} is not among assign.reason.* in zh-CN.js: {known:?}"
            );
        }
    }
}
