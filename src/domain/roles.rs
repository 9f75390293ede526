//! Roles: a set of capabilities, a data scope and field privileges. Built-in roles are seeded
//! as ordinary records (editable); firms add their own. A user with several roles gets the
//! union of capabilities and privileges and the widest scope.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::org::{BUILTIN_ROLES, CAPABILITIES, builtin_capabilities};

/// Whose records a role sees, besides the records its holder owns or collaborates on.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    /// Only records the user owns or collaborates on.
    #[serde(rename = "self")]
    #[default]
    Own,
    /// Also records owned by members of the user's department.
    Department,
    /// Also records owned by members of the department and every department below it.
    DepartmentTree,
    /// Every record.
    All,
}

/// Field privileges: who may see a sensitive field in full.
pub const FIELD_PRIVILEGES: &[&str] = &["phone.view_full", "id_number.view_full"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Role {
    /// Stable key (`admin`, `sales`, or a firm's own like `team_lead`).
    pub key: String,
    pub name: String,
    /// Ignored on create: only zhudai seeds built-in roles.
    #[serde(default)]
    pub builtin: bool,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub scope: DataScope,
    #[serde(default)]
    pub field_privileges: Vec<String>,
    /// Full-value reveals per user per day (Asia/Shanghai); `None` = unlimited.
    #[serde(default)]
    pub daily_reveal_quota: Option<u32>,
    /// How many of their own customers a holder may lock against pool recall.
    #[serde(default = "default_lock_limit")]
    pub lock_limit: u32,
}

/// Locks per user unless a role says otherwise.
pub const DEFAULT_LOCK_LIMIT: u32 = 5;

fn default_lock_limit() -> u32 {
    DEFAULT_LOCK_LIMIT
}

/// The built-in roles as first seeded.
pub fn builtin_roles() -> Vec<Role> {
    BUILTIN_ROLES
        .iter()
        .map(|(key, name)| {
            let (scope, privileges, quota): (DataScope, &[&str], Option<u32>) = match *key {
                "admin" => (DataScope::All, FIELD_PRIVILEGES, None),
                "manager" => (DataScope::DepartmentTree, &["phone.view_full"], Some(50)),
                "finance" => (DataScope::All, &[], None),
                "documents" => (DataScope::All, &["id_number.view_full"], Some(50)),
                "service" => (DataScope::All, &[], None),
                _ => (DataScope::Own, &[], None),
            };
            Role {
                key: (*key).to_string(),
                name: (*name).to_string(),
                builtin: true,
                capabilities: builtin_capabilities(key)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                scope,
                field_privileges: privileges.iter().map(|p| (*p).to_string()).collect(),
                daily_reveal_quota: quota,
                lock_limit: DEFAULT_LOCK_LIMIT,
            }
        })
        .collect()
}

/// What a set of roles adds up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub capabilities: BTreeSet<String>,
    pub scope: DataScope,
    pub field_privileges: BTreeSet<String>,
    /// The most generous quota among the roles granting a privilege; `None` = unlimited.
    pub daily_reveal_quota: Option<u32>,
    /// The most generous lock limit among the roles.
    pub lock_limit: u32,
}

pub fn combine<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Access {
    let mut access = Access {
        capabilities: BTreeSet::new(),
        scope: DataScope::Own,
        field_privileges: BTreeSet::new(),
        daily_reveal_quota: Some(0),
        lock_limit: 0,
    };
    for r in roles {
        access.capabilities.extend(r.capabilities.iter().cloned());
        access.scope = access.scope.max(r.scope);
        access.lock_limit = access.lock_limit.max(r.lock_limit);
        if !r.field_privileges.is_empty() {
            access
                .field_privileges
                .extend(r.field_privileges.iter().cloned());
            access.daily_reveal_quota = match (access.daily_reveal_quota, r.daily_reveal_quota) {
                (None, _) | (_, None) => None,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
        }
    }
    access
}

/// Why a role definition is refused, as (field, reason).
pub fn role_problem(role: &Role) -> Option<(&'static str, String)> {
    let key_ok = (2..=32).contains(&role.key.len())
        && role
            .key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !key_ok {
        return Some(("key", "角色标识应为2到32位小写字母、数字或下划线".into()));
    }
    if role.name.trim().is_empty() || role.name.chars().count() > 32 {
        return Some(("name", "角色名称不能为空，最多32个字符".into()));
    }
    if !super::text::single_line_ok(&role.name) {
        return Some(("name", super::text::REFUSED.into()));
    }
    if let Some(c) = role
        .capabilities
        .iter()
        .find(|c| !CAPABILITIES.contains(&c.as_str()))
    {
        return Some(("capabilities", format!("未知权限 {c}")));
    }
    if let Some(p) = role
        .field_privileges
        .iter()
        .find(|p| !FIELD_PRIVILEGES.contains(&p.as_str()))
    {
        return Some(("field_privileges", format!("未知字段权限 {p}")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(key: &str) -> Role {
        builtin_roles().into_iter().find(|r| r.key == key).unwrap()
    }

    #[test]
    fn several_roles_add_up_to_the_widest() {
        let a = combine([&role("sales")]);
        assert_eq!(a.scope, DataScope::Own);
        assert!(a.field_privileges.is_empty());
        assert_eq!(a.daily_reveal_quota, Some(0));
        let b = combine([&role("sales"), &role("manager")]);
        assert_eq!(b.scope, DataScope::DepartmentTree);
        assert!(b.field_privileges.contains("phone.view_full"));
        assert_eq!(b.daily_reveal_quota, Some(50));
        let c = combine([&role("manager"), &role("admin")]);
        assert_eq!(c.scope, DataScope::All);
        assert_eq!(c.daily_reveal_quota, None);
        assert!(c.capabilities.contains("user.manage"));
    }

    #[test]
    fn scope_serialises_as_the_api_names() {
        let names: Vec<String> = [
            DataScope::Own,
            DataScope::Department,
            DataScope::DepartmentTree,
            DataScope::All,
        ]
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "\"self\"",
                "\"department\"",
                "\"department_tree\"",
                "\"all\""
            ]
        );
    }

    #[test]
    fn role_definitions_are_checked() {
        let mut r = role("sales");
        assert!(role_problem(&r).is_none());
        r.key = "Team Lead".into();
        assert_eq!(role_problem(&r).unwrap().0, "key");
        r.key = "team_lead".into();
        r.capabilities.push("customer.fly".into());
        assert_eq!(role_problem(&r).unwrap().0, "capabilities");
    }
}
