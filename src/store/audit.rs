//! The audit log: append-only and hash-chained. Each entry carries the SHA-256 of the previous
//! entry's hash and its own content, so editing, deleting or reordering any entry breaks the
//! chain at that point, which `zhudai doctor` reports. Entries are written in the same
//! transaction as the change they record. Nothing in zhudai deletes them.

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Result, codec, tables};

const T: &str = "audit";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The user's id, or `None` for anonymous callers (failed logins) and the system.
    pub actor_id: Option<String>,
    /// Username as typed or known, or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `auth.login`, `auth.login_failed`, `setup.completed`.
    pub action: String,
    pub target: Option<String>,
    /// Action-specific facts (never plaintext personal data).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Source address of the request, or `cli`.
    pub source: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What a use case records; sequence, time and hashes are filled in by [`append`].
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    pub source: String,
}

fn digest(entry: &AuditEntry) -> String {
    let mut unsigned = entry.clone();
    unsigned.hash = String::new();
    let mut h = Sha256::new();
    h.update(entry.prev_hash.as_bytes());
    // serde_json writes struct fields in declaration order and maps sorted: stable bytes.
    h.update(serde_json::to_vec(&unsigned).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Appends one entry at the end of the chain; returns its sequence number.
pub fn append(tx: &WriteTransaction, at: DateTime<Utc>, new: NewAudit) -> Result<u64> {
    let mut table = tx.open_table(tables::AUDIT)?;
    let (seq, prev_hash) = match table.last()? {
        Some((k, v)) => {
            let last: AuditEntry = codec::decode(T, v.value())?;
            (k.value() + 1, last.hash)
        }
        None => (1, GENESIS.to_string()),
    };
    let mut entry = AuditEntry {
        seq,
        at,
        actor_id: new.actor_id,
        actor: new.actor,
        action: new.action.to_string(),
        target: new.target,
        detail: new.detail,
        source: new.source,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = digest(&entry);
    table.insert(seq, codec::encode(&entry).as_slice())?;
    Ok(seq)
}

/// Newest first, optionally only one action or one actor; `before` pages backwards.
pub fn list(
    tx: &ReadTransaction,
    action: Option<&str>,
    actor: Option<&str>,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<AuditEntry>, u64)> {
    let table = tx.open_table(tables::AUDIT)?;
    let upper = before.unwrap_or(u64::MAX);
    let matches =
        |e: &AuditEntry| action.is_none_or(|a| e.action == a) && actor.is_none_or(|a| e.actor == a);
    let mut out = Vec::new();
    if action.is_none() && actor.is_none() {
        for row in table.range(..upper)?.rev().take(limit) {
            out.push(codec::decode(T, row?.1.value())?);
        }
        return Ok((out, table.len()?));
    }
    // Filtered: `total` counts the matching entries of the whole log, so the walk goes on
    // past the page.
    let mut total = 0;
    for row in table.iter()?.rev() {
        let (k, v) = row?;
        let e: AuditEntry = codec::decode(T, v.value())?;
        if !matches(&e) {
            continue;
        }
        total += 1;
        if k.value() < upper && out.len() < limit {
            out.push(e);
        }
    }
    Ok((out, total))
}

/// Result of walking the whole chain.
#[derive(Debug, PartialEq)]
pub struct ChainCheck {
    pub entries: u64,
    /// The first entry that does not verify, and why.
    pub first_broken: Option<(u64, String)>,
}

pub fn verify(tx: &ReadTransaction) -> Result<ChainCheck> {
    let table = tx.open_table(tables::AUDIT)?;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    for (expected_seq, row) in (1u64..).zip(table.iter()?) {
        let (k, v) = row?;
        let seq = k.value();
        entries += 1;
        let broken = |why: String| {
            Ok(ChainCheck {
                entries,
                first_broken: Some((seq, why)),
            })
        };
        if seq != expected_seq {
            return broken(format!("entry {expected_seq} is missing"));
        }
        let e: AuditEntry = match codec::decode(T, v.value()) {
            Ok(e) => e,
            Err(err) => return broken(format!("unreadable: {err}")),
        };
        if e.seq != seq {
            return broken("sequence number was changed".into());
        }
        if e.prev_hash != prev {
            return broken("does not follow the previous entry".into());
        }
        if digest(&e) != e.hash {
            return broken("content does not match its hash".into());
        }
        prev = e.hash;
    }
    Ok(ChainCheck {
        entries,
        first_broken: None,
    })
}
