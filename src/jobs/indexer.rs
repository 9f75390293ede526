//! Keeps the search index in step with the store: at start-up it replays what the index
//! missed (or rebuilds it when it is absent or from another store), then applies the outbox
//! every half second. Searches also catch up on their own, so callers read their own writes.

use std::sync::Arc;
use std::time::Duration;

use crate::service::App;

const TICK: Duration = Duration::from_millis(500);

pub fn spawn(app: Arc<App>) -> super::Periodic {
    super::every(app, TICK, "search indexer", step)
}

fn step(app: &App) {
    match app.lookup().search_catch_up() {
        Ok(0) => {}
        Ok(n) => tracing::debug!(entries = n, "search index caught up"),
        Err(e) => tracing::error!(error = %e, "search index catch-up failed"),
    }
}
