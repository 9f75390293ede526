//! The rows of the encrypted blob store (`crate::blobs` keeps the files): what each blob is,
//! its wrapped key and which records refer to it, so reads, backups and `doctor` never walk the
//! disk on a request path. A blob whose last reference goes is removed from the table in the
//! same transaction and queued in `blob_deletions`; its file is removed after the commit
//! ([`pending_deletions`], [`deleted`]).

use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::customers::Tx;
use super::{Result, codec, tables};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobMeta {
    /// Plaintext bytes.
    pub size: u64,
    /// Sniffed from the bytes at upload.
    pub content_type: String,
    pub created_at: DateTime<Utc>,
    /// The blob's own key, wrapped by the master-derived wrap key (`crate::blobs`).
    pub key: String,
    /// The records that use it, e.g. `doc:<deal>/<item>`.
    pub refs: Vec<String>,
}

pub fn get<'t>(tx: impl Into<Tx<'t>>, id: &str) -> Result<Option<BlobMeta>> {
    let v = match tx.into() {
        Tx::Read(tx) => tx
            .open_table(tables::BLOBS)?
            .get(id)?
            .map(|v| v.value().to_vec()),
        Tx::Write(tx) => tx
            .open_table(tables::BLOBS)?
            .get(id)?
            .map(|v| v.value().to_vec()),
    };
    v.map(|b| codec::decode("blobs", &b)).transpose()
}

/// Adds `reference` to blob `id`, creating its row from `new` when the blob is new. Returns
/// whether the blob existed before (its file is already in place).
pub fn add_ref(
    tx: &WriteTransaction,
    id: &str,
    new: impl FnOnce() -> BlobMeta,
    reference: &str,
) -> Result<bool> {
    let existing = get(tx, id)?;
    let existed = existing.is_some();
    let mut meta = existing.unwrap_or_else(new);
    if !meta.refs.iter().any(|r| r == reference) {
        meta.refs.push(reference.to_string());
    }
    tx.open_table(tables::BLOBS)?
        .insert(id, codec::encode(&meta)?.as_slice())?;
    // A blob queued for removal and uploaded again before the file went: keep it.
    tx.open_table(tables::BLOB_DELETIONS)?.remove(id)?;
    Ok(existed)
}

/// Drops `reference` from blob `id`; the last one gone, the row goes and the file is queued
/// for removal (at `now`). Returns whether the blob is now unreferenced.
pub fn remove_ref(
    tx: &WriteTransaction,
    id: &str,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(mut meta) = get(tx, id)? else {
        return Ok(false);
    };
    meta.refs.retain(|r| r != reference);
    if meta.refs.is_empty() {
        tx.open_table(tables::BLOBS)?.remove(id)?;
        tx.open_table(tables::BLOB_DELETIONS)?
            .insert(id, now.timestamp())?;
        Ok(true)
    } else {
        tx.open_table(tables::BLOBS)?
            .insert(id, codec::encode(&meta)?.as_slice())?;
        Ok(false)
    }
}

/// Files still to be removed: (blob id, queued at, Unix seconds).
pub fn pending_deletions(tx: &redb::ReadTransaction) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for row in tx.open_table(tables::BLOB_DELETIONS)?.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), v.value()));
    }
    Ok(out)
}

/// The file of `id` is gone: its queue row goes too (unless the blob came back meanwhile).
pub fn deleted(tx: &WriteTransaction, id: &str) -> Result<()> {
    tx.open_table(tables::BLOB_DELETIONS)?.remove(id)?;
    Ok(())
}

/// Every blob row (`doctor`, key rotation; never a request path).
pub fn all(tx: &redb::ReadTransaction) -> Result<Vec<(String, BlobMeta)>> {
    let mut out = Vec::new();
    for row in tx.open_table(tables::BLOBS)?.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), codec::decode("blobs", v.value())?));
    }
    Ok(out)
}

/// Rewrites every blob's wrapped key with `rewrap` (a master-key rotation); returns how many.
pub fn rewrap_all(
    tx: &WriteTransaction,
    mut rewrap: impl FnMut(&str, &str) -> Result<String>,
) -> Result<usize> {
    let mut rows = Vec::new();
    for row in tx.open_table(tables::BLOBS)?.iter()? {
        let (k, v) = row?;
        rows.push((
            k.value().to_string(),
            codec::decode::<BlobMeta>("blobs", v.value())?,
        ));
    }
    let mut t = tx.open_table(tables::BLOBS)?;
    for (id, mut meta) in rows.iter().cloned() {
        meta.key = rewrap(&id, &meta.key)?;
        t.insert(id.as_str(), codec::encode(&meta)?.as_slice())?;
    }
    Ok(rows.len())
}
