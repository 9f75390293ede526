//! The import key log (schema 38): where a CLI import (the store that process's alone) puts
//! the keys of its new customers that have random prefixes — phone and ID-number blind
//! indexes, exact names (`customer_keys_bin`) and lead-check keys (`lead_check_bin`) — instead
//! of inserting them batch by batch into random leaves of those tables.
//!
//! Each batch appends its keys, sorted, in the batch's own write transaction, under the
//! batch's number: `<batch, u64 big-endian><tag: c customer key, l lead-check key><key>`, so a
//! batch writes at the log's right edge and the log holds one sorted run per batch and tag.
//! While the import runs, its duplicate check reads the tables plus this import's own phone
//! and ID-number keys through [`ImportLog`] (an in-memory digest of each prefix → the batch
//! that logged it, verified against the log). At the end the runs are merged into the tables
//! in key order ([`merge`]), in batches of write transactions, resumable; the log is emptied
//! with the last one.
//!
//! A log left by an interrupted import is merged when the store is next opened, before
//! anything reads keys (`Store::open_observed`): every reader of keys then reads the tables
//! alone, as without the log, and only the importing process ever sees a non-empty log.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, WriteTransaction};

use super::{Result, Store, tables};

/// The log's tag of a customer key (`customer_keys_bin`).
pub(super) const CUSTOMER_TAG: u8 = b'c';
/// The log's tag of a lead-check key (`lead_check_bin`).
pub(super) const LEAD_TAG: u8 = b'l';
/// Bytes before a logged key: the batch number and the tag.
const HEAD: usize = 9;
/// Keys copied or inserted per write transaction of a merge.
const MERGE_BATCH: usize = 50_000;
/// Name suffix of a key table's copy being built by a merge.
pub(super) const SUFFIX: &str = "__merging";
/// A merge inserts into the table itself (rather than rebuilding it packed) when the table
/// holds more than this many times the log's rows. A rebuild writes every row of the table and
/// the log (~1 µs a row at 10M customers), an insert in place only the log's (~2 µs a row, each
/// a descent into a large tree), so they cost the same when the table is as large as the log.
/// With 4 here a 10M import in 2M files rebuilt the tables at every file (120 s of 651 s in
/// all); with 1, 74 s of 614 s (docs/benchmarks.md, "One indexing thread", session 21).
const IN_PLACE_ABOVE: u64 = 1;

/// The tables the log feeds, with their tags.
fn targets() -> [(TableDefinition<'static, &'static [u8], ()>, u8); 2] {
    [
        (tables::CUSTOMER_KEYS, CUSTOMER_TAG),
        (tables::LEAD_CHECK, LEAD_TAG),
    ]
}

fn head(batch: u64, tag: u8) -> [u8; HEAD] {
    let mut h = [0u8; HEAD];
    h[..8].copy_from_slice(&batch.to_be_bytes());
    h[8] = tag;
    h
}

/// `settings` key of a merge into a table in place: the last key inserted (hex).
fn cursor_key(table: &str) -> String {
    format!("import_key_log/merged/{table}")
}

fn copy_name(table: &str) -> String {
    format!("{table}{SUFFIX}")
}

/// 64-bit digest of a key prefix (the dup index's entries are verified against the log, so a
/// collision costs a lookup, never a wrong answer).
fn digest(prefix: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    prefix.hash(&mut h);
    h.finish()
}

/// Buckets of the dup index: the digest's top bits choose one.
const BUCKET_BITS: u32 = 16;
/// Bits of the batch's rank in an entry; the entry's other bits are the digest's 16 bits after
/// the bucket's.
const BATCH_BITS: u32 = 16;
const BATCH_MASK: u32 = (1 << BATCH_BITS) - 1;

/// This import's phone and ID-number key prefixes: for each, the batches that logged it.
/// 4 bytes per key (a million customers with a phone and an ID number: ~8 MB plus the
/// buckets' slack): the digest's bits 16..32 and the batch's rank in the import. 32 bits of
/// digest send about one lookup in 2,000 to a batch that does not hold the prefix, a read of
/// the log that finds nothing.
struct Found {
    buckets: Vec<Vec<u32>>,
}

impl Found {
    fn new() -> Found {
        Found {
            buckets: vec![Vec::new(); 1 << BUCKET_BITS],
        }
    }

    /// The prefix's bucket, and its digest's bits after the bucket's, as the high bits of an
    /// entry.
    fn split(prefix: &[u8]) -> (usize, u32) {
        let d = digest(prefix);
        let bucket = (d >> (64 - BUCKET_BITS)) as usize;
        let next = (d >> (64 - BUCKET_BITS - (32 - BATCH_BITS))) as u32;
        (bucket, next << BATCH_BITS)
    }

    fn add(&mut self, prefix: &[u8], rank: u64) {
        let (bucket, high) = Found::split(prefix);
        let entry = high | (rank as u32 & BATCH_MASK);
        if let Some(b) = self.buckets.get_mut(bucket)
            && !b.contains(&entry)
        {
            if b.len() == b.capacity() {
                b.reserve_exact(b.len() / 2 + 4);
            }
            b.push(entry);
        }
    }

    /// The batches (low [`BATCH_BITS`] of their rank in the import) that may hold `prefix`.
    fn batches(&self, prefix: &[u8]) -> impl Iterator<Item = u64> + '_ {
        let (bucket, high) = Found::split(prefix);
        self.buckets
            .get(bucket)
            .into_iter()
            .flatten()
            .filter(move |e| *e & !BATCH_MASK == high)
            .map(|e| u64::from(e & BATCH_MASK))
    }
}

/// A running import's use of the log: the batch being written and this import's phone and
/// ID-number key prefixes (for its duplicate check). Kept by the thread that writes batches.
pub struct ImportLog {
    /// Number of this import's first batch (one past the log's last, if any).
    first: u64,
    /// Number of the batch being written.
    batch: u64,
    /// Batch numbers are taken from here by [`ImportLog::begin_batch`].
    next: u64,
    found: Found,
    /// Keys logged by this import.
    rows: u64,
}

impl ImportLog {
    /// Starts logging for an import. The store must be this process's alone until the log is
    /// merged (`zhudai import` with the server stopped): another writer would not see the
    /// logged keys.
    pub fn start(store: &Store) -> Result<ImportLog> {
        let next = store.read(|tx| {
            let log = tx.open_table(tables::IMPORT_KEY_LOG)?;
            let Some((k, _)) = log.last()? else {
                return Ok(0);
            };
            let b = <[u8; 8]>::try_from(k.value().get(..8).unwrap_or_default()).map_err(|_| {
                super::Error::Corrupt {
                    table: "import_key_log",
                    message: format!("a row of {} bytes", k.value().len()),
                }
            })?;
            Ok::<_, super::Error>(u64::from_be_bytes(b).saturating_add(1))
        })?;
        Ok(ImportLog {
            first: next,
            batch: next,
            next,
            found: Found::new(),
            rows: 0,
        })
    }

    /// Call before each batch's write transaction: its keys are logged under a new number.
    pub fn begin_batch(&mut self) {
        self.batch = self.next;
        self.next += 1;
    }

    /// Keys logged by this import so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Logs a batch's customer keys and lead-check keys (each list sorted here) in `tx`, and
    /// remembers its phone and ID-number key prefixes (`prefix_len(key)`: the length of a
    /// key's prefix before the id, for `p` and `i` keys; `None` for others).
    pub(super) fn append(
        &mut self,
        tx: &WriteTransaction,
        mut customer_keys: Vec<Vec<u8>>,
        mut lead_keys: Vec<Vec<u8>>,
        prefix_len: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<()> {
        customer_keys.sort_unstable();
        lead_keys.sort_unstable();
        let mut log = tx.open_table(tables::IMPORT_KEY_LOG)?;
        let mut row = Vec::with_capacity(64);
        for (tag, keys) in [(CUSTOMER_TAG, &customer_keys), (LEAD_TAG, &lead_keys)] {
            for k in keys {
                row.clear();
                row.extend_from_slice(&head(self.batch, tag));
                row.extend_from_slice(k);
                log.insert(row.as_slice(), ())?;
                if tag == CUSTOMER_TAG
                    && let Some(n) = prefix_len(k)
                {
                    self.found.add(&k[..n], self.batch - self.first);
                }
            }
        }
        self.rows += (customer_keys.len() + lead_keys.len()) as u64;
        Ok(())
    }

    /// The smallest id (its key bytes after `prefix`) of this import's customer keys under
    /// `prefix` (a `p` or `i` prefix), read from the log in `tx`.
    pub(super) fn first_id(&self, tx: &WriteTransaction, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut best: Option<Vec<u8>> = None;
        let mut batches: Vec<u64> = self.found.batches(prefix).collect();
        if batches.is_empty() {
            return Ok(None);
        }
        batches.sort_unstable();
        batches.dedup();
        let log = tx.open_table(tables::IMPORT_KEY_LOG)?;
        let mut start = Vec::with_capacity(HEAD + prefix.len());
        for low in batches {
            // The entry keeps the low bits of the batch's rank in this import: every batch
            // of this import with those bits (one unless it runs past 65,536 batches).
            let mut b = self.first + low;
            while b < self.next {
                start.clear();
                start.extend_from_slice(&head(b, CUSTOMER_TAG));
                start.extend_from_slice(prefix);
                if let Some(row) = log.range::<&[u8]>(start.as_slice()..)?.next() {
                    let (k, _) = row?;
                    if let Some(id) = k.value().strip_prefix(start.as_slice())
                        && best.as_deref().is_none_or(|b| id < b)
                    {
                        best = Some(id.to_vec());
                    }
                }
                b += 1 << BATCH_BITS;
            }
        }
        Ok(best)
    }
}

/// Rows waiting in the log (none once merged).
pub fn pending(tx: &redb::ReadTransaction) -> Result<u64> {
    Ok(tx.open_table(tables::IMPORT_KEY_LOG)?.len()?)
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    /// Log rows merged.
    pub logged: u64,
    /// Rows written into the tables or their packed copies (the tables' old rows too when a
    /// table was rebuilt).
    pub written: u64,
    /// The tables were rebuilt packed (else the keys were inserted in place).
    pub rebuilt: bool,
}

/// Merges the log into the customer keys and lead-check keys and empties it; `None` when the
/// log is empty. A table holding no more than [`IN_PLACE_ABOVE`] times the log's rows is
/// rebuilt packed (`<name>__merging`: its rows and the log's runs merged in key order, then
/// swapped in); a larger one gets the log's keys inserted in key order. Each write
/// transaction commits up to [`MERGE_BATCH`] keys with where it got to (the copy's last key,
/// or a cursor in `settings`), so an interrupted merge resumes; the tables are swapped and
/// the log emptied in the last one. The store must be this process's alone.
pub fn merge(store: &Store) -> Result<Option<Merged>> {
    let logged = store.read(pending)?;
    if logged == 0 {
        return Ok(None);
    }
    let mut written = 0u64;
    let mut rebuilt = false;
    for (def, tag) in targets() {
        loop {
            let (n, done, rebuild) =
                store.write(|tx| merge_batch(tx, def, tag, logged, MERGE_BATCH))?;
            written += n as u64;
            rebuilt |= rebuild;
            if done {
                break;
            }
        }
    }
    store.write(|tx| finish(tx))?;
    Ok(Some(Merged {
        logged,
        written,
        rebuilt,
    }))
}

/// At every open of the store, after the migrations: a log an interrupted import left is
/// merged before anything reads keys.
pub(super) fn merge_pending(store: &Store) -> Result<()> {
    if let Some(m) = merge(store)? {
        tracing::warn!(
            keys = m.logged,
            "the customer keys an interrupted import logged were merged"
        );
    }
    Ok(())
}

fn table_exists(tx: &WriteTransaction, name: &str) -> Result<bool> {
    Ok(tx.list_tables()?.any(|t| t.name() == name))
}

/// A sorted source of keys for the merge.
type Source<'a> = Box<dyn Iterator<Item = Result<Vec<u8>>> + 'a>;

/// One write transaction of [`merge`] for one table: up to `limit` keys after where the last
/// one stopped. Returns the keys written, whether the table is done, and whether it is being
/// rebuilt.
fn merge_batch(
    tx: &WriteTransaction,
    def: TableDefinition<'static, &'static [u8], ()>,
    tag: u8,
    logged: u64,
    limit: usize,
) -> Result<(usize, bool, bool)> {
    let copy = copy_name(def.name());
    let copy_def: TableDefinition<&[u8], ()> = TableDefinition::new(&copy);
    let cursor = cursor_key(def.name());
    let in_place_after = tx
        .open_table(tables::SETTINGS)?
        .get(cursor.as_str())?
        .map(|v| hex::decode(v.value()))
        .transpose()
        .map_err(|e| super::Error::Corrupt {
            table: "settings",
            message: format!("{cursor}: {e}"),
        })?;
    let rebuild = if table_exists(tx, &copy)? {
        true
    } else if in_place_after.is_some() {
        false
    } else {
        tx.open_table(def)?.len()? <= logged.saturating_mul(IN_PLACE_ABOVE)
    };
    let log = tx.open_table(tables::IMPORT_KEY_LOG)?;
    let mut target = tx.open_table(if rebuild { copy_def } else { def })?;
    let after: Option<Vec<u8>> = if rebuild {
        target.last()?.map(|(k, _)| k.value().to_vec())
    } else {
        in_place_after
    };
    // Kept open for the whole batch when rebuilding: the table's own rows are a source.
    let old = if rebuild {
        Some(tx.open_table(def)?)
    } else {
        None
    };
    let mut sources: Vec<Source<'_>> = Vec::new();
    if let Some(old) = &old {
        let rows = match &after {
            Some(a) => old.range::<&[u8]>((Bound::Excluded(a.as_slice()), Bound::Unbounded))?,
            None => old.range::<&[u8]>(..)?,
        };
        sources.push(Box::new(
            rows.map(|r| r.map(|(k, _)| k.value().to_vec()).map_err(Into::into)),
        ));
    }
    for batch in batches(&log)? {
        let h = head(batch, tag);
        let end = head(batch, tag + 1);
        let start = match &after {
            Some(a) => {
                let mut s = h.to_vec();
                s.extend_from_slice(a);
                Bound::Excluded(s)
            }
            None => Bound::Included(h.to_vec()),
        };
        let rows = log.range::<&[u8]>((
            start.as_ref().map(Vec::as_slice),
            Bound::Excluded(end.as_slice()),
        ))?;
        sources.push(Box::new(rows.map(|r| {
            r.map(|(k, _)| k.value()[HEAD..].to_vec())
                .map_err(Into::into)
        })));
    }
    let mut heap: BinaryHeap<Reverse<(Vec<u8>, usize)>> = BinaryHeap::new();
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(k) = s.next().transpose()? {
            heap.push(Reverse((k, i)));
        }
    }
    let mut n = 0;
    let mut last: Option<Vec<u8>> = None;
    while n < limit {
        let Some(Reverse((k, i))) = heap.pop() else {
            break;
        };
        if let Some(next) = sources.get_mut(i).and_then(|s| s.next()).transpose()? {
            heap.push(Reverse((next, i)));
        }
        if last.as_ref() == Some(&k) {
            continue;
        }
        target.insert(k.as_slice(), ())?;
        n += 1;
        last = Some(k);
    }
    let done = heap.is_empty();
    drop(sources);
    drop(target);
    if !rebuild && let Some(last) = &last {
        tx.open_table(tables::SETTINGS)?
            .insert(cursor.as_str(), hex::encode(last).as_str())?;
    }
    Ok((n, done, rebuild))
}

/// The batch numbers in the log, in order (one seek per batch).
fn batches(log: &impl ReadableTable<&'static [u8], ()>) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut from = [0u8; 8];
    loop {
        let Some(row) = log.range::<&[u8]>(&from[..]..)?.next() else {
            break;
        };
        let (k, _) = row?;
        let k = k.value();
        if k.len() < HEAD {
            return Err(super::Error::Corrupt {
                table: "import_key_log",
                message: format!("a row of {} bytes", k.len()),
            });
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&k[..8]);
        let batch = u64::from_be_bytes(b);
        out.push(batch);
        match batch.checked_add(1) {
            Some(next) => from = next.to_be_bytes(),
            None => break,
        }
    }
    Ok(out)
}

/// The last transaction of a merge: each rebuilt table replaced by its copy, the in-place
/// cursors removed, the log emptied.
fn finish(tx: &WriteTransaction) -> Result<()> {
    for (def, _) in targets() {
        let copy = copy_name(def.name());
        if table_exists(tx, &copy)? {
            tx.delete_table(def)?;
            tx.rename_table(TableDefinition::<&[u8], ()>::new(&copy), def)?;
        }
        tx.open_table(tables::SETTINGS)?
            .remove(cursor_key(def.name()).as_str())?;
    }
    tx.delete_table(tables::IMPORT_KEY_LOG)?;
    tx.open_table(tables::IMPORT_KEY_LOG)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;

    type Keys = Vec<Vec<u8>>;

    /// A phone-like customer key: `p`, a 128-bit part, a 16-byte id.
    fn key(x: &mut u64, id: u64) -> Vec<u8> {
        let mut k = vec![b'p', 1];
        for _ in 0..2 {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            k.extend(x.to_be_bytes());
        }
        k.extend(0u64.to_be_bytes());
        k.extend(id.to_be_bytes());
        k
    }

    fn prefix_len(k: &[u8]) -> Option<usize> {
        (k.first() == Some(&b'p')).then_some(18)
    }

    fn rows(store: &Store, def: TableDefinition<&[u8], ()>) -> Keys {
        store
            .read(|tx| {
                let t = tx.open_table(def)?;
                let rows = t
                    .iter()?
                    .map(|r| r.map(|(k, _)| k.value().to_vec()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok::<_, super::super::Error>(rows)
            })
            .unwrap()
    }

    fn names(store: &Store) -> Vec<String> {
        store
            .read(|tx| {
                Ok::<_, super::super::Error>(
                    tx.list_tables()?.map(|t| t.name().to_string()).collect(),
                )
            })
            .unwrap()
    }

    /// Fills a store with `before` keys in each table, then logs 7 batches of keys as an
    /// import does; returns the store and what each table must hold once merged.
    fn logged(dir: &std::path::Path, before: usize) -> (Store, ImportLog, Keys, Keys) {
        let store = Store::open(&dir.join("s.redb")).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut id = 0u64;
        let mut next = |x: &mut u64| {
            id += 1;
            key(x, id)
        };
        let (mut customer, mut lead): (Keys, Keys) = (Vec::new(), Vec::new());
        let old_c: Keys = (0..before).map(|_| next(&mut x)).collect();
        let old_l: Keys = (0..before).map(|_| next(&mut x)[1..].to_vec()).collect();
        store
            .write(|tx| {
                let mut c = tx.open_table(tables::CUSTOMER_KEYS)?;
                for k in &old_c {
                    c.insert(k.as_slice(), ())?;
                }
                let mut l = tx.open_table(tables::LEAD_CHECK)?;
                for k in &old_l {
                    l.insert(k.as_slice(), ())?;
                }
                Ok::<_, super::super::Error>(())
            })
            .unwrap();
        customer.extend(old_c);
        lead.extend(old_l);
        let mut log = ImportLog::start(&store).unwrap();
        for _ in 0..7 {
            log.begin_batch();
            let c: Keys = (0..300).map(|_| next(&mut x)).collect();
            let l: Keys = (0..100).map(|_| next(&mut x)[1..].to_vec()).collect();
            customer.extend(c.iter().cloned());
            lead.extend(l.iter().cloned());
            store.write(|tx| log.append(tx, c, l, prefix_len)).unwrap();
        }
        customer.sort();
        lead.sort();
        assert_eq!(log.rows(), 7 * 400);
        (store, log, customer, lead)
    }

    /// The import's own keys are found under their prefix (the smallest id when two batches
    /// logged one prefix), other prefixes are not.
    #[test]
    fn an_import_finds_the_keys_it_logged() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut log, customer, _) = logged(dir.path(), 0);
        // A second customer with the first logged key's prefix, a larger id, a later batch;
        // and one with a smaller id than the first's.
        let first = customer[0].clone();
        let mut later = first.clone();
        later[18..].copy_from_slice(&[0xff; 16]);
        let mut smaller = first.clone();
        smaller[18..].copy_from_slice(&[0; 16]);
        log.begin_batch();
        store
            .write(|tx| log.append(tx, vec![later.clone()], vec![], prefix_len))
            .unwrap();
        let find =
            |log: &ImportLog, prefix: &[u8]| store.write(|tx| log.first_id(tx, prefix)).unwrap();
        assert_eq!(find(&log, &first[..18]), Some(first[18..].to_vec()));
        let other = customer[5].clone();
        assert_eq!(find(&log, &other[..18]), Some(other[18..].to_vec()));
        let mut absent = first[..18].to_vec();
        absent[17] ^= 1;
        assert_eq!(find(&log, &absent), None);
        log.begin_batch();
        store
            .write(|tx| log.append(tx, vec![smaller.clone()], vec![], prefix_len))
            .unwrap();
        assert_eq!(find(&log, &first[..18]), Some(smaller[18..].to_vec()));
    }

    /// A small table is rebuilt packed from its rows and the log's runs, a large one gets the
    /// log's keys inserted in place; either way every key lands, the log is emptied and no
    /// copy or cursor is left — also when the merge is interrupted after a few transactions
    /// and the store opened again (which merges before anything reads keys).
    #[test]
    fn a_merged_log_leaves_the_keys_an_insert_would_interrupted_or_not() {
        for (before, rebuilt) in [(100, true), (20_000, false)] {
            for interrupted in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let (store, _, customer, lead) = logged(dir.path(), before);
                let logged = store.read(pending).unwrap();
                assert_eq!(logged, 7 * 400);
                let store = if interrupted {
                    for _ in 0..2 {
                        let (n, done, rebuild) = store
                            .write(|tx| {
                                merge_batch(tx, tables::CUSTOMER_KEYS, CUSTOMER_TAG, logged, 500)
                            })
                            .unwrap();
                        assert_eq!((n, done, rebuild), (500, false, rebuilt));
                    }
                    assert_eq!(store.read(pending).unwrap(), logged, "not yet emptied");
                    drop(store);
                    let store = Store::open(&dir.path().join("s.redb")).unwrap();
                    assert_eq!(store.read(pending).unwrap(), 0);
                    assert_eq!(merge(&store).unwrap(), None);
                    store
                } else {
                    let m = merge(&store).unwrap().unwrap();
                    assert_eq!(m.logged, logged);
                    assert_eq!(m.rebuilt, rebuilt);
                    let expected = if rebuilt {
                        (customer.len() + lead.len()) as u64
                    } else {
                        logged
                    };
                    assert_eq!(m.written, expected);
                    store
                };
                assert_eq!(rows(&store, tables::CUSTOMER_KEYS), customer);
                assert_eq!(rows(&store, tables::LEAD_CHECK), lead);
                assert_eq!(store.read(pending).unwrap(), 0);
                assert!(
                    !names(&store).iter().any(|n| n.ends_with(SUFFIX)),
                    "{:?}",
                    names(&store)
                );
                for (def, _) in targets() {
                    assert_eq!(store.setting(&cursor_key(def.name())).unwrap(), None);
                }
            }
        }
    }
}
