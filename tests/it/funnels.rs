//! The customer funnel: counted in the transaction of each stage change, read over a period and
//! the caller's scope; passing through counts, backwards does not, time in stage by its median.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn create(c: &Client, name: &str, phone: &str, stage: &str) -> String {
    let (st, v) = c
        .post(
            "/api/v1/customers",
            json!({"name": name, "phone": phone, "stage": stage}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn stage(c: &Client, id: &str, to: &str) {
    let (st, v) = c
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"stage": to})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

fn reached(f: &Value) -> Vec<u64> {
    f["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reached"].as_u64().unwrap())
        .collect()
}

fn stage_of<'a>(f: &'a Value, name: &str) -> &'a Value {
    f["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap()
}

#[tokio::test]
async fn the_customer_funnel_counts_reached_stages_over_my_scope_and_period() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    common::add_user(&s, "xiao", &["sales"], None);
    common::add_user(&s, "da", &["sales"], None);
    let mut xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    let day = chrono::Duration::days(1);

    // 2026-11-20: two leads for xiao, one qualified customer for da.
    let a = create(&xiao, "甲", "13800000001", "lead").await;
    let b = create(&xiao, "乙", "13800000002", "lead").await;
    create(&da, "丙", "13800000003", "qualified").await;
    stage(&xiao, &b, "lost").await;
    s.clock.advance(day);
    // Sessions end after a day without use: log in again after each jump of the clock.
    xiao = s.login("xiao", TEAM_PASSWORD).await;
    // 11-21: A contacted (1 day as a lead).
    stage(&xiao, &a, "contacted").await;
    s.clock.advance(day * 3);
    xiao = s.login("xiao", TEAM_PASSWORD).await;
    let (da, admin) = (
        s.login("da", TEAM_PASSWORD).await,
        s.login(ADMIN, ADMIN_PASSWORD).await,
    );
    // 11-24: A signed, passing qualified, invited, visited (3 days contacted); then back to
    // visited, which counts nothing.
    stage(&xiao, &a, "signed").await;
    stage(&xiao, &a, "visited").await;

    let url = "/api/v1/funnels/customers?from=2026-11-01&to=2026-11-30";
    let (st, f) = xiao.get(url).await;
    assert_eq!(st, 200, "{f}");
    // lead, contacted, qualified, invited, visited, signed, won
    assert_eq!(reached(&f), [2, 1, 1, 1, 1, 1, 0], "{f}");
    assert_eq!(f["outcomes"], json!({"lost": 1}));
    assert_eq!(
        stage_of(&f, "lead")["conversion_bp"],
        5000,
        "1 of 2 leads contacted"
    );
    assert_eq!(stage_of(&f, "signed")["conversion_bp"], 0);
    assert!(stage_of(&f, "won")["conversion_bp"].is_null());
    // Leads left after 0 days (B, lost) and 1 day (A): the lower middle is 0.
    assert_eq!(stage_of(&f, "lead")["left"], 2);
    assert_eq!(stage_of(&f, "lead")["median_days"], 0);
    assert_eq!(stage_of(&f, "contacted")["median_days"], 3, "{f}");
    assert_eq!(stage_of(&f, "signed")["left"], 1, "moved back to visited");
    assert!(f["counting_since"].is_string(), "{f}");

    let (_, f) = da.get(url).await;
    assert_eq!(
        reached(&f),
        [1, 1, 1, 0, 0, 0, 0],
        "created at qualified passes lead and contacted: {f}"
    );
    let (_, f) = admin.get(url).await;
    assert_eq!(
        reached(&f),
        [3, 2, 2, 1, 1, 1, 0],
        "the admin sees everyone: {f}"
    );

    // November whole is read from the month rollups; split, from the day counters; a period
    // from mid-October to the end of December from days, a month, a month: all agree.
    let month = reached(&admin.get(url).await.1);
    let early = reached(
        &admin
            .get("/api/v1/funnels/customers?from=2026-11-01&to=2026-11-21")
            .await
            .1,
    );
    let late = reached(
        &admin
            .get("/api/v1/funnels/customers?from=2026-11-22&to=2026-11-30")
            .await
            .1,
    );
    let split: Vec<u64> = early.iter().zip(&late).map(|(a, b)| a + b).collect();
    assert_eq!(split, month, "day counters and month rollups agree");
    let (_, wide) = admin
        .get("/api/v1/funnels/customers?from=2026-10-15&to=2026-12-31")
        .await;
    assert_eq!(reached(&wide), month, "{wide}");
    assert_eq!(wide["outcomes"], json!({"lost": 1}));
    assert_eq!(stage_of(&wide, "contacted")["median_days"], 3, "{wide}");

    // A period from 11-22: only A's jump to signed.
    let (_, f) = xiao
        .get("/api/v1/funnels/customers?from=2026-11-22&to=2026-11-30")
        .await;
    assert_eq!(reached(&f), [0, 0, 1, 1, 1, 1, 0], "{f}");

    let (st, e) = xiao.get("/api/v1/funnels/customers?from=2026-13-01").await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("from")));
    let (st, e) = xiao
        .get("/api/v1/funnels/customers?from=2026-11-30&to=2026-11-01")
        .await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("to")));
}
