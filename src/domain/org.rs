//! The organisation: users, roles and capabilities. Pure types and rules; storage lives in
//! `store::users`, authorization decisions in `service`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::capability::Capability;

/// Built-in role keys with their Chinese names, in display order.
pub const BUILTIN_ROLES: &[(&str, &str)] = &[
    ("admin", "管理员"),
    ("manager", "经理"),
    ("sales", "业务员"),
    ("finance", "财务"),
    ("documents", "权证专员"),
    ("service", "客服"),
    // External partners (渠道合作方): their portal only (docs/brokers.md).
    ("broker", "经纪人"),
];

/// The capabilities a built-in role is seeded with (roles are editable records afterwards), in
/// `Capability::ALL` order.
pub fn builtin_capabilities(role: &str) -> Vec<Capability> {
    use Capability::*;
    let pick = |wanted: &[Capability]| -> Vec<Capability> {
        Capability::ALL
            .iter()
            .copied()
            .filter(|c| wanted.contains(c))
            .collect()
    };
    match role {
        "admin" => Capability::ALL.to_vec(),
        "manager" => pick(&[
            CustomerRead,
            CustomerCreate,
            CustomerEdit,
            CustomerDelete,
            CustomerTransfer,
            CustomerAssign,
            CustomerExport,
            CustomerImport,
            PoolClaim,
            PoolManage,
            DealRead,
            DealCreate,
            DealEdit,
            DealStage,
            ReportView,
            FinanceRead,
        ]),
        "sales" => pick(&[
            CustomerRead,
            CustomerCreate,
            CustomerEdit,
            PoolClaim,
            DealRead,
            DealCreate,
            DealEdit,
            DealStage,
        ]),
        "finance" => pick(&[CustomerRead, DealRead, FinanceRead, FinanceEdit, ReportView]),
        "documents" => pick(&[CustomerRead, DealRead, DealEdit]),
        "service" => pick(&[CustomerRead, CustomerCreate, CustomerEdit]),
        "broker" => pick(&[ReferralSubmit]),
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
    Departed,
}

/// A member of staff who can log in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// PHC string (argon2id); never leaves the service layer.
    pub password_hash: String,
    pub roles: Vec<String>,
    pub status: UserStatus,
    #[serde(default)]
    pub department_id: Option<String>,
    #[serde(default)]
    pub manager_id: Option<String>,
    /// Mobile for account recovery, encrypted (`crypto::field`); never stored in plaintext.
    #[serde(default)]
    pub phone_enc: Option<String>,
    /// Blind index of the mobile, for exact lookup.
    #[serde(default)]
    pub phone_bidx: Option<String>,
    /// `138****5678`, kept for display so lists need no decryption.
    #[serde(default)]
    pub phone_masked: Option<String>,
    /// The user's PBX extension (分机号): calls are matched to users by it and click-to-call
    /// rings it; unique among users.
    #[serde(default)]
    pub extension: Option<String>,
    /// Set for a broker (经纪人, role `broker`): the channel their referrals count for.
    #[serde(default)]
    pub broker: Option<BrokerInfo>,
    /// The password was set by someone else (an administrator creating the account or
    /// resetting its password): until the holder sets their own, a session of theirs reaches
    /// nothing but `/me`, `/me/password` and logout (`password_change_required`).
    #[serde(default)]
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    /// A broker (经纪人): an outside partner who reaches their portal and nothing else.
    pub fn is_broker(&self) -> bool {
        self.roles.iter().any(|r| r == BROKER_ROLE)
    }
}

/// The role key of brokers.
pub const BROKER_ROLE: &str = "broker";

/// What a broker account adds to a user (docs/brokers.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BrokerInfo {
    /// The channel (`store::channels`) the broker's referrals count for.
    pub channel_id: String,
    /// The broker's company (may be empty for a person).
    #[serde(default)]
    pub company: String,
}

/// A department; departments form a tree through `parent_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `root` and every department below it.
pub fn subtree(departments: &[Department], root: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::from([root.to_string()]);
    // Departments are few (tens): repeat until no new child is found.
    loop {
        let before = out.len();
        for d in departments {
            if let Some(p) = &d.parent_id
                && out.contains(p)
            {
                out.insert(d.id.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Would making `parent` the parent of `dept` create a cycle?
pub fn would_cycle(departments: &[Department], dept: &str, parent: &str) -> bool {
    subtree(departments, dept).contains(parent)
}

/// Why a username is refused, or `None` when it is fine. Usernames are what people type at the
/// login page: letters, digits, `._-`, 2–32 characters; compared case-insensitively.
pub fn username_problem(name: &str) -> Option<&'static str> {
    let len = name.chars().count();
    if !(2..=32).contains(&len) {
        return Some("用户名长度应为2到32个字符");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Some("用户名只能包含字母、数字和 . _ -");
    }
    None
}

/// Why a password is refused, or `None`. Length only (NIST 800-63B: no composition rules); the
/// common-password list is checked by the accounts service.
pub fn password_problem(password: &str) -> Option<&'static str> {
    let len = password.chars().count();
    if len < 8 {
        return Some("密码至少需要8个字符");
    }
    if len > 128 {
        return Some("密码最多128个字符");
    }
    None
}

/// A bundled list of passwords that attackers try first (leaked-password top lists, the
/// Chinese favourites among them). Short on purpose: it is a floor, not a dictionary.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Why a password is too guessable for this account, or `None` (NIST 800-63B 5.1.1.2: check
/// against known-compromised and context-specific values).
///
/// Refused: a listed password, one with a single character added before or after it
/// (`88888888a`), one made of digits only (dates, phone numbers, `12345678901`), and one
/// repeating one character. The username is refused inside the password from 4 characters
/// on: a 2- or 3-letter username (`ab`) is part of too many ordinary words.
pub fn weak_password_problem(password: &str, username: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    let listed = |s: &str| COMMON_PASSWORDS.lines().any(|p| p == s);
    let mut chars = lower.chars();
    let without_first = {
        chars.next();
        chars.as_str()
    };
    let without_last = {
        let mut c = lower.chars();
        c.next_back();
        c.as_str()
    };
    if listed(&lower) || listed(without_first) || listed(without_last) {
        return Some("密码过于常见，请换一个");
    }
    if lower.chars().all(|c| c.is_ascii_digit()) {
        return Some("密码不能全部是数字");
    }
    if username.chars().count() >= 4 && lower.contains(&username.to_lowercase()) {
        return Some("密码不能包含用户名");
    }
    let mut chars = lower.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Some("密码不能由同一个字符重复组成");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds as the string prefixes chose them before the enum: unchanged, in order.
    #[test]
    fn builtin_roles_are_seeded_as_before() {
        let old = |prefixes: &[&str]| -> Vec<&'static str> {
            Capability::ALL
                .iter()
                .map(|c| c.as_str())
                .filter(|c| prefixes.iter().any(|p| c.starts_with(p)))
                .collect()
        };
        let cases: &[(&str, &[&str])] = &[
            ("admin", &[""]),
            (
                "manager",
                &["customer.", "pool.", "deal.", "report.view", "finance.read"],
            ),
            (
                "sales",
                &[
                    "customer.read",
                    "customer.create",
                    "customer.edit",
                    "pool.claim",
                    "deal.read",
                    "deal.create",
                    "deal.edit",
                    "deal.stage",
                ],
            ),
            (
                "finance",
                &["customer.read", "deal.read", "finance.", "report.view"],
            ),
            ("documents", &["customer.read", "deal.read", "deal.edit"]),
            (
                "service",
                &["customer.read", "customer.create", "customer.edit"],
            ),
        ];
        for (role, prefixes) in cases {
            let now: Vec<&str> = builtin_capabilities(role)
                .iter()
                .map(|c| c.as_str())
                .collect();
            assert_eq!(now, old(prefixes), "{role}");
        }
    }

    #[test]
    fn admin_has_everything_sales_does_not_manage_users() {
        assert_eq!(builtin_capabilities("admin").len(), Capability::ALL.len());
        let sales = builtin_capabilities("sales");
        assert!(sales.contains(&Capability::CustomerRead));
        assert!(!sales.contains(&Capability::UserManage));
        assert!(!sales.contains(&Capability::CustomerExport));
        assert!(builtin_capabilities("nobody").is_empty());
    }

    #[test]
    fn usernames_and_passwords() {
        assert!(username_problem("zhang.san").is_none());
        assert!(username_problem("a").is_some());
        assert!(username_problem("张三").is_some());
        assert!(password_problem("1234567").is_some());
        assert!(password_problem("12345678").is_none());
        assert!(password_problem(&"x".repeat(129)).is_some());
        assert!(
            password_problem("密码密码密码密码").is_none(),
            "counted in characters"
        );
        assert!(weak_password_problem("Password123", "x").is_some());
        assert!(weak_password_problem("88888888", "x").is_some());
        assert!(weak_password_problem("zzzzzzzzzz", "x").is_some());
        assert!(weak_password_problem("wang.fang-2026", "Wang.Fang").is_some());
        assert!(weak_password_problem("鹅鹅鹅曲项向天歌", "wang").is_none());
    }
}
