//! API tokens: created by a user for itself (or by an account manager for another user, e.g. a
//! PBX service account), shown once, stored hashed, expiring (`session.token_default_days`,
//! 90 by default, unless asked otherwise), revocable, and revoked when its user is disabled or
//! departs. A token acts as its user: same capabilities, same data scope.

use chrono::Duration;
use serde::Serialize;
use serde_json::json;

use crate::crypto;
use crate::domain::capability::Capability;
use crate::domain::org::UserStatus;
use crate::service::access::auth::{Caller, CallerAuth, access_of};
use crate::service::org::users::Actor;
use crate::service::{Error, Result, access::audit, new_id};
use crate::store::{self, tokens::ApiToken, users};

/// Prefix that makes a zhudai token recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "zd_";
const TOUCH_INTERVAL_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        TokenView {
            id: t.id.clone(),
            user_id: t.user_id.clone(),
            name: t.name.clone(),
            created_at: t.created_at,
            created_by: t.created_by.clone(),
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenView,
    /// The secret: shown this once, never again.
    pub token: String,
}

impl crate::service::access::UseCases<'_> {
    pub fn create_token(
        &self,
        caller: &Caller,
        name: &str,
        expires_in_days: Option<u32>,
        for_user_id: Option<&str>,
        source: &str,
    ) -> Result<CreatedToken> {
        // A token cannot make tokens: a leaked one would renew itself past its own expiry and
        // revocation.
        caller.require_session()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Error::validation("name", "令牌名称不能为空，最多64个字符"));
        }
        if !crate::domain::text::single_line_ok(name) {
            return Err(Error::validation("name", crate::domain::text::REFUSED));
        }
        if expires_in_days == Some(0) || expires_in_days.is_some_and(|d| d > 3650) {
            return Err(Error::validation(
                "expires_in_days",
                "有效天数应在1到3650之间",
            ));
        }
        let user_id = match for_user_id {
            Some(id) if id != caller.user.id => {
                caller.require(Capability::UserManage)?;
                id.to_string()
            }
            _ => caller.user.id.clone(),
        };
        let now = self.now();
        let secret = format!(
            "{TOKEN_PREFIX}{}",
            crypto::random_token().map_err(|e| Error::Internal(e.to_string()))?
        );
        let token = ApiToken {
            id: new_id(now),
            user_id: user_id.clone(),
            name: name.to_string(),
            token_hash: crypto::sha256_hex(secret.as_bytes()),
            created_at: now,
            created_by: caller.user.id.clone(),
            // Every token expires: without a lifetime asked for, after the configured default.
            expires_at: Some(
                now + Duration::days(i64::from(
                    expires_in_days.unwrap_or(self.config.session.token_default_days),
                )),
            ),
            revoked_at: None,
            last_used_at: None,
        };
        self.store.write(|tx| {
            let owner = users::find_by_id_w(tx, &user_id)?
                .ok_or_else(|| Error::validation("user_id", "用户不存在"))?;
            if owner.status != UserStatus::Active {
                return Err(Error::validation("user_id", "该用户已停用"));
            }
            // A token acts as its user: made for someone else only when that user holds
            // nothing beyond the caller (else `user.manage` would mint an administrator's) and
            // is in a department the caller's scope covers.
            if owner.id != caller.user.id {
                Actor::User(caller).may_act_on(tx, &owner, "为此用户创建令牌")?;
            }
            store::tokens::put(tx, &token)?;
            let detail = json!({"for_user": owner.username, "name": token.name,
                                "expires_at": token.expires_at});
            let target = Some(token.id.clone());
            let entry = audit::by_user(&caller.user, "token.created", source, target, detail);
            audit::record(tx, now, entry)
        })?;
        Ok(CreatedToken {
            info: TokenView::from(&token),
            token: secret,
        })
    }

    /// The caller's own tokens; with `all`, every token (needs `user.manage`).
    pub fn list_tokens(&self, caller: &Caller, all: bool) -> Result<Vec<TokenView>> {
        if all {
            caller.require(Capability::UserManage)?;
        }
        let tokens = self.store.read(store::tokens::all)?;
        Ok(tokens
            .iter()
            .filter(|t| all || t.user_id == caller.user.id)
            .map(TokenView::from)
            .collect())
    }

    /// Revokes a token of the caller's (or, with `user.manage`, of an account holding nothing
    /// beyond the caller, in its departments: 403 `beyond_own_access` otherwise); others' are
    /// "not found".
    pub fn revoke_token(&self, caller: &Caller, id: &str, source: &str) -> Result<TokenView> {
        let now = self.now();
        self.store.write(|tx| {
            let mut token = store::tokens::get_w(tx, id)?.ok_or(Error::NotFound)?;
            if token.user_id != caller.user.id {
                if !caller.can(Capability::UserManage) {
                    return Err(Error::NotFound);
                }
                // Another's token only when its user holds nothing beyond the caller (as for
                // creating one): else `user.manage` cut off an administrator's integrations.
                // A token whose user is gone is anyone's with `user.manage` to revoke.
                if let Some(owner) = users::find_by_id_w(tx, &token.user_id)? {
                    Actor::User(caller).may_act_on(tx, &owner, "撤销此用户的令牌")?;
                }
            }
            if token.revoked_at.is_none() {
                token.revoked_at = Some(now);
                store::tokens::put(tx, &token)?;
                audit::record(
                    tx,
                    now,
                    audit::by_user(
                        &caller.user,
                        "token.revoked",
                        source,
                        Some(token.id.clone()),
                        json!({"name": token.name}),
                    ),
                )?;
            }
            Ok(TokenView::from(&token))
        })
    }

    /// Resolves `Authorization: Bearer …` to the caller.
    /// The token's caller from the cache alone, when answering needs neither a store read
    /// nor a write. `None`: ask [`Self::authenticate_token`] (not cached, cache stale, revoked,
    /// expired, user not active, or the last use is due to be written).
    pub fn cached_token(&self, secret: &str) -> Option<Caller> {
        let now = self.now();
        let hash = crypto::sha256_hex(secret.as_bytes());
        // Only what the caller carries is copied out of the cache.
        self.auth_cache
            .with_token(&hash, self.store.auth_epoch(), |(token, user, access)| {
                let live = token.revoked_at.is_none()
                    && token.expires_at.is_none_or(|e| e > now)
                    && user.status == UserStatus::Active;
                let touch_due = token
                    .last_used_at
                    .is_none_or(|t| (now - t).num_seconds() >= TOUCH_INTERVAL_SECS);
                (live && !touch_due).then(|| Caller {
                    user: user.clone(),
                    access: access.clone(),
                    auth: CallerAuth::Token {
                        id: token.id.clone(),
                    },
                })
            })
            .flatten()
    }

    pub fn authenticate_token(&self, secret: &str) -> Result<Caller> {
        let now = self.now();
        let hash = crypto::sha256_hex(secret.as_bytes());
        // Read before the rows: an entry is used only while no auth table was written since.
        let epoch = self.store.auth_epoch();
        let found = match self.auth_cache.token(&hash, epoch) {
            Some(rows) => Some(rows),
            None => {
                let found = self.store.read(|tx| {
                    let Some(token) = store::tokens::by_hash(tx, &hash)? else {
                        return Ok::<_, Error>(None);
                    };
                    let Some(user) = users::get(tx, &token.user_id)? else {
                        return Ok(None);
                    };
                    let access = access_of(tx, &user)?;
                    Ok(Some((token, user, access)))
                })?;
                if let Some(rows) = &found {
                    self.auth_cache.put_token(&hash, epoch, rows.clone());
                }
                found
            }
        };
        let Some((mut token, user, access)) = found else {
            return Err(Error::Unauthenticated);
        };
        let live = token.revoked_at.is_none()
            && token.expires_at.is_none_or(|e| e > now)
            && user.status == UserStatus::Active;
        if !live {
            return Err(Error::Unauthenticated);
        }
        if token
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOUCH_INTERVAL_SECS)
        {
            // Re-read inside the write so that a revocation committed meanwhile stands.
            let id = token.id.clone();
            let live = self.store.write(|tx| {
                let Some(mut current) = store::tokens::get_w(tx, &id)? else {
                    return Ok::<_, Error>(false);
                };
                if current.revoked_at.is_some() {
                    return Ok(false);
                }
                current.last_used_at = Some(now);
                store::tokens::put(tx, &current)?;
                Ok(true)
            })?;
            if !live {
                return Err(Error::Unauthenticated);
            }
            token.last_used_at = Some(now);
        }
        Ok(Caller {
            user,
            access,
            auth: CallerAuth::Token { id: token.id },
        })
    }
}
