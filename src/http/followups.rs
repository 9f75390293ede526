//! Follow-ups, the customer timeline, reminders and transfers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Source;
use super::error::ErrorBody;
use super::extract::PollingCaller;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::followup::{Followup, FollowupInput};
use crate::service::access::auth::Caller;
use crate::service::customers::CustomerView;
use crate::service::followups::{Due, Reminder, Timeline};
use crate::service::notices::NoticeList;

#[derive(Serialize, utoipa::ToSchema)]
pub struct FollowupList {
    pub items: Vec<Followup>,
    pub next_cursor: Option<String>,
    pub total: usize,
}

/// A customer's follow-ups, oldest first.
#[utoipa::path(get, path = "/customers/{id}/followups", operation_id = "list_followups", tag = "customers", responses(
    (status = 200, description = "Follow-ups", body = FollowupList),
    (status = 404, description = "Absent or out of scope", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FollowupList>, ApiError> {
    let t = app
        .blocking(move |app| app.followups().timeline(&caller, &id))
        .await?;
    Ok(Json(FollowupList {
        total: t.followups.len(),
        items: t.followups,
        next_cursor: None,
    }))
}

/// Log a follow-up; `next_at` sets the owner's next reminder.
#[utoipa::path(post, path = "/customers/{id}/followups", operation_id = "add_followup", tag = "customers", request_body = FollowupInput, responses(
    (status = 201, description = "Logged", body = Followup),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody)))]
pub async fn add(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<FollowupInput>,
) -> Result<(StatusCode, Json<Followup>), ApiError> {
    let f = app
        .blocking(move |app| app.followups().add_followup(&caller, &id, input))
        .await?;
    Ok((StatusCode::CREATED, Json(f)))
}

/// Correct a follow-up (its author, within 24 hours; audited).
#[utoipa::path(patch, path = "/customers/{id}/followups/{followup_id}", operation_id = "edit_followup", tag = "customers", request_body = FollowupInput, responses(
    (status = 200, description = "Corrected", body = Followup),
    (status = 404, description = "Absent or out of scope", body = ErrorBody),
    (status = 422, description = "Not the author, or older than 24 hours", body = ErrorBody)))]
pub async fn edit(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, followup_id)): Path<(String, String)>,
    ApiJson(input): ApiJson<FollowupInput>,
) -> Result<Json<Followup>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.followups()
                .edit_followup(&caller, &id, &followup_id, input, &source)
        })
        .await?,
    ))
}

/// Follow-ups and ownership/stage events of a customer.
#[utoipa::path(get, path = "/customers/{id}/timeline", operation_id = "customer_timeline", tag = "customers", responses(
    (status = 200, description = "Timeline", body = Timeline),
    (status = 404, description = "Absent or out of scope", body = ErrorBody)))]
pub async fn timeline(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.followups().timeline(&caller, &id))
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReminderQuery {
    /// `today`, `overdue`, `tomorrow` or `week` (the six days after tomorrow); required.
    #[param(inline)]
    #[serde(default)]
    pub due: Option<Due>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReminderList {
    pub items: Vec<Reminder>,
    pub next_cursor: Option<String>,
    pub total: usize,
}

/// My customers due for a follow-up today, overdue, tomorrow or later this week (Asia/Shanghai
/// days).
#[utoipa::path(get, path = "/reminders", operation_id = "list_reminders", tag = "customers", params(ReminderQuery), responses(
    (status = 200, description = "Due follow-ups, earliest first", body = ReminderList),
    (status = 400, description = "`due` missing or unknown", body = ErrorBody)))]
pub async fn reminders(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReminderQuery>,
) -> Result<Json<ReminderList>, ApiError> {
    let due = q.due.ok_or_else(|| {
        crate::service::Error::validation(
            "due",
            "缺少参数 due：today（今天到期）、overdue（已逾期）、tomorrow（明天）或 week（本周其余几天）",
        )
    })?;
    let items = app
        .blocking(move |app| app.followups().reminders(&caller, due))
        .await?;
    Ok(Json(ReminderList {
        total: items.len(),
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TransferRequest {
    pub to_user: String,
}

/// Give the customer to another user.
#[utoipa::path(post, path = "/customers/{id}/transfer", operation_id = "transfer_customer", tag = "customers", request_body = TransferRequest, responses(
    (status = 200, description = "Transferred", body = CustomerView),
    (status = 400, description = "Unknown or inactive receiver", body = ErrorBody),
    (status = 403, description = "Missing customer.transfer", body = ErrorBody),
    (status = 404, description = "Absent or out of scope", body = ErrorBody)))]
pub async fn transfer(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransferRequest>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.followups()
                .transfer_customer(&caller, &id, &body.to_user, &source)
        })
        .await?,
    ))
}

/// My team today (a manager, or a firm-wide scope): per colleague in my data scope, follow-ups
/// logged today, overdue customers and open leads (Asia/Shanghai day).
#[utoipa::path(get, path = "/team/today", operation_id = "team_today", tag = "customers", responses(
    (status = 200, description = "The team's day", body = crate::service::followups::TeamToday),
    (status = 403, description = "The caller sees only their own customers", body = ErrorBody),
    (status = 503, description = "The search index is being rebuilt", body = ErrorBody)))]
pub async fn team_today(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::service::followups::TeamToday>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.followups().team_today(&caller))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// The `latest` of the previous call (absent or 0: the newest notices).
    #[serde(default)]
    pub after: u64,
    /// 1–20, default 20.
    pub limit: Option<usize>,
}

/// My new-lead notices (the bell): customers given to me — by a manager, a rule, an import, a
/// pool's assignment — after a cursor. The UI polls it every few seconds; a poll is not session
/// activity (an unattended open tab still signs out at the idle timeout).
#[utoipa::path(get, path = "/notices", operation_id = "list_notices", tag = "customers", params(NoticeQuery), responses(
    (status = 200, description = "Notices after the cursor, oldest first, and the newest cursor", body = NoticeList)))]
pub async fn notices(
    State(app): State<AppState>,
    PollingCaller(caller): PollingCaller,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Result<Json<NoticeList>, ApiError> {
    let limit = q.limit.unwrap_or(crate::service::notices::MAX_NOTICES);
    let list = app
        .blocking(move |app| app.followups().notices(&caller, q.after, limit))
        .await?;
    Ok(Json(list))
}

/// Ask for a colleague's customer found by a duplicate warning (转移申请), by the number typed.
#[utoipa::path(post, path = "/transfer-requests", operation_id = "request_transfer", tag = "customers",
    request_body = crate::service::customers::transfer_requests::TransferRequestInput, responses(
    (status = 201, description = "Requested; the owner's manager decides", body = crate::service::customers::transfer_requests::TransferView),
    (status = 400, description = "Invalid field, or no customer has that number", body = ErrorBody),
    (status = 409, description = "`transfer_not_needed` (already in my scope), `transfer_in_pool` (claim it), `transfer_pending` (asked already)", body = ErrorBody)))]
pub async fn request_transfer(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<crate::service::customers::transfer_requests::TransferRequestInput>,
) -> Result<
    (
        axum::http::StatusCode,
        Json<crate::service::customers::transfer_requests::TransferView>,
    ),
    ApiError,
> {
    let v = app
        .blocking(move |app| app.customers().request_transfer(&caller, input, &source))
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(v)))
}

/// Transfer requests I may decide (customers in my scope, `customer.transfer`) and my own.
#[utoipa::path(get, path = "/transfer-requests", operation_id = "transfer_requests", tag = "customers", responses(
    (status = 200, description = "Both lists", body = crate::service::customers::transfer_requests::TransferLists)))]
pub async fn transfer_requests(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::service::customers::transfer_requests::TransferLists>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().transfer_requests(&caller))
            .await?,
    ))
}

/// Approve (the customer moves to the requester) or reject (with a note) a pending request.
#[utoipa::path(post, path = "/transfer-requests/{id}/decision", operation_id = "decide_transfer", tag = "customers",
    request_body = crate::service::customers::transfer_requests::TransferDecision, responses(
    (status = 200, description = "Decided", body = crate::service::customers::transfer_requests::TransferView),
    (status = 403, description = "Missing customer.transfer, or my own request", body = ErrorBody),
    (status = 404, description = "No such request, or the customer is outside my scope", body = ErrorBody),
    (status = 409, description = "`transfer_decided`", body = ErrorBody)))]
pub async fn decide_transfer(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(d): ApiJson<crate::service::customers::transfer_requests::TransferDecision>,
) -> Result<Json<crate::service::customers::transfer_requests::TransferView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.customers().decide_transfer(&caller, &id, d, &source))
            .await?,
    ))
}
