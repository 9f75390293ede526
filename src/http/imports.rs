//! Customer imports. A multipart upload starts a background job (202) whose progress is polled;
//! a raw file body (`application/octet-stream`) is imported at once (200, the report). The
//! mapping step (`/imports/preview`), saved mappings (`/import-templates`) and the error report
//! (`/imports/{id}/errors.xlsx`) live here too.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::import::jobs::{ImportJob, JobList};
use crate::service::import::preview::ImportPreview;
use crate::service::import::templates::{ImportTemplate, NewTemplate, TemplateList};
use crate::service::import::{BadOptional, ImportOptions, ImportReport, Mapping, OnDuplicate};
use crate::service::{Error, new_id};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check every row and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// What to do with a row whose phone or ID number exists: `skip` (default), `update`, `flag`.
    #[serde(default)]
    #[param(inline)]
    pub on_duplicate: OnDuplicate,
    /// A row with a bad optional field (ID number, a date, a money cell…): `reject` it
    /// (default) or `keep` it without that field, tagged 待核对 and listed as a warning.
    #[serde(default)]
    #[param(inline)]
    pub bad_optional: BadOptional,
    /// Raw body only: `auto` (or `round_robin`, `weighted`, `least_loaded`, `by_city`) gives
    /// rows without an owner column their owner from the assignment rule, as the form's
    /// `assign` does (needs `customer.assign`).
    pub assign: Option<String>,
    /// Raw body only: the public pool for rows without an owner column; with `assign`, where
    /// the rows nobody can take go (default: my department's pool).
    pub pool_id: Option<String>,
}

/// The multipart form of an import (only `file` is required).
#[allow(dead_code)] // describes the form for OpenAPI; the handler reads the parts itself
#[derive(utoipa::ToSchema)]
pub struct ImportForm {
    /// The CSV (UTF-8, GBK, GB18030) or XLSX file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// JSON object header → field (`null` or `"ignore"` to skip a column).
    mapping: Option<String>,
    template_id: Option<String>,
    /// `skip` (default), `update` or `flag`.
    on_duplicate: Option<String>,
    /// `true` to check and count only.
    dry_run: Option<bool>,
    /// `reject` (default) or `keep`: a row whose optional field is bad is refused, or imported
    /// without that field, tagged 待核对 and listed in `warning_rows`.
    bad_optional: Option<String>,
    /// Username, or user id, who gets rows without an owner column (default: me).
    owner: Option<String>,
    /// Public pool for rows without an owner column (instead of an owner); with `assign`,
    /// where the rows nobody can take go (default: my department's pool).
    pool_id: Option<String>,
    /// `auto` (or `round_robin`, `weighted`, `least_loaded`, `by_city`): rows without an owner
    /// column get their owner from the assignment rule (`assign.pick`), spread row by row.
    /// Needs `customer.assign`; not with `owner`.
    assign: Option<String>,
}

fn bad(field: &str, reason: impl Into<String>) -> ApiError {
    Error::validation(field, reason).into()
}

/// Reads a multipart upload: the `file` part is streamed to the spool file of `id`; the other
/// parts become import options. Returns the file's name.
async fn read_form(
    app: &AppState,
    id: &str,
    mut form: Multipart,
) -> Result<(String, ImportOptions), ApiError> {
    let spool = app.imports().spool_path(id)?;
    let mut opts = ImportOptions::default();
    let mut file_name = None;
    let failed = |e: std::io::Error| ApiError::from(Error::Internal(format!("spooling: {e}")));
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let _ = tokio::fs::remove_file(&spool).await;
                return Err(ApiError::new(e.status(), "bad_upload", e.body_text()));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            file_name = Some(field.file_name().unwrap_or("upload").to_string());
            let mut out = tokio::fs::File::create(&spool).await.map_err(failed)?;
            let mut field = field;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => out.write_all(&chunk).await.map_err(failed)?,
                    Ok(None) => break,
                    Err(e) => {
                        drop(out);
                        let _ = tokio::fs::remove_file(&spool).await;
                        return Err(ApiError::new(e.status(), "bad_upload", e.body_text()));
                    }
                }
            }
            out.flush().await.map_err(failed)?;
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|e| ApiError::new(e.status(), "bad_upload", e.body_text()))?;
        let text = text.trim().to_string();
        let some = |t: String| (!t.is_empty()).then_some(t);
        match name.as_str() {
            "mapping" if !text.is_empty() => {
                let m: Mapping = serde_json::from_str(&text).map_err(|_| {
                    bad("mapping", "列映射格式不正确（应为 JSON 对象：表头 → 字段）")
                })?;
                opts.mapping = Some(m);
            }
            "template_id" => opts.template_id = some(text),
            "owner" => opts.owner = some(text),
            "pool_id" => opts.pool_id = some(text),
            "assign" => opts.assign = some(text),
            "dry_run" => opts.dry_run = matches!(text.as_str(), "true" | "1" | "on"),
            "bad_optional" => {
                opts.bad_optional = match text.as_str() {
                    "" | "reject" => BadOptional::Reject,
                    "keep" => BadOptional::Keep,
                    _ => return Err(bad("bad_optional", "错误字段处理方式应为 reject 或 keep")),
                }
            }
            "on_duplicate" => {
                opts.on_duplicate = match text.as_str() {
                    "" | "skip" => OnDuplicate::Skip,
                    "update" => OnDuplicate::Update,
                    "flag" => OnDuplicate::Flag,
                    _ => return Err(bad("on_duplicate", "重复处理方式应为 skip、update 或 flag")),
                }
            }
            _ => {}
        }
    }
    match file_name {
        Some(n) => Ok((n, opts)),
        None => Err(bad("file", "请选择要导入的文件")),
    }
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Import customers. A multipart form (`file` + options) starts a background job and answers
/// 202 with it: poll `GET /imports/{id}`. A raw CSV or XLSX body is imported at once and
/// answered with the report (rows owned by the caller; query parameters as options).
#[utoipa::path(post, path = "/imports", operation_id = "import_customers", tag = "customers", params(ImportQuery),
    request_body(content(
        (ImportForm = "multipart/form-data"),
        (Vec<u8> = "application/octet-stream")),
        description = "The file, with options as form fields (or as query parameters for a raw body)"),
    responses(
        (status = 202, description = "Job started (multipart)", body = ImportJob),
        (status = 200, description = "Done, or checked for a dry run (raw body)", body = ImportReport),
        (status = 400, description = "Unreadable file, no recognisable header, bad mapping, owner, pool or assignment mode", body = ErrorBody),
        (status = 403, description = "Missing customer.import (or customer.assign for `assign`)", body = ErrorBody),
        (status = 404, description = "Template not found", body = ErrorBody),
        (status = 413, description = "File larger than server.import_limit_bytes", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiQuery(q): ApiQuery<ImportQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    if !is_multipart(&req) {
        let body = Bytes::from_request(req, &app)
            .await
            .map_err(|e| ApiError::new(e.status(), "payload_too_large", e.body_text()))?;
        let some = |t: Option<String>| t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let opts = ImportOptions {
            on_duplicate: q.on_duplicate,
            bad_optional: q.bad_optional,
            dry_run: q.dry_run,
            assign: some(q.assign),
            pool_id: some(q.pool_id),
            ..Default::default()
        };
        let report = app
            .blocking(move |app| {
                app.imports()
                    .import_bytes(&caller, &body, &opts, &source, &mut |_, _| {})
            })
            .await?;
        return Ok(Json(report).into_response());
    }
    caller.require(Capability::CustomerImport)?;
    let form = Multipart::from_request(req, &app)
        .await
        .map_err(|e| ApiError::new(e.status(), "bad_upload", e.body_text()))?;
    let id = new_id(app.now());
    let (file_name, opts) = read_form(&app, &id, form).await?;
    let job = {
        let app2 = app.clone();
        app.blocking(move |_| app2.start_import_job(&caller, &id, &file_name, opts, &source))
            .await?
    };
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// The mapping step: the file's encoding, header, the automatic (or template) mapping and the
/// first rows. Nothing is imported; the upload is not kept.
#[utoipa::path(post, path = "/imports/preview", operation_id = "preview_import", tag = "customers",
    request_body(content = ImportForm, content_type = "multipart/form-data", description = "The file (other fields ignored)"),
    responses(
        (status = 200, description = "What the file looks like and how it would be mapped", body = ImportPreview),
        (status = 400, description = "Unreadable or empty file", body = ErrorBody),
        (status = 403, description = "Missing customer.import", body = ErrorBody),
        (status = 413, description = "File larger than server.import_limit_bytes", body = ErrorBody)))]
pub async fn preview(
    State(app): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<Json<ImportPreview>, ApiError> {
    caller.require(Capability::CustomerImport)?;
    let form = Multipart::from_request(req, &app)
        .await
        .map_err(|e| ApiError::new(e.status(), "bad_upload", e.body_text()))?;
    let id = format!("preview-{}", new_id(app.now()));
    let (_, _) = read_form(&app, &id, form).await?;
    let spool = app.imports().spool_path(&id)?;
    let result = app
        .blocking(move |app| {
            let r = app.imports().preview_import(&caller, &spool);
            let _ = std::fs::remove_file(&spool);
            r
        })
        .await?;
    Ok(Json(result))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// At most this many (default 20, at most 100).
    pub limit: Option<usize>,
}

/// My import jobs, newest first.
#[utoipa::path(get, path = "/imports", operation_id = "list_imports", tag = "customers", params(JobListQuery), responses(
    (status = 200, description = "Jobs", body = JobList),
    (status = 403, description = "Missing customer.import", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<JobListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    Ok(Json(
        app.blocking(move |app| app.imports().list_import_jobs(&caller, limit))
            .await?,
    ))
}

/// One job: status, progress (processed of total), counts and the first rejected rows.
#[utoipa::path(get, path = "/imports/{id}", operation_id = "get_import", tag = "customers", responses(
    (status = 200, description = "The job", body = ImportJob),
    (status = 404, description = "No such job of mine", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.imports().import_job(&caller, &id))
            .await?,
    ))
}

/// Stop a job before its next batch: what was written stays (and is counted); importing the
/// same file again completes it.
#[utoipa::path(post, path = "/imports/{id}/cancel", operation_id = "cancel_import", tag = "customers", responses(
    (status = 200, description = "Cancellation requested (the job stops between batches)", body = ImportJob),
    (status = 404, description = "No such job of mine", body = ErrorBody),
    (status = 422, description = "The job has already finished", body = ErrorBody)))]
pub async fn cancel(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ImportJob>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.imports().cancel_import_job(&caller, &id))
            .await?,
    ))
}

/// The rejected rows of a job as XLSX: original cells plus the field and reason (Chinese).
#[utoipa::path(get, path = "/imports/{id}/errors.xlsx", operation_id = "import_errors_xlsx", tag = "customers", responses(
    (status = 200, description = "The error report (`Content-Disposition: attachment`)"),
    (status = 404, description = "No such job of mine", body = ErrorBody),
    (status = 422, description = "`report_expired`: the rejected rows were removed after `customers.import_rejected_days`", body = ErrorBody)))]
pub async fn errors_xlsx(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (name, bytes) = app
        .blocking(move |app| app.imports().import_job_errors_xlsx(&caller, &id))
        .await?;
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let disposition =
        format!("attachment; filename=\"import-errors.xlsx\"; filename*=UTF-8''{encoded}");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Saved column mappings.
#[utoipa::path(get, path = "/import-templates", operation_id = "list_import_templates", tag = "customers", responses(
    (status = 200, description = "Templates", body = TemplateList),
    (status = 403, description = "Missing customer.import", body = ErrorBody)))]
pub async fn list_templates(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<TemplateList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.imports().list_import_templates(&caller))
            .await?,
    ))
}

/// Save a mapping (from the mapping step) under a name.
#[utoipa::path(post, path = "/import-templates", operation_id = "create_import_template", tag = "customers", request_body = NewTemplate, responses(
    (status = 201, description = "Saved", body = ImportTemplate),
    (status = 400, description = "Empty name or a mapping to an unknown field", body = ErrorBody),
    (status = 409, description = "A template of that name exists", body = ErrorBody)))]
pub async fn create_template(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(new): ApiJson<NewTemplate>,
) -> Result<(StatusCode, Json<ImportTemplate>), ApiError> {
    let t = app
        .blocking(move |app| app.imports().create_import_template(&caller, new, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Delete a template (its author or an administrator).
#[utoipa::path(delete, path = "/import-templates/{id}", operation_id = "delete_import_template", tag = "customers", responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "Not the author and missing settings.manage", body = ErrorBody),
    (status = 404, description = "No such template", body = ErrorBody)))]
pub async fn delete_template(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.imports().delete_import_template(&caller, &id, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
