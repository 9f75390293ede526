//! Calls from the PBX: ingestion (a token with `call.ingest`), recordings (the raw body
//! streamed into the encrypted blob store; ranged playback through the customer's scope),
//! the unmatched list and attaching, a customer's calls, the call statistics.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::auth::Source;
use super::documents::{receive, send};
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::call::CallInput;
use crate::service::access::auth::Caller;
use crate::service::calls::{
    AttachBody, CallList, CallStatsQuery, CallStatsReport, CallView, CallsConfigView, Dialed,
    FetchBody, IngestedCall, recording_error,
};

/// Record a call from the PBX (`call.ingest`, usually an API token). The same `external_id`
/// again answers 200 with the call recorded the first time.
#[utoipa::path(post, path = "/calls", operation_id = "ingest_call", tag = "calls",
    request_body = CallInput, responses(
    (status = 201, description = "Recorded (matched to a customer or waiting in the unmatched list; which one is not said)", body = IngestedCall),
    (status = 200, description = "Already recorded under this external id", body = IngestedCall),
    (status = 400, description = "A field is invalid", body = ErrorBody),
    (status = 403, description = "`call.ingest` missing", body = ErrorBody)))]
pub async fn ingest(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<CallInput>,
) -> Result<(StatusCode, Json<IngestedCall>), ApiError> {
    let (call, created) = app
        .blocking(move |app| app.calls().ingest(&caller, input, &source))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(call)))
}

/// Upload a call's recording (`call.ingest`; the raw body: MP3, WAV, Ogg or M4A, recognised
/// from the bytes; at most `calls.recording_limit_bytes`). Stored encrypted; a second upload
/// replaces the first.
#[utoipa::path(post, path = "/calls/{id}/recording", operation_id = "upload_call_recording", tag = "calls",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
    (status = 201, description = "Stored", body = IngestedCall),
    (status = 400, description = "Empty file", body = ErrorBody),
    (status = 404, description = "No such call", body = ErrorBody),
    (status = 413, description = "Larger than the limit", body = ErrorBody),
    (status = 422, description = "`recording_type_refused` or `file_too_large`", body = ErrorBody)))]
pub async fn upload_recording(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<IngestedCall>), ApiError> {
    let check = (caller.clone(), id.clone());
    app.blocking(move |app| app.calls().check_recording(&check.0, &check.1))
        .await?;
    let writer = app
        .blobs
        .writer_for(
            crate::blobs::sniff::Accept::Audio,
            app.config.calls.recording_limit_bytes,
        )
        .map_err(recording_error)?;
    let staged = receive(writer, body).await?.map_err(recording_error)?;
    let call = app
        .blocking(move |app| app.calls().add_recording(&caller, &id, staged, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(call)))
}

/// Play a call's recording: only when my scope covers the call's customer (otherwise 404);
/// `Range` answers 206 (seeking), an unsatisfiable range 416. Every request is audited
/// (`call.recording_played`).
#[utoipa::path(get, path = "/calls/{id}/recording", operation_id = "play_call_recording", tag = "calls",
    responses(
    (status = 200, description = "The whole recording"),
    (status = 206, description = "The range asked for (`Content-Range`)"),
    (status = 404, description = "Absent, no recording, or outside my scope", body = ErrorBody),
    (status = 416, description = "Range not satisfiable")))]
pub async fn play_recording(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| r.chars().take(64).collect::<String>());
    let f = app
        .blocking(move |app| {
            app.calls()
                .recording(&caller, &id, range.as_deref(), &source)
        })
        .await?;
    send(f, &headers, "inline").await
}

/// Calls waiting to be attached to a customer (`customer.assign`: managers, admins).
#[utoipa::path(get, path = "/calls/unmatched", operation_id = "unmatched_calls", tag = "calls",
    responses(
    (status = 200, description = "Oldest first (at most 100) and how many wait", body = CallList),
    (status = 403, description = "`customer.assign` missing", body = ErrorBody)))]
pub async fn unmatched(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<CallList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.calls().unmatched(&caller))
            .await?,
    ))
}

/// Attach a waiting call to a customer in my scope (`customer.assign`); 409
/// `call_already_attached` for a call that has one.
#[utoipa::path(post, path = "/calls/{id}/attach", operation_id = "attach_call", tag = "calls",
    request_body = AttachBody, responses(
    (status = 200, description = "Attached", body = CallView),
    (status = 404, description = "No such call, or the customer absent or outside my scope", body = ErrorBody),
    (status = 409, description = "Already attached", body = ErrorBody)))]
pub async fn attach(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttachBody>,
) -> Result<Json<CallView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.calls().attach(&caller, &id, body, &source))
            .await?,
    ))
}

/// A customer's calls, newest first (numbers masked).
#[utoipa::path(get, path = "/customers/{id}/calls", operation_id = "customer_calls", tag = "calls",
    responses(
    (status = 200, description = "At most 100, newest first", body = CallList),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn of_customer(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CallList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.calls().of_customer(&caller, &id))
            .await?,
    ))
}

/// Whether click-to-call is configured (the button is disabled otherwise).
#[utoipa::path(get, path = "/calls/config", operation_id = "calls_config", tag = "calls",
    responses((status = 200, description = "The calls settings the UI needs", body = CallsConfigView)))]
pub async fn config(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<CallsConfigView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.calls().config_view(&caller))
            .await?,
    ))
}

/// Calls per user and day over my scope: calls, answered, answered rate, talk time, average
/// talk time, customers reached (from counters kept with each call).
#[utoipa::path(get, path = "/reports/calls", operation_id = "report_calls", tag = "reports",
    params(CallStatsQuery), responses(
    (status = 200, description = "Per user over the period and per user and day", body = CallStatsReport),
    (status = 400, description = "Invalid period", body = ErrorBody)))]
pub async fn stats(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CallStatsQuery>,
) -> Result<Json<CallStatsReport>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.calls().stats(&caller, &q))
            .await?,
    ))
}

/// Click-to-call: the server asks the PBX (`calls.click_to_call_url`) to ring my extension and
/// dial the customer; the number is sent to the PBX only, never to the browser
/// (`customer.edit`, the customer in my scope; audited; at most 10 a minute).
#[utoipa::path(post, path = "/customers/{id}/call", operation_id = "dial_customer", tag = "calls",
    responses(
    (status = 200, description = "The PBX accepted; the number masked", body = Dialed),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "`click_to_call_off`: not configured", body = ErrorBody),
    (status = 429, description = "Too many calls this minute", body = ErrorBody),
    (status = 503, description = "`pbx_unreachable`: the PBX did not accept", body = ErrorBody)))]
pub async fn dial(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Dialed>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.calls().dial(&caller, &id, &source))
            .await?,
    ))
}

/// Have the server fetch a call's recording from a URL (`call.ingest`): only from a host in
/// `calls.recording_fetch_hosts` (plain http, no redirects); stored like an upload.
#[utoipa::path(post, path = "/calls/{id}/recording/fetch", operation_id = "fetch_call_recording", tag = "calls",
    request_body = FetchBody, responses(
    (status = 201, description = "Fetched and stored", body = IngestedCall),
    (status = 400, description = "`url` not on an allow-listed host", body = ErrorBody),
    (status = 404, description = "No such call", body = ErrorBody),
    (status = 422, description = "`recording_type_refused` or `file_too_large`", body = ErrorBody),
    (status = 503, description = "`recording_fetch_failed`: the host did not answer 200", body = ErrorBody)))]
pub async fn fetch_recording(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FetchBody>,
) -> Result<(StatusCode, Json<IngestedCall>), ApiError> {
    let call = app
        .blocking(move |app| app.calls().fetch_recording(&caller, &id, body, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(call)))
}
