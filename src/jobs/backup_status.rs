//! `data/backup-status.json`: the last backup runs, for the admin page, the API and
//! `zhudai doctor`. Only a missing file means "no backup yet"; an unreadable one is reported,
//! never taken for an empty history.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::backup::RunRecord;

pub const STATUS_FILE: &str = "backup-status.json";

/// `data/backup-status.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    pub last: Option<RunRecord>,
    pub last_success: Option<RunRecord>,
    pub last_scheduled: Option<RunRecord>,
    /// The last `zhudai backup` run from the command line (a cron job): recorded by the running
    /// server over its admin socket, or by the CLI itself when no server runs.
    #[serde(default)]
    pub last_cli: Option<RunRecord>,
    /// The daily slot last handled by the scheduler, so each slot runs once.
    pub last_slot: Option<DateTime<Utc>>,
}

/// What the admin page and `GET /api/v1/backups/status` show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupStatus {
    /// Scheduled backups are switched on (`backup.enabled`).
    pub enabled: bool,
    /// The configuration is complete and valid, so a backup can run now.
    pub configured: bool,
    /// What is wrong with the configuration, if anything (English detail: paths, parse errors).
    pub config_error: Option<String>,
    /// The same as a stable code the UI words in the reader's language: `dir_unset`,
    /// `dir_missing`, `dir_in_data`, `recipients_invalid`, `recipients_file_invalid`,
    /// `passphrase_file_invalid`, `both_keys`, `no_key`.
    pub config_problem: Option<String>,
    /// The status file (`backup-status.json`) cannot be read: `last` and `last_success` are
    /// then unknown, not "none".
    pub status_error: Option<String>,
    pub dir: String,
    /// Daily time, +08:00.
    pub time: String,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    /// age public keys the archives are encrypted to (public, not secret).
    pub recipients: Vec<String>,
    /// The configuration file names a recipients or passphrase file (not editable on the page).
    pub key_files: bool,
    /// The settings saved on the 备份 page are in force (else the configuration file's).
    pub from_page: bool,
    pub next_run_at: Option<DateTime<Utc>>,
    /// A backup of this data directory is running right now.
    pub running: bool,
    pub last: Option<RunRecord>,
    pub last_success: Option<RunRecord>,
    /// The last scheduled backup failed (or its post command did), the last command-line
    /// backup failed, or scheduled backups are on but misconfigured: administrators see a
    /// warning.
    pub warning: bool,
}

pub fn status_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATUS_FILE)
}

/// Reads the status file; only a missing file counts as "no backup yet". A file that cannot
/// be read or parsed is an error (shown on the admin page and by `doctor`): read as "no backup
/// yet" it would hide a failed backup history.
pub fn load_status(data_dir: &Path) -> Result<StatusFile, String> {
    let path = status_path(data_dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StatusFile::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is damaged: {e}", path.display()))
}

/// The status file to update after a run: an unreadable one is moved aside (kept for the
/// operator, reported) and a new one started, so the run is still recorded.
pub fn status_for_update(data_dir: &Path) -> StatusFile {
    match load_status(data_dir) {
        Ok(s) => s,
        Err(e) => {
            let aside = data_dir.join(format!("{STATUS_FILE}.unreadable"));
            match std::fs::rename(status_path(data_dir), &aside) {
                Ok(()) => tracing::error!(
                    error = %e,
                    kept = %aside.display(),
                    "backup status file unreadable; moved aside and started anew"
                ),
                Err(mv) => tracing::error!(
                    error = %e,
                    rename_error = %mv,
                    "backup status file unreadable and cannot be moved aside"
                ),
            }
            StatusFile::default()
        }
    }
}

/// Held while this process reads, changes and writes the status file, so that two runs
/// finishing together (a scheduled one, a CLI one reported over the admin socket) do not
/// lose one another's record.
pub fn status_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a finished run: `last`, `last_success` when it succeeded, and the slot of its
/// trigger (`last_scheduled`, `last_cli`).
pub fn note_run(data_dir: &Path, record: &RunRecord) -> std::io::Result<()> {
    use super::backup::Trigger;
    let _held = status_lock();
    let mut status = status_for_update(data_dir);
    status.last = Some(record.clone());
    if record.ok {
        status.last_success = Some(record.clone());
    }
    match record.trigger {
        Trigger::Scheduled => status.last_scheduled = Some(record.clone()),
        Trigger::Cli => status.last_cli = Some(record.clone()),
        Trigger::Manual => {}
    }
    save_status(data_dir, &status)
}

/// Writes the status file atomically (temporary file, then rename), owner-only. Written by
/// another user than the data directory's owner (a root cron job while no server runs), it is
/// handed to the owner, so that the server can still read and replace it.
pub fn save_status(data_dir: &Path, status: &StatusFile) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = status_path(data_dir);
    let tmp = data_dir.join(format!("{STATUS_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    // One left by a crash may have another owner or mode: start afresh.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    {
        use std::io::Write;
        // A new file or nothing (O_CREAT|O_EXCL, which never follows a symbolic link): run as
        // root (a cron job), opening a link the directory's owner put in its place would write
        // to, and hand over, whatever file it points to.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot create {} afresh: {e}", tmp.display()),
                )
            })?;
        let owner = std::fs::metadata(data_dir)?;
        let mine = f.metadata()?;
        if mine.uid() != owner.uid() || mine.gid() != owner.gid() {
            std::os::unix::fs::fchown(&f, Some(owner.uid()), Some(owner.gid())).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot give {} to the data directory's owner (uid {}): {e}",
                        tmp.display(),
                        owner.uid()
                    ),
                )
            })?;
        }
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
}
