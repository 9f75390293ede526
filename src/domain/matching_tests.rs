//! Customers × products: every decision and every reason, written out.

use super::*;
use crate::domain::product::{Category, FeeTerms, ProductInput, Requirements};
use crate::domain::profile::{Business, Credit, Occupation, Profile, TaxRating};

fn product(r: Requirements) -> ProductInput {
    ProductInput {
        name: "p".into(),
        lender: "l".into(),
        category: Category::Credit,
        amount_min_fen: 1_000_000,
        amount_max_fen: 20_000_000,
        term_min_months: 12,
        term_max_months: 36,
        rate_min_bp: 600,
        rate_max_bp: 1200,
        methods: vec![Method::Annuity],
        requirements: r,
        documents: vec![],
        fees: FeeTerms::default(),
        active: true,
        notes: None,
    }
}

/// 工薪贷: salaried, 25–55, Shanghai or Hangzhou, social security ≥ 12 months, few inquiries.
fn salary_loan() -> Requirements {
    Requirements {
        age_min: Some(25),
        age_max: Some(55),
        cities: vec!["上海".into(), "杭州".into()],
        occupations: vec![Occupation::Employee, Occupation::CivilServant],
        min_monthly_income_fen: Some(500_000),
        min_social_security_months: Some(12),
        max_inquiries_3m: Some(4),
        max_overdue_2y: Some(2),
        no_current_overdue: true,
        ..Requirements::default()
    }
}

/// 公积金贷: provident fund ≥ 24 months on a base ≥ ¥8,000.
fn fund_loan() -> Requirements {
    Requirements {
        min_provident_fund_months: Some(24),
        min_provident_fund_base_fen: Some(800_000),
        ..Requirements::default()
    }
}

/// 抵押贷: unmortgaged property, debt ≤ 20 months of income.
fn mortgage_loan() -> Requirements {
    Requirements {
        property_required: true,
        property_unmortgaged: true,
        max_debt_income_pct: Some(2000),
        ..Requirements::default()
    }
}

/// 税贷: business owner, licence ≥ 24 months, tax rating B or better, ¥50,000 tax a year.
fn tax_loan() -> Requirements {
    Requirements {
        occupations: vec![Occupation::BusinessOwner],
        min_licence_age_months: Some(24),
        min_tax_rating: Some(TaxRating::B),
        min_annual_tax_fen: Some(5_000_000),
        ..Requirements::default()
    }
}

fn clerk() -> Profile {
    Profile {
        occupation: Some(Occupation::Employee),
        monthly_income_fen: Some(1_200_000),
        social_security_months: Some(6),
        provident_fund_months: Some(30),
        provident_fund_base_fen: Some(900_000),
        has_property: Some(true),
        property_mortgaged: Some(true),
        credit: Credit {
            overdue_count_2y: Some(0),
            current_overdue: Some(false),
            inquiries_3m: Some(2),
            existing_debt_fen: Some(30_000_000),
            ..Credit::default()
        },
        ..Profile::default()
    }
}

fn boss() -> Profile {
    Profile {
        occupation: Some(Occupation::BusinessOwner),
        monthly_income_fen: Some(5_000_000),
        has_property: Some(true),
        property_mortgaged: Some(false),
        credit: Credit {
            existing_debt_fen: Some(10_000_000),
            ..Credit::default()
        },
        business: Business {
            licence_age_months: Some(36),
            tax_rating: Some(TaxRating::M),
            annual_tax_fen: Some(8_000_000),
            ..Business::default()
        },
        ..Profile::default()
    }
}

fn run(age: Option<u32>, city: Option<&str>, p: &Profile, r: &Requirements) -> Decision {
    let demand = Demand::default();
    evaluate(
        r,
        &Applicant {
            age,
            born: None,
            city,
            profile: p,
            demand: &demand,
        },
    )
}

fn reasons(d: &Decision) -> Vec<(&str, &str, Option<&str>)> {
    d.failures
        .iter()
        .map(|f| (f.field, f.reason.as_str(), f.hint.as_deref()))
        .collect()
}

fn missing(d: &Decision) -> Vec<(&str, &str)> {
    d.missing
        .iter()
        .map(|f| (f.field, f.reason.as_str()))
        .collect()
}

#[test]
fn the_clerk_against_each_product() {
    let clerk = clerk();
    // 工薪贷: six months of social security short — a near miss with its cure.
    let d = run(Some(30), Some("上海市"), &clerk, &salary_loan());
    assert_eq!(d.status, Status::Ineligible);
    assert_eq!(
        reasons(&d),
        vec![(
            "min_social_security_months",
            "社保缴纳 6 个月，要求 ≥ 12 个月",
            Some("再缴 6 个月社保即可申请")
        )]
    );
    assert_eq!(d.near_miss().map(|f| f.gap), Some(Some(6)));
    // 公积金贷: everything met.
    let d = run(Some(30), Some("上海"), &clerk, &fund_loan());
    assert_eq!(d.status, Status::Eligible);
    assert!(d.failures.is_empty() && d.missing.is_empty());
    // 抵押贷: the property is mortgaged, and the debt is 25 months of income.
    let d = run(Some(30), Some("上海"), &clerk, &mortgage_loan());
    assert_eq!(
        reasons(&d),
        vec![
            (
                "property_unmortgaged",
                "房产已抵押，要求房产未抵押",
                Some("结清房产抵押后可申请")
            ),
            (
                "max_debt_income_pct",
                "负债为月收入的 25 个月，要求 ≤ 20 个月",
                Some("降低负债后可申请")
            ),
        ]
    );
    assert_eq!(d.near_miss(), None, "two failures are not a near miss");
    // 税贷: not a business owner; the business fields are unknown, listed to collect.
    let d = run(Some(30), Some("上海"), &clerk, &tax_loan());
    assert_eq!(
        reasons(&d),
        vec![("occupations", "职业为上班族，要求企业主/个体户", None)]
    );
    assert_eq!(
        missing(&d),
        vec![
            ("profile.business.licence_age_months", "未填写营业执照"),
            ("profile.business.tax_rating", "未填写纳税信用等级"),
            ("profile.business.annual_tax_fen", "未填写年纳税额"),
        ]
    );
}

#[test]
fn the_business_owner_against_each_product() {
    let boss = boss();
    // 工薪贷: too old, wrong city and occupation; social security, inquiries, overdues unknown.
    let d = run(Some(58), Some("苏州"), &boss, &salary_loan());
    assert_eq!(d.status, Status::Ineligible);
    assert_eq!(
        reasons(&d),
        vec![
            ("age_max", "年龄 58 岁，要求 ≤ 55 岁", None),
            ("cities", "所在城市 苏州 不在可做城市（上海、杭州）内", None),
            (
                "occupations",
                "职业为企业主/个体户，要求上班族或公务员/事业单位",
                None
            ),
        ]
    );
    assert_eq!(
        missing(&d),
        vec![
            ("profile.social_security_months", "未填写社保缴纳"),
            ("profile.credit.overdue_count_2y", "未填写近2年逾期"),
            ("profile.credit.current_overdue", "未填写当前是否逾期"),
            ("profile.credit.inquiries_3m", "未填写近3个月征信查询"),
        ]
    );
    // 公积金贷: nothing known — needs information, not refused.
    let d = run(Some(58), Some("苏州"), &boss, &fund_loan());
    assert_eq!(d.status, Status::NeedsInfo);
    assert_eq!(
        missing(&d),
        vec![
            ("profile.provident_fund_months", "未填写公积金缴纳"),
            ("profile.provident_fund_base_fen", "未填写公积金基数"),
        ]
    );
    // 抵押贷: unmortgaged property, debt 2 months of income.
    let d = run(Some(58), Some("苏州"), &boss, &mortgage_loan());
    assert_eq!(d.status, Status::Eligible);
    // 税贷: rating M is below B.
    let d = run(Some(58), Some("苏州"), &boss, &tax_loan());
    assert_eq!(
        reasons(&d),
        vec![("min_tax_rating", "纳税信用等级 M 级，要求 B 级及以上", None)]
    );
}

#[test]
fn the_young_applicant_with_inquiries_and_an_overdue() {
    let p = Profile {
        occupation: Some(Occupation::Employee),
        monthly_income_fen: Some(400_000),
        social_security_months: Some(24),
        credit: Credit {
            overdue_count_2y: Some(3),
            current_overdue: Some(true),
            inquiries_3m: Some(7),
            ..Credit::default()
        },
        ..Profile::default()
    };
    let d = run(Some(22), Some("杭州"), &p, &salary_loan());
    assert_eq!(
        reasons(&d),
        vec![
            (
                "age_min",
                "年龄 22 岁，要求 ≥ 25 岁",
                Some("最迟 3 年后满足年龄要求")
            ),
            (
                "min_monthly_income_fen",
                "月收入 4000元，要求 ≥ 5000元",
                None
            ),
            ("max_overdue_2y", "近2年逾期 3 次，要求 ≤ 2 次", None),
            (
                "no_current_overdue",
                "当前有逾期，要求无当前逾期",
                Some("结清当前逾期后可申请")
            ),
            (
                "max_inquiries_3m",
                "近3个月征信查询 7 次，要求 ≤ 4 次",
                Some("暂停查询征信，待近3个月查询次数回落后再申请")
            ),
        ]
    );
    // No ID number on file: the age is information to collect, not a failure.
    let d = run(None, Some("杭州"), &clerk(), &salary_loan());
    assert!(
        missing(&d).contains(&("id_number", "未填写身份证号（用于计算年龄）")),
        "{d:?}"
    );
}

#[test]
fn bounds_are_inclusive_and_a_product_without_requirements_takes_anyone() {
    let mut p = clerk();
    p.social_security_months = Some(12);
    assert_eq!(
        run(Some(25), Some("上海"), &p, &salary_loan()).status,
        Status::Eligible
    );
    assert_eq!(
        run(Some(55), Some("上海"), &p, &salary_loan()).status,
        Status::Eligible
    );
    assert_eq!(
        run(Some(56), Some("上海"), &p, &salary_loan()).status,
        Status::Ineligible
    );
    assert_eq!(
        run(None, None, &Profile::default(), &Requirements::default()).status,
        Status::Eligible
    );
}

#[test]
fn the_estimate_clamps_the_request_into_the_product() {
    let p = product(Requirements::default());
    let first = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
    // Unknown request: the product's maximum amount and term.
    let e = estimate(&p, &Demand::default(), first).unwrap();
    assert_eq!((e.amount_fen, e.term_months), (20_000_000, 36));
    // ¥300,000 over 60 months asked: ¥200,000 over 36 months offered.
    let d = Demand {
        amount_fen: Some(30_000_000),
        term_months: Some(60),
        purpose: None,
    };
    let e = estimate(&p, &d, first).unwrap();
    assert_eq!((e.amount_fen, e.term_months), (20_000_000, 36));
    // ¥100,000 over 12 months: annuity at 6% = ¥8,606.64, at 12% = ¥8,884.88 (published tables).
    let d = Demand {
        amount_fen: Some(10_000_000),
        term_months: Some(12),
        purpose: None,
    };
    let e = estimate(&p, &d, first).unwrap();
    assert_eq!((e.payment_min_fen, e.payment_max_fen), (860_664, 888_488));
}

/// The age hint counts to the birthday that meets the minimum (Shanghai dates): tomorrow, in
/// days within a month, else in months; the gap is in months, rounded up.
#[test]
fn the_age_hint_counts_to_the_birthday() {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let today = d(2026, 12, 8);
    let r = Requirements {
        age_min: Some(22),
        ..Requirements::default()
    };
    let p = Profile::default();
    let demand = Demand::default();
    let hint = |birth: NaiveDate| {
        let age = crate::domain::id_number::age_on(birth, today);
        let dec = evaluate(
            &r,
            &Applicant {
                age: Some(age),
                born: Some((birth, today)),
                city: None,
                profile: &p,
                demand: &demand,
            },
        );
        dec.failures
            .first()
            .map(|f| (f.hint.clone().unwrap_or_default(), f.gap))
    };
    assert_eq!(hint(d(2004, 12, 9)), Some(("明天满 22 岁".into(), Some(1))));
    assert_eq!(hint(d(2004, 12, 8)), None, "22 today");
    assert_eq!(
        hint(d(2004, 12, 10)),
        Some(("2 天后满 22 岁".into(), Some(1)))
    );
    assert_eq!(
        hint(d(2005, 1, 7)),
        Some(("30 天后满 22 岁".into(), Some(1)))
    );
    assert_eq!(
        hint(d(2005, 6, 1)),
        Some(("约 6 个月后满 22 岁".into(), Some(6)))
    );
    assert_eq!(
        hint(d(2010, 12, 9)),
        Some(("约 6 年后满 22 岁".into(), Some(73)))
    );
    // Born on 29 February: 22 since 1 March 2026 (a common year), as the age itself counts.
    assert_eq!(
        hint(d(2004, 2, 29)).map(|h| h.0),
        None,
        "22 since 2026-03-01"
    );
    // Without the birth date (only the age): the longest it can take.
    let dec = run(Some(21), None, &p, &r);
    assert_eq!(
        dec.failures[0].hint.as_deref(),
        Some("最迟 1 年后满足年龄要求")
    );
}

/// The debt ratio is shown rounded up to 0.01 month when it fails, so the reason never reads
/// as if the limit were met; an income with fen shows them.
#[test]
fn the_debt_reason_never_contradicts_the_limit() {
    let r = Requirements {
        max_debt_income_pct: Some(2000),
        min_monthly_income_fen: Some(500_000),
        ..Requirements::default()
    };
    let p = Profile {
        monthly_income_fen: Some(499_999),
        credit: Credit {
            existing_debt_fen: Some(10_000_001),
            ..Credit::default()
        },
        ..Profile::default()
    };
    let dec = run(Some(30), None, &p, &r);
    assert_eq!(
        reasons(&dec),
        vec![
            (
                "min_monthly_income_fen",
                "月收入 4999.99元，要求 ≥ 5000元",
                None
            ),
            (
                "max_debt_income_pct",
                "负债为月收入的 20.01 个月，要求 ≤ 20 个月",
                Some("降低负债后可申请")
            ),
        ]
    );
}
