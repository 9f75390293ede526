//! Departments, roles and data scopes: who sees whose records (the scenario table of the
//! accounts issue), the admin API for the organisation, and API tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::collections::BTreeSet;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use serde_json::{Value, json};
use zhudai::service::Error;
use zhudai::service::access::scope::Owned;
use zhudai::service::org::DepartmentInput;
use zhudai::service::org::users::Actor;

/// A minimal owned record: what customers, deals and reminders will look like to the scope.
struct Record {
    owner: Option<String>,
    collaborators: Vec<String>,
    label: &'static str,
}

impl Owned for Record {
    fn owner_id(&self) -> Option<&str> {
        self.owner.as_deref()
    }
    fn collaborators(&self) -> &[String] {
        &self.collaborators
    }
}

const PASS: &str = common::TEAM_PASSWORD;

fn add_user(s: &TestServer, name: &str, roles: &[&str], dept: Option<&str>) -> String {
    common::add_user(s, name, roles, dept)
}

fn user_id(s: &TestServer, name: &str) -> String {
    s.app
        .store
        .read(|tx| zhudai::store::users::find_by_username(tx, name))
        .unwrap()
        .unwrap()
        .id
}

fn dept(s: &TestServer, name: &str, parent: Option<&str>) -> String {
    s.app
        .org()
        .create_department(
            &Actor::Operator,
            DepartmentInput {
                name: name.into(),
                parent_id: parent.map(String::from),
            },
            "test",
        )
        .unwrap()
        .id
}

#[tokio::test]
async fn every_caller_sees_exactly_their_scope() {
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
    let admin = user_id(&s, ADMIN);
    let ids = [
        ("mgr_a", add_user(&s, "mgr_a", &["manager"], Some(&a))),
        ("lead_a", add_user(&s, "lead_a", &["team_lead"], Some(&a))),
        ("sales_a", add_user(&s, "sales_a", &["sales"], Some(&a))),
        ("sales_a1", add_user(&s, "sales_a1", &["sales"], Some(&a1))),
        ("mgr_b", add_user(&s, "mgr_b", &["manager"], Some(&b))),
        ("sales_b", add_user(&s, "sales_b", &["sales"], Some(&b))),
        ("finance", add_user(&s, "finance", &["finance"], None)),
        ("loner", add_user(&s, "loner", &["manager"], None)),
    ];
    let id = |n: &str| ids.iter().find(|(k, _)| *k == n).unwrap().1.clone();
    let mut records: Vec<Record> = ids
        .iter()
        .map(|(name, uid)| Record {
            owner: Some(uid.clone()),
            collaborators: vec![],
            label: name,
        })
        .collect();
    records.push(Record {
        owner: Some(admin.clone()),
        collaborators: vec![],
        label: "admin",
    });
    records.push(Record {
        owner: Some(id("sales_b")),
        collaborators: vec![id("sales_a")],
        label: "b_shared_with_a",
    });
    records.push(Record {
        owner: None,
        collaborators: vec![],
        label: "pool",
    });

    let all: Vec<&str> = records.iter().map(|r| r.label).collect();
    // (caller, labels of the records they see)
    let table: Vec<(&str, Vec<&str>)> = vec![
        (ADMIN, all.clone()),
        ("finance", all.clone()),
        ("mgr_a", vec!["mgr_a", "lead_a", "sales_a", "sales_a1"]),
        ("lead_a", vec!["mgr_a", "lead_a", "sales_a"]),
        ("sales_a", vec!["sales_a", "b_shared_with_a"]),
        ("sales_a1", vec!["sales_a1"]),
        ("mgr_b", vec!["mgr_b", "sales_b", "b_shared_with_a"]),
        ("sales_b", vec!["sales_b", "b_shared_with_a"]),
        ("loner", vec!["loner"]),
    ];
    for (caller_name, expected) in table {
        let password = if caller_name == ADMIN {
            ADMIN_PASSWORD
        } else {
            PASS
        };
        let token = s
            .app
            .access()
            .login(caller_name, password, "test")
            .unwrap()
            .token;
        let caller = s.app.access().authenticate_session(&token).unwrap();
        let scope = s.app.scope_of(&caller).unwrap();
        let seen: BTreeSet<&str> = records
            .iter()
            .filter(|r| scope.can_see(*r))
            .map(|r| r.label)
            .collect();
        let expected: BTreeSet<&str> = expected.into_iter().collect();
        assert_eq!(seen, expected, "{caller_name}");
        // Single reads of what is not visible are "not found", exactly like absent records.
        for r in &records {
            let copy = Record {
                owner: r.owner.clone(),
                collaborators: r.collaborators.clone(),
                label: r.label,
            };
            let got = scope.check(Some(copy));
            assert_eq!(
                got.is_ok(),
                expected.contains(r.label),
                "{caller_name} reading {}",
                r.label
            );
            if let Err(e) = got {
                assert!(matches!(e, Error::NotFound));
            }
        }
    }

    // Moving a user moves their records' visibility with them, at the next request.
    s.app
        .org()
        .update_user(
            &Actor::Operator,
            &id("sales_b"),
            zhudai::service::org::users::UserPatch {
                department_id: Some(a1.clone()),
                ..Default::default()
            },
            "test",
        )
        .unwrap();
    let caller = s
        .app
        .access()
        .authenticate_session(&s.app.access().login("mgr_a", PASS, "test").unwrap().token)
        .unwrap();
    let scope = s.app.scope_of(&caller).unwrap();
    assert!(scope.owner_filter().unwrap().contains(&id("sales_b")));
    s.stop().await;
}

#[tokio::test]
async fn organisation_api_for_admins_only() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, a) = admin
        .post("/api/v1/departments", json!({"name": "成都一部"}))
        .await;
    assert_eq!(st, 201, "{a}");
    let a_id = a["id"].as_str().unwrap().to_string();
    let (st, a1) = admin
        .post(
            "/api/v1/departments",
            json!({"name": "一组", "parent_id": a_id}),
        )
        .await;
    assert_eq!(st, 201);
    let a1_id = a1["id"].as_str().unwrap().to_string();
    let (st, e) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/departments/{a_id}"),
            Some(json!({"name": "成都一部", "parent_id": a1_id})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("parent_id")),
        "no cycles"
    );
    let (st, e) = admin
        .post("/api/v1/departments", json!({"name": "成都一部"}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("department_exists"))
    );
    // Renaming keeps the parent unless one is given; a sibling's name is refused.
    let (_, a2) = admin
        .post(
            "/api/v1/departments",
            json!({"name": "二组", "parent_id": a_id}),
        )
        .await;
    let a2_id = a2["id"].as_str().unwrap();
    let (st, r) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/departments/{a2_id}"),
            Some(json!({"name": "二组（新）"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), r["parent_id"].as_str()),
        (200, Some(a_id.as_str())),
        "a rename is not a move"
    );
    let (st, e) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/departments/{a2_id}"),
            Some(json!({"name": "一组"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("department_exists"))
    );
    let (st, r) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/departments/{a2_id}"),
            Some(json!({"parent_id": null})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), r["parent_id"].is_null()),
        (200, true),
        "null moves it to the top"
    );

    let (st, u) = admin
        .post("/api/v1/users", json!({"username": "xiao.li", "display_name": "小李", "roles": ["sales"], "password": PASS, "department_id": a1_id}))
        .await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(u["department_id"], a1_id.as_str());
    assert!(u.get("password_hash").is_none());
    let (st, e) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/departments/{a1_id}"),
            None,
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("department_not_empty"))
    );

    // A sales user reads departments and roles but manages nothing.
    let sales = s.login("xiao.li", PASS).await;
    assert_eq!(sales.get("/api/v1/departments").await.0, 200);
    let (st, roles) = sales.get("/api/v1/roles").await;
    assert_eq!(st, 200);
    assert!(
        roles["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("customer.export"))
    );
    let sales_role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "sales")
        .unwrap();
    assert_eq!(sales_role["scope"], "self");
    for (method, path, body) in [
        (reqwest::Method::GET, "/api/v1/users".to_string(), None),
        (
            reqwest::Method::POST,
            "/api/v1/departments".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/roles/sales".to_string(),
            Some(json!({"scope": "all"})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/departments/{a_id}"),
            None,
        ),
    ] {
        let (st, e) = sales.call(method.clone(), &path, body).await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
    }

    // Roles: a firm's own role, edits, and the guards.
    let (st, r) = admin
        .post("/api/v1/roles", json!({"key": "team_lead", "name": "组长", "builtin": true, "capabilities": ["customer.read", "report.view"], "scope": "department", "field_privileges": ["phone.view_full"], "daily_reveal_quota": 20}))
        .await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["builtin"], false, "clients cannot create built-ins");
    let (st, r) = admin
        .post("/api/v1/roles", json!({"key": "viewer", "name": "只读"}))
        .await;
    assert_eq!(
        (st.as_u16(), r["scope"].as_str()),
        (201, Some("self")),
        "key and name are enough: {r}"
    );
    let (st, e) = admin.post("/api/v1/roles", json!({"key": "bad", "name": "x", "builtin": false, "capabilities": ["nope"], "scope": "all", "field_privileges": []})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("capabilities"))
    );
    let (st, e) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "bad", "name": "x", "field_privileges": ["phone.peek"]}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("field_privileges")),
        "{e}"
    );
    for (patch, field) in [
        (json!({"capabilities": ["customer.fly"]}), "capabilities"),
        (
            json!({"field_privileges": ["phone.peek"]}),
            "field_privileges",
        ),
    ] {
        let (st, e) = admin
            .call(reqwest::Method::PATCH, "/api/v1/roles/sales", Some(patch))
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some(field)),
            "{e}"
        );
    }
    let (st, e) = admin
        .call(
            reqwest::Method::PATCH,
            "/api/v1/roles/admin",
            Some(json!({"capabilities": ["customer.read"]})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("admin_role_locked"))
    );
    let (st, e) = admin
        .call(reqwest::Method::DELETE, "/api/v1/roles/sales", None)
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("builtin_role"))
    );
    let uid = u["id"].as_str().unwrap();
    let (st, _) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{uid}"),
            Some(json!({"roles": ["team_lead"]})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, me) = sales.get("/api/v1/me").await;
    assert!(
        me["user"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("report.view")),
        "new role applies at the next request"
    );
    let (st, e) = admin
        .call(reqwest::Method::DELETE, "/api/v1/roles/team_lead", None)
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("role_in_use"))
    );

    // The last administrator cannot be disabled or demoted.
    let (_, me) = admin.get("/api/v1/me").await;
    let admin_id = me["user"]["id"].as_str().unwrap();
    for patch in [json!({"status": "disabled"}), json!({"roles": ["sales"]})] {
        let (st, e) = admin
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/users/{admin_id}"),
                Some(patch),
            )
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (422, Some("last_admin"))
        );
    }
    let (_, audit) = admin.get("/api/v1/audit?limit=100").await;
    let actions: BTreeSet<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "department.created",
        "user.created",
        "role.created",
        "user.updated",
    ] {
        assert!(actions.contains(a), "{a} audited: {actions:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn api_tokens_carry_their_user_and_can_be_revoked() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    add_user(&s, "pbx", &["service"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let pbx_id = user_id(&s, "pbx");
    let (st, t) = admin
        .post(
            "/api/v1/tokens",
            json!({"name": "呼叫中心", "user_id": pbx_id, "expires_in_days": 30}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let secret = t["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("zd_"));
    let bearer = |path: &str| {
        let http = reqwest::Client::new();
        let url = s.url(path);
        let secret = secret.clone();
        async move {
            let r = http.get(url).bearer_auth(secret).send().await.unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, me) = bearer("/api/v1/me").await;
    assert_eq!(st, 200);
    assert_eq!(me["user"]["username"], "pbx");
    assert!(me["csrf_token"].is_null());
    assert_eq!(
        bearer("/api/v1/users").await.0,
        403,
        "the token has pbx's rights, not the admin's"
    );

    // A token cannot make tokens (a leaked one would renew itself): a signed-in session can.
    let http = reqwest::Client::new();
    let r = http
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&secret)
        .json(&json!({"name": "自己的"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let pbx = s.login("pbx", common::TEAM_PASSWORD).await;
    let (st, own) = pbx.post("/api/v1/tokens", json!({"name": "自己的"})).await;
    assert_eq!(st, 201, "{own}");

    // The listing never shows secrets; others' tokens are "not found" to non-managers.
    let (_, list) = admin.get("/api/v1/tokens?all=true").await;
    assert_eq!(list["total"], 2);
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains("token_hash"));
    // Mutating with a bearer token needs no CSRF header.
    let r = http
        .delete(s.url(&format!("/api/v1/tokens/{}", t["id"].as_str().unwrap())))
        .bearer_auth(own["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "pbx may revoke its own token");
    assert_eq!(bearer("/api/v1/me").await.0, 401, "revoked at once");

    // Expiry, and a wrong or malformed header.
    let (st, e) = admin
        .post("/api/v1/tokens", json!({"name": "x", "expires_in_days": 0}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("expires_in_days"))
    );
    let (_, t2) = admin
        .post(
            "/api/v1/tokens",
            json!({"name": "短期", "expires_in_days": 1}),
        )
        .await;
    let short = t2["token"].as_str().unwrap().to_string();
    let r = http
        .get(s.url("/api/v1/me"))
        .bearer_auth(&short)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.clock.advance(Duration::days(1) + Duration::seconds(1));
    let r = http
        .get(s.url("/api/v1/me"))
        .bearer_auth(&short)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(s.url("/api/v1/me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn changing_my_password_ends_my_sessions() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    add_user(&s, "zhou", &["sales"], None);
    let first = s.login("zhou", PASS).await;
    let second = s.login("zhou", PASS).await;
    let (st, e) = first
        .post(
            "/api/v1/me/password",
            json!({"current_password": "wrong one!", "new_password": "brand new pass"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("current_password"))
    );
    let (st, e) = first
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASS, "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("new_password"))
    );
    let (st, _) = first
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASS, "new_password": "brand new pass"}),
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(first.get("/api/v1/me").await.0, 401);
    assert_eq!(second.get("/api/v1/me").await.0, 401);
    s.login("zhou", "brand new pass").await;
    s.stop().await;
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_a_login() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    add_user(&s, "wu", &["sales"], None);
    let wu = s.login("wu", PASS).await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let (st, _) = wu
            .post("/api/v1/me/password", json!({"current_password": format!("guess {i}!"), "new_password": "brand new pass"}))
            .await;
        statuses.push(st.as_u16());
    }
    assert_eq!(statuses, [400, 400, 400, 400, 400, 429, 429]);
    s.stop().await;
}
