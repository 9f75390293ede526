//! Customer export (CSV for any tool, XLSX for Excel/WPS): needs `customer.export`, applies the
//! caller's scope and filters, masks phones and ID numbers unless the caller may see every
//! value in full (the field privilege with no daily quota — an export must not become a way
//! around the quota), and is audited with the filter and the row count.

use serde::Deserialize;
use serde_json::json;

use crate::domain::capability::{Capability, FieldPrivilege};
use crate::domain::custom_field;
use crate::domain::customer::{Customer, Stage};
use crate::search::Listed;
use crate::service::access::auth::Caller;
use crate::service::customers::list::list_request;
use crate::service::customers::{CustomerFilter, FilterContext, shanghai};
use crate::service::search::{restrict_of, search_error};
use crate::service::{App, Error, Result, access::audit};
use crate::store::users;

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// The written file, open for reading from its start (its name is already removed).
    pub file: std::fs::File,
    pub len: u64,
    pub content_type: &'static str,
    pub filename: String,
    pub rows: usize,
    /// Customer records read from the store to make it: what the export cost (a test checks
    /// that only the filter's rows are read).
    pub read: usize,
}

/// Customers read per page of the list.
const PAGE: usize = 500;

const HEADERS: &[&str] = &[
    "姓名",
    "手机号",
    "其他电话",
    "身份证号",
    "性别",
    "年龄",
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

pub use crate::service::customers::cells::defuse;
use crate::service::customers::cells::xlsx_text;

impl crate::service::customers::UseCases<'_> {
    pub fn export_customers(
        &self,
        caller: &Caller,
        q: &ExportQuery,
        source: &str,
    ) -> Result<ExportFile> {
        let full_allowed = caller.access.daily_reveal_quota.is_none();
        let full_phone = q.full && full_allowed && caller.has(FieldPrivilege::PhoneViewFull);
        let full_id = q.full && full_allowed && caller.has(FieldPrivilege::IdNumberViewFull);
        let refused = caller.require(Capability::CustomerExport).and_then(|()| {
            if q.full && !(full_phone || full_id) {
                return Err(Error::Forbidden("phone.view_full（无每日次数限制）".into()));
            }
            Ok(())
        });
        // An attempt to take more than one may is for the administrator to see: once an hour
        // per user (a loop of refused requests must not grow the permanent log without end).
        let now = self.now();
        if let Err(Error::Forbidden(lacks)) = &refused
            && self
                .limits
                .take(
                    &format!("export_refused/{}", caller.user.id),
                    1,
                    1,
                    chrono::Duration::hours(1),
                    now,
                )
                .is_ok()
        {
            let format = match q.format {
                ExportFormat::Csv => "csv",
                ExportFormat::Xlsx => "xlsx",
            };
            let detail = json!({"format": format, "full": q.full, "lacks": lacks});
            self.store.write(|tx| {
                let entry = audit::by_user(
                    &caller.user,
                    "customer.export_refused",
                    source,
                    None,
                    detail,
                );
                audit::record(tx, now, entry)
            })?;
        }
        refused?;
        let scope = self.scope_of(caller)?;
        let filter = CustomerFilter {
            stage: q.stage,
            grade: q.grade.clone(),
            tag: q.tag.clone(),
            owner: q.owner.clone(),
            channel: q.channel.clone(),
            ..Default::default()
        };
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let (owners, defs) = self.store.read(|tx| {
            let owners: std::collections::HashMap<String, String> = users::all(tx)?
                .into_iter()
                .map(|u| (u.id, u.display_name))
                .collect();
            // One column per active custom field, in display order.
            let defs: Vec<_> = crate::service::customers::settings::custom_fields(tx)?
                .into_iter()
                .filter(|d| d.active)
                .collect();
            Ok::<_, Error>((owners, defs))
        })?;
        let headers: Vec<String> = HEADERS
            .iter()
            .map(|h| (*h).to_string())
            .chain(defs.iter().map(|d| d.label.clone()))
            .collect();
        let columns = Columns {
            app: self,
            owners,
            defs,
            full_phone,
            full_id,
            // Age, never the birth date: beside a masked ID number it would complete it.
            viewer: self.viewer(caller),
        };
        let tz = shanghai();
        let stamp = self.now().with_timezone(&tz).format("%Y%m%d-%H%M");
        let (content_type, ext) = match q.format {
            ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
            ExportFormat::Xlsx => (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
        };
        // Rows go to a file a page at a time, so an export of a million customers holds one
        // page of ids in memory, not the table. The pages are the customer list's own
        // (`list_request`: same filters, scope and order), served by the search index: only
        // the records the filter names are read, never the whole table.
        let dir = self.data_dir.join("tmp");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Internal(format!("{}: {e}", dir.display())))?;
        let path = dir.join(format!(
            "export-{}.{ext}",
            crate::service::new_id(self.now())
        ));
        let written = (|| {
            let mut sink = Sink::create(q.format, &path, &dir)?;
            sink.push(&headers)?;
            let mut rows = 0usize;
            let mut read = 0usize;
            let mut req = list_request(&filter, &ctx, restrict_of(&scope, Vec::new()), PAGE);
            // In id order a page goes on after its last customer even if that one was deleted
            // or moved meanwhile.
            req.cursor_may_leave = true;
            loop {
                let (ids, more) = match self.search.list(
                    &self.store,
                    &|c| self.lookup().id_tail(c),
                    &req,
                ) {
                    Ok(Listed::Page { ids, more, .. }) => (ids, more),
                    Ok(Listed::Unordered) => {
                        return Err(Error::Internal(
                            "the search index holds customer ids that are not ULIDs; run `zhudai reindex`".into(),
                        ));
                    }
                    Ok(Listed::CursorGone) => {
                        return Err(Error::Internal(
                            "the export lost its place in the customer list".into(),
                        ));
                    }
                    Err(e) => return Err(search_error(e)),
                };
                self.store.read(|tx| {
                    // The index decided scope and filter; each record is checked again (the
                    // scoped reader, the filter), as every index-served list does, so an index
                    // behind the store never exports too much.
                    let customers = scope.customers(tx);
                    for id in &ids {
                        read += 1;
                        if let Some(c) = customers.live(id)?
                            && filter.matches(&c, &ctx)
                        {
                            sink.push(&columns.row(&c)?)?;
                            rows += 1;
                        }
                    }
                    Ok::<_, Error>(())
                })?;
                match ids.last() {
                    Some(last) if more => req.cursor = Some(last.clone()),
                    _ => break,
                }
            }
            sink.finish(&path)?;
            let file = std::fs::File::open(&path).map_err(io_error)?;
            let len = file.metadata().map_err(io_error)?.len();
            Ok::<_, Error>((file, len, rows, read))
        })();
        // The open file stays readable; its name goes now, whatever happened.
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "removing an export file");
        }
        let (file, len, rows, read) = written?;
        let now = self.now();
        self.store.write(|tx| {
            let detail = json!({
                "format": ext, "rows": rows, "full": full_phone || full_id, "filter": filter,
            });
            let entry = audit::by_user(&caller.user, "customer.exported", source, None, detail);
            audit::record(tx, now, entry)
        })?;
        Ok(ExportFile {
            file,
            len,
            content_type,
            filename: format!("客户-{stamp}.{ext}"),
            rows,
            read,
        })
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::Internal(e.to_string())
}

/// What an export row is made from.
struct Columns<'a> {
    app: &'a App,
    owners: std::collections::HashMap<String, String>,
    defs: Vec<custom_field::CustomField>,
    full_phone: bool,
    full_id: bool,
    viewer: crate::service::customers::Viewer<'a>,
}

impl Columns<'_> {
    fn open(
        &self,
        c: &Customer,
        field: &str,
        enc: &str,
        masked: &str,
        full: bool,
    ) -> Result<String> {
        if full {
            self.app
                .fields
                .decrypt(&c.id, field, enc)
                .map_err(|e| Error::Internal(e.to_string()))
        } else {
            Ok(masked.to_string())
        }
    }

    fn row(&self, c: &Customer) -> Result<Vec<String>> {
        let tz = shanghai();
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        let extra = c
            .extra_phones
            .iter()
            .enumerate()
            .map(|(i, p)| {
                self.open(
                    c,
                    &format!("extra_phones.{i}"),
                    &p.enc,
                    &p.masked,
                    self.full_phone,
                )
            })
            .collect::<Result<Vec<_>>>()?
            .join(";");
        let id_number = match &c.id_number {
            Some(s) => self.open(c, "id_number", &s.enc, &s.masked, self.full_id)?,
            None => String::new(),
        };
        let mut row = vec![
            c.name.clone(),
            self.open(c, "phone", &c.phone.enc, &c.phone.masked, self.full_phone)?,
            extra,
            id_number,
            c.gender
                .map(|g| g.label_zh().to_string())
                .unwrap_or_default(),
            self.viewer
                .age(c)?
                .map(|a| a.to_string())
                .unwrap_or_default(),
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
                .and_then(|o| self.owners.get(o).cloned())
                .unwrap_or_else(|| "公海".into()),
            time(c.last_followup_at),
            time(c.next_followup_at),
            time(Some(c.created_at)),
        ];
        row.extend(self.defs.iter().map(|d| {
            c.custom
                .get(&d.key)
                .map(|v| custom_field::display(d, v))
                .unwrap_or_default()
        }));
        Ok(row)
    }
}

/// The file being written, one row at a time.
enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    /// A constant-memory worksheet: rows go to a temporary file as they are written.
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        next_row: u32,
    },
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::Internal(e.to_string())
}

impl Sink {
    fn create(format: ExportFormat, path: &std::path::Path, tmp: &std::path::Path) -> Result<Sink> {
        Ok(match format {
            ExportFormat::Csv => {
                let mut out =
                    std::io::BufWriter::new(std::fs::File::create_new(path).map_err(io_error)?);
                // A BOM so Excel and WPS open UTF-8 Chinese correctly.
                std::io::Write::write_all(&mut out, "\u{feff}".as_bytes()).map_err(io_error)?;
                Sink::Csv(Box::new(csv::Writer::from_writer(out)))
            }
            ExportFormat::Xlsx => {
                let mut book = Box::new(rust_xlsxwriter::Workbook::new());
                book.set_tempdir(tmp).map_err(xlsx_error)?;
                book.add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?;
                Sink::Xlsx { book, next_row: 0 }
            }
        })
    }

    fn push(&mut self, row: &[String]) -> Result<()> {
        match self {
            Sink::Csv(w) => w
                .write_record(row.iter().map(|c| defuse(c)))
                .map_err(|e| Error::Internal(e.to_string())),
            Sink::Xlsx { book, next_row } => {
                let sheet = book.worksheet_from_index(0).map_err(xlsx_error)?;
                for (col, cell) in row.iter().enumerate() {
                    let col = u16::try_from(col).map_err(|e| Error::Internal(e.to_string()))?;
                    // Text cells (phones and ID numbers must not become numbers), defused as
                    // in CSV for files that are later saved as CSV, cut to Excel's cell limit.
                    sheet
                        .write_string(*next_row, col, xlsx_text(cell))
                        .map_err(xlsx_error)?;
                }
                *next_row += 1;
                Ok(())
            }
        }
    }

    fn finish(self, path: &std::path::Path) -> Result<()> {
        match self {
            Sink::Csv(w) => {
                let out = w.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
                out.into_inner()
                    .map_err(|e| Error::Internal(e.to_string()))?
                    .sync_all()
                    .map_err(io_error)
            }
            Sink::Xlsx { mut book, .. } => book.save(path).map_err(xlsx_error),
        }
    }
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
