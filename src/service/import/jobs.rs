//! Background import jobs (`import_jobs`): an upload is spooled to `data/imports/<job>.upload`
//! and imported on its own thread; the job record carries progress and counts and is written
//! in the same transaction as each batch, so what it reports is exactly what was committed.
//! Cancelling sets a flag the import reads between batches. Rows refused are kept, sealed with
//! the field key, in `data/imports/<job>.rejected` for the error report, for
//! `customers.import_rejected_days` after the job ends ([`App::purge_import_files`], run when
//! jobs are listed or started and at start-up).

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::super::access::auth::Caller;
use super::super::{App, Error, Result};
use super::report::ErrorSheet;
use super::{BadOptional, Counts, ImportOptions, ImportReport, OnDuplicate, Progress, RowError};
use crate::domain::capability::Capability;
use crate::store::{WriteTransaction, codec, tables};

/// Rejected rows listed in the job record itself (all of them are in the error report).
pub const FIRST_REJECTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn finished(self) -> bool {
        matches!(
            self,
            JobStatus::Done | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub file_name: String,
    pub status: JobStatus,
    /// Data rows in the file, when they could be counted up front.
    pub total: Option<u64>,
    #[serde(flatten)]
    pub counts: Counts,
    /// The first rejected rows (row number, field, reason; the name and value are filled in
    /// from the sealed file when a caller reads the job, never stored here).
    pub rejected_rows: Vec<RowError>,
    /// The first rows imported without a bad optional field (`bad_optional: keep`), one entry
    /// per field left out; name and value as in `rejected_rows`.
    #[serde(default)]
    pub warning_rows: Vec<RowError>,
    /// The first rows skipped as duplicates of existing customers (the field that matched,
    /// the existing customer masked); name and value as in `rejected_rows`.
    #[serde(default)]
    pub duplicate_rows: Vec<RowError>,
    /// Where automatically assigned rows nobody could take went, and why.
    #[serde(default)]
    pub placements: Vec<super::Placement>,
    /// The file's header row.
    pub headers: Vec<String>,
    /// The mapping used: (header, field or `null`).
    pub mapping: Vec<(String, Option<String>)>,
    pub on_duplicate: OnDuplicate,
    /// A bad optional field: `reject` the row or `keep` it without the field.
    #[serde(default)]
    pub bad_optional: BadOptional,
    pub dry_run: bool,
    pub owner: Option<String>,
    pub pool_id: Option<String>,
    /// Automatic assignment of rows without an owner cell (`auto` or a mode).
    #[serde(default)]
    pub assign: Option<String>,
    pub template_id: Option<String>,
    /// Asked to stop; the import stops before its next batch.
    pub cancel_requested: bool,
    /// Why a failed job failed (Chinese).
    pub error: Option<String>,
    /// The rejected rows were removed after `customers.import_rejected_days`: no error report.
    #[serde(default)]
    pub errors_purged: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub items: Vec<ImportJob>,
}

fn get_w(tx: &WriteTransaction, id: &str) -> crate::store::Result<Option<ImportJob>> {
    let t = tx.open_table(tables::IMPORT_JOBS)?;
    let v = t.get(id)?;
    v.map(|v| codec::decode("import_jobs", v.value()))
        .transpose()
}

fn put(tx: &WriteTransaction, job: &ImportJob) -> crate::store::Result<()> {
    tx.open_table(tables::IMPORT_JOBS)?
        .insert(job.id.as_str(), codec::encode(job)?.as_slice())?;
    Ok(())
}

/// One refused row as kept for the error report (sealed as a whole); or a row imported
/// without a bad optional field (`warning`), kept so the job can show whose row it was.
#[derive(Serialize, Deserialize)]
struct KeptRow {
    error: RowError,
    cells: Vec<String>,
    #[serde(default)]
    warning: bool,
    /// Skipped as a duplicate of an existing customer (in the error report: not imported).
    #[serde(default)]
    skipped: bool,
}

/// Which list a kept row belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kept {
    Rejected,
    Warning,
    Skipped,
}

/// A row error as a job record stores it: without the personal data (name, value).
fn stored(e: &RowError) -> RowError {
    RowError {
        name: String::new(),
        value: String::new(),
        ..e.clone()
    }
}

/// Watches a job's import: records progress in the job, keeps refused rows.
struct Watcher<'a> {
    app: &'a App,
    id: String,
    total: Option<u64>,
    headers: Vec<String>,
    mapping: Vec<(String, Option<String>)>,
    first: Vec<RowError>,
    warnings: Vec<RowError>,
    duplicates: Vec<RowError>,
    rejected_file: Option<BufWriter<std::fs::File>>,
    rejected_path: PathBuf,
    dry_run: bool,
}

impl Watcher<'_> {
    fn update(&self, tx: &WriteTransaction, counts: Option<&Counts>) -> Result<bool> {
        let Some(mut job) = get_w(tx, &self.id)? else {
            return Ok(false);
        };
        job.total = self.total;
        if let Some(c) = counts {
            job.counts = *c;
        }
        job.headers.clone_from(&self.headers);
        job.mapping.clone_from(&self.mapping);
        job.rejected_rows.clone_from(&self.first);
        job.warning_rows.clone_from(&self.warnings);
        job.duplicate_rows.clone_from(&self.duplicates);
        put(tx, &job)?;
        Ok(!job.cancel_requested)
    }

    fn write_now(&self, counts: Option<&Counts>) -> Result<bool> {
        self.app.store.write(|tx| self.update(tx, counts))
    }

    /// Appends a refused row (or a warning) to the job's sealed file.
    fn keep(&mut self, error: &RowError, cells: &[String], kind: Kept) -> Result<()> {
        if self.rejected_file.is_none() {
            let f = std::fs::File::create(&self.rejected_path)
                .map_err(|e| Error::Internal(format!("keeping rejected rows: {e}")))?;
            self.rejected_file = Some(BufWriter::new(f));
        }
        let line = serde_json::to_string(&KeptRow {
            error: error.clone(),
            cells: cells.to_vec(),
            warning: kind == Kept::Warning,
            skipped: kind == Kept::Skipped,
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        let sealed = self
            .app
            .fields
            .encrypt(&self.id, "rejected", &line)
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(f) = self.rejected_file.as_mut() {
            writeln!(f, "{sealed}")
                .map_err(|e| Error::Internal(format!("keeping rejected rows: {e}")))?;
        }
        Ok(())
    }
}

impl Progress for Watcher<'_> {
    fn total(&mut self, total: Option<u64>) {
        self.total = total;
    }

    fn header(&mut self, headers: &[String], columns: &[(String, Option<String>)]) -> Result<()> {
        self.headers = headers.to_vec();
        self.mapping = columns.to_vec();
        self.write_now(None).map(|_| ())
    }

    fn rejected(&mut self, error: &RowError, cells: &[String]) -> Result<()> {
        if self.first.len() < FIRST_REJECTED {
            self.first.push(stored(error));
        }
        self.keep(error, cells, Kept::Rejected)
    }

    fn warned(&mut self, warning: &RowError, cells: &[String]) -> Result<()> {
        if self.warnings.len() < FIRST_REJECTED {
            self.warnings.push(stored(warning));
        }
        self.keep(warning, cells, Kept::Warning)
    }

    fn skipped(&mut self, row: &RowError, cells: &[String]) -> Result<()> {
        if self.duplicates.len() < FIRST_REJECTED {
            self.duplicates.push(stored(row));
        }
        self.keep(row, cells, Kept::Skipped)
    }

    fn in_batch(&mut self, tx: &WriteTransaction, counts: &Counts) -> Result<()> {
        self.update(tx, Some(counts)).map(|_| ())
    }

    fn after_batch(&mut self, report: &ImportReport) -> Result<bool> {
        if let Some(f) = self.rejected_file.as_mut() {
            f.flush()
                .map_err(|e| Error::Internal(format!("keeping rejected rows: {e}")))?;
        }
        // Dry runs write nothing in their batches: their progress is recorded here. Real runs
        // re-read the job only for its cancel flag (rejections after the commit are in the
        // final record).
        if self.dry_run {
            return self.write_now(Some(&counts_of(report)));
        }
        let job = self.app.imports().import_job_record(&self.id)?;
        Ok(!job.cancel_requested)
    }
}

fn counts_of(r: &ImportReport) -> Counts {
    Counts {
        processed: r.rows as u64,
        created: r.created as u64,
        updated: r.updated as u64,
        skipped: r.skipped as u64,
        flagged: r.flagged as u64,
        rejected: r.rejected as u64,
        assigned: r.assigned as u64,
        to_review: r.to_review as u64,
        unchanged: r.unchanged as u64,
        pooled: r.pooled as u64,
    }
}

impl crate::service::import::UseCases<'_> {
    fn rejected_path(&self, id: &str) -> PathBuf {
        self.data_dir.join("imports").join(format!("{id}.rejected"))
    }

    fn import_job_record(&self, id: &str) -> Result<ImportJob> {
        let job: Option<ImportJob> = self.store.read(|tx| {
            let t = tx.open_table(tables::IMPORT_JOBS)?;
            let v = t.get(id)?;
            v.map(|v| codec::decode("import_jobs", v.value()))
                .transpose()
        })?;
        job.ok_or(Error::NotFound)
    }

    /// A job the caller may see: their own (an administrator with the `all` scope sees every one).
    pub fn import_job(&self, caller: &Caller, id: &str) -> Result<ImportJob> {
        caller.require(Capability::CustomerImport)?;
        let job = self.import_job_record(id)?;
        let all = self.scope_of(caller)?.owner_filter().is_none();
        if job.user_id != caller.user.id && !all {
            return Err(Error::NotFound);
        }
        let mut job = job;
        self.fill_row_context(&mut job)?;
        Ok(job)
    }

    /// The shown rows' names and values, from the job's sealed file (the first rows only: the
    /// file is read up to the last row the job shows).
    fn fill_row_context(&self, job: &mut ImportJob) -> Result<()> {
        if job.errors_purged
            || (job.rejected_rows.is_empty()
                && job.warning_rows.is_empty()
                && job.duplicate_rows.is_empty())
        {
            return Ok(());
        }
        let f = match std::fs::File::open(self.rejected_path(&job.id)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::Internal(format!("rejected rows: {e}"))),
        };
        let (mut errors, mut warnings, mut skipped) = (0, 0, 0);
        for line in std::io::BufReader::new(f).lines() {
            if errors >= job.rejected_rows.len()
                && warnings >= job.warning_rows.len()
                && skipped >= job.duplicate_rows.len()
            {
                break;
            }
            let line = line.map_err(|e| Error::Internal(format!("rejected rows: {e}")))?;
            if line.is_empty() {
                continue;
            }
            let plain = self
                .fields
                .decrypt(&job.id, "rejected", &line)
                .map_err(|e| Error::Internal(format!("rejected rows: {e}")))?;
            let kept: KeptRow = serde_json::from_str(&plain)
                .map_err(|e| Error::Internal(format!("rejected rows: {e}")))?;
            let (list, n) = if kept.warning {
                (&mut job.warning_rows, &mut warnings)
            } else if kept.skipped {
                (&mut job.duplicate_rows, &mut skipped)
            } else {
                (&mut job.rejected_rows, &mut errors)
            };
            if let Some(shown) = list.get_mut(*n)
                && shown.row == kept.error.row
                && shown.field == kept.error.field
            {
                shown.name = kept.error.name;
                shown.value = kept.error.value;
            }
            *n += 1;
        }
        Ok(())
    }

    /// The caller's jobs, newest first.
    pub fn list_import_jobs(&self, caller: &Caller, limit: usize) -> Result<JobList> {
        caller.require(Capability::CustomerImport)?;
        self.purge_import_files_logged();
        let me = caller.user.id.clone();
        let items = self.store.read(|tx| {
            let t = tx.open_table(tables::IMPORT_JOBS)?;
            let mut out = Vec::new();
            for row in t.iter()?.rev() {
                let (_, v) = row?;
                let job: ImportJob = codec::decode("import_jobs", v.value())?;
                if job.user_id == me {
                    out.push(job);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok::<_, crate::store::Error>(out)
        })?;
        Ok(JobList { items })
    }

    fn run_import_job(&self, caller: &Caller, id: &str, opts: &ImportOptions, source: &str) {
        let upload = match self.spool_path(id) {
            Ok(p) => p,
            Err(e) => {
                self.finish_job(id, Err(e), None);
                return;
            }
        };
        let started = self.store.write(|tx| {
            let Some(mut job) = get_w(tx, id)? else {
                return Ok::<_, Error>(false);
            };
            if job.cancel_requested {
                return Ok(false);
            }
            job.status = JobStatus::Running;
            job.started_at = Some(self.now());
            put(tx, &job)?;
            Ok(true)
        });
        let mut watcher = Watcher {
            app: self,
            id: id.to_string(),
            total: None,
            headers: Vec::new(),
            mapping: Vec::new(),
            first: Vec::new(),
            warnings: Vec::new(),
            duplicates: Vec::new(),
            rejected_file: None,
            rejected_path: self.rejected_path(id),
            dry_run: opts.dry_run,
        };
        let timer = std::time::Instant::now();
        let result = match started {
            Ok(true) => {
                let r = self.import_file(caller, &upload, opts, source, id, &mut watcher);
                self.metrics.observe_job("import", timer.elapsed());
                r
            }
            Ok(false) => Ok(ImportReport {
                stopped: true,
                ..Default::default()
            }),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&upload);
        if let Some(mut f) = watcher.rejected_file.take() {
            let _ = f.flush();
        }
        self.finish_job(id, result, Some(&watcher));
    }

    fn finish_job(&self, id: &str, result: Result<ImportReport>, watcher: Option<&Watcher>) {
        let now = self.now();
        let written = self.store.write(|tx| {
            let Some(mut job) = get_w(tx, id)? else {
                return Ok::<_, Error>(());
            };
            if let Some(w) = watcher {
                job.total = w.total;
                job.headers.clone_from(&w.headers);
                job.mapping.clone_from(&w.mapping);
                job.rejected_rows.clone_from(&w.first);
                job.warning_rows.clone_from(&w.warnings);
                job.duplicate_rows.clone_from(&w.duplicates);
            }
            match &result {
                Ok(report) => {
                    job.counts = counts_of(report);
                    job.placements.clone_from(&report.placements);
                    job.status = if report.stopped {
                        JobStatus::Cancelled
                    } else {
                        JobStatus::Done
                    };
                    if job.status == JobStatus::Done {
                        job.total = Some(job.counts.processed);
                    }
                }
                Err(e) => {
                    job.status = JobStatus::Failed;
                    job.error = Some(match e {
                        Error::Validation { reason, .. } => reason.clone(),
                        Error::Forbidden(c) => format!("缺少权限 {c}"),
                        other => {
                            tracing::error!(job = id, error = %other, "import job failed");
                            "导入失败（内部错误），已写入的批次保留".to_string()
                        }
                    });
                }
            }
            job.finished_at = Some(now);
            put(tx, &job)?;
            Ok(())
        });
        if let Err(e) = written {
            tracing::error!(job = id, error = %e, "recording the end of an import job");
        }
    }

    /// Asks a job to stop before its next batch.
    pub fn cancel_import_job(&self, caller: &Caller, id: &str) -> Result<ImportJob> {
        self.import_job(caller, id)?;
        self.store.write(|tx| {
            let mut job = get_w(tx, id)?.ok_or(Error::NotFound)?;
            if job.status.finished() {
                return Err(Error::Unprocessable {
                    code: "job_finished",
                    message: "导入任务已结束".into(),
                });
            }
            job.cancel_requested = true;
            put(tx, &job)?;
            Ok(job)
        })
    }

    /// At start-up: jobs that were running when the process died are failed (interrupted);
    /// their spooled uploads are removed. Returns how many.
    pub fn recover_import_jobs(&self) -> Result<usize> {
        let now = self.now();
        let ids = self.store.write(|tx| {
            let open = (|| {
                let mut open = Vec::new();
                let t = tx.open_table(tables::IMPORT_JOBS)?;
                for row in t.iter()? {
                    let (_, v) = row?;
                    let job: ImportJob = codec::decode("import_jobs", v.value())?;
                    if !job.status.finished() {
                        open.push(job);
                    }
                }
                Ok::<_, crate::store::Error>(open)
            })()?;
            let mut ids = Vec::new();
            for mut job in open {
                job.status = JobStatus::Failed;
                job.error = Some(
                    "导入被中断（服务重启）；已写入的批次保留，重新导入同一文件即可补全".into(),
                );
                job.finished_at = Some(now);
                put(tx, &job)?;
                ids.push(job.id);
            }
            Ok::<_, Error>(ids)
        })?;
        for id in &ids {
            if let Ok(p) = self.spool_path(id) {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(ids.len())
    }

    /// Removes the rejected-row files of jobs that ended more than
    /// `customers.import_rejected_days` ago (marking the job), and files whose job record is
    /// gone. Returns how many files were removed.
    pub fn purge_import_files(&self) -> Result<usize> {
        let dir = self.data_dir.join("imports");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::Internal(format!("reading {}: {e}", dir.display()))),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::Internal(format!("reading imports: {e}")))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".rejected") {
                files.push((id.to_string(), entry.path()));
            }
        }
        if files.is_empty() {
            return Ok(0);
        }
        let keep =
            chrono::Duration::days(i64::from(self.config.customers.import_rejected_days.max(1)));
        let cutoff = self.now() - keep;
        let mut removed = 0;
        for (id, path) in files {
            // Decided and recorded in one transaction: the job is marked before its file goes,
            // so a report is either complete or refused, never silently empty.
            let remove = self.store.write(|tx| {
                let Some(mut job) = get_w(tx, &id)? else {
                    return Ok::<_, Error>(true);
                };
                let expired =
                    job.status.finished() && job.finished_at.is_some_and(|at| at <= cutoff);
                if expired && !job.errors_purged {
                    job.errors_purged = true;
                    put(tx, &job)?;
                }
                Ok(expired)
            })?;
            if remove {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::Internal(format!("removing {}: {e}", path.display())));
                    }
                }
            }
        }
        Ok(removed)
    }

    /// [`Self::purge_import_files`] where a failure must not stop the caller's request.
    fn purge_import_files_logged(&self) {
        if let Err(e) = self.purge_import_files() {
            tracing::warn!(error = %e, "removing expired import error files");
        }
    }

    /// The error report of a job: every refused row with its cells and reason.
    pub fn import_job_errors_xlsx(&self, caller: &Caller, id: &str) -> Result<(String, Vec<u8>)> {
        let job = self.import_job(caller, id)?;
        if job.errors_purged {
            return Err(Error::Unprocessable {
                code: "report_expired",
                message: format!(
                    "错误报告已超过保留期限（{}天）并已删除",
                    self.config.customers.import_rejected_days
                ),
            });
        }
        let mut sheet = ErrorSheet::new(&job.headers)?;
        match std::fs::File::open(self.rejected_path(id)) {
            Ok(f) => {
                for line in std::io::BufReader::new(f).lines() {
                    let line = line.map_err(|e| Error::Internal(format!("rejected rows: {e}")))?;
                    if line.is_empty() {
                        continue;
                    }
                    let plain = self
                        .fields
                        .decrypt(id, "rejected", &line)
                        .map_err(|e| Error::Internal(format!("rejected rows: {e}")))?;
                    let kept: KeptRow = serde_json::from_str(&plain)
                        .map_err(|e| Error::Internal(format!("rejected rows: {e}")))?;
                    // Rows kept with a warning were imported: not for importing again.
                    if !kept.warning {
                        sheet.add(&kept.error, &kept.cells)?;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Internal(format!("rejected rows: {e}"))),
        }
        let stem = job
            .file_name
            .rsplit_once('.')
            .map_or(job.file_name.as_str(), |(s, _)| s)
            .to_string();
        Ok((format!("{stem}.errors.xlsx"), sheet.finish()?))
    }
}

/// Starting a job needs the shared `Arc<App>` (the job runs on its own thread), so it is
/// reached on the app itself: `app.start_import_job(…)`.
impl App {
    /// Records a job for an upload already spooled at `spool_path(id)` and starts it on its own
    /// thread. The target (owner, pool, template) is checked first, so a refusal is immediate.
    pub fn start_import_job(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        file_name: &str,
        opts: ImportOptions,
        source: &str,
    ) -> Result<ImportJob> {
        caller.require(Capability::CustomerImport)?;
        self.imports().purge_import_files_logged();
        let upload = self.imports().spool_path(id)?;
        let checked = (|| {
            let scope = self.scope_of(caller)?;
            self.imports().import_target(caller, &scope, &opts)?;
            self.imports().requested_mapping(&opts)?;
            Ok::<_, Error>(())
        })();
        if let Err(e) = checked {
            let _ = std::fs::remove_file(&upload);
            return Err(e);
        }
        let now = self.now();
        let job = ImportJob {
            id: id.to_string(),
            user_id: caller.user.id.clone(),
            username: caller.user.username.clone(),
            file_name: file_name.chars().take(200).collect(),
            status: JobStatus::Queued,
            total: None,
            counts: Counts::default(),
            rejected_rows: Vec::new(),
            warning_rows: Vec::new(),
            duplicate_rows: Vec::new(),
            placements: Vec::new(),
            headers: Vec::new(),
            mapping: Vec::new(),
            on_duplicate: opts.on_duplicate,
            bad_optional: opts.bad_optional,
            dry_run: opts.dry_run,
            owner: opts.owner.clone(),
            pool_id: opts.pool_id.clone(),
            assign: opts.assign.clone(),
            template_id: opts.template_id.clone(),
            cancel_requested: false,
            error: None,
            errors_purged: false,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        self.store.write(|tx| put(tx, &job))?;
        let app = Arc::clone(self);
        let caller = caller.clone();
        let source = source.to_string();
        let job_id = id.to_string();
        std::thread::Builder::new()
            .name(format!("import-{id}"))
            .spawn(move || {
                app.imports()
                    .run_import_job(&caller, &job_id, &opts, &source)
            })
            .map_err(|e| Error::Internal(format!("starting the import: {e}")))?;
        Ok(job)
    }
}
