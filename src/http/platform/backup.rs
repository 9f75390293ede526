//! Backups for administrators: the last results and "back up now" (needs `backup.run`).
//! The backups themselves are made by `jobs::backup`; see docs/backup.md.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, AppState};
use crate::jobs::backup::BackupStatus;
use crate::service::access::auth::Caller;

/// Scheduled-backup settings, the last result and whether a backup is running.
#[utoipa::path(get, path = "/backups/status", operation_id = "backup_status", tag = "backups",
    responses(
        (status = 200, description = "Backup status; `warning` is true when the last scheduled backup failed", body = BackupStatus),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Missing backup.run", body = ErrorBody),
    ))]
pub async fn status(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<BackupStatus>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.backup_status(&caller)).await?,
    ))
}

/// Start a backup now into the configured directory; it runs in the background (poll the
/// status until `running` is false).
#[utoipa::path(post, path = "/backups/run", operation_id = "run_backup", tag = "backups",
    responses(
        (status = 202, description = "Started; the status shows it running", body = BackupStatus),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Missing backup.run", body = ErrorBody),
        (status = 409, description = "A backup is already running (`backup_running`)", body = ErrorBody),
        (status = 422, description = "Backups are not configured (`backup_not_configured`); the message says what is missing", body = ErrorBody),
    ))]
pub async fn run(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
) -> Result<(StatusCode, Json<BackupStatus>), ApiError> {
    let started = {
        let app = std::sync::Arc::clone(&app);
        tokio::task::spawn_blocking(move || crate::jobs::backup::start_now(&app, &caller, &source))
            .await
            .map_err(|e| crate::service::Error::Internal(format!("backup task failed: {e}")))??
    };
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// Change the scheduled-backup settings (`settings.manage`): on/off, directory, time,
/// retention and the age public keys. In force at the scheduler's next look, no restart; the
/// post command and key files stay in the configuration file. Settings that could not run are
/// refused naming the field.
#[utoipa::path(put, path = "/backups/settings", operation_id = "save_backup_settings", tag = "backups",
    request_body = crate::jobs::backup_settings::BackupSettings,
    responses(
        (status = 200, description = "Saved; the status with the new settings", body = BackupStatus),
        (status = 400, description = "Invalid field (`dir`, `time`, `keep_daily`, `keep_weekly`, `recipients`)", body = ErrorBody),
        (status = 403, description = "Missing settings.manage", body = ErrorBody),
    ))]
pub async fn save_settings(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    crate::http::ApiJson(s): crate::http::ApiJson<crate::jobs::backup_settings::BackupSettings>,
) -> Result<Json<BackupStatus>, ApiError> {
    Ok(Json(
        app.blocking(move |app| crate::jobs::backup_settings::save(app, &caller, s, &source))
            .await?,
    ))
}
