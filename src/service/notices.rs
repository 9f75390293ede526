//! New-lead notices for the signed-in user (the bell): the customers given to them since a
//! cursor, read from their own log (`store::notices`, written with each assignment), each
//! shown only while it is still theirs to see.

use serde::Serialize;

use super::{Error, Result};
use crate::service::access::auth::Caller;
use crate::store::{notices, users};

/// Notices returned by one call at most.
pub const MAX_NOTICES: usize = 20;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoticeView {
    /// Position in the user's log; the next call's `after`.
    pub seq: u64,
    /// `assigned`: a customer became yours; `applied`, `referred`: one of yours came again
    /// (an online application, a broker); `transfer_requested`: a colleague asks for a
    /// customer you may decide on (see `done`).
    pub kind: String,
    pub customer_id: String,
    pub customer_name: String,
    /// Who gave it (`null`: the system, e.g. a departure handed over by a job).
    pub by_name: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// For `transfer_requested`: the request has been decided (by you or another approver),
    /// so there is nothing left to do. Always `false` for the other kinds.
    pub done: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoticeList {
    /// After `after`, oldest first (the newest ones when more are waiting).
    pub items: Vec<NoticeView>,
    /// The newest seq in the log: pass it as `after` next time.
    pub latest: u64,
}

impl crate::service::followups::UseCases<'_> {
    /// The caller's notices after `after` (0: the newest ones). A customer no longer in the
    /// caller's scope (given on again, deleted) is left out.
    pub fn notices(&self, caller: &Caller, after: u64, limit: usize) -> Result<NoticeList> {
        let limit = limit.clamp(1, MAX_NOTICES);
        let scope = self.scope_of(caller)?;
        let me = caller.user.id.as_str();
        self.store.read(|tx| {
            let latest = notices::latest(tx, me)?;
            let read = scope.customers(tx);
            let mut items = Vec::new();
            for n in notices::after(tx, me, after, limit)? {
                let Some(c) = read.live(&n.customer_id)? else {
                    continue;
                };
                let by_name = match &n.by {
                    Some(id) => users::get(tx, id)?.map(|u| u.display_name),
                    None => None,
                };
                let done = match (n.kind.as_str(), n.by.as_deref()) {
                    (
                        crate::service::customers::transfer_requests::TRANSFER_NOTICE,
                        Some(asker),
                    ) => crate::store::transfers::open_for(tx, &n.customer_id, asker)?.is_none(),
                    _ => false,
                };
                items.push(NoticeView {
                    done,
                    seq: n.seq,
                    kind: n.kind,
                    customer_id: n.customer_id,
                    customer_name: c.name,
                    by_name,
                    at: n.at,
                });
            }
            Ok::<_, Error>(NoticeList { items, latest })
        })
    }
}
