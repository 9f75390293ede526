//! The public online application page (`/apply/{slug}`, no login, outside `/api`): a small
//! server-rendered, mobile-first HTML form that works without JavaScript, its own stylesheet
//! (`web-assets/apply/apply.css`), and a tight Content-Security-Policy whose
//! `frame-ancestors` lists the sites the form allows to embed it (this route only). A POST as
//! an HTML form answers an HTML page; as JSON, JSON (the error body of the API).

use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Source;
use super::{ApiError, AppState};
use crate::service::Error;
use crate::service::leads::apply::Application;
use crate::service::leads::forms::{FIELDS, SENSITIVE};
use crate::store::applications::Form;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn csp(form: Option<&Form>) -> String {
    let ancestors = match form {
        Some(f) if !f.frame_ancestors.is_empty() => f.frame_ancestors.join(" "),
        _ => "'none'".into(),
    };
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         base-uri 'none'; frame-ancestors {ancestors}"
    )
}

fn page(status: StatusCode, form: Option<&Form>, title: &str, body: &str) -> Response {
    let css = format!("/assets/{}/apply/apply.css", crate::web::asset_version());
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main class=\"apply\">{body}</main></body></html>",
        esc(title)
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&csp(form)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

fn label(key: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// The form, with the values sent back and the refusal when re-rendered after one.
fn form_html(form: &Form, ticket: &str, a: &Application, error: Option<&str>) -> String {
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or(""));
    let mut out = format!("<h1>{}</h1>", esc(&form.title));
    if let Some(intro) = &form.intro {
        out.push_str(&format!("<p class=\"intro\">{}</p>", esc(intro)));
    }
    if let Some(e) = error {
        out.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)));
    }
    out.push_str(&format!(
        "<form method=\"post\" action=\"/apply/{}\">",
        esc(&form.slug)
    ));
    out.push_str(&format!(
        "<input type=\"hidden\" name=\"ticket\" value=\"{}\">",
        esc(ticket)
    ));
    // The honeypot: off-screen, skipped by keyboard and screen readers.
    out.push_str(
        "<div class=\"hp\" aria-hidden=\"true\"><label>网站<input name=\"website\" \
         tabindex=\"-1\" autocomplete=\"off\"></label></div>",
    );
    let text = |out: &mut String, key: &str, kind: &str, value: String, extra: &str| {
        out.push_str(&format!(
            "<label class=\"field\"><span>{}</span><input name=\"{key}\" type=\"{kind}\" \
             value=\"{value}\" {extra}></label>",
            label(key)
        ));
    };
    for f in &form.fields {
        match f.as_str() {
            "name" => text(
                &mut out,
                "name",
                "text",
                v(&a.name),
                "maxlength=\"20\" autocomplete=\"name\"",
            ),
            "city" => text(&mut out, "city", "text", v(&a.city), "maxlength=\"20\""),
            "amount" => text(
                &mut out,
                "amount",
                "number",
                v(&a.amount),
                "min=\"0\" inputmode=\"numeric\"",
            ),
            "purpose" => text(
                &mut out,
                "purpose",
                "text",
                v(&a.purpose),
                "maxlength=\"40\"",
            ),
            "monthly_income" => text(
                &mut out,
                "monthly_income",
                "number",
                v(&a.monthly_income),
                "min=\"0\" inputmode=\"numeric\"",
            ),
            key @ ("has_property" | "has_car") => {
                let current = match key {
                    "has_property" => a.has_property.as_deref(),
                    _ => a.has_car.as_deref(),
                };
                let opt = |val: &str, text: &str| {
                    format!(
                        "<option value=\"{val}\"{}>{text}</option>",
                        if current == Some(val) {
                            " selected"
                        } else {
                            ""
                        }
                    )
                };
                out.push_str(&format!(
                    "<label class=\"field\"><span>{}</span><select name=\"{key}\">{}{}{}</select></label>",
                    label(key),
                    opt("", "请选择"),
                    opt("yes", "有"),
                    opt("no", "没有")
                ));
            }
            _ => {}
        }
    }
    out.push_str(&format!(
        "<label class=\"field\"><span>手机号（必填）</span><input name=\"phone\" type=\"tel\" \
         required maxlength=\"20\" inputmode=\"tel\" autocomplete=\"tel\" value=\"{}\"></label>",
        esc(&a.phone)
    ));
    out.push_str(&format!(
        "<div class=\"consent\"><p>{}</p><label><input type=\"checkbox\" name=\"consent_general\" \
         value=\"v{}\" required> 我已阅读并同意上述个人信息处理规则（必选）</label></div>",
        esc(&form.consent_general.text),
        form.consent_general.version
    ));
    // The separate consent only when the form asks something sensitive (PIPL art. 29).
    if form.fields.iter().any(|f| SENSITIVE.contains(&f.as_str())) {
        out.push_str(&format!(
            "<div class=\"consent\"><p>{}</p><label><input type=\"checkbox\" \
             name=\"consent_sensitive\" value=\"v{}\"> 我单独同意处理我的敏感个人信息（收入、房产、车辆）</label></div>",
            esc(&form.consent_sensitive.text),
            form.consent_sensitive.version
        ));
    }
    out.push_str("<button type=\"submit\">提交申请</button></form>");
    out
}

/// The public form (no login; an inactive or unknown form is a 404 page).
pub async fn show(State(app): State<AppState>, Path(slug): Path<String>) -> Response {
    let found = app
        .blocking(move |app| {
            let f = app.leads().public_form(&slug)?;
            let t = app.leads().ticket(&f);
            Ok((f, t))
        })
        .await;
    match found {
        Ok((form, ticket)) => {
            let body = form_html(&form, &ticket, &Application::default(), None);
            page(StatusCode::OK, Some(&form), &form.title, &body)
        }
        Err(e) => refusal_page(None, &e),
    }
}

/// The keys of a JSON application ([`Application`]'s fields).
const JSON_KEYS: &[&str] = &[
    "name",
    "phone",
    "city",
    "amount",
    "purpose",
    "monthly_income",
    "has_property",
    "has_car",
    "consent_general",
    "consent_sensitive",
    "ticket",
    "website",
];

/// A JSON application: an object of the known keys, each a string; numbers are taken for the
/// amount and the income (whole numbers), booleans for the consents. Anything else is a 400
/// naming the key.
fn json_application(bytes: &[u8]) -> Result<Application, Error> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| Error::validation("body", "提交内容不是有效的 JSON"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(Error::validation("body", "提交内容应为 JSON 对象"));
    };
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        if !JSON_KEYS.contains(&k.as_str()) {
            return Err(Error::validation(k, "未知字段"));
        }
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) if matches!(k.as_str(), "amount" | "monthly_income") => {
                match n.as_i64() {
                    Some(i) => i.to_string(),
                    None => return Err(Error::validation(k, "请填写整数")),
                }
            }
            serde_json::Value::Bool(b) if k.starts_with("consent_") => b.to_string(),
            _ => return Err(Error::validation(k, "格式不正确，应为文字")),
        };
        out.insert(k, serde_json::Value::String(text));
    }
    serde_json::from_value(serde_json::Value::Object(out))
        .map_err(|_| Error::validation("body", "提交内容无法识别"))
}

fn status_and_message(e: &Error) -> (StatusCode, String) {
    match e {
        Error::NotFound => (StatusCode::NOT_FOUND, "该申请表不存在或已停用".into()),
        Error::Validation { reason, .. } => (StatusCode::BAD_REQUEST, reason.clone()),
        Error::Refused { message, .. } => (StatusCode::CONFLICT, message.clone()),
        Error::Throttled { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "提交次数过多，请 {} 分钟后再试",
                retry_after_secs.div_ceil(60)
            ),
        ),
        Error::Unavailable { message, .. } => (StatusCode::SERVICE_UNAVAILABLE, message.clone()),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "系统繁忙，请稍后再试".into(),
        ),
    }
}

fn refusal_page(form: Option<&Form>, e: &Error) -> Response {
    if matches!(e, Error::Internal(_)) {
        tracing::error!(error = %e, "application form");
    }
    let (status, message) = status_and_message(e);
    let back = form
        .map(|f| format!("<p><a href=\"/apply/{}\">重新填写</a></p>", esc(&f.slug)))
        .unwrap_or_default();
    let body = format!(
        "<h1>未能提交</h1><p class=\"error\" role=\"alert\">{}</p>{back}",
        esc(&message)
    );
    page(status, form, "未能提交", &body)
}

/// A visitor's application: HTML form post or JSON. Oversize bodies are refused (413) before
/// anything is read.
pub async fn submit(
    State(app): State<AppState>,
    Source(source): Source,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    submit_as(app, source, slug, json, body).await
}

/// The public submission under the API's base path (the contract's `POST
/// /api/v1/apply/{form}`): JSON in and out, otherwise exactly `POST /apply/{slug}` (no login,
/// the same anti-abuse checks; the ticket comes from the form's page).
#[utoipa::path(post, path = "/apply/{slug}", operation_id = "submit_application", tag = "leads",
    request_body = Application, responses(
    (status = 200, description = "Accepted", body = crate::service::leads::apply::Accepted),
    (status = 400, description = "A field is missing or wrong (`field` names it)", body = crate::http::error::ErrorBody),
    (status = 404, description = "No active form with this slug", body = crate::http::error::ErrorBody),
    (status = 409, description = "Refused: `apply_refused` (honeypot), `apply_too_fast`, `apply_ticket_invalid`, `consent_outdated` (a consent text changed after the page was served)", body = crate::http::error::ErrorBody),
    (status = 413, description = "Larger than `[leads] apply_body_limit_bytes`", body = crate::http::error::ErrorBody),
    (status = 429, description = "Too many submissions from this address or with this phone", body = crate::http::error::ErrorBody)))]
pub async fn submit_api(
    State(app): State<AppState>,
    Source(source): Source,
    Path(slug): Path<String>,
    body: Body,
) -> Response {
    submit_as(app, source, slug, true, body).await
}

async fn submit_as(
    app: AppState,
    source: String,
    slug: String,
    json: bool,
    body: Body,
) -> Response {
    let limit = usize::try_from(app.config.leads.apply_body_limit_bytes).unwrap_or(usize::MAX);
    let refuse = |status: StatusCode, code: &'static str, message: &str| -> Response {
        if json {
            ApiError::new(status, code, message.to_string()).into_response()
        } else {
            let body = format!(
                "<h1>未能提交</h1><p class=\"error\" role=\"alert\">{}</p>",
                esc(message)
            );
            page(status, None, "未能提交", &body)
        }
    };
    let Ok(bytes) = to_bytes(body, limit).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "apply_too_large",
            "提交内容过大",
        );
    };
    let parsed: Result<Application, Error> = if json {
        json_application(&bytes)
    } else {
        serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| Error::validation("body", "提交内容无法识别"))
    };
    let a = match parsed {
        Ok(a) => a,
        Err(e) if json => return ApiError::from(e).into_response(),
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "validation", "提交内容无法识别"),
    };
    let form = {
        let slug = slug.clone();
        app.blocking(move |app| app.leads().public_form(&slug))
            .await
    };
    let form = match form {
        Ok(f) => f,
        Err(e) if json => return ApiError::from(e).into_response(),
        Err(e) => return refusal_page(None, &e),
    };
    let kept = Application {
        name: a.name.clone(),
        phone: a.phone.clone(),
        city: a.city.clone(),
        amount: a.amount.clone(),
        purpose: a.purpose.clone(),
        monthly_income: a.monthly_income.clone(),
        has_property: a.has_property.clone(),
        has_car: a.has_car.clone(),
        ..Default::default()
    };
    let result = app
        .blocking(move |app| app.leads().submit(&slug, a, &source))
        .await;
    match result {
        Ok(ok) if json => axum::Json(ok).into_response(),
        Ok(_) => page(
            StatusCode::OK,
            Some(&form),
            "提交成功",
            "<h1>提交成功</h1><p class=\"done\">感谢您的申请，我们的顾问会尽快与您联系。</p>",
        ),
        Err(e) if json => ApiError::from(e).into_response(),
        // A form that can be corrected is shown again with the reason and the values; after a
        // consent text changed, with the new text to read and tick again.
        Err(
            e @ (Error::Validation { .. }
            | Error::Refused {
                code: "consent_outdated",
                ..
            }),
        ) => {
            let (status, message) = status_and_message(&e);
            let ticket = app.leads().ticket(&form);
            let body = form_html(&form, &ticket, &kept, Some(&message));
            page(status, Some(&form), &form.title, &body)
        }
        Err(e) => refusal_page(Some(&form), &e),
    }
}
