//! Channels (渠道) with their monthly costs, and the ROI report per channel from the counters
//! `store::channels` keeps in the writes' transactions. Channels and costs are finance's:
//! reading them and the report needs `finance.read` with a firm-wide data scope (finance and
//! admins; a manager, whose scope is a department, is refused: the counters are per channel,
//! not per officer), writing them `finance.edit`. A cost of a closed month
//! (`store::fees::is_closed`) cannot change (`month_closed`), like payments.
//!
//! A customer's `channel` text belongs to the channel of that name (trimmed,
//! case-insensitive); texts no channel is named after are their own rows ("未登记渠道: …"),
//! customers without one the row "未填渠道", so every count is in the report.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::fee;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::{Error, Result, new_id};
use crate::store;
use crate::store::channels::{Channel, Cost, fold};

/// The kinds a channel may have.
pub const KINDS: [&str; 6] = ["线上广告", "地推", "电销", "转介绍", "经纪人", "其他"];

/// `POST /channels`, `PUT /channels/{id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub name: String,
    /// One of 线上广告, 地推, 电销, 转介绍, 经纪人, 其他.
    pub kind: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub notes: Option<String>,
}

fn yes() -> bool {
    true
}

/// `PUT /channels/{id}/costs/{month}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCost {
    /// The month's cost in fen (0 clears it).
    pub cost_fen: i64,
}

/// A channel with its costs of the last 12 months.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelRow {
    #[serde(flatten)]
    pub channel: Channel,
    /// `YYYY-MM` → fen, the months of `months` that have a cost.
    pub costs: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    pub items: Vec<ChannelRow>,
    /// The last 12 months, oldest first, this month last.
    pub months: Vec<String>,
    /// Of `months`, those closed (their costs cannot change).
    pub closed: Vec<String>,
    pub kinds: Vec<String>,
    /// The caller may create channels and set costs (`finance.edit`).
    pub may_edit: bool,
}

/// `GET /reports/channels?from=&to=`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelReportQuery {
    /// First month `YYYY-MM` (default: this month).
    pub from: Option<String>,
    /// Last month `YYYY-MM` (default: `from`); at most 36 months.
    pub to: Option<String>,
}

/// One channel's figures over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RoiRow {
    /// The registered channel, `None` for a text no channel is named after (and the totals).
    pub channel_id: Option<String>,
    /// The channel's name, or the customers' text as written ("" when they have none).
    pub name: String,
    /// What the row is shown as: the name, "未登记渠道: <text>", "未填渠道" or "合计".
    pub label: String,
    pub kind: Option<String>,
    pub registered: bool,
    /// Customers created.
    pub leads: i64,
    /// Customers that reached 有效 (`qualified`) or beyond.
    pub valid_leads: i64,
    /// Deals that entered 签约.
    pub signed: i64,
    pub disbursed_fen: i64,
    /// Payments minus refunds dated in the period.
    pub fees_fen: i64,
    /// The channel's monthly costs plus its brokers' referral fees due in the period.
    pub cost_fen: i64,
    /// Of `cost_fen`, brokers' referral fees (经纪人返佣) falling due in the period.
    pub broker_fees_fen: i64,
    /// cost / leads, rounded to the fen (halves up); null without leads.
    pub cost_per_lead_fen: Option<i64>,
    /// cost / signed, rounded to the fen (halves up); null without signed deals.
    pub cost_per_signed_fen: Option<i64>,
    /// (fees − cost) / cost in basis points, rounded to the nearest (halves away from zero);
    /// null when the cost is 0.
    pub roi_bp: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelReport {
    pub from: String,
    pub to: String,
    pub rows: Vec<RoiRow>,
    pub totals: RoiRow,
}

/// `n / d` rounded to the nearest, halves away from zero (`d` > 0).
pub fn div_round(n: i128, d: i128) -> i64 {
    let q = (n.abs() * 2 + d) / (d * 2);
    let q = if n < 0 { -q } else { q };
    i64::try_from(q).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

impl RoiRow {
    fn finish(&mut self) {
        let cost = i128::from(self.cost_fen);
        self.cost_per_lead_fen = (self.leads > 0).then(|| div_round(cost, i128::from(self.leads)));
        self.cost_per_signed_fen =
            (self.signed > 0).then(|| div_round(cost, i128::from(self.signed)));
        self.roi_bp = (self.cost_fen > 0)
            .then(|| div_round((i128::from(self.fees_fen) - cost) * 10_000, cost));
    }

    fn add(&mut self, o: &RoiRow) {
        self.leads += o.leads;
        self.valid_leads += o.valid_leads;
        self.signed += o.signed;
        self.disbursed_fen += o.disbursed_fen;
        self.fees_fen += o.fees_fen;
        self.cost_fen += o.cost_fen;
        self.broker_fees_fen += o.broker_fees_fen;
    }
}

fn month_arg(field: &'static str, m: &str) -> Result<String> {
    fee::parse_month(m).ok_or_else(|| Error::validation(field, "月份格式应为 YYYY-MM"))
}

/// The `n` months ending with `last` (`YYYY-MM`), oldest first.
fn months_back(last: NaiveDate, n: u32) -> Vec<String> {
    let mut out = Vec::new();
    let (mut y, mut m) = (last.year(), last.month());
    for _ in 0..n {
        out.push(format!("{y:04}-{m:02}"));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    out.reverse();
    out
}

fn months_between(from: &str, to: &str) -> usize {
    let parse = |s: &str| -> i64 {
        let y: i64 = s.get(..4).and_then(|x| x.parse().ok()).unwrap_or(0);
        let m: i64 = s.get(5..7).and_then(|x| x.parse().ok()).unwrap_or(0);
        y * 12 + m
    };
    usize::try_from(parse(to) - parse(from) + 1).unwrap_or(0)
}

fn clean(input: &ChannelInput) -> Result<(String, String, Option<String>)> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(Error::validation("name", "渠道名称不能为空"));
    }
    if name.chars().count() > 32 {
        return Err(Error::validation("name", "渠道名称不能超过32个字"));
    }
    if !KINDS.contains(&input.kind.as_str()) {
        return Err(Error::validation(
            "kind",
            format!("渠道类型应为 {} 之一", KINDS.join("、")),
        ));
    }
    let notes = input
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if notes.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(Error::validation("notes", "备注不能超过500个字"));
    }
    Ok((name.to_string(), input.kind.clone(), notes))
}

fn name_taken(name: &str) -> Error {
    Error::Conflict {
        code: "channel_exists",
        message: format!("渠道 {name} 已存在"),
    }
}

impl crate::service::fees::UseCases<'_> {
    /// Channels, costs and the ROI report are firm-wide figures: `finance.read` with a
    /// firm-wide data scope (finance, admins). A manager holds `finance.read` for their
    /// department's lists, but the counters are per channel, not per officer, so they are
    /// refused rather than shown the whole firm.
    fn require_firm_finance(&self, caller: &Caller) -> Result<()> {
        caller.require(Capability::FinanceRead)?;
        match self.scope_of(caller)?.visible {
            Visible::All => Ok(()),
            _ => Err(Error::Forbidden(super::FIRM_FINANCE.to_string())),
        }
    }

    /// `GET /channels`: every channel with its costs of the last 12 months.
    pub fn channels(&self, caller: &Caller) -> Result<ChannelList> {
        self.require_firm_finance(caller)?;
        let months = months_back(super::today(self.now()), 12);
        let (first, last) = (months[0].clone(), months[months.len() - 1].clone());
        let (channels, costs, closed) = self.store.read(|tx| {
            let mut closed = Vec::new();
            for m in &months {
                if store::fees::month(tx, m)?.is_some_and(|c| c.closed) {
                    closed.push(m.clone());
                }
            }
            Ok::<_, Error>((
                store::channels::all(tx)?,
                store::channels::costs(tx, &first, &last)?,
                closed,
            ))
        })?;
        let mut by_channel: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for c in costs {
            by_channel
                .entry(c.channel_id)
                .or_default()
                .insert(c.month, c.cost_fen);
        }
        Ok(ChannelList {
            items: channels
                .into_iter()
                .map(|c| ChannelRow {
                    costs: by_channel.remove(&c.id).unwrap_or_default(),
                    channel: c,
                })
                .collect(),
            months,
            closed,
            kinds: KINDS.iter().map(|k| k.to_string()).collect(),
            may_edit: caller.can(Capability::FinanceEdit),
        })
    }

    /// `POST /channels`.
    pub fn create_channel(
        &self,
        caller: &Caller,
        input: ChannelInput,
        source: &str,
    ) -> Result<Channel> {
        caller.require(Capability::FinanceEdit)?;
        let (name, kind, notes) = clean(&input)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            if store::channels::id_by_name(w.tx, &name)?.is_some() {
                return Err(name_taken(&name));
            }
            let now = w.now();
            let c = Channel {
                id: new_id(now),
                name: name.clone(),
                kind: kind.clone(),
                active: input.active,
                notes: notes.clone(),
                created_at: now,
                updated_at: now,
            };
            store::channels::put(w.tx, None, &c)?;
            w.audit(
                "channel.created",
                Some(&c.id),
                json!({"name": c.name, "kind": c.kind, "active": c.active}),
            )?;
            Ok(c)
        })
    }

    /// `PUT /channels/{id}`. Renaming moves which customers' texts belong to the channel
    /// (the counters are kept by text, so past months follow the new name too).
    pub fn update_channel(
        &self,
        caller: &Caller,
        id: &str,
        input: ChannelInput,
        source: &str,
    ) -> Result<Channel> {
        caller.require(Capability::FinanceEdit)?;
        let (name, kind, notes) = clean(&input)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let before = store::channels::get(w.tx, id)?.ok_or(Error::NotFound)?;
            if let Some(other) = store::channels::id_by_name(w.tx, &name)?
                && other != before.id
            {
                return Err(name_taken(&name));
            }
            let c = Channel {
                name: name.clone(),
                kind: kind.clone(),
                active: input.active,
                notes: notes.clone(),
                updated_at: w.now(),
                ..before.clone()
            };
            store::channels::put(w.tx, Some(&before), &c)?;
            w.audit(
                "channel.updated",
                Some(&c.id),
                json!({"before": {"name": before.name, "kind": before.kind, "active": before.active},
                       "after": {"name": c.name, "kind": c.kind, "active": c.active}}),
            )?;
            Ok(c)
        })
    }

    /// `PUT /channels/{id}/costs/{month}`: refused in a closed month (`month_closed`).
    pub fn set_channel_cost(
        &self,
        caller: &Caller,
        id: &str,
        month: &str,
        input: SetCost,
        source: &str,
    ) -> Result<Cost> {
        caller.require(Capability::FinanceEdit)?;
        let month = month_arg("month", month)?;
        if input.cost_fen < 0 {
            return Err(Error::validation("cost_fen", "费用不能为负数"));
        }
        if input.cost_fen > 100_000_000_000 {
            return Err(Error::validation("cost_fen", "费用超出上限（10亿元）"));
        }
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let ch = store::channels::get(w.tx, id)?.ok_or(Error::NotFound)?;
            if store::fees::is_closed(w.tx, &month)? {
                return Err(super::month_closed(&month));
            }
            let before = store::channels::cost(w.tx, &month, &ch.id)?;
            let c = Cost {
                channel_id: ch.id.clone(),
                month: month.clone(),
                cost_fen: input.cost_fen,
                by: w.caller().user.id.clone(),
                at: w.now(),
            };
            store::channels::put_cost(w.tx, &c)?;
            w.audit(
                "channel.cost_set",
                Some(&ch.id),
                json!({"month": month, "name": ch.name,
                       "before_fen": before.map(|b| b.cost_fen), "cost_fen": c.cost_fen}),
            )?;
            Ok(c)
        })
    }

    /// `GET /reports/channels`: per channel leads, valid leads, signed, disbursed, fees, cost,
    /// cost per lead and per signed customer, ROI, and the totals — from counters and the
    /// period's cost keys, no record is read.
    pub fn channel_report(&self, caller: &Caller, q: &ChannelReportQuery) -> Result<ChannelReport> {
        self.require_firm_finance(caller)?;
        let this = fee::month_of(super::today(self.now()));
        let from = match &q.from {
            Some(m) => month_arg("from", m)?,
            None => this,
        };
        let to = match &q.to {
            Some(m) => month_arg("to", m)?,
            None => from.clone(),
        };
        if to < from {
            return Err(Error::validation("to", "结束月份不能早于开始月份"));
        }
        if months_between(&from, &to) > 36 {
            return Err(Error::validation("to", "期间不能超过36个月"));
        }
        let (channels, costs, stats) = self.store.read(|tx| {
            let mut stats = Vec::new();
            store::channels::stats(tx, &from, &to, |_, metric, text, n| {
                stats.push((metric.to_string(), text.to_string(), n));
            })?;
            Ok::<_, Error>((
                store::channels::all(tx)?,
                store::channels::costs(tx, &from, &to)?,
                stats,
            ))
        })?;
        // Registered channels first (by name), then unregistered texts, then "no channel".
        let mut rows: BTreeMap<(u8, String), RoiRow> = BTreeMap::new();
        let mut by_name: BTreeMap<String, (u8, String)> = BTreeMap::new();
        let mut by_id: BTreeMap<String, (u8, String)> = BTreeMap::new();
        for c in &channels {
            let key = (0, c.name.clone());
            by_name.insert(fold(&c.name), key.clone());
            by_id.insert(c.id.clone(), key.clone());
            rows.insert(
                key,
                RoiRow {
                    channel_id: Some(c.id.clone()),
                    name: c.name.clone(),
                    label: c.name.clone(),
                    kind: Some(c.kind.clone()),
                    registered: true,
                    ..RoiRow::default()
                },
            );
        }
        for (metric, text, n) in stats {
            let key = match by_name.get(&fold(&text)) {
                Some(k) => k.clone(),
                None if text.trim().is_empty() => (2, String::new()),
                None => (1, text.trim().to_string()),
            };
            let row = rows.entry(key.clone()).or_insert_with(|| RoiRow {
                label: if key.0 == 2 {
                    "未填渠道".to_string()
                } else {
                    format!("未登记渠道: {}", key.1)
                },
                name: key.1.clone(),
                ..RoiRow::default()
            });
            match metric.as_str() {
                "leads" => row.leads += n,
                "valid" => row.valid_leads += n,
                "signed" => row.signed += n,
                "disbursed" => row.disbursed_fen += n,
                "fees" => row.fees_fen += n,
                // A broker's referral fee is a cost of the broker's channel.
                "broker_fees" => {
                    row.broker_fees_fen += n;
                    row.cost_fen += n;
                }
                _ => {}
            }
        }
        for c in costs {
            if let Some(row) = by_id.get(&c.channel_id).and_then(|k| rows.get_mut(k)) {
                row.cost_fen += c.cost_fen;
            }
        }
        let mut totals = RoiRow {
            name: String::new(),
            label: "合计".to_string(),
            ..RoiRow::default()
        };
        let mut out = Vec::with_capacity(rows.len());
        for (_, mut row) in rows {
            row.finish();
            totals.add(&row);
            out.push(row);
        }
        totals.finish();
        Ok(ChannelReport {
            from,
            to,
            rows: out,
            totals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_halves_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(0, 7), 0);
    }

    #[test]
    fn twelve_months_back_cross_the_year() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap_or_default();
        let m = months_back(d, 12);
        assert_eq!(m.first().map(String::as_str), Some("2025-04"));
        assert_eq!(m.last().map(String::as_str), Some("2026-03"));
        assert_eq!(m.len(), 12);
        assert_eq!(months_between("2025-11", "2026-02"), 4);
    }
}
