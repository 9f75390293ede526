//! Match counts and facet counts in one pass over the matches, from fast columns.
//!
//! Each facet (stage, grade, owner, channel) is a single-valued string fast column (every
//! document has exactly one value, [`NONE`] when the customer has none), so counting a match
//! is one bit-packed read and one increment per facet: no stored fields, no facet paths, no
//! per-value dictionary walk. Values are read 64 matches at a time, and turned back into strings
//! once per segment, only for the term ordinals that were counted. [`Counts::up_to`] reads them
//! only for the first N matches (a search matching a large part of the book): the counts are
//! then lower bounds and say so. [`Columns`] keeps each segment's opened columns across
//! searches (a segment never changes; deletions only mark documents).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, ColumnValues, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

/// The facets a search can count, in the order of the columns ([`COLUMNS`]).
pub const FACETS: [&str; 4] = ["stage", "grade", "owner", "channel"];
/// The fast column of each facet in [`FACETS`].
pub const COLUMNS: [&str; 4] = ["f_stage", "f_grade", "f_owner", "f_channel"];
/// The column value of a customer without one (no grade, no channel): never counted.
pub const NONE: &str = "\u{1}";

/// Counts every match; with `facets`, also the matches per facet value (every match: exact).
pub struct Counts {
    pub facets: bool,
}

impl Counts {
    /// The same counts, but facet values only of the first `cap` matches (in segment and
    /// document order); past that the facet counts are lower bounds, flagged
    /// [`Counted::facets_at_least`]. The total still counts every match.
    pub fn up_to(self, cap: usize) -> CountsUpTo {
        CountsUpTo {
            facets: self.facets,
            left: Arc::new(AtomicUsize::new(cap)),
            columns: None,
        }
    }
}

/// [`Counts`] with a cap on the matches whose facet values are read ([`Counts::up_to`]).
pub struct CountsUpTo {
    facets: bool,
    /// Matches that may still be faceted, shared by the segments (searched one after another).
    left: Arc<AtomicUsize>,
    /// Where each segment's opened columns are kept between searches, if anywhere.
    columns: Option<Arc<Columns>>,
}

impl CountsUpTo {
    /// Takes each segment's facet columns from `columns` (opening them there the first time)
    /// instead of opening them for this search alone.
    pub fn with_columns(mut self, columns: Arc<Columns>) -> CountsUpTo {
        self.columns = Some(columns);
        self
    }
}

/// One segment's facet columns as opened, ready to count with ([`COLUMNS`] order).
#[derive(Clone)]
struct OpenColumn {
    column: StrColumn,
    ords: Arc<dyn ColumnValues<u64>>,
    dense: bool,
}

fn open_columns(reader: &SegmentReader) -> tantivy::Result<Arc<[OpenColumn]>> {
    let ff = reader.fast_fields();
    let mut out = Vec::with_capacity(COLUMNS.len());
    for name in COLUMNS {
        let column = ff.str(name)?.ok_or_else(|| {
            tantivy::TantivyError::SchemaError(format!("fast column {name} missing"))
        })?;
        let dense = column.ords().get_cardinality() == Cardinality::Full;
        let ords = if dense {
            column.ords().values.clone()
        } else {
            // A document without a value (none is written so) reads as an unknown ordinal.
            column.ords().clone().first_or_default_col(u64::MAX)
        };
        out.push(OpenColumn {
            column,
            ords,
            dense,
        });
    }
    Ok(out.into())
}

/// The opened facet columns of each segment, kept across searches: opening the four columns of
/// every segment per search cost about 0.3 ms at 10M customers (26 segments), even for a search
/// with a handful of matches. Keyed by segment id (a segment's columns never change); segments
/// that left the index (merged away) are dropped when a search sees a new searcher generation,
/// so their files are not held open.
#[derive(Default)]
pub struct Columns {
    segments: Mutex<HashMap<SegmentId, Arc<[OpenColumn]>>>,
    /// The searcher generation the kept segments were last checked against.
    generation: AtomicU64,
}

impl Columns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<[OpenColumn]>>> {
        self.segments.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<[OpenColumn]>> {
        let id = reader.segment_id();
        if let Some(open) = self.lock().get(&id) {
            return Ok(Arc::clone(open));
        }
        // Opened outside the lock; two searches may both open a new segment once.
        let open = open_columns(reader)?;
        self.lock().insert(id, Arc::clone(&open));
        Ok(open)
    }

    /// Forgets the segments `searcher` no longer has, once per searcher generation.
    pub fn retain(&self, searcher: &Searcher) {
        if let Some(live) = super::segments_if_new(&self.generation, searcher) {
            self.lock().retain(|id, _| live.contains(id));
        }
    }

    /// How many segments' columns are kept (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// What [`Counts`] found: the number of matches and, when asked, facet → value → count.
#[derive(Debug, Default)]
pub struct Counted {
    pub total: usize,
    pub facets: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// The facet counts cover only the first matches ([`Counts::up_to`]): each is at most the
    /// true count (a lower bound), never more.
    pub facets_at_least: bool,
}

struct FacetColumn {
    column: StrColumn,
    /// Term ordinal of each document: the column's values themselves when every document has
    /// one (row = document, read a block at a time), otherwise through its index.
    ords: Arc<dyn ColumnValues<u64>>,
    dense: bool,
    counts: Vec<u64>,
}

/// Matches buffered before their facet values are read together.
const BLOCK: usize = 64;

pub struct SegmentCounts {
    total: usize,
    columns: Vec<FacetColumn>,
    /// Matches this segment may still facet; `shared` is told what was used at harvest.
    budget: usize,
    used: usize,
    shared: Option<Arc<AtomicUsize>>,
    capped: bool,
    docs: [DocId; BLOCK],
    buffered: usize,
    vals: [u64; BLOCK],
}

fn segment_counts(
    facets: bool,
    reader: &SegmentReader,
    budget: usize,
    shared: Option<Arc<AtomicUsize>>,
    kept: Option<&Columns>,
) -> tantivy::Result<SegmentCounts> {
    let mut columns = Vec::new();
    if facets {
        let open = match kept {
            Some(kept) => kept.get(reader)?,
            None => open_columns(reader)?,
        };
        for c in open.iter() {
            columns.push(FacetColumn {
                column: c.column.clone(),
                ords: Arc::clone(&c.ords),
                dense: c.dense,
                counts: vec![0; c.column.num_terms()],
            });
        }
    }
    Ok(SegmentCounts {
        total: 0,
        columns,
        budget,
        used: 0,
        shared,
        capped: false,
        docs: [0; BLOCK],
        buffered: 0,
        vals: [0; BLOCK],
    })
}

impl Collector for Counts {
    type Fruit = Counted;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        segment_counts(self.facets, reader, usize::MAX, None, None)
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<Counted> {
        merge(self.facets, fruits)
    }
}

impl Collector for CountsUpTo {
    type Fruit = Counted;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        let budget = self.left.load(Ordering::SeqCst);
        segment_counts(
            self.facets,
            reader,
            budget,
            Some(Arc::clone(&self.left)),
            self.columns.as_deref(),
        )
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<Counted> {
        merge(self.facets, fruits)
    }
}

fn merge(asked: bool, fruits: Vec<SegmentFruit>) -> tantivy::Result<Counted> {
    let mut out = Counted::default();
    let mut facets: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut value = String::new();
    for fruit in fruits {
        out.total += fruit.total;
        out.facets_at_least |= fruit.capped;
        for (name, c) in FACETS.iter().zip(fruit.columns) {
            let into = facets.entry(name.to_string()).or_default();
            for (ord, n) in c.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                value.clear();
                if !c.column.ord_to_str(ord as u64, &mut value)? {
                    return Err(tantivy::TantivyError::InternalError(format!(
                        "facet {name}: no value for term ordinal {ord}"
                    )));
                }
                if value != NONE {
                    *into.entry(value.clone()).or_insert(0) += n;
                }
            }
        }
    }
    if asked {
        for name in FACETS {
            facets.entry(name.to_string()).or_default();
        }
        out.facets = Some(facets);
    } else {
        out.facets_at_least = false;
    }
    Ok(out)
}

/// One segment's counts; facet values are resolved to strings when the segments are merged.
pub struct SegmentFruit {
    total: usize,
    columns: Vec<FacetColumn>,
    capped: bool,
}

impl SegmentCounts {
    #[inline]
    fn count(&mut self, doc: DocId) {
        self.total += 1;
        if self.columns.is_empty() {
            return;
        }
        if self.used == self.budget {
            self.capped = true;
            return;
        }
        self.used += 1;
        self.docs[self.buffered] = doc;
        self.buffered += 1;
        if self.buffered == BLOCK {
            self.flush();
        }
    }

    /// Reads the buffered matches' values column by column and counts them.
    fn flush(&mut self) {
        let docs = &self.docs[..self.buffered];
        for c in &mut self.columns {
            let vals = &mut self.vals[..docs.len()];
            if c.dense {
                c.ords.get_vals(docs, vals);
            } else {
                for (v, doc) in vals.iter_mut().zip(docs) {
                    *v = c.ords.get_val(*doc);
                }
            }
            for v in vals.iter() {
                if let Some(n) = c.counts.get_mut(*v as usize) {
                    *n += 1;
                }
            }
        }
        self.buffered = 0;
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.count(doc);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        if self.columns.is_empty() {
            self.total += docs.len();
            return;
        }
        for doc in docs {
            self.count(*doc);
        }
    }

    fn harvest(mut self) -> SegmentFruit {
        self.flush();
        if let Some(shared) = &self.shared {
            let used = self.used;
            // Never below zero, whatever order segments finish in.
            let _ = shared.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                Some(left.saturating_sub(used))
            });
        }
        SegmentFruit {
            total: self.total,
            columns: self.columns,
            capped: self.capped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fields;
    use tantivy::query::{AllQuery, TermQuery};
    use tantivy::schema::IndexRecordOption;
    use tantivy::{Index, TantivyDocument, Term};

    fn doc(f: &fields::Fields, id: &str, values: [Option<&str>; 4]) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(f.id, id);
        for (field, v) in f.facets.iter().zip(values) {
            d.add_text(*field, v.unwrap_or(NONE));
        }
        d
    }

    #[test]
    fn counts_every_match_per_value_across_segments_without_deleted_or_missing_values() {
        let (schema, f) = fields::schema();
        let index = Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let mut w = index.writer_with_num_threads(1, 20_000_000).unwrap();
        // Three segments; values differ between them (each has its own dictionary).
        let rows: [(&str, [Option<&str>; 4]); 7] = [
            ("a", [Some("lead"), Some("A"), Some("u1"), Some("抖音")]),
            ("b", [Some("lead"), None, Some("u2"), None]),
            ("c", [Some("won"), Some("B"), Some("-"), Some("抖音")]),
            ("d", [Some("lead"), Some("A"), Some("u1"), Some("转介绍")]),
            ("e", [Some("lost"), Some("C"), Some("u3"), None]),
            ("f", [Some("won"), Some("A"), Some("u2"), Some("转介绍")]),
            ("g", [Some("lead"), None, Some("u1"), None]),
        ];
        for (i, (id, values)) in rows.iter().enumerate() {
            w.add_document(doc(&f, id, *values)).unwrap();
            if i % 3 == 2 {
                w.commit().unwrap();
            }
        }
        w.commit().unwrap();
        // A deleted document is neither counted nor faceted.
        w.delete_term(Term::from_field_text(f.id, "e"));
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() >= 2);

        let got = searcher
            .search(&AllQuery, &Counts { facets: true })
            .unwrap();
        assert_eq!(got.total, 6);
        let facets = got.facets.unwrap();
        let want = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(facets["stage"], want(&[("lead", 4), ("won", 2)]));
        assert_eq!(facets["grade"], want(&[("A", 3), ("B", 1)]));
        assert_eq!(facets["owner"], want(&[("-", 1), ("u1", 3), ("u2", 2)]));
        assert_eq!(facets["channel"], want(&[("抖音", 2), ("转介绍", 2)]));

        // Only the matches are counted; without facets, only the total.
        let q = TermQuery::new(Term::from_field_text(f.id, "b"), IndexRecordOption::Basic);
        let one = searcher.search(&q, &Counts { facets: true }).unwrap();
        assert_eq!(one.total, 1);
        let facets = one.facets.unwrap();
        assert_eq!(facets["grade"], want(&[]));
        assert_eq!(facets["channel"], want(&[]));
        assert_eq!(facets["owner"], want(&[("u2", 1)]));
        let bare = searcher
            .search(&AllQuery, &Counts { facets: false })
            .unwrap();
        assert_eq!((bare.total, bare.facets), (6, None));
    }

    #[test]
    fn capped_counts_are_lower_bounds_flagged_and_exact_under_the_cap() {
        let (schema, f) = fields::schema();
        let index = Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let mut w = index.writer_with_num_threads(1, 20_000_000).unwrap();
        let stages = ["lead", "won", "lost"];
        let owners = ["u1", "u2", "u3", "u4"];
        // 300 customers in four segments (more than one 64-match block per segment).
        for i in 0..300usize {
            let id = format!("c{i}");
            let grade = (i % 5 == 0).then_some("A");
            let values = [
                Some(stages[i % 3]),
                grade,
                Some(owners[i % 4]),
                (i % 2 == 0).then_some("抖音"),
            ];
            w.add_document(doc(&f, &id, values)).unwrap();
            if i % 75 == 74 {
                w.commit().unwrap();
            }
        }
        w.commit().unwrap();
        w.delete_term(Term::from_field_text(f.id, "c7"));
        w.delete_term(Term::from_field_text(f.id, "c150"));
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() >= 2);
        let exact = searcher
            .search(&AllQuery, &Counts { facets: true })
            .unwrap();
        assert_eq!(exact.total, 298);
        assert!(!exact.facets_at_least);
        let exact_facets = exact.facets.unwrap();
        for cap in [0, 1, 63, 64, 65, 100, 297, 298, 299, 10_000] {
            let got = searcher
                .search(&AllQuery, &Counts { facets: true }.up_to(cap))
                .unwrap();
            // The total is never capped.
            assert_eq!(got.total, 298, "cap {cap}");
            assert_eq!(got.facets_at_least, cap < 298, "cap {cap}");
            let facets = got.facets.unwrap();
            if cap >= 298 {
                assert_eq!(facets, exact_facets, "cap {cap}");
                continue;
            }
            // Every count is at most the true one, and exactly `cap` matches were counted
            // (every customer has a stage and an owner).
            for (name, values) in &facets {
                for (value, n) in values {
                    assert!(*n <= exact_facets[name][value], "cap {cap}: {name}/{value}");
                }
            }
            assert_eq!(
                facets["stage"].values().sum::<u64>(),
                cap as u64,
                "cap {cap}"
            );
            assert_eq!(
                facets["owner"].values().sum::<u64>(),
                cap as u64,
                "cap {cap}"
            );
            assert_eq!(facets.len(), 4);
        }
        // Without facets nothing is flagged, whatever the cap.
        let bare = searcher
            .search(&AllQuery, &Counts { facets: false }.up_to(1))
            .unwrap();
        assert_eq!(
            (bare.total, bare.facets, bare.facets_at_least),
            (298, None, false)
        );
    }

    /// Columns kept between searches count exactly what freshly opened ones do, are opened
    /// once per segment, and are let go when their segment is merged away.
    #[test]
    fn kept_columns_count_the_same_and_leave_with_merged_segments() {
        let (schema, f) = fields::schema();
        let index = Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let mut w: tantivy::IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
        for i in 0..90usize {
            let values = [
                Some(["lead", "won"][i % 2]),
                (i % 3 == 0).then_some("A"),
                Some(["u1", "u2", "u3"][i % 3]),
                None,
            ];
            w.add_document(doc(&f, &format!("c{i}"), values)).unwrap();
            if i % 30 == 29 {
                w.commit().unwrap();
            }
        }
        w.delete_term(Term::from_field_text(f.id, "c4"));
        w.commit().unwrap();
        let reader = index.reader().unwrap();
        let searcher = reader.searcher();
        let segments = searcher.segment_readers().len();
        assert!(segments >= 3);
        let kept = Arc::new(Columns::default());
        kept.retain(&searcher);
        let fresh = searcher
            .search(&AllQuery, &Counts { facets: true })
            .unwrap();
        for cap in [usize::MAX, 40] {
            for _ in 0..2 {
                let got = searcher
                    .search(
                        &AllQuery,
                        &Counts { facets: true }
                            .up_to(cap)
                            .with_columns(Arc::clone(&kept)),
                    )
                    .unwrap();
                let want = searcher
                    .search(&AllQuery, &Counts { facets: true }.up_to(cap))
                    .unwrap();
                assert_eq!(got.total, fresh.total);
                assert_eq!(got.facets, want.facets, "cap {cap}");
                assert_eq!(got.facets_at_least, want.facets_at_least);
                assert_eq!(kept.len(), segments);
            }
        }
        let ids = index.searchable_segment_ids().unwrap();
        w.merge(&ids).wait().unwrap();
        w.commit().unwrap();
        reader.reload().unwrap();
        let merged = reader.searcher();
        assert_eq!(merged.segment_readers().len(), 1);
        kept.retain(&merged);
        assert_eq!(kept.len(), 0, "the merged-away segments are let go");
        let got = merged
            .search(
                &AllQuery,
                &Counts { facets: true }
                    .up_to(usize::MAX)
                    .with_columns(Arc::clone(&kept)),
            )
            .unwrap();
        assert_eq!(got.facets, fresh.facets);
        assert_eq!(kept.len(), 1);
    }
}
