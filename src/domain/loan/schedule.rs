//! Repayment schedules (还款计划) in integer fen.
//!
//! Dates: the loan starts (is disbursed) one month before `first_date`; period `k` (1-based)
//! ends on `first_date + (k − 1)` months, on `first_date`'s day of the month, clamped to the
//! month's last day (first date 01-31 → 02-28, 03-31, 04-30 …).
//!
//! Rounding (the rule, for every method): the monthly rate is `annual_rate_bp / 120 000`; a
//! period's interest is the remaining balance × the monthly rate, rounded half-up to the fen.
//! - 等额本息 annuity: the payment is the closed form `P·i·(1+i)^n / ((1+i)^n − 1)` computed
//!   exactly and rounded half-up to the fen (zero rate: `P / n`, half-up); each period's
//!   principal is the payment minus its interest. Should that payment retire the loan before the
//!   last period (tiny loans over long terms), it is one fen less — which provably never does.
//! - 等额本金 equal principal: the principal part is `P / n` rounded half-up to the fen, or
//!   rounded down when rounding up would leave the last period less than nothing
//!   (`P < n·(n − 1) / 2` fen); the interest is on the remaining balance.
//! - 先息后本 interest-only: the interest on the whole principal every month; the principal in
//!   the last period.
//! - 到期还本付息 bullet: one payment at the end of month `n` (`first_date + (n − 1)` months),
//!   the principal plus simple interest for the whole term, `P × bp × n / 120 000` rounded
//!   half-up (no compounding).
//! - The last period absorbs every residue: its principal is the whole remaining balance, so the
//!   principal parts sum exactly to the loan, the balance ends at 0 and never goes negative, and
//!   the totals are the exact sums of the periods (payment = principal + interest).

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use super::exact::{self, RATE_DENOMINATOR};
use super::{Invalid, LoanTerms, MAX_MONTHS, MAX_PRINCIPAL_FEN, MAX_RATE_BP, Method};

/// Years a first payment date may fall in.
pub const FIRST_YEAR: i32 = 1900;
pub const LAST_YEAR: i32 = 2999;

/// One month of a schedule, all amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Period {
    /// 1-based; a bullet loan has one period.
    pub no: u32,
    pub date: NaiveDate,
    pub payment_fen: i64,
    pub principal_fen: i64,
    pub interest_fen: i64,
    /// What is still owed after this payment.
    pub balance_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub terms: LoanTerms,
    /// The disbursement: one month before the first date.
    pub start_date: NaiveDate,
    pub periods: Vec<Period>,
    pub total_payment_fen: i64,
    pub total_principal_fen: i64,
    pub total_interest_fen: i64,
}

/// The end of month `k` of a loan whose first month ends on `first` (`k = 0` is the start);
/// `k` may be negative (for measuring dates before the start).
pub fn month_end(first: NaiveDate, k: i64) -> Option<NaiveDate> {
    let shift = k.checked_sub(1)?;
    let months = Months::new(u32::try_from(shift.unsigned_abs()).ok()?);
    if shift >= 0 {
        first.checked_add_months(months)
    } else {
        first.checked_sub_months(months)
    }
}

/// The terms' bounds, each refused with its field.
pub fn check(terms: &LoanTerms) -> Result<(), Invalid> {
    if !(1..=MAX_PRINCIPAL_FEN).contains(&terms.principal_fen) {
        return Err(Invalid::new(
            "principal_fen",
            format!("本金须在 1 分到 {MAX_PRINCIPAL_FEN} 分（1000 亿元）之间"),
        ));
    }
    if !(0..=MAX_RATE_BP).contains(&terms.annual_rate_bp) {
        return Err(Invalid::new(
            "annual_rate_bp",
            format!("年利率须在 0 到 {MAX_RATE_BP} 个基点（0%–1000%）之间"),
        ));
    }
    if !(1..=MAX_MONTHS).contains(&terms.months) {
        return Err(Invalid::new(
            "months",
            format!("期数须在 1 到 {MAX_MONTHS} 个月之间"),
        ));
    }
    if !(FIRST_YEAR..=LAST_YEAR).contains(&terms.first_date.year()) {
        return Err(Invalid::new(
            "first_date",
            format!("首期还款日须在 {FIRST_YEAR} 年到 {LAST_YEAR} 年之间"),
        ));
    }
    Ok(())
}

fn too_large() -> Invalid {
    Invalid::new("principal_fen", "金额超出可计算的范围")
}

fn fit(v: i128) -> Result<i64, Invalid> {
    i64::try_from(v).map_err(|_| too_large())
}

/// `balance × bp × months / 120 000`, rounded half-up to the fen (all inputs non-negative).
pub fn interest(balance_fen: i64, annual_rate_bp: i64, months: u32) -> Result<i64, Invalid> {
    let num = i128::from(balance_fen) * i128::from(annual_rate_bp) * i128::from(months);
    let den = i128::from(RATE_DENOMINATOR);
    fit((2 * num + den) / (2 * den))
}

/// The schedule of `terms` (validated first).
pub fn schedule(terms: &LoanTerms) -> Result<Schedule, Invalid> {
    check(terms)?;
    let date_out = || Invalid::new("first_date", "日期超出可计算的范围");
    let start_date = month_end(terms.first_date, 0).ok_or_else(date_out)?;
    let n = terms.months;
    let periods = match terms.method {
        Method::Annuity => {
            let a = exact::annuity_payment(terms.principal_fen, terms.annual_rate_bp, n)
                .ok_or_else(too_large)?;
            let first = amortise(terms, |interest| a - interest)?;
            if retires_early(&first) {
                amortise(terms, |interest| a - 1 - interest)?
            } else {
                first
            }
        }
        Method::EqualPrincipal => {
            let p = i128::from(terms.principal_fen);
            let n128 = i128::from(n);
            let rounded = (2 * p + n128) / (2 * n128);
            let part = fit(if rounded * (n128 - 1) <= p {
                rounded
            } else {
                p / n128
            })?;
            amortise(terms, |_| part)?
        }
        Method::InterestOnly => amortise(terms, |_| 0)?,
        Method::Bullet => {
            let interest = interest(terms.principal_fen, terms.annual_rate_bp, n)?;
            vec![Period {
                no: 1,
                date: month_end(terms.first_date, i64::from(n)).ok_or_else(date_out)?,
                payment_fen: fit(i128::from(terms.principal_fen) + i128::from(interest))?,
                principal_fen: terms.principal_fen,
                interest_fen: interest,
                balance_fen: 0,
            }]
        }
    };
    let sum = |f: fn(&Period) -> i64| fit(periods.iter().map(|p| i128::from(f(p))).sum());
    Ok(Schedule {
        terms: *terms,
        start_date,
        total_payment_fen: sum(|p| p.payment_fen)?,
        total_principal_fen: sum(|p| p.principal_fen)?,
        total_interest_fen: sum(|p| p.interest_fen)?,
        periods,
    })
}

/// Monthly periods: each month's interest on the remaining balance, the principal part from
/// `principal(interest)` except in the last month, which takes the whole balance.
fn amortise(terms: &LoanTerms, principal: impl Fn(i64) -> i64) -> Result<Vec<Period>, Invalid> {
    let n = terms.months;
    let mut balance = terms.principal_fen;
    let mut out = Vec::with_capacity(n as usize);
    for k in 1..=n {
        let interest = interest(balance, terms.annual_rate_bp, 1)?;
        let part = if k == n { balance } else { principal(interest) };
        balance = balance.checked_sub(part).ok_or_else(too_large)?;
        out.push(Period {
            no: k,
            date: month_end(terms.first_date, i64::from(k))
                .ok_or_else(|| Invalid::new("first_date", "日期超出可计算的范围"))?,
            payment_fen: part.checked_add(interest).ok_or_else(too_large)?,
            principal_fen: part,
            interest_fen: interest,
            balance_fen: balance,
        });
    }
    Ok(out)
}

/// The regular payment paid the loan off before its last period.
fn retires_early(periods: &[Period]) -> bool {
    periods.iter().any(|p| p.balance_fen < 0)
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
