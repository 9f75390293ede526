//! Cross-cutting layers: request IDs, security headers, JSON errors for the API.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, RequestId};

use super::ApiError;
use super::error::{ErrorBody, ErrorDetail, InternalMarker};

/// Request IDs are ULIDs: sortable, so log lines of one incident group by time.
#[derive(Clone, Copy)]
pub struct MakeRequestUlid;

impl MakeRequestId for MakeRequestUlid {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = request_ulid(chrono::Utc::now());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// A request id: a ULID whose random part comes from a per-process counter scrambled with a
/// seed drawn once (it only has to be unique and unguessable enough to not collide, not
/// secret), so a request costs neither a system call nor the record ids' global lock.
fn request_ulid(now: chrono::DateTime<chrono::Utc>) -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        // A zero seed still gives unique ids (the counter).
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    // 64 bits scrambled from the counter (a bijection: unique per process) + 16 more.
    let random =
        (u128::from(mix(seed ^ n)) << 16) | u128::from(mix(seed.rotate_left(17) ^ n) & 0xFFFF);
    let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(ms, random).to_string()
}

/// The tracing span of one request: every log line inside carries the request id.
pub fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
}

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A response with its own policy keeps it: served files (`http::documents`, a stricter
    // sandbox), the signing page (tighter) and the public application form (its
    // `frame-ancestors` lists the sites allowed to embed it, so no X-Frame-Options either).
    let own_policy = h.contains_key(header::CONTENT_SECURITY_POLICY);
    if !own_policy {
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
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// API errors produced by layers (body limit, timeout, method not allowed) come back as plain
/// text; give them the JSON error body of the contract.
pub async fn api_errors_as_json(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
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
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

pub async fn api_not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "接口不存在").into_response()
}

/// A panic inside a handler (or a layer below this one) answers 500 like any internal error,
/// and the connection and the process keep serving.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    tracing::error!(panic = %what, "handler panicked");
    ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}

/// Internal errors (500) carry the request id in their body, so a user can quote it and the
/// administrator find the log lines (the cause is logged, never sent).
pub async fn request_id_in_internal_errors(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = next.run(req).await;
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
            request_id: id,
        },
    };
    let mut fixed = (parts.status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}
