//! Deals (业务单): a customer's application for a product, scoped like customers — a deal is
//! seen by the callers whose data scope holds its officer or its assistant; outside it, 404.
//! Creating, editing and reading live here; moving through the pipeline (and the customer's
//! stage following its deals) in `stage.rs`, the views (schedule, cost) in `view.rs`.

crate::service::use_cases!(deals, "Deals (业务单) through the pipeline.");

pub mod reminders;
mod stage;
mod view;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use stage::MoveRequest;
pub use view::{ContractCost, CostBasis, CostUnknown, DealSchedule, DealView, contract_cost, pct};

use super::access::auth::Caller;
use super::access::scope::{Scope, Visible};
use super::context::W;
use super::{Error, Result, new_id};
use crate::domain::capability::Capability;
use crate::domain::deal::{self, Deal, DealStage, ProductSnapshot, StageChange};
use crate::domain::org::UserStatus;
use crate::store;
use crate::store::deals::{Filter, Reader, SeesDeals};

impl SeesDeals for Scope {
    fn users(&self) -> Option<&BTreeSet<String>> {
        match &self.visible {
            Visible::All => None,
            Visible::Owners(set) => Some(set),
        }
    }
}

/// A new deal. The officer defaults to the caller. Unknown fields are refused.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    pub customer_id: String,
    pub product_id: String,
    pub amount_fen: i64,
    pub term_months: u32,
    pub officer_id: Option<String>,
    pub assistant_id: Option<String>,
}

/// A change of a deal's request or people; absent fields are left, `assistant_id: null`
/// removes the assistant.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealPatch {
    pub amount_fen: Option<i64>,
    pub term_months: Option<u32>,
    pub officer_id: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub assistant_id: Option<Option<String>>,
}

fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Which deals a list shows.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealFilter {
    pub stage: Option<DealStage>,
    /// An officer's user id (in the caller's scope).
    pub officer: Option<String>,
    pub customer: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DealPage {
    pub items: Vec<DealView>,
    pub next_cursor: Option<String>,
    pub total: u64,
}

/// One column of the board.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BoardColumn {
    pub stage: DealStage,
    /// Every deal of the caller's scope at this stage (from the counters).
    pub count: u64,
    /// The newest cards.
    pub cards: Vec<DealView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub columns: Vec<BoardColumn>,
}

/// Cards per board column.
pub const BOARD_CARDS: usize = 20;

fn refused_people(field: &'static str) -> Error {
    Error::validation(field, "该员工不存在、已停用，或不在您的数据范围内")
}

impl crate::service::deals::UseCases<'_> {
    /// May sign off a deal without a signed contract: managers, i.e. holders of
    /// `customer.assign` (admins and the built-in manager role; not salespeople).
    pub fn may_override(caller: &Caller) -> bool {
        caller.can(Capability::CustomerAssign)
    }

    fn names(&self) -> Result<BTreeMap<String, String>> {
        Ok(self
            .store
            .read(store::users::all)?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect())
    }

    fn views(&self, caller: &Caller, deals: Vec<Deal>) -> Result<Vec<DealView>> {
        let names = self.names()?;
        Ok(deals
            .into_iter()
            .map(|d| DealView::new(d, &names, Self::may_override(caller), None))
            .collect())
    }

    /// An active user the scope may hand a record to.
    fn person(w: &W<'_>, id: &str, field: &'static str, in_scope: bool) -> Result<()> {
        let ok = store::users::find_by_id_w(w.tx, id)?
            .is_some_and(|u| u.status == UserStatus::Active)
            && (!in_scope || w.scope().may_receive(id));
        if ok {
            Ok(())
        } else {
            Err(refused_people(field))
        }
    }

    pub fn create_deal(&self, caller: &Caller, input: NewDeal, source: &str) -> Result<DealView> {
        caller.require(Capability::DealCreate)?;
        deal::check_request(input.amount_fen, input.term_months)
            .map_err(|(f, r)| Error::validation(f, r))?;
        let ctx = self.ctx(caller, source)?;
        let d = ctx.write(|w| {
            let customer = w.live(&input.customer_id)?;
            let product = store::products::get_w(w.tx, &input.product_id)?
                .filter(|p| p.terms.active)
                .ok_or_else(|| Error::validation("product_id", "产品不存在或已停用"))?;
            deal::check_request_against(&product.terms, input.amount_fen, input.term_months)
                .map_err(|(f, r)| Error::validation(f, r))?;
            let officer = input
                .officer_id
                .clone()
                .unwrap_or_else(|| caller.user.id.clone());
            Self::person(w, &officer, "officer_id", true)?;
            if let Some(a) = &input.assistant_id {
                Self::person(w, a, "assistant_id", false)?;
            }
            let now = w.now();
            let d = Deal {
                id: new_id(now),
                customer_id: customer.id.clone(),
                customer_name: customer.name.clone(),
                product: ProductSnapshot {
                    id: product.id.clone(),
                    name: product.terms.name.clone(),
                    lender: product.terms.lender.clone(),
                    category: product.terms.category,
                    version: product.version,
                    service_fee: product.terms.fees.service_fee,
                    rebate_bp: product.terms.fees.lender_rebate_bp,
                },
                amount_fen: input.amount_fen,
                term_months: input.term_months,
                officer_id: officer,
                assistant_id: input.assistant_id.clone(),
                stage: DealStage::Invited,
                approval: None,
                disbursement: None,
                closed_reason: None,
                history: vec![StageChange {
                    at: now,
                    by: caller.user.id.clone(),
                    from: None,
                    to: DealStage::Invited,
                    note: None,
                    override_reason: None,
                }],
                created_by: caller.user.id.clone(),
                broker_id: customer.broker_id.clone(),
                created_at: now,
                updated_at: now,
            };
            store::deals::put(w.tx, None, &d)?;
            stage::follow_customer(w, &d)?;
            w.audit(
                "deal.created",
                Some(&d.id),
                json!({"customer_id": d.customer_id, "product_id": d.product.id,
                       "amount_fen": d.amount_fen, "term_months": d.term_months,
                       "officer_id": d.officer_id, "assistant_id": d.assistant_id}),
            )?;
            Ok(d)
        })?;
        self.view(caller, d)
    }

    fn view(&self, caller: &Caller, d: Deal) -> Result<DealView> {
        Ok(DealView::new(
            d,
            &self.names()?,
            Self::may_override(caller),
            Some(&self.config.loans),
        ))
    }

    pub fn get_deal(&self, caller: &Caller, id: &str) -> Result<DealView> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let d = self
            .store
            .read(|tx| Reader::scoped(tx, &scope).get(id))?
            .ok_or(Error::NotFound)?;
        self.view(caller, d)
    }

    pub fn list_deals(&self, caller: &Caller, f: &DealFilter) -> Result<DealPage> {
        caller.require(Capability::DealRead)?;
        let limit = match f.limit {
            None => 50,
            Some(n @ 1..=200) => n,
            Some(_) => return Err(Error::validation("limit", "每页条数须在 1 到 200 之间")),
        };
        // A cursor is the id of the previous page's last deal: anything else would silently
        // start a page somewhere (a malformed one sorted past every id: the first page).
        if let Some(c) = f.cursor.as_deref().filter(|c| !c.is_empty())
            && !crate::store::is_canonical_ulid(c)
        {
            return Err(Error::validation(
                "cursor",
                "分页位置无效，请从第一页重新查看",
            ));
        }
        let scope = self.scope_of(caller)?;
        let filter = Filter {
            stage: f.stage,
            officer: f.officer.clone(),
            customer: f.customer.clone(),
        };
        let page = self
            .store
            .read(|tx| Reader::scoped(tx, &scope).page(&filter, f.cursor.as_deref(), limit))?;
        Ok(DealPage {
            items: self.views(caller, page.items)?,
            next_cursor: page.next_cursor,
            total: page.total,
        })
    }

    /// A customer's deals (the customer must be readable by the caller).
    pub fn customer_deals(&self, caller: &Caller, customer_id: &str) -> Result<DealPage> {
        caller.require(Capability::DealRead)?;
        self.customers().visible_customer(caller, customer_id)?;
        self.list_deals(
            caller,
            &DealFilter {
                customer: Some(customer_id.to_string()),
                limit: Some(200),
                ..DealFilter::default()
            },
        )
    }

    /// Columns by stage: the counts from the counters, the newest cards of each.
    pub fn board(&self, caller: &Caller) -> Result<Board> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let (counts, pages) = self.store.read(|tx| {
            let r = Reader::scoped(tx, &scope);
            let counts = r.counts()?;
            let mut pages = Vec::new();
            for stage in DealStage::ALL {
                let f = Filter {
                    stage: Some(stage),
                    ..Filter::default()
                };
                pages.push((
                    stage,
                    r.page_counted(&f, None, BOARD_CARDS, Some(&counts))?.items,
                ));
            }
            Ok::<_, Error>((counts, pages))
        })?;
        let names = self.names()?;
        let columns = pages
            .into_iter()
            .map(|(stage, items)| BoardColumn {
                stage,
                count: counts.get(&stage).copied().unwrap_or(0),
                cards: items
                    .into_iter()
                    .map(|d| DealView::new(d, &names, Self::may_override(caller), None))
                    .collect(),
            })
            .collect();
        Ok(Board { columns })
    }

    pub fn update_deal(
        &self,
        caller: &Caller,
        id: &str,
        patch: DealPatch,
        source: &str,
    ) -> Result<DealView> {
        caller.require(Capability::DealEdit)?;
        let ctx = self.ctx(caller, source)?;
        let d = ctx.write(|w| {
            let before = Reader::scoped(w.tx, w.scope())
                .get(id)?
                .ok_or(Error::NotFound)?;
            if before.stage.is_terminal() {
                return Err(Error::Refused {
                    code: "deal_closed",
                    message: format!("业务单已{}，不能再修改", before.stage.label()),
                    details: json!({"stage": before.stage}),
                });
            }
            let mut d = before.clone();
            let mut changed = Vec::new();
            if let Some(a) = patch.amount_fen
                && a != d.amount_fen
            {
                d.amount_fen = a;
                changed.push("amount_fen");
            }
            if let Some(t) = patch.term_months
                && t != d.term_months
            {
                d.term_months = t;
                changed.push("term_months");
            }
            deal::check_request(d.amount_fen, d.term_months)
                .map_err(|(f, r)| Error::validation(f, r))?;
            if !changed.is_empty() {
                // Only what changed is held to the product's ranges as they are now: the
                // other may be an amount the product took before it narrowed.
                let product = store::products::get_w(w.tx, &d.product.id)?.ok_or_else(|| {
                    Error::Internal(format!("deal {}: product {} is gone", d.id, d.product.id))
                })?;
                if changed.contains(&"amount_fen") {
                    deal::amount_within(&product.terms, d.amount_fen)
                        .map_err(|(f, r)| Error::validation(f, r))?;
                }
                if changed.contains(&"term_months") {
                    deal::term_within(&product.terms, d.term_months)
                        .map_err(|(f, r)| Error::validation(f, r))?;
                }
            }
            if let Some(o) = &patch.officer_id
                && *o != d.officer_id
            {
                Self::person(w, o, "officer_id", true)?;
                d.officer_id = o.clone();
                changed.push("officer_id");
            }
            if let Some(a) = &patch.assistant_id
                && *a != d.assistant_id
            {
                if let Some(a) = a {
                    Self::person(w, a, "assistant_id", false)?;
                }
                d.assistant_id = a.clone();
                changed.push("assistant_id");
            }
            if d == before {
                return Ok(before);
            }
            d.updated_at = w.now();
            store::deals::put(w.tx, Some(&before), &d)?;
            w.audit(
                "deal.updated",
                Some(&d.id),
                json!({"fields": changed, "from": {
                    "amount_fen": before.amount_fen, "term_months": before.term_months,
                    "officer_id": before.officer_id, "assistant_id": before.assistant_id}}),
            )?;
            Ok(d)
        })?;
        self.view(caller, d)
    }
}
