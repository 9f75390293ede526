//! Customers and their secondary keys (phone and ID-number blind indexes, owner). Keys are
//! kept in step with the record in the same transaction by [`put`].

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Result, codec, tables};
use crate::domain::customer::{Customer, RuleFields};

const T: &str = "customers";

fn keys_of(c: &Customer) -> Vec<String> {
    let mut keys = Vec::new();
    // An erased record's phone has no blind index: nothing to find it by.
    keys.extend(
        std::iter::once(&c.phone)
            .chain(&c.extra_phones)
            .filter(|p| !p.bidx.is_empty())
            .map(|p| format!("p:{}/{}", p.bidx, c.id)),
    );
    if let Some(i) = &c.id_number {
        keys.push(format!("i:{}/{}", i.bidx, c.id));
    }
    keys.push(format!(
        "o:{}/{}",
        c.owner_id.as_deref().unwrap_or("-"),
        c.id
    ));
    if let Some(key) = bin_key(c) {
        keys.push(key);
    }
    if let Some(key) = name_key(c) {
        keys.push(key);
    }
    keys
}

/// The exact-name key (the duplicate check's "same name" hint); none for an anonymised record.
fn name_key(c: &Customer) -> Option<String> {
    (!c.phone.bidx.is_empty()).then(|| format!("n:{}/{}", c.name, c.id))
}

/// Up to `limit` ids of customers named exactly `name` (deleted ones too), in id order. A
/// name containing `/` can list others whose name starts with it: callers compare names.
pub fn ids_by_name(tx: &ReadTransaction, name: &str, limit: usize) -> Result<Vec<String>> {
    let mut ids = ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &format!("n:{name}/"),
    )?;
    ids.truncate(limit);
    Ok(ids)
}

/// The recycle bin's key of a deleted, not yet anonymised customer (an anonymised record has
/// no phone blind index), in deletion-time order: `b:<microseconds, 20 digits>/<id>`.
fn bin_key(c: &Customer) -> Option<String> {
    let at = c.deleted_at?;
    (!c.phone.bidx.is_empty()).then(|| format!("b:{:020}/{}", at.timestamp_micros(), c.id))
}

/// The customers in the recycle bin (deleted, not anonymised), oldest deletion first, with
/// the deletion time; only those deleted before `before` when given. Reads the bin's keys,
/// not the records.
pub fn in_bin(
    tx: &ReadTransaction,
    before: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<String>> {
    let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    let end = match before {
        Some(t) => format!("b:{:020}/", t.timestamp_micros()),
        None => "b;".to_string(),
    };
    let mut out = Vec::new();
    for row in keys.range("b:"..end.as_str())? {
        let (_, v) = row?;
        out.push(v.value().to_string());
    }
    Ok(out)
}

/// Whether `key` has the shape of a recycle-bin key (`b:<20 digits>/<id>`): what a page
/// cursor must be.
pub fn is_bin_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("b:") else {
        return false;
    };
    let Some((micros, id)) = rest.split_once('/') else {
        return false;
    };
    micros.len() == 20
        && micros.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The recycle bin newest deletion first, from the key just before `before` (from the newest
/// when `None`): gives `visit` each key and customer id until it answers `false`. Reads only
/// the keys visited.
pub fn bin_newest_first(
    tx: &ReadTransaction,
    before: Option<&str>,
    mut visit: impl FnMut(&str, &str) -> Result<bool>,
) -> Result<()> {
    let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    let end = before.unwrap_or("b;");
    for row in keys.range::<&str>("b:"..end)?.rev() {
        let (k, v) = row?;
        if !visit(k.value(), v.value())? {
            break;
        }
    }
    Ok(())
}

pub fn get(tx: &ReadTransaction, id: &str) -> Result<Option<Customer>> {
    super::org::decode_one(&tx.open_table(tables::CUSTOMERS)?, id, T)
}

pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<Customer>> {
    super::org::decode_one(&tx.open_table(tables::CUSTOMERS)?, id, T)
}

/// Writes the record, moves its secondary keys from `before` to the new values and keeps its
/// compact rule view (`rule_fields`) in step.
pub fn put(tx: &WriteTransaction, before: Option<&Customer>, c: &Customer) -> Result<()> {
    let mut keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    if let Some(old) = before {
        for k in keys_of(old) {
            keys.remove(k.as_str())?;
        }
    }
    for k in keys_of(c) {
        keys.insert(k.as_str(), c.id.as_str())?;
    }
    let (was, is) = (before.and_then(bin_key).is_some(), bin_key(c).is_some());
    if was != is {
        super::loads::shift_bin(tx, is)?;
    }
    tx.open_table(tables::CUSTOMERS)?
        .insert(c.id.as_str(), codec::encode(c)?.as_slice())?;
    super::rule_fields::sync(tx, c)?;
    super::outbox::enqueue(tx, &c.id)?;
    Ok(())
}

/// The customer ids under one key prefix of `customer_keys`.
fn ids_with_prefix(
    keys: &impl ReadableTable<&'static str, &'static str>,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for row in keys.range(prefix..)? {
        let (k, v) = row?;
        if !k.value().starts_with(prefix) {
            break;
        }
        out.push(v.value().to_string());
    }
    Ok(out)
}

/// Ids of customers with this blind index (`kind` is `p` for phones, `i` for ID numbers).
pub fn ids_by_index_w(tx: &WriteTransaction, kind: char, bidx: &str) -> Result<Vec<String>> {
    ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &format!("{kind}:{bidx}/"),
    )
}

pub fn ids_by_index(tx: &ReadTransaction, kind: char, bidx: &str) -> Result<Vec<String>> {
    ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &format!("{kind}:{bidx}/"),
    )
}

pub fn ids_by_owner_w(tx: &WriteTransaction, owner: Option<&str>) -> Result<Vec<String>> {
    ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &format!("o:{}/", owner.unwrap_or("-")),
    )
}

/// Customer ids owned by `owner` (`None`: in no one's hands), in id order.
pub fn ids_by_owner(tx: &ReadTransaction, owner: Option<&str>) -> Result<Vec<String>> {
    ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &format!("o:{}/", owner.unwrap_or("-")),
    )
}

/// Every customer, in id (creation) order, starting after `after`.
pub fn scan(
    tx: &ReadTransaction,
    after: Option<&str>,
    mut visit: impl FnMut(Customer) -> bool,
) -> Result<()> {
    let table = tx.open_table(tables::CUSTOMERS)?;
    let range = match after {
        Some(a) => {
            table.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
        }
        None => table.range::<&str>(..)?,
    };
    for row in range {
        let (_, v) = row?;
        if !visit(codec::decode(T, v.value())?) {
            break;
        }
    }
    Ok(())
}

/// One batch of a rebuild from the records: at most `limit` customers after `after` (from the
/// first when `None`), in id order, each decoded as `D` (the whole record, or just the
/// [`RuleFields`]) and given to `visit`. Returns the last id visited and how many (fewer than
/// `limit`: done).
fn batch_w<D: serde::de::DeserializeOwned>(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
    mut visit: impl FnMut(&str, D) -> Result<()>,
) -> Result<(Option<String>, usize)> {
    let table = tx.open_table(tables::CUSTOMERS)?;
    let range = match after {
        Some(a) => {
            table.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
        }
        None => table.range::<&str>(..)?,
    };
    let (mut last, mut n) = (None, 0);
    for row in range.take(limit) {
        let (id, v) = row?;
        visit(id.value(), codec::decode(T, v.value())?)?;
        last = Some(id.value().to_string());
        n += 1;
    }
    Ok((last, n))
}

/// [`batch_w`] decoding only the [`RuleFields`].
pub(super) fn rule_fields_batch_w(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
    visit: impl FnMut(&str, RuleFields) -> Result<()>,
) -> Result<(Option<String>, usize)> {
    batch_w(tx, after, limit, visit)
}

/// Schema 11, one batch: records written before it kept the whole birth date in clear beside
/// the masked ID number (together: the ID number). Each such record is rewritten with the
/// birth year only; the other records are left as they are. Every customer gets its name key,
/// deleted ones their recycle-bin key.
pub(super) fn scrub_birth_dates_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut rewrite: Vec<Customer> = Vec::new();
    let mut added: Vec<(String, String)> = Vec::new();
    let (last, n) = batch_w(tx, after, limit, |_, mut c: Customer| {
        for key in [bin_key(&c), name_key(&c)].into_iter().flatten() {
            added.push((key, c.id.clone()));
        }
        if let Some(d) = c.legacy_birth_date.take() {
            c.birth_year = Some(chrono::Datelike::year(&d));
            rewrite.push(c);
        }
        Ok(())
    })?;
    let mut table = tx.open_table(tables::CUSTOMERS)?;
    for c in &rewrite {
        table.insert(c.id.as_str(), codec::encode(c)?.as_slice())?;
    }
    let mut keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    for (key, id) in &added {
        keys.insert(key.as_str(), id.as_str())?;
    }
    Ok((last, n))
}

/// Every customer's [`RuleFields`], in id order: what a recall sweep reads (the sealed fields,
/// profile and custom fields are skipped, not decoded).
pub fn scan_rule_fields(
    tx: &ReadTransaction,
    mut visit: impl FnMut(RuleFields) -> bool,
) -> Result<()> {
    let table = tx.open_table(tables::CUSTOMERS)?;
    for row in table.range::<&str>(..)? {
        let (_, v) = row?;
        if !visit(codec::decode(T, v.value())?) {
            break;
        }
    }
    Ok(())
}

/// Counts today's reveals of `user` and adds one; returns the count after adding.
pub fn add_reveal(tx: &WriteTransaction, user_id: &str, day: &str) -> Result<u64> {
    let mut t = tx.open_table(tables::REVEALS)?;
    let key = format!("{user_id}/{day}");
    let n = t.get(key.as_str())?.map(|v| v.value()).unwrap_or(0) + 1;
    t.insert(key.as_str(), n)?;
    Ok(n)
}

/// A change on a customer's timeline other than a follow-up.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    pub id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_id: String,
    /// `created`, `transferred`, `stage_changed`, …
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
}

impl TimelineEvent {
    pub fn new(
        id: String,
        at: chrono::DateTime<chrono::Utc>,
        actor_id: &str,
        kind: &str,
        from: Option<String>,
        to: Option<String>,
        note: Option<String>,
    ) -> TimelineEvent {
        TimelineEvent {
            id,
            at,
            actor_id: actor_id.to_string(),
            kind: kind.to_string(),
            from,
            to,
            note,
        }
    }
}

pub fn add_event(tx: &WriteTransaction, customer_id: &str, e: &TimelineEvent) -> Result<()> {
    let key = format!("{customer_id}/{}", e.id);
    tx.open_table(tables::CUSTOMER_EVENTS)?
        .insert(key.as_str(), codec::encode(e)?.as_slice())?;
    Ok(())
}

pub fn events(tx: &ReadTransaction, customer_id: &str) -> Result<Vec<TimelineEvent>> {
    prefixed(
        &tx.open_table(tables::CUSTOMER_EVENTS)?,
        customer_id,
        "customer_events",
    )
}

pub fn put_followup(tx: &WriteTransaction, f: &crate::domain::followup::Followup) -> Result<()> {
    let key = format!("{}/{}", f.customer_id, f.id);
    tx.open_table(tables::FOLLOWUPS)?
        .insert(key.as_str(), codec::encode(f)?.as_slice())?;
    // Follow-up text is searchable: the customer's document changes with it.
    super::outbox::enqueue(tx, &f.customer_id)?;
    Ok(())
}

pub fn followups(
    tx: &ReadTransaction,
    customer_id: &str,
) -> Result<Vec<crate::domain::followup::Followup>> {
    prefixed(&tx.open_table(tables::FOLLOWUPS)?, customer_id, "followups")
}

/// Every follow-up of a customer, in a write transaction (to rewrite them).
pub fn followups_w(
    tx: &WriteTransaction,
    customer_id: &str,
) -> Result<Vec<crate::domain::followup::Followup>> {
    prefixed(&tx.open_table(tables::FOLLOWUPS)?, customer_id, "followups")
}

pub fn followup_w(
    tx: &WriteTransaction,
    customer_id: &str,
    id: &str,
) -> Result<Option<crate::domain::followup::Followup>> {
    let table = tx.open_table(tables::FOLLOWUPS)?;
    let key = format!("{customer_id}/{id}");
    let v = table.get(key.as_str())?;
    v.map(|v| codec::decode("followups", v.value())).transpose()
}

/// Values under `<customer id>/`, in key (time) order.
fn prefixed<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    customer_id: &str,
    name: &'static str,
) -> Result<Vec<T>> {
    let prefix = format!("{customer_id}/");
    let mut out = Vec::new();
    for row in table.range(prefix.as_str()..)? {
        let (k, v) = row?;
        if !k.value().starts_with(&prefix) {
            break;
        }
        out.push(codec::decode(name, v.value())?);
    }
    Ok(out)
}
