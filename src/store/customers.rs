//! Customers and their secondary keys (phone and ID-number blind indexes, owner). Keys are
//! kept in step with the record in the same transaction by [`put`].
//!
//! Outside `store`, customer data (records, keys, follow-ups, timeline events) is read only
//! through a [`Reader`]: [`Reader::scoped`] applies the caller's visibility and drops deleted
//! records in one place; [`Reader::unscoped`] is the named handle for the work that
//! legitimately reads everything, and says why ([`Unscoped`]). `tests/it/access_rule.rs`
//! fails when a new file outside `store` takes the unscoped handle.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Result, codec, customer_codec, event_codec, key_codec, tables};
use crate::domain::customer::{Customer, RuleFields};

/// The prefix of the keys of customers with this blind index (`kind` `p` or `i`): the kind and
/// the index's first 128 bits (`key_codec`).
fn index_prefix(kind: char, bidx: &str) -> Vec<u8> {
    let mut k = vec![kind as u8];
    key_codec::push_part(&mut k, Some(bidx));
    k
}

/// The length of a phone or ID-number key's prefix ([`index_prefix`]) before its id; `None`
/// for other keys (the import key log remembers these prefixes for the duplicate check).
fn found_prefix_len(key: &[u8]) -> Option<usize> {
    match key.first() {
        Some(b'p' | b'i') => key_codec::part_len(&key[1..]).map(|n| n + 1),
        _ => None,
    }
}

/// The prefix of the keys of the customers `owner` holds. Since schema 36 only held customers
/// have an owner key: the `o` + none keys (a million of them in a store whose imports went to
/// a pool) were read by nothing, a pool's waiting customers are listed by their `q` keys.
fn owner_prefix(owner: &str) -> Vec<u8> {
    let mut k = vec![b'o'];
    key_codec::push_part(&mut k, Some(owner));
    k
}

/// The prefix of a pool's page keys.
fn pool_prefix(pool: &str) -> Vec<u8> {
    let mut k = vec![b'q'];
    key_codec::push_part(&mut k, Some(pool));
    k
}

fn with_id(mut prefix: Vec<u8>, id: &str) -> Vec<u8> {
    key_codec::push_id(&mut prefix, id);
    prefix
}

fn keys_of(c: &Customer) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    push_found_keys(&mut keys, c);
    push_placed_keys(&mut keys, c);
    keys
}

/// The keys a customer is found by: its phones, ID number and name. They depend only on
/// what [`same_found_keys`] compares.
fn push_found_keys(keys: &mut Vec<Vec<u8>>, c: &Customer) {
    // An erased record's phone has no blind index: nothing to find it by.
    keys.extend(
        std::iter::once(&c.phone)
            .chain(&c.extra_phones)
            .filter(|p| !p.bidx.is_empty())
            .map(|p| with_id(index_prefix('p', &p.bidx), &c.id)),
    );
    if let Some(i) = &c.id_number {
        keys.push(with_id(index_prefix('i', &i.bidx), &c.id));
    }
    if let Some(key) = name_key(c) {
        keys.push(key);
    }
}

/// The keys of where a customer is: its owner, the recycle bin, the pool page.
fn push_placed_keys(keys: &mut Vec<Vec<u8>>, c: &Customer) {
    if let Some(owner) = c.owner_id.as_deref() {
        keys.push(with_id(owner_prefix(owner), &c.id));
    }
    if let Some(key) = bin_key(c) {
        keys.push(key);
    }
    if let Some(key) = waiting_key(c) {
        keys.push(key);
    }
}

/// Whether two versions of one customer have the same [`push_found_keys`]: the same id, blind
/// indexes of the phones (in order) and of the ID number, and name. A recall, claim or
/// transfer changes none of them, so only the placement keys need building and comparing.
fn same_found_keys(a: &Customer, b: &Customer) -> bool {
    a.id == b.id
        && a.name == b.name
        && a.phone.bidx == b.phone.bidx
        && a.extra_phones.len() == b.extra_phones.len()
        && a.extra_phones
            .iter()
            .zip(&b.extra_phones)
            .all(|(x, y)| x.bidx == y.bidx)
        && a.id_number.as_ref().map(|i| &i.bidx) == b.id_number.as_ref().map(|i| &i.bidx)
}

/// The keys to remove and to insert when `before` becomes `c` (each list without the keys both
/// have).
fn key_changes(before: &Customer, c: &Customer) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut old_keys, mut new_keys) = (Vec::new(), Vec::new());
    if !same_found_keys(before, c) {
        push_found_keys(&mut old_keys, before);
        push_found_keys(&mut new_keys, c);
    }
    push_placed_keys(&mut old_keys, before);
    push_placed_keys(&mut new_keys, c);
    let remove = old_keys
        .iter()
        .filter(|k| !new_keys.contains(k))
        .cloned()
        .collect();
    new_keys.retain(|k| !old_keys.contains(k));
    (remove, new_keys)
}

/// The pool page's key of a customer waiting in a pool (no owner, not deleted), in id order
/// within the pool: `q`, the pool, the id.
fn waiting_key(c: &Customer) -> Option<Vec<u8>> {
    match (&c.pool_id, &c.owner_id, c.deleted_at) {
        (Some(pool), None, None) => Some(with_id(pool_prefix(pool), &c.id)),
        _ => None,
    }
}

/// Pool-page keys per pool (for `doctor`: each count must equal the pool's waiting counter).
pub(super) fn waiting_keys_per_pool(
    tx: &ReadTransaction,
) -> Result<std::collections::BTreeMap<String, u64>> {
    let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    let mut out = std::collections::BTreeMap::new();
    for row in keys.range::<&[u8]>(&b"q"[..]..&b"r"[..])? {
        let (k, _) = row?;
        let k = k.value();
        let Some(start) = key_codec::id_start(k) else {
            continue;
        };
        if let Some(pool) = key_codec::part_id(&k[1..start])? {
            *out.entry(pool).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// The exact-name key (the duplicate check's "same name" hint); none for an anonymised record.
fn name_key(c: &Customer) -> Option<Vec<u8>> {
    (!c.phone.bidx.is_empty()).then(|| with_id(name_prefix(&c.name), &c.id))
}

fn name_prefix(name: &str) -> Vec<u8> {
    let mut k = vec![b'n'];
    key_codec::push_name(&mut k, name);
    k
}

/// Up to `limit` ids of customers named exactly `name` (deleted ones too), in id order. A
/// name holding a 0 byte is keyed without it (`key_codec::push_name`) and can list others:
/// callers compare names.
pub(super) fn ids_by_name(tx: &ReadTransaction, name: &str, limit: usize) -> Result<Vec<String>> {
    let mut ids = ids_with_prefix(&tx.open_table(tables::CUSTOMER_KEYS)?, &name_prefix(name))?;
    ids.truncate(limit);
    Ok(ids)
}

/// The recycle bin's key of a deleted, not yet anonymised customer (an anonymised record has
/// no phone blind index), in deletion-time order: `b`, the deletion time in microseconds
/// (8 bytes, `key_codec::push_micros`), the id.
fn bin_key(c: &Customer) -> Option<Vec<u8>> {
    let at = c.deleted_at?;
    (!c.phone.bidx.is_empty()).then(|| with_id(bin_prefix(at.timestamp_micros()), &c.id))
}

fn bin_prefix(micros: i64) -> Vec<u8> {
    let mut k = vec![b'b'];
    key_codec::push_micros(&mut k, micros);
    k
}

/// The text a page cursor shows for a recycle-bin key: `b:<microseconds, 20 digits>/<id>`
/// (what the keys themselves were before schema 35).
fn bin_cursor(key: &[u8]) -> Result<(String, String)> {
    let (micros, id) = key_codec::bin_parts(key)?;
    Ok((format!("b:{micros:020}/{id}"), id))
}

/// The key a page cursor (`is_bin_key`) stands for; `None` when it is not one.
fn bin_key_of_cursor(cursor: &str) -> Option<Vec<u8>> {
    if !is_bin_key(cursor) {
        return None;
    }
    let (micros, id) = cursor.strip_prefix("b:")?.split_once('/')?;
    // 20 digits can exceed the largest time: such a cursor is after every key.
    let micros = micros.parse::<u128>().ok()?;
    let micros = i64::try_from(micros).unwrap_or(i64::MAX);
    Some(with_id(bin_prefix(micros), id))
}

/// The customers in the recycle bin (deleted, not anonymised), oldest deletion first, with
/// the deletion time; only those deleted before `before` when given. Reads the bin's keys,
/// not the records.
pub(super) fn in_bin(
    tx: &ReadTransaction,
    before: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<String>> {
    let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    let end = match before {
        Some(t) => bin_prefix(t.timestamp_micros()),
        None => b"c".to_vec(),
    };
    let mut out = Vec::new();
    for row in keys.range::<&[u8]>(&b"b"[..]..end.as_slice())? {
        let (k, _) = row?;
        out.push(key_codec::bin_parts(k.value())?.1);
    }
    Ok(out)
}

/// Whether `key` has the shape of a recycle-bin page cursor (`b:<20 digits>/<id>`).
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

/// The recycle bin newest deletion first, from the key just before `before` (a page cursor,
/// [`is_bin_key`]; from the newest when `None`): gives `visit` each key's cursor text and
/// customer id until it answers `false`. Reads only the keys visited.
pub(super) fn bin_newest_first(
    tx: &ReadTransaction,
    before: Option<&str>,
    mut visit: impl FnMut(&str, &str) -> Result<bool>,
) -> Result<()> {
    let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    let end = match before {
        Some(c) => bin_key_of_cursor(c)
            .ok_or_else(|| super::Error::Misuse(format!("not a recycle-bin cursor: {c}")))?,
        None => b"c".to_vec(),
    };
    for row in keys.range::<&[u8]>(&b"b"[..]..end.as_slice())?.rev() {
        let (k, _) = row?;
        let (cursor, id) = bin_cursor(k.value())?;
        if !visit(&cursor, &id)? {
            break;
        }
    }
    Ok(())
}

/// The text keys of schemas 5 to 34 (`tables::CUSTOMER_KEYS_V34`), written only by the
/// migrations before 35 (which then rebuilds the binary keys from the records).
mod v34 {
    use super::Customer;

    /// The first 128 bits (32 hex digits) of a blind index (schema 32).
    pub(super) fn short(bidx: &str) -> &str {
        bidx.get(..32).unwrap_or(bidx)
    }

    pub(super) fn keys_of(c: &Customer) -> Vec<String> {
        let mut keys = Vec::new();
        keys.extend(
            std::iter::once(&c.phone)
                .chain(&c.extra_phones)
                .filter(|p| !p.bidx.is_empty())
                .map(|p| format!("p:{}/{}", short(&p.bidx), c.id)),
        );
        if let Some(i) = &c.id_number {
            keys.push(format!("i:{}/{}", short(&i.bidx), c.id));
        }
        keys.push(format!(
            "o:{}/{}",
            c.owner_id.as_deref().unwrap_or("-"),
            c.id
        ));
        keys.extend(bin_key(c));
        keys.extend(name_key(c));
        keys.extend(waiting_key(c));
        keys
    }

    pub(super) fn waiting_key(c: &Customer) -> Option<String> {
        match (&c.pool_id, &c.owner_id, c.deleted_at) {
            (Some(pool), None, None) => Some(format!("q:{pool}/{}", c.id)),
            _ => None,
        }
    }

    pub(super) fn name_key(c: &Customer) -> Option<String> {
        (!c.phone.bidx.is_empty()).then(|| format!("n:{}/{}", c.name, c.id))
    }

    pub(super) fn bin_key(c: &Customer) -> Option<String> {
        let at = c.deleted_at?;
        (!c.phone.bidx.is_empty()).then(|| format!("b:{:020}/{}", at.timestamp_micros(), c.id))
    }
}

/// Schema 15, one batch: the pool-page keys of the customers waiting in a pool (text keys,
/// rebuilt in binary by step 35).
pub(super) fn add_waiting_keys_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut added: Vec<String> = Vec::new();
    let (last, n) = batch_w(tx, after, limit, |_, c: Customer| {
        added.extend(v34::waiting_key(&c));
        Ok(())
    })?;
    let mut keys = tx.open_table(tables::CUSTOMER_KEYS_V34)?;
    for key in &added {
        keys.insert(key.as_str(), "")?;
    }
    Ok((last, n))
}

pub(super) fn get(tx: &ReadTransaction, id: &str) -> Result<Option<Customer>> {
    let table = tx.open_table(tables::CUSTOMERS)?;
    let v = table.get(id)?;
    v.map(|v| customer_codec::decode(id, v.value())).transpose()
}

pub(super) fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<Customer>> {
    let table = tx.open_table(tables::CUSTOMERS)?;
    let v = table.get(id)?;
    v.map(|v| customer_codec::decode(id, v.value())).transpose()
}

/// Writes the record, moves its secondary keys from `before` to the new values and keeps its
/// compact rule view (`rule_fields`) in step. Written by no one in particular (a job, a
/// migration): see [`put_by`].
pub fn put(tx: &WriteTransaction, before: Option<&Customer>, c: &Customer) -> Result<()> {
    put_by(tx, before, c, None)
}

/// [`put`] by `actor`: when the customer becomes a user's who did not hold it before, and that
/// user is not the actor (claiming, creating one's own), the user gets a notice
/// (`store::notices`) in this transaction.
pub fn put_by(
    tx: &WriteTransaction,
    before: Option<&Customer>,
    c: &Customer,
    actor: Option<&str>,
) -> Result<()> {
    if let Some(owner) = c.owner_id.as_deref()
        && c.deleted_at.is_none()
        && before.and_then(|b| b.owner_id.as_deref()) != Some(owner)
        && actor != Some(owner)
    {
        super::notices::push(tx, owner, "assigned", &c.id, actor, c.updated_at)?;
    }
    let mut keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    match before {
        // Same record: only the keys that changed (every key's value is the id), so a write
        // that moves one key (a recall: owner and pool) does not rewrite the others.
        Some(old) if old.id == c.id => {
            let (remove, insert) = key_changes(old, c);
            for k in &remove {
                keys.remove(k.as_slice())?;
            }
            for k in &insert {
                keys.insert(k.as_slice(), ())?;
            }
        }
        _ => {
            if let Some(old) = before {
                for k in keys_of(old) {
                    keys.remove(k.as_slice())?;
                }
            }
            for k in &keys_of(c) {
                keys.insert(k.as_slice(), ())?;
            }
        }
    }
    let (was, is) = (before.and_then(bin_key).is_some(), bin_key(c).is_some());
    if was != is {
        super::loads::shift_bin(tx, is)?;
    }
    tx.open_table(tables::CUSTOMERS)?
        .insert(c.id.as_str(), customer_codec::encode(c)?.as_slice())?;
    super::rule_fields::sync(tx, c)?;
    super::match_rows::sync(tx, c)?;
    super::leads::sync(tx, before, c)?;
    super::channels::on_customer(tx, before, c)?;
    if c.deleted_at.is_none() {
        super::funnel::on_customer(tx, c)?;
    }
    super::outbox::enqueue(tx, &c.id)?;
    Ok(())
}

/// [`put`] for many distinct existing customers at once (a recall sweep's batch): each
/// `(before, after)` pair is one customer's stored record and its new value. Ends exactly where
/// one [`put`] after the other would — the same records, keys, rule views, owner loads,
/// counters, notices and search outbox numbers — but opens each table once, writes keys in
/// key order and counters once, and encodes the records on two threads. Refused (nothing
/// written by it) when a pair names two customers or a customer comes twice.
pub fn put_many(tx: &WriteTransaction, items: &[(&Customer, &Customer)]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    if items
        .iter()
        .any(|(before, c)| before.id != c.id || !seen.insert(c.id.as_str()))
    {
        return Err(super::Error::Misuse(
            "put_many takes distinct customers, each with its own stored record".into(),
        ));
    }
    let encoded = encode_all(items.iter().map(|(_, c)| *c))?;
    for (before, c) in items {
        if let Some(owner) = c.owner_id.as_deref()
            && c.deleted_at.is_none()
            && before.owner_id.as_deref() != Some(owner)
        {
            super::notices::push(tx, owner, "assigned", &c.id, None, c.updated_at)?;
        }
    }
    {
        // Every key names its customer: distinct customers never share one.
        let mut remove = Vec::new();
        let mut insert = Vec::new();
        for (before, c) in items {
            let (gone, added) = key_changes(before, c);
            remove.extend(gone);
            insert.extend(added);
        }
        remove.sort_unstable();
        insert.sort_unstable();
        let mut keys = tx.open_table(tables::CUSTOMER_KEYS)?;
        for k in &remove {
            keys.remove(k.as_slice())?;
        }
        // No values: the id is the key's last part.
        for k in &insert {
            keys.insert(k.as_slice(), ())?;
        }
    }
    for (before, c) in items {
        let (was, is) = (bin_key(before).is_some(), bin_key(c).is_some());
        if was != is {
            super::loads::shift_bin(tx, is)?;
        }
    }
    {
        let mut table = tx.open_table(tables::CUSTOMERS)?;
        for ((_, c), bytes) in items.iter().zip(&encoded) {
            table.insert(c.id.as_str(), bytes.as_slice())?;
        }
    }
    let after: Vec<&Customer> = items.iter().map(|(_, c)| *c).collect();
    super::rule_fields::sync_many(tx, &after)?;
    super::match_rows::sync_many(tx, &after)?;
    for (before, c) in items {
        super::leads::sync(tx, Some(before), c)?;
        super::channels::on_customer(tx, Some(before), c)?;
    }
    super::funnel::on_customers(tx, &after)?;
    let ids: Vec<&str> = items.iter().map(|(_, c)| c.id.as_str()).collect();
    super::outbox::enqueue_many(tx, &ids)
}

/// [`put_by`] for many NEW customers at once (an import batch: `before` none for each), by
/// `actor`. Ends exactly where one [`put_by`] after the other, in the order given, would — the
/// same records, keys, rule views, owner loads, report keys, lead keys, channel and funnel
/// counters, notices and search outbox numbers — but opens each table once, writes keys in
/// key order and counters once per key, and encodes the records on two threads. Refused
/// (nothing written) when a customer comes twice.
pub fn insert_many(tx: &WriteTransaction, cs: &[&Customer], actor: Option<&str>) -> Result<()> {
    insert_many_logged(tx, cs, actor, None)
}

/// [`insert_many`] that, given an import's key log, logs the keys with random prefixes
/// instead of inserting them (phones, ID number and name into `customer_keys_bin`, the phones'
/// lead-check keys into `lead_check_bin`; `store::keylog`), merged into their tables when the
/// import ends. The keys of where a customer is (owner, pool page, recycle bin) follow the id
/// and are inserted as usual.
pub fn insert_many_logged(
    tx: &WriteTransaction,
    cs: &[&Customer],
    actor: Option<&str>,
    log: Option<&mut super::keylog::ImportLog>,
) -> Result<()> {
    if cs.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(cs.len());
    if cs.iter().any(|c| !seen.insert(c.id.as_str())) {
        return Err(super::Error::Misuse(
            "insert_many takes distinct customers".into(),
        ));
    }
    let encoded = encode_all(cs.iter().copied())?;
    let notices: Vec<_> = cs
        .iter()
        .filter_map(|c| match c.owner_id.as_deref() {
            Some(owner) if c.deleted_at.is_none() && actor != Some(owner) => {
                Some((owner, "assigned", c.id.as_str(), actor, c.updated_at))
            }
            _ => None,
        })
        .collect();
    super::notices::push_many(tx, &notices)?;
    let mut log = log;
    {
        let mut keys: Vec<Vec<u8>> = Vec::with_capacity(cs.len() * 5);
        if let Some(log) = log.as_deref_mut() {
            let mut found = Vec::with_capacity(cs.len() * 3);
            for c in cs {
                push_found_keys(&mut found, c);
                push_placed_keys(&mut keys, c);
            }
            log.append(tx, found, super::leads::new_keys(cs), found_prefix_len)?;
        } else {
            keys.extend(cs.iter().flat_map(|c| keys_of(c)));
        }
        keys.sort_unstable();
        let mut table = tx.open_table(tables::CUSTOMER_KEYS)?;
        for k in &keys {
            table.insert(k.as_slice(), ())?;
        }
    }
    for c in cs {
        if bin_key(c).is_some() {
            super::loads::shift_bin(tx, true)?;
        }
    }
    {
        let mut order: Vec<usize> = (0..cs.len()).collect();
        order.sort_unstable_by(|&a, &b| cs[a].id.cmp(&cs[b].id));
        let mut table = tx.open_table(tables::CUSTOMERS)?;
        for i in order {
            table.insert(cs[i].id.as_str(), encoded[i].as_slice())?;
        }
    }
    super::rule_fields::sync_many(tx, cs)?;
    super::match_rows::sync_many(tx, cs)?;
    if log.is_none() {
        super::leads::add_new_many(tx, cs)?;
    }
    super::channels::on_new_customers(tx, cs)?;
    super::funnel::on_new_customers(tx, cs)?;
    let ids: Vec<&str> = cs.iter().map(|c| c.id.as_str()).collect();
    super::outbox::enqueue_many(tx, &ids)
}

/// Encodes records as [`put`] does, on two threads when there are many.
fn encode_all<'c>(cs: impl Iterator<Item = &'c Customer>) -> Result<Vec<Vec<u8>>> {
    let cs: Vec<&Customer> = cs.collect();
    if cs.len() < 64 {
        return cs.into_iter().map(customer_codec::encode).collect();
    }
    let (first, second) = cs.split_at(cs.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            second
                .iter()
                .map(|c| customer_codec::encode(c))
                .collect::<Result<Vec<_>>>()
        });
        let mut out = first
            .iter()
            .map(|c| customer_codec::encode(c))
            .collect::<Result<Vec<_>>>()?;
        match other.join() {
            Ok(rest) => out.extend(rest?),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        Ok(out)
    })
}

/// Decodes records read in one pass (each with its id), on two threads when there are many.
fn decode_all(raw: &[(&str, Option<Vec<u8>>)]) -> Result<Vec<Option<Customer>>> {
    let one = |(id, r): &(&str, Option<Vec<u8>>)| {
        r.as_deref()
            .map(|b| customer_codec::decode(id, b))
            .transpose()
    };
    if raw.len() < 64 {
        return raw.iter().map(one).collect();
    }
    let (first, second) = raw.split_at(raw.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| second.iter().map(one).collect::<Result<Vec<_>>>());
        let mut out = first.iter().map(one).collect::<Result<Vec<_>>>()?;
        match other.join() {
            Ok(rest) => out.extend(rest?),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        Ok(out)
    })
}

/// Asks for the file to be compacted when the store is next let go or opened: an erased
/// customer's old record must not stay readable in redb's free pages.
pub fn request_scrub(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(tables::SETTINGS)?
        .insert(super::SCRUB_PENDING, "1")?;
    Ok(())
}

/// The customer ids under one key prefix of `customer_keys`.
fn ids_with_prefix(
    keys: &impl ReadableTable<&'static [u8], ()>,
    prefix: &[u8],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for row in keys.range::<&[u8]>(prefix..)? {
        let (k, _) = row?;
        let Some(id) = k.value().strip_prefix(prefix) else {
            break;
        };
        out.push(key_codec::id_text(id)?);
    }
    Ok(out)
}

/// Ids of customers with this blind index (`kind` is `p` for phones, `i` for ID numbers).
pub(super) fn ids_by_index_w(tx: &WriteTransaction, kind: char, bidx: &str) -> Result<Vec<String>> {
    ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &index_prefix(kind, bidx),
    )
}

pub(super) fn ids_by_index(tx: &ReadTransaction, kind: char, bidx: &str) -> Result<Vec<String>> {
    ids_with_prefix(
        &tx.open_table(tables::CUSTOMER_KEYS)?,
        &index_prefix(kind, bidx),
    )
}

pub(super) fn ids_by_owner_w(tx: &WriteTransaction, owner: &str) -> Result<Vec<String>> {
    ids_with_prefix(&tx.open_table(tables::CUSTOMER_KEYS)?, &owner_prefix(owner))
}

/// Customer ids owned by `owner`, in id order (customers in no one's hands have no owner key
/// since schema 36).
pub(super) fn ids_by_owner(tx: &ReadTransaction, owner: &str) -> Result<Vec<String>> {
    ids_with_prefix(&tx.open_table(tables::CUSTOMER_KEYS)?, &owner_prefix(owner))
}

/// Every customer, in id (creation) order, starting after `after`.
pub(super) fn scan(
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
        let (id, v) = row?;
        if !visit(customer_codec::decode(id.value(), v.value())?) {
            break;
        }
    }
    Ok(())
}

/// One batch of a rebuild from the records: at most `limit` customers after `after` (from the
/// first when `None`), in id order, each decoded as `D` (the whole record, or just the
/// [`RuleFields`]) and given to `visit`. Returns the last id visited and how many (fewer than
/// `limit`: done).
fn batch_w<D: customer_codec::FromRecord>(
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
        visit(id.value(), D::from_record(id.value(), v.value())?)?;
        last = Some(id.value().to_string());
        n += 1;
    }
    Ok((last, n))
}

/// [`batch_w`] over whole records.
pub(super) fn records_batch_w(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
    mut visit: impl FnMut(&Customer) -> Result<()>,
) -> Result<(Option<String>, usize)> {
    batch_w(tx, after, limit, |_, c: Customer| visit(&c))
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
        for key in [v34::bin_key(&c), v34::name_key(&c)].into_iter().flatten() {
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
        table.insert(c.id.as_str(), customer_codec::encode(c)?.as_slice())?;
    }
    let mut keys = tx.open_table(tables::CUSTOMER_KEYS_V34)?;
    for (key, _) in &added {
        keys.insert(key.as_str(), "")?;
    }
    Ok((last, n))
}

/// Schema 32, one batch: records still in JSON (format 1) rewritten in the compact format 2,
/// and the batch's customer keys and lead-check keys written in their short text form (the
/// first batch emptied both tables: `migrate::to_32_compact`; step 35 then rebuilds them in
/// binary).
pub fn compact_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut table = tx.open_table(tables::CUSTOMERS)?;
    let mut rewrite: Vec<(String, Vec<u8>)> = Vec::new();
    let mut batch: Vec<Customer> = Vec::new();
    let (mut last, mut n) = (None, 0);
    {
        let range = match after {
            Some(a) => {
                table.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
            }
            None => table.range::<&str>(..)?,
        };
        for row in range.take(limit) {
            let (id, v) = row?;
            let c = customer_codec::decode(id.value(), v.value())?;
            if customer_codec::is_legacy(v.value()) {
                rewrite.push((id.value().to_string(), customer_codec::encode(&c)?));
            }
            batch.push(c);
            last = Some(id.value().to_string());
            n += 1;
        }
    }
    for (id, bytes) in &rewrite {
        table.insert(id.as_str(), bytes.as_slice())?;
    }
    let mut keys = tx.open_table(tables::CUSTOMER_KEYS_V34)?;
    for c in &batch {
        for k in v34::keys_of(c) {
            keys.insert(k.as_str(), "")?;
        }
    }
    drop(keys);
    super::leads::add_keys_v34(tx, &batch)?;
    Ok((last, n))
}

/// Schema 35, one batch: the records of a batch of customers rewritten in format 3 (those in
/// format 1 or 2; `customer_codec`), their customer keys and lead-check keys written in the
/// binary form, and their rule views rewritten in format 2 (`rule_fields`) (the first batch dropped the text tables and created the binary ones
/// empty: `migrate::to_35_binary_keys`). The batch that ends the step sets the recycle bin's
/// counter from the keys built (the text keys it was counted from are gone).
pub fn binary_keys_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut batch: Vec<Customer> = Vec::new();
    let mut rewrite: Vec<(String, Vec<u8>)> = Vec::new();
    let (mut last, mut n) = (None, 0);
    {
        let table = tx.open_table(tables::CUSTOMERS)?;
        let range = match after {
            Some(a) => {
                table.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
            }
            None => table.range::<&str>(..)?,
        };
        for row in range.take(limit) {
            let (id, v) = row?;
            let c = customer_codec::decode(id.value(), v.value())?;
            if customer_codec::is_older(v.value()) {
                rewrite.push((id.value().to_string(), customer_codec::encode(&c)?));
            }
            keys.extend(keys_of(&c));
            batch.push(c);
            last = Some(id.value().to_string());
            n += 1;
        }
    }
    if !rewrite.is_empty() {
        let mut table = tx.open_table(tables::CUSTOMERS)?;
        for (id, bytes) in &rewrite {
            table.insert(id.as_str(), bytes.as_slice())?;
        }
    }
    keys.sort_unstable();
    let mut table = tx.open_table(tables::CUSTOMER_KEYS)?;
    for k in &keys {
        table.insert(k.as_slice(), ())?;
    }
    drop(table);
    let refs: Vec<&Customer> = batch.iter().collect();
    super::leads::add_new_many(tx, &refs)?;
    super::rule_fields::rewrite_many(tx, &batch)?;
    if n < limit {
        super::loads::count_bin(tx)?;
    }
    Ok((last, n))
}

/// Differences between the customer keys and the keys the records call for, for `zhudai
/// doctor` (reads every record and key: an offline check, never on a request path). First
/// compares a count and an order-free sum of a hash of every key (constant memory); only when
/// they differ are the two sets built to name the customers concerned (at most `limit`).
pub fn key_drift(tx: &ReadTransaction, limit: usize) -> Result<Vec<String>> {
    let fingerprint = |k: &[u8]| -> u128 {
        use sha2::Digest;
        let d = sha2::Sha256::digest(k);
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        u128::from_le_bytes(b)
    };
    let records = tx.open_table(tables::CUSTOMERS)?;
    let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
    let (mut want, mut want_n) = (0u128, 0u64);
    for row in records.iter()? {
        let (id, v) = row?;
        let mut ks = keys_of(&customer_codec::decode(id.value(), v.value())?);
        ks.sort_unstable();
        ks.dedup();
        for k in ks {
            want = want.wrapping_add(fingerprint(&k));
            want_n += 1;
        }
    }
    let (mut have, mut have_n) = (0u128, 0u64);
    for row in keys.iter()? {
        let (k, _) = row?;
        have = have.wrapping_add(fingerprint(k.value()));
        have_n += 1;
    }
    if (want, want_n) == (have, have_n) {
        return Ok(Vec::new());
    }
    let mut expected = std::collections::BTreeSet::new();
    for row in records.iter()? {
        let (id, v) = row?;
        expected.extend(keys_of(&customer_codec::decode(id.value(), v.value())?));
    }
    let mut out = Vec::new();
    let mut actual = std::collections::BTreeSet::new();
    for row in keys.iter()? {
        let (k, _) = row?;
        actual.insert(k.value().to_vec());
    }
    let name = |k: &[u8]| {
        let kind = k.first().map_or('?', |&b| char::from(b));
        match key_codec::id_of_key(k) {
            Ok(id) => format!("customer {id}: a `{kind}` key"),
            Err(_) => format!("a `{kind}` key of no known shape ({} bytes)", k.len()),
        }
    };
    out.extend(
        expected
            .difference(&actual)
            .map(|k| format!("{} is missing", name(k))),
    );
    out.extend(
        actual
            .difference(&expected)
            .map(|k| format!("{} is stale", name(k))),
    );
    if out.is_empty() {
        out.push(format!(
            "{have_n} keys stored, {want_n} called for by the records"
        ));
    }
    out.truncate(limit);
    Ok(out)
}

/// Counts today's reveals under `counter` (a user id, or `<user id>/own` for their own
/// customers' phones) and adds one; returns the count after adding.
pub fn add_reveal(tx: &WriteTransaction, counter: &str, day: &str) -> Result<u64> {
    let mut t = tx.open_table(tables::REVEALS)?;
    let key = format!("{counter}/{day}");
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
    let key = event_codec::key(customer_id, &e.id);
    tx.open_table(tables::CUSTOMER_EVENTS)?
        .insert(key.as_slice(), event_codec::encode(e)?.as_slice())?;
    Ok(())
}

/// [`add_event`] for many events with one table handle, in key order.
pub fn add_events(tx: &WriteTransaction, events: &[(&str, TimelineEvent)]) -> Result<()> {
    let mut rows = events
        .iter()
        .map(|(customer_id, e)| {
            Ok((
                event_codec::key(customer_id, &e.id),
                event_codec::encode(e)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut table = tx.open_table(tables::CUSTOMER_EVENTS)?;
    for (key, bytes) in &rows {
        table.insert(key.as_slice(), bytes.as_slice())?;
    }
    Ok(())
}

pub(super) fn events(tx: &ReadTransaction, customer_id: &str) -> Result<Vec<TimelineEvent>> {
    events_in(&tx.open_table(tables::CUSTOMER_EVENTS)?, customer_id)
}

/// The events under the customer's prefix, in key (time) order, any format.
fn events_in(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    customer_id: &str,
) -> Result<Vec<TimelineEvent>> {
    let prefix = event_codec::prefix(customer_id);
    let mut out = Vec::new();
    for row in table.range(prefix.as_slice()..)? {
        let (k, v) = row?;
        if !k.value().starts_with(&prefix) {
            break;
        }
        out.push(event_codec::decode(k.value(), v.value())?);
    }
    Ok(out)
}

pub fn put_followup(tx: &WriteTransaction, f: &crate::domain::followup::Followup) -> Result<()> {
    let key = format!("{}/{}", f.customer_id, f.id);
    tx.open_table(tables::FOLLOWUPS)?
        .insert(key.as_str(), codec::encode(f)?.as_slice())?;
    // Follow-up text is searchable: the customer's document changes with it.
    super::outbox::enqueue(tx, &f.customer_id)?;
    Ok(())
}

pub(super) fn followups(
    tx: &ReadTransaction,
    customer_id: &str,
) -> Result<Vec<crate::domain::followup::Followup>> {
    prefixed(&tx.open_table(tables::FOLLOWUPS)?, customer_id, "followups")
}

/// Every follow-up of a customer, in a write transaction (to rewrite them).
pub(super) fn followups_w(
    tx: &WriteTransaction,
    customer_id: &str,
) -> Result<Vec<crate::domain::followup::Followup>> {
    prefixed(&tx.open_table(tables::FOLLOWUPS)?, customer_id, "followups")
}

pub(super) fn followup_w(
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

/// Decides whether a reader sees a customer: the caller's data scope (and, for reads, the
/// pools they are a member of). Implemented by `service::access::scope`.
pub trait Sees {
    fn sees(&self, c: &Customer) -> bool;
    /// The same decision from a compact match row (owner and collaborators): the data scope
    /// only, without the pool-member exception of reads.
    fn sees_row(&self, r: &super::match_rows::MatchRow) -> bool;
}

/// Why a use case reads customers without a caller's scope. Each variant is one kind of work
/// that must see every record; `tests/it/access_rule.rs` keeps a list of the files allowed to
/// use each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unscoped {
    /// Firm-wide duplicate checks (create, import, duplicate hints): a duplicate may be anyone's;
    /// what the caller then sees of it is masked by the service.
    Duplicates,
    /// Claims, releases and assignment act on customers in pools or in someone else's hands
    /// under the pool and assignment rules, which are checked by the caller of the reader.
    PoolRules,
    /// The recall sweep, purges and erasure: jobs over every record.
    Jobs,
    /// Handing over a leaving user's customers (admin).
    Handover,
    /// A full phone or ID number typed into search resolves to ids through the blind index;
    /// the search then applies the caller's scope to them.
    NumberLookup,
    /// A call from the PBX is matched to a customer by the customer-side number's blind index
    /// (the integration acts for the firm; what leaves is masked).
    CallMatch,
    /// A customer's stage follows its most advanced open deal (issue 16.4): the deal's scope
    /// was checked; the customer may be outside the mover's (an assistant, a manager moving
    /// a deal of a customer since transferred).
    DealStage,
    /// A contract names its deal's borrower (name, ID number, phone, address): the deal's
    /// scope was checked; the customer may be outside the caller's (an assistant).
    Contract,
    /// Re-encryption under a new key, search reindex, exports of the whole book by the job
    /// that checks scope per row.
    Maintenance,
}

/// A transaction a [`Reader`] reads in (a write transaction sees its own writes).
#[derive(Clone, Copy)]
pub enum Tx<'t> {
    Read(&'t ReadTransaction),
    Write(&'t WriteTransaction),
}

impl<'t> From<&'t ReadTransaction> for Tx<'t> {
    fn from(tx: &'t ReadTransaction) -> Tx<'t> {
        Tx::Read(tx)
    }
}

impl<'t> From<&'t WriteTransaction> for Tx<'t> {
    fn from(tx: &'t WriteTransaction) -> Tx<'t> {
        Tx::Write(tx)
    }
}

impl<'t> From<&'t super::WriteTransaction> for Tx<'t> {
    fn from(tx: &'t super::WriteTransaction) -> Tx<'t> {
        Tx::Write(tx)
    }
}

#[derive(Clone, Copy)]
enum Access<'t> {
    Scoped(&'t dyn Sees),
    Unscoped(Unscoped),
}

/// The one way to read customer data from outside `store`.
#[derive(Clone, Copy)]
pub struct Reader<'t> {
    tx: Tx<'t>,
    access: Access<'t>,
}

impl<'t> Reader<'t> {
    /// Reads what `sees` allows; deleted records are only returned by [`Reader::deleted`].
    pub fn scoped(tx: impl Into<Tx<'t>>, sees: &'t dyn Sees) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            access: Access::Scoped(sees),
        }
    }

    /// Reads every record (deleted ones through [`Reader::deleted`] / [`Reader::any`]).
    pub fn unscoped(tx: impl Into<Tx<'t>>, why: Unscoped) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            access: Access::Unscoped(why),
        }
    }

    pub fn why(&self) -> Option<Unscoped> {
        match self.access {
            Access::Scoped(_) => None,
            Access::Unscoped(why) => Some(why),
        }
    }

    fn sees(&self, c: &Customer) -> bool {
        match self.access {
            Access::Scoped(s) => s.sees(c),
            Access::Unscoped(_) => true,
        }
    }

    /// The record in any state (live, deleted, anonymised) when the reader sees it.
    pub fn any(&self, id: &str) -> Result<Option<Customer>> {
        let found = match self.tx {
            Tx::Read(tx) => get(tx, id)?,
            Tx::Write(tx) => get_w(tx, id)?,
        };
        Ok(found.filter(|c| self.sees(c)))
    }

    /// [`Reader::any`] for many ids: the records read with one table handle, decoded on two
    /// threads when there are many; in the order of `ids`.
    pub fn any_many(&self, ids: &[&str]) -> Result<Vec<Option<Customer>>> {
        /// Each id with its record's bytes, if stored.
        type Raw<'i> = Vec<(&'i str, Option<Vec<u8>>)>;
        fn raw<'i>(
            table: &impl ReadableTable<&'static str, &'static [u8]>,
            ids: &[&'i str],
        ) -> Result<Raw<'i>> {
            ids.iter()
                .map(|id| Ok((*id, table.get(*id)?.map(|v| v.value().to_vec()))))
                .collect()
        }
        let raw = match self.tx {
            Tx::Read(tx) => raw(&tx.open_table(tables::CUSTOMERS)?, ids)?,
            Tx::Write(tx) => raw(&tx.open_table(tables::CUSTOMERS)?, ids)?,
        };
        Ok(decode_all(&raw)?
            .into_iter()
            .map(|c| c.filter(|c| self.sees(c)))
            .collect())
    }

    /// The live (not deleted) record when the reader sees it: `None` when absent, deleted or
    /// out of scope alike.
    pub fn live(&self, id: &str) -> Result<Option<Customer>> {
        Ok(self.any(id)?.filter(|c| c.deleted_at.is_none()))
    }

    /// [`Reader::live`] decoded for display ([`customer_codec::Shown`]): the detail read, which
    /// shows the masked view and so leaves ciphertexts and indexes unread. The same scope and
    /// deletion checks, on the same fields.
    pub fn live_shown(&self, id: &str) -> Result<Option<customer_codec::Shown>> {
        fn one(
            table: &impl ReadableTable<&'static str, &'static [u8]>,
            id: &str,
        ) -> Result<Option<customer_codec::Shown>> {
            table
                .get(id)?
                .map(|v| customer_codec::decode_shown(id, v.value()))
                .transpose()
        }
        let found = match self.tx {
            Tx::Read(tx) => one(&tx.open_table(tables::CUSTOMERS)?, id)?,
            Tx::Write(tx) => one(&tx.open_table(tables::CUSTOMERS)?, id)?,
        };
        Ok(found.filter(|s| s.customer.deleted_at.is_none() && self.sees(&s.customer)))
    }

    /// A deleted record (recycle bin, erasure) when the reader sees it.
    pub fn deleted(&self, id: &str) -> Result<Option<Customer>> {
        Ok(self.any(id)?.filter(|c| c.deleted_at.is_some()))
    }

    /// Every record decoded as its [`RuleFields`] only (the sealed fields, profile and custom
    /// fields are skipped), in id order: a baseline for the compact rule view.
    pub fn scan_rule_fields(&self, mut visit: impl FnMut(RuleFields) -> bool) -> Result<()> {
        let (Tx::Read(tx), Access::Unscoped(_)) = (self.tx, self.access) else {
            return Err(super::Error::Misuse(
                "rule fields are scanned by an unscoped reader in a read transaction".into(),
            ));
        };
        let table = tx.open_table(tables::CUSTOMERS)?;
        for row in table.range::<&str>(..)? {
            let (id, v) = row?;
            if !visit(customer_codec::decode_rule_fields(id.value(), v.value())?) {
                break;
            }
        }
        Ok(())
    }

    /// Live customers' compact match rows the reader sees (its data scope: pool customers only
    /// for a firm-wide reader), in id order, until `visit` answers false. For the reverse match.
    pub fn scan_match_rows(
        &self,
        mut visit: impl FnMut(&str, super::match_rows::MatchRow) -> Result<bool>,
    ) -> Result<()> {
        let Tx::Read(tx) = self.tx else {
            return Err(super::Error::Misuse(
                "match rows are scanned in a read transaction".into(),
            ));
        };
        super::match_rows::scan(tx, |id, row| {
            let seen = match self.access {
                Access::Scoped(s) => s.sees_row(&row),
                Access::Unscoped(_) => true,
            };
            if seen { visit(id, row) } else { Ok(true) }
        })
    }

    /// How many records the table holds, deleted ones included (unscoped work's progress).
    pub fn count_all(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        if self.why().is_none() {
            return Err(super::Error::Misuse(
                "only an unscoped reader counts every record".into(),
            ));
        }
        Ok(match self.tx {
            Tx::Read(tx) => tx.open_table(tables::CUSTOMERS)?.len()?,
            Tx::Write(tx) => tx.open_table(tables::CUSTOMERS)?.len()?,
        })
    }

    /// Live records the reader sees, in id (creation) order after `after`, until `visit`
    /// answers false.
    pub fn scan(&self, after: Option<&str>, mut visit: impl FnMut(Customer) -> bool) -> Result<()> {
        let Tx::Read(tx) = self.tx else {
            return Err(super::Error::Misuse(
                "customers are scanned in a read transaction".into(),
            ));
        };
        scan(tx, after, |c| {
            if c.deleted_at.is_some() || !self.sees(&c) {
                return true;
            }
            visit(c)
        })
    }

    /// Every record, deleted and anonymised ones too (unscoped work only: key rotation,
    /// reindex).
    pub fn scan_all(&self, after: Option<&str>, visit: impl FnMut(Customer) -> bool) -> Result<()> {
        let (Tx::Read(tx), Access::Unscoped(_)) = (self.tx, self.access) else {
            return Err(super::Error::Misuse(
                "scan_all needs an unscoped reader in a read transaction".into(),
            ));
        };
        scan(tx, after, visit)
    }

    /// Ids of live and deleted records under a key: phone (`p`) or ID-number (`i`) blind
    /// index, not filtered (the records are read and checked with [`Reader::live`]).
    pub fn ids_by_index(&self, kind: char, bidx: &str) -> Result<Vec<String>> {
        match self.tx {
            Tx::Read(tx) => ids_by_index(tx, kind, bidx),
            Tx::Write(tx) => ids_by_index_w(tx, kind, bidx),
        }
    }

    /// For each probe list, the first id found under its keys tried in order (`kind`, blind
    /// index), with one table handle for all of them (an import batch's duplicate lookup).
    pub fn first_ids_by_index(&self, probes: &[Vec<(char, &str)>]) -> Result<Vec<Option<String>>> {
        self.first_ids_by_index_logged(probes, None)
    }

    /// [`Reader::first_ids_by_index`] during an import that logs its keys
    /// (`store::keylog`): the keys in the table and the import's own logged keys, the
    /// smallest id under a probe's prefix from either, as if the logged keys were in the
    /// table. Needs a write transaction when `log` is given.
    pub fn first_ids_by_index_logged(
        &self,
        probes: &[Vec<(char, &str)>],
        log: Option<&super::keylog::ImportLog>,
    ) -> Result<Vec<Option<String>>> {
        if let Some(log) = log {
            let Tx::Write(tx) = self.tx else {
                return Err(super::Error::Misuse(
                    "an import's logged keys are read in its write transaction".into(),
                ));
            };
            let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
            return probes
                .iter()
                .map(|p| {
                    for (kind, bidx) in p {
                        let prefix = index_prefix(*kind, bidx);
                        let mut best: Option<Vec<u8>> = None;
                        if let Some(row) = keys.range::<&[u8]>(prefix.as_slice()..)?.next() {
                            let (k, _) = row?;
                            best = k
                                .value()
                                .strip_prefix(prefix.as_slice())
                                .map(<[u8]>::to_vec);
                        }
                        if let Some(id) = log.first_id(tx, &prefix)?
                            && best.as_ref().is_none_or(|b| id < *b)
                        {
                            best = Some(id);
                        }
                        if let Some(id) = best {
                            return key_codec::id_text(&id).map(Some);
                        }
                    }
                    Ok(None)
                })
                .collect();
        }
        fn first(
            keys: &impl ReadableTable<&'static [u8], ()>,
            probes: &[(char, &str)],
        ) -> Result<Option<String>> {
            for (kind, bidx) in probes {
                let prefix = index_prefix(*kind, bidx);
                if let Some(row) = keys.range::<&[u8]>(prefix.as_slice()..)?.next() {
                    let (k, _) = row?;
                    if let Some(id) = k.value().strip_prefix(prefix.as_slice()) {
                        return Ok(Some(key_codec::id_text(id)?));
                    }
                }
            }
            Ok(None)
        }
        match self.tx {
            Tx::Read(tx) => {
                let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
                probes.iter().map(|p| first(&keys, p)).collect()
            }
            Tx::Write(tx) => {
                let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
                probes.iter().map(|p| first(&keys, p)).collect()
            }
        }
    }

    /// Up to `limit` ids of the customers waiting in `pool_id`, in id order, after `after`
    /// (the last id of the previous page; it need not be in the pool any more). Reads only
    /// the page's keys.
    pub fn ids_in_pool(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let Tx::Read(tx) = self.tx else {
            return Err(super::Error::Misuse(
                "pool pages are read in a read transaction".into(),
            ));
        };
        let keys = tx.open_table(tables::CUSTOMER_KEYS)?;
        let prefix = pool_prefix(pool_id);
        // The prefix alone is no key (every key ends with an id): excluding it starts at the
        // pool's first key.
        let start = match after {
            Some(a) => with_id(prefix.clone(), a),
            None => prefix.clone(),
        };
        let mut out = Vec::with_capacity(limit);
        for row in keys.range::<&[u8]>((
            std::ops::Bound::Excluded(start.as_slice()),
            std::ops::Bound::Unbounded,
        ))? {
            if out.len() == limit {
                break;
            }
            let (k, _) = row?;
            let Some(id) = k.value().strip_prefix(prefix.as_slice()) else {
                break;
            };
            out.push(key_codec::id_text(id)?);
        }
        Ok(out)
    }

    /// Up to `limit` ids of records named exactly `name` (see [`ids_by_name`]).
    pub fn ids_by_name(&self, name: &str, limit: usize) -> Result<Vec<String>> {
        match self.tx {
            Tx::Read(tx) => ids_by_name(tx, name, limit),
            Tx::Write(_) => Err(super::Error::Misuse(
                "names are looked up in a read transaction".into(),
            )),
        }
    }

    /// Ids of the records owned by `owner`, in id order.
    pub fn ids_by_owner(&self, owner: &str) -> Result<Vec<String>> {
        match self.tx {
            Tx::Read(tx) => ids_by_owner(tx, owner),
            Tx::Write(tx) => ids_by_owner_w(tx, owner),
        }
    }

    /// Ids in the recycle bin, oldest deletion first (deleted before `before` when given).
    pub fn in_bin(&self, before: Option<chrono::DateTime<chrono::Utc>>) -> Result<Vec<String>> {
        match self.tx {
            Tx::Read(tx) => in_bin(tx, before),
            Tx::Write(_) => Err(super::Error::Misuse(
                "the recycle bin is listed in a read transaction".into(),
            )),
        }
    }

    /// The recycle bin's keys newest deletion first, from the key just before `before`: gives
    /// `visit` each key and customer id until it answers `false` (ids only: the records are
    /// read with [`Reader::deleted`], which applies the reader's scope).
    pub fn bin_newest_first(
        &self,
        before: Option<&str>,
        visit: impl FnMut(&str, &str) -> Result<bool>,
    ) -> Result<()> {
        match self.tx {
            Tx::Read(tx) => bin_newest_first(tx, before, visit),
            Tx::Write(_) => Err(super::Error::Misuse(
                "the recycle bin is paged in a read transaction".into(),
            )),
        }
    }

    /// The follow-ups of a record this reader returned.
    pub fn followups(&self, c: &Customer) -> Result<Vec<crate::domain::followup::Followup>> {
        if !self.sees(c) {
            return Ok(Vec::new());
        }
        match self.tx {
            Tx::Read(tx) => followups(tx, &c.id),
            Tx::Write(tx) => followups_w(tx, &c.id),
        }
    }

    /// One follow-up of a record this reader returned.
    pub fn followup(
        &self,
        c: &Customer,
        id: &str,
    ) -> Result<Option<crate::domain::followup::Followup>> {
        if !self.sees(c) {
            return Ok(None);
        }
        match self.tx {
            Tx::Read(tx) => Ok(followups(tx, &c.id)?.into_iter().find(|f| f.id == id)),
            Tx::Write(tx) => followup_w(tx, &c.id, id),
        }
    }

    /// The timeline events of a record this reader returned.
    pub fn events(&self, c: &Customer) -> Result<Vec<TimelineEvent>> {
        if !self.sees(c) {
            return Ok(Vec::new());
        }
        match self.tx {
            Tx::Read(tx) => events(tx, &c.id),
            Tx::Write(tx) => events_in(&tx.open_table(tables::CUSTOMER_EVENTS)?, &c.id),
        }
    }
}
