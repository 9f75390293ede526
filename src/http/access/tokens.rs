//! API tokens for integrators.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::access::tokens::{CreatedToken, TokenView};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    /// 1–3650 days; absent = `session.token_default_days` (90 unless configured).
    pub expires_in_days: Option<u32>,
    /// Create for another user (needs `user.manage`), e.g. a PBX service account.
    pub user_id: Option<String>,
}

/// Create a token; the secret is in this response only.
#[utoipa::path(post, path = "/tokens", operation_id = "create_token", tag = "auth", request_body = NewToken, responses(
    (status = 201, description = "Created; `token` is shown once", body = CreatedToken),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Creating for another user needs user.manage and that the user holds nothing beyond the caller; a token cannot create tokens (session_required)", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let t = app
        .blocking(move |app| {
            app.access().create_token(
                &caller,
                &body.name,
                body.expires_in_days,
                body.user_id.as_deref(),
                &source,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Every user's tokens (needs `user.manage`).
    #[serde(default)]
    pub all: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
    pub next_cursor: Option<String>,
    pub total: usize,
}

/// My tokens (never the secrets).
#[utoipa::path(get, path = "/tokens", operation_id = "list_tokens", tag = "auth", params(TokenQuery), responses(
    (status = 200, description = "Tokens", body = TokenList),
    (status = 403, description = "all=true needs user.manage", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Result<Json<TokenList>, ApiError> {
    let items = app
        .blocking(move |app| app.access().list_tokens(&caller, q.all))
        .await?;
    Ok(Json(TokenList {
        total: items.len(),
        items,
        next_cursor: None,
    }))
}

/// Revoke a token at once.
#[utoipa::path(delete, path = "/tokens/{id}", operation_id = "revoke_token", tag = "auth", responses(
    (status = 200, description = "Revoked", body = TokenView),
    (status = 403, description = "Another's token, whose user holds more than the caller (beyond_own_access)", body = ErrorBody),
    (status = 404, description = "No such token of yours", body = ErrorBody)))]
pub async fn revoke(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.access().revoke_token(&caller, &id, &source))
            .await?,
    ))
}
