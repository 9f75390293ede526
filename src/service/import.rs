//! Importing customers from the files agencies actually have: CSV in UTF-8 (with or without
//! BOM), GBK or GB18030, and XLSX (first sheet). Headers are recognised from the usual Chinese
//! and English column names; every row is validated like a form; duplicates (by phone or ID
//! number, against the store and earlier rows of the same file) are skipped, updated or flagged.
//! Rows are written in batches, one transaction each, so an interrupted import leaves whole
//! batches, and running the same file again with `skip` adds nothing.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Caller;
use super::customers::shanghai;
use super::{App, Error, Result, audit, new_id};
use crate::crypto::field::Kind;
use crate::domain::customer::{self, CustomerInput, Demand};
use crate::store::customers;

const BATCH: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Leave the existing customer alone (re-running an import is then harmless).
    #[default]
    Skip,
    /// Fill in the existing customer's fields from the row (in the caller's scope only).
    Update,
    /// Create it anyway, flagged for a manager.
    Flag,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line in the file (1 = the first line).
    pub row: usize,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Data rows read (blank lines not counted).
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
    pub flagged: usize,
    pub errors: Vec<RowError>,
    /// Which recognised field each column went to (`null`: ignored).
    pub columns: Vec<(String, Option<String>)>,
}

/// Decodes a CSV file's bytes: BOM or valid UTF-8 as UTF-8, anything else as GB18030 (a
/// superset of GBK and GB2312, which is what Excel and WPS write on Chinese Windows).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Int(i) => i.to_string(),
        // Excel stores long digit strings typed without a leading quote as numbers
        // (13800138000 → 1.38e10): print integral values without a fraction.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::String(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::DateTime(dt) => dt.to_string(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// Columns beyond this are ignored; rows beyond this refuse the file. A sparse sheet with one
/// cell at XFD1048576 must not make us allocate rows × columns.
const MAX_COLUMNS: u32 = 256;
const MAX_ROWS: u32 = 2_000_000;

/// The first worksheet's non-empty cells, row by row (1-based line numbers).
fn read_xlsx(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>> {
    use calamine::Reader;
    let unreadable =
        |e: calamine::XlsxError| Error::validation("file", format!("无法读取 Excel 文件：{e}"));
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(unreadable)?;
    let first = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| Error::validation("file", "Excel 文件中没有工作表"))?;
    let mut cells = book.worksheet_cells_reader(&first).map_err(unreadable)?;
    let mut rows: std::collections::BTreeMap<u32, Vec<String>> = std::collections::BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        if c >= MAX_COLUMNS {
            continue;
        }
        if r >= MAX_ROWS {
            return Err(Error::validation(
                "file",
                format!("文件行数超过上限（{MAX_ROWS} 行），请拆分后导入"),
            ));
        }
        let text = cell_text(&calamine::Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        let row = rows.entry(r).or_default();
        let c = c as usize;
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    Ok(rows
        .into_iter()
        .map(|(r, cells)| (r as usize + 1, cells))
        .collect())
}

/// The file as rows of text cells, blank rows dropped (each keeps its 1-based line number).
pub fn read_table(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>> {
    // (line in the file, cells): CSV readers skip blank lines, so lines are taken from the reader.
    let rows: Vec<(usize, Vec<String>)> = if bytes.starts_with(b"PK") {
        read_xlsx(bytes)?
    } else {
        let text = decode_text(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut out = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| Error::validation("file", format!("CSV 格式错误：{e}")))?;
            let line = rec.position().map_or(out.len() + 1, |p| p.line() as usize);
            out.push((line, rec.iter().map(str::to_string).collect()));
        }
        out
    };
    Ok(rows
        .into_iter()
        .map(|(line, r)| {
            (
                line,
                r.into_iter()
                    .map(|c| c.trim().to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .collect())
}

/// Recognised column → field. Headers are compared after removing spaces and turning
/// full-width brackets into ASCII ones.
fn field_for(header: &str) -> Option<&'static str> {
    let h: String = header
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    Some(match h.as_str() {
        "姓名" | "客户姓名" | "名字" | "客户名称" | "客户" | "name" => "name",
        "手机" | "手机号" | "手机号码" | "联系电话" | "电话" | "联系方式" | "phone" | "mobile" => {
            "phone"
        }
        "其他电话" | "备用电话" | "extra_phones" => "extra_phones",
        "身份证" | "身份证号" | "身份证号码" | "证件号" | "id_number" => "id_number",
        "城市" | "所在城市" | "city" => "city",
        "地址" | "住址" | "家庭地址" | "address" => "address",
        "单位" | "单位名称" | "公司" | "公司名称" | "工作单位" | "company" => {
            "company"
        }
        "渠道" | "来源" | "客户来源" | "channel" => "channel",
        "等级" | "客户等级" | "grade" => "grade",
        "星级" | "stars" => "stars",
        "意向" | "意向度" | "intent" => "intent",
        "标签" | "tags" => "tags",
        "贷款金额(万元)" | "需求金额(万元)" | "金额(万元)" => "amount_wan",
        "贷款金额(元)" | "需求金额(元)" | "贷款金额" | "金额" | "amount_yuan" => {
            "amount_yuan"
        }
        "贷款期限(月)" | "期限(月)" | "贷款期限" | "期限" | "term_months" => {
            "term_months"
        }
        "贷款用途" | "用途" | "purpose" => "purpose",
        _ => return None,
    })
}

/// A decimal string in `unit` fen per 1 (100 for yuan, 1_000_000 for 万元) → fen, exactly.
pub fn parse_money(raw: &str, unit: i64) -> Option<i64> {
    let s: String = raw
        .chars()
        .filter(|c| *c != ',' && *c != '，' && !c.is_whitespace())
        .collect();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = unit.to_string().len() as u32 - 1; // decimal places that still fit in fen
    if frac.len() as u32 > digits {
        return None;
    }
    let int_v: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_v: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10i64.checked_pow(digits - frac.len() as u32)?;
    int_v
        .checked_mul(unit)?
        .checked_add(frac_v.checked_mul(scale)?)
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', ',', '，', '、', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// One row to a customer input, or the first problem with it.
fn row_input(
    map: &[Option<&'static str>],
    row: &[String],
) -> std::result::Result<CustomerInput, (String, String)> {
    let mut input = CustomerInput::default();
    let mut demand = Demand::default();
    for (i, field) in map.iter().enumerate() {
        let (Some(field), Some(v)) = (field, row.get(i)) else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let bad = |reason: &str| (field.to_string(), reason.to_string());
        match *field {
            "name" => input.name = Some(v.clone()),
            "phone" => input.phone = Some(v.clone()),
            "extra_phones" => input.extra_phones = Some(split_list(v)),
            "id_number" => input.id_number = Some(v.clone()),
            "city" => input.city = Some(v.clone()),
            "address" => input.address = Some(v.clone()),
            "company" => input.company = Some(v.clone()),
            "channel" => input.channel = Some(v.clone()),
            "grade" => input.grade = Some(v.to_uppercase()),
            "stars" => input.stars = Some(v.parse().map_err(|_| bad("星级应为0到5的整数"))?),
            "intent" => input.intent = Some(v.clone()),
            "tags" => input.tags = Some(split_list(v)),
            "amount_wan" => {
                demand.amount_fen =
                    Some(parse_money(v, 1_000_000).ok_or_else(|| bad("金额格式不正确"))?)
            }
            "amount_yuan" => {
                demand.amount_fen = Some(parse_money(v, 100).ok_or_else(|| bad("金额格式不正确"))?)
            }
            "term_months" => {
                demand.term_months = Some(v.parse().map_err(|_| bad("期限应为整数月"))?)
            }
            "purpose" => demand.purpose = Some(v.clone()),
            _ => {}
        }
    }
    if demand != Demand::default() {
        input.demand = Some(demand);
    }
    Ok(input)
}

impl App {
    pub fn import_customers(
        &self,
        caller: &Caller,
        bytes: &[u8],
        on_duplicate: OnDuplicate,
        dry_run: bool,
        source: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ImportReport> {
        caller.require("customer.import")?;
        let scope = self.scope_of(caller)?;
        let table = read_table(bytes)?;
        // The header is the first row that names at least two known columns (files often start
        // with a title line, and merged title cells leave blanks).
        let header_at = table
            .iter()
            .take(5)
            .position(|(_, r)| r.iter().filter(|c| field_for(c).is_some()).count() >= 2)
            .ok_or_else(|| Error::validation("file", "找不到表头：至少需要“姓名”和“手机号”两列"))?;
        let header = &table[header_at].1;
        let map: Vec<Option<&'static str>> = header.iter().map(|h| field_for(h)).collect();
        for needed in ["name", "phone"] {
            if !map.contains(&Some(needed)) {
                return Err(Error::validation(
                    "file",
                    format!(
                        "缺少必需的列：{}",
                        if needed == "name" {
                            "姓名"
                        } else {
                            "手机号"
                        }
                    ),
                ));
            }
        }
        let mut report = ImportReport {
            dry_run,
            columns: header
                .iter()
                .zip(&map)
                .map(|(h, f)| (h.clone(), f.map(String::from)))
                .collect(),
            ..Default::default()
        };
        let now = self.now();
        let today = now.with_timezone(&shanghai()).date_naive();
        let data = &table[header_at + 1..];
        report.rows = data.len();
        // Validate and seal every row first; nothing is written for rows with problems.
        let mut ready = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (line, row) in data {
            let input = match row_input(&map, row) {
                Ok(i) => i,
                Err((field, reason)) => {
                    report.errors.push(RowError {
                        row: *line,
                        field,
                        reason,
                    });
                    continue;
                }
            };
            let checked = match customer::check(&input, true, today) {
                Ok(c) => c,
                Err((field, reason)) => {
                    report.errors.push(RowError {
                        row: *line,
                        field: field.into(),
                        reason,
                    });
                    continue;
                }
            };
            let phone_key = checked
                .phone
                .as_ref()
                .map(|p| self.fields.blind_index(Kind::Phone, p.as_str()));
            if let Some(k) = &phone_key
                && !seen.insert(k.clone())
            {
                report.errors.push(RowError {
                    row: *line,
                    field: "phone".into(),
                    reason: "与文件中前面的行手机号重复".into(),
                });
                continue;
            }
            let c = self.new_record(
                &input,
                checked,
                Some(caller.user.id.clone()),
                &caller.user.id,
                now,
            )?;
            ready.push((*line, input, c));
        }
        let total = ready.len();
        let mut done = 0;
        let import_id = new_id(now);
        let report_rows = report.rows;
        // Rows refused before writing (validation, duplicates inside the file) are counted
        // in the first batch's audit row.
        let mut errors_before = report.errors.len();
        for (batch_no, batch) in ready.chunks(BATCH).enumerate() {
            let counts = self.store.write(|tx| {
                let (mut created, mut updated, mut skipped, mut flagged) = (0, 0, 0, 0);
                let mut row_errors = Vec::new();
                for (line, input, c) in batch {
                    let dups = Self::exact_matches(tx, c)?;
                    let mut c = c.clone();
                    if let Some((_, existing)) = dups.first() {
                        match on_duplicate {
                            OnDuplicate::Skip => {
                                skipped += 1;
                                continue;
                            }
                            OnDuplicate::Update => {
                                if existing.deleted_at.is_some() || !scope.can_see(existing) {
                                    row_errors.push(RowError {
                                        row: *line,
                                        field: "phone".into(),
                                        reason: "该客户已存在且不在您的权限范围内".into(),
                                    });
                                    continue;
                                }
                                let mut u = existing.clone();
                                macro_rules! fill {
                                    ($f:ident) => {
                                        if input.$f.is_some() {
                                            u.$f = input.$f.clone();
                                        }
                                    };
                                }
                                fill!(city);
                                fill!(address);
                                fill!(company);
                                fill!(channel);
                                fill!(grade);
                                fill!(intent);
                                if let Some(t) = &input.tags {
                                    for tag in t {
                                        if !u.tags.contains(tag) {
                                            u.tags.push(tag.clone());
                                        }
                                    }
                                }
                                if let Some(d) = &input.demand {
                                    u.demand = d.clone();
                                }
                                u.updated_at = now;
                                if !dry_run {
                                    customers::put(tx, Some(existing), &u)?;
                                }
                                updated += 1;
                                continue;
                            }
                            OnDuplicate::Flag => {
                                c.duplicate_flag = true;
                                flagged += 1;
                            }
                        }
                    }
                    if !dry_run {
                        customers::put(tx, None, &c)?;
                    }
                    created += 1;
                }
                if dry_run {
                    // Nothing of a dry run may stick: abort by returning the counts as an "error".
                    return Err(DryRun((created, updated, skipped, flagged, row_errors)).into());
                }
                // Audited with the batch, in its transaction: an interrupted import leaves exactly
                // the batches it wrote, each with its audit row.
                audit::record(tx, now, audit::by_user(&caller.user, "customer.imported", source, Some(import_id.clone()), json!({
                    "batch": batch_no, "rows_in_file": report_rows, "created": created, "updated": updated,
                    "skipped": skipped, "flagged": flagged, "errors": row_errors.len() + errors_before,
                    "on_duplicate": on_duplicate,
                })))?;
                Ok::<_, ImportTxError>((created, updated, skipped, flagged, row_errors))
            });
            let (created, updated, skipped, flagged, row_errors) = match counts {
                Ok(c) => c,
                Err(ImportTxError::DryRun(DryRun(c))) => c,
                Err(ImportTxError::Service(e)) => return Err(e),
            };
            report.created += created;
            report.updated += updated;
            report.skipped += skipped;
            report.flagged += flagged;
            report.errors.extend(row_errors);
            errors_before = 0;
            done += batch.len();
            progress(done, total);
        }
        if !dry_run && total == 0 {
            // Nothing to write, but an import was still attempted.
            self.store.write(|tx| {
                audit::record(tx, now, audit::by_user(&caller.user, "customer.imported", source, Some(import_id.clone()), json!({
                    "batch": 0, "rows_in_file": report.rows, "created": 0, "updated": 0, "skipped": 0,
                    "flagged": 0, "errors": report.errors.len(), "on_duplicate": on_duplicate,
                })))
            })?;
        }
        report.errors.sort_by_key(|e| e.row);
        Ok(report)
    }
}

type Counts = (usize, usize, usize, usize, Vec<RowError>);

/// A dry run's counts, carried out of the write transaction so that it aborts.
struct DryRun(Counts);

enum ImportTxError {
    DryRun(DryRun),
    Service(Error),
}

impl From<DryRun> for ImportTxError {
    fn from(d: DryRun) -> Self {
        ImportTxError::DryRun(d)
    }
}

impl From<Error> for ImportTxError {
    fn from(e: Error) -> Self {
        ImportTxError::Service(e)
    }
}

impl From<crate::store::Error> for ImportTxError {
    fn from(e: crate::store::Error) -> Self {
        ImportTxError::Service(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact() {
        assert_eq!(parse_money("30", 1_000_000), Some(30_000_000));
        assert_eq!(parse_money("30.5", 1_000_000), Some(30_500_000));
        assert_eq!(parse_money("0.0001", 1_000_000), Some(100));
        assert_eq!(parse_money("1,234.56", 100), Some(123_456));
        assert_eq!(parse_money("1.234", 100), None, "below a fen");
        assert_eq!(parse_money("abc", 100), None);
        assert_eq!(parse_money("-5", 100), None);
    }

    #[test]
    fn encodings_and_headers() {
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,手机号\n张三,13800138000\n");
        assert_eq!(decode_text(&gbk), "姓名,手机号\n张三,13800138000\n");
        assert_eq!(decode_text("\u{feff}姓名".as_bytes()), "姓名");
        assert_eq!(field_for(" 贷款金额（万元） "), Some("amount_wan"));
        assert_eq!(field_for("联系电话"), Some("phone"));
        assert_eq!(field_for("备注"), None);
    }
}
