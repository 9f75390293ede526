//! The audit log for administrators.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::http::{ApiError, ApiQuery, AppState};
use crate::service::access::audit::{AuditFilter, AuditPage};
use crate::service::access::auth::Caller;

/// Unknown parameters are refused (400 naming them): a filter that does not exist must not
/// answer with the whole log as if it had matched.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this action, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// Only this actor, by the name the entry recorded (a username, `system`, `operator`).
    pub actor: Option<String>,
    /// Only entries of this account, by id (the page's operator picker sends it).
    pub actor_id: Option<String>,
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
            let filter = AuditFilter {
                action: q.action.as_deref(),
                actor: q.actor.as_deref(),
                actor_id: q.actor_id.as_deref(),
            };
            app.access()
                .audit_list(&caller, filter, q.cursor.as_deref(), q.limit.unwrap_or(50))
        })
        .await?;
    Ok(Json(page))
}
