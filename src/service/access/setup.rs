//! First run: while no active administrator exists, a one-time setup token (30 minutes, single
//! use) lets the operator create the first administrator in the browser.

use chrono::Duration;
use serde::Serialize;

use crate::crypto;
use crate::domain::org::{self, User, UserStatus};
use crate::service::access::auth::{UserView, access_of};
use crate::service::{Error, Result, access::audit, access::password, new_id};
use crate::store::{self, setup::SetupToken, users};

pub const TOKEN_LIFETIME_MINUTES: i64 = 30;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SetupStatus {
    /// True while no administrator exists.
    pub needed: bool,
}

impl crate::service::access::UseCases<'_> {
    /// Issues a fresh setup token when no active administrator exists (replacing any earlier
    /// one) and returns it; `None` when setup is done.
    pub fn prepare_setup(&self) -> Result<Option<String>> {
        let now = self.now();
        let token = crypto::random_token().map_err(|e| Error::Internal(e.to_string()))?;
        self.store.write(|tx| {
            if users::any_active_admin_w(tx)? {
                store::setup::clear(tx)?;
                return Ok(None);
            }
            store::setup::put(
                tx,
                &SetupToken {
                    token_hash: crypto::sha256_hex(token.as_bytes()),
                    expires_at: now + Duration::minutes(TOKEN_LIFETIME_MINUTES),
                },
            )?;
            Ok(Some(token))
        })
    }

    pub fn setup_status(&self) -> Result<SetupStatus> {
        let needed = self
            .store
            .read(|tx| Ok::<_, Error>(store::setup::exists(tx)?))?;
        Ok(SetupStatus { needed })
    }

    /// Creates the first administrator. Consumes the token in the same transaction.
    pub fn complete_setup(
        &self,
        token: &str,
        username: &str,
        display_name: &str,
        password_plain: &str,
        source: &str,
    ) -> Result<UserView> {
        let now = self.now();
        let presented = crypto::sha256_hex(token.as_bytes());
        // Refuse a wrong token before spending 19 MiB and tens of milliseconds on argon2: this
        // endpoint is open to anyone who can reach the server. (Checked again when writing.)
        // "Setup is done" comes first of all: once an administrator exists, nothing sent here
        // is looked at (not even whether the password would pass).
        let (plausible, done) = self.store.read(|tx| {
            let token = store::setup::peek(tx)?;
            let done = token.is_none()
                && users::all(tx)?
                    .iter()
                    .any(|u| u.is_admin() && u.status == UserStatus::Active);
            let plausible = token.is_some_and(|t| {
                crypto::constant_time_eq(t.token_hash.as_bytes(), presented.as_bytes())
                    && t.expires_at > now
            });
            Ok::<_, Error>((plausible, done))
        })?;
        if done {
            return Err(Error::Conflict {
                code: "setup_done",
                message: "管理员已存在，请直接登录".into(),
            });
        }
        let username = username.trim();
        let display_name = display_name.trim();
        if let Some(reason) = org::username_problem(username) {
            return Err(Error::validation("username", reason));
        }
        if display_name.is_empty() || display_name.chars().count() > 64 {
            return Err(Error::validation(
                "display_name",
                "姓名不能为空，最多64个字符",
            ));
        }
        if !crate::domain::text::single_line_ok(display_name) {
            return Err(Error::validation(
                "display_name",
                crate::domain::text::REFUSED,
            ));
        }
        crate::service::org::users::check_password(password_plain, username)?;
        if !plausible {
            return Err(Error::TokenRejected {
                code: "setup_token_invalid",
                message: "初始化链接无效或已过期，请重启服务获取新的链接".into(),
            });
        }
        // Hash outside the write transaction: it takes tens of milliseconds.
        let password_hash = password::hash(password_plain)?;
        self.store
            .write(|tx| {
                if users::any_active_admin_w(tx)? {
                    return Err(Error::Conflict {
                        code: "setup_done",
                        message: "管理员已存在，请直接登录".into(),
                    });
                }
                let valid = match store::setup::get(tx)? {
                    Some(t) => {
                        crypto::constant_time_eq(t.token_hash.as_bytes(), presented.as_bytes())
                            && t.expires_at > now
                    }
                    None => false,
                };
                if !valid {
                    return Err(Error::TokenRejected {
                        code: "setup_token_invalid",
                        message: "初始化链接无效或已过期，请重启服务获取新的链接".into(),
                    });
                }
                let user = User {
                    id: new_id(now),
                    username: username.to_string(),
                    display_name: display_name.to_string(),
                    password_hash,
                    roles: vec!["admin".into()],
                    status: UserStatus::Active,
                    department_id: None,
                    manager_id: None,
                    phone_enc: None,
                    phone_bidx: None,
                    phone_masked: None,
                    extension: None,
                    broker: None,
                    must_change_password: false,
                    created_at: now,
                    updated_at: now,
                };
                users::insert(tx, &user)?;
                store::setup::clear(tx)?;
                audit::record(
                    tx,
                    now,
                    audit::by_user(
                        &user,
                        "setup.completed",
                        source,
                        Some(user.id.clone()),
                        serde_json::json!({"roles": user.roles}),
                    ),
                )?;
                tracing::info!(user = %user.username, "first administrator created");
                Ok(user)
            })
            .and_then(|user| {
                let access = self.store.read(|tx| access_of(tx, &user))?;
                Ok(UserView::new(&user, &access))
            })
    }
}
