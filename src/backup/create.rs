//! Making a backup of a data directory: take a consistent store snapshot (from this process's
//! store, from a running server over its admin socket, or from the file when no server runs),
//! list what else the directory holds, and write the archive. One backup per data directory
//! at a time (`tmp/backup.lock`, held by whichever process is backing up).

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use super::archive::{self, Entry};
use super::keys::Encryption;
use super::{Error, Manifest, Result, io};
use crate::store::snapshot::Snapshot;

/// Where the store snapshot comes from.
pub enum SnapshotSource<'a> {
    /// This process holds the store (the server's scheduler and API).
    Store(&'a crate::store::Store),
    /// Ask the server running on the data directory over its admin socket, or read the store
    /// file directly when no server runs (the CLI).
    ServerOrFile,
}

/// Progress of a backup, for a bar or log lines.
pub trait Report {
    /// The snapshot is taken; `total` bytes will now be archived.
    fn start(&mut self, _total: u64, _via_server: bool) {}
    fn advance(&mut self, _bytes: u64) {}
}

pub struct Quiet;
impl Report for Quiet {}

#[derive(Debug, Clone)]
pub struct Created {
    pub path: PathBuf,
    /// Size of the archive file.
    pub size: u64,
    pub manifest: Manifest,
    /// The snapshot came from a running server over its admin socket.
    pub via_server: bool,
    /// Time spent taking the store snapshot.
    pub snapshot_took: std::time::Duration,
    /// Time spent writing the archive (read, hash, tar, compress, encrypt, sync).
    pub archive_took: std::time::Duration,
}

/// `data/tmp`: private scratch space for snapshots (same filesystem as the store).
pub fn tmp_dir(data_dir: &Path) -> Result<PathBuf> {
    let dir = data_dir.join("tmp");
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(format!("cannot create {}", dir.display())))?;
    }
    Ok(dir)
}

/// Held while a backup of the data directory runs; released on drop.
pub struct BackupLock(#[allow(dead_code)] File);

/// Takes the data directory's backup lock, or `Busy` when another backup holds it.
pub fn lock(data_dir: &Path) -> Result<BackupLock> {
    let path = tmp_dir(data_dir)?.join("backup.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(BackupLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Io {
            what: format!("cannot lock {}", path.display()),
            source: e,
        }),
    }
}

/// Is a backup of this data directory running right now (in any process)?
pub fn running(data_dir: &Path) -> bool {
    let path = data_dir.join("tmp").join("backup.lock");
    match File::open(&path) {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Removes the snapshot file however the backup ends.
struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Backs up `data_dir` into `out` (which must not exist).
pub fn create(
    data_dir: &Path,
    out: &Path,
    encryption: &Encryption,
    source: SnapshotSource<'_>,
    now: DateTime<Utc>,
    report: &mut dyn Report,
    cancel: &AtomicBool,
) -> Result<Created> {
    if out.exists() {
        return Err(Error::Exists(out.to_path_buf()));
    }
    if out.file_name().is_none() {
        return Err(Error::Refused(format!(
            "{} does not name a file",
            out.display()
        )));
    }
    let store_file = data_dir.join("zhudai.redb");
    if !store_file.exists() {
        return Err(Error::Refused(format!(
            "{} has no zhudai store (zhudai.redb); is --data right?",
            data_dir.display()
        )));
    }
    let lock = lock(data_dir)?;
    create_locked(
        &lock, data_dir, out, encryption, source, now, report, cancel,
    )
}

/// [`create`] for a caller that already holds the backup lock.
#[allow(clippy::too_many_arguments)]
pub fn create_locked(
    _lock: &BackupLock,
    data_dir: &Path,
    out: &Path,
    encryption: &Encryption,
    source: SnapshotSource<'_>,
    now: DateTime<Utc>,
    report: &mut dyn Report,
    cancel: &AtomicBool,
) -> Result<Created> {
    if out.exists() {
        return Err(Error::Exists(out.to_path_buf()));
    }
    // Check the key material before doing any work.
    encryption.encryptor()?;
    let store_file = data_dir.join("zhudai.redb");
    let tmp = tmp_dir(data_dir)?;
    clean_stale_snapshots(&tmp);
    // Absolute, so a server with another working directory writes to the same place.
    let tmp = std::fs::canonicalize(&tmp).map_err(io(format!("cannot open {}", tmp.display())))?;
    let snapshot_path = tmp.join(format!("backup-{}.redb", crate::service::new_id(now)));
    let scratch = Scratch(snapshot_path.clone());
    let started = std::time::Instant::now();
    let (snapshot, via_server) = match source {
        SnapshotSource::Store(store) => (store.snapshot_by(&snapshot_path)?.0, false),
        SnapshotSource::ServerOrFile => {
            match crate::admin_socket::snapshot(data_dir, &snapshot_path)? {
                Some(s) => (s, true),
                None => (
                    crate::store::snapshot::snapshot_file(&store_file, &snapshot_path)?,
                    false,
                ),
            }
        }
    };
    let Snapshot {
        schema_version,
        audit_head,
        ..
    } = snapshot;
    let snapshot_took = started.elapsed();
    let started = std::time::Instant::now();
    let entries = list_entries(data_dir, &snapshot_path)?;
    let mut total = 0;
    for e in &entries {
        total += std::fs::metadata(&e.source)
            .map_err(io(format!("cannot read {}", e.source.display())))?
            .len();
    }
    report.start(total, via_server);
    let header = archive::Header {
        schema_version: schema_version.unwrap_or(0),
        created_at: now,
        audit_head,
    };
    let (manifest, size) = archive::write(
        out,
        &entries,
        &header,
        encryption,
        &mut |n| report.advance(n),
        cancel,
    )?;
    drop(scratch);
    Ok(Created {
        path: out.to_path_buf(),
        size,
        manifest,
        via_server,
        snapshot_took,
        archive_took: started.elapsed(),
    })
}

/// Snapshots left by a backup that crashed (we hold the lock, so none is in use).
fn clean_stale_snapshots(tmp: &Path) {
    if let Ok(dir) = std::fs::read_dir(tmp) {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("backup-") && name.ends_with(".redb") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// What goes into the archive, in archive order (see the module docs).
pub fn list_entries(data_dir: &Path, snapshot: &Path) -> Result<Vec<Entry>> {
    let mut entries = vec![Entry {
        path: "zhudai.redb".into(),
        source: snapshot.to_path_buf(),
    }];
    let key = data_dir.join("keys").join("master.key");
    if !key.is_file() {
        return Err(Error::Refused(format!(
            "{} is missing: a backup without the key could not read encrypted fields",
            key.display()
        )));
    }
    // Every key file: during a key rotation `master.key.next` holds the key some fields are
    // already encrypted with, so the whole folder travels together.
    walk(&data_dir.join("keys"), "keys", &mut entries)?;
    let config = data_dir.join("config.toml");
    if config.is_file() {
        entries.push(Entry {
            path: "config.toml".into(),
            source: config,
        });
    }
    for top in ["plugins", "blobs"] {
        walk(&data_dir.join(top), top, &mut entries)?;
    }
    // Uploads in progress are not blobs yet.
    entries.retain(|e| !e.path.starts_with("blobs/tmp/"));
    Ok(entries)
}

/// Regular files below `dir`, sorted, named `prefix/…`. Symbolic links and other special
/// files are skipped with a warning: a backup holds plain files only.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<()> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::Io {
                what: format!("cannot read {}", dir.display()),
                source: e,
            });
        }
    };
    let mut names: Vec<_> = read
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(io(format!("cannot read {}", dir.display())))?;
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::warn!(path = %entry.path().display(), "skipped: name is not UTF-8");
            continue;
        };
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(io(format!("cannot read {}", path.display())))?;
        let inner = format!("{prefix}/{name}");
        if meta.is_dir() {
            walk(&path, &inner, out)?;
        } else if meta.is_file() {
            out.push(Entry {
                path: inner,
                source: path,
            });
        } else {
            tracing::warn!(path = %path.display(), "skipped: not a regular file");
        }
    }
    Ok(())
}

/// Ensures a private directory exists (0700).
pub(super) fn private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(io(format!("cannot create {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(io(format!("cannot create {}", path.display())))
}
