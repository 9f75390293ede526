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
