//! Fees, payments (回款), commissions and month close: a deal's fees (scope of the deal), the
//! finance lists (`finance.read`, scope of the officers), statements, and month close.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::fees::{ChannelInput, ChannelList, ChannelReport, ChannelReportQuery, SetCost};
use crate::service::fees::{
    CommissionList, CommissionQuery, FeesView, FinanceQuery, MoneyList, MonthView, MovePage,
    NewPayment, NewRebateReceipt, NewRefund, NewWaiver, Person, ProgressPage, ReceivablePage,
    Recompute, RemoveQuery, ReopenRequest, SetTarget, Statement, StatementQuery, TargetQuery,
};

/// A deal's fee: the agreed fee (`deal.fee`), payments, refunds, waivers, balance and the
/// lender's rebate.
#[utoipa::path(get, path = "/deals/{id}/fees", operation_id = "deal_fees", tag = "fees", responses(
    (status = 200, description = "The deal's fees", body = FeesView),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn deal_fees(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FeesView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().deal_fees(&caller, &id))
            .await?,
    ))
}

/// Record a payment (`finance.edit`): its commission lines (`commission.split`) are written
/// with it; the deal moves to 收费 when the fee is paid in full. A date in a closed month is
/// 409 `month_closed`; a failing plugin 409 `plugin_failed` (nothing written).
#[utoipa::path(post, path = "/deals/{id}/payments", operation_id = "record_payment", tag = "fees",
    request_body = NewPayment, responses(
    (status = 201, description = "The deal's fees", body = FeesView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Not disbursed, month closed, or the plugin failed", body = ErrorBody)))]
pub async fn record_payment(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewPayment>,
) -> Result<(StatusCode, Json<FeesView>), ApiError> {
    let v = app
        .blocking(move |app| app.fees().record_payment(&caller, &id, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Remove a payment recorded by mistake (`finance.edit`, with `reason`): its commission lines
/// go with it. Refused with 409 `month_closed` in a closed month, `payment_has_refunds` once
/// the deal has refunds, `payment_referral_fee_paid` once the broker's referral fee of a deal
/// it settled was paid out. A deal at 收费 that owes again goes back to 放款.
#[utoipa::path(delete, path = "/deals/{id}/payments/{payment_id}", operation_id = "remove_payment", tag = "fees",
    params(RemoveQuery), responses(
    (status = 200, description = "The deal's fees", body = FeesView),
    (status = 400, description = "No reason", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Month closed, the deal has refunds, or its referral fee was paid out", body = ErrorBody)))]
pub async fn remove_payment(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, payment_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<RemoveQuery>,
) -> Result<Json<FeesView>, ApiError> {
    let reason = q.reason.unwrap_or_default();
    Ok(Json(
        app.blocking(move |app| {
            app.fees()
                .remove_payment(&caller, &id, &payment_id, &reason, &source)
        })
        .await?,
    ))
}

/// Record a refund (`finance.edit`): the commission of the deal's payments is clawed back
/// proportionally (adjustment lines when the originals are in a closed month).
#[utoipa::path(post, path = "/deals/{id}/refunds", operation_id = "record_refund", tag = "fees",
    request_body = NewRefund, responses(
    (status = 201, description = "The deal's fees", body = FeesView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Not disbursed or month closed", body = ErrorBody)))]
pub async fn record_refund(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewRefund>,
) -> Result<(StatusCode, Json<FeesView>), ApiError> {
    let v = app
        .blocking(move |app| app.fees().record_refund(&caller, &id, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Waive part of the balance (managers: `customer.assign`), with a reason; audited.
#[utoipa::path(post, path = "/deals/{id}/fee-waivers", operation_id = "waive_fee", tag = "fees",
    request_body = NewWaiver, responses(
    (status = 201, description = "The deal's fees", body = FeesView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Not a manager", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Not disbursed", body = ErrorBody)))]
pub async fn waive(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewWaiver>,
) -> Result<(StatusCode, Json<FeesView>), ApiError> {
    let v = app
        .blocking(move |app| app.fees().waive(&caller, &id, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Record money received from the lender against the rebate (`finance.edit`).
#[utoipa::path(post, path = "/deals/{id}/rebate-receipts", operation_id = "receive_rebate", tag = "fees",
    request_body = NewRebateReceipt, responses(
    (status = 201, description = "The deal's fees", body = FeesView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Not disbursed or month closed", body = ErrorBody)))]
pub async fn receive_rebate(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewRebateReceipt>,
) -> Result<(StatusCode, Json<FeesView>), ApiError> {
    let v = app
        .blocking(move |app| app.fees().receive_rebate(&caller, &id, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Run `deal.fee` again (`finance.edit`), with a reason; audited with the old and new fee.
#[utoipa::path(post, path = "/deals/{id}/fee-recompute", operation_id = "recompute_fee", tag = "fees",
    request_body = Recompute, responses(
    (status = 200, description = "The deal's fees", body = FeesView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Not disbursed, or the plugin failed", body = ErrorBody)))]
pub async fn recompute(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Recompute>,
) -> Result<Json<FeesView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().recompute(&caller, &id, input, &source))
            .await?,
    ))
}

/// Outstanding fees (应收) with ageing buckets (`finance.read`; the officers of my scope).
#[utoipa::path(get, path = "/finance/receivables", operation_id = "finance_receivables", tag = "fees", responses(
    (status = 200, description = "Outstanding fees", body = ReceivablePage),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn receivables(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<ReceivablePage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().receivables(&caller))
            .await?,
    ))
}

/// Fees outstanding more than 30 days after disbursement (逾期).
#[utoipa::path(get, path = "/finance/overdue", operation_id = "finance_overdue", tag = "fees", responses(
    (status = 200, description = "Overdue fees", body = ReceivablePage),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn overdue(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<ReceivablePage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().overdue(&caller)).await?,
    ))
}

/// Rebates the lenders still owe (返佣应收).
#[utoipa::path(get, path = "/finance/rebates", operation_id = "finance_rebates", tag = "fees", responses(
    (status = 200, description = "Rebates outstanding", body = ReceivablePage),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn rebates(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<ReceivablePage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().rebates(&caller)).await?,
    ))
}

/// Payments and refunds of a month (本月回款), in my scope.
#[utoipa::path(get, path = "/finance/payments", operation_id = "finance_payments", tag = "fees",
    params(FinanceQuery), responses(
    (status = 200, description = "The month's payments and refunds", body = MovePage),
    (status = 400, description = "Invalid month", body = ErrorBody),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn payments(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FinanceQuery>,
) -> Result<Json<MovePage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().month_payments(&caller, &q))
            .await?,
    ))
}

/// The last twelve months and whether each is closed (月结).
#[utoipa::path(get, path = "/finance/months", operation_id = "finance_months", tag = "fees", responses(
    (status = 200, description = "Months, newest first", body = [MonthView]),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn months(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MonthView>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().months(&caller)).await?,
    ))
}

/// One month: closed or not, the frozen hash, and whether the stored lines still give it.
#[utoipa::path(get, path = "/finance/months/{month}", operation_id = "finance_month", tag = "fees", responses(
    (status = 200, description = "The month", body = MonthView),
    (status = 400, description = "Invalid month", body = ErrorBody),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn month(
    State(app): State<AppState>,
    caller: Caller,
    Path(month): Path<String>,
) -> Result<Json<MonthView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().month(&caller, &month))
            .await?,
    ))
}

/// Close a month (`finance.edit`): its payments, refunds and commission lines are locked and
/// its statements frozen with a SHA-256.
#[utoipa::path(post, path = "/finance/months/{month}/close", operation_id = "close_month", tag = "fees", responses(
    (status = 200, description = "The closed month", body = MonthView),
    (status = 400, description = "Invalid month", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 409, description = "Already closed, or not over", body = ErrorBody)))]
pub async fn close_month(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(month): Path<String>,
) -> Result<Json<MonthView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().close_month(&caller, &month, &source))
            .await?,
    ))
}

/// Reopen a closed month (admins), with a reason; audited.
#[utoipa::path(post, path = "/finance/months/{month}/reopen", operation_id = "reopen_month", tag = "fees",
    request_body = ReopenRequest, responses(
    (status = 200, description = "The reopened month", body = MonthView),
    (status = 400, description = "Invalid month or no reason", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "Not closed", body = ErrorBody)))]
pub async fn reopen_month(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(month): Path<String>,
    ApiJson(req): ApiJson<ReopenRequest>,
) -> Result<Json<MonthView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().reopen_month(&caller, &month, req, &source))
            .await?,
    ))
}

/// A user's commission statement of a month (mine by default; others' with `finance.read`
/// in my scope, else 404).
#[utoipa::path(get, path = "/commissions/statement", operation_id = "commission_statement", tag = "fees",
    params(StatementQuery), responses(
    (status = 200, description = "Lines and totals", body = Statement),
    (status = 400, description = "Invalid month", body = ErrorBody),
    (status = 404, description = "No such user in my scope", body = ErrorBody)))]
pub async fn statement(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Json<Statement>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().statement(&caller, &q))
            .await?,
    ))
}

/// The statement as XLSX (cells defused against formulas).
#[utoipa::path(get, path = "/commissions/statement.xlsx", operation_id = "commission_statement_xlsx", tag = "fees",
    params(StatementQuery), responses(
    (status = 200, description = "The statement (`Content-Disposition: attachment`)"),
    (status = 404, description = "No such user in my scope", body = ErrorBody)))]
pub async fn statement_xlsx(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Response, ApiError> {
    let (name, bytes) = app
        .blocking(move |app| app.fees().statement_xlsx(&caller, &q))
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
        format!("attachment; filename=\"statement.xlsx\"; filename*=UTF-8''{encoded}");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Monthly targets (业绩目标) and progress of the users and departments I see.
#[utoipa::path(get, path = "/targets/progress", operation_id = "target_progress", tag = "fees",
    params(TargetQuery), responses(
    (status = 200, description = "Targets, actuals and progress", body = ProgressPage),
    (status = 400, description = "Invalid month", body = ErrorBody)))]
pub async fn target_progress(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TargetQuery>,
) -> Result<Json<ProgressPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().progress(&caller, &q))
            .await?,
    ))
}

/// Set a user's or a department's target of a month (managers: `customer.assign`, in scope).
#[utoipa::path(put, path = "/targets", operation_id = "set_target", tag = "fees",
    request_body = SetTarget, responses(
    (status = 200, description = "The target with its progress", body = Person),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Not a manager", body = ErrorBody),
    (status = 404, description = "No such user or department in my scope", body = ErrorBody)))]
pub async fn set_target(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<SetTarget>,
) -> Result<Json<Person>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().set_target(&caller, input, &source))
            .await?,
    ))
}

/// A deal's payments and refunds (refunds negative), oldest first.
#[utoipa::path(get, path = "/deals/{id}/payments", operation_id = "deal_payments", tag = "fees", responses(
    (status = 200, description = "Payments and refunds", body = MoneyList),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn deal_payments(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MoneyList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().deal_payments(&caller, &id))
            .await?,
    ))
}

/// Commission lines of a month in my scope: mine (`mine=true`), one user's, or every user's I
/// see (`finance.read`).
#[utoipa::path(get, path = "/commissions", operation_id = "commission_lines", tag = "fees",
    params(CommissionQuery), responses(
    (status = 200, description = "Commission lines", body = CommissionList),
    (status = 400, description = "Invalid month", body = ErrorBody),
    (status = 403, description = "Everyone's lines need finance.read", body = ErrorBody),
    (status = 404, description = "No such user in my scope", body = ErrorBody)))]
pub async fn commission_lines(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CommissionQuery>,
) -> Result<Json<CommissionList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().commission_lines(&caller, &q))
            .await?,
    ))
}

/// Channels (渠道) with their costs of the last 12 months (`finance.read`).
#[utoipa::path(get, path = "/channels", operation_id = "list_channels", tag = "fees", responses(
    (status = 200, description = "Channels and their monthly costs", body = ChannelList),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn list_channels(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<ChannelList>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().channels(&caller))
            .await?,
    ))
}

/// Create a channel (`finance.edit`); names are unique (409 `channel_exists`).
#[utoipa::path(post, path = "/channels", operation_id = "create_channel", tag = "fees",
    request_body = ChannelInput, responses(
    (status = 201, description = "The channel", body = crate::store::channels::Channel),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 409, description = "A channel of that name exists", body = ErrorBody)))]
pub async fn create_channel(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<(StatusCode, Json<crate::store::channels::Channel>), ApiError> {
    let c = app
        .blocking(move |app| app.fees().create_channel(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Change a channel's name, kind, active flag or notes (`finance.edit`).
#[utoipa::path(put, path = "/channels/{id}", operation_id = "update_channel", tag = "fees",
    request_body = ChannelInput, responses(
    (status = 200, description = "The channel", body = crate::store::channels::Channel),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "No such channel", body = ErrorBody),
    (status = 409, description = "Another channel has that name", body = ErrorBody)))]
pub async fn update_channel(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<Json<crate::store::channels::Channel>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().update_channel(&caller, &id, input, &source))
            .await?,
    ))
}

/// Set a channel's cost of a month (`finance.edit`; 0 clears it). A closed month is 409
/// `month_closed`.
#[utoipa::path(put, path = "/channels/{id}/costs/{month}", operation_id = "set_channel_cost", tag = "fees",
    request_body = SetCost, responses(
    (status = 200, description = "The month's cost", body = crate::store::channels::Cost),
    (status = 400, description = "Invalid month or amount", body = ErrorBody),
    (status = 403, description = "Missing finance.edit", body = ErrorBody),
    (status = 404, description = "No such channel", body = ErrorBody),
    (status = 409, description = "The month is closed", body = ErrorBody)))]
pub async fn set_channel_cost(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, month)): Path<(String, String)>,
    ApiJson(input): ApiJson<SetCost>,
) -> Result<Json<crate::store::channels::Cost>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.fees()
                .set_channel_cost(&caller, &id, &month, input, &source)
        })
        .await?,
    ))
}

/// Channels and ROI over months `from..=to` (`finance.read`): leads, valid leads, signed,
/// disbursed, fees, cost, cost per lead and per signed customer, ROI in basis points, totals.
#[utoipa::path(get, path = "/reports/channels", operation_id = "channel_report", tag = "fees",
    params(ChannelReportQuery), responses(
    (status = 200, description = "Per channel figures and totals", body = ChannelReport),
    (status = 400, description = "Invalid period", body = ErrorBody),
    (status = 403, description = "Missing finance.read", body = ErrorBody)))]
pub async fn channel_report(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ChannelReportQuery>,
) -> Result<Json<ChannelReport>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.fees().channel_report(&caller, &q))
            .await?,
    ))
}
