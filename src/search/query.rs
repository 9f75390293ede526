//! Turning what a user typed into a tantivy query, with the caller's scope and the list
//! filters as required clauses: nothing outside the scope is scored, returned or counted.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, Index, Order, Searcher, TantivyDocument, Term};

use super::analysis;
use super::facets::{Columns, Counted, Counts, CountsUpTo};
use super::fields::Fields;
use super::ranked::Ranked;
use super::scope_sets::ScopeSets;
use super::union::AnyOf;

/// One word of the query.
#[derive(Debug, Clone)]
pub enum Word {
    /// Normalised text (see [`analysis::normalise`]).
    Text(String),
    /// A full phone or ID number, resolved through the blind index to these customers.
    Ids(Vec<String>),
}

/// Who may see what: the caller's scope as index terms.
#[derive(Debug, Clone, Default)]
pub struct Restrict {
    /// `None`: every owner. Otherwise only these owners' customers (plus `collaborator`'s).
    pub owners: Option<Vec<String>>,
    /// The same owners as one term of the `dept` field ([`super::fields::dept_term`]), when
    /// they are exactly the owners of a department (or of a department and everything below
    /// it): one posting list instead of a union of one per owner.
    pub department: Option<String>,
    pub collaborator: String,
    /// Pools whose customers the caller may see.
    pub pools: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub stage: Option<String>,
    pub grade: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<String>,
    pub channel: Option<String>,
    pub pool: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub words: Vec<Word>,
    pub restrict: Restrict,
    pub filters: Filters,
    pub offset: usize,
    pub limit: usize,
    pub facets: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// Customer ids, best first (newest first when there are no words).
    pub ids: Vec<String>,
    /// The stored card (JSON, [`super::fields::Card`]) of each id, in the same order.
    pub cards: Vec<String>,
    pub total: usize,
    /// `stage` / `grade` / `owner` / `channel` → value → count.
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    /// More than [`FACET_CAP`] matches: `facets` count only the first of them, so each count is
    /// a lower bound ("at least"). `total` is always exact.
    pub facets_at_least: bool,
}

/// The most matches whose facet values a search reads. Counting a match's four facets costs
/// about as much as finding and scoring it; a search matching tens of thousands of customers
/// (a district at 10M) would spend most of its time there for counts nobody reads exactly.
pub const FACET_CAP: usize = 10_000;

/// The most matches whose facets `req` counts: [`FACET_CAP`] for a search by typed words (a
/// fragment can match a district); every match for the list's own counts (no words, only
/// filters), which stay exact however large the book is.
fn facet_cap(req: &Request) -> usize {
    if req.words.is_empty() {
        usize::MAX
    } else {
        FACET_CAP
    }
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boosted(q: Box<dyn Query>, by: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(q, by))
}

/// The pieces of a fragment in order, as a phrase (a single piece as a term).
fn fragment(field: Field, pieces: &[String]) -> Option<Box<dyn Query>> {
    match pieces {
        [] => None,
        [one] => Some(term(field, one)),
        many => Some(Box::new(PhraseQuery::new_with_offset(
            many.iter()
                .enumerate()
                .map(|(i, p)| (i, Term::from_field_text(field, p)))
                .collect(),
        ))),
    }
}

/// Every piece: an intersection of their terms, a single piece as its bare term (the same
/// matches and scores; tantivy prunes a bare term's top documents by block maxima, not a
/// `BooleanQuery` of one clause).
fn all_of(field: Field, pieces: &[String]) -> Option<Box<dyn Query>> {
    match pieces {
        [] => return None,
        [one] => return Some(term(field, one)),
        _ => {}
    }
    Some(Box::new(BooleanQuery::new(
        pieces
            .iter()
            .map(|p| (Occur::Must, term(field, p)))
            .collect(),
    )))
}

/// The words of `text` as the `text` field's analyser (jieba, search mode) cuts them, without
/// the pieces it also emits inside a longer word (`锦江` inside `锦江区`): a document that has
/// the longer word has those pieces as well (search mode emits every dictionary 2- and
/// 3-character piece of each word it cuts, in documents as in queries), so requiring them
/// matches the same documents and only adds posting lists to intersect.
fn jieba_tokens(index: &Index, text: &str) -> Vec<String> {
    let Ok(mut analyzer) = index.tokenizers().get("zh").ok_or(()) else {
        return Vec::new();
    };
    let mut stream = analyzer.token_stream(text);
    let mut tokens: Vec<(usize, usize, String)> = Vec::new();
    while let Some(t) = stream.next() {
        if !t.text.trim().is_empty() {
            tokens.push((t.offset_from, t.offset_to, t.text.clone()));
        }
    }
    let inside_longer = |(from, to, _): &(usize, usize, String)| {
        tokens
            .iter()
            .any(|(f, t, _)| f <= from && to <= t && t - f > to - from)
    };
    let mut out: Vec<String> = Vec::new();
    for token in &tokens {
        if !inside_longer(token) && !out.contains(&token.2) {
            out.push(token.2.clone());
        }
    }
    out
}

/// Terms starting with `w` (ASCII letters): the term range [w, w with its last letter raised).
/// A range walks the term dictionary directly; a `w.*` regex first builds an automaton, which
/// cost more than the rest of a short query.
fn prefix(field: Field, w: &str) -> Box<dyn Query> {
    let mut end = w.to_string();
    match end.pop() {
        Some(last) if last.is_ascii_alphabetic() => end.push(char::from(last as u8 + 1)),
        _ => return Box::new(EmptyQuery),
    }
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_text(field, w)),
        Bound::Excluded(Term::from_field_text(field, &end)),
    ))
}

/// The ways one typed word can match, any of which is enough; better matches score higher.
/// A lazy union ([`AnyOf`]): beside another word or the scope, it is seeked rather than walked.
fn word_query(index: &Index, f: &Fields, word: &Word) -> Box<dyn Query> {
    match word {
        Word::Ids(ids) => {
            let terms = ids.iter().map(|id| Term::from_field_text(f.id, id));
            boosted(Box::new(TermSetQuery::new(terms)), 20.0)
        }
        Word::Text(w) => Box::new(text_word(index, f, w)),
    }
}

/// The ways a typed text word can match ([`word_query`]).
fn text_word(index: &Index, f: &Fields, w: &str) -> AnyOf {
    let mut any: Vec<Box<dyn Query>> = Vec::new();
    let digits = w.chars().all(|c| c.is_ascii_digit());
    let id_tail = w.is_ascii()
        && w.len() >= 4
        && w.bytes().rev().skip(1).all(|b| b.is_ascii_digit())
        && w.ends_with(|c: char| c.is_ascii_digit() || c == 'x');
    if digits && w.len() == 4 {
        any.push(boosted(term(f.phone4, w), 8.0));
    }
    if id_tail && w.len() == 4 {
        any.push(boosted(term(f.id4, w), 6.0));
    }
    if id_tail && w.len() == 6 {
        any.push(boosted(term(f.id6, w), 6.0));
    }
    let latin = w.chars().all(|c| c.is_ascii_alphabetic());
    if latin {
        any.push(boosted(term(f.pinyin, w), 6.0));
        if w.len() >= 2 {
            any.push(boosted(prefix(f.pinyin, w), 2.0));
        }
    }
    any.push(boosted(term(f.name_exact, w), 10.0));
    if let Some(q) = fragment(f.name_grams, &analysis::query_grams(w)) {
        any.push(boosted(q, 4.0));
    }
    if w.chars().count() >= 2
        && let Some(q) = fragment(f.company_grams, &analysis::query_grams(w))
    {
        any.push(boosted(q, 2.0));
    }
    any.push(boosted(term(f.tag, w), 3.0));
    any.push(boosted(term(f.city, w), 3.0));
    any.push(boosted(term(f.channel, w), 2.0));
    if let Some(q) = all_of(f.text, &jieba_tokens(index, w)) {
        any.push(q);
    }
    AnyOf::new(any)
}

/// Owners or pools above this many are matched with one term-set bitset instead of a lazy
/// union of their postings (which lets a selective query skip most of the scope).
const LAZY_UNION_MAX: usize = 128;

fn any_term(field: Field, values: &[String]) -> Box<dyn Query> {
    if values.len() > LAZY_UNION_MAX {
        return Box::new(TermSetQuery::new(
            values.iter().map(|v| Term::from_field_text(field, v)),
        ));
    }
    Box::new(AnyOf::new(
        values
            .iter()
            .map(|v| -> Box<dyn Query> {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                ))
            })
            .collect(),
    ))
}

/// The caller's scope as a required clause that does not change the ranking.
pub(crate) fn restrict_query(f: &Fields, r: &Restrict) -> Option<Box<dyn Query>> {
    restrict_in(f, r, None)
}

/// [`restrict_query`], its matches in large segments read from `sets` when given.
fn restrict_in(f: &Fields, r: &Restrict, sets: Option<&Arc<ScopeSets>>) -> Option<Box<dyn Query>> {
    let union = scope_union(f, r)?;
    let scope = match sets {
        // The key is the whole scope, so equal keys are equal scopes.
        Some(sets) => sets.query(scope_key(r), union),
        None => union,
    };
    Some(Box::new(ConstScoreQuery::new(scope, 0.0)))
}

/// What names a scope in [`ScopeSets`]: all of it.
fn scope_key(r: &Restrict) -> String {
    format!("{r:?}")
}

/// The documents the caller may see, as a union of their terms; `None` for every document.
fn scope_union(f: &Fields, r: &Restrict) -> Option<Box<dyn Query>> {
    let owners = r.owners.as_ref()?;
    let by_owner = match &r.department {
        Some(d) => term(f.dept, d),
        None => any_term(f.owner, owners),
    };
    let mut any: Vec<Box<dyn Query>> = vec![by_owner, term(f.collab, &r.collaborator)];
    if !r.pools.is_empty() {
        any.push(any_term(f.pool, &r.pools));
    }
    // Seeked into by the words (the scope is often most of the book): a lazy union.
    Some(Box::new(AnyOf::new(any)))
}

pub fn build(index: &Index, f: &Fields, req: &Request) -> Box<dyn Query> {
    build_in(index, f, req, None)
}

fn build_in(
    index: &Index,
    f: &Fields,
    req: &Request,
    sets: Option<&Arc<ScopeSets>>,
) -> Box<dyn Query> {
    let mut must: Vec<(Occur, Box<dyn Query>)> = req
        .words
        .iter()
        .map(|w| (Occur::Must, word_query(index, f, w)))
        .collect();
    if let Some(r) = restrict_in(f, &req.restrict, sets) {
        must.push((Occur::Must, r));
    }
    let flt = &req.filters;
    let exact = [
        (f.stage, &flt.stage, false),
        (f.grade, &flt.grade, false),
        (f.owner, &flt.owner, false),
        (f.pool, &flt.pool, false),
        (f.tag, &flt.tag, true),
        (f.channel, &flt.channel, true),
    ];
    for (field, value, lower) in exact {
        if let Some(v) = value {
            let v = if lower { v.to_lowercase() } else { v.clone() };
            must.push((Occur::Must, term(field, &v)));
        }
    }
    if must.is_empty() {
        return Box::new(AllQuery);
    }
    if req.words.is_empty() {
        must.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(must))
}

/// The search as a [`Ranked`] query when it is one typed word within the scope and nothing
/// else (the top bar, and the list's search box without filters): the same matches and
/// scores as [`build`]'s query, with a top page that need not score every match. [`run`] uses
/// it for words that match many customers ([`TWO_PASSES_FROM`]); `benches/search.rs` times it
/// beside the plain query (`ZHUDAI_BENCH_EXPLAIN`).
pub fn ranked(index: &Index, f: &Fields, req: &Request) -> Option<Ranked> {
    ranked_in(index, f, req, None)
}

/// The one typed text word of a search without filters, if it is one.
fn one_word(req: &Request) -> Option<&str> {
    let [Word::Text(w)] = req.words.as_slice() else {
        return None;
    };
    let flt = &req.filters;
    let filtered = [
        &flt.stage,
        &flt.grade,
        &flt.owner,
        &flt.pool,
        &flt.tag,
        &flt.channel,
    ]
    .iter()
    .any(|v| v.is_some());
    (!filtered).then_some(w.as_str())
}

fn ranked_in(
    index: &Index,
    f: &Fields,
    req: &Request,
    sets: Option<&Arc<ScopeSets>>,
) -> Option<Ranked> {
    let w = one_word(req)?;
    let scope = restrict_in(f, &req.restrict, sets).into_iter().collect();
    Some(Ranked::new(text_word(index, f, w), scope))
}

/// What a search keeps between searches, and how it chooses its path.
pub struct Kept {
    /// Each segment's facet columns, opened once.
    pub columns: Arc<Columns>,
    /// Each large segment's scope sets, worked out once per scope.
    pub scopes: Arc<ScopeSets>,
    /// A search that is one address word in at least this many documents of the whole index
    /// runs in two passes ([`TWO_PASSES_FROM`], [`takes_two_passes`]).
    pub two_passes_from: u64,
}

impl Default for Kept {
    fn default() -> Kept {
        Kept {
            columns: Arc::default(),
            scopes: Arc::default(),
            two_passes_from: TWO_PASSES_FROM,
        }
    }
}

/// From how many customers a typed word that is one address or company word (a district) must
/// match in the whole index for the search to take two passes: the total and the facets
/// without scoring (one posting list walked, no intersection), then the page by [`Ranked`]'s
/// block-max pruning. At 10M customers a district (150,000 matches) took 2.2 ms in two passes
/// against 2.4 ms scored in one, and for a salesperson (the count within the scope's set,
/// [`ScopeSets::within`]) 1.9 against 5.6 ms (docs/benchmarks.md, 2026-12-07, session 27).
/// A district and road (two words, 25,000 matches) was
/// faster alone in two passes (5.3 against 6.4 ms) but not under load (p99 at 8 connections
/// ×1.05–1.1, throughput ×0.93): its count walks the intersection a second time. At 1M a
/// district matches a tenth as many, and one pass was faster there.
pub const TWO_PASSES_FROM: u64 = 50_000;

/// Whether `req` takes two passes: one typed word without filters that is a single address or
/// company word in at least `from` documents. The estimate reads the word's document frequency
/// in every segment's term dictionary (microseconds), never a posting list.
pub(crate) fn takes_two_passes(
    searcher: &Searcher,
    index: &Index,
    f: &Fields,
    req: &Request,
    from: u64,
) -> bool {
    let Some(w) = one_word(req) else {
        return false;
    };
    let tokens = jieba_tokens(index, w);
    let [token] = tokens.as_slice() else {
        return false;
    };
    // An unreadable dictionary fails the search itself in the pass that follows.
    searcher
        .doc_freq(&Term::from_field_text(f.text, token))
        .is_ok_and(|n| n >= from)
}

/// Runs a search. Facet counts walk the matches: only when asked (the list page), not for the
/// top bar, and for a search by words only the first [`FACET_CAP`] of them (then flagged as
/// lower bounds). `kept` holds the segments' facet columns and scope sets between searches,
/// and the line from which a search takes two passes.
pub fn run(
    searcher: &Searcher,
    index: &Index,
    f: &Fields,
    req: &Request,
    kept: Option<&Kept>,
) -> tantivy::Result<Hits> {
    let mut counts = Counts { facets: req.facets }.up_to(facet_cap(req));
    let sets = kept.map(|k| &k.scopes);
    if let Some(kept) = kept {
        counts = counts.with_columns(Arc::clone(&kept.columns));
    }
    let two_passes = kept.map_or(TWO_PASSES_FROM, |k| k.two_passes_from);
    let ranked = if takes_two_passes(searcher, index, f, req, two_passes) {
        ranked_in(index, f, req, sets)
    } else {
        None
    };
    // One pass (page, total and facets together) unless the word matches so many customers
    // that scoring each costs more than a second walk ([`TWO_PASSES_FROM`]).
    let (addresses, counted) = match ranked {
        Some(ranked) => {
            // The count within the caller's scope tests each match against the scope's set
            // rather than intersecting the scope's posting lists.
            let counted = match (sets, scope_union(f, &req.restrict)) {
                (Some(sets), Some(union)) => {
                    let within =
                        sets.within(searcher, scope_key(&req.restrict), union.as_ref(), counts)?;
                    searcher.search(&ranked.unscoped(), &within)?
                }
                _ => searcher.search(&ranked, &counts)?,
            };
            (top_page(searcher, &ranked, req)?, counted)
        }
        None => scored_in_one_pass(searcher, &build_in(index, f, req, sets), req, counts)?,
    };
    let mut ids = Vec::with_capacity(addresses.len());
    let mut cards = Vec::with_capacity(addresses.len());
    for a in addresses {
        let doc: TantivyDocument = searcher.doc(a)?;
        if let Some(id) = doc.get_first(f.id).and_then(|v| v.as_str()) {
            ids.push(id.to_string());
            let card = doc.get_first(f.card).and_then(|v| v.as_str());
            cards.push(card.unwrap_or_default().to_string());
        }
    }
    Ok(Hits {
        ids,
        cards,
        total: counted.total,
        facets: counted.facets.unwrap_or_default(),
        facets_at_least: counted.facets_at_least,
    })
}

/// The page by block-max pruning ([`Ranked`]), after the total and the facets were counted in
/// a pass that scores nothing: the same answer as [`scored_in_one_pass`], scores to the bit.
fn top_page(
    searcher: &Searcher,
    ranked: &Ranked,
    req: &Request,
) -> tantivy::Result<Vec<DocAddress>> {
    let top = TopDocs::with_limit(req.limit.max(1))
        .and_offset(req.offset)
        .order_by_score();
    let docs = searcher.search(ranked, &top)?;
    Ok(docs.into_iter().map(|(_, a)| a).collect())
}

/// The page, the total and the facets in one pass over the matches (every match scored when
/// there are words).
fn scored_in_one_pass(
    searcher: &Searcher,
    query: &dyn Query,
    req: &Request,
    counts: CountsUpTo,
) -> tantivy::Result<(Vec<DocAddress>, Counted)> {
    let limit = req.limit.max(1);
    Ok(if req.words.is_empty() {
        let top = TopDocs::with_limit(limit)
            .and_offset(req.offset)
            .order_by_fast_field::<i64>("created", Order::Desc);
        let (docs, counted) = searcher.search(query, &(top, counts))?;
        (
            docs.into_iter().map(|(_, a)| a).collect::<Vec<_>>(),
            counted,
        )
    } else {
        let top = TopDocs::with_limit(limit)
            .and_offset(req.offset)
            .order_by_score();
        let (docs, counted) = searcher.search(query, &(top, counts))?;
        (
            docs.into_iter().map(|(_, a)| a).collect::<Vec<_>>(),
            counted,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fields;
    use tantivy::collector::DocSetCollector;
    use tantivy::{DocAddress, TantivyDocument};

    #[test]
    fn only_a_search_by_words_caps_its_facet_counts() {
        let mut req = Request {
            words: Vec::new(),
            restrict: Restrict::default(),
            filters: Filters::default(),
            offset: 0,
            limit: 1,
            facets: true,
        };
        req.filters.grade = Some("A".into());
        assert_eq!(facet_cap(&req), usize::MAX, "the list's counts stay exact");
        req.words.push(Word::Text("路".into()));
        assert_eq!(facet_cap(&req), FACET_CAP);
    }

    fn all_tokens(index: &Index, text: &str) -> Vec<String> {
        let mut analyzer = index.tokenizers().get("zh").unwrap();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            if !t.text.trim().is_empty() && !out.contains(&t.text) {
                out.push(t.text.clone());
            }
        }
        out
    }

    #[test]
    fn dropping_pieces_inside_longer_words_matches_the_same_documents() {
        let (schema, f) = fields::schema();
        let index = Index::create_in_ram(schema);
        fields::register_tokenizers(&index).unwrap();
        let mut w = index.writer_with_num_threads(1, 20_000_000).unwrap();
        let texts = [
            "成都市锦江区春熙路12号",
            "锦江宾馆",
            "成都市武侯区人民南路四段",
            "北京市朝阳区建国路88号",
            "朝阳公园南门",
            "深圳市南山区科技园科苑路",
            "重庆市渝中区解放碑步行街",
            "客户想办抵押贷款，房子在春熙路附近",
            "中关村科技园区",
        ];
        for t in texts {
            let mut d = TantivyDocument::default();
            d.add_text(f.text, t);
            w.add_document(d).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let matched = |tokens: &[String]| -> std::collections::BTreeSet<DocAddress> {
            match all_of(f.text, tokens) {
                Some(q) => searcher
                    .search(&q, &DocSetCollector)
                    .unwrap()
                    .into_iter()
                    .collect(),
                None => Default::default(),
            }
        };
        let mut fewer = 0;
        for q in [
            "锦江区春熙路",
            "锦江区",
            "春熙路",
            "朝阳区建国路",
            "武侯区人民南路",
            "南山区科技园",
            "科技园区",
            "渝中区解放碑",
            "抵押贷款",
            "中关村科技园区",
        ] {
            let all = all_tokens(&index, q);
            let kept = jieba_tokens(&index, q);
            assert!(
                !kept.is_empty() && kept.iter().all(|t| all.contains(t)),
                "{q}: {kept:?}"
            );
            fewer += usize::from(kept.len() < all.len());
            assert_eq!(matched(&kept), matched(&all), "{q}: {kept:?} vs {all:?}");
        }
        // The point of it: some of these queries do need fewer posting lists.
        assert!(fewer > 0);
    }
}
