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
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DealView {
    #[serde(flatten)]
    pub deal: Deal,
    pub officer_name: Option<String>,
    pub assistant_name: Option<String>,
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
        with_schedule: bool,
    ) -> DealView {
        let schedule = if with_schedule {
            deal.disbursement
                .as_ref()
                .and_then(|d| schedule_of(&deal, d))
        } else {
            None
        };
        DealView {
            officer_name: names.get(&deal.officer_id).cloned(),
            assistant_name: deal
                .assistant_id
                .as_ref()
                .and_then(|a| names.get(a).cloned()),
            next_stages: deal::next_stages(deal.stage),
            may_override,
            schedule,
            deal,
        }
    }
}

fn schedule_of(deal: &Deal, d: &deal::Disbursement) -> Option<DealSchedule> {
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
    Some(DealSchedule {
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
