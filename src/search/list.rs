//! The customer list served from the index: the filters become required clauses, every match
//! contributes only its sort key and id (read from fast fields, never from the store), and the
//! page after the cursor is selected from those keys. Ordering is (key, id) ascending, or the
//! exact reverse for the descending orders, like the list's reference implementation in
//! `service::customer_list`.

use std::ops::Bound;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
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

/// Sort keys of the matches of one segment (or of all, once merged).
enum Keys {
    Num(Vec<(u64, u128)>),
    Name(Vec<(Vec<u8>, u128)>),
}

struct KeyCollector {
    sort: ListSort,
}

enum Primary {
    Zero,
    I64(Column<i64>),
    Name(Option<StrColumn>),
}

struct SegmentKeys {
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    primary: Primary,
    num: Vec<(u64, u128)>,
    /// Name sort: (term ordinal in this segment's dictionary or `u64::MAX` for none, id).
    ords: Vec<(u64, u128)>,
    /// A match without a ULID id was seen.
    unordered: bool,
}

impl Collector for KeyCollector {
    type Fruit = Option<Keys>;
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
            ListSort::Name => Primary::Name(ff.str("name_key")?),
        };
        Ok(SegmentKeys {
            id_hi: ff.u64("id_hi")?,
            id_lo: ff.u64("id_lo")?,
            primary,
            num: Vec::new(),
            ords: Vec::new(),
            unordered: false,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Option<Keys>>) -> tantivy::Result<Option<Keys>> {
        let mut num = Vec::new();
        let mut names = Vec::new();
        for fruit in fruits {
            match fruit {
                None => return Ok(None),
                Some(Keys::Num(v)) => num.extend(v),
                Some(Keys::Name(v)) => names.extend(v),
            }
        }
        Ok(Some(match self.sort {
            ListSort::Name => Keys::Name(names),
            _ => Keys::Num(num),
        }))
    }
}

impl SegmentCollector for SegmentKeys {
    type Fruit = Option<Keys>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let (Some(hi), Some(lo)) = (self.id_hi.first(doc), self.id_lo.first(doc)) else {
            self.unordered = true;
            return;
        };
        let id = (u128::from(hi) << 64) | u128::from(lo);
        match &self.primary {
            Primary::Zero => self.num.push((0, id)),
            Primary::I64(col) => self
                .num
                .push((flip(col.first(doc).unwrap_or(fields::NO_NEXT_FOLLOWUP)), id)),
            Primary::Name(col) => {
                let ord = col
                    .as_ref()
                    .and_then(|c| c.term_ords(doc).next())
                    .unwrap_or(u64::MAX);
                self.ords.push((ord, id));
            }
        }
    }

    fn harvest(self) -> Option<Keys> {
        if self.unordered {
            return None;
        }
        let Primary::Name(col) = self.primary else {
            return Some(Keys::Num(self.num));
        };
        // Resolve the distinct ordinals to names in one pass over the dictionary.
        let mut distinct: Vec<u64> = self
            .ords
            .iter()
            .map(|(o, _)| *o)
            .filter(|o| *o != u64::MAX)
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
        let keys = self
            .ords
            .into_iter()
            .map(|(ord, id)| {
                let name = distinct
                    .binary_search(&ord)
                    .ok()
                    .and_then(|i| names.get(i).cloned())
                    .unwrap_or_default();
                (name, id)
            })
            .collect();
        Some(Keys::Name(keys))
    }
}

/// The page after `cursor` in (key, id) order (reversed when `descending`).
fn page<K: Ord + Clone>(
    mut keys: Vec<(K, u128)>,
    descending: bool,
    cursor: Option<u128>,
    limit: usize,
) -> Option<(Vec<u128>, usize, bool)> {
    let total = keys.len();
    if let Some(cur) = cursor {
        let at = keys.iter().find(|(_, id)| *id == cur)?.clone();
        keys.retain(|k| if descending { *k < at } else { *k > at });
    }
    let after = keys.len();
    let order = |a: &(K, u128), b: &(K, u128)| {
        if descending { b.cmp(a) } else { a.cmp(b) }
    };
    if keys.len() > limit {
        keys.select_nth_unstable_by(limit, order);
        keys.truncate(limit);
    }
    keys.sort_unstable_by(order);
    Some((
        keys.into_iter().map(|(_, id)| id).collect(),
        total,
        after > limit,
    ))
}

pub fn run(searcher: &Searcher, f: &Fields, req: &ListRequest) -> tantivy::Result<Listed> {
    let query = list_query(f, req);
    let cursor = match req.cursor.as_deref() {
        Some(c) => match fields::ulid_of(c) {
            Some(n) => Some(n),
            None => return Ok(Listed::CursorGone),
        },
        None => None,
    };
    let limit = req.limit.max(1);
    let Some(keys) = searcher.search(&query, &KeyCollector { sort: req.sort })? else {
        return Ok(Listed::Unordered);
    };
    let selected = match keys {
        Keys::Num(k) => page(k, req.descending, cursor, limit),
        Keys::Name(k) => page(k, req.descending, cursor, limit),
    };
    Ok(match selected {
        None => Listed::CursorGone,
        Some((ids, total, more)) => Listed::Page {
            ids: ids
                .into_iter()
                .map(|n| ulid::Ulid::from(n).to_string())
                .collect(),
            total,
            more,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_in_both_directions() {
        let keys: Vec<(u64, u128)> = vec![(2, 5), (1, 9), (2, 3), (0, 7)];
        // Ascending: (0,7) (1,9) (2,3) (2,5).
        assert_eq!(
            page(keys.clone(), false, None, 2),
            Some((vec![7, 9], 4, true))
        );
        assert_eq!(
            page(keys.clone(), false, Some(9), 2),
            Some((vec![3, 5], 4, false))
        );
        assert_eq!(
            page(keys.clone(), true, None, 3),
            Some((vec![5, 3, 9], 4, true))
        );
        assert_eq!(
            page(keys.clone(), true, Some(9), 3),
            Some((vec![7], 4, false))
        );
        assert_eq!(page(keys, false, Some(1), 2), None);
    }

    #[test]
    fn flip_keeps_the_order() {
        assert!(flip(-5) < flip(0) && flip(0) < flip(7) && flip(7) < flip(i64::MAX));
        assert!(flip(i64::MIN) < flip(-5));
    }
}
