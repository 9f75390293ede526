//! Leads from outside: the lead-vendor duplicate check (撞库) and the admin side of the online
//! application forms. The public form itself is `http::apply` (outside `/api`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::leads::check::{CheckRequest, CheckResponse};
use crate::service::leads::forms::{FormInput, FormList, FormView, SubmissionPage};

/// Which of these numbers are already customers (`lead.check`; an API token or a session).
/// Up to 1,000 entries: `phones` as written, or `sha256` of the normalised 11 digits (no +86).
/// Each answer is `{"input", "exists"}` only, or `{"input", "error"}` for an entry that is not a
/// mobile number / a SHA-256. Customers in the recycle bin count; erased ones do not.
#[utoipa::path(post, path = "/leads/check", operation_id = "check_leads", tag = "leads",
    request_body = CheckRequest, responses(
    (status = 200, description = "One answer per entry, in order (phones, then hashes)", body = CheckResponse),
    (status = 400, description = "No entry, or more than 1,000", body = ErrorBody),
    (status = 403, description = "Missing lead.check", body = ErrorBody),
    (status = 429, description = "Requests per minute or numbers per day used up (Retry-After)", body = ErrorBody)))]
pub async fn check(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(req): ApiJson<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.leads().check_leads(&caller, req, &source))
            .await?,
    ))
}

/// The online application forms (`settings.manage`).
#[utoipa::path(get, path = "/application-forms", operation_id = "list_application_forms", tag = "leads", responses(
    (status = 200, description = "Every form with its submission count", body = FormList),
    (status = 403, description = "Missing settings.manage", body = ErrorBody)))]
pub async fn list_forms(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<FormList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.leads().list_forms(&caller))
            .await?,
    ))
}

/// Define a form (`settings.manage`); the consent texts start at version 1.
#[utoipa::path(post, path = "/application-forms", operation_id = "create_application_form", tag = "leads",
    request_body = FormInput, responses(
    (status = 201, description = "Created", body = FormView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing settings.manage", body = ErrorBody),
    (status = 409, description = "The slug is taken (`apply_slug_taken`)", body = ErrorBody)))]
pub async fn create_form(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<FormInput>,
) -> Result<(StatusCode, Json<FormView>), ApiError> {
    let f = app
        .blocking(move |app| app.leads().save_form(&caller, None, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(f)))
}

/// One form.
#[utoipa::path(get, path = "/application-forms/{id}", operation_id = "get_application_form", tag = "leads", responses(
    (status = 200, description = "The form", body = FormView),
    (status = 404, description = "Absent", body = ErrorBody)))]
pub async fn get_form(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FormView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.leads().get_form(&caller, &id))
            .await?,
    ))
}

/// Replace a form (`settings.manage`); an edited consent text gets the next version. Forms are
/// not deleted (their submissions name them): `active: false` takes one offline.
#[utoipa::path(put, path = "/application-forms/{id}", operation_id = "update_application_form", tag = "leads",
    request_body = FormInput, responses(
    (status = 200, description = "The form", body = FormView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "Absent", body = ErrorBody),
    (status = 409, description = "The slug is taken (`apply_slug_taken`)", body = ErrorBody)))]
pub async fn update_form(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<FormInput>,
) -> Result<Json<FormView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.leads().save_form(&caller, Some(&id), input, &source))
            .await?,
    ))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmissionQuery {
    /// The last id of the previous page.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<usize>,
}

/// A form's submissions, newest first (phones masked; consent versions; new or existing lead).
#[utoipa::path(get, path = "/application-forms/{id}/submissions", operation_id = "application_submissions", tag = "leads",
    params(SubmissionQuery), responses(
    (status = 200, description = "A page of submissions", body = SubmissionPage),
    (status = 404, description = "Absent", body = ErrorBody)))]
pub async fn submissions(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SubmissionQuery>,
) -> Result<Json<SubmissionPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.leads()
                .submissions(&caller, &id, q.cursor.as_deref(), q.limit)
        })
        .await?,
    ))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreshRequest {
    /// Mobile numbers or SHA-256 hashes (e.g. the entries a check answered `false` for), at
    /// most 100,000.
    pub entries: Vec<String>,
}

/// The given entries as an XLSX file of text cells (`lead.check`): the 撞库 page's download of
/// the fresh numbers. Each entry must be a mobile number or a SHA-256; nothing is looked up.
#[utoipa::path(post, path = "/leads/fresh.xlsx", operation_id = "fresh_leads_xlsx", tag = "leads",
    request_body = FreshRequest, responses(
    (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 400, description = "An entry is neither a mobile number nor a SHA-256", body = ErrorBody),
    (status = 403, description = "Missing lead.check", body = ErrorBody)))]
pub async fn fresh_xlsx(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<FreshRequest>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let bytes = app
        .blocking(move |app| app.leads().fresh_xlsx(&caller, &req.entries))
        .await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"fresh-leads.xlsx\"",
            ),
        ],
        bytes,
    ))
}

/// Read a vendor's list from a file (`lead.check`): multipart `file`, CSV (UTF-8 or GB18030) or
/// XLSX (first sheet) → the cells that hold a digit, for `POST /leads/check`.
#[utoipa::path(post, path = "/leads/list-file", operation_id = "lead_list_file", tag = "leads",
    request_body(content_type = "multipart/form-data", description = "`file`: CSV or XLSX"),
    responses(
    (status = 200, description = "The entries found", body = crate::service::leads::fresh::EntryList),
    (status = 400, description = "No file, an unreadable one, or more than 100,000 entries", body = ErrorBody),
    (status = 403, description = "Missing lead.check", body = ErrorBody)))]
pub async fn list_file(
    State(app): State<AppState>,
    caller: Caller,
    mut form: axum::extract::Multipart,
) -> Result<Json<crate::service::leads::fresh::EntryList>, ApiError> {
    caller.require(crate::domain::capability::Capability::LeadCheck)?;
    let spool = app
        .imports()
        .spool_path(&format!("leads-{}", crate::service::new_id(app.now())))?;
    let upload = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(e.status(), "bad_upload", e.body_text())
    };
    let mut got_file = false;
    while let Some(field) = form.next_field().await.map_err(upload)? {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(upload)?;
            tokio::fs::write(&spool, &bytes)
                .await
                .map_err(|e| crate::service::Error::Internal(format!("spooling: {e}")))?;
            got_file = true;
        }
    }
    if !got_file {
        return Err(crate::service::Error::validation("file", "请选择文件").into());
    }
    let list = app
        .blocking(move |app| {
            let r = app.leads().list_entries(&caller, &spool);
            if let Err(e) = std::fs::remove_file(&spool) {
                tracing::warn!(path = %spool.display(), "cannot remove a lead list upload: {e}");
            }
            r
        })
        .await?;
    Ok(Json(list))
}
