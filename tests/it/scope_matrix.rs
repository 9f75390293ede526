//! The accounts issue's scenario table over HTTP: two departments (one with a sub-department),
//! a manager and a salesperson in each, an administrator. For every (caller, customer owner)
//! pair, read, list, export, duplicate check, reveal and reminders agree with the caller's
//! data scope, and out-of-scope single reads are 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TEAM_PASSWORD, TestServer, add_user, epoch};
use serde_json::json;
use zhudai::service::org::DepartmentInput;
use zhudai::service::org::users::Actor;

#[tokio::test]
async fn every_caller_and_owner_pair() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let op = Actor::Operator;
    let dept = |name: &str, parent: Option<&str>| {
        s.app
            .org()
            .create_department(
                &op,
                DepartmentInput {
                    name: name.into(),
                    parent_id: parent.map(String::from),
                },
                "t",
            )
            .unwrap()
            .id
    };
    let a = dept("成都一部", None);
    let a1 = dept("一部一组", Some(&a));
    let b = dept("成都二部", None);
    let people = [
        ("mgr_a", "manager", &a),
        ("sales_a", "sales", &a),
        ("sales_a1", "sales", &a1),
        ("mgr_b", "manager", &b),
        ("sales_b", "sales", &b),
    ];
    for (name, role, d) in people {
        add_user(&s, name, &[role], Some(d));
    }
    // Each person (and the admin) owns one customer, due for a follow-up today.
    let mut clients = BTreeMap::new();
    clients.insert(ADMIN.to_string(), s.login(ADMIN, ADMIN_PASSWORD).await);
    for (name, _, _) in people {
        clients.insert(name.to_string(), s.login(name, TEAM_PASSWORD).await);
    }
    let mut ids = BTreeMap::new();
    for (i, (owner, c)) in clients.iter().enumerate() {
        let (st, created) = c
            .post(
                "/api/v1/customers",
                json!({"name": format!("{owner}的客户"), "phone": format!("1380000{:04}", i)}),
            )
            .await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let next = epoch() + Duration::hours(3);
        let (st, _) = c
            .post(
                &format!("/api/v1/customers/{id}/followups"),
                json!({"kind": "call", "content": "回访", "next_at": next.to_rfc3339()}),
            )
            .await;
        assert_eq!(st, 201);
        ids.insert(owner.clone(), id);
    }
    let everyone: Vec<&str> = ids.keys().map(String::as_str).collect();
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        (ADMIN, everyone.clone()),
        ("mgr_a", vec!["mgr_a", "sales_a", "sales_a1"]),
        ("sales_a", vec!["sales_a"]),
        ("sales_a1", vec!["sales_a1"]),
        ("mgr_b", vec!["mgr_b", "sales_b"]),
        ("sales_b", vec!["sales_b"]),
    ]);
    for (caller, sees) in &expected {
        let c = &clients[*caller];
        let sees: BTreeSet<&str> = sees.iter().copied().collect();
        // Single reads, duplicate checks and reveals, per owner.
        for (owner, id) in &ids {
            let visible = sees.contains(owner.as_str());
            let (st, _) = c.get(&format!("/api/v1/customers/{id}")).await;
            assert_eq!(
                st.as_u16(),
                if visible { 200 } else { 404 },
                "{caller} reads {owner}'s customer"
            );
            let (st, _) = c.get(&format!("/api/v1/customers/{id}/timeline")).await;
            assert_eq!(
                st.as_u16(),
                if visible { 200 } else { 404 },
                "{caller} reads {owner}'s timeline"
            );
            let i = everyone.iter().position(|o| *o == owner).unwrap();
            let (_, d) = c
                .post(
                    "/api/v1/customers/check-duplicate",
                    json!({"phone": format!("1380000{:04}", i)}),
                )
                .await;
            assert_eq!(d["exists"], true);
            assert_eq!(
                d["matches"][0]["customer_id"].is_string(),
                visible,
                "{caller} checks {owner}'s phone: {d}"
            );
            if !visible {
                let (st, _) = c
                    .post(
                        &format!("/api/v1/customers/{id}/unmask"),
                        json!({"field": "phone"}),
                    )
                    .await;
                assert_eq!(st, 404, "{caller} reveals {owner}'s phone");
                let (st, _) = c
                    .call(
                        reqwest::Method::PATCH,
                        &format!("/api/v1/customers/{id}"),
                        Some(json!({"stars": 1})),
                    )
                    .await;
                assert_eq!(st, 404, "{caller} edits {owner}'s customer");
            }
        }
        // Lists.
        let (_, page) = c.get("/api/v1/customers?limit=200").await;
        let listed: BTreeSet<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                x["name"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches("的客户")
                    .to_string()
            })
            .collect();
        let want: BTreeSet<String> = sees.iter().map(|s| s.to_string()).collect();
        assert_eq!(listed, want, "{caller}'s list");
        assert_eq!(page["total"].as_u64().unwrap() as usize, want.len());
        // Exports (roles that may export).
        let r = c
            .http
            .get(format!("{}/api/v1/exports/customers?format=csv", c.base))
            .send()
            .await
            .unwrap();
        if caller.starts_with("sales") {
            assert_eq!(r.status(), 403, "{caller} cannot export");
        } else {
            let text = r.text().await.unwrap();
            let exported: BTreeSet<String> = text
                .lines()
                .skip(1)
                .map(|l| {
                    l.split(',')
                        .next()
                        .unwrap()
                        .trim_end_matches("的客户")
                        .to_string()
                })
                .collect();
            assert_eq!(exported, want, "{caller}'s export");
        }
        // Reminders are one's own follow-ups, whatever the scope.
        let (_, r) = c.get("/api/v1/reminders?due=today").await;
        let due: Vec<&str> = r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["customer"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(due, [format!("{caller}的客户")], "{caller}'s reminders");
    }
    s.stop().await;
}
