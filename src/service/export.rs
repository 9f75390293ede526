//! Customer export (CSV for any tool, XLSX for Excel/WPS): needs `customer.export`, applies the
//! caller's scope and filters, masks phones and ID numbers unless the caller may see every
//! value in full (the field privilege with no daily quota — an export must not become a way
//! around the quota), and is audited with the filter and the row count.

use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::customers::{CustomerFilter, FilterContext, shanghai};
use super::{App, Error, Result, audit};
use crate::domain::custom_field;
use crate::domain::customer::{Customer, Stage};
use crate::store::{customers, users};

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    #[param(inline)]
    pub format: ExportFormat,
    /// Full phone and ID numbers (needs the field privileges without a daily quota).
    #[serde(default)]
    pub full: bool,
    pub stage: Option<Stage>,
    pub grade: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<String>,
    pub channel: Option<String>,
}

pub struct ExportFile {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub filename: String,
    pub rows: usize,
}

const HEADERS: &[&str] = &[
    "姓名",
    "手机号",
    "其他电话",
    "身份证号",
    "性别",
    "出生日期",
    "城市",
    "单位名称",
    "地址",
    "渠道",
    "阶段",
    "等级",
    "星级",
    "意向",
    "标签",
    "贷款金额(元)",
    "贷款期限(月)",
    "贷款用途",
    "负责人",
    "最近跟进",
    "下次跟进",
    "创建时间",
];

pub fn stage_label(s: Stage) -> &'static str {
    match s {
        Stage::Lead => "线索",
        Stage::Contacted => "已联系",
        Stage::Qualified => "已筛选",
        Stage::Invited => "已邀约",
        Stage::Visited => "已上门",
        Stage::Signed => "已签约",
        Stage::Won => "已成交",
        Stage::Lost => "已流失",
        Stage::Invalid => "无效",
    }
}

/// Fen as an exact yuan string: 30000050 → "300000.50".
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

pub use super::cells::defuse;
use super::cells::xlsx_text;

impl App {
    pub fn export_customers(
        &self,
        caller: &Caller,
        q: &ExportQuery,
        source: &str,
    ) -> Result<ExportFile> {
        caller.require("customer.export")?;
        let scope = self.scope_of(caller)?;
        let full_allowed = caller.access.daily_reveal_quota.is_none();
        let full_phone =
            q.full && full_allowed && caller.access.field_privileges.contains("phone.view_full");
        let full_id = q.full
            && full_allowed
            && caller
                .access
                .field_privileges
                .contains("id_number.view_full");
        if q.full && !(full_phone || full_id) {
            return Err(Error::Forbidden("phone.view_full（无每日次数限制）".into()));
        }
        let filter = CustomerFilter {
            stage: q.stage,
            grade: q.grade.clone(),
            tag: q.tag.clone(),
            owner: q.owner.clone(),
            channel: q.channel.clone(),
            ..Default::default()
        };
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let (rows, owners, defs) = self.store.read(|tx| {
            let mut rows: Vec<Customer> = Vec::new();
            customers::scan(tx, None, |c| {
                if c.deleted_at.is_none() && scope.can_see(&c) && filter.matches(&c, &ctx) {
                    rows.push(c);
                }
                true
            })?;
            let owners: std::collections::HashMap<String, String> = users::all(tx)?
                .into_iter()
                .map(|u| (u.id, u.display_name))
                .collect();
            // One column per active custom field, in display order.
            let defs: Vec<_> = super::customer_settings::custom_fields(tx)?
                .into_iter()
                .filter(|d| d.active)
                .collect();
            Ok::<_, Error>((rows, owners, defs))
        })?;
        let tz = shanghai();
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        let mut table: Vec<Vec<String>> = Vec::with_capacity(rows.len());
        for c in &rows {
            let open = |field: &str, enc: &str, masked: &str, allowed: bool| -> Result<String> {
                if allowed {
                    self.fields
                        .decrypt(&c.id, field, enc)
                        .map_err(|e| Error::Internal(e.to_string()))
                } else {
                    Ok(masked.to_string())
                }
            };
            let extra = c
                .extra_phones
                .iter()
                .enumerate()
                .map(|(i, p)| open(&format!("extra_phones.{i}"), &p.enc, &p.masked, full_phone))
                .collect::<Result<Vec<_>>>()?
                .join(";");
            let id_number = match &c.id_number {
                Some(s) => open("id_number", &s.enc, &s.masked, full_id)?,
                None => String::new(),
            };
            let mut row = vec![
                c.name.clone(),
                open("phone", &c.phone.enc, &c.phone.masked, full_phone)?,
                extra,
                id_number,
                c.gender
                    .map(|g| g.label_zh().to_string())
                    .unwrap_or_default(),
                c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                c.city.clone().unwrap_or_default(),
                c.company.clone().unwrap_or_default(),
                c.address.clone().unwrap_or_default(),
                c.channel.clone().unwrap_or_default(),
                stage_label(c.stage).to_string(),
                c.grade.clone().unwrap_or_default(),
                c.stars.to_string(),
                c.intent.clone().unwrap_or_default(),
                c.tags.join(";"),
                c.demand.amount_fen.map(yuan).unwrap_or_default(),
                c.demand
                    .term_months
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                c.demand.purpose.clone().unwrap_or_default(),
                c.owner_id
                    .as_ref()
                    .and_then(|o| owners.get(o).cloned())
                    .unwrap_or_else(|| "公海".into()),
                time(c.last_followup_at),
                time(c.next_followup_at),
                time(Some(c.created_at)),
            ];
            row.extend(defs.iter().map(|d| {
                c.custom
                    .get(&d.key)
                    .map(|v| custom_field::display(d, v))
                    .unwrap_or_default()
            }));
            table.push(row);
        }
        let headers: Vec<String> = HEADERS
            .iter()
            .map(|h| (*h).to_string())
            .chain(defs.iter().map(|d| d.label.clone()))
            .collect();
        let stamp = self.now().with_timezone(&tz).format("%Y%m%d-%H%M");
        let (bytes, content_type, ext) = match q.format {
            ExportFormat::Csv => (
                csv_bytes(&headers, &table)?,
                "text/csv; charset=utf-8",
                "csv",
            ),
            ExportFormat::Xlsx => (
                xlsx_bytes(&headers, &table)?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
        };
        let now = self.now();
        self.store.write(|tx| {
            audit::record(tx, now, audit::by_user(&caller.user, "customer.exported", source, None, json!({
                "format": ext, "rows": table.len(), "full": full_phone || full_id, "filter": filter,
            })))
        })?;
        Ok(ExportFile {
            bytes,
            content_type,
            filename: format!("客户-{stamp}.{ext}"),
            rows: table.len(),
        })
    }
}

fn csv_bytes(headers: &[String], table: &[Vec<String>]) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::Internal(e.to_string());
    // A BOM so Excel and WPS open UTF-8 Chinese correctly.
    let mut w = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
    w.write_record(headers.iter().map(|h| defuse(h)))
        .map_err(err)?;
    for row in table {
        w.write_record(row.iter().map(|c| defuse(c))).map_err(err)?;
    }
    w.into_inner().map_err(|e| Error::Internal(e.to_string()))
}

fn xlsx_bytes(headers: &[String], table: &[Vec<String>]) -> Result<Vec<u8>> {
    let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(e.to_string());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, h) in headers.iter().enumerate() {
        let col = u16::try_from(col).map_err(|e| Error::Internal(e.to_string()))?;
        sheet.write_string(0, col, xlsx_text(h)).map_err(err)?;
    }
    for (r, row) in table.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|e| Error::Internal(e.to_string()))?;
        for (col, cell) in row.iter().enumerate() {
            let col = u16::try_from(col).map_err(|e| Error::Internal(e.to_string()))?;
            // Text cells (phones and ID numbers must not become numbers), defused as in CSV
            // for files that are later saved as CSV, cut to Excel's cell limit.
            sheet.write_string(r, col, xlsx_text(cell)).map_err(err)?;
        }
    }
    book.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_and_defusing() {
        assert_eq!(super::yuan(30000050), "300000.50");
        assert_eq!(super::yuan(5), "0.05");
        assert_eq!(super::yuan(-150), "-1.50");
    }
}
