//! What leaves for a deal: the record, its people's names, the moves it allows, and for a
//! disbursed deal its repayment schedule and comprehensive financing cost (the product's
//! service fee counted as a fee paid at disbursement).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::deal::{self, Deal, DealStage};
use crate::domain::loan::{self, Fee, Period};

/// A disbursed deal's schedule (money in fen).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DealSchedule {
    /// One month before the first repayment (the schedule's convention, docs/loans.md).
    pub start_date: NaiveDate,
    pub periods: Vec<Period>,
    pub total_payment_fen: i64,
    pub total_principal_fen: i64,
    pub total_interest_fen: i64,
    /// The agency's service fee on the disbursed amount (the product's fee terms at creation).
    pub service_fee_fen: i64,
    /// Annualised comprehensive cost in basis points, the service fee counted up front;
    /// `None` when it cannot be computed (`cost_problem` says why).
    pub comprehensive_cost_bp: Option<i64>,
    pub cost_problem: Option<String>,
    /// Set when the cost is above the firm's warning line or cap (`[loans]`), in Chinese.
    pub cost_warning: Option<String>,
    /// Above the firm's cap (`loans.cost_cap_bp`): no contract may be issued on these terms.
    pub over_cap: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DealView {
    #[serde(flatten)]
    pub deal: Deal,
    pub officer_name: Option<String>,
    pub assistant_name: Option<String>,
    /// The broker (经纪人) whose referral brought the customer, when one did.
    pub broker_name: Option<String>,
    /// The stages this deal may move to.
    pub next_stages: Vec<DealStage>,
    /// The caller may sign off a missing contract (a manager).
    pub may_override: bool,
    /// A disbursed (or collected) deal's schedule; only on the single-deal read.
    pub schedule: Option<DealSchedule>,
}

impl DealView {
    pub fn new(
        deal: Deal,
        names: &BTreeMap<String, String>,
        may_override: bool,
        with_schedule: Option<&crate::config::LoansConfig>,
    ) -> DealView {
        let schedule = if let Some(limits) = with_schedule {
            deal.disbursement
                .as_ref()
                .and_then(|d| schedule_of(&deal, d, limits))
        } else {
            None
        };
        DealView {
            officer_name: names.get(&deal.officer_id).cloned(),
            assistant_name: deal
                .assistant_id
                .as_ref()
                .and_then(|a| names.get(a).cloned()),
            broker_name: deal.broker_id.as_ref().and_then(|b| names.get(b).cloned()),
            next_stages: deal::next_stages(deal.stage),
            may_override,
            schedule,
            deal,
        }
    }
}

/// The warning for a cost of `bp` against the firm's limits, and whether it is over the cap.
pub fn cost_check(bp: i64, limits: &crate::config::LoansConfig) -> (Option<String>, bool) {
    let pct = |v: i64| format!("{}.{:02}%", v / 100, v % 100);
    if bp > limits.cost_cap_bp {
        (
            Some(format!(
                "综合年化成本 {}，超过本机构上限 {}：不得按此条件签发合同",
                pct(bp),
                pct(limits.cost_cap_bp)
            )),
            true,
        )
    } else if bp > limits.cost_warn_bp {
        (
            Some(format!(
                "综合年化成本 {}，超过本机构提醒线 {}",
                pct(bp),
                pct(limits.cost_warn_bp)
            )),
            false,
        )
    } else {
        (None, false)
    }
}

fn schedule_of(
    deal: &Deal,
    d: &deal::Disbursement,
    limits: &crate::config::LoansConfig,
) -> Option<DealSchedule> {
    // The terms were checked when the deal was disbursed: a schedule always exists.
    let s = loan::schedule(&d.loan_terms()).ok()?;
    let fee = deal.product.service_fee_fen(d.amount_fen);
    let fees = if fee > 0 {
        vec![Fee::upfront(&s, fee)]
    } else {
        Vec::new()
    };
    let (cost, problem) = match loan::comprehensive_cost(&s, &fees) {
        Ok(bp) => (Some(bp), None),
        Err(e) => (None, Some(e.reason().to_string())),
    };
    let (cost_warning, over_cap) = cost.map_or((None, false), |bp| cost_check(bp, limits));
    Some(DealSchedule {
        cost_warning,
        over_cap,
        start_date: s.start_date,
        total_payment_fen: s.total_payment_fen,
        total_principal_fen: s.total_principal_fen,
        total_interest_fen: s.total_interest_fen,
        periods: s.periods,
        service_fee_fen: fee,
        comprehensive_cost_bp: cost,
        cost_problem: problem,
    })
}

#[cfg(test)]
mod tests {
    use super::cost_check;
    use crate::config::LoansConfig;

    #[test]
    fn the_cost_is_flagged_above_the_warning_line_and_the_cap() {
        let l = LoansConfig {
            cost_warn_bp: 2400,
            cost_cap_bp: 3600,
        };
        assert_eq!(
            cost_check(2400, &l),
            (None, false),
            "at the line: not above it"
        );
        let (w, cap) = cost_check(2401, &l);
        assert_eq!(
            (w.as_deref(), cap),
            (Some("综合年化成本 24.01%，超过本机构提醒线 24.00%"), false)
        );
        assert!(!cost_check(3600, &l).1, "at the cap: not over it");
        let (w, cap) = cost_check(3601, &l);
        assert!(cap && w.unwrap().contains("不得按此条件签发合同"));
    }
}
