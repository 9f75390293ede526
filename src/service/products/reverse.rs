//! The reverse match (反向匹配): which of the caller's customers qualify for one product — the
//! list to work when a product is added or its requirements change. Reads the compact match
//! rows (`store::match_rows`) through the caller's scope, never a customer record, except the
//! page it returns and the few customers whose exact age decides an age requirement.

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::customer::Customer;
use crate::domain::matching::{self, Applicant, Status};
use crate::service::access::auth::Caller;
use crate::service::customers::{CustomerView, shanghai};
use crate::service::{Error, Result};
use crate::store;
use crate::store::match_rows::MatchRow;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Wanted {
    #[default]
    Eligible,
    NeedsInfo,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidateQuery {
    /// `eligible` (default) or `needs_info`: which customers the page lists.
    #[param(inline)]
    pub status: Option<Wanted>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<usize>,
    /// The last customer id of the previous page.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CandidatePage {
    pub product_id: String,
    /// Customers in the caller's scope meeting every requirement.
    pub eligible: u64,
    /// Customers failing none, but whose profile does not answer some requirement.
    pub needs_info: u64,
    /// Live customers in the caller's scope looked at.
    pub scanned: u64,
    /// The page, as the caller may see them (masked as everywhere).
    pub items: Vec<CustomerView>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next_after: Option<String>,
}

/// The status of one row. `exact_age` is asked only when the birth year leaves the answer open.
fn status_of(
    r: &crate::domain::product::Requirements,
    row: &MatchRow,
    year: i32,
    mut exact_age: impl FnMut() -> Result<Option<u32>>,
) -> Result<Status> {
    let run = |age: Option<u32>| {
        matching::evaluate(
            r,
            &Applicant {
                age,
                born: None,
                city: row.city.as_deref(),
                profile: &row.profile,
                demand: &row.demand,
            },
        )
        .status
    };
    let ages_matter = r.age_min.is_some() || r.age_max.is_some();
    match (ages_matter, row.has_id_number, row.birth_year) {
        (false, _, _) | (true, false, _) => Ok(run(None)),
        (true, true, Some(born)) => {
            // Completed years are this year's difference, or one less before the birthday.
            let older = u32::try_from(year - born).ok();
            let younger = older.and_then(|a| a.checked_sub(1));
            let (a, b) = (run(older), run(younger.or(older)));
            if a == b { Ok(a) } else { Ok(run(exact_age()?)) }
        }
        (true, true, None) => Ok(run(exact_age()?)),
    }
}

impl crate::service::products::UseCases<'_> {
    /// The caller's customers against product `id`: counts and one page of those qualifying.
    pub fn candidates(
        &self,
        caller: &Caller,
        id: &str,
        q: &CandidateQuery,
    ) -> Result<CandidatePage> {
        caller.require(Capability::CustomerRead)?;
        let limit = q.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(Error::validation("limit", "每页条数应为1到200"));
        }
        let wanted = match q.status.unwrap_or_default() {
            Wanted::Eligible => Status::Eligible,
            Wanted::NeedsInfo => Status::NeedsInfo,
        };
        let scope = self.scope_of(caller)?;
        let viewer = self.viewer(caller);
        let year = self.now().with_timezone(&shanghai()).year();
        self.store.read(|tx| {
            let product = store::products::get(tx, id)?.ok_or(Error::NotFound)?;
            let reader = scope.customers(tx);
            let r = &product.terms.requirements;
            let mut page = CandidatePage {
                product_id: product.id.clone(),
                eligible: 0,
                needs_info: 0,
                scanned: 0,
                items: Vec::new(),
                next_after: None,
            };
            let mut ids: Vec<String> = Vec::new();
            let mut more = false;
            let mut failed: Option<Error> = None;
            reader.scan_match_rows(|cid, row| {
                page.scanned += 1;
                let exact = || -> Result<Option<u32>> {
                    let c: Option<Customer> = reader.live(cid)?;
                    match c {
                        Some(c) => viewer.age(&c),
                        None => Ok(None),
                    }
                };
                let status = match status_of(r, &row, year, exact) {
                    Ok(s) => s,
                    Err(e) => {
                        failed = Some(e);
                        return Ok(false);
                    }
                };
                match status {
                    Status::Eligible => page.eligible += 1,
                    Status::NeedsInfo => page.needs_info += 1,
                    Status::Ineligible => {}
                }
                if status == wanted && q.after.as_deref().is_none_or(|a| cid > a) {
                    if ids.len() < limit {
                        ids.push(cid.to_string());
                    } else {
                        more = true;
                    }
                }
                Ok(true)
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            for cid in &ids {
                let c = reader.live(cid)?.ok_or_else(|| {
                    Error::Internal(format!("customer {cid}: match row without a live record"))
                })?;
                page.items.push(viewer.view(&c)?);
            }
            if more {
                page.next_after = ids.last().cloned();
            }
            Ok(page)
        })
    }
}
