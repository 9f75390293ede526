//! 我的提成: a user's commission lines of a month with totals, and its XLSX export (cells
//! defused against formula injection like the customer export). Everyone sees their own; a
//! holder of `finance.read` the users of their scope (finance: everyone, a manager their
//! department); anyone else's is 404.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::fee::{self, CommissionLine, LineKind};
use crate::service::access::auth::Caller;
use crate::service::customers::cells::xlsx_text;
use crate::service::{Error, Result};
use crate::store;
use crate::store::deals::Reader as Deals;
use crate::store::fees::Reader as Fees;

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// A user id (default: me).
    pub user: Option<String>,
    /// `YYYY-MM` (default: this month).
    pub month: Option<String>,
}

/// `GET /commissions?month=&user=&mine=true`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommissionQuery {
    /// `YYYY-MM` (default: this month).
    pub month: Option<String>,
    /// One user's lines (in my scope; mine without `finance.read`).
    pub user: Option<String>,
    /// Only my lines.
    pub mine: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommissionList {
    pub month: String,
    pub items: Vec<CommissionLine>,
    pub total: u64,
    pub total_fen: i64,
    /// What each line's deal is, by deal id: the deals of these lines the caller can read
    /// (one outside their scope is absent, and the line links to the deal alone).
    pub deals: BTreeMap<String, DealLabel>,
}

/// A deal named as people name it: the customer and the product.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DealLabel {
    pub customer_name: String,
    pub product_name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub user_id: String,
    pub user_name: String,
    pub month: String,
    pub closed: bool,
    /// The month's frozen hash when closed.
    pub hash: Option<String>,
    pub lines: Vec<CommissionLine>,
    pub commission_fen: i64,
    pub clawback_fen: i64,
    pub adjustment_fen: i64,
    pub total_fen: i64,
    /// What each line's deal is (see [`CommissionList::deals`]).
    pub deals: BTreeMap<String, DealLabel>,
}

impl crate::service::fees::UseCases<'_> {
    /// `GET /commissions/statement?user=&month=`.
    pub fn statement(&self, caller: &Caller, q: &StatementQuery) -> Result<Statement> {
        let user = q.user.clone().unwrap_or_else(|| caller.user.id.clone());
        let month = match q.month.as_deref() {
            None => fee::month_of(super::today(self.now())),
            Some(m) => fee::parse_month(m)
                .ok_or_else(|| Error::validation("month", "月份格式应为 YYYY-MM"))?,
        };
        let scope = self.scope_of(caller)?;
        let mine = user == caller.user.id;
        if !mine && !caller.can(Capability::FinanceRead) {
            return Err(Error::NotFound);
        }
        let (lines, rec, deals) = self.store.read(|tx| {
            let lines = Fees::scoped(tx, &scope).statement(&user, &month)?;
            let deals = deal_labels(tx, &scope, lines.iter().flatten())?;
            Ok::<_, Error>((lines, store::fees::month(tx, &month)?, deals))
        })?;
        // A scope always holds its own user: their own statement is everyone's.
        let lines = lines.ok_or(Error::NotFound)?;
        let names = self.names()?;
        let user_name = names.get(&user).cloned().ok_or(Error::NotFound)?;
        let of = |k: LineKind| -> i64 {
            lines
                .iter()
                .filter(|l| l.kind == k)
                .map(|l| l.amount_fen)
                .sum()
        };
        let (c, b, a) = (
            of(LineKind::Commission),
            of(LineKind::Clawback),
            of(LineKind::Adjustment),
        );
        let closed = rec.as_ref().is_some_and(|r| r.closed);
        Ok(Statement {
            user_id: user,
            user_name,
            month,
            closed,
            hash: rec.filter(|r| r.closed).and_then(|r| r.hash),
            lines,
            commission_fen: c,
            clawback_fen: b,
            adjustment_fen: a,
            total_fen: c + b + a,
            deals,
        })
    }

    /// `GET /commissions`: the commission lines of a month in the caller's scope — mine
    /// (`mine=true`), one user's (`user=`), or (with `finance.read`) every user's I see.
    pub fn commission_lines(&self, caller: &Caller, q: &CommissionQuery) -> Result<CommissionList> {
        let user = if q.mine == Some(true) {
            Some(caller.user.id.clone())
        } else {
            q.user.clone()
        };
        let (items, deals) = match user {
            Some(user) => {
                let s = self.statement(
                    caller,
                    &StatementQuery {
                        user: Some(user),
                        month: q.month.clone(),
                    },
                )?;
                (s.lines, s.deals)
            }
            None => {
                caller.require(Capability::FinanceRead)?;
                let month = match q.month.as_deref() {
                    None => fee::month_of(super::today(self.now())),
                    Some(m) => fee::parse_month(m)
                        .ok_or_else(|| Error::validation("month", "月份格式应为 YYYY-MM"))?,
                };
                let scope = self.scope_of(caller)?;
                self.store.read(|tx| {
                    let lines = match &scope.visible {
                        crate::service::access::scope::Visible::All => {
                            store::fees::month_lines(tx, &month)?
                        }
                        crate::service::access::scope::Visible::Owners(set) => {
                            let fees = Fees::scoped(tx, &scope);
                            let mut out = Vec::new();
                            for u in set {
                                out.extend(fees.statement(u, &month)?.unwrap_or_default());
                            }
                            out
                        }
                    };
                    let deals = deal_labels(tx, &scope, lines.iter())?;
                    Ok::<_, Error>((lines, deals))
                })?
            }
        };
        let month = items
            .first()
            .map(|l| l.month.clone())
            .or_else(|| q.month.clone())
            .unwrap_or_else(|| fee::month_of(super::today(self.now())));
        Ok(CommissionList {
            month,
            total: items.len() as u64,
            total_fen: items.iter().map(|l| l.amount_fen).sum(),
            items,
            deals,
        })
    }

    /// The statement as an XLSX file: (file name, bytes).
    pub fn statement_xlsx(&self, caller: &Caller, q: &StatementQuery) -> Result<(String, Vec<u8>)> {
        let s = self.statement(caller, q)?;
        let xl = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("statement xlsx: {e}"));
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("提成明细").map_err(xl)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let head = [
            "日期",
            "业务单",
            "角色",
            "类型",
            "金额（元）",
            "计算依据",
            "调整的原提成",
        ];
        for (i, h) in head.iter().enumerate() {
            sheet
                .write_string_with_format(0, i as u16, *h, &bold)
                .map_err(xl)?;
        }
        let mut r = 1u32;
        for l in &s.lines {
            let kind = match l.kind {
                LineKind::Commission => "提成",
                LineKind::Clawback => "冲回",
                LineKind::Adjustment => "调整",
            };
            sheet.write_string(r, 0, l.on.to_string()).map_err(xl)?;
            let deal = match s.deals.get(&l.deal_id) {
                Some(d) => format!("{} · {}（{}）", d.customer_name, d.product_name, l.deal_id),
                None => l.deal_id.clone(),
            };
            sheet.write_string(r, 1, xlsx_text(&deal)).map_err(xl)?;
            sheet.write_string(r, 2, xlsx_text(&l.role)).map_err(xl)?;
            sheet.write_string(r, 3, kind).map_err(xl)?;
            sheet
                .write_number(r, 4, l.amount_fen as f64 / 100.0)
                .map_err(xl)?;
            sheet.write_string(r, 5, xlsx_text(&l.rule)).map_err(xl)?;
            sheet
                .write_string(r, 6, xlsx_text(&l.adjusts.join(", ")))
                .map_err(xl)?;
            r += 1;
        }
        sheet
            .write_string_with_format(r, 3, "合计", &bold)
            .map_err(xl)?;
        sheet
            .write_number_with_format(r, 4, s.total_fen as f64 / 100.0, &bold)
            .map_err(xl)?;
        if let Some(h) = &s.hash {
            sheet
                .write_string(r + 1, 0, format!("月结校验 SHA-256：{h}"))
                .map_err(xl)?;
        }
        let bytes = book.save_to_buffer().map_err(xl)?;
        Ok((format!("提成-{}-{}.xlsx", s.user_name, s.month), bytes))
    }
}

/// The labels of the lines' deals the scope can read, each deal read once by its key.
fn deal_labels<'a>(
    tx: &redb::ReadTransaction,
    scope: &crate::service::access::scope::Scope,
    lines: impl Iterator<Item = &'a CommissionLine>,
) -> Result<BTreeMap<String, DealLabel>> {
    let deals = Deals::scoped(tx, scope);
    let mut out = BTreeMap::new();
    for l in lines {
        if out.contains_key(&l.deal_id) {
            continue;
        }
        if let Some(d) = deals.get(&l.deal_id)? {
            out.insert(
                l.deal_id.clone(),
                DealLabel {
                    customer_name: d.customer_name,
                    product_name: d.product.name,
                },
            );
        }
    }
    Ok(out)
}
