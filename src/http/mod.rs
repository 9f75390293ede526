//! HTTP: one router builder used by `serve`, tests and benches alike. Handlers parse and
//! authenticate, call a `service` use case, and shape the answer; no business rule lives here.

// Handlers by aggregate, as in `service/`; the imports below name them for the router.
mod access;
mod apply;
mod brokers;
mod calls;
mod contracts;
mod customers;
mod deals;
mod documents;
mod edge;
pub mod error;
mod extract;
mod fees;
mod followups;
mod imports;
mod leads;
pub mod metrics;
mod middleware;
mod openapi;
mod org;
mod platform;
mod pools;
mod products;
mod reports;
mod search;
mod sign;
mod tools;

use access::{audit, auth, setup, tokens};
use customers::{exports, settings as customer_settings};
use org::users;
use platform::{backup, health, plugins};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use extract::{ApiJson, ApiQuery};

use crate::service::App;

pub type AppState = Arc<App>;

/// The API routes with their OpenAPI description (paths include `/api/v1`).
fn api(import_limit: usize) -> OpenApiRouter<AppState> {
    // Imports carry whole files: their own, larger body limit.
    let imports = OpenApiRouter::new()
        .routes(routes!(imports::create, imports::list))
        .routes(routes!(imports::preview))
        .layer(DefaultBodyLimit::max(import_limit));
    let v1 = OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(setup::status, setup::complete))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(audit::list))
        .routes(routes!(backup::status))
        .routes(routes!(backup::run))
        .routes(routes!(backup::save_settings))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::depart))
        .routes(routes!(users::change_own_password))
        .routes(routes!(org::list_departments, org::create_department))
        .routes(routes!(org::update_department, org::delete_department))
        .routes(routes!(org::list_roles, org::create_role))
        .routes(routes!(org::update_role, org::delete_role))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(
            customers::get,
            customers::update,
            customers::delete
        ))
        .routes(routes!(customers::check_duplicate))
        .routes(routes!(customers::bulk))
        .routes(routes!(customers::recycle_bin))
        .routes(routes!(customers::stage_counts))
        .routes(routes!(customers::restore))
        .routes(routes!(customers::erase))
        .routes(routes!(
            customer_settings::list_fields,
            customer_settings::create_field
        ))
        .routes(routes!(
            customer_settings::update_field,
            customer_settings::delete_field
        ))
        .routes(routes!(
            customer_settings::list_groups,
            customer_settings::create_group
        ))
        .routes(routes!(
            customer_settings::update_group,
            customer_settings::delete_group
        ))
        .routes(routes!(
            customer_settings::list_views,
            customer_settings::create_view
        ))
        .routes(routes!(customer_settings::delete_view))
        .routes(routes!(customer_settings::directory))
        .routes(routes!(customers::unmask))
        .routes(routes!(followups::list, followups::add))
        .routes(routes!(followups::edit))
        .routes(routes!(followups::timeline))
        .routes(routes!(followups::reminders))
        .routes(routes!(followups::notices))
        .routes(routes!(followups::team_today))
        .routes(routes!(followups::transfer))
        .routes(routes!(
            followups::request_transfer,
            followups::transfer_requests
        ))
        .routes(routes!(followups::decide_transfer))
        .routes(routes!(exports::customers))
        .routes(routes!(search::search))
        .routes(routes!(pools::list, pools::create))
        .routes(routes!(pools::get, pools::update, pools::delete))
        .routes(routes!(pools::customers))
        .routes(routes!(pools::sweep))
        .routes(routes!(pools::claim))
        .routes(routes!(pools::release))
        .routes(routes!(pools::lock))
        .routes(routes!(pools::unlock))
        .routes(routes!(pools::assign))
        .routes(routes!(pools::assignees))
        .routes(routes!(pools::set_assignee))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::get, plugins::save, plugins::delete))
        .routes(routes!(plugins::version))
        .routes(routes!(plugins::rollback))
        .routes(routes!(plugins::try_it))
        .routes(routes!(imports::get))
        .routes(routes!(imports::cancel))
        .routes(routes!(imports::errors_xlsx))
        .routes(routes!(imports::list_templates, imports::create_template))
        .routes(routes!(imports::delete_template))
        .routes(routes!(tools::repayment_schedule))
        .routes(routes!(products::list, products::create))
        .routes(routes!(products::get, products::update, products::patch))
        .routes(routes!(products::versions))
        .routes(routes!(products::candidates))
        .routes(routes!(products::import))
        .routes(routes!(products::sheet_template))
        .routes(routes!(products::matches))
        .routes(routes!(reports::customers))
        .routes(routes!(reports::deals))
        .routes(routes!(reports::trends))
        .routes(routes!(reports::report))
        .routes(routes!(reports::custom_list))
        .routes(routes!(reports::custom))
        .routes(routes!(deals::list, deals::create))
        .routes(routes!(deals::board))
        .routes(routes!(deals::reminders))
        .routes(routes!(deals::get, deals::update))
        .routes(routes!(deals::move_stage))
        .routes(routes!(deals::of_customer))
        .routes(routes!(documents::list, documents::add))
        .routes(routes!(documents::remove))
        .routes(routes!(documents::move_item))
        .routes(routes!(documents::handover))
        .routes(routes!(documents::upload))
        .routes(routes!(documents::download))
        .routes(routes!(
            documents::upload_attachment,
            documents::list_attachments
        ))
        .routes(routes!(documents::download_attachment))
        .routes(routes!(documents::remove_attachment))
        .routes(routes!(documents::custody))
        .routes(routes!(documents::export))
        .routes(routes!(leads::check))
        .routes(routes!(leads::fresh_xlsx))
        .routes(routes!(leads::list_file))
        .routes(routes!(apply::submit_api))
        .routes(routes!(leads::list_forms, leads::create_form))
        .routes(routes!(leads::get_form, leads::update_form))
        .routes(routes!(leads::submissions))
        .routes(routes!(fees::deal_fees))
        .routes(routes!(fees::deal_payments, fees::record_payment))
        .routes(routes!(fees::commission_lines))
        .routes(routes!(fees::remove_payment))
        .routes(routes!(fees::record_refund))
        .routes(routes!(fees::waive))
        .routes(routes!(fees::receive_rebate))
        .routes(routes!(fees::recompute))
        .routes(routes!(fees::receivables))
        .routes(routes!(fees::overdue))
        .routes(routes!(fees::rebates))
        .routes(routes!(fees::payments))
        .routes(routes!(fees::months))
        .routes(routes!(fees::month))
        .routes(routes!(fees::close_month))
        .routes(routes!(fees::reopen_month))
        .routes(routes!(fees::statement))
        .routes(routes!(fees::statement_xlsx))
        .routes(routes!(fees::target_progress))
        .routes(routes!(fees::set_target))
        .routes(routes!(
            contracts::list_templates,
            contracts::create_template
        ))
        .routes(routes!(contracts::placeholders))
        .routes(routes!(contracts::get_template, contracts::update_template))
        .routes(routes!(contracts::template_versions))
        .routes(routes!(contracts::preview_template))
        .routes(routes!(contracts::list, contracts::create))
        .routes(routes!(contracts::create_and_link))
        .routes(routes!(contracts::get))
        .routes(routes!(contracts::link))
        .routes(routes!(contracts::void))
        .routes(routes!(contracts::verify))
        .routes(routes!(contracts::pdf))
        .routes(routes!(calls::ingest))
        .routes(routes!(calls::upload_recording, calls::play_recording))
        .routes(routes!(calls::unmatched))
        .routes(routes!(calls::attach))
        .routes(routes!(calls::of_customer))
        .routes(routes!(calls::config))
        .routes(routes!(calls::stats))
        .routes(routes!(calls::dial))
        .routes(routes!(calls::fetch_recording))
        .routes(routes!(fees::list_channels, fees::create_channel))
        .routes(routes!(fees::update_channel))
        .routes(routes!(fees::set_channel_cost))
        .routes(routes!(fees::channel_report))
        .routes(routes!(brokers::portal))
        .routes(routes!(brokers::referrals, brokers::refer))
        .routes(routes!(brokers::list))
        .routes(routes!(brokers::fees))
        .routes(routes!(brokers::mark_paid))
        .merge(imports);
    // The borrower's signing page and submission: outside /api, no login.
    let public = OpenApiRouter::new()
        .routes(routes!(sign::page_of, sign::submit))
        .routes(routes!(sign::open));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", v1)
        .merge(public)
}

/// The OpenAPI document served at `/api/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api(0).into_openapi()
}

/// The whole application: API, OpenAPI, web UI, and the layers every request goes through.
pub fn router(
    app: AppState,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response, std::convert::Infallible>> + Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let body_limit = usize::try_from(app.config.server.body_limit_bytes).unwrap_or(usize::MAX);
    let import_limit = usize::try_from(app.config.server.import_limit_bytes).unwrap_or(usize::MAX);
    // Document uploads stream their body (no extractor limit): their cap is the hard limit's.
    let upload_limit =
        usize::try_from(app.config.documents.upload_limit_bytes).unwrap_or(usize::MAX);
    let recording_limit =
        usize::try_from(app.config.calls.recording_limit_bytes).unwrap_or(usize::MAX);
    let upload_limit = upload_limit.max(recording_limit);
    let (api, doc) = api(import_limit).split_for_parts();
    let doc = Arc::new(doc);
    let timeout = Duration::from_secs(app.config.server.request_timeout_secs.max(1));

    let mut routes = Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/apply/{slug}", get(apply::show).post(apply::submit))
        .route("/api", axum::routing::any(middleware::api_not_found))
        .route(
            "/api/{*rest}",
            axum::routing::any(middleware::api_not_found),
        );
    // On the main listener only with a token: every client of the CRM can reach it.
    if app.config.metrics.on_main_listener() {
        routes = routes.merge(metrics::route());
    }
    let routes = routes
        .merge(crate::web::router())
        .route_layer(edge::TagRouteLayer)
        .with_state(Arc::clone(&app));
    // Outermost, the edge counts and times every request, refusals by the layers included.
    with_layers(
        routes,
        body_limit,
        import_limit.max(upload_limit),
        timeout,
        app,
    )
}

/// The layers every request goes through, around the whole router (outermost first): the
/// edge ([`edge::Edge`]: request id, log span, panics as 500, JSON refusals, request id in
/// internal errors, security headers, metrics), the timeout, the hard body cap, the default
/// extractor body limit.
fn with_layers<M: edge::MetricsSink>(
    routes: Router,
    body_limit: usize,
    import_limit: usize,
    timeout: Duration,
    metrics: M,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response, std::convert::Infallible>> + Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::ServiceBuilder::new()
        .layer(edge::EdgeLayer::new(metrics))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        // The hard cap for any body; extractors apply the tighter per-route limits below.
        .layer(RequestBodyLimitLayer::new(body_limit.max(import_limit)))
        .layer(DefaultBodyLimit::max(body_limit))
        .service(routes)
}

/// Serves `router` on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt as _;
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves the metrics-only router (`[metrics] listen`) on `listener` until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    app: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt as _;
    axum::serve(listener, metrics::listener_router(app).into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A panic in a handler answers 500 with the contract's error body and the request id,
    /// and the same service keeps answering.
    #[tokio::test]
    async fn a_panicking_handler_is_a_500_with_the_request_id() {
        async fn boom() -> &'static str {
            panic!("capacity overflow")
        }
        let routes = Router::new()
            .route("/api/v1/boom", get(boom))
            .route("/api/v1/fine", get(|| async { "ok" }));
        let app = with_layers(routes, 1024, 1024, Duration::from_secs(5), edge::NoMetrics);
        let req = |p: &str| {
            axum::http::Request::get(p)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let resp = app.clone().oneshot(req("/api/v1/boom")).await.unwrap();
        assert_eq!(resp.status(), 500);
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal");
        assert_eq!(v["error"]["request_id"], id.as_str());
        assert!(!body.windows(8).any(|w| w == b"capacity"), "cause not sent");
        let resp = app.oneshot(req("/api/v1/fine")).await.unwrap();
        assert_eq!(resp.status(), 200);
    }
}
