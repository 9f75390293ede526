//! Value encoding. Each stored value is one format byte followed by the payload.
//!
//! Format 1 is JSON through serde. Why: it is self-describing, so adding a field (with
//! `#[serde(default)]`) or dropping one needs no migration; old and new binaries read each
//! other's records during a rolling upgrade; and a record can be inspected by hand when
//! something goes wrong at a customer's site. The format byte leaves room to move hot tables
//! to a compact binary format later without rewriting everything at once: readers dispatch on
//! the byte, and a migration can convert lazily.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;

pub(crate) const FORMAT_JSON: u8 = 1;

/// Encodes `value`; a value serde cannot write (a map with non-string keys, a failing custom
/// `Serialize`) is an error for the use case, never an empty record written in its place.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = vec![FORMAT_JSON];
    serde_json::to_writer(&mut out, value).map_err(|e| Error::Encode(e.to_string()))?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, Error> {
    match bytes.split_first() {
        Some((&FORMAT_JSON, payload)) => {
            serde_json::from_slice(payload).map_err(|e| Error::Corrupt {
                table,
                message: e.to_string(),
            })
        }
        Some((other, _)) => Err(Error::Corrupt {
            table,
            message: format!("unknown value format {other}"),
        }),
        None => Err(Error::Corrupt {
            table,
            message: "empty value".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        a: u32,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V2 {
        a: u32,
        #[serde(default)]
        b: Option<String>,
    }

    #[test]
    fn added_fields_read_old_records() {
        let old = encode(&V1 { a: 7 }).unwrap();
        let new: V2 = decode("t", &old).unwrap();
        assert_eq!(new, V2 { a: 7, b: None });
        let back: V1 = decode(
            "t",
            &encode(&V2 {
                a: 1,
                b: Some("x".into()),
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(back, V1 { a: 1 });
    }

    #[test]
    fn garbage_is_corrupt_not_missing() {
        assert!(matches!(decode::<V1>("t", &[]), Err(Error::Corrupt { .. })));
        assert!(matches!(
            decode::<V1>("t", &[9, 1]),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            decode::<V1>("t", b"\x01{"),
            Err(Error::Corrupt { .. })
        ));
    }

    struct Unwritable;
    impl Serialize for Unwritable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }

    #[test]
    fn a_value_that_cannot_be_encoded_is_an_error_not_an_empty_record() {
        assert!(matches!(encode(&Unwritable), Err(Error::Encode(_))));
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(matches!(encode(&map), Err(Error::Encode(_))));
    }
}
