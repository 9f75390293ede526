//! Customer imports: the file is the request body (CSV or XLSX, as exported by Excel/WPS).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::service::auth::Caller;
use crate::service::import::{ImportReport, OnDuplicate};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Check every row and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// What to do with a row whose phone or ID number exists: `skip` (default), `update`, `flag`.
    #[serde(default)]
    #[param(inline)]
    pub on_duplicate: OnDuplicate,
}

/// Import customers from a CSV (UTF-8, GBK or GB18030) or XLSX file sent as the body; rows
/// become the caller's customers. Answers with counts and the rejected rows and why.
#[utoipa::path(post, path = "/imports", operation_id = "import_customers", tag = "customers", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or XLSX file"),
    responses(
        (status = 200, description = "Done (or checked, for a dry run)", body = ImportReport),
        (status = 400, description = "Unreadable file or no recognisable header", body = ErrorBody),
        (status = 403, description = "Missing customer.import", body = ErrorBody),
        (status = 413, description = "File larger than server.import_limit_bytes", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let report = app
        .blocking(move |app| {
            app.import_customers(
                &caller,
                &body,
                q.on_duplicate,
                q.dry_run,
                &source,
                &mut |_, _| {},
            )
        })
        .await?;
    Ok(Json(report))
}
