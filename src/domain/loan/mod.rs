//! Loan maths (还款计划, 综合融资成本), no I/O: repayment schedules for the four methods a
//! lender offers and the annualised comprehensive financing cost of a schedule and its fees.
//! Money is integer fen, rates integer basis points (1 bp = 0.01%); the rounding rules are in
//! `schedule.rs`, the annualisation convention in `irr.rs` (and both in docs/loans.md).

mod exact;
pub mod irr;
pub mod schedule;

use serde::{Deserialize, Serialize};

pub use irr::{CashFlow, Fee, comprehensive_cost};
pub use schedule::{Period, Schedule, schedule};

/// The largest principal accepted: ¥1000亿 (10^13 fen). Bounds every product below i64.
pub const MAX_PRINCIPAL_FEN: i64 = 10_000_000_000_000;
/// The highest annual rate accepted: 1000% (100 000 bp).
pub const MAX_RATE_BP: i64 = 100_000;
/// The longest term accepted: 50 years.
pub const MAX_MONTHS: u32 = 600;
/// The largest single fee accepted (same bound as the principal).
pub const MAX_FEE_FEN: i64 = MAX_PRINCIPAL_FEN;

/// How a loan is repaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// 等额本息: the same payment every month (the last absorbs the rounding residue).
    Annuity,
    /// 等额本金: the same principal every month plus the interest on the remaining balance.
    EqualPrincipal,
    /// 先息后本: interest every month, the whole principal with the last month's interest.
    InterestOnly,
    /// 到期还本付息: one payment at maturity, principal plus simple interest for the term.
    Bullet,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Annuity,
        Method::EqualPrincipal,
        Method::InterestOnly,
        Method::Bullet,
    ];

    /// The API name (`annuity`, `equal_principal`, `interest_only`, `bullet`).
    pub fn key(self) -> &'static str {
        match self {
            Method::Annuity => "annuity",
            Method::EqualPrincipal => "equal_principal",
            Method::InterestOnly => "interest_only",
            Method::Bullet => "bullet",
        }
    }

    pub fn from_key(key: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.key() == key)
    }
}

/// What a schedule is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoanTerms {
    pub principal_fen: i64,
    pub annual_rate_bp: i64,
    pub months: u32,
    pub method: Method,
    /// The end of the first month of the loan (the first payment of the monthly methods); the
    /// loan starts (is disbursed) one month before it.
    pub first_date: chrono::NaiveDate,
}

/// Input the maths refuses: `field` names the input (the API's parameter names), `reason` is
/// shown to the user (Chinese).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Invalid {
        Invalid {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Method;

    /// The API's names are serde's names, and each reads back as its method.
    #[test]
    fn method_keys_are_the_json_names() {
        for m in Method::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.key());
            assert_eq!(Method::from_key(m.key()), Some(m));
        }
        assert_eq!(Method::from_key("Annuity"), None);
    }
}
