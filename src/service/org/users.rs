//! Staff accounts: create, list, disable, reset a password. Disabling an account or changing
//! its password ends all of its sessions in the same transaction.

use std::collections::BTreeSet;

use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::org::{self, User, UserStatus};
use crate::domain::roles::{Access, DataScope};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result, access::audit, access::password, new_id};
use crate::store::{self, audit::NewAudit, users};

/// Who asks: a logged-in user (checked against capabilities) or the operator at the server's
/// shell, who holds the data directory and therefore everything in it.
pub enum Actor<'a> {
    User(&'a Caller),
    Operator,
}

impl Actor<'_> {
    pub fn require(&self, capability: Capability) -> Result<()> {
        match self {
            Actor::User(c) => c.require(capability),
            Actor::Operator => Ok(()),
        }
    }

    /// The one check against escalation through `user.manage` (used by every account, role
    /// and token change): a caller may grant, and manage an account or role holding, only what
    /// it holds itself — capabilities, field privileges, data scope, reveal quota. `doing`
    /// completes "不能…" in the refusal, which names what the caller lacks (403
    /// `beyond_own_access`). The operator at the shell holds everything.
    pub fn may_reach(&self, what: &Access, doing: &str) -> Result<()> {
        let Actor::User(c) = self else {
            return Ok(());
        };
        let lacks = c.access.lacks(what);
        if lacks.is_empty() {
            return Ok(());
        }
        Err(beyond(doing, &lacks.join("、")))
    }

    /// The departments whose accounts the caller may move, and into which it may place
    /// accounts: those its data scope covers — its own department, with `department_tree` also
    /// every one below it; none with scope `self` (or no department). `None`: every department
    /// (scope `all`, or the operator). Beyond it a holder of `user.manage` would widen its
    /// scope (or that of an account it then acts as) through departments.
    pub(crate) fn account_departments(&self, all: &[org::Department]) -> Option<BTreeSet<String>> {
        let Actor::User(c) = self else {
            return None;
        };
        match (c.access.scope, c.user.department_id.as_deref()) {
            (DataScope::All, _) => None,
            (DataScope::DepartmentTree, Some(d)) => Some(org::subtree(all, d)),
            (DataScope::Department, Some(d)) => Some(BTreeSet::from([d.to_string()])),
            _ => Some(BTreeSet::new()),
        }
    }

    /// The departments the caller may create under, rename, move (and move under) and delete:
    /// its own department and every one below it, so nothing is grafted into (or out of) its
    /// subtree; none with scope `self`. `None`: every department (scope `all`, the operator).
    pub(crate) fn managed_departments(&self, all: &[org::Department]) -> Option<BTreeSet<String>> {
        let Actor::User(c) = self else {
            return None;
        };
        match (c.access.scope, c.user.department_id.as_deref()) {
            (DataScope::All, _) => None,
            (DataScope::Department | DataScope::DepartmentTree, Some(d)) => {
                Some(org::subtree(all, d))
            }
            _ => Some(BTreeSet::new()),
        }
    }

    /// Refuses `doing` unless department `dept` is in `reach` (`None` = every department; a
    /// missing department — the top level, or an account without one — only then). The
    /// refusal has [`Self::may_reach`]'s shape and names the department.
    pub(crate) fn may_reach_department(
        reach: Option<&BTreeSet<String>>,
        all: &[org::Department],
        dept: Option<&str>,
        doing: &str,
    ) -> Result<()> {
        let Some(reach) = reach else {
            return Ok(());
        };
        match dept {
            Some(d) if reach.contains(d) => Ok(()),
            Some(d) => {
                let name = all
                    .iter()
                    .find(|x| x.id == d)
                    .map_or(d, |x| x.name.as_str());
                Err(beyond(doing, &format!("部门「{name}」的管理范围")))
            }
            None => Err(beyond(
                doing,
                "数据范围 all（不属于任何部门的账号和顶级部门）",
            )),
        }
    }

    /// The one rule for acting on an account — editing it, its password, its tokens, its
    /// departure, naming it as someone's manager or successor: the account must be in a
    /// department the caller's data scope covers ([`Self::account_departments`]), unless the
    /// scope is `all`. Else a department-scoped `user.manage` would take over an account of
    /// another department (a new password, a token) and see through it what its own scope
    /// hides. The caller's own account is always within reach.
    pub(crate) fn may_reach_account(
        &self,
        all: &[org::Department],
        account: &User,
        doing: &str,
    ) -> Result<()> {
        if let Actor::User(c) = self
            && c.user.id == account.id
        {
            return Ok(());
        }
        Self::may_reach_department(
            self.account_departments(all).as_ref(),
            all,
            account.department_id.as_deref(),
            doing,
        )
    }

    /// [`Self::may_reach`] for what `account` holds, then [`Self::may_reach_account`]: the
    /// check before any change to another account.
    pub(crate) fn may_act_on(
        &self,
        tx: &crate::store::WriteTransaction,
        account: &User,
        doing: &str,
    ) -> Result<()> {
        self.may_reach(&access_in(tx, &account.roles)?, doing)?;
        if let Actor::User(c) = self
            && c.access.scope != DataScope::All
        {
            let all = store::org::departments_w(tx)?;
            self.may_reach_account(&all, account, doing)?;
        }
        Ok(())
    }

    /// A manager named for an account (or the one it is taken from) must be within reach:
    /// refuses `doing` when account `id` is outside the caller's departments.
    fn may_name_manager(
        &self,
        tx: &crate::store::WriteTransaction,
        id: &str,
        doing: &str,
    ) -> Result<()> {
        let Actor::User(c) = self else {
            return Ok(());
        };
        if c.access.scope == DataScope::All {
            return Ok(());
        }
        let Some(manager) = users::find_by_id_w(tx, id)? else {
            return Ok(());
        };
        let all = store::org::departments_w(tx)?;
        self.may_reach_account(&all, &manager, doing)
    }

    /// Whether the caller may change the grant of role `key`: not of a role it holds itself,
    /// unless it holds every capability (an administrator) — otherwise a holder would widen
    /// its own access one step at a time.
    pub fn may_edit_grant_of(&self, key: &str) -> Result<()> {
        match self {
            Actor::User(c)
                if c.user.roles.iter().any(|r| r == key) && !c.access.holds_every_capability() =>
            {
                Err(Error::Denied {
                    code: "beyond_own_access",
                    message: "不能修改自己所持角色的权限：只有拥有全部权限的管理员可以".into(),
                    details: json!({ "lacks": "全部权限（管理员）" }),
                })
            }
            _ => Ok(()),
        }
    }

    pub fn audit(
        &self,
        action: &'static str,
        source: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> NewAudit {
        match self {
            Actor::User(c) => audit::by_user(&c.user, action, source, target, detail),
            Actor::Operator => NewAudit {
                actor_id: None,
                actor: "operator".into(),
                action,
                target,
                detail,
                source: source.into(),
            },
        }
    }
}

/// 403 `beyond_own_access`: "不能{doing}", naming what the caller lacks (also in `details`).
fn beyond(doing: &str, lacks: &str) -> Error {
    Error::Denied {
        code: "beyond_own_access",
        message: format!("不能{doing}：超出了你自己的权限，你没有 {lacks}"),
        details: json!({ "lacks": lacks }),
    }
}

/// An account in the admin list, with whether the caller may act on it (edit, reset its
/// password, tokens, departure): the server refuses the rest with `beyond_own_access`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UserRow {
    #[serde(flatten)]
    pub view: crate::service::access::auth::UserView,
    pub may_manage: bool,
}

/// What a password reset ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PasswordReset {
    pub sessions_ended: usize,
    pub tokens_revoked: u64,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub password: String,
    #[serde(default)]
    pub department_id: Option<String>,
    #[serde(default)]
    pub manager_id: Option<String>,
    /// Mainland mobile for account recovery (stored encrypted).
    #[serde(default)]
    pub phone: Option<String>,
    /// For a broker (roles exactly `["broker"]`): the channel their referrals count for and
    /// their company (docs/brokers.md).
    #[serde(default)]
    pub broker: Option<crate::domain::org::BrokerInfo>,
    /// The holder must choose their own password at first sign-in (the web form's default;
    /// absent over the API: false).
    #[serde(default)]
    pub must_change_password: bool,
}

/// Changes to an account; absent fields stay. An empty string clears department or manager.
/// An unknown field (`password`, `username`) is refused (400 naming it), not ignored: the
/// password has its own endpoint and the username never changes.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub department_id: Option<String>,
    pub manager_id: Option<String>,
    pub status: Option<UserStatus>,
    /// Mainland mobile; empty string removes it.
    pub phone: Option<String>,
    /// PBX extension (分机号, 1–16 digits), unique; empty string removes it.
    pub extension: Option<String>,
}

fn check_roles(tx: &crate::store::WriteTransaction, roles: &[String]) -> Result<()> {
    if roles.is_empty() {
        return Err(Error::validation("roles", "至少需要一个角色"));
    }
    let known = store::org::roles_w(tx)?;
    if let Some(bad) = roles.iter().find(|r| !known.iter().any(|k| &k.key == *r)) {
        let keys: Vec<&str> = known.iter().map(|k| k.key.as_str()).collect();
        return Err(Error::validation(
            "roles",
            format!("未知角色 {bad}（可选：{}）", keys.join(", ")),
        ));
    }
    Ok(())
}

/// A broker account holds the `broker` role alone and names an existing channel; staff never
/// hold it (a broker's portal is all a broker reaches: `http::extract`).
fn check_broker(
    tx: &crate::store::WriteTransaction,
    roles: &[String],
    broker: Option<&mut crate::domain::org::BrokerInfo>,
) -> Result<()> {
    let is_broker = roles.iter().any(|r| r == org::BROKER_ROLE);
    match broker {
        None if is_broker => Err(Error::validation("broker", "经纪人账号须指定所属渠道")),
        None => Ok(()),
        Some(_) if !is_broker || roles.len() != 1 => Err(Error::validation(
            "roles",
            "经纪人账号只能有“经纪人”一个角色，员工账号不能兼任经纪人",
        )),
        Some(b) => {
            b.company = b.company.trim().to_string();
            if b.company.chars().count() > 64 || !crate::domain::text::single_line_ok(&b.company) {
                return Err(Error::validation("broker.company", "公司名称最多64个字符"));
            }
            if store::channels::get(tx, &b.channel_id)?.is_none() {
                return Err(Error::validation("broker.channel_id", "渠道不存在"));
            }
            Ok(())
        }
    }
}

fn check_refs(
    tx: &crate::store::WriteTransaction,
    department: Option<&str>,
    manager: Option<&str>,
) -> Result<()> {
    if let Some(d) = department
        && !store::org::departments_w(tx)?.iter().any(|x| x.id == d)
    {
        return Err(Error::validation("department_id", "部门不存在"));
    }
    if let Some(m) = manager
        && users::find_by_id_w(tx, m)?.is_none()
    {
        return Err(Error::validation("manager_id", "上级不存在"));
    }
    Ok(())
}

/// What a set of role keys adds up to, read in the write transaction.
pub(crate) fn access_in(tx: &crate::store::WriteTransaction, roles: &[String]) -> Result<Access> {
    let all = store::org::roles_w(tx)?;
    Ok(crate::domain::roles::combine(
        all.iter().filter(|r| roles.contains(&r.key)),
    ))
}

/// Does the manager chain starting at `manager` (their manager, that one's, …) reach `user`?
/// Then making `manager` the manager of `user` closes a cycle. A cycle already stored (written
/// before this check existed) ends the walk instead of looping.
fn manager_chain_reaches(
    tx: &crate::store::WriteTransaction,
    manager: &str,
    user: &str,
) -> Result<bool> {
    let mut seen = std::collections::BTreeSet::new();
    let mut next = Some(manager.to_string());
    while let Some(id) = next {
        if id == user {
            return Ok(true);
        }
        if !seen.insert(id.clone()) {
            return Ok(false);
        }
        next = users::find_by_id_w(tx, &id)?.and_then(|u| u.manager_id);
    }
    Ok(false)
}

/// Would this change leave the firm without an active administrator?
fn removes_last_admin(
    tx: &crate::store::WriteTransaction,
    before: &User,
    after: &User,
) -> Result<bool> {
    let was = before.is_admin() && before.status == UserStatus::Active;
    let is = after.is_admin() && after.status == UserStatus::Active;
    if !was || is {
        return Ok(false);
    }
    let others = users::all_w(tx)?
        .iter()
        .filter(|u| u.id != before.id && u.is_admin() && u.status == UserStatus::Active)
        .count();
    Ok(others == 0)
}

pub(crate) fn check_password(password_plain: &str, username: &str) -> Result<()> {
    if let Some(reason) = org::password_problem(password_plain)
        .or_else(|| org::weak_password_problem(password_plain, username))
    {
        return Err(Error::validation("password", reason));
    }
    Ok(())
}

impl crate::service::org::UseCases<'_> {
    pub fn create_user(&self, actor: &Actor, new: NewUser, source: &str) -> Result<User> {
        actor.require(Capability::UserManage)?;
        let username = new.username.trim().to_string();
        if let Some(reason) = org::username_problem(&username) {
            return Err(Error::validation("username", reason));
        }
        let display_name = new.display_name.trim().to_string();
        if display_name.is_empty() || display_name.chars().count() > 64 {
            return Err(Error::validation(
                "display_name",
                "姓名不能为空，最多64个字符",
            ));
        }
        if !crate::domain::text::single_line_ok(&display_name) {
            return Err(Error::validation(
                "display_name",
                crate::domain::text::REFUSED,
            ));
        }
        check_password(&new.password, &username)?;
        let now = self.now();
        let password_hash = password::hash(&new.password)?;
        let mut user = User {
            id: new_id(now),
            username,
            display_name,
            password_hash,
            roles: new.roles,
            status: UserStatus::Active,
            department_id: new.department_id.filter(|d| !d.is_empty()),
            manager_id: new.manager_id.filter(|m| !m.is_empty()),
            phone_enc: None,
            phone_bidx: None,
            phone_masked: None,
            extension: None,
            broker: new.broker,
            must_change_password: new.must_change_password,
            created_at: now,
            updated_at: now,
        };
        self.set_phone(&mut user, new.phone.as_deref())?;
        self.store.write(|tx| {
            check_roles(tx, &user.roles)?;
            actor.may_reach(&access_in(tx, &user.roles)?, "创建拥有这些角色的账号")?;
            check_broker(tx, &user.roles, user.broker.as_mut())?;
            check_refs(
                tx,
                user.department_id.as_deref(),
                user.manager_id.as_deref(),
            )?;
            if let Some(d) = user.department_id.as_deref() {
                let all = store::org::departments_w(tx)?;
                Actor::may_reach_department(
                    actor.account_departments(&all).as_ref(),
                    &all,
                    Some(d),
                    "在此部门创建账号",
                )?;
            }
            if let Some(m) = user.manager_id.as_deref() {
                actor.may_name_manager(tx, m, "把此人设为上级")?;
            }
            users::insert(tx, &user).map_err(|e| match e {
                store::Error::Conflict(_) => Error::Conflict {
                    code: "username_taken",
                    message: format!("用户名 {} 已被使用", user.username),
                },
                other => other.into(),
            })?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "user.created",
                    source,
                    Some(user.id.clone()),
                    json!({"username": user.username, "roles": user.roles,
                           "broker": user.broker}),
                ),
            )
        })?;
        Ok(user)
    }

    pub fn list_users(&self, actor: &Actor) -> Result<Vec<User>> {
        actor.require(Capability::UserManage)?;
        Ok(self.store.read(users::all)?)
    }

    /// Sets active / disabled / departed; anything but active ends the user's sessions.
    pub fn set_user_status(
        &self,
        actor: &Actor,
        username: &str,
        status: UserStatus,
        source: &str,
    ) -> Result<User> {
        let id = self
            .store
            .read(|tx| users::find_by_username(tx, username))?
            .ok_or(Error::NotFound)?
            .id;
        self.update_user(
            actor,
            &id,
            UserPatch {
                status: Some(status),
                ..UserPatch::default()
            },
            source,
        )
    }

    pub fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        patch: UserPatch,
        source: &str,
    ) -> Result<User> {
        actor.require(Capability::UserManage)?;
        let now = self.now();
        self.store.write(|tx| {
            let before = users::find_by_id_w(tx, id)?.ok_or(Error::NotFound)?;
            actor.may_act_on(tx, &before, "修改此账号")?;
            let mut user = before.clone();
            if let Some(n) = patch.display_name {
                let n = n.trim().to_string();
                if n.is_empty() || n.chars().count() > 64 {
                    return Err(Error::validation(
                        "display_name",
                        "姓名不能为空，最多64个字符",
                    ));
                }
                if !crate::domain::text::single_line_ok(&n) {
                    return Err(Error::validation(
                        "display_name",
                        crate::domain::text::REFUSED,
                    ));
                }
                user.display_name = n;
            }
            if let Some(r) = patch.roles {
                check_roles(tx, &r)?;
                actor.may_reach(&access_in(tx, &r)?, "授予这些角色")?;
                check_broker(tx, &r, user.broker.as_mut())?;
                user.roles = r;
            }
            if let Some(d) = patch.department_id {
                user.department_id = Some(d).filter(|d| !d.is_empty());
            }
            if let Some(m) = patch.manager_id {
                if m == user.id {
                    return Err(Error::validation("manager_id", "不能把自己设为上级"));
                }
                user.manager_id = Some(m).filter(|m| !m.is_empty());
                if user.manager_id != before.manager_id {
                    if let Some(old) = before.manager_id.as_deref() {
                        actor.may_name_manager(tx, old, "把此账号从其上级名下调走")?;
                    }
                    if let Some(new) = user.manager_id.as_deref() {
                        actor.may_name_manager(tx, new, "把此人设为上级")?;
                    }
                }
                if let Some(m) = user.manager_id.as_deref()
                    && manager_chain_reaches(tx, m, &user.id)?
                {
                    return Err(Error::validation(
                        "manager_id",
                        "不能形成上下级循环：所选上级直接或间接以此人为上级",
                    ));
                }
            }
            if let Some(s) = patch.status
                && s != before.status
            {
                // Departure is the handover (离职继承): customers go to a successor or a pool.
                // Setting the status alone would leave them with someone who is gone.
                if s == UserStatus::Departed {
                    return Err(Error::validation(
                        "status",
                        "离职请办理离职交接（POST /users/{id}/depart），把客户交给接收人或转入公海",
                    ));
                }
                if before.status == UserStatus::Departed {
                    return Err(Error::Conflict {
                        code: "user_departed",
                        message: "该员工已离职，账号不能再启用或停用；如需返回，请新建账号".into(),
                    });
                }
                user.status = s;
            }
            if let Some(p) = patch.phone.as_deref() {
                self.set_phone(&mut user, Some(p))?;
            }
            if let Some(x) = patch.extension.as_deref() {
                let x = x.trim();
                user.extension = if x.is_empty() {
                    None
                } else {
                    if x.len() > 16 || !x.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(Error::validation("extension", "分机号应为1到16位数字"));
                    }
                    if store::calls::extension_owner(tx, x)?.is_some_and(|owner| owner != user.id) {
                        return Err(Error::validation("extension", "该分机号已被其他用户使用"));
                    }
                    Some(x.to_string())
                };
                store::calls::set_extension(
                    tx,
                    &user.id,
                    before.extension.as_deref(),
                    user.extension.as_deref(),
                )?;
            }
            check_refs(
                tx,
                user.department_id.as_deref(),
                user.manager_id.as_deref(),
            )?;
            // A move: the account must be within the caller's departments, and so must the
            // department it goes to (leaving every department narrows, and is allowed).
            if user.department_id != before.department_id {
                let all = store::org::departments_w(tx)?;
                let reach = actor.account_departments(&all);
                Actor::may_reach_department(
                    reach.as_ref(),
                    &all,
                    before.department_id.as_deref(),
                    "调动此账号的部门",
                )?;
                if let Some(d) = user.department_id.as_deref() {
                    Actor::may_reach_department(reach.as_ref(), &all, Some(d), "把账号调入此部门")?;
                }
            }
            if removes_last_admin(tx, &before, &user)? {
                return Err(Error::Unprocessable {
                    code: "last_admin",
                    message: "这是最后一个在职管理员，不能停用或取消其管理员角色".into(),
                });
            }
            user.updated_at = now;
            users::update(tx, &user)?;
            // Disabled or departed: sessions end and API tokens are revoked for good (enabling the
            // account again does not bring the tokens back).
            let (ended, revoked) = if user.status == UserStatus::Active {
                (0, 0)
            } else {
                (
                    store::sessions::delete_for_user(tx, &user.id)?,
                    store::tokens::revoke_for_user(tx, &user.id, now)?,
                )
            };
            // Every field a patch can change, the phone masked (the log is kept for ever);
            // `changed` names those that did.
            let snapshot = |u: &User| {
                json!({"display_name": u.display_name, "roles": u.roles,
                       "department_id": u.department_id, "manager_id": u.manager_id,
                       "status": u.status, "phone": u.phone_masked, "extension": u.extension})
            };
            let (was, now_is) = (snapshot(&before), snapshot(&user));
            let changed: Vec<&str> = [
                "display_name",
                "roles",
                "department_id",
                "manager_id",
                "status",
                "phone",
                "extension",
            ]
            .into_iter()
            .filter(|f| match *f {
                // A new number with the same mask is still a change: its blind index tells.
                "phone" => before.phone_bidx != user.phone_bidx,
                f => was.get(f) != now_is.get(f),
            })
            .collect();
            let detail = json!({
                "username": user.username, "changed": changed, "before": was, "after": now_is,
                "sessions_ended": ended, "tokens_revoked": revoked,
            });
            let entry = actor.audit("user.updated", source, Some(user.id.clone()), detail);
            audit::record(tx, now, entry)?;
            Ok(user)
        })
    }

    /// Validates, encrypts and indexes a user's mobile (`None` or empty: no phone).
    fn set_phone(&self, user: &mut User, raw: Option<&str>) -> Result<()> {
        let raw = raw.map(str::trim).filter(|p| !p.is_empty());
        let Some(raw) = raw else {
            user.phone_enc = None;
            user.phone_bidx = None;
            user.phone_masked = None;
            return Ok(());
        };
        let mobile = crate::domain::phone::parse(raw)
            .map_err(|e| Error::validation("phone", e.to_string()))?;
        let enc = self
            .fields
            .encrypt(&user.id, "phone", mobile.as_str())
            .map_err(|e| Error::Internal(e.to_string()))?;
        user.phone_enc = Some(enc);
        user.phone_bidx = Some(
            self.fields
                .blind_index(crate::crypto::field::Kind::Phone, mobile.as_str()),
        );
        user.phone_masked = Some(mobile.masked());
        Ok(())
    }

    /// Users with their effective capabilities, for the admin pages.
    pub fn user_views(&self, actor: &Actor) -> Result<Vec<crate::service::access::auth::UserView>> {
        actor.require(Capability::UserManage)?;
        self.store.read(|tx| {
            let roles = store::org::roles(tx)?;
            let list = users::all(tx)?;
            Ok(list
                .iter()
                .map(|u| {
                    let access = crate::domain::roles::combine(
                        roles.iter().filter(|r| u.roles.contains(&r.key)),
                    );
                    crate::service::access::auth::UserView::new(u, &access)
                })
                .collect())
        })
    }

    /// The accounts, each with whether the caller may act on it ([`Actor::may_act_on`]'s
    /// rule), so that the admin page offers only what the server will do.
    pub fn user_rows(&self, actor: &Actor) -> Result<Vec<UserRow>> {
        actor.require(Capability::UserManage)?;
        self.store.read(|tx| {
            let roles = store::org::roles(tx)?;
            let departments = store::org::departments(tx)?;
            let list = users::all(tx)?;
            Ok(list
                .iter()
                .map(|u| {
                    let access = crate::domain::roles::combine(
                        roles.iter().filter(|r| u.roles.contains(&r.key)),
                    );
                    let may_manage = actor.may_reach(&access, "").is_ok()
                        && actor.may_reach_account(&departments, u, "").is_ok();
                    UserRow {
                        view: crate::service::access::auth::UserView::new(u, &access),
                        may_manage,
                    }
                })
                .collect())
        })
    }

    pub fn user_view(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<crate::service::access::auth::UserView> {
        self.user_views(actor)?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or(Error::NotFound)
    }

    /// A user changes their own password: the current one is checked, every session ends.
    pub fn change_own_password(
        &self,
        caller: &Caller,
        current: &str,
        new_password: &str,
        source: &str,
    ) -> Result<()> {
        // Not with an API token: a leaked token must not be able to lock its owner out.
        caller.require_session()?;
        // A stolen session must not become a way to guess the password: same throttle as login.
        let now = self.now();
        if let Err(refused) = self
            .login_throttle
            .begin(&caller.user.username, source, now)
        {
            return Err(Error::Throttled {
                retry_after_secs: refused.retry_after_secs,
            });
        }
        if !password::verify(&caller.user.password_hash, current) {
            return Err(Error::validation("current_password", "当前密码不正确"));
        }
        self.login_throttle
            .success(&caller.user.username, source, now);
        check_password(new_password, &caller.user.username).map_err(|e| match e {
            Error::Validation { reason, .. } => Error::validation("new_password", reason),
            other => other,
        })?;
        let hash = password::hash(new_password)?;
        let now = self.now();
        self.store.write(|tx| {
            let mut user = users::find_by_id_w(tx, &caller.user.id)?.ok_or(Error::NotFound)?;
            user.password_hash = hash;
            user.must_change_password = false;
            user.updated_at = now;
            users::update(tx, &user)?;
            let ended = store::sessions::delete_for_user(tx, &user.id)?;
            // A new password ends what the old one opened: sessions and API tokens alike.
            let revoked = store::tokens::revoke_for_user(tx, &user.id, now)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &user,
                    "user.password_changed",
                    source,
                    Some(user.id.clone()),
                    json!({"sessions_ended": ended, "tokens_revoked": revoked}),
                ),
            )
        })
    }

    /// Sets a new password, ends every session of the user and revokes their API tokens (the
    /// answer to a compromised account must not leave the attacker's token working).
    pub fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        new_password: &str,
        must_change: bool,
        source: &str,
    ) -> Result<PasswordReset> {
        actor.require(Capability::UserManage)?;
        check_password(new_password, username)?;
        let now = self.now();
        let hash = password::hash(new_password)?;
        self.store.write(|tx| {
            let mut user = users::find_by_username_w(tx, username)?.ok_or(Error::NotFound)?;
            actor.may_act_on(tx, &user, "重置此账号的密码")?;
            user.password_hash = hash;
            user.must_change_password = must_change;
            user.updated_at = now;
            users::update(tx, &user)?;
            let ended = store::sessions::delete_for_user(tx, &user.id)?;
            let revoked = store::tokens::revoke_for_user(tx, &user.id, now)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "user.password_reset",
                    source,
                    Some(user.id.clone()),
                    json!({"username": user.username, "sessions_ended": ended,
                           "tokens_revoked": revoked, "must_change_password": must_change}),
                ),
            )?;
            Ok(PasswordReset {
                sessions_ended: ended,
                tokens_revoked: revoked,
            })
        })
    }
}
