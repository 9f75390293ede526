//! The compact encoding of customer timeline events (format 2, schema 33).
//!
//! Every imported customer gets one event (its assignment), so at a million customers the
//! events table is as large as the records' keys. Format 1 (JSON, `store::codec`) spells the
//! field names, the event's own id (already the key's suffix), ids as 26-character text and
//! the time as RFC 3339 text: about 300 bytes. Format 2 is postcard of [`V2`]: the id is left
//! to the key, ULIDs are 16 bytes and the time is seconds and nanoseconds: about 90.
//!
//! Positional, like the customer records' format 2 (`customer_codec`): [`V2`] must not gain,
//! lose or reorder a field; `layout_is_pinned` fails on such a change, which is a format 3.
//! Readers dispatch on the format byte, so JSON events written before schema 33 stay readable
//! while the migration rewrites them in batches.

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::customers::TimelineEvent;
use super::{Error, Result, codec};

const FORMAT_COMPACT: u8 = 2;
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

/// The key of an event: `<customer id>/<event id>`.
pub(super) fn key(customer_id: &str, event_id: &str) -> String {
    format!("{customer_id}/{event_id}")
}

pub fn encode(e: &TimelineEvent) -> Result<Vec<u8>> {
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

/// The event stored under `key` (either format).
pub fn decode(key: &str, bytes: &[u8]) -> Result<TimelineEvent> {
    match bytes.split_first() {
        Some((&FORMAT_COMPACT, payload)) => {
            let v: V2 = postcard::from_bytes(payload).map_err(|e| Error::Corrupt {
                table: T,
                message: e.to_string(),
            })?;
            let id = match key.rsplit_once('/') {
                Some((_, id)) if !id.is_empty() => id.to_string(),
                _ => {
                    return Err(Error::Corrupt {
                        table: T,
                        message: format!("event key without an id: {key}"),
                    });
                }
            };
            let at = DateTime::from_timestamp(v.secs, v.nanos).ok_or_else(|| Error::Corrupt {
                table: T,
                message: format!("time out of range: {}.{}", v.secs, v.nanos),
            })?;
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
        let table = tx.open_table(super::tables::CUSTOMER_EVENTS)?;
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
                let e = decode(&key, v.value())?;
                rewritten.push((key.clone(), encode(&e)?));
            }
            last = Some(key);
        }
    }
    let mut table = tx.open_table(super::tables::CUSTOMER_EVENTS)?;
    for (key, bytes) in &rewritten {
        table.insert(key.as_str(), bytes.as_slice())?;
    }
    Ok((last, n))
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
            let key = key("01JED00000000000000000000D", &e.id);
            let bytes = encode(&e).unwrap();
            assert_eq!(decode(&key, &bytes).unwrap(), e);
            let json = codec::encode(&e).unwrap();
            assert_eq!(decode(&key, &json).unwrap(), e, "format 1 still reads");
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
            decode("c/e", &[FORMAT_COMPACT, 0xff]),
            Err(Error::Corrupt { .. })
        ));
        let bytes = encode(&event(None, None)).unwrap();
        assert!(matches!(decode("c", &bytes), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn layout_is_pinned() {
        let bytes = encode(&event(Some("contacted"), Some("轮流分配"))).unwrap();
        assert_eq!(
            crate::crypto::sha256_hex(&bytes),
            "433f6b9a2874e15b87bf676e3f876ceca45446b6ecc830bfc62d35551f032f43",
            "the format-2 layout changed ({} bytes): add a format 3 instead",
            bytes.len()
        );
    }
}
