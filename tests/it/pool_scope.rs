//! Pool administration stays inside the administrator's data scope: a department manager with
//! `pool.manage` manages the pools of their department (and below), sees and hands out only
//! the customers waiting there, and sweeps only their own scope; a real sweep runs now.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASS: &str = common::TEAM_PASSWORD;

struct World {
    s: TestServer,
    pool_a: String,
    pool_b: String,
    firm: String,
    mgr_a: String,
    sales_a: String,
    sales_b: String,
}

async fn pool(admin: &Client, name: &str, dept: Option<&str>) -> String {
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": name, "department_id": dept, "settings": {"no_signing_days": null}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_string()
}

async fn world() -> World {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let a = common::add_department(&s, "一部", None);
    let b = common::add_department(&s, "二部", None);
    let mgr_a = common::add_user(&s, "mgr_a", &["manager"], Some(&a));
    let sales_a = common::add_user(&s, "sales_a", &["sales"], Some(&a));
    let sales_b = common::add_user(&s, "sales_b", &["sales"], Some(&b));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let firm = pool(&admin, "全公司公海", None).await;
    let pool_a = pool(&admin, "一部公海", Some(&a)).await;
    let pool_b = pool(&admin, "二部公海", Some(&b)).await;
    World {
        s,
        pool_a,
        pool_b,
        firm,
        mgr_a,
        sales_a,
        sales_b,
    }
}

async fn customer(admin: &Client, name: &str, phone: &str, owner: &str) -> String {
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": name, "phone": phone, "owner_id": owner, "grade": "D"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_department_manager_administers_only_the_pools_in_scope() {
    let w = world().await;
    let admin = w.s.login(ADMIN, ADMIN_PASSWORD).await;
    let sales_b = w.s.login("sales_b", PASS).await;
    let mgr = w.s.login("mgr_a", PASS).await;
    let waiting = customer(&admin, "二部客户", "13700137001", &w.sales_b).await;
    let (st, v) = sales_b
        .post(
            &format!("/api/v1/customers/{waiting}/release"),
            json!({"reason": "不需要"}),
        )
        .await;
    assert_eq!(
        (st, v["pool_id"].as_str()),
        (StatusCode::OK, Some(w.pool_b.as_str()))
    );

    // The pool list: their department's pool to manage, the firm pool to use, not 二部's.
    let (st, pools) = mgr.get("/api/v1/pools").await;
    assert_eq!(st, StatusCode::OK);
    let seen: Vec<(String, bool)> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pool"]["id"]
                    .as_str()
                    .or(p["id"].as_str())
                    .unwrap()
                    .to_string(),
                p["manage"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(seen.contains(&(w.pool_a.clone(), true)), "{pools}");
    assert!(seen.contains(&(w.firm.clone(), false)), "{pools}");
    assert!(!seen.iter().any(|(id, _)| id == &w.pool_b), "{pools}");

    // 二部's pool and the customer waiting in it are not there for them.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/pools/{}", w.pool_b), None),
        (
            Method::GET,
            format!("/api/v1/pools/{}/customers", w.pool_b),
            None,
        ),
        (Method::GET, format!("/api/v1/customers/{waiting}"), None),
        (
            Method::GET,
            format!("/api/v1/customers/{waiting}/timeline"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{waiting}/unmask"),
            Some(json!({"field": "phone"})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{waiting}/claim"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/pools/{}", w.pool_b),
            Some(json!({"settings": {"claim_daily_limit": 1}})),
        ),
        (Method::DELETE, format!("/api/v1/pools/{}", w.pool_b), None),
    ] {
        let (st, v) = mgr.call(method.clone(), &path, body).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{method} {path}: {v}");
    }
    let (st, v) = mgr
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [waiting], "to_user": w.mgr_a}),
        )
        .await;
    assert!(st.is_client_error(), "{st} {v}");
    let (_, c) = admin.get(&format!("/api/v1/customers/{waiting}")).await;
    assert_eq!(
        (c["owner_id"].as_str(), c["pool_id"].as_str()),
        (None, Some(w.pool_b.as_str())),
        "still waiting in 二部's pool"
    );
    let (_, found) = mgr.get("/api/v1/search?q=二部客户").await;
    assert_eq!(found["items"], json!([]), "{found}");

    // The firm-wide pool: used, not administered; no pool created outside their scope.
    let (st, v) = mgr
        .call(
            Method::PATCH,
            &format!("/api/v1/pools/{}", w.firm),
            Some(json!({"settings": {"claim_daily_limit": 1}})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = mgr
        .call(Method::DELETE, &format!("/api/v1/pools/{}", w.firm), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (_, depts) = admin.get("/api/v1/departments").await;
    let b = depts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "二部")
        .unwrap()["id"]
        .clone();
    for dept in [b, Value::Null] {
        let (st, v) = mgr
            .post(
                "/api/v1/pools",
                json!({"name": "新公海", "department_id": dept}),
            )
            .await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("department_id")),
            "{v}"
        );
    }
    // Their own pool they do administer.
    let (st, v) = mgr
        .call(
            Method::PATCH,
            &format!("/api/v1/pools/{}", w.pool_a),
            Some(json!({"name": "一部公海（新）"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    w.s.stop().await;
}

#[tokio::test]
async fn a_department_managers_sweep_touches_only_their_scope_and_runs_now() {
    let w = world().await;
    let admin = w.s.login(ADMIN, ADMIN_PASSWORD).await;
    let mine = customer(&admin, "一部客户", "13700137002", &w.sales_a).await;
    let theirs = customer(&admin, "二部客户", "13700137003", &w.sales_b).await;
    // Grade D is recalled after 7 days without follow-up.
    w.s.clock.advance(Duration::days(8));
    let admin = w.s.login(ADMIN, ADMIN_PASSWORD).await;
    let mgr = w.s.login("mgr_a", PASS).await;

    let (st, preview) = mgr
        .post("/api/v1/pools/sweep?dry_run=true", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{preview}");
    let ids: Vec<&str> = preview["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["customer_id"].as_str())
        .collect();
    assert_eq!(ids, vec![mine.as_str()], "{preview}");
    assert!(
        !preview.to_string().contains("二部客户") && !preview.to_string().contains(&w.pool_b),
        "nothing of 二部 in the preview: {preview}"
    );
    let (st, admin_preview) = admin
        .post("/api/v1/pools/sweep?dry_run=true", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(admin_preview["recalled"], 2, "{admin_preview}");

    // A real sweep at another instant is refused; now, it recalls 一部's customer only.
    let later = (w.s.app.now() + Duration::days(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .replace('+', "%2B");
    let (st, e) = mgr
        .post(
            &format!("/api/v1/pools/sweep?dry_run=false&as_of={later}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("as_of")),
        "{e}"
    );
    let (st, real) = mgr
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(
        (st, real["recalled"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{real}"
    );
    let (_, c) = admin.get(&format!("/api/v1/customers/{mine}")).await;
    assert_eq!(c["pool_id"].as_str(), Some(w.pool_a.as_str()));
    let (_, c) = admin.get(&format!("/api/v1/customers/{theirs}")).await;
    assert_eq!(
        c["owner_id"].as_str(),
        Some(w.sales_b.as_str()),
        "untouched: {c}"
    );

    // The firm's administrator sweeps everything.
    let (st, real) = admin
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(
        (st, real["recalled"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{real}"
    );
    let (_, c) = admin.get(&format!("/api/v1/customers/{theirs}")).await;
    assert_eq!(c["pool_id"].as_str(), Some(w.pool_b.as_str()));
    w.s.stop().await;
}

/// The pool page comes from the index and the counts from counters kept with every write:
/// both follow releases and claims, filters apply, and a page goes on after a cursor whose
/// customer has been claimed meanwhile.
#[tokio::test]
async fn pool_pages_and_counts_follow_claims() {
    let w = world().await;
    let admin = w.s.login(ADMIN, ADMIN_PASSWORD).await;
    let sales_a = w.s.login("sales_a", PASS).await;
    let mut ids = Vec::new();
    for (n, city) in [(1, "成都"), (2, "重庆"), (3, "成都")] {
        let id = customer(
            &admin,
            &format!("池客{n}"),
            &format!("1370013710{n}"),
            &w.sales_a,
        )
        .await;
        let (st, v) = admin
            .call(
                Method::PATCH,
                &format!("/api/v1/customers/{id}"),
                Some(json!({"city": city})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (st, v) = sales_a
            .post(
                &format!("/api/v1/customers/{id}/release"),
                json!({"reason": "放弃"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        ids.push(id);
    }
    let count = |pools: &Value, id: &str| {
        pools
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["customers"].as_u64().unwrap())
    };
    let (_, pools) = admin.get("/api/v1/pools").await;
    assert_eq!(count(&pools, &w.pool_a), Some(3), "{pools}");
    let page_path = |q: &str| format!("/api/v1/pools/{}/customers?{q}", w.pool_a);
    let (st, first) = sales_a.get(&page_path("limit=2")).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    assert_eq!(first["total"], 3);
    let got: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[0].as_str(), ids[1].as_str()]);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(cursor, ids[1]);
    // The cursor's customer is claimed; the next page still follows it.
    let mgr = w.s.login("mgr_a", PASS).await;
    let (st, v) = mgr
        .post(&format!("/api/v1/customers/{}/claim", ids[1]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, next) = sales_a
        .get(&page_path(&format!("limit=2&cursor={cursor}")))
        .await;
    assert_eq!(st, StatusCode::OK, "{next}");
    assert_eq!(next["items"][0]["id"], ids[2].as_str(), "{next}");
    assert_eq!(next["total"], 2);
    assert_eq!(next["next_cursor"], Value::Null);
    let (_, by_city) = sales_a.get(&page_path("city=成都")).await;
    assert_eq!(by_city["total"], 2, "{by_city}");
    let (_, pools) = admin.get("/api/v1/pools").await;
    assert_eq!(count(&pools, &w.pool_a), Some(2), "{pools}");
    // Deleting a waiting customer takes it off the count; a pool with customers stays.
    let (st, _) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, pools) = admin.get("/api/v1/pools").await;
    assert_eq!(count(&pools, &w.pool_a), Some(1), "{pools}");
    let (st, e) = admin
        .call(Method::DELETE, &format!("/api/v1/pools/{}", w.pool_a), None)
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pool_not_empty")),
        "{e}"
    );
    w.s.stop().await;
}
