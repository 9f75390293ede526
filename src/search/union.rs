//! "Any of these clauses", with each clause's scorer moved only when the union is asked to move.
//!
//! tantivy's union of SHOULD clauses (`BufferedUnionScorer`) scores every document of a
//! 4,096-document window ahead of time. That is fast when the union drives the search, and slow
//! when another clause does and the union is only asked "is this document in you?": each such
//! seek past the window clears it and refills it from every clause. Two places do exactly that:
//! a city word beside a name fragment (`郑州 瑶婉`: the city's clauses hold ~5% of the book, the
//! name's a few hundred documents) and the caller's scope (department, collaborations and pools,
//! one of which may hold most of the book). [`AnyOf`] seeks each clause's posting list instead.
//!
//! The matches and the scores are the ones a `BooleanQuery` of SHOULD clauses gives: a document
//! matches when one clause does, and its score is the sum of the matching clauses' scores,
//! added in clause order (as the buffered union adds them), so rankings do not move. Its cost
//! and size estimate are the buffered union's too, so an intersection orders its parts as before.

use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

/// Matches what any of the clauses matches; scores the sum of the matching clauses' scores.
#[derive(Debug)]
pub struct AnyOf {
    clauses: Vec<Box<dyn Query>>,
}

impl AnyOf {
    pub fn new(clauses: Vec<Box<dyn Query>>) -> AnyOf {
        AnyOf { clauses }
    }
}

impl Clone for AnyOf {
    fn clone(&self) -> AnyOf {
        AnyOf {
            clauses: self.clauses.iter().map(|q| q.box_clone()).collect(),
        }
    }
}

impl Query for AnyOf {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weights = self
            .clauses
            .iter()
            .map(|q| q.weight(enable_scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(AnyOfWeight { weights }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for q in &self.clauses {
            q.query_terms(visitor);
        }
    }
}

struct AnyOfWeight {
    weights: Vec<Box<dyn Weight>>,
}

/// Whether a clause's scorer has anything in its segment (the buffered union drops the others
/// too, and so does [`union_of`]).
pub(super) fn has_matches(s: &dyn Scorer) -> bool {
    !s.is::<EmptyScorer>() && s.doc() != TERMINATED
}

/// The union of these clause scorers (in clause order) as [`AnyOf`] scores it: clauses with
/// nothing in the segment left out, a single clause as itself (as tantivy's union does).
pub(super) fn union_of(scorers: Vec<Box<dyn Scorer>>, num_docs: u32) -> Box<dyn Scorer> {
    let mut scorers: Vec<Box<dyn Scorer>> = scorers
        .into_iter()
        .filter(|s| has_matches(s.as_ref()))
        .collect();
    match scorers.len() {
        0 => Box::new(EmptyScorer),
        1 => scorers.pop().unwrap_or_else(|| Box::new(EmptyScorer)),
        _ => Box::new(AnyOfScorer::new(scorers, num_docs)),
    }
}

impl AnyOf {
    /// The clauses, in order.
    pub(super) fn clauses(&self) -> &[Box<dyn Query>] {
        &self.clauses
    }
}

impl Weight for AnyOfWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut scorers = Vec::with_capacity(self.weights.len());
        for w in &self.weights {
            scorers.push(w.scorer(reader, boost)?);
        }
        Ok(union_of(scorers, reader.num_docs()))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut parts = Vec::new();
        for w in &self.weights {
            if let Ok(e) = w.explain(reader, doc) {
                parts.push(e);
            }
        }
        if parts.is_empty() {
            return Err(TantivyError::InvalidArgument(format!(
                "Document #({doc}) does not match"
            )));
        }
        let mut out = Explanation::new("any of", parts.iter().map(Explanation::value).sum());
        for e in parts {
            out.add_detail(e);
        }
        Ok(out)
    }
}

struct AnyOfScorer {
    scorers: Vec<Box<dyn Scorer>>,
    doc: DocId,
    num_docs: u32,
}

impl AnyOfScorer {
    fn new(scorers: Vec<Box<dyn Scorer>>, num_docs: u32) -> AnyOfScorer {
        let doc = scorers.iter().map(|s| s.doc()).min().unwrap_or(TERMINATED);
        AnyOfScorer {
            scorers,
            doc,
            num_docs,
        }
    }
}

impl DocSet for AnyOfScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let mut next = TERMINATED;
        for s in &mut self.scorers {
            let d = if s.doc() == self.doc {
                s.advance()
            } else {
                s.doc()
            };
            next = next.min(d);
        }
        self.doc = next;
        next
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        let mut next = TERMINATED;
        for s in &mut self.scorers {
            let d = if s.doc() < target {
                s.seek(target)
            } else {
                s.doc()
            };
            next = next.min(d);
        }
        self.doc = next;
        next
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    /// The buffered union's estimate (`tantivy::query::size_hint::estimate_union`).
    fn size_hint(&self) -> u32 {
        let max_docs = self.num_docs;
        if max_docs == 0 {
            return 0;
        }
        let mut not_in_any = 1.0f64;
        for s in &self.scorers {
            not_in_any *= 1.0 - (s.size_hint() as f64 / max_docs as f64) * 0.8;
        }
        (max_docs as f64 * (1.0 - not_in_any))
            .round()
            .min(max_docs as f64) as u32
    }

    fn cost(&self) -> u64 {
        self.scorers.iter().map(|s| s.cost()).sum()
    }
}

impl Scorer for AnyOfScorer {
    fn score(&mut self) -> Score {
        let mut score: Score = 0.0;
        for s in &mut self.scorers {
            if s.doc() == self.doc {
                score += s.score();
            }
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, TermQuery};
    use tantivy::schema::{IndexRecordOption, STRING, Schema, TEXT};
    use tantivy::{DocAddress, Index, TantivyDocument};

    /// Ranked pages of the same queries through a SHOULD `BooleanQuery` and through [`AnyOf`],
    /// alone and intersected with a second word and a filter (the seek path), are equal, scores
    /// to the bit.
    #[test]
    fn matches_and_scores_like_a_boolean_union() {
        let mut sb = Schema::builder();
        let a = sb.add_text_field("a", TEXT);
        let b = sb.add_text_field("b", TEXT);
        let k = sb.add_text_field("k", STRING);
        let index = Index::create_in_ram(sb.build());
        let mut w = index.writer_with_num_threads(1, 20_000_000).unwrap();
        // Enough documents for several 4,096-document windows; words spread unevenly.
        for i in 0..20_000u32 {
            let mut d = TantivyDocument::default();
            let mut text = String::new();
            if i % 3 == 0 {
                text.push_str("city ");
            }
            if i % 7 == 0 {
                text.push_str("city city ");
            }
            if i % 101 == 0 {
                text.push_str("name ");
            }
            d.add_text(a, &text);
            d.add_text(b, if i % 5 == 0 { "city road" } else { "road" });
            d.add_text(k, if i % 2 == 0 { "even" } else { "odd" });
            w.add_document(d).unwrap();
            if i == 9_000 {
                w.commit().unwrap();
            }
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let term = |f, t: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(f, t),
                IndexRecordOption::WithFreqs,
            ))
        };
        let clauses = |word: &str| -> Vec<Box<dyn Query>> {
            vec![
                Box::new(BoostQuery::new(term(a, word), 3.0)),
                term(b, word),
                Box::new(BoostQuery::new(term(a, "missing"), 2.0)),
            ]
        };
        let bool_union = |word: &str| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                clauses(word)
                    .into_iter()
                    .map(|q| (Occur::Should, q))
                    .collect(),
            ))
        };
        let any_of = |word: &str| -> Box<dyn Query> { Box::new(AnyOf::new(clauses(word))) };
        let run = |q: &dyn Query| -> (Vec<(Score, DocAddress)>, usize) {
            searcher
                .search(
                    q,
                    &(
                        TopDocs::with_limit(50).order_by_score(),
                        tantivy::collector::Count,
                    ),
                )
                .unwrap()
        };
        let intersected = |u: &dyn Fn(&str) -> Box<dyn Query>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, u("city")),
                (Occur::Must, u("name")),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(k, "odd"),
                        IndexRecordOption::Basic,
                    )),
                ),
            ]))
        };
        for word in ["city", "name", "road"] {
            let (want, want_n) = run(bool_union(word).as_ref());
            let (got, got_n) = run(any_of(word).as_ref());
            assert!(want_n > 0, "{word}");
            assert_eq!(got_n, want_n, "{word}");
            assert_eq!(got, want, "{word}");
        }
        let (want, want_n) = run(intersected(&bool_union).as_ref());
        let (got, got_n) = run(intersected(&any_of).as_ref());
        assert!(want_n > 0);
        assert_eq!((got, got_n), (want, want_n));
        // Explanations add up to the score.
        let q = any_of("city");
        let (top, _) = run(q.as_ref());
        let e = q.explain(&searcher, top[0].1).unwrap();
        assert!((e.value() - top[0].0).abs() < 1e-4);
        // A union of one clause in a segment is that clause's own scorer.
        let weight = AnyOf::new(vec![term(a, "name"), term(a, "missing")])
            .weight(EnableScoring::enabled_from_searcher(&searcher))
            .unwrap();
        let s = weight.scorer(searcher.segment_reader(0), 1.0).unwrap();
        assert!(!s.is::<AnyOfScorer>());
    }
}
