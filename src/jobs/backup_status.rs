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
    /// `dir_missing`, `recipients_invalid`, `recipients_file_invalid`,
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
    /// The last scheduled backup failed (or its post command did), or scheduled backups are
    /// on but misconfigured: administrators see a warning.
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

/// Writes the status file atomically (temporary file, then rename).
pub fn save_status(data_dir: &Path, status: &StatusFile) -> std::io::Result<()> {
    let path = status_path(data_dir);
    let tmp = data_dir.join(format!("{STATUS_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
}
