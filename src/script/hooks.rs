//! The hook points: typed inputs, the decisions scripts return, and how a returned value is
//! read into a decision. This is the contract with the services that apply the decisions.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Map};

use super::views::{
    CandidateView, CtxView, CustomerView, DealView, PaymentView, PoolView, ProductView, UserView,
};
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
    /// The result schema: every key a returned map may hold. Any other key, a wrong type or
    /// a missing required key is an error (handled like a run-time error).
    pub result: &'static [ResultKey],
    /// Short forms accepted besides a map (documentation).
    pub shorthand: &'static str,
    /// What the service does when the hook fails (documentation; the services implement it).
    pub on_error: &'static str,
}

/// One key of a hook's result map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultKey {
    pub key: &'static str,
    /// `bool`, `int`, `string`, `int|()`, `string|()`.
    pub ty: &'static str,
    /// `always`, `never`, or the condition under which the key is required.
    pub required: &'static str,
    pub doc: &'static str,
}

const fn key(
    key: &'static str,
    ty: &'static str,
    required: &'static str,
    doc: &'static str,
) -> ResultKey {
    ResultKey {
        key,
        ty,
        required,
        doc,
    }
}

pub const RECALL: Hook = Hook {
    name: "pool.recall",
    plugin: "pool",
    function: "recall",
    params: &["customer", "pool", "ctx"],
    result: &[
        key("recall", "bool", "never", "true：回收到公海"),
        key(
            "warn",
            "int|()",
            "never",
            "还剩几天回收：提醒负责人（与 recall: true 不能同时出现）",
        ),
        key(
            "reason",
            "string",
            "recall: true 或 warn 为整数时",
            "原因（中文），写入时间线和审计",
        ),
    ],
    shorthand: "`()` 或 `#{}`：保留",
    on_error: "保留该客户（不回收、不提醒），记录错误；回收扫描的报告给出 errors 数量和前几条错误",
};
pub const CAN_CLAIM: Hook = Hook {
    name: "pool.can_claim",
    plugin: "pool",
    function: "can_claim",
    params: &["customer", "user", "pool", "ctx"],
    result: &[
        key("allow", "bool", "always", "是否允许领取"),
        key(
            "rule",
            "string",
            "allow: false 时",
            "拒绝所依据的规则名，如 max_owned",
        ),
        key(
            "reason",
            "string",
            "never",
            "拒绝原因（中文），显示给领取人",
        ),
    ],
    shorthand: "`true`：允许",
    on_error: "拒绝领取，规则名为 plugin_error，原因中写明错误，记录错误",
};
pub const ASSIGN_PICK: Hook = Hook {
    name: "assign.pick",
    plugin: "assign",
    function: "pick",
    params: &["customer", "candidates", "ctx"],
    result: &[
        key(
            "user_id",
            "string|()",
            "always",
            "分给谁（必须是 candidates 之一）；() 表示无人可分配",
        ),
        key("reason", "string", "never", "分配原因（中文）"),
    ],
    shorthand: "`()`：无人可分配；字符串：该用户 id",
    on_error: "不分配给任何人：线索留在调用方的公海（没有公海时留给录入人），并写明原因，记录错误",
};

pub const SCORE: Hook = Hook {
    name: "products.score",
    plugin: "match",
    function: "score",
    params: &["customer", "product", "ctx"],
    result: &[
        key("score", "int", "never", "排序分，越高越靠前（不写为 0）"),
        key(
            "eligible",
            "bool",
            "never",
            "false：按本机构的规则不可做（准入要求之外的规则），须给出 reason",
        ),
        key(
            "reason",
            "string",
            "eligible: false 时",
            "不可做的原因（中文），显示在产品匹配中",
        ),
        key(
            "amount_max_fen",
            "int",
            "never",
            "估算额度上限（分）：低于 ctx.estimate.amount_fen 时按它重新估算（不低于产品最低额度）",
        ),
        key("note", "string", "never", "一句说明，显示在产品旁"),
    ],
    shorthand: "整数：即 score",
    on_error: "该产品照常列出但不排序（score 0），匹配结果注明插件出错，记录错误供管理员查看",
};

pub const FEE: Hook = Hook {
    name: "deal.fee",
    plugin: "fee",
    function: "fee",
    params: &["deal", "ctx"],
    result: &[
        key("fee_fen", "int", "always", "约定服务费（分，不小于 0）"),
        key(
            "rule",
            "string",
            "never",
            "计算依据（中文），显示在费用卡片上",
        ),
    ],
    shorthand: "整数：即 fee_fen",
    on_error: "放款（或财务重算服务费）被拒绝（409 plugin_failed），显示插件错误，什么也不写入",
};

pub const SPLIT: Hook = Hook {
    name: "commission.split",
    plugin: "commission",
    function: "split",
    params: &["payment", "deal", "ctx"],
    result: &[
        key("user", "string", "always", "提成归属的员工 id"),
        key(
            "role",
            "string",
            "always",
            "角色：officer（负责人）、assistant（协办人）、manager（经理）或本机构自定的名称",
        ),
        key("amount_fen", "int", "always", "提成金额（分）"),
        key(
            "rule",
            "string",
            "always",
            "计算依据（中文），显示在提成明细上",
        ),
    ],
    shorthand: "数组：每项一条提成行（对象，键见下）；`()` 或 `[]`：无提成",
    on_error: "回款被拒绝（409 plugin_failed），显示插件错误，什么也不写入；修好插件后重新登记",
};

pub const BROKER_FEE: Hook = Hook {
    name: "broker.fee",
    plugin: "broker",
    function: "referral_fee",
    params: &["deal", "ctx"],
    result: &[
        key(
            "fee_fen",
            "int",
            "always",
            "应付经纪人的返佣（分，不小于 0）；deal.fee_fen 为已收齐的服务费",
        ),
        key(
            "rule",
            "string",
            "never",
            "计算依据（中文），显示在财务的应付返佣上",
        ),
    ],
    shorthand: "整数：即 fee_fen",
    on_error: "收齐服务费的回款被拒绝（409 plugin_failed），显示插件错误，什么也不写入；修好插件后重新登记",
};

/// The optional companion of `pool.recall`: `fn horizon(pool, ctx)`, the days after a claim or
/// follow-up before any recall or warning can happen (sweeps skip customers inside it).
pub const HORIZON: &str = "horizon";

/// The fixed list of hook points wired today (`report.*` joins it when reports take plugins).
pub const HOOKS: [Hook; 7] = [
    RECALL,
    CAN_CLAIM,
    ASSIGN_PICK,
    SCORE,
    FEE,
    SPLIT,
    BROKER_FEE,
];

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
    /// The customer's most advanced open deal (`customer.deal_stage`).
    pub deal_stage: Option<crate::domain::deal::DealStage>,
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
    /// `ctx.turn(group)` counters of this scope, by group.
    pub turns: Vec<(String, u64)>,
    /// The customer's most advanced open deal (`customer.deal_stage`); a new lead has none.
    pub deal_stage: Option<crate::domain::deal::DealStage>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssignDecision {
    pub user_id: Option<String>,
    pub reason: String,
    /// The groups whose `ctx.turn(group)` the rule read: their counters advance when the
    /// lead goes to someone.
    pub turns: Vec<String>,
}

/// One product that passed the admission requirements, to be scored.
pub struct ScoreInput<'a> {
    pub customer: &'a Customer,
    pub product: &'a crate::domain::product::Product,
    pub age: Option<u32>,
    /// `eligible` or `needs_info`.
    pub status: &'static str,
    pub missing: Vec<&'static str>,
    pub estimate: &'a crate::domain::matching::Estimate,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreDecision {
    pub score: i64,
    /// The firm's own rule refuses the product, with this reason.
    pub refused: Option<String>,
    pub amount_max_fen: Option<i64>,
    pub note: Option<String>,
}

/// `deal.fee`: a deal at disbursement (or recomputed by finance).
pub struct FeeInput<'a> {
    pub deal: &'a crate::domain::deal::Deal,
    pub manager_id: Option<&'a str>,
    /// The customer's channel text and the registered channel of that name.
    pub channel: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeDecision {
    pub fee_fen: i64,
    pub rule: String,
}

/// `broker.fee`: a deal brought by a broker whose fee has just been collected.
pub struct BrokerFeeInput<'a> {
    pub deal: &'a crate::domain::deal::Deal,
    /// The fee collected: payments minus refunds (fen).
    pub collected_fen: i64,
    pub channel: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// `commission.split`: one payment of a deal's fee.
pub struct SplitInput<'a> {
    pub deal: &'a crate::domain::deal::Deal,
    pub fee_fen: i64,
    pub manager_id: Option<&'a str>,
    /// The customer's channel text and the registered channel of that name.
    pub channel: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub payment: &'a crate::domain::fee::Payment,
    /// The officer's net payments received earlier in the payment's month.
    pub month_volume_fen: i64,
    pub now: DateTime<Utc>,
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
    Score {
        customer: CustomerView,
        product: ProductView,
        ctx: CtxView,
    },
    Fee {
        deal: DealView,
        ctx: CtxView,
    },
    Split {
        payment: PaymentView,
        deal: DealView,
        ctx: CtxView,
    },
    BrokerFee {
        deal: DealView,
        ctx: CtxView,
    },
}

impl Args {
    pub fn hook(&self) -> Hook {
        match self {
            Args::Recall { .. } => RECALL,
            Args::Claim { .. } => CAN_CLAIM,
            Args::Pick { .. } => ASSIGN_PICK,
            Args::Score { .. } => SCORE,
            Args::Fee { .. } => FEE,
            Args::Split { .. } => SPLIT,
            Args::BrokerFee { .. } => BROKER_FEE,
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
            Args::Score {
                customer,
                product,
                ctx,
            } => vec![
                Dynamic::from(customer),
                Dynamic::from(product),
                Dynamic::from(ctx),
            ],
            Args::Fee { deal, ctx } | Args::BrokerFee { deal, ctx } => {
                vec![Dynamic::from(deal), Dynamic::from(ctx)]
            }
            Args::Split { payment, deal, ctx } => vec![
                Dynamic::from(payment),
                Dynamic::from(deal),
                Dynamic::from(ctx),
            ],
        }
    }

    pub fn fee(i: &FeeInput<'_>) -> Args {
        Args::Fee {
            deal: DealView::new(i.deal, 0, i.manager_id, i.channel, i.channel_id),
            ctx: CtxView::new(FEE.name, i.now),
        }
    }

    pub fn broker_fee(i: &BrokerFeeInput<'_>) -> Args {
        Args::BrokerFee {
            deal: DealView::new(i.deal, i.collected_fen, None, i.channel, i.channel_id),
            ctx: CtxView::new(BROKER_FEE.name, i.now),
        }
    }

    pub fn split(i: &SplitInput<'_>) -> Args {
        let mut ctx = CtxView::new(SPLIT.name, i.now);
        ctx.month_volume_fen = Dynamic::from(i.month_volume_fen);
        Args::Split {
            payment: PaymentView::new(i.payment),
            deal: DealView::new(i.deal, i.fee_fen, i.manager_id, i.channel, i.channel_id),
            ctx,
        }
    }

    pub fn score(i: &ScoreInput<'_>) -> Args {
        let held = i.customer.held_since.unwrap_or(i.customer.created_at);
        Args::Score {
            customer: CustomerView::new(i.customer, held, i.customer.locked),
            product: ProductView::new(i.product),
            ctx: CtxView::for_score(i.now, i.age, i.status, &i.missing, i.estimate),
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
        customer.set_deal_stage(i.deal_stage);
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

    pub fn pick(i: &AssignInput, org: &[super::api::DeptInfo]) -> Args {
        let held = i.customer.held_since.unwrap_or(i.customer.created_at);
        let mut ctx = CtxView::new(ASSIGN_PICK.name, i.now);
        ctx.mode = Dynamic::from(i.mode.clone());
        ctx.cursor = int(i.cursor);
        ctx.turns = Dynamic::from(
            i.turns
                .iter()
                .map(|(g, n)| (g.as_str().into(), int(*n)))
                .collect::<Map>(),
        );
        let mut customer = CustomerView::new(&i.customer, held, i.customer.locked);
        customer.set_deal_stage(i.deal_stage);
        Args::Pick {
            customer,
            candidates: i
                .candidates
                .iter()
                .map(|c| CandidateView::new(&c.user, c.open_leads, c.weight).with_path(org))
                .collect(),
            ctx,
        }
    }
}

fn int(v: u64) -> Dynamic {
    Dynamic::from(i64::try_from(v).unwrap_or(i64::MAX))
}

fn as_map(v: &Dynamic) -> Option<Map> {
    v.read_lock::<Map>().map(|m| m.clone())
}

fn type_ok(ty: &str, v: &Dynamic) -> bool {
    match ty {
        "bool" => v.is_bool(),
        "int" => v.is_int(),
        "string" => v.is_string(),
        "int|()" => v.is_int() || v.is_unit(),
        "string|()" => v.is_string() || v.is_unit(),
        _ => false,
    }
}

/// Checks a returned map against the hook's result schema: unknown keys and wrong types are
/// errors, and so is a missing key the schema always requires (conditional requirements are
/// checked by each hook's reader).
pub fn check_result(hook: Hook, m: &Map) -> Result<(), String> {
    for (k, v) in m {
        let Some(spec) = hook.result.iter().find(|r| r.key == k.as_str()) else {
            let known: Vec<&str> = hook.result.iter().map(|r| r.key).collect();
            return Err(format!(
                "未知的键 {k}（{} 只认 {}）",
                hook.name,
                known.join("、")
            ));
        };
        if !type_ok(spec.ty, v) {
            return Err(format!("{k} 应为 {}，实际为 {}", spec.ty, v.type_name()));
        }
    }
    for spec in hook.result.iter().filter(|r| r.required == "always") {
        if !m.contains_key(spec.key) {
            return Err(format!("缺少必需的键 {}", spec.key));
        }
    }
    Ok(())
}

fn map_result(hook: Hook, v: &Dynamic, example: &str) -> Result<Map, String> {
    let m = as_map(v).ok_or_else(|| {
        format!(
            "{} 应返回对象，如 {example}，实际为 {}",
            hook.function,
            v.type_name()
        )
    })?;
    check_result(hook, &m)?;
    Ok(m)
}

fn text(m: &Map, key: &str) -> Option<String> {
    m.get(key)
        .and_then(|v| v.clone().into_string().ok())
        .filter(|s| !s.trim().is_empty())
}

/// Reads what `recall` returned.
pub fn recall_decision(v: &Dynamic) -> Result<RecallDecision, String> {
    if v.is_unit() {
        return Ok(RecallDecision::Keep);
    }
    let m = map_result(RECALL, v, "#{ recall: true, reason: \"…\" }")?;
    let recall = m.get("recall").and_then(|x| x.as_bool().ok()) == Some(true);
    let warn = m.get("warn").and_then(|x| x.as_int().ok());
    if recall && warn.is_some() {
        return Err("recall: true 与 warn 不能同时出现".into());
    }
    if recall || warn.is_some() {
        let reason = text(&m, "reason").ok_or("recall: true 或 warn 时必须给出 reason")?;
        return Ok(match warn {
            Some(days_left) => RecallDecision::Warn { days_left, reason },
            None => RecallDecision::Recall { reason },
        });
    }
    Ok(RecallDecision::Keep)
}

/// Reads what `can_claim` returned. A refusal must name its rule.
pub fn claim_decision(v: &Dynamic) -> Result<ClaimDecision, String> {
    if v.as_bool() == Ok(true) {
        return Ok(ClaimDecision::Allow);
    }
    let m = map_result(
        CAN_CLAIM,
        v,
        "#{ allow: true } 或 #{ allow: false, rule: \"…\", reason: \"…\" }",
    )?;
    if m.get("allow").and_then(|a| a.as_bool().ok()) == Some(true) {
        return Ok(ClaimDecision::Allow);
    }
    let rule = text(&m, "rule").ok_or("allow: false 时必须写明规则名 rule")?;
    let reason = text(&m, "reason").unwrap_or_else(|| format!("不符合规则 {rule}"));
    Ok(ClaimDecision::Refuse { rule, reason })
}

/// Reads what `pick` returned.
pub fn assign_decision(v: &Dynamic) -> Result<AssignDecision, String> {
    if v.is_unit() {
        return Ok(AssignDecision::default());
    }
    if v.is_string() {
        return Ok(AssignDecision {
            user_id: v.clone().into_string().ok(),
            ..AssignDecision::default()
        });
    }
    let m = map_result(ASSIGN_PICK, v, "#{ user_id: \"…\", reason: \"…\" }")?;
    Ok(AssignDecision {
        user_id: m.get("user_id").and_then(|u| u.clone().into_string().ok()),
        reason: text(&m, "reason").unwrap_or_default(),
        turns: Vec::new(),
    })
}

/// Reads what `score` returned.
pub fn score_decision(v: &Dynamic) -> Result<ScoreDecision, String> {
    if let Ok(n) = v.as_int() {
        return Ok(ScoreDecision {
            score: n,
            ..ScoreDecision::default()
        });
    }
    if v.is_unit() {
        return Ok(ScoreDecision::default());
    }
    let m = map_result(
        SCORE,
        v,
        "#{ score: 100 } 或 #{ eligible: false, reason: \"…\" }",
    )?;
    let refused = if m.get("eligible").and_then(|e| e.as_bool().ok()) == Some(false) {
        Some(text(&m, "reason").ok_or("eligible: false 时必须给出 reason")?)
    } else {
        None
    };
    let amount_max_fen = m.get("amount_max_fen").and_then(|a| a.as_int().ok());
    if amount_max_fen.is_some_and(|a| a <= 0) {
        return Err("amount_max_fen 应大于 0".into());
    }
    Ok(ScoreDecision {
        score: m.get("score").and_then(|s| s.as_int().ok()).unwrap_or(0),
        refused,
        amount_max_fen,
        note: text(&m, "note"),
    })
}

/// Reads what `fee` returned.
pub fn fee_decision(v: &Dynamic) -> Result<FeeDecision, String> {
    amount_decision(FEE, v)
}

/// Reads what `referral_fee` (`broker.fee`) returned: the same shape as `fee`.
pub fn broker_fee_decision(v: &Dynamic) -> Result<FeeDecision, String> {
    amount_decision(BROKER_FEE, v)
}

fn amount_decision(hook: Hook, v: &Dynamic) -> Result<FeeDecision, String> {
    let (fee_fen, rule) = if let Ok(n) = v.as_int() {
        (n, String::new())
    } else {
        let m = map_result(hook, v, "#{ fee_fen: 300000, rule: \"…\" }")?;
        (
            m.get("fee_fen").and_then(|x| x.as_int().ok()).unwrap_or(0),
            text(&m, "rule").unwrap_or_default(),
        )
    };
    if fee_fen < 0 {
        return Err("fee_fen 不能小于 0".into());
    }
    Ok(FeeDecision { fee_fen, rule })
}

/// Reads what `split` returned: the lines, each checked against the schema.
pub fn split_decision(v: &Dynamic) -> Result<Vec<crate::domain::fee::SplitLine>, String> {
    if v.is_unit() {
        return Ok(Vec::new());
    }
    let list = v.read_lock::<Array>().map(|a| a.clone()).ok_or_else(|| {
        format!(
            "split 应返回数组，如 [#{{ user, role, amount_fen, rule }}]，实际为 {}",
            v.type_name()
        )
    })?;
    let mut out = Vec::new();
    for (k, item) in list.iter().enumerate() {
        let m = as_map(item)
            .ok_or_else(|| format!("第 {} 行应为对象，实际为 {}", k + 1, item.type_name()))?;
        check_result(SPLIT, &m).map_err(|e| format!("第 {} 行：{e}", k + 1))?;
        let user_id = text(&m, "user").ok_or(format!("第 {} 行：user 为空", k + 1))?;
        let role = text(&m, "role").ok_or(format!("第 {} 行：role 为空", k + 1))?;
        out.push(crate::domain::fee::SplitLine {
            user_id,
            role,
            amount_fen: m
                .get("amount_fen")
                .and_then(|x| x.as_int().ok())
                .unwrap_or(0),
            rule: text(&m, "rule").unwrap_or_default(),
        });
    }
    Ok(out)
}

pub fn split_json(lines: &[crate::domain::fee::SplitLine]) -> serde_json::Value {
    use serde_json::json;
    let mut by_role = serde_json::Map::new();
    for l in lines {
        let n = by_role.get(&l.role).and_then(|v| v.as_i64()).unwrap_or(0);
        by_role.insert(l.role.clone(), json!(n + l.amount_fen));
    }
    json!({
        "lines": lines.iter().map(|l| json!({"user": l.user_id, "role": l.role,
            "amount_fen": l.amount_fen, "rule": l.rule})).collect::<Vec<_>>(),
        "by_role": by_role,
        "total_fen": lines.iter().map(|l| l.amount_fen).sum::<i64>(),
    })
}

pub fn score_json(d: &ScoreDecision) -> serde_json::Value {
    serde_json::json!({
        "score": d.score,
        "eligible": d.refused.is_none(),
        "reason": d.refused,
        "amount_max_fen": d.amount_max_fen,
        "note": d.note,
    })
}

/// A decision as a map, for comparing with an inline test's `expect` and for the try-it panel.
pub fn decision_map(hook: Hook, v: &Dynamic) -> Result<serde_json::Value, String> {
    use serde_json::json;
    Ok(match hook.function {
        "recall" => recall_json(&recall_decision(v)?),
        "can_claim" => claim_json(&claim_decision(v)?),
        "score" => score_json(&score_decision(v)?),
        "fee" => {
            let d = fee_decision(v)?;
            json!({"fee_fen": d.fee_fen, "rule": d.rule})
        }
        "split" => split_json(&split_decision(v)?),
        "referral_fee" => {
            let d = broker_fee_decision(v)?;
            json!({"fee_fen": d.fee_fen, "rule": d.rule})
        }
        _ => {
            let d = assign_decision(v)?;
            json!({"user_id": d.user_id, "reason": d.reason})
        }
    })
}

pub fn recall_json(d: &RecallDecision) -> serde_json::Value {
    use serde_json::json;
    match d {
        RecallDecision::Keep => json!({"keep": true, "recall": false}),
        RecallDecision::Warn { days_left, reason } => {
            json!({"keep": true, "recall": false, "warn": days_left, "reason": reason})
        }
        RecallDecision::Recall { reason } => json!({"recall": true, "reason": reason}),
    }
}

pub fn claim_json(d: &ClaimDecision) -> serde_json::Value {
    use serde_json::json;
    match d {
        ClaimDecision::Allow => json!({"allow": true}),
        ClaimDecision::Refuse { rule, reason } => {
            json!({"allow": false, "rule": rule, "reason": reason})
        }
    }
}
