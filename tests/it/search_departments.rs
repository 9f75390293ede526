//! The search index files each customer under its owner's department (one term per
//! department instead of one per owner in a manager's query). Moving a salesperson to another
//! department, or a department under another parent, must move their customers in search and
//! in the list at once: the new manager finds and counts them, the old one no longer does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::collections::BTreeSet;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer, add_user};
use reqwest::Method;
use serde_json::{Value, json};
use zhudai::service::org::users::Actor;

use common::add_department as dept;

/// Names found by searching 迁移 (and the total), and the list's names and total: both must
/// agree, item for item.
async fn seen(c: &Client) -> BTreeSet<String> {
    let (st, found) = c.get("/api/v1/search?q=%E8%BF%81%E7%A7%BB").await;
    assert_eq!(st, 200, "{found}");
    let (st, listed) = c.get("/api/v1/customers?limit=100").await;
    assert_eq!(st, 200, "{listed}");
    let names = |v: &Value, path: &[&str]| -> BTreeSet<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                path.iter()
                    .fold(h, |v, k| &v[*k])
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let by_search = names(&found, &["customer", "name"]);
    let by_list = names(&listed, &["name"]);
    assert_eq!(
        found["total"].as_u64().unwrap() as usize,
        by_search.len(),
        "{found}"
    );
    assert_eq!(
        listed["total"].as_u64().unwrap() as usize,
        by_list.len(),
        "{listed}"
    );
    assert_eq!(by_search, by_list, "search and list disagree");
    by_search
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn moving_people_and_departments_moves_their_customers_in_search() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let a = dept(&s, "成都一部", None);
    let a1 = dept(&s, "一部一组", Some(&a));
    let b = dept(&s, "成都二部", None);
    s.app
        .org()
        .create_role(
            &Actor::Operator,
            serde_json::from_value(json!({"key": "team_lead", "name": "组长", "builtin": false,
                "capabilities": ["customer.read"], "scope": "department", "field_privileges": []}))
            .unwrap(),
            "test",
        )
        .unwrap();
    let mover = add_user(&s, "mover", &["sales"], Some(&a1));
    add_user(&s, "stayer", &["sales"], Some(&a1));
    add_user(&s, "mgr_a", &["manager"], Some(&a));
    add_user(&s, "lead_a1", &["team_lead"], Some(&a1));
    add_user(&s, "mgr_b", &["manager"], Some(&b));
    let login = |name: &'static str| s.login(name, TEAM_PASSWORD);
    let (mover_c, stayer_c) = (login("mover").await, login("stayer").await);
    for (c, name, phone) in [
        (&mover_c, "迁移甲", "13900000001"),
        (&mover_c, "迁移乙", "13900000002"),
        (&stayer_c, "迁移丙", "13900000003"),
    ] {
        let (st, v) = c
            .post("/api/v1/customers", json!({"name": name, "phone": phone}))
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let (mgr_a, lead_a1, mgr_b) = (
        login("mgr_a").await,
        login("lead_a1").await,
        login("mgr_b").await,
    );
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let all = set(&["迁移甲", "迁移乙", "迁移丙"]);
    assert_eq!(seen(&mgr_a).await, all);
    assert_eq!(seen(&lead_a1).await, all);
    assert!(seen(&mgr_b).await.is_empty());

    // The mover goes to department B: their two customers follow them.
    let (st, v) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{mover}"),
            Some(json!({"department_id": b})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(seen(&mgr_b).await, set(&["迁移甲", "迁移乙"]));
    assert_eq!(seen(&mgr_a).await, set(&["迁移丙"]));
    assert_eq!(seen(&lead_a1).await, set(&["迁移丙"]));
    assert_eq!(seen(&mover_c).await, set(&["迁移甲", "迁移乙"]));

    // 一部一组 moves under 成都二部: B's manager (department tree) now sees its customers, A's
    // manager does not; the team lead (own department only) is unaffected.
    let (st, v) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/departments/{a1}"),
            Some(json!({"parent_id": b})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(seen(&mgr_b).await, all);
    assert!(seen(&mgr_a).await.is_empty());
    assert_eq!(seen(&lead_a1).await, set(&["迁移丙"]));

    // And after a restart the index (reopened, not rebuilt) still agrees.
    let s = s.restart().await;
    let mgr_b = s.login("mgr_b", TEAM_PASSWORD).await;
    assert_eq!(seen(&mgr_b).await, all);
}
