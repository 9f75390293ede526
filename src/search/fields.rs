//! The index schema: which customer facts are searchable and how each is analysed. Bump
//! [`INDEX_VERSION`] on any change here; an index of another version is rebuilt at start.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, TantivyDocument};

use std::collections::HashMap;

use super::{analysis, facets};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::customer::{Customer, Stage};
use crate::domain::followup::Followup;
use crate::domain::org::{Department, User};

pub const INDEX_VERSION: u32 = 7;

const ZH: &str = "zh";
const GRAMS12: &str = "grams12";
const GRAMS2: &str = "grams2";
const KEYWORD: &str = "keyword";

#[derive(Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub owner: Field,
    /// The owner's department: `d:<id>` for the department itself, `t:<id>` for it and each
    /// department above it ([`dept_term`]).
    pub dept: Field,
    pub collab: Field,
    pub pool: Field,
    pub stage: Field,
    pub grade: Field,
    pub channel: Field,
    pub city: Field,
    pub tag: Field,
    pub name_exact: Field,
    pub name_grams: Field,
    pub pinyin: Field,
    pub company_grams: Field,
    pub text: Field,
    pub phone4: Field,
    pub id4: Field,
    pub id6: Field,
    pub created: Field,
    /// Stage, grade, owner and channel as single-valued fast string columns (one value per
    /// document, [`facets::NONE`] for none), in the order of [`facets::FACETS`]: what search
    /// facets count.
    pub facets: [Field; 4],
    /// The stored [`Card`] (JSON): what a search result shows, without a store read.
    pub card: Field,
    /// Exact (case-sensitive, prefixed) terms the customer list filters on: `s:<stage>`,
    /// `g:<grade>`, `c:<channel>`, `t:<tag>`, `o:<owner>`, [`HAS_OWNER`], `f:1`/`f:0`
    /// (duplicate flag), [`NOT_ULID`].
    pub exact: Field,
    /// The id as a ULID, high and low 64 bits (fast): the list's tie-breaker and `created_at`
    /// order (ids are time-ordered ULIDs; the string order of canonical ULIDs is this order).
    pub id_hi: Field,
    pub id_lo: Field,
    /// `updated_at` in microseconds (fast).
    pub updated: Field,
    /// `next_followup_at` in microseconds, [`NO_NEXT_FOLLOWUP`] when none (fast).
    pub next_fu: Field,
    /// The name exactly as stored (fast string column, for the name order).
    pub name_key: Field,
}

/// `next_fu` of a customer without a next follow-up: after every real instant.
pub const NO_NEXT_FOLLOWUP: i64 = i64::MAX;
/// `exact` term of a customer that has an owner.
pub const HAS_OWNER: &str = "O";
/// `exact` term of a customer whose id is not a canonical ULID (the list cannot order it
/// from the index; the service falls back to reading the store).
pub const NOT_ULID: &str = "x:not-ulid";

/// A canonical (upper-case, 26-character) ULID as a number, whose order is the string's.
pub fn ulid_of(id: &str) -> Option<u128> {
    ulid::Ulid::from_string(id)
        .ok()
        .filter(|u| u.to_string() == id)
        .map(u128::from)
}

/// The `dept` term of the owners of department `id`: only its own members (`tree` false), or
/// the members of it and every department below it (`tree` true).
pub fn dept_term(id: &str, tree: bool) -> String {
    format!("{}:{id}", if tree { 't' } else { 'd' })
}

/// The department of each user and the departments above it, nearest first, as the index
/// needs them to place a customer under its owner's department.
#[derive(Debug, Default)]
pub struct OwnerDepartments(HashMap<String, Vec<String>>);

impl OwnerDepartments {
    pub fn new(users: &[User], departments: &[Department]) -> OwnerDepartments {
        let parent: HashMap<&str, Option<&str>> = departments
            .iter()
            .map(|d| (d.id.as_str(), d.parent_id.as_deref()))
            .collect();
        let chains = users
            .iter()
            .filter_map(|u| {
                let mut chain: Vec<String> = vec![u.department_id.clone()?];
                // A bounded walk: a cycle (refused when departments are edited) cannot loop.
                while chain.len() <= departments.len() {
                    let last = chain.last().map(String::as_str).unwrap_or_default();
                    match parent.get(last).copied().flatten() {
                        Some(p) if !chain.iter().any(|c| c == p) => chain.push(p.to_string()),
                        _ => break,
                    }
                }
                Some((u.id.clone(), chain))
            })
            .collect();
        OwnerDepartments(chains)
    }

    fn of(&self, owner: Option<&str>) -> &[String] {
        owner.and_then(|o| self.0.get(o)).map_or(&[], Vec::as_slice)
    }
}

/// `exact` term for a prefix and value, e.g. `exact_term("g", "A")` = `g:A`.
pub fn exact_term(prefix: &str, value: &str) -> String {
    format!("{prefix}:{value}")
}

fn analysed(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let keyword = analysed(KEYWORD, IndexRecordOption::Basic);
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        owner: b.add_text_field("owner", STRING),
        dept: b.add_text_field("dept", STRING),
        collab: b.add_text_field("collab", STRING),
        pool: b.add_text_field("pool", STRING),
        stage: b.add_text_field("stage", STRING),
        grade: b.add_text_field("grade", STRING),
        channel: b.add_text_field("channel", keyword.clone()),
        city: b.add_text_field("city", keyword.clone()),
        tag: b.add_text_field("tag", keyword.clone()),
        name_exact: b.add_text_field("name_exact", keyword.clone()),
        name_grams: b.add_text_field(
            "name_grams",
            analysed(GRAMS12, IndexRecordOption::WithFreqsAndPositions),
        ),
        pinyin: b.add_text_field("pinyin", keyword),
        company_grams: b.add_text_field(
            "company_grams",
            analysed(GRAMS2, IndexRecordOption::WithFreqsAndPositions),
        ),
        text: b.add_text_field("text", analysed(ZH, IndexRecordOption::WithFreqs)),
        phone4: b.add_text_field("phone4", STRING),
        id4: b.add_text_field("id4", STRING),
        id6: b.add_text_field("id6", STRING),
        created: b.add_i64_field("created", INDEXED | FAST),
        facets: facets::COLUMNS
            .map(|name| b.add_text_field(name, TextOptions::default().set_fast("raw"))),
        card: b.add_text_field("card", STORED),
        exact: b.add_text_field("exact", STRING),
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        updated: b.add_i64_field("updated", FAST),
        next_fu: b.add_i64_field("next_fu", FAST),
        name_key: b.add_text_field("name_key", TextOptions::default().set_fast("raw")),
    };
    (b.build(), fields)
}

/// Registers the analysers the schema names. Every opened or created index needs this.
pub fn register_tokenizers(index: &Index) -> tantivy::Result<()> {
    let t = index.tokenizers();
    t.register(
        ZH,
        TextAnalyzer::builder(tantivy_jieba::JiebaTokenizer::new())
            .filter(LowerCaser)
            .build(),
    );
    t.register(GRAMS12, TextAnalyzer::builder(CharGrams { min: 1 }).build());
    t.register(GRAMS2, TextAnalyzer::builder(CharGrams { min: 2 }).build());
    t.register(
        KEYWORD,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    Ok(())
}

/// Lower-cased 2-character pieces (and single characters when `min` is 1) with the position
/// of their first character, so a fragment is found as a phrase of its pieces: 三丰 is in
/// 张三丰, and 客户000 is not in 客户001. Whitespace separates without breaking positions.
#[derive(Clone)]
pub struct CharGrams {
    pub min: usize,
}

/// A text's characters without whitespace, with their byte offsets.
type NonBlank<'a> = std::iter::Filter<std::str::CharIndices<'a>, fn(&(usize, char)) -> bool>;

/// The pieces of one text, made as they are read: one token, its text buffer reused, instead
/// of a `String` per piece (documents are tokenised on the import's hot path).
pub struct CharGramStream<'a> {
    chars: NonBlank<'a>,
    /// The character the pieces start at (its index among the non-whitespace characters) and
    /// the one after it.
    current: Option<(usize, char)>,
    following: Option<(usize, char)>,
    index: usize,
    /// 0: the single character is next (when `min` is 1); 1: the pair; 2: move on.
    step: u8,
    min: usize,
    token: Token,
}

fn not_whitespace(&(_, c): &(usize, char)) -> bool {
    !c.is_whitespace()
}

impl Tokenizer for CharGrams {
    type TokenStream<'a> = CharGramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CharGramStream<'a> {
        let mut chars = text
            .char_indices()
            .filter(not_whitespace as fn(&(usize, char)) -> bool);
        let current = chars.next();
        let following = chars.next();
        CharGramStream {
            chars,
            current,
            following,
            index: 0,
            step: 0,
            min: self.min,
            token: Token::default(),
        }
    }
}

impl TokenStream for CharGramStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            let Some((start, c)) = self.current else {
                return false;
            };
            if self.step == 0 {
                self.step = 1;
                if self.min <= 1 {
                    self.token.text.clear();
                    self.token.text.extend(c.to_lowercase());
                    self.token.offset_from = start;
                    self.token.offset_to = start + c.len_utf8();
                    self.token.position = self.index;
                    self.token.position_length = 1;
                    return true;
                }
            }
            if self.step == 1 {
                self.step = 2;
                if let Some((next_start, next)) = self.following {
                    self.token.text.clear();
                    self.token.text.extend(c.to_lowercase());
                    self.token.text.extend(next.to_lowercase());
                    self.token.offset_from = start;
                    self.token.offset_to = next_start + next.len_utf8();
                    self.token.position = self.index;
                    self.token.position_length = 1;
                    return true;
                }
            }
            self.current = self.following;
            self.following = self.chars.next();
            self.index += 1;
            self.step = 0;
        }
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// A stage's name as the API writes it (`Stage::key`, the same as its serde name: see
/// `tests::stage_keys_are_the_serde_names`).
pub fn stage_key(s: Stage) -> String {
    s.key().to_string()
}

/// One phone of a [`Card`]: masked, and its last four digits (themselves an index term).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardPhone {
    pub masked: String,
    pub tail: String,
}

/// What a search result shows of a customer and what its scope is decided on, stored in the
/// document so results need no store read. Masked values only, like the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub name: String,
    /// The main phone first.
    pub phones: Vec<CardPhone>,
    pub city: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
    pub channel: Option<String>,
    pub stage: Stage,
    pub grade: Option<String>,
    pub tags: Vec<String>,
    pub owner_id: Option<String>,
    pub pool_id: Option<String>,
    pub collaborators: Vec<String>,
    pub next_followup_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Customer> for Card {
    fn from(c: &Customer) -> Card {
        Card {
            name: c.name.clone(),
            phones: std::iter::once(&c.phone)
                .chain(&c.extra_phones)
                .map(|p| CardPhone {
                    masked: p.masked.clone(),
                    tail: p.tail.clone(),
                })
                .collect(),
            city: c.city.clone(),
            company: c.company.clone(),
            address: c.address.clone(),
            channel: c.channel.clone(),
            stage: c.stage,
            grade: c.grade.clone(),
            tags: c.tags.clone(),
            owner_id: c.owner_id.clone(),
            pool_id: c.pool_id.clone(),
            collaborators: c.collaborators.clone(),
            next_followup_at: c.next_followup_at,
            updated_at: c.updated_at,
        }
    }
}

/// The searchable document of one live customer. `id_last6` gives the last six characters of
/// the ID number (decrypted by the caller); nothing longer of a phone or ID is ever indexed.
pub fn document(
    f: &Fields,
    c: &Customer,
    followups: &[Followup],
    id_last6: Option<String>,
    departments: &OwnerDepartments,
) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.id, &c.id);
    d.add_text(f.owner, c.owner_id.as_deref().unwrap_or("-"));
    let chain = departments.of(c.owner_id.as_deref());
    if let Some(own) = chain.first() {
        d.add_text(f.dept, dept_term(own, false));
    }
    for above in chain {
        d.add_text(f.dept, dept_term(above, true));
    }
    for u in &c.collaborators {
        d.add_text(f.collab, u);
    }
    // Only a customer waiting in a pool (no owner) is visible to the pool's members.
    if c.owner_id.is_none()
        && let Some(p) = &c.pool_id
    {
        d.add_text(f.pool, p);
    }
    let stage = stage_key(c.stage);
    d.add_text(f.stage, &stage);
    if let Some(g) = &c.grade {
        d.add_text(f.grade, g);
    }
    if let Some(ch) = &c.channel {
        d.add_text(f.channel, ch);
    }
    let facet_values = [
        Some(stage.as_str()),
        c.grade.as_deref(),
        Some(c.owner_id.as_deref().unwrap_or("-")),
        c.channel.as_deref(),
    ];
    for (field, value) in f.facets.iter().zip(facet_values) {
        d.add_text(*field, value.unwrap_or(facets::NONE));
    }
    if let Some(city) = &c.city {
        d.add_text(f.city, city);
    }
    for t in &c.tags {
        d.add_text(f.tag, t);
    }
    d.add_text(f.name_exact, c.name.trim());
    d.add_text(f.name_grams, &c.name);
    for p in analysis::name_pinyin_terms(&c.name) {
        d.add_text(f.pinyin, p);
    }
    if let Some(company) = &c.company {
        d.add_text(f.company_grams, company);
    }
    let mut text: Vec<&str> = Vec::new();
    text.extend(c.company.as_deref());
    text.extend(c.address.as_deref());
    text.extend(c.city.as_deref());
    text.extend(c.channel.as_deref());
    text.extend(c.intent.as_deref());
    text.extend(c.demand.purpose.as_deref());
    text.extend(c.tags.iter().map(String::as_str));
    for fu in followups {
        text.push(&fu.content);
        text.extend(fu.outcome.as_deref());
    }
    for t in text {
        d.add_text(f.text, t);
    }
    d.add_text(f.phone4, &c.phone.tail);
    for p in &c.extra_phones {
        d.add_text(f.phone4, &p.tail);
    }
    if let Some(i) = &c.id_number {
        d.add_text(f.id4, i.tail.to_lowercase());
    }
    if let Some(six) = id_last6 {
        d.add_text(f.id6, six.to_lowercase());
    }
    d.add_i64(f.created, c.created_at.timestamp());
    if let Ok(card) = serde_json::to_string(&Card::from(c)) {
        d.add_text(f.card, card);
    }
    list_terms(f, c, &mut d);
    d
}

/// What the customer list filters and sorts on (see `service::customers::list`).
fn list_terms(f: &Fields, c: &Customer, d: &mut TantivyDocument) {
    d.add_text(f.exact, exact_term("s", &stage_key(c.stage)));
    if let Some(g) = &c.grade {
        d.add_text(f.exact, exact_term("g", g));
    }
    if let Some(ch) = &c.channel {
        d.add_text(f.exact, exact_term("c", ch));
    }
    if let Some(city) = &c.city {
        d.add_text(f.exact, exact_term("y", city));
    }
    for t in &c.tags {
        d.add_text(f.exact, exact_term("t", t));
    }
    if let Some(o) = &c.owner_id {
        d.add_text(f.exact, exact_term("o", o));
        d.add_text(f.exact, HAS_OWNER);
    }
    d.add_text(
        f.exact,
        exact_term("f", if c.duplicate_flag { "1" } else { "0" }),
    );
    match ulid_of(&c.id) {
        Some(n) => {
            d.add_u64(f.id_hi, (n >> 64) as u64);
            d.add_u64(f.id_lo, n as u64);
        }
        None => d.add_text(f.exact, NOT_ULID),
    }
    d.add_i64(f.updated, c.updated_at.timestamp_micros());
    d.add_i64(
        f.next_fu,
        c.next_followup_at
            .map_or(NO_NEXT_FOLLOWUP, |t| t.timestamp_micros()),
    );
    d.add_text(f.name_key, &c.name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_keys_are_the_serde_names() {
        for s in Stage::ALL {
            let serde = serde_json::to_value(s).unwrap();
            assert_eq!(serde.as_str(), Some(s.key()));
            assert_eq!(stage_key(s), s.key());
        }
    }

    /// The pieces as the tokenizer made them before it streamed them (one `String` each).
    fn reference(min: usize, text: &str) -> Vec<(usize, usize, usize, String)> {
        let chars: Vec<(usize, char)> = text
            .char_indices()
            .filter(|(_, c)| !c.is_whitespace())
            .collect();
        let mut out = Vec::new();
        for (i, &(start, c)) in chars.iter().enumerate() {
            let lower: String = c.to_lowercase().collect();
            if min <= 1 {
                out.push((start, start + c.len_utf8(), i, lower.clone()));
            }
            if let Some(&(next_start, next)) = chars.get(i + 1) {
                let mut t = lower;
                t.extend(next.to_lowercase());
                out.push((start, next_start + next.len_utf8(), i, t));
            }
        }
        out
    }

    fn streamed(min: usize, text: &str) -> Vec<(usize, usize, usize, String)> {
        let mut grams = CharGrams { min };
        let mut stream = grams.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            assert_eq!(t.position_length, 1);
            out.push((t.offset_from, t.offset_to, t.position, t.text.clone()));
        }
        out
    }

    #[test]
    fn char_grams_stream_the_pieces_the_eager_tokenizer_made() {
        for text in [
            "",
            "张",
            "张三丰",
            "张 三\t丰 ",
            "  客户000 Abc ",
            "İstanbul ΣΑΣ 北京市朝阳区建国路88号",
            "a",
            " ",
        ] {
            for min in [1, 2] {
                assert_eq!(
                    streamed(min, text),
                    reference(min, text),
                    "{text:?} min {min}"
                );
            }
        }
    }
}
