//! Data scopes. A caller's [`Scope`] is built once per request from their roles and the
//! department tree, and every read, list, count, search, report, export and reminder query
//! takes it: a query without a scope does not compile. Out-of-scope single reads are
//! "not found" (404), never "forbidden", so ids cannot be probed.

use std::collections::BTreeSet;

use crate::domain::org;
use crate::domain::roles::DataScope;
use crate::service::access::auth::Caller;
use crate::service::{App, Error, Result};
use crate::store;

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

impl App {
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
        Ok(Scope {
            user_id: me,
            kind,
            visible: Visible::Owners(owners),
            department,
        })
    }
}
