//! The borrower's signing page, outside `/api` and without login: `GET /sign/{token}` is a
//! small server-rendered page (the contract, one box per consent, a signature pad) with its
//! own tight CSP; `POST /sign/{token}` signs. A guessed link is 404, a used, replaced or
//! expired one 410, each with a plain Chinese page; nothing else of the CRM is reachable.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, AppState};
use crate::service::Error;
use crate::service::contracts::sign::Signed;
use crate::service::contracts::{OpenRequest, Opened, SignRequest};

/// The page's policy: our own scripts only, no framing, no forms posted elsewhere. Inline
/// styles are allowed for what a template's author wrote into the contract.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let v = crate::web::asset_version();
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{}</title><link rel=\"stylesheet\" href=\"/assets/{v}/sign/sign.css\"></head>\
<body>{body}</body></html>",
        esc(title)
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

fn refusal(e: Error) -> Response {
    let (status, title, text) = match e {
        Error::NotFound => (
            StatusCode::NOT_FOUND,
            "链接无效",
            "此签署链接不存在，请核对链接是否完整，或联系您的业务员。".to_string(),
        ),
        Error::Gone { message, .. } => (StatusCode::GONE, "链接已失效", message),
        Error::Throttled { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "请稍后再试",
            format!("访问过于频繁，请 {retry_after_secs} 秒后再试。"),
        ),
        other => {
            tracing::error!(cause = %other, "signing page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "暂时无法打开",
                "服务器暂时无法打开此合同，请稍后再试。".to_string(),
            )
        }
    };
    page(
        status,
        title,
        &format!(
            "<main class=\"notice\"><h1>{}</h1><p>{}</p></main>",
            esc(title),
            esc(&text)
        ),
    )
}

/// The signing page behind a one-time link (HTML; no login).
#[utoipa::path(get, path = "/sign/{token}", operation_id = "signing_page", tag = "signing",
    responses(
    (status = 200, description = "The page (text/html)", content_type = "text/html"),
    (status = 404, description = "No such link (text/html)", content_type = "text/html"),
    (status = 410, description = "Used, replaced or expired (text/html)", content_type = "text/html"),
    (status = 429, description = "Too many requests (text/html)", content_type = "text/html")))]
pub async fn page_of(
    State(app): State<AppState>,
    Source(source): Source,
    Path(token): Path<String>,
) -> Response {
    let t = token.clone();
    let p = match app
        .blocking(move |app| app.contracts().signing_page(&t, &source))
        .await
    {
        Ok(p) => p,
        Err(e) => return refusal(e),
    };
    let v = crate::web::asset_version();
    let expires = p
        .expires_at
        .with_timezone(&crate::service::customers::shanghai())
        .format("%Y-%m-%d %H:%M");
    let consents: String = p
        .consents
        .iter()
        .map(|c| {
            format!(
                "<label class=\"consent\"><input type=\"checkbox\" data-key=\"{}\">\
<span><b>{}</b>（第 {} 版）<br>{}</span></label>",
                esc(&c.key),
                esc(&c.label),
                c.version,
                esc(&c.text)
            )
        })
        .collect();
    // The masked copy until the borrower types their number (`verify`): whoever else opens
    // the link reads no more than staff without the reveal privilege.
    let verify = match p.verify {
        Some(key) => {
            let what = if key == "id_number" {
                "身份证号码"
            } else {
                "手机号码"
            };
            format!(
                "<section class=\"verify\" id=\"verify\" data-key=\"{key}\">\
<p>为保护您的个人信息，下方合同中的证件号、手机号已打码。请输入您本人的{what}，核对后显示完整合同。</p>\
<label>{what}<input id=\"verify-input\" autocomplete=\"off\" inputmode=\"text\" maxlength=\"24\"></label>\
<button type=\"button\" id=\"verify-btn\" class=\"primary\">核对并查看完整合同</button>\
<p id=\"verify-msg\" class=\"msg\" role=\"alert\"></p></section>"
            )
        }
        None => String::new(),
    };
    let body = format!(
        "<header><div class=\"firm\">{firm}</div><div class=\"exp\">链接有效期至 {expires}</div></header>\
<main data-msg-verify=\"请先输入号码核对身份，查看完整合同后再签署\" data-msg-consent=\"请逐项阅读并勾选同意\" data-msg-empty=\"请先在框内手写签名\" \
data-msg-sending=\"正在提交…\" data-msg-done=\"签署完成\" \
data-msg-done-note=\"合同已签署并保存，您可以关闭此页面。如需合同副本，请联系您的业务员。\" \
data-msg-fail=\"提交失败，请检查网络后重试\">{verify}<article class=\"contract\">{content}</article>\
<p class=\"hash\">合同内容 SHA-256：<code id=\"hash\">{hash}</code></p>\
<section class=\"consents\">{consents}</section>\
<section class=\"pad\"><div class=\"padhead\"><span>请在下方框内手写签名</span>\
<button type=\"button\" id=\"clear\">重写</button></div>\
<canvas id=\"pad\"></canvas></section>\
<label class=\"typed\">姓名（可选）<input id=\"typed\" maxlength=\"30\" autocomplete=\"name\"></label>\
<p id=\"msg\" class=\"msg\" role=\"alert\"></p>\
<button type=\"button\" id=\"submit\" class=\"primary\">确认签署</button>\
<p class=\"note\">签署即表示您以手写签名图像确认上述合同；签署记录（时间、IP、浏览器信息）将与合同一并保存。</p>\
</main>\
<script type=\"module\" src=\"/assets/{v}/sign/sign.js\"></script>",
        firm = esc(&p.firm_name),
        content = p.content,
        hash = esc(p.content_sha256.as_deref().unwrap_or("核对身份后显示")),
    );
    page(StatusCode::OK, &p.title, &body)
}

/// The contract in full for the borrower: their ID number (or phone, as the page's `verify`
/// asks) checked against the contract. A wrong number counts against the link, which locks
/// (410) after five.
#[utoipa::path(post, path = "/sign/{token}/open", operation_id = "open_signed_contract", tag = "signing",
    request_body = OpenRequest, responses(
    (status = 200, description = "The contract in full (HTML)", body = Opened),
    (status = 400, description = "The number does not match (`field`: `verify`)", body = ErrorBody),
    (status = 404, description = "No such link", body = ErrorBody),
    (status = 410, description = "Used, replaced, expired or locked by wrong numbers", body = ErrorBody),
    (status = 429, description = "Too many requests", body = ErrorBody)))]
pub async fn open(
    State(app): State<AppState>,
    Source(source): Source,
    Path(token): Path<String>,
    ApiJson(req): ApiJson<OpenRequest>,
) -> Result<Json<Opened>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.contracts().open_signing(&token, req, &source))
            .await?,
    ))
}

/// Sign through the link: every consent ticked, the drawn signature as PNG (base64), an
/// optional typed name. A used or expired link is 410, a guessed one 404; nothing is written.
#[utoipa::path(post, path = "/sign/{token}", operation_id = "sign_contract", tag = "signing",
    request_body = SignRequest, responses(
    (status = 200, description = "Signed", body = Signed),
    (status = 400, description = "A consent not ticked, the image not a PNG, or `verify` missing or wrong", body = ErrorBody),
    (status = 404, description = "No such link", body = ErrorBody),
    (status = 410, description = "Used, replaced or expired", body = ErrorBody),
    (status = 429, description = "Too many requests", body = ErrorBody)))]
pub async fn submit(
    State(app): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    Path(token): Path<String>,
    ApiJson(req): ApiJson<SignRequest>,
) -> Result<Json<Signed>, ApiError> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok(Json(
        app.blocking(move |app| app.contracts().sign(&token, req, &source, &ua))
            .await?,
    ))
}
