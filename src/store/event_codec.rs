//! The compact encoding of customer timeline events (format 2, schema 33; format 3 and binary
//! keys, schema 36).
//!
//! Every imported customer gets one event (its assignment), so at a million customers the
//! events table is as large as the records' keys. Format 1 (JSON, `store::codec`) spells the
//! field names, the event's own id (already the key's suffix), ids as 26-character text and
//! the time as RFC 3339 text: about 300 bytes. Format 2 is postcard of [`V2`]: the id is left
//! to the key, ULIDs are 16 bytes and the time is seconds and nanoseconds: about 90.
//! Format 3 (schema 36) is postcard of [`V3`]: the kinds and notes the application writes
//! itself ("assign_to_pool", "没有可分配的业务员" …) as an index into [`KNOWN_WORDS`], and the
//! time as its distance from the millisecond in the event id (a ULID made at that instant):
//! about 45 bytes. Since schema 36 the key is bytes too (`tables::CUSTOMER_EVENTS`): the
//! customer id as a `key_codec` part, then the event id: 33 bytes instead of 53.
//!
//! Positional, like the customer records' formats (`customer_codec`): [`V2`] and [`V3`] must
//! not gain, lose or reorder a field; `layout_is_pinned` and `layout_3_is_pinned` fail on such
//! a change, which is a new format. Readers dispatch on the format byte, so JSON and format-2
//! events stay readable.

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::customers::TimelineEvent;
use super::{Error, Result, codec, key_codec};

const FORMAT_COMPACT: u8 = 2;
const FORMAT_3: u8 = 3;
const T: &str = "customer_events";

/// An id: a canonical ULID as its 16 bytes, anything else (a stage name, a test's id) as
/// text. Exact: a ULID is packed only when it prints back to the same text.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub(super) enum Id {
    Ulid([u8; 16]),
    Text(String),
}

impl Id {
    pub(super) fn of(s: &str) -> Id {
        match ulid::Ulid::from_string(s) {
            Ok(u) if u.to_string() == s => Id::Ulid(u.to_bytes()),
            _ => Id::Text(s.to_string()),
        }
    }

    pub(super) fn text(self) -> String {
        match self {
            Id::Ulid(b) => ulid::Ulid::from_bytes(b).to_string(),
            Id::Text(s) => s,
        }
    }
}

/// The stored layout of format 2: [`TimelineEvent`] without its id (the key's suffix).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct V2 {
    secs: i64,
    nanos: u32,
    actor_id: Id,
    kind: String,
    from: Option<Id>,
    to: Option<Id>,
    note: Option<String>,
}

/// Kinds and notes the application writes into events, stored as their index in format 3.
/// Append only: an index, once written, always means the same text. The pool reasons are
/// `service::pools::rules::REASON_*` (a test holds them equal).
const KNOWN_WORDS: [&str; 23] = [
    "assigned",
    "assign_to_pool",
    "recalled",
    "recall_warning",
    "created",
    "transferred",
    "claimed",
    "released",
    "stage_changed",
    "locked",
    "unlocked",
    "restored",
    "erased",
    "referred",
    "applied",
    "document",
    "call",
    "轮流分配",
    "按权重轮流分配",
    "分配给跟进中线索最少的业务员",
    "按城市分配（同城业务员轮流）",
    "没有可分配的业务员",
    "批量操作",
];

/// How the assignment writes the note of a new customer that went to a pool
/// (`service::pools::assign::pool_note`): the reason, then this, the pool's name, [`POOL_TAIL`].
const POOL_HEAD: &str = "，进入公海“";
const POOL_TAIL: &str = "”";
/// How it writes the note of one its creator keeps (`assign::creator_note`): the reason, then this.
const CREATOR_TAIL: &str = "，且尚未设置公海，由录入人负责";

/// A kind or note: one of [`KNOWN_WORDS`] by its index, an assignment note made of a known
/// reason (and the pool's name), or any other text. Exact: a note is packed only when the
/// packed form prints back to the same text.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Word {
    Known(u8),
    Text(String),
    /// `<known reason>，进入公海“<pool name>”`.
    IntoPool(u8, String),
    /// `<known reason>，且尚未设置公海，由录入人负责`.
    ToCreator(u8),
}

fn known(i: u8) -> Result<&'static str> {
    KNOWN_WORDS
        .get(usize::from(i))
        .copied()
        .ok_or_else(|| corrupt(format!("unknown word index {i}")))
}

impl Word {
    fn of(s: &str) -> Word {
        if let Some(i) = KNOWN_WORDS.iter().position(|k| *k == s) {
            return Word::Known(i as u8);
        }
        for (i, k) in KNOWN_WORDS.iter().enumerate() {
            let Some(rest) = s.strip_prefix(k) else {
                continue;
            };
            if rest == CREATOR_TAIL {
                return Word::ToCreator(i as u8);
            }
            if let Some(pool) = rest
                .strip_prefix(POOL_HEAD)
                .and_then(|r| r.strip_suffix(POOL_TAIL))
            {
                return Word::IntoPool(i as u8, pool.to_string());
            }
        }
        Word::Text(s.to_string())
    }

    fn text(self) -> Result<String> {
        match self {
            Word::Known(i) => known(i).map(str::to_string),
            Word::Text(s) => Ok(s),
            Word::IntoPool(i, pool) => Ok(format!("{}{POOL_HEAD}{pool}{POOL_TAIL}", known(i)?)),
            Word::ToCreator(i) => Ok(format!("{}{CREATOR_TAIL}", known(i)?)),
        }
    }
}

/// The event's time: nanoseconds after the millisecond its id (a ULID) was made in, which is
/// the event's own instant for every event the application writes (a few bytes); or, for an
/// id that is no ULID or a time too far from it, seconds and nanoseconds.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum At {
    FromId(i64),
    Exact { secs: i64, nanos: u32 },
}

/// The stored layout of format 3: [`TimelineEvent`] without its id (the key's suffix).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct V3 {
    at: At,
    actor_id: Id,
    kind: Word,
    from: Option<Id>,
    to: Option<Id>,
    note: Option<Word>,
}

fn corrupt(message: String) -> Error {
    Error::Corrupt { table: T, message }
}

/// Nanoseconds since the epoch of the millisecond a canonical ULID id was made in.
fn id_nanos(id: &str) -> Option<i64> {
    match Id::of(id) {
        Id::Ulid(b) => i64::try_from(ulid::Ulid::from_bytes(b).timestamp_ms())
            .ok()?
            .checked_mul(1_000_000),
        Id::Text(_) => None,
    }
}

/// The text key of an event, schemas 6 to 35 (`tables::CUSTOMER_EVENTS_V35`).
#[cfg(test)]
fn key_v35(customer_id: &str, event_id: &str) -> String {
    format!("{customer_id}/{event_id}")
}

/// The prefix of a customer's event keys (`tables::CUSTOMER_EVENTS`).
pub(super) fn prefix(customer_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(34);
    key_codec::push_id_part(&mut k, customer_id);
    k
}

/// The key of an event (`tables::CUSTOMER_EVENTS`): the customer's prefix, then the event id.
pub(super) fn key(customer_id: &str, event_id: &str) -> Vec<u8> {
    let mut k = prefix(customer_id);
    key_codec::push_id(&mut k, event_id);
    k
}

/// The customer id and the event id a binary key names.
pub fn key_ids(key: &[u8]) -> Result<(String, String)> {
    let bad = || {
        corrupt(format!(
            "an event key of no known shape ({} bytes)",
            key.len()
        ))
    };
    let split = key_codec::part_len(key)
        .filter(|&s| s < key.len())
        .ok_or_else(bad)?;
    let customer = key_codec::part_id(&key[..split])?.ok_or_else(bad)?;
    Ok((customer, key_codec::id_text(&key[split..])?))
}

/// An event in format 3 (what this version writes).
pub fn encode(e: &TimelineEvent) -> Result<Vec<u8>> {
    let exact = || At::Exact {
        secs: e.at.timestamp(),
        nanos: e.at.timestamp_subsec_nanos(),
    };
    let at = match (id_nanos(&e.id), e.at.timestamp_nanos_opt()) {
        (Some(base), Some(t)) => t.checked_sub(base).map_or_else(exact, At::FromId),
        _ => exact(),
    };
    let v = V3 {
        at,
        actor_id: Id::of(&e.actor_id),
        kind: Word::of(&e.kind),
        from: e.from.as_deref().map(Id::of),
        to: e.to.as_deref().map(Id::of),
        note: e.note.as_deref().map(Word::of),
    };
    let mut out = vec![FORMAT_3];
    out.extend(postcard::to_allocvec(&v).map_err(|e| Error::Encode(e.to_string()))?);
    Ok(out)
}

/// The event stored under the binary `key` (any format).
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<TimelineEvent> {
    let (_, id) = key_ids(key)?;
    decode_with_id(id, bytes)
}

fn decode_with_id(id: String, bytes: &[u8]) -> Result<TimelineEvent> {
    match bytes.split_first() {
        Some((&FORMAT_3, payload)) => {
            let v: V3 = postcard::from_bytes(payload).map_err(|e| corrupt(e.to_string()))?;
            let at = match v.at {
                At::FromId(d) => id_nanos(&id)
                    .and_then(|base| base.checked_add(d))
                    .map(DateTime::from_timestamp_nanos),
                At::Exact { secs, nanos } => DateTime::from_timestamp(secs, nanos),
            }
            .ok_or_else(|| corrupt(format!("event {id}: time out of range")))?;
            Ok(TimelineEvent {
                id,
                at,
                actor_id: v.actor_id.text(),
                kind: v.kind.text()?,
                from: v.from.map(Id::text),
                to: v.to.map(Id::text),
                note: v.note.map(Word::text).transpose()?,
            })
        }
        Some((&FORMAT_COMPACT, _)) => decode_v2(id, bytes),
        _ => {
            let mut e: TimelineEvent = codec::decode(T, bytes)?;
            e.id = id;
            Ok(e)
        }
    }
}

/// The format-2 event's fields around the id its key gave.
fn decode_v2(id: String, bytes: &[u8]) -> Result<TimelineEvent> {
    let payload = bytes.get(1..).unwrap_or_default();
    let v: V2 = postcard::from_bytes(payload).map_err(|e| corrupt(e.to_string()))?;
    let at = DateTime::from_timestamp(v.secs, v.nanos)
        .ok_or_else(|| corrupt(format!("time out of range: {}.{}", v.secs, v.nanos)))?;
    Ok(TimelineEvent {
        id,
        at,
        actor_id: v.actor_id.text(),
        kind: v.kind,
        from: v.from.map(Id::text),
        to: v.to.map(Id::text),
        note: v.note,
    })
}

/// An event in format 2 (schemas 33 to 35), for the tests of the older migrations.
pub fn encode_v2(e: &TimelineEvent) -> Result<Vec<u8>> {
    let v = V2 {
        secs: e.at.timestamp(),
        nanos: e.at.timestamp_subsec_nanos(),
        actor_id: Id::of(&e.actor_id),
        kind: e.kind.clone(),
        from: e.from.as_deref().map(Id::of),
        to: e.to.as_deref().map(Id::of),
        note: e.note.clone(),
    };
    let mut out = vec![FORMAT_COMPACT];
    out.extend(postcard::to_allocvec(&v).map_err(|e| Error::Encode(e.to_string()))?);
    Ok(out)
}

/// The event stored under a text `key` of schemas 6 to 35 (JSON or format 2).
pub fn decode_v35(key: &str, bytes: &[u8]) -> Result<TimelineEvent> {
    match bytes.split_first() {
        Some((&FORMAT_COMPACT, _)) => {
            let id = match key.rsplit_once('/') {
                Some((_, id)) if !id.is_empty() => id.to_string(),
                _ => return Err(corrupt(format!("event key without an id: {key}"))),
            };
            decode_v2(id, bytes)
        }
        _ => codec::decode(T, bytes),
    }
}

/// Schema 33, one batch: up to `limit` events after the key `after` rewritten in format 2
/// (those already in it are left). Returns the last key done and how many were read.
pub fn compact_batch(
    tx: &redb::WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    use redb::ReadableTable;
    let mut rewritten: Vec<(String, Vec<u8>)> = Vec::new();
    let mut last = None;
    let mut n = 0;
    {
        let table = tx.open_table(super::tables::CUSTOMER_EVENTS_V35)?;
        let range = match after {
            Some(a) => {
                table.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
            }
            None => table.range::<&str>(..)?,
        };
        for row in range.take(limit) {
            let (k, v) = row?;
            n += 1;
            let key = k.value().to_string();
            if v.value().first() != Some(&FORMAT_COMPACT) {
                let e = decode_v35(&key, v.value())?;
                rewritten.push((key.clone(), encode_v2(&e)?));
            }
            last = Some(key);
        }
    }
    let mut table = tx.open_table(super::tables::CUSTOMER_EVENTS_V35)?;
    for (key, bytes) in &rewritten {
        table.insert(key.as_str(), bytes.as_slice())?;
    }
    Ok((last, n))
}

/// Schema 36, one batch: up to `limit` events of the text table after its key `after` moved
/// to the binary table in format 3. Text keys sort as the binary ones (a ULID's bytes sort as
/// its text), so the binary table is written in key order and its pages are packed. Returns
/// the last text key done and how many were moved; the text table is left for the caller to
/// drop.
pub(super) fn move_batch(
    tx: &redb::WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    use redb::ReadableTable;
    let old = match tx.open_table(super::tables::CUSTOMER_EVENTS_V35) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok((None, 0)),
        Err(e) => return Err(e.into()),
    };
    let range = match after {
        Some(a) => old.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?,
        None => old.range::<&str>(..)?,
    };
    let mut moved = Vec::new();
    let mut last = None;
    for row in range.take(limit) {
        let (k, v) = row?;
        let text = k.value();
        let Some((customer, id)) = text.rsplit_once('/') else {
            return Err(corrupt(format!("event key without a customer: {text}")));
        };
        let mut e = decode_v35(text, v.value())?;
        e.id = id.to_string();
        moved.push((key(customer, id), encode(&e)?));
        last = Some(text.to_string());
    }
    let n = moved.len();
    // Distinct text keys can meet in one binary key only where they differ after a 0 byte,
    // which no id holds; sorted anyway, so the table is appended to in key order.
    moved.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut table = tx.open_table(super::tables::CUSTOMER_EVENTS)?;
    for (k, v) in &moved {
        table.insert(k.as_slice(), v.as_slice())?;
    }
    Ok((last, n))
}

/// `zhudai doctor`: every timeline event (`customer_events_bin`) has a key of the known shape,
/// reads, and names a customer that exists. At most `limit` differences, each named.
pub fn drift(tx: &redb::ReadTransaction, limit: usize) -> Result<Vec<String>> {
    use redb::ReadableTable;
    let events = tx.open_table(super::tables::CUSTOMER_EVENTS)?;
    let customers = tx.open_table(super::tables::CUSTOMERS)?;
    let mut out = Vec::new();
    let mut last_customer: Option<String> = None;
    for row in events.iter()? {
        if out.len() >= limit {
            break;
        }
        let (k, v) = row?;
        let (customer, id) = match key_ids(k.value()) {
            Ok(ids) => ids,
            Err(e) => {
                out.push(e.to_string());
                continue;
            }
        };
        if let Err(e) = decode_with_id(id.clone(), v.value()) {
            out.push(format!("event {id} of {customer}: {e}"));
        }
        // Events come grouped by customer: one look-up per customer.
        if last_customer.as_deref() != Some(customer.as_str()) {
            if customers.get(customer.as_str())?.is_none() {
                out.push(format!("event {id}: customer {customer} does not exist"));
            }
            last_customer = Some(customer);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(from: Option<&str>, note: Option<&str>) -> TimelineEvent {
        TimelineEvent {
            id: "01JEA00000000000000000000A".into(),
            at: DateTime::from_timestamp(1_764_950_400, 123_456_789).unwrap(),
            actor_id: "01JEB00000000000000000000B".into(),
            kind: "assigned".into(),
            from: from.map(str::to_string),
            to: Some("01JEC00000000000000000000C".into()),
            note: note.map(str::to_string),
        }
    }

    #[test]
    fn round_trips_exactly_and_is_small() {
        for e in [
            event(None, Some("轮流分配")),
            event(Some("contacted"), None),
            event(Some("01jee00000000000000000000e"), Some("")),
        ] {
            let key = key_v35("01JED00000000000000000000D", &e.id);
            let bytes = encode_v2(&e).unwrap();
            assert_eq!(decode_v35(&key, &bytes).unwrap(), e);
            let json = codec::encode(&e).unwrap();
            assert_eq!(decode_v35(&key, &json).unwrap(), e, "format 1 still reads");
            assert!(
                bytes.len() * 2 < json.len(),
                "{} vs {}",
                bytes.len(),
                json.len()
            );
        }
    }

    #[test]
    fn ids_pack_only_when_exact() {
        assert!(matches!(Id::of("01JEC00000000000000000000C"), Id::Ulid(_)));
        // Lower case parses as a ULID but would print back upper case: kept as text.
        assert!(matches!(Id::of("01jec00000000000000000000c"), Id::Text(_)));
        assert!(matches!(Id::of("u1"), Id::Text(_)));
    }

    #[test]
    fn garbage_is_corrupt() {
        assert!(matches!(
            decode_v35("c/e", &[FORMAT_COMPACT, 0xff]),
            Err(Error::Corrupt { .. })
        ));
        let bytes = encode_v2(&event(None, None)).unwrap();
        assert!(matches!(
            decode_v35("c", &bytes),
            Err(Error::Corrupt { .. })
        ));
        let k = key("01JED00000000000000000000D", "01JEA00000000000000000000A");
        assert!(matches!(
            decode(&k, &[FORMAT_3, 0xff]),
            Err(Error::Corrupt { .. })
        ));
        let bytes = encode(&event(None, None)).unwrap();
        assert!(matches!(
            decode(&k[..5], &bytes),
            Err(Error::Corrupt { .. })
        ));
        // An index no version wrote.
        let bad = [FORMAT_3, 0, 0, 1, 1, b'u', 0, 200, 0, 0, 0];
        assert!(matches!(decode(&k, &bad), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn layout_is_pinned() {
        let bytes = encode_v2(&event(Some("contacted"), Some("轮流分配"))).unwrap();
        assert_eq!(
            crate::crypto::sha256_hex(&bytes),
            "433f6b9a2874e15b87bf676e3f876ceca45446b6ecc830bfc62d35551f032f43",
            "the format-2 layout changed ({} bytes): add a format 3 instead",
            bytes.len()
        );
    }

    /// Format 3 reads back exactly, from its binary key, whatever the id and time: a ULID id
    /// with the event's own instant, one far from it, a text id, known and unknown words.
    #[test]
    fn format_3_round_trips_exactly_and_is_smaller_than_format_2() {
        let ulid = ulid::Ulid::from_parts(1_764_950_400_123, 42).to_string();
        let at = DateTime::from_timestamp_nanos(1_764_950_400_123_456_789);
        let cases = [
            (
                ulid.clone(),
                at,
                "assign_to_pool",
                Some("没有可分配的业务员"),
            ),
            (
                ulid.clone(),
                at,
                "assign_to_pool",
                Some("轮流分配，进入公海“南山 公海”"),
            ),
            (ulid.clone(), at, "一种新事件", Some("自由文字")),
            (
                ulid.clone(),
                DateTime::from_timestamp(-5, 7).unwrap(),
                "call",
                None,
            ),
            ("e-1".to_string(), at, "assigned", Some("轮流分配")),
        ];
        for (id, at, kind, note) in cases {
            let e = TimelineEvent {
                id: id.clone(),
                at,
                actor_id: "01JEB00000000000000000000B".into(),
                kind: kind.into(),
                from: None,
                to: Some("01JEC00000000000000000000C".into()),
                note: note.map(str::to_string),
            };
            for customer in ["01JED00000000000000000000D", "c-1"] {
                let k = key(customer, &id);
                assert!(k.starts_with(&prefix(customer)));
                assert_eq!(key_ids(&k).unwrap(), (customer.to_string(), id.clone()));
                let bytes = encode(&e).unwrap();
                assert_eq!(decode(&k, &bytes).unwrap(), e);
                // The older formats still read under a binary key.
                assert_eq!(decode(&k, &encode_v2(&e).unwrap()).unwrap(), e);
                if note.is_some_and(|n| KNOWN_WORDS.contains(&n)) && id == ulid {
                    assert!(
                        bytes.len() + 40 < encode_v2(&e).unwrap().len(),
                        "{} vs {}",
                        bytes.len(),
                        encode_v2(&e).unwrap().len()
                    );
                }
            }
        }
        // A ULID customer id and a ULID event id: 33 bytes, against 53 of text.
        assert_eq!(key("01JED00000000000000000000D", &ulid).len(), 33);
    }

    /// The words the pool rules write are the ones format 3 stores as an index.
    #[test]
    fn the_pool_reasons_are_known_words() {
        use crate::service::pools::rules as r;
        for reason in [
            r::REASON_ROUND_ROBIN,
            r::REASON_WEIGHTED,
            r::REASON_LEAST_LOADED,
            r::REASON_BY_CITY,
            r::REASON_NOBODY,
        ] {
            assert!(matches!(Word::of(reason), Word::Known(_)), "{reason}");
            // The notes the assignment writes with them pack, and print back exactly.
            let into = crate::service::pools::assign::pool_note(reason, "公司公海");
            assert!(matches!(Word::of(&into), Word::IntoPool(..)), "{into}");
            assert_eq!(Word::of(&into).text().unwrap(), into);
            let kept = crate::service::pools::assign::creator_note(reason);
            assert!(matches!(Word::of(&kept), Word::ToCreator(_)), "{kept}");
            assert_eq!(Word::of(&kept).text().unwrap(), kept);
        }
        // Near misses stay text, exactly.
        for s in [
            "没有可分配的业务员，进入公海“公司公海",
            "没有可分配的业务员，进入公海“”",
            "别的理由，进入公海“公司公海”",
            "没有可分配的业务员，且尚未设置公海",
            "",
        ] {
            let w = Word::of(s);
            if s.ends_with(POOL_TAIL) && s.starts_with(r::REASON_NOBODY) {
                assert!(matches!(w, Word::IntoPool(..)), "{s}");
            } else {
                assert!(matches!(w, Word::Text(_)), "{s}");
            }
            assert_eq!(Word::of(s).text().unwrap(), s);
        }
    }

    #[test]
    fn layout_3_is_pinned() {
        let e = TimelineEvent {
            id: ulid::Ulid::from_parts(1_764_950_400_123, 42).to_string(),
            at: DateTime::from_timestamp_nanos(1_764_950_400_123_456_789),
            ..event(Some("contacted"), Some("没有可分配的业务员"))
        };
        let bytes = encode(&e).unwrap();
        assert_eq!(
            crate::crypto::sha256_hex(&bytes),
            "af2e95e17e35ef82c3cef4048f30d081da92cfac92f9e72c7d0a167642be6b8c",
            "the format-3 layout changed ({} bytes): add a format 4 instead",
            bytes.len()
        );
    }
}
