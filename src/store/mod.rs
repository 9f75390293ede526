//! The redb store: one file, `data/zhudai.redb`, with typed tables (see `tables`), a schema
//! version and forward migrations (see `migrate`). Every use case runs in one transaction via
//! [`Store::write`] or [`Store::read`]; a failed use case aborts and leaves nothing behind.

pub mod audit;
pub mod codec;
pub mod customer_settings;
pub mod customers;
pub mod loads;
pub mod migrate;
pub mod org;
pub mod outbox;
pub mod plugins;
pub mod pools;
pub mod rule_fields;
pub mod sessions;
pub mod setup;
pub mod snapshot;
pub mod tables;
pub mod tokens;
pub mod users;

use std::path::{Path, PathBuf};

use redb::ReadableDatabase;
pub use redb::{ReadTransaction, WriteTransaction};

/// Storage failures. A storage failure is never reported as "not found".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("corrupt record in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
    #[error(
        "the data directory is already in use by another zhudai process ({0}); stop it first or use another --data directory"
    )]
    InUse(PathBuf),
    #[error(
        "this data directory was written by a newer zhudai (schema version {found}; this binary supports up to {supported}); upgrade zhudai to open it"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("storage error: {0}")]
    Storage(#[from] redb::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Storage(e.into())
            }
        }
    )*};
}
storage_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Page cache when the configuration does not say (`[store] cache_mb` in the defaults): redb's
/// own default of 1 GiB would make a server with a million customers hold ~0.5 GB resident.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// The open database. Cheap to share behind an `Arc`; redb serialises writers itself.
pub struct Store {
    db: redb::Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the store at `path` with the default page cache and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Like [`Store::open`] with a page cache of `cache_bytes` (`[store] cache_mb`).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store> {
        let db = match redb::Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(Error::InUse(path.to_path_buf()));
            }
            Err(e) => return Err(e.into()),
        };
        // Borrowers' data: readable by the service account only, whatever the umask.
        std::fs::set_permissions(
            path,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
        )?;
        let mut store = Store {
            db,
            path: path.to_path_buf(),
        };
        if migrate::run(&store)?.compact {
            store.db.compact().map_err(redb::Error::from)?;
            tracing::info!(path = %path.display(), "store compacted after the upgrade");
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`, aborted otherwise.
    pub fn write<T, E>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error>,
    {
        let tx = self.db.begin_write().map_err(Error::from)?;
        match f(&tx) {
            Ok(value) => {
                tx.commit().map_err(Error::from)?;
                Ok(value)
            }
            Err(e) => {
                // Aborting only releases the transaction; the use case's error is what matters.
                let _ = tx.abort();
                Err(e)
            }
        }
    }

    /// Runs `f` on a consistent snapshot.
    pub fn read<T, E>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error>,
    {
        let tx = self.db.begin_read().map_err(Error::from)?;
        f(&tx)
    }

    /// A named installation value (see `tables::SETTINGS`).
    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(tables::SETTINGS)?;
        Ok(t.get(name)?.map(|v| v.value().to_string()))
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.open_table(tables::SETTINGS)?.insert(name, value)?;
            Ok(())
        })
    }

    /// Full structural check of the file (used by `zhudai doctor`).
    pub fn check_integrity(&mut self) -> Result<bool> {
        Ok(self.db.check_integrity()?)
    }
}
