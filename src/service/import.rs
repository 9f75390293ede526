//! Importing customers from the files agencies actually have: CSV in UTF-8 (with or without
//! BOM), GBK or GB18030, and XLSX (first sheet). Headers are recognised from the usual Chinese
//! and English column names, or mapped by the importer (a saved template, or a mapping sent
//! with the file); every row is validated like a form; duplicates (by phone or ID number,
//! against the store and earlier rows of the same file) are skipped, updated or flagged.
//!
//! The file is streamed: rows are read, checked, sealed and written in batches of [`BATCH`],
//! one transaction each, so memory stays flat whatever the file's size, an interrupted import
//! leaves whole batches, and running the same file again with `skip` adds nothing.

pub mod jobs;
pub mod preview;
pub mod report;
pub mod source;
pub mod templates;
pub mod xlsx_guard;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::shanghai;
use super::{App, Error, Result, access::audit, new_id};
use crate::domain::capability::Capability;
use crate::domain::custom_field::{self, CustomField, Kind};
use crate::domain::customer::{self, Customer, CustomerInput, Demand};
use crate::domain::org::UserStatus;
use crate::domain::pool::Pool;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Scope;
use crate::service::pools::assign::{Picker, Placed};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{WriteTransaction, customers, users};

/// Rows per write transaction. Bigger batches mean fewer commits (each one syncs the file);
/// 5,000 rows keep a batch's prepared records to a few MB.
pub const BATCH: usize = 5000;
/// Rejected rows kept in a report's `errors` (all of them are counted in `rejected`, and a
/// job keeps every one, sealed, for its error report).
pub const KEPT_ERRORS: usize = 1000;

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line in the file (1 = the first line).
    pub row: usize,
    /// `name`, `phone`, …, `custom.<key>`, `owner`, `file`.
    pub field: String,
    /// The field's Chinese name (a custom field's label) for people reading the report.
    #[serde(default)]
    pub label: String,
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
    /// New rows given an owner by automatic assignment (`assign`).
    pub assigned: usize,
    /// Rows refused (every one; `errors` lists the first ones).
    pub rejected: usize,
    pub errors: Vec<RowError>,
    /// Which field each column went to (`null`: ignored).
    pub columns: Vec<(String, Option<String>)>,
    /// Stopped between batches on request: what is counted was written, the rest was not read.
    pub stopped: bool,
}

/// Header text → field (`name`, `phone`, …, `owner`, `custom.<key>`; `null` or `"ignore"`:
/// ignore the column). Headers not named keep their automatic mapping.
pub type Mapping = BTreeMap<String, Option<String>>;

/// How to run one import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub on_duplicate: OnDuplicate,
    pub dry_run: bool,
    /// Column choices made by the importer (win over the template and the automatic mapping).
    pub mapping: Option<Mapping>,
    /// A saved mapping (`import_templates`) to apply; the file's headers must match it.
    pub template_id: Option<String>,
    /// Username who gets rows without an `owner` column (default: the importer).
    pub owner: Option<String>,
    /// Public pool for rows without an `owner` column (instead of an owner); with `assign`,
    /// where the rows nobody can take go.
    pub pool_id: Option<String>,
    /// `auto` (or a mode name): rows without an owner cell get their owner from `assign.pick`,
    /// row by row; rows nobody can take go to `pool_id`, else the importer's pool. Needs
    /// `customer.assign`; not with `owner`.
    pub assign: Option<String>,
    /// Rows per transaction (default [`BATCH`]); tests use small batches to stop mid-way.
    pub batch_rows: Option<usize>,
}

/// Counts so far, as a job records them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub flagged: u64,
    pub rejected: u64,
    /// New rows given an owner by automatic assignment.
    #[serde(default)]
    pub assigned: u64,
}

/// Who watches an import run: the CLI's progress bar, a background job's record.
pub trait Progress {
    /// The file's rows (without the header) when they can be counted cheaply.
    fn total(&mut self, _total: Option<u64>) {}
    /// The header row and the field each column goes to.
    fn header(&mut self, _headers: &[String], _columns: &[(String, Option<String>)]) -> Result<()> {
        Ok(())
    }
    /// A refused row, with its original cells (for the error report).
    fn rejected(&mut self, _error: &RowError, _cells: &[String]) -> Result<()> {
        Ok(())
    }
    /// Inside each batch's write transaction (never for dry runs), with the counts including
    /// the batch: a record written here commits together with the batch.
    fn in_batch(&mut self, _tx: &WriteTransaction, _counts: &Counts) -> Result<()> {
        Ok(())
    }
    /// After each batch; `false` stops the import before the next one.
    fn after_batch(&mut self, _report: &ImportReport) -> Result<bool> {
        Ok(true)
    }
}

/// Progress that only calls back with (rows done, rows in the file when known).
pub struct Callback<'a>(pub &'a mut dyn FnMut(usize, usize), usize);

impl<'a> Callback<'a> {
    pub fn new(f: &'a mut dyn FnMut(usize, usize)) -> Self {
        Callback(f, 0)
    }
}

impl Progress for Callback<'_> {
    fn total(&mut self, total: Option<u64>) {
        self.1 = total.unwrap_or(0) as usize;
    }
    fn after_batch(&mut self, report: &ImportReport) -> Result<bool> {
        (self.0)(report.rows, self.1.max(report.rows));
        Ok(true)
    }
}

/// The fields a column can go to, with the Chinese name shown in the mapping step and in the
/// error report.
pub const FIELDS: &[(&str, &str)] = &[
    ("name", "姓名"),
    ("phone", "手机号"),
    ("extra_phones", "其他电话"),
    ("id_number", "身份证号"),
    ("city", "城市"),
    ("address", "地址"),
    ("company", "单位名称"),
    ("channel", "渠道"),
    ("grade", "客户等级"),
    ("stars", "星级"),
    ("intent", "意向"),
    ("tags", "标签"),
    ("amount_wan", "贷款金额（万元）"),
    ("amount_yuan", "贷款金额（元）"),
    ("term_months", "贷款期限（月）"),
    ("purpose", "贷款用途"),
    ("owner", "负责人（用户名）"),
];

/// The Chinese name of a field key: a custom field's label, its key when no longer defined;
/// other keys (`file`) pass through.
pub fn field_label(field: &str, defs: &[CustomField]) -> String {
    if let Some(key) = field.strip_prefix("custom.") {
        return defs
            .iter()
            .find(|d| d.key == key)
            .map_or_else(|| key.to_string(), |d| d.label.clone());
    }
    FIELDS
        .iter()
        .find(|(k, _)| *k == field)
        .map_or_else(|| field.to_string(), |(_, l)| l.to_string())
}

/// Recognised column → field. Headers are compared after removing spaces and turning
/// full-width brackets into ASCII ones.
pub fn field_for(header: &str) -> Option<&'static str> {
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
        "负责人" | "归属人" | "所属业务员" | "owner" => "owner",
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

/// A money cell in yuan → fen, as agencies write it: "1,234.50", "¥1234元", "12万", "12.5万元".
pub fn parse_yuan(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let s = s.trim_start_matches(['¥', '￥']).trim();
    let s = s.strip_suffix('元').unwrap_or(s).trim_end();
    match s.strip_suffix('万') {
        Some(wan) => parse_money(wan, 1_000_000),
        None => parse_money(s, 100),
    }
}

/// A custom-field cell → its stored value, through the same rules as the API
/// ([`custom_field::validate_value`]); money is written in yuan and becomes fen first. The
/// reason names the column.
fn custom_cell(
    def: &CustomField,
    header: &str,
    raw: &str,
) -> std::result::Result<serde_json::Value, (String, String)> {
    let value = match def.kind {
        Kind::Money => match parse_yuan(raw) {
            Some(fen) => custom_field::validate_value(def, &fen.to_string()),
            None => Err((
                format!("custom.{}", def.key),
                format!("{}应为金额（元），如 1,234.50 或 12万", def.label),
            )),
        },
        _ => custom_field::validate_value(def, raw),
    };
    value.map_err(|(field, reason)| (field, format!("列“{}”：{reason}", header.trim())))
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', ',', '，', '、', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// What one row gives: the customer input and the owner named in an `owner` column.
type RowInput = (CustomerInput, Option<String>);

/// One row to a customer input, or the first problem with it (field, reason).
fn row_input(
    columns: &[Option<String>],
    headers: &[String],
    defs: &[CustomField],
    row: &[String],
) -> std::result::Result<RowInput, (String, String)> {
    let mut input = CustomerInput::default();
    let mut demand = Demand::default();
    let mut owner = None;
    for (i, field) in columns.iter().enumerate() {
        let (Some(field), Some(v)) = (field, row.get(i)) else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let bad = |reason: &str| (field.to_string(), reason.to_string());
        match field.as_str() {
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
                    Some(parse_money(v, 1_000_000).ok_or_else(|| bad("贷款金额格式不正确"))?)
            }
            "amount_yuan" => {
                demand.amount_fen = Some(parse_yuan(v).ok_or_else(|| bad("贷款金额格式不正确"))?)
            }
            "term_months" => {
                demand.term_months = Some(v.parse().map_err(|_| bad("贷款期限应为整数月"))?)
            }
            "purpose" => demand.purpose = Some(v.clone()),
            "owner" => owner = Some(v.clone()),
            other => {
                if let Some(key) = other.strip_prefix("custom.") {
                    let Some(def) = defs.iter().find(|d| d.key == key) else {
                        return Err(bad("未定义的自定义字段"));
                    };
                    let header = headers.get(i).map_or(key, String::as_str);
                    let value = custom_cell(def, header, v)?;
                    input
                        .custom
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key.to_string(), value);
                }
            }
        }
    }
    if demand != Demand::default() {
        input.demand = Some(demand);
    }
    Ok((input, owner))
}

/// Is `field` something a column may go to? (`custom.<key>` when that custom field exists.)
fn known_target(field: &str, defs: &[CustomField]) -> bool {
    FIELDS.iter().any(|(k, _)| *k == field)
        || field
            .strip_prefix("custom.")
            .is_some_and(|k| defs.iter().any(|d| d.key == k))
}

/// The automatic mapping of a header: a built-in field, else the custom field whose name
/// (label) or key the header is.
pub fn auto_field(header: &str, defs: &[CustomField]) -> Option<String> {
    if let Some(f) = field_for(header) {
        return Some(f.to_string());
    }
    let h = header.trim();
    defs.iter()
        .find(|d| d.active && (d.label == h || d.key == h))
        .map(|d| format!("custom.{}", d.key))
}

/// The field of each column: the importer's choice, else the template's, else automatic.
pub fn resolve_columns(
    headers: &[String],
    explicit: &Mapping,
    defs: &[CustomField],
) -> Result<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let field = match explicit.get(h.trim()) {
            Some(None) => None,
            Some(Some(f)) if f.is_empty() || f == "ignore" => None,
            Some(Some(f)) if known_target(f, defs) => Some(f.clone()),
            Some(Some(f)) => {
                return Err(Error::validation(
                    "mapping",
                    format!("列“{h}”映射到的字段“{f}”不存在"),
                ));
            }
            None => auto_field(h, defs),
        };
        out.push(field);
    }
    let mut seen = HashSet::new();
    for f in out.iter().flatten() {
        if !seen.insert(f.as_str()) {
            return Err(Error::validation(
                "mapping",
                format!("字段“{}”被多个列使用", field_label(f, defs)),
            ));
        }
    }
    for (needed, label) in [("name", "姓名"), ("phone", "手机号")] {
        if !out.iter().any(|f| f.as_deref() == Some(needed)) {
            return Err(Error::validation("file", format!("缺少必需的列：{label}")));
        }
    }
    Ok(out)
}

/// The header is the first of the first rows that names at least two known columns (files
/// often start with a title line, and merged title cells leave blanks).
fn is_header(row: &[String], explicit: &Mapping) -> bool {
    row.iter()
        .filter(|c| field_for(c).is_some() || explicit.contains_key(c.trim()))
        .count()
        >= 2
}

/// Rows looked at for a header before giving up.
const HEADER_SEARCH: usize = 5;

fn no_header() -> Error {
    Error::validation("file", "找不到表头：至少需要“姓名”和“手机号”两列")
}

/// Short, stable 64-bit digest of a blind index: earlier rows of the file are remembered in
/// 8 bytes each, not as full strings.
fn digest(kind: char, bidx: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    bidx.hash(&mut h);
    h.finish()
}

/// Everything a running import carries from batch to batch.
struct Run<'a> {
    caller: &'a Caller,
    scope: Scope,
    opts: &'a ImportOptions,
    source: &'a str,
    import_id: &'a str,
    columns: Vec<Option<String>>,
    /// The header row (rejection reasons name the column).
    headers: Vec<String>,
    /// Custom field definitions, read once per import.
    defs: Vec<CustomField>,
    /// Owner of rows without an owner cell (`None` with `pool_id`: to the pool; `None` with
    /// `auto_mode`: assigned).
    default_owner: Option<String>,
    pool_id: Option<String>,
    /// The assignment mode when rows without an owner cell are assigned automatically.
    auto_mode: Option<String>,
    /// Candidates, loads and fallback pool: made in the first batch's transaction, then kept
    /// up to date row by row for the whole import.
    auto: Option<AutoRun>,
    /// Username or display name → user id, or why rows cannot be given to them.
    owners: HashMap<String, std::result::Result<String, String>>,
    /// Digests of phone and ID-number blind indexes of earlier rows of this file.
    seen: HashSet<u64>,
    now: chrono::DateTime<chrono::Utc>,
    today: chrono::NaiveDate,
    batch_no: usize,
}

/// Who gets rows without an owner cell (see [`App::import_target`]).
pub(crate) struct Target {
    pub owner: Option<String>,
    /// The mode, when they are assigned automatically.
    pub auto: Option<String>,
}

/// Automatic assignment across an import's batches.
struct AutoRun {
    picker: Picker,
    /// Where rows nobody can take go (`None`: there is no pool; the importer keeps them).
    fallback: Option<Pool>,
}

/// A row checked and sealed, waiting for its batch's transaction.
struct Ready {
    line: usize,
    /// Its owner is to be chosen by automatic assignment.
    auto: bool,
    input: CustomerInput,
    record: Customer,
    cells: Vec<String>,
}

impl App {
    /// Imports a whole file held in memory (the synchronous API and older callers): spooled to
    /// the data directory, then streamed like any other import.
    pub fn import_customers(
        &self,
        caller: &Caller,
        bytes: &[u8],
        on_duplicate: OnDuplicate,
        dry_run: bool,
        source: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ImportReport> {
        let opts = ImportOptions {
            on_duplicate,
            dry_run,
            ..Default::default()
        };
        self.import_bytes(caller, bytes, &opts, source, progress)
    }

    /// Imports a whole file held in memory with `opts` (the raw-body `POST /imports`).
    pub fn import_bytes(
        &self,
        caller: &Caller,
        bytes: &[u8],
        opts: &ImportOptions,
        source: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ImportReport> {
        caller.require(Capability::CustomerImport)?;
        let spool = self.spool_path(&new_id(self.now()))?;
        std::fs::write(&spool, bytes)
            .map_err(|e| Error::Internal(format!("spooling the import: {e}")))?;
        let r = self.import_file(
            caller,
            &spool,
            opts,
            source,
            &new_id(self.now()),
            &mut Callback::new(progress),
        );
        let _ = std::fs::remove_file(&spool);
        r
    }

    /// Where uploads wait while they are imported (removed when the import ends).
    pub fn spool_path(&self, id: &str) -> Result<std::path::PathBuf> {
        let dir = self.data_dir.join("imports");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Internal(format!("creating {}: {e}", dir.display())))?;
        Ok(dir.join(format!("{id}.upload")))
    }

    /// The firm's custom field definitions (cells are validated against them).
    pub(crate) fn custom_field_defs(&self) -> Result<Vec<CustomField>> {
        self.store
            .read(crate::service::customers::settings::custom_fields)
    }

    /// The mapping the importer asked for: the template's, overridden by the explicit one.
    fn requested_mapping(&self, opts: &ImportOptions) -> Result<(Mapping, Option<Mapping>)> {
        let template = match &opts.template_id {
            Some(id) => Some(self.import_template(id)?.mapping),
            None => None,
        };
        let mut m = template.clone().unwrap_or_default();
        if let Some(explicit) = &opts.mapping {
            for (k, v) in explicit {
                m.insert(k.trim().to_string(), v.clone());
            }
        }
        let custom = self.custom_field_defs()?;
        for (h, f) in &m {
            if let Some(f) = f
                && !f.is_empty()
                && f != "ignore"
                && !known_target(f, &custom)
            {
                return Err(Error::validation(
                    "mapping",
                    format!("列“{h}”映射到的字段“{f}”不存在"),
                ));
            }
        }
        Ok((m, template))
    }

    /// Resolves an owner named in a file or request: an active user the caller may give
    /// customers to (themselves; anyone in their scope with `customer.transfer`).
    fn owner_for(&self, caller: &Caller, scope: &Scope, name: &str) -> Result<String, String> {
        let found = self
            .store
            .read(|tx| {
                let by_name = users::find_by_username(tx, name)?;
                Ok::<_, Error>(match by_name {
                    Some(u) => Some(u),
                    None => {
                        let mut same: Vec<_> = users::all(tx)?
                            .into_iter()
                            .filter(|u| u.display_name == name)
                            .collect();
                        if same.len() == 1 { same.pop() } else { None }
                    }
                })
            })
            .map_err(|_| "无法读取用户".to_string())?;
        let Some(u) = found.filter(|u| u.status == UserStatus::Active) else {
            return Err(format!("负责人“{name}”不存在或已停用"));
        };
        if u.id == caller.user.id {
            return Ok(u.id);
        }
        let in_scope = scope.owner_filter().is_none_or(|set| set.contains(&u.id));
        if !caller.can(Capability::CustomerTransfer) || !in_scope {
            return Err(format!("无权将客户分配给“{name}”"));
        }
        Ok(u.id)
    }

    /// Who gets rows without an owner cell: the requested owner, nobody (a pool), automatic
    /// assignment (the mode), or the importer. Checks the owner may be given customers, the
    /// caller may assign, and the pool exists.
    pub(crate) fn import_target(
        &self,
        caller: &Caller,
        scope: &Scope,
        opts: &ImportOptions,
    ) -> Result<Target> {
        let owner = opts.owner.as_deref().filter(|o| !o.is_empty());
        let auto = self.new_lead_assign_mode(caller, opts.assign.as_deref(), owner.is_some())?;
        if owner.is_some() && opts.pool_id.is_some() {
            return Err(Error::validation("pool_id", "负责人和公海只能选择一个"));
        }
        let default_owner = match owner {
            Some(name) => Some(
                self.owner_for(caller, scope, name)
                    .map_err(|reason| Error::validation("owner", reason))?,
            ),
            None if opts.pool_id.is_some() || auto.is_some() => None,
            None => Some(caller.user.id.clone()),
        };
        if let Some(pool) = &opts.pool_id {
            // The rule of the pools module: its members use a pool, and those who manage it
            // (admins, `pool.manage` within their scope). A pool the caller may not use
            // answers like an absent one.
            let usable = self.store.read(|tx| {
                let Some(p) = crate::store::pools::get(tx, pool)? else {
                    return Ok::<_, Error>(false);
                };
                let departments = crate::store::org::departments(tx)?;
                Ok(super::pools::uses(&p, caller, &departments))
            })?;
            if !usable {
                return Err(Error::validation("pool_id", "公海不存在"));
            }
        }
        Ok(Target {
            owner: default_owner,
            auto,
        })
    }

    /// Streams the file at `path` into customers (see the module comment).
    pub fn import_file(
        &self,
        caller: &Caller,
        path: &Path,
        opts: &ImportOptions,
        source: &str,
        import_id: &str,
        progress: &mut dyn Progress,
    ) -> Result<ImportReport> {
        caller.require(Capability::CustomerImport)?;
        let scope = self.scope_of(caller)?;
        let target = self.import_target(caller, &scope, opts)?;
        let (explicit, template) = self.requested_mapping(opts)?;
        let defs = self.custom_field_defs()?;
        let encoding = source::sniff(path)?;
        progress.total(
            match encoding {
                source::Encoding::Xlsx => source::xlsx_declared_rows(path)?,
                _ => Some(source::count_csv_rows(path)?),
            }
            .map(|n| n.saturating_sub(1)),
        );
        let now = self.now();
        let mut report = ImportReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        let mut head: Vec<(usize, Vec<String>)> = Vec::new();
        let mut run: Option<Run> = None;
        let batch_rows = opts.batch_rows.unwrap_or(BATCH).clamp(1, BATCH * 4);
        let mut batch: Vec<(usize, Vec<String>)> = Vec::with_capacity(batch_rows);
        source::each_row(path, encoding, &mut |line, cells| {
            let Some(r) = run.as_mut() else {
                if !is_header(&cells, &explicit) {
                    head.push((line, cells));
                    return if head.len() >= HEADER_SEARCH {
                        Err(no_header())
                    } else {
                        Ok(true)
                    };
                }
                if let Some(t) = &template
                    && let Some(missing) = t.keys().find(|h| !cells.iter().any(|c| c == *h))
                {
                    return Err(Error::validation(
                        "template_id",
                        format!("文件表头与模板不符：缺少列“{missing}”"),
                    ));
                }
                let columns = resolve_columns(&cells, &explicit, &defs)?;
                report.columns = cells.iter().cloned().zip(columns.iter().cloned()).collect();
                progress.header(&cells, &report.columns)?;
                run = Some(Run {
                    caller,
                    scope: scope.clone(),
                    opts,
                    source,
                    import_id,
                    columns,
                    headers: cells.clone(),
                    defs: defs.clone(),
                    default_owner: target.owner.clone(),
                    pool_id: opts.pool_id.clone(),
                    auto_mode: target.auto.clone(),
                    auto: None,
                    owners: HashMap::new(),
                    seen: HashSet::new(),
                    now,
                    today: now.with_timezone(&shanghai()).date_naive(),
                    batch_no: 0,
                });
                return Ok(true);
            };
            batch.push((line, cells));
            if batch.len() >= batch_rows {
                let rows = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                if !self.import_batch(r, rows, &mut report, progress)? {
                    report.stopped = true;
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        let Some(mut r) = run else {
            return Err(no_header());
        };
        if !report.stopped && (!batch.is_empty() || r.batch_no == 0) {
            // The last, partial batch; or an empty file still leaves its audit row.
            self.import_batch(&mut r, batch, &mut report, progress)?;
        }
        report.errors.sort_by_key(|e| e.row);
        Ok(report)
    }

    /// Automatic assignment for an import, made once (in its first batch that needs it): the
    /// importer's candidates with their loads, and the pool for rows nobody can take.
    fn auto_run(&self, tx: &WriteTransaction, r: &Run) -> Result<AutoRun> {
        let mode = r.auto_mode.clone().unwrap_or_default();
        let fallback = match &r.pool_id {
            Some(id) => crate::store::pools::get_w(tx, id)?,
            None => Self::caller_pool(tx, &r.caller.user)?,
        };
        Ok(AutoRun {
            picker: self.picker(tx, r.caller, &r.scope, mode)?,
            fallback,
        })
    }

    fn reject(
        report: &mut ImportReport,
        progress: &mut dyn Progress,
        defs: &[CustomField],
        row: usize,
        field: impl Into<String>,
        reason: impl Into<String>,
        cells: &[String],
    ) -> Result<()> {
        let field = field.into();
        let e = RowError {
            row,
            label: field_label(&field, defs),
            field,
            reason: reason.into(),
        };
        progress.rejected(&e, cells)?;
        report.rejected += 1;
        if report.errors.len() < KEPT_ERRORS {
            report.errors.push(e);
        }
        Ok(())
    }

    /// Checks, seals and writes one batch of rows; `false` when the watcher asks to stop.
    fn import_batch(
        &self,
        r: &mut Run,
        rows: Vec<(usize, Vec<String>)>,
        report: &mut ImportReport,
        progress: &mut dyn Progress,
    ) -> Result<bool> {
        let rejected_before = report.rejected;
        report.rows += rows.len();
        let mut ready: Vec<Ready> = Vec::with_capacity(rows.len());
        // Checked and sealed outside the transaction: nothing is written for rows with problems.
        for (line, cells) in rows {
            let (mut input, owner_cell) = match row_input(&r.columns, &r.headers, &r.defs, &cells) {
                Ok(i) => i,
                Err((field, reason)) => {
                    Self::reject(report, progress, &r.defs, line, field, reason, &cells)?;
                    continue;
                }
            };
            let owner = match owner_cell {
                Some(name) => {
                    if !r.owners.contains_key(&name) {
                        let o = self.owner_for(r.caller, &r.scope, &name);
                        r.owners.insert(name.clone(), o);
                    }
                    match r.owners.get(&name) {
                        Some(Ok(id)) => Some(id.clone()),
                        Some(Err(reason)) => {
                            let reason = reason.clone();
                            Self::reject(report, progress, &r.defs, line, "owner", reason, &cells)?;
                            continue;
                        }
                        None => None,
                    }
                }
                None => r.default_owner.clone(),
            };
            input.owner_id = owner.clone();
            let checked = match customer::check(&input, true, r.today) {
                Ok(c) => c,
                Err((field, reason)) => {
                    Self::reject(report, progress, &r.defs, line, field, reason, &cells)?;
                    continue;
                }
            };
            let mut record =
                self.new_record(&input, checked, owner.clone(), &r.caller.user.id, r.now)?;
            let auto = owner.is_none() && r.auto_mode.is_some();
            if owner.is_none() && !auto {
                record.pool_id = r.pool_id.clone();
            }
            let phone = digest('p', &record.phone.bidx);
            if r.seen.contains(&phone) {
                Self::reject(
                    report,
                    progress,
                    &r.defs,
                    line,
                    "phone",
                    "与文件中前面的行手机号重复",
                    &cells,
                )?;
                continue;
            }
            if let Some(i) = &record.id_number {
                let d = digest('i', &i.bidx);
                if !r.seen.insert(d) {
                    Self::reject(
                        report,
                        progress,
                        &r.defs,
                        line,
                        "id_number",
                        "与文件中前面的行身份证号重复",
                        &cells,
                    )?;
                    continue;
                }
            }
            r.seen.insert(phone);
            ready.push(Ready {
                line,
                auto,
                input,
                record,
                cells,
            });
        }
        let counts_before = Counts {
            processed: report.rows as u64,
            created: report.created as u64,
            updated: report.updated as u64,
            skipped: report.skipped as u64,
            flagged: report.flagged as u64,
            rejected: report.rejected as u64,
            assigned: report.assigned as u64,
        };
        let batch_no = r.batch_no;
        r.batch_no += 1;
        let errors_in_batch = report.rejected - rejected_before;
        let mut auto = r.auto.take();
        let outcome = self.store.write(|tx| {
            let mut out = BatchOutcome::default();
            let matches = existing_matches(tx, &ready, r.opts.on_duplicate)?;
            for (row, found) in ready.iter().zip(matches) {
                let mut c = row.record.clone();
                if let Some(found) = found {
                    match r.opts.on_duplicate {
                        OnDuplicate::Skip => {
                            out.skipped += 1;
                            continue;
                        }
                        OnDuplicate::Update => {
                            let existing = match found {
                                Found::Record(e) => *e,
                                Found::Key => continue,
                            };
                            if existing.deleted_at.is_some() || !r.scope.can_see(&existing) {
                                out.refused.push((
                                    row.line,
                                    "phone".into(),
                                    "该客户已存在且不在您的权限范围内".into(),
                                    row.cells.clone(),
                                ));
                                continue;
                            }
                            let u = merged(&existing, &row.input, r.now);
                            if !r.opts.dry_run {
                                customers::put(tx, Some(&existing), &u)?;
                            }
                            out.updated += 1;
                            continue;
                        }
                        OnDuplicate::Flag => {
                            c.duplicate_flag = true;
                            out.flagged += 1;
                        }
                    }
                }
                // A new customer needs every required custom field, as a form does.
                if let Err((field, reason)) = custom_field::required_present(&r.defs, &c.custom) {
                    out.refused
                        .push((row.line, field, reason, row.cells.clone()));
                    continue;
                }
                if row.auto {
                    let a = match auto.as_mut() {
                        Some(a) => a,
                        None => auto.insert(self.auto_run(tx, r)?),
                    };
                    let (placed, reason) = self.place_new(
                        tx,
                        &mut a.picker,
                        &mut c,
                        a.fallback.as_ref(),
                        &r.caller.user,
                        r.now,
                    )?;
                    if !r.opts.dry_run {
                        let (kind, to) = placed.event(&c);
                        let event = customers::TimelineEvent::new(
                            new_id(r.now),
                            r.now,
                            &r.caller.user.id,
                            kind,
                            None,
                            Some(to),
                            Some(reason.clone()),
                        );
                        customers::add_event(tx, &c.id, &event)?;
                    }
                    if matches!(placed, Placed::User(_)) {
                        out.assigned += 1;
                    }
                }
                if !r.opts.dry_run {
                    customers::put(tx, None, &c)?;
                }
                out.created += 1;
            }
            if r.opts.dry_run {
                // Nothing of a dry run may stick: abort by returning the outcome as an "error".
                return Err(BatchError::DryRun(out));
            }
            let counts = Counts {
                created: counts_before.created + out.created as u64,
                updated: counts_before.updated + out.updated as u64,
                skipped: counts_before.skipped + out.skipped as u64,
                flagged: counts_before.flagged + out.flagged as u64,
                assigned: counts_before.assigned + out.assigned as u64,
                rejected: counts_before.rejected + out.refused.len() as u64,
                ..counts_before
            };
            // Audited with the batch, in its transaction: an interrupted import leaves exactly
            // the batches it wrote, each with its audit row.
            let detail = json!({
                "batch": batch_no, "rows": counts.processed, "created": out.created,
                "updated": out.updated, "skipped": out.skipped, "flagged": out.flagged,
                "errors": errors_in_batch + out.refused.len(),
                "on_duplicate": r.opts.on_duplicate, "pool_id": r.pool_id,
                "assign": r.auto_mode, "assigned": out.assigned,
            });
            let target = Some(r.import_id.to_string());
            let entry = audit::by_user(
                &r.caller.user,
                "customer.imported",
                r.source,
                target,
                detail,
            );
            audit::record(tx, r.now, entry)?;
            progress.in_batch(tx, &counts)?;
            Ok(out)
        });
        r.auto = auto;
        let out = match outcome {
            Ok(o) | Err(BatchError::DryRun(o)) => o,
            Err(BatchError::Service(e)) => return Err(e),
        };
        report.assigned += out.assigned;
        report.created += out.created;
        report.updated += out.updated;
        report.skipped += out.skipped;
        report.flagged += out.flagged;
        for (line, field, reason, cells) in out.refused {
            Self::reject(report, progress, &r.defs, line, field, reason, &cells)?;
        }
        progress.after_batch(report)
    }
}

/// An existing customer with the same phone or ID number: only its key is needed to skip or
/// flag; the record itself to update it.
enum Found {
    Key,
    Record(Box<Customer>),
}

/// For each ready row, the first existing customer sharing a phone or ID number, found through
/// the blind-index keys with one table handle for the whole batch.
fn existing_matches(
    tx: &WriteTransaction,
    ready: &[Ready],
    mode: OnDuplicate,
) -> Result<Vec<Option<Found>>, BatchError> {
    let all = Reader::unscoped(tx, Unscoped::Duplicates);
    let probes: Vec<Vec<(char, &str)>> = ready
        .iter()
        .map(|row| {
            let c = &row.record;
            std::iter::once(('p', c.phone.bidx.as_str()))
                .chain(c.extra_phones.iter().map(|p| ('p', p.bidx.as_str())))
                .chain(c.id_number.iter().map(|i| ('i', i.bidx.as_str())))
                .collect()
        })
        .collect();
    let ids = all
        .first_ids_by_index(&probes)
        .map_err(crate::service::Error::from)?;
    ids.into_iter()
        .map(|id| match (id, mode) {
            (None, _) => Ok(None),
            (Some(id), OnDuplicate::Update) => {
                Ok(all.any(&id)?.map(|c| Found::Record(Box::new(c))))
            }
            (Some(_), _) => Ok(Some(Found::Key)),
        })
        .collect()
}

/// The existing customer with the row's non-empty fields filled in.
fn merged(
    existing: &Customer,
    input: &CustomerInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Customer {
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
    if let Some(custom) = &input.custom {
        for (k, v) in custom {
            u.custom.insert(k.clone(), v.clone());
        }
    }
    u.updated_at = now;
    u
}

#[derive(Default)]
struct BatchOutcome {
    created: usize,
    updated: usize,
    skipped: usize,
    flagged: usize,
    assigned: usize,
    /// Rows refused inside the transaction (line, field, reason, cells).
    refused: Vec<(usize, String, String, Vec<String>)>,
}

/// How a batch transaction ends other than committing: a dry run's outcome (so that it aborts)
/// or a failure.
enum BatchError {
    DryRun(BatchOutcome),
    Service(Error),
}

impl From<Error> for BatchError {
    fn from(e: Error) -> Self {
        BatchError::Service(e)
    }
}

impl From<crate::store::Error> for BatchError {
    fn from(e: crate::store::Error) -> Self {
        BatchError::Service(e.into())
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
        assert_eq!(parse_yuan("1,234.50"), Some(123_450));
        assert_eq!(parse_yuan("12万"), Some(12_000_000));
        assert_eq!(parse_yuan("¥12.5万元"), Some(12_500_000));
        assert_eq!(parse_yuan("300元"), Some(30_000));
        assert_eq!(parse_yuan("万"), None);
    }

    #[test]
    fn headers_are_recognised() {
        assert_eq!(field_for(" 贷款金额（万元） "), Some("amount_wan"));
        assert_eq!(field_for("联系电话"), Some("phone"));
        assert_eq!(field_for("负责人"), Some("owner"));
        assert_eq!(field_for("备注"), None);
    }

    #[test]
    fn an_explicit_mapping_wins_and_is_checked() {
        let h: Vec<String> = ["客户", "电话", "备注", "城市"].map(String::from).to_vec();
        let custom = [CustomField {
            key: "wechat".into(),
            label: "微信号".into(),
            kind: Kind::Text,
            options: vec![],
            required: false,
            order: 0,
            active: true,
            show_in_list: false,
        }];
        let m = Mapping::from([
            ("客户".to_string(), Some("name".to_string())),
            ("电话".to_string(), Some("phone".to_string())),
            ("备注".to_string(), Some("custom.wechat".to_string())),
            ("城市".to_string(), None),
        ]);
        assert_eq!(
            resolve_columns(&h, &m, &custom).unwrap(),
            [
                Some("name".into()),
                Some("phone".into()),
                Some("custom.wechat".into()),
                None
            ]
        );
        let bad = Mapping::from([("备注".to_string(), Some("custom.qq".to_string()))]);
        assert!(
            resolve_columns(&h, &bad, &custom).is_err(),
            "unknown custom field"
        );
        let twice = Mapping::from([("城市".to_string(), Some("name".to_string()))]);
        assert!(
            resolve_columns(&h, &twice, &custom).is_err(),
            "two columns, one field"
        );
        // A header that is a custom field's name maps to it automatically.
        let h2: Vec<String> = ["姓名", "手机", "微信号"].map(String::from).to_vec();
        assert_eq!(
            resolve_columns(&h2, &Mapping::new(), &custom).unwrap()[2],
            Some("custom.wechat".into())
        );
    }
}
