//! Customers: list, create, read, edit, recycle, duplicate check, reveal.

pub(super) mod exports;
pub(super) mod settings;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::domain::customer::{CustomerInput, CustomerPatch};
use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::customers::bulk::{BulkRequest, BulkResult};
use crate::service::customers::list::merge_repeated_tags;
use crate::service::customers::recycle::{
    EraseRequest, EraseResult, RecycleBinPage, RecycleBinQuery,
};
use crate::service::customers::{
    CustomerFilter, CustomerPage, CustomerView, DuplicateAnswer, DuplicateQuery, RevealField,
    Revealed, StageCounts,
};

/// Customers in my scope, newest first unless `sort` says otherwise; filters combine.
#[utoipa::path(get, path = "/customers", operation_id = "list_customers", tag = "customers", params(CustomerFilter), responses(
    (status = 200, description = "A page of customers (sensitive fields masked)", body = CustomerPage),
    (status = 403, description = "Missing customer.read", body = ErrorBody),
    (status = 503, description = "Cut off by `server.request_timeout_secs` while waiting for its turn (`server.search_concurrency`) or running (no body)")))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<CustomerPage>, ApiError> {
    let f = list_filter(raw.as_deref())?;
    Ok(Json(
        app.searching(move |app| app.customers().list_customers(&caller, &f))
            .await?,
    ))
}

/// How many customers of the list the same parameters describe are in each stage, the `stage`
/// parameter itself left out: the stage chips above the customer list. They add up to the
/// list's `total` (without `stage`).
#[utoipa::path(get, path = "/customers/stage-counts", operation_id = "customer_stage_counts", tag = "customers", params(CustomerFilter), responses(
    (status = 200, description = "Customers per stage key; a stage nobody is in is absent", body = StageCounts),
    (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
    (status = 403, description = "Missing customer.read", body = ErrorBody),
    (status = 503, description = "Cut off by `server.request_timeout_secs` while waiting for its turn (`server.search_concurrency`) or running (no body)")))]
pub async fn stage_counts(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<StageCounts>, ApiError> {
    let f = list_filter(raw.as_deref())?;
    Ok(Json(
        app.searching(move |app| app.customers().customer_stage_counts(&caller, &f))
            .await?,
    ))
}

/// The customer list's parameters; `tag` may repeat (`tag=a&tag=b`), which the plain query
/// extractor reads as one comma list.
fn list_filter(raw: Option<&str>) -> crate::service::Result<CustomerFilter> {
    let merged = merge_repeated_tags(raw.unwrap_or(""));
    let uri: axum::http::Uri = format!("/?{merged}")
        .parse()
        .map_err(|_| crate::service::Error::validation("query", "查询参数格式不正确"))?;
    let Query(f) = Query::<CustomerFilter>::try_from_uri(&uri)
        .map_err(|e| crate::service::Error::validation("query", format!("查询参数不正确：{e}")))?;
    Ok(f)
}

/// Create a customer; an existing phone or ID number is refused (or flagged, per settings).
/// With `"assign": "auto"` (or a mode) the assignment rule (`assign.pick`) picks the owner among
/// my team in the same transaction; when nobody can take it, it waits in my department's pool
/// (`pool_id` set). Timeline `assigned` / `assign_to_pool` with the reason; audited.
#[utoipa::path(post, path = "/customers", operation_id = "create_customer", tag = "customers", request_body = CustomerInput, responses(
    (status = 201, description = "Created", body = CustomerView),
    (status = 400, description = "Invalid field (named in `field`; `assign` for an unknown mode or with `owner_id`)", body = ErrorBody),
    (status = 403, description = "Missing customer.create, customer.transfer for another owner, or customer.assign for `assign`", body = ErrorBody),
    (status = 409, description = "Duplicate (撞单): the message names the masked owner", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    let c = app
        .blocking(move |app| app.customers().create_customer(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// One customer (404 when absent or outside my scope).
#[utoipa::path(get, path = "/customers/{id}", operation_id = "get_customer", tag = "customers", responses(
    (status = 200, description = "The customer", body = CustomerView),
    (status = 404, description = "Absent or out of scope", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    // One record and the few pools: read on the async thread (a blocking-thread hop costs
    // more than the read) unless the scope needs whole tables read first.
    let view = if app.scope_is_warm(&caller) {
        app.customers().get_customer(&caller, &id)?
    } else {
        app.blocking(move |app| app.customers().get_customer(&caller, &id))
            .await?
    };
    Ok(json_sized(&view, DETAIL_JSON_CAPACITY))
}

/// What a customer's detail answer usually fits in (a fully filled record is 1.5–2 KB):
/// serialised into one buffer of this size instead of axum's `Json`, which starts at 128
/// bytes and grows (and copies) four or five times.
const DETAIL_JSON_CAPACITY: usize = 4096;

/// `Json(value)` answered from a buffer of `capacity` bytes: the same bytes and content type.
fn json_sized<T: serde::Serialize>(value: &T, capacity: usize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut body = Vec::with_capacity(capacity);
    if let Err(e) = serde_json::to_writer(&mut body, value) {
        return ApiError::from(crate::service::Error::Internal(format!(
            "serialising the answer: {e}"
        )))
        .into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Edit fields: absent fields stay as they are; `null` clears an optional field (city,
/// company, address, channel, grade, intent, id_number, consent, next_followup_at).
#[utoipa::path(patch, path = "/customers/{id}", operation_id = "update_customer", tag = "customers", request_body = CustomerPatch, responses(
    (status = 200, description = "Updated", body = CustomerView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 409, description = "`duplicate`: the new number belongs to another customer; `edit_conflict`: the record changed since `expected_updated_at` (details: fields, updated_at, updated_by, current)", body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CustomerPatch>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.customers()
                .update_customer(&caller, &id, input, &source)
        })
        .await?,
    ))
}

/// Move to the recycle bin.
#[utoipa::path(delete, path = "/customers/{id}", operation_id = "delete_customer", tag = "customers", responses(
    (status = 204, description = "In the recycle bin"),
    (status = 403, description = "Missing customer.delete", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.customers().delete_customer(&caller, &id, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Is this person already a customer? Answers who owns them, masked when out of scope.
#[utoipa::path(post, path = "/customers/check-duplicate", operation_id = "check_duplicate", tag = "customers", request_body = DuplicateQuery, responses(
    (status = 200, description = "Matches", body = DuplicateAnswer),
    (status = 400, description = "Invalid phone or ID number", body = ErrorBody)))]
pub async fn check_duplicate(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(q): ApiJson<DuplicateQuery>,
) -> Result<Json<DuplicateAnswer>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().check_duplicate(&caller, &q))
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnmaskRequest {
    pub field: RevealField,
}

/// Reveal a masked field (privilege and daily quota apply; audited).
#[utoipa::path(post, path = "/customers/{id}/unmask", operation_id = "unmask_customer_field", tag = "customers", request_body = UnmaskRequest, responses(
    (status = 200, description = "The full value", body = Revealed),
    (status = 403, description = "No privilege for this field", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 422, description = "Daily quota used up", body = ErrorBody)))]
pub async fn unmask(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UnmaskRequest>,
) -> Result<Json<Revealed>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().unmask(&caller, &id, body.field, &source))
            .await?,
    ))
}

/// One action on many customers, all or nothing: any id outside my scope makes the whole
/// request 404 and nothing changes. Audited once with the count.
#[utoipa::path(post, path = "/customers/bulk", operation_id = "bulk_customers", tag = "customers", request_body = BulkRequest, responses(
    (status = 200, description = "Applied", body = BulkResult),
    (status = 400, description = "Invalid request (named in `field`)", body = ErrorBody),
    (status = 403, description = "Missing the action's capability", body = ErrorBody),
    (status = 404, description = "An id is absent or out of scope; nothing changed", body = ErrorBody)))]
pub async fn bulk(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(req): ApiJson<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().bulk_customers(&caller, req, &source))
            .await?,
    ))
}

/// The recycle bin (admin): deleted customers still restorable, one page, most recently
/// deleted first; `total` counts the whole bin (in my data scope). Listing also purges those
/// past `customers.recycle_days`.
#[utoipa::path(get, path = "/customers/recycle-bin", operation_id = "customer_recycle_bin", tag = "customers", params(RecycleBinQuery), responses(
    (status = 200, description = "A page of deleted customers, most recent first", body = RecycleBinPage),
    (status = 400, description = "Bad `limit` (1–200) or `cursor` (named in `field`)", body = ErrorBody),
    (status = 403, description = "Not an administrator", body = ErrorBody)))]
pub async fn recycle_bin(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RecycleBinQuery>,
) -> Result<Json<RecycleBinPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().recycle_bin(&caller, &q))
            .await?,
    ))
}

/// Restore a customer from the recycle bin (admin; within `customers.recycle_days`).
#[utoipa::path(post, path = "/customers/{id}/restore", operation_id = "restore_customer", tag = "customers", responses(
    (status = 200, description = "Restored", body = CustomerView),
    (status = 403, description = "Not an administrator", body = ErrorBody),
    (status = 404, description = "Not in the recycle bin (or purged)", body = ErrorBody)))]
pub async fn restore(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().restore_customer(&caller, &id, &source))
            .await?,
    ))
}

/// Erase a customer's personal information for a deletion request (admin): anonymised in
/// place, follow-up text replaced, phone and ID number free again; audited with the reference.
#[utoipa::path(post, path = "/customers/{id}/erase", operation_id = "erase_customer", tag = "customers", request_body = EraseRequest, responses(
    (status = 200, description = "Erased; how many of the customer's contracts were deleted and how many signed ones were kept (and why)", body = EraseResult),
    (status = 400, description = "Missing request reference", body = ErrorBody),
    (status = 403, description = "Not an administrator", body = ErrorBody),
    (status = 404, description = "Absent or already erased", body = ErrorBody)))]
pub async fn erase(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EraseRequest>,
) -> Result<Json<EraseResult>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().erase_customer(&caller, &id, req, &source))
            .await?,
    ))
}
