//! Reports: funnels and the 工作台 trends.

use axum::Json;
use axum::extract::{Query, State};

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::service::access::auth::Caller;
use crate::service::reports::{Funnel, FunnelQuery, Trends, TrendsQuery};

/// The customer funnel (lead → won) for a period over my scope: how many reached each stage,
/// the conversion to the next, the median days in each stage, lost and invalid.
#[utoipa::path(get, path = "/funnels/customers", operation_id = "customer_funnel", tag = "reports",
    params(FunnelQuery), responses(
    (status = 200, description = "The funnel", body = Funnel),
    (status = 400, description = "A bad date or period", body = ErrorBody)))]
pub async fn customers(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<FunnelQuery>,
) -> Result<Json<Funnel>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.reports().customer_funnel(&caller, &q))
            .await?,
    ))
}

/// The deal funnel (invited → fee collected) for a period over my scope (deals by their
/// officer): reached, conversion, median days in each stage, rejected and withdrawn.
#[utoipa::path(get, path = "/funnels/deals", operation_id = "deal_funnel", tag = "reports",
    params(FunnelQuery), responses(
    (status = 200, description = "The funnel", body = Funnel),
    (status = 400, description = "A bad date or period", body = ErrorBody),
    (status = 403, description = "Missing deal.read", body = ErrorBody)))]
pub async fn deals(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<FunnelQuery>,
) -> Result<Json<Funnel>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.reports().deal_funnel(&caller, &q))
            .await?,
    ))
}

/// New leads and follow-ups per day over my scope for the last 30 or 90 days (Asia/Shanghai,
/// every day present), and the ranking of the users I see by follow-ups.
#[utoipa::path(get, path = "/reports/trends", operation_id = "report_trends", tag = "reports",
    params(TrendsQuery), responses(
    (status = 200, description = "The series and the ranking", body = Trends),
    (status = 400, description = "days is not 30 or 90", body = ErrorBody)))]
pub async fn trends(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<TrendsQuery>,
) -> Result<Json<Trends>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.reports().trends(&caller, &q))
            .await?,
    ))
}
