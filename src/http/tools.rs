//! Tools: the repayment calculator (还款计划, 综合年化成本) for any signed-in user.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::domain::loan::Method;
use crate::service::Error;
use crate::service::access::auth::Caller;
use crate::service::tools::RepaymentSchedule;

/// The query of `GET /tools/repayment-schedule` (described here; read by name in the service,
/// so every bad value is refused with its parameter).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the handler reads the raw pairs
pub struct RepaymentQuery {
    /// Principal in fen, 1–10^13.
    #[param(minimum = 1, maximum = 10_000_000_000_000_i64)]
    principal_fen: i64,
    /// Annual rate in basis points (490 = 4.9%), 0–100000.
    #[param(minimum = 0, maximum = 100_000)]
    annual_rate_bp: i64,
    /// Term in months, 1–600.
    #[param(minimum = 1, maximum = 600)]
    months: u32,
    method: Method,
    /// `YYYY-MM-DD`: the end of the first month (the first payment of the monthly methods; a
    /// bullet loan pays once, `months − 1` months later). Default: one month after today
    /// (Asia/Shanghai).
    first_date: Option<chrono::NaiveDate>,
    /// A fee paid at disbursement, in fen (0–10^13), counted in the comprehensive cost.
    #[param(minimum = 0, maximum = 10_000_000_000_000_i64)]
    fee_fen: Option<i64>,
    /// A fee paid at the end of every month of the term, in fen (0–10^13), counted in the
    /// comprehensive cost.
    #[param(minimum = 0, maximum = 10_000_000_000_000_i64)]
    fee_monthly_fen: Option<i64>,
}

/// A repayment schedule: every period to the fen, the totals, and the annualised comprehensive
/// financing cost (12 × the monthly IRR of the disbursement, payments and fees). Any signed-in
/// user; no stored data is read. Unknown or repeated parameters are refused by name.
#[utoipa::path(get, path = "/tools/repayment-schedule", operation_id = "repayment_schedule", tag = "tools", params(RepaymentQuery), responses(
    (status = 200, description = "The schedule, its totals and its comprehensive cost", body = RepaymentSchedule),
    (status = 400, description = "A parameter is missing, malformed, out of range, unknown or repeated (named in `field`)", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn repayment_schedule(
    State(app): State<AppState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<RepaymentSchedule>, ApiError> {
    let Query(params) = query.map_err(|_| Error::validation("query", "查询参数格式不正确"))?;
    Ok(Json(
        app.blocking(move |app| app.tools().repayment_schedule(&caller, &params))
            .await?,
    ))
}
