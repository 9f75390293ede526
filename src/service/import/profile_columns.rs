//! Import columns of the qualification profile (资质): the headers agencies and
//! `zhudai demo --csv` write, and each cell to its typed field. A column's field key is the
//! profile field's dotted path, so a validation error of the domain names the same column.

use crate::domain::customer::{Occupation, Profile, TaxRating};

use super::columns::parse_yuan;

/// Profile fields a column can go to, with the name shown in the mapping step and the report.
pub const PROFILE_FIELDS: &[(&str, &str)] = &[
    ("profile.occupation", "职业"),
    ("profile.monthly_income_fen", "月收入（元）"),
    ("profile.social_security_months", "社保月数"),
    ("profile.provident_fund_months", "公积金月数"),
    ("profile.provident_fund_base_fen", "公积金基数（元）"),
    ("profile.has_property", "有房"),
    ("profile.property_value_fen", "房产价值（元）"),
    ("profile.property_mortgaged", "房产已抵押"),
    ("profile.has_car", "有车"),
    ("profile.car_value_fen", "车辆价值（元）"),
    ("profile.credit.overdue_count_2y", "近2年逾期次数"),
    ("profile.credit.current_overdue", "当前逾期"),
    ("profile.credit.inquiries_1m", "近1月查询次数"),
    ("profile.credit.inquiries_3m", "近3月查询次数"),
    ("profile.credit.inquiries_6m", "近6月查询次数"),
    ("profile.credit.existing_debt_fen", "负债（元）"),
    ("profile.credit.card_utilization_pct", "信用卡使用率（%）"),
    ("profile.business.licence_age_months", "营业执照月数"),
    ("profile.business.annual_tax_fen", "年纳税额（元）"),
    ("profile.business.tax_rating", "纳税等级"),
    ("profile.business.annual_turnover_fen", "年营业额（元）"),
];

/// A normalised header (no spaces, ASCII brackets, lower case) → its profile field.
pub(super) fn profile_field_for(h: &str) -> Option<&'static str> {
    Some(match h {
        "职业" | "职业类型" | "职业身份" | "occupation" => "profile.occupation",
        "月收入(元)" | "月收入" | "月薪(元)" | "月薪" | "monthly_income" => {
            "profile.monthly_income_fen"
        }
        "社保月数" | "社保缴纳月数" | "社保(月)" | "social_security_months" => {
            "profile.social_security_months"
        }
        "公积金月数" | "公积金缴纳月数" | "公积金(月)" | "provident_fund_months" => {
            "profile.provident_fund_months"
        }
        "公积金基数(元)" | "公积金基数" | "公积金缴存基数" | "provident_fund_base" => {
            "profile.provident_fund_base_fen"
        }
        "有房" | "有无房产" | "是否有房" | "房产" | "has_property" => {
            "profile.has_property"
        }
        "房产价值(元)" | "房产价值" | "房产估值" | "房产估值(元)" | "property_value" => {
            "profile.property_value_fen"
        }
        "房产已抵押" | "房产抵押" | "房产是否抵押" | "是否抵押" | "property_mortgaged" => {
            "profile.property_mortgaged"
        }
        "有车" | "有无车产" | "是否有车" | "车产" | "has_car" => "profile.has_car",
        "车辆价值(元)" | "车辆价值" | "车产价值" | "车产价值(元)" | "car_value" => {
            "profile.car_value_fen"
        }
        "近2年逾期次数" | "两年内逾期次数" | "逾期次数" | "overdue_count_2y" => {
            "profile.credit.overdue_count_2y"
        }
        "当前逾期" | "是否当前逾期" | "当前是否逾期" | "current_overdue" => {
            "profile.credit.current_overdue"
        }
        "近1月查询次数" | "近1个月查询次数" | "inquiries_1m" => {
            "profile.credit.inquiries_1m"
        }
        "近3月查询次数" | "近3个月查询次数" | "inquiries_3m" => {
            "profile.credit.inquiries_3m"
        }
        "近6月查询次数" | "近6个月查询次数" | "inquiries_6m" => {
            "profile.credit.inquiries_6m"
        }
        "负债(元)" | "负债" | "总负债" | "总负债(元)" | "existing_debt" => {
            "profile.credit.existing_debt_fen"
        }
        "信用卡使用率(%)" | "信用卡使用率" | "信用卡使用率%" | "card_utilization" => {
            "profile.credit.card_utilization_pct"
        }
        "营业执照月数" | "执照月数" | "营业执照年限(月)" | "licence_age_months" => {
            "profile.business.licence_age_months"
        }
        "年纳税额(元)" | "年纳税额" | "年纳税" | "纳税额(元)" | "annual_tax" => {
            "profile.business.annual_tax_fen"
        }
        "纳税等级" | "纳税信用等级" | "tax_rating" => "profile.business.tax_rating",
        "年营业额(元)" | "年营业额" | "年开票额(元)" | "年开票额" | "annual_turnover" => {
            "profile.business.annual_turnover_fen"
        }
        _ => return None,
    })
}

/// 是/否/有/无/Y/N (and 1/0, true/false) → a bool; `None` when it is neither.
pub fn parse_yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "是" | "有" | "y" | "yes" | "1" | "true" | "已抵押" => Some(true),
        "否" | "无" | "没有" | "n" | "no" | "0" | "false" | "未抵押" => Some(false),
        _ => None,
    }
}

/// Sets `field` from the cell `v`. `Ok(false)` when `field` is not a profile field; the error
/// is the reason in Chinese (the caller names the column).
pub(super) fn set(p: &mut Profile, field: &str, v: &str) -> Result<bool, String> {
    let yuan = |what: &str| {
        parse_yuan(v).ok_or_else(|| format!("{what}应为金额（元），如 1,234.50 或 12万"))
    };
    let whole = |what: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{what}应为不小于0的整数"))
    };
    let yes_no =
        |what: &str| parse_yes_no(v).ok_or_else(|| format!("{what}应为 是/否、有/无 或 Y/N"));
    let c = &mut p.credit;
    let b = &mut p.business;
    match field {
        "profile.occupation" => {
            p.occupation = Some(Occupation::parse(v).ok_or_else(|| {
                "职业应为 上班族、公务员/事业单位、企业主/个体户、自由职业 或 其他".to_string()
            })?)
        }
        "profile.monthly_income_fen" => p.monthly_income_fen = Some(yuan("月收入")?),
        "profile.social_security_months" => p.social_security_months = Some(whole("社保月数")?),
        "profile.provident_fund_months" => p.provident_fund_months = Some(whole("公积金月数")?),
        "profile.provident_fund_base_fen" => p.provident_fund_base_fen = Some(yuan("公积金基数")?),
        "profile.has_property" => p.has_property = Some(yes_no("有房")?),
        "profile.property_value_fen" => p.property_value_fen = Some(yuan("房产价值")?),
        "profile.property_mortgaged" => p.property_mortgaged = Some(yes_no("房产已抵押")?),
        "profile.has_car" => p.has_car = Some(yes_no("有车")?),
        "profile.car_value_fen" => p.car_value_fen = Some(yuan("车辆价值")?),
        "profile.credit.overdue_count_2y" => c.overdue_count_2y = Some(whole("逾期次数")?),
        "profile.credit.current_overdue" => c.current_overdue = Some(yes_no("当前逾期")?),
        "profile.credit.inquiries_1m" => c.inquiries_1m = Some(whole("查询次数")?),
        "profile.credit.inquiries_3m" => c.inquiries_3m = Some(whole("查询次数")?),
        "profile.credit.inquiries_6m" => c.inquiries_6m = Some(whole("查询次数")?),
        "profile.credit.existing_debt_fen" => c.existing_debt_fen = Some(yuan("负债")?),
        "profile.credit.card_utilization_pct" => {
            let s = v.trim().trim_end_matches(['%', '％']).trim_end();
            c.card_utilization_pct = Some(
                s.parse::<u32>()
                    .map_err(|_| "信用卡使用率应为0到100的整数（百分比）".to_string())?,
            )
        }
        "profile.business.licence_age_months" => {
            b.licence_age_months = Some(whole("营业执照月数")?)
        }
        "profile.business.annual_tax_fen" => b.annual_tax_fen = Some(yuan("年纳税额")?),
        "profile.business.tax_rating" => {
            b.tax_rating = Some(
                TaxRating::parse(v).ok_or_else(|| "纳税等级应为 A、B、C、D 或 M".to_string())?,
            )
        }
        "profile.business.annual_turnover_fen" => b.annual_turnover_fen = Some(yuan("年营业额")?),
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_no_cells() {
        for y in ["是", "有", "Y", "y", "yes", "1"] {
            assert_eq!(parse_yes_no(y), Some(true), "{y}");
        }
        for n in ["否", "无", "N", "n", "no", "0"] {
            assert_eq!(parse_yes_no(n), Some(false), "{n}");
        }
        assert_eq!(parse_yes_no("也许"), None);
    }

    #[test]
    fn cells_fill_typed_fields_and_refuse_bad_values() {
        let mut p = Profile::default();
        assert_eq!(set(&mut p, "profile.occupation", "个体户"), Ok(true));
        assert_eq!(p.occupation, Some(Occupation::BusinessOwner));
        assert_eq!(set(&mut p, "profile.monthly_income_fen", "1.5万"), Ok(true));
        assert_eq!(p.monthly_income_fen, Some(1_500_000));
        set(&mut p, "profile.credit.card_utilization_pct", "85%").unwrap();
        assert_eq!(p.credit.card_utilization_pct, Some(85));
        set(&mut p, "profile.business.tax_rating", "b").unwrap();
        assert_eq!(p.business.tax_rating, Some(TaxRating::B));
        set(&mut p, "profile.property_mortgaged", "是").unwrap();
        assert_eq!(p.property_mortgaged, Some(true));
        assert_eq!(set(&mut p, "name", "x"), Ok(false));
        for (field, cell) in [
            ("profile.occupation", "开出租车"),
            ("profile.has_car", "也许"),
            ("profile.social_security_months", "-3"),
            ("profile.car_value_fen", "很多"),
            ("profile.business.tax_rating", "E"),
            ("profile.credit.card_utilization_pct", "八成"),
        ] {
            assert!(set(&mut p, field, cell).is_err(), "{field} {cell}");
        }
    }

    #[test]
    fn every_profile_field_has_a_header_and_a_cell_rule() {
        for (key, label) in PROFILE_FIELDS {
            let h: String = label
                .chars()
                .map(|c| match c {
                    '（' => '(',
                    '）' => ')',
                    c => c,
                })
                .collect();
            assert_eq!(profile_field_for(&h), Some(*key), "{label}");
            assert_ne!(set(&mut Profile::default(), key, "x"), Ok(false), "{key}");
        }
    }
}
