//! Background jobs that `serve` runs besides the HTTP server: scheduled backups, the search
//! indexer, pool recall sweeps and hourly housekeeping. Each job takes its time from the app's clock, so
//! tests drive it by moving a manual clock and calling its `tick`.

pub mod backup;
pub mod backup_settings;
pub mod backup_status;
pub mod housekeeping;
pub mod indexer;
pub mod pool;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use crate::service::App;

/// A job task started by [`every`]; stop it with [`Periodic::shutdown`].
pub struct Periodic {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Runs `step` on the blocking pool now and then every `period` until shut down (needs a
/// tokio runtime). A step that panics is logged and the job goes on.
pub fn every<F>(app: Arc<App>, period: Duration, name: &'static str, step: F) -> Periodic
where
    F: Fn(&App) + Copy + Send + Sync + 'static,
{
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            let app2 = Arc::clone(&app);
            if let Err(e) = tokio::task::spawn_blocking(move || step(&app2)).await {
                tracing::error!(job = name, error = %e, "job step failed");
            }
            tokio::select! {
                _ = &mut stopped => break,
                () = tokio::time::sleep(period) => {}
            }
        }
    });
    Periodic {
        stop: Some(stop),
        task: Some(task),
    }
}

impl Periodic {
    /// Stops the job; a step in progress finishes first.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
