//! The data directory: created on first run with the master key and the default plugins.
//!
//! ```text
//! data/
//!   zhudai.redb      all records, sessions, audit log, search outbox
//!   keys/master.key  field-encryption key, mode 0600
//!   plugins/         this firm's Rhai plugins (defaults copied on first run)
//!   blobs/           encrypted scans and photos (`crate::blobs`; uploads in progress in tmp/)
//!   config.toml      optional
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rust_embed::RustEmbed;

use crate::crypto::keyfile::{self, KeyError, MasterKey};

#[derive(RustEmbed)]
#[folder = "plugins/"]
struct DefaultPlugins;

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot prepare the data directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "a master-key rotation is in progress ({0} exists); finish it with `zhudai doctor --rotate-key` before starting the server"
    )]
    RotationInProgress(String),
}

pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }
    pub fn store(&self) -> PathBuf {
        self.root.join("zhudai.redb")
    }
    pub fn master_key(&self) -> PathBuf {
        self.root.join("keys").join("master.key")
    }
    /// The key a rotation in progress moves to (`zhudai doctor --rotate-key`).
    pub fn next_master_key(&self) -> PathBuf {
        self.root.join("keys").join("master.next.key")
    }
    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }
}

/// What `prepare` found or did, for the start-up log.
pub struct Prepared {
    pub key: MasterKey,
    pub created_key: bool,
    pub copied_plugins: usize,
}

/// Creates what is missing: the directory (0700), the master key, the default plugins.
/// Never overwrites: a firm's edited plugin or an existing key is left alone.
pub fn prepare(layout: &Layout) -> Result<Prepared, DataDirError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DataDirError::Io { path, source }
    };
    if !layout.root.exists() {
        std::fs::create_dir_all(&layout.root).map_err(io(&layout.root))?;
        std::fs::set_permissions(&layout.root, std::fs::Permissions::from_mode(0o700))
            .map_err(io(&layout.root))?;
    }
    if layout.next_master_key().exists() {
        return Err(DataDirError::RotationInProgress(
            layout.next_master_key().display().to_string(),
        ));
    }
    let (key, created_key) = keyfile::load_or_create(&layout.master_key())?;
    let mut copied_plugins = 0;
    let plugins = layout.plugins();
    if !plugins.exists() {
        std::fs::create_dir_all(&plugins).map_err(io(&plugins))?;
        for name in DefaultPlugins::iter() {
            let Some(file) = DefaultPlugins::get(&name) else {
                continue;
            };
            let target = plugins.join(name.as_ref());
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&target, &file.data).map_err(io(&target))?;
            copied_plugins += 1;
        }
    }
    Ok(Prepared {
        key,
        created_key,
        copied_plugins,
    })
}
