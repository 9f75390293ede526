//! Brokers (经纪人): the broker's portal (`/broker/…`, the only routes a broker reaches), the
//! admin's list of broker accounts (created with `POST /users`), and finance's referral fees.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::brokers::{
    BrokerRow, FeeQuery, FeesPage, MarkPaid, NewReferral, Portal, ReferralAccepted, ReferralPage,
    ReferralQuery,
};

/// The broker's portal: their name, company, channel and the consent text (with its version)
/// a referral confirms. Brokers only (`referral.submit` and a broker account).
#[utoipa::path(get, path = "/broker/portal", operation_id = "broker_portal", tag = "brokers", responses(
    (status = 200, description = "The portal", body = Portal),
    (status = 403, description = "Not a broker", body = ErrorBody)))]
pub async fn portal(State(app): State<AppState>, caller: Caller) -> Result<Json<Portal>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.brokers().portal(&caller))
            .await?,
    ))
}

/// The caller's own referrals, newest first: the borrower's name and phone masked and a
/// status (已有客户, 待跟进, 已签约, 已放款, 未成交), nothing else.
#[utoipa::path(get, path = "/broker/referrals", operation_id = "list_referrals", tag = "brokers",
    params(ReferralQuery), responses(
    (status = 200, description = "A page of the caller's referrals", body = ReferralPage),
    (status = 403, description = "Not a broker", body = ErrorBody)))]
pub async fn referrals(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReferralQuery>,
) -> Result<Json<ReferralPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.brokers().referrals(&caller, &q))
            .await?,
    ))
}

/// Refer a borrower, with their consent (the text's version is recorded). A borrower the
/// firm already has is not recorded twice: the answer says 已有客户 (`existing: true`) and
/// nothing about who has them.
#[utoipa::path(post, path = "/broker/referrals", operation_id = "create_referral", tag = "brokers",
    request_body = NewReferral, responses(
    (status = 201, description = "Accepted (new or 已有客户)", body = ReferralAccepted),
    (status = 400, description = "Invalid field (name, phone, consent, amount_wan)", body = ErrorBody),
    (status = 403, description = "Not a broker", body = ErrorBody),
    (status = 409, description = "The consent text changed (`referral_consent_outdated`)", body = ErrorBody),
    (status = 429, description = "Too many referrals today", body = ErrorBody),
    (status = 503, description = "The broker's channel is gone, or nobody can take the lead", body = ErrorBody)))]
pub async fn refer(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiJson(input): ApiJson<NewReferral>,
) -> Result<(StatusCode, Json<ReferralAccepted>), ApiError> {
    let r = app
        .blocking(move |app| app.brokers().refer(&caller, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Every broker account with its channel and referral count (`user.manage`). Brokers are
/// created with `POST /users` (`roles: ["broker"]`, `broker: {channel_id, company}`) and
/// disabled like any user.
#[utoipa::path(get, path = "/brokers", operation_id = "list_brokers", tag = "brokers", responses(
    (status = 200, description = "Broker accounts", body = Vec<BrokerRow>),
    (status = 403, description = "Missing user.manage", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BrokerRow>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.brokers().list(&caller)).await?,
    ))
}

/// Referral fees payable to brokers (`finance.read`, firm-wide): a month's (`?month=`, with
/// `status=paid|unpaid|all`) or every unpaid one.
#[utoipa::path(get, path = "/finance/referral-fees", operation_id = "list_referral_fees", tag = "brokers",
    params(FeeQuery), responses(
    (status = 200, description = "The fees with totals", body = FeesPage),
    (status = 400, description = "Invalid month or status", body = ErrorBody),
    (status = 403, description = "Missing finance.read (firm-wide)", body = ErrorBody)))]
pub async fn fees(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FeeQuery>,
) -> Result<Json<FeesPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.brokers().fees(&caller, &q))
            .await?,
    ))
}

/// Mark a referral fee paid (`finance.edit`; audited). A paid fee is 409
/// `referral_fee_paid`; a date in a closed month 409 `month_closed`.
#[utoipa::path(post, path = "/finance/referral-fees/{id}/paid", operation_id = "pay_referral_fee", tag = "brokers",
    request_body = MarkPaid, responses(
    (status = 200, description = "The fee, paid", body = crate::store::brokers::ReferralFee),
    (status = 400, description = "Invalid date", body = ErrorBody),
    (status = 403, description = "Missing finance.edit (firm-wide)", body = ErrorBody),
    (status = 404, description = "No such fee", body = ErrorBody),
    (status = 409, description = "Already paid, or the month is closed", body = ErrorBody)))]
pub async fn mark_paid(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<MarkPaid>,
) -> Result<Json<crate::store::brokers::ReferralFee>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.brokers().mark_paid(&caller, &id, input, &source))
            .await?,
    ))
}
