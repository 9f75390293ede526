//! The finance lists (应收, 本月回款, 逾期, 返佣应收): ranges of `store::fees` keys over the
//! officers the caller sees (`finance.read`: the finance role sees everyone, a manager their
//! department), each row's deal read through the caller's deal reader.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::fee::{self, FeeAccount, PayMethod};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store;
use crate::store::deals::Reader as Deals;
use crate::store::fees::Reader as Fees;

/// A fee is overdue this many days after disbursement (docs/finance.md).
pub const OVERDUE_DAYS: i64 = 30;

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinanceQuery {
    /// `YYYY-MM` (payments; default: this month).
    pub month: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceivableRow {
    pub deal_id: String,
    pub customer_name: String,
    pub product_name: String,
    pub lender: String,
    pub officer_id: String,
    pub officer_name: String,
    pub disbursed_on: NaiveDate,
    pub fee_fen: i64,
    pub paid_fen: i64,
    pub balance_fen: i64,
    pub rebate_fen: i64,
    pub rebate_received_fen: i64,
    pub rebate_balance_fen: i64,
    /// Days since disbursement.
    pub days: i64,
    /// Ageing bucket: `0-30`, `31-60`, `61-90`, `90+`.
    pub bucket: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    pub bucket: String,
    pub count: u64,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceivablePage {
    pub items: Vec<ReceivableRow>,
    pub total_fen: i64,
    pub buckets: Vec<Bucket>,
}

/// A payment (positive) or refund (negative) of a month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MoveRow {
    pub id: String,
    /// `payment` or `refund`.
    pub kind: String,
    pub deal_id: String,
    pub customer_name: String,
    pub officer_id: String,
    pub officer_name: String,
    pub on: NaiveDate,
    pub amount_fen: i64,
    pub method: Option<PayMethod>,
    pub receipt_no: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MovePage {
    pub month: String,
    pub closed: bool,
    pub items: Vec<MoveRow>,
    pub received_fen: i64,
    pub refunded_fen: i64,
    pub net_fen: i64,
}

pub fn bucket(days: i64) -> &'static str {
    match days {
        ..=30 => "0-30",
        31..=60 => "31-60",
        61..=90 => "61-90",
        _ => "90+",
    }
}

impl crate::service::fees::UseCases<'_> {
    pub(super) fn names(&self) -> Result<BTreeMap<String, String>> {
        Ok(self
            .store
            .read(store::users::all)?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect())
    }

    fn rows(
        &self,
        caller: &Caller,
        pick: impl Fn(&Fees<'_>) -> store::Result<Vec<FeeAccount>>,
    ) -> Result<Vec<ReceivableRow>> {
        caller.require(Capability::FinanceRead)?;
        let scope = self.scope_of(caller)?;
        let names = self.names()?;
        let today = super::today(self.now());
        let mut rows = self.store.read(|tx| {
            let deals = Deals::scoped(tx, &scope);
            let mut out = Vec::new();
            for a in pick(&Fees::scoped(tx, &scope))? {
                let Some(d) = deals.get(&a.deal_id)? else {
                    continue;
                };
                let days = (today - a.disbursed_on).num_days();
                out.push(ReceivableRow {
                    deal_id: d.id.clone(),
                    customer_name: d.customer_name.clone(),
                    product_name: d.product.name.clone(),
                    lender: d.product.lender.clone(),
                    officer_name: names.get(&a.officer_id).cloned().unwrap_or_default(),
                    officer_id: a.officer_id.clone(),
                    disbursed_on: a.disbursed_on,
                    fee_fen: a.fee_fen,
                    paid_fen: a.paid() - a.refunded(),
                    balance_fen: a.balance(),
                    rebate_fen: a.rebate_fen,
                    rebate_received_fen: a.rebate_received(),
                    rebate_balance_fen: a.rebate_balance(),
                    days,
                    bucket: bucket(days).to_string(),
                });
            }
            Ok::<_, Error>(out)
        })?;
        rows.sort_by_key(|r| r.disbursed_on);
        Ok(rows)
    }

    fn page(rows: Vec<ReceivableRow>, amount: impl Fn(&ReceivableRow) -> i64) -> ReceivablePage {
        let buckets = ["0-30", "31-60", "61-90", "90+"]
            .into_iter()
            .map(|b| {
                let of: Vec<&ReceivableRow> = rows.iter().filter(|r| r.bucket == b).collect();
                Bucket {
                    bucket: b.to_string(),
                    count: of.len() as u64,
                    amount_fen: of.iter().map(|r| amount(r)).sum(),
                }
            })
            .collect();
        ReceivablePage {
            total_fen: rows.iter().map(&amount).sum(),
            items: rows,
            buckets,
        }
    }

    /// `GET /finance/receivables`: outstanding fees with ageing buckets.
    pub fn receivables(&self, caller: &Caller) -> Result<ReceivablePage> {
        let rows = self.rows(caller, |f| f.receivables())?;
        Ok(Self::page(rows, |r| r.balance_fen))
    }

    /// `GET /finance/overdue`: outstanding fees more than [`OVERDUE_DAYS`] after disbursement.
    pub fn overdue(&self, caller: &Caller) -> Result<ReceivablePage> {
        let rows = self
            .rows(caller, |f| f.receivables())?
            .into_iter()
            .filter(|r| r.days > OVERDUE_DAYS)
            .collect();
        Ok(Self::page(rows, |r| r.balance_fen))
    }

    /// `GET /finance/rebates`: rebates the lenders still owe.
    pub fn rebates(&self, caller: &Caller) -> Result<ReceivablePage> {
        let rows = self.rows(caller, |f| f.rebates())?;
        Ok(Self::page(rows, |r| r.rebate_balance_fen))
    }

    /// `GET /finance/payments?month=`: payments and refunds of a month in the caller's scope.
    pub fn month_payments(&self, caller: &Caller, q: &super::FinanceQuery) -> Result<MovePage> {
        caller.require(Capability::FinanceRead)?;
        let month = match q.month.as_deref() {
            None => fee::month_of(super::today(self.now())),
            Some(m) => fee::parse_month(m)
                .ok_or_else(|| Error::validation("month", "月份格式应为 YYYY-MM"))?,
        };
        let scope = self.scope_of(caller)?;
        let names = self.names()?;
        let (moves, closed) = self.store.read(|tx| {
            let moves = Fees::scoped(tx, &scope).month_moves(&month)?;
            let deals = Deals::scoped(tx, &scope);
            let mut out = Vec::new();
            for (id, a) in moves {
                let Some(d) = deals.get(&a.deal_id)? else {
                    continue;
                };
                let officer_name = names.get(&a.officer_id).cloned().unwrap_or_default();
                if let Some(p) = a.payments.iter().find(|p| p.id == id) {
                    out.push(MoveRow {
                        id,
                        kind: "payment".into(),
                        deal_id: d.id.clone(),
                        customer_name: d.customer_name.clone(),
                        officer_id: a.officer_id.clone(),
                        officer_name,
                        on: p.paid_on,
                        amount_fen: p.amount_fen,
                        method: Some(p.method),
                        receipt_no: Some(p.receipt_no.clone()),
                        reason: None,
                    });
                } else if let Some(r) = a.refunds.iter().find(|r| r.id == id) {
                    out.push(MoveRow {
                        id,
                        kind: "refund".into(),
                        deal_id: d.id.clone(),
                        customer_name: d.customer_name.clone(),
                        officer_id: a.officer_id.clone(),
                        officer_name,
                        on: r.refunded_on,
                        amount_fen: -r.amount_fen,
                        method: None,
                        receipt_no: None,
                        reason: Some(r.reason.clone()),
                    });
                }
            }
            let closed = store::fees::month(tx, &month)?.is_some_and(|c| c.closed);
            Ok::<_, Error>((out, closed))
        })?;
        let mut items = moves;
        items.sort_by(|a, b| (a.on, &a.id).cmp(&(b.on, &b.id)));
        let received: i64 = items
            .iter()
            .filter(|m| m.amount_fen > 0)
            .map(|m| m.amount_fen)
            .sum();
        let refunded: i64 = -items
            .iter()
            .filter(|m| m.amount_fen < 0)
            .map(|m| m.amount_fen)
            .sum::<i64>();
        Ok(MovePage {
            month,
            closed,
            items,
            received_fen: received,
            refunded_fen: refunded,
            net_fen: received - refunded,
        })
    }
}
