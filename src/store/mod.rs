//! The redb store: one file, `data/zhudai.redb`, with typed tables (see `tables`), a schema
//! version and forward migrations (see `migrate`). Every use case runs in one transaction via
//! [`Store::write`] or [`Store::read`]; a failed use case aborts and leaves nothing behind.

pub mod applications;
pub mod audit;
pub mod audit_anchor;
pub mod blobs;
pub mod brokers;
pub mod calls;
pub mod channels;
pub mod codec;
pub mod contracts;
pub mod custody;
pub mod customer_codec;
pub mod customer_settings;
pub mod customers;
pub mod deals;
pub mod event_codec;
pub mod fees;
pub mod funnel;
pub mod funnel_since;
mod key_codec;
pub(crate) use key_codec::is_canonical_ulid;
pub mod keylog;
pub mod leads;
pub mod loads;
pub mod match_rows;
pub mod migrate;
pub mod notices;
pub mod org;
pub mod outbox;
pub mod plugins;
pub mod pools;
pub mod products;
pub mod repack;
pub mod report_keys;
pub mod rule_fields;
pub mod sessions;
pub mod setup;
pub mod snapshot;
pub mod tables;
pub mod tokens;
pub mod transfers;
pub mod users;
pub mod v36;

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use redb::ReadTransaction;
use redb::ReadableDatabase;

/// One table's size: entries, bytes of keys and values, bytes of the pages holding them.
pub struct TableSize {
    pub name: String,
    pub entries: u64,
    pub stored: u64,
    pub pages: u64,
}

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
    /// A value could not be serialised: a bug in the record type, reported, never stored empty.
    #[error("cannot encode a record: {0}")]
    Encode(String),
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
    #[error(
        "the audit log is sealed with a key derived from the master key, and this store was opened without it; open the data directory through zhudai (serve, doctor, the CLI)"
    )]
    AuditKeyMissing,
    #[error(
        "keys/master.key is not the key this data was written with; put the right key file back (from a backup)"
    )]
    WrongKey,
    /// A store function called in a way it does not support (a bug in the caller).
    #[error("store misuse: {0}")]
    Misuse(String),
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
/// `settings` key set in an erasure's transaction: the file is to be compacted (see
/// `Store::scrub_if_pending`).
pub const SCRUB_PENDING: &str = "scrub/pending";

pub struct Store {
    db: redb::Database,
    path: PathBuf,
    /// Seals audit entries (see `audit`); `None` when opened without the master key, and then
    /// appending audit entries is refused.
    audit_key: Option<Arc<audit::AuditKey>>,
    /// The head file beside the store, kept up to date by the server and the CLI.
    anchor: OnceLock<audit_anchor::Anchor>,
    /// Moves on after every commit that wrote sessions, API tokens, users, roles or
    /// departments (see [`Store::auth_epoch`]).
    auth_epoch: AtomicU64,
    /// Callers of [`Store::write`] waiting for the writer lock right now (see
    /// [`Store::writers_waiting`]).
    waiting: AtomicUsize,
    /// Write transactions committed since the store was opened.
    commits: AtomicU64,
}

/// One caller counted as waiting for the writer lock while this lives
/// ([`Store::writers_waiting`]).
pub struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Store {
    /// Scrubs the free pages of erased records before the file is let go (see
    /// [`Store::scrub_if_pending`]); a failure leaves the flag set for the next open.
    fn drop(&mut self) {
        if let Err(e) = self.scrub_if_pending() {
            tracing::error!(path = %self.path.display(), "compacting after an erasure failed (retried at the next start): {e}");
        }
    }
}

/// A write transaction: redb's, plus what the store adds to every use case (the audit key,
/// the audit head it appended, for the anchor written after the commit).
pub struct WriteTransaction {
    tx: redb::WriteTransaction,
    audit_key: Option<Arc<audit::AuditKey>>,
    audit_head: Mutex<Option<audit::Head>>,
    /// Set by every store function that writes what authentication or a caller's scope reads.
    auth_changed: AtomicBool,
}

impl std::ops::Deref for WriteTransaction {
    type Target = redb::WriteTransaction;
    fn deref(&self) -> &redb::WriteTransaction {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut redb::WriteTransaction {
        &mut self.tx
    }
}

impl WriteTransaction {
    pub(crate) fn audit_key(&self) -> Option<&audit::AuditKey> {
        self.audit_key.as_deref()
    }

    /// The last entry this transaction appended, if any.
    fn audit_head(&self) -> Option<audit::Head> {
        self.audit_head
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn note_audit_head(&self, head: audit::Head) {
        *self.audit_head.lock().unwrap_or_else(|p| p.into_inner()) = Some(head);
    }

    /// Called by the store functions that write sessions, API tokens, users, roles or
    /// departments: the commit moves [`Store::auth_epoch`] on.
    pub(crate) fn note_auth_change(&self) {
        self.auth_changed.store(true, Ordering::Relaxed);
    }
}

impl Store {
    /// Opens (or creates) the store at `path` with the default page cache and brings its
    /// schema up to date, without the audit key: enough to read, and to write anything but
    /// audit entries (tests, inspection). The application opens with [`Store::open_keyed`].
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_keyed(path, DEFAULT_CACHE_BYTES, None)
    }

    /// Like [`Store::open`] with a page cache of `cache_bytes` (`[store] cache_mb`).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store> {
        Store::open_keyed(path, cache_bytes, None)
    }

    /// Opens with the audit key (`crypto::audit_key` of the master key), so use cases can
    /// append audit entries and migrations can re-seal the chain.
    pub fn open_keyed(
        path: &Path,
        cache_bytes: usize,
        audit_key: Option<audit::AuditKey>,
    ) -> Result<Store> {
        Store::open_observed(path, cache_bytes, audit_key, &mut |_| {})
    }

    /// [`Store::open_keyed`], telling `on_step` about each migration step as it commits.
    pub fn open_observed(
        path: &Path,
        cache_bytes: usize,
        audit_key: Option<audit::AuditKey>,
        on_step: &mut dyn FnMut(&migrate::StepDone),
    ) -> Result<Store> {
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
            audit_key: audit_key.map(Arc::new),
            anchor: OnceLock::new(),
            auth_epoch: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
        };
        // Before any migration re-seals something with it.
        if let Some(key) = &store.audit_key
            && migrate::stored_version(&store)?.is_some_and(|v| v >= 7)
            && let Some(stored) = store.setting("key_check")?
            && stored != key.master_check()
        {
            return Err(Error::WrongKey);
        }
        if migrate::run_observed(&store, on_step)?.compact {
            store.db.compact().map_err(redb::Error::from)?;
            tracing::info!(path = %path.display(), "store compacted after the upgrade");
        }
        // The keys an interrupted CLI import logged, before anything reads keys (`keylog`).
        keylog::merge_pending(&store)?;
        // A table rebuild an import started and an interruption stopped (`repack`).
        repack::drop_stray_copies(&store)?;
        // An erasure whose old pages a shutdown did not scrub (a crash, a kill).
        store.scrub_if_pending()?;
        Ok(store)
    }

    /// Compacts the file when an erasure asked for it ([`SCRUB_PENDING`]): redb leaves the
    /// pages a transaction replaced in the file until it reuses them, so an erased customer's
    /// old record could still be read from the free pages. Needs the store to itself (open or
    /// drop).
    fn scrub_if_pending(&mut self) -> Result<()> {
        if self.setting(SCRUB_PENDING)?.is_none() {
            return Ok(());
        }
        // Twice: the first pass moves the live pages down; the second releases what the first
        // left behind, the flag's own removal included.
        self.write(|tx| {
            tx.open_table(tables::SETTINGS)?.remove(SCRUB_PENDING)?;
            Ok::<_, Error>(())
        })?;
        for _ in 0..2 {
            self.db.compact().map_err(redb::Error::from)?;
        }
        tracing::info!(path = %self.path.display(), "store compacted after an erasure");
        Ok(())
    }

    /// Starts keeping the audit anchor file beside the store (see `audit_anchor`): checks it
    /// against the chain now and rewrites it after every commit that appends audit entries.
    /// `doctor` does not call this, so it reads the anchor as it found it.
    pub fn keep_audit_anchor(&self) -> Result<()> {
        if self.anchor.get().is_none() {
            let anchor = audit_anchor::Anchor::open(self)?;
            if self.anchor.set(anchor).is_err() {
                tracing::debug!("audit anchor kept already (set by another thread)");
            }
        }
        Ok(())
    }

    /// Walks the whole audit chain with this store's key.
    pub fn verify_audit(&self) -> Result<audit::ChainCheck> {
        let key = self.audit_key.as_ref().ok_or(Error::AuditKeyMissing)?;
        self.read(|tx| audit::verify(tx, key))
    }

    /// Re-seals the audit chain under `new` (a master-key rotation), after checking it under
    /// the current key, and records `new`'s fingerprint as the store's key (`key_check`) in the
    /// same transaction, so the store always says which key seals its chain. A chain already
    /// sealed under `new` (a resumed rotation) is left as is. Refuses a chain that does not
    /// verify: re-keying it would hide the damage.
    pub fn rekey_audit(&self, new: &audit::AuditKey) -> Result<u64> {
        if self.setting("key_check")?.as_deref() == Some(new.master_check()) {
            return Ok(0);
        }
        let old = self.audit_key.as_ref().ok_or(Error::AuditKeyMissing)?;
        let n = self.write(|tx| {
            let (n, broken) = audit::rekey(tx, audit::Sealing::Keyed(old), new)?;
            tx.open_table(tables::SETTINGS)?
                .insert("key_check", new.master_check())?;
            match broken {
                Some((seq, why)) => Err(Error::Conflict(format!(
                    "the audit chain is broken at entry {seq} ({why}); not re-keyed: run `zhudai doctor` and resolve it first"
                ))),
                None => Ok(n),
            }
        })?;
        self.reset_audit_anchor()?;
        Ok(n)
    }

    /// After the chain was re-sealed under a new key: the anchor takes the new head.
    pub fn reset_audit_anchor(&self) -> Result<()> {
        let Some(head) = self.read(audit::head)? else {
            return Ok(());
        };
        match self.anchor.get() {
            Some(a) => a.reset(&head)?,
            None => audit_anchor::write(&audit_anchor::path_for(&self.path), &head)?,
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`, aborted otherwise.
    pub fn write<T, E>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error>,
    {
        let begun = {
            let _waiting = Waiting::on(&self.waiting);
            self.db.begin_write().map_err(Error::from)?
        };
        let tx = WriteTransaction {
            tx: begun,
            audit_key: self.audit_key.clone(),
            audit_head: Mutex::new(None),
            auth_changed: AtomicBool::new(false),
        };
        match f(&tx) {
            Ok(value) => {
                let head = tx
                    .audit_head
                    .into_inner()
                    .unwrap_or_else(|p| p.into_inner());
                let auth_changed = tx.auth_changed.into_inner();
                tx.tx.commit().map_err(Error::from)?;
                self.commits.fetch_add(1, Ordering::Relaxed);
                // After the commit: a reader that sees the new epoch reads the new rows.
                if auth_changed {
                    self.auth_epoch.fetch_add(1, Ordering::SeqCst);
                }
                // After the commit, never before: the anchor may lag the chain, never lead it.
                if let (Some(head), Some(anchor)) = (head, self.anchor.get()) {
                    anchor.advance(&head);
                }
                Ok(value)
            }
            Err(e) => {
                // Aborting only releases the transaction; the use case's error is what matters.
                let _ = tx.tx.abort();
                Err(e)
            }
        }
    }

    /// A number that changes after every commit that wrote sessions, API tokens, users, roles
    /// or departments. What was read from those tables may be reused (`service::access::cache`)
    /// while the epoch read *before* reading them is still current: a revocation, logout,
    /// disabled user or role/department change is seen by the very next request.
    pub fn auth_epoch(&self) -> u64 {
        self.auth_epoch.load(Ordering::SeqCst)
    }

    /// Whether another caller of [`Store::write`] waits for the writer lock now: a long job
    /// holding it (the pool sweep) ends its transaction early when someone does.
    pub fn writers_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Write transactions committed through [`Store::write`] since the store was opened.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Counts a writer as waiting until the guard drops: what [`Store::write`] does around
    /// taking the writer lock. Tests hold one to stand for a waiting request.
    pub fn waiting_writer(&self) -> Waiting<'_> {
        Waiting::on(&self.waiting)
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

    /// Writes a named setting inside a use case's transaction.
    pub fn put_setting(tx: &WriteTransaction, name: &str, value: &str) -> Result<()> {
        tx.open_table(tables::SETTINGS)?.insert(name, value)?;
        Ok(())
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.open_table(tables::SETTINGS)?.insert(name, value)?;
            Ok(())
        })
    }

    /// Every table's entry count and space (for `zhudai doctor --sizes`), largest first.
    pub fn table_sizes(&self) -> Result<Vec<TableSize>> {
        use redb::ReadableTableMetadata;
        let tx = self.db.begin_read()?;
        let page = 4096;
        let mut out = Vec::new();
        for handle in tx.list_tables()? {
            let name = redb::TableHandle::name(&handle).to_string();
            let table = tx.open_untyped_table(handle).map_err(redb::Error::from)?;
            let stats = table.stats()?;
            out.push(TableSize {
                name,
                entries: table.len()?,
                stored: stats.stored_bytes(),
                pages: (stats.leaf_pages() + stats.branch_pages()) * page,
            });
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.pages));
        Ok(out)
    }

    /// Full structural check of the file (used by `zhudai doctor`).
    pub fn check_integrity(&mut self) -> Result<bool> {
        Ok(self.db.check_integrity()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A caller of `Store::write` blocked on the writer lock is counted while it waits, and
    /// only then (the sweep ends its transaction for it).
    #[test]
    fn a_writer_waiting_for_the_lock_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let before = store.commits();
        let (held, release) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|s| {
            s.spawn(|| {
                store
                    .write(|_tx| {
                        held.wait();
                        release.wait();
                        Ok::<_, Error>(())
                    })
                    .unwrap();
            });
            held.wait();
            assert!(!store.writers_waiting(), "the holder is not waiting");
            let second = s.spawn(|| store.write(|_tx| Ok::<_, Error>(())).unwrap());
            let started = std::time::Instant::now();
            let mut counted = store.writers_waiting();
            while !counted && started.elapsed() < std::time::Duration::from_secs(10) {
                std::thread::yield_now();
                counted = store.writers_waiting();
            }
            release.wait();
            second.join().unwrap();
            assert!(counted, "the blocked writer was never counted");
        });
        assert!(!store.writers_waiting());
        assert_eq!(store.commits() - before, 2);
    }
}
