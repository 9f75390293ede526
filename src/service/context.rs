//! The shape of a use case. A [`Ctx`] carries who is acting ([`Caller`] and their [`Scope`]),
//! when (`now`, read once from the app's clock) and from where (`source`: the client address
//! or `cli`/`system`). [`Ctx::write`] runs the use case in one redb write transaction and hands
//! it a [`W`], whose helpers write the record, the timeline event and the audit row in that
//! same transaction: they commit together or not at all.
//!
//! ```ignore
//! pub fn delete_customer(&self, caller: &Caller, id: &str, source: &str) -> Result<()> {
//!     caller.require(Capability::CustomerDelete)?;
//!     let ctx = self.ctx(caller, source)?;
//!     ctx.write(|w| {
//!         let before = w.live(id)?;               // scoped: out of scope = NotFound
//!         let mut c = before.clone();
//!         c.deleted_at = Some(ctx.now);
//!         w.put(Some(&before), &c)?;              // record, keys, counters, outbox
//!         w.audit("customer.deleted", Some(&c.id), json!({}))
//!     })
//! }
//! ```

use chrono::{DateTime, Utc};

use super::access::audit;
use super::access::auth::Caller;
use super::access::scope::Scope;
use super::{App, Error, Result, new_id};
use crate::domain::customer::Customer;
use crate::store::WriteTransaction;
use crate::store::customers::{self, Reader, TimelineEvent};

/// One use case's caller, scope, time and source.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub caller: &'a Caller,
    pub scope: Scope,
    pub now: DateTime<Utc>,
    pub source: &'a str,
}

impl App {
    /// The context of a use case run by `caller` from `source`, its scope read now.
    pub fn ctx<'a>(&'a self, caller: &'a Caller, source: &'a str) -> Result<Ctx<'a>> {
        Ok(Ctx {
            app: self,
            scope: self.scope_of(caller)?,
            now: self.now(),
            caller,
            source,
        })
    }
}

impl<'a> Ctx<'a> {
    /// Runs `f` in one write transaction: everything it writes through [`W`] (or `w.tx`)
    /// commits together, or nothing does when it returns an error.
    pub fn write<T>(&self, f: impl FnOnce(&W<'_>) -> Result<T>) -> Result<T> {
        self.app.store.write(|tx| f(&W { tx, ctx: self }))
    }

    /// Reads in one read transaction, customers through the caller's scope.
    pub fn read<T>(&self, f: impl FnOnce(Reader<'_>) -> Result<T>) -> Result<T> {
        self.app.store.read(|tx| f(self.scope.customers(tx)))
    }
}

/// A use case's write transaction with the context's caller, time and source.
pub struct W<'t> {
    pub tx: &'t WriteTransaction,
    ctx: &'t Ctx<'t>,
}

impl W<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now
    }

    pub fn caller(&self) -> &Caller {
        self.ctx.caller
    }

    pub fn scope(&self) -> &Scope {
        &self.ctx.scope
    }

    /// Customers as the caller's scope sees them, in this transaction.
    pub fn customers(&self) -> Reader<'_> {
        self.ctx.scope.customers(self.tx)
    }

    /// A live customer in the caller's scope; "not found" when absent, deleted or out of scope.
    pub fn live(&self, id: &str) -> Result<Customer> {
        self.customers().live(id)?.ok_or(Error::NotFound)
    }

    /// Writes a customer (record, secondary keys, counters, rule view, search outbox).
    pub fn put(&self, before: Option<&Customer>, c: &Customer) -> Result<()> {
        customers::put_by(self.tx, before, c, Some(&self.ctx.caller.user.id))?;
        Ok(())
    }

    /// An audit row for this use case: the caller, `action`, its target and details.
    pub fn audit(
        &self,
        action: &'static str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        audit::record(
            self.tx,
            self.ctx.now,
            audit::by_user(
                &self.ctx.caller.user,
                action,
                self.ctx.source,
                target.map(str::to_string),
                detail,
            ),
        )
    }

    /// A timeline event on a customer, by the caller, now.
    pub fn event(
        &self,
        customer_id: &str,
        kind: &str,
        from: Option<String>,
        to: Option<String>,
        note: Option<String>,
    ) -> Result<()> {
        let e = TimelineEvent::new(
            new_id(self.ctx.now),
            self.ctx.now,
            &self.ctx.caller.user.id,
            kind,
            from,
            to,
            note,
        );
        customers::add_event(self.tx, customer_id, &e)?;
        Ok(())
    }
}
