//! Reading customers for a caller: one record, and the customer list (from the search index,
//! or by reading the records while the index is rebuilt or a query ranks them).

use std::collections::BTreeMap;

use serde::Serialize;

use super::list::{CustomerFilter, FilterContext};
use super::{CustomerPage, CustomerView, cursor_gone, has_query};
use crate::domain::capability::Capability;
use crate::domain::customer::Customer;
use crate::search::Listed;
use crate::search::fields::stage_key;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Scope;
use crate::service::search::{restrict_of, search_error};
use crate::service::{Error, Result};
use crate::store::customers::Reader;

impl crate::service::customers::UseCases<'_> {
    /// A live customer the caller may read (their scope, or waiting in a pool they use).
    pub(crate) fn visible_customer(&self, caller: &Caller, id: &str) -> Result<Customer> {
        caller.require(Capability::CustomerRead)?;
        let read = self.read_scope_of(caller)?;
        self.store
            .read(|tx| read.customers(tx).live(id))?
            .ok_or(Error::NotFound)
    }

    /// One customer as `visible_customer` finds it, shown: decoded for display
    /// (ciphertexts and indexes unread, `Reader::live_shown`) with the same scope checks.
    pub fn get_customer(&self, caller: &Caller, id: &str) -> Result<CustomerView> {
        caller.require(Capability::CustomerRead)?;
        let read = self.read_scope_of(caller)?;
        let shown = self
            .store
            .read(|tx| read.customers(tx).live_shown(id))?
            .ok_or(Error::NotFound)?;
        self.viewer(caller).view_shown(shown)
    }
    /// The customer list. Without `q` it is served from the search index (only the page's
    /// records are read); with `q` the ranked matches are read and filtered.
    pub fn list_customers(&self, caller: &Caller, f: &CustomerFilter) -> Result<CustomerPage> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        if !has_query(f)
            && let Some(page) = self.list_from_index(caller, &scope, f)?
        {
            return Ok(page);
        }
        self.list_by_reading(caller, &scope, f)
    }

    /// The list from the index alone; `None` when the index cannot serve it right now (being
    /// opened or rebuilt, or holding ids it cannot order). For tests comparing both paths.
    #[doc(hidden)]
    pub fn list_customers_indexed(
        &self,
        caller: &Caller,
        f: &CustomerFilter,
    ) -> Result<Option<CustomerPage>> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        self.list_from_index(caller, &scope, f)
    }

    /// The reference list: every record read and filtered with [`CustomerFilter::matches`]
    /// (and the `q` path). For tests comparing both paths.
    #[doc(hidden)]
    pub fn list_customers_scanned(
        &self,
        caller: &Caller,
        f: &CustomerFilter,
    ) -> Result<CustomerPage> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        self.list_by_reading(caller, &scope, f)
    }

    fn list_from_index(
        &self,
        caller: &Caller,
        scope: &Scope,
        f: &CustomerFilter,
    ) -> Result<Option<CustomerPage>> {
        let limit = f.limit.unwrap_or(50).clamp(1, 200);
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let req = crate::service::customers::list::list_request(
            f,
            &ctx,
            restrict_of(scope, Vec::new()),
            limit,
        );
        let listed = match self
            .search
            .list(&self.store, &|c| self.lookup().id_tail(c), &req)
        {
            Ok(l) => l,
            Err(crate::search::Error::Rebuilding) => return Ok(None),
            Err(e) => return Err(search_error(e)),
        };
        let (ids, total, more) = match listed {
            Listed::Page { ids, total, more } => (ids, total, more),
            Listed::Unordered => return Ok(None),
            Listed::CursorGone => return Err(cursor_gone()),
        };
        let viewer = self.viewer(caller);
        let items = self.store.read(|tx| {
            let mut items = Vec::with_capacity(ids.len());
            // The index decided scope and deletion; the records it names are checked again
            // (the scoped reader), as search does, so an index behind the store never shows
            // too much.
            let read = scope.customers(tx);
            for id in &ids {
                if let Some(shown) = read.live_shown(id)? {
                    items.push(viewer.view_shown(shown)?);
                }
            }
            Ok::<_, Error>(items)
        })?;
        let next_cursor = if more {
            items.last().map(|v: &CustomerView| v.id.clone())
        } else {
            None
        };
        Ok(Some(CustomerPage {
            items,
            next_cursor,
            total: total as u64,
        }))
    }

    fn list_by_reading(
        &self,
        caller: &Caller,
        scope: &Scope,
        f: &CustomerFilter,
    ) -> Result<CustomerPage> {
        let limit = f.limit.unwrap_or(50).clamp(1, 200);
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let viewer = self.viewer(caller);
        let keep = |c: &Customer| f.matches(c, &ctx);
        // Only (sort key, id) of every match is held; the page's records are read afterwards.
        let mut keys: Vec<(String, String)> = Vec::new();
        let ranked = self.ranked_for_list(caller, scope, f)?;
        let page = self.store.read(|tx| {
            let read = scope.customers(tx);
            each_read_match(&read, ranked.as_deref(), keep, |rank, c| {
                let key = match (&ranked, f.sort) {
                    (Some(_), None) => format!("{rank:08}"),
                    _ => f.sort_key(&c),
                };
                keys.push((key, c.id));
            })?;
            keys.sort();
            // Search results keep their ranking (best first) unless a sort was asked for.
            let by_rank = ranked.is_some() && f.sort.is_none();
            if !by_rank && f.sort.unwrap_or_default().descending() {
                keys.reverse();
            }
            let start = match f.cursor.as_deref() {
                Some(cur) => keys
                    .iter()
                    .position(|(_, id)| id == cur)
                    .map(|i| i + 1)
                    .ok_or_else(cursor_gone)?,
                None => 0,
            };
            let mut items = Vec::new();
            for (_, id) in keys.iter().skip(start).take(limit) {
                if let Some(c) = read.live(id)? {
                    items.push(viewer.view_owned(c)?);
                }
            }
            let next_cursor = if start + limit < keys.len() {
                items.last().map(|v: &CustomerView| v.id.clone())
            } else {
                None
            };
            Ok::<_, Error>(CustomerPage {
                items,
                next_cursor,
                total: keys.len() as u64,
            })
        })?;
        Ok(page)
    }

    /// How many customers of the list `f` describes are in each stage, `f`'s own stage left
    /// out: the stage chips above the list. The same customers as the list, found the same
    /// way (the index without `q`, else the ranked matches read and filtered), so the chips
    /// add up to the list's total when no stage is chosen.
    pub fn customer_stage_counts(
        &self,
        caller: &Caller,
        f: &CustomerFilter,
    ) -> Result<StageCounts> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let all_stages = CustomerFilter {
            stage: None,
            ..f.clone()
        };
        if !has_query(f) {
            let req = crate::service::customers::list::list_request(
                &all_stages,
                &ctx,
                restrict_of(&scope, Vec::new()),
                1,
            );
            match self
                .search
                .list_stage_counts(&self.store, &|c| self.lookup().id_tail(c), &req)
            {
                Ok(stage) => return Ok(StageCounts { stage }),
                Err(crate::search::Error::Rebuilding) => {}
                Err(e) => return Err(search_error(e)),
            }
        }
        let ranked = self.ranked_for_list(caller, &scope, f)?;
        let mut stage = BTreeMap::new();
        self.store.read(|tx| {
            let read = scope.customers(tx);
            each_read_match(
                &read,
                ranked.as_deref(),
                |c| all_stages.matches(c, &ctx),
                |_, c| *stage.entry(stage_key(c.stage)).or_insert(0) += 1,
            )
        })?;
        Ok(StageCounts { stage })
    }

    /// The ranked matches of the list's `q`, if it has one.
    /// The number lookups in `q` count against `caller` (the page and its stage counts each:
    /// either answers whether a number is there).
    fn ranked_for_list(
        &self,
        caller: &Caller,
        scope: &Scope,
        f: &CustomerFilter,
    ) -> Result<Option<Vec<String>>> {
        match f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => Ok(Some(self.lookup().ranked_ids(scope, q, caller)?)),
            None => Ok(None),
        }
    }
}

/// Each live record in `read`'s scope that passes `keep`, with its rank: the `ranked` ids in
/// their order, or every record (rank 0) when there is no `q`.
fn each_read_match(
    read: &Reader,
    ranked: Option<&[String]>,
    keep: impl Fn(&Customer) -> bool,
    mut visit: impl FnMut(usize, Customer),
) -> Result<()> {
    match ranked {
        Some(ids) => {
            for (rank, id) in ids.iter().enumerate() {
                if let Some(c) = read.live(id)?
                    && keep(&c)
                {
                    visit(rank, c);
                }
            }
        }
        None => read.scan(None, |c| {
            if keep(&c) {
                visit(0, c);
            }
            true
        })?,
    }
    Ok(())
}

/// The customer list's matches per stage (`GET /customers/stage-counts`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StageCounts {
    /// Stage key (`lead`, `contacted`, …) → customers; a stage nobody is in is absent.
    pub stage: BTreeMap<String, u64>,
}
