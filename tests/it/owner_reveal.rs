//! Issue 17.1: a salesperson reveals the phone of their OWN customers (`phone.view_own`, the
//! built-in 业务员 role, 200 a day), one reveal at a time, audited; not a customer they only
//! see (waiting in a pool they are a member of), not the ID number, never without the grant.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

const PASS: &str = common::TEAM_PASSWORD;

#[tokio::test]
async fn a_salesperson_reveals_the_phone_of_their_own_customers_only() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let xiao_id = common::add_user(&s, "xiao", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "公司公海", "department_id": null, "settings": {}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let xiao = s.login("xiao", PASS).await;
    let (st, c) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "赵六", "phone": "13912345678"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let unmask = format!("/api/v1/customers/{id}/unmask");

    let (st, r) = xiao.post(&unmask, json!({"field": "phone"})).await;
    assert_eq!(
        (st, r["value"].as_str(), r["remaining_today"].as_u64()),
        (StatusCode::OK, Some("13912345678"), Some(199)),
        "own customer: revealed, counted against 200 a day"
    );

    // Released into the pool: xiao still reads it (pool member) but no longer owns it.
    let (st, e) = xiao
        .post(
            &format!("/api/v1/customers/{id}/release"),
            json!({"reason": "暂无需求"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_eq!(xiao.get(&format!("/api/v1/customers/{id}")).await.0, 200);
    let (st, e) = xiao.post(&unmask, json!({"field": "phone"})).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "a customer waiting in the pool is not theirs: masked"
    );
    // Handed back by the admin: theirs again.
    let (st, e) = admin
        .post(
            &format!("/api/v1/customers/{id}/transfer"),
            json!({"to_user": xiao_id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_eq!(xiao.post(&unmask, json!({"field": "phone"})).await.0, 200);

    // The quota is the role's: cut to 2 a day, the third reveal is refused.
    let (st, _) = admin
        .call(
            Method::PATCH,
            "/api/v1/roles/sales",
            Some(json!({"daily_reveal_quota": 2})),
        )
        .await;
    assert_eq!(st, 200);
    let xiao = s.login("xiao", PASS).await;
    let (st, e) = xiao.post(&unmask, json!({"field": "phone"})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("reveal_quota_exceeded"))
    );

    // Without the grant (a firm that tightens it): masked only.
    let (st, _) = admin
        .call(
            Method::PATCH,
            "/api/v1/roles/sales",
            Some(json!({"field_privileges": [], "daily_reveal_quota": 200})),
        )
        .await;
    assert_eq!(st, 200);
    let xiao = s.login("xiao", PASS).await;
    assert_eq!(
        xiao.post(&unmask, json!({"field": "phone"})).await.0,
        403,
        "the grant removed: no reveal"
    );

    let (_, audit) = admin.get("/api/v1/audit?action=customer.revealed").await;
    let bases: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"]["basis"].as_str().unwrap())
        .collect();
    assert_eq!(
        bases, ["phone.view_own"; 2],
        "each successful reveal audited with its basis"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_built_in_salesperson_role_grants_own_phones_with_a_quota() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, roles) = admin.get("/api/v1/roles").await;
    let sales = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "sales")
        .unwrap();
    assert_eq!(sales["field_privileges"], json!(["phone.view_own"]));
    assert_eq!(sales["daily_reveal_quota"], 200);
    s.stop().await;
}

/// Schema 14: an existing install's salesperson role gains `phone.view_own` (200 a day) when it
/// still has its seeded defaults; a role the firm changed is left alone.
#[tokio::test]
async fn the_upgrade_grants_own_phones_to_an_unchanged_salesperson_role_only() {
    use redb::{ReadableTable, TableDefinition};
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    const ROLES: TableDefinition<&str, &[u8]> = TableDefinition::new("roles");
    let role_after = |seeded: Option<u32>| async move {
        let s = TestServer::start(Fixture::WithAdmin).await;
        let data = s.stop().await;
        let path = data.path().join("zhudai.redb");
        {
            // Back to schema 13 with the salesperson role as 13 seeded it (or as a firm set it).
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut roles = tx.open_table(ROLES).unwrap();
                let mut sales: serde_json::Value = {
                    let v = roles.get("sales").unwrap().unwrap();
                    serde_json::from_slice(&v.value()[1..]).unwrap()
                };
                sales["field_privileges"] = json!([]);
                sales["daily_reveal_quota"] = json!(seeded);
                let mut bytes = vec![1u8];
                bytes.extend(serde_json::to_vec(&sales).unwrap());
                roles.insert("sales", bytes.as_slice()).unwrap();
                tx.open_table(META)
                    .unwrap()
                    .insert("schema_version", 13)
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let store = common::open_keyed(data.path(), &path);
        store
            .read(zhudai::store::org::roles)
            .unwrap()
            .into_iter()
            .find(|r| r.key == "sales")
            .unwrap()
    };
    let upgraded = role_after(None).await;
    assert_eq!(
        (
            upgraded
                .field_privileges
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
            upgraded.daily_reveal_quota
        ),
        (vec!["phone.view_own"], Some(200))
    );
    let kept = role_after(Some(10)).await;
    assert_eq!(
        (kept.field_privileges.len(), kept.daily_reveal_quota),
        (0, Some(10)),
        "a role the firm changed is not touched"
    );
}

/// A user with both the manager and the salesperson roles: full reveals keep the manager's 50
/// a day (the salesperson role's 200 is for their own customers' phones, counted apart).
#[tokio::test]
async fn a_salesperson_role_does_not_raise_a_managers_full_reveal_quota() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    common::add_user(&s, "lead", &["manager", "sales"], None);
    let lead = s.login("lead", PASS).await;
    let (st, c) = lead
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13712345678", "id_number": "11010519491231002X"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let unmask = format!("/api/v1/customers/{}/unmask", c["id"].as_str().unwrap());
    let (st, r) = lead.post(&unmask, json!({"field": "phone"})).await;
    assert_eq!(
        (st, r["remaining_today"].as_u64()),
        (StatusCode::OK, Some(49)),
        "a full reveal (phone.view_full) counts against the manager's 50"
    );
    s.stop().await;
}
