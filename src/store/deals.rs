//! Deals (业务单): records under their id, secondary keys for prefix scans and per-officer stage
//! counters, all written by [`put`] in the caller's transaction, so lists, the board and the
//! funnel never read the whole table.
//!
//! Keys (`deal_keys`, key → the deal's officer id):
//! `c:<customer>/<deal>`, `o:<officer>/<deal>`, `a:<assistant>/<deal>`, `s:<stage>/<deal>`,
//! `os:<officer>/<stage>/<deal>`, `as:<assistant>/<stage>/<deal>`.
//! And `m:<customer>` → the stage of the customer's most advanced open deal (absent when none
//! is open), kept by [`set_lead_stage`]: what recall rules read of a customer's deals.
//! Counters (`deal_counts`, (officer id or `*`, stage) → deals): zero counters are absent.
//!
//! Deals are read outside `store` only through a [`Reader`] made from what the caller sees
//! ([`SeesDeals`]): a deal out of scope is `None`, exactly like an absent one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use redb::{ReadableTable, WriteTransaction};

use super::customers::Tx;
use super::{Result, codec, tables};
use crate::domain::deal::{Deal, DealStage};

/// Who a reader shows deals to. A deal is seen when its officer or its assistant is one of
/// the users whose records the caller sees.
pub trait SeesDeals {
    /// `None`: every user (a firm-wide scope).
    fn users(&self) -> Option<&BTreeSet<String>>;
}

fn sees(s: &dyn SeesDeals, d: &Deal) -> bool {
    match s.users() {
        None => true,
        Some(set) => {
            set.contains(&d.officer_id) || d.assistant_id.as_ref().is_some_and(|a| set.contains(a))
        }
    }
}

fn keys(d: &Deal) -> Vec<String> {
    let (id, st) = (&d.id, d.stage.key());
    let mut out = vec![
        format!("c:{}/{id}", d.customer_id),
        format!("o:{}/{id}", d.officer_id),
        format!("s:{st}/{id}"),
        format!("os:{}/{st}/{id}", d.officer_id),
    ];
    if let Some(a) = &d.assistant_id {
        out.push(format!("a:{a}/{id}"));
        out.push(format!("as:{a}/{st}/{id}"));
    }
    // Service reminders of a running loan, by the day to remind the officer.
    for (on, kind, _) in crate::domain::deal::service_dates(d) {
        out.push(format!("rm:{}/{on}/{}/{id}", d.officer_id, kind.key()));
    }
    out
}

/// The service reminders of `officer` due from day `from` to day `to` (inclusive), in date
/// order: (remind on, kind key, deal id).
pub fn reminders(
    tx: &redb::ReadTransaction,
    officer: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<(String, String, String)>> {
    let keys = tx.open_table(tables::DEAL_KEYS)?;
    let start = format!("rm:{officer}/{from}");
    // '0' sorts after '/': every key of day `to` is below it.
    let end = format!("rm:{officer}/{to}0");
    let mut out = Vec::new();
    for row in keys.range(start.as_str()..end.as_str())? {
        let (k, _) = row?;
        let rest = &k.value()[3 + officer.len() + 1..];
        let mut parts = rest.splitn(3, '/');
        if let (Some(day), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) {
            out.push((day.to_string(), kind.to_string(), id.to_string()));
        }
    }
    Ok(out)
}

fn bump(tx: &WriteTransaction, officer: &str, stage: DealStage, up: bool) -> Result<()> {
    let mut t = tx.open_table(tables::DEAL_COUNTS)?;
    for who in [officer, "*"] {
        let key = (who, stage.key());
        let n = t.get(key)?.map(|v| v.value()).unwrap_or(0);
        let n = if up { n + 1 } else { n.saturating_sub(1) };
        if n == 0 {
            t.remove(key)?;
        } else {
            t.insert(key, n)?;
        }
    }
    Ok(())
}

/// Writes a deal with its keys and counters (`before`: the record as it was, if any).
pub fn put(tx: &WriteTransaction, before: Option<&Deal>, d: &Deal) -> Result<()> {
    tx.open_table(tables::DEALS)?
        .insert(d.id.as_str(), codec::encode(d)?.as_slice())?;
    let mut k = tx.open_table(tables::DEAL_KEYS)?;
    if let Some(b) = before {
        for key in keys(b) {
            k.remove(key.as_str())?;
        }
    }
    for key in keys(d) {
        k.insert(key.as_str(), d.officer_id.as_str())?;
    }
    drop(k);
    if let Some(b) = before {
        bump(tx, &b.officer_id, b.stage, false)?;
        if b.officer_id != d.officer_id || b.assistant_id != d.assistant_id {
            super::custody::people_changed(tx, d)?;
        }
    }
    bump(tx, &d.officer_id, d.stage, true)?;
    super::channels::on_deal(tx, before, d)?;
    super::report_keys::on_deal(tx, before, d)?;
    super::funnel::on_write(
        tx,
        super::funnel::Kind::Deal,
        &DealStage::PIPELINE,
        &d.id,
        Some(&d.officer_id),
        d.stage.key(),
        d.closed_reason.as_deref(),
        d.updated_at,
    )
}

/// The stages of every deal of a customer, whoever's they are: the customer's stage follows
/// the most advanced open one (no deal data leaves, only stages).
pub fn stages_of_customer(tx: &WriteTransaction, customer_id: &str) -> Result<Vec<DealStage>> {
    let keys = tx.open_table(tables::DEAL_KEYS)?;
    let deals = tx.open_table(tables::DEALS)?;
    let mut out = Vec::new();
    for id in ids_desc(&keys, &format!("c:{customer_id}/"), None, usize::MAX)? {
        if let Some(v) = deals.get(id.as_str())? {
            out.push(codec::decode::<Deal>("deals", v.value())?.stage);
        }
    }
    Ok(out)
}

/// The ids of a customer's deals, newest first (erasure).
pub fn ids_of_customer(tx: &WriteTransaction, customer_id: &str) -> Result<Vec<String>> {
    let keys = tx.open_table(tables::DEAL_KEYS)?;
    ids_desc(&keys, &format!("c:{customer_id}/"), None, usize::MAX)
}

/// Erasure: the customer's name snapshot on each of their deals becomes `name` (stages, keys
/// and counters unchanged: the same stage writes no funnel or channel event).
pub fn rename_customer(tx: &WriteTransaction, customer_id: &str, name: &str) -> Result<usize> {
    let mut n = 0;
    for id in ids_of_customer(tx, customer_id)? {
        let before = decode(&tx.open_table(tables::DEALS)?, &id)?;
        let Some(before) = before.filter(|d| d.customer_name != name) else {
            continue;
        };
        let mut d = before.clone();
        d.customer_name = name.to_string();
        put(tx, Some(&before), &d)?;
        n += 1;
    }
    Ok(n)
}

/// Records the stage of a customer's most advanced open deal (`None`: no open deal).
pub fn set_lead_stage(
    tx: &WriteTransaction,
    customer_id: &str,
    stage: Option<DealStage>,
) -> Result<()> {
    let mut k = tx.open_table(tables::DEAL_KEYS)?;
    let key = format!("m:{customer_id}");
    match stage {
        Some(s) => k.insert(key.as_str(), s.key())?,
        None => k.remove(key.as_str())?,
    };
    Ok(())
}

/// The stage of one customer's most advanced open deal (a rule tried on that customer).
pub fn lead_stage<'t>(tx: impl Into<Tx<'t>>, customer_id: &str) -> Result<Option<DealStage>> {
    fn read(
        keys: &impl ReadableTable<&'static str, &'static str>,
        customer_id: &str,
    ) -> Result<Option<DealStage>> {
        let Some(v) = keys.get(format!("m:{customer_id}").as_str())? else {
            return Ok(None);
        };
        DealStage::from_key(v.value())
            .map(Some)
            .ok_or_else(|| super::Error::Corrupt {
                table: "deal_keys",
                message: format!("unknown deal stage {}", v.value()),
            })
    }
    match tx.into() {
        Tx::Read(tx) => read(&tx.open_table(tables::DEAL_KEYS)?, customer_id),
        Tx::Write(tx) => read(&tx.open_table(tables::DEAL_KEYS)?, customer_id),
    }
}

/// Every customer with an open deal → the stage of its most advanced one (a recall sweep
/// reads these once; only customers with deals have an entry).
pub fn lead_stages<'t>(tx: impl Into<Tx<'t>>) -> Result<HashMap<String, DealStage>> {
    fn read(
        keys: &impl ReadableTable<&'static str, &'static str>,
    ) -> Result<HashMap<String, DealStage>> {
        let mut out = HashMap::new();
        for row in keys.range("m:".."m;")? {
            let (k, v) = row?;
            let stage = DealStage::from_key(v.value()).ok_or_else(|| super::Error::Corrupt {
                table: "deal_keys",
                message: format!("unknown deal stage {}", v.value()),
            })?;
            let customer = k.value().strip_prefix("m:").unwrap_or(k.value());
            out.insert(customer.to_string(), stage);
        }
        Ok(out)
    }
    match tx.into() {
        Tx::Read(tx) => read(&tx.open_table(tables::DEAL_KEYS)?),
        Tx::Write(tx) => read(&tx.open_table(tables::DEAL_KEYS)?),
    }
}

/// Keys and counters that differ from a recount of the deal records (`zhudai doctor`): each
/// as text, empty when everything matches.
pub fn drift(tx: &redb::ReadTransaction) -> Result<Vec<String>> {
    let mut want_keys = BTreeMap::new();
    let mut want_counts: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let mut by_customer: BTreeMap<String, Vec<DealStage>> = BTreeMap::new();
    for row in tx.open_table(tables::DEALS)?.iter()? {
        let (_, v) = row?;
        let d: Deal = codec::decode("deals", v.value())?;
        for k in keys(&d) {
            want_keys.insert(k, d.officer_id.clone());
        }
        for who in [d.officer_id.as_str(), "*"] {
            *want_counts
                .entry((who.to_string(), d.stage.key()))
                .or_default() += 1;
        }
        by_customer
            .entry(d.customer_id.clone())
            .or_default()
            .push(d.stage);
    }
    for (customer, stages) in by_customer {
        if let Some(s) = crate::domain::deal::most_advanced_open(stages) {
            want_keys.insert(format!("m:{customer}"), s.key().to_string());
        }
    }
    let mut out = Vec::new();
    let mut stored_keys = BTreeMap::new();
    for row in tx.open_table(tables::DEAL_KEYS)?.iter()? {
        let (k, v) = row?;
        stored_keys.insert(k.value().to_string(), v.value().to_string());
    }
    for (k, v) in &want_keys {
        if stored_keys.get(k) != Some(v) {
            out.push(format!("deal key {k}: missing or wrong"));
        }
    }
    for k in stored_keys.keys() {
        if !want_keys.contains_key(k) {
            out.push(format!("deal key {k}: no such deal"));
        }
    }
    let mut stored_counts = BTreeMap::new();
    for row in tx.open_table(tables::DEAL_COUNTS)?.iter()? {
        let (k, v) = row?;
        let (who, stage) = k.value();
        stored_counts.insert((who.to_string(), stage.to_string()), v.value());
    }
    for ((who, stage), n) in &want_counts {
        let got = stored_counts
            .remove(&(who.clone(), (*stage).to_string()))
            .unwrap_or(0);
        if got != *n {
            out.push(format!("deal count {who}/{stage}: {got} ≠ {n}"));
        }
    }
    for ((who, stage), n) in stored_counts {
        out.push(format!("deal count {who}/{stage}: {n} ≠ 0"));
    }
    Ok(out)
}

/// The deal ids under `prefix`, newest first, below `before` (a deal id), at most `limit`.
fn ids_desc(
    keys: &impl ReadableTable<&'static str, &'static str>,
    prefix: &str,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<String>> {
    let end = match before {
        Some(c) => format!("{prefix}{c}"),
        // Every prefix ends in '/', and '0' follows '/'.
        None => format!("{}0", &prefix[..prefix.len() - 1]),
    };
    let mut out = Vec::new();
    for row in keys.range(prefix..end.as_str())?.rev() {
        if out.len() >= limit {
            break;
        }
        let (k, _) = row?;
        if let Some(id) = k.value().rsplit('/').next() {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// Officer ids of the keys under `prefix` (for counting assistant-only deals).
fn officers_under(
    keys: &impl ReadableTable<&'static str, &'static str>,
    prefix: &str,
) -> Result<Vec<String>> {
    let end = format!("{}0", &prefix[..prefix.len() - 1]);
    let mut out = Vec::new();
    for row in keys.range(prefix..end.as_str())? {
        let (_, v) = row?;
        out.push(v.value().to_string());
    }
    Ok(out)
}

/// Which deals a page lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub stage: Option<DealStage>,
    pub officer: Option<String>,
    pub customer: Option<String>,
}

/// A page of deals, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Deal>,
    pub next_cursor: Option<String>,
    pub total: u64,
}

/// The one way to read deals from outside `store`: what `sees` allows.
pub struct Reader<'t> {
    tx: Tx<'t>,
    sees: &'t dyn SeesDeals,
}

macro_rules! with_tables {
    ($self:expr, |$deals:ident, $keys:ident, $counts:ident| $body:expr) => {
        match $self.tx {
            Tx::Read(tx) => {
                let $deals = tx.open_table(tables::DEALS)?;
                let $keys = tx.open_table(tables::DEAL_KEYS)?;
                let $counts = tx.open_table(tables::DEAL_COUNTS)?;
                $body
            }
            Tx::Write(tx) => {
                let $deals = tx.open_table(tables::DEALS)?;
                let $keys = tx.open_table(tables::DEAL_KEYS)?;
                let $counts = tx.open_table(tables::DEAL_COUNTS)?;
                $body
            }
        }
    };
}

fn decode(
    deals: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<Deal>> {
    deals
        .get(id)?
        .map(|v| codec::decode("deals", v.value()))
        .transpose()
}

fn count(
    counts: &impl ReadableTable<(&'static str, &'static str), u64>,
    who: &str,
    stage: DealStage,
) -> Result<u64> {
    Ok(counts
        .get((who, stage.key()))?
        .map(|v| v.value())
        .unwrap_or(0))
}

impl<'t> Reader<'t> {
    pub fn scoped(tx: impl Into<Tx<'t>>, sees: &'t dyn SeesDeals) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            sees,
        }
    }

    /// The deal when the reader sees it; `None` when absent or out of scope alike.
    pub fn get(&self, id: &str) -> Result<Option<Deal>> {
        let d = with_tables!(self, |deals, _k, _c| decode(&deals, id)?);
        Ok(d.filter(|d| sees(self.sees, d)))
    }

    /// Deals per stage that the reader sees, from the counters (and the assistant keys of
    /// the scope's users for deals whose officer is outside it).
    pub fn counts(&self) -> Result<BTreeMap<DealStage, u64>> {
        with_tables!(self, |_d, keys, counts| {
            let mut out = BTreeMap::new();
            for stage in DealStage::ALL {
                let n = match self.sees.users() {
                    None => count(&counts, "*", stage)?,
                    Some(set) => {
                        let mut n = 0;
                        for u in set {
                            n += count(&counts, u, stage)?;
                            let prefix = format!("as:{u}/{}/", stage.key());
                            n += officers_under(&keys, &prefix)?
                                .iter()
                                .filter(|o| !set.contains(*o))
                                .count() as u64;
                        }
                        n
                    }
                };
                out.insert(stage, n);
            }
            Ok::<_, super::Error>(out)
        })
    }

    /// A page of the deals the reader sees, newest first, after `cursor` (a deal id).
    pub fn page(&self, f: &Filter, cursor: Option<&str>, limit: usize) -> Result<Page> {
        self.page_counted(f, cursor, limit, None)
    }

    /// [`Reader::page`] with this reader's [`Reader::counts`] when the caller has them
    /// already (the board reads them once for its nine columns).
    pub fn page_counted(
        &self,
        f: &Filter,
        cursor: Option<&str>,
        limit: usize,
        counts: Option<&BTreeMap<DealStage, u64>>,
    ) -> Result<Page> {
        if let Some(customer) = &f.customer {
            return self.customer_page(customer, f, cursor, limit);
        }
        let stage = f.stage.map(DealStage::key);
        let owned;
        let counts = match (counts, &f.officer) {
            (Some(c), _) => Some(c),
            (None, None) => {
                owned = self.counts()?;
                Some(&owned)
            }
            (None, Some(_)) => None,
        };
        let in_scope_total = || -> u64 {
            counts.map_or(0, |c| {
                c.iter()
                    .filter(|(s, _)| f.stage.is_none_or(|x| x == **s))
                    .map(|(_, n)| n)
                    .sum()
            })
        };
        let (prefixes, total): (Vec<String>, u64) = match (&f.officer, self.sees.users()) {
            (Some(o), users) => {
                if users.is_some_and(|set| !set.contains(o)) {
                    // Another team's officer: their deals are not listed by officer.
                    return Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                        total: 0,
                    });
                }
                let total = with_tables!(self, |_d, _k, counts| {
                    let mut n = 0;
                    for s in DealStage::ALL {
                        if f.stage.is_none_or(|x| x == s) {
                            n += count(&counts, o, s)?;
                        }
                    }
                    n
                });
                let p = match stage {
                    Some(s) => format!("os:{o}/{s}/"),
                    None => format!("o:{o}/"),
                };
                (vec![p], total)
            }
            (None, None) => {
                let total = in_scope_total();
                let p = match stage {
                    Some(s) => vec![format!("s:{s}/")],
                    None => Vec::new(),
                };
                (p, total)
            }
            (None, Some(set)) => {
                let total = in_scope_total();
                let mut p = Vec::new();
                for u in set {
                    match stage {
                        Some(s) => {
                            p.push(format!("os:{u}/{s}/"));
                            p.push(format!("as:{u}/{s}/"));
                        }
                        None => {
                            p.push(format!("o:{u}/"));
                            p.push(format!("a:{u}/"));
                        }
                    }
                }
                (p, total)
            }
        };
        let whole_table = prefixes.is_empty();
        with_tables!(self, |deals, keys, _c| {
            let mut ids = BTreeSet::new();
            if whole_table {
                // Every deal, no filter: the records in id order from the cursor.
                let end = cursor.unwrap_or("\u{7f}");
                for row in deals.range(..end)?.rev().take(limit + 1) {
                    let (k, _) = row?;
                    ids.insert(k.value().to_string());
                }
            } else {
                for p in &prefixes {
                    ids.extend(ids_desc(&keys, p, cursor, limit + 1)?);
                }
            }
            let mut ids: Vec<String> = ids.into_iter().rev().take(limit + 1).collect();
            let more = ids.len() > limit;
            ids.truncate(limit);
            let mut items = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(d) = decode(&deals, id)?
                    && sees(self.sees, &d)
                {
                    items.push(d);
                }
            }
            Ok(Page {
                next_cursor: if more { ids.last().cloned() } else { None },
                items,
                total,
            })
        })
    }

    /// A customer's deals (a handful): read whole, filtered, paged in memory.
    fn customer_page(
        &self,
        customer: &str,
        f: &Filter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let all = with_tables!(self, |deals, keys, _c| {
            let mut out = Vec::new();
            for id in ids_desc(&keys, &format!("c:{customer}/"), None, usize::MAX)? {
                if let Some(d) = decode(&deals, &id)? {
                    out.push(d);
                }
            }
            out
        });
        let matching: Vec<Deal> = all
            .into_iter()
            .filter(|d| {
                sees(self.sees, d)
                    && f.stage.is_none_or(|s| s == d.stage)
                    && f.officer.as_ref().is_none_or(|o| *o == d.officer_id)
            })
            .collect();
        let total = matching.len() as u64;
        let mut items: Vec<Deal> = matching
            .into_iter()
            .filter(|d| cursor.is_none_or(|c| d.id.as_str() < c))
            .take(limit + 1)
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        Ok(Page {
            next_cursor: if more {
                items.last().map(|d| d.id.clone())
            } else {
                None
            },
            items,
            total,
        })
    }
}
