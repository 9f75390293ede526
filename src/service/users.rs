//! Staff accounts: create, list, disable, reset a password. Disabling an account or changing
//! its password ends all of its sessions in the same transaction.

use serde_json::json;

use super::auth::Caller;
use super::{App, Error, Result, audit, new_id, password};
use crate::domain::org::{self, User, UserStatus};
use crate::store::{self, audit::NewAudit, users};

/// Who asks: a logged-in user (checked against capabilities) or the operator at the server's
/// shell, who holds the data directory and therefore everything in it.
pub enum Actor<'a> {
    User(&'a Caller),
    Operator,
}

impl Actor<'_> {
    fn require(&self, capability: &str) -> Result<()> {
        match self {
            Actor::User(c) => c.require(capability),
            Actor::Operator => Ok(()),
        }
    }

    fn audit(
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

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub password: String,
}

pub(crate) fn check_password(password_plain: &str, username: &str) -> Result<()> {
    if let Some(reason) = org::password_problem(password_plain)
        .or_else(|| org::weak_password_problem(password_plain, username))
    {
        return Err(Error::validation("password", reason));
    }
    Ok(())
}

impl App {
    pub fn create_user(&self, actor: &Actor, new: NewUser, source: &str) -> Result<User> {
        actor.require("user.manage")?;
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
        if new.roles.is_empty() {
            return Err(Error::validation("roles", "至少需要一个角色"));
        }
        if let Some(bad) = new
            .roles
            .iter()
            .find(|r| !org::BUILTIN_ROLES.iter().any(|(k, _)| k == r))
        {
            return Err(Error::validation(
                "roles",
                format!(
                    "未知角色 {bad}（可选：admin, manager, sales, finance, documents, service）"
                ),
            ));
        }
        check_password(&new.password, &username)?;
        let now = self.now();
        let password_hash = password::hash(&new.password)?;
        let user = User {
            id: new_id(now),
            username,
            display_name,
            password_hash,
            roles: new.roles,
            status: UserStatus::Active,
            department_id: None,
            manager_id: None,
            created_at: now,
            updated_at: now,
        };
        self.store.write(|tx| {
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
                    json!({"username": user.username, "roles": user.roles}),
                ),
            )
        })?;
        Ok(user)
    }

    pub fn list_users(&self, actor: &Actor) -> Result<Vec<User>> {
        actor.require("user.manage")?;
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
        actor.require("user.manage")?;
        let now = self.now();
        self.store.write(|tx| {
            let mut user = users::find_by_username_w(tx, username)?.ok_or(Error::NotFound)?;
            let before = user.status;
            user.status = status;
            user.updated_at = now;
            users::update(tx, &user)?;
            let ended = if status == UserStatus::Active { 0 } else { store::sessions::delete_for_user(tx, &user.id)? };
            audit::record(tx, now, actor.audit("user.status_changed", source, Some(user.id.clone()),
                json!({"username": user.username, "from": before, "to": status, "sessions_ended": ended})))?;
            Ok(user)
        })
    }

    /// Sets a new password and ends every session of the user.
    pub fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        new_password: &str,
        source: &str,
    ) -> Result<()> {
        actor.require("user.manage")?;
        check_password(new_password, username)?;
        let now = self.now();
        let hash = password::hash(new_password)?;
        self.store.write(|tx| {
            let mut user = users::find_by_username_w(tx, username)?.ok_or(Error::NotFound)?;
            user.password_hash = hash;
            user.updated_at = now;
            users::update(tx, &user)?;
            let ended = store::sessions::delete_for_user(tx, &user.id)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "user.password_reset",
                    source,
                    Some(user.id.clone()),
                    json!({"username": user.username, "sessions_ended": ended}),
                ),
            )
        })
    }
}
