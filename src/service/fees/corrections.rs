//! Corrections of a deal's fee account, each in one write transaction with its audit row:
//! refunds (with the clawback of the commission, or adjustment lines when the originals are in
//! a closed month), waivers by managers, rebate receipts, removing a payment recorded by
//! mistake, and recomputing the agreed fee.

use std::collections::BTreeSet;

use serde_json::json;

use super::{
    FeesView, NewRebateReceipt, NewRefund, NewWaiver, Recompute, month_closed, refused, text,
};
use crate::domain::capability::Capability;
use crate::domain::deal::DealStage;
use crate::domain::fee::{self, CommissionLine, LineKind, RebateReceipt, Refund, Waiver};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result, new_id};
use crate::store;
use crate::store::fees::Reader as Fees;

impl crate::service::fees::UseCases<'_> {
    /// `DELETE /deals/{id}/payments/{payment_id}` (`finance.edit`): a payment recorded by
    /// mistake is removed with its commission lines and totals, in an open month only, and
    /// only while the deal has no refunds (a refund's clawback was computed from it). A deal
    /// at 收费 that owes again goes back to 放款, its unpaid referral fee voided; a referral
    /// fee already paid out refuses the removal (409 `payment_referral_fee_paid`).
    pub fn remove_payment(
        &self,
        caller: &Caller,
        id: &str,
        payment_id: &str,
        reason: &str,
        source: &str,
    ) -> Result<FeesView> {
        caller.require(Capability::FinanceEdit)?;
        let reason = text("reason", reason, 200)?;
        let ctx = self.ctx(caller, source)?;
        let (d, a) = ctx.write(|w| {
            let d = Self::disbursed(w, id)?;
            let before = Fees::scoped(w.tx, w.scope())
                .of_deal(&d)?
                .ok_or(Error::NotFound)?;
            let p = before
                .payments
                .iter()
                .find(|p| p.id == payment_id)
                .cloned()
                .ok_or(Error::NotFound)?;
            let month = fee::month_of(p.paid_on);
            if store::fees::is_closed(w.tx, &month)? {
                return Err(month_closed(&month));
            }
            if !before.refunds.is_empty() {
                return Err(refused(
                    "payment_has_refunds",
                    "该业务单已有退款，不能删除回款；请登记退款冲正".into(),
                ));
            }
            let mine: Vec<String> = before
                .lines
                .iter()
                .filter(|k| k.contains(&format!("/{}-", p.id)))
                .cloned()
                .collect();
            for l in store::fees::lines_by_key(w.tx, &mine)? {
                store::fees::remove_line(w.tx, &l)?;
            }
            store::fees::add_total(
                w.tx,
                &format!("vol/{month}/{}", d.officer_id),
                -p.amount_fen,
            )?;
            store::fees::add_total(w.tx, &format!("in/{month}"), -p.amount_fen)?;
            let mut a = before.clone();
            a.payments.retain(|x| x.id != p.id);
            a.lines.retain(|k| !mine.contains(k));
            store::fees::put_account(w.tx, Some(&before), &a)?;
            w.audit(
                "fee.payment_removed",
                Some(&d.id),
                json!({"payment": p, "reason": reason, "lines": mine, "balance_fen": a.balance()}),
            )?;
            // The fee is owed again: the deal leaves 收费, and a broker's referral fee goes
            // with it (refused, nothing written, once it was paid out).
            let d = if !a.settled() && d.stage == DealStage::FeeCollected {
                self.deals()
                    .uncollect_fee(w, &d, "回款删除，服务费未收齐", false)?
            } else {
                d
            };
            Ok((d, a))
        })?;
        self.view(caller, &d, &a, true)
    }

    /// `POST /deals/{id}/refunds`: the refund and the clawback of the commission of the deal's
    /// payments, proportionally; lines whose month is closed are corrected by adjustment lines
    /// in the refund's (open) month that name them.
    pub fn record_refund(
        &self,
        caller: &Caller,
        id: &str,
        input: NewRefund,
        source: &str,
    ) -> Result<FeesView> {
        caller.require(Capability::FinanceEdit)?;
        let reason = text("reason", &input.reason, 200)?;
        let ctx = self.ctx(caller, source)?;
        let (d, a) = ctx.write(|w| {
            let d = Self::disbursed(w, id)?;
            let month = Self::check_open(w, input.refunded_on, "refunded_on")?;
            let before = self.account(w, &d)?;
            before
                .check_refund(input.amount_fen)
                .map_err(|(f, r)| Error::validation(f, r))?;
            if before
                .payments
                .iter()
                .map(|p| p.paid_on)
                .min()
                .is_some_and(|first| input.refunded_on < first)
            {
                return Err(Error::validation(
                    "refunded_on",
                    "退款日期不能早于首笔回款日期",
                ));
            }
            let r = Refund {
                id: new_id(w.now()),
                amount_fen: input.amount_fen,
                refunded_on: input.refunded_on,
                reason: reason.clone(),
                recorded_by: caller.user.id.clone(),
                recorded_at: w.now(),
            };
            // The original lines: the account keeps the keys of every line written for it.
            let original = store::fees::lines_by_key(w.tx, &before.lines)?;
            let claws = fee::clawback(&original, before.paid(), before.refunded(), r.amount_fen);
            let mut lines = Vec::new();
            for (k, (user, role, amount, refs)) in claws.into_iter().enumerate() {
                let mut closed_refs = Vec::new();
                for line_ref in &refs {
                    let m = line_ref.split('/').next().unwrap_or_default();
                    if m != month && store::fees::is_closed(w.tx, m)? {
                        closed_refs.push(line_ref.clone());
                    }
                }
                let adjustment = !closed_refs.is_empty();
                let l = CommissionLine {
                    id: format!("{}-{k}", r.id),
                    month: month.clone(),
                    on: r.refunded_on,
                    user_id: user,
                    role,
                    deal_id: d.id.clone(),
                    source_id: r.id.clone(),
                    kind: if adjustment {
                        LineKind::Adjustment
                    } else {
                        LineKind::Clawback
                    },
                    amount_fen: amount,
                    rule: if adjustment {
                        format!(
                            "退款 {} 冲回提成（原提成在已月结的 {}，本月调整）",
                            fee::yuan(r.amount_fen),
                            closed_refs
                                .iter()
                                .filter_map(|x| x.split('/').next())
                                .collect::<BTreeSet<_>>()
                                .into_iter()
                                .collect::<Vec<_>>()
                                .join("、")
                        )
                    } else {
                        format!("退款 {} 按比例冲回提成", fee::yuan(r.amount_fen))
                    },
                    adjusts: refs,
                };
                store::fees::put_line(w.tx, &l)?;
                lines.push(l);
            }
            store::fees::add_total(
                w.tx,
                &format!("vol/{month}/{}", d.officer_id),
                -r.amount_fen,
            )?;
            store::fees::add_total(w.tx, &format!("out/{month}"), r.amount_fen)?;
            let mut a = before.clone();
            a.refunds.push(r.clone());
            a.lines.extend(lines.iter().map(store::fees::line_key));
            store::fees::put_account(w.tx, Some(&before), &a)?;
            w.audit(
                "fee.refund",
                Some(&d.id),
                json!({"refund": r, "lines": lines.iter().map(|l| json!({
                    "user": l.user_id, "amount_fen": l.amount_fen, "kind": l.kind,
                    "adjusts": l.adjusts})).collect::<Vec<_>>(), "balance_fen": a.balance()}),
            )?;
            Ok((d, a))
        })?;
        self.view(caller, &d, &a, true)
    }

    /// `POST /deals/{id}/fee-waivers`: a manager lets part of the balance go (audited).
    pub fn waive(
        &self,
        caller: &Caller,
        id: &str,
        input: NewWaiver,
        source: &str,
    ) -> Result<FeesView> {
        caller.require(Capability::DealRead)?;
        if !Self::may_waive(caller) {
            return Err(Error::Forbidden(Capability::CustomerAssign.to_string()));
        }
        let reason = text("reason", &input.reason, 200)?;
        let ctx = self.ctx(caller, source)?;
        let (d, a) = ctx.write(|w| {
            let d = Self::disbursed(w, id)?;
            let before = self.account(w, &d)?;
            before
                .check_waiver(input.amount_fen)
                .map_err(|(f, r)| Error::validation(f, r))?;
            let x = Waiver {
                id: new_id(w.now()),
                amount_fen: input.amount_fen,
                reason: reason.clone(),
                by: caller.user.id.clone(),
                at: w.now(),
            };
            let mut a = before.clone();
            a.waivers.push(x.clone());
            store::fees::put_account(w.tx, Some(&before), &a)?;
            w.audit(
                "fee.waived",
                Some(&d.id),
                json!({"waiver": x, "balance_fen": a.balance()}),
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

    /// `POST /deals/{id}/rebate-receipts`: money received from the lender.
    pub fn receive_rebate(
        &self,
        caller: &Caller,
        id: &str,
        input: NewRebateReceipt,
        source: &str,
    ) -> Result<FeesView> {
        caller.require(Capability::FinanceEdit)?;
        let receipt_no = text("receipt_no", &input.receipt_no, 64)?;
        let ctx = self.ctx(caller, source)?;
        let (d, a) = ctx.write(|w| {
            let d = Self::disbursed(w, id)?;
            Self::not_before_disbursement(&d, input.received_on, "received_on")?;
            Self::check_open(w, input.received_on, "received_on")?;
            let before = self.account(w, &d)?;
            before
                .check_rebate_receipt(input.amount_fen)
                .map_err(|(f, r)| Error::validation(f, r))?;
            let x = RebateReceipt {
                id: new_id(w.now()),
                amount_fen: input.amount_fen,
                received_on: input.received_on,
                receipt_no: receipt_no.clone(),
                recorded_by: caller.user.id.clone(),
                recorded_at: w.now(),
            };
            let mut a = before.clone();
            a.rebate_receipts.push(x.clone());
            store::fees::put_account(w.tx, Some(&before), &a)?;
            w.audit(
                "fee.rebate_received",
                Some(&d.id),
                json!({"receipt": x, "rebate_balance_fen": a.rebate_balance()}),
            )?;
            Ok((d, a))
        })?;
        self.view(caller, &d, &a, true)
    }

    /// `POST /deals/{id}/fee-recompute`: finance runs `deal.fee` again (e.g. after the firm
    /// changed its plugin), with a reason; audited with the old and new fee.
    pub fn recompute(
        &self,
        caller: &Caller,
        id: &str,
        input: Recompute,
        source: &str,
    ) -> Result<FeesView> {
        caller.require(Capability::FinanceEdit)?;
        let reason = text("reason", &input.reason, 200)?;
        let ctx = self.ctx(caller, source)?;
        let (d, a) = ctx.write(|w| {
            let mut d = Self::disbursed(w, id)?;
            let mut terms = None;
            if input.product_fee {
                // Products are never deleted (only deactivated): a missing one is damage.
                let p = store::products::get_w(w.tx, &d.product.id)?.ok_or_else(|| {
                    Error::Internal(format!("deal {}: product {} is gone", d.id, d.product.id))
                })?;
                let was = d.clone();
                terms = Some(
                    json!({"from": was.product.service_fee, "to": p.terms.fees.service_fee,
                                    "product_version": p.version}),
                );
                d.product.service_fee = p.terms.fees.service_fee;
                d.updated_at = w.now();
                store::deals::put(w.tx, Some(&was), &d)?;
            }
            let before = self.account(w, &d)?;
            let f = self.compute(w, &d)?;
            let mut a = before.clone();
            a.fee_fen = f.fee_fen;
            a.fee_rule = f.rule;
            // Below what was collected the deal would owe money back: a refund comes first.
            if a.balance() < 0 {
                let kept = before.paid() - before.refunded() + before.waived();
                return Err(Error::Conflict {
                    code: "fee_below_collected",
                    message: format!(
                        "重新计算的服务费 {} 低于已收（含减免）的 {}：请先登记退款",
                        fee::yuan(a.fee_fen),
                        fee::yuan(kept)
                    ),
                });
            }
            store::fees::put_account(w.tx, Some(&before), &a)?;
            w.audit(
                "fee.recomputed",
                Some(&d.id),
                json!({"from_fen": before.fee_fen, "to_fen": a.fee_fen, "rule": a.fee_rule,
                       "reason": reason, "product_fee": terms}),
            )?;
            // Settled either way, or no longer: the deal follows (a referral fee already paid
            // out stays, it was paid on money collected).
            let d = if a.settled() && d.stage == DealStage::Disbursed {
                self.deals().collect_fee(w, &d)?
            } else if before.settled() && !a.settled() && d.stage == DealStage::FeeCollected {
                // Only when this recompute is what unsettles it: a deal left owing by a refund
                // stays at 收费 (docs/finance.md) whatever a later recompute does.
                self.deals()
                    .uncollect_fee(w, &d, "服务费重新计算，未收齐", true)?
            } else {
                d
            };
            Ok((d, a))
        })?;
        self.view(caller, &d, &a, true)
    }
}
