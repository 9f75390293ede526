//! A search by one typed word within the caller's scope, whose best page is found without
//! scoring every match.
//!
//! A typed word is a lazy union ([`AnyOf`]) of the ways it can match; the scope is required and
//! scores nothing. When one way matches thousands of customers (a district and road in the
//! address text), scoring each of them is most of the search. [`Ranked`] gives tantivy's top-k
//! collector a `for_each_pruning` that hands that largest clause to tantivy's own block-max
//! pruning (block-max WAND over the posting lists of its words), scores the other clauses' few
//! matches exactly, and merges the two in document order; the total and the facets are then
//! counted in a separate pass that scores nothing. [`super::query::run`] takes this path only
//! for a word that is one address word matching many customers (a district at 10M,
//! [`super::query::TWO_PASSES_FROM`]); at 1M (2026-12-06) the two passes cost more than one
//! scored pass.
//!
//! Results are those of the plain query, scores to the bit: every document that can enter the
//! page reaches the collector, in document order, with its exact score (block-max pruning only
//! skips documents whose score cannot beat the page's current last one).

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight, intersect_scorers};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use super::union::{AnyOf, has_matches, union_of};

/// A segment whose largest clause has fewer postings than this is scored match by match: the
/// pruning's own set-up (a second pass over the other clauses) would cost more than it saves.
const PRUNE_FROM: u64 = 1_024;

/// The threshold handed to the pruned clause, a little below the page's last score: the
/// pruning adds a document's term scores in its own order, which can differ from the exact
/// score in the last bits; documents it lets through are scored exactly before they count.
fn lowered(threshold: Score) -> Score {
    if threshold > 0.0 {
        threshold * (1.0 - 1e-5)
    } else {
        threshold
    }
}

/// One typed word (its ways to match, scored as [`AnyOf`] scores them) within required clauses
/// that must score nothing (the caller's scope, a [`tantivy::query::ConstScoreQuery`] of 0).
/// Matches and scores are those of a `BooleanQuery` of the word and the scope as MUST clauses.
#[derive(Debug)]
pub struct Ranked {
    word: AnyOf,
    scope: Vec<Box<dyn Query>>,
}

impl Ranked {
    pub(super) fn new(word: AnyOf, scope: Vec<Box<dyn Query>>) -> Ranked {
        Ranked { word, scope }
    }

    /// The same word over every document (for a collector that applies the scope itself).
    pub(super) fn unscoped(&self) -> Ranked {
        Ranked {
            word: self.word.clone(),
            scope: Vec::new(),
        }
    }
}

impl Clone for Ranked {
    fn clone(&self) -> Ranked {
        Ranked {
            word: self.word.clone(),
            scope: self.scope.iter().map(|q| q.box_clone()).collect(),
        }
    }
}

impl Query for Ranked {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weigh = |qs: &[Box<dyn Query>]| {
            qs.iter()
                .map(|q| q.weight(enable_scoring))
                .collect::<tantivy::Result<Vec<_>>>()
        };
        Ok(Box::new(RankedWeight {
            clauses: weigh(self.word.clauses())?,
            scope: weigh(&self.scope)?,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.word.query_terms(visitor);
        for q in &self.scope {
            q.query_terms(visitor);
        }
    }
}

struct RankedWeight {
    clauses: Vec<Box<dyn Weight>>,
    scope: Vec<Box<dyn Weight>>,
}

impl RankedWeight {
    fn clause_scorers(&self, reader: &SegmentReader) -> tantivy::Result<Vec<Box<dyn Scorer>>> {
        self.clauses.iter().map(|w| w.scorer(reader, 1.0)).collect()
    }

    fn scope_scorers(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Vec<Box<dyn Scorer>>> {
        self.scope.iter().map(|w| w.scorer(reader, boost)).collect()
    }

    /// The word's union of `clauses` within the scope: the plain query's scorer.
    fn whole(
        &self,
        reader: &SegmentReader,
        clauses: Vec<Box<dyn Scorer>>,
        boost: Score,
    ) -> tantivy::Result<Box<dyn Scorer>> {
        let mut parts = vec![union_of(clauses, reader.num_docs())];
        parts.extend(self.scope_scorers(reader, boost)?);
        Ok(intersect_scorers(parts, reader.num_docs()))
    }
}

impl Weight for RankedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let clauses = self
            .clauses
            .iter()
            .map(|w| w.scorer(reader, boost))
            .collect::<tantivy::Result<Vec<_>>>()?;
        self.whole(reader, clauses, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut s = self.scorer(reader, 1.0)?;
        if s.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "Document #({doc}) does not match"
            )));
        }
        Ok(Explanation::new("one word within the scope", s.score()))
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let mut clauses = self.clause_scorers(reader)?;
        let largest = clauses
            .iter()
            .enumerate()
            .filter(|(_, s)| has_matches(s.as_ref()))
            .max_by_key(|(_, s)| s.cost())
            .map(|(i, s)| (i, s.cost()));
        let Some((largest, cost)) = largest else {
            return Ok(());
        };
        if cost < PRUNE_FROM {
            let mut whole = self.whole(reader, clauses, 1.0)?;
            score_all(whole.as_mut(), threshold, callback);
            return Ok(());
        }
        // The largest clause's own scorer scores the documents only it matches (their score is
        // its score alone); the documents the other clauses match are few and scored whole.
        let mut largest_exact = clauses.remove(largest);
        let mut others = union_of(clauses, reader.num_docs());
        let mut merge = Merge {
            others: Vec::new(),
            next: 0,
            scope: self.scope_scorers(reader, 1.0)?,
            whole: None,
            threshold,
        };
        let mut doc = others.doc();
        while doc != TERMINATED {
            merge.others.push(doc);
            doc = others.advance();
        }
        drop(others);
        let mut failed = None;
        self.clauses[largest].for_each_pruning(lowered(threshold), reader, &mut |doc, _| {
            if let Err(e) = merge.others_before(doc, self, reader, &mut *callback) {
                failed.get_or_insert(e);
                return Score::MAX;
            }
            // A document the other clauses match too is scored whole in its turn.
            if !merge.is_other(doc) && merge.in_scope(doc) && largest_exact.seek(doc) == doc {
                let score = largest_exact.score();
                if score > merge.threshold {
                    merge.threshold = callback(doc, score);
                }
            }
            lowered(merge.threshold)
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        merge.others_before(TERMINATED, self, reader, callback)
    }
}

/// Calls `callback` with every match scoring above the threshold, in document order (what
/// tantivy does for a scorer without pruning).
fn score_all(
    scorer: &mut dyn Scorer,
    mut threshold: Score,
    callback: &mut dyn FnMut(DocId, Score) -> Score,
) {
    let mut doc = scorer.doc();
    while doc != TERMINATED {
        let score = scorer.score();
        if score > threshold {
            threshold = callback(doc, score);
        }
        doc = scorer.advance();
    }
}

/// The documents of the other clauses, given to the collector in document order between the
/// pruned clause's documents.
struct Merge {
    /// Documents any of the other clauses matches, ascending.
    others: Vec<DocId>,
    /// The first of `others` not given yet.
    next: usize,
    scope: Vec<Box<dyn Scorer>>,
    /// Every clause's union, to score a document of `others` whole (opened when first needed).
    whole: Option<Box<dyn Scorer>>,
    threshold: Score,
}

impl Merge {
    fn in_scope(&mut self, doc: DocId) -> bool {
        self.scope.iter_mut().all(|s| {
            let at = if s.doc() < doc { s.seek(doc) } else { s.doc() };
            at == doc
        })
    }

    fn is_other(&self, doc: DocId) -> bool {
        self.others[self.next..].first() == Some(&doc)
    }

    /// Gives the collector the documents of `others` below `bound` that are in scope.
    fn others_before(
        &mut self,
        bound: DocId,
        weight: &RankedWeight,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        while let Some(&doc) = self.others.get(self.next) {
            if doc >= bound {
                break;
            }
            self.next += 1;
            if !self.in_scope(doc) {
                continue;
            }
            if self.whole.is_none() {
                let clauses = weight.clause_scorers(reader)?;
                self.whole = Some(union_of(clauses, reader.num_docs()));
            }
            let Some(whole) = self.whole.as_mut() else {
                continue;
            };
            let at = if whole.doc() < doc {
                whole.seek(doc)
            } else {
                whole.doc()
            };
            if at == doc {
                let score = whole.score();
                if score > self.threshold {
                    self.threshold = callback(doc, score);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::facets::{Columns, Counts};
    use crate::search::fields::{self, Fields};
    use crate::search::query::{self, Filters, Request, Restrict, Word};
    use crate::search::scope_sets::ScopeSets;
    use std::sync::Arc;
    use tantivy::collector::TopDocs;
    use tantivy::schema::Value;
    use tantivy::{DocAddress, Index, Searcher, TantivyDocument};

    const DISTRICTS: [&str; 4] = ["锦江区", "武侯区", "青羊区", "成华区"];
    const ROADS: [&str; 4] = ["春熙路", "人民南路", "红星路", "东大街"];
    const OWNERS: [&str; 5] = ["u1", "u2", "u3", "u4", "u5"];
    const ROWS: u64 = 16_000;
    /// Rows added after the deletions, in a segment of their own.
    const LATE: u64 = 3_000;

    /// Customers in four segments with deletions and one without: addresses of four districts and roads with
    /// notes of varying length (so their scores differ and tie), a few whose name, tag or city
    /// is the typed word itself (scored by other clauses, some also by the address).
    fn index() -> (Index, Fields) {
        let (schema, f) = fields::schema();
        let index = Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let mut w = index.writer_with_num_threads(1, 30_000_000).unwrap();
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for i in 0..ROWS + LATE {
            if i == ROWS {
                // The deletions, then a last segment without any.
                w.commit().unwrap();
                for i in (0..ROWS).filter(|i| i % 7 == 3 || i % 211 == 0 && i % 2 == 0) {
                    w.delete_term(tantivy::Term::from_field_text(f.id, &format!("c{i}")));
                }
                w.commit().unwrap();
            }
            let mut d = TantivyDocument::default();
            d.add_text(f.id, format!("c{i}"));
            // Half in one district and on one road: a quarter of a segment (over PRUNE_FROM)
            // matches both.
            let pick = |n: u64| if n < 3 { 0 } else { n as usize - 2 };
            let district = DISTRICTS[pick(next(6))];
            let road = ROADS[pick(next(6))];
            let mut text = format!("{district}{road}{}号", 1 + next(300));
            for _ in 0..next(6) {
                text.push_str(" 客户想办抵押贷款房子在附近");
            }
            if next(9) == 0 {
                text.push_str(&format!(" 常去{road}"));
            }
            d.add_text(f.text, &text);
            let special = ["锦江区春熙路", "锦江区"][next(2) as usize];
            match i % 211 {
                0 => d.add_text(f.name_exact, special),
                1 => d.add_text(f.tag, special),
                2 => d.add_text(f.city, special),
                _ => d.add_text(f.name_exact, format!("客户{i}")),
            }
            let owner = OWNERS[(i % 5) as usize];
            d.add_text(f.owner, owner);
            d.add_text(f.dept, if i % 5 < 2 { "d:a" } else { "d:b" });
            if i % 13 == 0 {
                d.add_text(f.collab, "u4");
            }
            if i % 17 == 0 {
                d.add_text(f.pool, "p1");
            }
            let values = [
                ["lead", "won", "lost"][(i % 3) as usize],
                ["A", "B", "\u{1}"][(i % 3) as usize],
                owner,
                ["抖音", "转介绍", "\u{1}", "官网"][(i % 4) as usize],
            ];
            for (field, v) in f.facets.iter().zip(values) {
                d.add_text(*field, v);
            }
            d.add_i64(f.created, i as i64);
            w.add_document(d).unwrap();
            if i % 5_000 == 4_999 {
                w.commit().unwrap();
            }
        }
        w.commit().unwrap();
        (index, f)
    }

    fn request(word: &str, restrict: &Restrict, offset: usize, limit: usize) -> Request {
        Request {
            words: vec![Word::Text(word.into())],
            restrict: restrict.clone(),
            filters: Filters::default(),
            offset,
            limit,
            facets: true,
        }
    }

    fn scopes() -> Vec<Restrict> {
        vec![
            Restrict::default(),
            Restrict {
                owners: Some(vec!["u1".into(), "u2".into()]),
                department: Some("d:a".into()),
                collaborator: "u4".into(),
                pools: vec!["p1".into()],
            },
            Restrict {
                owners: Some(vec!["u3".into()]),
                department: None,
                collaborator: "nobody".into(),
                pools: Vec::new(),
            },
        ]
    }

    fn page(
        searcher: &Searcher,
        q: &dyn Query,
        offset: usize,
        limit: usize,
    ) -> Vec<(Score, DocAddress)> {
        let top = TopDocs::with_limit(limit)
            .and_offset(offset)
            .order_by_score();
        searcher.search(q, &top).unwrap()
    }

    /// The page (scores to the bit, ties in the same order), the total and the facets of the
    /// pruned two-pass search equal those of the plain query scored match by match with its
    /// counts in the same pass (the path before), for every scope and several pages.
    #[test]
    fn pruned_pages_totals_and_facets_equal_the_plain_query() {
        let (index, f) = index();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() >= 4);
        assert!(searcher.segment_readers().iter().any(|r| r.has_deletes()));
        assert!(searcher.segment_readers().iter().any(|r| !r.has_deletes()));
        let columns = Arc::new(Columns::default());
        // One pass and two, with the scope's sets kept for every segment; and two passes with
        // the sets worked out per search (every segment small).
        let kept = [(u64::MAX, 0), (0, 0), (0, u32::MAX)].map(|(two_passes_from, from_docs)| {
            query::Kept {
                columns: Arc::clone(&columns),
                scopes: Arc::new(ScopeSets::from_docs(from_docs)),
                two_passes_from,
            }
        });
        let mut checked = 0;
        for word in ["锦江区春熙路", "锦江区", "春熙路", "东大街", "人民南路附近"]
        {
            for restrict in scopes() {
                for (offset, limit) in [(0, 20), (20, 20), (0, 1), (0, 150), (700, 20)] {
                    let req = request(word, &restrict, offset, limit);
                    let plain = query::build(&index, &f, &req);
                    let counts = || Counts { facets: true }.up_to(query::FACET_CAP);
                    let top = TopDocs::with_limit(limit)
                        .and_offset(offset)
                        .order_by_score();
                    let (want, want_counts) =
                        searcher.search(plain.as_ref(), &(top, counts())).unwrap();
                    let ranked = query::ranked(&index, &f, &req).unwrap();
                    let got = page(&searcher, &ranked, offset, limit);
                    assert_eq!(got, want, "{word} {restrict:?} {offset}+{limit}");
                    let got_counts = searcher
                        .search(&ranked, &counts().with_columns(Arc::clone(&columns)))
                        .unwrap();
                    assert_eq!(got_counts.total, want_counts.total, "{word} {restrict:?}");
                    assert_eq!(got_counts.facets, want_counts.facets, "{word} {restrict:?}");
                    assert_eq!(
                        got_counts.facets_at_least, want_counts.facets_at_least,
                        "{word} {restrict:?}"
                    );
                    // And the whole search, as the engine runs it: in one pass, in two, and
                    // with the scope read from kept sets in every segment.
                    let want_ids = ids(&searcher, &f, &want);
                    for kept in &kept {
                        let hits = query::run(&searcher, &index, &f, &req, Some(kept)).unwrap();
                        assert_eq!(hits.ids, want_ids, "{word} {restrict:?} {offset}+{limit}");
                        assert_eq!(hits.total, want_counts.total);
                        assert_eq!(Some(hits.facets), want_counts.facets);
                        assert_eq!(hits.facets_at_least, want_counts.facets_at_least);
                    }
                    checked += usize::from(!want.is_empty());
                }
            }
        }
        assert!(checked > 40);
        // The scope was read from sets, each worked out once per segment and scope.
        let built = kept.each_ref().map(|k| k.scopes.built());
        let segments = searcher.segment_readers().len() as u64;
        assert!(
            built[..2].iter().all(|b| *b > 0 && *b <= 2 * segments),
            "{built:?}"
        );
        assert_eq!(built[2], 0, "small segments keep nothing");
    }

    fn ids(searcher: &Searcher, f: &Fields, page: &[(Score, DocAddress)]) -> Vec<String> {
        page.iter()
            .map(|(_, a)| {
                let doc: TantivyDocument = searcher.doc(*a).unwrap();
                doc.get_first(f.id)
                    .and_then(|v| v.as_str())
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// Two passes only for one typed word that is one address word in at least the given number
    /// of documents: a district is; a district and road (an intersection) is not, however
    /// frequent; a pinyin word has no such word; a second word or a filter keeps one pass.
    #[test]
    fn two_passes_only_for_one_frequent_address_word() {
        let (index, f) = index();
        let searcher = index.reader().unwrap().searcher();
        let all = Restrict::default();
        let district = request("锦江区", &all, 0, 20);
        let df = searcher
            .doc_freq(&tantivy::Term::from_field_text(f.text, "锦江区"))
            .unwrap();
        assert!(df > 1_000);
        let two =
            |req: &Request, from: u64| query::takes_two_passes(&searcher, &index, &f, req, from);
        assert!(two(&district, df));
        assert!(!two(&district, df + 1));
        assert!(!two(&request("锦江区东大街", &all, 0, 20), 0));
        assert!(!two(&request("jinjiang", &all, 0, 20), 1));
        let mut filtered = district.clone();
        filtered.filters.stage = Some("lead".into());
        assert!(!two(&filtered, 0));
        let mut two_words = district.clone();
        two_words.words.push(Word::Text("春熙路".into()));
        assert!(!two(&two_words, 0));
    }

    /// What the pruning is for: on a segment where the address clause has thousands of
    /// matches, far fewer of them reach the collector than match, and the page is the same.
    #[test]
    fn the_largest_clause_is_pruned_by_block_maxima() {
        let (index, f) = index();
        let searcher = index.reader().unwrap().searcher();
        let req = request("锦江区", &Restrict::default(), 0, 20);
        let ranked = query::ranked(&index, &f, &req).unwrap();
        let weight = ranked
            .weight(EnableScoring::enabled_from_searcher(&searcher))
            .unwrap();
        let mut pruned_somewhere = false;
        for reader in searcher.segment_readers() {
            let matches = weight
                .scorer(reader, 1.0)
                .unwrap()
                .count_including_deleted();
            // A top-20 heap, as tantivy's collector keeps it.
            let mut top: Vec<Score> = Vec::new();
            let mut seen = 0u32;
            weight
                .for_each_pruning(Score::MIN, reader, &mut |_, score| {
                    seen += 1;
                    top.push(score);
                    top.sort_by(|a, b| b.total_cmp(a));
                    top.truncate(20);
                    if top.len() == 20 { top[19] } else { Score::MIN }
                })
                .unwrap();
            assert!(seen <= matches);
            if matches >= PRUNE_FROM as u32 && seen * 4 < matches {
                pruned_somewhere = true;
            }
        }
        assert!(pruned_somewhere);
    }

    /// A search with filters or several words keeps the one-pass path.
    #[test]
    fn only_one_word_without_filters_is_ranked() {
        let (index, f) = index();
        let mut req = request("锦江区", &Restrict::default(), 0, 20);
        assert!(query::ranked(&index, &f, &req).is_some());
        req.words.push(Word::Text("春熙路".into()));
        assert!(query::ranked(&index, &f, &req).is_none());
        let mut req = request("锦江区", &Restrict::default(), 0, 20);
        req.filters.stage = Some("lead".into());
        assert!(query::ranked(&index, &f, &req).is_none());
        req.filters.stage = None;
        req.words = vec![Word::Ids(vec!["c1".into()])];
        assert!(query::ranked(&index, &f, &req).is_none());
    }
}
