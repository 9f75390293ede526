//! First-run setup: create the first administrator with the one-time token printed by `serve`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState};
use crate::service::auth::UserView;
use crate::service::setup::SetupStatus;

/// Whether first-run setup is still open.
#[utoipa::path(get, path = "/setup", operation_id = "setup_status", tag = "auth",
    responses((status = 200, description = "Setup state", body = SetupStatus)))]
pub async fn status(State(app): State<AppState>) -> Result<Json<SetupStatus>, ApiError> {
    Ok(Json(app.blocking(|app| app.setup_status()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetupRequest {
    /// The token from the setup link printed by `zhudai serve`.
    pub token: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupResponse {
    pub user: UserView,
}

/// Creates the first administrator (single use; the token expires after 30 minutes).
#[utoipa::path(post, path = "/setup", operation_id = "complete_setup", tag = "auth", request_body = SetupRequest,
    responses(
        (status = 201, description = "Administrator created", body = SetupResponse),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 401, description = "Wrong, expired or used token", body = super::error::ErrorBody),
        (status = 409, description = "An administrator already exists", body = super::error::ErrorBody),
    ))]
pub async fn complete(
    State(app): State<AppState>,
    super::auth::Source(source): super::auth::Source,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<(StatusCode, Json<SetupResponse>), ApiError> {
    let user = app
        .blocking(move |app| {
            app.complete_setup(
                &req.token,
                &req.username,
                &req.display_name,
                &req.password,
                &source,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(SetupResponse { user })))
}
