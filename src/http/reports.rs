//! Reports: funnels and the 工作台 trends.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ErrorBody;
use super::{ApiError, ApiQuery, AppState};
use crate::http::auth::Source;
use crate::service::access::auth::Caller;
use crate::service::reports::{
    CustomReportInfo, CustomReportResult, Funnel, FunnelQuery, ReportQuery, ReportTable, Trends,
    TrendsQuery,
};
use std::collections::BTreeMap;

/// The customer funnel (lead → won) for a period over my scope: how many reached each stage,
/// the conversion to the next, the median days in each stage, lost and invalid.
#[utoipa::path(get, path = "/funnels/customers", operation_id = "customer_funnel", tag = "reports",
    params(FunnelQuery), responses(
    (status = 200, description = "The funnel", body = Funnel),
    (status = 400, description = "A bad date or period", body = ErrorBody)))]
pub async fn customers(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FunnelQuery>,
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
    ApiQuery(q): ApiQuery<FunnelQuery>,
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
    ApiQuery(q): ApiQuery<TrendsQuery>,
) -> Result<Json<Trends>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.reports().trends(&caller, &q))
            .await?,
    ))
}

/// A report (`activity`, `funnel`, `pools`, `call_stats`, `rankings`, `finance` or `products`) for a
/// period over my scope, optionally one
/// department: its columns, rows and totals (docs/reports.md); with `format=xlsx` the same
/// table as an XLSX file (ids as text cells, formula-safe; audited `report.exported`).
#[utoipa::path(get, path = "/reports/{name}", operation_id = "report", tag = "reports",
    params(("name" = String, Path, description = "activity, funnel, pools, call_stats, rankings, finance or products"), ReportQuery),
    responses(
    (status = 200, description = "The report (JSON), or the XLSX file with format=xlsx", body = ReportTable),
    (status = 400, description = "A bad date, period, kind, format, idle_days or by", body = ErrorBody),
    (status = 403, description = "rankings, finance and products need deal.read", body = ErrorBody),
    (status = 404, description = "No such report", body = ErrorBody)))]
pub async fn report(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    match q.format.as_deref() {
        None | Some("" | "json") => {
            let t = app
                .blocking(move |app| app.reports().report(&caller, &name, &q))
                .await?;
            Ok(Json(t).into_response())
        }
        Some("xlsx") => {
            let f = app
                .blocking(move |app| app.reports().export_report(&caller, &name, &q, &source))
                .await?;
            let mut resp = f.bytes.into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
            );
            let disposition = format!(
                "attachment; filename=\"report.xlsx\"; filename*=UTF-8''{}",
                super::customers::exports::percent_encode(&f.filename)
            );
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&f.rows.to_string()) {
                h.insert("x-export-rows", v);
            }
            Ok(resp)
        }
        Some(_) => Err(crate::service::Error::validation("format", "只能是xlsx").into()),
    }
}

/// The custom reports (`plugins/reports/*.rhai`) for the reports menu: title, parameters
/// (shown as a form), chart, and the file's error with file and line when it has one.
#[utoipa::path(get, path = "/reports/custom", operation_id = "custom_reports", tag = "reports",
    responses(
    (status = 200, description = "The custom reports, broken ones with their error", body = [CustomReportInfo]),
    (status = 403, description = "Missing customer.read", body = ErrorBody)))]
pub async fn custom_list(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CustomReportInfo>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.reports().custom_reports(&caller))
            .await?,
    ))
}

/// Run a custom report over my scope. The query holds its parameters: `from` and `to` for a
/// period, the parameter's name for the others (a department id, a product id, a number, a
/// choice); `format=xlsx` returns the table as an XLSX file (formula-safe, audited
/// `report.exported`). A script that fails answers 422 `report_plugin_failed` with the file
/// and line in the message.
#[utoipa::path(get, path = "/reports/custom/{name}", operation_id = "custom_report", tag = "reports",
    params(("name" = String, Path, description = "The report's file name without .rhai"),
        ("params" = Option<Object>, Query, style = Form, explode, description = "from, to, format and the declared parameters")),
    responses(
    (status = 200, description = "The report (JSON), or the XLSX file with format=xlsx", body = CustomReportResult),
    (status = 400, description = "A bad parameter, date or period", body = ErrorBody),
    (status = 404, description = "No such report", body = ErrorBody),
    (status = 422, description = "The script failed (report_plugin_failed: file:line: message)", body = ErrorBody)))]
pub async fn custom(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    match q.get("format").map(String::as_str) {
        None | Some("" | "json") => {
            let r = app
                .blocking(move |app| app.reports().custom_report(&caller, &name, &q))
                .await?;
            Ok(Json(r).into_response())
        }
        Some("xlsx") => {
            let f = app
                .blocking(move |app| {
                    app.reports()
                        .export_custom_report(&caller, &name, &q, &source)
                })
                .await?;
            Ok(xlsx_response(f))
        }
        Some(_) => Err(crate::service::Error::validation("format", "只能是xlsx").into()),
    }
}

fn xlsx_response(f: crate::service::reports::ReportFile) -> Response {
    let mut resp = f.bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    let disposition = format!(
        "attachment; filename=\"report.xlsx\"; filename*=UTF-8''{}",
        super::customers::exports::percent_encode(&f.filename)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&f.rows.to_string()) {
        h.insert("x-export-rows", v);
    }
    resp
}
