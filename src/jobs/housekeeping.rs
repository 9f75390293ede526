//! Hourly housekeeping: expired sessions and the rejected-row files of imports older than
//! `customers.import_rejected_days` are removed while the server runs, not only at start-up
//! or when someone opens the import page.

use std::sync::Arc;
use std::time::Duration;

use crate::service::App;

const PERIOD: Duration = Duration::from_secs(3600);

pub fn spawn(app: Arc<App>) -> super::Periodic {
    super::every(app, PERIOD, "housekeeping", |app| {
        tick(app);
    })
}

/// One step; returns (sessions removed, import files removed). Failures are logged.
pub fn tick(app: &App) -> (usize, usize) {
    let sessions = app.access().purge_expired_sessions().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "removing expired sessions");
        0
    });
    let files = app.imports().purge_import_files().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "removing expired import error files");
        0
    });
    if sessions + files > 0 {
        tracing::info!(sessions, files, "housekeeping");
    }
    (sessions, files)
}
