//! First-run setup: create the first administrator with the one-time token printed by `serve`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::http::{ApiError, ApiJson, AppState};
use crate::service::access::auth::UserView;
use crate::service::access::setup::SetupStatus;

/// Whether first-run setup is still open.
#[utoipa::path(get, path = "/setup", operation_id = "setup_status", tag = "auth",
    responses((status = 200, description = "Setup state", body = SetupStatus)))]
pub async fn status(State(app): State<AppState>) -> Result<Json<SetupStatus>, ApiError> {
    Ok(Json(app.blocking(|app| app.access().setup_status()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetupRequest {
    /// The token from the setup link printed by `zhudai serve`.
    pub token: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
}

/// The administrator created, logged in as a login would be: the session cookie is set and
/// `csrf_token` goes in `X-CSRF-Token` on mutating requests.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupResponse {
    pub user: UserView,
    pub csrf_token: String,
}

/// Creates the first administrator (single use; the token expires after 30 minutes).
#[utoipa::path(post, path = "/setup", operation_id = "complete_setup", tag = "auth", request_body = SetupRequest,
    responses(
        (status = 201, description = "Administrator created and logged in (session cookie set)", body = SetupResponse),
        (status = 400, description = "Invalid input", body = crate::http::error::ErrorBody),
        (status = 401, description = "Wrong, expired or used token", body = crate::http::error::ErrorBody),
        (status = 409, description = "An administrator already exists", body = crate::http::error::ErrorBody),
    ))]
pub async fn complete(
    State(app): State<AppState>,
    crate::http::auth::Source(source): crate::http::auth::Source,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<Response, ApiError> {
    let secure = app.config.server.secure_cookie;
    let (user, done) = app
        .blocking(move |app| {
            let user = app.access().complete_setup(
                &req.token,
                &req.username,
                &req.display_name,
                &req.password,
                &source,
            )?;
            // The new administrator is logged in, exactly as by the login endpoint.
            let done = app.access().login(&req.username, &req.password, &source)?;
            Ok((user, done))
        })
        .await?;
    let mut resp = (
        StatusCode::CREATED,
        Json(SetupResponse {
            user,
            csrf_token: done.csrf_token,
        }),
    )
        .into_response();
    let cookie = HeaderValue::from_str(&crate::http::extract::session_cookie(&done.token, secure))
        .map_err(|e| crate::service::Error::Internal(e.to_string()))?;
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}
