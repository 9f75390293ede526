//! Fees (服务费), payments (回款), refunds, waivers, the lender's rebate and commissions: each
//! recorded in one write transaction with its commission lines, totals, audit row and — when
//! the fee is paid in full — the deal's move to 收费. A deal's fees are seen by whoever sees
//! the deal (its scope); the finance lists are in `finance.rs`, month close in `months.rs`,
//! statements in `statement.rs`. The rules are in `domain::fee`, docs/finance.md.

crate::service::use_cases!(fees, "Fees, payments (回款), commissions and month close.");

mod channels;
mod corrections;
mod finance;
mod months;
mod statement;
mod targets;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use channels::{
    ChannelInput, ChannelList, ChannelReport, ChannelReportQuery, ChannelRow, RoiRow, SetCost,
};
pub use finance::{FinanceQuery, MovePage, MoveRow, ReceivablePage, ReceivableRow};
pub use months::{MonthView, ReopenRequest};
pub use statement::{CommissionList, CommissionQuery, Statement, StatementQuery};
pub use targets::{Person, ProgressPage, SetTarget, TargetQuery};

use super::access::auth::Caller;
use super::context::W;
use super::{Error, Result, new_id};
use crate::domain::capability::Capability;
use crate::domain::deal::{Deal, DealStage};
use crate::domain::fee::{
    self, CommissionLine, FeeAccount, LineKind, PayMethod, Payment, RebateReceipt, Refund, Waiver,
};
use crate::script::{FeeInput, SplitInput, hooks};
use crate::store;
use crate::store::deals::Reader as Deals;
use crate::store::fees::Reader as Fees;

/// `POST /deals/{id}/payments`. A negative `amount_fen` with a `reason` is a refund of that
/// amount dated `paid_on` (the public contract's form; `POST /deals/{id}/refunds` is the same).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub amount_fen: i64,
    /// YYYY-MM-DD, not in the future; its month must be open.
    pub paid_on: NaiveDate,
    pub method: PayMethod,
    pub payer: Option<String>,
    /// Required for a payment.
    #[serde(default)]
    pub receipt_no: String,
    /// Required for a refund (a negative amount).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A payment or refund as `GET /deals/{id}/payments` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MoneyRow {
    pub id: String,
    /// `payment` or `refund`.
    pub kind: String,
    /// Negative for a refund.
    pub amount_fen: i64,
    pub on: NaiveDate,
    pub month: String,
    pub locked: bool,
    pub method: Option<PayMethod>,
    pub payer: Option<String>,
    pub receipt_no: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MoneyList {
    pub items: Vec<MoneyRow>,
    pub total: u64,
}

/// `POST /deals/{id}/refunds`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    pub amount_fen: i64,
    pub refunded_on: NaiveDate,
    pub reason: String,
}

/// `POST /deals/{id}/fee-waivers` (managers).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWaiver {
    pub amount_fen: i64,
    pub reason: String,
}

/// `POST /deals/{id}/rebate-receipts`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRebateReceipt {
    pub amount_fen: i64,
    pub received_on: NaiveDate,
    pub receipt_no: String,
}

/// `DELETE /deals/{id}/payments/{payment_id}?reason=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Why the payment is removed (audited).
    pub reason: Option<String>,
}

/// `POST /deals/{id}/fee-recompute` (finance): run `deal.fee` again.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recompute {
    pub reason: String,
    /// Take the product's current service fee into the deal first: a deal keeps the terms of
    /// the product version it was made with, so a deal made before its product had a fee
    /// owed nothing and could never take a payment. Audited with the old and new terms.
    #[serde(default)]
    pub product_fee: bool,
}

/// A payment or refund row with its month and whether that month is closed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentRow {
    #[serde(flatten)]
    pub payment: Payment,
    pub month: String,
    pub locked: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefundRow {
    #[serde(flatten)]
    pub refund: Refund,
    pub month: String,
    pub locked: bool,
}

/// A deal's fees as the deal page shows them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeesView {
    pub deal_id: String,
    pub stage: DealStage,
    /// `false`: the deal is not disbursed yet, or no money moved yet and the fee shown is what
    /// `deal.fee` computes now (nothing stored).
    pub recorded: bool,
    pub fee_fen: i64,
    pub fee_rule: String,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    pub waived_fen: i64,
    /// fee − paid + refunded − waived.
    pub balance_fen: i64,
    pub rebate_fen: i64,
    pub rebate_received_fen: i64,
    pub rebate_balance_fen: i64,
    pub payments: Vec<PaymentRow>,
    pub refunds: Vec<RefundRow>,
    pub waivers: Vec<Waiver>,
    pub rebate_receipts: Vec<RebateReceipt>,
    /// The caller may record payments, refunds and rebate receipts (`finance.edit`).
    pub may_record: bool,
    /// The caller may waive part of the fee (managers: `customer.assign`).
    pub may_waive: bool,
}

/// Today in Asia/Shanghai: dates of payments and months are the firm's calendar days.
/// What a firm-wide finance figure needs (the refusal names it): `finance.read` and the whole
/// firm as data scope.
pub(crate) const FIRM_FINANCE: &str = "finance.read 权限与全公司的数据范围";

pub(crate) fn today(now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    now.with_timezone(&crate::service::customers::shanghai())
        .date_naive()
}

fn refused(code: &'static str, message: String) -> Error {
    Error::Refused {
        code,
        message,
        details: json!({}),
    }
}

pub(crate) fn month_closed(month: &str) -> Error {
    Error::Refused {
        code: "month_closed",
        message: format!("{month} 已月结，该月的回款、退款和提成不能新增、修改或删除"),
        details: json!({"month": month}),
    }
}

fn text(field: &'static str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::validation(field, "不能为空"));
    }
    if v.chars().count() > max {
        return Err(Error::validation(field, format!("不能超过{max}个字")));
    }
    Ok(v.to_string())
}

impl crate::service::fees::UseCases<'_> {
    fn may_waive(caller: &Caller) -> bool {
        caller.can(Capability::CustomerAssign)
    }

    fn check_open(w: &W<'_>, on: NaiveDate, field: &'static str) -> Result<String> {
        if on > today(w.now()) {
            return Err(Error::validation(field, "日期不能晚于今天"));
        }
        let m = fee::month_of(on);
        if store::fees::is_closed(w.tx, &m)? {
            return Err(month_closed(&m));
        }
        Ok(m)
    }

    /// Money of a deal is not dated before its disbursement (a payment, a lender's rebate).
    fn not_before_disbursement(d: &Deal, on: NaiveDate, field: &'static str) -> Result<()> {
        match &d.disbursement {
            Some(x) if on < x.disbursed_on => Err(Error::validation(
                field,
                format!("日期不能早于放款日期（{}）", x.disbursed_on),
            )),
            _ => Ok(()),
        }
    }

    /// The deal in the caller's scope, disbursed.
    fn disbursed(w: &W<'_>, id: &str) -> Result<Deal> {
        let d = Deals::scoped(w.tx, w.scope())
            .get(id)?
            .ok_or(Error::NotFound)?;
        if d.disbursement.is_none()
            || !matches!(d.stage, DealStage::Disbursed | DealStage::FeeCollected)
        {
            return Err(refused(
                "fee_not_disbursed",
                "业务单尚未放款，不能登记费用".into(),
            ));
        }
        Ok(d)
    }

    fn manager_of(w: &W<'_>, officer: &str) -> Result<Option<String>> {
        Ok(store::users::find_by_id_w(w.tx, officer)?.and_then(|u| u.manager_id))
    }

    /// Runs `deal.fee`; a failure refuses the use case (nothing is written) with the error.
    fn compute(&self, w: &W<'_>, d: &Deal) -> Result<crate::script::FeeDecision> {
        let manager = Self::manager_of(w, &d.officer_id)?;
        let (channel, channel_id) = store::channels::of_customer(w.tx, &d.customer_id)?;
        let input = FeeInput {
            deal: d,
            manager_id: manager.as_deref(),
            channel: channel.as_deref(),
            channel_id: channel_id.as_deref(),
            now: w.now(),
        };
        match self.plugins.fee(&input) {
            Ok(dec) => Ok(dec),
            Err(e) => {
                self.plugins
                    .record_failure(hooks::FEE, &e, Some(&d.id), w.now());
                Err(plugin_failed(&e))
            }
        }
    }

    /// At disbursement, in the move's transaction: the deal's account, and the amount
    /// disbursed counted for the officer's month (`dis/<month>/<officer>`, for targets).
    pub(crate) fn open_account(&self, w: &W<'_>, d: &Deal) -> Result<FeeAccount> {
        let a = self.new_account(w, d)?;
        store::fees::add_total(
            w.tx,
            &format!("dis/{}/{}", fee::month_of(a.disbursed_on), a.officer_id),
            a.disbursed_fen,
        )?;
        Ok(a)
    }

    /// A new account for a disbursed deal: the fee from `deal.fee`, the rebate from the
    /// product's terms (also for deals disbursed before schema 25, at their first payment).
    fn new_account(&self, w: &W<'_>, d: &Deal) -> Result<FeeAccount> {
        let Some(disb) = d.disbursement else {
            return Err(refused(
                "fee_not_disbursed",
                "业务单尚未放款，不能登记费用".into(),
            ));
        };
        let f = self.compute(w, d)?;
        let a = FeeAccount {
            deal_id: d.id.clone(),
            officer_id: d.officer_id.clone(),
            disbursed_on: disb.disbursed_on,
            disbursed_fen: disb.amount_fen,
            fee_fen: f.fee_fen,
            fee_rule: f.rule,
            rebate_fen: fee::rebate(d.product.rebate_bp, disb.amount_fen),
            payments: Vec::new(),
            refunds: Vec::new(),
            waivers: Vec::new(),
            rebate_receipts: Vec::new(),
            lines: Vec::new(),
        };
        store::fees::put_account(w.tx, None, &a)?;
        Ok(a)
    }

    fn account(&self, w: &W<'_>, d: &Deal) -> Result<FeeAccount> {
        match Fees::scoped(w.tx, w.scope()).of_deal(d)? {
            Some(a) => Ok(a),
            None => self.new_account(w, d),
        }
    }

    fn view(&self, caller: &Caller, d: &Deal, a: &FeeAccount, recorded: bool) -> Result<FeesView> {
        let closed = self.store.read(|tx| {
            let mut out = BTreeSet::new();
            let months: BTreeSet<String> = a
                .payments
                .iter()
                .map(|p| fee::month_of(p.paid_on))
                .chain(a.refunds.iter().map(|r| fee::month_of(r.refunded_on)))
                .collect();
            for m in months {
                if store::fees::month(tx, &m)?.is_some_and(|c| c.closed) {
                    out.insert(m);
                }
            }
            Ok::<_, Error>(out)
        })?;
        Ok(FeesView {
            deal_id: d.id.clone(),
            stage: d.stage,
            recorded,
            fee_fen: a.fee_fen,
            fee_rule: a.fee_rule.clone(),
            paid_fen: a.paid(),
            refunded_fen: a.refunded(),
            waived_fen: a.waived(),
            balance_fen: a.balance(),
            rebate_fen: a.rebate_fen,
            rebate_received_fen: a.rebate_received(),
            rebate_balance_fen: a.rebate_balance(),
            payments: a
                .payments
                .iter()
                .map(|p| {
                    let month = fee::month_of(p.paid_on);
                    PaymentRow {
                        payment: p.clone(),
                        locked: closed.contains(&month),
                        month,
                    }
                })
                .collect(),
            refunds: a
                .refunds
                .iter()
                .map(|r| {
                    let month = fee::month_of(r.refunded_on);
                    RefundRow {
                        refund: r.clone(),
                        locked: closed.contains(&month),
                        month,
                    }
                })
                .collect(),
            waivers: a.waivers.clone(),
            rebate_receipts: a.rebate_receipts.clone(),
            may_record: caller.can(Capability::FinanceEdit),
            may_waive: Self::may_waive(caller),
        })
    }

    /// `GET /deals/{id}/fees`: the account, or for a disbursed deal without one what
    /// `deal.fee` gives now (nothing is written).
    pub fn deal_fees(&self, caller: &Caller, id: &str) -> Result<FeesView> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let (d, a) = self.store.read(|tx| {
            let d = Deals::scoped(tx, &scope).get(id)?.ok_or(Error::NotFound)?;
            let a = Fees::scoped(tx, &scope).of_deal(&d)?;
            Ok::<_, Error>((d, a))
        })?;
        if let Some(a) = a {
            return self.view(caller, &d, &a, true);
        }
        // A preview: the fee as `deal.fee` computes it now (a deal not yet disbursed: none).
        let disb = d.disbursement;
        let (fee_fen, fee_rule) = match disb {
            Some(_) => {
                let manager = self
                    .store
                    .read(|tx| store::users::get(tx, &d.officer_id))?
                    .and_then(|u| u.manager_id);
                let (channel, channel_id) = self
                    .store
                    .read(|tx| store::channels::of_customer(tx, &d.customer_id))?;
                let input = FeeInput {
                    deal: &d,
                    manager_id: manager.as_deref(),
                    channel: channel.as_deref(),
                    channel_id: channel_id.as_deref(),
                    now: self.now(),
                };
                match self.plugins.fee(&input) {
                    Ok(f) => (f.fee_fen, f.rule),
                    Err(e) => (0, format!("插件出错：{e}")),
                }
            }
            None => (0, String::new()),
        };
        let a = FeeAccount {
            deal_id: d.id.clone(),
            officer_id: d.officer_id.clone(),
            disbursed_on: disb.map_or_else(|| today(self.now()), |x| x.disbursed_on),
            disbursed_fen: disb.map_or(0, |x| x.amount_fen),
            fee_fen,
            fee_rule,
            rebate_fen: fee::rebate(d.product.rebate_bp, disb.map_or(0, |x| x.amount_fen)),
            payments: Vec::new(),
            refunds: Vec::new(),
            waivers: Vec::new(),
            rebate_receipts: Vec::new(),
            lines: Vec::new(),
        };
        self.view(caller, &d, &a, false)
    }

    /// `GET /deals/{id}/payments`: the deal's payments and refunds, oldest first.
    pub fn deal_payments(&self, caller: &Caller, id: &str) -> Result<MoneyList> {
        let v = self.deal_fees(caller, id)?;
        let mut items: Vec<MoneyRow> = v
            .payments
            .into_iter()
            .map(|p| MoneyRow {
                id: p.payment.id,
                kind: "payment".into(),
                amount_fen: p.payment.amount_fen,
                on: p.payment.paid_on,
                month: p.month,
                locked: p.locked,
                method: Some(p.payment.method),
                payer: p.payment.payer,
                receipt_no: Some(p.payment.receipt_no),
                reason: None,
            })
            .chain(v.refunds.into_iter().map(|r| MoneyRow {
                id: r.refund.id,
                kind: "refund".into(),
                amount_fen: -r.refund.amount_fen,
                on: r.refund.refunded_on,
                month: r.month,
                locked: r.locked,
                method: None,
                payer: None,
                receipt_no: None,
                reason: Some(r.refund.reason),
            }))
            .collect();
        items.sort_by(|a, b| (a.on, &a.id).cmp(&(b.on, &b.id)));
        Ok(MoneyList {
            total: items.len() as u64,
            items,
        })
    }

    /// `POST /deals/{id}/payments`: the payment, its commission lines (`commission.split`),
    /// the totals, the audit row, and the move to 收费 when the fee is paid in full.
    pub fn record_payment(
        &self,
        caller: &Caller,
        id: &str,
        input: NewPayment,
        source: &str,
    ) -> Result<FeesView> {
        caller.require(Capability::FinanceEdit)?;
        if input.amount_fen < 0 {
            let refund = NewRefund {
                amount_fen: input
                    .amount_fen
                    .checked_neg()
                    .ok_or_else(|| Error::validation("amount_fen", "金额超出范围"))?,
                refunded_on: input.paid_on,
                reason: input.reason.clone().unwrap_or_default(),
            };
            return self.record_refund(caller, id, refund, source);
        }
        let receipt_no = text("receipt_no", &input.receipt_no, 64)?;
        let payer = match input.payer.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => Some(text("payer", p, 64)?),
            _ => None,
        };
        let ctx = self.ctx(caller, source)?;
        let (d, a) = ctx.write(|w| {
            let d = Self::disbursed(w, id)?;
            Self::not_before_disbursement(&d, input.paid_on, "paid_on")?;
            let month = Self::check_open(w, input.paid_on, "paid_on")?;
            let before = self.account(w, &d)?;
            before
                .check_payment(input.amount_fen)
                .map_err(|(f, r)| Error::validation(f, r))?;
            let p = Payment {
                id: new_id(w.now()),
                amount_fen: input.amount_fen,
                paid_on: input.paid_on,
                method: input.method,
                payer: payer.clone(),
                receipt_no: receipt_no.clone(),
                recorded_by: caller.user.id.clone(),
                recorded_at: w.now(),
            };
            let vol_key = format!("vol/{month}/{}", d.officer_id);
            let volume = store::fees::total(w.tx, &vol_key)?;
            let manager = Self::manager_of(w, &d.officer_id)?;
            let (channel, channel_id) = store::channels::of_customer(w.tx, &d.customer_id)?;
            let split = self
                .plugins
                .split(&SplitInput {
                    deal: &d,
                    fee_fen: before.fee_fen,
                    manager_id: manager.as_deref(),
                    channel: channel.as_deref(),
                    channel_id: channel_id.as_deref(),
                    payment: &p,
                    // Refunds beyond the month's receipts do not push the tiers below 0.
                    month_volume_fen: volume.max(0),
                    now: w.now(),
                })
                .map_err(|e| {
                    self.plugins
                        .record_failure(hooks::SPLIT, &e, Some(&d.id), w.now());
                    plugin_failed(&e)
                })?;
            let mut lines = Vec::new();
            for (k, s) in split.into_iter().enumerate() {
                if store::users::find_by_id_w(w.tx, &s.user_id)?.is_none() {
                    return Err(refused(
                        "plugin_failed",
                        format!(
                            "commission.rhai 的返回值无效：第 {} 行的员工 {} 不存在",
                            k + 1,
                            s.user_id
                        ),
                    ));
                }
                let l = CommissionLine {
                    id: format!("{}-{k}", p.id),
                    month: month.clone(),
                    on: p.paid_on,
                    user_id: s.user_id,
                    role: s.role,
                    deal_id: d.id.clone(),
                    source_id: p.id.clone(),
                    kind: LineKind::Commission,
                    amount_fen: s.amount_fen,
                    rule: s.rule,
                    adjusts: Vec::new(),
                };
                store::fees::put_line(w.tx, &l)?;
                lines.push(l);
            }
            store::fees::add_total(w.tx, &vol_key, p.amount_fen)?;
            store::fees::add_total(w.tx, &format!("in/{month}"), p.amount_fen)?;
            let mut a = before.clone();
            a.payments.push(p.clone());
            a.lines.extend(lines.iter().map(store::fees::line_key));
            store::fees::put_account(w.tx, Some(&before), &a)?;
            w.audit(
                "fee.payment",
                Some(&d.id),
                json!({"payment": p, "lines": lines.iter().map(|l| json!({
                    "user": l.user_id, "role": l.role, "amount_fen": l.amount_fen})).collect::<Vec<_>>(),
                    "balance_fen": a.balance()}),
            )?;
            let d = if a.settled() && d.stage == DealStage::Disbursed {
                self.deals().collect_fee(w, &d)?
            } else {
                d
            };
            Ok((d, a))
        })?;
        self.view(caller, &d, &a, true)
    }
}

fn plugin_failed(e: &crate::script::ScriptError) -> Error {
    Error::Refused {
        code: "plugin_failed",
        message: format!("插件出错，未写入任何记录：{e}"),
        details: json!({"file": e.file, "line": e.line, "error": e.message}),
    }
}
