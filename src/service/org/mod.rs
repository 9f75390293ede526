//! Departments and roles: read by every logged-in user (the UI needs them for filters and
//! labels), changed only with `user.manage`, every change audited.

crate::service::use_cases!(org, "Users, departments and roles.");

pub mod users;

use serde::Deserialize;
use serde_json::json;

use super::{Error, Result, access::audit, new_id};
use crate::domain::capability::{self, Capability, FieldPrivilege};
use crate::domain::org::{self, Department};
use crate::domain::roles::{self, DataScope, Role};
use crate::service::org::users::Actor;
use crate::store;

/// A department in the list, with whether the caller may create under, rename, move or
/// delete it (`user.manage`, within its subtree unless scope `all`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DepartmentRow {
    #[serde(flatten)]
    pub dept: Department,
    pub may_manage: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// A rename and/or move. `parent_id`: absent = stay, `null` = top level, an id = under it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
}

/// Tells an absent field (`None`, via `default`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    pub name: Option<String>,
    /// An unknown string is refused (400 naming `capabilities`).
    #[serde(default, deserialize_with = "capability::strict_optional_list")]
    pub capabilities: Option<Vec<Capability>>,
    pub scope: Option<DataScope>,
    /// An unknown string is refused (400 naming `field_privileges`).
    #[serde(default, deserialize_with = "capability::strict_optional_list")]
    pub field_privileges: Option<Vec<FieldPrivilege>>,
    /// `null` leaves it; use `unlimited_reveals: true` to remove the quota.
    pub daily_reveal_quota: Option<u32>,
    #[serde(default)]
    pub unlimited_reveals: bool,
    /// Own customers a holder may lock against pool recall.
    pub lock_limit: Option<u32>,
}

/// A new role as sent over HTTP: a [`Role`], with an unknown field refused (400 naming it).
/// `Role` itself stays lenient, since it also reads roles back from the store (a field added
/// by a newer zhudai must not stop an older one).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub key: String,
    pub name: String,
    /// Ignored: only zhudai seeds built-in roles.
    #[serde(default)]
    pub builtin: bool,
    /// An unknown string is refused (400 naming `capabilities`).
    #[serde(default, deserialize_with = "capability::strict_list")]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub scope: DataScope,
    /// An unknown string is refused (400 naming `field_privileges`).
    #[serde(default, deserialize_with = "capability::strict_list")]
    pub field_privileges: Vec<FieldPrivilege>,
    /// Full-value reveals per user per day; absent or `null` = unlimited.
    #[serde(default)]
    pub daily_reveal_quota: Option<u32>,
    #[serde(default)]
    pub lock_limit: Option<u32>,
}

impl From<RoleInput> for Role {
    fn from(r: RoleInput) -> Role {
        Role {
            key: r.key,
            name: r.name,
            builtin: false,
            capabilities: r.capabilities,
            scope: r.scope,
            field_privileges: r.field_privileges,
            daily_reveal_quota: r.daily_reveal_quota,
            lock_limit: r.lock_limit.unwrap_or(roles::DEFAULT_LOCK_LIMIT),
        }
    }
}

/// What a role grants (everything but its name), compared to tell a rename from a change of
/// grant.
fn grant_of(
    r: &Role,
) -> (
    std::collections::BTreeSet<Capability>,
    DataScope,
    std::collections::BTreeSet<FieldPrivilege>,
    Option<u32>,
    u32,
) {
    (
        r.capabilities.iter().copied().collect(),
        r.scope,
        r.field_privileges.iter().copied().collect(),
        r.daily_reveal_quota,
        r.lock_limit,
    )
}

fn check_department_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 32 {
        return Err(Error::validation("name", "部门名称不能为空，最多32个字符"));
    }
    if !crate::domain::text::single_line_ok(name) {
        return Err(Error::validation("name", crate::domain::text::REFUSED));
    }
    Ok(name.to_string())
}

fn check_parent(all: &[Department], parent: Option<&str>) -> Result<()> {
    if let Some(p) = parent
        && !all.iter().any(|d| d.id == p)
    {
        return Err(Error::validation("parent_id", "上级部门不存在"));
    }
    Ok(())
}

impl crate::service::org::UseCases<'_> {
    pub fn list_departments(&self) -> Result<Vec<Department>> {
        Ok(self.store.read(store::org::departments)?)
    }

    /// The departments, each with whether the caller may create under, rename, move and delete
    /// it, and whether it may create one at the top level: for pages to offer only that.
    pub fn department_rows(&self, actor: &Actor) -> Result<(Vec<DepartmentRow>, bool)> {
        let all = self.list_departments()?;
        if actor.require(Capability::UserManage).is_err() {
            let rows = all
                .into_iter()
                .map(|dept| DepartmentRow {
                    dept,
                    may_manage: false,
                })
                .collect();
            return Ok((rows, false));
        }
        let managed = actor.managed_departments(&all);
        let top_level = managed.is_none();
        let rows = all
            .iter()
            .map(|d| DepartmentRow {
                may_manage: managed.as_ref().is_none_or(|m| m.contains(&d.id)),
                dept: d.clone(),
            })
            .collect();
        Ok((rows, top_level))
    }

    pub fn create_department(
        &self,
        actor: &Actor,
        input: DepartmentInput,
        source: &str,
    ) -> Result<Department> {
        actor.require(Capability::UserManage)?;
        let name = check_department_name(&input.name)?;
        let now = self.now();
        self.store.write(|tx| {
            let all = store::org::departments_w(tx)?;
            check_parent(&all, input.parent_id.as_deref())?;
            Actor::may_reach_department(
                actor.managed_departments(&all).as_ref(),
                &all,
                input.parent_id.as_deref(),
                "在此处创建部门",
            )?;
            if all
                .iter()
                .any(|d| d.name == name && d.parent_id == input.parent_id)
            {
                return Err(Error::Conflict {
                    code: "department_exists",
                    message: format!("部门 {name} 已存在"),
                });
            }
            let d = Department {
                id: new_id(now),
                name,
                parent_id: input.parent_id,
                created_at: now,
            };
            store::org::put_department(tx, &d)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "department.created",
                    source,
                    Some(d.id.clone()),
                    json!({"name": d.name, "parent_id": d.parent_id}),
                ),
            )?;
            Ok(d)
        })
    }

    /// Finds a department by name (first match) or creates it at the top level (`--department`).
    pub fn department_by_name_or_create(
        &self,
        actor: &Actor,
        name: &str,
        source: &str,
    ) -> Result<Department> {
        let name = check_department_name(name)?;
        if let Some(d) = self
            .list_departments()?
            .into_iter()
            .find(|d| d.name == name)
        {
            return Ok(d);
        }
        self.create_department(
            actor,
            DepartmentInput {
                name,
                parent_id: None,
            },
            source,
        )
    }

    pub fn update_department(
        &self,
        actor: &Actor,
        id: &str,
        input: DepartmentPatch,
        source: &str,
    ) -> Result<Department> {
        actor.require(Capability::UserManage)?;
        let name = input
            .name
            .as_deref()
            .map(check_department_name)
            .transpose()?;
        let now = self.now();
        self.store.write(|tx| {
            let all = store::org::departments_w(tx)?;
            let mut d = all
                .iter()
                .find(|d| d.id == id)
                .cloned()
                .ok_or(Error::NotFound)?;
            let reach = actor.managed_departments(&all);
            Actor::may_reach_department(reach.as_ref(), &all, Some(id), "修改此部门")?;
            let parent = input
                .parent_id
                .clone()
                .unwrap_or_else(|| d.parent_id.clone());
            check_parent(&all, parent.as_deref())?;
            if parent != d.parent_id {
                Actor::may_reach_department(
                    reach.as_ref(),
                    &all,
                    parent.as_deref(),
                    "把部门移到此处",
                )?;
            }
            if let Some(p) = parent.as_deref()
                && org::would_cycle(&all, id, p)
            {
                return Err(Error::validation(
                    "parent_id",
                    "不能把部门移到它自己或它的下级部门之下",
                ));
            }
            let name = name.unwrap_or_else(|| d.name.clone());
            if all
                .iter()
                .any(|o| o.id != d.id && o.name == name && o.parent_id == parent)
            {
                return Err(Error::Conflict {
                    code: "department_exists",
                    message: format!("部门 {name} 已存在"),
                });
            }
            let before = json!({"name": d.name, "parent_id": d.parent_id});
            d.name = name;
            d.parent_id = parent;
            store::org::put_department(tx, &d)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "department.updated",
                    source,
                    Some(d.id.clone()),
                    json!({"before": before, "after": {"name": d.name, "parent_id": d.parent_id}}),
                ),
            )?;
            Ok(d)
        })
    }

    /// Deletes an empty department (no sub-departments, no members).
    pub fn delete_department(&self, actor: &Actor, id: &str, source: &str) -> Result<()> {
        actor.require(Capability::UserManage)?;
        let now = self.now();
        self.store.write(|tx| {
            let all = store::org::departments_w(tx)?;
            let d = all
                .iter()
                .find(|d| d.id == id)
                .cloned()
                .ok_or(Error::NotFound)?;
            Actor::may_reach_department(
                actor.managed_departments(&all).as_ref(),
                &all,
                Some(id),
                "删除此部门",
            )?;
            let has_children = all.iter().any(|c| c.parent_id.as_deref() == Some(id));
            let has_members = store::users::all_w(tx)?
                .iter()
                .any(|u| u.department_id.as_deref() == Some(id));
            if has_children || has_members {
                return Err(Error::Conflict {
                    code: "department_not_empty",
                    message: "部门下还有下级部门或成员，请先移走".into(),
                });
            }
            store::org::delete_department(tx, id)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "department.deleted",
                    source,
                    Some(d.id.clone()),
                    json!({"name": d.name}),
                ),
            )
        })
    }

    pub fn list_roles(&self) -> Result<Vec<Role>> {
        Ok(self.store.read(store::org::roles)?)
    }

    pub fn create_role(&self, actor: &Actor, mut role: Role, source: &str) -> Result<Role> {
        actor.require(Capability::UserManage)?;
        actor.may_reach(&roles::combine([&role]), "创建这样的角色")?;
        role.builtin = false;
        role.name = role.name.trim().to_string();
        if let Some((field, reason)) = roles::role_problem(&role) {
            return Err(Error::validation(field, reason));
        }
        let now = self.now();
        self.store.write(|tx| {
            if store::org::roles_w(tx)?.iter().any(|r| r.key == role.key) {
                return Err(Error::Conflict {
                    code: "role_exists",
                    message: format!("角色 {} 已存在", role.key),
                });
            }
            store::org::put_role(tx, &role)?;
            audit::record(
                tx,
                now,
                actor.audit("role.created", source, Some(role.key.clone()), json!(role)),
            )?;
            Ok(role)
        })
    }

    pub fn update_role(
        &self,
        actor: &Actor,
        key: &str,
        patch: RolePatch,
        source: &str,
    ) -> Result<Role> {
        actor.require(Capability::UserManage)?;
        let now = self.now();
        self.store.write(|tx| {
            let before = store::org::roles_w(tx)?
                .into_iter()
                .find(|r| r.key == key)
                .ok_or(Error::NotFound)?;
            actor.may_reach(&roles::combine([&before]), "修改此角色")?;
            let mut role = before.clone();
            if let Some(n) = patch.name {
                role.name = n.trim().to_string();
            }
            if let Some(c) = patch.capabilities {
                role.capabilities = c;
            }
            if let Some(s) = patch.scope {
                role.scope = s;
            }
            if let Some(p) = patch.field_privileges {
                role.field_privileges = p;
            }
            if patch.unlimited_reveals {
                role.daily_reveal_quota = None;
            } else if let Some(q) = patch.daily_reveal_quota {
                role.daily_reveal_quota = Some(q);
            }
            if let Some(n) = patch.lock_limit {
                role.lock_limit = n;
            }
            if let Some((field, reason)) = roles::role_problem(&role) {
                return Err(Error::validation(field, reason));
            }
            actor.may_reach(&roles::combine([&role]), "这样设置角色")?;
            if grant_of(&role) != grant_of(&before) {
                actor.may_edit_grant_of(&role.key)?;
            }
            // The firm must never lose the last way to manage accounts.
            if role.key == "admin" && !role.capabilities.contains(&Capability::UserManage) {
                return Err(Error::Unprocessable {
                    code: "admin_role_locked",
                    message: "管理员角色必须保留“用户管理”权限".into(),
                });
            }
            store::org::put_role(tx, &role)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "role.updated",
                    source,
                    Some(role.key.clone()),
                    json!({"before": before, "after": role}),
                ),
            )?;
            Ok(role)
        })
    }

    pub fn delete_role(&self, actor: &Actor, key: &str, source: &str) -> Result<()> {
        actor.require(Capability::UserManage)?;
        let now = self.now();
        self.store.write(|tx| {
            let role = store::org::roles_w(tx)?
                .into_iter()
                .find(|r| r.key == key)
                .ok_or(Error::NotFound)?;
            actor.may_reach(&roles::combine([&role]), "删除此角色")?;
            if role.builtin {
                return Err(Error::Unprocessable {
                    code: "builtin_role",
                    message: "内置角色不能删除，可以修改其权限".into(),
                });
            }
            if store::users::all_w(tx)?
                .iter()
                .any(|u| u.roles.iter().any(|r| r == key))
            {
                return Err(Error::Conflict {
                    code: "role_in_use",
                    message: "仍有用户使用该角色，请先调整这些用户".into(),
                });
            }
            store::org::delete_role(tx, key)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "role.deleted",
                    source,
                    Some(key.to_string()),
                    json!({"name": role.name}),
                ),
            )
        })
    }
}
