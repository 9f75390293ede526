//! Keys the reports read (schema 29), kept in the transactions of the writes they describe:
//! - `owner_touch` (owner, last touch, customer) → (): every owned live customer, per owner
//!   ordered by its *last touch*, the later of the claim (held since) and the last follow-up.
//!   Moved only by [`shift`], which `rule_fields::sync` (so every `customers::put`: claim,
//!   assignment, transfer, recall, deletion, restore, erasure, follow-up, a call counted as a
//!   follow-up) calls with the stored previous view, so it cannot drift from the records.
//!   "Held without a follow-up for N days" (囤积) is then one range read per owner ([`stale`]).
//! - the per-user, per-day, per-kind follow-up counters `followups_kind/<user>/<day>/<kind>`
//!   live in the `counters` table (bumped by `service::followups`); [`backfill_kinds`] fills
//!   them from the follow-up records once, at the upgrade.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Result, codec, tables};
use crate::domain::customer::RuleFields;

/// The instant a customer was last touched by its owner: the later of "held since" and the
/// last follow-up. `None` for customers nobody owns and deleted ones (not anyone's hoard).
pub fn last_touch(r: &RuleFields) -> Option<DateTime<Utc>> {
    let owner = r.owner_id.as_ref()?;
    if r.deleted_at.is_some() || owner.is_empty() {
        return None;
    }
    let held = r.held_since();
    Some(r.last_followup_at.map_or(held, |f| f.max(held)))
}

fn key(r: &RuleFields) -> Option<(String, i64)> {
    let at = last_touch(r)?;
    Some((r.owner_id.clone()?, at.timestamp()))
}

/// Moves one customer's `owner_touch` key from `old` (the stored previous view, `None` for a
/// new customer) to `new`.
pub(super) fn shift(
    tx: &WriteTransaction,
    old: Option<&RuleFields>,
    new: &RuleFields,
) -> Result<()> {
    let before = old.and_then(key);
    let after = key(new);
    if before == after {
        return Ok(());
    }
    let mut t = tx.open_table(tables::OWNER_TOUCH)?;
    if let Some((owner, at)) = &before {
        t.remove((owner.as_str(), *at, new.id.as_str()))?;
    }
    if let Some((owner, at)) = &after {
        t.insert((owner.as_str(), *at, new.id.as_str()), ())?;
    }
    Ok(())
}

/// How many live customers `owner` holds whose last touch is before `cutoff`: one range.
pub fn stale(tx: &ReadTransaction, owner: &str, cutoff: DateTime<Utc>) -> Result<u64> {
    let t = tx.open_table(tables::OWNER_TOUCH)?;
    let mut n = 0;
    for row in t.range((owner, i64::MIN, "")..(owner, cutoff.timestamp(), ""))? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// Every key `owner` has (tests and `zhudai doctor`-style checks).
pub fn of_owner(tx: &ReadTransaction, owner: &str) -> Result<Vec<(i64, String)>> {
    let t = tx.open_table(tables::OWNER_TOUCH)?;
    let mut out = Vec::new();
    for row in t.range((owner, i64::MIN, "")..=(owner, i64::MAX, "\u{10FFFF}"))? {
        let (k, _) = row?;
        let (_, at, id) = k.value();
        out.push((at, id.to_string()));
    }
    Ok(out)
}

/// Fills `owner_touch` from the compact rule view (`customer_rules`, not the JSON records):
/// the 28 → 29 upgrade. Returns the keys written.
pub fn rebuild(tx: &WriteTransaction) -> Result<u64> {
    let rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let mut t = tx.open_table(tables::OWNER_TOUCH)?;
    let mut n = 0;
    for row in rules.iter()? {
        let (id, bytes) = row?;
        // A row the rule view itself cannot read is `zhudai doctor`'s finding
        // (`rule_fields::drift`), not a reason to refuse the upgrade: said, and left out.
        let r = match super::rule_fields::decode(id.value(), bytes.value()) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(customer = id.value(), error = %e, "owner_touch: rule row unreadable, skipped");
                continue;
            }
        };
        if let Some((owner, at)) = key(&r) {
            t.insert((owner.as_str(), at, id.value()), ())?;
            n += 1;
        }
    }
    Ok(n)
}

/// The counter of `user`'s follow-ups of `kind` (`call`, `wechat`…) logged on `day`.
pub fn followups_kind_key(user: &str, day: &str, kind: &str) -> String {
    format!("followups_kind/{user}/{day}/{kind}")
}

/// Counts every follow-up record into `followups_kind/<author>/<day>/<kind>` (the 28 → 29
/// upgrade; the counters start empty). Days are Asia/Shanghai. Returns the follow-ups counted.
pub fn backfill_kinds(tx: &WriteTransaction) -> Result<u64> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut n = 0;
    {
        let t = tx.open_table(tables::FOLLOWUPS)?;
        for row in t.iter()? {
            let (_, bytes) = row?;
            let f: crate::domain::followup::Followup = codec::decode("followups", bytes.value())?;
            let day = f
                .created_at
                .with_timezone(&crate::service::customers::shanghai())
                .format("%Y-%m-%d")
                .to_string();
            *counts
                .entry(followups_kind_key(&f.author_id, &day, f.kind.as_str()))
                .or_default() += 1;
            n += 1;
        }
    }
    for (k, c) in counts {
        super::pools::set_counter(tx, &k, c)?;
    }
    Ok(n)
}
