//! Backups: a whole data directory as one age-encrypted, zstd-compressed tar stream, readable
//! by the reference tools (`age -d -i key.txt F.age | zstd -d | tar -x`).
//!
//! Archive format version 3, inside the age encryption (passphrase or X25519 recipients): a
//! zstd-compressed tar stream of regular files — a file with holes as a GNU sparse entry, its
//! data ranges behind a map — in this order: `manifest.json` without entries (the
//! announcement: the format, hence the hash, before any entry; a release before format 3 reads
//! it as the manifest and says the format is too new), `zhudai.redb` (a consistent snapshot,
//! see `store::snapshot`), `keys/**` (`master.key`, and `master.key.next` during a key
//! rotation), `config.toml` if present, `plugins/**`, `blobs/**` if present, and **last**
//! `manifest.json` with the entries, which must otherwise say what the announcement said.
//! Still read: version 2 (no announcement, SHA-256 in the manifest) and version 1 (the same
//! with the tar uncompressed).
//!
//! The manifest is written last so that the whole backup is made in one streaming pass with
//! constant memory: each entry is hashed (BLAKE3) while it is copied into the tar, and the
//! manifest records the hashes and sizes at the end (reading and hashing run on the caller's
//! thread, compressing, encrypting and writing on a second one: `archive::write`). Readers
//! (`verify`, `restore`) hash every entry as it streams past, then require the manifest as the
//! final entry, then require the tar's end blocks, then read the age stream to its end (which
//! is where age detects a truncated file or data appended to it). Any difference — a missing,
//! extra, resized or altered entry, a damaged or truncated file, trailing data — is an error,
//! and `restore` swaps nothing in until all of it has passed.

pub mod archive;
pub mod create;
pub mod keys;
pub mod restore;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use create::{Created, create};
pub use keys::{Encryption, Unlock};
pub use restore::{Restored, restore};

/// The archive format this binary writes and the newest it reads: 3 hashes entries with BLAKE3
/// and announces its format in a first `manifest.json` without entries. Still read: 2
/// (zstd-compressed tar, SHA-256) and 1 (a plain tar inside age, SHA-256).
pub const FORMAT_VERSION: u32 = 3;
/// zstd level of backups: -2 (zstd's "fast" levels). On the 1M-customer store it takes a third
/// less CPU than level 1 for an archive of 25% of the store instead of 22% (level 1 was itself
/// 27% faster than level 3, zstd's default); readers need no level (docs/benchmarks.md, backups).
pub const ZSTD_LEVEL: i32 = -2;
/// zstd compression threads of a backup at most (one per core up to this): the archive pass
/// compresses on every core while the caller's thread reads and hashes.
pub const ZSTD_MAX_WORKERS: usize = 4;
/// Identifies our manifests (`format` field).
pub const FORMAT_NAME: &str = "zhudai-backup";
pub const MANIFEST: &str = "manifest.json";

/// `manifest.json`, the last entry of every archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Always `zhudai-backup`.
    pub format: String,
    pub format_version: u32,
    /// The zhudai version that made the backup.
    pub zhudai_version: String,
    /// The store's schema version inside the backup.
    pub schema_version: u64,
    pub created_at: DateTime<Utc>,
    /// The newest audit entry of the archived store (`<seq>:<hash>` parts): an anchor of the
    /// chain outside the data directory. A restore checks the restored chain against it, and
    /// an operator can pass it to `zhudai doctor --audit-head` later. Absent before schema 12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<crate::store::audit::Head>,
    /// Every other entry, in archive order.
    pub entries: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry {
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content (formats 1 and 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Lower-case hex BLAKE3 of the content (format 3; `b3sum` prints the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

impl Manifest {
    /// Says the same of the archive as `other`: every field but the entries.
    /// (Destructured, so that a field added later is compared or left out on purpose.)
    pub fn same_archive(&self, other: &Manifest) -> bool {
        let Manifest {
            format,
            format_version,
            zhudai_version,
            schema_version,
            created_at,
            audit_head,
            entries: _,
        } = self;
        *format == other.format
            && *format_version == other.format_version
            && *zhudai_version == other.zhudai_version
            && *schema_version == other.schema_version
            && *created_at == other.created_at
            && *audit_head == other.audit_head
    }

    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

/// What can go wrong, each naming the problem in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} already exists; backups never overwrite a file, choose another name")]
    Exists(PathBuf),
    #[error("{0} is not an age-encrypted file, so it is not a zhudai backup")]
    NotAge(PathBuf),
    /// The age header is damaged: no key can open this copy (told from a wrong key).
    #[error(
        "the backup's age header is damaged ({0}): no key can open this copy; use another copy of the backup"
    )]
    DamagedHeader(String),
    #[error("not a zhudai backup: {0}")]
    NotZhudai(String),
    #[error("wrong passphrase or identity: this backup cannot be decrypted with the key given")]
    WrongKey,
    #[error("this backup is encrypted with a passphrase: give --passphrase-file")]
    NeedsPassphrase,
    #[error("this backup is encrypted to age recipients: give -i IDENTITY_FILE")]
    NeedsIdentity,
    #[error(
        "the backup is truncated: the file ends before the archive does (an interrupted copy?)"
    )]
    Truncated,
    #[error(
        "the backup is truncated, or has bytes appended or damaged, at its end: the last part does not authenticate (an interrupted or faulty copy?)"
    )]
    DamagedEnd,
    #[error("the backup is corrupted: {0}")]
    Corrupted(String),
    #[error(
        "this backup holds a store with schema version {found}, newer than this zhudai supports ({supported}); restore it with zhudai {made_by} or newer"
    )]
    TooNew {
        found: u64,
        supported: u64,
        made_by: String,
    },
    #[error(
        "backup format version {0} is newer than this zhudai reads ({FORMAT_VERSION}); use a newer zhudai"
    )]
    FormatTooNew(u32),
    /// A problem with the key material given (bad recipient, unreadable passphrase file).
    #[error("{0}")]
    Key(String),
    /// The operation is refused as asked (target not empty, server running, …).
    #[error("{0}")]
    Refused(String),
    #[error("another backup of this data directory is running; try again when it has finished")]
    Busy,
    #[error("cancelled; nothing was written under the final name")]
    Cancelled,
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with what was being done.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Is `path` a name that may appear in an archive (besides the manifest)? Relative, plain
/// components only, and under one of the places a data directory holds.
pub fn allowed_entry(path: &str) -> bool {
    let plain = !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
    plain
        && (path == "zhudai.redb"
            || path.starts_with("keys/")
            || path == "config.toml"
            || path.starts_with("plugins/")
            || path.starts_with("blobs/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_checked() {
        for ok in [
            "zhudai.redb",
            "keys/master.key",
            "config.toml",
            "plugins/a.rhai",
            "blobs/ab/cd",
        ] {
            assert!(allowed_entry(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "plugins/../../x",
            "plugins//x",
            "keys",
            "x",
            "./zhudai.redb",
            "plugins/./a",
        ] {
            assert!(!allowed_entry(bad), "{bad}");
        }
    }
}
