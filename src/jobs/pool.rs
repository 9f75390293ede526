//! The pool recall sweep: every `[pool] sweep_interval_minutes` by the app's clock. The loop
//! wakes every half minute and asks [`App::sweep_if_due`]; the time of the last sweep is
//! stored, so tests drive the job by moving a manual clock and calling [`tick`], and a restart
//! does not sweep early.

use std::sync::Arc;
use std::time::Duration;

use crate::service::App;

const WAKE: Duration = Duration::from_secs(30);

pub fn spawn(app: Arc<App>) -> super::Periodic {
    super::every(app, WAKE, "pool sweep", |app| {
        tick(app);
    })
}

/// One step: sweeps if due; returns whether a sweep ran.
pub fn tick(app: &App) -> bool {
    let minutes = i64::try_from(app.config.pool.sweep_interval_minutes).unwrap_or(i64::MAX);
    let started = std::time::Instant::now();
    match app.pools().sweep_if_due(chrono::Duration::minutes(minutes)) {
        Ok(Some(r)) => {
            app.metrics.observe_job("sweep", started.elapsed());
            if r.recalled + r.warned > 0 {
                tracing::info!(
                    recalled = r.recalled,
                    warned = r.warned,
                    scanned = r.scanned,
                    "pool sweep"
                );
            }
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::error!(error = %e, "pool sweep failed");
            false
        }
    }
}
