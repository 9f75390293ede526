//! Calls from the PBX (`domain::call`), their keys and their statistics counters, written in
//! one transaction with the call. Read from outside `store` only through a [`Reader`]: made
//! from a customers reader (a call is seen exactly when its customer is), or unscoped for a
//! named reason ([`Unscoped`]).
//!
//! Keys in `call_keys` (value: the call id, or empty): `x:<external id>` (idempotency),
//! `c:<customer id>/<call id>` (a customer's calls), `u:<call id>` (waiting to be attached),
//! `r:<user>/<day>/<customer>` (a customer reached that day, for the distinct count),
//! `e:<extension>` → user id (users' PBX extensions, unique).
//! Counters (`counters`): `calls/<user or ->/<day>/{n,answered,talk,reached}`, day in
//! Asia/Shanghai.

use redb::{ReadableTable, WriteTransaction};

use super::customers::{Reader as Customers, Tx};
use super::{Result, codec, pools, tables};
use crate::domain::call::{Call, CallResult};

/// Why a reader sees calls whatever their customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unscoped {
    /// Ingestion (the PBX token acts for the firm: idempotency by external id) and the
    /// unmatched list and attachment (`customer.assign` holders; the customer attached to is
    /// checked against their scope).
    Intake,
    /// Master-key rotation (re-encrypting the numbers); never a request path.
    Maintenance,
}

/// The one way to read calls from outside `store`.
pub struct Reader<'t> {
    tx: Tx<'t>,
    customers: Option<&'t Customers<'t>>,
}

fn get_raw(tx: Tx<'_>, id: &str) -> Result<Option<Call>> {
    let v = match tx {
        Tx::Read(tx) => tx
            .open_table(tables::CALLS)?
            .get(id)?
            .map(|v| v.value().to_vec()),
        Tx::Write(tx) => tx
            .open_table(tables::CALLS)?
            .get(id)?
            .map(|v| v.value().to_vec()),
    };
    v.map(|b| codec::decode("calls", &b)).transpose()
}

fn key(tx: Tx<'_>, k: &str) -> Result<Option<String>> {
    Ok(match tx {
        Tx::Read(tx) => tx
            .open_table(tables::CALL_KEYS)?
            .get(k)?
            .map(|v| v.value().to_string()),
        Tx::Write(tx) => tx
            .open_table(tables::CALL_KEYS)?
            .get(k)?
            .map(|v| v.value().to_string()),
    })
}

/// Keys under `prefix` from `after` (exclusive), at most `limit`, newest first when `rev`.
fn keys_under(tx: Tx<'_>, prefix: &str, limit: usize, rev: bool) -> Result<Vec<String>> {
    let end = format!("{prefix}\u{10FFFF}");
    let mut out = Vec::new();
    macro_rules! walk {
        ($t:expr) => {{
            let t = $t;
            let range = t.range(prefix..end.as_str())?;
            if rev {
                for row in range.rev() {
                    out.push(row?.0.value().to_string());
                    if out.len() >= limit {
                        break;
                    }
                }
            } else {
                for row in range {
                    out.push(row?.0.value().to_string());
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }};
    }
    match tx {
        Tx::Read(tx) => walk!(tx.open_table(tables::CALL_KEYS)?),
        Tx::Write(tx) => walk!(tx.open_table(tables::CALL_KEYS)?),
    }
    Ok(out
        .into_iter()
        .map(|k| k[prefix.len()..].to_string())
        .collect())
}

impl<'t> Reader<'t> {
    /// Calls of the customers `customers` sees (its scope: out of scope = `None`).
    pub fn scoped(tx: impl Into<Tx<'t>>, customers: &'t Customers<'t>) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            customers: Some(customers),
        }
    }

    pub fn unscoped(tx: impl Into<Tx<'t>>, _why: Unscoped) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            customers: None,
        }
    }

    fn sees(&self, c: &Call) -> Result<bool> {
        match (self.customers, &c.customer_id) {
            (None, _) => Ok(true),
            (Some(r), Some(cid)) => Ok(r.live(cid)?.is_some()),
            (Some(_), None) => Ok(false),
        }
    }

    /// The call when the reader sees it.
    pub fn get(&self, id: &str) -> Result<Option<Call>> {
        match get_raw(self.tx, id)? {
            Some(c) if self.sees(&c)? => Ok(Some(c)),
            _ => Ok(None),
        }
    }

    /// The call the PBX knows as `external_id`.
    pub fn by_external(&self, external_id: &str) -> Result<Option<Call>> {
        match key(self.tx, &format!("x:{external_id}"))? {
            Some(id) => self.get(&id),
            None => Ok(None),
        }
    }

    /// A customer's calls, newest first (at most `limit`); none when the reader does not see
    /// the customer.
    pub fn of_customer(&self, customer_id: &str, limit: usize) -> Result<Vec<Call>> {
        if let Some(r) = self.customers
            && r.live(customer_id)?.is_none()
        {
            return Ok(Vec::new());
        }
        let ids = keys_under(self.tx, &format!("c:{customer_id}/"), limit, true)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = get_raw(self.tx, &id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Calls waiting to be attached, oldest first (unscoped readers only).
    pub fn unmatched(&self, limit: usize) -> Result<Vec<Call>> {
        if self.customers.is_some() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for id in keys_under(self.tx, "u:", limit, false)? {
            if let Some(c) = get_raw(self.tx, &id)? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// How many calls wait to be attached.
pub fn unmatched_count(tx: &redb::ReadTransaction) -> Result<u64> {
    pools::counter(tx, "calls/unmatched")
}

/// The Shanghai day a call counts on.
pub fn day_of(at: chrono::DateTime<chrono::Utc>) -> String {
    chrono::FixedOffset::east_opt(8 * 3600)
        .map(|tz| at.with_timezone(&tz).date_naive())
        .unwrap_or(at.date_naive())
        .format("%Y-%m-%d")
        .to_string()
}

fn add(tx: &WriteTransaction, k: &str, by: u64) -> Result<()> {
    if by == 0 {
        return Ok(());
    }
    let now = pools::counter_w(tx, k)?;
    pools::set_counter(tx, k, now + by)
}

/// A customer reached by `user` that day: counted once per (user, day, customer).
fn reached(tx: &WriteTransaction, user: &str, day: &str, customer: &str) -> Result<()> {
    let k = format!("r:{user}/{day}/{customer}");
    let mut keys = tx.open_table(tables::CALL_KEYS)?;
    if keys.get(k.as_str())?.is_none() {
        keys.insert(k.as_str(), "")?;
        drop(keys);
        add(tx, &format!("calls/{user}/{day}/reached"), 1)?;
    }
    Ok(())
}

/// Writes a new call: the record, its keys and its day's counters.
pub fn insert(tx: &WriteTransaction, c: &Call) -> Result<()> {
    tx.open_table(tables::CALLS)?
        .insert(c.id.as_str(), codec::encode(c)?.as_slice())?;
    {
        let mut keys = tx.open_table(tables::CALL_KEYS)?;
        keys.insert(format!("x:{}", c.external_id).as_str(), c.id.as_str())?;
        match &c.customer_id {
            Some(cid) => {
                keys.insert(format!("c:{cid}/{}", c.id).as_str(), "")?;
            }
            None => {
                keys.insert(format!("u:{}", c.id).as_str(), "")?;
            }
        }
    }
    if c.customer_id.is_none() {
        add(tx, "calls/unmatched", 1)?;
    }
    let user = c.user_id.as_deref().unwrap_or("-");
    let day = day_of(c.started_at);
    let base = format!("calls/{user}/{day}");
    add(tx, &format!("{base}/n"), 1)?;
    if c.result == CallResult::Answered {
        add(tx, &format!("{base}/answered"), 1)?;
        add(tx, &format!("{base}/talk"), u64::from(c.talk_seconds))?;
        if let Some(cid) = &c.customer_id {
            reached(tx, user, &day, cid)?;
        }
    }
    Ok(())
}

/// Attaches a waiting call to a customer: keys moved, the reached count updated.
pub fn attach(tx: &WriteTransaction, before: &Call, after: &Call) -> Result<()> {
    tx.open_table(tables::CALLS)?
        .insert(after.id.as_str(), codec::encode(after)?.as_slice())?;
    if before.customer_id.is_none()
        && let Some(cid) = &after.customer_id
    {
        {
            let mut keys = tx.open_table(tables::CALL_KEYS)?;
            keys.remove(format!("u:{}", after.id).as_str())?;
            keys.insert(format!("c:{cid}/{}", after.id).as_str(), "")?;
        }
        let n = pools::counter_w(tx, "calls/unmatched")?;
        pools::set_counter(tx, "calls/unmatched", n.saturating_sub(1))?;
        if after.result == CallResult::Answered {
            let user = after.user_id.as_deref().unwrap_or("-");
            reached(tx, user, &day_of(after.started_at), cid)?;
        }
    }
    Ok(())
}

/// Rewrites a call whose keys do not change (a recording added or removed).
pub fn update(tx: &WriteTransaction, c: &Call) -> Result<()> {
    tx.open_table(tables::CALLS)?
        .insert(c.id.as_str(), codec::encode(c)?.as_slice())?;
    Ok(())
}

/// The calls of a customer being erased (their recordings lose their reference).
pub fn of_customer_w(tx: &WriteTransaction, customer_id: &str) -> Result<Vec<Call>> {
    let mut out = Vec::new();
    for id in keys_under(
        Tx::Write(tx),
        &format!("c:{customer_id}/"),
        usize::MAX,
        false,
    )? {
        if let Some(c) = get_raw(Tx::Write(tx), &id)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// The user holding PBX extension `ext`.
pub fn extension_owner<'t>(tx: impl Into<Tx<'t>>, ext: &str) -> Result<Option<String>> {
    key(tx.into(), &format!("e:{ext}"))
}

/// Moves `user`'s extension key from `old` to `new` (either may be absent).
pub fn set_extension(
    tx: &WriteTransaction,
    user: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<()> {
    let mut keys = tx.open_table(tables::CALL_KEYS)?;
    if let Some(o) = old {
        keys.remove(format!("e:{o}").as_str())?;
    }
    if let Some(n) = new {
        keys.insert(format!("e:{n}").as_str(), user)?;
    }
    Ok(())
}

/// Every call id, in id order (key rotation; never a request path).
pub fn all_ids(tx: &redb::ReadTransaction) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for row in tx.open_table(tables::CALLS)?.iter()? {
        out.push(row?.0.value().to_string());
    }
    Ok(out)
}
