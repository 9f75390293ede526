//! The stage each customer or deal is in and since when (`funnel_since_bin`, schema 36), what
//! `store::funnel` reads to count a stay when a record leaves its stage: a kind byte and the
//! record id → the time (Unix seconds, a zigzag varint) and the stage's name. Before schema 36
//! the same rows were text (`fs/<kind>/<id>` → (stage, since) in `funnel_since`); step 36 moves
//! them ([`move_since_batch`]).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::funnel::Kind;
use super::{Error, Result, key_codec, tables};

/// The key of a record's stage in `funnel_since_bin`: the kind's byte, then the id.
pub(super) fn since_key(kind: Kind, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(kind.byte());
    key_codec::push_id(&mut k, id);
    k
}

/// A stage and since when: the time (Unix seconds) as a zigzag LEB128 varint, then the stage's
/// name (the rest of the value).
pub(super) fn since_value(stage: &str, at: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + stage.len());
    let mut z = ((at << 1) ^ (at >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
    out.extend_from_slice(stage.as_bytes());
    out
}

/// What [`since_value`] wrote.
pub(super) fn since_of(bytes: &[u8]) -> Result<(&str, i64)> {
    let bad = || Error::Corrupt {
        table: "funnel_since",
        message: format!("a stage value of no known shape ({} bytes)", bytes.len()),
    };
    let mut z = 0u64;
    let mut end = None;
    for (i, b) in bytes.iter().enumerate().take(10) {
        z |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            end = Some(i + 1);
            break;
        }
    }
    let end = end.ok_or_else(bad)?;
    let stage = std::str::from_utf8(&bytes[end..]).map_err(|_| bad())?;
    Ok((stage, ((z >> 1) as i64) ^ -((z & 1) as i64)))
}

/// The stage a record is in and since when (Unix seconds), if counted.
pub(super) fn stage_of(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    kind: Kind,
    id: &str,
) -> Result<Option<(String, i64)>> {
    match table.get(since_key(kind, id).as_slice())? {
        Some(v) => since_of(v.value()).map(|(s, t)| Some((s.to_string(), t))),
        None => Ok(None),
    }
}

/// A stage row of `funnel_since_bin` in the text form of schemas 18 to 35: (`fs/<kind>/<id>`,
/// stage, since). For the tests of the older migrations, which write stores as those schemas
/// did.
pub fn since_row_v35(key: &[u8], value: &[u8]) -> Result<(String, String, i64)> {
    let kind = match key.first() {
        Some(b'c') => Kind::Customer,
        Some(b'd') => Kind::Deal,
        _ => {
            return Err(Error::Corrupt {
                table: "funnel_since",
                message: "a stage key of no known kind".into(),
            });
        }
    };
    let id = key_codec::id_text(&key[1..])?;
    let (stage, at) = since_of(value)?;
    Ok((format!("fs/{}/{id}", kind.key()), stage.to_string(), at))
}

/// Schema 36, one batch: up to `limit` rows of the text table `funnel_since` after its key
/// `after` moved to `funnel_since_bin` (in key order: the text keys of one kind sort as the
/// binary ones). Returns the last text key done and how many were moved; the caller drops the
/// text table.
pub(super) fn move_since_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let old = match tx.open_table(tables::FUNNEL_SINCE_V35) {
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
        let (stage, at) = v.value();
        let (kind, id) = match text.strip_prefix("fs/customer/") {
            Some(id) => (Kind::Customer, id),
            None => match text.strip_prefix("fs/deal/") {
                Some(id) => (Kind::Deal, id),
                None => {
                    return Err(Error::Corrupt {
                        table: "funnel_since",
                        message: format!("a key of no known kind: {text}"),
                    });
                }
            },
        };
        moved.push((since_key(kind, id), since_value(stage, at)));
        last = Some(text.to_string());
    }
    let n = moved.len();
    moved.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut table = tx.open_table(tables::FUNNEL_SINCE)?;
    for (k, v) in &moved {
        table.insert(k.as_slice(), v.as_slice())?;
    }
    Ok((last, n))
}

/// `zhudai doctor`: every stage row (`funnel_since_bin`) reads, names a record that exists (a
/// customer's rule view, a deal), and a live customer's row holds the stage its record is in.
/// At most `limit` differences, each named.
pub fn drift(tx: &ReadTransaction, limit: usize) -> Result<Vec<String>> {
    let since = tx.open_table(tables::FUNNEL_SINCE)?;
    let rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let deals = tx.open_table(tables::DEALS)?;
    let mut out = Vec::new();
    for row in since.iter()? {
        if out.len() >= limit {
            break;
        }
        let (k, v) = row?;
        let key = k.value();
        let id = match key.get(1..).filter(|r| !r.is_empty()) {
            Some(rest) => key_codec::id_text(rest)?,
            None => {
                out.push(format!("a stage key of {} byte(s)", key.len()));
                continue;
            }
        };
        let stage = match since_of(v.value()) {
            Ok((stage, _)) => stage.to_string(),
            Err(e) => {
                out.push(format!("{id}: {e}"));
                continue;
            }
        };
        match key.first() {
            Some(b'c') => match rules.get(id.as_str())? {
                None => out.push(format!("customer {id}: a stage row without a customer")),
                Some(r) => {
                    let r = super::rule_fields::decode(&id, r.value())?;
                    if r.deleted_at.is_none() && r.stage.key() != stage {
                        out.push(format!(
                            "customer {id}: stage row {stage}, record {}",
                            r.stage.key()
                        ));
                    }
                }
            },
            Some(b'd') => {
                if deals.get(id.as_str())?.is_none() {
                    out.push(format!("deal {id}: a stage row without a deal"));
                }
            }
            _ => out.push(format!("{id}: a stage row of no known kind")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;

    #[test]
    fn stage_rows_round_trip_and_garbage_is_corrupt() {
        for (stage, at) in [
            ("lead", 1_764_950_400),
            ("won", -86_400),
            ("", 0),
            ("阶段", i64::MAX),
        ] {
            let v = since_value(stage, at);
            assert_eq!(since_of(&v).unwrap(), (stage, at));
        }
        assert!(since_value("lead", 1_764_950_400).len() <= 10);
        for id in ["01JED00000000000000000000D", "d-1"] {
            let k = since_key(Kind::Deal, id);
            let (text, stage, at) = since_row_v35(&k, &since_value("signed", 7)).unwrap();
            assert_eq!(
                (text.as_str(), stage.as_str(), at),
                (format!("fs/deal/{id}").as_str(), "signed", 7)
            );
        }
        assert_eq!(
            since_key(Kind::Customer, "01JED00000000000000000000D").len(),
            17
        );
        assert!(matches!(since_of(&[0x80; 11]), Err(Error::Corrupt { .. })));
        assert!(matches!(since_of(&[0, 0xff]), Err(Error::Corrupt { .. })));
        assert!(matches!(
            since_row_v35(b"x1", &[0]),
            Err(Error::Corrupt { .. })
        ));
    }
}
