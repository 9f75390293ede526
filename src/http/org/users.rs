//! Staff accounts (capability `user.manage`) and the caller's own password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, AppState};
use crate::service::access::auth::{Caller, UserView};
use crate::service::followups::DepartTo;
use crate::service::org::users::{self as accounts, Actor, NewUser, UserPatch};

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    /// Each with `may_manage`: whether the caller may edit it, reset its password, manage its
    /// tokens and depart it.
    pub items: Vec<accounts::UserRow>,
    pub next_cursor: Option<String>,
    pub total: usize,
}

/// All accounts.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "users", responses(
    (status = 200, description = "Accounts", body = UserList),
    (status = 403, description = "Missing user.manage", body = ErrorBody)))]
pub async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<UserList>, ApiError> {
    let items = app
        .blocking(move |app| app.org().user_rows(&Actor::User(&caller)))
        .await?;
    Ok(Json(UserList {
        total: items.len(),
        items,
        next_cursor: None,
    }))
}

/// Create an account.
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "users", request_body = NewUser, responses(
    (status = 201, description = "Created", body = UserView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing user.manage", body = ErrorBody),
    (status = 409, description = "Username taken", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let view = app
        .blocking(move |app| {
            let actor = Actor::User(&caller);
            let user = app.org().create_user(&actor, new, &source)?;
            app.org().user_view(&actor, &user.id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One account.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "users", responses(
    (status = 200, description = "The account", body = UserView),
    (status = 404, description = "No such account", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.org().user_view(&Actor::User(&caller), &id))
            .await?,
    ))
}

/// Change name, roles, department, manager or status (disabling ends the user's sessions).
#[utoipa::path(patch, path = "/users/{id}", operation_id = "update_user", tag = "users", request_body = UserPatch, responses(
    (status = 200, description = "Updated", body = UserView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "No such account", body = ErrorBody),
    (status = 422, description = "Would remove the last administrator", body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let view = app
        .blocking(move |app| {
            let actor = Actor::User(&caller);
            app.org().update_user(&actor, &id, patch, &source)?;
            app.org().user_view(&actor, &id)
        })
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub password: String,
    /// The holder must choose their own at next sign-in (default false over the API; the web
    /// form ticks it).
    #[serde(default)]
    pub must_change_password: bool,
}

/// Set a user's password: ends their sessions and revokes their API tokens (how many: in the
/// answer and the audit entry).
#[utoipa::path(post, path = "/users/{id}/reset-password", operation_id = "reset_user_password", tag = "users", request_body = PasswordReset, responses(
    (status = 200, description = "Changed; sessions ended and tokens revoked", body = accounts::PasswordReset),
    (status = 403, description = "Missing user.manage, or the user holds more than the caller", body = ErrorBody),
    (status = 400, description = "Password refused", body = ErrorBody),
    (status = 404, description = "No such account", body = ErrorBody)))]
pub async fn reset_password(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<Json<accounts::PasswordReset>, ApiError> {
    let done = app
        .blocking(move |app| {
            let actor = Actor::User(&caller);
            let username = app.org().user_view(&actor, &id)?.username;
            app.org().reset_password(
                &actor,
                &username,
                &body.password,
                body.must_change_password,
                &source,
            )
        })
        .await?;
    Ok(Json(done))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change my own password (a signed-in session only, not an API token); every session of mine
/// ends (log in again) and my API tokens are revoked.
#[utoipa::path(post, path = "/me/password", operation_id = "change_own_password", tag = "auth", request_body = PasswordChange, responses(
    (status = 204, description = "Changed; all sessions ended, API tokens revoked"),
    (status = 403, description = "Called with an API token (session_required)", body = ErrorBody),
    (status = 400, description = "Current password wrong or new one refused", body = ErrorBody)))]
pub async fn change_own_password(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| {
        app.org()
            .change_own_password(&caller, &body.current_password, &body.new_password, &source)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartRequest {
    /// The successor who receives every customer of the departing user …
    #[serde(default)]
    pub to_user: Option<String>,
    /// … or the public pool (id) they all go to.
    #[serde(default)]
    pub to_pool: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DepartResult {
    pub customers_moved: u64,
}

/// 离职继承: mark the user departed and move all their customers to a successor, or into a
/// public pool, at once.
#[utoipa::path(post, path = "/users/{id}/depart", operation_id = "depart_user", tag = "users", request_body = DepartRequest, responses(
    (status = 200, description = "Departed; customers moved", body = DepartResult),
    (status = 400, description = "Unknown or inactive successor", body = ErrorBody),
    (status = 404, description = "No such account", body = ErrorBody),
    (status = 422, description = "The last administrator", body = ErrorBody)))]
pub async fn depart(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DepartRequest>,
) -> Result<Json<DepartResult>, ApiError> {
    let to = match (body.to_user, body.to_pool) {
        (Some(u), None) => DepartTo::User(u),
        (None, Some(p)) => DepartTo::Pool(p),
        _ => {
            return Err(ApiError::from(crate::service::Error::validation(
                "to_user",
                "请指定接收人或公海（二选一）",
            )));
        }
    };
    let moved = app
        .blocking(move |app| {
            app.followups()
                .depart_user_to(&Actor::User(&caller), &id, &to, &source)
        })
        .await?;
    Ok(Json(DepartResult {
        customers_moved: moved,
    }))
}
