//! The edge of every request, in one tower layer instead of a stack of boxed `from_fn`
//! layers: the request id (kept when the client sent one, else a new ULID; echoed in the
//! response and in every log line through the `request` span), panic catching (a panic is a
//! 500 and the connection keeps serving), JSON bodies for the plain-text refusals of the
//! inner layers (body limit, timeout, method not allowed), the request id in the body of
//! internal errors, the security headers, and the request's metrics (count and latency by
//! matched route). One boxed future per request; each step below says which former layer it
//! replaces, in the same order (innermost first on the way out).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::ApiError;
use super::error::{ErrorBody, ErrorDetail, InternalMarker};
use super::middleware::{CSP, request_id_value};
use crate::metrics::Metrics;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
static PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

/// Where the request's metrics go: the application's, or none (tests of the layers alone).
pub trait MetricsSink: Clone + Send + Sync + 'static {
    fn metrics(&self) -> Option<&Metrics>;
}

impl MetricsSink for super::AppState {
    fn metrics(&self) -> Option<&Metrics> {
        Some(&self.metrics)
    }
}

/// No metrics (the layer tests).
#[cfg(test)]
#[derive(Clone, Copy)]
pub struct NoMetrics;

#[cfg(test)]
impl MetricsSink for NoMetrics {
    fn metrics(&self) -> Option<&Metrics> {
        None
    }
}

#[derive(Clone)]
pub struct EdgeLayer<M> {
    sink: M,
}

impl<M> EdgeLayer<M> {
    pub fn new(sink: M) -> Self {
        EdgeLayer { sink }
    }
}

impl<S, M: Clone> tower::Layer<S> for EdgeLayer<M> {
    type Service = Edge<S, M>;
    fn layer(&self, inner: S) -> Edge<S, M> {
        Edge {
            inner,
            sink: self.sink.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Edge<S, M> {
    inner: S,
    sink: M,
}

/// The matched route of a request, filled in by [`TagRoute`] once the router has matched.
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<MatchedPath>>);

impl<S, M> tower::Service<Request> for Edge<S, M>
where
    S: tower::Service<Request, Error = std::convert::Infallible>,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    M: MetricsSink,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let sink = self.sink.clone();
        // Request id (was SetRequestIdLayer): the client's, or a new ULID.
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(v) => v.clone(),
            None => {
                let v = request_id_value();
                req.headers_mut().insert(X_REQUEST_ID.clone(), v.clone());
                v
            }
        };
        // The span of every log line of this request (was TraceLayer's make_span_with).
        let span = tracing::info_span!(
            "request",
            id = %id.to_str().unwrap_or("-"),
            method = %req.method(),
            path = %req.uri().path(),
        );
        let is_api = req.uri().path().starts_with("/api/");
        let method = req.method().clone();
        let slot = if sink.metrics().is_some() {
            let slot = RouteSlot::default();
            req.extensions_mut().insert(slot.clone());
            Some(slot)
        } else {
            None
        };
        // Panics in the inner services (was CatchPanicLayer), on the call and while polled.
        // The inner service was polled ready for this call (`poll_ready` above).
        let called = {
            let _entered = span.enter();
            std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)))
        };
        let work = async move {
            let resp = match called {
                Ok(fut) => match caught(fut).await {
                    Ok(Ok(resp)) => resp.into_response(),
                    Ok(Err(never)) => match never {},
                    Err(panic) => panic_response(panic),
                },
                Err(panic) => panic_response(panic),
            };
            let mut resp = finish(resp, is_api, &id);
            let status = resp.status();
            let elapsed = started.elapsed();
            if status.is_server_error() {
                tracing::error!(
                    status = status.as_u16(),
                    latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                    "response failed"
                );
            } else {
                tracing::debug!(
                    status = status.as_u16(),
                    latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                    "finished"
                );
            }
            // Request id echoed (was PropagateRequestIdLayer): a response's own id stays.
            if !resp.headers().contains_key(&X_REQUEST_ID) {
                resp.headers_mut().insert(X_REQUEST_ID.clone(), id);
            }
            // Metrics (was `metrics::track`), refusals of the inner layers included.
            if let (Some(m), Some(slot)) = (sink.metrics(), slot) {
                let route = slot.0.get().map_or("unmatched", MatchedPath::as_str);
                m.observe_request(route, method.as_str(), status.as_u16(), elapsed);
            }
            Ok(resp)
        };
        Box::pin(work.instrument(span))
    }
}

/// Awaits `fut`, turning a panic while it is polled into an `Err` with the panic's payload.
async fn caught<F: Future>(fut: F) -> Result<F::Output, Box<dyn std::any::Any + Send + 'static>> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await
}

/// The response steps, innermost first: plain-text API errors as JSON, the request id in
/// internal errors' bodies, the security headers.
fn finish(resp: Response, is_api: bool, id: &HeaderValue) -> Response {
    let resp = api_error_as_json(resp, is_api);
    let mut resp = request_id_in_internal_error(resp, id);
    security_headers(&mut resp, is_api);
    resp
}

/// API errors produced by layers (body limit, timeout, method not allowed) come back as plain
/// text; give them the JSON error body of the contract (was `api_errors_as_json`).
fn api_error_as_json(resp: Response, is_api: bool) -> Response {
    let status = resp.status();
    if !is_api || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return resp;
    }
    let (parts, _) = resp.into_parts();
    let mut fixed = ApiError::for_status(status).into_response();
    copy_headers(&parts.headers, &mut fixed);
    fixed
}

/// Internal errors (500) carry the request id in their body, so a user can quote it and the
/// administrator find the log lines (the cause is logged, never sent).
fn request_id_in_internal_error(resp: Response, id: &HeaderValue) -> Response {
    if resp.extensions().get::<InternalMarker>().is_none() {
        return resp;
    }
    let (parts, _) = resp.into_parts();
    let fail = ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody {
        error: ErrorDetail {
            code: fail.code,
            message: fail.message,
            field: None,
            details: None,
            request_id: id.to_str().ok().map(str::to_string),
        },
    };
    let mut fixed = (parts.status, axum::Json(body)).into_response();
    copy_headers(&parts.headers, &mut fixed);
    fixed
}

fn copy_headers(from: &axum::http::HeaderMap, to: &mut Response) {
    for (name, value) in from.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            to.headers_mut().insert(name.clone(), value.clone());
        }
    }
}

/// The security headers of every response.
fn security_headers(resp: &mut Response, is_api: bool) {
    let h = resp.headers_mut();
    // A response with its own policy keeps it: served files (`http::documents`, a stricter
    // sandbox), the signing page (tighter) and the public application form (its
    // `frame-ancestors` lists the sites allowed to embed it, so no X-Frame-Options either).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(COOP.clone(), HeaderValue::from_static("same-origin"));
    h.insert(
        PERMISSIONS_POLICY.clone(),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// A panic inside a handler (or a layer below this one) answers 500 like any internal error,
/// and the connection and the process keep serving.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    tracing::error!(panic = %what, "handler panicked");
    ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}

/// Route layer (runs only on matched routes): records the matched pattern for the metrics of
/// [`Edge`] (was `metrics::tag_route`, a boxed `from_fn`).
#[derive(Clone, Copy)]
pub struct TagRouteLayer;

impl<S> tower::Layer<S> for TagRouteLayer {
    type Service = TagRoute<S>;
    fn layer(&self, inner: S) -> TagRoute<S> {
        TagRoute { inner }
    }
}

#[derive(Clone)]
pub struct TagRoute<S> {
    inner: S,
}

impl<S> tower::Service<Request> for TagRoute<S>
where
    S: tower::Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> S::Future {
        if let (Some(path), Some(slot)) = (
            req.extensions().get::<MatchedPath>(),
            req.extensions().get::<RouteSlot>(),
        ) {
            // Set once per request; a nested router's later match keeps the first pattern.
            let _ = slot.0.set(path.clone());
        }
        self.inner.call(req)
    }
}
