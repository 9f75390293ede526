//! The customer list served from the index: the filters become required clauses, every match
//! is counted and looked at only by its sort key and id (read from fast fields, never from the
//! store), and each segment keeps just the best `limit + 1` after the cursor's (key, id) (the
//! cursor's key is read first from its own document), so a request's memory does not grow with
//! the number of matches. Ordering is (key, id) ascending, or the exact reverse for the
//! descending orders, like the list's reference implementation in `service::customers::list`.

use std::cmp::Ordering;
use std::ops::Bound;

use tantivy::collector::{Collector, Count, DocSetCollector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn, TermOrdHit};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader, Term};

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
#[derive(Debug, Clone, Default)]
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

pub fn run(searcher: &Searcher, f: &Fields, req: &ListRequest) -> tantivy::Result<Listed> {
    let query = list_query(f, req);
    let cursor = match req.cursor.as_deref() {
        Some(c) => match fields::ulid_of(c) {
            Some(n) => Some((c, n)),
            None => return Ok(Listed::CursorGone),
        },
        None => None,
    };
    if any_unordered(searcher, f, query.as_ref())? {
        return Ok(Listed::Unordered);
    }
    let cursor = match cursor {
        None => None,
        // In id order the cursor's id is its whole key.
        Some((_, n)) if req.sort == ListSort::Id && req.cursor_may_leave => {
            Some((CursorKey::Num(0), n))
        }
        Some((text, n)) => match cursor_key(searcher, f, query.as_ref(), req.sort, text)? {
            Some(key) => Some((key, n)),
            None => return Ok(Listed::CursorGone),
        },
    };
    let limit = req.limit.max(1);
    let collector = KeyCollector {
        sort: req.sort,
        descending: req.descending,
        keep: limit + 1,
        cursor,
    };
    let Some(fruit) = searcher.search(&query, &collector)? else {
        return Ok(Listed::Unordered);
    };
    let (ids, more) = match fruit.keys {
        Keys::Num(k) => page(k, limit),
        Keys::Name(k) => page(k, limit),
    };
    Ok(Listed::Page {
        ids: ids
            .into_iter()
            .map(|n| ulid::Ulid::from(n).to_string())
            .collect(),
        total: fruit.total,
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Best` keeps exactly what sorting everything and taking the first `n` gives, whatever
    /// the arrival order, duplicates of keys, direction and `n`.
    #[test]
    fn best_keeps_the_first_n_in_list_order() {
        let mut seed = 12345u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
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
        let (schema, f) = fields::schema();
        let index = tantivy::Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 20_000_000).unwrap();
        writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        let mut seed = 99u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
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
                let next_fu = if next() % 3 == 0 {
                    fields::NO_NEXT_FOLLOWUP
                } else {
                    (next() % 4) as i64
                };
                let name = here[(next() % here.len() as u64) as usize].to_string();
                let mut d = tantivy::TantivyDocument::default();
                d.add_text(f.id, ulid::Ulid::from(id).to_string());
                d.add_u64(f.id_hi, (id >> 64) as u64);
                d.add_u64(f.id_lo, id as u64);
                d.add_i64(f.updated, updated);
                d.add_i64(f.next_fu, next_fu);
                d.add_text(f.name_key, &name);
                writer.add_document(d).unwrap();
                all.push((id, updated, next_fu, name));
            }
            writer.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 4);
        let sorts = [
            ListSort::Id,
            ListSort::Updated,
            ListSort::NextFollowup,
            ListSort::Name,
        ];
        for sort in sorts {
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

    #[test]
    fn flip_keeps_the_order() {
        assert!(flip(-5) < flip(0) && flip(0) < flip(7) && flip(7) < flip(i64::MAX));
        assert!(flip(i64::MIN) < flip(-5));
    }
}
