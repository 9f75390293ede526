//! zhudai (助贷): a self-hosted CRM and business system for Chinese loan-intermediary agencies.
//! This crate is the whole application; `main.rs` only parses the command line. Tests, benches
//! and the CLI drive the same library.

pub mod admin_socket;
pub mod backup;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod datadir;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;
pub mod synth;
pub mod web;

use std::path::Path;
use std::sync::Arc;

use config::Config;
use service::{App, Clock};

/// Prepares the data directory, opens the store (migrating it) and builds the application.
pub fn open_app(
    data_dir: &Path,
    config: Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<App>> {
    let layout = datadir::Layout::new(data_dir);
    let prepared = datadir::prepare(&layout)?;
    if prepared.created_key {
        tracing::info!(path = %layout.master_key().display(), "created master key");
    }
    if prepared.copied_plugins > 0 {
        tracing::info!(count = prepared.copied_plugins, "copied default plugins");
    }
    let store = store::Store::open(&layout.store())?;
    let fields = crypto::field::FieldCipher::new(&prepared.key);
    Ok(Arc::new(App::new(
        store,
        config,
        clock,
        data_dir.to_path_buf(),
        fields,
    )))
}
