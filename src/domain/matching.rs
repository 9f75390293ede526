//! Product matching (产品匹配): one customer's qualification profile against a product's admission
//! requirements. Each requirement the customer fails is named in Chinese with the customer's
//! value and the bar ("社保缴纳 6 个月，要求 ≥ 12 个月"); one the profile does not answer is listed
//! as information to collect; a failure that time or an action can cure says what would change
//! the answer ("再缴 6 个月社保即可申请"). No I/O: the services feed it the customer's age (from
//! the ID number), city and profile, and the plugin hook `products.score` ranks what passes.

use chrono::NaiveDate;
use serde::Serialize;

use super::customer::Demand;
use super::loan::{self, LoanTerms, Method};
use super::product::{ProductInput, Requirements, city_key, tax_rank};
use super::profile::Profile;

/// What the matcher knows about the customer.
#[derive(Debug, Clone, Copy)]
pub struct Applicant<'a> {
    /// Age in completed years (from the ID number); `None` when no ID number is on file.
    pub age: Option<u32>,
    /// The birth date and today's date (Asia/Shanghai), when the ID number is at hand: the age
    /// hint then counts the days to the birthday that meets the minimum age.
    pub born: Option<(NaiveDate, NaiveDate)>,
    pub city: Option<&'a str>,
    pub profile: &'a Profile,
    pub demand: &'a Demand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every requirement is met.
    Eligible,
    /// Nothing fails, but the profile does not answer some requirement.
    NeedsInfo,
    /// At least one requirement fails.
    Ineligible,
}

/// One requirement the customer fails or cannot be checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// The requirement (`min_social_security_months`) or, for missing information, the profile
    /// field to fill (`profile.social_security_months`).
    pub field: &'static str,
    /// In Chinese, with the customer's value and the bar.
    pub reason: String,
    /// What would change the answer, when time or an action can cure it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How far off, in the requirement's unit (months, inquiries, years); ranks near misses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub status: Status,
    pub failures: Vec<Finding>,
    pub missing: Vec<Finding>,
}

impl Decision {
    /// A near miss: exactly one failure, and it says what would cure it.
    pub fn near_miss(&self) -> Option<&Finding> {
        match self.failures.as_slice() {
            [only] if only.hint.is_some() => Some(only),
            _ => None,
        }
    }
}

fn yuan(fen: i64) -> String {
    let y = fen / 100;
    if fen % 100 != 0 {
        // The fen shown: 4999.99 is not 4999 (the bar is compared in fen).
        format!("{y}.{:02}元", (fen % 100).abs())
    } else if y >= 10_000 && y % 100 == 0 {
        format!("{}万元", trim_float(y as f64 / 10_000.0))
    } else {
        format!("{y}元")
    }
}

/// When someone born on `birth` turns `age` (29 February: 1 March in a common year, as
/// [`crate::domain::id_number::age_on`] counts).
fn turns(birth: NaiveDate, age: u32) -> Option<NaiveDate> {
    use chrono::Datelike;
    let year = birth.year().checked_add(i32::try_from(age).ok()?)?;
    birth
        .with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
}

/// The hint and gap (months, rounded up) of an applicant too young for `min`: counted to the
/// birthday when the birth date is known, else the longest it can take.
fn age_hint(age: u32, min: u32, born: Option<(NaiveDate, NaiveDate)>) -> (String, u32) {
    let gap_years = min - age;
    let Some((birth, today)) = born else {
        return (format!("最迟 {gap_years} 年后满足年龄要求"), gap_years * 12);
    };
    let Some(day) = turns(birth, min).filter(|d| *d > today) else {
        return (format!("最迟 {gap_years} 年后满足年龄要求"), gap_years * 12);
    };
    let days = (day - today).num_days();
    let mut months = 0u32;
    while today
        .checked_add_months(chrono::Months::new(months))
        .is_some_and(|d| d < day)
    {
        months += 1;
    }
    let hint = match days {
        1 => format!("明天满 {min} 岁"),
        2..=31 => format!("{days} 天后满 {min} 岁"),
        _ if months < 24 => format!("约 {months} 个月后满 {min} 岁"),
        _ => format!("约 {} 年后满 {min} 岁", (months + 6) / 12),
    };
    (hint, months.max(1))
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

struct Check {
    failures: Vec<Finding>,
    missing: Vec<Finding>,
}

impl Check {
    fn fail(
        &mut self,
        field: &'static str,
        reason: String,
        hint: Option<String>,
        gap: Option<u32>,
    ) {
        self.failures.push(Finding {
            field,
            reason,
            hint,
            gap,
        });
    }

    fn missing(&mut self, field: &'static str, what: &str) {
        self.missing.push(Finding {
            field,
            reason: format!("未填写{what}"),
            hint: None,
            gap: None,
        });
    }

    /// `value ≥ min` months, curable by waiting/paying in.
    fn min_months(
        &mut self,
        field: &'static str,
        profile_field: &'static str,
        what: &str,
        verb: &str,
        value: Option<u32>,
        min: Option<u32>,
    ) {
        let Some(min) = min else { return };
        match value {
            None => self.missing(profile_field, what),
            Some(v) if v < min => {
                let gap = min - v;
                self.fail(
                    field,
                    format!("{what} {v} 个月，要求 ≥ {min} 个月"),
                    Some(format!(
                        "{verb} {gap} 个月{what_short}即可申请",
                        what_short = short(what)
                    )),
                    Some(gap),
                );
            }
            Some(_) => {}
        }
    }

    fn max_count(
        &mut self,
        field: &'static str,
        profile_field: &'static str,
        what: &str,
        value: Option<u32>,
        max: Option<u32>,
        hint: Option<&str>,
    ) {
        let Some(max) = max else { return };
        match value {
            None => self.missing(profile_field, what),
            Some(v) if v > max => {
                self.fail(
                    field,
                    format!("{what} {v} 次，要求 ≤ {max} 次"),
                    hint.map(str::to_owned),
                    Some(v - max),
                );
            }
            Some(_) => {}
        }
    }

    fn min_money(
        &mut self,
        field: &'static str,
        profile_field: &'static str,
        what: &str,
        value: Option<i64>,
        min: Option<i64>,
    ) {
        let Some(min) = min else { return };
        match value {
            None => self.missing(profile_field, what),
            Some(v) if v < min => {
                self.fail(
                    field,
                    format!("{what} {}，要求 ≥ {}", yuan(v), yuan(min)),
                    None,
                    None,
                );
            }
            Some(_) => {}
        }
    }
}

/// The short name of a contribution for the hint (社保缴纳 → 社保).
fn short(what: &str) -> &str {
    what.strip_suffix("缴纳").unwrap_or(what)
}

/// Checks every requirement of `r`; the order of findings is the order of the requirements.
pub fn evaluate(r: &Requirements, a: &Applicant<'_>) -> Decision {
    let p = a.profile;
    let mut c = Check {
        failures: vec![],
        missing: vec![],
    };
    if r.age_min.is_some() || r.age_max.is_some() {
        match a.age {
            None => c.missing("id_number", "身份证号（用于计算年龄）"),
            Some(age) => {
                if let Some(min) = r.age_min
                    && age < min
                {
                    let (hint, gap) = age_hint(age, min, a.born);
                    c.fail(
                        "age_min",
                        format!("年龄 {age} 岁，要求 ≥ {min} 岁"),
                        Some(hint),
                        Some(gap),
                    );
                }
                if let Some(max) = r.age_max
                    && age > max
                {
                    c.fail(
                        "age_max",
                        format!("年龄 {age} 岁，要求 ≤ {max} 岁"),
                        None,
                        None,
                    );
                }
            }
        }
    }
    if !r.cities.is_empty() {
        match a.city.map(city_key).filter(|c| !c.is_empty()) {
            None => c.missing("city", "城市"),
            Some(city) if !r.cities.iter().any(|x| city_key(x) == city) => c.fail(
                "cities",
                format!("所在城市 {city} 不在可做城市（{}）内", r.cities.join("、")),
                None,
                None,
            ),
            Some(_) => {}
        }
    }
    if !r.occupations.is_empty() {
        match p.occupation {
            None => c.missing("profile.occupation", "职业"),
            Some(o) if !r.occupations.contains(&o) => c.fail(
                "occupations",
                format!(
                    "职业为{}，要求{}",
                    occupation_label(o),
                    r.occupations
                        .iter()
                        .map(|o| occupation_label(*o))
                        .collect::<Vec<_>>()
                        .join("或")
                ),
                None,
                None,
            ),
            Some(_) => {}
        }
    }
    c.min_money(
        "min_monthly_income_fen",
        "profile.monthly_income_fen",
        "月收入",
        p.monthly_income_fen,
        r.min_monthly_income_fen,
    );
    c.min_months(
        "min_social_security_months",
        "profile.social_security_months",
        "社保缴纳",
        "再缴",
        p.social_security_months,
        r.min_social_security_months,
    );
    c.min_months(
        "min_provident_fund_months",
        "profile.provident_fund_months",
        "公积金缴纳",
        "再缴",
        p.provident_fund_months,
        r.min_provident_fund_months,
    );
    c.min_money(
        "min_provident_fund_base_fen",
        "profile.provident_fund_base_fen",
        "公积金基数",
        p.provident_fund_base_fen,
        r.min_provident_fund_base_fen,
    );
    if r.property_required {
        match p.has_property {
            None => c.missing("profile.has_property", "是否有房产"),
            Some(false) => c.fail("property_required", "无房产，要求有房产".into(), None, None),
            Some(true) if r.property_unmortgaged => match p.property_mortgaged {
                None => c.missing("profile.property_mortgaged", "房产是否已抵押"),
                Some(true) => c.fail(
                    "property_unmortgaged",
                    "房产已抵押，要求房产未抵押".into(),
                    Some("结清房产抵押后可申请".into()),
                    None,
                ),
                Some(false) => {}
            },
            Some(true) => {}
        }
    }
    if r.car_required {
        match p.has_car {
            None => c.missing("profile.has_car", "是否有车"),
            Some(false) => c.fail("car_required", "无车辆，要求有车".into(), None, None),
            Some(true) => {}
        }
    }
    let cr = &p.credit;
    c.max_count(
        "max_overdue_2y",
        "profile.credit.overdue_count_2y",
        "近2年逾期",
        cr.overdue_count_2y,
        r.max_overdue_2y,
        None,
    );
    if r.no_current_overdue {
        match cr.current_overdue {
            None => c.missing("profile.credit.current_overdue", "当前是否逾期"),
            Some(true) => c.fail(
                "no_current_overdue",
                "当前有逾期，要求无当前逾期".into(),
                Some("结清当前逾期后可申请".into()),
                None,
            ),
            Some(false) => {}
        }
    }
    c.max_count(
        "max_inquiries_1m",
        "profile.credit.inquiries_1m",
        "近1个月征信查询",
        cr.inquiries_1m,
        r.max_inquiries_1m,
        Some("暂停查询征信，1个月后再申请"),
    );
    c.max_count(
        "max_inquiries_3m",
        "profile.credit.inquiries_3m",
        "近3个月征信查询",
        cr.inquiries_3m,
        r.max_inquiries_3m,
        Some("暂停查询征信，待近3个月查询次数回落后再申请"),
    );
    c.max_count(
        "max_inquiries_6m",
        "profile.credit.inquiries_6m",
        "近6个月征信查询",
        cr.inquiries_6m,
        r.max_inquiries_6m,
        Some("暂停查询征信，待近6个月查询次数回落后再申请"),
    );
    if let Some(max) = r.max_debt_income_pct {
        match (cr.existing_debt_fen, p.monthly_income_fen) {
            (None, _) => c.missing("profile.credit.existing_debt_fen", "负债"),
            (_, None) => c.missing("profile.monthly_income_fen", "月收入"),
            (Some(debt), Some(income)) => {
                // debt / income × 100 > max, in integers: debt × 100 > max × income.
                let over = if income <= 0 {
                    debt > 0
                } else {
                    i128::from(debt) * 100 > i128::from(max) * i128::from(income)
                };
                if over {
                    // Rounded up to 0.01 month: an excess is never shown as the limit itself.
                    let months = if income > 0 {
                        let hundredths =
                            (i128::from(debt) * 100 + i128::from(income) - 1) / i128::from(income);
                        format!("{} 个月", trim_float(hundredths as f64 / 100.0))
                    } else {
                        "无收入".into()
                    };
                    c.fail(
                        "max_debt_income_pct",
                        format!(
                            "负债为月收入的 {months}，要求 ≤ {} 个月",
                            trim_float(f64::from(max) / 100.0)
                        ),
                        Some("降低负债后可申请".into()),
                        None,
                    );
                }
            }
        }
    }
    if let Some(max) = r.max_card_utilization_pct {
        match cr.card_utilization_pct {
            None => c.missing("profile.credit.card_utilization_pct", "信用卡使用率"),
            Some(u) if u > max => c.fail(
                "max_card_utilization_pct",
                format!("信用卡使用率 {u}%，要求 ≤ {max}%"),
                Some("还款降低信用卡使用率后可申请".into()),
                None,
            ),
            Some(_) => {}
        }
    }
    let b = &p.business;
    c.min_months(
        "min_licence_age_months",
        "profile.business.licence_age_months",
        "营业执照",
        "营业执照再满",
        b.licence_age_months,
        r.min_licence_age_months,
    );
    if let Some(min) = r.min_tax_rating {
        match b.tax_rating {
            None => c.missing("profile.business.tax_rating", "纳税信用等级"),
            Some(t) if tax_rank(t) < tax_rank(min) => c.fail(
                "min_tax_rating",
                format!("纳税信用等级 {t:?} 级，要求 {min:?} 级及以上"),
                None,
                None,
            ),
            Some(_) => {}
        }
    }
    c.min_money(
        "min_annual_tax_fen",
        "profile.business.annual_tax_fen",
        "年纳税额",
        b.annual_tax_fen,
        r.min_annual_tax_fen,
    );
    c.min_money(
        "min_annual_turnover_fen",
        "profile.business.annual_turnover_fen",
        "年营业额",
        b.annual_turnover_fen,
        r.min_annual_turnover_fen,
    );
    let status = if !c.failures.is_empty() {
        Status::Ineligible
    } else if !c.missing.is_empty() {
        Status::NeedsInfo
    } else {
        Status::Eligible
    };
    Decision {
        status,
        failures: c.failures,
        missing: c.missing,
    }
}

pub fn occupation_label(o: super::profile::Occupation) -> &'static str {
    use super::profile::Occupation::*;
    match o {
        Employee => "上班族",
        CivilServant => "公务员/事业单位",
        BusinessOwner => "企业主/个体户",
        Freelancer => "自由职业",
        Other => "其他",
    }
}

/// What a customer could get from a product: the amount and term clamped to the product's
/// ranges (the customer's request when it is inside them, else the nearest bound; the product's
/// maximum when the customer has not said), and the first monthly payment at the product's
/// lowest and highest rate with its first repayment method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Estimate {
    pub amount_fen: i64,
    pub term_months: u32,
    pub method: Method,
    /// First payment at `rate_min_bp`.
    pub payment_min_fen: i64,
    /// First payment at `rate_max_bp`.
    pub payment_max_fen: i64,
}

/// The estimate, or `None` when the product's terms give no schedule (cannot happen for a
/// product that passed [`super::product::check`]; reported by the caller if it does).
pub fn estimate(p: &ProductInput, demand: &Demand, first_date: NaiveDate) -> Option<Estimate> {
    let amount = demand
        .amount_fen
        .unwrap_or(p.amount_max_fen)
        .clamp(p.amount_min_fen, p.amount_max_fen);
    let term = demand
        .term_months
        .unwrap_or(p.term_max_months)
        .clamp(p.term_min_months, p.term_max_months);
    let method = *p.methods.first()?;
    let first = |bp: u32| {
        loan::schedule(&LoanTerms {
            principal_fen: amount,
            annual_rate_bp: i64::from(bp),
            months: term,
            method,
            first_date,
        })
        .ok()
        .and_then(|s| s.periods.first().map(|p| p.payment_fen))
    };
    Some(Estimate {
        amount_fen: amount,
        term_months: term,
        method,
        payment_min_fen: first(p.rate_min_bp)?,
        payment_max_fen: first(p.rate_max_bp)?,
    })
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
