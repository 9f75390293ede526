//! Transfer requests (转移申请, issue 17.6): the next step of a duplicate warning. A salesperson
//! whose new lead is already another colleague's customer asks for it by the number they typed
//! (they never get the record's id); whoever may transfer that customer — the owner's manager,
//! an administrator — approves (the customer moves to the requester, as a transfer does) or
//! rejects with a note. Every step audited in its transaction.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto::field::Kind;
use crate::domain::capability::Capability;
use crate::domain::roles::DataScope;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::customers::shanghai;
use crate::service::{Error, Result, new_id};
use crate::store::customers::{Reader, Unscoped};
use crate::store::transfers::{self, TransferRequest, TransferStatus};
use crate::store::{notices, users};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequestInput {
    /// The number the requester typed (a phone or an ID number; one of them).
    pub phone: Option<String>,
    pub id_number: Option<String>,
    /// Why it should be theirs (e.g. 客户主动联系我), up to 200 characters.
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferDecision {
    pub approve: bool,
    /// Required when rejecting.
    pub note: Option<String>,
}

/// A request as its requester or approver sees it: the customer's name only to the approver
/// (whose scope covers the customer), masked for the requester until approved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferView {
    pub id: String,
    pub status: TransferStatus,
    pub requester: String,
    pub owner: Option<String>,
    /// Present for an approver, and for the requester once approved.
    pub customer_id: Option<String>,
    pub customer_name: String,
    pub by: String,
    pub reason: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferLists {
    /// Pending requests I may decide.
    pub to_decide: Vec<TransferView>,
    /// My own requests, newest first.
    pub mine: Vec<TransferView>,
}

fn masked_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

/// The notice kind of a request waiting for the bell's owner to decide it.
pub const TRANSFER_NOTICE: &str = "transfer_requested";

/// Who may decide a request for a customer of `owner` (the rule of `transfer_requests`, for
/// every account at once): active accounts other than the requester whose roles grant
/// `customer.transfer` and whose data scope covers the owner.
fn approvers(
    tx: &crate::store::WriteTransaction,
    owner: Option<&str>,
    requester: &str,
) -> Result<Vec<String>> {
    let Some(owner) = owner else {
        return Ok(Vec::new());
    };
    let all = users::all_w(tx)?;
    let roles = crate::store::org::roles_w(tx)?;
    let departments = crate::store::org::departments_w(tx)?;
    let owner_dept = all
        .iter()
        .find(|u| u.id == owner)
        .and_then(|u| u.department_id.clone());
    Ok(all
        .iter()
        .filter(|u| u.status == crate::domain::org::UserStatus::Active && u.id != requester)
        .filter(|u| {
            let access =
                crate::domain::roles::combine(roles.iter().filter(|r| u.roles.contains(&r.key)));
            if !access.capabilities.contains(&Capability::CustomerTransfer) {
                return false;
            }
            if u.id == owner {
                return true;
            }
            match (
                access.scope,
                u.department_id.as_deref(),
                owner_dept.as_deref(),
            ) {
                (DataScope::All, _, _) => true,
                (DataScope::Department, Some(mine), Some(theirs)) => mine == theirs,
                (DataScope::DepartmentTree, Some(mine), Some(theirs)) => {
                    crate::domain::org::subtree(&departments, mine).contains(theirs)
                }
                _ => false,
            }
        })
        .map(|u| u.id.clone())
        .collect())
}

impl crate::service::customers::UseCases<'_> {
    fn transfer_view(
        &self,
        tx: &redb::ReadTransaction,
        r: &TransferRequest,
        approver: bool,
    ) -> Result<TransferView> {
        let name_of = |id: &str| -> Result<String> {
            Ok(users::get(tx, id)?.map_or_else(|| id.to_string(), |u| u.display_name))
        };
        let c = Reader::unscoped(tx, Unscoped::Duplicates).any(&r.customer_id)?;
        let shown = approver || r.status == TransferStatus::Approved;
        let customer_name = c.as_ref().map_or_else(String::new, |c| {
            if shown {
                c.name.clone()
            } else {
                masked_name(&c.name)
            }
        });
        Ok(TransferView {
            id: r.id.clone(),
            status: r.status,
            requester: name_of(&r.requester_id)?,
            owner: r.owner_id.as_deref().map(name_of).transpose()?,
            customer_id: shown.then(|| r.customer_id.clone()),
            customer_name,
            by: r.by.clone(),
            reason: r.reason.clone(),
            created_at: r.created_at,
            decided_by: r.decided_by.as_deref().map(name_of).transpose()?,
            note: r.note.clone(),
        })
    }

    /// Asks for the customer behind a number that is someone else's (customer.create: the
    /// people who add leads).
    pub fn request_transfer(
        &self,
        caller: &Caller,
        input: TransferRequestInput,
        source: &str,
    ) -> Result<TransferView> {
        caller.require(Capability::CustomerCreate)?;
        let reason = input.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(Error::validation("reason", "请填写申请理由，最多200个字"));
        }
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let (by, kind, bidx) = match (input.phone.as_deref(), input.id_number.as_deref()) {
            (Some(p), _) if !p.trim().is_empty() => {
                let m = crate::domain::phone::parse(p)
                    .map_err(|e| Error::validation("phone", e.to_string()))?;
                (
                    "phone",
                    'p',
                    self.fields.blind_index(Kind::Phone, m.as_str()),
                )
            }
            (_, Some(i)) if !i.trim().is_empty() => {
                let n = crate::domain::id_number::parse(i, today)
                    .map_err(|e| Error::validation("id_number", e.to_string()))?;
                (
                    "id_number",
                    'i',
                    self.fields.blind_index(Kind::IdNumber, n.as_str()),
                )
            }
            _ => return Err(Error::validation("phone", "请提供手机号或身份证号")),
        };
        // Not found, in my scope, in a pool or someone else's: each answer says whose a
        // number is, a lookup by number like the duplicate check, metered alike.
        self.take_number_lookups(caller, std::slice::from_ref(&bidx))?;
        let scope = self.scope_of(caller)?;
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        let id = ctx.write(|w| {
            let all = Reader::unscoped(w.tx, Unscoped::Duplicates);
            let customer = all
                .ids_by_index(kind, &bidx)?
                .into_iter()
                .find_map(|id| all.live(&id).transpose())
                .transpose()?
                .ok_or_else(|| Error::validation(by, "没有找到使用这个号码的客户"))?;
            if scope.can_see(&customer) {
                return Err(Error::Conflict {
                    code: "transfer_not_needed",
                    message: "这个客户已经在您的范围内，可以直接打开".into(),
                });
            }
            if customer.owner_id.is_none() {
                return Err(Error::Conflict {
                    code: "transfer_in_pool",
                    message: "这个客户在公海中，请直接领取".into(),
                });
            }
            if transfers::open_for_w(w.tx, &customer.id, &caller.user.id)?.is_some() {
                return Err(Error::Conflict {
                    code: "transfer_pending",
                    message: "您已申请过这个客户，请等待审批".into(),
                });
            }
            let r = TransferRequest {
                id: new_id(now),
                customer_id: customer.id.clone(),
                requester_id: caller.user.id.clone(),
                owner_id: customer.owner_id.clone(),
                by: by.to_string(),
                reason: reason.clone(),
                status: TransferStatus::Pending,
                created_at: now,
                decided_by: None,
                decided_at: None,
                note: None,
            };
            transfers::put(w.tx, None, &r)?;
            w.audit(
                "transfer.requested",
                Some(&customer.id),
                json!({"request": r.id, "by": by, "owner": customer.owner_id, "reason": reason}),
            )?;
            // The bell of everyone who may decide it (probe finding 27: only a card on 工作台
            // said so, and nobody looked).
            for approver in approvers(w.tx, customer.owner_id.as_deref(), &caller.user.id)? {
                notices::push(
                    w.tx,
                    &approver,
                    TRANSFER_NOTICE,
                    &customer.id,
                    Some(&caller.user.id),
                    now,
                )?;
            }
            Ok(r.id)
        })?;
        self.store.read(|tx| {
            let r = transfers::get(tx, &id)?.ok_or(Error::NotFound)?;
            self.transfer_view(tx, &r, false)
        })
    }

    /// Pending requests I may decide (customer.transfer, customers in my scope) and my own.
    pub fn transfer_requests(&self, caller: &Caller) -> Result<TransferLists> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        let may_decide = caller.require(Capability::CustomerTransfer).is_ok();
        self.store.read(|tx| {
            let mut pending = Vec::new();
            if may_decide {
                match &scope.visible {
                    Visible::All => pending = transfers::pending(tx, None, 200)?,
                    Visible::Owners(owners) => {
                        for o in owners {
                            pending.extend(transfers::pending(tx, Some(o), 200)?);
                        }
                    }
                }
            }
            // Never one's own request to decide.
            pending.retain(|r| r.requester_id != caller.user.id);
            let mut to_decide = Vec::new();
            for r in &pending {
                to_decide.push(self.transfer_view(tx, r, true)?);
            }
            let mut mine = Vec::new();
            for r in transfers::mine(tx, &caller.user.id, 200)?.iter().rev() {
                mine.push(self.transfer_view(tx, r, false)?);
            }
            Ok(TransferLists { to_decide, mine })
        })
    }

    /// Approves (the customer moves to the requester) or rejects a pending request. 404 when
    /// the customer is outside my scope, as for the customer itself.
    pub fn decide_transfer(
        &self,
        caller: &Caller,
        id: &str,
        d: TransferDecision,
        source: &str,
    ) -> Result<TransferView> {
        caller.require(Capability::CustomerTransfer)?;
        let note = d
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if !d.approve && note.is_none() {
            return Err(Error::validation("note", "驳回时请写明原因"));
        }
        if note.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err(Error::validation("note", "最多200个字"));
        }
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        ctx.write(|w| {
            let before = transfers::get_w(w.tx, id)?.ok_or(Error::NotFound)?;
            // The customer in my scope, or the request is not mine to see.
            let customer = w.live(&before.customer_id)?;
            if before.requester_id == caller.user.id {
                return Err(Error::Forbidden("不能审批自己的申请".into()));
            }
            if before.status != TransferStatus::Pending {
                return Err(Error::Conflict {
                    code: "transfer_decided",
                    message: "这个申请已经处理过了".into(),
                });
            }
            let mut r = before.clone();
            r.status = if d.approve {
                TransferStatus::Approved
            } else {
                TransferStatus::Rejected
            };
            r.decided_by = Some(caller.user.id.clone());
            r.decided_at = Some(now);
            r.note = note.clone();
            if d.approve {
                let target = crate::service::customers::recipient::recipient(
                    w.tx,
                    w.scope(),
                    &r.requester_id,
                    "approve",
                )?;
                crate::service::followups::move_to(w, &customer, &target.id, now)?;
            }
            transfers::put(w.tx, Some(&before), &r)?;
            w.audit(
                if d.approve {
                    "transfer.approved"
                } else {
                    "transfer.rejected"
                },
                Some(&r.customer_id),
                json!({"request": r.id, "requester": r.requester_id, "note": note}),
            )?;
            Ok(())
        })?;
        self.store.read(|tx| {
            let r = transfers::get(tx, id)?.ok_or(Error::NotFound)?;
            self.transfer_view(tx, &r, true)
        })
    }
}
