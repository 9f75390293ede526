//! API tokens for integrators, stored by id with an index from the token's SHA-256.

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Result, codec, tables};

const T: &str = "api_tokens";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    /// The user whose identity and scope the token carries.
    pub user_id: String,
    pub name: String,
    /// SHA-256 of the token; the token itself is shown once and never stored.
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub fn put(tx: &super::WriteTransaction, t: &ApiToken) -> Result<()> {
    tx.note_auth_change();
    tx.open_table(tables::API_TOKENS)?
        .insert(t.id.as_str(), codec::encode(t)?.as_slice())?;
    tx.open_table(tables::API_TOKEN_HASHES)?
        .insert(t.token_hash.as_str(), t.id.as_str())?;
    Ok(())
}

pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<ApiToken>> {
    super::org::decode_one(&tx.open_table(tables::API_TOKENS)?, id, T)
}

pub fn by_hash(tx: &ReadTransaction, hash: &str) -> Result<Option<ApiToken>> {
    let index = tx.open_table(tables::API_TOKEN_HASHES)?;
    let Some(id) = index.get(hash)?.map(|v| v.value().to_string()) else {
        return Ok(None);
    };
    let table = tx.open_table(tables::API_TOKENS)?;
    let v = table.get(id.as_str())?;
    v.map(|v| codec::decode(T, v.value())).transpose()
}

/// Revokes every live token of a user (disabled or departed); how many.
pub fn revoke_for_user(
    tx: &super::WriteTransaction,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    tx.note_auth_change();
    let live: Vec<ApiToken> = {
        let table = tx.open_table(tables::API_TOKENS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            let t: ApiToken = codec::decode(T, v.value())?;
            if t.user_id == user_id && t.revoked_at.is_none() {
                out.push(t);
            }
        }
        out
    };
    for mut t in live.iter().cloned() {
        t.revoked_at = Some(now);
        put(tx, &t)?;
    }
    Ok(live.len() as u64)
}

pub fn all(tx: &ReadTransaction) -> Result<Vec<ApiToken>> {
    let table = tx.open_table(tables::API_TOKENS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(codec::decode(T, v.value())?);
    }
    Ok(out)
}
