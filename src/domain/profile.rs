//! The qualification profile (资质) lenders ask about, as typed fields, and its validation.
//! Stored as JSON inside the customer record: every field is optional (unknown = not asked
//! yet), so records written before a field existed decode without a migration. None of these
//! fields says anything about the digits a masked phone or ID number hides.

use serde::{Deserialize, Serialize};

pub type Problem = (&'static str, String);

/// What the customer wants to borrow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Demand {
    /// Loan amount wanted, in fen.
    pub amount_fen: Option<i64>,
    pub term_months: Option<u32>,
    pub purpose: Option<String>,
}

/// Occupation type, stored as its snake_case name.
///
/// The API takes only the snake_case names (anything else is a validation error naming
/// `profile.occupation`). Stored records are read leniently, because earlier versions kept
/// free text here: [`stored`] reads an unknown value through [`Occupation::parse`] (the usual
/// Chinese labels, and the `self_employed` the demo data used, which is a business owner) and
/// anything still unknown as `other`, so an old record always stays readable; it becomes the
/// snake_case name when the record is next written. Imports use `parse` and refuse an unknown
/// cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Occupation {
    /// 上班族 / 受薪
    Employee,
    /// 公务员 / 事业单位
    CivilServant,
    /// 企业主 / 个体户
    BusinessOwner,
    /// 自由职业
    Freelancer,
    /// 其他
    Other,
}

impl Occupation {
    /// A variant name or a usual Chinese label → the occupation; `None` when unknown.
    pub fn parse(raw: &str) -> Option<Occupation> {
        Some(match raw.trim() {
            "employee" | "上班族" | "受薪" | "受薪人士" | "工薪" | "职员" | "员工" => {
                Occupation::Employee
            }
            "civil_servant" | "公务员" | "事业单位" | "公务员/事业单位" => {
                Occupation::CivilServant
            }
            "business_owner" | "self_employed" | "企业主" | "个体户" | "个体工商户" | "老板" => {
                Occupation::BusinessOwner
            }
            "freelancer" | "自由职业" | "自由职业者" => Occupation::Freelancer,
            "other" | "其他" | "其它" => Occupation::Other,
            _ => return None,
        })
    }
}

/// Reads a stored profile, mapping an occupation written as free text (see [`Occupation`]).
pub fn stored<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Profile, D::Error> {
    let mut v = serde_json::Value::deserialize(d)?;
    if let Some(o) = v.get_mut("occupation")
        && let Some(text) = o.as_str()
    {
        let occupation = Occupation::parse(text).unwrap_or(Occupation::Other);
        *o = serde_json::to_value(occupation).map_err(serde::de::Error::custom)?;
    }
    serde_json::from_value(v).map_err(serde::de::Error::custom)
}

/// The tax authority's credit rating of a business (纳税信用等级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum TaxRating {
    A,
    B,
    C,
    D,
    M,
}

impl TaxRating {
    pub fn parse(raw: &str) -> Option<TaxRating> {
        Some(
            match raw.trim().to_ascii_uppercase().trim_end_matches('级') {
                "A" => TaxRating::A,
                "B" => TaxRating::B,
                "C" => TaxRating::C,
                "D" => TaxRating::D,
                "M" => TaxRating::M,
                _ => return None,
            },
        )
    }
}

/// The credit report (征信) summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Credit {
    pub overdue_count_2y: Option<u32>,
    /// Overdue right now.
    #[serde(default)]
    pub current_overdue: Option<bool>,
    #[serde(default)]
    pub inquiries_1m: Option<u32>,
    pub inquiries_3m: Option<u32>,
    pub inquiries_6m: Option<u32>,
    pub existing_debt_fen: Option<i64>,
    /// Credit-card utilisation, percent 0–100.
    #[serde(default)]
    pub card_utilization_pct: Option<u32>,
}

/// What lenders of business loans (经营贷, 税贷) ask a business owner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Business {
    /// How long the business licence has been held, in months.
    pub licence_age_months: Option<u32>,
    /// Tax paid over the last year, in fen.
    pub annual_tax_fen: Option<i64>,
    pub tax_rating: Option<TaxRating>,
    /// Turnover over the last year, in fen.
    pub annual_turnover_fen: Option<i64>,
}

/// The qualification profile lenders ask about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub occupation: Option<Occupation>,
    pub monthly_income_fen: Option<i64>,
    pub social_security_months: Option<u32>,
    pub provident_fund_months: Option<u32>,
    /// Monthly provident-fund contribution base, in fen.
    pub provident_fund_base_fen: Option<i64>,
    pub has_property: Option<bool>,
    pub property_value_fen: Option<i64>,
    #[serde(default)]
    pub property_mortgaged: Option<bool>,
    pub has_car: Option<bool>,
    #[serde(default)]
    pub car_value_fen: Option<i64>,
    #[serde(default)]
    pub credit: Credit,
    #[serde(default)]
    pub business: Business,
}

/// The largest amount any money field takes: 10 billion yuan, beyond any loan an agency
/// brokers; it catches yuan/fen mix-ups in imports.
pub const MAX_FEN: i64 = 1_000_000_000_000;
/// Months of contributions, licence age: 50 years.
pub const MAX_MONTHS: u32 = 600;
/// Overdues and credit inquiries.
pub const MAX_COUNT: u32 = 999;

pub fn money(field: &'static str, v: Option<i64>) -> Result<(), Problem> {
    match v {
        Some(f) if f < 0 => Err((field, "金额不能为负数".into())),
        Some(f) if f > MAX_FEN => Err((field, "金额过大（单位为分）".into())),
        _ => Ok(()),
    }
}

fn months(field: &'static str, v: Option<u32>) -> Result<(), Problem> {
    match v {
        Some(m) if m > MAX_MONTHS => Err((field, format!("月数应为0到{MAX_MONTHS}"))),
        _ => Ok(()),
    }
}

fn count(field: &'static str, v: Option<u32>) -> Result<(), Problem> {
    match v {
        Some(n) if n > MAX_COUNT => Err((field, format!("次数应为0到{MAX_COUNT}"))),
        _ => Ok(()),
    }
}

/// Validates a profile; the error names the dotted field (`profile.credit.inquiries_1m`).
pub fn check(p: &Profile) -> Result<(), Problem> {
    money("profile.monthly_income_fen", p.monthly_income_fen)?;
    months("profile.social_security_months", p.social_security_months)?;
    months("profile.provident_fund_months", p.provident_fund_months)?;
    money("profile.provident_fund_base_fen", p.provident_fund_base_fen)?;
    money("profile.property_value_fen", p.property_value_fen)?;
    if p.has_property == Some(false) && p.property_mortgaged == Some(true) {
        return Err((
            "profile.property_mortgaged",
            "无房产时不能选择已抵押".into(),
        ));
    }
    money("profile.car_value_fen", p.car_value_fen)?;
    let c = &p.credit;
    count("profile.credit.overdue_count_2y", c.overdue_count_2y)?;
    count("profile.credit.inquiries_1m", c.inquiries_1m)?;
    count("profile.credit.inquiries_3m", c.inquiries_3m)?;
    count("profile.credit.inquiries_6m", c.inquiries_6m)?;
    money("profile.credit.existing_debt_fen", c.existing_debt_fen)?;
    if c.card_utilization_pct.is_some_and(|u| u > 100) {
        return Err((
            "profile.credit.card_utilization_pct",
            "信用卡使用率应为0到100".into(),
        ));
    }
    // Each window contains the shorter one.
    if let (Some(i1), Some(i3)) = (c.inquiries_1m, c.inquiries_3m)
        && i3 < i1
    {
        return Err((
            "profile.credit.inquiries_3m",
            "近3个月查询次数不能少于近1个月".into(),
        ));
    }
    if let (Some(i3), Some(i6)) = (c.inquiries_3m, c.inquiries_6m)
        && i6 < i3
    {
        return Err((
            "profile.credit.inquiries_6m",
            "近6个月查询次数不能少于近3个月".into(),
        ));
    }
    let b = &p.business;
    months("profile.business.licence_age_months", b.licence_age_months)?;
    money("profile.business.annual_tax_fen", b.annual_tax_fen)?;
    money(
        "profile.business.annual_turnover_fen",
        b.annual_turnover_fen,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_rule_names_its_field() {
        type Change = fn(&mut Profile);
        let cases: Vec<(Change, &str)> = vec![
            (
                |p| p.monthly_income_fen = Some(-1),
                "profile.monthly_income_fen",
            ),
            (
                |p| p.monthly_income_fen = Some(MAX_FEN + 1),
                "profile.monthly_income_fen",
            ),
            (
                |p| p.social_security_months = Some(601),
                "profile.social_security_months",
            ),
            (
                |p| p.provident_fund_months = Some(601),
                "profile.provident_fund_months",
            ),
            (
                |p| p.provident_fund_base_fen = Some(-5),
                "profile.provident_fund_base_fen",
            ),
            (
                |p| p.property_value_fen = Some(-1),
                "profile.property_value_fen",
            ),
            (
                |p| {
                    p.has_property = Some(false);
                    p.property_mortgaged = Some(true);
                },
                "profile.property_mortgaged",
            ),
            (|p| p.car_value_fen = Some(-1), "profile.car_value_fen"),
            (
                |p| p.car_value_fen = Some(MAX_FEN + 1),
                "profile.car_value_fen",
            ),
            (
                |p| p.credit.overdue_count_2y = Some(1000),
                "profile.credit.overdue_count_2y",
            ),
            (
                |p| p.credit.inquiries_1m = Some(1000),
                "profile.credit.inquiries_1m",
            ),
            (
                |p| p.credit.inquiries_3m = Some(1000),
                "profile.credit.inquiries_3m",
            ),
            (
                |p| p.credit.inquiries_6m = Some(1000),
                "profile.credit.inquiries_6m",
            ),
            (
                |p| p.credit.existing_debt_fen = Some(-1),
                "profile.credit.existing_debt_fen",
            ),
            (
                |p| p.credit.card_utilization_pct = Some(101),
                "profile.credit.card_utilization_pct",
            ),
            (
                |p| {
                    p.credit.inquiries_1m = Some(3);
                    p.credit.inquiries_3m = Some(2);
                },
                "profile.credit.inquiries_3m",
            ),
            (
                |p| {
                    p.credit.inquiries_3m = Some(4);
                    p.credit.inquiries_6m = Some(2);
                },
                "profile.credit.inquiries_6m",
            ),
            (
                |p| p.business.licence_age_months = Some(601),
                "profile.business.licence_age_months",
            ),
            (
                |p| p.business.annual_tax_fen = Some(-1),
                "profile.business.annual_tax_fen",
            ),
            (
                |p| p.business.annual_turnover_fen = Some(MAX_FEN + 1),
                "profile.business.annual_turnover_fen",
            ),
        ];
        for (change, field) in cases {
            let mut p = Profile::default();
            change(&mut p);
            let err = check(&p).unwrap_err();
            assert_eq!(err.0, field, "{err:?}");
        }
    }

    #[test]
    fn the_edges_of_each_range_pass() {
        let p = Profile {
            occupation: Some(Occupation::BusinessOwner),
            monthly_income_fen: Some(MAX_FEN),
            social_security_months: Some(600),
            provident_fund_months: Some(0),
            provident_fund_base_fen: Some(0),
            has_property: Some(true),
            property_value_fen: Some(0),
            property_mortgaged: Some(true),
            has_car: Some(true),
            car_value_fen: Some(MAX_FEN),
            credit: Credit {
                overdue_count_2y: Some(999),
                current_overdue: Some(true),
                inquiries_1m: Some(2),
                inquiries_3m: Some(2),
                inquiries_6m: Some(999),
                existing_debt_fen: Some(0),
                card_utilization_pct: Some(100),
            },
            business: Business {
                licence_age_months: Some(600),
                annual_tax_fen: Some(0),
                tax_rating: Some(TaxRating::M),
                annual_turnover_fen: Some(MAX_FEN),
            },
        };
        assert_eq!(check(&p), Ok(()));
        // Mortgaged with the property question unanswered is allowed.
        let p = Profile {
            property_mortgaged: Some(true),
            ..Default::default()
        };
        assert_eq!(check(&p), Ok(()));
    }

    #[test]
    fn old_free_text_occupations_stay_readable() {
        let read = |v: &str| -> Profile { stored(serde_json::json!({ "occupation": v })).unwrap() };
        assert_eq!(read("employee").occupation, Some(Occupation::Employee));
        assert_eq!(read("公务员").occupation, Some(Occupation::CivilServant));
        assert_eq!(read("个体户").occupation, Some(Occupation::BusinessOwner));
        assert_eq!(
            read("self_employed").occupation,
            Some(Occupation::BusinessOwner)
        );
        assert_eq!(read("自由职业").occupation, Some(Occupation::Freelancer));
        assert_eq!(read("开出租车的").occupation, Some(Occupation::Other));
        // Written back as the snake_case name.
        let json = serde_json::to_value(read("事业单位")).unwrap();
        assert_eq!(json["occupation"], "civil_servant");
        // The API takes only the names.
        let api: Result<Profile, _> =
            serde_json::from_value(serde_json::json!({"occupation": "个体户"}));
        assert!(api.is_err());
        // A record from before the new fields decodes with them empty.
        let old: Profile = serde_json::from_str(
            r#"{"occupation":null,"monthly_income_fen":100,"social_security_months":null,
                "provident_fund_months":null,"provident_fund_base_fen":null,"has_property":true,
                "property_value_fen":null,"has_car":null,
                "credit":{"overdue_count_2y":1,"inquiries_3m":2,"inquiries_6m":3,"existing_debt_fen":null}}"#,
        )
        .unwrap();
        assert_eq!(old.credit.inquiries_1m, None);
        assert_eq!(old.business, Business::default());
        assert_eq!(Occupation::parse("开出租车的"), None, "imports refuse it");
    }

    #[test]
    fn tax_ratings_parse_and_refuse() {
        assert_eq!(TaxRating::parse("a"), Some(TaxRating::A));
        assert_eq!(TaxRating::parse("B级"), Some(TaxRating::B));
        assert_eq!(TaxRating::parse("M"), Some(TaxRating::M));
        assert_eq!(TaxRating::parse("E"), None);
        let bad: Result<Business, _> = serde_json::from_str(r#"{"tax_rating":"E"}"#);
        assert!(bad.is_err());
    }
}
