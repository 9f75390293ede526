//! Writing and reading the audit log. Use cases call [`record`] inside their own write
//! transaction, so a change and its audit entry commit together or not at all.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::capability::Capability;
use crate::domain::org::User;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store::WriteTransaction;
use crate::store::audit::{self, AuditEntry, ChainCheck, NewAudit};

/// Longest username kept from an anonymous attempt (no log stuffing).
const MAX_ANON_NAME: usize = 64;

pub fn clip(name: &str) -> String {
    name.chars().take(MAX_ANON_NAME).collect()
}

/// What the audit log records for a name typed at the login page: the name when it is a
/// well-formed username ([`crate::domain::org::username_problem`]), else [`INVALID_USERNAME`].
/// The log is kept for ever, and a password typed into the username box mostly holds a
/// character no username has (a space, `!`, `@`, a Chinese character): that is not kept.
pub fn attempted_username(typed: &str) -> &str {
    if crate::domain::org::username_problem(typed).is_none() {
        typed
    } else {
        INVALID_USERNAME
    }
}

/// The actor of a refused login whose typed name could not be a username.
pub const INVALID_USERNAME: &str = "(invalid username)";

pub fn record(tx: &WriteTransaction, at: DateTime<Utc>, entry: NewAudit) -> Result<()> {
    audit::append(tx, at, entry)?;
    Ok(())
}

/// [`record`] for many entries at one instant, in order (a recall sweep's batch).
pub fn record_many(tx: &WriteTransaction, at: DateTime<Utc>, entries: Vec<NewAudit>) -> Result<()> {
    audit::append_many(tx, at, entries)?;
    Ok(())
}

pub fn by_user(
    user: &User,
    action: &'static str,
    source: &str,
    target: Option<String>,
    detail: serde_json::Value,
) -> NewAudit {
    NewAudit {
        actor_id: Some(user.id.clone()),
        actor: user.username.clone(),
        action,
        target,
        detail,
        source: source.to_string(),
    }
}

pub fn anonymous(
    name: &str,
    action: &'static str,
    source: &str,
    detail: serde_json::Value,
) -> NewAudit {
    NewAudit {
        actor_id: None,
        actor: clip(name),
        action,
        target: None,
        detail,
        source: source.to_string(),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page.
    pub next_cursor: Option<String>,
    /// Entries in the whole log that match the filters (`action`, `actor`).
    pub total: u64,
    /// Id → name for the ids on this page only (actor ids, targets, ids inside details):
    /// users for every reader; customers (with `customer.read`) and deals (with `deal.read`)
    /// only within the reader's own scope; products (with `customer.read`), pools and
    /// channels. An id the reader may not read is absent: it stays an id.
    pub names: std::collections::BTreeMap<String, String>,
    /// The customers among `names` (the older field; read `names`).
    pub customer_names: std::collections::BTreeMap<String, String>,
}

/// What a page of the log is filtered on (all given must match): the action, the actor's
/// recorded name, the acting account's id.
pub use crate::store::audit::Filter as AuditFilter;

impl crate::service::access::UseCases<'_> {
    /// The audit log, newest first (needs `audit.view`).
    pub fn audit_list(
        &self,
        caller: &Caller,
        filter: AuditFilter<'_>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage> {
        caller.require(Capability::AuditView)?;
        let before = match cursor {
            Some(c) => Some(
                c.parse::<u64>()
                    .map_err(|_| Error::validation("cursor", "分页游标无效"))?,
            ),
            None => None,
        };
        let limit = limit.clamp(1, 500);
        let scope = self.read_scope_of(caller)?;
        let (items, total, names) = self.store.read(|tx| {
            let (items, total) = audit::list_where(tx, &filter, before, limit)?;
            let names = super::audit_names::resolve(tx, caller, &scope, &items)?;
            Ok::<_, Error>((items, total, names))
        })?;
        let next_cursor = (items.len() == limit)
            .then(|| items.last().map(|e| e.seq.to_string()))
            .flatten();
        Ok(AuditPage {
            items,
            next_cursor,
            total,
            names: names.names,
            customer_names: names.customers,
        })
    }

    pub fn audit_verify(&self) -> Result<ChainCheck> {
        Ok(self.store.verify_audit()?)
    }
}
