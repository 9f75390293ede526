//! Transfer requests (转移申请): a salesperson who finds that a lead they brought in is already
//! someone else's customer asks for it; the owner's manager (anyone who may transfer it)
//! decides. Records by id, plus keys: `p:<owner or ->/<id>` while pending (an approver's list is
//! the pending keys of the owners they see), `r:<requester>/<id>` (a requester's own list) and
//! `c:<customer>/<requester>` while pending (one open request per customer and requester).

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::org::decode_one;
use super::{Result, codec, tables};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub id: String,
    pub customer_id: String,
    pub requester_id: String,
    /// The owner when asked (the approver's list is by owner).
    pub owner_id: Option<String>,
    /// How the requester found it: `phone` or `id_number`.
    pub by: String,
    pub reason: String,
    pub status: TransferStatus,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

fn pending_key(r: &TransferRequest) -> String {
    format!("p:{}/{}", r.owner_id.as_deref().unwrap_or("-"), r.id)
}

fn open_key(customer: &str, requester: &str) -> String {
    format!("c:{customer}/{requester}")
}

/// Writes a request and moves its keys with its status.
pub fn put(
    tx: &WriteTransaction,
    before: Option<&TransferRequest>,
    r: &TransferRequest,
) -> Result<()> {
    let mut keys = tx.open_table(tables::TRANSFER_KEYS)?;
    if let Some(b) = before.filter(|b| b.status == TransferStatus::Pending) {
        keys.remove(pending_key(b).as_str())?;
        keys.remove(open_key(&b.customer_id, &b.requester_id).as_str())?;
    }
    if r.status == TransferStatus::Pending {
        keys.insert(pending_key(r).as_str(), r.id.as_str())?;
        keys.insert(
            open_key(&r.customer_id, &r.requester_id).as_str(),
            r.id.as_str(),
        )?;
    }
    keys.insert(
        format!("r:{}/{}", r.requester_id, r.id).as_str(),
        r.id.as_str(),
    )?;
    tx.open_table(tables::TRANSFER_REQUESTS)?
        .insert(r.id.as_str(), codec::encode(r)?.as_slice())?;
    Ok(())
}

pub fn get(tx: &ReadTransaction, id: &str) -> Result<Option<TransferRequest>> {
    decode_one(
        &tx.open_table(tables::TRANSFER_REQUESTS)?,
        id,
        "transfer_requests",
    )
}

pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<TransferRequest>> {
    decode_one(
        &tx.open_table(tables::TRANSFER_REQUESTS)?,
        id,
        "transfer_requests",
    )
}

/// The open request of `requester` for `customer`, if any.
pub fn open_for_w(
    tx: &WriteTransaction,
    customer: &str,
    requester: &str,
) -> Result<Option<String>> {
    Ok(tx
        .open_table(tables::TRANSFER_KEYS)?
        .get(open_key(customer, requester).as_str())?
        .map(|v| v.value().to_string()))
}

/// [`open_for_w`] in a read transaction: whether `requester`'s request for `customer` still
/// waits for a decision.
pub fn open_for(tx: &ReadTransaction, customer: &str, requester: &str) -> Result<Option<String>> {
    Ok(tx
        .open_table(tables::TRANSFER_KEYS)?
        .get(open_key(customer, requester).as_str())?
        .map(|v| v.value().to_string()))
}

fn by_prefix(tx: &ReadTransaction, prefix: &str, limit: usize) -> Result<Vec<TransferRequest>> {
    let keys = tx.open_table(tables::TRANSFER_KEYS)?;
    let records = tx.open_table(tables::TRANSFER_REQUESTS)?;
    let mut out = Vec::new();
    for row in keys.range(prefix..)? {
        let (k, v) = row?;
        if !k.value().starts_with(prefix) || out.len() >= limit {
            break;
        }
        if let Some(r) = decode_one(&records, v.value(), "transfer_requests")? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Pending requests for customers of `owner` (`None`: every owner), oldest first.
pub fn pending(
    tx: &ReadTransaction,
    owner: Option<&str>,
    limit: usize,
) -> Result<Vec<TransferRequest>> {
    match owner {
        Some(o) => by_prefix(tx, &format!("p:{o}/"), limit),
        None => by_prefix(tx, "p:", limit),
    }
}

/// A requester's own requests, oldest first.
pub fn mine(tx: &ReadTransaction, requester: &str, limit: usize) -> Result<Vec<TransferRequest>> {
    by_prefix(tx, &format!("r:{requester}/"), limit)
}
