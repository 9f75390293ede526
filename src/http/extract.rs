//! Extractors: the authenticated caller (session cookie + CSRF) and JSON bodies whose
//! rejections speak the API's error format.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use super::{ApiError, AppState};
use crate::crypto;
use crate::service::Error;
use crate::service::access::auth::{Caller, CallerAuth};

/// Name of the session cookie; `__Host-` needs `Secure`, which plain-HTTP installs cannot use.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-zhudai" } else { "zhudai" }
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure_attr = if secure { "; Secure" } else { "" };
    format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/{secure_attr}",
        cookie_name(secure)
    )
}

pub fn clear_cookie(secure: bool) -> String {
    let secure_attr = if secure { "; Secure" } else { "" };
    format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure_attr}",
        cookie_name(secure)
    )
}

fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The peer address, for throttling and audit ("unknown" when not served over TCP).
///
/// Behind a trusted reverse proxy the client is the right-most X-Forwarded-For address that is
/// not itself a trusted proxy (the left part of the header is whatever the client sent).
/// `trusted_proxies` holds addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`), checked when
/// the configuration is loaded ([`crate::config::proxy_net`]).
pub fn source_address(parts: &Parts, trusted_proxies: &[String]) -> String {
    let nets: Vec<crate::config::ProxyNet> = trusted_proxies
        .iter()
        .filter_map(|entry| crate::config::proxy_net(entry).ok())
        .collect();
    let trusted = |ip: &IpAddr| nets.iter().any(|n| n.contains(ip));
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical(c.0.ip()))
    else {
        return "unknown".into();
    };
    if !trusted(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted(a))
        .unwrap_or(peer)
        .to_string()
}

/// An IPv4-mapped IPv6 address is the IPv4 address (a dual-stack listener reports them so).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        caller_of(parts, app, true).await
    }
}

/// The caller of a background poll (the new-lead bell): authenticated like [`Caller`], but the
/// request is not session activity, so polling does not hold off the idle timeout.
pub struct PollingCaller(pub Caller);

impl FromRequestParts<AppState> for PollingCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        caller_of(parts, app, false).await.map(PollingCaller)
    }
}

/// The bearer token's or the session cookie's caller (`activity`: the request keeps the
/// session alive), with the CSRF check for unsafe methods.
async fn caller_of(parts: &Parts, app: &AppState, activity: bool) -> Result<Caller, ApiError> {
    let caller = authenticated(parts, app, activity).await?;
    // A broker (经纪人) reaches their portal and their own account, nothing else: refused here,
    // once for every route, so a route added later cannot forget them (tests/it/scope_walk.rs).
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.path(), |u| u.0.path());
    if caller.user.is_broker() && !crate::service::brokers::portal_path(path) {
        return Err(Error::Forbidden("broker portal only".into()).into());
    }
    // A password someone else chose opens the account only to choose one's own (and to leave).
    if caller.user.must_change_password && !own_account_path(path) {
        return Err(Error::Denied {
            code: "password_change_required",
            message: "请先修改初始密码".into(),
            details: serde_json::json!({}),
        }
        .into());
    }
    Ok(caller)
}

/// What a signed-in person may reach before choosing their own password: who they are, the
/// password change, logging out.
fn own_account_path(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/me" | "/api/v1/me/password" | "/api/v1/auth/logout"
    )
}

async fn authenticated(parts: &Parts, app: &AppState, activity: bool) -> Result<Caller, ApiError> {
    // Integrators: `Authorization: Bearer zd_…`. No cookie is involved, so no CSRF check.
    // Other schemes (e.g. a proxy's Basic auth) are not ours: fall through to the cookie.
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim());
    // A cached caller needs no store read or write: answered here, without a blocking thread.
    if let Some(secret) = bearer {
        if let Some(caller) = app.access().cached_token(secret) {
            return Ok(caller);
        }
        let secret = secret.to_string();
        return Ok(app
            .blocking(move |app| app.access().authenticate_token(&secret))
            .await?);
    }
    let name = cookie_name(app.config.server.secure_cookie);
    let Some(token) = read_cookie(&parts.headers, name).map(str::to_owned) else {
        return Err(Error::Unauthenticated.into());
    };
    let caller = match app.access().cached_session(&token, activity) {
        Some(caller) => caller,
        None => {
            app.blocking(move |app| {
                if activity {
                    app.access().authenticate_session(&token)
                } else {
                    app.access().authenticate_session_passively(&token)
                }
            })
            .await?
        }
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let CallerAuth::Session { csrf_token, .. } = &caller.auth else {
            return Err(Error::Unauthenticated.into());
        };
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !crypto::constant_time_eq(sent.as_bytes(), csrf_token.as_bytes()) {
            return Err(Error::CsrfRejected.into());
        }
    }
    Ok(caller)
}

/// `axum::extract::Query` with rejections in the API error format: 400 `validation`, `field`
/// the parameter serde names (else `query`), a Chinese reason, serde's words after it.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_error(&r.body_text())),
        }
    }
}

/// axum's account of a query string that does not fit (`Failed to deserialize query string:
/// limit: invalid digit found in string`) → the parameter and a Chinese reason.
fn query_error(text: &str) -> ApiError {
    let detail = text
        .split_once("query string: ")
        .map_or(text, |(_, d)| d)
        .to_string();
    // serde's `unknown field `foo`, expected one of …` names the parameter between backticks.
    if let Some(name) = detail
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
    {
        return ApiError {
            field: Some(name.clone()),
            ..ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "validation",
                format!("不支持查询参数「{name}」（{detail}）"),
            )
        };
    }
    let field = detail
        .split_once(": ")
        .map(|(path, _)| path)
        .filter(|p| !p.is_empty() && !p.contains(' '))
        .unwrap_or("query")
        .to_string();
    ApiError {
        field: Some(field),
        ..ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "validation",
            format!("查询参数不正确（{detail}）"),
        )
    }
}

/// `axum::Json` with rejections in the API error format.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// An optional JSON body: absent when the request has no `Content-Type` (axum's `Json`
/// rule); present but malformed is refused like [`ApiJson`].
impl<T, S> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let v = <axum::Json<T> as axum::extract::OptionalFromRequest<S>>::from_request(req, state)
            .await?;
        Ok(v.map(|axum::Json(v)| ApiJson(v)))
    }
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn a_query_refusal_names_the_parameter() {
        let e =
            query_error("Failed to deserialize query string: limit: invalid digit found in string");
        assert_eq!(e.field.as_deref(), Some("limit"));
        assert!(e.message.contains("查询参数不正确"), "{}", e.message);
        let e = query_error("Failed to deserialize query string: expected `,` or `}`");
        assert_eq!(e.field.as_deref(), Some("query"));
        let e = query_error(
            "Failed to deserialize query string: unknown field `target`, expected one of `action`",
        );
        assert_eq!(e.field.as_deref(), Some("target"));
        assert!(e.message.contains("「target」"), "{}", e.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; zhudai=tok; b=2".parse().unwrap());
        assert_eq!(read_cookie(&h, "zhudai"), Some("tok"));
        assert_eq!(read_cookie(&h, "__Host-zhudai"), None);
        assert!(
            session_cookie("t", true)
                .starts_with("__Host-zhudai=t; HttpOnly; SameSite=Strict; Path=/")
        );
        assert!(session_cookie("t", true).ends_with("; Secure"));
        assert!(!session_cookie("t", false).contains("Secure"));
    }
}
