//! The audit log for administrators.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::http::{ApiError, ApiQuery, AppState};
use crate::service::access::audit::AuditPage;
use crate::service::access::auth::Caller;

/// Unknown parameters are refused (400 naming them): a filter that does not exist must not
/// answer with the whole log as if it had matched.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this action, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// Only this actor (username).
    pub actor: Option<String>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<usize>,
}

/// Audit entries, newest first (needs `audit.view`).
#[utoipa::path(get, path = "/audit", operation_id = "list_audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 401, description = "Not logged in", body = crate::http::error::ErrorBody),
        (status = 403, description = "Missing audit.view", body = crate::http::error::ErrorBody),
    ))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let page = app
        .blocking(move |app| {
            app.access().audit_list(
                &caller,
                q.action.as_deref(),
                q.actor.as_deref(),
                q.cursor.as_deref(),
                q.limit.unwrap_or(50),
            )
        })
        .await?;
    Ok(Json(page))
}
