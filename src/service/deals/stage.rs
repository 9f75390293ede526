//! Moving a deal through the pipeline (`domain::deal::check_move` decides), with its history,
//! the audit rows, and the customer's stage following its most advanced open deal — all in
//! the move's one write transaction.

use serde::Deserialize;
use serde_json::json;

use super::DealView;
use crate::domain::capability::Capability;
use crate::domain::deal::{self, Deal, DealStage, Refusal, StageChange, StageFields};
use crate::service::access::auth::Caller;
use crate::service::context::W;
use crate::service::customers::stage_name;
use crate::service::{Error, Result};
use crate::store;
use crate::store::customers::{Reader as Customers, Unscoped};
use crate::store::deals::Reader;

/// `POST /deals/{id}/stage`: the target stage and the fields it needs. An unknown (e.g.
/// misspelt) field is refused, not dropped: read as an object, `stage` taken out, the rest
/// read strictly as [`StageFields`] (serde's `flatten` cannot refuse unknown fields).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct MoveRequest {
    pub stage: DealStage,
    #[serde(flatten)]
    pub fields: StageFields,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for MoveRequest {
    type Error = String;

    fn try_from(mut m: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let stage = m.remove("stage").ok_or("missing field `stage`")?;
        let stage = serde_json::from_value(stage).map_err(|e| format!("stage: {e}"))?;
        // Each field alone first, so a refusal names the field it is about (serde's error for
        // the whole object would not).
        for (k, v) in &m {
            let one = serde_json::Map::from_iter([(k.clone(), v.clone())]);
            serde_json::from_value::<StageFields>(serde_json::Value::Object(one))
                .map_err(|e| format!("{k}: {e}"))?;
        }
        let fields =
            serde_json::from_value(serde_json::Value::Object(m)).map_err(|e| e.to_string())?;
        Ok(MoveRequest { stage, fields })
    }
}

fn refusal(from: DealStage, to: DealStage, r: Refusal) -> Error {
    match r {
        Refusal::Illegal(message) => Error::Refused {
            code: "deal_stage_illegal",
            message,
            details: json!({"from": from, "to": to}),
        },
        Refusal::Field(field, reason) => Error::validation(field, reason),
        Refusal::ContractRequired => Error::Refused {
            code: "deal_contract_required",
            message: "签约需要已签合同（居间服务协议；授权书、服务费确认书不算）；没有时须由经理特批（勾选特批并填写原因）".into(),
            details: json!({"field": "override"}),
        },
        Refusal::OverrideForbidden => Error::Refused {
            code: "deal_override_forbidden",
            message: "只有经理（有分配客户权限的角色）可以特批无合同签约".into(),
            details: json!({"field": "override"}),
        },
    }
}

/// Sets the customer's stage to what its open deals stand for (the most advanced one), with
/// a timeline event; nothing when no deal is open or the stage is already right, or when the
/// customer is in the recycle bin.
pub(super) fn follow_customer(w: &W<'_>, d: &Deal) -> Result<()> {
    let stages = store::deals::stages_of_customer(w.tx, &d.customer_id)?;
    let lead = deal::most_advanced_open(stages);
    store::deals::set_lead_stage(w.tx, &d.customer_id, lead)?;
    let Some(target) = lead.and_then(DealStage::customer_stage) else {
        return Ok(());
    };
    let Some(before) = Customers::unscoped(w.tx, Unscoped::DealStage).live(&d.customer_id)? else {
        return Ok(());
    };
    if before.stage == target {
        return Ok(());
    }
    let mut c = before.clone();
    c.stage = target;
    c.updated_at = w.now();
    w.put(Some(&before), &c)?;
    w.event(
        &c.id,
        "stage_changed",
        stage_name(before.stage),
        stage_name(target),
        Some(format!(
            "随业务单（{} · {}）{}",
            d.product.lender,
            d.product.name,
            d.stage.label()
        )),
    )
}

impl crate::service::deals::UseCases<'_> {
    pub fn move_deal(
        &self,
        caller: &Caller,
        id: &str,
        req: MoveRequest,
        source: &str,
    ) -> Result<DealView> {
        caller.require(Capability::DealStage)?;
        let may_override = Self::may_override(caller);
        let ctx = self.ctx(caller, source)?;
        let d = ctx.write(|w| {
            let before = Reader::scoped(w.tx, w.scope())
                .get(id)?
                .ok_or(Error::NotFound)?;
            let (from, to) = (before.stage, req.stage);
            // A signed contract whose hashes verify, read in this transaction.
            let has_contract = to == DealStage::Signed
                && crate::service::contracts::has_signed_contract(w.tx, &self.fields, &before.id)?;
            let ok = deal::check_move(
                from,
                to,
                &req.fields,
                before.approval.as_ref(),
                has_contract,
                may_override,
            )
            .map_err(|r| refusal(from, to, r))?;
            // Money is paid out on a day that has come, since 1900 (the calculator's bound):
            // a day years off skews every aging and receivable after it.
            if let Some(x) = &ok.disbursement {
                let today = crate::service::fees::today(w.now());
                let earliest = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(today);
                if x.disbursed_on > today || x.disbursed_on < earliest {
                    return Err(Error::validation(
                        "disbursed_on",
                        format!("放款日期须在 1900-01-01 与今天（{today}）之间"),
                    ));
                }
                let product =
                    crate::store::products::get_w(w.tx, &before.product.id)?.ok_or_else(|| {
                        Error::Internal(format!(
                            "deal {}: product {} is gone",
                            before.id, before.product.id
                        ))
                    })?;
                deal::check_disbursement_against(&product.terms, x)
                    .map_err(|(f, r)| Error::validation(f, r))?;
            }
            if to == DealStage::FeeCollected {
                // 收费 follows the money: a payment or waiver that settles the fee moves the
                // deal (`collect_fee`); by hand only when nothing is owed (no fee agreed).
                let owed = crate::store::fees::Reader::scoped(w.tx, w.scope())
                    .of_deal(&before)?
                    .map_or(0, |a| a.balance());
                if owed > 0 {
                    return Err(Error::Conflict {
                        code: "fee_not_collected",
                        message: format!(
                            "服务费还差 {}：回款或减免收齐后自动进入“收费”",
                            crate::domain::fee::yuan(owed)
                        ),
                    });
                }
                return self.collect_fee(w, &before);
            }
            let mut d = before.clone();
            d.stage = to;
            if ok.approval.is_some() {
                d.approval = ok.approval;
            }
            if ok.disbursement.is_some() {
                d.disbursement = ok.disbursement;
            }
            if ok.reason.is_some() {
                d.closed_reason.clone_from(&ok.reason);
            }
            let now = w.now();
            d.history.push(StageChange {
                at: now,
                by: caller.user.id.clone(),
                from: Some(from),
                to,
                note: ok.note.clone().or_else(|| ok.reason.clone()),
                override_reason: ok.override_reason.clone(),
            });
            d.updated_at = now;
            store::deals::put(w.tx, Some(&before), &d)?;
            follow_customer(w, &d)?;
            if to == DealStage::Disbursed {
                // The agreed fee (`deal.fee`), in the move's transaction: a failing plugin
                // refuses the move and nothing is written.
                self.fees().open_account(w, &d)?;
            }
            w.audit(
                "deal.stage_changed",
                Some(&d.id),
                json!({"from": from, "to": to, "reason": ok.reason, "note": ok.note,
                       "approval": ok.approval, "disbursement": ok.disbursement}),
            )?;
            if let Some(why) = &ok.override_reason {
                w.audit(
                    "deal.override",
                    Some(&d.id),
                    json!({"rule": "signed_contract", "reason": why, "to": to}),
                )?;
            }
            Ok(d)
        })?;
        self.view(caller, d)
    }
}

impl crate::service::deals::UseCases<'_> {
    /// 放款 → 收费 when the fee is paid in full (or the rest waived): the same move as
    /// `POST /deals/{id}/stage` (history, customer stage, audit row), in the caller's write
    /// transaction.
    pub(crate) fn collect_fee(&self, w: &W<'_>, before: &Deal) -> Result<Deal> {
        let (from, to) = (before.stage, DealStage::FeeCollected);
        deal::check_move(
            from,
            to,
            &StageFields::default(),
            before.approval.as_ref(),
            false,
            false,
        )
        .map_err(|r| refusal(from, to, r))?;
        let d = follow_the_money(w, before, to, "服务费已收齐")?;
        // A deal a broker brought owes them a referral fee now (docs/brokers.md).
        self.brokers().on_fee_collected(w, &d)?;
        Ok(d)
    }
}

impl crate::service::deals::UseCases<'_> {
    /// 收费 → 放款 when the fee is owed again (the settling payment removed, the agreed fee
    /// recomputed upward), in the caller's write transaction: history, customer stage, audit
    /// row with `note`, and the deal's referral fee voided or, once paid and `keep_paid` is
    /// false, the whole use case refused (`brokers::on_fee_uncollected`). Not a move anyone
    /// may ask for (`check_move` refuses going back): it follows the money, like `collect_fee`.
    pub(crate) fn uncollect_fee(
        &self,
        w: &W<'_>,
        before: &Deal,
        note: &str,
        keep_paid: bool,
    ) -> Result<Deal> {
        let d = follow_the_money(w, before, DealStage::Disbursed, note)?;
        self.brokers().on_fee_uncollected(w, &d, keep_paid)?;
        Ok(d)
    }
}

/// A move the money makes (to 收费 when the fee is collected, back to 放款 when it is owed
/// again), in the caller's transaction: history with `note`, the customer's stage, audit row.
fn follow_the_money(w: &W<'_>, before: &Deal, to: DealStage, note: &str) -> Result<Deal> {
    let from = before.stage;
    let mut d = before.clone();
    d.stage = to;
    let now = w.now();
    d.history.push(StageChange {
        at: now,
        by: w.caller().user.id.clone(),
        from: Some(from),
        to,
        note: Some(note.to_string()),
        override_reason: None,
    });
    d.updated_at = now;
    store::deals::put(w.tx, Some(before), &d)?;
    follow_customer(w, &d)?;
    w.audit(
        "deal.stage_changed",
        Some(&d.id),
        json!({"from": from, "to": to, "note": note}),
    )?;
    Ok(d)
}
