//! Per-owner load counters (schema 10): how many live customers each user owns, how many of
//! them are not won, open leads (线索 / 已联系), locked, and per city. Automatic assignment and
//! claims read them instead of every customer an owner has. Since schema 11 also how many
//! customers wait in each pool, for the pool list and pages. Written only by [`shift`], which
//! `rule_fields::sync` (so every `customers::put`) calls with the stored previous view, so they
//! cannot drift from the records; `zhudai doctor` recounts them ([`drift`]). Since schema 13
//! also the size of the recycle bin (in `counters`, moved by `customers::put` with the bin's
//! key), so its page has a total without reading the bin.

use std::collections::BTreeMap;

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::{Result, tables};
use crate::domain::customer::{RuleFields, Stage};

const LIVE: &str = "live";
const NOT_WON: &str = "not_won";
const OPEN_LEADS: &str = "open_leads";
const LOCKED: &str = "locked";
const CITY: &str = "city/";

/// One owner's counters; zero when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loads {
    /// Live (not deleted) customers owned.
    pub live: u64,
    /// … of which not won.
    pub not_won: u64,
    /// … at 线索 or 已联系.
    pub open_leads: u64,
    /// … locked against recall.
    pub locked: u64,
    /// … per city (cities with none are absent).
    pub cities: BTreeMap<String, u64>,
}

/// Whether a customer at `stage` counts as an open lead.
pub fn is_open_lead(stage: Stage) -> bool {
    matches!(stage, Stage::Lead | Stage::Contacted)
}

/// The key under which a pool's waiting customers are counted (as `live`): user ids are
/// ULIDs, so a `pool:` key never meets an owner's.
fn pool_key(pool_id: &str) -> String {
    format!("pool:{pool_id}")
}

/// The counters a customer adds: to its owner's, or, waiting in a pool, to the pool's (`live`
/// only). `None` for deleted customers and those in nobody's hands and no pool.
fn counted(r: &RuleFields) -> Option<(String, Vec<String>)> {
    if r.deleted_at.is_some() {
        return None;
    }
    let owner = match (&r.owner_id, &r.pool_id) {
        (Some(o), _) => o.clone(),
        (None, Some(p)) => return Some((pool_key(p), vec![LIVE.to_string()])),
        (None, None) => return None,
    };
    let mut what = vec![LIVE.to_string()];
    if r.stage != Stage::Won {
        what.push(NOT_WON.into());
    }
    if is_open_lead(r.stage) {
        what.push(OPEN_LEADS.into());
    }
    if r.locked {
        what.push(LOCKED.into());
    }
    if let Some(c) = &r.city {
        what.push(format!("{CITY}{c}"));
    }
    Some((owner, what))
}

fn add(
    table: &mut Table<(&'static str, &'static str), u64>,
    owner: &str,
    what: &str,
    up: bool,
) -> Result<()> {
    let n = table.get((owner, what))?.map_or(0, |v| v.value());
    let n = if up { n + 1 } else { n.saturating_sub(1) };
    if n == 0 {
        table.remove((owner, what))?;
    } else {
        table.insert((owner, what), n)?;
    }
    Ok(())
}

/// Moves one customer's contribution from `old` (its previous stored view, `None` for a new
/// customer) to `new`.
pub(super) fn shift(
    tx: &WriteTransaction,
    old: Option<&RuleFields>,
    new: &RuleFields,
) -> Result<()> {
    let before = old.and_then(counted);
    let after = counted(new);
    if before == after {
        return Ok(());
    }
    let mut table = tx.open_table(tables::OWNER_LOADS)?;
    if let Some((owner, what)) = before {
        for w in &what {
            add(&mut table, &owner, w, false)?;
        }
    }
    if let Some((owner, what)) = after {
        for w in &what {
            add(&mut table, &owner, w, true)?;
        }
    }
    Ok(())
}

/// [`shift`] for many customers in one pass (a recall sweep's batch): every counter touched is
/// read once, moved in memory by the same steps in the same order as one [`shift`] after the
/// other, and written once (removed at zero), so the table ends up exactly as it would. The
/// steps name their counters by borrowed parts of the views ([`counted_ref`]); a counter's
/// text key is built once, when it is first met.
pub(super) fn shift_many(
    tx: &WriteTransaction,
    moves: &[(Option<RuleFields>, RuleFields)],
) -> Result<()> {
    let mut table = tx.open_table(tables::OWNER_LOADS)?;
    // Each counter met: its text key and its value so far; `index` finds it by its borrowed
    // name, `by_text` by its text (two names never share a counter by accident).
    let mut counters: Vec<((String, String), u64)> = Vec::new();
    let mut index: std::collections::HashMap<(Holder<'_>, Slot<'_>), usize> =
        std::collections::HashMap::new();
    let mut by_text: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (old, new) in moves {
        let before = old.as_ref().and_then(counted_ref);
        let after = counted_ref(new);
        if same_counted(before.as_ref(), after.as_ref()) {
            continue;
        }
        let steps = before
            .iter()
            .flat_map(|(o, what)| what.iter().flatten().map(move |w| (*o, *w, false)))
            .chain(
                after
                    .iter()
                    .flat_map(|(o, what)| what.iter().flatten().map(move |w| (*o, *w, true))),
            );
        for (holder, slot, up) in steps {
            let k = match index.get(&(holder, slot)) {
                Some(k) => *k,
                None => {
                    let text = (holder.key(), slot.key());
                    let k = match by_text.get(&text) {
                        Some(k) => *k,
                        None => {
                            let n = table
                                .get((text.0.as_str(), text.1.as_str()))?
                                .map_or(0, |v| v.value());
                            counters.push((text.clone(), n));
                            by_text.insert(text, counters.len() - 1);
                            counters.len() - 1
                        }
                    };
                    index.insert((holder, slot), k);
                    k
                }
            };
            if let Some((_, n)) = counters.get_mut(k) {
                *n = if up { *n + 1 } else { n.saturating_sub(1) };
            }
        }
    }
    counters.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for ((owner, what), n) in &counters {
        if *n == 0 {
            table.remove((owner.as_str(), what.as_str()))?;
        } else {
            table.insert((owner.as_str(), what.as_str()), *n)?;
        }
    }
    Ok(())
}

/// Whose counters a customer adds to, borrowed from its view: [`counted`]'s first part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder<'a> {
    Owner(&'a str),
    Pool(&'a str),
}

impl Holder<'_> {
    fn key(self) -> String {
        match self {
            Holder::Owner(o) => o.to_string(),
            Holder::Pool(p) => pool_key(p),
        }
    }
}

/// One counter of a holder, borrowed from the view: an item of [`counted`]'s second part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot<'a> {
    Live,
    NotWon,
    OpenLeads,
    Locked,
    City(&'a str),
}

impl Slot<'_> {
    fn key(self) -> String {
        match self {
            Slot::Live => LIVE.to_string(),
            Slot::NotWon => NOT_WON.to_string(),
            Slot::OpenLeads => OPEN_LEADS.to_string(),
            Slot::Locked => LOCKED.to_string(),
            Slot::City(c) => format!("{CITY}{c}"),
        }
    }
}

type CountedRef<'a> = (Holder<'a>, [Option<Slot<'a>>; 5]);

/// Whether two [`counted_ref`] name the same counters, as their texts do ([`counted`]'s `==`):
/// an owner named like a pool's key (`pool:<id>`, which no user id is) included.
fn same_counted(a: Option<&CountedRef<'_>>, b: Option<&CountedRef<'_>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x == y || (x.1 == y.1 && x.0.key() == y.0.key()),
        _ => false,
    }
}

/// [`counted`] without building any text: the same holder and counters, in the same order.
fn counted_ref(r: &RuleFields) -> Option<CountedRef<'_>> {
    if r.deleted_at.is_some() {
        return None;
    }
    let owner = match (&r.owner_id, &r.pool_id) {
        (Some(o), _) => o.as_str(),
        (None, Some(p)) => {
            return Some((Holder::Pool(p), [Some(Slot::Live), None, None, None, None]));
        }
        (None, None) => return None,
    };
    Some((
        Holder::Owner(owner),
        [
            Some(Slot::Live),
            (r.stage != Stage::Won).then_some(Slot::NotWon),
            is_open_lead(r.stage).then_some(Slot::OpenLeads),
            r.locked.then_some(Slot::Locked),
            r.city.as_deref().map(Slot::City),
        ],
    ))
}

fn read(
    table: &impl ReadableTable<(&'static str, &'static str), u64>,
    owner: &str,
) -> Result<Loads> {
    let mut out = Loads::default();
    for row in table.range((owner, "")..)? {
        let (k, v) = row?;
        let (o, what) = k.value();
        if o != owner {
            break;
        }
        let n = v.value();
        match what {
            LIVE => out.live = n,
            NOT_WON => out.not_won = n,
            OPEN_LEADS => out.open_leads = n,
            LOCKED => out.locked = n,
            w => {
                if let Some(city) = w.strip_prefix(CITY) {
                    out.cities.insert(city.to_string(), n);
                }
            }
        }
    }
    Ok(out)
}

/// `owner`'s counters.
pub fn of(tx: &ReadTransaction, owner: &str) -> Result<Loads> {
    read(&tx.open_table(tables::OWNER_LOADS)?, owner)
}

/// How many live customers wait in a pool: kept by every customer write, read by the pool
/// list and the pool page instead of the records.
pub fn pool_waiting(tx: &ReadTransaction, pool_id: &str) -> Result<u64> {
    let t = tx.open_table(tables::OWNER_LOADS)?;
    Ok(t.get((pool_key(pool_id).as_str(), LIVE))?
        .map_or(0, |v| v.value()))
}

/// [`pool_waiting`] in a write transaction.
pub fn pool_waiting_w(tx: &WriteTransaction, pool_id: &str) -> Result<u64> {
    let t = tx.open_table(tables::OWNER_LOADS)?;
    Ok(t.get((pool_key(pool_id).as_str(), LIVE))?
        .map_or(0, |v| v.value()))
}

/// `owner`'s counters, in a write transaction.
pub fn of_w(tx: &WriteTransaction, owner: &str) -> Result<Loads> {
    read(&tx.open_table(tables::OWNER_LOADS)?, owner)
}

/// The recycle bin's size: customers deleted and not anonymised, i.e. its `b` keys in
/// `customer_keys_bin`.
const BIN: &str = "customers/recycle_bin";

/// How many customers are in the recycle bin (kept by every customer write).
pub fn bin_size(tx: &ReadTransaction) -> Result<u64> {
    Ok(tx
        .open_table(tables::COUNTERS)?
        .get(BIN)?
        .map_or(0, |v| v.value()))
}

/// One customer into (`up`) or out of the recycle bin; `customers::put` calls it when the
/// record gains or loses its bin key.
pub(super) fn shift_bin(tx: &WriteTransaction, up: bool) -> Result<()> {
    let mut t = tx.open_table(tables::COUNTERS)?;
    let n = t.get(BIN)?.map_or(0, |v| v.value());
    let n = if up { n + 1 } else { n.saturating_sub(1) };
    t.insert(BIN, n)?;
    Ok(())
}

/// The bin's keys counted (reads the keys, not the records; the kind byte `b`).
fn count_bin_keys(keys: &impl ReadableTable<&'static [u8], ()>) -> Result<u64> {
    let mut n = 0;
    for row in keys.range::<&[u8]>(&b"b"[..]..&b"c"[..])? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// The end of schema 35: the bin's counter set from its binary keys; returns it.
pub(super) fn count_bin(tx: &WriteTransaction) -> Result<u64> {
    let n = count_bin_keys(&tx.open_table(tables::CUSTOMER_KEYS)?)?;
    tx.open_table(tables::COUNTERS)?.insert(BIN, n)?;
    Ok(n)
}

/// Schema 13: the bin's counter set from its text keys (`b:…`, schemas 11 to 34); returns it.
pub(super) fn count_bin_v34(tx: &WriteTransaction) -> Result<u64> {
    let mut n = 0;
    for row in tx
        .open_table(tables::CUSTOMER_KEYS_V34)?
        .range::<&str>("b:".."b;")?
    {
        row?;
        n += 1;
    }
    tx.open_table(tables::COUNTERS)?.insert(BIN, n)?;
    Ok(n)
}

/// Every counter recounted from the customer records.
fn recount(
    customers: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<BTreeMap<(String, String), u64>> {
    let mut out = BTreeMap::new();
    for row in customers.iter()? {
        let (id, v) = row?;
        let fields = super::customer_codec::decode_rule_fields(id.value(), v.value())?;
        if let Some((owner, what)) = counted(&fields) {
            for w in what {
                *out.entry((owner.clone(), w)).or_default() += 1;
            }
        }
    }
    Ok(out)
}

/// Fills the counters from the customer records (the 9 → 10 migration); returns the rows.
pub fn rebuild(tx: &WriteTransaction) -> Result<u64> {
    let counts = recount(&tx.open_table(tables::CUSTOMERS)?)?;
    let mut table = tx.open_table(tables::OWNER_LOADS)?;
    table.retain(|_, _| false)?;
    for ((owner, what), n) in &counts {
        table.insert((owner.as_str(), what.as_str()), *n)?;
    }
    Ok(counts.len() as u64)
}

/// One batch of schema 10's rebuild: adds the owners' counts of the customers after `after` (from the first
/// when `None`), at most `limit` of them, to the table. Returns the last id counted and how
/// many (fewer than `limit`: done).
pub fn rebuild_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let (last, n) = super::customers::rule_fields_batch_w(tx, after, limit, |_, fields| {
        // Owners only: step 11 adds the pools' counters ([`count_pools_batch`]).
        if fields.owner_id.is_some()
            && let Some((owner, what)) = counted(&fields)
        {
            for w in what {
                *counts.entry((owner.clone(), w)).or_default() += 1;
            }
        }
        Ok(())
    })?;
    let mut table = tx.open_table(tables::OWNER_LOADS)?;
    for ((owner, what), k) in &counts {
        let before = table
            .get((owner.as_str(), what.as_str()))?
            .map_or(0, |v| v.value());
        table.insert((owner.as_str(), what.as_str()), before + k)?;
    }
    Ok((last, n))
}

/// Schema 11, one batch: adds the pool counters (`pool:<id>`) of the customers after `after`,
/// at most `limit`; owners' counters are untouched. Returns the last id and how many.
pub fn count_pools_batch(
    tx: &WriteTransaction,
    after: Option<&str>,
    limit: usize,
) -> Result<(Option<String>, usize)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let (last, n) = super::customers::rule_fields_batch_w(tx, after, limit, |_, fields| {
        if fields.owner_id.is_none()
            && let Some((key, _)) = counted(&fields)
        {
            *counts.entry(key).or_default() += 1;
        }
        Ok(())
    })?;
    let mut table = tx.open_table(tables::OWNER_LOADS)?;
    for (key, k) in &counts {
        let before = table.get((key.as_str(), LIVE))?.map_or(0, |v| v.value());
        table.insert((key.as_str(), LIVE), before + k)?;
    }
    Ok((last, n))
}

/// Counters that differ from a recount of the records, as `owner/counter: stored ≠ counted`
/// (empty when they agree), and the recycle bin's counter if it differs from its keys
/// (`recycle_bin: stored ≠ counted`). Reads every customer.
pub fn drift(tx: &ReadTransaction) -> Result<Vec<String>> {
    let mut out = owner_drift(tx)?;
    let (stored, keys) = (
        bin_size(tx)?,
        count_bin_keys(&tx.open_table(tables::CUSTOMER_KEYS)?)?,
    );
    if stored != keys {
        out.push(format!("recycle_bin: {stored} ≠ {keys}"));
    }
    // Each pool's page keys against its waiting counter (itself checked against the records).
    let pages = super::customers::waiting_keys_per_pool(tx)?;
    let counters = tx.open_table(tables::OWNER_LOADS)?;
    let mut pools: std::collections::BTreeSet<String> = pages.keys().cloned().collect();
    for row in counters.iter()? {
        let (k, _) = row?;
        if let Some(pool) = k.value().0.strip_prefix("pool:") {
            pools.insert(pool.to_string());
        }
    }
    for pool in pools {
        let (keys, waiting) = (
            pages.get(&pool).copied().unwrap_or(0),
            pool_waiting(tx, &pool)?,
        );
        if keys != waiting {
            out.push(format!("pool {pool} page keys: {keys} ≠ {waiting} waiting"));
        }
    }
    Ok(out)
}

fn owner_drift(tx: &ReadTransaction) -> Result<Vec<String>> {
    let counted = recount(&tx.open_table(tables::CUSTOMERS)?)?;
    let table = tx.open_table(tables::OWNER_LOADS)?;
    let mut stored = BTreeMap::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let (o, w) = k.value();
        stored.insert((o.to_string(), w.to_string()), v.value());
    }
    let mut out = Vec::new();
    for key in counted.keys().chain(stored.keys()) {
        let (a, b) = (stored.get(key), counted.get(key));
        if a != b {
            out.push(format!(
                "{}/{}: {} ≠ {}",
                key.0,
                key.1,
                a.copied().unwrap_or(0),
                b.copied().unwrap_or(0)
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn view(owner: Option<&str>, pool: Option<&str>) -> RuleFields {
        RuleFields {
            id: "01J0000000000000000000000A".into(),
            name: "张三".into(),
            stage: Stage::Lead,
            grade: None,
            stars: 0,
            city: None,
            channel: None,
            tags: Vec::new(),
            owner_id: owner.map(str::to_string),
            pool_id: pool.map(str::to_string),
            last_followup_at: None,
            next_followup_at: None,
            created_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap(),
            deleted_at: None,
            held_since: None,
            locked: false,
            pool_entered_at: None,
            previous_owner_id: None,
            deal_stage: None,
        }
    }

    /// Every shape of view: owners and pools, each stage, locked or not, with a city or not,
    /// deleted ones, an owner named like a pool's key.
    fn views() -> Vec<RuleFields> {
        let mut out = Vec::new();
        for (owner, pool) in [
            (Some("u1"), None),
            (Some("u1"), Some("p1")),
            (None, Some("p1")),
            (None, None),
            (Some("pool:p1"), None),
            (Some(""), None),
        ] {
            for stage in [
                Stage::Lead,
                Stage::Contacted,
                Stage::Signed,
                Stage::Won,
                Stage::Lost,
            ] {
                for locked in [false, true] {
                    for city in [None, Some("成都"), Some("")] {
                        for deleted in [false, true] {
                            let mut r = view(owner, pool);
                            r.stage = stage;
                            r.locked = locked;
                            r.city = city.map(str::to_string);
                            if deleted {
                                r.deleted_at = Some(r.created_at);
                            }
                            out.push(r);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_borrowed_counters_are_the_text_ones() {
        let all = views();
        for r in &all {
            let text = counted_ref(r).map(|(h, slots)| {
                (
                    h.key(),
                    slots.iter().flatten().map(|s| s.key()).collect::<Vec<_>>(),
                )
            });
            assert_eq!(text, counted(r), "{r:?}");
        }
        for a in &all {
            for b in all.iter().step_by(7) {
                assert_eq!(
                    same_counted(counted_ref(a).as_ref(), counted_ref(b).as_ref()),
                    counted(a) == counted(b),
                    "{a:?} / {b:?}"
                );
            }
        }
    }

    #[test]
    fn many_moves_end_where_one_shift_after_the_other_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("a.redb")).unwrap();
        let all = views();
        // A chain of moves through every shape, starting from nothing, twice over so that
        // counters come back down to zero (and are removed) and up again.
        let mut moves = Vec::new();
        let mut prev: Option<RuleFields> = None;
        for r in all
            .iter()
            .chain(all.iter().rev())
            .chain(all.iter().step_by(3))
        {
            moves.push((prev.clone(), r.clone()));
            prev = Some(r.clone());
        }
        let dump = |store: &crate::store::Store| {
            store
                .read(|tx| {
                    let t = tx.open_table(tables::OWNER_LOADS)?;
                    let mut out = Vec::new();
                    for row in t.iter()? {
                        let (k, v) = row?;
                        let (o, w) = k.value();
                        out.push((o.to_string(), w.to_string(), v.value()));
                    }
                    Ok::<_, crate::store::Error>(out)
                })
                .unwrap()
        };
        // Counters that start above zero too: one shift of every view first.
        let seed: Vec<(Option<RuleFields>, RuleFields)> =
            all.iter().map(|r| (None, r.clone())).collect();
        store
            .write(|tx| {
                for (old, new) in &seed {
                    shift(tx, old.as_ref(), new)?;
                }
                Ok::<_, crate::store::Error>(())
            })
            .unwrap();
        let other = crate::store::Store::open(&dir.path().join("b.redb")).unwrap();
        other.write(|tx| shift_many(tx, &seed)).unwrap();
        assert_eq!(dump(&store), dump(&other));
        for chunk in moves.chunks(37) {
            store
                .write(|tx| {
                    for (old, new) in chunk {
                        shift(tx, old.as_ref(), new)?;
                    }
                    Ok::<_, crate::store::Error>(())
                })
                .unwrap();
            other.write(|tx| shift_many(tx, chunk)).unwrap();
            assert_eq!(dump(&store), dump(&other));
        }
    }
}
