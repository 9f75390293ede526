//! Issue 18.3: sessions, API tokens and scopes are cached between requests
//! (`service::access::cache`). Every change that affects who may do what is seen by the very
//! next request with the cache warm: each test authenticates twice (the second time from the
//! cache) before the change, then once after it.

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TEAM_PASSWORD, TestServer, add_department, add_user};
use serde_json::json;
use zhudai::domain::org::UserStatus;
use zhudai::service::Error;
use zhudai::service::org::users::{Actor, UserPatch};

async fn bearer_status(s: &TestServer, token: &str) -> u16 {
    reqwest::Client::new()
        .get(s.url("/api/v1/me"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_next_request() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, t) = admin.post("/api/v1/tokens", json!({"name": "pbx"})).await;
    assert_eq!(st, 201, "{t}");
    let secret = t["token"].as_str().unwrap().to_string();
    let id = t["id"].as_str().unwrap().to_string();
    // The first use writes the token's last use; a fresh process then caches the row as
    // stored, so the next uses are answered from the cache alone (no write is due).
    assert_eq!(bearer_status(&s, &secret).await, 200);
    let s = s.restart().await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(bearer_status(&s, &secret).await, 200);
    }
    assert!(
        s.app.access().cached_token(&secret).is_some(),
        "served from the cache"
    );
    let (st, v) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(bearer_status(&s, &secret).await, 401);
}

#[test]
fn logout_disable_and_role_change_are_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = zhudai::open_app(
        dir.path(),
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .unwrap();
    common::set_up_admin(&app);
    let sales = app
        .org()
        .create_user(
            &Actor::Operator,
            zhudai::service::org::users::NewUser {
                username: "sun".into(),
                display_name: "孙".into(),
                roles: vec!["sales".into()],
                password: TEAM_PASSWORD.into(),
                department_id: None,
                manager_id: None,
                phone: None,
                broker: None,
                must_change_password: false,
            },
            "test",
        )
        .unwrap()
        .id;
    let warm = |token: &str| {
        for _ in 0..3 {
            app.access().authenticate_session(token).unwrap();
        }
    };

    // Logout.
    let token = app
        .access()
        .login("sun", TEAM_PASSWORD, "test")
        .unwrap()
        .token;
    warm(&token);
    let caller = app.access().authenticate_session(&token).unwrap();
    app.access().logout(&caller, "test").unwrap();
    assert!(matches!(
        app.access().authenticate_session(&token),
        Err(Error::Unauthenticated)
    ));

    // Role change: the capabilities of the next request are the new role's.
    let token = app
        .access()
        .login("sun", TEAM_PASSWORD, "test")
        .unwrap()
        .token;
    warm(&token);
    let before = app.access().authenticate_session(&token).unwrap();
    assert!(!before.can(zhudai::domain::capability::Capability::UserManage));
    app.org()
        .update_user(
            &Actor::Operator,
            &sales,
            UserPatch {
                roles: Some(vec!["admin".into()]),
                ..UserPatch::default()
            },
            "test",
        )
        .unwrap();
    let after = app.access().authenticate_session(&token).unwrap();
    assert!(after.can(zhudai::domain::capability::Capability::UserManage));

    // Disabled: refused at once.
    warm(&token);
    app.org()
        .update_user(
            &Actor::Operator,
            &sales,
            UserPatch {
                status: Some(UserStatus::Disabled),
                ..UserPatch::default()
            },
            "test",
        )
        .unwrap();
    assert!(matches!(
        app.access().authenticate_session(&token),
        Err(Error::Unauthenticated)
    ));
}

/// A manager's department scope is cached too: moving a salesperson out of the department
/// takes their customers out of the manager's reach on the next request.
#[tokio::test]
async fn a_department_move_changes_scope_on_the_next_request() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let a = add_department(&s, "成都一部", None);
    let b = add_department(&s, "成都二部", None);
    add_user(&s, "mgr_a", &["manager"], Some(&a));
    let sales = add_user(&s, "sales_a", &["sales"], Some(&a));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "王五", "phone": "13700000001", "owner_id": sales}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let mgr = s.login("mgr_a", TEAM_PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(mgr.get(&format!("/api/v1/customers/{id}")).await.0, 200);
    }
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{sales}"),
            Some(json!({"department_id": b})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(mgr.get(&format!("/api/v1/customers/{id}")).await.0, 404);
}
