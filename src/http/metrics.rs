//! `GET /metrics`: the Prometheus text exposition. Off unless `[metrics]` is configured: with a
//! `token`, the main listener answers it to `Authorization: Bearer <token>` only; with `listen`,
//! a second listener serves nothing else (`zhudai serve` starts it). Request counts and
//! latencies are recorded by the request edge (`http::edge`) around every request, labelled with the route pattern
//! the router matched (never the raw path, so ids do not become labels).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState};
use crate::metrics::Exposition;
use crate::service::App;

/// The `/metrics` route for a router, answered to the configured token only.
pub fn route() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The service of the metrics-only listener (`[metrics] listen`), behind the same edge as the
/// main router (its own scrapes are counted too).
pub fn listener_router(
    app: AppState,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<Response, std::convert::Infallible>>
             + Send
             + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let routes = route()
        .route_layer(super::edge::TagRouteLayer)
        .with_state(Arc::clone(&app));
    tower::ServiceBuilder::new()
        .layer(super::edge::EdgeLayer::new(app))
        .service(routes)
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let token = &app.config.metrics.token;
    if token.is_empty() {
        // Only the separate listener is mounted without a token (see `http::router`).
        return true;
    }
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    crate::crypto::constant_time_eq(sent.as_bytes(), token.as_bytes())
}

async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        let mut resp = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "需要 metrics 令牌 (Authorization: Bearer …)",
        )
        .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return resp;
    }
    let collected = {
        let app = Arc::clone(&app);
        tokio::task::spawn_blocking(move || render(&app)).await
    };
    match collected {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics collection task failed");
            ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
    }
}

/// The whole exposition: what the process measured, then gauges read now. A gauge that cannot
/// be read is left out, logged, and counted in `zhudai_metrics_collect_errors`.
pub fn render(app: &App) -> String {
    let mut out = Exposition::default();
    let mut errors = 0u32;
    let mut failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(metric = what, error = %e, "metrics: cannot read");
        errors += 1;
    };

    out.family(
        "zhudai_build_info",
        "gauge",
        "Always 1; the version of the running binary as a label",
    );
    out.sample(
        "zhudai_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    app.metrics.render(&mut out);

    let now = app.now();
    let backup = crate::jobs::backup::status_view(app);
    out.single(
        "zhudai_backup_enabled",
        "gauge",
        "1 when scheduled backups are on (backup.enabled)",
        f64::from(u8::from(backup.enabled)),
    );
    if let Some(e) = &backup.status_error {
        failed("zhudai_backup_last_run_ok", e);
    }
    if let Some(last) = &backup.last {
        out.single(
            "zhudai_backup_last_run_ok",
            "gauge",
            "1 when the last backup run (scheduled, manual or `zhudai backup`) succeeded, post command included",
            f64::from(u8::from(last.ok && last.post_command_error.is_none())),
        );
        out.single(
            "zhudai_backup_last_run_timestamp_seconds",
            "gauge",
            "When the last backup run finished, Unix time",
            last.finished_at.timestamp() as f64,
        );
    }
    if let Some(ok) = &backup.last_success {
        out.single(
            "zhudai_backup_last_success_timestamp_seconds",
            "gauge",
            "When the last successful backup finished, Unix time",
            ok.finished_at.timestamp() as f64,
        );
        out.single(
            "zhudai_backup_age_seconds",
            "gauge",
            "Seconds since the last successful backup finished (absent: none yet)",
            (now - ok.finished_at).num_seconds().max(0) as f64,
        );
    }

    match app.store.read(crate::store::outbox::last_seq) {
        Ok(seq) => {
            out.single(
                "zhudai_search_outbox_seq",
                "gauge",
                "Last sequence number written to the search outbox",
                seq as f64,
            );
            if let Some(applied) = app.search.applied_seq_if_open() {
                out.single(
                    "zhudai_search_outbox_lag",
                    "gauge",
                    "Search outbox entries the open index has not applied yet",
                    seq.saturating_sub(applied) as f64,
                );
            }
        }
        Err(e) => failed("zhudai_search_outbox_seq", &e),
    }

    let idle = chrono::Duration::minutes(
        i64::try_from(app.config.session.idle_minutes).unwrap_or(i64::MAX / 120_000),
    );
    let absolute = chrono::Duration::hours(
        i64::try_from(app.config.session.absolute_hours).unwrap_or(i64::MAX / 7_200_000),
    );
    match app
        .store
        .read(|tx| crate::store::sessions::count_active(tx, now - idle, now - absolute))
    {
        Ok(n) => out.single(
            "zhudai_sessions_active",
            "gauge",
            "Browser login sessions within their idle and absolute limits",
            n as f64,
        ),
        Err(e) => failed("zhudai_sessions_active", &e),
    }

    let layout = crate::datadir::Layout::new(&app.data_dir);
    match std::fs::metadata(layout.store()) {
        Ok(m) => out.single(
            "zhudai_store_file_bytes",
            "gauge",
            "Size of the database file zhudai.redb",
            m.len() as f64,
        ),
        Err(e) => failed("zhudai_store_file_bytes", &e),
    }
    match dir_size(&app.data_dir.join("index")) {
        Ok(n) => out.single(
            "zhudai_index_dir_bytes",
            "gauge",
            "Size of the search index directory (every generation kept on disk)",
            n as f64,
        ),
        Err(e) => failed("zhudai_index_dir_bytes", &e),
    }

    let (slots, running, waiting) = app.search_slots();
    out.single(
        "zhudai_search_slots",
        "gauge",
        "Customer searches and list pages that may run at once (server.search_concurrency)",
        slots as f64,
    );
    out.single(
        "zhudai_search_running",
        "gauge",
        "Customer searches and list pages running now",
        running as f64,
    );
    out.single(
        "zhudai_search_waiting",
        "gauge",
        "Customer searches and list pages waiting for their turn now",
        waiting as f64,
    );
    out.single(
        "zhudai_metrics_collect_errors",
        "gauge",
        "Gauges of this scrape that could not be read (the server log says why)",
        f64::from(errors),
    );
    out.finish()
}

/// Total size of the files under `dir`; 0 when it does not exist (no index built yet).
fn dir_size(dir: &std::path::Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += dir_size(&entry.path())?;
        } else if kind.is_file() {
            // Tantivy removes merged segment files at any time: a file gone since the listing
            // is simply not counted.
            match entry.metadata() {
                Ok(m) => total += m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(total)
}
