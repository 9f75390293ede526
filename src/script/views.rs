//! Read-only views handed to scripts: copies of the records with getters only (no setters, so
//! a script cannot even change its own copy). Each view is declared once with its fields' Rhai
//! types; the macro registers the getters and lets inline tests fill a view from a map.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Map};

use super::api::{Api, parse_ts};
use crate::domain::customer::{Customer, Demand, Profile, RuleFields, Stage};
use crate::domain::org::User;
use crate::domain::pool::Pool;

/// Conversions from a test-case map value, by field kind.
mod kind {
    use super::*;

    pub fn str(v: &Dynamic) -> Result<Dynamic, String> {
        if v.is_string() {
            Ok(v.clone())
        } else {
            Err(format!("应为字符串，实际为 {}", v.type_name()))
        }
    }
    pub fn opt_str(v: &Dynamic) -> Result<Dynamic, String> {
        if v.is_unit() {
            Ok(Dynamic::UNIT)
        } else {
            str(v)
        }
    }
    pub fn int(v: &Dynamic) -> Result<Dynamic, String> {
        v.as_int()
            .map(Dynamic::from)
            .map_err(|t| format!("应为整数，实际为 {t}"))
    }
    pub fn opt_int(v: &Dynamic) -> Result<Dynamic, String> {
        if v.is_unit() {
            Ok(Dynamic::UNIT)
        } else {
            int(v)
        }
    }
    pub fn bool(v: &Dynamic) -> Result<Dynamic, String> {
        v.as_bool()
            .map(Dynamic::from)
            .map_err(|t| format!("应为 true/false，实际为 {t}"))
    }
    pub fn ts(v: &Dynamic) -> Result<Dynamic, String> {
        if let Ok(n) = v.as_int() {
            return Ok(Dynamic::from(n));
        }
        let s = v
            .clone()
            .into_string()
            .map_err(|t| format!("应为时间，实际为 {t}"))?;
        parse_ts(&s)
            .map(Dynamic::from)
            .ok_or_else(|| format!("无法识别的时间 \"{s}\""))
    }
    pub fn opt_ts(v: &Dynamic) -> Result<Dynamic, String> {
        if v.is_unit() {
            Ok(Dynamic::UNIT)
        } else {
            ts(v)
        }
    }
    pub fn array(v: &Dynamic) -> Result<Dynamic, String> {
        if v.is_array() {
            Ok(v.clone())
        } else {
            Err(format!("应为数组，实际为 {}", v.type_name()))
        }
    }
    pub fn map(v: &Dynamic) -> Result<Dynamic, String> {
        if v.is_map() {
            Ok(v.clone())
        } else {
            Err(format!("应为对象，实际为 {}", v.type_name()))
        }
    }
}

fn rhai_type(kind: &str) -> &'static str {
    match kind {
        "str" => "string",
        "opt_str" => "string|()",
        "int" => "int",
        "opt_int" => "int|()",
        "bool" => "bool",
        "ts" => "int (时间)",
        "opt_ts" => "int|() (时间)",
        "array" => "array",
        _ => "map",
    }
}

macro_rules! view {
    ($ty:ident, $name:literal, $doc:literal, { $($field:ident : $kind:ident, $fdoc:literal;)* }) => {
        #[derive(Debug, Clone, Default)]
        pub struct $ty { $(pub $field: Dynamic,)* }

        impl $ty {
            pub(crate) fn register(api: &mut Api) {
                api.ty::<$ty>($name, $doc);
                $( api.field::<$ty>($name, stringify!($field), rhai_type(stringify!($kind)), $fdoc,
                    |v: &mut $ty| v.$field.clone()); )*
            }

            /// Overrides the fields present in `map` (inline tests); unknown keys are errors.
            pub fn overlay(&mut self, map: &Map) -> Result<(), String> {
                for (key, value) in map {
                    match key.as_str() {
                        $( stringify!($field) => {
                            self.$field = kind::$kind(value)
                                .map_err(|e| format!("{}.{}: {e}", $name, key))?;
                        } )*
                        other => return Err(format!("{} 没有字段 {other}", $name)),
                    }
                }
                Ok(())
            }
        }
    };
}

view!(CustomerView, "Customer", "客户（只读副本，不含手机号和身份证号）。", {
    id: str, "客户 id";
    name: str, "姓名";
    stage: str, "阶段：lead、contacted、qualified、invited、visited、signed、won、lost、invalid";
    grade: opt_str, "等级 A–D，未评级为 ()";
    stars: int, "星级 0–5";
    city: opt_str, "城市";
    channel: opt_str, "来源渠道";
    tags: array, "标签（字符串数组）";
    owner_id: opt_str, "负责人 id，在公海中为 ()";
    pool_id: opt_str, "所在公海 id";
    previous_owner_id: opt_str, "上一任负责人 id";
    last_followup_at: opt_ts, "最近一次跟进时间";
    next_followup_at: opt_ts, "计划下次跟进时间";
    created_at: ts, "录入时间";
    held_since: ts, "当前负责人开始持有的时间（领取/分配时间与录入时间中较晚者）";
    locked: bool, "是否锁定（锁定的客户永不回收）";
    pool_entered_at: opt_ts, "进入公海的时间";
    deleted: bool, "是否已删除（在回收站中）";
    deal_stage: opt_str, "该客户最靠后的进行中业务单（未拒贷、未撤单）的阶段：invited、visited、signed、submitted、approved、disbursed、fee_collected；没有进行中的业务单为 ()。pool.recall、pool.can_claim、assign.pick 中提供；products.score 中为 ()";
    demand: map, "贷款需求（只读）：#{amount_fen: 金额（分）, term_months: 期限（月）, purpose: 用途}，未填的项为 ()。pool.recall 中整个为 ()（回收扫描只读紧凑视图，不含需求与资质）";
    profile: map, "资质（只读）：occupation（employee、civil_servant、business_owner、freelancer、other）、monthly_income_fen、social_security_months、provident_fund_months、provident_fund_base_fen、has_property、property_value_fen、property_mortgaged、has_car、car_value_fen；credit: #{overdue_count_2y, current_overdue, inquiries_1m, inquiries_3m, inquiries_6m, existing_debt_fen, card_utilization_pct}；business: #{licence_age_months, annual_tax_fen, tax_rating（\"A\"–\"D\"、\"M\"）, annual_turnover_fen}。金额单位为分，未填的项为 ()。pool.recall 中整个为 ()";
});

view!(UserView, "User", "系统用户（业务员、主管等）。", {
    id: str, "用户 id";
    username: str, "登录名";
    display_name: str, "显示名";
    roles: array, "角色键（role key）数组，如 [\"sales\"]、[\"manager\", \"sales\"]；内置键 admin、manager、sales、finance、documents、service，自定义角色为其键";
    department_id: opt_str, "部门 id";
    is_admin: bool, "是否管理员";
});

view!(PoolView, "Pool", "公海及其规则设置（设置项直接作为字段）。", {
    id: str, "公海 id";
    name: str, "名称";
    department_id: opt_str, "所属部门，全公司公海为 ()";
    recall_enabled: bool, "是否回收";
    no_followup_days: map, "按等级的未跟进天数，如 #{A: 30, B: 15, C: 10, D: 7, default: 15}";
    no_signing_days: opt_int, "领取或分配后多少天内未签约即回收，() 为不限";
    warn_days_before: int, "回收前几天提醒负责人";
    claim_daily_limit: int, "每人每天在此公海最多领取数";
    max_owned: int, "每人名下客户上限";
    max_owned_counts_won: bool, "已成交客户是否计入上限";
    reclaim_cooldown_days: int, "失去客户后多少天内不可重新领取";
    protect_new_hours: int, "进入公海后多少小时内不可领取";
});

view!(CandidateView, "Candidate", "分配候选人（调用方已按在职、部门、城市等条件筛选过）。", {
    id: str, "用户 id";
    display_name: str, "显示名";
    department_id: opt_str, "部门 id";
    department_path: array, "所在部门从最上级到本部门的名称数组，如 [\"总部\", \"直播部\", \"直播一组\"]；没有部门为 []";
    open_leads: int, "跟进中的线索数";
    weight: int, "分配权重（至少按 1 计）";
});

view!(ProductView, "Product", "信贷产品（只读）。金额单位为分，利率单位为基点（490 = 4.9%）。", {
    id: str, "产品 id";
    name: str, "产品名称";
    lender: str, "放款机构";
    category: str, "类别：credit（信用贷）、mortgage（抵押贷）、car（车贷）、business（经营贷）、tax（税贷）、provident_fund（公积金贷）、policy（保单贷）、other";
    amount_min_fen: int, "最低额度（分）";
    amount_max_fen: int, "最高额度（分）";
    term_min_months: int, "最短期限（月）";
    term_max_months: int, "最长期限（月）";
    rate_min_bp: int, "最低年利率（基点）";
    rate_max_bp: int, "最高年利率（基点）";
    methods: array, "还款方式：annuity（等额本息）、equal_principal（等额本金）、interest_only（先息后本）、bullet（到期还本付息）";
    requirements: map, "准入要求（只读）：age_min、age_max、cities、occupations、min_monthly_income_fen、min_social_security_months、min_provident_fund_months、min_provident_fund_base_fen、property_required、property_unmortgaged、car_required、max_overdue_2y、no_current_overdue、max_inquiries_1m、max_inquiries_3m、max_inquiries_6m、max_debt_income_pct、max_card_utilization_pct、min_licence_age_months、min_tax_rating、min_annual_tax_fen、min_annual_turnover_fen；未要求的为 ()";
    documents: array, "所需材料（字符串数组）";
    fees: map, "费用条款：#{service_fee: #{kind: \"fixed\", fen} 或 #{kind: \"rate\", bp} 或 (), lender_rebate_bp}";
});

view!(CtxView, "Ctx", "调用上下文：当前时间与本次调用的计数。", {
    hook: str, "挂钩名，如 \"pool.recall\"";
    now: ts, "当前时间（测试中可控，不要用别的时钟）";
    owned_count: int, "can_claim：领取人名下客户数";
    owned_count_excluding_won: int, "can_claim：不含已成交的名下客户数";
    claims_today: int, "can_claim：领取人今天（北京时间）在此公海已领取数";
    last_released_at: opt_ts, "can_claim：领取人上次失去该客户的时间";
    entered_pool_at: opt_ts, "can_claim：该客户进入公海的时间";
    mode: str, "assign.pick：分配方式 round_robin、weighted、least_loaded、by_city";
    cursor: int, "assign.pick：此分配范围（全公司、某部门或某公海，按调用方而定）内已自动分配的线索数，每分出一条加 1；内置规则用 cursor % 候选人数 轮流。候选人名单变化时从当前位置继续，不重新开始";
    turns: map, "assign.pick：各分组的轮次（见 ctx.turn(group)）；测试用例可写 ctx: #{ turns: #{ \"直播部\": 3 } }";
    age: opt_int, "products.score：客户年龄（由身份证号算出；没有身份证号为 ()）";
    status: str, "products.score：准入检查结果，eligible（全部满足）或 needs_info（没有不满足的，但资质缺项）";
    missing: array, "products.score：资质缺项（字段名数组，如 [\"profile.social_security_months\"]）";
    month_volume_fen: int, "commission.split：负责人本月在这笔回款之前已收的回款额（分，扣除本月退款）";
    estimate: map, "products.score：估算 #{amount_fen, term_months, method, payment_min_fen, payment_max_fen}（客户需求在产品范围内取需求，否则取最近的边界；未填需求取产品上限；月供为首期，分别按最低、最高利率）";
});

view!(DealView, "Deal", "业务单（只读）：deal.fee 与 commission.split 的输入。金额单位为分，费率单位为基点。", {
    id: str, "业务单 id";
    customer_id: str, "客户 id";
    product_id: str, "产品 id";
    product_name: str, "产品名称";
    lender: str, "放款机构";
    category: str, "产品类别，如 credit、mortgage";
    amount_fen: int, "申请金额（分）";
    disbursed_fen: int, "放款金额（分，未放款为 0）";
    disbursed_on: opt_str, "放款日期 YYYY-MM-DD（未放款为 ()）";
    fee_terms: map, "产品的服务费条款（建单时的快照）：#{kind: \"fixed\", fen} 或 #{kind: \"rate\", bp}；未设为空对象 #{}";
    rebate_bp: opt_int, "放款机构返佣（基点），未设为 ()";
    fee_fen: int, "commission.split：约定服务费（分）";
    officer_id: str, "负责人 id";
    assistant_id: opt_str, "协办人 id，没有为 ()";
    manager_id: opt_str, "负责人的上级经理 id，没有为 ()";
    channel: opt_str, "客户来源渠道（客户的渠道文字，去掉首尾空格），没有为 ()";
    channel_id: opt_str, "该渠道文字对应的已登记渠道 id（渠道页「渠道」中同名者，不区分大小写），未登记为 ()";
});

view!(PaymentView, "Payment", "一笔回款（只读）：commission.split 的输入。", {
    id: str, "回款 id";
    amount_fen: int, "金额（分，大于 0）";
    paid_on: str, "回款日期 YYYY-MM-DD";
    month: str, "回款所在月份 YYYY-MM（提成计入该月）";
    method: str, "方式：transfer（转账）、cash（现金）、wechat（微信）、alipay（支付宝）、other（其他）";
});

fn s(v: &str) -> Dynamic {
    Dynamic::from(v.to_string())
}
fn opt_s(v: Option<&str>) -> Dynamic {
    v.map_or(Dynamic::UNIT, s)
}
fn t(v: DateTime<Utc>) -> Dynamic {
    Dynamic::from(v.timestamp())
}
fn opt_t(v: Option<DateTime<Utc>>) -> Dynamic {
    v.map_or(Dynamic::UNIT, t)
}
fn int(v: impl TryInto<i64>) -> Dynamic {
    Dynamic::from(v.try_into().unwrap_or(i64::MAX))
}
/// A JSON value as the script sees it: objects become maps, null becomes `()`.
fn json(v: &serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => n.as_i64().map_or(Dynamic::UNIT, Dynamic::from),
        Value::String(x) => s(x),
        Value::Array(a) => Dynamic::from(a.iter().map(json).collect::<Array>()),
        Value::Object(o) => Dynamic::from(
            o.iter()
                .map(|(k, v)| (k.as_str().into(), json(v)))
                .collect::<Map>(),
        ),
    }
}

/// A record part (demand, profile) as a read-only map; `()` if it cannot be serialised.
fn part(v: &impl serde::Serialize) -> Dynamic {
    serde_json::to_value(v).map_or(Dynamic::UNIT, |v| json(&v))
}

/// A product's requirements under the names plugins have always read (`age_min`,
/// `property_required` …; the HTTP API writes `min_age`, `requires_property`).
fn requirements_view(r: &crate::domain::product::Requirements) -> Dynamic {
    let Ok(serde_json::Value::Object(mut m)) = serde_json::to_value(r) else {
        return Dynamic::UNIT;
    };
    for (plugin_name, api_name) in crate::domain::product::REQUIREMENT_ALIASES {
        if let Some(v) = m.remove(*api_name) {
            m.insert((*plugin_name).to_string(), v);
        }
    }
    json(&serde_json::Value::Object(m))
}

/// `#{kind: "fixed", fen}` or `#{kind: "rate", bp}`, as plugins read a service fee.
fn service_fee_view(f: &crate::domain::product::ServiceFee) -> Dynamic {
    use crate::domain::product::ServiceFee;
    let mut m = Map::new();
    match *f {
        ServiceFee::Fixed { fen } => {
            m.insert("kind".into(), s("fixed"));
            m.insert("fen".into(), int(fen));
        }
        ServiceFee::Rate { bp } => {
            m.insert("kind".into(), s("rate"));
            m.insert("bp".into(), int(bp));
        }
    }
    Dynamic::from(m)
}

/// `#{service_fee, lender_rebate_bp}`, as plugins read a product's fee terms.
fn fees_view(f: &crate::domain::product::FeeTerms) -> Dynamic {
    let mut m = Map::new();
    m.insert(
        "service_fee".into(),
        f.service_fee
            .as_ref()
            .map_or(Dynamic::UNIT, service_fee_view),
    );
    m.insert(
        "lender_rebate_bp".into(),
        f.lender_rebate_bp.map_or(Dynamic::UNIT, int),
    );
    Dynamic::from(m)
}

fn strings(v: &[String]) -> Dynamic {
    Dynamic::from(v.iter().map(|x| s(x)).collect::<Array>())
}

/// The snake_case name of a serde enum value (`Stage::Won` → "won").
fn stage_name(v: Stage) -> &'static str {
    match v {
        Stage::Lead => "lead",
        Stage::Contacted => "contacted",
        Stage::Qualified => "qualified",
        Stage::Invited => "invited",
        Stage::Visited => "visited",
        Stage::Signed => "signed",
        Stage::Won => "won",
        Stage::Lost => "lost",
        Stage::Invalid => "invalid",
    }
}

impl CustomerView {
    pub fn new(c: &Customer, held_since: DateTime<Utc>, locked: bool) -> CustomerView {
        CustomerView {
            demand: part(&c.demand),
            profile: part(&c.profile),
            ..CustomerView::from_fields(&RuleFields::from(c), held_since, locked)
        }
    }

    pub fn from_fields(c: &RuleFields, held_since: DateTime<Utc>, locked: bool) -> CustomerView {
        CustomerView {
            id: s(&c.id),
            name: s(&c.name),
            stage: s(stage_name(c.stage)),
            grade: opt_s(c.grade.as_deref()),
            stars: int(c.stars),
            city: opt_s(c.city.as_deref()),
            channel: opt_s(c.channel.as_deref()),
            tags: strings(&c.tags),
            owner_id: opt_s(c.owner_id.as_deref()),
            pool_id: opt_s(c.pool_id.as_deref()),
            previous_owner_id: opt_s(c.previous_owner_id.as_deref()),
            last_followup_at: opt_t(c.last_followup_at),
            next_followup_at: opt_t(c.next_followup_at),
            created_at: t(c.created_at),
            held_since: t(held_since),
            locked: Dynamic::from(locked),
            pool_entered_at: opt_t(c.pool_entered_at),
            deleted: Dynamic::from(c.deleted_at.is_some()),
            deal_stage: c.deal_stage.map_or(Dynamic::UNIT, |st| s(st.key())),
            // Not in the compact rule view the recall sweep reads.
            demand: Dynamic::UNIT,
            profile: Dynamic::UNIT,
        }
    }

    /// `customer.deal_stage` for hooks whose input carries it (the compact rule view has it).
    pub fn set_deal_stage(&mut self, stage: Option<crate::domain::deal::DealStage>) {
        self.deal_stage = stage.map_or(Dynamic::UNIT, |st| s(st.key()));
    }

    /// The base of an inline test's customer: a lead created at `now`.
    pub fn blank(now: i64) -> CustomerView {
        CustomerView {
            id: s("c1"),
            name: s("测试客户"),
            stage: s("lead"),
            grade: Dynamic::UNIT,
            stars: int(0),
            city: Dynamic::UNIT,
            channel: Dynamic::UNIT,
            tags: Dynamic::from(Array::new()),
            owner_id: s("u1"),
            pool_id: Dynamic::UNIT,
            previous_owner_id: Dynamic::UNIT,
            last_followup_at: Dynamic::UNIT,
            next_followup_at: Dynamic::UNIT,
            created_at: Dynamic::from(now),
            held_since: Dynamic::from(now),
            locked: Dynamic::from(false),
            pool_entered_at: Dynamic::UNIT,
            deleted: Dynamic::from(false),
            deal_stage: Dynamic::UNIT,
            demand: part(&Demand::default()),
            profile: part(&Profile::default()),
        }
    }
}

impl UserView {
    pub fn new(u: &User) -> UserView {
        UserView {
            id: s(&u.id),
            username: s(&u.username),
            display_name: s(&u.display_name),
            roles: strings(&u.roles),
            department_id: opt_s(u.department_id.as_deref()),
            is_admin: Dynamic::from(u.is_admin()),
        }
    }

    pub fn blank() -> UserView {
        UserView {
            id: s("u1"),
            username: s("sales1"),
            display_name: s("业务员"),
            roles: strings(&["sales".to_string()]),
            department_id: Dynamic::UNIT,
            is_admin: Dynamic::from(false),
        }
    }
}

impl PoolView {
    pub fn new(p: &Pool) -> PoolView {
        let st = &p.settings;
        let days: Map = st
            .no_followup_days
            .iter()
            .map(|(k, v)| (k.as_str().into(), int(*v)))
            .collect();
        PoolView {
            id: s(&p.id),
            name: s(&p.name),
            department_id: opt_s(p.department_id.as_deref()),
            recall_enabled: Dynamic::from(st.recall_enabled),
            no_followup_days: Dynamic::from(days),
            no_signing_days: st.no_signing_days.map_or(Dynamic::UNIT, int),
            warn_days_before: int(st.warn_days_before),
            claim_daily_limit: int(st.claim_daily_limit),
            max_owned: int(st.max_owned),
            max_owned_counts_won: Dynamic::from(st.max_owned_counts_won),
            reclaim_cooldown_days: int(st.reclaim_cooldown_days),
            protect_new_hours: int(st.protect_new_hours),
        }
    }

    /// Same fallback as `PoolSettings::no_followup_days_for`.
    pub fn no_followup_days_for(&self, grade: &Dynamic) -> i64 {
        let days = self.no_followup_days.read_lock::<Map>();
        let lookup = |k: &str| {
            days.as_ref()
                .and_then(|m| m.get(k))
                .and_then(|v| v.as_int().ok())
        };
        grade
            .clone()
            .into_string()
            .ok()
            .and_then(|g| lookup(&g))
            .or_else(|| lookup("default"))
            .unwrap_or(15)
    }
}

impl CandidateView {
    /// Sets `department_path` from the departments.
    pub fn with_path(mut self, org: &[super::api::DeptInfo]) -> CandidateView {
        let id = self.department_id.clone().into_string().ok();
        self.department_path = strings(&super::api::department_path(org, id.as_deref()));
        self
    }

    pub fn new(u: &User, open_leads: u64, weight: u32) -> CandidateView {
        CandidateView {
            id: s(&u.id),
            display_name: s(&u.display_name),
            department_id: opt_s(u.department_id.as_deref()),
            department_path: Dynamic::from(Array::new()),
            open_leads: int(open_leads),
            weight: int(weight),
        }
    }

    pub fn blank() -> CandidateView {
        CandidateView {
            id: s("u1"),
            display_name: s("业务员"),
            department_id: Dynamic::UNIT,
            department_path: Dynamic::from(Array::new()),
            open_leads: int(0),
            weight: int(1),
        }
    }
}

impl CtxView {
    pub fn new(hook: &str, now: DateTime<Utc>) -> CtxView {
        CtxView {
            hook: s(hook),
            now: t(now),
            owned_count: int(0),
            owned_count_excluding_won: int(0),
            claims_today: int(0),
            last_released_at: Dynamic::UNIT,
            entered_pool_at: Dynamic::UNIT,
            mode: s("round_robin"),
            cursor: int(0),
            turns: Dynamic::from(Map::new()),
            age: Dynamic::UNIT,
            status: s("eligible"),
            missing: Dynamic::from(Array::new()),
            estimate: Dynamic::from(Map::new()),
            month_volume_fen: int(0),
        }
    }

    /// The context of `products.score` for one product that passed the requirements.
    pub fn for_score(
        now: DateTime<Utc>,
        age: Option<u32>,
        status: &str,
        missing: &[&str],
        estimate: &impl serde::Serialize,
    ) -> CtxView {
        CtxView {
            age: age.map_or(Dynamic::UNIT, int),
            status: s(status),
            missing: Dynamic::from(missing.iter().map(|m| s(m)).collect::<Array>()),
            estimate: part(estimate),
            ..CtxView::new("products.score", now)
        }
    }
}

impl ProductView {
    pub fn new(p: &crate::domain::product::Product) -> ProductView {
        let t = &p.terms;
        ProductView {
            id: s(&p.id),
            name: s(&t.name),
            lender: s(&t.lender),
            category: part(&t.category),
            amount_min_fen: int(t.amount_min_fen),
            amount_max_fen: int(t.amount_max_fen),
            term_min_months: int(t.term_min_months),
            term_max_months: int(t.term_max_months),
            rate_min_bp: int(t.rate_min_bp),
            rate_max_bp: int(t.rate_max_bp),
            methods: part(&t.methods),
            requirements: requirements_view(&t.requirements),
            documents: strings(&t.documents),
            fees: fees_view(&t.fees),
        }
    }

    /// The base of an inline test's product: a 信用贷 of ¥10,000–¥200,000 over 12–36 months at
    /// 6–12%, annuity, without requirements.
    pub fn blank() -> ProductView {
        ProductView {
            id: s("p1"),
            name: s("测试产品"),
            lender: s("测试银行"),
            category: s("credit"),
            amount_min_fen: int(1_000_000),
            amount_max_fen: int(20_000_000),
            term_min_months: int(12),
            term_max_months: int(36),
            rate_min_bp: int(600),
            rate_max_bp: int(1200),
            methods: Dynamic::from(vec![s("annuity")]),
            requirements: requirements_view(&crate::domain::product::Requirements::default()),
            documents: Dynamic::from(Array::new()),
            fees: fees_view(&crate::domain::product::FeeTerms::default()),
        }
    }
}

impl DealView {
    /// What `deal.fee` and `commission.split` see of a deal.
    pub fn new(
        d: &crate::domain::deal::Deal,
        fee_fen: i64,
        manager_id: Option<&str>,
        channel: Option<&str>,
        channel_id: Option<&str>,
    ) -> DealView {
        let disb = d.disbursement.as_ref();
        DealView {
            id: s(&d.id),
            customer_id: s(&d.customer_id),
            product_id: s(&d.product.id),
            product_name: s(&d.product.name),
            lender: s(&d.product.lender),
            category: part(&d.product.category),
            amount_fen: int(d.amount_fen),
            disbursed_fen: int(disb.map_or(0, |x| x.amount_fen)),
            disbursed_on: disb.map_or(Dynamic::UNIT, |x| s(&x.disbursed_on.to_string())),
            fee_terms: d
                .product
                .service_fee
                .map_or_else(|| Dynamic::from(Map::new()), |f| service_fee_view(&f)),
            rebate_bp: d.product.rebate_bp.map_or(Dynamic::UNIT, int),
            fee_fen: int(fee_fen),
            officer_id: s(&d.officer_id),
            assistant_id: opt_s(d.assistant_id.as_deref()),
            manager_id: opt_s(manager_id),
            channel: opt_s(channel),
            channel_id: opt_s(channel_id),
        }
    }

    /// The base of an inline test's deal: 100,000 元 disbursed on 2026-11-02 of a product
    /// charging 3%, officer `u1`, no assistant, no manager, fee 3,000 元.
    pub fn blank() -> DealView {
        let mut terms = Map::new();
        terms.insert("kind".into(), s("rate"));
        terms.insert("bp".into(), int(300));
        DealView {
            id: s("d1"),
            customer_id: s("c1"),
            product_id: s("p1"),
            product_name: s("测试产品"),
            lender: s("测试银行"),
            category: s("credit"),
            amount_fen: int(10_000_000),
            disbursed_fen: int(10_000_000),
            disbursed_on: s("2026-11-02"),
            fee_terms: Dynamic::from(terms),
            rebate_bp: Dynamic::UNIT,
            fee_fen: int(300_000),
            officer_id: s("u1"),
            assistant_id: Dynamic::UNIT,
            manager_id: Dynamic::UNIT,
            channel: Dynamic::UNIT,
            channel_id: Dynamic::UNIT,
        }
    }
}

impl PaymentView {
    pub fn new(p: &crate::domain::fee::Payment) -> PaymentView {
        PaymentView {
            id: s(&p.id),
            amount_fen: int(p.amount_fen),
            paid_on: s(&p.paid_on.to_string()),
            month: s(&crate::domain::fee::month_of(p.paid_on)),
            method: part(&p.method),
        }
    }

    /// The base of an inline test's payment: 10,000 元 by transfer on 2026-11-20.
    pub fn blank() -> PaymentView {
        PaymentView {
            id: s("pay1"),
            amount_fen: int(1_000_000),
            paid_on: s("2026-11-20"),
            month: s("2026-11"),
            method: s("transfer"),
        }
    }
}
