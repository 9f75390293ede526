//! What leaves for a deal: the record, its people's names, the moves it allows, and for a
//! disbursed deal its repayment schedule and comprehensive financing cost (the product's
//! service fee counted as a fee paid at disbursement).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::deal::{self, Deal, DealStage};
use crate::domain::loan::irr::IrrError;
use crate::domain::loan::{self, Fee, Period, Schedule};

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

/// `3725` → `37.25%`.
pub fn pct(v: i64) -> String {
    format!("{}.{:02}%", v / 100, v % 100)
}

/// The warning for a cost of `bp` against the firm's limits, and whether it is over the cap.
pub fn cost_check(bp: i64, limits: &crate::config::LoansConfig) -> (Option<String>, bool) {
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

/// The comprehensive cost (bp) of a schedule with the agency's service fee of `fee_fen` paid
/// up front (at disbursement): the one cost computation for deals.
fn cost_with_fee(s: &Schedule, fee_fen: i64) -> Result<i64, IrrError> {
    let fees = if fee_fen > 0 {
        vec![Fee::upfront(s, fee_fen)]
    } else {
        Vec::new()
    };
    loan::comprehensive_cost(s, &fees)
}

/// Which terms a contract's cost check used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    /// The disbursed loan's terms.
    Disbursement,
    /// The approved amount/term/rate (a missing term or rate: the request's term, the
    /// product's highest rate), the worst of the product's repayment methods.
    Approval,
    /// The requested amount and term at the product's highest rate, the worst method.
    Request,
}

impl CostBasis {
    pub fn label(self) -> &'static str {
        match self {
            CostBasis::Disbursement => "放款条件",
            CostBasis::Approval => "审批条件（按产品最不利情形）",
            CostBasis::Request => "申请金额与期限（按产品最高利率、最不利还款方式）",
        }
    }
}

/// A deal's comprehensive cost as a contract sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractCost {
    pub bp: i64,
    pub basis: CostBasis,
}

/// Why a contract's cost could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostUnknown {
    /// The deal has no loan amount at all yet.
    NoAmount,
    /// Terms are missing or unusable: the field and the reason, in Chinese.
    Field(&'static str, String),
}

/// The annualised comprehensive cost a contract of `deal` is checked against (issue 16.7):
/// the disbursement terms if disbursed, else the approval's, else the request at the
/// product's worst case (`product`: the product version the deal was made with — its
/// highest rate and every repayment method it offers); the deal's service fee counted up
/// front in every case. `today` dates a loan not yet disbursed (the cost barely depends on it).
pub fn contract_cost(
    deal: &Deal,
    product: Option<&crate::domain::product::ProductInput>,
    today: NaiveDate,
) -> Result<ContractCost, CostUnknown> {
    let field = |f: &'static str, why: &str| CostUnknown::Field(f, why.to_string());
    if let Some(d) = &deal.disbursement {
        let s = loan::schedule(&d.loan_terms())
            .map_err(|e| CostUnknown::Field("disbursement", e.reason))?;
        let bp = cost_with_fee(&s, deal.product.service_fee_fen(d.amount_fen))
            .map_err(|e| field("disbursement", e.reason()))?;
        return Ok(ContractCost {
            bp,
            basis: CostBasis::Disbursement,
        });
    }
    let (amount, term, rate, basis, f) = match &deal.approval {
        Some(a) => (
            a.amount_fen,
            a.term_months.unwrap_or(deal.term_months),
            a.rate_bp,
            CostBasis::Approval,
            "approval",
        ),
        None => (
            deal.amount_fen,
            deal.term_months,
            None,
            CostBasis::Request,
            "amount_fen",
        ),
    };
    if amount <= 0 {
        return Err(CostUnknown::NoAmount);
    }
    let p =
        product.ok_or_else(|| field("product_id", "找不到业务单的产品，无法计算综合年化成本"))?;
    if p.methods.is_empty() {
        return Err(field(
            "product_id",
            "产品未设置还款方式，无法计算综合年化成本",
        ));
    }
    let first_date = today
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| field("first_date", "日期超出可计算的范围"))?;
    let rate = i64::from(rate.unwrap_or(p.rate_max_bp));
    let fee = deal.product.service_fee_fen(amount);
    let mut worst: Option<i64> = None;
    for method in &p.methods {
        let s = loan::schedule(&loan::LoanTerms {
            principal_fen: amount,
            annual_rate_bp: rate,
            months: term,
            method: *method,
            first_date,
        })
        .map_err(|e| CostUnknown::Field(f, e.reason))?;
        let bp = cost_with_fee(&s, fee).map_err(|e| field(f, e.reason()))?;
        worst = Some(worst.map_or(bp, |w| w.max(bp)));
    }
    let bp = worst.ok_or_else(|| field("product_id", "产品未设置还款方式"))?;
    Ok(ContractCost { bp, basis })
}

fn schedule_of(
    deal: &Deal,
    d: &deal::Disbursement,
    limits: &crate::config::LoansConfig,
) -> Option<DealSchedule> {
    // The terms were checked when the deal was disbursed: a schedule always exists.
    let s = loan::schedule(&d.loan_terms()).ok()?;
    let fee = deal.product.service_fee_fen(d.amount_fen);
    let (cost, problem) = match cost_with_fee(&s, fee) {
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
