//! New-lead notices (新客户提醒): when a customer is given to a user — by hand, by a rule, by an
//! import, by a pool's assignment or a departure — `customers::put` appends a notice to that
//! user's log in the same transaction as the record. The log is `<user id>/<seq>` keys (seq
//! from a per-user counter), so "what is new since my cursor" is one range read of the newest
//! keys, never a scan of customers.

use redb::{ReadTransaction, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Result, codec, pools, tables};

/// Notices kept per user: older ones are removed as new ones arrive.
pub const KEPT: u64 = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub seq: u64,
    /// `assigned`: the customer became the user's.
    pub kind: String,
    pub customer_id: String,
    /// Who gave it (`None`: the system — a recall sweep, a rule run without a user).
    pub by: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

fn seq_key(user: &str) -> String {
    format!("notice/{user}")
}

fn key(user: &str, seq: u64) -> String {
    format!("{user}/{seq:016x}")
}

/// Appends a notice to `user`'s log (and drops the one [`KEPT`] places back).
pub fn push(
    tx: &WriteTransaction,
    user: &str,
    kind: &str,
    customer_id: &str,
    by: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let seq = pools::bump(tx, &seq_key(user))?;
    let notice = Notice {
        seq,
        kind: kind.to_string(),
        customer_id: customer_id.to_string(),
        by: by.map(str::to_string),
        at,
    };
    let mut t = tx.open_table(tables::NOTICES)?;
    t.insert(key(user, seq).as_str(), codec::encode(&notice)?.as_slice())?;
    if seq > KEPT {
        t.remove(key(user, seq - KEPT).as_str())?;
    }
    Ok(seq)
}

/// One notice for [`push_many`]: (user, kind, customer id, by, at).
pub type NewNotice<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    chrono::DateTime<chrono::Utc>,
);

/// [`push`] for many notices at once (an import batch): per user, the counter read and written
/// once, only the notices that survive the [`KEPT`] window inserted, and the old ones it pushes
/// out removed. Ends exactly where one [`push`] after the other (in the order given) would.
pub fn push_many(tx: &WriteTransaction, items: &[NewNotice<'_>]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut per_user: std::collections::BTreeMap<&str, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        per_user.entry(item.0).or_default().push(i);
    }
    let mut inserts: Vec<(String, Vec<u8>)> = Vec::with_capacity(items.len());
    let mut removes: Vec<String> = Vec::new();
    for (user, idx) in &per_user {
        let first = pools::counter_w(tx, &seq_key(user))?;
        let last = first + idx.len() as u64;
        pools::set_counter(tx, &seq_key(user), last)?;
        // Pushed one by one, the notice numbered `s` removes `s - KEPT`: the old ones up to
        // `last - KEPT` go, and of the new ones only those above it are left.
        let floor = last.saturating_sub(KEPT);
        for s in (first + 1).saturating_sub(KEPT).max(1)..=floor.min(first) {
            removes.push(key(user, s));
        }
        for (n, &i) in idx.iter().enumerate() {
            let seq = first + 1 + n as u64;
            if seq <= floor {
                continue;
            }
            let (_, kind, customer_id, by, at) = items[i];
            let notice = Notice {
                seq,
                kind: kind.to_string(),
                customer_id: customer_id.to_string(),
                by: by.map(str::to_string),
                at,
            };
            inserts.push((key(user, seq), codec::encode(&notice)?));
        }
    }
    removes.sort_unstable();
    inserts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut t = tx.open_table(tables::NOTICES)?;
    for k in &removes {
        t.remove(k.as_str())?;
    }
    for (k, v) in &inserts {
        t.insert(k.as_str(), v.as_slice())?;
    }
    Ok(())
}

/// The user's latest seq (0: none yet).
pub fn latest(tx: &ReadTransaction, user: &str) -> Result<u64> {
    pools::counter(tx, &seq_key(user))
}

/// Up to `limit` notices after `after`, oldest first (the newest `limit` when more are waiting).
pub fn after(tx: &ReadTransaction, user: &str, after: u64, limit: usize) -> Result<Vec<Notice>> {
    let t = tx.open_table(tables::NOTICES)?;
    let from = key(user, after.saturating_add(1));
    let to = key(user, u64::MAX);
    let mut out = Vec::new();
    for row in t.range(from.as_str()..=to.as_str())?.rev() {
        let (_, v) = row?;
        out.push(codec::decode::<Notice>("notices", v.value())?);
        if out.len() >= limit {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_users_log_is_read_after_a_cursor_keeps_the_newest_and_stays_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("zhudai.redb")).unwrap();
        let at = chrono::DateTime::UNIX_EPOCH;
        store
            .write(|tx| -> Result<()> {
                for i in 0..KEPT + 5 {
                    push(tx, "u1", "assigned", &format!("c{i}"), Some("boss"), at)?;
                }
                // A user whose id starts with the other's: no key of one is in the other's range.
                push(tx, "u10", "assigned", "other", None, at)?;
                Ok(())
            })
            .unwrap();
        store
            .read(|tx| -> Result<()> {
                assert_eq!(latest(tx, "u1")?, KEPT + 5);
                let newest = after(tx, "u1", 0, 20)?;
                let seqs: Vec<u64> = newest.iter().map(|n| n.seq).collect();
                assert_eq!(seqs, ((KEPT - 14)..=(KEPT + 5)).collect::<Vec<_>>());
                assert_eq!(newest[19].customer_id, format!("c{}", KEPT + 4));
                let next = after(tx, "u1", KEPT + 3, 20)?;
                assert_eq!(
                    next.iter().map(|n| n.seq).collect::<Vec<_>>(),
                    [KEPT + 4, KEPT + 5]
                );
                assert!(after(tx, "u1", KEPT + 5, 20)?.is_empty());
                // Only the newest KEPT are kept.
                let all = after(tx, "u1", 0, 10_000)?;
                assert_eq!(all.len() as u64, KEPT);
                assert_eq!(all[0].seq, 6);
                let theirs = after(tx, "u10", 0, 20)?;
                assert_eq!(theirs.len(), 1);
                assert_eq!(
                    (theirs[0].customer_id.as_str(), theirs[0].by.as_deref()),
                    ("other", None)
                );
                Ok(())
            })
            .unwrap();
    }
}
