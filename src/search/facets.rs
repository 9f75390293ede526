//! Match counts and facet counts in one pass over the matches, from fast columns.
//!
//! Each facet (stage, grade, owner, channel) is a single-valued string fast column (every
//! document has exactly one value, [`NONE`] when the customer has none), so counting a match
//! is one bit-packed read and one increment per facet: no stored fields, no facet paths, no
//! per-value dictionary walk. Values are turned back into strings once per segment, only for
//! the term ordinals that were counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnValues, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// The facets a search can count, in the order of the columns ([`COLUMNS`]).
pub const FACETS: [&str; 4] = ["stage", "grade", "owner", "channel"];
/// The fast column of each facet in [`FACETS`].
pub const COLUMNS: [&str; 4] = ["f_stage", "f_grade", "f_owner", "f_channel"];
/// The column value of a customer without one (no grade, no channel): never counted.
pub const NONE: &str = "\u{1}";

/// Counts every match; with `facets`, also the matches per facet value.
pub struct Counts {
    pub facets: bool,
}

/// What [`Counts`] found: the number of matches and, when asked, facet → value → count.
#[derive(Debug, Default)]
pub struct Counted {
    pub total: usize,
    pub facets: Option<BTreeMap<String, BTreeMap<String, u64>>>,
}

struct FacetColumn {
    column: StrColumn,
    /// Term ordinal of each document (dense: every document has one).
    ords: Arc<dyn ColumnValues<u64>>,
    counts: Vec<u64>,
}

pub struct SegmentCounts {
    total: usize,
    columns: Vec<FacetColumn>,
}

impl Collector for Counts {
    type Fruit = Counted;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        let mut columns = Vec::new();
        if self.facets {
            let ff = reader.fast_fields();
            for name in COLUMNS {
                let column = ff.str(name)?.ok_or_else(|| {
                    tantivy::TantivyError::SchemaError(format!("fast column {name} missing"))
                })?;
                // A document without a value (none is written so) reads as an unknown ordinal.
                let ords = column.ords().clone().first_or_default_col(u64::MAX);
                let counts = vec![0; column.num_terms()];
                columns.push(FacetColumn {
                    column,
                    ords,
                    counts,
                });
            }
        }
        Ok(SegmentCounts { total: 0, columns })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<Counted> {
        let mut out = Counted::default();
        let mut facets: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut value = String::new();
        for fruit in fruits {
            out.total += fruit.total;
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
        if self.facets {
            for name in FACETS {
                facets.entry(name.to_string()).or_default();
            }
            out.facets = Some(facets);
        }
        Ok(out)
    }
}

/// One segment's counts; facet values are resolved to strings when the segments are merged.
pub struct SegmentFruit {
    total: usize,
    columns: Vec<FacetColumn>,
}

impl SegmentCounts {
    #[inline]
    fn count(&mut self, doc: DocId) {
        self.total += 1;
        for c in &mut self.columns {
            if let Some(n) = c.counts.get_mut(c.ords.get_val(doc) as usize) {
                *n += 1;
            }
        }
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

    fn harvest(self) -> SegmentFruit {
        SegmentFruit {
            total: self.total,
            columns: self.columns,
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
}
