//! Restoring a backup into a data directory. Everything happens in a temporary directory
//! beside the target: extract, check every entry against the manifest, open the store (which
//! runs migrations for an older schema and refuses a newer one), and only then swap it into
//! place with a rename. A target that is replaced (`--force`) is moved aside to
//! `DIR.replaced-YYYYMMDD-HHMMSS` and kept, not deleted: removing it is the operator's call
//! once the restored server has been checked.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use super::keys::Unlock;
use super::{Error, Manifest, Result, archive, io};
use crate::store::{self, Store, migrate};

#[derive(Debug)]
pub struct Restored {
    pub target: PathBuf,
    pub manifest: Manifest,
    /// Where the previous contents of the target went (with `force`).
    pub replaced: Option<PathBuf>,
    /// The backup's schema version when it was migrated to this binary's.
    pub migrated_from: Option<u64>,
    /// Audit entries in the restored store.
    pub audit_entries: u64,
    /// Where the restored audit chain breaks, if it does (the source's was already broken:
    /// the data is restored all the same and `zhudai doctor` keeps reporting it).
    pub audit_broken: Option<(u64, String)>,
}

/// Is `dir` held by a running zhudai server (its admin socket answers or its store is locked)?
pub fn held_by_server(dir: &Path) -> bool {
    if crate::admin_socket::ping(dir) {
        return true;
    }
    let store_file = dir.join("zhudai.redb");
    store_file.exists()
        && matches!(
            redb::ReadOnlyDatabase::open(&store_file),
            Err(redb::DatabaseError::DatabaseAlreadyOpen)
        )
}

/// Removes the temporary directory unless the restore got to the swap.
struct TempDir(Option<PathBuf>);
impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

pub fn restore(
    archive_path: &Path,
    unlock: &Unlock,
    target: &Path,
    force: bool,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<Restored> {
    let target = absolute(target)?;
    let name = target
        .file_name()
        .ok_or_else(|| Error::Refused(format!("{} does not name a directory", target.display())))?
        .to_string_lossy()
        .to_string();
    let parent = target
        .parent()
        .ok_or_else(|| Error::Refused(format!("{} has no parent directory", target.display())))?
        .to_path_buf();
    if !parent.is_dir() {
        return Err(Error::Refused(format!(
            "the parent directory {} does not exist; create it first",
            parent.display()
        )));
    }
    let non_empty = check_target(&target, force)?;

    let temp = parent.join(format!(
        ".{name}.restore-{}.partial",
        crate::service::new_id(now)
    ));
    super::create::private_dir(&temp)?;
    let mut guard = TempDir(Some(temp.clone()));
    let manifest = archive::read(archive_path, unlock, Some(&temp), progress, cancel)?;
    if manifest.schema_version > migrate::SCHEMA_VERSION {
        return Err(too_new(&manifest, manifest.schema_version));
    }
    let (migrated_from, check) = open_restored(&temp, &manifest)?;
    if temp.join("keys").is_dir() {
        super::create::private_dir(&temp.join("keys"))?;
    }

    // The swap. Check again: a server may have been started meanwhile.
    check_target(&target, force)?;
    let replaced = if non_empty {
        let aside = parent.join(format!(
            "{name}.replaced-{}",
            now.with_timezone(&crate::jobs::schedule::zone())
                .format("%Y%m%d-%H%M%S")
        ));
        if aside.exists() {
            return Err(Error::Refused(format!(
                "{} exists from an earlier restore; move it away first",
                aside.display()
            )));
        }
        std::fs::rename(&target, &aside)
            .map_err(io(format!("cannot move {} aside", target.display())))?;
        if let Err(e) = std::fs::rename(&temp, &target) {
            // Put the old directory back: the restore failed, nothing changed.
            let _ = std::fs::rename(&aside, &target);
            return Err(Error::Io {
                what: format!("cannot move the restored data to {}", target.display()),
                source: e,
            });
        }
        Some(aside)
    } else {
        if target.exists() {
            std::fs::remove_dir(&target)
                .map_err(io(format!("cannot replace the empty {}", target.display())))?;
        }
        std::fs::rename(&temp, &target).map_err(io(format!(
            "cannot move the restored data to {}",
            target.display()
        )))?;
        None
    };
    guard.0 = None;
    archive::sync_dir(&target);
    Ok(Restored {
        target,
        manifest,
        replaced,
        migrated_from,
        audit_entries: check.entries,
        audit_broken: check.first_broken,
    })
}

/// Refuses a target a server holds, or a non-empty one without `force`; returns non-empty.
fn check_target(target: &Path, force: bool) -> Result<bool> {
    if !target.exists() {
        return Ok(false);
    }
    if !target.is_dir() {
        return Err(Error::Refused(format!(
            "{} exists and is not a directory",
            target.display()
        )));
    }
    if held_by_server(target) {
        return Err(Error::Refused(format!(
            "a running zhudai server holds {}; stop it before restoring into it",
            target.display()
        )));
    }
    let non_empty = std::fs::read_dir(target)
        .map_err(io(format!("cannot read {}", target.display())))?
        .next()
        .is_some();
    if non_empty && !force {
        return Err(Error::Refused(format!(
            "{} is not empty; restore into an empty or new directory, or add --force to replace it (the current contents are then kept as {}.replaced-…)",
            target.display(),
            target.display()
        )));
    }
    Ok(non_empty)
}

/// Opens the restored store: migrations run for an older schema, a newer one is refused.
fn open_restored(
    dir: &Path,
    manifest: &Manifest,
) -> Result<(Option<u64>, store::audit::ChainCheck)> {
    let path = dir.join("zhudai.redb");
    // A backup's store is the file copied while the server had it open: opened once here, redb
    // rebuilds its record of free pages (and a clean file is only opened and closed).
    store::snapshot::settle(&path, store::snapshot::OnDisk::Synced)
        .map_err(|e| Error::Corrupted(format!("the store in the backup cannot be opened: {e}")))?;
    let before = {
        let db = redb::ReadOnlyDatabase::open(&path).map_err(|e| {
            Error::Corrupted(format!("the store in the backup cannot be opened: {e}"))
        })?;
        let tx = redb::ReadableDatabase::begin_read(&db).map_err(store::Error::from)?;
        match tx.open_table(store::tables::META) {
            Ok(meta) => meta
                .get("schema_version")
                .map_err(store::Error::from)?
                .map(|v| v.value()),
            Err(_) => None,
        }
    };
    // The backup carries its own master key: the audit chain is verified (and, from an older
    // schema, re-keyed) with it.
    let key = crate::crypto::keyfile::load(&dir.join("keys").join("master.key"))
        .map_err(|e| Error::Corrupted(format!("the master key in the backup: {e}")))?;
    let audit_key = crate::crypto::audit_key(&key);
    let store = match Store::open_keyed(&path, store::DEFAULT_CACHE_BYTES, Some(audit_key.clone()))
    {
        Ok(s) => s,
        Err(store::Error::TooNew { found, .. }) => return Err(too_new(manifest, found)),
        Err(e) => return Err(e.into()),
    };
    let mut check = store.read(|tx| store::audit::verify(tx, &audit_key))?;
    if check.first_broken.is_none()
        && let Some(anchor) = &manifest.audit_head
    {
        use store::audit::AgainstAnchor;
        let found = store.read(|tx| store::audit::against(tx, anchor))?;
        if !matches!(
            found,
            AgainstAnchor::Matches | AgainstAnchor::Extends { .. }
        ) {
            check.first_broken = Some((
                anchor.seq,
                format!("the chain does not hold the head the manifest records ({found:?})"),
            ));
        }
    }
    let migrated_from = before.filter(|v| *v < migrate::SCHEMA_VERSION);
    Ok((migrated_from, check))
}

fn too_new(manifest: &Manifest, found: u64) -> Error {
    Error::TooNew {
        found,
        supported: migrate::SCHEMA_VERSION,
        made_by: manifest.zhudai_version.clone(),
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(io(format!("cannot resolve {}", path.display())))
}
