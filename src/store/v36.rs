//! Schema 36 (issue 18.2, the compact store): timeline events and the funnel's stages move to
//! binary tables, the customer keys lose the `o` + none keys of customers in no one's hands,
//! and the tables earlier migrations rewrote in place are rebuilt into fresh ones, so a
//! migrated store is as compact as a freshly imported one.
//!
//! The rebuild is `store::repack` (a table copied in key order into a fresh one, whose leaves
//! redb then packs full). Every phase runs in batches of write transactions with a cursor in `settings`
//! (`migrate::run_in_batches`): the cursor names the phase and the last row done, so an
//! interrupted upgrade resumes where it stopped.

use redb::WriteTransaction;

use super::{Error, Result, customer_codec, event_codec, funnel_since, repack, tables};

/// The step's first batch: the binary tables of events and stages created empty (a store that
/// went through step 18 may hold an empty `funnel_since_bin`), and a copy an interrupted run
/// of an older build could have left, dropped.
pub fn first(tx: &WriteTransaction) -> Result<()> {
    tx.delete_table(tables::CUSTOMER_EVENTS)?;
    tx.open_table(tables::CUSTOMER_EVENTS)?;
    tx.delete_table(tables::FUNNEL_SINCE)?;
    tx.open_table(tables::FUNNEL_SINCE)?;
    for name in REPACKED {
        repack::drop_copy(tx, name)?;
    }
    Ok(())
}

/// The tables rebuilt, in order: those the migrations to 35 rewrote in place (records, rule
/// views) and the keys (the `o` + none keys left out on the way).
const REPACKED: [&str; 4] = [
    "customers",
    "customer_rules",
    "customer_keys_bin",
    "lead_check_bin",
];

/// Whether a customer key is kept: every key but the `o` + none ones (customers in no one's
/// hands are listed by their pool's `q` keys; nothing read these).
pub(super) fn keep_key(k: &[u8]) -> bool {
    !k.starts_with(&[b'o', 0])
}

fn keys_kept(k: &[u8], _: &[u8]) -> Result<repack::Row> {
    Ok(if keep_key(k) {
        repack::Row::Keep
    } else {
        repack::Row::Drop
    })
}

/// A record in an older format than 4 rewritten in format 4 (without its id: the key).
fn record_4(k: &[u8], v: &[u8]) -> Result<repack::Row> {
    if !customer_codec::is_older(v) {
        return Ok(repack::Row::Keep);
    }
    let id = std::str::from_utf8(k).map_err(|_| Error::Corrupt {
        table: "customers",
        message: "a record's key is not text".into(),
    })?;
    let c = customer_codec::decode(id, v)?;
    Ok(repack::Row::Replace(customer_codec::encode(&c)?))
}

/// One batch of step 36. The cursor names its phase: `e:<text key>` events moved, `f:<text
/// key>` stages moved, `r<i>` / `r<i>:<hex key>` table `REPACKED[i]` being rebuilt. A batch
/// that finishes a phase goes on with the next; the last phase's end ends the step.
pub fn batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut n = 0;
    let mut phase = after.map(str::to_string);
    if phase.as_deref().is_none_or(|c| c.starts_with("e:")) {
        let from = phase.as_deref().and_then(|c| c.strip_prefix("e:"));
        let (last, done) = event_codec::move_batch(tx, from, limit)?;
        if done == limit {
            return Ok((last.map(|l| format!("e:{l}")), done));
        }
        tx.delete_table(tables::CUSTOMER_EVENTS_V35)?;
        n = done;
        phase = None;
    }
    if phase.as_deref().is_none_or(|c| c.starts_with("f:")) {
        let from = phase.as_deref().and_then(|c| c.strip_prefix("f:"));
        let (last, done) = funnel_since::move_since_batch(tx, from, limit - n)?;
        n += done;
        if n == limit {
            return Ok((last.map(|l| format!("f:{l}")), n));
        }
        tx.delete_table(tables::FUNNEL_SINCE_V35)?;
        phase = Some("r0".into());
    }
    let Some(mut cursor) = phase else {
        return Ok((None, n));
    };
    loop {
        let (i, from) = parse_repack(&cursor)?;
        let (from, left) = (from.as_deref(), limit - n);
        let (last, done) = match i {
            0 => repack::batch(tx, tables::CUSTOMERS, from, left, record_4)?,
            1 => repack::batch(tx, tables::CUSTOMER_RULES, from, left, repack::keep_all)?,
            2 => repack::batch(tx, tables::CUSTOMER_KEYS, from, left, keys_kept)?,
            _ => repack::batch(tx, tables::LEAD_CHECK, from, left, repack::keep_all)?,
        };
        n += done;
        if n == limit {
            let last = last.map(hex::encode).unwrap_or_default();
            return Ok((Some(format!("r{i}:{last}")), n));
        }
        if i + 1 == REPACKED.len() {
            return Ok((None, n));
        }
        cursor = format!("r{}", i + 1);
    }
}

/// `r<i>` → (i, none); `r<i>:<hex>` → (i, the key's bytes).
fn parse_repack(cursor: &str) -> Result<(usize, Option<Vec<u8>>)> {
    let bad = || Error::Corrupt {
        table: "settings",
        message: format!("migration 36: a cursor of no known shape: {cursor}"),
    };
    let rest = cursor.strip_prefix('r').ok_or_else(bad)?;
    let (i, key) = match rest.split_once(':') {
        Some((i, key)) => (i, Some(hex::decode(key).map_err(|_| bad())?)),
        None => (rest, None),
    };
    let i: usize = i.parse().map_err(|_| bad())?;
    if i >= REPACKED.len() {
        return Err(bad());
    }
    Ok((i, key))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;

    #[test]
    fn cursors_name_their_table_and_key() {
        assert_eq!(parse_repack("r0").unwrap(), (0, None));
        assert_eq!(parse_repack("r3:00ff").unwrap(), (3, Some(vec![0, 0xff])));
        for bad in ["x", "r9", "r1:zz", "r"] {
            assert!(
                matches!(parse_repack(bad), Err(Error::Corrupt { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_the_no_owner_keys_are_left_out() {
        assert!(!keep_key(&[b'o', 0, 1, 2]));
        assert!(keep_key(&[b'o', 1, 0]));
        assert!(keep_key(&[b'p', 0]));
        assert!(keep_key(b"q"));
    }
}
