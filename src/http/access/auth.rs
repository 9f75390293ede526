//! Login, logout and the current user.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::http::extract::{clear_cookie, session_cookie, source_address};
use crate::http::{ApiError, ApiJson, AppState};
use crate::service::access::auth::{Caller, CallerAuth, UserView};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionResponse {
    pub user: UserView,
    /// Send back in `X-CSRF-Token` on every mutating cookie-authenticated request
    /// (absent when authenticated with an API token).
    pub csrf_token: Option<String>,
}

/// The peer address, taken from the request parts.
pub struct Source(pub String);

impl axum::extract::FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Source(source_address(
            parts,
            &app.config.server.trusted_proxies,
        )))
    }
}

/// Logs in with username and password; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = SessionResponse),
        (status = 401, description = "Wrong username or password", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many attempts (Retry-After)", body = crate::http::error::ErrorBody),
    ))]
pub async fn login(
    State(app): State<AppState>,
    Source(source): Source,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let secure = app.config.server.secure_cookie;
    let done = app
        .blocking(move |app| app.access().login(&req.username, &req.password, &source))
        .await?;
    let body = SessionResponse {
        user: UserView::new(&done.user, &done.access),
        csrf_token: Some(done.csrf_token),
    };
    let mut resp = Json(body).into_response();
    let cookie = HeaderValue::from_str(&session_cookie(&done.token, secure))
        .map_err(|e| crate::service::Error::Internal(e.to_string()))?;
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// Ends the current session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = crate::http::error::ErrorBody),
        (status = 403, description = "Missing or wrong X-CSRF-Token", body = crate::http::error::ErrorBody),
    ))]
pub async fn logout(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
) -> Result<Response, ApiError> {
    let secure = app.config.server.secure_cookie;
    app.blocking(move |app| app.access().logout(&caller, &source))
        .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(secure)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// The logged-in user and the session's CSRF token.
#[utoipa::path(get, path = "/me", tag = "auth",
    responses(
        (status = 200, description = "The current user", body = SessionResponse),
        (status = 401, description = "Not logged in", body = crate::http::error::ErrorBody),
    ))]
pub async fn me(caller: Caller) -> Json<SessionResponse> {
    let csrf_token = match &caller.auth {
        CallerAuth::Session { csrf_token, .. } => Some(csrf_token.clone()),
        CallerAuth::Token { .. } | CallerAuth::Shell => None,
    };
    Json(SessionResponse {
        user: UserView::new(&caller.user, &caller.access),
        csrf_token,
    })
}
