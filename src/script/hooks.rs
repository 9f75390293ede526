//! The hook points: typed inputs, the decisions scripts return, and how a returned value is
//! read into a decision. This is the contract with the services that apply the decisions.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Map};

use super::views::{CandidateView, CtxView, CustomerView, PoolView, UserView};
use crate::domain::customer::{Customer, RuleFields};
use crate::domain::org::User;
use crate::domain::pool::Pool;

/// A hook: the plugin file (without `.rhai`) and the function it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hook {
    pub name: &'static str,
    pub plugin: &'static str,
    pub function: &'static str,
    /// Parameter names, as the function must declare them.
    pub params: &'static [&'static str],
}

pub const RECALL: Hook = Hook {
    name: "pool.recall",
    plugin: "pool",
    function: "recall",
    params: &["customer", "pool", "ctx"],
};
pub const CAN_CLAIM: Hook = Hook {
    name: "pool.can_claim",
    plugin: "pool",
    function: "can_claim",
    params: &["customer", "user", "pool", "ctx"],
};
pub const ASSIGN_PICK: Hook = Hook {
    name: "assign.pick",
    plugin: "assign",
    function: "pick",
    params: &["customer", "candidates", "ctx"],
};

/// The optional companion of `pool.recall`: `fn horizon(pool, ctx)`, the days after a claim or
/// follow-up before any recall or warning can happen (sweeps skip customers inside it).
pub const HORIZON: &str = "horizon";

/// The fixed list of hook points wired today (`products.score`, `deal.fee`,
/// `commission.split`, `report.*` join it when those features land).
pub const HOOKS: [Hook; 3] = [RECALL, CAN_CLAIM, ASSIGN_PICK];

/// Finds a hook by full name (`pool.recall`) or function name (`recall`).
pub fn hook(name: &str) -> Option<Hook> {
    HOOKS
        .into_iter()
        .find(|h| h.name == name || h.function == name)
}

pub struct RecallInput {
    /// What the rule reads of the customer (a sweep decodes only these fields).
    pub customer: RuleFields,
    pub pool: Pool,
    pub locked: bool,
    /// Later of claim/assign time and created_at.
    pub held_since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecallDecision {
    Keep,
    Warn { days_left: i64, reason: String },
    Recall { reason: String },
}

pub struct ClaimInput {
    pub customer: Customer,
    pub pool: Pool,
    pub user: User,
    pub owned_count: u64,
    pub owned_count_excluding_won: u64,
    pub claims_today_in_pool: u64,
    pub last_released_by_this_user_at: Option<DateTime<Utc>>,
    pub entered_pool_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClaimDecision {
    Allow,
    Refuse { rule: String, reason: String },
}

#[derive(Clone)]
pub struct AssignCandidate {
    pub user: User,
    pub open_leads: u64,
    pub weight: u32,
}

pub struct AssignInput {
    pub customer: Customer,
    pub candidates: Vec<AssignCandidate>,
    pub mode: String,
    pub cursor: u64,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssignDecision {
    pub user_id: Option<String>,
    pub reason: String,
}

/// The arguments a hook function receives, built from typed inputs or from a test case.
pub enum Args {
    Recall {
        customer: CustomerView,
        pool: PoolView,
        ctx: CtxView,
    },
    Claim {
        customer: CustomerView,
        user: UserView,
        pool: PoolView,
        ctx: CtxView,
    },
    Pick {
        customer: CustomerView,
        candidates: Vec<CandidateView>,
        ctx: CtxView,
    },
}

impl Args {
    pub fn hook(&self) -> Hook {
        match self {
            Args::Recall { .. } => RECALL,
            Args::Claim { .. } => CAN_CLAIM,
            Args::Pick { .. } => ASSIGN_PICK,
        }
    }

    pub fn into_dynamics(self) -> Vec<Dynamic> {
        match self {
            Args::Recall {
                customer,
                pool,
                ctx,
            } => vec![
                Dynamic::from(customer),
                Dynamic::from(pool),
                Dynamic::from(ctx),
            ],
            Args::Claim {
                customer,
                user,
                pool,
                ctx,
            } => vec![
                Dynamic::from(customer),
                Dynamic::from(user),
                Dynamic::from(pool),
                Dynamic::from(ctx),
            ],
            Args::Pick {
                customer,
                candidates,
                ctx,
            } => vec![
                Dynamic::from(customer),
                Dynamic::from(candidates.into_iter().map(Dynamic::from).collect::<Array>()),
                Dynamic::from(ctx),
            ],
        }
    }

    pub fn recall(i: &RecallInput) -> Args {
        Args::Recall {
            customer: CustomerView::from_fields(&i.customer, i.held_since, i.locked),
            pool: PoolView::new(&i.pool),
            ctx: CtxView::new(RECALL.name, i.now),
        }
    }

    pub fn claim(i: &ClaimInput) -> Args {
        let held = i.customer.held_since.unwrap_or(i.customer.created_at);
        let mut customer = CustomerView::new(&i.customer, held, i.customer.locked);
        if i.entered_pool_at.is_some() {
            customer.pool_entered_at = i
                .entered_pool_at
                .map_or(Dynamic::UNIT, |t| Dynamic::from(t.timestamp()));
        }
        let mut ctx = CtxView::new(CAN_CLAIM.name, i.now);
        ctx.owned_count = int(i.owned_count);
        ctx.owned_count_excluding_won = int(i.owned_count_excluding_won);
        ctx.claims_today = int(i.claims_today_in_pool);
        ctx.last_released_at = i
            .last_released_by_this_user_at
            .map_or(Dynamic::UNIT, |t| Dynamic::from(t.timestamp()));
        ctx.entered_pool_at = i
            .entered_pool_at
            .map_or(Dynamic::UNIT, |t| Dynamic::from(t.timestamp()));
        Args::Claim {
            customer,
            user: UserView::new(&i.user),
            pool: PoolView::new(&i.pool),
            ctx,
        }
    }

    pub fn pick(i: &AssignInput) -> Args {
        let held = i.customer.held_since.unwrap_or(i.customer.created_at);
        let mut ctx = CtxView::new(ASSIGN_PICK.name, i.now);
        ctx.mode = Dynamic::from(i.mode.clone());
        ctx.cursor = int(i.cursor);
        Args::Pick {
            customer: CustomerView::new(&i.customer, held, i.customer.locked),
            candidates: i
                .candidates
                .iter()
                .map(|c| CandidateView::new(&c.user, c.open_leads, c.weight))
                .collect(),
            ctx,
        }
    }
}

fn int(v: u64) -> Dynamic {
    Dynamic::from(i64::try_from(v).unwrap_or(i64::MAX))
}

fn get_str(m: &Map, key: &str) -> Option<String> {
    m.get(key).and_then(|v| v.clone().into_string().ok())
}

fn as_map(v: &Dynamic) -> Option<Map> {
    v.read_lock::<Map>().map(|m| m.clone())
}

/// Reads what `recall` returned.
pub fn recall_decision(v: &Dynamic) -> Result<RecallDecision, String> {
    if v.is_unit() {
        return Ok(RecallDecision::Keep);
    }
    if let Ok(b) = v.as_bool() {
        return Ok(if b {
            RecallDecision::Recall {
                reason: "插件规则".into(),
            }
        } else {
            RecallDecision::Keep
        });
    }
    let m = as_map(v).ok_or_else(|| {
        format!(
            "recall 应返回对象，如 #{{ recall: true, reason: \"…\" }}，实际为 {}",
            v.type_name()
        )
    })?;
    let reason = get_str(&m, "reason").unwrap_or_default();
    if m.get("recall").and_then(|x| x.as_bool().ok()) == Some(true) {
        if reason.is_empty() {
            return Err("recall: true 时必须给出 reason".into());
        }
        return Ok(RecallDecision::Recall { reason });
    }
    match m.get("warn") {
        None => Ok(RecallDecision::Keep),
        Some(w) if w.is_unit() => Ok(RecallDecision::Keep),
        Some(w) => match w.as_int() {
            Ok(days_left) => Ok(RecallDecision::Warn { days_left, reason }),
            Err(_) if w.as_bool() == Ok(false) => Ok(RecallDecision::Keep),
            Err(t) => Err(format!("warn 应为剩余天数（整数），实际为 {t}")),
        },
    }
}

/// Reads what `can_claim` returned. A refusal must name its rule.
pub fn claim_decision(v: &Dynamic) -> Result<ClaimDecision, String> {
    if v.as_bool() == Ok(true) {
        return Ok(ClaimDecision::Allow);
    }
    let m = as_map(v).ok_or_else(|| {
        format!(
            "can_claim 应返回 #{{ allow: true }} 或 #{{ allow: false, rule, reason }}，实际为 {}",
            v.type_name()
        )
    })?;
    let allow = match m.get("allow") {
        Some(a) => a
            .as_bool()
            .map_err(|t| format!("allow 应为 true/false，实际为 {t}"))?,
        None => !m.contains_key("rule"),
    };
    if allow {
        return Ok(ClaimDecision::Allow);
    }
    let rule = get_str(&m, "rule")
        .filter(|r| !r.is_empty())
        .ok_or("拒绝领取时必须写明规则名 rule")?;
    let reason = get_str(&m, "reason").unwrap_or_else(|| format!("不符合规则 {rule}"));
    Ok(ClaimDecision::Refuse { rule, reason })
}

/// Reads what `pick` returned.
pub fn assign_decision(v: &Dynamic) -> Result<AssignDecision, String> {
    if v.is_unit() {
        return Ok(AssignDecision {
            user_id: None,
            reason: String::new(),
        });
    }
    if v.is_string() {
        return Ok(AssignDecision {
            user_id: v.clone().into_string().ok(),
            reason: String::new(),
        });
    }
    let m = as_map(v).ok_or_else(|| {
        format!(
            "pick 应返回 #{{ user_id: \"…\", reason: \"…\" }}，实际为 {}",
            v.type_name()
        )
    })?;
    let user_id = match m.get("user_id") {
        None => None,
        Some(u) if u.is_unit() => None,
        Some(u) => Some(
            u.clone()
                .into_string()
                .map_err(|t| format!("user_id 应为字符串，实际为 {t}"))?,
        ),
    };
    Ok(AssignDecision {
        user_id,
        reason: get_str(&m, "reason").unwrap_or_default(),
    })
}

/// A decision as a map, for comparing with an inline test's `expect` and for the try-it panel.
pub fn decision_map(hook: Hook, v: &Dynamic) -> Result<serde_json::Value, String> {
    use serde_json::json;
    Ok(match hook.function {
        "recall" => match recall_decision(v)? {
            RecallDecision::Keep => json!({"keep": true, "recall": false}),
            RecallDecision::Warn { days_left, reason } => {
                json!({"keep": true, "recall": false, "warn": days_left, "reason": reason})
            }
            RecallDecision::Recall { reason } => json!({"recall": true, "reason": reason}),
        },
        "can_claim" => match claim_decision(v)? {
            ClaimDecision::Allow => json!({"allow": true}),
            ClaimDecision::Refuse { rule, reason } => {
                json!({"allow": false, "rule": rule, "reason": reason})
            }
        },
        _ => {
            let d = assign_decision(v)?;
            json!({"user_id": d.user_id, "reason": d.reason})
        }
    })
}
