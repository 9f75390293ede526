//! The pending first-run setup token (one row, hashed, with its expiry).

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Result, codec, tables};

const KEY: &str = "setup";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupToken {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

pub fn get(tx: &WriteTransaction) -> Result<Option<SetupToken>> {
    super::org::decode_one(&tx.open_table(tables::SETUP)?, KEY, "setup")
}

pub fn peek(tx: &ReadTransaction) -> Result<Option<SetupToken>> {
    super::org::decode_one(&tx.open_table(tables::SETUP)?, KEY, "setup")
}

pub fn exists(tx: &ReadTransaction) -> Result<bool> {
    Ok(tx.open_table(tables::SETUP)?.get(KEY)?.is_some())
}

pub fn put(tx: &WriteTransaction, token: &SetupToken) -> Result<()> {
    tx.open_table(tables::SETUP)?
        .insert(KEY, codec::encode(token)?.as_slice())?;
    Ok(())
}

pub fn clear(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::SETUP)?.remove(KEY)?;
    Ok(())
}
