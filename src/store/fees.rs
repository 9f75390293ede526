//! Fees (服务费), payments (回款), commission lines and month close (schema 25). Every list is a
//! range of keys kept in the write transaction of the change, and every total a counter moved
//! in it: no request reads a whole table.
//!
//! - `fee_accounts`: deal id → `domain::fee::FeeAccount` (the agreed fee, payments, refunds,
//!   waivers, rebate receipts).
//! - `fee_keys` (key → deal id): `pm:<month>/<officer>/<payment or refund id>` (received and
//!   refunded in a month), `rcv:<officer>/<deal>` (a fee outstanding), `rb:<officer>/<deal>`
//!   (a rebate outstanding).
//! - `commission_lines`: `<month>/<user>/<line id>` → `domain::fee::CommissionLine`: a user's
//!   statement is one range, a month's statements another.
//! - `fee_totals` (key → fen): `vol/<month>/<officer>` (net received by the officer),
//!   `com/<month>/<user>` (commission), `in/<month>` and `out/<month>` (received, refunded).
//! - `months`: `YYYY-MM` → [`MonthClose`] (closed months, their frozen hash, reopenings).
//!
//! Accounts are read outside `store` through a [`Reader`] made from what the caller sees
//! (the deal's officer in the scope) or for a deal the caller already read through the deal
//! reader.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::customers::Tx;
use super::deals::SeesDeals;
use super::{Result, codec, tables};
use crate::domain::deal::Deal;
use crate::domain::fee::{CommissionLine, FeeAccount};

/// A month's close: who closed it, the frozen hash, and every reopening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonthClose {
    pub month: String,
    pub closed: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    /// SHA-256 (hex) of the month's commission lines in canonical form, at close.
    pub hash: Option<String>,
    pub lines: u64,
    pub total_fen: i64,
    #[serde(default)]
    pub reopened: Vec<Reopening>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reopening {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
}

fn account_keys(a: &FeeAccount) -> Vec<String> {
    let (o, id) = (&a.officer_id, &a.deal_id);
    let mut out = Vec::new();
    for p in &a.payments {
        out.push(format!(
            "pm:{}/{o}/{}",
            crate::domain::fee::month_of(p.paid_on),
            p.id
        ));
    }
    for r in &a.refunds {
        out.push(format!(
            "pm:{}/{o}/{}",
            crate::domain::fee::month_of(r.refunded_on),
            r.id
        ));
    }
    if a.balance() > 0 {
        out.push(format!("rcv:{o}/{id}"));
    }
    if a.rebate_balance() > 0 {
        out.push(format!("rb:{o}/{id}"));
    }
    out
}

/// What an account adds to the report rollups in `fee_totals` (schema 34), per officer:
/// `pd/<officer>/<day>` and `pdm/<officer>/<month>` paid, `rd/<officer>/<day>` and
/// `rdm/<officer>/<month>` refunded (by the payment's or refund's day), and
/// `due/<officer>/<disbursement day>` the balance outstanding (when above zero). The finance
/// and rankings reports read these instead of decoding the accounts.
fn rollups(a: &FeeAccount) -> Vec<(String, i64)> {
    let o = &a.officer_id;
    let mut out = Vec::with_capacity(2 * (a.payments.len() + a.refunds.len()) + 1);
    for p in &a.payments {
        let m = crate::domain::fee::month_of(p.paid_on);
        out.push((format!("pd/{o}/{}", p.paid_on), p.amount_fen));
        out.push((format!("pdm/{o}/{m}"), p.amount_fen));
    }
    for r in &a.refunds {
        let m = crate::domain::fee::month_of(r.refunded_on);
        out.push((format!("rd/{o}/{}", r.refunded_on), r.amount_fen));
        out.push((format!("rdm/{o}/{m}"), r.amount_fen));
    }
    let due = a.balance();
    if due > 0 {
        out.push((format!("due/{o}/{}", a.disbursed_on), due));
    }
    out
}

/// Moves the rollups from `before` to `a` (netted, so an unchanged figure writes nothing).
fn move_rollups(tx: &WriteTransaction, before: Option<&FeeAccount>, a: &FeeAccount) -> Result<()> {
    let mut delta: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for (k, n) in before.map(rollups).unwrap_or_default() {
        *delta.entry(k).or_default() -= n;
    }
    for (k, n) in rollups(a) {
        *delta.entry(k).or_default() += n;
    }
    for (k, n) in delta {
        if n != 0 {
            add_total(tx, &k, n)?;
        }
    }
    Ok(())
}

/// One batch of building the rollups from the accounts (the 33 → 34 upgrade; they start
/// empty): the accounts after `after`, at most `limit`. Returns the last deal id and how many.
pub fn rollups_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    let mut last = None;
    let mut n = 0;
    {
        let t = tx.open_table(tables::FEE_ACCOUNTS)?;
        let range = match after {
            Some(a) => {
                t.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
            }
            None => t.range::<&str>(..)?,
        };
        for row in range.take(limit) {
            let (id, v) = row?;
            let a: FeeAccount = codec::decode("fee_accounts", v.value())?;
            for (k, x) in rollups(&a) {
                *sums.entry(k).or_default() += x;
            }
            last = Some(id.value().to_string());
            n += 1;
        }
    }
    for (k, x) in sums {
        if x != 0 {
            add_total(tx, &k, x)?;
        }
    }
    Ok((last, n))
}

/// The rollup families of [`rollups`] (emptied before the upgrade builds them).
pub const ROLLUP_FAMILIES: [&str; 5] = ["pd/", "pdm/", "rd/", "rdm/", "due/"];

/// Removes every rollup key (the first batch of the 33 → 34 upgrade).
pub fn clear_rollups(tx: &WriteTransaction) -> Result<()> {
    let mut t = tx.open_table(tables::FEE_TOTALS)?;
    for f in ROLLUP_FAMILIES {
        let end = format!("{f}\u{10FFFF}");
        let keys: Vec<String> = t
            .range(f..end.as_str())?
            .map(|r| r.map(|(k, _)| k.value().to_string()))
            .collect::<std::result::Result<_, _>>()?;
        for k in keys {
            t.remove(k.as_str())?;
        }
    }
    Ok(())
}

/// Writes an account with its keys (`before`: as it was, if any) and moves its rollups.
pub fn put_account(
    tx: &WriteTransaction,
    before: Option<&FeeAccount>,
    a: &FeeAccount,
) -> Result<()> {
    tx.open_table(tables::FEE_ACCOUNTS)?
        .insert(a.deal_id.as_str(), codec::encode(a)?.as_slice())?;
    let mut k = tx.open_table(tables::FEE_KEYS)?;
    if let Some(b) = before {
        for key in account_keys(b) {
            k.remove(key.as_str())?;
        }
    }
    for key in account_keys(a) {
        k.insert(key.as_str(), a.deal_id.as_str())?;
    }
    drop(k);
    move_rollups(tx, before, a)?;
    super::channels::on_account(tx, before, a)
}

/// Adds `delta` to a total.
pub fn add_total(tx: &WriteTransaction, key: &str, delta: i64) -> Result<()> {
    let mut t = tx.open_table(tables::FEE_TOTALS)?;
    let n = t.get(key)?.map(|v| v.value()).unwrap_or(0) + delta;
    if n == 0 {
        t.remove(key)?;
    } else {
        t.insert(key, n)?;
    }
    Ok(())
}

/// A total (0 when absent).
pub fn total<'t>(tx: impl Into<Tx<'t>>, key: &str) -> Result<i64> {
    Ok(match tx.into() {
        Tx::Read(tx) => tx
            .open_table(tables::FEE_TOTALS)?
            .get(key)?
            .map(|v| v.value()),
        Tx::Write(tx) => tx
            .open_table(tables::FEE_TOTALS)?
            .get(key)?
            .map(|v| v.value()),
    }
    .unwrap_or(0))
}

pub fn line_key(l: &CommissionLine) -> String {
    format!("{}/{}/{}", l.month, l.user_id, l.id)
}

/// Writes a commission line and moves the user's monthly total.
pub fn put_line(tx: &WriteTransaction, l: &CommissionLine) -> Result<()> {
    tx.open_table(tables::COMMISSION_LINES)?
        .insert(line_key(l).as_str(), codec::encode(l)?.as_slice())?;
    add_total(tx, &format!("com/{}/{}", l.month, l.user_id), l.amount_fen)
}

/// Removes a commission line and moves the user's monthly total back.
pub fn remove_line(tx: &WriteTransaction, l: &CommissionLine) -> Result<()> {
    tx.open_table(tables::COMMISSION_LINES)?
        .remove(line_key(l).as_str())?;
    add_total(tx, &format!("com/{}/{}", l.month, l.user_id), -l.amount_fen)
}

fn lines_in<'t>(tx: impl Into<Tx<'t>>, prefix: &str) -> Result<Vec<CommissionLine>> {
    fn read(
        t: &impl ReadableTable<&'static str, &'static [u8]>,
        prefix: &str,
    ) -> Result<Vec<CommissionLine>> {
        let end = format!("{prefix}\u{10FFFF}");
        let mut out = Vec::new();
        for row in t.range(prefix..end.as_str())? {
            let (_, v) = row?;
            out.push(codec::decode("commission_lines", v.value())?);
        }
        Ok(out)
    }
    match tx.into() {
        Tx::Read(tx) => read(&tx.open_table(tables::COMMISSION_LINES)?, prefix),
        Tx::Write(tx) => read(&tx.open_table(tables::COMMISSION_LINES)?, prefix),
    }
}

/// Every commission line of a month (its statements; month close).
pub fn month_lines<'t>(tx: impl Into<Tx<'t>>, month: &str) -> Result<Vec<CommissionLine>> {
    lines_in(tx, &format!("{month}/"))
}

/// Commission lines by their keys (a deal's, listed in its account).
pub fn lines_by_key(tx: &WriteTransaction, keys: &[String]) -> Result<Vec<CommissionLine>> {
    let t = tx.open_table(tables::COMMISSION_LINES)?;
    let mut out = Vec::new();
    for k in keys {
        if let Some(v) = t.get(k.as_str())? {
            out.push(codec::decode("commission_lines", v.value())?);
        }
    }
    Ok(out)
}

/// A month's close record.
pub fn month<'t>(tx: impl Into<Tx<'t>>, month: &str) -> Result<Option<MonthClose>> {
    let v = match tx.into() {
        Tx::Read(tx) => tx
            .open_table(tables::MONTHS)?
            .get(month)?
            .map(|v| v.value().to_vec()),
        Tx::Write(tx) => tx
            .open_table(tables::MONTHS)?
            .get(month)?
            .map(|v| v.value().to_vec()),
    };
    v.map(|b| codec::decode("months", &b)).transpose()
}

pub fn is_closed(tx: &WriteTransaction, m: &str) -> Result<bool> {
    Ok(month(tx, m)?.is_some_and(|c| c.closed))
}

pub fn put_month(tx: &WriteTransaction, c: &MonthClose) -> Result<()> {
    tx.open_table(tables::MONTHS)?
        .insert(c.month.as_str(), codec::encode(c)?.as_slice())?;
    Ok(())
}

/// Reads accounts for a caller: an account is seen when its deal's officer is one of the
/// users the caller sees.
pub struct Reader<'t> {
    tx: Tx<'t>,
    sees: &'t dyn SeesDeals,
}

fn decode_account(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<FeeAccount>> {
    t.get(id)?
        .map(|v| codec::decode("fee_accounts", v.value()))
        .transpose()
}

fn keys_in(
    t: &impl ReadableTable<&'static str, &'static str>,
    prefix: &str,
) -> Result<Vec<(String, String)>> {
    let end = format!("{prefix}\u{10FFFF}");
    let mut out = Vec::new();
    for row in t.range(prefix..end.as_str())? {
        let (k, v) = row?;
        out.push((k.value().to_string(), v.value().to_string()));
    }
    Ok(out)
}

impl<'t> Reader<'t> {
    pub fn scoped(tx: impl Into<Tx<'t>>, sees: &'t dyn SeesDeals) -> Reader<'t> {
        Reader {
            tx: tx.into(),
            sees,
        }
    }

    /// The account of a deal the caller has read through `store::deals::Reader` (the deal's
    /// scope already decided: an assistant sees it too).
    pub fn of_deal(&self, d: &Deal) -> Result<Option<FeeAccount>> {
        match &self.tx {
            Tx::Read(tx) => decode_account(&tx.open_table(tables::FEE_ACCOUNTS)?, &d.id),
            Tx::Write(tx) => decode_account(&tx.open_table(tables::FEE_ACCOUNTS)?, &d.id),
        }
    }

    fn prefixes(&self, head: &str) -> Vec<String> {
        match self.sees.users() {
            None => vec![head.to_string()],
            Some(set) => set.iter().map(|u| format!("{head}{u}/")).collect(),
        }
    }

    /// (key, deal id) of a key family over the users the caller sees.
    fn keys(&self, head: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for p in self.prefixes(head) {
            match &self.tx {
                Tx::Read(tx) => out.extend(keys_in(&tx.open_table(tables::FEE_KEYS)?, &p)?),
                Tx::Write(tx) => out.extend(keys_in(&tx.open_table(tables::FEE_KEYS)?, &p)?),
            }
        }
        Ok(out)
    }

    fn accounts(&self, ids: impl IntoIterator<Item = String>) -> Result<Vec<FeeAccount>> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for id in ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            let a = match &self.tx {
                Tx::Read(tx) => decode_account(&tx.open_table(tables::FEE_ACCOUNTS)?, &id)?,
                Tx::Write(tx) => decode_account(&tx.open_table(tables::FEE_ACCOUNTS)?, &id)?,
            };
            if let Some(a) = a
                && self.sees.users().is_none_or(|s| s.contains(&a.officer_id))
            {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Accounts with a fee outstanding.
    pub fn receivables(&self) -> Result<Vec<FeeAccount>> {
        let keys = self.keys("rcv:")?;
        self.accounts(keys.into_iter().map(|(_, d)| d))
    }

    /// Accounts with a rebate outstanding.
    pub fn rebates(&self) -> Result<Vec<FeeAccount>> {
        let keys = self.keys("rb:")?;
        self.accounts(keys.into_iter().map(|(_, d)| d))
    }

    /// (payment or refund id, account) of a month.
    pub fn month_moves(&self, month: &str) -> Result<Vec<(String, FeeAccount)>> {
        let head = format!("pm:{month}/");
        let keys = self.keys(&head)?;
        let ids: Vec<(String, String)> = keys
            .into_iter()
            .map(|(k, d)| (k.rsplit('/').next().unwrap_or_default().to_string(), d))
            .collect();
        let accounts: std::collections::HashMap<String, FeeAccount> = self
            .accounts(ids.iter().map(|(_, d)| d.clone()))?
            .into_iter()
            .map(|a| (a.deal_id.clone(), a))
            .collect();
        Ok(ids
            .into_iter()
            .filter_map(|(id, d)| accounts.get(&d).map(|a| (id, a.clone())))
            .collect())
    }

    /// Whether the caller sees `officer`'s accounts.
    fn sees_officer(&self, officer: &str) -> bool {
        self.sees.users().is_none_or(|s| s.contains(officer))
    }

    /// Visits the totals `start..end` (`fee_totals`).
    fn totals_in(&self, start: &str, end: &str, mut visit: impl FnMut(&str, i64)) -> Result<()> {
        fn go(
            t: &impl ReadableTable<&'static str, i64>,
            start: &str,
            end: &str,
            visit: &mut impl FnMut(&str, i64),
        ) -> Result<()> {
            for row in t.range(start..end)? {
                let (k, v) = row?;
                visit(k.value(), v.value());
            }
            Ok(())
        }
        match &self.tx {
            Tx::Read(tx) => go(&tx.open_table(tables::FEE_TOTALS)?, start, end, &mut visit),
            Tx::Write(tx) => go(&tx.open_table(tables::FEE_TOTALS)?, start, end, &mut visit),
        }
    }

    /// `officer`'s fees paid and refunded on the days `from..=to` (payments' and refunds'
    /// days), from the rollups: whole months from the month keys, the partial months' days
    /// from the day keys. (0, 0) when the caller does not see the officer.
    pub fn paid_refunded(
        &self,
        officer: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<(i64, i64)> {
        if !self.sees_officer(officer) {
            return Ok((0, 0));
        }
        let (mut paid, mut refunded) = (0i64, 0i64);
        for (month, a, b) in super::funnel::segments(from, to) {
            for (fam, sum) in [("pd", &mut paid), ("rd", &mut refunded)] {
                let (start, end) = if month {
                    let k = format!("{fam}m/{officer}/{a}");
                    let e = format!("{k}\u{0}");
                    (k, e)
                } else {
                    (
                        format!("{fam}/{officer}/{a}"),
                        format!("{fam}/{officer}/{b}\u{0}"),
                    )
                };
                self.totals_in(&start, &end, |_, n| *sum += n)?;
            }
        }
        Ok((paid, refunded))
    }

    /// `officer`'s fees outstanding now, per disbursement day (oldest first), from the rollups.
    /// Empty when the caller does not see the officer.
    pub fn outstanding_by_day(&self, officer: &str) -> Result<Vec<(chrono::NaiveDate, i64)>> {
        let mut out = Vec::new();
        if !self.sees_officer(officer) {
            return Ok(out);
        }
        let head = format!("due/{officer}/");
        let end = format!("due/{officer}0");
        let mut bad = None;
        self.totals_in(&head, &end, |k, n| {
            match k
                .get(head.len()..)
                .unwrap_or_default()
                .parse::<chrono::NaiveDate>()
            {
                Ok(d) => out.push((d, n)),
                Err(_) => bad = Some(k.to_string()),
            }
        })?;
        if let Some(k) = bad {
            return Err(super::Error::Corrupt {
                table: "fee_totals",
                message: format!("{k}: not a day"),
            });
        }
        Ok(out)
    }

    /// A user's commission lines of a month, when the caller sees the user.
    pub fn statement(&self, user: &str, month: &str) -> Result<Option<Vec<CommissionLine>>> {
        if self.sees.users().is_some_and(|s| !s.contains(user)) {
            return Ok(None);
        }
        let prefix = format!("{month}/{user}/");
        Ok(Some(match &self.tx {
            Tx::Read(tx) => lines_in(*tx, &prefix)?,
            Tx::Write(tx) => lines_in(*tx, &prefix)?,
        }))
    }
}

/// Keys and totals that differ from a recount of the accounts and lines (`zhudai doctor`):
/// each as text, empty when everything matches. (`dis/…` is not recounted: deals disbursed
/// before schema 25 get their account later and were never counted there.)
pub fn drift(tx: &redb::ReadTransaction) -> Result<Vec<String>> {
    use std::collections::BTreeMap;
    let mut want_keys: BTreeMap<String, String> = BTreeMap::new();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    for row in tx.open_table(tables::FEE_ACCOUNTS)?.iter()? {
        let (_, v) = row?;
        let a: FeeAccount = codec::decode("fee_accounts", v.value())?;
        for k in account_keys(&a) {
            want_keys.insert(k, a.deal_id.clone());
        }
        for (k, n) in rollups(&a) {
            *want.entry(k).or_default() += n;
        }
        for p in &a.payments {
            let m = crate::domain::fee::month_of(p.paid_on);
            *want.entry(format!("vol/{m}/{}", a.officer_id)).or_default() += p.amount_fen;
            *want.entry(format!("in/{m}")).or_default() += p.amount_fen;
        }
        for r in &a.refunds {
            let m = crate::domain::fee::month_of(r.refunded_on);
            *want.entry(format!("vol/{m}/{}", a.officer_id)).or_default() -= r.amount_fen;
            *want.entry(format!("out/{m}")).or_default() += r.amount_fen;
        }
        listed.extend(a.lines.iter().cloned());
    }
    let mut out = Vec::new();
    for row in tx.open_table(tables::COMMISSION_LINES)?.iter()? {
        let (k, v) = row?;
        let l: CommissionLine = codec::decode("commission_lines", v.value())?;
        *want
            .entry(format!("com/{}/{}", l.month, l.user_id))
            .or_default() += l.amount_fen;
        if !listed.remove(k.value()) {
            out.push(format!("commission line {}: in no account", k.value()));
        }
    }
    for k in listed {
        out.push(format!(
            "commission line {k}: listed in an account, missing"
        ));
    }
    let mut stored_keys = BTreeMap::new();
    for row in tx.open_table(tables::FEE_KEYS)?.iter()? {
        let (k, v) = row?;
        stored_keys.insert(k.value().to_string(), v.value().to_string());
    }
    for (k, v) in &want_keys {
        if stored_keys.remove(k).as_ref() != Some(v) {
            out.push(format!("fee key {k}: missing or wrong"));
        }
    }
    for k in stored_keys.keys() {
        out.push(format!("fee key {k}: no such account"));
    }
    let mut stored = BTreeMap::new();
    for row in tx.open_table(tables::FEE_TOTALS)?.iter()? {
        let (k, v) = row?;
        if !k.value().starts_with("dis/") {
            stored.insert(k.value().to_string(), v.value());
        }
    }
    for (k, n) in want.into_iter().filter(|(_, n)| *n != 0) {
        let got = stored.remove(&k).unwrap_or(0);
        if got != n {
            out.push(format!("fee total {k}: {got} ≠ {n}"));
        }
    }
    for (k, n) in stored {
        out.push(format!("fee total {k}: {n} ≠ 0"));
    }
    Ok(out)
}

/// Overwrites a stored commission line's bytes (tests of the frozen hash only).
#[doc(hidden)]
pub fn tamper_line_for_tests(tx: &WriteTransaction, key: &str, bytes: &[u8]) -> Result<()> {
    tx.open_table(tables::COMMISSION_LINES)?
        .insert(key, bytes)?;
    Ok(())
}

/// A target's key: `<month>/u/<user>` or `<month>/d/<department>`.
pub fn target_key(month: &str, department: bool, id: &str) -> String {
    format!("{month}/{}/{id}", if department { "d" } else { "u" })
}

pub fn put_target(
    tx: &WriteTransaction,
    key: &str,
    t: &crate::domain::target::Target,
) -> Result<()> {
    tx.open_table(tables::TARGETS)?
        .insert(key, codec::encode(t)?.as_slice())?;
    Ok(())
}

/// Every target of a month (one row per user and department that has one).
pub fn targets<'t>(
    tx: impl Into<Tx<'t>>,
    month: &str,
) -> Result<Vec<(String, crate::domain::target::Target)>> {
    fn read(
        t: &impl ReadableTable<&'static str, &'static [u8]>,
        month: &str,
    ) -> Result<Vec<(String, crate::domain::target::Target)>> {
        let prefix = format!("{month}/");
        let end = format!("{month}0");
        let mut out = Vec::new();
        for row in t.range(prefix.as_str()..end.as_str())? {
            let (k, v) = row?;
            out.push((k.value().to_string(), codec::decode("targets", v.value())?));
        }
        Ok(out)
    }
    match tx.into() {
        Tx::Read(tx) => read(&tx.open_table(tables::TARGETS)?, month),
        Tx::Write(tx) => read(&tx.open_table(tables::TARGETS)?, month),
    }
}
