//! Login, sessions and the authenticated caller.

use chrono::Duration;
use serde::Serialize;
use serde_json::json;

use crate::crypto;
use crate::domain::org::{User, UserStatus};
use crate::domain::roles::{self, Access, Capability, FieldPrivilege};
use crate::service::{Error, Result, access::audit, access::password};
use crate::store::{self, ReadTransaction, sessions::Session, users};

/// Sessions touched less than this long ago are not rewritten on every request.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Who is calling, resolved once per request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// What the user's roles add up to, read at the start of the request.
    pub access: Access,
    pub auth: CallerAuth,
}

#[derive(Debug, Clone)]
pub enum CallerAuth {
    /// Browser session: mutating requests must carry this CSRF token.
    Session {
        token_hash: String,
        csrf_token: String,
    },
    /// API token (integrators): no cookie, so no CSRF token needed.
    Token { id: String },
    /// The operator acting as a user from the server's shell ([`UseCases::caller_for`], e.g.
    /// `zhudai import --owner`, benchmarks): holds the data directory, so it is not a token.
    ///
    /// [`UseCases::caller_for`]: crate::service::access::UseCases::caller_for
    Shell,
}

impl Caller {
    pub fn can(&self, capability: Capability) -> bool {
        self.access.capabilities.contains(&capability)
    }

    pub fn require(&self, capability: Capability) -> Result<()> {
        if self.can(capability) {
            Ok(())
        } else {
            Err(Error::Forbidden(capability.as_str().to_string()))
        }
    }

    /// What only a signed-in person may do (create API tokens, change the password): refused
    /// to an API token, so a leaked token cannot renew itself or lock its owner out.
    pub fn require_session(&self) -> Result<()> {
        match self.auth {
            CallerAuth::Session { .. } | CallerAuth::Shell => Ok(()),
            CallerAuth::Token { .. } => Err(Error::Denied {
                code: "session_required",
                message: "API 令牌不能执行此操作（创建令牌、修改密码），请登录后在浏览器中操作"
                    .into(),
                details: serde_json::json!({}),
            }),
        }
    }

    /// Whether the caller may see `privilege`'s field in full (quota and audit apart).
    pub fn has(&self, privilege: FieldPrivilege) -> bool {
        self.access.field_privileges.contains(&privilege)
    }
}

/// The public view of a user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub capabilities: Vec<Capability>,
    /// `phone.view_full`, `id_number.view_full`: which masked fields the user may reveal.
    pub field_privileges: Vec<FieldPrivilege>,
    /// Whose customers the user sees besides their own (the widest of their roles).
    pub data_scope: crate::domain::roles::DataScope,
    pub status: UserStatus,
    pub department_id: Option<String>,
    pub manager_id: Option<String>,
    /// Masked (`138****5678`).
    pub phone: Option<String>,
    /// PBX extension (分机号), if set.
    pub extension: Option<String>,
    /// A broker's channel and company (role `broker`).
    pub broker: Option<crate::domain::org::BrokerInfo>,
    /// The password was set by someone else: the holder must choose their own before
    /// anything else (`password_change_required`).
    pub must_change_password: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl UserView {
    pub fn new(u: &User, access: &Access) -> UserView {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.clone(),
            capabilities: access.capabilities.iter().copied().collect(),
            field_privileges: access.field_privileges.iter().copied().collect(),
            data_scope: access.scope,
            status: u.status,
            department_id: u.department_id.clone(),
            manager_id: u.manager_id.clone(),
            phone: u.phone_masked.clone(),
            extension: u.extension.clone(),
            broker: u.broker.clone(),
            must_change_password: u.must_change_password,
            created_at: u.created_at,
        }
    }
}

/// The combined access of a user's roles (unknown role keys grant nothing).
pub fn access_of(tx: &ReadTransaction, user: &User) -> store::Result<Access> {
    let all = store::org::roles(tx)?;
    Ok(roles::combine(
        all.iter().filter(|r| user.roles.contains(&r.key)),
    ))
}

pub struct LoggedIn {
    pub user: User,
    pub access: Access,
    /// Goes into the cookie; only its hash is stored.
    pub token: String,
    pub csrf_token: String,
}

impl crate::service::access::UseCases<'_> {
    /// Checks the password (throttled, audited either way) and opens a session.
    pub fn login(&self, username: &str, password_plain: &str, source: &str) -> Result<LoggedIn> {
        let now = self.now();
        let name = audit::clip(username.trim());
        // What the audit log keeps of a refused attempt: the name typed when it could be a
        // username, else a marker (a password typed into the wrong box must not stay forever).
        let logged_name = audit::attempted_username(&name);
        if let Err(refused) = self.login_throttle.begin(&name, source, now) {
            let retry_after_secs = refused.retry_after_secs;
            if refused.log {
                self.store.write(|tx| {
                    audit::record(
                        tx,
                        now,
                        audit::anonymous(
                            logged_name,
                            "auth.login_throttled",
                            source,
                            json!({"retry_after_secs": retry_after_secs}),
                        ),
                    )
                })?;
            }
            return Err(Error::Throttled { retry_after_secs });
        }
        let found = self
            .store
            .read(|tx| Ok::<_, Error>(users::find_by_username(tx, &name)?))?;
        // Every refusal gives the same answer; only the audit log knows why.
        let refusal = match &found {
            Some(u) if !password::verify(&u.password_hash, password_plain) => {
                Some("wrong_password")
            }
            Some(u) if u.status != UserStatus::Active => Some("inactive_account"),
            Some(_) => None,
            None => {
                password::verify_dummy(password_plain);
                Some("unknown_user")
            }
        };
        let user = match (found, refusal) {
            (Some(user), None) => user,
            (found, reason) => {
                let mut entry = audit::anonymous(
                    logged_name,
                    "auth.login_failed",
                    source,
                    json!({"reason": reason.unwrap_or("unknown")}),
                );
                entry.actor_id = found.map(|u| u.id);
                self.store.write(|tx| audit::record(tx, now, entry))?;
                return Err(Error::InvalidCredentials);
            }
        };
        self.login_throttle.success(&name, source, now);
        let token = crypto::random_token().map_err(|e| Error::Internal(e.to_string()))?;
        let csrf_token = crypto::random_token().map_err(|e| Error::Internal(e.to_string()))?;
        let session = Session {
            user_id: user.id.clone(),
            csrf_token: csrf_token.clone(),
            created_at: now,
            last_seen_at: now,
            source: source.to_string(),
        };
        let hash = crypto::sha256_hex(token.as_bytes());
        self.store.write(|tx| {
            store::sessions::put(tx, &hash, &session)?;
            audit::record(
                tx,
                now,
                audit::by_user(&user, "auth.login", source, None, json!({})),
            )
        })?;
        let access = self.store.read(|tx| access_of(tx, &user))?;
        Ok(LoggedIn {
            user,
            access,
            token,
            csrf_token,
        })
    }

    /// Removes sessions past their idle or absolute limit (run at start-up).
    pub fn purge_expired_sessions(&self) -> Result<usize> {
        let now = self.now();
        let idle = Duration::minutes(i64::try_from(self.config.session.idle_minutes).unwrap_or(30));
        let absolute =
            Duration::hours(i64::try_from(self.config.session.absolute_hours).unwrap_or(12));
        Ok(self
            .store
            .write(|tx| store::sessions::purge_expired(tx, now - idle, now - absolute))?)
    }

    /// The caller for a user acting from the server's shell (`zhudai import --owner`).
    pub fn caller_for(&self, username: &str) -> Result<Caller> {
        let found = self.store.read(|tx| {
            let Some(user) = users::find_by_username(tx, username)? else {
                return Ok::<_, Error>(None);
            };
            let access = access_of(tx, &user)?;
            Ok(Some((user, access)))
        })?;
        match found {
            Some((user, access)) if user.status == UserStatus::Active => Ok(Caller {
                user,
                access,
                auth: CallerAuth::Shell,
            }),
            _ => Err(Error::validation("owner", "用户不存在或已停用")),
        }
    }

    /// Resolves a session cookie to the caller; expired or orphaned sessions are removed. The
    /// request counts as activity (it keeps the session from its idle timeout).
    pub fn authenticate_session(&self, token: &str) -> Result<Caller> {
        self.authenticate_session_as(token, true)
    }

    /// [`Self::authenticate_session`] for a page polling in the background (the new-lead
    /// bell): not activity, so an unattended open tab still ends at the idle timeout.
    pub fn authenticate_session_passively(&self, token: &str) -> Result<Caller> {
        self.authenticate_session_as(token, false)
    }

    /// The session's caller from the cache alone, when answering needs neither a store read
    /// nor a write (so the HTTP layer can answer without a blocking thread). `None`: ask
    /// [`Self::authenticate_session`] — not cached, cache stale, expired, disabled, or the
    /// session's last activity is due to be written.
    pub fn cached_session(&self, token: &str, activity: bool) -> Option<Caller> {
        let now = self.now();
        let hash = crypto::sha256_hex(token.as_bytes());
        let idle = Duration::minutes(i64::try_from(self.config.session.idle_minutes).unwrap_or(30));
        let absolute =
            Duration::hours(i64::try_from(self.config.session.absolute_hours).unwrap_or(12));
        // Only what the caller carries is copied out of the cache.
        let found = self.auth_cache.with_session(
            &hash,
            self.store.auth_epoch(),
            |(session, user, access)| {
                let expired =
                    now - session.last_seen_at > idle || now - session.created_at > absolute;
                let touch_due =
                    activity && (now - session.last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECS;
                (user.status == UserStatus::Active && !expired && !touch_due)
                    .then(|| (user.clone(), access.clone(), session.csrf_token.clone()))
            },
        )??;
        let (user, access, csrf_token) = found;
        Some(Caller {
            user,
            access,
            auth: CallerAuth::Session {
                token_hash: hash,
                csrf_token,
            },
        })
    }

    fn authenticate_session_as(&self, token: &str, activity: bool) -> Result<Caller> {
        let now = self.now();
        let hash = crypto::sha256_hex(token.as_bytes());
        // Read before the rows: an entry is used only while no auth table was written since.
        let epoch = self.store.auth_epoch();
        let (session, user, access) = match self.auth_cache.session(&hash, epoch) {
            Some((s, u, a)) => (Some(s), Some(u), Some(a)),
            None => {
                let read = self.store.read(|tx| {
                    let Some(session) = store::sessions::get(tx, &hash)? else {
                        return Ok::<_, Error>((None, None, None));
                    };
                    let user = users::get(tx, &session.user_id)?;
                    let access = match &user {
                        Some(u) => Some(access_of(tx, u)?),
                        None => None,
                    };
                    Ok((Some(session), user, access))
                })?;
                if let (Some(s), Some(u), Some(a)) = &read {
                    self.auth_cache
                        .put_session(&hash, epoch, (s.clone(), u.clone(), a.clone()));
                }
                read
            }
        };
        let Some(mut session) = session else {
            return Err(Error::Unauthenticated);
        };
        let idle = Duration::minutes(i64::try_from(self.config.session.idle_minutes).unwrap_or(30));
        let absolute =
            Duration::hours(i64::try_from(self.config.session.absolute_hours).unwrap_or(12));
        let live_user = user.filter(|u| u.status == UserStatus::Active);
        let expired = now - session.last_seen_at > idle || now - session.created_at > absolute;
        let (Some(user), Some(access)) = (live_user.filter(|_| !expired), access) else {
            self.store
                .write(|tx| Ok::<_, Error>(store::sessions::delete(tx, &hash)?))?;
            return Err(Error::Unauthenticated);
        };
        if activity && (now - session.last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECS {
            // Re-read inside the write: a logout or password reset that committed since our read
            // must not be undone by writing the stale copy back.
            let still = self.store.write(|tx| {
                let Some(mut current) = store::sessions::get_w(tx, &hash)? else {
                    return Ok::<_, Error>(false);
                };
                current.last_seen_at = now;
                store::sessions::put(tx, &hash, &current)?;
                Ok(true)
            })?;
            if !still {
                return Err(Error::Unauthenticated);
            }
            session.last_seen_at = now;
        }
        Ok(Caller {
            user,
            access,
            auth: CallerAuth::Session {
                token_hash: hash,
                csrf_token: session.csrf_token,
            },
        })
    }

    pub fn logout(&self, caller: &Caller, source: &str) -> Result<()> {
        let now = self.now();
        let CallerAuth::Session { token_hash, .. } = &caller.auth else {
            return Err(Error::Unprocessable {
                code: "not_a_session",
                message: "API 令牌无需登出；如需停用请撤销令牌".into(),
            });
        };
        self.store.write(|tx| {
            store::sessions::delete(tx, token_hash)?;
            audit::record(
                tx,
                now,
                audit::by_user(&caller.user, "auth.logout", source, None, json!({})),
            )
        })
    }
}
