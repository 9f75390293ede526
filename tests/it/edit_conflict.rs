//! Probe finding 30: two people open 编辑 on the same customer; one saves 城市=天津滨海, the
//! other (dialog still showing 天津) saves 北京 and the first value was gone without a word. An
//! edit now carries the `updated_at` it was made on; on a changed record it is refused (409
//! `edit_conflict`) with the fields that changed, who changed them and the record as it is,
//! and goes through when the user overwrites on purpose. A client that sends no version keeps
//! the old behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn patch(c: &Client, id: &str, body: Value) -> (u16, Value) {
    let (st, v) = c
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(body),
        )
        .await;
    (st.as_u16(), v)
}

/// A salesperson and their manager in one department; the salesperson's new customer `body`.
async fn colleagues(body: Value) -> (TestServer, Client, Client, Value) {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "华东", None);
    common::add_user(&s, "wang", &["sales"], Some(&east));
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let wang = s.login("wang", TEAM_PASSWORD).await;
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let (st, c) = wang.post("/api/v1/customers", body).await;
    assert_eq!(st, 201, "{c}");
    (s, wang, boss, c)
}

#[tokio::test]
async fn an_edit_made_on_an_outdated_copy_is_refused_with_what_changed() {
    let (s, wang, boss, c) =
        colleagues(json!({"name": "赵津", "phone": "13912345670", "city": "天津"})).await;
    let id = c["id"].as_str().unwrap().to_string();
    // Both open the edit dialog on the same copy.
    let (_, seen) = boss.get(&format!("/api/v1/customers/{id}")).await;
    let read_at = seen["updated_at"].clone();
    assert_eq!(read_at, c["updated_at"]);

    let (st, v) = patch(
        &wang,
        &id,
        json!({"city": "天津滨海", "expected_updated_at": read_at}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // The answer's `updated_at` is the next version to send.
    let (st, again) = patch(
        &wang,
        &id,
        json!({"company": "滨海物流", "expected_updated_at": v["updated_at"]}),
    )
    .await;
    assert_eq!(st, 200, "{again}");
    // The administrator looks at the full number meanwhile (later, so it counts as after the
    // read): not a change, and not named as the one who changed it.
    s.clock.advance(chrono::Duration::seconds(5));
    let admin = s.login(common::ADMIN, common::ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post(
            &format!("/api/v1/customers/{id}/unmask"),
            json!({"field": "phone"}),
        )
        .await;
    assert_eq!(st, 200, "{r}");

    let (st, e) = patch(
        &boss,
        &id,
        json!({"city": "北京", "expected_updated_at": read_at}),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("edit_conflict")),
        "{e}"
    );
    let d = &e["error"]["details"];
    assert_eq!(d["fields"], json!(["city", "company"]), "{e}");
    assert_eq!(d["updated_by"], "wang", "{e}");
    assert_eq!(d["current"]["city"], "天津滨海", "{e}");
    assert_eq!(d["updated_at"], again["updated_at"], "{e}");
    assert_eq!(
        d["current"]["phone"], "139****5670",
        "masked as for a read: {e}"
    );
    let (_, now_is) = boss.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(now_is["city"], "天津滨海", "nothing was overwritten");

    // Overwriting on purpose: the version the conflict named.
    let (st, v) = patch(
        &boss,
        &id,
        json!({"city": "北京", "expected_updated_at": d["updated_at"]}),
    )
    .await;
    assert_eq!((st, v["city"].as_str()), (200, Some("北京")), "{v}");

    // No version sent: today's behaviour (the last save wins), for clients that predate it.
    let (st, v) = patch(&wang, &id, json!({"city": "天津"})).await;
    assert_eq!((st, v["city"].as_str()), (200, Some("天津")), "{v}");
    s.stop().await;
}

/// Review of probe finding 30: a follow-up or a deal's stage move changes the record with no
/// `customer.updated` entry, and the conflict named no field and nobody. It names what they
/// change (the next contact, the stage) and who did it.
#[tokio::test]
async fn a_follow_up_or_a_deals_stage_move_since_the_read_is_named_in_the_conflict() {
    let (s, wang, boss, c) =
        colleagues(json!({"name": "钱塘", "phone": "13912345671", "city": "杭州"})).await;
    let id = c["id"].as_str().unwrap().to_string();
    let read_at = c["updated_at"].clone();
    s.clock.advance(chrono::Duration::seconds(5));
    let (st, f) = wang
        .post(
            &format!("/api/v1/customers/{id}/followups"),
            json!({"kind": "call", "content": "电话沟通"}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    let (st, e) = patch(
        &boss,
        &id,
        json!({"city": "宁波", "expected_updated_at": read_at}),
    )
    .await;
    assert_eq!(st, 409, "{e}");
    let d = &e["error"]["details"];
    assert_eq!(d["fields"], json!(["next_followup_at"]), "{e}");
    assert_eq!(d["updated_by"], "wang", "{e}");

    // A deal moved far enough to move the customer's stage.
    let read_at = d["updated_at"].clone();
    let admin = s.login(common::ADMIN, common::ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    s.clock.advance(chrono::Duration::seconds(5));
    let (st, deal) = wang
        .post(
            "/api/v1/deals",
            json!({"customer_id": id, "product_id": p["id"], "amount_fen": 10_000_000,
                   "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{deal}");
    let (_, now_is) = boss.get(&format!("/api/v1/customers/{id}")).await;
    assert_ne!(
        now_is["updated_at"], read_at,
        "the deal moved the customer: {now_is}"
    );
    let (st, e) = patch(
        &boss,
        &id,
        json!({"city": "宁波", "expected_updated_at": read_at}),
    )
    .await;
    assert_eq!(st, 409, "{e}");
    let d = &e["error"]["details"];
    assert_eq!(d["fields"], json!(["stage"]), "{e}");
    assert_eq!(d["updated_by"], "wang", "{e}");
    assert_eq!(d["current"]["stage"], now_is["stage"], "{e}");
    s.stop().await;
}
