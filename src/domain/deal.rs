//! Deals (业务单): one loan application of a customer for a product, moved through the pipeline
//! 邀约 → 到访 → 签约 → 进件 → 审批通过 → 放款 → 收费, or closed as 拒贷 / 撤单. No I/O: the
//! legal moves, what each stage requires, and the customer stage a deal stands for.
//!
//! The moves (decided for issue 16.4, table-tested below):
//! - forward one stage at a time;
//! - one skip: 邀约 → 签约, when the customer signs at the first visit (the visit is implied);
//!   no other stage may be skipped — a lender's approval always precedes its disbursement;
//! - 拒贷 (rejected, a lender's refusal) only from 进件 or 审批通过, with a reason;
//! - 撤单 (withdrawn, the customer gives up) from any open stage before 放款, with a reason;
//! - nothing out of 拒贷, 撤单 or 收费, and never backwards (no correction move exists yet).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::customer::Stage as CustomerStage;
use super::loan::{self, LoanTerms, MAX_MONTHS, MAX_PRINCIPAL_FEN, MAX_RATE_BP, Method};
use super::product::{Category, ServiceFee};

/// Where a deal is in the pipeline.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DealStage {
    /// 邀约: the customer is invited to the office.
    Invited,
    /// 到访: the customer came.
    Visited,
    /// 签约: the service contract is signed.
    Signed,
    /// 进件: the application is with the lender.
    Submitted,
    /// 审批通过: the lender approved an amount.
    Approved,
    /// 放款: the loan is paid out.
    Disbursed,
    /// 收费: the agency's fee is collected (done).
    FeeCollected,
    /// 拒贷: the lender refused (closed).
    Rejected,
    /// 撤单: the customer withdrew (closed).
    Withdrawn,
}

impl DealStage {
    pub const ALL: [DealStage; 9] = [
        DealStage::Invited,
        DealStage::Visited,
        DealStage::Signed,
        DealStage::Submitted,
        DealStage::Approved,
        DealStage::Disbursed,
        DealStage::FeeCollected,
        DealStage::Rejected,
        DealStage::Withdrawn,
    ];

    /// The deal funnel's stages, in order (rejected and withdrawn are off it).
    pub const PIPELINE: [&'static str; 7] = [
        "invited",
        "visited",
        "signed",
        "submitted",
        "approved",
        "disbursed",
        "fee_collected",
    ];

    /// The API name (`invited`, `fee_collected`, …), also used in store keys.
    pub fn key(self) -> &'static str {
        match self {
            DealStage::Invited => "invited",
            DealStage::Visited => "visited",
            DealStage::Signed => "signed",
            DealStage::Submitted => "submitted",
            DealStage::Approved => "approved",
            DealStage::Disbursed => "disbursed",
            DealStage::FeeCollected => "fee_collected",
            DealStage::Rejected => "rejected",
            DealStage::Withdrawn => "withdrawn",
        }
    }

    pub fn from_key(key: &str) -> Option<DealStage> {
        DealStage::ALL.into_iter().find(|s| s.key() == key)
    }

    /// The Chinese name shown in refusals.
    pub fn label(self) -> &'static str {
        match self {
            DealStage::Invited => "邀约",
            DealStage::Visited => "到访",
            DealStage::Signed => "签约",
            DealStage::Submitted => "进件",
            DealStage::Approved => "审批通过",
            DealStage::Disbursed => "放款",
            DealStage::FeeCollected => "收费",
            DealStage::Rejected => "拒贷",
            DealStage::Withdrawn => "撤单",
        }
    }

    /// Position on the pipeline (`None` for the two closed-lost stages).
    pub fn rank(self) -> Option<u8> {
        match self {
            DealStage::Invited => Some(0),
            DealStage::Visited => Some(1),
            DealStage::Signed => Some(2),
            DealStage::Submitted => Some(3),
            DealStage::Approved => Some(4),
            DealStage::Disbursed => Some(5),
            DealStage::FeeCollected => Some(6),
            DealStage::Rejected | DealStage::Withdrawn => None,
        }
    }

    /// No move leaves this stage.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DealStage::FeeCollected | DealStage::Rejected | DealStage::Withdrawn
        )
    }

    /// Counts for the customer's stage: not rejected or withdrawn (a collected deal is won).
    pub fn is_open(self) -> bool {
        self.rank().is_some()
    }

    /// Approved, disbursed or collected: the lender has said yes. The default pool rule never
    /// recalls a customer whose most advanced open deal is this far (issue 16.9).
    pub fn past_submitted(self) -> bool {
        self.rank().is_some_and(|r| r > 3)
    }

    /// The customer stage a deal at this stage stands for (`None`: rejected / withdrawn stand
    /// for nothing).
    pub fn customer_stage(self) -> Option<CustomerStage> {
        match self {
            DealStage::Invited => Some(CustomerStage::Invited),
            DealStage::Visited => Some(CustomerStage::Visited),
            DealStage::Signed | DealStage::Submitted | DealStage::Approved => {
                Some(CustomerStage::Signed)
            }
            DealStage::Disbursed | DealStage::FeeCollected => Some(CustomerStage::Won),
            DealStage::Rejected | DealStage::Withdrawn => None,
        }
    }
}

/// Whether the pipeline allows `from → to` at all (fields apart).
pub fn move_allowed(from: DealStage, to: DealStage) -> bool {
    use DealStage::*;
    if from.is_terminal() {
        return false;
    }
    match to {
        Rejected => matches!(from, Submitted | Approved),
        Withdrawn => matches!(from, Invited | Visited | Signed | Submitted | Approved),
        _ => match (from.rank(), to.rank()) {
            (Some(a), Some(b)) => b == a + 1 || (from == Invited && to == Signed),
            _ => false,
        },
    }
}

/// The stages a deal at `from` may move to, in pipeline order.
pub fn next_stages(from: DealStage) -> Vec<DealStage> {
    DealStage::ALL
        .into_iter()
        .filter(|to| move_allowed(from, *to))
        .collect()
}

/// What the lender approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Approval {
    pub amount_fen: i64,
    pub term_months: Option<u32>,
    pub rate_bp: Option<u32>,
}

/// What was paid out, and the loan's terms (the repayment schedule is computed from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Disbursement {
    pub amount_fen: i64,
    pub disbursed_on: NaiveDate,
    /// Annual rate, basis points.
    pub rate_bp: u32,
    pub term_months: u32,
    pub method: Method,
    pub first_repayment_date: NaiveDate,
}

impl Disbursement {
    pub fn loan_terms(&self) -> LoanTerms {
        LoanTerms {
            principal_fen: self.amount_fen,
            annual_rate_bp: i64::from(self.rate_bp),
            months: self.term_months,
            method: self.method,
            first_date: self.first_repayment_date,
        }
    }
}

/// A request to move a deal: the target and the fields its stage needs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageFields {
    pub approved_amount_fen: Option<i64>,
    pub approved_term_months: Option<u32>,
    pub approved_rate_bp: Option<u32>,
    pub disbursed_amount_fen: Option<i64>,
    pub disbursed_on: Option<NaiveDate>,
    pub rate_bp: Option<u32>,
    pub term_months: Option<u32>,
    pub method: Option<Method>,
    pub first_repayment_date: Option<NaiveDate>,
    /// Why (required for 拒贷 and 撤单; for a manager's override of the missing contract).
    pub reason: Option<String>,
    /// 签约 without a signed contract: a manager's override (audited), `reason` required.
    #[serde(rename = "override", default)]
    pub override_contract: bool,
    /// A note kept in the history.
    pub note: Option<String>,
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The pipeline has no such move (`from`, `to` in the message).
    Illegal(String),
    /// A field the stage needs is missing or wrong: (field, Chinese reason).
    Field(&'static str, String),
    /// 签约 needs a signed contract; none is on file and no override was asked.
    ContractRequired,
    /// An override was asked by someone who may not give one.
    OverrideForbidden,
}

/// What a move sets on the deal, once accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub approval: Option<Approval>,
    pub disbursement: Option<Disbursement>,
    /// The closing reason (拒贷 / 撤单).
    pub reason: Option<String>,
    /// The override reason, when 签约 was allowed without a contract.
    pub override_reason: Option<String>,
    pub note: Option<String>,
}

const MAX_TEXT: usize = 200;

fn text(field: &'static str, v: &Option<String>) -> Result<Option<String>, Refusal> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > MAX_TEXT => {
            Err(Refusal::Field(field, format!("最多 {MAX_TEXT} 个字")))
        }
        Some(s) if !super::text::single_line_ok(s) => {
            Err(Refusal::Field(field, super::text::REFUSED.into()))
        }
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn need<T: Copy>(
    field: &'static str,
    v: Option<T>,
    what: &str,
    to: DealStage,
) -> Result<T, Refusal> {
    v.ok_or_else(|| Refusal::Field(field, format!("推进到{}需要填写{what}", to.label())))
}

fn amount(field: &'static str, v: i64, what: &str) -> Result<i64, Refusal> {
    if (1..=MAX_PRINCIPAL_FEN).contains(&v) {
        Ok(v)
    } else {
        Err(Refusal::Field(
            field,
            format!("{what}须在 1 分到 {MAX_PRINCIPAL_FEN} 分之间"),
        ))
    }
}

fn term(field: &'static str, v: u32) -> Result<u32, Refusal> {
    if (1..=MAX_MONTHS).contains(&v) {
        Ok(v)
    } else {
        Err(Refusal::Field(
            field,
            format!("期数须在 1 到 {MAX_MONTHS} 个月之间"),
        ))
    }
}

fn rate(field: &'static str, v: u32) -> Result<u32, Refusal> {
    if i64::from(v) <= MAX_RATE_BP {
        Ok(v)
    } else {
        Err(Refusal::Field(
            field,
            format!("年利率须在 0 到 {MAX_RATE_BP} 个基点之间"),
        ))
    }
}

/// Decides a move of a deal at `from` with `approved` (what an earlier approval set) to
/// `f`'s target `to`. `has_contract`: a signed contract is on file (the documents issue will
/// provide one; today never). `may_override`: the caller may sign off a missing contract.
pub fn check_move(
    from: DealStage,
    to: DealStage,
    f: &StageFields,
    approved: Option<&Approval>,
    has_contract: bool,
    may_override: bool,
) -> Result<Accepted, Refusal> {
    if !move_allowed(from, to) {
        let why = if from.is_terminal() {
            format!("业务单已{}，不能再变更阶段", from.label())
        } else if from == to {
            format!("业务单已在{}阶段", to.label())
        } else {
            format!("不能从{}直接变更为{}", from.label(), to.label())
        };
        return Err(Refusal::Illegal(why));
    }
    let note = text("note", &f.note)?;
    let reason = text("reason", &f.reason)?;
    let mut out = Accepted {
        approval: None,
        disbursement: None,
        reason: None,
        override_reason: None,
        note,
    };
    match to {
        DealStage::Signed if !has_contract => {
            if !f.override_contract {
                return Err(Refusal::ContractRequired);
            }
            if !may_override {
                return Err(Refusal::OverrideForbidden);
            }
            out.override_reason = Some(reason.ok_or_else(|| {
                Refusal::Field("reason", "没有已签合同时签约，须由经理填写原因".into())
            })?);
        }
        DealStage::Approved => {
            let a = need("approved_amount_fen", f.approved_amount_fen, "审批金额", to)?;
            out.approval = Some(Approval {
                amount_fen: amount("approved_amount_fen", a, "审批金额")?,
                term_months: f
                    .approved_term_months
                    .map(|t| term("approved_term_months", t))
                    .transpose()?,
                rate_bp: f
                    .approved_rate_bp
                    .map(|r| rate("approved_rate_bp", r))
                    .transpose()?,
            });
        }
        DealStage::Disbursed => out.disbursement = Some(disbursement(f, approved)?),
        DealStage::Rejected | DealStage::Withdrawn => {
            out.reason = Some(reason.ok_or_else(|| {
                Refusal::Field("reason", format!("变更为{}须填写原因", to.label()))
            })?);
        }
        _ => {}
    }
    Ok(out)
}

fn disbursement(f: &StageFields, approved: Option<&Approval>) -> Result<Disbursement, Refusal> {
    let to = DealStage::Disbursed;
    let amount_fen = amount(
        "disbursed_amount_fen",
        need(
            "disbursed_amount_fen",
            f.disbursed_amount_fen,
            "放款金额",
            to,
        )?,
        "放款金额",
    )?;
    if let Some(a) = approved
        && amount_fen > a.amount_fen
    {
        return Err(Refusal::Field(
            "disbursed_amount_fen",
            format!("放款金额不能超过审批金额 {} 分", a.amount_fen),
        ));
    }
    let disbursed_on = need("disbursed_on", f.disbursed_on, "放款日期", to)?;
    let d = Disbursement {
        amount_fen,
        disbursed_on,
        rate_bp: rate("rate_bp", need("rate_bp", f.rate_bp, "年利率", to)?)?,
        term_months: term(
            "term_months",
            need("term_months", f.term_months, "期数", to)?,
        )?,
        method: need("method", f.method, "还款方式", to)?,
        first_repayment_date: need(
            "first_repayment_date",
            f.first_repayment_date,
            "首期还款日",
            to,
        )?,
    };
    if d.first_repayment_date <= disbursed_on {
        return Err(Refusal::Field(
            "first_repayment_date",
            "首期还款日须晚于放款日期".into(),
        ));
    }
    loan::schedule::check(&d.loan_terms()).map_err(|e| {
        let field = match e.field {
            "first_date" => "first_repayment_date",
            "principal_fen" => "disbursed_amount_fen",
            "annual_rate_bp" => "rate_bp",
            "months" => "term_months",
            other => other,
        };
        Refusal::Field(field, e.reason)
    })?;
    Ok(d)
}

/// The product as it was when the deal was made (names and fees do not move under a deal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductSnapshot {
    pub id: String,
    pub name: String,
    pub lender: String,
    pub category: Category,
    pub version: u32,
    pub service_fee: Option<ServiceFee>,
    /// The lender's rebate (返佣) to the agency, basis points of the disbursed amount
    /// (absent in deals made before schema 25: none).
    #[serde(default)]
    pub rebate_bp: Option<u32>,
}

impl ProductSnapshot {
    /// The agency's fee on `disbursed_fen`, in fen (a rate rounded half-up).
    pub fn service_fee_fen(&self, disbursed_fen: i64) -> i64 {
        match self.service_fee {
            None => 0,
            Some(ServiceFee::Fixed { fen }) => fen,
            Some(ServiceFee::Rate { bp }) => {
                let v = (i128::from(disbursed_fen) * i128::from(bp) + 5_000) / 10_000;
                i64::try_from(v).unwrap_or(i64::MAX)
            }
        }
    }
}

/// One move in a deal's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageChange {
    pub at: DateTime<Utc>,
    /// User id.
    pub by: String,
    /// `None` on creation.
    pub from: Option<DealStage>,
    pub to: DealStage,
    pub note: Option<String>,
    /// Set when a manager signed off a missing contract: their reason.
    pub override_reason: Option<String>,
}

/// A stored deal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deal {
    pub id: String,
    pub customer_id: String,
    /// The customer's name when the deal was made (for cards of a customer the reader may not
    /// otherwise see, e.g. an assistant).
    pub customer_name: String,
    pub product: ProductSnapshot,
    pub amount_fen: i64,
    pub term_months: u32,
    pub officer_id: String,
    pub assistant_id: Option<String>,
    pub stage: DealStage,
    pub approval: Option<Approval>,
    pub disbursement: Option<Disbursement>,
    /// Why it was rejected or withdrawn.
    pub closed_reason: Option<String>,
    pub history: Vec<StageChange>,
    pub created_by: String,
    /// The broker whose referral brought the customer (copied from the customer at creation):
    /// the deal owes them a referral fee when its fee is collected (docs/brokers.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A date in a running loan's calendar worth a call from the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// The first repayment: make sure the borrower pays on time (reminded 3 days before).
    FirstPayment,
    /// Two months before maturity: a renewal (续贷) opportunity.
    Renewal,
    /// The last repayment (reminded 7 days before).
    Maturity,
}

impl ServiceKind {
    pub fn key(self) -> &'static str {
        match self {
            ServiceKind::FirstPayment => "first_payment",
            ServiceKind::Renewal => "renewal",
            ServiceKind::Maturity => "maturity",
        }
    }

    pub fn from_key(k: &str) -> Option<ServiceKind> {
        [
            ServiceKind::FirstPayment,
            ServiceKind::Renewal,
            ServiceKind::Maturity,
        ]
        .into_iter()
        .find(|s| s.key() == k)
    }
}

/// The service reminders of a disbursed (or fee-collected) deal: (remind on, kind, the date it
/// is about). The maturity is the last period's date (`schedule::month_end`, as the schedule).
pub fn service_dates(d: &Deal) -> Vec<(NaiveDate, ServiceKind, NaiveDate)> {
    let Some(x) = &d.disbursement else {
        return vec![];
    };
    if !matches!(d.stage, DealStage::Disbursed | DealStage::FeeCollected) {
        return vec![];
    }
    let first = x.first_repayment_date;
    let mut out = Vec::new();
    // A bullet loan pays once, at maturity: no first-payment reminder of its own.
    if x.method != Method::Bullet
        && let Some(on) = first.checked_sub_days(chrono::Days::new(3))
    {
        out.push((on, ServiceKind::FirstPayment, first));
    }
    // Month `k` of the loan ends `k − 1` months after the first repayment (month 0 is the
    // disbursement): the last period is month `term`.
    let last = i64::from(x.term_months.max(1));
    if let Some(maturity) = crate::domain::loan::schedule::month_end(first, last) {
        if let Some(on) = maturity.checked_sub_months(chrono::Months::new(2))
            && on > first
        {
            out.push((on, ServiceKind::Renewal, maturity));
        }
        if maturity > first
            && let Some(on) = maturity.checked_sub_days(chrono::Days::new(7))
        {
            out.push((on, ServiceKind::Maturity, maturity));
        }
    }
    out
}

/// The requested amount and term, each refused with its field.
pub fn check_request(amount_fen: i64, term_months: u32) -> Result<(), (&'static str, String)> {
    amount("amount_fen", amount_fen, "申请金额").map_err(field_pair)?;
    term("term_months", term_months).map_err(field_pair)?;
    Ok(())
}

/// A request the product lends: amount and term inside its ranges (a ¥10,000–¥50,000,
/// 6–12-month product takes no 1-fen, 1-month deal).
pub fn check_request_against(
    p: &super::product::ProductInput,
    amount_fen: i64,
    term_months: u32,
) -> Result<(), (&'static str, String)> {
    amount_within(p, amount_fen)?;
    term_within(p, term_months)
}

/// An amount asked inside the product's range.
pub fn amount_within(
    p: &super::product::ProductInput,
    amount_fen: i64,
) -> Result<(), (&'static str, String)> {
    use super::fee::yuan;
    if amount_fen < p.amount_min_fen || amount_fen > p.amount_max_fen {
        return Err((
            "amount_fen",
            format!(
                "申请金额须在该产品的额度 {}–{} 之间",
                yuan(p.amount_min_fen),
                yuan(p.amount_max_fen)
            ),
        ));
    }
    Ok(())
}

/// A term asked inside the product's range.
pub fn term_within(
    p: &super::product::ProductInput,
    term_months: u32,
) -> Result<(), (&'static str, String)> {
    if term_months < p.term_min_months || term_months > p.term_max_months {
        return Err((
            "term_months",
            format!(
                "期限须在该产品的 {}–{} 个月之间",
                p.term_min_months, p.term_max_months
            ),
        ));
    }
    Ok(())
}

/// A disbursement by a repayment method the product offers. Its amount is bounded by the
/// approval; the amount and term are not held to the product's ranges as they are now, which
/// may have narrowed since the deal was made (the deal's snapshot does not keep them).
pub fn check_disbursement_against(
    p: &super::product::ProductInput,
    x: &Disbursement,
) -> Result<(), (&'static str, String)> {
    if !p.methods.contains(&x.method) {
        let offered: Vec<&str> = p.methods.iter().map(|m| m.key()).collect();
        return Err((
            "method",
            format!("该产品不提供这种还款方式，可选：{}", offered.join("、")),
        ));
    }
    Ok(())
}

fn field_pair(r: Refusal) -> (&'static str, String) {
    match r {
        Refusal::Field(f, why) => (f, why),
        other => ("amount_fen", format!("{other:?}")),
    }
}

/// The customer stage that the open deals stand for: the most advanced one's (`None` when no
/// deal is open; the customer's stage is then left as it is).
pub fn customer_stage_of(stages: impl IntoIterator<Item = DealStage>) -> Option<CustomerStage> {
    most_advanced_open(stages).and_then(DealStage::customer_stage)
}

/// The most advanced stage among the open (not rejected or withdrawn) ones.
pub fn most_advanced_open(stages: impl IntoIterator<Item = DealStage>) -> Option<DealStage> {
    stages
        .into_iter()
        .filter(|s| s.is_open())
        .max_by_key(|s| s.rank())
}

#[cfg(test)]
#[path = "deal_tests.rs"]
mod tests;
