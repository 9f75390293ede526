//! The web UI, embedded from `web-assets/` (in every build, tests included). Assets live under
//! `/assets/<version>/…` where the version is a hash of all embedded files, so they can be
//! cached for a year; `index.html` is served for every client route and never cached.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::http::AppState;

#[derive(RustEmbed)]
#[folder = "web-assets/"]
#[exclude = "*.sh"]
#[exclude = "*.mjs"]
#[exclude = "*.md"]
struct Assets;

const PLACEHOLDER: &str = "__ASSET_VERSION__";

struct Shell {
    version: String,
    index: Arc<str>,
}

fn shell() -> &'static Shell {
    static SHELL: OnceLock<Shell> = OnceLock::new();
    SHELL.get_or_init(|| {
        let mut names: Vec<_> = Assets::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in &names {
            if let Some(f) = Assets::get(name) {
                h.update(name.as_bytes());
                h.update(f.metadata.sha256_hash());
            }
        }
        let version = hex::encode(h.finalize())[..12].to_string();
        let index = Assets::get("index.html")
            .map(|f| String::from_utf8_lossy(&f.data).replace(PLACEHOLDER, &version))
            .unwrap_or_else(|| "<!doctype html><title>zhudai</title><p>web-assets missing".into());
        Shell {
            version,
            index: index.into(),
        }
    })
}

/// The version segment of asset URLs in this build.
pub fn asset_version() -> &'static str {
    &shell().version
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{version}/{*path}", get(asset))
        .fallback(spa)
}

async fn asset(Path((version, path)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(file) = Assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if version == asset_version() {
        "public, max-age=31536000, immutable"
    } else {
        // An old page asking for an old version gets today's file, which must not stick.
        "no-cache"
    };
    let mut resp = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype();
        let mut r = Body::from(file.data.into_owned()).into_response();
        if let Ok(v) = HeaderValue::from_str(mime_with_charset(mime).as_str()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

fn mime_with_charset(mime: &str) -> String {
    let textual = mime.starts_with("text/")
        || mime == "application/javascript"
        || mime == "application/json"
        || mime == "image/svg+xml";
    if textual && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

/// Client routes get the app shell; paths that look like files get a plain 404.
async fn spa(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let last = uri.path().rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let mut resp = Body::from(shell().index.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
