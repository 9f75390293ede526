//! The annualised comprehensive financing cost (综合融资成本 / 综合年化成本): the internal rate
//! of return of every cash flow of a loan seen by the borrower — + the disbursement received,
//! − every repayment and every fee (the agency's service fee, guarantee or credit-enhancement
//! fees, any other charge) on its date.
//!
//! Convention (the PBOC's 2021 announcement on stating 贷款年化利率, 单利 form, which is what
//! lenders print and what the 24% / 36% caps are compared with): time is counted in months,
//! the IRR `r` is the monthly rate that makes the flows' present value zero, and the annual
//! cost is `12 × r` — the nominal annual rate, not the compound `(1 + r)^12 − 1`. So a plain
//! annuity loan at 4.9% costs exactly 4.9%, and every fee shows as an addition to that rate.
//! The result is rounded half away from zero to the basis point.
//!
//! Months are those of the loan: the end of month `k` is `first_date + (k − 1)` months (the
//! schedule's own date rule, see `schedule.rs`), so every scheduled payment falls on a whole
//! month; a flow between two month ends counts the elapsed fraction of that month's days.
//!
//! The search is a bisection on `ln(1 + r)` over a bracket that covers every rate a loan can
//! have, with present values summed in the log domain so no power overflows; it ends with an
//! error, never a panic, when the flows do not change sign or the bracket holds no root. This
//! is a rate estimate: f64 is used here and nowhere near a money amount.

use chrono::{Datelike, NaiveDate};

use super::schedule::{Schedule, month_end};
use super::{Invalid, LoanTerms, MAX_FEE_FEN};

/// One dated cash flow from the borrower's point of view (+ received, − paid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashFlow {
    pub date: NaiveDate,
    pub amount_fen: i64,
}

/// A charge the borrower pays besides the scheduled repayments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    pub date: NaiveDate,
    pub amount_fen: i64,
}

impl Fee {
    /// Paid when the loan is disbursed (or deducted from it).
    pub fn upfront(schedule: &Schedule, amount_fen: i64) -> Fee {
        Fee {
            date: schedule.start_date,
            amount_fen,
        }
    }

    /// Paid at the end of every month of the term (also for a bullet loan, which has one
    /// payment but `months` months).
    pub fn monthly(terms: &LoanTerms, amount_fen: i64) -> Result<Vec<Fee>, Invalid> {
        (1..=i64::from(terms.months))
            .map(|k| {
                month_end(terms.first_date, k)
                    .map(|date| Fee { date, amount_fen })
                    .ok_or_else(|| Invalid::new("first_date", "日期超出可计算的范围"))
            })
            .collect()
    }
}

/// Why no rate could be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrrError {
    /// Every flow has the same sign (or there are none): no rate makes them balance, e.g. a fee
    /// up front as large as the loan.
    NoSignChange,
    /// The rate lies outside what can be represented (beyond ±9.2 × 10^18 bp) or the flows have
    /// no root in the bracket.
    OutOfRange,
    /// A flow's date is too far from the loan's months to be placed on them.
    DateOutOfRange,
    /// A fee is negative or larger than the accepted maximum.
    BadFee,
}

impl IrrError {
    /// The reason as shown to users.
    pub fn reason(self) -> &'static str {
        match self {
            IrrError::NoSignChange => "费用不低于到手金额，无法计算综合年化成本",
            IrrError::OutOfRange => "综合年化成本超出可计算的范围",
            IrrError::DateOutOfRange => "费用日期超出可计算的范围",
            IrrError::BadFee => "费用须在 0 到 10^13 分之间",
        }
    }
}

/// Where `date` falls on the months of a loan whose first month ends on `first`, in months
/// from its start (the start is 0, the first month's end 1, …).
pub fn months_from_start(first: NaiveDate, date: NaiveDate) -> Option<f64> {
    let guess = 12 * (i64::from(date.year()) - i64::from(first.year()))
        + (i64::from(date.month()) - i64::from(first.month()))
        + 1;
    let k = if month_end(first, guess)? > date {
        guess - 1
    } else {
        guess
    };
    let (from, to) = (month_end(first, k)?, month_end(first, k + 1)?);
    let elapsed = (date - from).num_days() as f64;
    let length = (to - from).num_days() as f64;
    Some(k as f64 + elapsed / length)
}

/// The bracket on `x = ln(1 + r)`: r from −1 + e^−700 to e^700 a month.
const X_BOUND: f64 = 700.0;

/// Σ a·e^(−t·x) divided by its largest term's magnitude: same sign, never overflows.
fn scaled_npv(flows: &[(f64, f64, f64)], x: f64) -> f64 {
    let logs = flows.iter().map(|&(t, _, ln_a)| ln_a - t * x);
    let top = logs.clone().fold(f64::NEG_INFINITY, f64::max);
    flows
        .iter()
        .zip(logs)
        .map(|(&(_, sign, _), l)| sign * (l - top).exp())
        .sum()
}

/// The monthly IRR of flows `(months, amount_fen)`.
pub fn monthly_irr(flows: &[(f64, i64)]) -> Result<f64, IrrError> {
    // Flows at the same time are one flow (a fee deducted from the disbursement nets with it).
    let mut netted: Vec<(f64, i128)> = Vec::with_capacity(flows.len());
    let mut sorted = flows.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, a) in sorted {
        match netted.last_mut() {
            Some(last) if last.0 == t => last.1 += i128::from(a),
            _ => netted.push((t, i128::from(a))),
        }
    }
    let flows: Vec<(f64, f64, f64)> = netted
        .iter()
        .filter(|(_, a)| *a != 0)
        .map(|&(t, a)| (t, a.signum() as f64, (a.unsigned_abs() as f64).ln()))
        .collect();
    let positive = flows.iter().any(|f| f.1 > 0.0);
    let negative = flows.iter().any(|f| f.1 < 0.0);
    if !(positive && negative) || flows.iter().any(|f| !f.0.is_finite()) {
        return Err(IrrError::NoSignChange);
    }
    let (mut lo, mut hi) = (-X_BOUND, X_BOUND);
    let f_lo = scaled_npv(&flows, lo);
    let f_hi = scaled_npv(&flows, hi);
    if f_lo == 0.0 {
        return Ok(lo.exp_m1());
    }
    if f_hi == 0.0 {
        return Ok(hi.exp_m1());
    }
    if f_lo.signum() == f_hi.signum() {
        return Err(IrrError::OutOfRange);
    }
    for _ in 0..200 {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        let f_mid = scaled_npv(&flows, mid);
        if f_mid == 0.0 {
            return Ok(mid.exp_m1());
        }
        if f_mid.signum() == f_lo.signum() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((lo + (hi - lo) / 2.0).exp_m1())
}

/// A monthly rate as an annual rate in basis points (12 × r, half away from zero).
pub fn annual_bp(monthly_rate: f64) -> Result<i64, IrrError> {
    let bp = (monthly_rate * 12.0 * 10_000.0).round();
    // i64::MAX as f64 rounds up to 2^63, so the comparison is strict.
    if bp.is_finite() && bp.abs() < i64::MAX as f64 {
        Ok(bp as i64)
    } else {
        Err(IrrError::OutOfRange)
    }
}

/// The annualised rate (bp) of dated flows, months counted on the grid of a loan whose first
/// month ends on `first` (see the module's convention).
pub fn annualised_bp(first: NaiveDate, flows: &[CashFlow]) -> Result<i64, IrrError> {
    let timed = flows
        .iter()
        .map(|f| {
            months_from_start(first, f.date)
                .map(|t| (t, f.amount_fen))
                .ok_or(IrrError::DateOutOfRange)
        })
        .collect::<Result<Vec<_>, _>>()?;
    annual_bp(monthly_irr(&timed)?)
}

/// The annualised comprehensive cost (bp) of a schedule and the fees paid with it: the
/// disbursement on the start date, every scheduled payment, every fee.
pub fn comprehensive_cost(schedule: &Schedule, fees: &[Fee]) -> Result<i64, IrrError> {
    if fees
        .iter()
        .any(|f| !(0..=MAX_FEE_FEN).contains(&f.amount_fen))
    {
        return Err(IrrError::BadFee);
    }
    let mut flows = Vec::with_capacity(schedule.periods.len() + fees.len() + 1);
    flows.push(CashFlow {
        date: schedule.start_date,
        amount_fen: schedule.terms.principal_fen,
    });
    flows.extend(schedule.periods.iter().map(|p| CashFlow {
        date: p.date,
        amount_fen: -p.payment_fen,
    }));
    flows.extend(fees.iter().map(|f| CashFlow {
        date: f.date,
        amount_fen: -f.amount_fen,
    }));
    annualised_bp(schedule.terms.first_date, &flows)
}

#[cfg(test)]
#[path = "irr_tests.rs"]
mod tests;
