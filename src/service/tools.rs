//! Tools (工具): use cases for any signed-in user that read and write no stored data — the
//! repayment calculator (还款计划 and 综合年化成本). The maths is `domain::loan`; this reads the
//! query's parameters, each refused with its name, and shapes the answer.

crate::service::use_cases!(
    tools,
    "Calculators for any signed-in user: the repayment schedule and the comprehensive cost."
);

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::customers::shanghai;
use super::{Error, Result};
use crate::domain::loan::irr::IrrError;
use crate::domain::loan::{
    self, Fee, LoanTerms, MAX_FEE_FEN, MAX_MONTHS, MAX_PRINCIPAL_FEN, MAX_RATE_BP, Method, Period,
};
use crate::service::access::auth::Caller;

/// The parameters `GET /tools/repayment-schedule` knows; any other is refused by name.
const PARAMS: [&str; 7] = [
    "principal_fen",
    "annual_rate_bp",
    "months",
    "method",
    "first_date",
    "fee_fen",
    "fee_monthly_fen",
];

/// A repayment schedule with its totals and its comprehensive cost (all money in fen).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepaymentSchedule {
    pub method: Method,
    pub principal_fen: i64,
    /// Annual rate in basis points (490 = 4.9%).
    pub annual_rate_bp: i64,
    pub months: u32,
    /// The end of the first month (the first payment of the monthly methods).
    pub first_date: NaiveDate,
    /// The disbursement: one month before `first_date`.
    pub start_date: NaiveDate,
    /// The fee paid at disbursement (0 when none).
    pub fee_fen: i64,
    /// The fee paid at the end of every month of the term (0 when none).
    pub fee_monthly_fen: i64,
    pub periods: Vec<Period>,
    pub total_payment_fen: i64,
    pub total_principal_fen: i64,
    pub total_interest_fen: i64,
    /// Every fee over the term: `fee_fen + fee_monthly_fen × months`.
    pub total_fee_fen: i64,
    /// The annualised comprehensive financing cost in basis points: 12 × the monthly IRR of
    /// the disbursement, every payment and every fee (docs/loans.md).
    pub comprehensive_cost_bp: i64,
}

/// The calculator's inputs, read from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calculation {
    pub terms: LoanTerms,
    pub fee_fen: i64,
    pub fee_monthly_fen: i64,
}

const PRINCIPAL_REASON: &str = "本金须为整数（单位：分），在 1 到 10000000000000 之间";
const RATE_REASON: &str = "年利率须为整数（单位：基点，1 基点 = 0.01%），在 0 到 100000 之间";
const MONTHS_REASON: &str = "期数须为 1 到 600 之间的整数";
const METHOD_REASON: &str = "还款方式须为 annuity（等额本息）、equal_principal（等额本金）、interest_only（先息后本）或 bullet（到期还本付息）";
const DATE_REASON: &str = "首期还款日须为 YYYY-MM-DD 格式的有效日期";
const FEE_REASON: &str = "费用须为整数（单位：分），在 0 到 10000000000000 之间";

fn integer(field: &'static str, raw: &str, range: (i64, i64), reason: &str) -> Result<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| (range.0..=range.1).contains(v))
        .ok_or_else(|| Error::validation(field, reason))
}

/// Reads the query's `(name, value)` pairs: unknown or repeated names are refused, empty values
/// count as absent, `first_date` defaults to one month after `today`.
pub fn read_params(params: &[(String, String)], today: NaiveDate) -> Result<Calculation> {
    let mut seen: [Option<&str>; PARAMS.len()] = [None; PARAMS.len()];
    for (name, value) in params {
        let Some(at) = PARAMS.iter().position(|p| p == name) else {
            let shown: String = name.chars().take(64).collect();
            return Err(Error::validation(shown, "不支持的参数"));
        };
        if seen[at].is_some() {
            return Err(Error::validation(PARAMS[at], "参数重复"));
        }
        seen[at] = Some(value.trim());
    }
    let get = |name: &str| {
        PARAMS
            .iter()
            .position(|p| *p == name)
            .and_then(|at| seen[at])
            .filter(|v| !v.is_empty())
    };
    let required =
        |name: &'static str| get(name).ok_or_else(|| Error::validation(name, "缺少必填参数"));
    let principal_fen = integer(
        "principal_fen",
        required("principal_fen")?,
        (1, MAX_PRINCIPAL_FEN),
        PRINCIPAL_REASON,
    )?;
    let annual_rate_bp = integer(
        "annual_rate_bp",
        required("annual_rate_bp")?,
        (0, MAX_RATE_BP),
        RATE_REASON,
    )?;
    let months = integer(
        "months",
        required("months")?,
        (1, i64::from(MAX_MONTHS)),
        MONTHS_REASON,
    )?;
    let method = Method::from_key(required("method")?)
        .ok_or_else(|| Error::validation("method", METHOD_REASON))?;
    let first_date = match get("first_date") {
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|_| raw.len() == 10)
            .ok_or_else(|| Error::validation("first_date", DATE_REASON))?,
        None => today
            .checked_add_months(Months::new(1))
            .ok_or_else(|| Error::validation("first_date", DATE_REASON))?,
    };
    let fee = |name: &'static str| match get(name) {
        Some(raw) => integer(name, raw, (0, MAX_FEE_FEN), FEE_REASON),
        None => Ok(0),
    };
    Ok(Calculation {
        terms: LoanTerms {
            principal_fen,
            annual_rate_bp,
            months: u32::try_from(months)
                .map_err(|_| Error::validation("months", MONTHS_REASON))?,
            method,
            first_date,
        },
        fee_fen: fee("fee_fen")?,
        fee_monthly_fen: fee("fee_monthly_fen")?,
    })
}

/// The schedule, totals and comprehensive cost of a calculation.
pub fn calculate(c: &Calculation) -> Result<RepaymentSchedule> {
    let invalid = |e: loan::Invalid| Error::validation(e.field, e.reason);
    let schedule = loan::schedule(&c.terms).map_err(invalid)?;
    let mut fees = Vec::new();
    if c.fee_fen > 0 {
        fees.push(Fee::upfront(&schedule, c.fee_fen));
    }
    if c.fee_monthly_fen > 0 {
        fees.extend(Fee::monthly(&c.terms, c.fee_monthly_fen).map_err(invalid)?);
    }
    let cost = loan::comprehensive_cost(&schedule, &fees).map_err(|e| {
        let field = match e {
            IrrError::DateOutOfRange => "first_date",
            IrrError::NoSignChange => "fee_fen",
            IrrError::OutOfRange | IrrError::BadFee if c.fee_monthly_fen > 0 => "fee_monthly_fen",
            IrrError::OutOfRange | IrrError::BadFee if c.fee_fen > 0 => "fee_fen",
            IrrError::OutOfRange | IrrError::BadFee => "principal_fen",
        };
        Error::validation(field, e.reason())
    })?;
    let total_fee =
        i128::from(c.fee_fen) + i128::from(c.fee_monthly_fen) * i128::from(c.terms.months);
    Ok(RepaymentSchedule {
        method: c.terms.method,
        principal_fen: c.terms.principal_fen,
        annual_rate_bp: c.terms.annual_rate_bp,
        months: c.terms.months,
        first_date: c.terms.first_date,
        start_date: schedule.start_date,
        fee_fen: c.fee_fen,
        fee_monthly_fen: c.fee_monthly_fen,
        total_payment_fen: schedule.total_payment_fen,
        total_principal_fen: schedule.total_principal_fen,
        total_interest_fen: schedule.total_interest_fen,
        total_fee_fen: i64::try_from(total_fee)
            .map_err(|_| Error::validation("fee_monthly_fen", FEE_REASON))?,
        comprehensive_cost_bp: cost,
        periods: schedule.periods,
    })
}

impl UseCases<'_> {
    /// `GET /tools/repayment-schedule`: any signed-in user (no stored data is read); the
    /// default first date is one month after today in Asia/Shanghai.
    pub fn repayment_schedule(
        &self,
        _caller: &Caller,
        params: &[(String, String)],
    ) -> Result<RepaymentSchedule> {
        let today = self.now().with_timezone(&shanghai()).date_naive();
        calculate(&read_params(params, today)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()
    }

    fn field(q: &[(&str, &str)]) -> String {
        let e = read_params(&pairs(q), today()).and_then(|c| calculate(&c));
        match e {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error for {q:?}, got {other:?}"),
        }
    }

    const OK: [(&str, &str); 4] = [
        ("principal_fen", "100000000"),
        ("annual_rate_bp", "490"),
        ("months", "360"),
        ("method", "annuity"),
    ];

    fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut q: Vec<_> = OK
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        q.extend(changes.iter().filter(|(_, v)| *v != "<absent>").copied());
        q
    }

    #[test]
    fn the_published_loan_and_its_defaults() {
        let c = read_params(&pairs(&OK), today()).unwrap();
        // One month after 01-31 is 02-28; the loan then starts 01-28.
        assert_eq!(
            c.terms.first_date,
            NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()
        );
        assert_eq!((c.fee_fen, c.fee_monthly_fen), (0, 0));
        let s = calculate(&c).unwrap();
        assert_eq!(s.periods[0].payment_fen, 530_727);
        assert_eq!(s.comprehensive_cost_bp, 490);
        assert_eq!(s.total_fee_fen, 0);
        // Empty optional values are absent; fees count in the cost and the total.
        let q = with(&[
            ("first_date", "2027-03-15"),
            ("fee_fen", "1000000"),
            ("fee_monthly_fen", ""),
        ]);
        let s = calculate(&read_params(&pairs(&q), today()).unwrap()).unwrap();
        assert_eq!(s.start_date, NaiveDate::from_ymd_opt(2027, 2, 15).unwrap());
        assert_eq!((s.total_fee_fen, s.comprehensive_cost_bp), (1_000_000, 499));
        let q = with(&[("fee_monthly_fen", "100")]);
        let s = calculate(&read_params(&pairs(&q), today()).unwrap()).unwrap();
        assert_eq!(s.total_fee_fen, 36_000);
    }

    #[test]
    fn every_bad_input_names_its_parameter() {
        for (change, expected) in [
            (("principal_fen", "<absent>"), "principal_fen"),
            (("principal_fen", ""), "principal_fen"),
            (("principal_fen", "0"), "principal_fen"),
            (("principal_fen", "-1"), "principal_fen"),
            (("principal_fen", "1.5"), "principal_fen"),
            (("principal_fen", "10000000000001"), "principal_fen"),
            (
                ("principal_fen", "99999999999999999999999999"),
                "principal_fen",
            ),
            (("annual_rate_bp", "<absent>"), "annual_rate_bp"),
            (("annual_rate_bp", "-1"), "annual_rate_bp"),
            (("annual_rate_bp", "100001"), "annual_rate_bp"),
            (("annual_rate_bp", "4.9"), "annual_rate_bp"),
            (("months", "<absent>"), "months"),
            (("months", "0"), "months"),
            (("months", "601"), "months"),
            (("months", "4294967297"), "months"),
            (("method", "<absent>"), "method"),
            (("method", "Annuity"), "method"),
            (("method", "balloon"), "method"),
            (("first_date", "2027-02-30"), "first_date"),
            (("first_date", "2027/02/01"), "first_date"),
            (("first_date", "3000-01-01"), "first_date"),
            (("first_date", "+12027-01-01"), "first_date"),
            (("fee_fen", "-1"), "fee_fen"),
            (("fee_fen", "10000000000001"), "fee_fen"),
            (("fee_fen", "x"), "fee_fen"),
            // A fee up front as large as the loan leaves nothing to borrow.
            (("fee_fen", "100000000"), "fee_fen"),
            (("fee_monthly_fen", "-5"), "fee_monthly_fen"),
            (("principal", "100"), "principal"),
        ] {
            assert_eq!(field(&with(&[change])), expected, "{change:?}");
        }
        let mut q = with(&[]);
        q.push(("months", "12"));
        assert_eq!(field(&q), "months", "a repeated parameter");
        let long = "x".repeat(1000);
        let e = read_params(&pairs(&[(long.as_str(), "1")]), today()).unwrap_err();
        assert!(matches!(e, Error::Validation { field, .. } if field.len() == 64));
    }
}
