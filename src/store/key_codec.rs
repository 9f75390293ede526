//! The binary form of the customer keys and lead-check keys (schema 35).
//!
//! Until schema 34 both tables held text keys: `p:<32 hex>/<26-character id>` and the like,
//! about 60 bytes each, five per customer. Since schema 35 a key is bytes: a kind byte, its
//! middle part, then the customer id, with the ULIDs and the hex of the blind indexes as their
//! bytes (a phone key is 34 bytes instead of 61), and no value (`()`).
//!
//! The parts are self-delimiting, so a prefix scan never runs into a neighbour's keys, and
//! their byte order is the order the text keys had where it matters: within one prefix, ids
//! sort in id (ULID) order, because a canonical ULID's 16 bytes sort as its text does; the
//! recycle bin's keys sort by deletion time (big-endian, sign bit flipped).
//!
//! - a trailing id ([`push_id`]): a canonical ULID as its 16 bytes; any other text as its
//!   UTF-8 bytes, with a 0 appended when it is exactly 16 bytes long (so the length tells
//!   the two apart; ids hold no 0 byte). Ids of the two forms under one prefix sort ULIDs by
//!   their bytes, which only differs from the text order for ids no version of zhudai writes.
//! - a middle id or hex part ([`push_part`]): `0` for none, `1` + 16 bytes (a canonical ULID,
//!   or 32 lower-case hex digits), `2` + text + `0` for anything else.
//! - a name ([`push_name`]): its UTF-8 bytes (without any 0) and a 0.

use super::{Error, Result};

const T: &str = "customer_keys";
const ULID_LEN: usize = 16;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Not a digit of [`ALPHABET`] in [`DIGIT`].
const NO_DIGIT: u8 = 0xff;
/// Each byte's value as an upper-case Crockford digit, or [`NO_DIGIT`]: one lookup per byte
/// (every customer key ends with an id; a recall sweep builds tens of thousands of keys, and a
/// search of the alphabet per byte was a tenth of its writer's time).
const DIGIT: [u8; 256] = {
    let mut t = [NO_DIGIT; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Whether `s` is a ULID as `ulid` prints it (26 upper-case Crockford digits, the first at most
/// `7`): exactly those print back to the same text from their 16 bytes.
pub(crate) fn is_canonical_ulid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 26
        && (b'0'..=b'7').contains(&b[0])
        && b.iter().all(|c| DIGIT[*c as usize] != NO_DIGIT)
}

/// The 16 bytes of a canonical ULID (what `ulid::Ulid::from_string(s)?.to_bytes()` gives; the
/// first digit at most `7` keeps the 130 bits of 26 digits within 128).
fn ulid_bytes(s: &str) -> Option<[u8; ULID_LEN]> {
    if !is_canonical_ulid(s) {
        return None;
    }
    let v = s
        .bytes()
        .fold(0u128, |v, c| (v << 5) | u128::from(DIGIT[c as usize]));
    Some(v.to_be_bytes())
}

/// The 16 bytes of the first 32 lower-case hex digits of `s`, if it starts with them.
fn hex_bytes(s: &str) -> Option<[u8; ULID_LEN]> {
    let head = s.get(..2 * ULID_LEN)?;
    if !head
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; ULID_LEN];
    hex::decode_to_slice(head, &mut out).ok()?;
    Some(out)
}

/// Appends a key's trailing id.
pub(super) fn push_id(out: &mut Vec<u8>, id: &str) {
    match ulid_bytes(id) {
        Some(b) => out.extend_from_slice(&b),
        None => {
            out.extend_from_slice(id.as_bytes());
            if id.len() == ULID_LEN {
                out.push(0);
            }
        }
    }
}

/// The id a key ends with, from its bytes after the middle part.
pub(super) fn id_text(b: &[u8]) -> Result<String> {
    if let Ok(u) = <[u8; ULID_LEN]>::try_from(b) {
        return Ok(ulid::Ulid::from_bytes(u).to_string());
    }
    let text = match b.split_last() {
        Some((0, head)) if head.len() == ULID_LEN => head,
        _ => b,
    };
    String::from_utf8(text.to_vec()).map_err(|_| Error::Corrupt {
        table: T,
        message: "a key's id is not text".into(),
    })
}

/// Appends a middle part: an owner, pool, or the hex of a blind or lead index (only its first
/// 128 bits are kept, as since schema 32), or none.
pub(super) fn push_part(out: &mut Vec<u8>, part: Option<&str>) {
    match part {
        None => out.push(0),
        Some(s) => match ulid_bytes(s).or_else(|| hex_bytes(s)) {
            Some(b) => {
                out.push(1);
                out.extend_from_slice(&b);
            }
            None => {
                out.push(2);
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
        },
    }
}

/// Appends an id as a middle part, exactly: `1` + 16 bytes for a canonical ULID, `2` + text +
/// `0` for anything else (unlike [`push_part`], never read as the hex of an index). Read back
/// with [`part_id`].
pub(super) fn push_id_part(out: &mut Vec<u8>, id: &str) {
    match ulid_bytes(id) {
        Some(b) => {
            out.push(1);
            out.extend_from_slice(&b);
        }
        None => {
            out.push(2);
            out.extend(id.bytes().filter(|&b| b != 0));
            out.push(0);
        }
    }
}

/// Splits a middle part off `b`: its length in bytes, or `None` when malformed.
pub(super) fn part_len(b: &[u8]) -> Option<usize> {
    match b.first()? {
        0 => Some(1),
        1 => (b.len() > ULID_LEN).then_some(1 + ULID_LEN),
        2 => b[1..].iter().position(|&c| c == 0).map(|i| i + 2),
        _ => None,
    }
}

/// A middle part that was an id (owner, pool), as text; `None` for none.
pub(super) fn part_id(b: &[u8]) -> Result<Option<String>> {
    match b.first() {
        Some(0) => Ok(None),
        Some(1) => id_text(&b[1..]).map(Some),
        Some(2) if b.len() >= 2 => String::from_utf8(b[1..b.len() - 1].to_vec())
            .map(Some)
            .map_err(|_| Error::Corrupt {
                table: T,
                message: "a key's part is not text".into(),
            }),
        _ => Err(Error::Corrupt {
            table: T,
            message: "a key's part is malformed".into(),
        }),
    }
}

/// Appends a name and its terminating 0. A 0 inside the name (names refuse control
/// characters; a record from before that rule might hold one) is left out, so the terminator
/// is always the first 0: such a name is found under the name without it too, and the
/// callers compare names.
pub(super) fn push_name(out: &mut Vec<u8>, name: &str) {
    out.extend(name.bytes().filter(|&b| b != 0));
    out.push(0);
}

/// A deletion time as 8 bytes that sort as the time does.
pub(super) fn push_micros(out: &mut Vec<u8>, micros: i64) {
    out.extend_from_slice(&((micros as u64) ^ (1 << 63)).to_be_bytes());
}

/// The time [`push_micros`] wrote.
fn micros_of(b: &[u8]) -> Option<i64> {
    let b: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// The deletion time and the customer id of a recycle-bin key (`b`, 8 bytes of time, the id);
/// a key too short to hold both is corrupt, never read as time zero or an empty id.
pub(super) fn bin_parts(key: &[u8]) -> Result<(i64, String)> {
    let damaged = || Error::Corrupt {
        table: T,
        message: format!("a recycle-bin key is damaged ({} bytes)", key.len()),
    };
    let micros = key.get(1..).and_then(micros_of).ok_or_else(damaged)?;
    match key.get(9..) {
        Some(id) if !id.is_empty() => Ok((micros, id_text(id)?)),
        _ => Err(damaged()),
    }
}

/// Where a key's trailing id starts, by its kind byte: `p`/`i` (an index part), `o`/`q` (an
/// id part), `b` (a time), `n` (a name). `None` for a key of no known shape.
pub(super) fn id_start(key: &[u8]) -> Option<usize> {
    let rest = key.get(1..)?;
    let start = match key.first()? {
        b'p' | b'i' | b'o' | b'q' => 1 + part_len(rest)?,
        b'b' => 1 + 8,
        b'n' => 1 + rest.iter().position(|&c| c == 0)? + 1,
        _ => return None,
    };
    (start < key.len()).then_some(start)
}

/// The customer id a customer key names, whatever its kind.
pub(super) fn id_of_key(key: &[u8]) -> Result<String> {
    let start = id_start(key).ok_or_else(|| Error::Corrupt {
        table: T,
        message: format!("a key of no known shape ({} bytes)", key.len()),
    })?;
    id_text(&key[start..])
}

/// The customer id a lead-check key names (a part, then the id).
pub(super) fn id_of_lead_key(key: &[u8]) -> Result<String> {
    let start = part_len(key)
        .filter(|&s| s < key.len())
        .ok_or_else(|| Error::Corrupt {
            table: "lead_check",
            message: "a lead-check key of no known shape".into(),
        })?;
    id_text(&key[start..])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;

    #[test]
    fn a_damaged_bin_key_is_corrupt_not_time_zero() {
        let mut k = vec![b'b'];
        push_micros(&mut k, 1_764_892_800_000_000);
        push_id(&mut k, "01JABCDEFGHJKMNPQRSTVWXYZ0");
        assert_eq!(
            bin_parts(&k).unwrap(),
            (
                1_764_892_800_000_000,
                "01JABCDEFGHJKMNPQRSTVWXYZ0".to_string()
            )
        );
        for short in [&k[..1], &k[..5], &k[..9]] {
            assert!(matches!(bin_parts(short), Err(Error::Corrupt { .. })));
        }
    }

    #[test]
    fn ulid_bytes_are_the_ulid_crates_bytes() {
        let mut ids: Vec<String> = (0..2000u128)
            .map(|i| {
                let v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) ^ (i << 64);
                ulid::Ulid(v).to_string()
            })
            .collect();
        ids.extend([ulid::Ulid(0).to_string(), ulid::Ulid(u128::MAX).to_string()]);
        for id in &ids {
            assert_eq!(
                ulid_bytes(id),
                Some(ulid::Ulid::from_string(id).unwrap().to_bytes()),
                "{id}"
            );
        }
        for not in [
            "",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01ARZ3NDEKTSV4RRFFQ69G5FAv",
            "01ARZ3NDEKTSV4RRFFQ69G5FAI",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVV",
            "01ARZ3NDEKTSV4RRFFQ69G5FA\u{e9}",
        ] {
            assert_eq!(ulid_bytes(not), None, "{not:?}");
        }
    }

    #[test]
    fn ids_round_trip_and_ulids_sort_as_their_text() {
        let mut ids: Vec<String> = (0..200u128)
            .map(|i| {
                ulid::Ulid::from(i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
                    .to_string()
            })
            .collect();
        ids.extend(["c1", "0123456789abcdef", "x", "01JABCDEFGHJKMNPQRSTVWXYZ0"].map(String::from));
        for id in &ids {
            let mut k = Vec::new();
            push_id(&mut k, id);
            assert_eq!(&id_text(&k).unwrap(), id);
        }
        let ulids: Vec<&String> = ids.iter().filter(|s| is_canonical_ulid(s)).collect();
        let mut by_text = ulids.clone();
        by_text.sort();
        let mut by_bytes = ulids.clone();
        by_bytes.sort_by_key(|s| {
            let mut k = Vec::new();
            push_id(&mut k, s);
            k
        });
        assert_eq!(by_text, by_bytes);
        // A lower-case ULID is not canonical: kept as text, so it reads back as it was.
        let lower = ids[0].to_lowercase();
        let mut k = Vec::new();
        push_id(&mut k, &lower);
        assert_eq!(id_text(&k).unwrap(), lower);
    }

    #[test]
    fn every_kind_gives_back_its_id_and_parts_do_not_run_into_each_other() {
        let id = ulid::Ulid::from(42u128).to_string();
        let hex = "0f".repeat(32);
        let mut keys = Vec::new();
        for (kind, part) in [
            (b'p', Some(hex.as_str())),
            (b'i', Some("not hex")),
            (b'o', None),
            (b'o', Some(id.as_str())),
            (b'q', Some("pool-1")),
        ] {
            let mut k = vec![kind];
            push_part(&mut k, part);
            push_id(&mut k, &id);
            keys.push(k);
        }
        let mut k = vec![b'b'];
        push_micros(&mut k, 1_700_000_000_000_000);
        assert_eq!(micros_of(&k[1..]), Some(1_700_000_000_000_000));
        push_id(&mut k, "c9");
        assert_eq!(id_of_key(&k).unwrap(), "c9");
        let mut n = vec![b'n'];
        push_name(&mut n, "张三");
        push_id(&mut n, &id);
        keys.push(n);
        for k in &keys {
            assert_eq!(id_of_key(k).unwrap(), id, "{k:?}");
        }
        // An owner's prefix is not a prefix of another owner's keys.
        let (mut a, mut b) = (vec![b'o'], vec![b'o']);
        push_part(&mut a, Some("ab"));
        push_part(&mut b, Some("abc"));
        push_id(&mut b, &id);
        assert!(!b.starts_with(&a));
        // Deletion times sort as times, negative ones too.
        let t = |m: i64| {
            let mut k = Vec::new();
            push_micros(&mut k, m);
            k
        };
        assert!(t(-5) < t(0) && t(0) < t(7) && t(7) < t(i64::MAX));
    }
}
