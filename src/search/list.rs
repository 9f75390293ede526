//! The customer list served from the index: the filters become required clauses, every match
//! is counted, and matches are looked at only by their sort key and id (read from fast fields,
//! never from the store); each segment keeps just the best `limit + 1` after the cursor's
//! (key, id) (the cursor's key is read first from its own document), so a request's memory does
//! not grow with the number of matches. Ordering is (key, id) ascending, or the exact reverse for
//! the descending orders, like the list's reference implementation in `service::customers::list`.
//!
//! With many matches only those inside a bound are looked at ([`bounded`]): a sample of sort
//! keys places it where a few pages of matches are expected, and the documents inside are read
//! from the id terms or the key's column, not by walking every match.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::{Bound, RangeInclusive};
use std::sync::Arc;

use tantivy::collector::{Collector, Count, DocSetCollector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, StrColumn, TermOrdHit};
use tantivy::query::{AllQuery, BooleanQuery, EnableScoring, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocId, DocSet, InvertedIndexReader, Score, Searcher, SegmentOrdinal, SegmentReader, TERMINATED,
    Term,
};

use super::facets::{Columns, Counts};
use super::fields::{self, Fields};
use super::query::{Restrict, restrict_query};

/// What the list sorts by (ties always by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    /// The id: ULIDs are creation-ordered.
    Id,
    Updated,
    /// Soonest first, none last.
    NextFollowup,
    Name,
}

/// The list's filters in index terms (the service translates days and "today").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilters {
    pub stage: Option<String>,
    pub grade: Option<String>,
    /// Any of these.
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub channel: Option<String>,
    pub city: Option<String>,
    /// `created_at` in `[from, before)`, Unix seconds.
    pub created_from: Option<i64>,
    pub created_before: Option<i64>,
    /// `next_followup_at` in `[from, before)`, Unix microseconds.
    pub next_from: Option<i64>,
    pub next_before: Option<i64>,
    /// Only customers without a next follow-up.
    pub no_next: bool,
    pub flagged: Option<bool>,
    /// Owned by this user.
    pub owned_by: Option<String>,
    /// Owned by someone other than this user.
    pub owned_by_other_than: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListRequest {
    pub restrict: Restrict,
    pub filters: ListFilters,
    pub sort: ListSort,
    pub descending: bool,
    /// The id of the last customer of the previous page.
    pub cursor: Option<String>,
    /// In id order, page on after the cursor even when its customer no longer matches (a
    /// pool page whose last customer was claimed meanwhile); otherwise that is `CursorGone`.
    pub cursor_may_leave: bool,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    Page {
        ids: Vec<String>,
        total: usize,
        /// Whether matches follow this page.
        more: bool,
    },
    /// The cursor is not among the matches (any more).
    CursorGone,
    /// Some document's id is not a ULID: the index cannot order this list.
    Unordered,
}

fn exact(f: &Fields, prefix: &str, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(f.exact, &fields::exact_term(prefix, value)),
        IndexRecordOption::Basic,
    ))
}

fn raw_term(f: &Fields, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(f.exact, text),
        IndexRecordOption::Basic,
    ))
}

fn i64_range(field: Field, from: Option<i64>, before: Option<i64>) -> Option<Box<dyn Query>> {
    if from.is_none() && before.is_none() {
        return None;
    }
    let lower = from.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_i64(field, v))
    });
    let upper = before.map_or(Bound::Unbounded, |v| {
        Bound::Excluded(Term::from_field_i64(field, v))
    });
    Some(Box::new(RangeQuery::new(lower, upper)))
}

/// The scope and filters as one query (no scoring is needed: the order is the sort key's).
pub fn list_query(f: &Fields, req: &ListRequest) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
    if let Some(r) = restrict_query(f, &req.restrict) {
        clauses.push((Occur::Must, r));
    }
    let flt = &req.filters;
    let singles = [
        ("s", &flt.stage),
        ("g", &flt.grade),
        ("o", &flt.owner),
        ("c", &flt.channel),
        ("y", &flt.city),
        ("o", &flt.owned_by),
    ];
    for (prefix, value) in singles {
        if let Some(v) = value {
            clauses.push((Occur::Must, exact(f, prefix, v)));
        }
    }
    if !flt.tags.is_empty() {
        let any = flt
            .tags
            .iter()
            .map(|t| (Occur::Should, exact(f, "t", t)))
            .collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    if let Some(me) = &flt.owned_by_other_than {
        clauses.push((Occur::Must, raw_term(f, fields::HAS_OWNER)));
        clauses.push((Occur::MustNot, exact(f, "o", me)));
    }
    if let Some(flag) = flt.flagged {
        clauses.push((Occur::Must, exact(f, "f", if flag { "1" } else { "0" })));
    }
    if let Some(q) = i64_range(f.created, flt.created_from, flt.created_before) {
        clauses.push((Occur::Must, q));
    }
    if let Some(q) = i64_range(f.next_fu, flt.next_from, flt.next_before) {
        clauses.push((Occur::Must, q));
    }
    if flt.no_next {
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.next_fu, fields::NO_NEXT_FOLLOWUP)),
                Bound::Unbounded,
            )),
        ));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// An order-preserving map of i64 onto u64.
fn flip(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// The inverse of [`flip`].
fn unflip(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

/// List order of two (key, id) items: ascending, or exactly reversed.
fn order<K: Ord>(descending: bool, a: &(K, u128), b: &(K, u128)) -> Ordering {
    if descending { b.cmp(a) } else { a.cmp(b) }
}

/// The first `n` items in list order among those pushed, with memory bounded by `n`: items are
/// buffered and the buffer is cut back to the best `n` (`select_nth`) whenever it fills; after
/// a cut, anything not before the `n`-th best so far is dropped on arrival.
struct Best<K> {
    n: usize,
    descending: bool,
    buf: Vec<(K, u128)>,
    /// The `n`-th best item so far (known after the first cut).
    worst: Option<(K, u128)>,
}

impl<K: Ord + Clone> Best<K> {
    fn new(n: usize, descending: bool) -> Self {
        Best {
            n: n.max(1),
            descending,
            buf: Vec::new(),
            worst: None,
        }
    }

    /// Whether an item with this key could be kept (a tie with the worst needs the id).
    fn may_take(&self, key: &K) -> bool {
        match &self.worst {
            None => true,
            Some((w, _)) => {
                if self.descending {
                    key >= w
                } else {
                    key <= w
                }
            }
        }
    }

    fn push(&mut self, item: (K, u128)) {
        if let Some(w) = &self.worst
            && order(self.descending, &item, w) != Ordering::Less
        {
            return;
        }
        self.buf.push(item);
        if self.buf.len() >= (2 * self.n).max(self.n + 256) {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.buf.len() > self.n {
            let descending = self.descending;
            self.buf
                .select_nth_unstable_by(self.n - 1, |a, b| order(descending, a, b));
            self.buf.truncate(self.n);
            self.worst = self.buf.last().cloned();
        }
    }

    /// The kept items in list order.
    fn into_sorted(mut self) -> Vec<(K, u128)> {
        self.cut();
        let descending = self.descending;
        self.buf.sort_unstable_by(|a, b| order(descending, a, b));
        self.buf
    }
}

/// The sort key of the cursor's customer.
#[derive(Debug, Clone)]
enum CursorKey {
    Num(u64),
    Name(Vec<u8>),
}

/// The best candidates of one segment (or of all, once merged): at most `limit + 1` after the
/// cursor, in list order, and the number of matches.
enum Keys {
    Num(Vec<(u64, u128)>),
    Name(Vec<(Vec<u8>, u128)>),
}

struct Fruit {
    total: usize,
    keys: Keys,
}

struct KeyCollector {
    sort: ListSort,
    descending: bool,
    /// How many to keep: the page and one more (whether more follow).
    keep: usize,
    cursor: Option<(CursorKey, u128)>,
}

enum Primary {
    Zero,
    I64(Column<i64>),
    Name {
        col: Option<StrColumn>,
        /// The key of a document without a name: that of the empty name if this segment has
        /// it (ordinal 0), else below every name.
        missing: u128,
    },
}

/// One segment's matches. Keys are compared within the segment as numbers: the flipped value
/// for the time orders, and for the name order `2 × (term ordinal + 1)` (the dictionary is
/// sorted, so ordinals order like the names); a cursor name absent from this segment falls on
/// the odd number between its neighbours. Only the kept candidates' names are read at the end.
struct SegmentKeys {
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    primary: Primary,
    cursor: Option<(u128, u128)>,
    best: Best<u128>,
    total: usize,
    /// A match without a ULID id was seen.
    unordered: bool,
}

/// Where `name` falls among a segment's name keys (see [`SegmentKeys`]).
fn name_position(col: Option<&StrColumn>, missing: u128, name: &[u8]) -> tantivy::Result<u128> {
    if name.is_empty() {
        return Ok(missing);
    }
    let Some(col) = col else {
        return Ok(1);
    };
    Ok(match col.dictionary().term_ord_or_next(name)? {
        TermOrdHit::Exact(o) => 2 * (u128::from(o) + 1),
        TermOrdHit::Next(o) => 2 * u128::from(o) + 1,
    })
}

impl Collector for KeyCollector {
    type Fruit = Option<Fruit>;
    type Child = SegmentKeys;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentKeys> {
        let ff = reader.fast_fields();
        let primary = match self.sort {
            ListSort::Id => Primary::Zero,
            ListSort::Updated => Primary::I64(ff.i64("updated")?),
            ListSort::NextFollowup => Primary::I64(ff.i64("next_fu")?),
            ListSort::Name => {
                let col = ff.str("name_key")?;
                let empty_named = match &col {
                    Some(c) => c.dictionary().term_ord(b"")? == Some(0),
                    None => false,
                };
                Primary::Name {
                    col,
                    missing: if empty_named { 2 } else { 0 },
                }
            }
        };
        let cursor = match (&self.cursor, &primary) {
            (None, _) => None,
            (Some((CursorKey::Num(k), id)), _) => Some((u128::from(*k), *id)),
            (Some((CursorKey::Name(name), id)), Primary::Name { col, missing }) => {
                Some((name_position(col.as_ref(), *missing, name)?, *id))
            }
            (Some((CursorKey::Name(_), id)), _) => Some((0, *id)),
        };
        Ok(SegmentKeys {
            id_hi: ff.u64("id_hi")?,
            id_lo: ff.u64("id_lo")?,
            primary,
            cursor,
            best: Best::new(self.keep, self.descending),
            total: 0,
            unordered: false,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Option<Fruit>>) -> tantivy::Result<Option<Fruit>> {
        let mut total = 0;
        let mut num = Best::new(self.keep, self.descending);
        let mut names = Best::new(self.keep, self.descending);
        for fruit in fruits {
            let Some(fruit) = fruit else {
                return Ok(None);
            };
            total += fruit.total;
            match fruit.keys {
                Keys::Num(v) => v.into_iter().for_each(|k| num.push(k)),
                Keys::Name(v) => v.into_iter().for_each(|k| names.push(k)),
            }
        }
        let keys = match self.sort {
            ListSort::Name => Keys::Name(names.into_sorted()),
            _ => Keys::Num(num.into_sorted()),
        };
        Ok(Some(Fruit { total, keys }))
    }
}

impl SegmentCollector for SegmentKeys {
    type Fruit = Option<Fruit>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        let key = match &self.primary {
            Primary::Zero => 0,
            Primary::I64(col) => {
                u128::from(flip(col.first(doc).unwrap_or(fields::NO_NEXT_FOLLOWUP)))
            }
            Primary::Name { col, missing } => col
                .as_ref()
                .and_then(|c| c.term_ords(doc).next())
                .map_or(*missing, |o| 2 * (u128::from(o) + 1)),
        };
        if !self.best.may_take(&key) {
            return;
        }
        if let Some((ck, _)) = self.cursor {
            let past = if self.best.descending {
                key <= ck
            } else {
                key >= ck
            };
            if !past {
                return;
            }
        }
        let (Some(hi), Some(lo)) = (self.id_hi.first(doc), self.id_lo.first(doc)) else {
            self.unordered = true;
            return;
        };
        let item = (key, (u128::from(hi) << 64) | u128::from(lo));
        if let Some(cur) = &self.cursor
            && order(self.best.descending, cur, &item) != Ordering::Less
        {
            return;
        }
        self.best.push(item);
    }

    fn harvest(self) -> Option<Fruit> {
        if self.unordered {
            return None;
        }
        let total = self.total;
        let kept = self.best.into_sorted();
        let Primary::Name { col, .. } = self.primary else {
            let keys = kept.into_iter().map(|(k, id)| (k as u64, id)).collect();
            return Some(Fruit {
                total,
                keys: Keys::Num(keys),
            });
        };
        // Resolve the kept candidates' ordinals to names in one pass over the dictionary.
        let mut distinct: Vec<u64> = kept
            .iter()
            .filter(|(k, _)| *k >= 2)
            .map(|(k, _)| (k / 2 - 1) as u64)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut names: Vec<Vec<u8>> = Vec::with_capacity(distinct.len());
        if let Some(col) = &col {
            let found = col
                .dictionary()
                .sorted_ords_to_term_cb(&distinct, |b| names.push(b.to_vec()));
            if !matches!(found, Ok(true)) {
                return None;
            }
        }
        let keys = kept
            .into_iter()
            .map(|(k, id)| {
                let name = if k >= 2 {
                    distinct
                        .binary_search(&((k / 2 - 1) as u64))
                        .ok()
                        .and_then(|i| names.get(i).cloned())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                (name, id)
            })
            .collect();
        Some(Fruit {
            total,
            keys: Keys::Name(keys),
        })
    }
}

/// The page of `limit` from the best `limit + 1` candidates after the cursor, in list order.
fn page<K>(kept: Vec<(K, u128)>, limit: usize) -> (Vec<u128>, bool) {
    let more = kept.len() > limit;
    (
        kept.into_iter().take(limit).map(|(_, id)| id).collect(),
        more,
    )
}

/// Whether a match has no ULID id (such documents carry the [`fields::NOT_ULID`] term).
fn any_unordered(searcher: &Searcher, f: &Fields, query: &dyn Query) -> tantivy::Result<bool> {
    let term = Term::from_field_text(f.exact, fields::NOT_ULID);
    if searcher.doc_freq(&term)? == 0 {
        return Ok(false);
    }
    let q = BooleanQuery::new(vec![
        (Occur::Must, query.box_clone()),
        (
            Occur::Must,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ),
    ]);
    Ok(searcher.search(&q, &Count)? > 0)
}

/// The sort key of the customer `id` if it is among the matches.
fn cursor_key(
    searcher: &Searcher,
    f: &Fields,
    query: &dyn Query,
    sort: ListSort,
    id: &str,
) -> tantivy::Result<Option<CursorKey>> {
    let q = BooleanQuery::new(vec![
        (Occur::Must, query.box_clone()),
        (
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.id, id),
                IndexRecordOption::Basic,
            )),
        ),
    ]);
    let Some(at) = searcher.search(&q, &DocSetCollector)?.into_iter().next() else {
        return Ok(None);
    };
    let ff = searcher.segment_reader(at.segment_ord).fast_fields();
    let doc = at.doc_id;
    let num = |name: &str, default: i64| -> tantivy::Result<CursorKey> {
        Ok(CursorKey::Num(flip(
            ff.i64(name)?.first(doc).unwrap_or(default),
        )))
    };
    Ok(Some(match sort {
        ListSort::Id => CursorKey::Num(0),
        ListSort::Updated => num("updated", fields::NO_NEXT_FOLLOWUP)?,
        ListSort::NextFollowup => num("next_fu", fields::NO_NEXT_FOLLOWUP)?,
        ListSort::Name => {
            let mut name = Vec::new();
            if let Some(col) = ff.str("name_key")?
                && let Some(ord) = col.term_ords(doc).next()
                && !col.ord_to_bytes(ord, &mut name)?
            {
                name.clear();
            }
            CursorKey::Name(name)
        }
    }))
}

/// When the list bounds its walk by the sort key (see [`bounded`]).
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// Lists with at most this many matches walk them all (that is cheap).
    bound_from: usize,
    /// How many sort keys are read, spread evenly over the index, to place the bound.
    samples: u64,
}

const TUNING: Tuning = Tuning {
    bound_from: 10_000,
    samples: 4096,
};

/// How a page was found (for the tests: the bounded path must be the one taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Every match was looked at.
    Walked,
    /// Only the matches inside a bound placed from sampled keys, on this attempt.
    Bounded(u32),
}

pub fn run(searcher: &Searcher, f: &Fields, req: &ListRequest) -> tantivy::Result<Listed> {
    Ok(run_tuned(searcher, f, req, TUNING)?.0)
}

/// The list's matches counted per stage (the chips above the list; the caller leaves the
/// stage filter out). Every match is counted, from the stage fast column (no stored field).
pub fn stage_counts(
    searcher: &Searcher,
    f: &Fields,
    req: &ListRequest,
    columns: Arc<Columns>,
) -> tantivy::Result<BTreeMap<String, u64>> {
    let query = list_query(f, req);
    let counts = Counts { facets: true }
        .up_to(usize::MAX)
        .with_columns(columns);
    let counted = searcher.search(query.as_ref(), &counts)?;
    // Asked for, the facets always hold every column (a stage nobody is in is left out of it).
    counted
        .facets
        .and_then(|mut by_facet| by_facet.remove("stage"))
        .ok_or_else(|| tantivy::TantivyError::InternalError("no stage facet counted".into()))
}

/// At least the number of matches, from the scope's terms' document counts alone (deleted
/// documents counted too; filters only narrow further): a small scope is walked at once,
/// without counting first.
fn scope_upper_bound(searcher: &Searcher, f: &Fields, r: &Restrict) -> tantivy::Result<u64> {
    let Some(owners) = &r.owners else {
        return Ok(searcher.num_docs());
    };
    let freq = |field: Field, text: &str| searcher.doc_freq(&Term::from_field_text(field, text));
    let mut n = freq(f.collab, &r.collaborator)?;
    match &r.department {
        Some(d) => n += freq(f.dept, d)?,
        None => {
            for o in owners {
                n += freq(f.owner, o)?;
            }
        }
    }
    for p in &r.pools {
        n += freq(f.pool, p)?;
    }
    Ok(n)
}

/// The number of matches: the index's live documents when nothing narrows the list.
fn match_count(
    searcher: &Searcher,
    req: &ListRequest,
    query: &dyn Query,
) -> tantivy::Result<usize> {
    if req.restrict.owners.is_none() && req.filters == ListFilters::default() {
        return Ok(searcher.num_docs() as usize);
    }
    searcher.search(query, &Count)
}

/// A sort key as the bound compares it: the primary key made order-preserving ([`flip`]; 0
/// in the id order; the name's first eight bytes in the name order, see [`name_prefix`]) and
/// the id, which breaks ties (0 in the name order: a bound there takes in whole prefixes).
type Key = (u64, u128);

/// The first eight bytes of a name as a number (zeros after its end): names in byte order
/// give these in the same order, ties for names alike in their first eight bytes.
fn name_prefix(name: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = name.len().min(8);
    b[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(b)
}

/// The shortest name whose prefix is `p`: every name with a prefix at least `p` sorts at or
/// after it, every name with a smaller prefix before it.
fn prefix_name(p: u64) -> Vec<u8> {
    let mut b = p.to_be_bytes().to_vec();
    while b.last() == Some(&0) {
        b.pop();
    }
    b
}

/// What an order's primary key is read from in one segment.
enum KeyKind {
    Id,
    Instant(Column<i64>),
    Name(StrColumn),
}

/// The columns and terms a time, id or name order is bounded on in one segment.
struct KeyColumns {
    hi: Column<u64>,
    lo: Column<u64>,
    /// The `id` terms: their dictionary is in id order (one term per customer).
    ids: Arc<InvertedIndexReader>,
    primary: KeyKind,
}

impl KeyColumns {
    /// `None` for a segment the bound cannot read: some document without a name (the walk
    /// orders those as the empty name).
    fn open(reader: &SegmentReader, f: &Fields, sort: ListSort) -> tantivy::Result<Option<Self>> {
        let ff = reader.fast_fields();
        let primary = match sort {
            ListSort::Id => KeyKind::Id,
            ListSort::Updated => KeyKind::Instant(ff.i64("updated")?),
            ListSort::NextFollowup => KeyKind::Instant(ff.i64("next_fu")?),
            ListSort::Name => match ff.str("name_key")? {
                Some(col) if col.ords().get_cardinality() == Cardinality::Full => {
                    KeyKind::Name(col)
                }
                _ => return Ok(None),
            },
        };
        Ok(Some(KeyColumns {
            hi: ff.u64("id_hi")?,
            lo: ff.u64("id_lo")?,
            ids: reader.inverted_index(f.id)?,
            primary,
        }))
    }

    fn id(&self, doc: DocId) -> Option<u128> {
        Some((u128::from(self.hi.first(doc)?) << 64) | u128::from(self.lo.first(doc)?))
    }

    /// The primary key of a time or id order (names are read in batches: [`Self::keys`]).
    fn primary(&self, doc: DocId) -> Option<u64> {
        match &self.primary {
            KeyKind::Id => Some(0),
            KeyKind::Instant(c) => c.first(doc).map(flip),
            KeyKind::Name(_) => None,
        }
    }

    /// The keys of `docs`, one per document that has one; `None` when a name ordinal is
    /// missing from the segment's dictionary (the walk reports that).
    fn keys(&self, docs: &[DocId]) -> tantivy::Result<Option<Vec<Key>>> {
        let KeyKind::Name(col) = &self.primary else {
            // A document without a ULID id gives no key: the sample only leaves it out (a
            // match without one makes the whole list unordered before any bound is placed).
            return Ok(Some(
                docs.iter()
                    .filter_map(|&d| Some((self.primary(d)?, self.id(d)?)))
                    .collect(),
            ));
        };
        // Every document has a name here (`open` checked that the column is full).
        let Some(of_docs) = docs
            .iter()
            .map(|&d| col.term_ords(d).next())
            .collect::<Option<Vec<u64>>>()
        else {
            return Ok(None);
        };
        let mut ords = of_docs.clone();
        ords.sort_unstable();
        ords.dedup();
        let mut prefixes = Vec::with_capacity(ords.len());
        if !col
            .dictionary()
            .sorted_ords_to_term_cb(&ords, |name| prefixes.push(name_prefix(name)))?
        {
            return Ok(None);
        }
        // `prefixes[i]` is the prefix of `ords[i]`, and every document's ordinal is in `ords`.
        Ok(of_docs
            .iter()
            .map(|o| Some((*prefixes.get(ords.binary_search(o).ok()?)?, 0)))
            .collect())
    }

    /// The ordinals of this segment's names whose prefix is in `prefixes`.
    fn name_ords(
        col: &StrColumn,
        prefixes: &RangeInclusive<u64>,
    ) -> tantivy::Result<Option<RangeInclusive<u64>>> {
        let dict = col.dictionary();
        let terms = dict.num_terms() as u64;
        let ord_at = |name: Vec<u8>| -> tantivy::Result<u64> {
            Ok(match dict.term_ord_or_next(name)? {
                TermOrdHit::Exact(o) | TermOrdHit::Next(o) => o.min(terms),
            })
        };
        let first = ord_at(prefix_name(*prefixes.start()))?;
        let end = match prefixes.end().checked_add(1) {
            Some(next) => ord_at(prefix_name(next))?,
            None => terms,
        };
        Ok((first < end).then(|| first..=end - 1))
    }

    /// This segment's documents (deleted ones too) that `part` takes in, appended.
    fn docs_in(&self, part: &Part, max_doc: DocId, docs: &mut Vec<DocId>) -> tantivy::Result<()> {
        match part {
            Part::Ids { ids, primary } => {
                let (first, last) = (*ids.start(), *ids.end());
                if u128::from(self.hi.max_value()) < first >> 64
                    || u128::from(self.hi.min_value()) > last >> 64
                {
                    return Ok(());
                }
                let (first, last) = (
                    ulid::Ulid::from(first).to_string(),
                    ulid::Ulid::from(last).to_string(),
                );
                let mut terms = self
                    .ids
                    .terms()
                    .range()
                    .ge(&first)
                    .le(&last)
                    .into_stream()?;
                while terms.advance() {
                    let mut postings = self.ids.read_block_postings_from_terminfo(
                        terms.value(),
                        IndexRecordOption::Basic,
                    )?;
                    while !postings.docs().is_empty() {
                        for &doc in postings.docs() {
                            if primary.is_none_or(|p| self.primary(doc) == Some(p)) {
                                docs.push(doc);
                            }
                        }
                        postings.advance();
                    }
                }
            }
            Part::Primaries { primaries, ids } => {
                // Into a vector of its own: the column's scan may clear what it is given.
                let mut found = Vec::new();
                match &self.primary {
                    KeyKind::Id => return Ok(()),
                    KeyKind::Instant(col) => {
                        let range = unflip(*primaries.start())..=unflip(*primaries.end());
                        if col.max_value() < *range.start() || col.min_value() > *range.end() {
                            return Ok(());
                        }
                        col.get_docids_for_value_range(range, 0..max_doc, &mut found);
                    }
                    KeyKind::Name(col) => {
                        let Some(ords) = Self::name_ords(col, primaries)? else {
                            return Ok(());
                        };
                        col.ords()
                            .get_docids_for_value_range(ords, 0..max_doc, &mut found);
                    }
                }
                match ids {
                    None => docs.extend(found),
                    Some(ids) => docs.extend(
                        found
                            .into_iter()
                            .filter(|&doc| self.id(doc).is_some_and(|id| ids.contains(&id))),
                    ),
                }
            }
        }
        Ok(())
    }
}

/// One way of finding documents whose key is in a range.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// From the `id` terms in `ids`, kept when their primary key is `primary`.
    Ids {
        ids: RangeInclusive<u128>,
        primary: Option<u64>,
    },
    /// From the instant's column over `primaries`, kept when their id is in `ids`.
    Primaries {
        primaries: RangeInclusive<u64>,
        ids: Option<RangeInclusive<u128>>,
    },
}

impl Part {
    /// How many of the sampled keys its driving range (the terms or the column) covers.
    fn reach(&self, sampled: &[Key]) -> usize {
        match self {
            Part::Ids { ids, .. } => sampled.iter().filter(|(_, id)| ids.contains(id)).count(),
            Part::Primaries { primaries, .. } => sampled
                .iter()
                .filter(|(p, _)| primaries.contains(p))
                .count(),
        }
    }
}

/// The parts that find every document with a key in `low..=high` (an end `None` is open):
/// the id order reads the id terms; the name order the names with a prefix in range from the
/// column (whole prefixes: its keys carry no id); a time order reads the instants strictly between the
/// ends from the column, and the documents tied with an end (one import can give a million
/// customers the same instant) from the id terms or from the column, whichever the sample
/// says reaches fewer.
fn plan(sort: ListSort, low: Option<Key>, high: Option<Key>, sampled: &[Key]) -> Vec<Part> {
    match sort {
        ListSort::Id => {
            return vec![Part::Ids {
                ids: low.map_or(0, |k| k.1)..=high.map_or(u128::MAX, |k| k.1),
                primary: None,
            }];
        }
        ListSort::Name => {
            return vec![Part::Primaries {
                primaries: low.map_or(0, |k| k.0)..=high.map_or(u64::MAX, |k| k.0),
                ids: None,
            }];
        }
        ListSort::Updated | ListSort::NextFollowup => {}
    }
    let cheaper = |p: u64, ids: RangeInclusive<u128>| {
        let by_ids = Part::Ids {
            ids: ids.clone(),
            primary: Some(p),
        };
        let by_primary = Part::Primaries {
            primaries: p..=p,
            ids: Some(ids),
        };
        if by_ids.reach(sampled) <= by_primary.reach(sampled) {
            by_ids
        } else {
            by_primary
        }
    };
    match (low, high) {
        (Some(l), Some(h)) if l.0 == h.0 => vec![cheaper(l.0, l.1..=h.1)],
        _ => {
            let mut parts = Vec::new();
            let from = match low {
                None => Some(0),
                Some(l) => l.0.checked_add(1),
            };
            let to = match high {
                None => Some(u64::MAX),
                Some(h) => h.0.checked_sub(1),
            };
            if let (Some(from), Some(to)) = (from, to)
                && from <= to
            {
                parts.push(Part::Primaries {
                    primaries: from..=to,
                    ids: None,
                });
            }
            if let Some(l) = low {
                parts.push(cheaper(l.0, l.1..=u128::MAX));
            }
            if let Some(h) = high {
                parts.push(cheaper(h.0, 0..=h.1));
            }
            parts
        }
    }
}

/// Up to about `want` sort keys of live documents, read at evenly spaced positions over all
/// segments (a name's key once per sampled document, so common names weigh as they should);
/// `None` when a segment's names cannot be read ([`KeyColumns::keys`]).
fn sample_keys(
    searcher: &Searcher,
    columns: &[KeyColumns],
    want: u64,
) -> tantivy::Result<Option<Vec<Key>>> {
    let readers = searcher.segment_readers();
    let max_docs: u64 = readers.iter().map(|r| u64::from(r.max_doc())).sum();
    let step = (max_docs / want.max(1)).max(1);
    let mut keys = Vec::new();
    let mut base = 0u64;
    let mut docs = Vec::new();
    for (reader, cols) in readers.iter().zip(columns) {
        let end = base + u64::from(reader.max_doc());
        let mut at = base.div_ceil(step) * step;
        docs.clear();
        while at < end {
            let doc = (at - base) as DocId;
            if !reader.is_deleted(doc) {
                docs.push(doc);
            }
            at += step;
        }
        let Some(found) = cols.keys(&docs)? else {
            return Ok(None);
        };
        keys.extend(found);
        base = end;
    }
    Ok(Some(keys))
}

/// What `collector` gathers from the matches of `query` among the documents `parts` find:
/// those are read from the id terms or the key's column (segments outside a part's range
/// skipped by their minimum and maximum), and only they are looked up in the query's matches
/// — the few in range lead, however many the query matches.
fn collect_within(
    searcher: &Searcher,
    columns: &[KeyColumns],
    query: &dyn Query,
    collector: &KeyCollector,
    parts: &[Part],
) -> tantivy::Result<Option<Fruit>> {
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut fruits = Vec::new();
    let mut docs = Vec::new();
    for (ord, (reader, cols)) in searcher.segment_readers().iter().zip(columns).enumerate() {
        let mut segment = collector.for_segment(ord as SegmentOrdinal, reader)?;
        docs.clear();
        for part in parts {
            cols.docs_in(part, reader.max_doc(), &mut docs)?;
        }
        docs.sort_unstable();
        docs.dedup();
        if !docs.is_empty() {
            let mut matches = weight.scorer(reader, 1.0)?;
            for &doc in &docs {
                let mut at = matches.doc();
                if at < doc {
                    at = matches.seek(doc);
                }
                if at == TERMINATED {
                    break;
                }
                if at == doc && !reader.is_deleted(doc) {
                    segment.collect(doc, 0.0);
                }
            }
        }
        fruits.push(segment.harvest());
    }
    collector.merge_fruits(fruits)
}

/// The best `keep` after the cursor read from only the matches whose sort key lies between
/// the cursor's and a bound, which a sample of keys places where it predicts a few pages of
/// matches (the matches taken to be spread over the keys like all documents). Every match
/// outside the bound sorts after every match inside it, so when the bound holds `keep`
/// matches they are the page; when it holds fewer (the filter picks keys unlike the
/// sample's), it is placed sixteen times as far out once more, and after that `None`: the
/// caller walks every match.
fn bounded(
    searcher: &Searcher,
    f: &Fields,
    query: &dyn Query,
    collector: &KeyCollector,
    total: usize,
    tuning: Tuning,
) -> tantivy::Result<Option<(Keys, u32)>> {
    // Each segment's key columns, opened once for the sample and every attempt.
    let mut columns = Vec::new();
    for reader in searcher.segment_readers() {
        let Some(cols) = KeyColumns::open(reader, f, collector.sort)? else {
            return Ok(None);
        };
        columns.push(cols);
    }
    let Some(sampled) = sample_keys(searcher, &columns, tuning.samples)? else {
        return Ok(None);
    };
    if sampled.is_empty() || total == 0 {
        return Ok(None);
    }
    let descending = collector.descending;
    // Matches per sampled key, from all of them (the matches before the cursor included).
    let per_sample = total as f64 / sampled.len() as f64;
    let cursor: Option<Key> = collector.cursor.as_ref().map(|(k, id)| match k {
        CursorKey::Num(k) => (*k, *id),
        CursorKey::Name(name) => (name_prefix(name), 0),
    });
    // The sampled keys not before the cursor, in list order.
    let mut ahead: Vec<Key> = sampled
        .iter()
        .copied()
        .filter(|k| match cursor {
            None => true,
            Some(c) if descending => *k <= c,
            Some(c) => *k >= c,
        })
        .collect();
    if descending {
        ahead.sort_unstable_by(|a, b| b.cmp(a));
    } else {
        ahead.sort_unstable();
    }
    let mut margin = 4.0;
    for attempt in 1..=2 {
        let n = (collector.keep as f64 * margin / per_sample).ceil() as usize;
        let Some(&bound) = ahead.get(n) else {
            return Ok(None);
        };
        let (low, high) = if descending {
            (Some(bound), cursor)
        } else {
            (cursor, Some(bound))
        };
        let parts = plan(collector.sort, low, high, &sampled);
        let Some(fruit) = collect_within(searcher, &columns, query, collector, &parts)? else {
            return Ok(None);
        };
        let held = match &fruit.keys {
            Keys::Num(k) => k.len(),
            Keys::Name(k) => k.len(),
        };
        if held >= collector.keep {
            return Ok(Some((fruit.keys, attempt)));
        }
        margin *= 16.0;
    }
    Ok(None)
}

fn run_tuned(
    searcher: &Searcher,
    f: &Fields,
    req: &ListRequest,
    tuning: Tuning,
) -> tantivy::Result<(Listed, Path)> {
    let query = list_query(f, req);
    let cursor = match req.cursor.as_deref() {
        Some(c) => match fields::ulid_of(c) {
            Some(n) => Some((c, n)),
            None => return Ok((Listed::CursorGone, Path::Walked)),
        },
        None => None,
    };
    if any_unordered(searcher, f, query.as_ref())? {
        return Ok((Listed::Unordered, Path::Walked));
    }
    let cursor = match cursor {
        None => None,
        // In id order the cursor's id is its whole key.
        Some((_, n)) if req.sort == ListSort::Id && req.cursor_may_leave => {
            Some((CursorKey::Num(0), n))
        }
        Some((text, n)) => match cursor_key(searcher, f, query.as_ref(), req.sort, text)? {
            Some(key) => Some((key, n)),
            None => return Ok((Listed::CursorGone, Path::Walked)),
        },
    };
    let limit = req.limit.max(1);
    let collector = KeyCollector {
        sort: req.sort,
        descending: req.descending,
        keep: limit + 1,
        cursor,
    };
    if scope_upper_bound(searcher, f, &req.restrict)? > tuning.bound_from as u64 {
        let total = match_count(searcher, req, query.as_ref())?;
        if total > tuning.bound_from
            && let Some((keys, attempt)) =
                bounded(searcher, f, query.as_ref(), &collector, total, tuning)?
        {
            return Ok((listed_page(keys, total, limit), Path::Bounded(attempt)));
        }
    }
    let Some(fruit) = searcher.search(&query, &collector)? else {
        return Ok((Listed::Unordered, Path::Walked));
    };
    Ok((listed_page(fruit.keys, fruit.total, limit), Path::Walked))
}

fn listed_page(keys: Keys, total: usize, limit: usize) -> Listed {
    let (ids, more) = match keys {
        Keys::Num(k) => page(k, limit),
        Keys::Name(k) => page(k, limit),
    };
    Listed::Page {
        ids: ids
            .into_iter()
            .map(|n| ulid::Ulid::from(n).to_string())
            .collect(),
        total,
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: [ListSort; 4] = [
        ListSort::Id,
        ListSort::Updated,
        ListSort::NextFollowup,
        ListSort::Name,
    ];

    /// A repeatable xorshift sequence.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// An empty index in memory and a writer that never merges (segments stay as committed).
    fn ram_index() -> (tantivy::Index, Fields, tantivy::IndexWriter) {
        let (schema, f) = fields::schema();
        let index = tantivy::Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
        writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        (index, f, writer)
    }

    /// A document with what the list sorts on: the id (text and halves) and the update instant.
    fn keyed_doc(f: &Fields, id: u128, updated: i64) -> tantivy::TantivyDocument {
        let mut d = tantivy::TantivyDocument::default();
        d.add_text(f.id, ulid::Ulid::from(id).to_string());
        d.add_u64(f.id_hi, (id >> 64) as u64);
        d.add_u64(f.id_lo, id as u64);
        d.add_i64(f.updated, updated);
        d
    }

    /// `Best` keeps exactly what sorting everything and taking the first `n` gives, whatever
    /// the arrival order, duplicates of keys, direction and `n`.
    #[test]
    fn best_keeps_the_first_n_in_list_order() {
        let mut next = xorshift(12345);
        for round in 0..40 {
            let len = (next() % 3000) as usize;
            let items: Vec<(u64, u128)> = (0..len)
                .map(|i| (next() % 50, u128::from(next() % 100_000) * 4096 + i as u128))
                .collect();
            let n = [1, 2, 21, 101, 5000][round % 5];
            for descending in [false, true] {
                let mut best = Best::new(n, descending);
                for it in &items {
                    best.push(*it);
                }
                let mut all = items.clone();
                all.sort_unstable_by(|a, b| order(descending, a, b));
                all.truncate(n);
                assert_eq!(best.into_sorted(), all, "n {n} descending {descending}");
            }
        }
    }

    #[test]
    fn best_refuses_keys_past_the_worst() {
        let mut best = Best::new(2, false);
        for i in 0..300u64 {
            best.push((i, u128::from(i)));
        }
        // The buffer was cut: (0, 0) and (1, 1) are kept, so key 2 cannot be.
        assert!(best.may_take(&1));
        assert!(!best.may_take(&2));
        assert_eq!(best.into_sorted(), vec![(0, 0), (1, 1)]);
        let mut desc = Best::new(1, true);
        for i in 0..300u64 {
            desc.push((i % 7, u128::from(i)));
        }
        assert!(desc.may_take(&6) && !desc.may_take(&5));
        assert_eq!(desc.into_sorted(), vec![(6, 293)]);
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        assert_eq!(page(vec![(0u64, 7), (1, 9), (2, 3)], 2), (vec![7, 9], true));
        assert_eq!(page(vec![(0u64, 7), (1, 9)], 2), (vec![7, 9], false));
        assert_eq!(page(Vec::<(u64, u128)>::new(), 2), (vec![], false));
    }

    /// Pages through a several-segment index in every order, direction and page size and
    /// compares with sorting everything: names absent from some segments, empty and repeated
    /// names, tied instants, customers without a next follow-up; totals exact; a cursor that
    /// is not among the matches is reported.
    #[test]
    fn pages_over_segments_match_a_full_sort() {
        let (index, f, mut writer) = ram_index();
        let mut next = xorshift(99);
        let names = ["张伟", "李娜", "", "王芳", "赵六", "阿", "zz", "张"];
        // (id, updated, next follow-up, name)
        let mut all: Vec<(u128, i64, i64, String)> = Vec::new();
        for seg in 0..4usize {
            let here: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(k, _)| (k + seg) % 3 != 0)
                .map(|(_, n)| *n)
                .collect();
            for _ in 0..(15 + seg * 6) {
                let id = (u128::from(next() % 1000) << 80) | u128::from(next());
                let updated = (next() % 5) as i64;
                let next_fu = if next().is_multiple_of(3) {
                    fields::NO_NEXT_FOLLOWUP
                } else {
                    (next() % 4) as i64
                };
                let name = here[(next() % here.len() as u64) as usize].to_string();
                let mut d = keyed_doc(&f, id, updated);
                d.add_i64(f.next_fu, next_fu);
                d.add_text(f.name_key, &name);
                writer.add_document(d).unwrap();
                all.push((id, updated, next_fu, name));
            }
            writer.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 4);
        for sort in ORDERS {
            for descending in [false, true] {
                let mut expected = all.clone();
                expected.sort_by(|a, b| {
                    let key = |c: &(u128, i64, i64, String)| match sort {
                        ListSort::Id => (0, Vec::new(), c.0),
                        ListSort::Updated => (c.1, Vec::new(), c.0),
                        ListSort::NextFollowup => (c.2, Vec::new(), c.0),
                        ListSort::Name => (0, c.3.as_bytes().to_vec(), c.0),
                    };
                    if descending {
                        key(b).cmp(&key(a))
                    } else {
                        key(a).cmp(&key(b))
                    }
                });
                let expected: Vec<String> = expected
                    .iter()
                    .map(|c| ulid::Ulid::from(c.0).to_string())
                    .collect();
                for limit in [1, 3, 7, 500] {
                    let mut got = Vec::new();
                    let mut cursor = None;
                    loop {
                        let req = ListRequest {
                            restrict: Restrict::default(),
                            filters: ListFilters::default(),
                            sort,
                            descending,
                            cursor: cursor.clone(),
                            cursor_may_leave: false,
                            limit,
                        };
                        let Listed::Page { ids, total, more } = run(&searcher, &f, &req).unwrap()
                        else {
                            panic!("not a page: {sort:?} {descending} {limit}");
                        };
                        assert_eq!(total, all.len());
                        assert!(ids.len() <= limit);
                        got.extend(ids);
                        if !more {
                            break;
                        }
                        cursor = got.last().cloned();
                    }
                    assert_eq!(
                        got, expected,
                        "{sort:?} descending {descending} limit {limit}"
                    );
                }
            }
        }
        let gone = ListRequest {
            restrict: Restrict::default(),
            filters: ListFilters::default(),
            sort: ListSort::Name,
            descending: false,
            cursor: Some(ulid::Ulid::from(7u128).to_string()),
            cursor_may_leave: false,
            limit: 5,
        };
        assert_eq!(run(&searcher, &f, &gone).unwrap(), Listed::CursorGone);
    }

    /// The bounded path gives exactly the walk's pages (totals, `more`, cursors) on an index
    /// with deletions, tied instants and several segments, in every order and
    /// direction; with a filter unlike the sample (it keeps mostly the oldest customers) it
    /// widens its bound or walks, and still agrees.
    #[test]
    fn bounded_pages_match_the_walk() {
        let (index, f, mut writer) = ram_index();
        let mut next = xorshift(7);
        let rows = 3000u64;
        let mut again = Vec::new();
        for i in 0..rows {
            // Creation-ordered ids (as ULIDs are), a few sharing their top half.
            let id = (u128::from(i / 3 + 1) << 64) | u128::from(next());
            let text = ulid::Ulid::from(id).to_string();
            // A run of customers imported together share their instant.
            let updated = if (1000..2200).contains(&i) {
                42
            } else {
                (next() % 400) as i64 - 100
            };
            let mut d = keyed_doc(&f, id, updated);
            let next_fu = if next().is_multiple_of(4) {
                fields::NO_NEXT_FOLLOWUP
            } else {
                (next() % 500) as i64
            };
            d.add_i64(f.next_fu, next_fu);
            if !next().is_multiple_of(3) {
                d.add_text(f.owner, "u1");
            }
            // Names alike in their first eight bytes, an empty one, long and short ones.
            let names = [
                "欧阳娜娜",
                "欧阳修",
                "欧阳",
                "张伟",
                "",
                "zz",
                "Zhang Wei",
                "阿",
            ];
            d.add_text(f.name_key, names[(next() % names.len() as u64) as usize]);
            // Mostly the oldest fifth: far fewer among the newest than a sample predicts.
            let age = if i < rows / 5 || i % 50 == 0 {
                "old"
            } else {
                "new"
            };
            d.add_text(f.exact, fields::exact_term("s", age));
            if next().is_multiple_of(2) {
                d.add_text(f.exact, fields::exact_term("t", "x"));
            }
            writer.add_document(d.clone()).unwrap();
            if next().is_multiple_of(10) {
                writer.delete_term(Term::from_field_text(f.id, &text));
                // Half of them come back (an update): the same id in a later document.
                if next().is_multiple_of(2) {
                    again.push(d);
                }
            }
            if i % 700 == 699 {
                writer.commit().unwrap();
                for d in again.drain(..) {
                    writer.add_document(d).unwrap();
                }
            }
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() >= 4);
        let bounded = Tuning {
            bound_from: 0,
            samples: 64,
        };
        let walked = Tuning {
            bound_from: usize::MAX,
            samples: 64,
        };
        let filters = [
            ListFilters::default(),
            ListFilters {
                tags: vec!["x".into()],
                ..Default::default()
            },
            ListFilters {
                stage: Some("old".into()),
                ..Default::default()
            },
        ];
        // A salesperson's scope: their customers (two in three).
        let u1 = Restrict {
            owners: Some(vec!["u1".into()]),
            department: None,
            collaborator: "nobody".into(),
            pools: Vec::new(),
        };
        let mut paths = Vec::new();
        for sort in ORDERS {
            for descending in [false, true] {
                for (filter, restrict) in filters
                    .iter()
                    .flat_map(|flt| [(flt, Restrict::default()), (flt, u1.clone())])
                {
                    for limit in [1, 7, 50] {
                        let mut cursor: Option<String> = None;
                        for _ in 0..6 {
                            let req = ListRequest {
                                restrict: restrict.clone(),
                                filters: filter.clone(),
                                sort,
                                descending,
                                cursor: cursor.clone(),
                                cursor_may_leave: false,
                                limit,
                            };
                            let (want, walk) = run_tuned(&searcher, &f, &req, walked).unwrap();
                            assert_eq!(walk, Path::Walked);
                            let (got, path) = run_tuned(&searcher, &f, &req, bounded).unwrap();
                            assert_eq!(got, want, "{sort:?} {descending} {filter:?} {limit}");
                            paths.push((sort, path));
                            let Listed::Page { ids, more, .. } = got else {
                                panic!("not a page");
                            };
                            if !more {
                                break;
                            }
                            cursor = ids.last().cloned();
                        }
                    }
                }
            }
        }
        for sort in ORDERS {
            assert!(paths.contains(&(sort, Path::Bounded(1))), "{sort:?}");
        }
        assert!(paths.iter().any(|(_, p)| *p != Path::Bounded(1)));
    }

    /// The documents tied with an end of the bound are found from the id terms when the sample
    /// says they are many, from the instants' column when few; the instants strictly inside
    /// always from the column; the id order from the id terms alone.
    #[test]
    fn a_plan_reads_a_large_tie_from_the_ids() {
        // 100 sampled keys tied at instant 7 (ids 1000..1100), and one key at each of 1..=6.
        let mut sampled: Vec<Key> = (1000..1100).map(|id| (7, id)).collect();
        sampled.extend((1..=6).map(|p| (p, u128::from(p))));
        // Descending, first page: the bound inside the tie, no cursor.
        let parts = plan(ListSort::Updated, Some((7, 1090)), None, &sampled);
        assert_eq!(
            parts,
            vec![
                Part::Primaries {
                    primaries: 8..=u64::MAX,
                    ids: None
                },
                Part::Ids {
                    ids: 1090..=u128::MAX,
                    primary: Some(7)
                },
            ]
        );
        // Ascending from a cursor at instant 2 to a bound at 5: small ties from the column.
        let parts = plan(ListSort::Updated, Some((2, 2)), Some((5, 5)), &sampled);
        assert_eq!(
            parts,
            vec![
                Part::Primaries {
                    primaries: 3..=4,
                    ids: None
                },
                Part::Primaries {
                    primaries: 2..=2,
                    ids: Some(2..=u128::MAX)
                },
                Part::Primaries {
                    primaries: 5..=5,
                    ids: Some(0..=5)
                },
            ]
        );
        // Cursor and bound in the same tie: the ids between them.
        let parts = plan(
            ListSort::Updated,
            Some((7, 1020)),
            Some((7, 1060)),
            &sampled,
        );
        assert_eq!(
            parts,
            vec![Part::Ids {
                ids: 1020..=1060,
                primary: Some(7)
            }]
        );
        assert_eq!(
            plan(ListSort::Id, None, Some((0, 99)), &sampled),
            vec![Part::Ids {
                ids: 0..=99,
                primary: None
            }]
        );
    }

    /// Name prefixes keep the names' byte order, and the shortest name of a prefix splits the
    /// names exactly by prefix.
    #[test]
    fn name_prefixes_keep_the_order() {
        let names: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"a\x01",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgi",
            "欧阳".as_bytes(),
            "欧阳修".as_bytes(),
            "欧阳娜娜".as_bytes(),
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for a in &names {
            for b in &names {
                if a < b {
                    assert!(name_prefix(a) <= name_prefix(b), "{a:?} {b:?}");
                }
            }
            for p in names.iter().map(|n| name_prefix(n)) {
                for q in [p, p.saturating_add(1), p.saturating_sub(1)] {
                    assert_eq!(
                        *a >= prefix_name(q).as_slice(),
                        name_prefix(a) >= q,
                        "{a:?} {q}"
                    );
                }
            }
        }
    }

    /// A part reads exactly the documents it names: the id terms in range kept to one
    /// instant, the column's instant kept to a range of ids.
    #[test]
    fn parts_read_the_documents_they_name() {
        let (index, f, mut writer) = ram_index();
        for (id, updated) in [(1u128, 5i64), (2, 5), (3, 7), (4, 5), (5, 9)] {
            let id = (id << 64) | 77;
            writer.add_document(keyed_doc(&f, id, updated)).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let reader = searcher.segment_reader(0);
        let cols = KeyColumns::open(reader, &f, ListSort::Updated)
            .unwrap()
            .unwrap();
        let read = |part: Part| {
            let mut docs = Vec::new();
            cols.docs_in(&part, reader.max_doc(), &mut docs).unwrap();
            docs.sort_unstable();
            docs
        };
        let id = |n: u128| (n << 64) | 77;
        let ids_at_5 = Part::Ids {
            ids: id(2)..=u128::MAX,
            primary: Some(flip(5)),
        };
        assert_eq!(read(ids_at_5), vec![1, 3]);
        let at_5_by_column = Part::Primaries {
            primaries: flip(5)..=flip(5),
            ids: Some(0..=id(2)),
        };
        assert_eq!(read(at_5_by_column), vec![0, 1]);
        let above_5 = Part::Primaries {
            primaries: flip(6)..=u64::MAX,
            ids: None,
        };
        assert_eq!(read(above_5), vec![2, 4]);
    }

    #[test]
    fn flip_keeps_the_order() {
        assert!(flip(-5) < flip(0) && flip(0) < flip(7) && flip(7) < flip(i64::MAX));
        assert!(flip(i64::MIN) < flip(-5));
        for v in [i64::MIN, -5, 0, 7, i64::MAX] {
            assert_eq!(unflip(flip(v)), v);
        }
    }
}
