//! Public pools (table `pools`, few rows: read whole) and text-keyed counters (table
//! `counters`): daily claims `claim/<user>/<pool>/<YYYY-MM-DD>`, assignment cursors
//! `assign/<scope>`, recall warnings `recall_warn/<owner>/<customer>` (day number).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::org::{decode_all, decode_one};
use super::{Result, codec, tables};
use crate::domain::pool::Pool;

const T: &str = "pools";

pub fn all(tx: &ReadTransaction) -> Result<Vec<Pool>> {
    decode_all(&tx.open_table(tables::POOLS)?, T)
}

pub fn all_w(tx: &WriteTransaction) -> Result<Vec<Pool>> {
    decode_all(&tx.open_table(tables::POOLS)?, T)
}

pub fn get(tx: &ReadTransaction, id: &str) -> Result<Option<Pool>> {
    decode_one(&tx.open_table(tables::POOLS)?, id, T)
}

pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<Pool>> {
    decode_one(&tx.open_table(tables::POOLS)?, id, T)
}

pub fn put(tx: &WriteTransaction, p: &Pool) -> Result<()> {
    tx.open_table(tables::POOLS)?
        .insert(p.id.as_str(), codec::encode(p)?.as_slice())?;
    Ok(())
}

/// Name of the pool every new installation starts with.
pub const DEFAULT_POOL_NAME: &str = "公司公海";

/// Creates the firm-wide pool with default settings when there is no pool at all (a new
/// store, or an upgrade of one that never had a pool: recall needs somewhere to put
/// customers). Returns whether it created one.
pub fn ensure_default(tx: &WriteTransaction, now: chrono::DateTime<chrono::Utc>) -> Result<bool> {
    if !all_w(tx)?.is_empty() {
        return Ok(false);
    }
    put(
        tx,
        &Pool {
            id: ulid::Ulid::generate().to_string(),
            name: DEFAULT_POOL_NAME.to_string(),
            department_id: None,
            members: Vec::new(),
            admins: Vec::new(),
            settings: Default::default(),
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(true)
}

pub fn delete(tx: &WriteTransaction, id: &str) -> Result<bool> {
    Ok(tx.open_table(tables::POOLS)?.remove(id)?.is_some())
}

pub fn counter(tx: &ReadTransaction, key: &str) -> Result<u64> {
    Ok(tx
        .open_table(tables::COUNTERS)?
        .get(key)?
        .map(|v| v.value())
        .unwrap_or(0))
}

pub fn counter_w(tx: &WriteTransaction, key: &str) -> Result<u64> {
    Ok(tx
        .open_table(tables::COUNTERS)?
        .get(key)?
        .map(|v| v.value())
        .unwrap_or(0))
}

pub fn set_counter(tx: &WriteTransaction, key: &str, value: u64) -> Result<()> {
    tx.open_table(tables::COUNTERS)?.insert(key, value)?;
    Ok(())
}

pub fn remove_counter(tx: &WriteTransaction, key: &str) -> Result<()> {
    tx.open_table(tables::COUNTERS)?.remove(key)?;
    Ok(())
}

/// Adds one to a counter; returns the value after adding.
pub fn bump(tx: &WriteTransaction, key: &str) -> Result<u64> {
    let n = counter_w(tx, key)? + 1;
    set_counter(tx, key, n)?;
    Ok(n)
}

/// A recall sweep batch's counters in one pass: removes the keys of `remove`, adds each count
/// of `add`, and sets each key of `daily` to `today` unless it holds it already; returns, per
/// key of `daily`, whether it was set. The same as one [`remove_counter`], [`bump`] and
/// [`set_counter`] after the other for distinct keys.
pub fn sweep_counters(
    tx: &WriteTransaction,
    remove: &[String],
    add: &std::collections::BTreeMap<String, u64>,
    daily: &[String],
    today: u64,
) -> Result<Vec<bool>> {
    let mut t = tx.open_table(tables::COUNTERS)?;
    let mut sorted: Vec<&str> = remove.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    for key in sorted {
        t.remove(key)?;
    }
    for (key, n) in add {
        let was = t.get(key.as_str())?.map_or(0, |v| v.value());
        t.insert(key.as_str(), was + n)?;
    }
    let mut set = Vec::with_capacity(daily.len());
    for key in daily {
        let fresh = t.get(key.as_str())?.map_or(0, |v| v.value()) != today;
        if fresh {
            t.insert(key.as_str(), today)?;
        }
        set.push(fresh);
    }
    Ok(set)
}

/// Counters with keys from `start` (inclusive) to `end` (exclusive), in key order.
pub fn counters_in_range(
    tx: &ReadTransaction,
    start: &str,
    end: &str,
) -> Result<Vec<(String, u64)>> {
    let t = tx.open_table(tables::COUNTERS)?;
    let mut out = Vec::new();
    for row in t.range(start..end)? {
        let (k, v) = row?;
        out.push((k.value().to_string(), v.value()));
    }
    Ok(out)
}

/// Visits the counters `start..end` in key order without copying their keys (the reports'
/// hot loops: a sum over days reads many keys).
pub fn visit_counters(
    tx: &ReadTransaction,
    start: &str,
    end: &str,
    mut visit: impl FnMut(&str, u64),
) -> Result<()> {
    let t = tx.open_table(tables::COUNTERS)?;
    for row in t.range(start..end)? {
        let (k, v) = row?;
        visit(k.value(), v.value());
    }
    Ok(())
}

/// Counters under a key prefix, in key order.
pub fn counters_with_prefix(tx: &ReadTransaction, prefix: &str) -> Result<Vec<(String, u64)>> {
    let t = tx.open_table(tables::COUNTERS)?;
    let mut out = Vec::new();
    for row in t.range(prefix..)? {
        let (k, v) = row?;
        if !k.value().starts_with(prefix) {
            break;
        }
        out.push((k.value().to_string(), v.value()));
    }
    Ok(out)
}

/// Counters under a key prefix in a write transaction, in key order.
pub fn counters_with_prefix_w(tx: &WriteTransaction, prefix: &str) -> Result<Vec<(String, u64)>> {
    let t = tx.open_table(tables::COUNTERS)?;
    let mut out = Vec::new();
    for row in t.range(prefix..)? {
        let (k, v) = row?;
        if !k.value().starts_with(prefix) {
            break;
        }
        out.push((k.value().to_string(), v.value()));
    }
    Ok(out)
}
