//! The platform's HTTP contract: health, first-run setup, login/session/CSRF, error format,
//! security headers, OpenAPI, and the embedded web UI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_is_public_json_with_security_headers() {
    let s = TestServer::start(Fixture::Empty).await;
    let resp = reqwest::get(s.url("/api/v1/health")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-request-id"].len(), 26, "a ULID request id");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    s.stop().await;
}

#[tokio::test]
async fn first_run_setup_is_single_use_and_expires() {
    let s = TestServer::start(Fixture::Empty).await;
    let c = s.client();
    let token = s
        .app
        .access()
        .prepare_setup()
        .unwrap()
        .expect("no admin yet: a token");
    assert_eq!(c.get("/api/v1/setup").await.1, json!({"needed": true}));

    let good = json!({"token": token, "username": "boss", "display_name": "老板", "password": "a long enough pass"});
    // Table: body change → status, code, field.
    let cases = [
        (json!({"token": "wrong"}), 401, "setup_token_invalid", None),
        (
            json!({"username": "x"}),
            400,
            "validation",
            Some("username"),
        ),
        (
            json!({"password": "short"}),
            400,
            "validation",
            Some("password"),
        ),
        (
            json!({"display_name": " "}),
            400,
            "validation",
            Some("display_name"),
        ),
    ];
    for (change, status, code, field) in cases {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (st, b) = c.post("/api/v1/setup", body).await;
        assert_eq!(st.as_u16(), status, "{change}: {b}");
        assert_eq!(b["error"]["code"], code);
        assert_eq!(b["error"]["field"].as_str(), field);
    }
    let (st, b) = c.post("/api/v1/setup", good.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["user"]["roles"], json!(["admin"]));
    assert!(b["user"].get("password_hash").is_none());
    let (st, b) = c.post("/api/v1/setup", good).await;
    assert_eq!(
        (st.as_u16(), b["error"]["code"].as_str()),
        (409, Some("setup_done"))
    );
    assert_eq!(c.get("/api/v1/setup").await.1, json!({"needed": false}));
    assert!(
        s.app.access().prepare_setup().unwrap().is_none(),
        "no new link once an admin exists"
    );
    s.login("boss", "a long enough pass").await;
    s.stop().await;

    // Expiry: a token older than 30 minutes is refused.
    let s = TestServer::start(Fixture::Empty).await;
    let token = s.app.access().prepare_setup().unwrap().unwrap();
    s.clock.advance(Duration::minutes(31));
    let (st, b) = s
        .client()
        .post("/api/v1/setup", json!({"token": token, "username": "boss", "display_name": "老板", "password": "a long enough pass"}))
        .await;
    assert_eq!(
        (st.as_u16(), b["error"]["code"].as_str()),
        (401, Some("setup_token_invalid"))
    );
    s.stop().await;
}

#[tokio::test]
async fn login_session_csrf_logout() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let anon = s.client();
    let (st, b) = anon.get("/api/v1/me").await;
    assert_eq!(
        (st.as_u16(), b["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    // Unknown user and wrong password answer the same.
    for (user, pass) in [(ADMIN, "wrong password"), ("ghost", "wrong password")] {
        let (st, b) = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": user, "password": pass}),
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert_eq!(b["error"]["code"], "invalid_credentials");
        assert_eq!(b["error"]["message"], "用户名或密码错误");
    }

    let mut c = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, me) = c.get("/api/v1/me").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["user"]["username"], ADMIN);
    assert!(
        me["user"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("user.manage"))
    );
    assert_eq!(me["csrf_token"].as_str(), c.csrf.as_deref());

    // Mutating with the cookie but without (or with a wrong) CSRF token is refused.
    let csrf = c.csrf.take();
    let (st, b) = c.call(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(
        (st.as_u16(), b["error"]["code"].as_str()),
        (403, Some("csrf_rejected"))
    );
    c.csrf = Some("0".repeat(64));
    assert_eq!(
        c.call(Method::POST, "/api/v1/auth/logout", None).await.0,
        403
    );
    assert_eq!(
        c.get("/api/v1/me").await.0,
        200,
        "refused logout did nothing"
    );

    c.csrf = csrf;
    assert_eq!(
        c.call(Method::POST, "/api/v1/auth/logout", None).await.0,
        204
    );
    assert_eq!(c.get("/api/v1/me").await.0, 401);
    s.stop().await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_absolutely() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    s.clock.advance(Duration::minutes(29));
    assert_eq!(c.get("/api/v1/me").await.0, 200, "activity keeps it alive");
    s.clock.advance(Duration::minutes(29));
    assert_eq!(c.get("/api/v1/me").await.0, 200);
    s.clock.advance(Duration::minutes(31));
    assert_eq!(c.get("/api/v1/me").await.0, 401, "idle timeout");

    let c = s.login(ADMIN, ADMIN_PASSWORD).await;
    for _ in 0..25 {
        s.clock.advance(Duration::minutes(29));
        if c.get("/api/v1/me").await.0 != 200 {
            break;
        }
    }
    // 25 × 29 min > 12 h: the absolute limit ends it although it was never idle.
    assert_eq!(c.get("/api/v1/me").await.0, 401, "absolute timeout");
    s.stop().await;
}

#[tokio::test]
async fn api_errors_are_json_in_the_contract_format() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let c = s.client();
    let http = reqwest::Client::new();

    let (st, b) = c.get("/api/v1/no-such-thing").await;
    assert_eq!(
        (st.as_u16(), b["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let resp = http
        .post(s.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "bad_json"
    );

    let resp = http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let b: serde_json::Value = resp.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("缺少必填字段"),
        "{b}"
    );
    assert_eq!(b["error"]["field"], "password");

    let resp = http
        .post(s.url("/api/v1/auth/login"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    let huge = "x".repeat(3 * 1024 * 1024);
    let resp = http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": huge, "password": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );

    let resp = http.delete(s.url("/api/v1/health")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    s.stop().await;
}

#[tokio::test]
async fn openapi_document_describes_the_handlers() {
    let s = TestServer::start(Fixture::Empty).await;
    let doc: serde_json::Value = reqwest::get(s.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/v1/health", "get"),
        ("/api/v1/setup", "get"),
        ("/api/v1/setup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Every $ref points at a schema that exists.
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_string()),
                        _ => refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {r}"
        );
    }
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // A path parameter is one the path names (`{id}`); query options declared as path
            // parameters (required!) made generated clients unable to call the route.
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is declared in the path but is not in it"
                    );
                }
            }
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(
                ids.insert(id.clone()),
                "operationId {id} of {method} {path} is not unique"
            );
            for (status, resp) in op["responses"].as_object().unwrap() {
                assert!(
                    resp["description"].is_string(),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn web_ui_is_embedded_with_caching_and_spa_fallback() {
    let s = TestServer::start(Fixture::Empty).await;
    let http = reqwest::Client::new();
    let index = http.get(s.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let html = index.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\""));
    assert!(!html.contains("__ASSET_VERSION__"));
    let version = zhudai::web::asset_version();
    assert!(html.contains(&format!("/assets/{version}/app.js")));
    assert!(
        !html.contains("<script>") && !html.contains("onclick="),
        "no inline script"
    );

    // Client routes get the shell; file-like misses do not.
    for route in ["/login", "/setup", "/customers/01ABC", "/some/deep/route"] {
        let r = http.get(s.url(route)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{route}");
        assert!(r.text().await.unwrap().contains("/app.js"));
    }
    assert_eq!(
        http.get(s.url("/favicon.ico"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http.get(s.url(&format!("/assets/{version}/nope.js")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let js = http
        .get(s.url(&format!("/assets/{version}/app.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
            || js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/javascript")
    );
    assert_eq!(
        js.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = js.headers()["etag"].clone();
    let again = http
        .get(s.url(&format!("/assets/{version}/app.js")))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let css = http
        .get(s.url(&format!("/assets/{version}/styles.css")))
        .send()
        .await
        .unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let stale = http
        .get(s.url("/assets/000000000000/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.headers()["cache-control"],
        "no-cache",
        "old versions are not pinned"
    );
    s.stop().await;
}
