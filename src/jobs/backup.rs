//! Scheduled backups from `serve`: daily at `backup.time` (+08:00) into `backup.dir`, named
//! `zhudai-YYYYMMDD-HHMMSS.age` (local time), then retention and the optional post command.
//! The last results are kept in `data/backup-status.json` (written atomically) for the admin
//! page, the API and `zhudai doctor`. "Run now" from the API uses the same code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::schedule;
use crate::backup::create::{self as backup_create, BackupLock, Quiet, SnapshotSource};
use crate::backup::{Encryption, keys};
use crate::config::BackupConfig;
use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::{self, App};
use crate::store::audit::NewAudit;

pub use super::backup_status::{
    BackupStatus, STATUS_FILE, StatusFile, load_status, note_run, save_status, status_for_update,
    status_lock, status_path,
};
/// How often the scheduler looks at the clock.
const TICK: Duration = Duration::from_secs(30);
/// A post command running longer than this is stopped and reported.
const POST_COMMAND_LIMIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Scheduled,
    Manual,
    /// `zhudai backup` from the command line (a cron job), reported by the CLI.
    Cli,
}

/// One backup run, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunRecord {
    pub trigger: Trigger,
    /// Who asked (manual runs).
    pub requested_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub ok: bool,
    /// The archive written (full path).
    pub file: Option<String>,
    pub size_bytes: Option<u64>,
    /// Why the backup failed.
    pub error: Option<String>,
    /// The backup succeeded but the post command failed.
    pub post_command_error: Option<String>,
    /// Old archives removed by retention.
    pub deleted: Vec<String>,
}

/// Why the backup configuration cannot run: a stable `code` (the admin page words it in the
/// reader's language) and the `detail` in English for logs and the CLI (paths, parse errors).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// `dir_unset`, `dir_missing`, `dir_in_data`, `recipients_invalid`, `recipients_file_invalid`,
    /// `passphrase_file_invalid`, `both_keys`, `no_key`.
    pub code: &'static str,
    pub detail: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

fn problem(code: &'static str, detail: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        code,
        detail: detail.into(),
    }
}

/// The backup directory and key material from the configuration, or why it is not usable.
pub fn plan(
    config: &BackupConfig,
    data_dir: &Path,
) -> Result<(PathBuf, Encryption), ConfigProblem> {
    if config.dir.trim().is_empty() {
        return Err(problem("dir_unset", "backup.dir is not set"));
    }
    let resolve = |p: &str| {
        let p = Path::new(p.trim());
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            data_dir.join(p)
        }
    };
    let dir = resolve(&config.dir);
    if dir_in_data(&dir, data_dir) {
        return Err(problem(
            "dir_in_data",
            format!(
                "backup.dir {} is the data directory or inside it: a backup would hold the earlier ones and a restore would overwrite its own source; put it on another disk",
                dir.display()
            ),
        ));
    }
    if !dir.is_dir() {
        return Err(problem(
            "dir_missing",
            format!(
                "backup.dir {} does not exist or is not a directory (is the disk mounted?)",
                dir.display()
            ),
        ));
    }
    let mut recipients = Vec::new();
    for r in &config.recipients {
        recipients.push(
            keys::parse_recipient(r)
                .map_err(|e| problem("recipients_invalid", format!("backup.recipients: {e}")))?,
        );
    }
    if !config.recipients_file.trim().is_empty() {
        recipients.extend(
            keys::read_recipients_file(&resolve(&config.recipients_file)).map_err(|e| {
                problem(
                    "recipients_file_invalid",
                    format!("backup.recipients_file: {e}"),
                )
            })?,
        );
    }
    let passphrase = if config.passphrase_file.trim().is_empty() {
        None
    } else {
        Some(
            keys::read_passphrase_file(&resolve(&config.passphrase_file)).map_err(|e| {
                problem(
                    "passphrase_file_invalid",
                    format!("backup.passphrase_file: {e}"),
                )
            })?,
        )
    };
    let encryption = match (passphrase, recipients.is_empty()) {
        (Some(p), true) => Encryption::Passphrase(p),
        (None, false) => Encryption::Recipients(recipients),
        (Some(_), false) => {
            return Err(problem(
                "both_keys",
                "set either backup.passphrase_file or backup.recipients / recipients_file, not both",
            ));
        }
        (None, true) => {
            return Err(problem(
                "no_key",
                "no key: set backup.recipients, backup.recipients_file or backup.passphrase_file",
            ));
        }
    };
    Ok((dir, encryption))
}

/// Why `backup.dir` may not be the data directory or inside it, for the configuration file and
/// the 备份 page.
pub const DIR_IN_DATA_REASON: &str = "备份目录不能是数据目录本身或其中的子目录（备份会包含以前的备份，恢复时会覆盖自己的来源），请放在另一块磁盘上，如 /mnt/backup/zhudai";

/// Is `dir` the data directory or below it? Both are compared resolved (symbolic links
/// followed where the path exists, `.` and `..` taken lexically where it does not), so neither
/// a relative path, a `..` nor a link to the data directory slips through.
pub fn dir_in_data(dir: &Path, data_dir: &Path) -> bool {
    let dir = resolved(dir);
    let data = resolved(data_dir);
    dir.starts_with(&data)
}

/// `path` made absolute and normalised: its longest existing ancestor canonicalised (links
/// followed), the rest appended with `.` dropped and `..` applied.
fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut lexical = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// `zhudai-YYYYMMDD-HHMMSS.age`, local (+08:00) time.
pub fn archive_name(at: DateTime<Utc>) -> String {
    format!(
        "zhudai-{}.age",
        at.with_timezone(&schedule::zone()).format("%Y%m%d-%H%M%S")
    )
}

/// The local time in one of our archive names; `None` for any other file.
pub fn parse_archive_name(name: &str) -> Option<NaiveDateTime> {
    let stamp = name.strip_prefix("zhudai-")?.strip_suffix(".age")?;
    if stamp.len() != 15 || stamp.as_bytes().get(8) != Some(&b'-') {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S").ok()
}

/// Which archives retention removes: everything but the newest archive of each of the
/// `keep_daily` most recent days that have one and of each of the `keep_weekly` most recent
/// ISO weeks that have one. The newest archive is always kept.
pub fn to_delete(names: &[String], keep_daily: u32, keep_weekly: u32) -> Vec<String> {
    let mut dated: Vec<(NaiveDateTime, &String)> = names
        .iter()
        .filter_map(|n| parse_archive_name(n).map(|t| (t, n)))
        .collect();
    dated.sort_by(|a, b| b.cmp(a));
    let mut keep = std::collections::BTreeSet::new();
    if let Some((_, newest)) = dated.first() {
        keep.insert((*newest).clone());
    }
    let mut days = Vec::new();
    let mut weeks = Vec::new();
    for (t, name) in &dated {
        let day = t.date();
        if !days.contains(&day) && days.len() < keep_daily as usize {
            days.push(day);
            keep.insert((*name).clone());
        }
        let week = (t.iso_week().year(), t.iso_week().week());
        if !weeks.contains(&week) && weeks.len() < keep_weekly as usize {
            weeks.push(week);
            keep.insert((*name).clone());
        }
    }
    dated
        .iter()
        .filter(|(_, n)| !keep.contains(*n))
        .map(|(_, n)| (*n).clone())
        .collect()
}

/// Applies retention in `dir`; returns the files removed. Also removes `.partial` files of
/// ours (we hold the backup lock, so none is being written).
fn apply_retention(dir: &Path, config: &BackupConfig) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if let Some(base) = name.strip_suffix(".partial")
            && parse_archive_name(base).is_some()
        {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        if parse_archive_name(&name).is_some() && entry.path().is_file() {
            names.push(name);
        }
    }
    let doomed = to_delete(&names, config.keep_daily, config.keep_weekly);
    for name in &doomed {
        std::fs::remove_file(dir.join(name))
            .map_err(|e| format!("retention: cannot delete {name}: {e}"))?;
    }
    Ok(doomed)
}

/// Runs `post_command` with `sh -c` in the backup directory; `Err` with the reason on failure.
fn run_post_command(command: &str, dir: &Path, file: &Path) -> Result<(), String> {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("ZHUDAI_BACKUP_FILE", file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("post command could not start: {e}"))?;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            use std::io::Read;
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > POST_COMMAND_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "post command stopped after {} minutes",
                    POST_COMMAND_LIMIT.as_secs() / 60
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("post command: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    Err(match status.code() {
        Some(code) if last.is_empty() => format!("post command exited with status {code}"),
        Some(code) => format!("post command exited with status {code}: {last}"),
        None => "post command was killed by a signal".into(),
    })
}

/// One backup run, holding the lock: writes, retains, runs the post command, records.
pub fn run_locked(
    app: &App,
    lock: BackupLock,
    trigger: Trigger,
    requested_by: Option<String>,
) -> RunRecord {
    let started_at = app.now();
    let timer = Instant::now();
    let never = AtomicBool::new(false);
    let mut record = RunRecord {
        trigger,
        requested_by: requested_by.clone(),
        started_at,
        finished_at: started_at,
        duration_ms: 0,
        ok: false,
        file: None,
        size_bytes: None,
        error: None,
        post_command_error: None,
        deleted: Vec::new(),
    };
    let config = app.backup_config();
    let planned = config
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|c| plan(c, &app.data_dir).map_err(|p| p.detail));
    let outcome = planned.and_then(|(dir, encryption)| {
        let out = dir.join(archive_name(started_at));
        let created = backup_create::create_locked(
            &lock,
            &app.data_dir,
            &out,
            &encryption,
            SnapshotSource::Store(&app.store),
            started_at,
            &mut Quiet,
            &never,
        )
        .map_err(|e| e.to_string())?;
        Ok((dir, created))
    });
    match outcome {
        Ok((dir, created)) => {
            record.ok = true;
            record.file = Some(created.path.display().to_string());
            record.size_bytes = Some(created.size);
            // `planned` succeeded, so the configuration was read.
            if let Ok(config) = &config {
                match apply_retention(&dir, config) {
                    Ok(deleted) => record.deleted = deleted,
                    Err(e) => record.post_command_error = Some(e),
                }
            }
            let command = app.config.backup.post_command.trim();
            if !command.is_empty()
                && let Err(e) = run_post_command(command, &dir, &created.path)
            {
                record.post_command_error = Some(e);
            }
        }
        Err(e) => record.error = Some(e),
    }
    drop(lock);
    record.finished_at = app.now();
    record.duration_ms = u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Some(e) = &record.error {
        tracing::error!(error = %e, "backup failed");
    } else if let Some(e) = &record.post_command_error {
        tracing::warn!(error = %e, file = ?record.file, "backup written, but the step after it failed");
    } else {
        tracing::info!(file = ?record.file, size = ?record.size_bytes, "backup written");
    }
    audit(app, &record);
    if let Err(e) = note_run(&app.data_dir, &record) {
        tracing::error!(error = %e, "cannot write {STATUS_FILE}");
    }
    record
}

/// The longest error text kept from a command-line run.
const CLI_ERROR_LIMIT: usize = 2000;

/// Records a `zhudai backup` run that the CLI reports over the admin socket: the audit log
/// (`backup.completed` / `backup.failed`, source `admin-socket`) and the status file, so the
/// admin page, the metrics and `doctor` show it. `Err` with the reason when it could not be
/// recorded (the CLI then says so and exits non-zero).
pub fn record_cli_run(app: &App, mut record: RunRecord) -> Result<(), String> {
    // What the CLI may report: its own kind of run, nothing a scheduled run has.
    record.trigger = Trigger::Cli;
    record.requested_by = None;
    record.post_command_error = None;
    record.deleted = Vec::new();
    if let Some(e) = &mut record.error
        && e.len() > CLI_ERROR_LIMIT
    {
        let mut cut = CLI_ERROR_LIMIT;
        while !e.is_char_boundary(cut) {
            cut -= 1;
        }
        e.truncate(cut);
    }
    if record.file.as_ref().is_some_and(|f| f.len() > 4096) || record.ok == record.error.is_some() {
        return Err("refused: not a backup result (ok without error, or failed with one)".into());
    }
    if let Some(e) = &record.error {
        tracing::error!(error = %e, "a command-line backup failed");
    } else {
        tracing::info!(file = ?record.file, size = ?record.size_bytes, "a command-line backup was written");
    }
    let entry = audit_entry(&record);
    let at = record.finished_at;
    app.store
        .write(|tx| crate::service::access::audit::record(tx, at, entry))
        .map_err(|e| format!("cannot record the backup in the audit log: {e}"))?;
    note_run(&app.data_dir, &record).map_err(|e| format!("cannot write {STATUS_FILE}: {e}"))
}

fn audit(app: &App, record: &RunRecord) {
    let entry = audit_entry(record);
    let at = record.finished_at;
    if let Err(e) = app
        .store
        .write(|tx| crate::service::access::audit::record(tx, at, entry))
    {
        tracing::error!(error = %e, "cannot record the backup in the audit log");
    }
}

fn audit_entry(record: &RunRecord) -> NewAudit {
    let action = if record.ok {
        "backup.completed"
    } else {
        "backup.failed"
    };
    let (actor, source) = match record.trigger {
        Trigger::Cli => ("operator".to_string(), "admin-socket"),
        _ => (
            record
                .requested_by
                .clone()
                .unwrap_or_else(|| "system".into()),
            "scheduler",
        ),
    };
    NewAudit {
        actor_id: None,
        actor,
        action,
        target: record.file.clone(),
        detail: serde_json::json!({
            "trigger": record.trigger,
            "size_bytes": record.size_bytes,
            "duration_ms": record.duration_ms,
            "error": record.error,
            "post_command_error": record.post_command_error,
            "deleted": record.deleted,
        }),
        source: source.into(),
    }
}

/// The scheduler's step: runs the daily backup when its slot has come and has not run yet.
/// The first look after scheduled backups are switched on only records the current slot, so
/// the first run is at the next configured time. Returns the run, if one happened.
pub fn tick(app: &App) -> Option<RunRecord> {
    let config = match app.backup_config() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("scheduled backup skipped: {e}");
            return None;
        }
    };
    if !config.enabled {
        return None;
    }
    let at = schedule::parse_time_of_day(&config.time)?;
    let slot = schedule::last_slot(app.now(), at);
    let held = status_lock();
    // Unreadable: no slot is known, so nothing runs until it is fixed; the admin page and
    // `doctor` show why (running now and at every tick after could fill the backup disk).
    let mut status = match load_status(&app.data_dir) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "scheduled backup skipped: the status file is unreadable");
            return None;
        }
    };
    match status.last_slot {
        Some(done) if done >= slot => return None,
        None => {
            status.last_slot = Some(slot);
            if let Err(e) = save_status(&app.data_dir, &status) {
                tracing::error!(error = %e, "cannot write {STATUS_FILE}");
            }
            return None;
        }
        Some(_) => {}
    }
    // Another backup (a CLI one, a manual one) is running: try again at the next tick.
    let lock = backup_create::lock(&app.data_dir).ok()?;
    status.last_slot = Some(slot);
    if let Err(e) = save_status(&app.data_dir, &status) {
        tracing::error!(error = %e, "cannot write {STATUS_FILE}");
    }
    drop(held);
    Some(run_locked(app, lock, Trigger::Scheduled, None))
}

/// The scheduler task; stop it with [`Scheduler::shutdown`].
pub type Scheduler = super::Periodic;

/// Starts the scheduler (needs a tokio runtime). Reports a misconfiguration at start-up.
pub fn spawn(app: Arc<App>) -> Scheduler {
    match app.backup_config() {
        Ok(config) if config.enabled => match plan(&config, &app.data_dir) {
            Ok((dir, _)) => tracing::info!(
                dir = %dir.display(),
                time = %config.time,
                "scheduled backups on (daily, +08:00)"
            ),
            Err(e) => tracing::error!(
                "scheduled backups are on but cannot run: {e}; fix them on the 备份 page or in data/config.toml"
            ),
        },
        Ok(_) => {}
        Err(e) => tracing::error!("scheduled backups cannot start: {e}"),
    }
    super::every(app, TICK, "backup scheduler", |app| {
        tick(app);
    })
}

/// The status view, for a data directory and its configuration.
pub fn status_view(app: &App) -> BackupStatus {
    let (config, unreadable) = match app.backup_config() {
        Ok(c) => (c, None),
        Err(e) => (app.config.backup.clone(), Some(e)),
    };
    let config = &config;
    let (file, status_error) = match load_status(&app.data_dir) {
        Ok(f) => (f, None),
        Err(e) => (StatusFile::default(), Some(e)),
    };
    let planned = plan(config, &app.data_dir);
    let mut config_error = planned.as_ref().err().map(|p| p.detail.clone());
    let mut config_problem = planned.as_ref().err().map(|p| p.code.to_string());
    if let Some(e) = unreadable {
        // The page's settings cannot be read: nothing runs (see `tick`); say so.
        config_error = Some(e);
        config_problem = Some("settings_unreadable".into());
    }
    let next_run_at = (config.enabled)
        .then(|| schedule::parse_time_of_day(&config.time))
        .flatten()
        .map(|at| schedule::next_slot(app.now(), at));
    let scheduled_failed = file
        .last_scheduled
        .as_ref()
        .is_some_and(|r| !r.ok || r.post_command_error.is_some());
    let cli_failed = file.last_cli.as_ref().is_some_and(|r| !r.ok);
    BackupStatus {
        enabled: config.enabled,
        config_problem,
        configured: planned.is_ok(),
        warning: scheduled_failed
            || cli_failed
            || (config.enabled && config_error.is_some())
            || status_error.is_some(),
        config_error,
        status_error,
        dir: config.dir.clone(),
        time: config.time.clone(),
        keep_daily: config.keep_daily,
        keep_weekly: config.keep_weekly,
        recipients: config.recipients.clone(),
        key_files: !config.recipients_file.trim().is_empty()
            || !config.passphrase_file.trim().is_empty(),
        from_page: app.backup_settings_saved(),
        next_run_at,
        running: backup_create::running(&app.data_dir),
        last: file.last,
        last_success: file.last_success,
    }
}

impl App {
    /// Backup status for the admin page (needs `backup.run`).
    pub fn backup_status(&self, caller: &Caller) -> service::Result<BackupStatus> {
        caller.require(Capability::BackupRun)?;
        Ok(status_view(self))
    }
}

/// Starts a backup now, in the background, into the configured directory (needs
/// `backup.run`). `backup_running` when one is already running.
pub fn start_now(app: &Arc<App>, caller: &Caller, source: &str) -> service::Result<BackupStatus> {
    caller.require(Capability::BackupRun)?;
    let config = app.backup_config().map_err(service::Error::Internal)?;
    if let Err(e) = plan(&config, &app.data_dir) {
        return Err(service::Error::Unprocessable {
            code: "backup_not_configured",
            message: format!("备份尚未配置：{e}"),
        });
    }
    let lock = match backup_create::lock(&app.data_dir) {
        Ok(l) => l,
        Err(crate::backup::Error::Busy) => {
            return Err(service::Error::Conflict {
                code: "backup_running",
                message: "已有备份正在进行".into(),
            });
        }
        Err(e) => return Err(service::Error::Internal(e.to_string())),
    };
    let user = caller.user.username.clone();
    let entry = crate::service::access::audit::by_user(
        &caller.user,
        "backup.requested",
        source,
        None,
        serde_json::json!({}),
    );
    let now = app.now();
    app.store
        .write(|tx| crate::service::access::audit::record(tx, now, entry))?;
    let worker = Arc::clone(app);
    std::thread::Builder::new()
        .name("zhudai-backup".into())
        .spawn(move || {
            run_locked(&worker, lock, Trigger::Manual, Some(user));
        })
        .map_err(|e| service::Error::Internal(format!("cannot start the backup: {e}")))?;
    Ok(status_view(app))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_round_trip_in_local_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 19, 18, 30, 5).unwrap();
        let name = archive_name(at);
        assert_eq!(name, "zhudai-20261120-023005.age");
        assert!(parse_archive_name(&name).is_some());
        for other in [
            "zhudai-20261120-023005.age.partial",
            "zhudai-2026112-023005.age",
            "notes.txt",
            "zhudai-20261120023005.age",
            "zhudai-20261320-023005.age",
        ] {
            assert!(parse_archive_name(other).is_none(), "{other}");
        }
    }

    #[test]
    fn retention_keeps_daily_and_weekly() {
        // Two archives a day for 40 days, 2026-10-01 … 2026-11-09.
        let start = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let mut names = Vec::new();
        for d in 0..40 {
            let day = start + chrono::Duration::days(d);
            for hm in ["023000", "150000"] {
                names.push(format!("zhudai-{}-{hm}.age", day.format("%Y%m%d")));
            }
        }
        names.push("unrelated.age".into());
        let doomed = to_delete(&names, 7, 4);
        let kept: Vec<&String> = names
            .iter()
            .filter(|n| !doomed.contains(n) && parse_archive_name(n).is_some())
            .collect();
        // 7 days (the 15:00 archive of Nov 3–9) + the newest of 4 ISO weeks: weeks 45
        // (Nov 2–8) and 46 (Nov 9) are covered by daily ones, plus Sun Nov 1 (week 44) and
        // Sun Oct 25 (week 43).
        let mut expect: Vec<String> = (3..=9)
            .map(|d| format!("zhudai-202611{d:02}-150000.age"))
            .collect();
        expect.push("zhudai-20261101-150000.age".into());
        expect.push("zhudai-20261025-150000.age".into());
        let mut kept: Vec<String> = kept.into_iter().cloned().collect();
        kept.sort();
        expect.sort();
        assert_eq!(kept, expect);
        assert!(!doomed.contains(&"unrelated.age".to_string()));
        // Keeping nothing still keeps the newest.
        assert_eq!(to_delete(&names, 0, 0).len(), 79);
    }
}
