//! Rebuilding a table into a fresh one, so its B-tree leaves are packed full.
//!
//! redb splits a full leaf in half and never merges half-empty ones: a table filled in random
//! key order (blind indexes, names) settles near 70% full, and one rewritten in place or thinned
//! by deletions keeps its half-empty leaves. But when a row's key is greater than every key of
//! the table, redb leaves the full rightmost leaf as it is and starts a new one: a table written
//! in key order is packed. So a table is copied in key order into `<name>__repacked`, the old
//! one dropped and the copy renamed to its name — in batches of write transactions, each
//! committing its rows (the caller keeps the cursor: the last key read).
//!
//! Used by the schema-36 migration (`store::v36`) and after a bulk import that at least doubled
//! the customers (`zhudai import`, the store opened by that process alone): the customer keys and
//! lead-check keys an import writes in random order shrink by about a quarter.

use std::ops::Bound;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::{Result, Store, tables};

const SUFFIX: &str = "__repacked";

fn copy_name(name: &str) -> String {
    format!("{name}{SUFFIX}")
}

/// Drops the half-built copy of table `name`, if any. Deleting goes by the name alone,
/// whatever the copy's types.
pub(super) fn drop_copy(tx: &WriteTransaction, name: &str) -> Result<()> {
    let copy = copy_name(name);
    tx.delete_table(TableDefinition::<&[u8], ()>::new(&copy))?;
    Ok(())
}

/// What a rebuild does with a row (given its key's and value's bytes).
pub(super) enum Row {
    Keep,
    Drop,
    /// Written with these value bytes instead (a record in the current format).
    Replace(Vec<u8>),
}

/// A rebuild that keeps every row as it is.
pub(super) fn keep_all(_: &[u8], _: &[u8]) -> Result<Row> {
    Ok(Row::Keep)
}

/// Copies up to `limit` rows of `def` after the key `after` (raw bytes; `None`: from the
/// start, the copy made anew) into its copy, in key order, each as `rewrite` says; when the
/// table is done, drops it and renames the copy to its name. Returns the last key read and how
/// many rows were read: fewer than `limit` means done.
pub(super) fn batch<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &WriteTransaction,
    def: TableDefinition<K, V>,
    after: Option<&[u8]>,
    limit: usize,
    rewrite: fn(&[u8], &[u8]) -> Result<Row>,
) -> Result<(Option<Vec<u8>>, usize)> {
    let name = copy_name(def.name());
    let copy_def: TableDefinition<K, V> = TableDefinition::new(&name);
    if after.is_none() {
        drop_copy(tx, def.name())?;
    }
    let mut last = None;
    let mut n = 0;
    {
        let old = tx.open_table(def)?;
        let mut copy = tx.open_table(copy_def)?;
        let rows = match after {
            Some(a) => old.range((Bound::Excluded(K::from_bytes(a)), Bound::Unbounded))?,
            None => old.range::<K::SelfType<'_>>(..)?,
        };
        for row in rows.take(limit) {
            let (k, v) = row?;
            n += 1;
            let (key, value) = (k.value(), v.value());
            let bytes = K::as_bytes(&key);
            let row = rewrite(bytes.as_ref(), V::as_bytes(&value).as_ref())?;
            match row {
                Row::Keep => {
                    copy.insert(&key, value)?;
                }
                Row::Drop => {}
                Row::Replace(new) => {
                    copy.insert(&key, V::from_bytes(&new))?;
                }
            }
            last = Some(bytes.as_ref().to_vec());
        }
    }
    if n < limit {
        tx.delete_table(def)?;
        tx.rename_table(copy_def, def)?;
    }
    Ok((last, n))
}

/// Rows per write transaction of [`rebuild_keys`].
const BATCH: usize = 50_000;

/// Rebuilds the customer keys and the lead-check keys (both written in random order by an
/// import), each in batches of write transactions. The store must be this process's alone
/// for the duration (`zhudai import` with the server stopped): a row written by someone else
/// between two batches could be missed. An interruption leaves a half-built copy beside the
/// intact table, dropped at the next start ([`drop_stray_copies`]). Returns the rows copied.
pub fn rebuild_keys(store: &Store) -> Result<u64> {
    let mut rows = 0u64;
    for def in [tables::CUSTOMER_KEYS, tables::LEAD_CHECK] {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let (last, n) = store.write(|tx| batch(tx, def, after.as_deref(), BATCH, keep_all))?;
            rows += n as u64;
            if n < BATCH {
                break;
            }
            after = last;
        }
    }
    Ok(rows)
}

/// After an import that created `created` customers: when they are at least half of all the
/// store's customers (an import into an empty or small store, where nearly every customer key
/// and lead-check key went in in random order), rebuilds those keys ([`rebuild_keys`]) and
/// returns the rows copied; otherwise leaves them (rebuilding a large table for a few rows
/// would cost more than it saves) and returns `None`. Same condition as [`rebuild_keys`]: the
/// store is this process's alone.
pub fn rebuild_keys_after_import(store: &Store, created: u64) -> Result<Option<u64>> {
    use redb::ReadableTableMetadata;
    let total = store.read(|tx| Ok::<_, super::Error>(tx.open_table(tables::CUSTOMERS)?.len()?))?;
    if created == 0 || created.saturating_mul(2) < total {
        return Ok(None);
    }
    rebuild_keys(store).map(Some)
}

/// Drops every half-built copy (`<name>__repacked`) a rebuild interrupted outside a migration
/// left (a migration's own copies are resumed by it, so this runs once the schema is
/// current), and any `<name>__merging` left beside an empty import key log (a merge resumes
/// its own copies and runs first, `keylog::merge_pending`). Returns how many were dropped.
pub(super) fn drop_stray_copies(store: &Store) -> Result<usize> {
    let stray: Vec<String> = {
        let tx = store.db.begin_read()?;
        tx.list_tables()?
            .map(|t| t.name().to_string())
            .filter(|n| n.ends_with(SUFFIX) || n.ends_with(super::keylog::SUFFIX))
            .collect()
    };
    if stray.is_empty() {
        return Ok(0);
    }
    store.write(|tx| {
        for name in &stray {
            tx.delete_table(TableDefinition::<&[u8], ()>::new(name))?;
        }
        Ok::<_, super::Error>(())
    })?;
    tracing::warn!(tables = ?stray, "half-built table copies dropped");
    Ok(stray.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;
    use redb::ReadableTableMetadata;

    fn keys(store: &Store) -> (Vec<Vec<u8>>, u64) {
        store
            .read(|tx| {
                let t = tx.open_table(tables::CUSTOMER_KEYS)?;
                let rows = t
                    .iter()?
                    .map(|r| r.map(|(k, _)| k.value().to_vec()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok::<_, super::super::Error>((rows, t.stats()?.leaf_pages()))
            })
            .unwrap()
    }

    /// Keys written in random order (as an import writes blind indexes) take fewer leaves
    /// once rebuilt, every row kept; an interrupted rebuild's copy is dropped at the next
    /// start and the table left whole.
    #[test]
    fn a_rebuilt_table_keeps_every_row_in_fewer_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        super::super::migrate::run(&store).unwrap();
        // 40,000 pseudo-random 34-byte keys, in batches of 2,000 sorted ones.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20 {
            let mut batch: Vec<Vec<u8>> = (0..2_000)
                .map(|_| {
                    let mut k = vec![b'p', 1];
                    for _ in 0..4 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        k.extend(x.to_be_bytes());
                    }
                    k
                })
                .collect();
            batch.sort();
            store
                .write(|tx| {
                    let mut t = tx.open_table(tables::CUSTOMER_KEYS)?;
                    for k in &batch {
                        t.insert(k.as_slice(), ())?;
                    }
                    Ok::<_, super::super::Error>(())
                })
                .unwrap();
        }
        let (before, leaves_before) = keys(&store);
        assert_eq!(before.len(), 40_000);

        // Interrupted after a first batch: the copy is left beside the intact table.
        store
            .write(|tx| batch(tx, tables::CUSTOMER_KEYS, None, 1_000, keep_all).map(drop))
            .unwrap();
        assert_eq!(keys(&store).0, before);
        assert_eq!(drop_stray_copies(&store).unwrap(), 1);
        assert_eq!(drop_stray_copies(&store).unwrap(), 0);

        // An import of fewer than half of the customers leaves the keys as they are.
        store
            .write(|tx| {
                let mut t = tx.open_table(tables::CUSTOMERS)?;
                for i in 0..10u32 {
                    t.insert(format!("c{i}").as_str(), &[1u8][..])?;
                }
                Ok::<_, super::super::Error>(())
            })
            .unwrap();
        assert_eq!(rebuild_keys_after_import(&store, 4).unwrap(), None);
        assert_eq!(rebuild_keys_after_import(&store, 0).unwrap(), None);
        assert_eq!(keys(&store).1, leaves_before);
        assert_eq!(rebuild_keys_after_import(&store, 5).unwrap(), Some(40_000));
        let (after, leaves_after) = keys(&store);
        assert_eq!(after, before);
        assert!(
            leaves_after * 100 <= leaves_before * 80,
            "{leaves_before} → {leaves_after} leaves"
        );
        assert_eq!(drop_stray_copies(&store).unwrap(), 0);
    }
}
