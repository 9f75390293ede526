//! Customers: list, create, read, edit, recycle, duplicate check, reveal.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, AppState};
use crate::domain::customer::CustomerInput;
use crate::service::auth::Caller;
use crate::service::customers::{
    CustomerFilter, CustomerPage, CustomerView, DuplicateAnswer, DuplicateQuery, RevealField,
    Revealed,
};

/// Customers in my scope, newest last; filters combine.
#[utoipa::path(get, path = "/customers", operation_id = "list_customers", tag = "customers", params(CustomerFilter), responses(
    (status = 200, description = "A page of customers (sensitive fields masked)", body = CustomerPage),
    (status = 403, description = "Missing customer.read", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(f): Query<CustomerFilter>,
) -> Result<Json<CustomerPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.list_customers(&caller, &f))
            .await?,
    ))
}

/// Create a customer; an existing phone or ID number is refused (or flagged, per settings).
#[utoipa::path(post, path = "/customers", operation_id = "create_customer", tag = "customers", request_body = CustomerInput, responses(
    (status = 201, description = "Created", body = CustomerView),
    (status = 400, description = "Invalid field (named in `field`)", body = ErrorBody),
    (status = 409, description = "Duplicate (撞单): the message names the masked owner", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    let c = app
        .blocking(move |app| app.create_customer(&caller, input, &source))
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
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.get_customer(&caller, &id))
            .await?,
    ))
}

/// Edit fields (absent fields stay as they are).
#[utoipa::path(patch, path = "/customers/{id}", operation_id = "update_customer", tag = "customers", request_body = CustomerInput, responses(
    (status = 200, description = "Updated", body = CustomerView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 409, description = "The new number belongs to another customer", body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.update_customer(&caller, &id, input, &source))
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
    app.blocking(move |app| app.delete_customer(&caller, &id, &source))
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
        app.blocking(move |app| app.check_duplicate(&caller, &q))
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
        app.blocking(move |app| app.unmask(&caller, &id, body.field, &source))
            .await?,
    ))
}
