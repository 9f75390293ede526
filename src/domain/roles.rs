//! Roles: a set of capabilities, a data scope and field privileges. Built-in roles are seeded
//! as ordinary records (editable); firms add their own. A user with several roles gets the
//! union of capabilities and privileges and the widest scope.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::capability::{self, Grant};
pub use super::capability::{Capability, FieldPrivilege};
use super::org::{BUILTIN_ROLES, builtin_capabilities};

/// Whose records a role sees, besides the records its holder owns or collaborates on.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Role {
    /// Stable key (`admin`, `sales`, or a firm's own like `team_lead`).
    pub key: String,
    pub name: String,
    /// Ignored on create: only zhudai seeds built-in roles.
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
    /// Full-value reveals per user per day (Asia/Shanghai); `None` = unlimited.
    #[serde(default)]
    pub daily_reveal_quota: Option<u32>,
    /// How many of their own customers a holder may lock against pool recall.
    #[serde(default = "default_lock_limit")]
    pub lock_limit: u32,
}

/// Reveals a day of the built-in salesperson role (their own customers' phones).
pub const SALES_REVEAL_QUOTA: u32 = 200;

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
            use FieldPrivilege::{IdNumberViewFull, PhoneViewFull, PhoneViewOwn};
            let (scope, privileges, quota): (DataScope, &[FieldPrivilege], Option<u32>) = match *key
            {
                "admin" => (DataScope::All, FieldPrivilege::ALL, None),
                "manager" => (DataScope::DepartmentTree, &[PhoneViewFull], Some(50)),
                "finance" => (DataScope::All, &[], None),
                "documents" => (DataScope::All, &[IdNumberViewFull], Some(50)),
                "service" => (DataScope::All, &[], None),
                // Sales work is phone work: their own customers' numbers, 200 a day.
                "sales" => (DataScope::Own, &[PhoneViewOwn], Some(SALES_REVEAL_QUOTA)),
                _ => (DataScope::Own, &[], None),
            };
            Role {
                key: (*key).to_string(),
                name: (*name).to_string(),
                builtin: true,
                capabilities: builtin_capabilities(key),
                scope,
                field_privileges: privileges.to_vec(),
                daily_reveal_quota: quota,
                lock_limit: DEFAULT_LOCK_LIMIT,
            }
        })
        .collect()
}

/// What a set of roles adds up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub capabilities: BTreeSet<Capability>,
    pub scope: DataScope,
    pub field_privileges: BTreeSet<FieldPrivilege>,
    /// Full-value reveals a day (`phone.view_full`, `id_number.view_full`): the most generous
    /// quota among the roles granting one of those; `None` = unlimited.
    pub daily_reveal_quota: Option<u32>,
    /// Reveals a day of their own customers' phones (`phone.view_own`), counted apart: a
    /// salesperson role's quota never raises what a manager role allows over everyone's.
    pub own_phone_quota: Option<u32>,
    /// The most generous lock limit among the roles.
    pub lock_limit: u32,
}

impl DataScope {
    /// The API's name (`self`, `department`, `department_tree`, `all`).
    pub const fn as_str(self) -> &'static str {
        match self {
            DataScope::Own => "self",
            DataScope::Department => "department",
            DataScope::DepartmentTree => "department_tree",
            DataScope::All => "all",
        }
    }
}

impl Access {
    /// Whether every capability there is adds up here (an administrator).
    pub fn holds_every_capability(&self) -> bool {
        Capability::ALL
            .iter()
            .all(|c| self.capabilities.contains(c))
    }

    /// What `other` holds beyond `self`, named for a refusal: capabilities and field
    /// privileges by their strings, a wider data scope, a higher lock limit, a more generous
    /// daily reveal quota for a privilege both hold. Empty when `other` is within `self`: what a holder of
    /// `user.manage` may grant, and whose account it may manage (no escalation through it).
    pub fn lacks(&self, other: &Access) -> Vec<String> {
        let mut out: Vec<String> = other
            .capabilities
            .difference(&self.capabilities)
            .map(|c| c.as_str().to_string())
            .collect();
        out.extend(
            other
                .field_privileges
                .difference(&self.field_privileges)
                .map(|p| p.as_str().to_string()),
        );
        if other.scope > self.scope {
            out.push(format!("数据范围 {}", other.scope.as_str()));
        }
        // A plain number (`combine` takes the highest; there is no "unlimited"): more locks is
        // more. Not for an administrator, who may raise its own role's limit anyway
        // (`may_edit_grant_of`): its own limit bounds nothing it grants.
        if other.lock_limit > self.lock_limit && !self.holds_every_capability() {
            out.push(format!("可锁定客户 {} 个", other.lock_limit));
        }
        // `None` is unlimited: more generous than any number.
        let more = |theirs: Option<u32>, mine: Option<u32>| match (theirs, mine) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(t), Some(m)) => t > m,
        };
        let full = |a: &Access| {
            a.field_privileges
                .iter()
                .any(|p| *p != FieldPrivilege::PhoneViewOwn)
        };
        let quota = |q: Option<u32>| q.map_or_else(|| "不限".to_string(), |n| n.to_string());
        if full(self) && full(other) && more(other.daily_reveal_quota, self.daily_reveal_quota) {
            out.push(format!(
                "每日查看完整号码 {} 次",
                quota(other.daily_reveal_quota)
            ));
        }
        let own = |a: &Access| a.field_privileges.contains(&FieldPrivilege::PhoneViewOwn);
        if own(self) && own(other) && more(other.own_phone_quota, self.own_phone_quota) {
            out.push(format!(
                "每日查看本人客户号码 {} 次",
                quota(other.own_phone_quota)
            ));
        }
        out
    }
}

pub fn combine<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Access {
    let mut access = Access {
        capabilities: BTreeSet::new(),
        scope: DataScope::Own,
        field_privileges: BTreeSet::new(),
        daily_reveal_quota: Some(0),
        own_phone_quota: Some(0),
        lock_limit: 0,
    };
    let most = |a: Option<u32>, b: Option<u32>| match (a, b) {
        (None, _) | (_, None) => None,
        (Some(a), Some(b)) => Some(a.max(b)),
    };
    for r in roles {
        access.capabilities.extend(r.capabilities.iter().copied());
        access.scope = access.scope.max(r.scope);
        access.lock_limit = access.lock_limit.max(r.lock_limit);
        access
            .field_privileges
            .extend(r.field_privileges.iter().copied());
        if r.field_privileges
            .iter()
            .any(|p| *p != FieldPrivilege::PhoneViewOwn)
        {
            access.daily_reveal_quota = most(access.daily_reveal_quota, r.daily_reveal_quota);
        }
        if r.field_privileges.contains(&FieldPrivilege::PhoneViewOwn) {
            access.own_phone_quota = most(access.own_phone_quota, r.daily_reveal_quota);
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
    None
}

/// A role as stored may name a capability or privilege this build does not know (written by a
/// newer zhudai, or one since retired). It must not stop the server: such a string is dropped
/// from the stored role's JSON before it is decoded, so it grants nothing, the role reads (and
/// lists over HTTP) without it, and the next edit of the role saves it without it. Returns the
/// dropped strings for the caller to log.
pub fn drop_unknown_grants(role: &mut serde_json::Value) -> Vec<String> {
    fn keep_known<T: Grant>(list: Option<&mut serde_json::Value>, dropped: &mut Vec<String>) {
        if let Some(serde_json::Value::Array(items)) = list {
            items.retain(|v| match v.as_str() {
                Some(s) if T::parse(s).is_none() => {
                    dropped.push(s.to_string());
                    false
                }
                _ => true,
            });
        }
    }
    let mut dropped = Vec::new();
    keep_known::<Capability>(role.get_mut("capabilities"), &mut dropped);
    keep_known::<FieldPrivilege>(role.get_mut("field_privileges"), &mut dropped);
    dropped
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
        assert_eq!(
            a.field_privileges.iter().copied().collect::<Vec<_>>(),
            [FieldPrivilege::PhoneViewOwn]
        );
        assert_eq!(
            (a.daily_reveal_quota, a.own_phone_quota),
            (Some(0), Some(200))
        );
        let b = combine([&role("sales"), &role("manager")]);
        assert_eq!(b.scope, DataScope::DepartmentTree);
        assert!(b.field_privileges.contains(&FieldPrivilege::PhoneViewFull));
        // The salesperson's 200 own-phone reveals do not raise the manager's 50 full reveals.
        assert_eq!(
            (b.daily_reveal_quota, b.own_phone_quota),
            (Some(50), Some(200))
        );
        let c = combine([&role("manager"), &role("admin")]);
        assert_eq!(c.scope, DataScope::All);
        assert_eq!(c.daily_reveal_quota, None);
        assert!(c.capabilities.contains(&Capability::UserManage));
    }

    #[test]
    fn what_one_access_lacks_of_another() {
        let admin = combine([&role("admin")]);
        let manager = combine([&role("manager")]);
        let sales = combine([&role("sales")]);
        assert!(admin.holds_every_capability());
        assert!(!manager.holds_every_capability());
        assert!(admin.lacks(&manager).is_empty());
        assert!(manager.lacks(&manager).is_empty());
        let lacks = manager.lacks(&admin);
        assert!(lacks.contains(&"user.manage".to_string()), "{lacks:?}");
        assert!(lacks.contains(&"数据范围 all".to_string()), "{lacks:?}");
        assert!(
            lacks.contains(&"每日查看完整号码 不限 次".to_string()),
            "{lacks:?}"
        );
        // Sales holds phone.view_own, which the manager lacks; the rest is within.
        assert_eq!(manager.lacks(&sales), ["phone.view_own"]);
        // A higher lock limit is more; a lower one is within.
        let mut hoarder = role("sales");
        hoarder.lock_limit = 100_000;
        assert_eq!(sales.lacks(&combine([&hoarder])), ["可锁定客户 100000 个"]);
        assert!(combine([&hoarder]).lacks(&sales).is_empty());
        assert_eq!(admin.lock_limit, DEFAULT_LOCK_LIMIT);
        assert!(admin.lacks(&combine([&hoarder])).is_empty());
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
        assert!(role_problem(&r).is_none());
        // An unknown capability cannot be put into a role: decoding one from JSON fails.
        let mut json = serde_json::to_value(&r).unwrap();
        json["capabilities"] = serde_json::json!(["customer.read", "customer.fly"]);
        let e = serde_json::from_value::<Role>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("未知权限 customer.fly"), "{e}");
        let mut json = serde_json::to_value(&r).unwrap();
        json["field_privileges"] = serde_json::json!(["phone.peek"]);
        let e = serde_json::from_value::<Role>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("未知字段权限 phone.peek"), "{e}");
    }

    #[test]
    fn a_stored_role_with_an_unknown_grant_reads_without_it() {
        let mut json = serde_json::to_value(role("sales")).unwrap();
        json["capabilities"]
            .as_array_mut()
            .unwrap()
            .push("customer.fly".into());
        json["field_privileges"] = serde_json::json!(["phone.view_full", "phone.peek"]);
        assert_eq!(
            drop_unknown_grants(&mut json),
            ["customer.fly", "phone.peek"]
        );
        let r: Role = serde_json::from_value(json).unwrap();
        assert_eq!(r.capabilities, role("sales").capabilities);
        assert_eq!(r.field_privileges, [FieldPrivilege::PhoneViewFull]);
    }
}
