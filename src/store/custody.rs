//! Document custody (权证): each deal's checklist under the deal id, and keys of the documents
//! the firm holds, written by [`put`] in the caller's transaction, so the 权证 page and the
//! overdue list read keys, never the whole table.
//!
//! Keys (`document_keys`, key → `<officer>\t<assistant>` of the deal, for the scope check
//! without reading the deal): `h:<status>/<deal>/<item>` for received and lent-out items,
//! `out:<lent out at, Unix seconds, 12 digits>/<deal>/<item>` for lent-out items (oldest first:
//! the overdue list is a range read up to the cut-off). When a deal's officer or assistant
//! changes, `store::deals::put` rewrites its keys ([`people_changed`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};

use super::customers::Tx;
use super::{Result, codec, tables};
use crate::domain::custody::{Checklist, DocStatus};
use crate::domain::deal::Deal;

fn people(d: &Deal) -> String {
    format!(
        "{}\t{}",
        d.officer_id,
        d.assistant_id.as_deref().unwrap_or("")
    )
}

fn keys(c: &Checklist) -> Vec<String> {
    let mut out = Vec::new();
    for i in &c.items {
        if i.status.held() {
            out.push(format!("h:{}/{}/{}", i.status.key(), c.deal_id, i.id));
        }
        if let (DocStatus::LentOut, Some(at)) = (i.status, i.out_at) {
            out.push(out_key(at.timestamp(), &c.deal_id, &i.id));
        }
    }
    out
}

fn out_key(secs: i64, deal: &str, item: &str) -> String {
    format!("out:{:012}/{deal}/{item}", secs.max(0))
}

/// A deal's checklist, if it has been written. Callers read the deal through its scoped
/// reader first: the checklist has no scope of its own.
pub fn get<'t>(tx: impl Into<Tx<'t>>, deal_id: &str) -> Result<Option<Checklist>> {
    let v = match tx.into() {
        Tx::Read(tx) => tx
            .open_table(tables::DEAL_DOCUMENTS)?
            .get(deal_id)?
            .map(|v| v.value().to_vec()),
        Tx::Write(tx) => tx
            .open_table(tables::DEAL_DOCUMENTS)?
            .get(deal_id)?
            .map(|v| v.value().to_vec()),
    };
    v.map(|b| codec::decode("deal_documents", &b)).transpose()
}

/// Writes a checklist with its keys (`before`: as it was, if written before).
pub fn put(
    tx: &WriteTransaction,
    before: Option<&Checklist>,
    c: &Checklist,
    deal: &Deal,
) -> Result<()> {
    tx.open_table(tables::DEAL_DOCUMENTS)?
        .insert(c.deal_id.as_str(), codec::encode(c)?.as_slice())?;
    let mut k = tx.open_table(tables::DOCUMENT_KEYS)?;
    if let Some(b) = before {
        for key in keys(b) {
            k.remove(key.as_str())?;
        }
    }
    let who = people(deal);
    for key in keys(c) {
        k.insert(key.as_str(), who.as_str())?;
    }
    Ok(())
}

/// Rewrites a checklist whose deal the caller has not read (erasure works on every deal of
/// the erased customer, whoever's): the deal's people come from its record here, in `store`.
pub fn rewrite(tx: &WriteTransaction, before: &Checklist, c: &Checklist) -> Result<()> {
    let deal = tx
        .open_table(tables::DEALS)?
        .get(c.deal_id.as_str())?
        .map(|v| codec::decode::<Deal>("deals", v.value()))
        .transpose()?
        .ok_or(super::Error::NotFound)?;
    put(tx, Some(before), c, &deal)
}

/// The deal's people changed: its document keys carry the new ones.
pub fn people_changed(tx: &WriteTransaction, deal: &Deal) -> Result<()> {
    let Some(c) = get(tx, &deal.id)? else {
        return Ok(());
    };
    let mut k = tx.open_table(tables::DOCUMENT_KEYS)?;
    let who = people(deal);
    for key in keys(&c) {
        k.insert(key.as_str(), who.as_str())?;
    }
    Ok(())
}

/// Whom a custody list is for: `None` every deal, else the users whose deals (as officer or
/// assistant) the caller sees.
pub type Users<'a> = Option<&'a BTreeSet<String>>;

fn visible(users: Users<'_>, who: &str) -> bool {
    match users {
        None => true,
        Some(set) => who.split('\t').any(|u| !u.is_empty() && set.contains(u)),
    }
}

/// One held document found by its key: (deal id, item id).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub key: String,
    pub deal_id: String,
    pub item_id: String,
}

/// A page of held documents: `status` one held status or both; `out_before`: only items lent
/// out before it (the overdue list, oldest first); otherwise by status, newest deal first.
/// Reads keys only (and counts the caller's matching keys for `total`).
pub fn held_page(
    tx: &redb::ReadTransaction,
    status: Option<DocStatus>,
    out_before: Option<DateTime<Utc>>,
    users: Users<'_>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<Held>, Option<String>, u64)> {
    let keys = tx.open_table(tables::DOCUMENT_KEYS)?;
    let mut matched: Vec<Held> = Vec::new();
    let mut total = 0u64;
    let mut take = |k: &str, who: &str, matched: &mut Vec<Held>| {
        if !visible(users, who) {
            return;
        }
        total += 1;
        let mut parts = k.rsplitn(3, '/');
        let (Some(item), Some(deal)) = (parts.next(), parts.next()) else {
            return;
        };
        matched.push(Held {
            key: k.to_string(),
            deal_id: deal.to_string(),
            item_id: item.to_string(),
        });
    };
    if let Some(before) = out_before {
        let end = format!("out:{:012}", before.timestamp().max(0));
        for row in keys.range("out:"..end.as_str())? {
            let (k, v) = row?;
            take(k.value(), v.value(), &mut matched);
        }
        if let Some(s) = status
            && s != DocStatus::LentOut
        {
            matched.clear();
            total = 0;
        }
        // Oldest out first: the cursor is the last key shown.
        let start = matched
            .iter()
            .position(|h| cursor.is_none_or(|c| h.key.as_str() > c))
            .unwrap_or(matched.len());
        let page: Vec<Held> = matched.drain(start..).take(limit + 1).collect();
        return Ok(paged(page, limit, total));
    }
    let statuses: Vec<DocStatus> = match status {
        Some(s) if s.held() => vec![s],
        Some(_) => vec![],
        None => vec![DocStatus::Received, DocStatus::LentOut],
    };
    for s in statuses {
        let prefix = format!("h:{}/", s.key());
        let end = format!("h:{}0", s.key());
        for row in keys.range(prefix.as_str()..end.as_str())? {
            let (k, v) = row?;
            take(k.value(), v.value(), &mut matched);
        }
    }
    // Newest deal first (deal ids are ULIDs); the cursor is `<deal>/<item>` of the last shown.
    matched.sort_by(|a, b| {
        (b.deal_id.as_str(), b.item_id.as_str()).cmp(&(a.deal_id.as_str(), a.item_id.as_str()))
    });
    let start = matched
        .iter()
        .position(|h| cursor.is_none_or(|c| format!("{}/{}", h.deal_id, h.item_id).as_str() < c))
        .unwrap_or(matched.len());
    let page: Vec<Held> = matched.drain(start..).take(limit + 1).collect();
    let (mut items, next, total) = paged(page, limit, total);
    let next = next.and(items.last().map(|h| format!("{}/{}", h.deal_id, h.item_id)));
    items.truncate(limit);
    Ok((items, next, total))
}

fn paged(mut page: Vec<Held>, limit: usize, total: u64) -> (Vec<Held>, Option<String>, u64) {
    let more = page.len() > limit;
    page.truncate(limit);
    let next = more.then(|| page.last().map(|h| h.key.clone())).flatten();
    (page, next, total)
}

/// Every checklist of the customer's deals, with its deal id (erasure).
pub fn of_customer(tx: &WriteTransaction, customer_id: &str) -> Result<Vec<Checklist>> {
    let keys = tx.open_table(tables::DEAL_KEYS)?;
    let prefix = format!("c:{customer_id}/");
    let end = format!("c:{customer_id}0");
    let mut ids = Vec::new();
    for row in keys.range(prefix.as_str()..end.as_str())? {
        let (k, _) = row?;
        if let Some(id) = k.value().strip_prefix(prefix.as_str()) {
            ids.push(id.to_string());
        }
    }
    drop(keys);
    let mut out = Vec::new();
    for id in ids {
        if let Some(c) = get(tx, &id)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Keys that differ from a recount of the checklists (`zhudai doctor`).
pub fn drift(tx: &redb::ReadTransaction) -> Result<Vec<String>> {
    let mut want = BTreeSet::new();
    for row in tx.open_table(tables::DEAL_DOCUMENTS)?.iter()? {
        let (_, v) = row?;
        let c: Checklist = codec::decode("deal_documents", v.value())?;
        want.extend(keys(&c));
    }
    let mut out = Vec::new();
    let mut stored = BTreeSet::new();
    for row in tx.open_table(tables::DOCUMENT_KEYS)?.iter()? {
        let (k, _) = row?;
        stored.insert(k.value().to_string());
    }
    for k in want.difference(&stored) {
        out.push(format!("document key {k}: missing"));
    }
    for k in stored.difference(&want) {
        out.push(format!("document key {k}: no such document"));
    }
    Ok(out)
}
