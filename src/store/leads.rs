//! The lead-check index (撞库, schema 24): `<lead index>/<customer id>` for every phone of every
//! customer that is not erased, deleted ones included (they are still the firm's leads). Kept
//! by `customers::put` in the record's transaction; a vendor's list is answered with one
//! prefix probe per number, never a scan of customers. The index value is keyed
//! (`FieldCipher::lead_index`), so the table reveals nothing without the master key.
//!
//! Records written before schema 24 have no lead index yet: the migration marks the fill as
//! pending ([`FILL_CURSOR`]) and the application fills it at start in batches
//! ([`fill_batch`]), because computing the index needs the phone in clear (the field key),
//! which the store does not hold.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Error, Result, tables};
use crate::domain::customer::{Customer, Sealed};

/// `settings` key present while the fill of schema 24 is not finished: the last customer id
/// filled ("" before the first batch).
pub const FILL_CURSOR: &str = "lead_check/fill_after";

/// The prefix of a lead index's keys: its first 128 bits as bytes (`key_codec`, schema 35;
/// the short text form since schema 32, all 64 hex digits before).
fn prefix(lead: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    super::key_codec::push_part(&mut k, Some(lead));
    k
}

fn keys_of(c: &Customer) -> Vec<Vec<u8>> {
    std::iter::once(&c.phone)
        .chain(&c.extra_phones)
        .filter(|p| !p.bidx.is_empty() && !p.lead.is_empty())
        .map(|p| {
            let mut k = prefix(&p.lead);
            super::key_codec::push_id(&mut k, &c.id);
            k
        })
        .collect()
}

/// Whether two versions of a customer have the same [`keys_of`]: the same id and the same
/// phones' blind and lead indexes, in order.
fn same_phones(a: &Customer, b: &Customer) -> bool {
    fn pair(p: &Sealed) -> (&str, &str) {
        (p.bidx.as_str(), p.lead.as_str())
    }
    a.id == b.id
        && a.extra_phones.len() == b.extra_phones.len()
        && std::iter::once(&a.phone)
            .chain(&a.extra_phones)
            .map(pair)
            .eq(std::iter::once(&b.phone).chain(&b.extra_phones).map(pair))
}

/// Schema 32, one batch: the lead-check keys of `batch` in the short text form of schemas 32
/// to 34 (the table was emptied by the step's first batch; step 35 rebuilds it in binary).
pub(super) fn add_keys_v34(tx: &WriteTransaction, batch: &[Customer]) -> Result<()> {
    let mut t = tx.open_table(tables::LEAD_CHECK_V34)?;
    for c in batch {
        for p in std::iter::once(&c.phone)
            .chain(&c.extra_phones)
            .filter(|p| !p.bidx.is_empty() && !p.lead.is_empty())
        {
            let k = format!("{}/{}", p.lead.get(..32).unwrap_or(&p.lead), c.id);
            t.insert(k.as_str(), "")?;
        }
    }
    Ok(())
}

/// Moves `before`'s keys to `c`'s (called by `customers::put_by`).
pub(super) fn sync(tx: &WriteTransaction, before: Option<&Customer>, c: &Customer) -> Result<()> {
    if before.is_some_and(|b| same_phones(b, c)) {
        // The keys are made of these alone: nothing to build or compare (a recall, a claim).
        return Ok(());
    }
    let old = before.map(keys_of).unwrap_or_default();
    let new = keys_of(c);
    if old == new {
        return Ok(());
    }
    let mut t = tx.open_table(tables::LEAD_CHECK)?;
    for k in old.iter().filter(|k| !new.contains(k)) {
        t.remove(k.as_slice())?;
    }
    for k in &new {
        t.insert(k.as_slice(), ())?;
    }
    Ok(())
}

/// [`sync`] for many new customers (`before` none; an import batch): their keys inserted in
/// key order with one table handle.
pub(super) fn add_new_many(tx: &WriteTransaction, cs: &[&Customer]) -> Result<()> {
    let keys = new_keys(cs);
    if keys.is_empty() {
        return Ok(());
    }
    let mut t = tx.open_table(tables::LEAD_CHECK)?;
    for k in &keys {
        t.insert(k.as_slice(), ())?;
    }
    Ok(())
}

/// The lead-check keys of new customers, sorted (an import batch's; `store::keylog` logs them
/// during a CLI import).
pub(super) fn new_keys(cs: &[&Customer]) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = cs.iter().flat_map(|c| keys_of(c)).collect();
    keys.sort_unstable();
    keys
}

/// Whether some customer has a phone with this lead index.
pub fn exists(tx: &ReadTransaction, lead: &str) -> Result<bool> {
    let t = tx.open_table(tables::LEAD_CHECK)?;
    let prefix = prefix(lead);
    let first = t.range::<&[u8]>(prefix.as_slice()..)?.next().transpose()?;
    Ok(first.is_some_and(|(k, _)| k.value().starts_with(&prefix)))
}

/// Differences between the lead-check table and a recount from the records, for `zhudai
/// doctor` (reads every customer: an offline check, never on a request path). Empty while the
/// schema-22 fill is pending is not claimed: the fill is reported instead.
pub fn drift(tx: &ReadTransaction) -> Result<Vec<String>> {
    if fill_pending(tx)? {
        return Ok(vec![
            "the schema-22 fill has not finished (it runs at the next start)".into(),
        ]);
    }
    let mut out = Vec::new();
    let mut expected = std::collections::BTreeSet::new();
    for row in tx.open_table(tables::CUSTOMERS)?.iter()? {
        let (id, v) = row?;
        let c = super::customer_codec::decode(id.value(), v.value())?;
        if std::iter::once(&c.phone)
            .chain(&c.extra_phones)
            .any(|p| !p.bidx.is_empty() && p.lead.is_empty())
        {
            out.push(format!(
                "customer {} has a phone without its lead-check index",
                c.id
            ));
        }
        expected.extend(keys_of(&c));
    }
    let mut actual = std::collections::BTreeSet::new();
    for row in tx.open_table(tables::LEAD_CHECK)?.iter()? {
        let (k, _) = row?;
        actual.insert(k.value().to_vec());
    }
    let customer = |k: &Vec<u8>| {
        super::key_codec::id_of_lead_key(k).unwrap_or_else(|_| "(a key of no known shape)".into())
    };
    out.extend(
        expected
            .difference(&actual)
            .map(|k| format!("customer {}: a lead-check key is missing", customer(k))),
    );
    out.extend(
        actual
            .difference(&expected)
            .map(|k| format!("customer {}: a stale lead-check key", customer(k))),
    );
    Ok(out)
}

/// Whether the schema-22 fill is still to run.
pub fn fill_pending(tx: &ReadTransaction) -> Result<bool> {
    Ok(tx.open_table(tables::SETTINGS)?.get(FILL_CURSOR)?.is_some())
}

/// Marks the fill as pending (migration 24 on a store that has customers).
pub(super) fn mark_fill(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::SETTINGS)?.insert(FILL_CURSOR, "")?;
    Ok(())
}

/// One batch of the fill: up to `limit` customers after the cursor get the lead index of each
/// phone (`lead_of(record id, field, sealed)` computes it from the decrypted number); the
/// record is rewritten and its keys added. Returns whether the fill is done (the cursor is
/// removed with the last batch).
pub fn fill_batch(
    tx: &WriteTransaction,
    limit: usize,
    lead_of: &dyn Fn(&str, &str, &Sealed) -> std::result::Result<String, String>,
) -> Result<bool> {
    let mut settings = tx.open_table(tables::SETTINGS)?;
    let Some(after) = settings.get(FILL_CURSOR)?.map(|v| v.value().to_string()) else {
        return Ok(true);
    };
    let mut customers = tx.open_table(tables::CUSTOMERS)?;
    let mut batch: Vec<Customer> = Vec::new();
    {
        let range = if after.is_empty() {
            customers.range::<&str>(..)?
        } else {
            customers.range::<&str>((
                std::ops::Bound::Excluded(after.as_str()),
                std::ops::Bound::Unbounded,
            ))?
        };
        for row in range.take(limit) {
            let (id, v) = row?;
            batch.push(super::customer_codec::decode(id.value(), v.value())?);
        }
    }
    let corrupt = |message: String| Error::Corrupt {
        table: "customers",
        message,
    };
    for c in &batch {
        let mut out = c.clone();
        let fill = |field: &str, s: &mut Sealed| -> Result<bool> {
            if s.bidx.is_empty() || !s.lead.is_empty() {
                return Ok(false);
            }
            s.lead = lead_of(&c.id, field, s).map_err(&corrupt)?;
            Ok(true)
        };
        let mut changed = fill("phone", &mut out.phone)?;
        for (i, p) in out.extra_phones.iter_mut().enumerate() {
            changed |= fill(&format!("extra_phones.{i}"), p)?;
        }
        if changed {
            customers.insert(
                c.id.as_str(),
                super::customer_codec::encode(&out)?.as_slice(),
            )?;
            sync(tx, Some(c), &out)?;
        }
    }
    match batch.last() {
        Some(last) if batch.len() == limit => {
            settings.insert(FILL_CURSOR, last.id.as_str())?;
            Ok(false)
        }
        _ => {
            settings.remove(FILL_CURSOR)?;
            Ok(true)
        }
    }
}
