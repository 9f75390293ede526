//! Public pools (公海): pool settings, the pool's customers, claim, release, locks, recall
//! sweeps and assignment.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::pool::Pool;
use crate::service::access::auth::Caller;
use crate::service::customers::{CustomerPage, CustomerView};
use crate::service::pools::assign::{AssignRequest, AssignResult, Assignee, AssigneeSettings};
use crate::service::pools::claims::ReleaseRequest;
use crate::service::pools::sweep::{self, SweepReport};
use crate::service::pools::{PoolCustomerFilter, PoolInput, PoolPatch, PoolView};

/// Pools I may use or manage (`pool.manage` sees every pool).
#[utoipa::path(get, path = "/pools", operation_id = "list_pools", tag = "pools", responses(
    (status = 200, description = "Pools with their waiting customers' count", body = [PoolView])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PoolView>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().list_pools(&caller))
            .await?,
    ))
}

/// Create a pool (one per department, one firm-wide).
#[utoipa::path(post, path = "/pools", operation_id = "create_pool", tag = "pools", request_body = PoolInput, responses(
    (status = 201, description = "Created", body = Pool),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing pool.manage", body = ErrorBody),
    (status = 409, description = "The department (or the firm) already has a pool", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<PoolInput>,
) -> Result<(StatusCode, Json<Pool>), ApiError> {
    let p = app
        .blocking(move |app| app.pools().create_pool(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// One pool (404 unless I may use or manage it).
#[utoipa::path(get, path = "/pools/{id}", operation_id = "get_pool", tag = "pools", responses(
    (status = 200, description = "The pool", body = PoolView),
    (status = 404, description = "Absent, or not mine to use", body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PoolView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().get_pool(&caller, &id))
            .await?,
    ))
}

/// Change a pool's name, department, members, admins or settings.
#[utoipa::path(patch, path = "/pools/{id}", operation_id = "update_pool", tag = "pools", request_body = PoolPatch, responses(
    (status = 200, description = "Updated", body = Pool),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Neither pool.manage nor an admin of this pool", body = ErrorBody),
    (status = 404, description = "No such pool", body = ErrorBody),
    (status = 409, description = "The department already has a pool", body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<PoolPatch>,
) -> Result<Json<Pool>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().update_pool(&caller, &id, patch, &source))
            .await?,
    ))
}

/// Delete an empty pool.
#[utoipa::path(delete, path = "/pools/{id}", operation_id = "delete_pool", tag = "pools", responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "Missing pool.manage", body = ErrorBody),
    (status = 404, description = "No such pool", body = ErrorBody),
    (status = 422, description = "Customers still wait in it", body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.pools().delete_pool(&caller, &id, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Customers waiting in a pool (sensitive fields masked), in id order.
#[utoipa::path(get, path = "/pools/{id}/customers", operation_id = "list_pool_customers", tag = "pools", params(PoolCustomerFilter), responses(
    (status = 200, description = "A page of waiting customers", body = CustomerPage),
    (status = 400, description = "Invalid filter", body = ErrorBody),
    (status = 404, description = "Absent, or not a member", body = ErrorBody)))]
pub async fn customers(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(f): ApiQuery<PoolCustomerFilter>,
) -> Result<Json<CustomerPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().pool_customers(&caller, &id, &f))
            .await?,
    ))
}

/// 领取: take a customer out of its pool (the pool's rules decide; exactly one of
/// concurrent claims wins).
#[utoipa::path(post, path = "/customers/{id}/claim", operation_id = "claim_customer", tag = "pools", responses(
    (status = 200, description = "Claimed: now mine", body = CustomerView),
    (status = 403, description = "Missing pool.claim", body = ErrorBody),
    (status = 404, description = "Absent, or not in a pool I am a member of", body = ErrorBody),
    (status = 409, description = "Refused by a rule (`claim_refused`, `details.rule` names the rule, `details.reason` is its sentence) or already claimed", body = ErrorBody)))]
pub async fn claim(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().claim_customer(&caller, &id, &source))
            .await?,
    ))
}

/// 释放: put a customer back into a pool, with a reason (owner, or a manager who sees it).
#[utoipa::path(post, path = "/customers/{id}/release", operation_id = "release_customer", tag = "pools", request_body = ReleaseRequest, responses(
    (status = 200, description = "Released", body = CustomerView),
    (status = 400, description = "Reason missing", body = ErrorBody),
    (status = 403, description = "Not the owner and missing customer.transfer", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 422, description = "Already in a pool, or no pool set up", body = ErrorBody)))]
pub async fn release(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReleaseRequest>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().release_customer(&caller, &id, req, &source))
            .await?,
    ))
}

/// Lock one of my customers against recall (up to my roles' lock limit).
#[utoipa::path(post, path = "/customers/{id}/lock", operation_id = "lock_customer", tag = "pools", responses(
    (status = 200, description = "Locked", body = CustomerView),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 409, description = "Lock limit reached", body = ErrorBody),
    (status = 422, description = "Not my customer", body = ErrorBody)))]
pub async fn lock(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().set_customer_lock(&caller, &id, true, &source))
            .await?,
    ))
}

/// Unlock one of my customers.
#[utoipa::path(post, path = "/customers/{id}/unlock", operation_id = "unlock_customer", tag = "pools", responses(
    (status = 200, description = "Unlocked", body = CustomerView),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 422, description = "Not my customer", body = ErrorBody)))]
pub async fn unlock(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().set_customer_lock(&caller, &id, false, &source))
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SweepQuery {
    /// Only compute what would happen (default true).
    pub dry_run: Option<bool>,
    /// The instant to sweep as of (RFC 3339); default now.
    pub as_of: Option<DateTime<Utc>>,
    /// How many actions the report lists, the first in customer id order (default 200, at
    /// most 5000; the counts always cover every action).
    pub limit: Option<usize>,
}

/// Recall sweep: preview (dry run) or run what the rules decide at an instant.
#[utoipa::path(post, path = "/pools/sweep", operation_id = "sweep_pools", tag = "pools", params(SweepQuery), responses(
    (status = 200, description = "What the sweep did (or would do)", body = SweepReport),
    (status = 400, description = "Bad `as_of`", body = ErrorBody),
    (status = 403, description = "Missing pool.manage", body = ErrorBody)))]
pub async fn sweep(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiQuery(q): ApiQuery<SweepQuery>,
) -> Result<Json<SweepReport>, ApiError> {
    let dry_run = q.dry_run.unwrap_or(true);
    let limit = q
        .limit
        .unwrap_or(sweep::REPORT_LIMIT)
        .min(sweep::MAX_REPORT_LIMIT);
    Ok(Json(
        app.blocking(move |app| {
            app.pools()
                .sweep_pools(&caller, q.as_of, dry_run, limit, &source)
        })
        .await?,
    ))
}

/// Assign customers (in my scope or waiting in a pool I use) to a user, or automatically.
#[utoipa::path(post, path = "/customers/assign", operation_id = "assign_customers", tag = "pools", request_body = AssignRequest, responses(
    (status = 200, description = "Who got each customer", body = AssignResult),
    (status = 400, description = "Invalid request (ids, to_user/auto, mode)", body = ErrorBody),
    (status = 403, description = "Missing customer.assign", body = ErrorBody),
    (status = 404, description = "A customer is absent or out of reach", body = ErrorBody)))]
pub async fn assign(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(req): ApiJson<AssignRequest>,
) -> Result<Json<AssignResult>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().assign_customers(&caller, req, &source))
            .await?,
    ))
}

/// The users automatic assignment hands leads to, with pause, weight and load.
#[utoipa::path(get, path = "/assignment/users", operation_id = "list_assignees", tag = "pools", responses(
    (status = 200, description = "Assignable users (active, take leads), sorted by id", body = [Assignee]),
    (status = 403, description = "Missing pool.manage", body = ErrorBody)))]
pub async fn assignees(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Assignee>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().list_assignees(&caller))
            .await?,
    ))
}

/// Pause or resume a user's automatic assignments, or set their weight (weighted mode).
#[utoipa::path(put, path = "/assignment/users/{id}", operation_id = "set_assignee", tag = "pools", request_body = AssigneeSettings, responses(
    (status = 200, description = "The user's assignment settings after the change", body = Assignee),
    (status = 400, description = "Weight outside 1–100", body = ErrorBody),
    (status = 403, description = "Missing pool.manage", body = ErrorBody),
    (status = 404, description = "No such assignable user in my scope", body = ErrorBody)))]
pub async fn set_assignee(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<AssigneeSettings>,
) -> Result<Json<Assignee>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.pools().set_assignee(&caller, &id, change, &source))
            .await?,
    ))
}
