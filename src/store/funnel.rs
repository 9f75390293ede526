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
//! - `fs/<kind>/<record id>` in `funnel_since`: the stage a record is in and since when.
//!
//! Counting starts when the table is created (schema 18); `settings` key `funnel/since` holds
//! that instant so a funnel says from when its counts are complete.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::{Error, Result, tables};

/// What a funnel counts: customers or deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    Deal,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Deal => "deal",
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

fn bump(tx: &WriteTransaction, key: &str) -> Result<()> {
    let mut t = tx.open_table(tables::COUNTERS)?;
    let n = t.get(key)?.map_or(0, |v| v.value());
    t.insert(key, n + 1)?;
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
    let since_key = format!("fs/{}/{id}", kind.key());
    let mut since = tx.open_table(tables::FUNNEL_SINCE)?;
    let previous = since.get(since_key.as_str())?.map(|v| {
        let (s, t) = v.value();
        (s.to_string(), t)
    });
    if previous.as_ref().is_some_and(|(s, _)| s == stage) {
        return Ok(());
    }
    let today = day(at);
    let who = owner.unwrap_or("-");
    let k = kind.key();
    let from = previous.as_ref().map(|(s, _)| s.as_str());
    for s in entered(pipeline, from, stage) {
        bump(tx, &format!("fe/{k}/{today}/{who}/{s}"))?;
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
    since.insert(since_key.as_str(), (stage, at.timestamp()))?;
    Ok(())
}

/// Forgets a record (it was purged): its stay is not counted.
pub fn forget(tx: &WriteTransaction, kind: Kind, id: &str) -> Result<()> {
    tx.open_table(tables::FUNNEL_SINCE)?
        .remove(format!("fs/{}/{id}", kind.key()).as_str())?;
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

fn parse(kind_len: usize, key: &str, count: u64) -> Result<Row> {
    let bad = || Error::Corrupt {
        table: "counters",
        message: format!("funnel key {key}"),
    };
    let rest = key.get(3 + kind_len + 1..).ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let day = parts.next().ok_or_else(bad)?.to_string();
    let owner = parts.next().ok_or_else(bad)?;
    let stage = parts.next().ok_or_else(bad)?.to_string();
    let bucket = parts
        .next()
        .map(|b| b.parse::<u32>().map_err(|_| bad()))
        .transpose()?;
    Ok(Row {
        day,
        owner: (owner != "-").then(|| owner.to_string()),
        stage,
        bucket,
        count,
    })
}

/// Every reason counter of `kind` from day `from` to day `to`: (owner, stage, reason, count).
pub fn reasons(
    tx: &ReadTransaction,
    kind: Kind,
    from: &str,
    to: &str,
    mut visit: impl FnMut(Option<String>, String, String, u64),
) -> Result<()> {
    let k = kind.key();
    let start = format!("fr/{k}/{from}");
    let end = format!("fr/{k}/{to}0");
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
    fn stays_are_bucketed_by_day_then_wider() {
        assert_eq!(
            [0, 1, 30, 31, 45, 46, 365, 366, 10_000].map(bucket),
            [0, 1, 30, 45, 45, 60, 365, u32::MAX, u32::MAX]
        );
    }
}
