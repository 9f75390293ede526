//! Fixes made while on the plugins (issue 15, item 8): a partial PATCH of a pool's settings
//! changes only what is sent, POST /setup logs the new administrator in, and GET /reminders
//! without `due` names the missing field.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_partial_pool_settings_patch_changes_only_what_is_sent() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海", "settings": {"max_owned": 77, "claim_daily_limit": 9,
                   "no_followup_days": {"A": 40, "default": 12}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/v1/pools/{id}");
    let (st, p) = admin
        .call(
            Method::PATCH,
            &path,
            Some(json!({"settings": {"claim_daily_limit": 3, "no_followup_days": {"B": 8}}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    let settings = &p["settings"];
    assert_eq!(settings["claim_daily_limit"], 3, "{p}");
    assert_eq!(settings["max_owned"], 77, "unsent settings stay: {p}");
    assert_eq!(settings["no_followup_days"]["A"], 40, "{p}");
    assert_eq!(settings["no_followup_days"]["B"], 8, "{p}");
    assert_eq!(settings["no_followup_days"]["default"], 12, "{p}");
    let (st, e) = admin
        .call(
            Method::PATCH,
            &path,
            Some(json!({"settings": {"max_own": 3}})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["field"], "settings.max_own");
}

#[tokio::test]
async fn setup_answers_with_a_logged_in_session_like_login() {
    let s = TestServer::start(Fixture::Empty).await;
    let token = s.app.access().prepare_setup().unwrap().unwrap();
    let mut c = s.client();
    let (st, b) = c
        .post(
            "/api/v1/setup",
            json!({"token": token, "username": "boss", "display_name": "老板",
                   "password": "a long enough pass"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let csrf = b["csrf_token"].as_str().expect("a CSRF token").to_string();
    // The cookie came with it: the same client is logged in.
    let (st, me) = c.get("/api/v1/me").await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["username"], "boss");
    // And may change things with the token, as after a login.
    c.csrf = Some(csrf);
    let (st, d) = c
        .post("/api/v1/departments", json!({"name": "直播部"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{d}");
}

#[tokio::test]
async fn reminders_without_due_name_the_missing_field() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, e) = admin.get("/api/v1/reminders").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["field"], "due", "{e}");
    let (st, _) = admin.get("/api/v1/reminders?due=today").await;
    assert_eq!(st, StatusCode::OK);
}
