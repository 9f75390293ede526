//! `zhudai reindex`: rebuild the search index from the store. Beside a running server it asks
//! the server (over the admin socket) to rebuild online — the old index answers searches until
//! the new one is swapped in. With no server it opens the store itself and shows a progress
//! bar. Interrupting is safe: the half-built generation is never made current and is removed
//! at the next start.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Args;

use super::progress::Progress;

#[derive(Args)]
pub struct Cmd {}

impl Cmd {
    pub fn run(self, data: &Path) -> anyhow::Result<ExitCode> {
        if let Some(reply) = crate::admin_socket::reindex(data)? {
            println!(
                "the running server rebuilt the search index: {} customers",
                reply
            );
            return Ok(ExitCode::SUCCESS);
        }
        let app = super::user::open(data)?;
        let bar: Mutex<Option<Progress>> = Mutex::new(None);
        let status = app.lookup().reindex(
            &|done, total| {
                let mut bar = bar.lock().unwrap_or_else(|p| p.into_inner());
                let bar = bar.get_or_insert_with(|| Progress::new("重建索引 reindex", total));
                let step = done.saturating_sub(bar.done());
                bar.inc(step);
            },
            &|| {},
        )?;
        if let Some(bar) = bar.into_inner().unwrap_or_else(|p| p.into_inner()) {
            bar.finish();
        }
        println!(
            "search index rebuilt: {} customers (generation {})",
            status.documents, status.generation
        );
        Ok(ExitCode::SUCCESS)
    }
}
