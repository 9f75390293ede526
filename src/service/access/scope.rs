//! Data scopes. A caller's [`Scope`] is built once per request from their roles and the
//! department tree, and every read, list, count, search, report, export and reminder query
//! takes it: a query without a scope does not compile. Out-of-scope single reads are
//! "not found" (404), never "forbidden", so ids cannot be probed.

use std::collections::BTreeSet;

use crate::domain::customer::Customer;
use crate::domain::org;
use crate::domain::roles::DataScope;
use crate::service::access::auth::Caller;
use crate::service::{App, Error, Result};
use crate::store;
use crate::store::customers::{Reader, Sees, Tx};
use crate::store::match_rows::MatchRow;

/// Records that have an owner and collaborators, which is what scopes are decided on.
pub trait Owned {
    /// `None` for records in a public pool (pool visibility is decided by pool membership).
    fn owner_id(&self) -> Option<&str>;
    fn collaborators(&self) -> &[String];
}

#[derive(Debug, Clone, PartialEq)]
pub enum Visible {
    All,
    /// Owners whose records the caller sees (always includes the caller).
    Owners(BTreeSet<String>),
}

#[derive(Debug, Clone)]
pub struct Scope {
    pub user_id: String,
    pub kind: DataScope,
    pub visible: Visible,
    /// For a department or department-tree scope: the caller's department, whose owners are
    /// `visible` (the search index matches them with one department term instead of a term
    /// per owner).
    pub department: Option<String>,
}

impl Scope {
    pub fn can_see(&self, record: &impl Owned) -> bool {
        if record.collaborators().contains(&self.user_id) {
            return true;
        }
        match (&self.visible, record.owner_id()) {
            (Visible::All, _) => true,
            (Visible::Owners(set), Some(owner)) => set.contains(owner),
            (Visible::Owners(_), None) => false,
        }
    }

    /// A single read: the record when in scope, otherwise "not found" (also when absent).
    pub fn check<T: Owned>(&self, record: Option<T>) -> Result<T> {
        match record {
            Some(r) if self.can_see(&r) => Ok(r),
            _ => Err(Error::NotFound),
        }
    }

    /// May the caller give a record to this user (transfer, bulk transfer, create for someone)?
    /// Only to someone whose records they see: a department manager cannot hand a customer
    /// outside their department.
    pub fn may_receive(&self, user_id: &str) -> bool {
        match &self.visible {
            Visible::All => true,
            Visible::Owners(set) => set.contains(user_id),
        }
    }

    /// Owner ids to restrict a query to; `None` when the caller sees every owner.
    pub fn owner_filter(&self) -> Option<&BTreeSet<String>> {
        match &self.visible {
            Visible::All => None,
            Visible::Owners(set) => Some(set),
        }
    }
}

/// Writes and the caller's own lists: the data scope alone.
impl Sees for Scope {
    fn sees(&self, c: &Customer) -> bool {
        self.can_see(c)
    }
    fn sees_row(&self, r: &MatchRow) -> bool {
        self.can_see(r)
    }
}

impl Owned for MatchRow {
    fn owner_id(&self) -> Option<&str> {
        self.owner_id.as_deref()
    }
    fn collaborators(&self) -> &[String] {
        &self.collaborators
    }
}

impl Scope {
    /// Customer data as this scope sees it: the one way use cases read customers for a caller
    /// (writes included: a record out of scope is "not found").
    pub fn customers<'t>(&'t self, tx: impl Into<Tx<'t>>) -> Reader<'t> {
        Reader::scoped(tx, self)
    }
}

/// What a caller may read: their data scope, and also the customers waiting in a pool they are
/// a member of (a pool member reads a waiting customer and its history before claiming it).
/// This is the one place that exception is made; writes use the [`Scope`] alone.
#[derive(Debug, Clone)]
pub struct ReadScope {
    pub scope: Scope,
    /// Ids of the pools whose waiting customers the caller sees ([`crate::service::pools::uses`]).
    pub pools: BTreeSet<String>,
}

impl Sees for ReadScope {
    fn sees(&self, c: &Customer) -> bool {
        self.scope.can_see(c)
            || (c.owner_id.is_none()
                && c.deleted_at.is_none()
                && c.pool_id.as_ref().is_some_and(|p| self.pools.contains(p)))
    }
    fn sees_row(&self, r: &MatchRow) -> bool {
        self.scope.can_see(r)
    }
}

impl ReadScope {
    pub fn customers<'t>(&'t self, tx: impl Into<Tx<'t>>) -> Reader<'t> {
        Reader::scoped(tx, self)
    }
}

impl App {
    /// The caller's [`ReadScope`]: their data scope and the pools they use.
    pub fn read_scope_of(&self, caller: &Caller) -> Result<ReadScope> {
        let scope = self.scope_of(caller)?;
        // A firm-wide scope already sees every customer: no pool list to read.
        let pools = match scope.visible {
            Visible::All => BTreeSet::new(),
            Visible::Owners(_) => self.pools_seen(caller)?,
        };
        Ok(ReadScope { pools, scope })
    }

    /// Whether the caller's scope is at hand without reading whole tables: firm-wide or own
    /// scope, or a department scope cached for the current auth epoch. A use case reading one
    /// record may then run on the async thread (its other reads are the few pools).
    pub fn scope_is_warm(&self, caller: &Caller) -> bool {
        let kind = caller.access.scope;
        if !matches!(kind, DataScope::Department | DataScope::DepartmentTree)
            || caller.user.department_id.is_none()
        {
            return true;
        }
        let key = (
            caller.user.id.clone(),
            caller.user.department_id.clone(),
            kind,
        );
        self.auth_cache
            .scope(&key, self.store.auth_epoch())
            .is_some()
    }

    /// Pools whose waiting customers the caller may see ([`crate::service::pools::uses`]).
    pub(crate) fn pools_seen(&self, caller: &Caller) -> Result<BTreeSet<String>> {
        self.store.read(|tx| {
            let departments = store::org::departments(tx)?;
            Ok(store::pools::all(tx)?
                .into_iter()
                .filter(|p| crate::service::pools::uses(p, caller, &departments))
                .map(|p| p.id)
                .collect())
        })
    }

    /// The caller's scope, from their roles' widest scope and the current department tree.
    pub fn scope_of(&self, caller: &Caller) -> Result<Scope> {
        let kind = caller.access.scope;
        let me = caller.user.id.clone();
        if kind == DataScope::All {
            return Ok(Scope {
                user_id: me,
                kind,
                visible: Visible::All,
                department: None,
            });
        }
        let key = (me.clone(), caller.user.department_id.clone(), kind);
        let epoch = self.store.auth_epoch();
        if let Some(scope) = self.auth_cache.scope(&key, epoch) {
            return Ok(scope);
        }
        let mut owners = BTreeSet::from([me.clone()]);
        let mut department = None;
        if let (DataScope::Department | DataScope::DepartmentTree, Some(dept)) =
            (kind, caller.user.department_id.as_deref())
        {
            department = Some(dept.to_string());
            let (departments, users) = self.store.read(|tx| {
                Ok::<_, Error>((store::org::departments(tx)?, store::users::all(tx)?))
            })?;
            let depts = if kind == DataScope::DepartmentTree {
                org::subtree(&departments, dept)
            } else {
                BTreeSet::from([dept.to_string()])
            };
            owners.extend(
                users
                    .into_iter()
                    .filter(|u| u.department_id.as_ref().is_some_and(|d| depts.contains(d)))
                    .map(|u| u.id),
            );
        }
        let scope = Scope {
            user_id: me,
            kind,
            visible: Visible::Owners(owners),
            department,
        };
        self.auth_cache.put_scope(key, epoch, scope.clone());
        Ok(scope)
    }
}
