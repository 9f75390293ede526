//! Referral fees (经纪人返佣): when the fee of a deal brought by a broker is collected (the
//! deal enters 收费), hook `broker.fee` (default `plugins/broker.rhai`: 20% of the fee
//! collected, rounded down to the fen) computes what the broker is owed, in the collecting
//! payment's transaction. The fee is finance's payable (listed paid / unpaid, marked paid with
//! an audit row) and a cost of the broker's channel in the ROI report for the month it falls
//! due (`store::channels`, metric `broker_fees`). One fee per deal: a later refund does not
//! change it (finance settles that with the broker by hand). When the deal leaves 收费 again
//! (its settling payment removed, its fee recomputed upward) an unpaid fee is voided.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::deal::Deal;
use crate::domain::fee;
use crate::script::{BrokerFeeInput, hooks};
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::context::W;
use crate::service::{Error, Result, new_id};
use crate::store;
use crate::store::brokers::{FeePaid, ReferralFee};
use crate::store::fees::Reader as Fees;

/// Unpaid fees listed at most.
const UNPAID_LIMIT: usize = 500;

/// `GET /finance/referral-fees?month=&status=`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeeQuery {
    /// `YYYY-MM`: the fees falling due that month (default: every unpaid fee).
    pub month: Option<String>,
    /// `unpaid`, `paid` or `all` (default `all` with a month, `unpaid` without).
    pub status: Option<String>,
}

/// `POST /finance/referral-fees/{id}/paid`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaid {
    /// YYYY-MM-DD, not in the future; its month must be open.
    pub paid_on: NaiveDate,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeeRow {
    #[serde(flatten)]
    pub fee: ReferralFee,
    pub broker_name: String,
    pub customer_name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeesPage {
    pub items: Vec<FeeRow>,
    pub total: u64,
    /// Sum of `amount_fen` of the items.
    pub amount_fen: i64,
    /// Sum of the unpaid items' `amount_fen`.
    pub unpaid_fen: i64,
    /// The caller may mark fees paid (`finance.edit`).
    pub may_edit: bool,
}

impl crate::service::brokers::UseCases<'_> {
    fn require_firm_finance(&self, caller: &Caller, edit: bool) -> Result<()> {
        caller.require(Capability::FinanceRead)?;
        if edit {
            caller.require(Capability::FinanceEdit)?;
        }
        match self.scope_of(caller)?.visible {
            Visible::All => Ok(()),
            _ => Err(Error::Forbidden(
                crate::service::fees::FIRM_FINANCE.to_string(),
            )),
        }
    }

    /// From `deals::collect_fee`, in the transaction that moves the deal to 收费: the
    /// referral fee of a deal brought by a broker (once per deal). A plugin failure refuses
    /// the payment (nothing is written), like `deal.fee`.
    pub(crate) fn on_fee_collected(&self, w: &W<'_>, d: &Deal) -> Result<()> {
        let Some(broker_id) = d.broker_id.as_deref() else {
            return Ok(());
        };
        if store::brokers::fee_of_deal(w.tx, &d.id)?.is_some() {
            return Ok(());
        }
        let broker = store::users::find_by_id_w(w.tx, broker_id)?;
        let channel_id = broker
            .as_ref()
            .and_then(|b| b.broker.as_ref())
            .map(|b| b.channel_id.clone())
            .unwrap_or_default();
        let channel_name = store::channels::get(w.tx, &channel_id)?
            .map(|c| c.name)
            .unwrap_or_default();
        if channel_name.is_empty() {
            tracing::warn!(deal = %d.id, broker = %broker_id, "the broker's channel is gone: the referral fee counts under no channel");
        }
        let account = Fees::scoped(w.tx, w.scope()).of_deal(d)?;
        let collected = account.as_ref().map_or(0, |a| a.paid() - a.refunded());
        let now = w.now();
        let decision = self
            .plugins
            .broker_fee(&BrokerFeeInput {
                deal: d,
                collected_fen: collected,
                channel: Some(channel_name.as_str()).filter(|c| !c.is_empty()),
                channel_id: Some(channel_id.as_str()).filter(|_| !channel_name.is_empty()),
                now,
            })
            .map_err(|e| {
                self.plugins
                    .record_failure(hooks::BROKER_FEE, &e, Some(&d.id), now);
                Error::Refused {
                    code: "plugin_failed",
                    message: format!("插件出错，未写入任何记录：{e}"),
                    details: json!({"file": e.file, "line": e.line, "error": e.message}),
                }
            })?;
        let f = ReferralFee {
            id: new_id(now),
            deal_id: d.id.clone(),
            broker_id: broker_id.to_string(),
            channel_id,
            channel_name,
            month: fee::month_of(crate::service::fees::today(now)),
            base_fen: collected,
            amount_fen: decision.fee_fen,
            rule: decision.rule,
            due_at: now,
            paid: None,
        };
        store::brokers::put_fee(w.tx, None, &f)?;
        w.audit(
            "broker.fee_due",
            Some(&d.id),
            json!({"fee": f.id, "broker_id": f.broker_id, "amount_fen": f.amount_fen,
                   "base_fen": f.base_fen, "month": f.month, "channel": f.channel_name,
                   "rule": f.rule}),
        )
    }

    /// From `deals::uncollect_fee`, in the transaction that takes a deal back from 收费: the
    /// deal's referral fee, if not yet paid, is voided (audited `broker.fee_voided`). One
    /// already paid out is refused with `payment_referral_fee_paid` when `keep_paid` is false
    /// (a removed payment: the broker was paid on money that never came; a refund is recorded
    /// instead) and kept when true (a fee recomputed upward: what was collected still stands).
    pub(crate) fn on_fee_uncollected(&self, w: &W<'_>, d: &Deal, keep_paid: bool) -> Result<()> {
        let Some(f) = store::brokers::fee_of_deal(w.tx, &d.id)? else {
            return Ok(());
        };
        if let Some(paid) = &f.paid {
            if keep_paid {
                return Ok(());
            }
            return Err(Error::Conflict {
                code: "payment_referral_fee_paid",
                message: format!(
                    "这笔业务单的经纪人返佣 {} 已于 {} 支付，不能删除回款；请登记退款冲正",
                    fee::yuan(f.amount_fen),
                    paid.paid_on
                ),
            });
        }
        // Its cost is in the channel's figures of its month: a closed month's are final.
        if store::fees::is_closed(w.tx, &f.month)? {
            return Err(crate::service::fees::month_closed(&f.month));
        }
        store::brokers::void_fee(w.tx, &f)?;
        w.audit(
            "broker.fee_voided",
            Some(&d.id),
            json!({"fee": f.id, "broker_id": f.broker_id, "amount_fen": f.amount_fen,
                   "base_fen": f.base_fen, "month": f.month, "channel": f.channel_name}),
        )
    }

    /// `GET /finance/referral-fees`: the payables to brokers (finance, firm-wide).
    pub fn fees(&self, caller: &Caller, q: &FeeQuery) -> Result<FeesPage> {
        self.require_firm_finance(caller, false)?;
        let month = match q.month.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => Some(
                fee::parse_month(m)
                    .ok_or_else(|| Error::validation("month", "月份格式应为 YYYY-MM"))?,
            ),
            None => None,
        };
        let status = q
            .status
            .clone()
            .unwrap_or_else(|| if month.is_some() { "all" } else { "unpaid" }.into());
        if !["unpaid", "paid", "all"].contains(&status.as_str()) {
            return Err(Error::validation("status", "状态应为 unpaid、paid 或 all"));
        }
        if month.is_none() && status != "unpaid" {
            return Err(Error::validation("month", "查看已付或全部返佣须指定月份"));
        }
        let items = self.store.read(|tx| {
            let fees = match &month {
                Some(m) => store::brokers::fees_of_month(tx, m)?,
                None => store::brokers::unpaid(tx, UNPAID_LIMIT)?,
            };
            let mut out = Vec::new();
            for f in fees {
                let keep = match status.as_str() {
                    "unpaid" => f.paid.is_none(),
                    "paid" => f.paid.is_some(),
                    _ => true,
                };
                if !keep {
                    continue;
                }
                let broker_name = store::users::get(tx, &f.broker_id)?
                    .map(|u| u.display_name)
                    .unwrap_or_default();
                // Finance's firm-wide scope sees every deal.
                let customer_name = store::deals::Reader::scoped(tx, &self.scope_of(caller)?)
                    .get(&f.deal_id)?
                    .map(|d| d.customer_name)
                    .unwrap_or_default();
                out.push(FeeRow {
                    fee: f,
                    broker_name,
                    customer_name,
                });
            }
            Ok::<_, Error>(out)
        })?;
        Ok(FeesPage {
            total: items.len() as u64,
            amount_fen: items.iter().map(|r| r.fee.amount_fen).sum(),
            unpaid_fen: items
                .iter()
                .filter(|r| r.fee.paid.is_none())
                .map(|r| r.fee.amount_fen)
                .sum(),
            items,
            may_edit: caller.can(Capability::FinanceEdit),
        })
    }

    /// `POST /finance/referral-fees/{id}/paid`: finance paid the broker (audited).
    pub fn mark_paid(
        &self,
        caller: &Caller,
        id: &str,
        m: MarkPaid,
        source: &str,
    ) -> Result<ReferralFee> {
        self.require_firm_finance(caller, true)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let before = store::brokers::fee_w(w.tx, id)?.ok_or(Error::NotFound)?;
            if before.paid.is_some() {
                return Err(Error::Conflict {
                    code: "referral_fee_paid",
                    message: "该笔返佣已标记为已付".into(),
                });
            }
            if m.paid_on > crate::service::fees::today(w.now()) {
                return Err(Error::validation("paid_on", "日期不能晚于今天"));
            }
            let due = crate::service::fees::today(before.due_at);
            if m.paid_on < due {
                return Err(Error::validation(
                    "paid_on",
                    format!("日期不能早于返佣到期日（{due}）"),
                ));
            }
            let month = fee::month_of(m.paid_on);
            if store::fees::is_closed(w.tx, &month)? {
                return Err(crate::service::fees::month_closed(&month));
            }
            let mut f = before.clone();
            f.paid = Some(FeePaid {
                paid_on: m.paid_on,
                by: caller.user.id.clone(),
                at: w.now(),
            });
            store::brokers::put_fee(w.tx, Some(&before), &f)?;
            w.audit(
                "broker.fee_paid",
                Some(&f.deal_id),
                json!({"fee": f.id, "broker_id": f.broker_id, "amount_fen": f.amount_fen,
                       "paid_on": m.paid_on}),
            )?;
            Ok(f)
        })
    }
}
