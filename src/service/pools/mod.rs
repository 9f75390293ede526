//! Public pools (公海): pool settings, who may use a pool, the pool's customer list, claim,
//! release and locks. Recall sweeps are in `sweep`, assignment in `assign`, the rules
//! themselves in `rules`.

crate::service::use_cases!(
    pools,
    "Public pools (公海): claims, releases, locks, recall sweeps, assignment and their rules."
);

pub mod assign;
pub mod claims;
pub mod rules;
pub mod sweep;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::{CustomerPage, CustomerView, Viewer, shanghai};
use super::search::search_error;
use super::{Error, Result, access::audit, new_id};
use crate::domain::capability::Capability;
use crate::domain::customer::{Customer, Stage};
use crate::domain::org::{self, Department, User, UserStatus};
use crate::domain::pool::{Pool, PoolSettings};
use crate::domain::roles::DataScope;
use crate::search::{ListFilters, ListRequest, ListSort, Listed, Restrict};
use crate::service::access::auth::Caller;
use crate::service::access::scope::ReadScope;
use crate::store::{ReadTransaction, WriteTransaction, pools, users};

/// What a pool administrator sends to create a pool.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    pub name: String,
    #[serde(default)]
    pub department_id: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub settings: PoolSettings,
}

/// A change of a pool: absent fields stay; `department_id: null` makes it firm-wide.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub department_id: Option<Option<String>>,
    pub members: Option<Vec<String>>,
    pub admins: Option<Vec<String>>,
    /// Only the settings sent change (`no_followup_days` merges by grade); the rest stay.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

/// A pool as listed: the pool, how many customers wait in it, and what the caller may do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolView {
    #[serde(flatten)]
    pub pool: Pool,
    pub customers: u64,
    /// The caller may claim from this pool.
    pub member: bool,
    /// The caller may change this pool.
    pub manage: bool,
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolCustomerFilter {
    pub stage: Option<Stage>,
    pub grade: Option<String>,
    pub city: Option<String>,
    pub channel: Option<String>,
    /// Id of the last customer of the previous page.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<usize>,
}

impl PoolCustomerFilter {
    /// Any filter besides the page (then the index serves the page).
    fn filters(&self) -> bool {
        self.stage.is_some()
            || self.grade.is_some()
            || self.city.is_some()
            || self.channel.is_some()
    }

    fn matches(&self, c: &Customer) -> bool {
        self.stage.is_none_or(|s| c.stage == s)
            && self
                .grade
                .as_ref()
                .is_none_or(|g| c.grade.as_ref() == Some(g))
            && self
                .city
                .as_ref()
                .is_none_or(|g| c.city.as_ref() == Some(g))
            && self
                .channel
                .as_ref()
                .is_none_or(|g| c.channel.as_ref() == Some(g))
    }
}

/// Absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// May `user` claim from `pool` (listed member, pool admin, or in its department subtree)?
/// May the caller administer `pool` (settings, members, deletion, sweeps, assignment from it)?
/// Its named admins may. Holders of `pool.manage` may for the pools inside their data scope:
/// every pool with scope `all`; with a department scope, the pools of their department (and
/// of the departments below it, for `department_tree`); none with scope `own`. A firm-wide
/// pool is inside the scope `all` only. The one rule of pool administration.
pub fn manages(pool: &Pool, caller: &Caller, departments: &[Department]) -> bool {
    pool.is_admin(&caller.user.id)
        || manages_by_scope(pool.department_id.as_deref(), caller, departments)
}

/// The `pool.manage` half of [`manages`]: is a pool of `department` (`None`: firm-wide)
/// inside the caller's scope? Also decides where a caller may create or move a pool.
pub fn manages_by_scope(
    department: Option<&str>,
    caller: &Caller,
    departments: &[Department],
) -> bool {
    if !caller.can(Capability::PoolManage) || caller.user.status != UserStatus::Active {
        return false;
    }
    match (
        caller.access.scope,
        department,
        caller.user.department_id.as_deref(),
    ) {
        (DataScope::All, _, _) => true,
        (DataScope::Department, Some(d), Some(mine)) => d == mine,
        (DataScope::DepartmentTree, Some(d), Some(mine)) => {
            org::subtree(departments, mine).contains(d)
        }
        _ => false,
    }
}

/// May the caller see the customers waiting in `pool` (and claim them)? Its members and
/// those who [`manages`] it.
pub fn uses(pool: &Pool, caller: &Caller, departments: &[Department]) -> bool {
    manages(pool, caller, departments) || is_member(pool, &caller.user, departments)
}

pub fn is_member(pool: &Pool, user: &User, departments: &[Department]) -> bool {
    if user.status != UserStatus::Active {
        return false;
    }
    if pool.is_admin(&user.id) {
        return true;
    }
    if !pool.members.is_empty() {
        return pool.members.contains(&user.id);
    }
    match (&pool.department_id, &user.department_id) {
        (None, _) => true,
        (Some(d), Some(ud)) => org::subtree(departments, d).contains(ud),
        (Some(_), None) => false,
    }
}

/// The pool a customer of a user in `dept` goes to: the pool of the nearest department up the
/// tree that has one, else the firm-wide pool.
pub fn target_pool<'a>(
    all: &'a [Pool],
    departments: &[Department],
    dept: Option<&str>,
) -> Option<&'a Pool> {
    let mut seen = BTreeSet::new();
    let mut cur = dept.map(String::from);
    while let Some(d) = cur {
        if !seen.insert(d.clone()) {
            break;
        }
        if let Some(p) = all
            .iter()
            .find(|p| p.department_id.as_deref() == Some(d.as_str()))
        {
            return Some(p);
        }
        cur = departments
            .iter()
            .find(|x| x.id == d)
            .and_then(|x| x.parent_id.clone());
    }
    all.iter().find(|p| p.department_id.is_none())
}

/// The day a counter is kept for (Asia/Shanghai).
pub fn day_key(now: DateTime<Utc>) -> String {
    now.with_timezone(&shanghai())
        .format("%Y-%m-%d")
        .to_string()
}

pub(crate) fn claim_key(user: &str, pool: &str, now: DateTime<Utc>) -> String {
    format!("claim/{user}/{pool}/{}", day_key(now))
}

/// (owned, owned excluding won, locked) among a user's live customers.
/// Read from the owner load counters (`store::loads`), not from the customers.
pub(crate) fn owned_counts(tx: &WriteTransaction, user: &str) -> Result<(u64, u64, u64)> {
    let l = crate::store::loads::of_w(tx, user)?;
    Ok((l.live, l.not_won, l.locked))
}

/// Puts a customer into `pool` (release, recall, departure) for `reason`: no owner, not locked.
pub fn into_pool(c: &mut Customer, pool: &Pool, now: DateTime<Utc>, reason: &str) {
    c.pool_reason = Some(reason.chars().take(200).collect());
    c.previous_owner_id = c.owner_id.take().or(c.previous_owner_id.take());
    c.pool_id = Some(pool.id.clone());
    c.pool_entered_at = Some(now);
    c.held_since = None;
    c.locked = false;
    // The previous owner's promise to call back is not the next owner's reminder.
    c.next_followup_at = None;
    c.updated_at = now;
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 32 {
        return Err(Error::validation("name", "公海名称不能为空，最多32个字符"));
    }
    if !crate::domain::text::single_line_ok(name) {
        return Err(Error::validation("name", crate::domain::text::REFUSED));
    }
    Ok(name.to_string())
}

fn check_settings(s: &PoolSettings) -> Result<()> {
    if let Some((g, _)) = s
        .no_followup_days
        .iter()
        .find(|(g, d)| **d == 0 || g.trim().is_empty())
    {
        return Err(Error::validation(
            format!("settings.no_followup_days.{g}"),
            "未跟进回收天数必须大于0",
        ));
    }
    if s.no_signing_days == Some(0) {
        return Err(Error::validation(
            "settings.no_signing_days",
            "未签约回收天数必须大于0（不回收请留空）",
        ));
    }
    if s.warn_days_before > 365 {
        return Err(Error::validation(
            "settings.warn_days_before",
            "提前提醒天数最多365天",
        ));
    }
    Ok(())
}

/// Creating or moving a pool where the caller's `pool.manage` does not reach.
fn outside_scope(department: bool) -> Error {
    Error::validation(
        "department_id",
        if department {
            "只能管理本人数据范围内部门的公海"
        } else {
            "只有数据范围为全公司的管理者才能管理全公司公海"
        },
    )
}

impl crate::service::pools::UseCases<'_> {
    /// The unfiltered pool page from the pool's keys (`q:<pool>/<id>`, id order): only the
    /// page's keys and records are read; the total is the pool's waiting counter.
    fn pool_page_from_keys(
        &self,
        viewer: &Viewer<'_>,
        read: &ReadScope,
        pool: &Pool,
        f: &PoolCustomerFilter,
        limit: usize,
    ) -> Result<CustomerPage> {
        let cursor = f.cursor.as_deref().filter(|c| !c.is_empty());
        if cursor.is_some_and(|c| c.len() != 26 || !c.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(Error::validation(
                "cursor",
                "分页位置无效，请从第一页重新查看",
            ));
        }
        self.store.read(|tx| {
            let customers = read.customers(tx);
            let ids = customers.ids_in_pool(&pool.id, cursor, limit + 1)?;
            let more = ids.len() > limit;
            let mut items = Vec::with_capacity(limit);
            for id in ids.iter().take(limit) {
                // Checked again on the record, as every key- or index-served list does.
                if let Some(c) = customers.live(id)?
                    && c.owner_id.is_none()
                    && c.pool_id.as_deref() == Some(pool.id.as_str())
                {
                    items.push(viewer.view(&c)?);
                }
            }
            let next_cursor = if more {
                ids.get(limit - 1).cloned()
            } else {
                None
            };
            Ok(CustomerPage {
                items,
                next_cursor,
                total: crate::store::loads::pool_waiting(tx, &pool.id)?,
            })
        })
    }

    /// The pool page from the index; `None` when the index cannot serve it right now.
    fn pool_page_from_index(
        &self,
        viewer: &Viewer<'_>,
        read: &ReadScope,
        pool: &Pool,
        f: &PoolCustomerFilter,
        limit: usize,
    ) -> Result<Option<CustomerPage>> {
        let req = ListRequest {
            // Nobody's customers but the pool's.
            restrict: Restrict {
                owners: Some(Vec::new()),
                department: None,
                collaborator: String::new(),
                pools: vec![pool.id.clone()],
            },
            filters: ListFilters {
                stage: f.stage.map(crate::search::fields::stage_key),
                grade: f.grade.clone(),
                channel: f.channel.clone(),
                city: f.city.clone(),
                ..Default::default()
            },
            sort: ListSort::Id,
            descending: false,
            cursor: f.cursor.clone(),
            cursor_may_leave: true,
            limit,
        };
        let (ids, total, more) =
            match self
                .search
                .list(&self.store, &|c| self.lookup().id_tail(c), &req)
            {
                Ok(Listed::Page { ids, total, more }) => (ids, total, more),
                Ok(Listed::Unordered) | Err(crate::search::Error::Rebuilding) => return Ok(None),
                Ok(Listed::CursorGone) => {
                    return Err(Error::validation(
                        "cursor",
                        "分页位置无效，请从第一页重新查看",
                    ));
                }
                Err(e) => return Err(search_error(e)),
            };
        let items = self.store.read(|tx| {
            let mut items = Vec::with_capacity(ids.len());
            let customers = read.customers(tx);
            for id in &ids {
                // Checked again on the record, as every index-served list does.
                if let Some(c) = customers.live(id)?
                    && c.owner_id.is_none()
                    && c.pool_id.as_deref() == Some(pool.id.as_str())
                {
                    items.push(viewer.view(&c)?);
                }
            }
            Ok::<_, Error>(items)
        })?;
        let next_cursor = if more { ids.last().cloned() } else { None };
        Ok(Some(CustomerPage {
            items,
            next_cursor,
            total: total as u64,
        }))
    }

    fn require_pool_manage(caller: &Caller) -> Result<()> {
        caller.require(Capability::PoolManage)
    }

    fn check_pool_refs(tx: &WriteTransaction, p: &Pool) -> Result<()> {
        if let Some(d) = &p.department_id
            && !crate::store::org::departments_w(tx)?
                .iter()
                .any(|x| &x.id == d)
        {
            return Err(Error::validation("department_id", "部门不存在"));
        }
        for (field, list) in [("members", &p.members), ("admins", &p.admins)] {
            for u in list {
                if users::find_by_id_w(tx, u)?.is_none() {
                    return Err(Error::validation(field, format!("用户 {u} 不存在")));
                }
            }
        }
        if pools::all_w(tx)?
            .iter()
            .any(|o| o.id != p.id && o.department_id == p.department_id)
        {
            return Err(Error::Conflict {
                code: "pool_exists",
                message: if p.department_id.is_some() {
                    "该部门已有公海".into()
                } else {
                    "已有全公司公海".into()
                },
            });
        }
        check_settings(&p.settings)
    }

    pub fn create_pool(&self, caller: &Caller, input: PoolInput, source: &str) -> Result<Pool> {
        Self::require_pool_manage(caller)?;
        let now = self.now();
        let pool = Pool {
            id: new_id(now),
            name: check_name(&input.name)?,
            department_id: input.department_id.filter(|d| !d.is_empty()),
            members: dedup(input.members),
            admins: dedup(input.admins),
            settings: input.settings,
            created_at: now,
            updated_at: now,
        };
        self.store.write(|tx| {
            let departments = crate::store::org::departments_w(tx)?;
            if !manages_by_scope(pool.department_id.as_deref(), caller, &departments) {
                return Err(outside_scope(pool.department_id.is_some()));
            }
            Self::check_pool_refs(tx, &pool)?;
            pools::put(tx, &pool)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "pool.created",
                    source,
                    Some(pool.id.clone()),
                    json!(pool),
                ),
            )?;
            Ok(pool.clone())
        })
    }

    pub fn update_pool(
        &self,
        caller: &Caller,
        id: &str,
        patch: PoolPatch,
        source: &str,
    ) -> Result<Pool> {
        let now = self.now();
        self.store.write(|tx| {
            let before = pools::get_w(tx, id)?.ok_or(Error::NotFound)?;
            let departments = crate::store::org::departments_w(tx)?;
            // Pool admins may change their own pool's settings and members; a pool outside
            // the caller's scope answers like an absent one.
            if !manages(&before, caller, &departments) {
                return Err(if uses(&before, caller, &departments) {
                    Error::Forbidden(Capability::PoolManage.as_str().into())
                } else {
                    Error::NotFound
                });
            }
            let mut p = before.clone();
            if let Some(n) = &patch.name {
                p.name = check_name(n)?;
            }
            if let Some(d) = patch.department_id.clone() {
                p.department_id = d.filter(|d| !d.is_empty());
            }
            if let Some(m) = patch.members.clone() {
                p.members = dedup(m);
            }
            if let Some(a) = patch.admins.clone() {
                p.admins = dedup(a);
            }
            if let Some(s) = &patch.settings {
                p.settings = p
                    .settings
                    .patched(s)
                    .map_err(|(field, reason)| Error::validation(field, reason))?;
            }
            if p.department_id != before.department_id
                && !manages_by_scope(p.department_id.as_deref(), caller, &departments)
            {
                return Err(outside_scope(p.department_id.is_some()));
            }
            p.updated_at = now;
            Self::check_pool_refs(tx, &p)?;
            pools::put(tx, &p)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "pool.updated",
                    source,
                    Some(p.id.clone()),
                    json!({"before": before, "after": p}),
                ),
            )?;
            Ok(p)
        })
    }

    /// Deletes an empty pool (customers waiting in it must be claimed or moved first).
    pub fn delete_pool(&self, caller: &Caller, id: &str, source: &str) -> Result<()> {
        Self::require_pool_manage(caller)?;
        let now = self.now();
        self.store.write(|tx| {
            let p = pools::get_w(tx, id)?.ok_or(Error::NotFound)?;
            let departments = crate::store::org::departments_w(tx)?;
            if !manages_by_scope(p.department_id.as_deref(), caller, &departments) {
                return Err(if uses(&p, caller, &departments) {
                    Error::Forbidden(Capability::PoolManage.as_str().into())
                } else {
                    Error::NotFound
                });
            }
            let waiting = crate::store::loads::pool_waiting_w(tx, id)?;
            if waiting > 0 {
                return Err(Error::Unprocessable {
                    code: "pool_not_empty",
                    message: format!("公海中还有{waiting}个客户，不能删除"),
                });
            }
            pools::delete(tx, id)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "pool.deleted",
                    source,
                    Some(p.id.clone()),
                    json!({"name": p.name}),
                ),
            )
        })
    }

    /// Pools the caller may use (member) or manage; `pool.manage` sees every pool.
    pub fn list_pools(&self, caller: &Caller) -> Result<Vec<PoolView>> {
        self.store.read(|tx| {
            let departments = crate::store::org::departments(tx)?;
            let mut out = Vec::new();
            for p in pools::all(tx)? {
                let member = is_member(&p, &caller.user, &departments);
                let manage = manages(&p, caller, &departments);
                if member || manage {
                    out.push(PoolView {
                        customers: crate::store::loads::pool_waiting(tx, &p.id)?,
                        pool: p,
                        member,
                        manage,
                    });
                }
            }
            Ok(out)
        })
    }

    pub fn get_pool(&self, caller: &Caller, id: &str) -> Result<PoolView> {
        self.list_pools(caller)?
            .into_iter()
            .find(|p| p.pool.id == id)
            .ok_or(Error::NotFound)
    }

    /// The pool if the caller may see its customers (member, pool admin or `pool.manage`).
    fn usable_pool(tx: &ReadTransaction, caller: &Caller, id: &str) -> Result<Pool> {
        let p = pools::get(tx, id)?.ok_or(Error::NotFound)?;
        let departments = crate::store::org::departments(tx)?;
        if uses(&p, caller, &departments) {
            Ok(p)
        } else {
            Err(Error::NotFound)
        }
    }

    /// Customers waiting in a pool, in id order, sensitive fields masked. Served from the
    /// search index (the page's records only are read); while the index is being rebuilt,
    /// from the records of the customers in nobody's hands.
    pub fn pool_customers(
        &self,
        caller: &Caller,
        pool_id: &str,
        f: &PoolCustomerFilter,
    ) -> Result<CustomerPage> {
        caller.require(Capability::CustomerRead)?;
        let limit = f.limit.unwrap_or(50).clamp(1, 200);
        let viewer = self.viewer(caller);
        let pool = self
            .store
            .read(|tx| Self::usable_pool(tx, caller, pool_id))?;
        let read = self.read_scope_of(caller)?;
        if !f.filters() {
            return self.pool_page_from_keys(&viewer, &read, &pool, f, limit);
        }
        if let Some(page) = self.pool_page_from_index(&viewer, &read, &pool, f, limit)? {
            return Ok(page);
        }
        // The index is being rebuilt: this pool's customers, read through its keys, filtered.
        self.store.read(|tx| {
            let mut matching: Vec<Customer> = Vec::new();
            let customers = read.customers(tx);
            for id in customers.ids_in_pool(&pool.id, None, usize::MAX)? {
                if let Some(c) = customers.live(&id)?
                    && c.owner_id.is_none()
                    && c.pool_id.as_deref() == Some(pool.id.as_str())
                    && f.matches(&c)
                {
                    matching.push(c);
                }
            }
            let start = match f.cursor.as_deref() {
                Some(cur) => matching.partition_point(|c| c.id.as_str() <= cur),
                None => 0,
            };
            let items: Vec<CustomerView> = matching
                .iter()
                .skip(start)
                .take(limit)
                .map(|c| viewer.view(c))
                .collect::<Result<_>>()?;
            let next_cursor = if start + limit < matching.len() {
                items.last().map(|v| v.id.clone())
            } else {
                None
            };
            Ok(CustomerPage {
                items,
                next_cursor,
                total: matching.len() as u64,
            })
        })
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.retain(|s| !s.trim().is_empty());
    v.sort();
    v.dedup();
    v
}
