//! Login sessions. The key is the SHA-256 of the cookie token, so a copy of the store does not
//! hand out live sessions.

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Result, codec, tables};

const T: &str = "sessions";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    #[serde(default)]
    pub source: String,
}

pub fn get(tx: &ReadTransaction, token_hash: &str) -> Result<Option<Session>> {
    super::org::decode_one(&tx.open_table(tables::SESSIONS)?, token_hash, T)
}

pub fn get_w(tx: &WriteTransaction, token_hash: &str) -> Result<Option<Session>> {
    super::org::decode_one(&tx.open_table(tables::SESSIONS)?, token_hash, T)
}

pub fn put(tx: &super::WriteTransaction, token_hash: &str, session: &Session) -> Result<()> {
    tx.note_auth_change();
    tx.open_table(tables::SESSIONS)?
        .insert(token_hash, codec::encode(session)?.as_slice())?;
    Ok(())
}

pub fn delete(tx: &super::WriteTransaction, token_hash: &str) -> Result<()> {
    tx.note_auth_change();
    tx.open_table(tables::SESSIONS)?.remove(token_hash)?;
    Ok(())
}

/// Ends every session of one user (password change, disable); returns how many.
pub fn delete_for_user(tx: &super::WriteTransaction, user_id: &str) -> Result<usize> {
    tx.note_auth_change();
    let mut table = tx.open_table(tables::SESSIONS)?;
    let mut doomed = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let s: Session = codec::decode(T, v.value())?;
        if s.user_id == user_id {
            doomed.push(k.value().to_string());
        }
    }
    for k in &doomed {
        table.remove(k.as_str())?;
    }
    Ok(doomed.len())
}

/// Sessions still valid at these cutoffs (what `purge_expired` would keep).
pub fn count_active(
    tx: &ReadTransaction,
    idle_cutoff: DateTime<Utc>,
    abs_cutoff: DateTime<Utc>,
) -> Result<u64> {
    let table = tx.open_table(tables::SESSIONS)?;
    let mut n = 0;
    for row in table.iter()? {
        let (_, v) = row?;
        let s: Session = codec::decode(T, v.value())?;
        if s.last_seen_at >= idle_cutoff && s.created_at >= abs_cutoff {
            n += 1;
        }
    }
    Ok(n)
}

/// Removes sessions whose last activity is before `idle_cutoff` or creation before `abs_cutoff`.
pub fn purge_expired(
    tx: &super::WriteTransaction,
    idle_cutoff: DateTime<Utc>,
    abs_cutoff: DateTime<Utc>,
) -> Result<usize> {
    tx.note_auth_change();
    let mut table = tx.open_table(tables::SESSIONS)?;
    let mut doomed = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let s: Session = codec::decode(T, v.value())?;
        if s.last_seen_at < idle_cutoff || s.created_at < abs_cutoff {
            doomed.push(k.value().to_string());
        }
    }
    for k in &doomed {
        table.remove(k.as_str())?;
    }
    Ok(doomed.len())
}
