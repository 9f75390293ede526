//! zhudai (助贷): a self-hosted CRM and business system for Chinese loan-intermediary agencies.
//! This crate is the whole application; `main.rs` only parses the command line. Tests, benches
//! and the CLI drive the same library.

/// mimalloc (v2) instead of glibc's malloc: an import spent a quarter of its CPU time in
/// malloc/free, and a 1M import takes two thirds of the time with mimalloc (docs/benchmarks.md,
/// session 19). Set here so the binary, the tests and the benches run on the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod admin_socket;
pub mod backup;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod datadir;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod script;
pub mod search;
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
    let store_existed = layout.store().exists();
    let prepared = datadir::prepare(&layout)?;
    if prepared.created_key && store_existed {
        // Never seal new data under a fresh key beside data sealed under a lost one.
        let _ = std::fs::remove_file(layout.master_key());
        anyhow::bail!(
            "{} is missing but {} exists: restore the key file from a backup (without it, phone and ID numbers cannot be read)",
            layout.master_key().display(),
            layout.store().display()
        );
    }
    if prepared.created_key {
        tracing::info!(path = %layout.master_key().display(), "created master key");
    }
    if let Some(mode) = prepared.tightened_from {
        tracing::warn!(
            "the data directory {} was mode {mode:04o}, open to other users of this machine; made it 0700",
            layout.root.display()
        );
    }
    for name in &prepared.upgraded_plugins {
        tracing::info!(
            plugin = %name,
            "replaced an unedited default plugin of an earlier release with this release's default"
        );
    }
    if prepared.copied_plugins > 0 {
        tracing::info!(count = prepared.copied_plugins, "copied default plugins");
    }
    let cache = usize::try_from(config.store.cache_mb.max(1) << 20).unwrap_or(usize::MAX);
    let store = store::Store::open_keyed(
        &layout.store(),
        cache,
        Some(crypto::audit_key(&prepared.key)),
    )?;
    let fields = crypto::field::FieldCipher::new(&prepared.key);
    check_key(&store, &fields, &layout)?;
    store.keep_audit_anchor()?;
    let app = Arc::new(App::new(
        store,
        config,
        clock,
        data_dir.to_path_buf(),
        fields,
        blobs::BlobKeys::new(&prepared.key),
    ));
    // Before serving: a store upgraded to schema 24 answers the duplicate check only once its
    // customers' lead index is filled.
    app.leads().fill_lead_index()?;
    // Saved plugin versions first: a plugin file broken at start runs the newest good one.
    app.platform().load_plugin_versions()?;
    app.platform().sync_plugin_versions()?;
    let purged = app.access().purge_expired_sessions()?;
    if purged > 0 {
        tracing::info!(count = purged, "expired sessions removed");
    }
    let interrupted = app.imports().recover_import_jobs()?;
    // Blob files whose last reference went before a stop, and uploads cut short by it.
    app.documents().remove_unreferenced_files();
    clear_tmp(&app.blobs.tmp_dir())?;
    // Exports in progress when the last process stopped (their downloads are gone with it).
    clear_tmp(&data_dir.join("tmp"))?;
    if let Err(e) = app.imports().purge_import_files() {
        tracing::warn!(error = %e, "removing expired import error files");
    }
    if interrupted > 0 {
        tracing::warn!(
            count = interrupted,
            "import jobs cut short by a restart marked failed"
        );
    }
    Ok(app)
}

/// Empties `data/tmp` (export files being written or streamed by a process that stopped).
fn clear_tmp(dir: &Path) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            std::fs::remove_file(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The store remembers the fingerprint of the key that sealed its data; another key is refused.
pub fn check_key(
    store: &store::Store,
    fields: &crypto::field::FieldCipher,
    layout: &datadir::Layout,
) -> anyhow::Result<()> {
    let fingerprint = fields.key_check();
    match store.setting("key_check")? {
        Some(stored) if stored != fingerprint => anyhow::bail!(
            "{} is not the key this data was written with; put the right key file back (from a backup)",
            layout.master_key().display()
        ),
        Some(_) => Ok(()),
        None => Ok(store.set_setting("key_check", &fingerprint)?),
    }
}
