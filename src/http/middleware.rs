//! Pieces of the request edge ([`super::edge`]): request ids, the content security policy,
//! the API's 404.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// A new request id as a header value.
pub fn request_id_value() -> HeaderValue {
    let mut buf = [0u8; ulid::ULID_LEN];
    let id = request_ulid(chrono::Utc::now()).array_to_str(&mut buf);
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

/// A request id: a ULID whose random part comes from a per-process counter scrambled with a
/// seed drawn once (it only has to be unique and unguessable enough to not collide, not
/// secret), so a request costs neither a system call nor the record ids' global lock.
fn request_ulid(now: chrono::DateTime<chrono::Utc>) -> ulid::Ulid {
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
    ulid::Ulid::from_parts(ms, random)
}

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

pub async fn api_not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "接口不存在").into_response()
}
