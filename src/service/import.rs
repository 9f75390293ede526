//! Importing customers from the files agencies actually have: CSV in UTF-8 (with or without
//! BOM), GBK or GB18030, and XLSX (first sheet). Headers are recognised from the usual Chinese
//! and English column names, or mapped by the importer (a saved template, or a mapping sent
//! with the file); every row is validated like a form; duplicates (by phone or ID number,
//! against the store and earlier rows of the same file) are skipped, updated or flagged.
//!
//! The file is streamed: rows are read, checked, sealed and written in batches of [`BATCH`],
//! one transaction each, so memory stays flat whatever the file's size, an interrupted import
//! leaves whole batches, and running the same file again with `skip` adds nothing.

crate::service::use_cases!(
    imports,
    "Importing customers from files: previews, jobs, templates."
);

mod batch;
mod columns;
mod digests;
pub mod jobs;
mod merge;
pub mod preview;
mod profile_columns;
pub mod report;
pub mod source;
pub mod templates;
pub mod xlsx_guard;

use std::collections::BTreeMap;

use batch::{Prepared, Run, Seen, Target, Writing};
pub use columns::{
    FIELDS, all_fields, auto_field, field_for, field_label, parse_money, parse_yuan,
    resolve_columns,
};
use columns::{HEADER_SEARCH, is_header, known_target, no_header};
pub use profile_columns::parse_yes_no;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::customers::shanghai;
use super::{Error, Result, new_id};
use crate::domain::capability::Capability;
use crate::domain::custom_field::CustomField;
use crate::domain::org::UserStatus;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Scope;
use crate::store::{WriteTransaction, users};

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
    /// The row's name cell, so the reader knows whose row it is. Personal data: a job keeps
    /// it only sealed (its stored record has it empty; `import_job` fills it from the sealed
    /// file for the caller).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The offending cell as typed (empty when the problem has no one cell). Kept like `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// What to do with a row whose optional field is bad (an ID number with a wrong check digit, a
/// date or money cell that does not read) while its name and phone are good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BadOptional {
    /// Refuse the whole row (it goes to the error report).
    #[default]
    Reject,
    /// Import the row without that field, tag the customer [`REVIEW_TAG`] and list the row as a
    /// warning (column, value, reason).
    Keep,
}

/// The tag on a customer imported without a bad optional field ([`BadOptional::Keep`]).
pub const REVIEW_TAG: &str = "待核对";

/// Fields a row cannot go without: a problem with one of these refuses the row whatever
/// [`BadOptional`] says.
pub const REQUIRED_FIELDS: &[&str] = &["name", "phone", "owner"];

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
    /// Rows matched to an existing customer (`on_duplicate: update`) whose cells changed
    /// nothing on it (not counted in `updated`).
    pub unchanged: usize,
    /// What each updated row changed (the first ones): its line, the customer, the fields.
    pub changes: Vec<RowChange>,
    /// New rows that automatic assignment (`assign`) could give nobody: put in a pool.
    pub pooled: usize,
    /// Where the automatically assigned rows without an owner went, and why: one entry per
    /// destination and reason.
    pub placements: Vec<Placement>,
    /// Rows skipped as duplicates of existing customers (the first ones; `skipped` counts
    /// every one): the line, the field that matched, and the existing customer, masked.
    pub duplicates: Vec<RowError>,
    pub errors: Vec<RowError>,
    /// Rows imported without a bad optional field and tagged for review ([`BadOptional::Keep`]).
    pub to_review: usize,
    /// The first of them: one entry per dropped field (`KEPT_ERRORS` at most).
    pub warnings: Vec<RowError>,
    /// Which field each column went to (`null`: ignored).
    pub columns: Vec<(String, Option<String>)>,
    /// Stopped between batches on request: what is counted was written, the rest was not read.
    pub stopped: bool,
}

/// One row of an update import and what it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowChange {
    pub row: usize,
    pub customer_id: String,
    /// The fields changed (`name`, `demand.amount_fen`, `profile.monthly_income_fen`, …).
    pub fields: Vec<String>,
}

/// Rows that automatic assignment could give nobody, by where they went and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Placement {
    /// `pool`, or `creator` (no pool, or a won customer no pool may hold: the importer keeps it).
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_name: Option<String>,
    /// Why nobody got them (nobody in the team takes leads, everyone is full, the assignment
    /// plugin failed …), as the timeline says it.
    pub reason: String,
    pub rows: usize,
}

/// Header text → field (`name`, `phone`, …, `owner`, `custom.<key>`; `null` or `"ignore"`:
/// ignore the column). Headers not named keep their automatic mapping.
pub type Mapping = BTreeMap<String, Option<String>>;

/// How to run one import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub on_duplicate: OnDuplicate,
    /// A bad optional field: refuse the row (default) or keep the row without it.
    pub bad_optional: BadOptional,
    pub dry_run: bool,
    /// Column choices made by the importer (win over the template and the automatic mapping).
    pub mapping: Option<Mapping>,
    /// A saved mapping (`import_templates`) to apply; the file's headers must match it.
    pub template_id: Option<String>,
    /// Username (or user id, as the UI's picker sends it) who gets rows without an `owner`
    /// column (default: the importer).
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
    /// The store is this process's alone for the whole import (`zhudai import`, the server
    /// stopped): the new customers' phone, ID-number and name keys and lead-check keys go to
    /// the import key log (`store::keylog`) batch by batch and are merged into their tables
    /// in key order when the import ends (or, after an interruption, at the next open).
    pub key_log: bool,
    /// Writes each row with the single-row store functions (`customers::put_by`,
    /// `customers::add_event`) instead of table by table per batch: the reference the batched
    /// writer is tested against (`tests/it/import_batches.rs`); slower, same result.
    #[doc(hidden)]
    pub row_by_row: bool,
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
    /// Rows imported without a bad optional field, tagged for review.
    #[serde(default)]
    pub to_review: u64,
    /// Update rows that changed nothing.
    #[serde(default)]
    pub unchanged: u64,
    /// New rows automatic assignment put in a pool.
    #[serde(default)]
    pub pooled: u64,
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
    /// A row imported without a bad optional field (one call per field dropped), with its
    /// original cells.
    fn warned(&mut self, _warning: &RowError, _cells: &[String]) -> Result<()> {
        Ok(())
    }
    /// A row skipped as a duplicate of an existing customer, with its original cells.
    fn skipped(&mut self, _row: &RowError, _cells: &[String]) -> Result<()> {
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
    /// The import's logged keys were merged into their tables ([`ImportOptions::key_log`]).
    fn keys_merged(&mut self, _merged: &crate::store::keylog::Merged, _took: std::time::Duration) {}
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

impl crate::service::import::UseCases<'_> {
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
        let (found, roles) = self
            .store
            .read(|tx| {
                let roles = crate::store::org::roles(tx)?;
                let by_name = users::find_by_username(tx, name)?;
                if by_name.is_some() {
                    return Ok::<_, Error>((by_name, roles));
                }
                // The UI's owner picker sends the user's id.
                if let Some(u) = users::get(tx, name)? {
                    return Ok((Some(u), roles));
                }
                let mut same: Vec<_> = users::all(tx)?
                    .into_iter()
                    .filter(|u| u.display_name == name)
                    .collect();
                Ok((if same.len() == 1 { same.pop() } else { None }, roles))
            })
            .map_err(|_| "无法读取用户".to_string())?;
        let Some(u) = found.filter(|u| u.status == UserStatus::Active) else {
            return Err(format!("负责人“{name}”不存在或已停用"));
        };
        if u.id == caller.user.id {
            return Ok(u.id);
        }
        if !caller.can(Capability::CustomerTransfer) || !scope.may_receive(&u.id) {
            return Err(format!("无权将客户分配给“{name}”"));
        }
        // Someone else: the rule for every hand-over (here, their permissions).
        if let Some(reason) = crate::service::customers::recipient::refusal(scope, &roles, &u) {
            return Err(format!("负责人“{name}”：{reason}"));
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
        let auto =
            self.pools()
                .new_lead_assign_mode(caller, opts.assign.as_deref(), owner.is_some())?;
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
        let mut seen = Seen::default();
        let mut writing = Writing::default();
        if opts.key_log && !opts.dry_run && !opts.row_by_row {
            writing.log = Some(crate::store::keylog::ImportLog::start(&self.store)?);
        }
        let logged = writing.log.is_some();
        let body = || -> Result<ImportReport> {
            let mut pending: Option<Prepared> = None;
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
                        now,
                        today: now.with_timezone(&shanghai()).date_naive(),
                    });
                    return Ok(true);
                };
                let r: &Run = r;
                batch.push((line, cells));
                if batch.len() >= batch_rows {
                    let rows = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                    // This batch is checked and sealed on a second thread while the one before
                    // it is written.
                    let (checked, written) = std::thread::scope(|s| {
                        let checking = s.spawn(|| self.prepare_rows(r, &mut seen, rows));
                        let written = match pending.take() {
                            Some(p) => self.import_batch(r, &mut writing, p, &mut report, progress),
                            None => Ok(true),
                        };
                        let checked = checking
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                        (checked, written)
                    });
                    if !written? {
                        report.stopped = true;
                        return Ok(false);
                    }
                    pending = Some(checked?);
                }
                Ok(true)
            })?;
            let Some(r) = run else {
                return Err(no_header());
            };
            if !report.stopped
                && let Some(p) = pending.take()
                && !self.import_batch(&r, &mut writing, p, &mut report, progress)?
            {
                report.stopped = true;
            }
            if !report.stopped && (!batch.is_empty() || writing.batch_no == 0) {
                // The last, partial batch; or an empty file still leaves its audit row.
                let last = if batch.is_empty() {
                    Prepared::default()
                } else {
                    self.prepare_rows(&r, &mut seen, batch)?
                };
                self.import_batch(&r, &mut writing, last, &mut report, progress)?;
            }
            report.errors.sort_by_key(|e| e.row);
            report.warnings.sort_by_key(|e| e.row);
            Ok(report)
        };
        let result = body();
        // The file's digests and this import's logged prefixes (tens of MB at 1M) are not
        // needed by the merge: freed before it.
        drop(seen);
        drop(writing);
        if logged {
            // Whether the import ended or failed: the keys of the batches it committed go to
            // their tables now (else at the next open of the store).
            let started = std::time::Instant::now();
            match (&result, crate::store::keylog::merge(&self.store)) {
                (_, Ok(Some(m))) => progress.keys_merged(&m, started.elapsed()),
                (_, Ok(None)) => {}
                (Ok(_), Err(e)) => return Err(e.into()),
                (Err(_), Err(e)) => tracing::error!(
                    error = %e,
                    "merging the import's logged keys failed; retried at the next open"
                ),
            }
        }
        result
    }
}
