//! Document custody (权证) of deals: each deal's checklist, hand-overs, scans and photos (blobs)
//! and the firm-wide list of what it holds. Scoped like deals: a deal outside the caller's
//! scope is 404 for its documents and files too.
//!
//! Who may do what (docs/documents.md): reading needs `deal.read`; adding and removing items,
//! recording hand-overs and attaching files need `deal.edit` on a deal the caller sees — the
//! built-in 权证专员 (`documents`, every deal), the deal's officer or assistant (salespeople
//! see their own deals) and managers (their departments' deals). Finance reads only.
//!
//! A deal's checklist is written on its first change, from the documents of the product
//! version the deal was made with; until then the list shows those documents as pending. So
//! deals made before schema 23 need no migration.

crate::service::use_cases!(documents, "Document custody (权证) and attached scans.");

mod attachments;
mod files;
mod held;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use files::{FileDownload, Upload, blob_error, erase_customer};
pub use held::{CustodyExport, CustodyPage, CustodyQuery, CustodyRow};

use super::access::auth::Caller;
use super::context::W;
use super::{Error, Result};
use crate::domain::capability::Capability;
use crate::domain::custody::{self, Checklist, DocItem, DocStatus, Refusal};
use crate::domain::deal::Deal;
use crate::store;
use crate::store::deals::Reader;

/// A deal's checklist as it leaves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentsView {
    pub deal_id: String,
    pub items: Vec<ItemView>,
    /// The caller may add items, record hand-overs and attach files.
    pub may_edit: bool,
    /// `documents.overdue_days`.
    pub overdue_days: u32,
}

/// One item with names for its people and the moves it allows now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    #[serde(flatten)]
    pub item: DocItem,
    pub custodian_name: Option<String>,
    /// Statuses it may move to now.
    pub moves: Vec<DocStatus>,
    /// Lent out longer than `documents.overdue_days`.
    pub overdue: bool,
    /// Display names of the users in `history[].by` and `files[].by`.
    pub names: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub name: String,
}

/// A hand-over (or loss) of an item.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    pub to: DocStatus,
    /// Lent out: the lender's person who takes it (required). Received / returned: who handed
    /// it in / took it back (default 借款人).
    #[serde(default)]
    pub recipient: Option<String>,
    /// Required for `lost`.
    #[serde(default)]
    pub note: Option<String>,
}

fn refused(r: Refusal) -> Error {
    match r {
        Refusal::Field(f, reason) => Error::validation(f, reason),
        Refusal::Illegal { from, to } => Error::Refused {
            code: "document_move_illegal",
            message: Refusal::Illegal { from, to }.message(),
            details: json!({"from": from, "to": to}),
        },
        Refusal::NotPending => Error::Refused {
            code: "document_not_pending",
            message: Refusal::NotPending.message(),
            details: json!({}),
        },
    }
}

/// The blob reference of an item's file.
pub(crate) fn blob_ref(deal: &str, item: &str) -> String {
    format!("doc:{deal}/{item}")
}

impl crate::service::documents::UseCases<'_> {
    fn names(&self) -> Result<BTreeMap<String, String>> {
        Ok(self
            .store
            .read(store::users::all)?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect())
    }

    fn item_view(&self, item: DocItem, names: &BTreeMap<String, String>) -> ItemView {
        let moves = DocStatus::ALL
            .into_iter()
            .filter(|to| custody::allowed(item.status, *to))
            .collect();
        let overdue = item.status == DocStatus::LentOut
            && item.out_at.is_some_and(|at| {
                custody::overdue(at, self.now(), self.config.documents.overdue_days)
            });
        let mut who: BTreeMap<String, String> = BTreeMap::new();
        for id in item
            .history
            .iter()
            .map(|h| &h.by)
            .chain(item.files.iter().map(|f| &f.by))
            .chain(item.custodian_id.iter())
        {
            if let Some(n) = names.get(id) {
                who.insert(id.clone(), n.clone());
            }
        }
        ItemView {
            custodian_name: item
                .custodian_id
                .as_ref()
                .and_then(|c| names.get(c).cloned()),
            moves,
            overdue,
            names: who,
            item,
        }
    }

    /// The documents the product version of `deal` asked for.
    fn product_documents(tx: store::customers::Tx<'_>, deal: &Deal) -> Result<Vec<String>> {
        let versions = match tx {
            store::customers::Tx::Read(tx) => store::products::versions(tx, &deal.product.id)?,
            store::customers::Tx::Write(tx) => store::products::versions_w(tx, &deal.product.id)?,
        };
        Ok(versions
            .into_iter()
            .find(|p| p.version == deal.product.version)
            .map(|p| p.terms.documents)
            .unwrap_or_default())
    }

    /// A deal's checklist (`deal.read`).
    pub fn list(&self, caller: &Caller, deal_id: &str) -> Result<DocumentsView> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let now = self.now();
        let checklist = self.store.read(|tx| {
            let deal = Reader::scoped(tx, &scope)
                .get(deal_id)?
                .ok_or(Error::NotFound)?;
            match store::custody::get(tx, deal_id)? {
                Some(c) => Ok::<_, Error>(c),
                None => Ok(Checklist::from_documents(
                    deal_id,
                    &Self::product_documents(tx.into(), &deal)?,
                    &deal.created_by,
                    deal.created_at.min(now),
                )),
            }
        })?;
        let names = self.names()?;
        Ok(DocumentsView {
            deal_id: deal_id.to_string(),
            items: checklist
                .items
                .into_iter()
                .map(|i| self.item_view(i, &names))
                .collect(),
            may_edit: caller.can(Capability::DealEdit),
            overdue_days: self.config.documents.overdue_days,
        })
    }

    /// The deal (in scope) and its checklist, written or as it starts.
    fn open(w: &W<'_>, deal_id: &str) -> Result<(Deal, Option<Checklist>, Checklist)> {
        let deal = Reader::scoped(w.tx, w.scope())
            .get(deal_id)?
            .ok_or(Error::NotFound)?;
        let before = store::custody::get(w.tx, deal_id)?;
        let current = match &before {
            Some(c) => c.clone(),
            None => Checklist::from_documents(
                deal_id,
                &Self::product_documents(w.tx.into(), &deal)?,
                &deal.created_by,
                deal.created_at.min(w.now()),
            ),
        };
        Ok((deal, before, current))
    }

    /// The one write of a checklist change: the record and keys, the customer's timeline
    /// event and the audit row, in the use case's transaction.
    #[allow(clippy::too_many_arguments)]
    fn save(
        w: &W<'_>,
        deal: &Deal,
        before: Option<&Checklist>,
        after: &Checklist,
        action: &'static str,
        item: &DocItem,
        timeline: Option<String>,
        detail: serde_json::Value,
    ) -> Result<()> {
        store::custody::put(w.tx, before, after, deal)?;
        // The customer's timeline: `from` the document's name, `to` what happened (a status
        // key, or `added` / `removed` / `attached`), `note` the hand-over line or file name.
        let what = action.strip_prefix("document.").unwrap_or(action);
        w.event(
            &deal.customer_id,
            "document",
            Some(item.name.clone()),
            Some(what.to_string()),
            timeline,
        )?;
        let mut detail = detail;
        if let Some(map) = detail.as_object_mut() {
            map.insert("deal_id".into(), json!(deal.id));
            map.insert("item_id".into(), json!(item.id));
            map.insert("name".into(), json!(item.name));
        }
        w.audit(action, Some(&deal.id), detail)
    }

    /// Adds an item to a deal's checklist (`deal.edit`).
    pub fn add_item(
        &self,
        caller: &Caller,
        deal_id: &str,
        input: NewItem,
        source: &str,
    ) -> Result<ItemView> {
        caller.require(Capability::DealEdit)?;
        let ctx = self.ctx(caller, source)?;
        let item = ctx.write(|w| {
            let (deal, before, mut c) = Self::open(w, deal_id)?;
            let item = c
                .add(&input.name, &caller.user.id, w.now())
                .map_err(|(f, r)| Error::validation(f, r))?
                .clone();
            Self::save(
                w,
                &deal,
                before.as_ref(),
                &c,
                "document.added",
                &item,
                None,
                json!({}),
            )?;
            Ok(item)
        })?;
        Ok(self.item_view(item, &self.names()?))
    }

    /// Removes a pending item (`deal.edit`); its files lose this reference.
    pub fn remove_item(
        &self,
        caller: &Caller,
        deal_id: &str,
        item_id: &str,
        source: &str,
    ) -> Result<()> {
        caller.require(Capability::DealEdit)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let (deal, before, mut c) = Self::open(w, deal_id)?;
            let item = c.item(item_id).ok_or(Error::NotFound)?.clone();
            if item.status != DocStatus::Pending {
                return Err(refused(Refusal::NotPending));
            }
            c.items.retain(|i| i.id != item_id);
            for f in &item.files {
                store::blobs::remove_ref(w.tx, &f.blob, &blob_ref(deal_id, item_id), w.now())?;
            }
            Self::save(
                w,
                &deal,
                before.as_ref(),
                &c,
                "document.removed",
                &item,
                None,
                json!({}),
            )
        })?;
        self.remove_unreferenced_files();
        Ok(())
    }

    /// Records a hand-over or a loss (`deal.edit`).
    pub fn move_item(
        &self,
        caller: &Caller,
        deal_id: &str,
        item_id: &str,
        body: MoveBody,
        source: &str,
    ) -> Result<ItemView> {
        caller.require(Capability::DealEdit)?;
        let ctx = self.ctx(caller, source)?;
        let item = ctx.write(|w| {
            let (deal, before, mut c) = Self::open(w, deal_id)?;
            let item = c.item_mut(item_id).ok_or(Error::NotFound)?;
            let h = custody::apply(
                item,
                &custody::Move {
                    to: body.to,
                    recipient: body.recipient.as_deref(),
                    note: body.note.as_deref(),
                    by: &caller.user.id,
                    by_name: &caller.user.display_name,
                    now: w.now(),
                },
            )
            .map_err(refused)?;
            let item = item.clone();
            let line = format!(
                "{} → {}{}",
                h.giver.as_deref().unwrap_or("—"),
                h.receiver.as_deref().unwrap_or("—"),
                h.note
                    .as_deref()
                    .map(|n| format!("（{n}）"))
                    .unwrap_or_default()
            );
            Self::save(
                w,
                &deal,
                before.as_ref(),
                &c,
                body.to.action(),
                &item,
                Some(line),
                json!({"from": h.from, "to": h.to, "giver": h.giver, "receiver": h.receiver,
                       "note": h.note}),
            )?;
            Ok(item)
        })?;
        Ok(self.item_view(item, &self.names()?))
    }
}
