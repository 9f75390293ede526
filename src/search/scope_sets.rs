//! The caller's scope as one bit per document of a large segment, kept across searches.
//!
//! A salesperson's scope is a union of posting lists (the department's, the collaborations',
//! the pools'), hundreds of thousands of documents at 10M customers. Beside a word matching a
//! district (160,000 customers), checking each match against that union seeks three posting
//! lists per match, which was half of such a search. The union is the same for every search by
//! the same scope in the same segment (a segment never changes; deletions only mark documents,
//! and the collector skips those, as it does for the posting lists), so it is worked out once
//! per (segment, scope) as a bit set; each match is then one bit test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{
    DocId, DocSet, Score, SeekDangerResult, SegmentOrdinal, SegmentReader, TERMINATED, Term,
};

/// Segments with fewer documents keep the plain union: it is cheap to walk there, and small
/// segments come and go with every commit.
pub const FROM_DOCS: u32 = 65_536;

/// The most memory the kept sets take (a bit per document per scope: 1.2 MB per scope at 10M
/// customers). Past it, the sets of other scopes are dropped before a new one is kept.
pub const BUDGET_BYTES: usize = 64 << 20;

/// The kept sets, by segment and scope.
pub struct ScopeSets {
    from_docs: u32,
    kept: Mutex<Kept>,
    /// The searcher generation the kept segments were last checked against.
    generation: AtomicU64,
    /// How many sets were worked out (for tests and the bench).
    built: AtomicU64,
}

#[derive(Default)]
struct Kept {
    sets: HashMap<(SegmentId, Arc<str>), Arc<Bits>>,
    bytes: usize,
}

impl Default for ScopeSets {
    fn default() -> ScopeSets {
        ScopeSets::from_docs(FROM_DOCS)
    }
}

impl std::fmt::Debug for ScopeSets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeSets")
            .field("from_docs", &self.from_docs)
            .field("built", &self.built())
            .finish()
    }
}

impl ScopeSets {
    /// Sets for segments of at least `from_docs` documents ([`FROM_DOCS`] in the server).
    pub fn from_docs(from_docs: u32) -> ScopeSets {
        ScopeSets {
            from_docs,
            kept: Mutex::default(),
            generation: AtomicU64::new(u64::MAX),
            built: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many sets were worked out since start.
    pub fn built(&self) -> u64 {
        self.built.load(Ordering::Relaxed)
    }

    /// Forgets the segments `searcher` no longer has, once per searcher generation.
    pub fn retain(&self, searcher: &tantivy::Searcher) {
        let Some(live) = super::segments_if_new(&self.generation, searcher) else {
            return;
        };
        let mut kept = self.lock();
        kept.sets.retain(|(id, _), _| live.contains(id));
        kept.bytes = kept.sets.values().map(|b| b.bytes()).sum();
    }

    /// `scope` (matching what the caller may see, scoring nothing) with its matches in large
    /// segments read from kept sets. `key` names the scope exactly: equal keys, equal scopes.
    pub fn query(self: &Arc<Self>, key: String, scope: Box<dyn Query>) -> Box<dyn Query> {
        Box::new(InScope {
            key: key.into(),
            inner: scope,
            sets: Arc::clone(self),
        })
    }

    /// The scope's set in `reader`'s segment: the kept one for a large segment, worked out for
    /// this search alone in a small one. `union` is the scope's plain query weight.
    fn bits(
        &self,
        reader: &SegmentReader,
        key: &Arc<str>,
        union: &dyn Weight,
    ) -> tantivy::Result<Arc<Bits>> {
        if reader.max_doc() < self.from_docs {
            let mut scorer = union.scorer(reader, 1.0)?;
            return Ok(Arc::new(Bits::of(scorer.as_mut(), reader.max_doc())));
        }
        self.get_or_build(reader, key, union)
    }

    /// `inner`, given only the matches in the scope `union` (the scope's plain query, `key`
    /// naming it as for [`Self::query`]): the scope's set is tested per match instead of its
    /// posting lists being intersected with the query's. For collectors that score nothing
    /// (the total and the facets), over a query without the scope.
    pub fn within<C: Collector>(
        self: &Arc<Self>,
        searcher: &tantivy::Searcher,
        key: String,
        union: &dyn Query,
        inner: C,
    ) -> tantivy::Result<Within<C>> {
        Ok(Within {
            inner,
            key: key.into(),
            union: union.weight(EnableScoring::disabled_from_searcher(searcher))?,
            sets: Arc::clone(self),
        })
    }

    fn get_or_build(
        &self,
        reader: &SegmentReader,
        key: &Arc<str>,
        inner: &dyn Weight,
    ) -> tantivy::Result<Arc<Bits>> {
        let at = (reader.segment_id(), Arc::clone(key));
        if let Some(bits) = self.lock().sets.get(&at) {
            return Ok(Arc::clone(bits));
        }
        // Worked out outside the lock; two searches may both work out a new set once.
        let mut scorer = inner.scorer(reader, 1.0)?;
        let bits = Arc::new(Bits::of(scorer.as_mut(), reader.max_doc()));
        self.built.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.lock();
        if kept.bytes + bits.bytes() > BUDGET_BYTES {
            kept.sets.retain(|(_, k), _| k == key);
            kept.bytes = kept.sets.values().map(|b| b.bytes()).sum();
        }
        kept.bytes += bits.bytes();
        if let Some(old) = kept.sets.insert(at, Arc::clone(&bits)) {
            kept.bytes -= old.bytes();
        }
        Ok(bits)
    }
}

/// A collector given only the matches in a scope ([`ScopeSets::within`]).
pub struct Within<C> {
    inner: C,
    key: Arc<str>,
    union: Box<dyn Weight>,
    sets: Arc<ScopeSets>,
}

impl<C: Collector> Collector for Within<C> {
    type Fruit = C::Fruit;
    type Child = WithinSegment<C::Child>;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<WithinSegment<C::Child>> {
        Ok(WithinSegment {
            bits: self.sets.bits(reader, &self.key, self.union.as_ref())?,
            inner: self.inner.for_segment(ord, reader)?,
            block: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<C::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<C::Fruit> {
        self.inner.merge_fruits(fruits)
    }
}

pub struct WithinSegment<S> {
    inner: S,
    bits: Arc<Bits>,
    /// A block's matches in the scope.
    block: Vec<DocId>,
}

impl<S: SegmentCollector> SegmentCollector for WithinSegment<S> {
    type Fruit = S::Fruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.bits.contains(doc) {
            self.inner.collect(doc, score);
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.block.clear();
        let bits = &self.bits;
        self.block
            .extend(docs.iter().copied().filter(|d| bits.contains(*d)));
        self.inner.collect_block(&self.block);
    }

    fn harvest(self) -> S::Fruit {
        self.inner.harvest()
    }
}

/// One bit per document of a segment.
struct Bits {
    words: Vec<u64>,
    max_doc: DocId,
    count: u32,
}

impl Bits {
    fn of(docs: &mut dyn DocSet, max_doc: DocId) -> Bits {
        let mut words = vec![0u64; (max_doc as usize).div_ceil(64)];
        let mut count = 0;
        let mut doc = docs.doc();
        while doc != TERMINATED && doc < max_doc {
            words[(doc / 64) as usize] |= 1 << (doc % 64);
            count += 1;
            doc = docs.advance();
        }
        Bits {
            words,
            max_doc,
            count,
        }
    }

    fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    fn contains(&self, doc: DocId) -> bool {
        doc < self.max_doc && self.words[(doc / 64) as usize] & (1 << (doc % 64)) != 0
    }

    /// The first document at or after `from`.
    fn next_from(&self, from: DocId) -> DocId {
        if from >= self.max_doc {
            return TERMINATED;
        }
        let mut at = (from / 64) as usize;
        let mut word = self.words[at] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return at as DocId * 64 + word.trailing_zeros();
            }
            at += 1;
            match self.words.get(at) {
                Some(w) => word = *w,
                None => return TERMINATED,
            }
        }
    }
}

struct InScope {
    key: Arc<str>,
    inner: Box<dyn Query>,
    sets: Arc<ScopeSets>,
}

impl Clone for InScope {
    fn clone(&self) -> InScope {
        InScope {
            key: Arc::clone(&self.key),
            inner: self.inner.box_clone(),
            sets: Arc::clone(&self.sets),
        }
    }
}

impl std::fmt::Debug for InScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InScope")
            .field("key", &self.key)
            .field("inner", &self.inner)
            .finish()
    }
}

impl Query for InScope {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(InScopeWeight {
            key: Arc::clone(&self.key),
            inner: self.inner.weight(enable_scoring)?,
            sets: Arc::clone(&self.sets),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

struct InScopeWeight {
    key: Arc<str>,
    inner: Box<dyn Weight>,
    sets: Arc<ScopeSets>,
}

impl Weight for InScopeWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if reader.max_doc() < self.sets.from_docs {
            return self.inner.scorer(reader, boost);
        }
        let bits = self
            .sets
            .get_or_build(reader, &self.key, self.inner.as_ref())?;
        let doc = bits.next_from(0);
        Ok(Box::new(BitsScorer { bits, doc }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }
}

/// The documents of a kept set; scores nothing (the scope never changes a ranking).
struct BitsScorer {
    bits: Arc<Bits>,
    doc: DocId,
}

impl DocSet for BitsScorer {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.bits.next_from(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc < target {
            self.doc = self.bits.next_from(target);
        }
        self.doc
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        if target >= self.bits.max_doc {
            self.doc = TERMINATED;
            return SeekDangerResult::SeekLowerBound(TERMINATED);
        }
        if self.bits.contains(target) {
            self.doc = target;
            SeekDangerResult::Found
        } else {
            // The next set bit is after `target`: `target + 1` is a lower bound of it.
            SeekDangerResult::SeekLowerBound(target + 1)
        }
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.bits.count
    }
}

impl Scorer for BitsScorer {
    fn score(&mut self) -> Score {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::EmptyScorer;

    /// The documents of a list, as a posting list gives them.
    struct Listed(Vec<DocId>, usize);

    impl DocSet for Listed {
        fn advance(&mut self) -> DocId {
            self.1 += 1;
            self.doc()
        }
        fn doc(&self) -> DocId {
            self.0.get(self.1).copied().unwrap_or(TERMINATED)
        }
        fn size_hint(&self) -> u32 {
            self.0.len() as u32
        }
    }

    fn bits_of(docs: &[DocId], max_doc: DocId) -> Bits {
        Bits::of(&mut Listed(docs.to_vec(), 0), max_doc)
    }

    /// Walking, seeking and testing a set give the documents it was made of, at every position,
    /// word boundaries and the segment's end included.
    #[test]
    fn a_set_walks_and_seeks_as_its_documents() {
        let docs: Vec<DocId> = vec![0, 1, 63, 64, 65, 127, 128, 500, 4_095, 4_096, 9_999];
        let bits = bits_of(&docs, 10_000);
        assert_eq!(bits.count, docs.len() as u32);
        let mut walked = Vec::new();
        let mut s = BitsScorer {
            doc: bits.next_from(0),
            bits: Arc::new(bits),
        };
        while s.doc() != TERMINATED {
            walked.push(s.doc());
            s.advance();
        }
        assert_eq!(walked, docs);
        for target in 0..10_001 {
            let want = docs
                .iter()
                .copied()
                .find(|d| *d >= target)
                .unwrap_or(TERMINATED);
            let mut s = BitsScorer {
                doc: 0,
                bits: Arc::clone(&s.bits),
            };
            assert_eq!(s.seek(target), want, "seek {target}");
            let mut d = BitsScorer {
                doc: 0,
                bits: Arc::clone(&s.bits),
            };
            match d.seek_danger(target) {
                SeekDangerResult::Found => assert_eq!(want, target),
                SeekDangerResult::SeekLowerBound(b) => {
                    assert_ne!(want, target);
                    assert!(b > target && b <= want, "{target}: {b} against {want}");
                }
            }
        }
        let empty = bits_of(&[], 100);
        assert_eq!(empty.next_from(0), TERMINATED);
        let mut none = EmptyScorer;
        assert_eq!(Bits::of(&mut none, 0).next_from(0), TERMINATED);
    }
}
