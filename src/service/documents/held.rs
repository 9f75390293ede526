//! The 权证 page: what the firm holds now (received or lent out), and the overdue list
//! (lent out longer than `documents.overdue_days`), paged from `document_keys` and filtered
//! by the caller's scope; its XLSX export (audited).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::UseCases;
use crate::domain::capability::Capability;
use crate::domain::custody::{self, DocStatus};
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::customers::cells::xlsx_text;
use crate::service::{Error, Result};
use crate::store;
use crate::store::deals::Reader;

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustodyQuery {
    /// `received` or `lent_out`; absent: both.
    pub status: Option<DocStatus>,
    /// `1`: only documents lent out longer than `documents.overdue_days`, oldest first.
    pub overdue: Option<u8>,
    /// 1–200, default 50.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// One held document with its deal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustodyRow {
    pub deal_id: String,
    pub customer_name: String,
    pub product_name: String,
    pub lender: String,
    pub officer_id: String,
    pub officer_name: Option<String>,
    pub item_id: String,
    pub name: String,
    pub status: DocStatus,
    pub custodian_name: Option<String>,
    pub holder: Option<String>,
    pub received_at: Option<chrono::DateTime<chrono::Utc>>,
    pub out_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whole days lent out so far.
    pub days_out: Option<i64>,
    pub overdue: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustodyPage {
    pub items: Vec<CustodyRow>,
    pub next_cursor: Option<String>,
    pub total: u64,
    pub overdue_days: u32,
}

/// The export's bytes.
pub struct CustodyExport {
    pub bytes: Vec<u8>,
    pub filename: String,
    pub rows: usize,
}

/// Rows an export holds at most (the firm's held documents; a larger set is cut, and says so).
const EXPORT_MAX: usize = 20_000;

impl UseCases<'_> {
    /// Held documents of the deals the caller sees (`deal.read`).
    pub fn custody(&self, caller: &Caller, q: &CustodyQuery) -> Result<CustodyPage> {
        let limit = match q.limit {
            None => 50,
            Some(n @ 1..=200) => n,
            Some(_) => return Err(Error::validation("limit", "每页条数须在 1 到 200 之间")),
        };
        self.custody_rows(caller, q, limit)
    }

    fn custody_rows(&self, caller: &Caller, q: &CustodyQuery, limit: usize) -> Result<CustodyPage> {
        caller.require(Capability::DealRead)?;
        if q.status.is_some_and(|s| !s.held()) {
            return Err(Error::validation("status", "只能筛选在库或借出的资料"));
        }
        let scope = self.scope_of(caller)?;
        let now = self.now();
        let days = self.config.documents.overdue_days;
        let out_before =
            (q.overdue == Some(1)).then(|| now - chrono::Duration::days(i64::from(days)));
        let users = match &scope.visible {
            Visible::All => None,
            Visible::Owners(set) => Some(set),
        };
        let names: BTreeMap<String, String> = self
            .store
            .read(store::users::all)?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        let (rows, next_cursor, total) = self.store.read(|tx| {
            let (held, next, total) = store::custody::held_page(
                tx,
                q.status,
                out_before,
                users,
                q.cursor.as_deref(),
                limit,
            )?;
            let deals = Reader::scoped(tx, &scope);
            let mut rows = Vec::with_capacity(held.len());
            let mut lists = BTreeMap::new();
            for h in held {
                // Read again through the scoped reader: keys behind a change never leak.
                let Some(deal) = deals.get(&h.deal_id)? else {
                    continue;
                };
                if !lists.contains_key(&h.deal_id) {
                    lists.insert(h.deal_id.clone(), store::custody::get(tx, &h.deal_id)?);
                }
                let Some(Some(list)) = lists.get(&h.deal_id) else {
                    continue;
                };
                let Some(item) = list.item(&h.item_id) else {
                    continue;
                };
                let overdue = item.status == DocStatus::LentOut
                    && item
                        .out_at
                        .is_some_and(|at| custody::overdue(at, now, days));
                rows.push(CustodyRow {
                    deal_id: deal.id.clone(),
                    customer_name: deal.customer_name.clone(),
                    product_name: deal.product.name.clone(),
                    lender: deal.product.lender.clone(),
                    officer_name: names.get(&deal.officer_id).cloned(),
                    officer_id: deal.officer_id.clone(),
                    item_id: item.id.clone(),
                    name: item.name.clone(),
                    status: item.status,
                    custodian_name: item
                        .custodian_id
                        .as_ref()
                        .and_then(|c| names.get(c).cloned()),
                    holder: item.holder.clone(),
                    received_at: item.received_at,
                    out_at: item.out_at,
                    days_out: item.out_at.map(|at| (now - at).num_days()),
                    overdue,
                });
            }
            Ok::<_, Error>((rows, next, total))
        })?;
        Ok(CustodyPage {
            items: rows,
            next_cursor,
            total,
            overdue_days: days,
        })
    }

    /// The held documents as XLSX (`deal.read`; audited with the filter and row count).
    pub fn export_custody(
        &self,
        caller: &Caller,
        q: &CustodyQuery,
        source: &str,
    ) -> Result<CustodyExport> {
        let q = CustodyQuery {
            cursor: None,
            ..q.clone()
        };
        let page = self.custody_rows(caller, &q, EXPORT_MAX)?;
        let xlsx = |e: rust_xlsxwriter::XlsxError| Error::Internal(e.to_string());
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let headers = [
            "客户",
            "产品",
            "机构",
            "负责人",
            "资料",
            "状态",
            "保管人",
            "持有人",
            "收件时间",
            "借出时间",
            "借出天数",
            "超期",
        ];
        for (col, h) in headers.iter().enumerate() {
            let col = u16::try_from(col).map_err(|e| Error::Internal(e.to_string()))?;
            sheet.write_string(0, col, *h).map_err(xlsx)?;
        }
        let zone = crate::jobs::schedule::zone();
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        for (i, r) in page.items.iter().enumerate() {
            let row = u32::try_from(i + 1).map_err(|e| Error::Internal(e.to_string()))?;
            let cells = [
                r.customer_name.clone(),
                r.product_name.clone(),
                r.lender.clone(),
                r.officer_name.clone().unwrap_or_default(),
                r.name.clone(),
                r.status.label().to_string(),
                r.custodian_name.clone().unwrap_or_default(),
                r.holder.clone().unwrap_or_default(),
                when(r.received_at),
                when(r.out_at),
                r.days_out.map(|d| d.to_string()).unwrap_or_default(),
                if r.overdue { "是" } else { "" }.to_string(),
            ];
            for (col, cell) in cells.iter().enumerate() {
                let col = u16::try_from(col).map_err(|e| Error::Internal(e.to_string()))?;
                sheet
                    .write_string(row, col, xlsx_text(cell))
                    .map_err(xlsx)?;
            }
        }
        let bytes = book.save_to_buffer().map_err(xlsx)?;
        let rows = page.items.len();
        let now = self.now();
        self.store.write(|tx| {
            let detail = json!({"rows": rows, "status": q.status, "overdue": q.overdue == Some(1),
                                "truncated": page.next_cursor.is_some()});
            let entry = crate::service::access::audit::by_user(
                &caller.user,
                "document.exported",
                source,
                None,
                detail,
            );
            crate::service::access::audit::record(tx, now, entry)
        })?;
        let stamp = now.with_timezone(&zone).format("%Y%m%d-%H%M");
        Ok(CustodyExport {
            bytes,
            filename: format!("权证-{stamp}.xlsx"),
            rows,
        })
    }
}
