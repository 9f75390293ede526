//! Deals (业务单): create, read, list, board, edit and move through the pipeline; a
//! customer's deals. Scope like customers (outside it: 404).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::deals::{
    Board, DealFilter, DealPage, DealPatch, DealView, MoveRequest, NewDeal,
};

/// Deals in my scope, newest first; filters by stage, officer, customer.
#[utoipa::path(get, path = "/deals", operation_id = "list_deals", tag = "deals",
    params(DealFilter), responses(
    (status = 200, description = "A page of deals", body = DealPage),
    (status = 400, description = "Invalid filter", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<DealFilter>,
) -> Result<Json<DealPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().list_deals(&caller, &f))
            .await?,
    ))
}

/// Create a deal at 邀约 for a customer in my scope and an active product (`deal.create`).
#[utoipa::path(post, path = "/deals", operation_id = "create_deal", tag = "deals",
    request_body = NewDeal, responses(
    (status = 201, description = "Created", body = DealView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing deal.create", body = ErrorBody),
    (status = 404, description = "The customer is absent or outside my scope", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<NewDeal>,
) -> Result<(StatusCode, Json<DealView>), ApiError> {
    let d = app
        .blocking(move |app| app.deals().create_deal(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// The board: a column per stage with its count and newest cards.
#[utoipa::path(get, path = "/deals/board", operation_id = "deal_board", tag = "deals", responses(
    (status = 200, description = "Columns by stage", body = Board)))]
pub async fn board(State(app): State<AppState>, caller: Caller) -> Result<Json<Board>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().board(&caller)).await?,
    ))
}

/// One deal with its history (and its schedule once disbursed).
#[utoipa::path(get, path = "/deals/{id}", operation_id = "get_deal", tag = "deals", responses(
    (status = 200, description = "The deal", body = DealView),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DealView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().get_deal(&caller, &id))
            .await?,
    ))
}

/// Change the requested amount or term, the officer or the assistant (`deal.edit`).
#[utoipa::path(patch, path = "/deals/{id}", operation_id = "update_deal", tag = "deals",
    request_body = DealPatch, responses(
    (status = 200, description = "The deal", body = DealView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "The deal is closed", body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<DealPatch>,
) -> Result<Json<DealView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().update_deal(&caller, &id, patch, &source))
            .await?,
    ))
}

/// Move a deal to another stage with the fields that stage needs (`deal.stage`). A move the
/// pipeline has no place for is 409 `deal_stage_illegal`; a missing field 400 naming it;
/// 签约 without a contract 409 `deal_contract_required` unless a manager overrides it
/// (`override: true` and a `reason`, audited).
#[utoipa::path(post, path = "/deals/{id}/stage", operation_id = "move_deal", tag = "deals",
    request_body = MoveRequest, responses(
    (status = 200, description = "The deal at its new stage", body = DealView),
    (status = 400, description = "A field the stage needs is missing or wrong", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "The move is refused", body = ErrorBody)))]
pub async fn move_stage(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MoveRequest>,
) -> Result<Json<DealView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().move_deal(&caller, &id, req, &source))
            .await?,
    ))
}

/// A customer's deals (those in my scope).
#[utoipa::path(get, path = "/customers/{id}/deals", operation_id = "customer_deals", tag = "deals", responses(
    (status = 200, description = "The customer's deals", body = DealPage),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn of_customer(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DealPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().customer_deals(&caller, &id))
            .await?,
    ))
}

/// My service reminders (贷后提醒) of running loans: before the first repayment, a renewal
/// opportunity two months before maturity, and the maturity.
#[utoipa::path(get, path = "/deals/reminders", operation_id = "deal_reminders", tag = "deals",
    params(crate::service::deals::reminders::ServiceQuery), responses(
    (status = 200, description = "Reminders, by date", body = [crate::service::deals::reminders::ServiceReminder])))]
pub async fn reminders(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<crate::service::deals::reminders::ServiceQuery>,
) -> Result<Json<Vec<crate::service::deals::reminders::ServiceReminder>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.deals().service_reminders(&caller, &q))
            .await?,
    ))
}
