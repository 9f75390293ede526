//! The search outbox: every write of a searchable record appends the record's id here in the
//! same transaction, so the index can always catch up with the store after a crash. Sequence
//! numbers come from a counter that never goes back, even when the table has been drained.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Result, tables};

const SEQ_KEY: &str = "search/outbox_seq";

/// Appends `customer_id` to the outbox; returns its sequence number.
pub fn enqueue(tx: &WriteTransaction, customer_id: &str) -> Result<u64> {
    let mut counters = tx.open_table(tables::COUNTERS)?;
    let seq = counters.get(SEQ_KEY)?.map(|v| v.value()).unwrap_or(0) + 1;
    counters.insert(SEQ_KEY, seq)?;
    tx.open_table(tables::SEARCH_OUTBOX)?
        .insert(seq, customer_id)?;
    Ok(seq)
}

/// [`enqueue`] for many ids in one pass: the sequence counter read and written once, the
/// entries appended in the order given, with the numbers one [`enqueue`] after the other
/// would have handed out.
pub fn enqueue_many(tx: &WriteTransaction, customer_ids: &[&str]) -> Result<()> {
    if customer_ids.is_empty() {
        return Ok(());
    }
    let mut counters = tx.open_table(tables::COUNTERS)?;
    let mut seq = counters.get(SEQ_KEY)?.map(|v| v.value()).unwrap_or(0);
    let mut outbox = tx.open_table(tables::SEARCH_OUTBOX)?;
    for id in customer_ids {
        seq += 1;
        outbox.insert(seq, *id)?;
    }
    counters.insert(SEQ_KEY, seq)?;
    Ok(())
}

/// Re-indexes every customer owned by one of `owners` (their department changed, and the
/// index files each customer under its owner's department). Returns how many were queued.
pub fn enqueue_owned_by(tx: &WriteTransaction, owners: &[&str]) -> Result<u64> {
    let mut queued = 0;
    for owner in owners {
        for id in super::customers::ids_by_owner_w(tx, owner)? {
            enqueue(tx, &id)?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// The last sequence number handed out (0 when nothing was ever enqueued).
pub fn last_seq(tx: &ReadTransaction) -> Result<u64> {
    Ok(tx
        .open_table(tables::COUNTERS)?
        .get(SEQ_KEY)?
        .map(|v| v.value())
        .unwrap_or(0))
}

/// Up to `limit` entries after `after`, in sequence order.
pub fn pending(tx: &ReadTransaction, after: u64, limit: usize) -> Result<Vec<(u64, String)>> {
    let table = tx.open_table(tables::SEARCH_OUTBOX)?;
    let mut out = Vec::new();
    for row in table.range((after + 1)..)?.take(limit) {
        let (k, v) = row?;
        out.push((k.value(), v.value().to_string()));
    }
    Ok(out)
}

/// Removes every entry up to and including `upto` (the index has committed them).
pub fn drain(tx: &WriteTransaction, upto: u64) -> Result<u64> {
    let mut table = tx.open_table(tables::SEARCH_OUTBOX)?;
    let mut removed = 0;
    table.retain_in(..=upto, |_, _| {
        removed += 1;
        false
    })?;
    Ok(removed)
}
