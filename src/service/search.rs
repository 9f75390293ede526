//! Customer search use cases: the caller's scope becomes part of the index query (so paging,
//! totals and facets only ever count what the caller may see), full phone and ID numbers go
//! through the blind index, and hits are shown from the card stored with each document (masked
//! values only, see [`crate::search::Card`]), so a result page needs no store read.

crate::service::use_cases!(lookup, "Customer search and the search index.");

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Error, Result};
use crate::crypto::field::Kind;
use crate::domain::capability::Capability;
use crate::domain::customer::{Customer, Stage};
use crate::domain::{id_number, phone};
use crate::search::{self, Card, Filters, Request, Restrict, Word, analysis};
use crate::service::access::auth::Caller;
use crate::service::access::scope::{Owned, Scope, Visible};
use crate::store::customers::{Reader, Unscoped};

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What the user typed: name fragments, pinyin or initials, company or address words,
    /// the last 4 digits of a phone, the last 4 or 6 of an ID number, or a full phone/ID.
    pub q: Option<String>,
    pub stage: Option<String>,
    pub grade: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<String>,
    pub channel: Option<String>,
    /// Opaque, from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<usize>,
    /// Count matches per stage, grade, owner and channel (default true; a search by words past
    /// 10,000 matches counts over the first 10,000, see `facets_at_least`; without words: exact). Search-as-you-type passes `false`:
    /// counting walks the matches.
    pub facets: Option<bool>,
}

/// Characters `[start, end)` of a shown field that matched the query.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Highlight {
    /// `name`, `company`, `address`, `city`, `phone`, `tags`.
    pub field: String,
    /// The value as shown (masked where the field is sensitive).
    pub value: String,
    /// Character offsets (not bytes) of the matched fragments.
    pub ranges: Vec<[usize; 2]>,
}

/// A customer as a search result shows it (masked); the full record is
/// `GET /customers/{id}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchCustomer {
    pub id: String,
    pub name: String,
    /// Masked.
    pub phone: String,
    /// Masked.
    pub extra_phones: Vec<String>,
    pub city: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
    pub channel: Option<String>,
    pub stage: Stage,
    pub grade: Option<String>,
    pub tags: Vec<String>,
    pub owner_id: Option<String>,
    pub pool_id: Option<String>,
    pub next_followup_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl SearchCustomer {
    fn new(id: String, c: Card) -> SearchCustomer {
        let mut phones = c.phones.into_iter().map(|p| p.masked);
        SearchCustomer {
            id,
            name: c.name,
            phone: phones.next().unwrap_or_default(),
            extra_phones: phones.collect(),
            city: c.city,
            company: c.company,
            address: c.address,
            channel: c.channel,
            stage: c.stage,
            grade: c.grade,
            tags: c.tags,
            owner_id: c.owner_id,
            pool_id: c.pool_id,
            next_followup_at: c.next_followup_at,
            updated_at: c.updated_at,
        }
    }
}

impl Owned for Card {
    fn owner_id(&self) -> Option<&str> {
        self.owner_id.as_deref()
    }
    fn collaborators(&self) -> &[String] {
        &self.collaborators
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub customer: SearchCustomer,
    pub highlights: Vec<Highlight>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    pub next_cursor: Option<String>,
    /// Matching customers in the caller's scope.
    pub total: u64,
    /// `stage`, `grade`, `owner`, `channel` → value → count, over every match in scope; over
    /// only the first 10,000 matches when `facets_at_least` is true.
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    /// True when more than 10,000 customers match: each facet count is then a lower bound
    /// (shown as "至少 N" / "at least N"); `total` is always exact.
    pub facets_at_least: bool,
}

/// The most matches the customer list's `q` pages through.
const LIST_SEARCH_CAP: usize = 5_000;

/// The caller's scope as the index's terms (`pools`: pools whose waiting customers they see).
pub fn restrict_of(scope: &Scope, pools: Vec<String>) -> Restrict {
    Restrict {
        owners: match &scope.visible {
            Visible::All => None,
            Visible::Owners(set) => Some(set.iter().cloned().collect()),
        },
        department: scope.department.as_deref().map(|d| {
            search::dept_term(
                d,
                scope.kind == crate::domain::roles::DataScope::DepartmentTree,
            )
        }),
        collaborator: scope.user_id.clone(),
        pools,
    }
}

pub(crate) fn search_error(e: search::Error) -> Error {
    match e {
        search::Error::Rebuilding => Error::Unavailable {
            code: "search_rebuilding",
            message: "搜索索引正在重建，请稍后再试".into(),
        },
        other => Error::Internal(other.to_string()),
    }
}

impl crate::service::search::UseCases<'_> {
    /// The last six characters of a customer's ID number, for the index (never stored whole).
    pub fn id_tail(&self, c: &Customer) -> Option<String> {
        let sealed = c.id_number.as_ref()?;
        // A value that does not open is indexed without its tail and said so here; `zhudai
        // doctor` lists it under "sealed fields" for the admin.
        let plain = match self.fields.decrypt(&c.id, "id_number", &sealed.enc) {
            Ok(plain) => plain,
            Err(e) => {
                tracing::error!(customer = %c.id, error = %e, "the ID number does not open under the key; its last six digits are left out of the search index (see `zhudai doctor`)");
                return None;
            }
        };
        let chars: Vec<char> = plain.chars().collect();
        (chars.len() >= 6).then(|| chars[chars.len() - 6..].iter().collect())
    }

    /// Applies pending index changes now (after an import, at start-up, from the indexer task).
    pub fn search_catch_up(&self) -> Result<u64> {
        self.search
            .catch_up(&self.store, &|c| self.id_tail(c))
            .map_err(search_error)
    }

    /// Runs `work` (a long write such as an import) while a second thread applies the outbox
    /// to the index as batches commit, so indexing overlaps the work instead of following it.
    /// Call [`Self::search_catch_up`] afterwards for the last batch. Indexing failures are
    /// logged; the next catch-up (or start) replays what is missing.
    pub fn index_alongside<T>(&self, work: impl FnOnce() -> T) -> T {
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    match self.search_catch_up() {
                        Ok(n) if n > 0 => {}
                        Ok(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
                        Err(e) => {
                            tracing::warn!(error = %e, "indexing during the import");
                            std::thread::sleep(std::time::Duration::from_secs(1));
                        }
                    }
                }
            });
            let out = work();
            done.store(true, std::sync::atomic::Ordering::Release);
            out
        })
    }

    pub fn search_status(&self) -> Result<search::Status> {
        self.search
            .status(&self.store, &|c| self.id_tail(c))
            .map_err(search_error)
    }

    /// Rebuilds the index online. `during` runs once the snapshot is taken (test hook).
    pub fn reindex(
        &self,
        progress: &(dyn Fn(u64, u64) + Sync),
        during: &dyn Fn(),
    ) -> Result<search::Status> {
        self.search
            .rebuild(&self.store, &|c| self.id_tail(c), progress, during)
            .map_err(search_error)
    }

    /// A typed word, with full phone and ID numbers resolved through the blind index, and the
    /// keyed hash of the number it looks up, if any (metered).
    fn query_word(&self, word: &str) -> Result<(Word, Option<String>)> {
        Ok(match self.full_number(word)? {
            Some((w, key)) => (w, Some(key)),
            None if looks_like_id_tail(word) => {
                (Word::Text(word.to_string()), Some(self.id_tail_key(word)))
            }
            None => (Word::Text(word.to_string()), None),
        })
    }

    /// A full phone or ID number (spaces, dashes, `+86` allowed), resolved through the blind
    /// index, with that index; `None` when `text` is not one.
    fn full_number(&self, text: &str) -> Result<Option<(Word, String)>> {
        let digits = text.chars().filter(char::is_ascii_digit).count();
        if digits >= 11 {
            if let Ok(m) = phone::parse(text) {
                let bidx = self.fields.blind_index(Kind::Phone, m.as_str());
                let ids = self.store.read(|tx| {
                    Reader::unscoped(tx, Unscoped::NumberLookup).ids_by_index('p', &bidx)
                })?;
                return Ok(Some((Word::Ids(ids), bidx)));
            }
            let today = self
                .now()
                .with_timezone(&super::customers::shanghai())
                .date_naive();
            if let Ok(n) = id_number::parse(text, today) {
                let bidx = self.fields.blind_index(Kind::IdNumber, n.as_str());
                let ids = self.store.read(|tx| {
                    Reader::unscoped(tx, Unscoped::NumberLookup).ids_by_index('i', &bidx)
                })?;
                return Ok(Some((Word::Ids(ids), bidx)));
            }
        }
        Ok(None)
    }

    /// Ids of the best matches of `q` in the caller's scope (the customer list's `q`). The
    /// number lookups it holds count against `caller` ([`App::take_number_lookups`]).
    pub(crate) fn ranked_ids(
        &self,
        scope: &Scope,
        q: &str,
        caller: &Caller,
    ) -> Result<Vec<String>> {
        let (words, numbers) = self.query_words(q)?;
        self.take_number_lookups(caller, &numbers)?;
        let req = Request {
            words,
            restrict: restrict_of(scope, Vec::new()),
            filters: Filters::default(),
            offset: 0,
            limit: LIST_SEARCH_CAP,
            facets: false,
        };
        Ok(self
            .search
            .search(&self.store, &|c| self.id_tail(c), &req)
            .map_err(search_error)?
            .ids)
    }

    /// The words of a query, normalised, full phone and ID numbers resolved, and the keyed
    /// hashes of the numbers it looks up.
    fn query_words(&self, q: &str) -> Result<(Vec<Word>, Vec<String>)> {
        let text = analysis::normalise(q);
        if text.chars().count() > 100 {
            return Err(Error::Validation {
                field: "q".into(),
                reason: "搜索内容不能超过 100 个字".into(),
            });
        }
        let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        // A number typed in groups ("+86 138 1234 5678") is one phone or ID number: the
        // longest run of number-like words that reads as one is taken whole.
        let numberish = |w: &str| {
            w.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | 'x' | 'X'))
        };
        let mut out = Vec::new();
        let mut numbers = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let run = words[i..].iter().take_while(|w| numberish(w)).count();
            let mut taken = None;
            for end in (i + 2..=i + run).rev() {
                if let Some(w) = self.full_number(&words[i..end].join(" "))? {
                    taken = Some((w, end));
                    break;
                }
            }
            match taken {
                Some(((w, key), end)) => {
                    out.push(w);
                    numbers.push(key);
                    i = end;
                }
                None => {
                    let (w, key) = self.query_word(words[i])?;
                    out.push(w);
                    numbers.extend(key);
                    i += 1;
                }
            }
        }
        Ok((out, numbers))
    }

    /// The caller's scope as a search applies it in the index (owners, collaborations, pools
    /// seen), so benches can time the index with what a request sends.
    pub fn search_restrict(&self, caller: &Caller) -> Result<Restrict> {
        let scope = self.scope_of(caller)?;
        let pools: Vec<String> = self.pools_seen(caller)?.into_iter().collect();
        Ok(restrict_of(&scope, pools))
    }

    pub fn search_customers(&self, caller: &Caller, q: &SearchQuery) -> Result<SearchPage> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        let text = analysis::normalise(q.q.as_deref().unwrap_or(""));
        let (words, numbers) = self.query_words(&text)?;
        self.take_number_lookups(caller, &numbers)?;
        let pools: Vec<String> = self.pools_seen(caller)?.into_iter().collect();
        let limit = q.limit.unwrap_or(20).clamp(1, 100);
        let offset = search_offset(q.cursor.as_deref())?;
        let req = Request {
            words,
            restrict: restrict_of(&scope, pools.clone()),
            filters: Filters {
                stage: q.stage.clone(),
                grade: q.grade.clone(),
                tag: q.tag.clone(),
                owner: q.owner.clone(),
                channel: q.channel.clone(),
                pool: None,
            },
            offset,
            limit,
            facets: q.facets.unwrap_or(true),
        };
        let hits = self
            .search
            .search(&self.store, &|c| self.id_tail(c), &req)
            .map_err(search_error)?;
        // The index already applied the scope; checking each card again costs nothing and
        // keeps a document from ever showing a record the caller may not see.
        let items: Vec<SearchHit> = hits
            .ids
            .into_iter()
            .zip(hits.cards)
            .filter_map(|(id, card)| Some((id, serde_json::from_str::<Card>(&card).ok()?)))
            .filter(|(_, c)| {
                let waiting_in_my_pool =
                    c.owner_id.is_none() && c.pool_id.as_ref().is_some_and(|p| pools.contains(p));
                scope.can_see(c) || waiting_in_my_pool
            })
            .map(|(id, c)| SearchHit {
                highlights: highlights(&c, &text),
                customer: SearchCustomer::new(id, c),
            })
            .collect();
        let next = offset + limit;
        Ok(SearchPage {
            items,
            next_cursor: (next < hits.total && next <= MAX_SEARCH_OFFSET).then(|| next.to_string()),
            total: hits.total as u64,
            facets: hits.facets,
            facets_at_least: hits.facets_at_least,
        })
    }
}

/// How deep a ranked search pages: the index keeps `offset + limit` candidates in memory, so an
/// unbounded cursor would size an allocation from the request (`cursor=4294967296` aborted the
/// process). Past this, narrow the search instead.
pub const MAX_SEARCH_OFFSET: usize = 10_000;

/// Whether a query word is an ID number's last six digits: a lookup by number, metered like a
/// full phone or ID number.
fn looks_like_id_tail(t: &str) -> bool {
    t.len() == 6
        && t.bytes().take(5).all(|b| b.is_ascii_digit())
        && t.ends_with(|c: char| c.is_ascii_digit() || c == 'x' || c == 'X')
}

/// The search cursor: the offset of the next page, at most [`MAX_SEARCH_OFFSET`].
pub fn search_offset(cursor: Option<&str>) -> Result<usize> {
    let offset = match cursor {
        None | Some("") => return Ok(0),
        Some(c) => c.parse::<usize>().map_err(|_| Error::Validation {
            field: "cursor".into(),
            reason: "翻页标记无效，请从第一页重新查询".into(),
        })?,
    };
    if offset > MAX_SEARCH_OFFSET {
        return Err(Error::Validation {
            field: "cursor".into(),
            reason: format!("搜索结果最多翻到第 {MAX_SEARCH_OFFSET} 条，请增加搜索条件缩小范围"),
        });
    }
    Ok(offset)
}

fn highlights(c: &Card, text: &str) -> Vec<Highlight> {
    let mut out = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let latin = word.chars().all(|ch| ch.is_ascii_alphabetic());
        let fields = [
            ("name", Some(c.name.as_str())),
            ("company", c.company.as_deref()),
            ("address", c.address.as_deref()),
            ("city", c.city.as_deref()),
        ];
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let mut ranges = analysis::highlight_ranges(value, word);
            if ranges.is_empty()
                && field == "name"
                && latin
                && analysis::name_pinyin_terms(value)
                    .iter()
                    .any(|p| p.starts_with(word))
            {
                ranges = vec![[0, value.chars().count()]];
            }
            if !ranges.is_empty() {
                out.push(Highlight {
                    field: field.into(),
                    value: value.to_string(),
                    ranges,
                });
            }
        }
        if word.len() == 4 && word.chars().all(|ch| ch.is_ascii_digit()) {
            for p in &c.phones {
                if p.tail == word {
                    let n = p.masked.chars().count();
                    out.push(Highlight {
                        field: "phone".into(),
                        value: p.masked.clone(),
                        ranges: vec![[n.saturating_sub(4), n]],
                    });
                }
            }
        }
    }
    out
}
