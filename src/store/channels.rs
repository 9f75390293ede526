//! Channels (渠道), their monthly costs and per-channel counters (schema 28).
//!
//! - `channels`: id → [`Channel`]; `channel_names`: lower-cased name → id (names unique). A
//!   firm has tens of channels: the list is read whole, like roles or products.
//! - `channel_costs`: `<YYYY-MM>/<channel id>` → [`Cost`]: a period's costs are one range.
//! - `channel_stats`: `<YYYY-MM>/<metric>/<channel text>` → count or fen, bumped in the
//!   transaction of the write that makes the event, by the customer's `channel` text at that
//!   moment (trimmed; empty when the customer has none). Metrics ([`METRICS`]): `leads`
//!   (customer created), `valid` (the customer enters 有效/`qualified`, counted along the
//!   pipeline like the funnel: a move from lead straight to signed passes it), `signed` (a
//!   deal enters 签约), `disbursed` (fen, a deal enters 放款, in the month of its disbursement
//!   date), `fees` (fen, payments minus refunds by the month they are dated in),
//!   `broker_fees` (fen, brokers' referral fees by the month they fall due, counted under
//!   the broker's channel's name: a cost of that channel, `store::brokers`).
//!
//! Counting starts when the tables are created: no backfill of earlier records.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::customers::Tx;
use super::{Result, codec, tables};
use crate::domain::customer::{Customer, Stage};
use crate::domain::deal::{Deal, DealStage};
use crate::domain::fee::{FeeAccount, month_of};

/// The counters kept per channel text and month.
pub const METRICS: [&str; 6] = [
    "leads",
    "valid",
    "signed",
    "disbursed",
    "fees",
    "broker_fees",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Channel {
    pub id: String,
    /// Unique (case-insensitive); a customer's `channel` text equal to it (trimmed,
    /// case-insensitive) belongs to this channel.
    pub name: String,
    /// 线上广告 / 地推 / 电销 / 转介绍 / 经纪人 / 其他.
    pub kind: String,
    pub active: bool,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A channel's cost of a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cost {
    pub channel_id: String,
    pub month: String,
    pub cost_fen: i64,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The lower-cased, trimmed form names are matched by.
pub fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

pub fn get<'t>(tx: impl Into<Tx<'t>>, id: &str) -> Result<Option<Channel>> {
    let v = match tx.into() {
        Tx::Read(tx) => tx
            .open_table(tables::CHANNELS)?
            .get(id)?
            .map(|v| v.value().to_vec()),
        Tx::Write(tx) => tx
            .open_table(tables::CHANNELS)?
            .get(id)?
            .map(|v| v.value().to_vec()),
    };
    v.map(|b| codec::decode("channels", &b)).transpose()
}

/// Every channel (a small configuration table), by name.
pub fn all<'t>(tx: impl Into<Tx<'t>>) -> Result<Vec<Channel>> {
    let mut out: Vec<Channel> = Vec::new();
    let mut push = |b: &[u8]| -> Result<()> {
        out.push(codec::decode("channels", b)?);
        Ok(())
    };
    match tx.into() {
        Tx::Read(tx) => {
            for row in tx.open_table(tables::CHANNELS)?.iter()? {
                push(row?.1.value())?;
            }
        }
        Tx::Write(tx) => {
            for row in tx.open_table(tables::CHANNELS)?.iter()? {
                push(row?.1.value())?;
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The id of the channel named `name` (case-insensitive), if any.
pub fn id_by_name(tx: &WriteTransaction, name: &str) -> Result<Option<String>> {
    id_named(tx, name)
}

/// [`id_by_name`] in either kind of transaction.
pub fn id_named<'t>(tx: impl Into<Tx<'t>>, name: &str) -> Result<Option<String>> {
    let key = fold(name);
    Ok(match tx.into() {
        Tx::Read(tx) => tx
            .open_table(tables::CHANNEL_NAMES)?
            .get(key.as_str())?
            .map(|v| v.value().to_string()),
        Tx::Write(tx) => tx
            .open_table(tables::CHANNEL_NAMES)?
            .get(key.as_str())?
            .map(|v| v.value().to_string()),
    })
}

/// What the fee and commission hooks see of a deal's channel: the customer's `channel` text
/// (trimmed; `None` when empty or the customer is gone) and the id of the registered channel
/// of that name, if any. Read unscoped: the deal's scope was checked by the caller.
pub fn of_customer<'t>(
    tx: impl Into<Tx<'t>> + Copy,
    customer_id: &str,
) -> Result<(Option<String>, Option<String>)> {
    let c = super::customers::Reader::unscoped(tx, super::customers::Unscoped::DealStage)
        .live(customer_id)?;
    let Some(text) = c
        .and_then(|c| c.channel)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    else {
        return Ok((None, None));
    };
    let id = id_named(tx, &text)?;
    Ok((Some(text), id))
}

/// Writes a channel and its name key (`before`: as it was).
pub fn put(tx: &WriteTransaction, before: Option<&Channel>, c: &Channel) -> Result<()> {
    let mut names = tx.open_table(tables::CHANNEL_NAMES)?;
    if let Some(b) = before {
        names.remove(fold(&b.name).as_str())?;
    }
    names.insert(fold(&c.name).as_str(), c.id.as_str())?;
    tx.open_table(tables::CHANNELS)?
        .insert(c.id.as_str(), codec::encode(c)?.as_slice())?;
    Ok(())
}

fn cost_key(month: &str, channel_id: &str) -> String {
    format!("{month}/{channel_id}")
}

pub fn cost(tx: &WriteTransaction, month: &str, channel_id: &str) -> Result<Option<Cost>> {
    tx.open_table(tables::CHANNEL_COSTS)?
        .get(cost_key(month, channel_id).as_str())?
        .map(|v| codec::decode("channel_costs", v.value()))
        .transpose()
}

/// Writes a month's cost (0 removes it).
pub fn put_cost(tx: &WriteTransaction, c: &Cost) -> Result<()> {
    let mut t = tx.open_table(tables::CHANNEL_COSTS)?;
    let key = cost_key(&c.month, &c.channel_id);
    if c.cost_fen == 0 {
        t.remove(key.as_str())?;
    } else {
        t.insert(key.as_str(), codec::encode(c)?.as_slice())?;
    }
    Ok(())
}

/// The costs of the months `from..=to` (`YYYY-MM`): one range.
pub fn costs(tx: &redb::ReadTransaction, from: &str, to: &str) -> Result<Vec<Cost>> {
    let end = format!("{to}0");
    let mut out = Vec::new();
    for row in tx
        .open_table(tables::CHANNEL_COSTS)?
        .range(format!("{from}/").as_str()..end.as_str())?
    {
        out.push(codec::decode("channel_costs", row?.1.value())?);
    }
    Ok(out)
}

/// The counters of the months `from..=to`: `f(month, metric, channel text, value)`.
pub fn stats(
    tx: &redb::ReadTransaction,
    from: &str,
    to: &str,
    mut f: impl FnMut(&str, &str, &str, i64),
) -> Result<()> {
    let end = format!("{to}0");
    for row in tx
        .open_table(tables::CHANNEL_STATS)?
        .range(format!("{from}/").as_str()..end.as_str())?
    {
        let (k, v) = row?;
        let mut parts = k.value().splitn(3, '/');
        if let (Some(m), Some(metric), Some(text)) = (parts.next(), parts.next(), parts.next()) {
            f(m, metric, text, v.value());
        }
    }
    Ok(())
}

/// The counted form of a customer's channel text: trimmed, `/` kept (it is the key's last part).
fn text_of(channel: Option<&str>) -> String {
    channel.map(str::trim).unwrap_or("").to_string()
}

fn bump(tx: &WriteTransaction, month: &str, metric: &str, text: &str, delta: i64) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    let key = format!("{month}/{metric}/{text}");
    let mut t = tx.open_table(tables::CHANNEL_STATS)?;
    let n = t.get(key.as_str())?.map_or(0, |v| v.value()) + delta;
    if n == 0 {
        t.remove(key.as_str())?;
    } else {
        t.insert(key.as_str(), n)?;
    }
    Ok(())
}

fn month_at(at: DateTime<Utc>) -> String {
    super::funnel::day(at).chars().take(7).collect()
}

/// From `store::brokers::put_fee`: a broker's referral fee falls due in `month`, a cost of the
/// channel named `channel`.
pub fn on_referral_fee(tx: &WriteTransaction, month: &str, channel: &str, fen: i64) -> Result<()> {
    bump(tx, month, "broker_fees", &text_of(Some(channel)), fen)
}

/// From `store::customers::put`: a new customer is a lead of its channel; entering
/// `qualified` (or passing it) a valid lead.
pub fn on_customer(tx: &WriteTransaction, before: Option<&Customer>, c: &Customer) -> Result<()> {
    if c.deleted_at.is_some() {
        return Ok(());
    }
    let text = text_of(c.channel.as_deref());
    if before.is_none() {
        bump(tx, &month_at(c.created_at), "leads", &text, 1)?;
    }
    let from = before.map(|b| b.stage.key());
    if from != Some(c.stage.key())
        && super::funnel::entered(&Stage::PIPELINE, from, c.stage.key())
            .contains(&Stage::Qualified.key())
    {
        bump(tx, &month_at(c.updated_at), "valid", &text, 1)?;
    }
    Ok(())
}

/// [`on_customer`] for many new customers (`before` none; an import batch): the counters
/// summed per key and each written once, ending where one call after the other would.
pub fn on_new_customers(tx: &WriteTransaction, cs: &[&Customer]) -> Result<()> {
    // Counted per (creation, last write, channel, stage) first: an import batch shares a
    // handful of these, so each key is formatted per group, not per customer.
    type Group<'c> = (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        Option<&'c str>,
        &'static str,
    );
    let mut groups: std::collections::HashMap<Group, i64> = std::collections::HashMap::new();
    for c in cs.iter().filter(|c| c.deleted_at.is_none()) {
        *groups
            .entry((
                c.created_at,
                c.updated_at,
                c.channel.as_deref(),
                c.stage.key(),
            ))
            .or_default() += 1;
    }
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for ((created, updated, channel, stage), n) in groups {
        let text = text_of(channel);
        *sums
            .entry(format!("{}/leads/{text}", month_at(created)))
            .or_default() += n;
        if super::funnel::entered(&Stage::PIPELINE, None, stage).contains(&Stage::Qualified.key()) {
            *sums
                .entry(format!("{}/valid/{text}", month_at(updated)))
                .or_default() += n;
        }
    }
    if sums.is_empty() {
        return Ok(());
    }
    let mut t = tx.open_table(tables::CHANNEL_STATS)?;
    for (key, delta) in sums {
        let n = t.get(key.as_str())?.map_or(0, |v| v.value()) + delta;
        if n == 0 {
            t.remove(key.as_str())?;
        } else {
            t.insert(key.as_str(), n)?;
        }
    }
    Ok(())
}

/// The channel text of a customer, read in the write transaction.
fn customer_text(tx: &WriteTransaction, customer_id: &str) -> Result<String> {
    let t = tx.open_table(tables::CUSTOMERS)?;
    let Some(v) = t.get(customer_id)? else {
        return Ok(String::new());
    };
    let c = super::customer_codec::decode(customer_id, v.value())?;
    Ok(text_of(c.channel.as_deref()))
}

/// From `store::deals::put`: a deal entering 签约 counts for its customer's channel, one
/// entering 放款 its disbursed amount.
pub fn on_deal(tx: &WriteTransaction, before: Option<&Deal>, d: &Deal) -> Result<()> {
    let from = before.map(|b| b.stage.key());
    if from == Some(d.stage.key()) {
        return Ok(());
    }
    let entered = super::funnel::entered(&DealStage::PIPELINE, from, d.stage.key());
    let signed = entered.contains(&DealStage::Signed.key());
    let disbursed = entered.contains(&DealStage::Disbursed.key());
    if !signed && !disbursed {
        return Ok(());
    }
    let text = customer_text(tx, &d.customer_id)?;
    if signed {
        bump(tx, &month_at(d.updated_at), "signed", &text, 1)?;
    }
    if disbursed && let Some(x) = &d.disbursement {
        bump(
            tx,
            &month_of(x.disbursed_on),
            "disbursed",
            &text,
            x.amount_fen,
        )?;
    }
    Ok(())
}

fn net_by_month(a: Option<&FeeAccount>) -> std::collections::BTreeMap<String, i64> {
    let mut m = std::collections::BTreeMap::new();
    if let Some(a) = a {
        for p in &a.payments {
            *m.entry(month_of(p.paid_on)).or_insert(0) += p.amount_fen;
        }
        for r in &a.refunds {
            *m.entry(month_of(r.refunded_on)).or_insert(0) -= r.amount_fen;
        }
    }
    m
}

/// From `store::fees::put_account`: the change of payments minus refunds, by month, for the
/// deal's customer's channel.
pub fn on_account(
    tx: &WriteTransaction,
    before: Option<&FeeAccount>,
    a: &FeeAccount,
) -> Result<()> {
    let (old, new) = (net_by_month(before), net_by_month(Some(a)));
    let mut deltas = Vec::new();
    for month in old.keys().chain(new.keys()) {
        let d = new.get(month).copied().unwrap_or(0) - old.get(month).copied().unwrap_or(0);
        if d != 0 && !deltas.iter().any(|(m, _)| m == month) {
            deltas.push((month.clone(), d));
        }
    }
    if deltas.is_empty() {
        return Ok(());
    }
    let customer = {
        let t = tx.open_table(tables::DEALS)?;
        match t.get(a.deal_id.as_str())? {
            Some(v) => Some(codec::decode::<Deal>("deals", v.value())?.customer_id),
            None => None,
        }
    };
    let text = match customer {
        Some(c) => customer_text(tx, &c)?,
        None => String::new(),
    };
    for (month, d) in deltas {
        bump(tx, &month, "fees", &text, d)?;
    }
    Ok(())
}
