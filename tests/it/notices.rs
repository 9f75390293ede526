//! Issue 17.5: a customer given to a salesperson — by their manager, by an import — shows up in
//! their notices (the UI's bell polls `GET /notices?after=<cursor>`); taking or creating one's
//! own customer is no notice; a customer given on again drops out of the old owner's list.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;
use crate::import::upload;

use common::{Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["customer_name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_assigned_customer_reaches_the_salesperson_and_the_cursor_advances() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let team = common::add_department(&s, "销售一部", None);
    let li = common::add_user(&s, "li", &["manager"], Some(&team));
    let wu = common::add_user(&s, "wu", &["sales"], Some(&team));
    let manager = s.login("li", TEAM_PASSWORD).await;
    let sales = s.login("wu", TEAM_PASSWORD).await;

    let (st, first) = sales.get("/api/v1/notices").await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(
        (first["latest"].as_u64(), names(&first).len()),
        (Some(0), 0)
    );

    // One's own new customer is no notice.
    let (st, _) = sales
        .post(
            "/api/v1/customers",
            json!({"name": "自己的", "phone": "13800000020"}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, list) = sales.get("/api/v1/notices").await;
    assert_eq!(list["latest"], 0, "{list}");

    // The manager gives one to wu: it is in wu's notices, with who gave it.
    let (st, c) = manager
        .post(
            "/api/v1/customers",
            json!({"name": "刘一", "phone": "13800000021"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let liu = c["id"].as_str().unwrap().to_string();
    let (st, moved) = manager
        .post(
            &format!("/api/v1/customers/{liu}/transfer"),
            json!({"to_user": wu}),
        )
        .await;
    assert_eq!(st, 200, "{moved}");
    let (_, list) = sales.get("/api/v1/notices?after=0").await;
    assert_eq!(names(&list), ["刘一"], "{list}");
    assert_eq!(list["items"][0]["by_name"], "li");
    assert_eq!(list["items"][0]["customer_id"], liu.as_str());
    assert_eq!(list["latest"], 1);
    // The cursor advances: nothing new after it; the manager has no notice of their own.
    let (_, list) = sales.get("/api/v1/notices?after=1").await;
    assert_eq!((names(&list).len(), list["latest"].as_u64()), (0, Some(1)));
    let (_, mine) = manager.get("/api/v1/notices").await;
    assert_eq!(mine["latest"], 0, "creating one's own customer: {mine}");

    // An import naming wu as the owner of a row: one more notice, after the cursor.
    let csv = "姓名,手机号,负责人\n王二,13800000022,wu\n";
    let (st, r) = upload(&manager, "", csv.as_bytes().to_vec()).await;
    assert_eq!((st, r["created"].as_u64()), (200, Some(1)), "{r}");
    let (_, list) = sales.get("/api/v1/notices?after=1").await;
    assert_eq!(names(&list), ["王二"], "{list}");
    assert_eq!(list["latest"], 2);

    // Given back to the manager: 刘一 is no longer in wu's list.
    let (st, _) = manager
        .post(
            &format!("/api/v1/customers/{liu}/transfer"),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, list) = sales.get("/api/v1/notices").await;
    assert_eq!(names(&list), ["王二"], "{list}");
    let (_, mine) = manager.get("/api/v1/notices").await;
    assert_eq!(
        mine["latest"], 0,
        "taking one back oneself is no notice: {mine}"
    );
    s.stop().await;
}

/// The bell polls every 10 s: that must not keep an unattended tab signed in past the idle
/// timeout (30 min by default), while a real request still does.
#[tokio::test]
async fn polling_the_notices_is_not_session_activity() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    common::add_user(&s, "wu", &["sales"], None);
    let sales = s.login("wu", TEAM_PASSWORD).await;
    for _ in 0..3 {
        s.clock.advance(chrono::Duration::minutes(10));
        assert_eq!(sales.get("/api/v1/notices").await.0, 200);
    }
    // 31 minutes of polls and nothing else: signed out.
    s.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(sales.get("/api/v1/me").await.0, 401);

    let sales = s.login("wu", TEAM_PASSWORD).await;
    s.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(sales.get("/api/v1/me").await.0, 200, "real activity");
    s.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(
        sales.get("/api/v1/notices").await.0,
        200,
        "within the idle time"
    );
    s.stop().await;
}
