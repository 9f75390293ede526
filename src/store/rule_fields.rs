//! The compact rule view of every customer (schema 9): exactly the [`RuleFields`] recall rules
//! read, in a small binary encoding, so a sweep over a million customers never parses JSON.
//! Two tables, both written only by [`sync`], which `customers::put` calls for every customer
//! write (so they cannot drift from the records):
//! - `customer_rules`: id → encoded fields, every customer;
//! - `customer_activity`: (day of last activity, id) → the same bytes, owned live customers
//!   only, where last activity is the earlier of "held since" and the last follow-up, and its
//!   day is the UTC day number ([`activity_day`]). A sweep whose rule declares a horizon
//!   range-scans the customers inactive since before it and compares the exact instants.
//!   Keyed by the day rather than the second since schema 37: a recall sweep's batch (in id
//!   order) then removes, within each day, keys that sit together, so a batch rewrites a few
//!   leaves per day instead of nearly every leaf of the table (`store::migrate`, step 37).

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::{Error, Result, tables};
use crate::domain::customer::{Customer, RuleFields, Stage};

const T: &str = "customer_rules";
/// Encoding version: the first byte of every value. Format 1 (schemas 9 to 34): lengths and
/// counts as 4 bytes, times as 8 + 4 bytes. Format 2 (schema 35, what [`encode`] writes): the
/// same fields in the same order, lengths and counts as LEB128 varints, times as a zigzag
/// varint of the seconds and a varint of the nanoseconds (about 30 bytes less per customer).
/// Both are read.
const FORMAT: u8 = 1;
const FORMAT_2: u8 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

// Presence bits of the optional fields, and the lock flag.
const LAST_FOLLOWUP: u16 = 1;
const NEXT_FOLLOWUP: u16 = 1 << 1;
const DELETED: u16 = 1 << 2;
const HELD_SINCE: u16 = 1 << 3;
const POOL_ENTERED: u16 = 1 << 4;
const GRADE: u16 = 1 << 5;
const CITY: u16 = 1 << 6;
const CHANNEL: u16 = 1 << 7;
const OWNER: u16 = 1 << 8;
const POOL: u16 = 1 << 9;
const PREVIOUS_OWNER: u16 = 1 << 10;
const LOCKED: u16 = 1 << 11;

const STAGES: [Stage; 9] = [
    Stage::Lead,
    Stage::Contacted,
    Stage::Qualified,
    Stage::Invited,
    Stage::Visited,
    Stage::Signed,
    Stage::Won,
    Stage::Lost,
    Stage::Invalid,
];

/// The instant the sweep's horizon is compared with: a customer whose claim and last
/// follow-up both lie after the horizon's cutoff cannot be due. `None` for customers a sweep
/// never looks at (no owner, or deleted).
pub fn last_activity(r: &RuleFields) -> Option<DateTime<Utc>> {
    if r.owner_id.is_none() || r.deleted_at.is_some() {
        return None;
    }
    let held = r.held_since();
    Some(r.last_followup_at.map_or(held, |f| f.min(held)))
}

/// Seconds in a UTC day.
const DAY: i64 = 86_400;

/// The first part of a customer's `customer_activity` key: the UTC day number (days since
/// 1970-01-01) of its last activity ([`last_activity`]).
pub fn activity_day(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(DAY)
}

/// The `customer_activity` key of a customer with this rule view (`None`: not indexed).
fn activity_key<'a>(r: &RuleFields, id: &'a str) -> Option<(i64, &'a str)> {
    last_activity(r).map(|at| (activity_day(at), id))
}

fn put_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    put_varint(out, zigzag(t.timestamp()));
    put_varint(out, u64::from(t.timestamp_subsec_nanos()));
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend(s.as_bytes());
}

/// The compact encoding of `r` (its id is the key, not stored again).
pub fn encode(r: &RuleFields) -> Vec<u8> {
    let mut flags = 0u16;
    let times = [
        (LAST_FOLLOWUP, r.last_followup_at),
        (NEXT_FOLLOWUP, r.next_followup_at),
        (DELETED, r.deleted_at),
        (HELD_SINCE, r.held_since),
        (POOL_ENTERED, r.pool_entered_at),
    ];
    let strings = [
        (GRADE, &r.grade),
        (CITY, &r.city),
        (CHANNEL, &r.channel),
        (OWNER, &r.owner_id),
        (POOL, &r.pool_id),
        (PREVIOUS_OWNER, &r.previous_owner_id),
    ];
    for (bit, t) in &times {
        if t.is_some() {
            flags |= bit;
        }
    }
    for (bit, s) in &strings {
        if s.is_some() {
            flags |= bit;
        }
    }
    if r.locked {
        flags |= LOCKED;
    }
    let mut out = Vec::with_capacity(64 + r.name.len());
    out.push(FORMAT_2);
    out.extend(flags.to_le_bytes());
    out.push(STAGES.iter().position(|s| *s == r.stage).unwrap_or(0) as u8);
    out.push(r.stars);
    put_time(&mut out, r.created_at);
    for t in times.iter().filter_map(|(_, t)| *t) {
        put_time(&mut out, t);
    }
    put_str(&mut out, &r.name);
    for s in strings.iter().filter_map(|(_, s)| s.as_deref()) {
        put_str(&mut out, s);
    }
    put_varint(&mut out, r.tags.len() as u64);
    for t in &r.tags {
        put_str(&mut out, t);
    }
    out
}

/// A cursor over one encoded value; every read fails as `Corrupt` past the end. `v2` is
/// set by [`Reader::head`] from the format byte.
struct Reader<'a> {
    bytes: &'a [u8],
    v2: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(corrupt("value ends early"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| corrupt("value ends early"))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let [b] = self.array()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    /// A length or count: a varint (format 2) or 4 bytes (format 1).
    fn len(&mut self) -> Result<usize> {
        if self.v2 {
            usize::try_from(self.varint()?).map_err(|_| corrupt("length out of range"))
        } else {
            Ok(u32::from_le_bytes(self.array()?) as usize)
        }
    }

    fn time(&mut self) -> Result<DateTime<Utc>> {
        let (secs, nanos) = if self.v2 {
            let secs = unzigzag(self.varint()?);
            let nanos = u32::try_from(self.varint()?).map_err(|_| corrupt("nanoseconds"))?;
            (secs, nanos)
        } else {
            (
                i64::from_le_bytes(self.array()?),
                u32::from_le_bytes(self.array()?),
            )
        };
        DateTime::from_timestamp(secs, nanos).ok_or_else(|| corrupt("time out of range"))
    }

    /// A length-prefixed UTF-8 string, borrowed from the value.
    fn str(&mut self) -> Result<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| corrupt("text is not UTF-8"))
    }

    /// Steps over a length-prefixed string without looking at it.
    fn skip_str(&mut self) -> Result<()> {
        let n = self.len()?;
        self.take(n).map(|_| ())
    }

    /// Steps over an optional string (present when `bit` is set in `flags`).
    fn skip_opt_str(&mut self, flags: u16, bit: u16) -> Result<()> {
        if flags & bit == 0 {
            Ok(())
        } else {
            self.skip_str()
        }
    }

    fn string(&mut self) -> Result<String> {
        self.str().map(str::to_string)
    }

    /// An optional string: present when `bit` is set in `flags`.
    fn opt_str(&mut self, flags: u16, bit: u16) -> Result<Option<&'a str>> {
        if flags & bit == 0 {
            Ok(None)
        } else {
            self.str().map(Some)
        }
    }

    fn opt_time(&mut self, flags: u16, bit: u16) -> Result<Option<DateTime<Utc>>> {
        if flags & bit == 0 {
            Ok(None)
        } else {
            self.time().map(Some)
        }
    }

    /// The fixed-order start of every value: format, flags, stage, stars and the times.
    fn head(&mut self) -> Result<Head> {
        let [format] = self.array()?;
        if format != FORMAT && format != FORMAT_2 {
            return Err(corrupt(&format!("unknown value format {format}")));
        }
        self.v2 = format == FORMAT_2;
        let flags = u16::from_le_bytes(self.array()?);
        let [stage] = self.array()?;
        let stage = *STAGES
            .get(stage as usize)
            .ok_or_else(|| corrupt("unknown stage"))?;
        let [stars] = self.array()?;
        Ok(Head {
            flags,
            stage,
            stars,
            created_at: self.time()?,
            last_followup_at: self.opt_time(flags, LAST_FOLLOWUP)?,
            next_followup_at: self.opt_time(flags, NEXT_FOLLOWUP)?,
            deleted_at: self.opt_time(flags, DELETED)?,
            held_since: self.opt_time(flags, HELD_SINCE)?,
            pool_entered_at: self.opt_time(flags, POOL_ENTERED)?,
        })
    }
}

struct Head {
    flags: u16,
    stage: Stage,
    stars: u8,
    created_at: DateTime<Utc>,
    last_followup_at: Option<DateTime<Utc>>,
    next_followup_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    held_since: Option<DateTime<Utc>>,
    pool_entered_at: Option<DateTime<Utc>>,
}

fn corrupt(message: &str) -> Error {
    Error::Corrupt {
        table: T,
        message: message.into(),
    }
}

/// Reads back what [`encode`] wrote for customer `id`.
pub fn decode(id: &str, bytes: &[u8]) -> Result<RuleFields> {
    let mut r = Reader { bytes, v2: false };
    let h = r.head()?;
    let name = r.string()?;
    let mut text =
        |bit: u16| -> Result<Option<String>> { Ok(r.opt_str(h.flags, bit)?.map(str::to_string)) };
    let grade = text(GRADE)?;
    let city = text(CITY)?;
    let channel = text(CHANNEL)?;
    let owner_id = text(OWNER)?;
    let pool_id = text(POOL)?;
    let previous_owner_id = text(PREVIOUS_OWNER)?;
    let n = r.len()?;
    let mut tags = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        tags.push(r.string()?);
    }
    if !r.bytes.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(RuleFields {
        id: id.to_string(),
        name,
        stage: h.stage,
        grade,
        stars: h.stars,
        city,
        channel,
        tags,
        owner_id,
        pool_id,
        last_followup_at: h.last_followup_at,
        next_followup_at: h.next_followup_at,
        created_at: h.created_at,
        deleted_at: h.deleted_at,
        held_since: h.held_since,
        locked: h.flags & LOCKED != 0,
        pool_entered_at: h.pool_entered_at,
        previous_owner_id,
        deal_stage: None,
    })
}

/// What format 1 (schemas 9 to 34) wrote: 4-byte lengths and counts, 12-byte times. Never
/// written by the store any more: for the tests of the schema-35 rewrite.
pub fn encode_format_1(r: &RuleFields) -> Vec<u8> {
    fn time(out: &mut Vec<u8>, t: DateTime<Utc>) {
        out.extend(t.timestamp().to_le_bytes());
        out.extend(t.timestamp_subsec_nanos().to_le_bytes());
    }
    fn text(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u32).to_le_bytes());
        out.extend(s.as_bytes());
    }
    let v2 = encode(r);
    let mut out = vec![FORMAT, v2[1], v2[2], v2[3], v2[4]];
    time(&mut out, r.created_at);
    let times = [
        r.last_followup_at,
        r.next_followup_at,
        r.deleted_at,
        r.held_since,
        r.pool_entered_at,
    ];
    for t in times.into_iter().flatten() {
        time(&mut out, t);
    }
    text(&mut out, &r.name);
    let strings = [
        &r.grade,
        &r.city,
        &r.channel,
        &r.owner_id,
        &r.pool_id,
        &r.previous_owner_id,
    ];
    for s in strings.into_iter().flatten() {
        text(&mut out, s);
    }
    out.extend((r.tags.len() as u32).to_le_bytes());
    for t in &r.tags {
        text(&mut out, t);
    }
    out
}

/// The part of an encoded value the default recall rule and a sweep's planning read,
/// borrowed from the stored bytes (nothing allocated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleRef<'a> {
    pub stage: Stage,
    pub created_at: DateTime<Utc>,
    pub last_followup_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub held_since: Option<DateTime<Utc>>,
    pub grade: Option<&'a str>,
    pub owner_id: Option<&'a str>,
    pub locked: bool,
}

impl RuleRef<'_> {
    /// Since when the current owner holds the customer (as `RuleFields::held_since`).
    pub fn held_since(&self) -> DateTime<Utc> {
        self.held_since
            .map_or(self.created_at, |h| h.max(self.created_at))
    }
}

/// Reads the fields of [`RuleRef`] from what [`encode`] wrote; the rest of the value (city,
/// channel, pool, previous owner, tags) is not looked at.
pub fn decode_ref(bytes: &[u8]) -> Result<RuleRef<'_>> {
    let mut r = Reader { bytes, v2: false };
    let h = r.head()?;
    r.skip_str()?; // the name
    let grade = r.opt_str(h.flags, GRADE)?;
    r.skip_opt_str(h.flags, CITY)?;
    r.skip_opt_str(h.flags, CHANNEL)?;
    let owner_id = r.opt_str(h.flags, OWNER)?;
    Ok(RuleRef {
        stage: h.stage,
        created_at: h.created_at,
        last_followup_at: h.last_followup_at,
        deleted_at: h.deleted_at,
        held_since: h.held_since,
        grade,
        owner_id,
        locked: h.flags & LOCKED != 0,
    })
}

/// Moves `c`'s rows in both tables to its new values. The old activity key is taken from the
/// stored row, not from the caller's `before`, so a wrong `before` cannot leave a stale key.
pub(super) fn sync(tx: &WriteTransaction, c: &Customer) -> Result<()> {
    let fields = RuleFields::from(c);
    let bytes = encode(&fields);
    let mut rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    let old = rules
        .insert(c.id.as_str(), bytes.as_slice())?
        .map(|v| decode(&c.id, v.value()))
        .transpose()?;
    if let Some(k) = old.as_ref().and_then(|o| activity_key(o, &c.id)) {
        activity.remove(k)?;
    }
    if let Some(k) = activity_key(&fields, &c.id) {
        activity.insert(k, bytes.as_slice())?;
    }
    super::report_keys::shift(tx, old.as_ref(), &fields)?;
    super::loads::shift(tx, old.as_ref(), &fields)
}

/// [`sync`] for many distinct customers in one pass (a recall sweep's batch): each table
/// opened once, the activity keys removed and inserted in key order, the report keys and
/// owner loads moved for the whole batch at once. Ends exactly where one [`sync`] after the
/// other would (the keys name their customer, so distinct customers never share one).
pub(super) fn sync_many(tx: &WriteTransaction, cs: &[&Customer]) -> Result<()> {
    let mut moves = Vec::with_capacity(cs.len());
    {
        let mut rules = tx.open_table(tables::CUSTOMER_RULES)?;
        let mut remove = Vec::new();
        let mut insert = Vec::new();
        for c in cs {
            let fields = RuleFields::from(*c);
            let bytes = encode(&fields);
            let old = rules
                .insert(c.id.as_str(), bytes.as_slice())?
                .map(|v| decode(&c.id, v.value()))
                .transpose()?;
            remove.extend(old.as_ref().and_then(|o| activity_key(o, &c.id)));
            if let Some(k) = activity_key(&fields, &c.id) {
                insert.push((k, bytes));
            }
            moves.push((old, fields));
        }
        remove.sort_unstable();
        insert.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
        for k in remove {
            activity.remove(k)?;
        }
        for (k, bytes) in &insert {
            activity.insert(*k, bytes.as_slice())?;
        }
    }
    super::report_keys::shift_many(tx, &moves)?;
    super::loads::shift_many(tx, &moves)
}

/// Fills both tables from the customer records (the 8 → 9 migration), streaming: one record
/// decoded at a time. Returns the customers written.
pub fn rebuild(tx: &WriteTransaction) -> Result<u64> {
    Ok(rebuild_batch(tx, None, usize::MAX)?.1 as u64)
}

/// One batch of [`rebuild`]: the customers after `after` (all from the first when `None`), at
/// most `limit` of them. Returns the last id written and how many (fewer than `limit`: done).
pub fn rebuild_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    super::customers::rule_fields_batch_w(tx, after, limit, |id, fields| {
        let bytes = encode(&fields);
        rules.insert(id, bytes.as_slice())?;
        if let Some(k) = activity_key(&fields, id) {
            activity.insert(k, bytes.as_slice())?;
        }
        Ok(())
    })
}

/// Schema 35, one batch: the rule views of `batch` written again from their records in the
/// current format (format 1 values become format 2), in both tables; the activity keys do not
/// change, only their values.
pub(super) fn rewrite_many(tx: &WriteTransaction, batch: &[Customer]) -> Result<()> {
    let mut rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    for c in batch {
        let fields = RuleFields::from(c);
        let bytes = encode(&fields);
        rules.insert(c.id.as_str(), bytes.as_slice())?;
        if let Some(k) = activity_key(&fields, &c.id) {
            activity.insert(k, bytes.as_slice())?;
        }
    }
    Ok(())
}

/// Schema 37, one batch: the activity index rebuilt from the rule views (`customer_rules`)
/// of the customers after `after` (from the first when `None`), at most `limit` of them, with
/// day keys (the step's first batch emptied the table of its second-keyed rows). Returns the
/// last id read and how many (fewer than `limit`: done).
pub fn activity_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    use std::ops::Bound;
    let rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let mut activity = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut last = None;
    let mut n = 0;
    for row in rules.range::<&str>((from, Bound::Unbounded))?.take(limit) {
        let (id, v) = row?;
        let (id, bytes) = (id.value(), v.value());
        let fields = decode(id, bytes)?;
        if let Some(k) = activity_key(&fields, id) {
            activity.insert(k, bytes)?;
        }
        last = Some(id.to_string());
        n += 1;
    }
    Ok((last, n))
}

/// Owned, live customers: the ones a sweep looks at.
pub fn owned_count(tx: &ReadTransaction) -> Result<u64> {
    Ok(tx.open_table(tables::CUSTOMER_ACTIVITY)?.len()?)
}

/// Every owned, live customer whose last activity is at or before `until` (all of them when
/// `None`), by day of last activity (in id order within a day). Rows of the rest of `until`'s
/// day are included too: the key holds the day, the caller compares exactly.
pub fn scan_owned(
    tx: &ReadTransaction,
    until: Option<DateTime<Utc>>,
    mut visit: impl FnMut(RuleFields) -> bool,
) -> Result<()> {
    let table = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    let range = match until {
        Some(u) => table.range((i64::MIN, "")..(activity_day(u).saturating_add(1), ""))?,
        None => table.range::<(i64, &str)>(..)?,
    };
    for row in range {
        let (k, v) = row?;
        if !visit(decode(k.value().1, v.value())?) {
            break;
        }
    }
    Ok(())
}

/// [`scan_owned`] without decoding: `visit` gets each customer's id and encoded value.
pub fn scan_owned_raw(
    tx: &ReadTransaction,
    until: Option<DateTime<Utc>>,
    mut visit: impl FnMut(&str, &[u8]) -> bool,
) -> Result<()> {
    let table = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    let range = match until {
        Some(u) => table.range((i64::MIN, "")..(activity_day(u).saturating_add(1), ""))?,
        None => table.range::<(i64, &str)>(..)?,
    };
    for row in range {
        let (k, v) = row?;
        if !visit(k.value().1, v.value()) {
            break;
        }
    }
    Ok(())
}

/// One customer's stored rule view.
pub fn get(tx: &ReadTransaction, id: &str) -> Result<Option<RuleFields>> {
    let table = tx.open_table(tables::CUSTOMER_RULES)?;
    let v = table.get(id)?;
    v.map(|v| decode(id, v.value())).transpose()
}

/// One customer's stored rule view, in a write transaction.
pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<RuleFields>> {
    let table = tx.open_table(tables::CUSTOMER_RULES)?;
    let v = table.get(id)?;
    v.map(|v| decode(id, v.value())).transpose()
}

/// What differs between the rule tables and the customer records: customer ids whose row is
/// missing, stale or extra, in either table (empty when they agree). Reads everything.
pub fn drift(tx: &ReadTransaction) -> Result<Vec<String>> {
    let customers = tx.open_table(tables::CUSTOMERS)?;
    let rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let activity = tx.open_table(tables::CUSTOMER_ACTIVITY)?;
    let mut out = Vec::new();
    let mut owned = 0u64;
    for row in customers.iter()? {
        let (id, v) = row?;
        let id = id.value();
        let fields = super::customer_codec::decode_rule_fields(id, v.value())?;
        let bytes = encode(&fields);
        let stored = rules.get(id)?;
        let mut ok = stored.is_some_and(|s| s.value() == bytes.as_slice());
        if let Some(k) = activity_key(&fields, id) {
            owned += 1;
            let indexed = activity.get(k)?;
            ok &= indexed.is_some_and(|s| s.value() == bytes.as_slice());
        }
        if !ok {
            out.push(id.to_string());
        }
    }
    if rules.len()? != customers.len()? || activity.len()? != owned {
        // Rows for customers that do not exist, or stale activity keys: name them.
        for row in rules.iter()? {
            let (id, _) = row?;
            if customers.get(id.value())?.is_none() {
                out.push(id.value().to_string());
            }
        }
        for row in activity.iter()? {
            let (k, v) = row?;
            let (day, id) = k.value();
            let expected = customers
                .get(id)?
                .map(|c| super::customer_codec::decode_rule_fields(id, c.value()))
                .transpose()?
                .and_then(|f| last_activity(&f))
                .map(activity_day);
            if expected != Some(day) || decode(id, v.value()).is_err() {
                out.push(id.to_string());
            }
        }
        if out.is_empty() {
            out.push("(row counts differ)".into());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, nanos: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0)
            .single()
            .unwrap()
            + chrono::Duration::nanoseconds(i64::from(nanos))
    }

    fn full() -> RuleFields {
        RuleFields {
            id: "01J0000000000000000000000A".into(),
            name: "张三丰".into(),
            stage: Stage::Signed,
            grade: Some("B".into()),
            stars: 4,
            city: Some("成都".into()),
            channel: Some("抖音".into()),
            tags: vec!["有房".into(), String::new(), "公积金".into()],
            owner_id: Some("u1".into()),
            pool_id: Some("p1".into()),
            last_followup_at: Some(at(5, 1)),
            next_followup_at: Some(at(25, 0)),
            created_at: at(1, 999_999_999),
            deleted_at: Some(at(6, 7)),
            held_since: Some(at(2, 3)),
            locked: true,
            pool_entered_at: Some(at(3, 0)),
            previous_owner_id: Some(String::new()),
            deal_stage: None,
        }
    }

    #[test]
    fn every_field_round_trips() {
        let all = full();
        assert_eq!(decode(&all.id, &encode(&all)).unwrap(), all);
        let bare = RuleFields {
            name: String::new(),
            stage: Stage::Invalid,
            grade: None,
            stars: 0,
            city: None,
            channel: None,
            tags: vec![],
            owner_id: None,
            pool_id: None,
            last_followup_at: None,
            next_followup_at: None,
            deleted_at: None,
            held_since: None,
            locked: false,
            pool_entered_at: None,
            previous_owner_id: None,
            ..all
        };
        assert_eq!(decode(&bare.id, &encode(&bare)).unwrap(), bare);
        for stage in STAGES {
            let r = RuleFields { stage, ..full() };
            assert_eq!(decode(&r.id, &encode(&r)).unwrap().stage, stage);
        }
    }

    #[test]
    fn the_borrowed_decode_reads_what_the_full_one_does() {
        let mut r = full();
        for k in 0..4 {
            let bytes = encode(&r);
            let b = decode_ref(&bytes).unwrap();
            assert_eq!(b.stage, r.stage);
            assert_eq!(b.created_at, r.created_at);
            assert_eq!(b.last_followup_at, r.last_followup_at);
            assert_eq!(b.deleted_at, r.deleted_at);
            assert_eq!(b.held_since(), r.held_since());
            assert_eq!(b.grade, r.grade.as_deref());
            assert_eq!(b.owner_id, r.owner_id.as_deref());
            assert_eq!(b.locked, r.locked);
            // Then with fewer fields present.
            match k {
                0 => (r.grade, r.city) = (None, None),
                1 => (r.owner_id, r.held_since, r.locked) = (None, None, false),
                _ => (r.last_followup_at, r.deleted_at, r.stage) = (None, None, Stage::Won),
            }
        }
        assert!(decode_ref(&encode(&full())[..20]).is_err());
    }

    #[test]
    fn format_1_values_still_read_and_format_2_is_smaller() {
        let mut bare = full();
        bare.last_followup_at = None;
        bare.owner_id = None;
        bare.tags.clear();
        for r in [full(), bare] {
            let (v1, v2) = (encode_format_1(&r), encode(&r));
            assert_eq!(v2[0], FORMAT_2);
            assert_eq!(decode(&r.id, &v1).unwrap(), r);
            assert_eq!(decode(&r.id, &v2).unwrap(), r);
            assert_eq!(decode_ref(&v1).unwrap(), decode_ref(&v2).unwrap());
            assert!(v2.len() + 20 < v1.len(), "{} vs {}", v2.len(), v1.len());
        }
        // Times before 1970 and lengths past one varint byte.
        let mut r = full();
        r.created_at = DateTime::from_timestamp(-86_400 * 400, 999_999_999).unwrap();
        r.name = "名".repeat(200);
        assert_eq!(decode(&r.id, &encode(&r)).unwrap(), r);
    }

    #[test]
    fn damaged_values_are_corrupt() {
        let bytes = encode(&full());
        for cut in [0, 1, 5, bytes.len() - 1] {
            assert!(matches!(
                decode("x", &bytes[..cut]),
                Err(Error::Corrupt { .. })
            ));
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(decode("x", &extra), Err(Error::Corrupt { .. })));
        let mut other = bytes;
        other[0] = 9;
        assert!(matches!(decode("x", &other), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn last_activity_is_the_earlier_of_claim_and_follow_up_for_owned_live_customers() {
        let mut r = full();
        r.deleted_at = None;
        // Followed up (day 5) after the claim (day 2): the claim counts.
        assert_eq!(last_activity(&r), Some(at(2, 3)));
        r.last_followup_at = Some(at(1, 0));
        assert_eq!(last_activity(&r), Some(at(1, 0)));
        r.last_followup_at = None;
        r.held_since = None;
        assert_eq!(last_activity(&r), Some(r.created_at));
        r.deleted_at = Some(at(9, 0));
        assert_eq!(last_activity(&r), None);
        r.deleted_at = None;
        r.owner_id = None;
        assert_eq!(last_activity(&r), None);
    }
}
