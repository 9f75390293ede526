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
    /// Unedited default plugins of an earlier release replaced by this release's (file names).
    pub upgraded_plugins: Vec<String>,
    /// The data directory's mode before it was made private (0700), when others could reach it.
    pub tightened_from: Option<u32>,
}

/// SHA-256 of every default plugin an earlier release shipped and this one replaced. A file in
/// `data/plugins/` equal to one of these was never edited by the firm, so an upgrade replaces it
/// with the new default; any other content is the firm's and is left alone. When a default
/// plugin changes, its old hash goes here (the test `current_defaults_are_recorded` says so).
pub const SUPERSEDED_DEFAULTS: &[(&str, &str)] = &[
    // pool.rhai as first shipped (recall rules).
    (
        "pool.rhai",
        "8b2bea70b29570e51709309f94985810163f9b27ef438ce3503c826fc1c04eb0",
    ),
    // pool.rhai with `fn horizon` (before recall rules saw deals).
    (
        "pool.rhai",
        "9f122e727c37b38fade536e5e3101dddf23a5a2c3f1826f58ecb540387e8c703",
    ),
    // fee.rhai, commission.rhai and broker.rhai with their own yuan() and percent() (money
    // ungrouped, "100000.00元"; before the host's).
    (
        "fee.rhai",
        "4b424f43555c2363cc8f3fe3835b21688ee1d48c593c10eea0a92de2002efe3e",
    ),
    (
        "commission.rhai",
        "d4f7c0554d696da44fa98e3398076bf653a5181a678a4a97dd0095b07a82dc22",
    ),
    (
        "broker.rhai",
        "a79f64038e761a482321d21f55157e297ba6118353bf48eb15e3e0156abb20f6",
    ),
];

/// Creates what is missing: the directory (0700), the master key, the default plugins.
/// Never overwrites: a firm's edited plugin or an existing key is left alone. A data directory
/// made beforehand that others can reach (0755, say) is made private (0700) rather than
/// refused: nothing in it is anyone else's business, and the change is logged.
pub fn prepare(layout: &Layout) -> Result<Prepared, DataDirError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| DataDirError::Io { path, source }
    };
    if !layout.root.exists() {
        std::fs::create_dir_all(&layout.root).map_err(io(&layout.root))?;
    }
    let mode = std::fs::metadata(&layout.root)
        .map_err(io(&layout.root))?
        .permissions()
        .mode()
        & 0o777;
    let tightened_from = (mode & 0o077 != 0).then_some(mode);
    if mode != 0o700 {
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
    let upgraded_plugins = upgrade_unedited_plugins(&plugins).map_err(|(p, e)| io(&p)(e))?;
    Ok(Prepared {
        key,
        created_key,
        copied_plugins,
        upgraded_plugins,
        tightened_from,
    })
}

/// Replaces each default plugin file that is byte for byte a default of an earlier release
/// ([`SUPERSEDED_DEFAULTS`]) with this release's default (written beside it, then renamed).
fn upgrade_unedited_plugins(dir: &Path) -> Result<Vec<String>, (PathBuf, std::io::Error)> {
    let mut upgraded = Vec::new();
    for name in DefaultPlugins::iter() {
        let Some(file) = DefaultPlugins::get(&name) else {
            continue;
        };
        let target = dir.join(name.as_ref());
        let on_disk = match std::fs::read(&target) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err((target, e)),
        };
        let hash = crate::crypto::sha256_hex(&on_disk);
        if !SUPERSEDED_DEFAULTS
            .iter()
            .any(|(n, h)| *n == name.as_ref() && *h == hash)
        {
            continue;
        }
        let fresh = target.with_extension("rhai.new");
        std::fs::write(&fresh, &file.data).map_err(|e| (fresh.clone(), e))?;
        std::fs::rename(&fresh, &target).map_err(|e| (target.clone(), e))?;
        upgraded.push(name.to_string());
    }
    Ok(upgraded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dir: &Path) -> Layout {
        Layout::new(dir.join("data"))
    }

    #[test]
    fn an_unedited_old_default_is_upgraded_and_an_edited_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(dir.path());
        prepare(&layout).unwrap();
        let pool = layout.plugins().join("pool.rhai");
        let assign = layout.plugins().join("assign.rhai");
        let old = include_str!("../tests/fixtures/plugins/pool.rhai.first-release");
        std::fs::write(&pool, old).unwrap();
        let edited = format!("{}\n// 本公司：线索七天不跟进即回收\n", old);
        std::fs::write(&assign, &edited).unwrap();

        let p = prepare(&layout).unwrap();
        assert_eq!(p.upgraded_plugins, vec!["pool.rhai".to_string()]);
        let current = DefaultPlugins::get("pool.rhai").unwrap();
        assert_eq!(std::fs::read(&pool).unwrap(), current.data.as_ref());
        assert_eq!(
            std::fs::read_to_string(&assign).unwrap(),
            edited,
            "the firm's edit stays"
        );
        // An old default that the firm then edited is the firm's too.
        std::fs::write(&pool, format!("{old} ")).unwrap();
        assert!(prepare(&layout).unwrap().upgraded_plugins.is_empty());
        assert_eq!(std::fs::read_to_string(&pool).unwrap(), format!("{old} "));
        assert!(!layout.plugins().join("pool.rhai.new").exists());
    }

    /// Changing a default plugin? Add the old file's hash to [`SUPERSEDED_DEFAULTS`] (so data
    /// directories holding it unedited get the new one), then record the new hash here.
    #[test]
    fn current_defaults_are_recorded() {
        let current = [
            (
                "assign.rhai",
                "aa1acd35d40eb405caafa0cff8865655cff4b21e1beed480dd3bb4e1350b444c",
            ),
            (
                "broker.rhai",
                "db5b5854f6807e2a1279de194db1e0dde606ca82fbccc872822c588359ec7166",
            ),
            (
                "commission.rhai",
                "5727e1a72f3dae387f2865162ca2770b6608688465cdc6c8e867b08e1de7e298",
            ),
            (
                "fee.rhai",
                "095b7634fa07eed0fb3428601373571afa28a43aa7023775c767bf9100b4518f",
            ),
            (
                "match.rhai",
                "97e5b23066031797eef58b98b6264ca7a5b1e66478305b39a24283b089cfd80c",
            ),
            (
                "pool.rhai",
                "fd9ceebdfa353b3b62ebd6ce28541475620958a623473d2cd9f718ba8589ec15",
            ),
        ];
        let shipped: Vec<(String, String)> = DefaultPlugins::iter()
            .filter(|n| n.ends_with(".rhai"))
            .map(|n| {
                let f = DefaultPlugins::get(&n).unwrap();
                (n.to_string(), crate::crypto::sha256_hex(&f.data))
            })
            .collect();
        let recorded: Vec<(String, String)> = current
            .iter()
            .map(|(n, h)| (n.to_string(), h.to_string()))
            .collect();
        assert_eq!(
            shipped, recorded,
            "a default plugin changed: see this test's comment"
        );
        for (name, hash) in SUPERSEDED_DEFAULTS {
            assert!(
                !current.contains(&(name, hash)),
                "{name}: the current default is listed as superseded"
            );
        }
    }
}
