//! Credit products (信贷产品) the agency brokers: the lender's terms, the admission requirements
//! written as fields of the qualification profile (so matching is a comparison, not a reading of
//! prose), the documents a lender asks for and the agency's fee terms. No I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::loan::{self, Method};
use super::profile::{Occupation, TaxRating};

pub type Problem = (&'static str, String);

/// The kind of loan, as agencies and lenders name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 信用贷
    Credit,
    /// 抵押贷
    Mortgage,
    /// 车贷
    Car,
    /// 经营贷
    Business,
    /// 税贷
    Tax,
    /// 公积金贷
    ProvidentFund,
    /// 保单贷
    Policy,
    /// 其他
    Other,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Credit,
        Category::Mortgage,
        Category::Car,
        Category::Business,
        Category::Tax,
        Category::ProvidentFund,
        Category::Policy,
        Category::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Category::Credit => "信用贷",
            Category::Mortgage => "抵押贷",
            Category::Car => "车贷",
            Category::Business => "经营贷",
            Category::Tax => "税贷",
            Category::ProvidentFund => "公积金贷",
            Category::Policy => "保单贷",
            Category::Other => "其他",
        }
    }

    /// The snake_case name or the Chinese label (product sheets write the label).
    pub fn parse(raw: &str) -> Option<Category> {
        let raw = raw.trim();
        Category::ALL.into_iter().find(|c| {
            c.label() == raw
                || serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    == Some(raw.to_owned())
        })
    }
}

/// Who may apply, as fields of the qualification profile. Every field is optional: absent means
/// the lender does not ask. A customer whose profile does not say (unknown) is neither
/// eligible nor refused for that requirement: matching lists it as information to collect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Requirements {
    #[serde(rename = "min_age", alias = "age_min")]
    pub age_min: Option<u32>,
    #[serde(rename = "max_age", alias = "age_max")]
    pub age_max: Option<u32>,
    /// Cities the lender serves; empty = anywhere. Matched against the customer's city
    /// ignoring a trailing 市.
    pub cities: Vec<String>,
    /// Occupations accepted; empty = any.
    pub occupations: Vec<Occupation>,
    pub min_monthly_income_fen: Option<i64>,
    pub min_social_security_months: Option<u32>,
    pub min_provident_fund_months: Option<u32>,
    pub min_provident_fund_base_fen: Option<i64>,
    /// The applicant must own property (抵押贷: the property is the collateral).
    #[serde(rename = "requires_property", alias = "property_required")]
    pub property_required: bool,
    /// The property must not already be mortgaged.
    pub property_unmortgaged: bool,
    #[serde(rename = "requires_car", alias = "car_required")]
    pub car_required: bool,
    pub max_overdue_2y: Option<u32>,
    /// No overdue right now.
    pub no_current_overdue: bool,
    pub max_inquiries_1m: Option<u32>,
    pub max_inquiries_3m: Option<u32>,
    pub max_inquiries_6m: Option<u32>,
    /// Existing debt at most this many times the monthly income (负债收入比, in percent:
    /// 2000 = 20 months of income).
    pub max_debt_income_pct: Option<u32>,
    pub max_card_utilization_pct: Option<u32>,
    #[serde(rename = "min_license_months", alias = "min_licence_age_months")]
    pub min_licence_age_months: Option<u32>,
    /// The lowest tax rating accepted (A is best; the order is A > B > M > C > D).
    pub min_tax_rating: Option<TaxRating>,
    pub min_annual_tax_fen: Option<i64>,
    pub min_annual_turnover_fen: Option<i64>,
}

/// The rank of a tax rating, higher is better: A > B > M (new businesses) > C > D.
pub fn tax_rank(r: TaxRating) -> u8 {
    match r {
        TaxRating::A => 5,
        TaxRating::B => 4,
        TaxRating::M => 3,
        TaxRating::C => 2,
        TaxRating::D => 1,
    }
}

/// The agency's service fee on a deal of this product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceFee {
    /// A fixed amount per deal.
    Fixed {
        #[serde(rename = "amount_fen", alias = "fen")]
        fen: i64,
    },
    /// A share of the disbursed amount, in basis points (300 = 3%).
    Rate {
        #[serde(rename = "rate_bp", alias = "bp")]
        bp: u32,
    },
}

/// What the agency earns on a deal of this product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct FeeTerms {
    /// Charged to the borrower; counts in the comprehensive financing cost.
    #[serde(rename = "fee", alias = "service_fee")]
    pub service_fee: Option<ServiceFee>,
    /// Paid by the lender to the agency, basis points of the disbursed amount (返佣).
    #[serde(rename = "rebate_bp", alias = "lender_rebate_bp")]
    pub lender_rebate_bp: Option<u32>,
}

/// A product as the agency's admin writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductInput {
    pub name: String,
    /// The lending institution (银行, 消费金融公司, 小贷公司 …).
    pub lender: String,
    pub category: Category,
    #[serde(rename = "min_amount_fen", alias = "amount_min_fen")]
    pub amount_min_fen: i64,
    #[serde(rename = "max_amount_fen", alias = "amount_max_fen")]
    pub amount_max_fen: i64,
    #[serde(rename = "min_term_months", alias = "term_min_months")]
    pub term_min_months: u32,
    #[serde(rename = "max_term_months", alias = "term_max_months")]
    pub term_max_months: u32,
    /// Annual rate range, basis points (490 = 4.9%).
    #[serde(rename = "min_rate_bp", alias = "rate_min_bp")]
    pub rate_min_bp: u32,
    #[serde(rename = "max_rate_bp", alias = "rate_max_bp")]
    pub rate_max_bp: u32,
    /// Repayment methods the lender offers; at least one.
    pub methods: Vec<Method>,
    #[serde(default)]
    pub requirements: Requirements,
    /// Documents the lender asks for (身份证, 户口本, 银行流水 …), in the order they are collected.
    #[serde(default, rename = "required_documents", alias = "documents")]
    pub documents: Vec<String>,
    /// On the wire at the top level: `fee` and `rebate_bp` (docs/api.md).
    #[serde(flatten)]
    pub fees: FeeTerms,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub notes: Option<String>,
}

fn yes() -> bool {
    true
}

/// A stored product: the input plus its identity and version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: String,
    #[serde(flatten)]
    pub terms: ProductInput,
    /// 1 on creation, +1 on each change; every version is kept.
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The user who wrote this version.
    pub updated_by: String,
}

const MAX_NAME: usize = 60;
const MAX_LIST: usize = 60;
const MAX_ITEM: usize = 40;

fn text(field: &'static str, v: &str, max: usize, required: bool) -> Result<(), Problem> {
    let n = v.trim().chars().count();
    if required && n == 0 {
        return Err((field, "不能为空".into()));
    }
    if n > max {
        return Err((field, format!("最多{max}个字符")));
    }
    if !super::text::single_line_ok(v) {
        return Err((field, super::text::REFUSED.into()));
    }
    Ok(())
}

fn money(field: &'static str, v: Option<i64>) -> Result<(), Problem> {
    super::profile::money(field, v)
}

fn range<T: PartialOrd + Copy>(
    field: &'static str,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), Problem> {
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return Err((field, "下限不能大于上限".into()));
    }
    Ok(())
}

/// Validates a product; the error names the field (`requirements.age_min`).
pub fn check(p: &ProductInput) -> Result<(), Problem> {
    text("name", &p.name, MAX_NAME, true)?;
    text("lender", &p.lender, MAX_NAME, true)?;
    if p.amount_min_fen <= 0 {
        return Err(("min_amount_fen", "最低额度应大于0".into()));
    }
    if p.amount_max_fen > loan::MAX_PRINCIPAL_FEN {
        return Err(("max_amount_fen", "额度过大（单位为分）".into()));
    }
    range(
        "max_amount_fen",
        Some(p.amount_min_fen),
        Some(p.amount_max_fen),
    )?;
    if p.term_min_months == 0 || p.term_max_months > loan::MAX_MONTHS {
        return Err((
            "min_term_months",
            format!("期限应为1到{}个月", loan::MAX_MONTHS),
        ));
    }
    range(
        "max_term_months",
        Some(p.term_min_months),
        Some(p.term_max_months),
    )?;
    if i64::from(p.rate_max_bp) > loan::MAX_RATE_BP {
        return Err(("max_rate_bp", "年利率过高".into()));
    }
    range("max_rate_bp", Some(p.rate_min_bp), Some(p.rate_max_bp))?;
    if p.methods.is_empty() {
        return Err(("methods", "至少选择一种还款方式".into()));
    }
    if p.documents.len() > MAX_LIST {
        return Err(("required_documents", format!("最多{MAX_LIST}项")));
    }
    for d in &p.documents {
        text("required_documents", d, MAX_ITEM, true)?;
    }
    if p.notes.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(("notes", "最多2000个字符".into()));
    }
    match p.fees.service_fee {
        Some(ServiceFee::Fixed { fen }) => money("fee.amount_fen", Some(fen))?,
        Some(ServiceFee::Rate { bp }) if bp > 10_000 => {
            return Err(("fee.rate_bp", "服务费率应为0到100%".into()));
        }
        _ => {}
    }
    if p.fees.lender_rebate_bp.is_some_and(|bp| bp > 10_000) {
        return Err(("rebate_bp", "返佣比例应为0到100%".into()));
    }
    check_requirements(&p.requirements)
}

fn check_requirements(r: &Requirements) -> Result<(), Problem> {
    if r.age_min.is_some_and(|a| a > 100) {
        return Err(("requirements.min_age", "年龄应为0到100".into()));
    }
    if r.age_max.is_some_and(|a| a > 100) {
        return Err(("requirements.max_age", "年龄应为0到100".into()));
    }
    range("requirements.max_age", r.age_min, r.age_max)?;
    // Inquiries over a longer window include the shorter one's: a 1-month limit above the
    // 3-month limit can never bind (the customer profile refuses the same inversion).
    if let (Some(a), Some(b)) = (r.max_inquiries_1m, r.max_inquiries_3m)
        && a > b
    {
        return Err((
            "requirements.max_inquiries_1m",
            "近1月查询上限不能大于近3月查询上限".into(),
        ));
    }
    if let (Some(a), Some(b)) = (r.max_inquiries_3m, r.max_inquiries_6m)
        && a > b
    {
        return Err((
            "requirements.max_inquiries_3m",
            "近3月查询上限不能大于近6月查询上限".into(),
        ));
    }
    if r.cities.len() > MAX_LIST {
        return Err(("requirements.cities", format!("最多{MAX_LIST}个城市")));
    }
    for c in &r.cities {
        text("requirements.cities", c, 20, true)?;
    }
    money(
        "requirements.min_monthly_income_fen",
        r.min_monthly_income_fen,
    )?;
    money(
        "requirements.min_provident_fund_base_fen",
        r.min_provident_fund_base_fen,
    )?;
    money("requirements.min_annual_tax_fen", r.min_annual_tax_fen)?;
    money(
        "requirements.min_annual_turnover_fen",
        r.min_annual_turnover_fen,
    )?;
    for (field, v) in [
        (
            "requirements.min_social_security_months",
            r.min_social_security_months,
        ),
        (
            "requirements.min_provident_fund_months",
            r.min_provident_fund_months,
        ),
        ("requirements.min_license_months", r.min_licence_age_months),
    ] {
        if v.is_some_and(|m| m > super::profile::MAX_MONTHS) {
            return Err((field, "月数应为0到600".into()));
        }
    }
    if r.max_card_utilization_pct.is_some_and(|p| p > 100) {
        return Err((
            "requirements.max_card_utilization_pct",
            "信用卡使用率应为0到100".into(),
        ));
    }
    if r.property_unmortgaged && !r.property_required {
        return Err((
            "requirements.property_unmortgaged",
            "要求房产未抵押时须同时要求有房产".into(),
        ));
    }
    Ok(())
}

/// The older field names the API still reads, each with its name in docs/api.md.
const PRODUCT_ALIASES: &[(&str, &str)] = &[
    ("amount_min_fen", "min_amount_fen"),
    ("amount_max_fen", "max_amount_fen"),
    ("term_min_months", "min_term_months"),
    ("term_max_months", "max_term_months"),
    ("rate_min_bp", "min_rate_bp"),
    ("rate_max_bp", "max_rate_bp"),
    ("documents", "required_documents"),
    ("service_fee", "fee"),
    ("lender_rebate_bp", "rebate_bp"),
];
/// Also the names plugins read (`product.requirements`, docs/plugins.md), kept stable.
pub const REQUIREMENT_ALIASES: &[(&str, &str)] = &[
    ("age_min", "min_age"),
    ("age_max", "max_age"),
    ("property_required", "requires_property"),
    ("car_required", "requires_car"),
    ("min_licence_age_months", "min_license_months"),
];
const FEE_ALIASES: &[(&str, &str)] = &[("fen", "amount_fen"), ("bp", "rate_bp")];

fn rename_aliases(m: &mut serde_json::Map<String, serde_json::Value>, aliases: &[(&str, &str)]) {
    for (old, new) in aliases {
        if !m.contains_key(*new)
            && let Some(v) = m.remove(*old)
        {
            m.insert((*new).to_string(), v);
        }
    }
}

/// Writes a body's older names as the names of docs/api.md (the nested `fees` object lifted
/// first), so a merge patch never holds one field under two names.
pub fn canonical_names(m: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), Problem> {
    lift_legacy_fees(m)?;
    rename_aliases(m, PRODUCT_ALIASES);
    if let Some(serde_json::Value::Object(r)) = m.get_mut("requirements") {
        rename_aliases(r, REQUIREMENT_ALIASES);
    }
    if let Some(serde_json::Value::Object(f)) = m.get_mut("fee") {
        rename_aliases(f, FEE_ALIASES);
    }
    Ok(())
}

fn keys_of<T: Serialize>(v: &T) -> Vec<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Refuses a key the shape does not have, naming it: a misspelt requirement would otherwise
/// be dropped and the product would admit customers the lender refuses.
fn known_keys(
    m: &serde_json::Map<String, serde_json::Value>,
    known: &[String],
    prefix: &str,
) -> Result<(), Problem> {
    for k in m.keys() {
        if !known.iter().any(|n| n == k) {
            return Err((
                "body",
                format!("未知字段 {prefix}{k}（字段名见 docs/api.md）"),
            ));
        }
    }
    Ok(())
}

/// Lifts the older nested `fees: {service_fee, lender_rebate_bp}` object to the top-level
/// `fee` and `rebate_bp` of docs/api.md. Both at once is refused rather than one chosen.
pub fn lift_legacy_fees(m: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), Problem> {
    let Some(fees) = m.remove("fees") else {
        return Ok(());
    };
    let fees = match fees {
        serde_json::Value::Object(f) => f,
        serde_json::Value::Null => return Ok(()),
        _ => return Err(("fees", "应为对象（或改用 fee 与 rebate_bp）".into())),
    };
    for (k, v) in fees {
        let to = match k.as_str() {
            "service_fee" | "fee" => "fee",
            "lender_rebate_bp" | "rebate_bp" => "rebate_bp",
            other => return Err(("fees", format!("未知字段 fees.{other}"))),
        };
        let clash = [
            to,
            if to == "fee" {
                "service_fee"
            } else {
                "lender_rebate_bp"
            },
        ];
        if clash.iter().any(|c| m.contains_key(*c)) {
            return Err(("fees", format!("fees.{k} 与 {to} 重复，只写一个")));
        }
        m.insert(to.to_string(), v);
    }
    Ok(())
}

/// Reads a product body as docs/api.md writes it (older names still read), refusing unknown
/// fields with their name.
pub fn from_wire(v: serde_json::Value) -> Result<ProductInput, Problem> {
    let serde_json::Value::Object(mut m) = v else {
        return Err(("body", "应为 JSON 对象".into()));
    };
    canonical_names(&mut m)?;
    let shape = ProductInput {
        name: String::new(),
        lender: String::new(),
        category: Category::Other,
        amount_min_fen: 0,
        amount_max_fen: 0,
        term_min_months: 0,
        term_max_months: 0,
        rate_min_bp: 0,
        rate_max_bp: 0,
        methods: Vec::new(),
        requirements: Requirements::default(),
        documents: Vec::new(),
        fees: FeeTerms::default(),
        active: true,
        notes: None,
    };
    known_keys(&m, &keys_of(&shape), "")?;
    if let Some(serde_json::Value::Object(r)) = m.get("requirements") {
        known_keys(r, &keys_of(&Requirements::default()), "requirements.")?;
    }
    serde_json::from_value(serde_json::Value::Object(m)).map_err(|e| ("body", e.to_string()))
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    match patch {
        serde_json::Value::Object(p) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(&k);
                    } else {
                        merge_patch(t.entry(k).or_insert(serde_json::Value::Null), v);
                    }
                }
            }
        }
        other => *target = other,
    }
}

/// Normalises what an admin typed: trimmed names, cities without a trailing 市, no duplicate
/// list entries.
pub fn normalise(p: &mut ProductInput) {
    p.name = p.name.trim().to_string();
    p.lender = p.lender.trim().to_string();
    let mut seen = std::collections::BTreeSet::new();
    p.requirements.cities = p
        .requirements
        .cities
        .iter()
        .map(|c| city_key(c).to_string())
        .filter(|c| seen.insert(c.clone()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    p.documents = p
        .documents
        .iter()
        .map(|d| d.trim().to_string())
        .filter(|d| seen.insert(d.clone()))
        .collect();
    p.methods.dedup();
    p.requirements.occupations.dedup();
    p.notes = p.notes.take().filter(|n| !n.trim().is_empty());
}

/// A city as matching compares it: trimmed, without a trailing 市 (上海市 = 上海).
pub fn city_key(c: &str) -> &str {
    let c = c.trim();
    c.strip_suffix('市').unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> ProductInput {
        ProductInput {
            name: "工薪贷".into(),
            lender: "某银行".into(),
            category: Category::Credit,
            amount_min_fen: 1_000_000,
            amount_max_fen: 30_000_000,
            term_min_months: 12,
            term_max_months: 36,
            rate_min_bp: 360,
            rate_max_bp: 1800,
            methods: vec![Method::Annuity],
            requirements: Requirements::default(),
            documents: vec!["身份证".into()],
            fees: FeeTerms::default(),
            active: true,
            notes: None,
        }
    }

    #[test]
    fn each_product_rule_names_its_field() {
        type Change = fn(&mut ProductInput);
        let cases: Vec<(Change, &str)> = vec![
            (|p| p.name = " ".into(), "name"),
            (|p| p.lender = String::new(), "lender"),
            (|p| p.amount_min_fen = 0, "min_amount_fen"),
            (|p| p.amount_max_fen = 500_000, "max_amount_fen"),
            (
                |p| p.amount_max_fen = loan::MAX_PRINCIPAL_FEN + 1,
                "max_amount_fen",
            ),
            (|p| p.term_min_months = 0, "min_term_months"),
            (|p| p.term_max_months = 6, "max_term_months"),
            (|p| p.rate_min_bp = 2000, "max_rate_bp"),
            (|p| p.methods.clear(), "methods"),
            (|p| p.documents = vec!["".into()], "required_documents"),
            (
                |p| p.fees.service_fee = Some(ServiceFee::Rate { bp: 10_001 }),
                "fee.rate_bp",
            ),
            (
                |p| p.fees.service_fee = Some(ServiceFee::Fixed { fen: -1 }),
                "fee.amount_fen",
            ),
            (|p| p.fees.lender_rebate_bp = Some(20_000), "rebate_bp"),
            (
                |p| p.requirements.age_min = Some(101),
                "requirements.min_age",
            ),
            (
                |p| {
                    p.requirements.age_min = Some(40);
                    p.requirements.age_max = Some(30);
                },
                "requirements.max_age",
            ),
            (
                |p| p.requirements.age_max = Some(500),
                "requirements.max_age",
            ),
            (
                |p| {
                    p.requirements.max_inquiries_1m = Some(9);
                    p.requirements.max_inquiries_3m = Some(2);
                },
                "requirements.max_inquiries_1m",
            ),
            (
                |p| {
                    p.requirements.max_inquiries_3m = Some(9);
                    p.requirements.max_inquiries_6m = Some(2);
                },
                "requirements.max_inquiries_3m",
            ),
            (
                |p| p.requirements.min_social_security_months = Some(601),
                "requirements.min_social_security_months",
            ),
            (
                |p| p.requirements.max_card_utilization_pct = Some(101),
                "requirements.max_card_utilization_pct",
            ),
            (
                |p| p.requirements.property_unmortgaged = true,
                "requirements.property_unmortgaged",
            ),
            (
                |p| p.requirements.min_monthly_income_fen = Some(-1),
                "requirements.min_monthly_income_fen",
            ),
        ];
        assert!(check(&sample()).is_ok());
        for (change, field) in cases {
            let mut p = sample();
            change(&mut p);
            let err = check(&p).expect_err(field);
            assert_eq!(err.0, field, "{err:?}");
        }
    }

    #[test]
    fn categories_read_from_labels_and_names() {
        assert_eq!(Category::parse("公积金贷"), Some(Category::ProvidentFund));
        assert_eq!(
            Category::parse("provident_fund"),
            Some(Category::ProvidentFund)
        );
        assert_eq!(Category::parse("高利贷"), None);
    }

    #[test]
    fn normalise_drops_the_city_suffix_and_duplicates() {
        let mut p = sample();
        p.requirements.cities = vec!["上海市".into(), "上海".into(), " 杭州 ".into()];
        p.documents = vec!["身份证".into(), "身份证".into()];
        normalise(&mut p);
        assert_eq!(p.requirements.cities, vec!["上海", "杭州"]);
        assert_eq!(p.documents, vec!["身份证"]);
    }

    #[test]
    fn tax_ratings_rank_a_best_and_m_between_b_and_c() {
        use TaxRating::*;
        let mut r = [D, M, A, C, B];
        r.sort_by_key(|r| std::cmp::Reverse(tax_rank(*r)));
        assert_eq!(r, [A, B, M, C, D]);
    }
}
