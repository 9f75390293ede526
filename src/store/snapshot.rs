//! Consistent copies of the whole store, for backups.
//!
//! A snapshot of the open store is the store file copied whole while this process holds
//! redb's writer lock: readers go on, writers wait for the copy (it runs at the speed of the
//! page cache, about a second per GB here), and the copy is the store exactly as the last
//! commit left it. Since the live file is marked "in use", the copy must be opened once,
//! writable, before it is read ([`settle`]: redb rebuilds its record of free pages): a backup
//! leaves that to restore, [`Store::snapshot_to`] does it at once. When an erasure still waits for its
//! scrub, the file's free pages may hold the erased customer's old record, and a backup must
//! not carry it on: the snapshot is then one redb read transaction copied table by table into
//! a fresh file (only live rows; writers are not held up, and the copy is slower). The copy
//! carries the same schema version as its source.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::{Error, Result, Store, migrate, tables};

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The schema version of the copied store (`None` for a store that was never initialised).
    pub schema_version: Option<u64>,
    pub rows: u64,
    /// The audit chain's newest entry in the copy (what a backup's manifest records).
    pub audit_head: Option<super::audit::Head>,
}

/// The audit head of a store file (a snapshot): what a backup's manifest records.
pub fn audit_head_of_file(path: &Path) -> Result<Option<super::audit::Head>> {
    let db = redb::ReadOnlyDatabase::open(path)?;
    let tx = redb::ReadableDatabase::begin_read(&db)?;
    match tx.open_table(tables::AUDIT) {
        Ok(_) => super::audit::head(&tx),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// How a snapshot was taken (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The file copied whole under the writer lock (to be [`settle`]d before it is read).
    File,
    /// Row by row from one read transaction: an erasure waited for its scrub.
    Rows,
}

impl Store {
    /// Copies the store as of now into a new database at `path` (which must not exist), which
    /// opens like any store file (read-only too).
    pub fn snapshot_to(&self, path: &Path) -> Result<Snapshot> {
        let (snapshot, method) = self.snapshot_by(path)?;
        if method == Method::File {
            with_removal_on_error(path, || settle(path, OnDisk::Scratch))?;
        }
        Ok(snapshot)
    }

    /// [`Store::snapshot_to`] for a backup, saying how the copy was taken. A file copy is left
    /// as taken: the live file is marked "in use", so the copy is opened once (writable) before
    /// it is read — restore does that ([`settle`]) — which rebuilds redb's record of free pages
    /// at restore instead of in every backup.
    pub fn snapshot_by(&self, path: &Path) -> Result<(Snapshot, Method)> {
        refuse_existing(path)?;
        // Held until the copy is complete: no commit can land in the file meanwhile.
        let writer = {
            let _waiting = self.waiting_writer();
            self.db.begin_write()?
        };
        let scrub_pending = writer
            .open_table(tables::SETTINGS)?
            .get(super::SCRUB_PENDING)?
            .is_some();
        if scrub_pending {
            writer.abort()?;
            let tx = self.db.begin_read()?;
            return Ok((copy_from(&tx, path)?, Method::Rows));
        }
        // What the copy will hold: the last commit, which this read sees too.
        let described = self
            .db
            .begin_read()
            .map_err(Error::from)
            .and_then(|tx| describe(&tx));
        let copied = described.and_then(|d| copy_file(&self.path, path).map(|()| d));
        // Nothing was written: letting go of the lock is all the abort does.
        writer.abort()?;
        let snapshot = copied?;
        Ok((snapshot, Method::File))
    }
}

/// Opens a store file once, writable, and closes it clean: a copy of a file that was in use
/// gets redb's record of free pages rebuilt (it then opens read-only too); a clean file is only
/// opened and closed.
pub fn settle(path: &Path, on_disk: OnDisk) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let backend = redb::backends::FileBackend::new(file)?;
    let builder = {
        let mut b = redb::Database::builder();
        b.set_cache_size(CACHE_BYTES);
        b
    };
    let db = match on_disk {
        OnDisk::Synced => builder.create_with_backend(backend)?,
        OnDisk::Scratch => builder.create_with_backend(Scratch(backend))?,
    };
    drop(db);
    Ok(())
}

/// Whether [`settle`] syncs what it writes: a restored store must be on the disk; a snapshot
/// is scratch (see [`Scratch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDisk {
    Synced,
    Scratch,
}

/// A snapshot's description, read from the transaction whose state it copies: schema version
/// (refused when this zhudai cannot copy it), rows, audit head.
fn describe(tx: &redb::ReadTransaction) -> Result<Snapshot> {
    let schema_version = copyable(tx)?;
    let audit_head = match tx.open_table(tables::AUDIT) {
        Ok(_) => super::audit::head(tx)?,
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Snapshot {
        schema_version,
        rows: tables::count_all(tx)?,
        audit_head,
    })
}

fn refuse_existing(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists",
            path.display()
        )));
    }
    Ok(())
}

/// Runs `f`; when it fails, removes the half-made copy at `path` (worth nothing) and returns
/// the error, which is what the caller needs.
fn with_removal_on_error<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let result = f();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Copies the store file byte for byte into a new private file (the kernel copies it, without
/// passing the bytes through this process). Only the file's data is copied: the ranges redb
/// has reserved but never written (holes, which read as zeros) stay holes in the copy, so the
/// writers wait for the data alone (a freshly filled 1M store: 1.47 of 2.27 GB).
fn copy_file(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let source = std::fs::File::open(from)?;
    let target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    with_removal_on_error(to, || {
        let len = source.metadata()?.len();
        // The copy's length first: whatever is not copied below reads as zeros, as in the source.
        target.set_len(len)?;
        let ranges = data_ranges(&source, len)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        // One share of the data per core: the kernel's copy is bound by one core's memory
        // copying, and the writers wait for all of it.
        std::thread::scope(|scope| {
            let copies: Vec<_> = shares(&ranges, threads)
                .into_iter()
                .map(|share| {
                    let (source, target) = (&source, &target);
                    scope.spawn(move || -> Result<()> {
                        for (start, end) in share {
                            copy_range(source, target, start, end)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            copies.into_iter().try_for_each(|copy| {
                copy.join().map_err(|_| {
                    Error::Io(std::io::Error::other("a thread copying the store panicked"))
                })?
            })
        })
    })
}

/// `ranges` cut into at most `n` shares of about equal bytes, each in order, together covering
/// every byte once (cut at whole MiB, so each thread copies whole pages).
fn shares(ranges: &[(u64, u64)], n: usize) -> Vec<Vec<(u64, u64)>> {
    const STEP: u64 = 1 << 20;
    let total: u64 = ranges.iter().map(|(s, e)| e - s).sum();
    let n = n.max(1) as u64;
    let per = (total.div_ceil(n)).div_ceil(STEP) * STEP;
    let mut shares = vec![Vec::new()];
    let mut room = per;
    for &(mut start, end) in ranges {
        while start < end {
            if room == 0 {
                shares.push(Vec::new());
                room = per;
            }
            let take = (end - start).min(room);
            if let Some(share) = shares.last_mut() {
                share.push((start, start + take));
            }
            start += take;
            room -= take;
        }
    }
    shares.retain(|s| !s.is_empty());
    shares
}

/// The ranges of `file` (of `len` bytes) that hold data, in order; the whole file when the
/// file system cannot tell data from holes.
pub(crate) fn data_ranges(file: &std::fs::File, len: u64) -> std::io::Result<Vec<(u64, u64)>> {
    use rustix::fs::{SeekFrom, seek};
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < len {
        let start = match seek(file, SeekFrom::Data(at)) {
            Ok(start) => start,
            // Nothing but a hole from `at` to the end.
            Err(rustix::io::Errno::NXIO) => break,
            Err(rustix::io::Errno::INVAL) if at == 0 => return Ok(vec![(0, len)]),
            Err(e) => return Err(e.into()),
        };
        if start >= len {
            break;
        }
        let end = seek(file, SeekFrom::Hole(start))?.min(len);
        ranges.push((start, end));
        at = end;
    }
    Ok(ranges)
}

/// Copies bytes `start..end` of `from` to the same place in `to`: by the kernel, or through
/// a buffer where the kernel cannot copy between the two files.
fn copy_range(from: &std::fs::File, to: &std::fs::File, start: u64, end: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let (mut off_in, mut off_out) = (start, start);
    while off_in < end {
        let want = usize::try_from(end - off_in)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        match rustix::fs::copy_file_range(from, Some(&mut off_in), to, Some(&mut off_out), want) {
            Ok(0) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the store file ended before its length while being copied",
                )));
            }
            Ok(_) => {}
            Err(
                rustix::io::Errno::XDEV | rustix::io::Errno::NOSYS | rustix::io::Errno::OPNOTSUPP,
            ) => {
                let mut buf = vec![0u8; 1 << 20];
                while off_in < end {
                    let n = usize::try_from(end - off_in)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let piece = buf.get_mut(..n).ok_or_else(|| {
                        Error::Io(std::io::Error::other("a copy piece longer than its buffer"))
                    })?;
                    from.read_exact_at(piece, off_in)?;
                    to.write_all_at(piece, off_in)?;
                    off_in += n as u64;
                }
                return Ok(());
            }
            Err(e) => return Err(Error::Io(e.into())),
        }
    }
    Ok(())
}

/// redb's page cache for a snapshot being written or settled: the copy is read back once by
/// the archive, through the page cache of the system.
const CACHE_BYTES: usize = 64 << 20;

/// Snapshot of a store file that no process holds, opened read-only: nothing is migrated or
/// repaired, so an older store is copied as it is. `InUse` when a server holds it.
pub fn snapshot_file(source: &Path, path: &Path) -> Result<Snapshot> {
    let db = match redb::ReadOnlyDatabase::open(source) {
        Ok(db) => db,
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(Error::InUse(source.to_path_buf()));
        }
        Err(e) => return Err(e.into()),
    };
    let tx = db.begin_read()?;
    let scrub_pending = match tx.open_table(tables::SETTINGS) {
        Ok(t) => t.get(super::SCRUB_PENDING)?.is_some(),
        Err(redb::TableError::TableDoesNotExist(_)) => false,
        Err(e) => return Err(e.into()),
    };
    if scrub_pending {
        return copy_from(&tx, path);
    }
    // No process writes the file while it is open here (and it is clean): copied as it is.
    let snapshot = describe(&tx)?;
    refuse_existing(path)?;
    copy_file(source, path)?;
    Ok(snapshot)
}

/// The schema version of a store that this zhudai can copy: refused when it is newer than
/// this binary or holds a table this binary does not know.
fn copyable(from: &redb::ReadTransaction) -> Result<Option<u64>> {
    let schema_version = match from.open_table(tables::META) {
        Ok(meta) => meta.get("schema_version")?.map(|v| v.value()),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(found) = schema_version
        && found > migrate::SCHEMA_VERSION
    {
        return Err(Error::TooNew {
            found,
            supported: migrate::SCHEMA_VERSION,
        });
    }
    // A table this binary does not know would be silently left out: refuse instead.
    let mut known = tables::all_names();
    known.extend(tables::retired_names());
    for handle in from.list_tables()? {
        if !known.iter().any(|k| k == handle.name()) {
            return Err(Error::Corrupt {
                table: "(store)",
                message: format!(
                    "table `{}` is unknown to this zhudai, so a backup would miss it",
                    handle.name()
                ),
            });
        }
    }
    Ok(schema_version)
}

fn copy_from(from: &redb::ReadTransaction, path: &Path) -> Result<Snapshot> {
    let described = describe(from)?;
    refuse_existing(path)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    let result = (|| {
        let backend = Scratch(redb::backends::FileBackend::new(file)?);
        let db = redb::Database::builder().create_with_backend(backend)?;
        let tx = db.begin_write()?;
        tables::copy_all(from, &tx)?;
        tx.commit()?;
        Ok(described)
    })();
    if result.is_err() {
        // A half-written copy is worth nothing; the error is what the caller needs.
        let _ = std::fs::remove_file(path);
    }
    result
}

/// The snapshot's file, without `fsync`: a snapshot is scratch that the backup reads right back
/// (through the page cache) and deletes, and a crash in between leaves a file that is never
/// used (the next backup removes it). Syncing it cost a full write of the store to the disk
/// in the middle of every backup.
#[derive(Debug)]
struct Scratch(redb::backends::FileBackend);

type Locked = std::result::Result<bool, redb::BackendError>;
type Bound = std::ops::Bound<u64>;

impl redb::StorageBackend for Scratch {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.0.close()
    }
    fn try_lock_range(&self, start: Bound, end: Bound) -> Locked {
        self.0.try_lock_range(start, end)
    }
    fn try_lock_shared_range(&self, start: Bound, end: Bound) -> Locked {
        self.0.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound, end: Bound) -> std::result::Result<(), redb::BackendError> {
        self.0.lock_range(start, end)
    }
    fn lock_shared_range(
        &self,
        start: Bound,
        end: Bound,
    ) -> std::result::Result<(), redb::BackendError> {
        self.0.lock_shared_range(start, end)
    }
    fn unlock_range(
        &self,
        start: Bound,
        end: Bound,
    ) -> std::result::Result<(), redb::BackendError> {
        self.0.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound, end: Bound) -> Locked {
        self.0.query_lock_range(start, end)
    }
}

/// The rows of one table (none when it does not exist): redb keeps the count.
pub(super) fn count_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64> {
    match from.open_table(def) {
        Ok(t) => Ok(redb::ReadableTableMetadata::len(&t)?),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Copies one table; a table absent from the source (an older schema) is skipped.
pub(super) fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64> {
    let source = match from.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut target = to.open_table(def)?;
    let mut rows = 0;
    for row in source.iter()? {
        let (k, v) = row?;
        target.insert(k.value(), v.value())?;
        rows += 1;
    }
    Ok(rows)
}

/// Every row of a table as raw bytes (none when the table does not exist).
pub(super) fn dump_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let source = match from.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for row in source.iter()? {
        let (k, v) = row?;
        out.push((
            K::as_bytes(&k.value()).as_ref().to_vec(),
            V::as_bytes(&v.value()).as_ref().to_vec(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::audit;

    /// A file with data, a hole of `hole` bytes, data again, and a hole at its end.
    fn sparse_file(path: &Path, hole: u64) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(path).unwrap();
        let head: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let tail: Vec<u8> = (0..9_000u32).map(|i| (i % 13 + 1) as u8).collect();
        f.write_all_at(&head, 0).unwrap();
        let tail_at = head.len() as u64 + hole;
        f.write_all_at(&tail, tail_at).unwrap();
        let len = tail_at + tail.len() as u64 + hole;
        f.set_len(len).unwrap();
        let mut want = vec![0u8; usize::try_from(len).unwrap()];
        want[..head.len()].copy_from_slice(&head);
        let at = usize::try_from(tail_at).unwrap();
        want[at..at + tail.len()].copy_from_slice(&tail);
        want
    }

    #[test]
    fn the_copy_is_shared_out_evenly_every_byte_once() {
        const MIB: u64 = 1 << 20;
        let ranges = [
            (0, 700 * MIB + 4096),
            (900 * MIB, 1000 * MIB),
            (1200 * MIB, 1200 * MIB + 8192),
        ];
        let total: u64 = ranges.iter().map(|(s, e)| e - s).sum();
        for n in [1, 2, 3, 4] {
            let shares = shares(&ranges, n);
            assert!(shares.len() <= n, "{n}: {shares:?}");
            // In order, no gap, no overlap: joined back they are the ranges.
            let mut joined: Vec<(u64, u64)> = Vec::new();
            for &(s, e) in shares.iter().flatten() {
                assert!(s < e);
                match joined.last_mut() {
                    Some(last) if last.1 == s => last.1 = e,
                    _ => joined.push((s, e)),
                }
            }
            assert_eq!(joined, ranges, "{n}");
            // About equal: none more than a MiB over an even share.
            for share in &shares {
                let bytes: u64 = share.iter().map(|(s, e)| e - s).sum();
                assert!(bytes <= total.div_ceil(n as u64) + MIB, "{n}: {bytes}");
            }
        }
        assert!(shares(&[], 2).is_empty());
    }

    #[test]
    fn the_file_copy_keeps_every_byte_and_leaves_holes_unwritten() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let hole = 64 << 20;
        let want = sparse_file(&dir.path().join("source"), hole);
        copy_file(&dir.path().join("source"), &dir.path().join("copy")).unwrap();
        let got = std::fs::read(dir.path().join("copy")).unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the copy differs from the source");
        // Holes the file system reports stay holes: far less than the holes is allocated.
        let allocated = std::fs::metadata(dir.path().join("copy")).unwrap().blocks() * 512;
        let source = std::fs::metadata(dir.path().join("source"))
            .unwrap()
            .blocks()
            * 512;
        if source < hole {
            assert!(allocated <= source + (1 << 20), "{allocated} > {source}");
        }
        // A file that is all data, and one that is all hole.
        std::fs::write(dir.path().join("full"), &want[..30_000]).unwrap();
        copy_file(&dir.path().join("full"), &dir.path().join("full-copy")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("full-copy")).unwrap(),
            &want[..30_000]
        );
        std::fs::File::create(dir.path().join("empty"))
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        copy_file(&dir.path().join("empty"), &dir.path().join("empty-copy")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("empty-copy")).unwrap(),
            vec![0u8; 1 << 20]
        );
    }

    fn table_names(db_path: &Path) -> Vec<String> {
        let db = redb::ReadOnlyDatabase::open(db_path).unwrap();
        let tx = db.begin_read().unwrap();
        let mut names: Vec<String> = tx
            .list_tables()
            .unwrap()
            .map(|h| h.name().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_copy_list_names_every_table_of_a_fresh_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zhudai.redb");
        drop(Store::open(&path).unwrap());
        let mut listed = tables::all_names();
        listed.sort();
        assert_eq!(
            table_names(&path),
            listed,
            "a table was added without adding it to every_table! in store/tables.rs"
        );
    }

    #[test]
    fn a_snapshot_is_the_store_at_the_start_of_its_read_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let key = audit::AuditKey::new([7; 32], "test".into());
        let open = |p: &Path| {
            Store::open_keyed(p, crate::store::DEFAULT_CACHE_BYTES, Some(key.clone())).unwrap()
        };
        let store = open(&dir.path().join("zhudai.redb"));
        let entry = || audit::NewAudit {
            actor_id: None,
            actor: "system".into(),
            action: "backup.snapshot",
            target: None,
            detail: serde_json::json!({}),
            source: "test".into(),
        };
        let now = chrono::Utc::now();
        for _ in 0..5 {
            store
                .write(|tx| audit::append(tx, now, entry()).map(|_| ()))
                .unwrap();
        }
        // Take the read transaction, then keep writing before copying from it.
        let read = store.db.begin_read().unwrap();
        for _ in 0..3 {
            store
                .write(|tx| audit::append(tx, now, entry()).map(|_| ()))
                .unwrap();
        }
        let copy = dir.path().join("copy.redb");
        let snap = copy_from(&read, &copy).unwrap();
        assert_eq!(snap.schema_version, Some(migrate::SCHEMA_VERSION));
        drop(read);
        assert_eq!(table_names(&copy), {
            let mut n = tables::all_names();
            n.sort();
            n
        });
        let copied = open(&copy);
        let check = copied.read(|tx| audit::verify(tx, &key)).unwrap();
        assert_eq!(check.entries, 5);
        assert_eq!(check.first_broken, None);
        assert_eq!(
            migrate::stored_version(&copied).unwrap(),
            Some(migrate::SCHEMA_VERSION)
        );
        // Never overwrites.
        assert!(matches!(store.snapshot_to(&copy), Err(Error::Conflict(_))));
    }

    #[test]
    fn a_file_held_by_a_server_is_reported_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zhudai.redb");
        let held = Store::open(&path).unwrap();
        let err = snapshot_file(&path, &dir.path().join("copy.redb")).unwrap_err();
        assert!(matches!(err, Error::InUse(_)), "{err}");
        drop(held);
        let snap = snapshot_file(&path, &dir.path().join("copy.redb")).unwrap();
        assert!(snap.rows > 0);
    }
}
