//! Keys the reports read (schema 30), kept in the transactions of the writes they describe:
//! - `owner_touch` (owner, last touch, customer) → (): every owned live customer, per owner
//!   ordered by its *last touch*, the later of the claim (held since) and the last follow-up.
//!   Moved only by [`shift`], which `rule_fields::sync` (so every `customers::put`: claim,
//!   assignment, transfer, recall, deletion, restore, erasure, follow-up, a call counted as a
//!   follow-up) calls with the stored previous view, so it cannot drift from the records.
//!   "Held without a follow-up for N days" (囤积) is then one range read per owner ([`stale`]).
//! - `owner_touch_buckets` (owner, level, bucket) → count (schema 34): the same keys counted
//!   per UTC day (level 0) and per 32-day block (level 1), moved by [`shift`] and
//!   [`shift_many`] in the same transaction as the keys. [`stale`] sums the blocks before the
//!   cutoff's block, the days of that block before the cutoff's day and counts only the keys
//!   of the cutoff's own day: about 50 reads per owner instead of every key (an admin over
//!   200 owners of 3,500 customers each read ~700k keys). [`bucket_drift`] recounts them
//!   (`zhudai doctor`); [`buckets_batch`] builds them at the upgrade.
//! - the per-user, per-day, per-kind follow-up counters `followups_kind/<user>/<day>/<kind>`
//!   live in the `counters` table (bumped by `service::followups`); [`backfill_kinds`] fills
//!   them from the follow-up records once, at the upgrade.
//! - the per-product deal counters `prod/<product>/<day>/<officer>/<stage>` (a deal entering
//!   a stage) and `prodwhy/<product>/<day>/<officer>/<reason>` (rejected or withdrawn), also in
//!   `counters`, bumped by `store::deals::put` ([`on_deal`]); [`backfill_products`] counts the
//!   deals' stage histories once, at the upgrade.
//! - claim-to-sign (领取后签约, the `pools` report): a claim writes the marker
//!   `claimof/<customer>/<user>/<pool>/<claim day>` = 1 ([`on_claim`], replacing the customer's
//!   earlier marker); the first deal of that customer reaching 签约 or a later pipeline stage
//!   afterwards bumps `claimsign/<user>/<pool>/<claim day>` and sets the marker to 2
//!   ([`on_deal`]), so a claim counts at most one sign. Both in `counters`, both in the
//!   transactions of the claim and of the stage move. Counted from schema 31 on (no backfill).
//! - matched (匹配, the `products` report): a user asking the matching of a customer
//!   (`GET /customers/{id}/matches`) counts each product listed as eligible once per customer
//!   and day into `prod/<product>/<day>/<user>/matched`, deduplicated by the marker
//!   `matchseen/<day>/<customer>/<product>` ([`on_matched`]); markers of earlier days are
//!   removed by the next such write, so only today's stay.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Result, codec, tables};
use crate::domain::customer::RuleFields;
use crate::domain::deal::{Deal, DealStage};

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
    let mut b = tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
    if let Some((owner, at)) = &before {
        t.remove((owner.as_str(), *at, new.id.as_str()))?;
        move_buckets(&mut b, owner, *at, -1)?;
    }
    if let Some((owner, at)) = &after {
        t.insert((owner.as_str(), *at, new.id.as_str()), ())?;
        move_buckets(&mut b, owner, *at, 1)?;
    }
    Ok(())
}

/// Seconds in a bucket day (UTC days: any fixed grid is exact, the read splits at the cutoff).
const DAY: i64 = 86_400;
/// Days in a level-1 bucket.
const BLOCK: i64 = 32;

/// The two buckets (level 0: day, level 1: block of [`BLOCK`] days) a last touch falls in.
fn buckets(at: i64) -> [(u8, i64); 2] {
    let day = at.div_euclid(DAY);
    [(0, day), (1, day.div_euclid(BLOCK))]
}

type Buckets<'a> = redb::Table<'a, (&'static str, u8, i64), u64>;

fn add_bucket(t: &mut Buckets<'_>, owner: &str, level: u8, bucket: i64, delta: i64) -> Result<()> {
    let have = t.get((owner, level, bucket))?.map_or(0, |v| v.value());
    let n = have.checked_add_signed(delta).unwrap_or_else(|| {
        // A decrement below zero means the buckets drifted from `owner_touch`: said (doctor
        // recounts them, `bucket_drift`), and kept at zero rather than wrapping.
        tracing::warn!(
            owner,
            level,
            bucket,
            "owner_touch bucket below zero, kept at 0"
        );
        0
    });
    if n == 0 {
        t.remove((owner, level, bucket))?;
    } else {
        t.insert((owner, level, bucket), n)?;
    }
    Ok(())
}

/// Moves the buckets of one `owner_touch` key added (`delta` 1) or removed (-1).
fn move_buckets(t: &mut Buckets<'_>, owner: &str, at: i64, delta: i64) -> Result<()> {
    for (level, bucket) in buckets(at) {
        add_bucket(t, owner, level, bucket, delta)?;
    }
    Ok(())
}

/// [`shift`] for many distinct customers in one pass (a recall sweep's batch): the keys
/// (which name their customer) removed and inserted in key order.
pub(super) fn shift_many(
    tx: &WriteTransaction,
    moves: &[(Option<RuleFields>, RuleFields)],
) -> Result<()> {
    let mut remove = Vec::new();
    let mut insert = Vec::new();
    for (old, new) in moves {
        let before = old.as_ref().and_then(key);
        let after = key(new);
        if before == after {
            continue;
        }
        remove.extend(before.map(|(owner, at)| (owner, at, new.id.as_str())));
        insert.extend(after.map(|(owner, at)| (owner, at, new.id.as_str())));
    }
    if remove.is_empty() && insert.is_empty() {
        return Ok(());
    }
    remove.sort_unstable();
    insert.sort_unstable();
    let mut deltas: BTreeMap<(&str, u8, i64), i64> = BTreeMap::new();
    for (owner, at, _) in &remove {
        for (level, bucket) in buckets(*at) {
            *deltas.entry((owner.as_str(), level, bucket)).or_default() -= 1;
        }
    }
    for (owner, at, _) in &insert {
        for (level, bucket) in buckets(*at) {
            *deltas.entry((owner.as_str(), level, bucket)).or_default() += 1;
        }
    }
    let mut t = tx.open_table(tables::OWNER_TOUCH)?;
    for (owner, at, id) in &remove {
        t.remove((owner.as_str(), *at, *id))?;
    }
    for (owner, at, id) in &insert {
        t.insert((owner.as_str(), *at, *id), ())?;
    }
    let mut b = tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
    for ((owner, level, bucket), d) in deltas {
        if d != 0 {
            add_bucket(&mut b, owner, level, bucket, d)?;
        }
    }
    Ok(())
}

/// How many live customers `owner` holds whose last touch is before `cutoff`: the level-1
/// buckets wholly before the cutoff's block, the day buckets of that block before the
/// cutoff's day, and the keys of the cutoff's own day before it (schema 34; before, one range
/// over every key of the owner, [`stale_by_keys`]). Exactly the keys `at < cutoff`.
pub fn stale(tx: &ReadTransaction, owner: &str, cutoff: DateTime<Utc>) -> Result<u64> {
    let c = cutoff.timestamp();
    let day = c.div_euclid(DAY);
    let block = day.div_euclid(BLOCK);
    let b = tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
    let mut n = 0u64;
    for row in b.range((owner, 1u8, i64::MIN)..(owner, 1u8, block))? {
        n += row?.1.value();
    }
    for row in b.range((owner, 0u8, block * BLOCK)..(owner, 0u8, day))? {
        n += row?.1.value();
    }
    let t = tx.open_table(tables::OWNER_TOUCH)?;
    for row in t.range((owner, day * DAY, "")..(owner, c, ""))? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// [`stale`] by counting every key of the owner before `cutoff` (the reference the buckets are
/// tested against; not on a request path).
pub fn stale_by_keys(tx: &ReadTransaction, owner: &str, cutoff: DateTime<Utc>) -> Result<u64> {
    let t = tx.open_table(tables::OWNER_TOUCH)?;
    let mut n = 0;
    for row in t.range((owner, i64::MIN, "")..(owner, cutoff.timestamp(), ""))? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// The buckets that differ from a recount of `owner_touch` (`zhudai doctor`, tests): each as
/// text, empty when they match. Reads both tables whole.
pub fn bucket_drift(tx: &ReadTransaction) -> Result<Vec<String>> {
    let mut want: BTreeMap<(String, u8, i64), u64> = BTreeMap::new();
    for row in tx.open_table(tables::OWNER_TOUCH)?.iter()? {
        let (k, _) = row?;
        let (owner, at, _) = k.value();
        for (level, bucket) in buckets(at) {
            *want.entry((owner.to_string(), level, bucket)).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for row in tx.open_table(tables::OWNER_TOUCH_BUCKETS)?.iter()? {
        let (k, v) = row?;
        let (owner, level, bucket) = k.value();
        let want_n = want
            .remove(&(owner.to_string(), level, bucket))
            .unwrap_or(0);
        if want_n != v.value() {
            out.push(format!(
                "owner_touch bucket {owner}/{level}/{bucket}: {} ≠ {want_n}",
                v.value()
            ));
        }
    }
    for ((owner, level, bucket), n) in want {
        out.push(format!(
            "owner_touch bucket {owner}/{level}/{bucket}: 0 ≠ {n}"
        ));
    }
    Ok(out)
}

/// One batch of counting `owner_touch` into its buckets (the 33 → 34 upgrade; the buckets
/// start empty): the keys after `after` (the cursor [`touch_cursor`] wrote), at most `limit`.
/// Returns the cursor of the last key counted and how many (fewer than `limit`: done).
pub fn buckets_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let after = match after {
        Some(a) => Some(parse_touch_cursor(a)?),
        None => None,
    };
    let mut deltas: BTreeMap<(String, u8, i64), i64> = BTreeMap::new();
    let mut last = None;
    let mut n = 0;
    {
        let t = tx.open_table(tables::OWNER_TOUCH)?;
        let range = match &after {
            Some((o, at, id)) => t.range((
                std::ops::Bound::Excluded((o.as_str(), *at, id.as_str())),
                std::ops::Bound::Unbounded,
            ))?,
            None => t.range::<(&str, i64, &str)>(..)?,
        };
        for row in range.take(limit) {
            let (k, _) = row?;
            let (owner, at, id) = k.value();
            for (level, bucket) in buckets(at) {
                *deltas
                    .entry((owner.to_string(), level, bucket))
                    .or_default() += 1;
            }
            last = Some(touch_cursor(owner, at, id));
            n += 1;
        }
    }
    let mut b = tx.open_table(tables::OWNER_TOUCH_BUCKETS)?;
    for ((owner, level, bucket), d) in deltas {
        add_bucket(&mut b, &owner, level, bucket, d)?;
    }
    Ok((last, n))
}

/// The resumable cursor of an `owner_touch` key: its parts joined by U+001F (in no id).
pub fn touch_cursor(owner: &str, at: i64, id: &str) -> String {
    format!("{owner}\u{1f}{at}\u{1f}{id}")
}

fn parse_touch_cursor(s: &str) -> Result<(String, i64, String)> {
    let mut parts = s.splitn(3, '\u{1f}');
    let bad = || super::Error::Corrupt {
        table: "settings",
        message: format!("owner_touch cursor {s:?}"),
    };
    let owner = parts.next().ok_or_else(bad)?;
    let at = parts
        .next()
        .and_then(|a| a.parse::<i64>().ok())
        .ok_or_else(bad)?;
    let id = parts.next().ok_or_else(bad)?;
    Ok((owner.to_string(), at, id.to_string()))
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

/// One batch of filling `owner_touch` from the compact rule view (`customer_rules`, not the
/// JSON records) for the 28 → 29 upgrade: the customers after `after` (from the first when
/// `None`), at most `limit`. Returns the last id read and how many (fewer than `limit`: done).
pub fn rebuild_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let rules = tx.open_table(tables::CUSTOMER_RULES)?;
    let mut t = tx.open_table(tables::OWNER_TOUCH)?;
    let range = match after {
        Some(a) => {
            rules.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
        }
        None => rules.range::<&str>(..)?,
    };
    let mut last = None;
    let mut n = 0;
    for row in range.take(limit) {
        let (id, bytes) = row?;
        n += 1;
        last = Some(id.value().to_string());
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
        }
    }
    Ok((last, n))
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

/// The Shanghai day (`YYYY-MM-DD`) of an instant.
fn day_of(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::service::customers::shanghai())
        .format("%Y-%m-%d")
        .to_string()
}

/// The reason a deal left the pipeline, as counted: trimmed, at most 32 characters, `/` kept
/// (it is the key's last part), "未填写" when none was given.
fn reason_key(reason: Option<&str>) -> String {
    let r: String = reason
        .map(str::trim)
        .unwrap_or("")
        .chars()
        .take(32)
        .collect();
    if r.is_empty() {
        "未填写".to_string()
    } else {
        r
    }
}

/// The per-product stage counters of one stage entry: `prod/<product>/<day>/<officer>/<stage>`
/// and, for rejected and withdrawn, `prodwhy/<product>/<day>/<officer>/<reason>`.
fn stage_keys(
    product: &str,
    day: &str,
    officer: &str,
    stage: DealStage,
    reason: Option<&str>,
) -> Vec<String> {
    let mut out = vec![format!("prod/{product}/{day}/{officer}/{}", stage.key())];
    if matches!(stage, DealStage::Rejected | DealStage::Withdrawn) {
        out.push(format!(
            "prodwhy/{product}/{day}/{officer}/{}",
            reason_key(reason)
        ));
    }
    out
}

/// The marker prefix of a customer's latest claim (`claimof/<customer>/`).
fn claim_marker_prefix(customer: &str) -> String {
    format!("claimof/{customer}/")
}

/// The counter of claims by `user` from `pool` on `day` whose customer reached 签约 afterwards.
pub fn claim_sign_key(user: &str, pool: &str, day: &str) -> String {
    format!("claimsign/{user}/{pool}/{day}")
}

/// A claim of `customer` by `user` from `pool` on `day` (Asia/Shanghai): the claim cohort the
/// customer's next sign counts for. Replaces the customer's earlier marker (a recall and a
/// re-claim start a new cohort entry; the earlier claim keeps what it counted). In the claim's
/// transaction.
pub fn on_claim(
    tx: &WriteTransaction,
    customer: &str,
    user: &str,
    pool: &str,
    day: &str,
) -> Result<()> {
    for (k, _) in super::pools::counters_with_prefix_w(tx, &claim_marker_prefix(customer))? {
        super::pools::remove_counter(tx, &k)?;
    }
    super::pools::set_counter(tx, &format!("claimof/{customer}/{user}/{pool}/{day}"), 1)
}

fn match_marker(day: &str, customer: &str, product: &str) -> String {
    format!("matchseen/{day}/{customer}/{product}")
}

/// Whether every product of `products` was already counted as matched for `customer` on `day`
/// (then the match needs no write).
pub fn matched_already(
    tx: &ReadTransaction,
    day: &str,
    customer: &str,
    products: &[&str],
) -> Result<bool> {
    for p in products {
        if super::pools::counter(tx, &match_marker(day, customer, p))? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Counts the products `customer` qualifies for, as `user` asked on `day`, once per customer,
/// product and day: `prod/<product>/<day>/<user>/matched`. Returns how many were new. Removes
/// the dedup markers of earlier days.
pub fn on_matched(
    tx: &WriteTransaction,
    day: &str,
    customer: &str,
    user: &str,
    products: &[&str],
) -> Result<u64> {
    let old: Vec<String> = {
        let t = tx.open_table(tables::COUNTERS)?;
        let end = format!("matchseen/{day}");
        let mut v = Vec::new();
        for row in t.range("matchseen/"..end.as_str())? {
            let (k, _) = row?;
            v.push(k.value().to_string());
        }
        v
    };
    for k in old {
        super::pools::remove_counter(tx, &k)?;
    }
    let mut n = 0;
    for p in products {
        let marker = match_marker(day, customer, p);
        if super::pools::counter_w(tx, &marker)? > 0 {
            continue;
        }
        super::pools::set_counter(tx, &marker, 1)?;
        super::pools::bump(tx, &format!("prod/{p}/{day}/{user}/matched"))?;
        n += 1;
    }
    Ok(n)
}

/// Whether a stage is 签约 or later on the pipeline (rejected and withdrawn are not).
fn signed_or_later(s: DealStage) -> bool {
    matches!(
        s,
        DealStage::Signed
            | DealStage::Submitted
            | DealStage::Approved
            | DealStage::Disbursed
            | DealStage::FeeCollected
    )
}

/// A deal reaching 签约 (or a later pipeline stage, skipping it) counts for its customer's
/// latest claim, once per claim.
fn on_sign(tx: &WriteTransaction, before: Option<&Deal>, d: &Deal) -> Result<()> {
    if !signed_or_later(d.stage) || before.is_some_and(|b| signed_or_later(b.stage)) {
        return Ok(());
    }
    let prefix = claim_marker_prefix(&d.customer_id);
    for (k, v) in super::pools::counters_with_prefix_w(tx, &prefix)? {
        if v != 1 {
            continue;
        }
        let rest = &k[prefix.len()..];
        let mut parts = rest.splitn(3, '/');
        if let (Some(user), Some(pool), Some(day)) = (parts.next(), parts.next(), parts.next()) {
            super::pools::bump(tx, &claim_sign_key(user, pool, day))?;
        }
        super::pools::set_counter(tx, &k, 2)?;
    }
    Ok(())
}

/// Counts a deal's entry into its stage per product (the `products` report), in the deal
/// write's transaction (`store::deals::put`): only when the stage changes (or the deal is new).
/// Also the claim-to-sign count ([`on_claim`]).
pub(super) fn on_deal(tx: &WriteTransaction, before: Option<&Deal>, d: &Deal) -> Result<()> {
    if before.is_some_and(|b| b.stage == d.stage) {
        return Ok(());
    }
    on_sign(tx, before, d)?;
    for k in stage_keys(
        &d.product.id,
        &day_of(d.updated_at),
        &d.officer_id,
        d.stage,
        d.closed_reason.as_deref(),
    ) {
        super::pools::bump(tx, &k)?;
    }
    Ok(())
}

/// Counts every stage change of every deal into the per-product counters (the 28 → 29
/// upgrade; they start empty), by the deal's current officer. Returns the changes counted.
pub fn backfill_products(tx: &WriteTransaction) -> Result<u64> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut n = 0;
    {
        let t = tx.open_table(tables::DEALS)?;
        for row in t.iter()? {
            let (_, bytes) = row?;
            let d: Deal = codec::decode("deals", bytes.value())?;
            for c in &d.history {
                let reason = if c.to == d.stage {
                    d.closed_reason.as_deref()
                } else {
                    c.note.as_deref()
                };
                for k in stage_keys(&d.product.id, &day_of(c.at), &d.officer_id, c.to, reason) {
                    *counts.entry(k).or_default() += 1;
                }
                n += 1;
            }
        }
    }
    for (k, c) in counts {
        super::pools::set_counter(tx, &k, c)?;
    }
    Ok(n)
}
