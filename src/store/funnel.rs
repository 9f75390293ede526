//! Funnel counters (漏斗), kept in the same transaction as the record whose stage changes, so a
//! funnel for any period and scope is read from counters, never from the records:
//!
//! - `fe/<kind>/<YYYY-MM-DD>/<owner or ->/<stage>` in `counters`: how many records entered the
//!   stage that day (Asia/Shanghai), attributed to the owner at the time. A move forward along
//!   the pipeline counts every stage it passes (lead → signed also enters contacted, qualified,
//!   invited and visited): a funnel's "reached" counts. A record created at a stage enters the
//!   pipeline's stages up to it. Moves backwards count nothing; an off-pipeline stage (lost,
//!   invalid, rejected, withdrawn) counts itself.
//! - `fd/<kind>/<YYYY-MM-DD>/<owner or ->/<stage>/<bucket>`: records that left the stage that
//!   day, by how many whole days they had been in it ([`bucket`]: each day up to 30, then
//!   wider), for the median time in each stage.
//! - `funnel_since_bin` (schema 36; `fs/<kind>/<record id>` in `funnel_since` before): the
//!   stage a record is in and since when, keyed by a kind byte and the record id.
//! - `me/…`, `md/…`, `mr/…`: the same counters by month (`YYYY-MM` in place of the day), bumped
//!   with the day's (schema 22 sums the day counters kept before). A funnel over a long
//!   period reads whole months from these and only its partial months by day ([`period_rows`]):
//!   a year at 200k deals reads ~30k rows instead of ~250k.
//!
//! Counting starts when the table is created (schema 18); `settings` key `funnel/since` holds
//! that instant so a funnel says from when its counts are complete.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::funnel_since::{since_key, since_value, stage_of};
use super::{Error, Result, tables};

/// What a funnel counts: customers or deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    Deal,
}

impl Kind {
    pub(super) fn key(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Deal => "deal",
        }
    }

    /// The first byte of the record's key in `funnel_since_bin`.
    pub(super) fn byte(self) -> u8 {
        match self {
            Kind::Customer => b'c',
            Kind::Deal => b'd',
        }
    }
}

/// Upper bounds (inclusive, in whole days) of the duration buckets after the first 31 (0–30).
const WIDE: [u32; 8] = [45, 60, 90, 120, 180, 270, 365, u32::MAX];

/// The bucket of a stay of `days` whole days: the day itself up to 30, then the first wide
/// bound at or above it.
pub fn bucket(days: u32) -> u32 {
    if days <= 30 {
        days
    } else {
        WIDE.iter()
            .copied()
            .find(|b| days <= *b)
            .unwrap_or(u32::MAX)
    }
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

pub fn day(at: DateTime<Utc>) -> String {
    at.with_timezone(&shanghai()).format("%Y-%m-%d").to_string()
}

/// Bumps a day counter (`fe/…`, `fd/…`, `fr/…`) and its month rollup (`me/…`, `md/…`, `mr/…`).
fn bump(tx: &WriteTransaction, key: &str) -> Result<()> {
    let mut t = tx.open_table(tables::COUNTERS)?;
    for k in [key.to_string(), month_key(key)?] {
        let n = t.get(k.as_str())?.map_or(0, |v| v.value());
        t.insert(k.as_str(), n + 1)?;
    }
    Ok(())
}

/// `fe/<kind>/<YYYY-MM-DD>/rest` → `me/<kind>/<YYYY-MM>/rest` (likewise fd → md, fr → mr).
fn month_key(day_key: &str) -> Result<String> {
    let bad = || Error::Corrupt {
        table: "counters",
        message: format!("funnel key {day_key}"),
    };
    let mut parts = day_key.splitn(4, '/');
    let (Some(prefix), Some(kind), Some(day), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let month_prefix = match prefix {
        "fe" => "me",
        "fd" => "md",
        "fr" => "mr",
        _ => return Err(bad()),
    };
    let month = day.get(..7).filter(|_| day.len() == 10).ok_or_else(bad)?;
    Ok(format!("{month_prefix}/{kind}/{month}/{rest}"))
}

/// The pieces a period `from..=to` (days) is read in: whole calendar months from the month
/// counters, the partial months at its ends from the day counters. `(true, "YYYY-MM", _)` is a
/// month, `(false, first day, last day)` a run of days.
pub(crate) fn segments(
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Vec<(bool, String, String)> {
    use chrono::{Datelike, NaiveDate};
    let mut out = Vec::new();
    let mut cursor = from;
    while cursor <= to {
        let first = cursor.with_day(1).unwrap_or(cursor);
        let next_month = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
        };
        let Some(next_month) = next_month else {
            out.push((false, cursor.to_string(), to.to_string()));
            break;
        };
        let last = next_month.pred_opt().unwrap_or(next_month);
        if cursor == first && last <= to {
            out.push((true, first.format("%Y-%m").to_string(), String::new()));
        } else {
            out.push((false, cursor.to_string(), last.min(to).to_string()));
        }
        cursor = next_month;
    }
    out
}

/// Sums the month rollups from the day counters (schema 22: counters written before the
/// rollups existed). Reads only the funnel's key ranges.
pub(super) fn build_month_rollups(tx: &WriteTransaction) -> Result<()> {
    let mut sums: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    {
        let t = tx.open_table(tables::COUNTERS)?;
        for prefix in ["fe/", "fd/", "fr/"] {
            let end = format!("{}0", prefix.trim_end_matches('/'));
            for row in t.range(prefix..end.as_str())? {
                let (k, v) = row?;
                *sums.entry(month_key(k.value())?).or_default() += v.value();
            }
        }
    }
    let mut t = tx.open_table(tables::COUNTERS)?;
    for (k, n) in &sums {
        t.insert(k.as_str(), *n)?;
    }
    Ok(())
}

/// The stages a move from `from` (none: created) to `to` enters, given the pipeline order.
pub fn entered<'a>(pipeline: &[&'a str], from: Option<&str>, to: &'a str) -> Vec<&'a str> {
    let pos = |s: &str| pipeline.iter().position(|p| *p == s);
    match (from.map(&pos), pos(to)) {
        // Off the pipeline: the stage itself (unless it is where the record already is).
        (_, None) => {
            if from == Some(to) {
                vec![]
            } else {
                vec![to]
            }
        }
        // Created, or back onto the pipeline from off it: every stage up to `to`.
        (None, Some(t)) | (Some(None), Some(t)) => pipeline[..=t].to_vec(),
        (Some(Some(f)), Some(t)) if t > f => pipeline[f + 1..=t].to_vec(),
        _ => vec![],
    }
}

/// Records a record's stage after a write: entries for the stages it entered, the stay it left
/// in its previous stage, and its new "since". `owner` is the record's owner after the write;
/// `reason` why it entered an off-pipeline stage (a rejected deal's reason), counted by its text
/// (`fr/<kind>/<day>/<owner>/<stage>/<reason>`).
#[allow(clippy::too_many_arguments)]
pub fn on_write(
    tx: &WriteTransaction,
    kind: Kind,
    pipeline: &[&str],
    id: &str,
    owner: Option<&str>,
    stage: &str,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    let since_key = since_key(kind, id);
    let mut since = tx.open_table(tables::FUNNEL_SINCE)?;
    let previous = stage_of(&since, kind, id)?;
    if previous.as_ref().is_some_and(|(s, _)| s == stage) {
        return Ok(());
    }
    let today = day(at);
    let who = owner.unwrap_or("-");
    let k = kind.key();
    let from = previous.as_ref().map(|(s, _)| s.as_str());
    for s in entered(pipeline, from, stage) {
        bump(tx, &format!("fe/{k}/{today}/{who}/{s}"))?;
        if kind == Kind::Customer && s == "lead" {
            bump_lead(tx, &today, who, 1)?;
        }
    }
    if !pipeline.contains(&stage)
        && let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty())
    {
        // The reason is the key's last part: no '/' inside it.
        let r: String = r.chars().map(|c| if c == '/' { '／' } else { c }).collect();
        bump(tx, &format!("fr/{k}/{today}/{who}/{stage}/{r}"))?;
    }
    if let Some((old, t)) = &previous {
        let days = u32::try_from((at.timestamp() - t).max(0) / 86_400).unwrap_or(u32::MAX);
        bump(tx, &format!("fd/{k}/{today}/{who}/{old}/{}", bucket(days)))?;
    }
    since.insert(
        since_key.as_slice(),
        since_value(stage, at.timestamp()).as_slice(),
    )?;
    Ok(())
}

/// `fl/<YYYY-MM-DD>/<owner or ->`: the customers entering 线索 that day (the `lead` entries of
/// `fe/customer/<day>/<owner>/lead`, schema 34), kept with them so the 工作台 trends read one
/// row per owner and day instead of every stage's rows.
fn lead_key(day: &str, who: &str) -> String {
    format!("fl/{day}/{who}")
}

fn bump_lead(tx: &WriteTransaction, day: &str, who: &str, n: u64) -> Result<()> {
    let mut t = tx.open_table(tables::COUNTERS)?;
    let k = lead_key(day, who);
    let have = t.get(k.as_str())?.map_or(0, |v| v.value());
    t.insert(k.as_str(), have + n)?;
    Ok(())
}

/// Visits the lead counters of the days `from..=to` (`YYYY-MM-DD`): (day, owner, count),
/// `None` for customers entering 线索 without an owner.
pub fn leads_in(
    tx: &ReadTransaction,
    from: &str,
    to: &str,
    mut visit: impl FnMut(&str, Option<&str>, u64),
) -> Result<()> {
    let start = format!("fl/{from}");
    let end = format!("fl/{to}0");
    let t = tx.open_table(tables::COUNTERS)?;
    for row in t.range(start.as_str()..end.as_str())? {
        let (k, v) = row?;
        let key = k.value();
        let (Some(day), Some(who)) = (key.get(3..13), key.get(14..)) else {
            return Err(Error::Corrupt {
                table: "counters",
                message: format!("lead key {key}"),
            });
        };
        visit(day, (who != "-").then_some(who), v.value());
    }
    Ok(())
}

/// The first key after the customer funnel's entry rows.
const FE_CUSTOMER_END: &str = "fe/customer0";

/// One batch of building the lead counters from the customer funnel's `lead` entries (the
/// 33 → 34 upgrade; they start empty): the `fe/customer/…` rows after `after`, at most
/// `limit`. Returns the last key read and how many.
pub fn leads_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut found = Vec::new();
    let mut last = None;
    let mut n = 0;
    {
        let t = tx.open_table(tables::COUNTERS)?;
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a),
            None => std::ops::Bound::Included("fe/customer/"),
        };
        for row in t
            .range::<&str>((start, std::ops::Bound::Excluded(FE_CUSTOMER_END)))?
            .take(limit)
        {
            let (k, v) = row?;
            let key = k.value();
            n += 1;
            last = Some(key.to_string());
            if let Some(rest) = key
                .strip_prefix("fe/customer/")
                .and_then(|r| r.strip_suffix("/lead"))
                && let Some((day, who)) = rest.split_once('/')
            {
                found.push((day.to_string(), who.to_string(), v.value()));
            }
        }
    }
    for (day, who, c) in found {
        bump_lead(tx, &day, &who, c)?;
    }
    Ok((last, n))
}

/// Removes every lead counter (the first batch of the 33 → 34 upgrade).
pub fn clear_leads(tx: &WriteTransaction) -> Result<()> {
    let mut t = tx.open_table(tables::COUNTERS)?;
    let keys: Vec<String> = t
        .range("fl/".."fl0")?
        .map(|r| r.map(|(k, _)| k.value().to_string()))
        .collect::<std::result::Result<_, _>>()?;
    for k in keys {
        t.remove(k.as_str())?;
    }
    Ok(())
}

/// Lead counters that differ from the customer funnel's `lead` entries (tests, doctor-style
/// checks): each as text, empty when they match. Reads both key ranges whole.
pub fn lead_drift(tx: &ReadTransaction) -> Result<Vec<String>> {
    let t = tx.open_table(tables::COUNTERS)?;
    let mut want: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for row in t.range("fe/customer/"..FE_CUSTOMER_END)? {
        let (k, v) = row?;
        if let Some(rest) = k
            .value()
            .strip_prefix("fe/customer/")
            .and_then(|r| r.strip_suffix("/lead"))
            && let Some((day, who)) = rest.split_once('/')
        {
            *want.entry(lead_key(day, who)).or_default() += v.value();
        }
    }
    let mut out = Vec::new();
    for row in t.range("fl/".."fl0")? {
        let (k, v) = row?;
        let w = want.remove(k.value()).unwrap_or(0);
        if w != v.value() {
            out.push(format!("lead counter {}: {} ≠ {w}", k.value(), v.value()));
        }
    }
    for (k, w) in want {
        out.push(format!("lead counter {k}: 0 ≠ {w}"));
    }
    Ok(out)
}

/// What `customers::put` records for one live customer: its stage in the customer pipeline.
pub(super) fn on_customer(
    tx: &WriteTransaction,
    c: &crate::domain::customer::Customer,
) -> Result<()> {
    on_write(
        tx,
        Kind::Customer,
        &crate::domain::customer::Stage::PIPELINE,
        &c.id,
        c.owner_id.as_deref(),
        c.stage.key(),
        None,
        c.updated_at,
    )
}

/// What `customers::put` records for many live customers (a recall sweep's batch): the
/// customers whose stage did not change are found with one table handle and skipped, as
/// [`on_write`] would; the others go through [`on_write`].
pub(super) fn on_customers(
    tx: &WriteTransaction,
    cs: &[&crate::domain::customer::Customer],
) -> Result<()> {
    let mut moved = Vec::new();
    {
        let since = tx.open_table(tables::FUNNEL_SINCE)?;
        for c in cs.iter().filter(|c| c.deleted_at.is_none()) {
            let same =
                stage_of(&since, Kind::Customer, &c.id)?.is_some_and(|(s, _)| s == c.stage.key());
            if !same {
                moved.push(*c);
            }
        }
    }
    for c in moved {
        on_customer(tx, c)?;
    }
    Ok(())
}

/// [`on_customers`] for many NEW live customers (an import batch): a customer with no stage
/// recorded yet enters the pipeline's stages up to its own, counted per day and month key
/// summed over the batch and written once; one that somehow has a stage recorded goes through
/// [`on_write`]. Ends exactly where one [`on_write`] after the other would.
pub(super) fn on_new_customers(
    tx: &WriteTransaction,
    cs: &[&crate::domain::customer::Customer],
) -> Result<()> {
    let pipeline = crate::domain::customer::Stage::PIPELINE;
    let k = Kind::Customer.key();
    let mut sums: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut since_rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut known = Vec::new();
    // Customers counted per (time of the write, owner, stage) first: an import batch shares a
    // handful of these, so the day and the keys are formatted per group, not per customer.
    let mut groups: std::collections::HashMap<(DateTime<Utc>, &str, &str), u64> =
        std::collections::HashMap::new();
    {
        let since = tx.open_table(tables::FUNNEL_SINCE)?;
        for c in cs.iter().filter(|c| c.deleted_at.is_none()) {
            let since_key = since_key(Kind::Customer, &c.id);
            if since.get(since_key.as_slice())?.is_some() {
                known.push(*c);
                continue;
            }
            let who = c.owner_id.as_deref().unwrap_or("-");
            *groups
                .entry((c.updated_at, who, c.stage.key()))
                .or_default() += 1;
            since_rows.push((
                since_key,
                since_value(c.stage.key(), c.updated_at.timestamp()),
            ));
        }
    }
    let mut days: std::collections::HashMap<DateTime<Utc>, String> =
        std::collections::HashMap::new();
    for ((at, who, stage), n) in groups {
        let today = days.entry(at).or_insert_with(|| day(at));
        for s in entered(&pipeline, None, stage) {
            let key = format!("fe/{k}/{today}/{who}/{s}");
            *sums.entry(month_key(&key)?).or_default() += n;
            *sums.entry(key).or_default() += n;
            if s == "lead" {
                // As `on_write` does: the lead counter kept with the `lead` entry.
                *sums.entry(lead_key(today, who)).or_default() += n;
            }
        }
    }
    if !sums.is_empty() {
        let mut t = tx.open_table(tables::COUNTERS)?;
        for (key, n) in &sums {
            let was = t.get(key.as_str())?.map_or(0, |v| v.value());
            t.insert(key.as_str(), was + n)?;
        }
    }
    if !since_rows.is_empty() {
        since_rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut since = tx.open_table(tables::FUNNEL_SINCE)?;
        for (key, value) in &since_rows {
            since.insert(key.as_slice(), value.as_slice())?;
        }
    }
    for c in known {
        on_customer(tx, c)?;
    }
    Ok(())
}

/// Forgets a record (it was purged): its stay is not counted.
pub fn forget(tx: &WriteTransaction, kind: Kind, id: &str) -> Result<()> {
    tx.open_table(tables::FUNNEL_SINCE)?
        .remove(since_key(kind, id).as_slice())?;
    Ok(())
}

/// One counter row read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub day: String,
    pub owner: Option<String>,
    pub stage: String,
    /// For a stay: its bucket; `None` for an entry.
    pub bucket: Option<u32>,
    pub count: u64,
}

/// A [`Row`] borrowing the key it was read from (the hot loops: nothing allocated per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef<'a> {
    pub day: &'a str,
    pub owner: Option<&'a str>,
    pub stage: &'a str,
    pub bucket: Option<u32>,
    pub count: u64,
}

impl RowRef<'_> {
    fn owned(self) -> Row {
        Row {
            day: self.day.to_string(),
            owner: self.owner.map(str::to_string),
            stage: self.stage.to_string(),
            bucket: self.bucket,
            count: self.count,
        }
    }
}

fn parse_ref(kind_len: usize, key: &str, count: u64) -> Result<RowRef<'_>> {
    let bad = || Error::Corrupt {
        table: "counters",
        message: format!("funnel key {key}"),
    };
    let rest = key.get(3 + kind_len + 1..).ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let day = parts.next().ok_or_else(bad)?;
    let owner = parts.next().ok_or_else(bad)?;
    let stage = parts.next().ok_or_else(bad)?;
    let bucket = parts
        .next()
        .map(|b| b.parse::<u32>().map_err(|_| bad()))
        .transpose()?;
    Ok(RowRef {
        day,
        owner: (owner != "-").then_some(owner),
        stage,
        bucket,
        count,
    })
}

fn parse(kind_len: usize, key: &str, count: u64) -> Result<Row> {
    parse_ref(kind_len, key, count).map(RowRef::owned)
}

/// Reason counters under `prefix` (`fr` by day, `mr` by month) with keys from `start` below `end`
/// (both after `<prefix>/<kind>/`).
fn reasons_in(
    tx: &ReadTransaction,
    prefix: &str,
    kind: Kind,
    start: &str,
    end: &str,
    visit: &mut impl FnMut(Option<String>, String, String, u64),
) -> Result<()> {
    let k = kind.key();
    let start = format!("{prefix}/{k}/{start}");
    let end = format!("{prefix}/{k}/{end}");
    let t = tx.open_table(tables::COUNTERS)?;
    for row in t.range(start.as_str()..end.as_str())? {
        let (key, v) = row?;
        let key = key.value();
        let bad = || Error::Corrupt {
            table: "counters",
            message: format!("funnel reason key {key}"),
        };
        let rest = key.get(3 + k.len() + 1..).ok_or_else(bad)?;
        let mut parts = rest.splitn(4, '/');
        let (Some(_day), Some(owner), Some(stage), Some(reason)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        visit(
            (owner != "-").then(|| owner.to_string()),
            stage.to_string(),
            reason.to_string(),
            v.value(),
        );
    }
    Ok(())
}

/// Every entry (`stays: false`) or stay (`true`) counter of `kind` from day `from` to day `to`
/// (inclusive, `YYYY-MM-DD`), in key order.
pub fn rows(
    tx: &ReadTransaction,
    kind: Kind,
    stays: bool,
    from: &str,
    to: &str,
    mut visit: impl FnMut(Row),
) -> Result<()> {
    let prefix = if stays { "fd" } else { "fe" };
    let k = kind.key();
    let start = format!("{prefix}/{k}/{from}");
    // '0' sorts after '/', so every key of day `to` is below it.
    let end = format!("{prefix}/{k}/{to}0");
    let t = tx.open_table(tables::COUNTERS)?;
    for row in t.range(start.as_str()..end.as_str())? {
        let (key, v) = row?;
        visit(parse(k.len(), key.value(), v.value())?);
    }
    Ok(())
}

/// [`rows`] borrowing each row from its key (nothing allocated per row).
pub fn rows_ref(
    tx: &ReadTransaction,
    kind: Kind,
    stays: bool,
    from: &str,
    to: &str,
    mut visit: impl FnMut(RowRef<'_>),
) -> Result<()> {
    let prefix = if stays { "fd" } else { "fe" };
    let k = kind.key();
    let start = format!("{prefix}/{k}/{from}");
    let end = format!("{prefix}/{k}/{to}0");
    let t = tx.open_table(tables::COUNTERS)?;
    for row in t.range(start.as_str()..end.as_str())? {
        let (key, v) = row?;
        visit(parse_ref(k.len(), key.value(), v.value())?);
    }
    Ok(())
}

/// Like [`rows`], over the period `from..=to` read as whole months plus partial months by day
/// (see [`segments`]); a month's rows carry `YYYY-MM` as their `day`.
pub fn period_rows(
    tx: &ReadTransaction,
    kind: Kind,
    stays: bool,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    mut visit: impl FnMut(Row),
) -> Result<()> {
    let k = kind.key();
    let t = tx.open_table(tables::COUNTERS)?;
    for (month, a, b) in segments(from, to) {
        let (start, end) = match (month, stays) {
            (true, false) => (format!("me/{k}/{a}/"), format!("me/{k}/{a}0")),
            (true, true) => (format!("md/{k}/{a}/"), format!("md/{k}/{a}0")),
            (false, false) => (format!("fe/{k}/{a}"), format!("fe/{k}/{b}0")),
            (false, true) => (format!("fd/{k}/{a}"), format!("fd/{k}/{b}0")),
        };
        for row in t.range(start.as_str()..end.as_str())? {
            let (key, v) = row?;
            visit(parse(k.len(), key.value(), v.value())?);
        }
    }
    Ok(())
}

/// Every reason counter of `kind` over `from..=to`: (owner, stage, reason, count), read as
/// whole months plus partial months by day.
pub fn period_reasons(
    tx: &ReadTransaction,
    kind: Kind,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    mut visit: impl FnMut(Option<String>, String, String, u64),
) -> Result<()> {
    for (month, a, b) in segments(from, to) {
        if month {
            reasons_in(
                tx,
                "mr",
                kind,
                &format!("{a}/"),
                &format!("{a}0"),
                &mut visit,
            )?;
        } else {
            reasons_in(tx, "fr", kind, &a, &format!("{b}0"), &mut visit)?;
        }
    }
    Ok(())
}

/// Since when the counters are complete (the first start of a binary with funnels).
pub fn since(tx: &ReadTransaction) -> Result<Option<String>> {
    Ok(tx
        .open_table(tables::SETTINGS)?
        .get("funnel/since")?
        .map(|v| v.value().to_string()))
}

/// Creates the tables and notes today as the start of counting (schema 18).
pub(super) fn create(tx: &WriteTransaction, now: DateTime<Utc>) -> Result<()> {
    tx.open_table(tables::FUNNEL_SINCE)?;
    let mut settings = tx.open_table(tables::SETTINGS)?;
    if settings.get("funnel/since")?.is_none() {
        settings.insert("funnel/since", day(now).as_str())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [&str; 4] = ["lead", "contacted", "qualified", "won"];

    #[test]
    fn a_move_enters_every_stage_it_passes_and_only_forward() {
        assert_eq!(
            entered(&P, None, "qualified"),
            ["lead", "contacted", "qualified"]
        );
        assert_eq!(
            entered(&P, Some("lead"), "won"),
            ["contacted", "qualified", "won"]
        );
        assert_eq!(
            entered(&P, Some("qualified"), "contacted"),
            Vec::<&str>::new()
        );
        assert_eq!(entered(&P, Some("contacted"), "lost"), ["lost"]);
        assert_eq!(
            entered(&P, Some("lost"), "contacted"),
            ["lead", "contacted"]
        );
        assert_eq!(entered(&P, Some("won"), "won"), Vec::<&str>::new());
    }

    #[test]
    fn a_period_is_read_as_whole_months_and_partial_months_by_day() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        let seg = |a: &str, b: &str| {
            segments(d(a), d(b))
                .into_iter()
                .map(|(m, x, y)| if m { x } else { format!("{x}..{y}") })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            seg("2025-12-05", "2026-03-04"),
            [
                "2025-12-05..2025-12-31",
                "2026-01",
                "2026-02",
                "2026-03-01..2026-03-04"
            ]
        );
        assert_eq!(seg("2026-02-01", "2026-02-28"), ["2026-02"]);
        assert_eq!(
            seg("2024-02-01", "2024-02-28"),
            ["2024-02-01..2024-02-28"],
            "leap year"
        );
        assert_eq!(seg("2026-11-10", "2026-11-20"), ["2026-11-10..2026-11-20"]);
        assert_eq!(seg("2026-12-01", "2027-01-31"), ["2026-12", "2027-01"]);
        assert_eq!(seg("2026-11-20", "2026-11-20"), ["2026-11-20..2026-11-20"]);
        assert!(seg("2026-11-21", "2026-11-20").is_empty());
        assert_eq!(
            month_key("fe/deal/2026-11-20/u1/signed").unwrap(),
            "me/deal/2026-11/u1/signed"
        );
        assert_eq!(
            month_key("fr/deal/2026-11-20/-/rejected/征信/花").unwrap(),
            "mr/deal/2026-11/-/rejected/征信/花"
        );
        assert!(month_key("fx/deal/2026-11-20/u1/signed").is_err());
    }

    /// Schema 22: counters written before the rollups existed are summed into them; a write
    /// after the upgrade bumps both.
    #[test]
    fn month_rollups_are_built_from_the_day_counters() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(&dir.path().join("s.redb")).unwrap();
        store
            .write(|tx| {
                let mut t = tx.open_table(tables::COUNTERS)?;
                t.insert("fe/deal/2026-11-02/u1/invited", 2)?;
                t.insert("fe/deal/2026-11-30/u1/invited", 3)?;
                t.insert("fe/deal/2026-12-01/u1/invited", 1)?;
                t.insert("fd/deal/2026-11-05/u1/invited/4", 1)?;
                t.insert("fr/deal/2026-11-05/-/rejected/负债高", 1)?;
                t.insert("pool/other", 9)?;
                drop(t);
                build_month_rollups(tx)?;
                bump(tx, "fe/deal/2026-11-15/u1/invited")
            })
            .unwrap();
        let got = store
            .read(|tx| {
                let t = tx.open_table(tables::COUNTERS)?;
                let mut v = Vec::new();
                for row in t.range("m".."n")? {
                    let (k, n) = row?;
                    v.push((k.value().to_string(), n.value()));
                }
                Ok::<_, Error>(v)
            })
            .unwrap();
        let want: Vec<(String, u64)> = [
            ("md/deal/2026-11/u1/invited/4", 1),
            ("me/deal/2026-11/u1/invited", 6),
            ("me/deal/2026-12/u1/invited", 1),
            ("mr/deal/2026-11/-/rejected/负债高", 1),
        ]
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn stays_are_bucketed_by_day_then_wider() {
        assert_eq!(
            [0, 1, 30, 31, 45, 46, 365, 366, 10_000].map(bucket),
            [0, 1, 30, 45, 45, 60, 365, u32::MAX, u32::MAX]
        );
    }
}
