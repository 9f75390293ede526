//! Staff accounts: validation, uniqueness, disabling and password resets ending live sessions,
//! the `zhudai user` command, and the audit trail of each change.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use zhudai::domain::org::UserStatus;
use zhudai::service::Error;
use zhudai::service::org::users::{Actor, NewUser};

fn new_user(username: &str, roles: &[&str], password: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: "李四".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        password: password.into(),
        department_id: None,
        manager_id: None,
        phone: None,
        broker: None,
        must_change_password: false,
    }
}

#[tokio::test]
async fn creating_accounts_validates_every_field() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let cases: &[(&str, &[&str], &str, &str)] = &[
        ("x", &["sales"], "a fine long pass", "username"),
        ("李四", &["sales"], "a fine long pass", "username"),
        ("lisi", &[], "a fine long pass", "roles"),
        ("lisi", &["boss"], "a fine long pass", "roles"),
        ("lisi", &["sales"], "short", "password"),
        ("lisi", &["sales"], "woaini1314", "password"),
        ("lisi", &["sales"], "lisi-is-me-2026", "password"),
    ];
    for (username, roles, password, field) in cases {
        match s.app.org().create_user(
            &Actor::Operator,
            new_user(username, roles, password),
            "test",
        ) {
            Err(Error::Validation { field: f, .. }) => {
                assert_eq!(&f, field, "{username} {roles:?} {password}")
            }
            other => panic!(
                "{username} {roles:?} {password}: expected a validation error, got {:?}",
                other.map(|u| u.username)
            ),
        }
    }
    s.app
        .org()
        .create_user(
            &Actor::Operator,
            new_user("LiSi", &["sales"], "a fine long pass"),
            "test",
        )
        .unwrap();
    match s.app.org().create_user(
        &Actor::Operator,
        new_user("lisi", &["sales"], "a fine long pass"),
        "test",
    ) {
        Err(Error::Conflict { code, .. }) => assert_eq!(code, "username_taken"),
        other => panic!("duplicate accepted: {:?}", other.map(|u| u.username)),
    }
    // A sales user may not manage accounts.
    let caller = s
        .app
        .access()
        .authenticate_session(&login_token(&s, "lisi", "a fine long pass"))
        .unwrap();
    assert!(matches!(
        s.app.org().create_user(&Actor::User(&caller), new_user("wangwu", &["sales"], "a fine long pass"), "test"),
        Err(Error::Forbidden(cap)) if cap == "user.manage"
    ));
    s.stop().await;
}

fn login_token(s: &TestServer, user: &str, pass: &str) -> String {
    s.app.access().login(user, pass, "test").unwrap().token
}

#[tokio::test]
async fn disabling_or_resetting_ends_live_sessions() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    s.app
        .org()
        .create_user(
            &Actor::Operator,
            new_user("zhao", &["sales"], "first password!"),
            "test",
        )
        .unwrap();
    s.app
        .org()
        .create_user(
            &Actor::Operator,
            new_user("qian", &["sales"], "first password!"),
            "test",
        )
        .unwrap();

    let zhao = s.login("zhao", "first password!").await;
    let qian = s.login("qian", "first password!").await;
    assert_eq!(zhao.get("/api/v1/me").await.0, 200);

    s.app
        .org()
        .set_user_status(&Actor::Operator, "zhao", UserStatus::Disabled, "test")
        .unwrap();
    let (st, body) = zhao.get("/api/v1/me").await;
    assert_eq!(
        (st.as_u16(), body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (st, body) = s
        .client()
        .post(
            "/api/v1/auth/login",
            serde_json::json!({"username": "zhao", "password": "first password!"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), body["error"]["code"].as_str()),
        (401, Some("invalid_credentials")),
        "same answer as a wrong password"
    );
    assert_eq!(
        qian.get("/api/v1/me").await.0,
        200,
        "other users keep their sessions"
    );

    s.app
        .org()
        .reset_password(&Actor::Operator, "qian", "second password!", false, "test")
        .unwrap();
    assert_eq!(qian.get("/api/v1/me").await.0, 401);
    assert!(
        s.app
            .access()
            .login("qian", "first password!", "test")
            .is_err()
    );
    s.login("qian", "second password!").await;

    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, page) = admin.get("/api/v1/audit?actor=operator").await;
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.password_reset",
            "user.updated",
            "user.created",
            "user.created"
        ]
    );
    assert_eq!(page["items"][1]["detail"]["sessions_ended"], 1);
    s.stop().await;
}

#[tokio::test]
async fn user_command_manages_accounts_and_refuses_a_running_server() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let bin = env!("CARGO_BIN_EXE_zhudai");
    let dir = s.dir.path().to_path_buf();
    let pw = dir.join("pw.txt");
    std::fs::write(&pw, "a long shell password\n").unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--data", dir.to_str().unwrap(), "user"];
        all.extend_from_slice(args);
        std::process::Command::new(bin).args(all).output().unwrap()
    };
    let busy = run(&["list"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("already in use"));
    let data = s.stop().await;

    let out = run(&[
        "add",
        "--username",
        "sun",
        "--role",
        "sales",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "add",
        "--username",
        "sun",
        "--role",
        "sales",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("已被使用"));
    let out = run(&[
        "add",
        "--username",
        "zhou",
        "--role",
        "sales",
        "--password-file",
        "/nonexistent",
    ]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    assert!(run(&["disable", "sun"]).status.success());
    let list = String::from_utf8_lossy(&run(&["list"]).stdout).to_string();
    assert!(
        list.lines()
            .any(|l| l.starts_with("sun ") && l.ends_with("disabled")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("admin ") && l.ends_with("active")),
        "{list}"
    );
    let out = run(&["disable", "nobody"]);
    assert!(!out.status.success());
    drop(data);
}

#[tokio::test]
async fn user_add_on_an_empty_data_directory_creates_it_and_no_setup_link_is_needed() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let pw = work.path().join("pw.txt");
    std::fs::write(&pw, "a long shell password\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args([
            "--data",
            data.to_str().unwrap(),
            "user",
            "add",
            "--username",
            "boss",
            "--role",
            "admin",
            "--password-file",
            pw.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("keys").join("master.key").is_file());
    let app = zhudai::open_app(
        &data,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    assert_eq!(app.access().prepare_setup().unwrap(), None, "no setup link");
    assert!(
        app.access()
            .login("boss", "a long shell password", "127.0.0.1")
            .is_ok()
    );
    // The new install has its firm-wide pool too.
    assert_eq!(app.store.read(zhudai::store::pools::all).unwrap().len(), 1);
}

/// Sends `method path body` as `client`; status and the error's code and field.
async fn answer(
    client: &common::Client,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let (st, v) = client.call(method, path, Some(body)).await;
    (st.as_u16(), v)
}

fn admin_id(s: &TestServer) -> String {
    s.app
        .store
        .read(|tx| zhudai::store::users::find_by_username(tx, ADMIN))
        .unwrap()
        .unwrap()
        .id
}

/// Probe finding 4: `user.manage` alone was administrator in all but name. Its holder could
/// mint a token acting as the admin, give itself the admin role, widen its own role, create
/// roles and accounts with more than it holds, and reset, disable or depart the admin. Now a
/// caller grants only what it holds and manages only accounts that hold nothing beyond it.
#[tokio::test]
async fn user_manage_reaches_no_further_than_its_holder() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "hr", "name": "人事", "capabilities": ["user.manage"],
                   "scope": "department", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    // In a department: an account is acted on only within the caller's departments.
    let hr_dept = common::add_department(&s, "人事部", None);
    let hr_id = common::add_user(&s, "hr1", &["hr"], Some(&hr_dept));
    let boss = admin_id(&s);
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;

    let refused: Vec<(Method, String, serde_json::Value, &str)> = vec![
        (
            Method::POST,
            "/api/v1/tokens".into(),
            json!({"name": "x", "user_id": boss}),
            "audit.view",
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{hr_id}"),
            json!({"roles": ["hr", "admin"]}),
            "audit.view",
        ),
        (
            Method::PATCH,
            "/api/v1/roles/hr".into(),
            json!({"capabilities": ["user.manage", "audit.view"]}),
            "audit.view",
        ),
        (
            Method::POST,
            format!("/api/v1/users/{boss}/reset-password"),
            json!({"password": "Hijack-password-99"}),
            "audit.view",
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{boss}"),
            json!({"status": "disabled"}),
            "audit.view",
        ),
        (
            Method::POST,
            format!("/api/v1/users/{boss}/depart"),
            json!({"to_user": hr_id}),
            "audit.view",
        ),
        (
            Method::POST,
            "/api/v1/roles".into(),
            json!({"key": "viewer", "name": "审计", "capabilities": ["audit.view"]}),
            "audit.view",
        ),
        (
            Method::POST,
            "/api/v1/roles".into(),
            json!({"key": "wide", "name": "全局", "capabilities": ["user.manage"], "scope": "all"}),
            "all",
        ),
        (
            Method::PATCH,
            "/api/v1/roles/sales".into(),
            json!({"name": "销售"}),
            "customer.read",
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "boss2", "display_name": "老板二", "password": "a fine long pass",
                   "roles": ["admin"]}),
            "audit.view",
        ),
    ];
    for (method, path, body, lacking) in refused {
        let (st, v) = answer(&hr, method.clone(), &path, body.clone()).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("beyond_own_access")),
            "{method} {path} {body}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(lacking), "{method} {path}: {message}");
    }
    // Nothing happened: the admin still logs in with the old password, hr1 holds only hr.
    s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, me) = hr.get("/api/v1/me").await;
    assert_eq!(me["user"]["roles"], json!(["hr"]));

    // Within what hr1 holds, user.manage still works: an account with the same role, its
    // password and a token for it; its own role's name.
    let (st, v) = hr
        .post(
            "/api/v1/users",
            json!({"username": "hr2", "display_name": "人事二", "password": "a fine long pass",
                   "roles": ["hr"], "department_id": hr_dept}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let hr2 = v["id"].as_str().unwrap().to_string();
    let (st, v) = hr
        .post(
            &format!("/api/v1/users/{hr2}/reset-password"),
            json!({"password": "another long pass"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = hr
        .post("/api/v1/tokens", json!({"name": "t", "user_id": hr2}))
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = answer(
        &hr,
        Method::PATCH,
        "/api/v1/roles/hr",
        json!({"name": "人事部", "capabilities": ["user.manage"], "scope": "department"}),
    )
    .await;
    assert_eq!(st, 200, "the name of one's own role, grants unchanged: {v}");
    // The administrator holds everything and may still change any role, its own included.
    let (st, v) = answer(
        &admin,
        Method::PATCH,
        "/api/v1/roles/admin",
        json!({"name": "超级管理员"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = answer(
        &admin,
        Method::PATCH,
        "/api/v1/roles/hr",
        json!({"capabilities": ["user.manage", "audit.view"]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// Probe finding 4, second half: a holder of `user.manage` with more than that may still not
/// edit the grant of a role it holds itself (only an administrator, who holds every capability).
#[tokio::test]
async fn a_role_s_grant_is_not_edited_by_its_own_holder() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "hr", "name": "人事", "capabilities": ["user.manage", "audit.view"]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    common::add_user(&s, "hr1", &["hr"], None);
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;
    let (st, v) = answer(
        &hr,
        Method::PATCH,
        "/api/v1/roles/hr",
        json!({"capabilities": ["user.manage"]}),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("beyond_own_access")),
        "{v}"
    );
    s.stop().await;
}

/// Probe finding 6: `PATCH {"status": "departed"}` marked a user departed without the handover
/// (their customers stayed theirs), and a departed user came back with `"active"`.
#[tokio::test]
async fn departure_goes_through_the_handover_and_is_final() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let (st, v) = answer(
        &admin,
        Method::PATCH,
        &format!("/api/v1/users/{sun}"),
        json!({"status": "departed"}),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (400, Some("status")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("/depart"),
        "{v}"
    );
    let (st, v) = admin
        .post(
            &format!("/api/v1/users/{sun}/depart"),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    for status in ["active", "disabled"] {
        let (st, v) = answer(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{sun}"),
            json!({"status": status}),
        )
        .await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (409, Some("user_departed")),
            "{status}: {v}"
        );
    }
    let (_, u) = admin.get(&format!("/api/v1/users/{sun}")).await;
    assert_eq!(u["status"], "departed");
    // Other fields of a departed account can still be corrected.
    let (st, v) = answer(
        &admin,
        Method::PATCH,
        &format!("/api/v1/users/{sun}"),
        json!({"display_name": "孙（已离职）"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// Probe finding 7: unknown fields in account, role and department bodies were ignored (a
/// `password` in `PATCH /users/{id}` answered 200 and changed nothing).
#[tokio::test]
async fn organisation_bodies_refuse_unknown_fields() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let dept = common::add_department(&s, "一部", None);
    let cases: Vec<(Method, String, serde_json::Value, &str)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/users/{sun}"),
            json!({"password": "Whatever-pass-1"}),
            "password",
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{sun}"),
            json!({"username": "admin"}),
            "username",
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "zhou", "display_name": "周", "password": "a fine long pass",
                   "roles": ["sales"], "extra": 1}),
            "extra",
        ),
        (
            Method::POST,
            "/api/v1/roles".into(),
            json!({"key": "x1", "name": "X", "capabilities": [], "extra": 1}),
            "extra",
        ),
        (
            Method::PATCH,
            "/api/v1/roles/sales".into(),
            json!({"name": "销售", "extra": 1}),
            "extra",
        ),
        (
            Method::POST,
            "/api/v1/departments".into(),
            json!({"name": "二部", "extra": 1}),
            "extra",
        ),
        (
            Method::PATCH,
            format!("/api/v1/departments/{dept}"),
            json!({"name": "一部", "manager": "x"}),
            "manager",
        ),
        (
            Method::POST,
            format!("/api/v1/users/{sun}/reset-password"),
            json!({"password": "a fine long pass", "notify": true}),
            "notify",
        ),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            json!({"name": "t", "scope": "all"}),
            "scope",
        ),
    ];
    for (method, path, body, field) in cases {
        let (st, v) = answer(&admin, method.clone(), &path, body).await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (400, Some(field)),
            "{method} {path}: {v}"
        );
    }
    s.stop().await;
}

/// Probe finding 14: the product's own demo password, all-digit strings and a common password
/// with one character added were accepted; the username rule refused every password holding a
/// two-letter username.
#[tokio::test]
async fn the_password_policy_refuses_the_obvious_and_not_the_innocent() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    for password in [
        "zhudai-demo-2026",
        "12345678901",
        "20261120",
        "88888888a",
        "a88888888",
        "password1!",
        "Qwertyuiop1",
    ] {
        match s.app.org().create_user(
            &Actor::Operator,
            new_user("lisi", &["sales"], password),
            "test",
        ) {
            Err(Error::Validation { field, .. }) => assert_eq!(field, "password", "{password}"),
            other => panic!("{password} accepted: {:?}", other.map(|u| u.username)),
        }
    }
    // A two-letter username is part of too many words to refuse them all.
    for (username, password) in [
        ("ab", "abcdefgh-2026"),
        ("xy", "5201314xyz"),
        ("li", "a little lion"),
    ] {
        s.app
            .org()
            .create_user(
                &Actor::Operator,
                new_user(username, &["sales"], password),
                "test",
            )
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{username} {password}: {e}"));
    }
    // From four characters on, the username stays refused.
    match s.app.org().create_user(
        &Actor::Operator,
        new_user("wang", &["sales"], "wang-2026-pass"),
        "test",
    ) {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "password"),
        other => panic!("accepted: {:?}", other.map(|u| u.username)),
    }
    s.stop().await;
}

/// Probe finding 15: `manager_id` took a cycle (A's manager B, B's manager A).
#[tokio::test]
async fn manager_chains_do_not_cycle() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let a = common::add_user(&s, "ua", &["sales"], None);
    let b = common::add_user(&s, "ub", &["sales"], None);
    let c = common::add_user(&s, "uc", &["sales"], None);
    let set = |who: String, manager: String| {
        let admin = &admin;
        async move {
            answer(
                admin,
                Method::PATCH,
                &format!("/api/v1/users/{who}"),
                json!({"manager_id": manager}),
            )
            .await
        }
    };
    assert_eq!(set(a.clone(), b.clone()).await.0, 200);
    assert_eq!(set(b.clone(), c.clone()).await.0, 200);
    for (who, manager) in [(b.clone(), a.clone()), (c.clone(), a.clone())] {
        let (st, v) = set(who, manager).await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (400, Some("manager_id")),
            "{v}"
        );
    }
    assert_eq!(set(c.clone(), String::new()).await.0, 200);
    s.stop().await;
}

/// Probe finding 15: a departing user's customers went to a successor who cannot work them
/// (a finance account without `customer.edit`).
#[tokio::test]
async fn a_successor_must_be_able_to_work_customers() {
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let fin = common::add_user(&s, "fin", &["finance"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let (st, v) = admin
        .post(
            &format!("/api/v1/users/{sun}/depart"),
            json!({"to_user": fin}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (400, Some("to_user")),
        "{v}"
    );
    // Named as the roles page names it, not by its key.
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("“编辑客户”") && !message.contains("customer.edit"),
        "{v}"
    );
    let (st, v) = admin
        .post(
            &format!("/api/v1/users/{sun}/depart"),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// Review of the user.manage reach, gap 1: a holder with a department scope widened it
/// through departments — moved itself (or anyone) into another department, created accounts
/// there, or grafted another department under its own. Now only an administrator (scope all)
/// reaches departments outside the caller's own.
#[tokio::test]
async fn user_manage_does_not_widen_its_scope_through_departments() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "hr", "name": "人事", "capabilities": ["user.manage"],
                   "scope": "department", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let one = common::add_department(&s, "一部", None);
    let two = common::add_department(&s, "二部", None);
    let hr_id = common::add_user(&s, "hr1", &["hr"], Some(&one));
    let zhao = common::add_user(&s, "zhao", &["hr"], Some(&two));
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;

    let refused: Vec<(Method, String, serde_json::Value)> = vec![
        // Itself into 二部: its department scope would then be 二部's.
        (
            Method::PATCH,
            format!("/api/v1/users/{hr_id}"),
            json!({"department_id": two}),
        ),
        // 二部 under 一部.
        (
            Method::PATCH,
            format!("/api/v1/departments/{two}"),
            json!({"parent_id": one}),
        ),
        // An account in 二部.
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "hr3", "display_name": "人事三", "password": "a fine long pass",
                   "roles": ["hr"], "department_id": two}),
        ),
        // Someone from 二部 into 一部 (their customers would come into view).
        (
            Method::PATCH,
            format!("/api/v1/users/{zhao}"),
            json!({"department_id": one}),
        ),
        // A department under 二部, 二部 renamed or deleted, one at the top level.
        (
            Method::POST,
            "/api/v1/departments".into(),
            json!({"name": "二部一组", "parent_id": two}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/departments/{two}"),
            json!({"name": "新二部"}),
        ),
        (
            Method::POST,
            "/api/v1/departments".into(),
            json!({"name": "三部"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/departments/{two}"),
            json!({}),
        ),
    ];
    for (method, path, body) in refused {
        let (st, v) = answer(&hr, method.clone(), &path, body.clone()).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("beyond_own_access")),
            "{method} {path} {body}: {v}"
        );
        // The refusal names the department out of reach (or that only scope all reaches the top).
        let message = v["error"]["message"].as_str().unwrap();
        let named = if path == "/api/v1/departments" && body.get("parent_id").is_none() {
            "数据范围 all"
        } else {
            "部门「二部」"
        };
        assert!(message.contains(named), "{method} {path}: {message}");
        assert!(
            v["error"]["details"]["lacks"]
                .as_str()
                .is_some_and(|l| l.contains(named)),
            "{v}"
        );
    }
    let (_, me) = hr.get("/api/v1/me").await;
    assert_eq!(me["user"]["department_id"], json!(one));
    let (_, depts) = hr.get("/api/v1/departments").await;
    let parent_of_two = depts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == json!(two))
        .map(|d| d["parent_id"].clone());
    assert_eq!(parent_of_two, Some(serde_json::Value::Null), "{depts}");

    // Inside 一部 it all still works: an account there, a department under it, renamed.
    let (st, v) = hr
        .post(
            "/api/v1/users",
            json!({"username": "hr2", "display_name": "人事二", "password": "a fine long pass",
                   "roles": ["hr"], "department_id": one}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let hr2 = v["id"].as_str().unwrap().to_string();
    let (st, v) = answer(
        &hr,
        Method::PATCH,
        &format!("/api/v1/users/{hr2}"),
        json!({"department_id": one, "display_name": "人事贰"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = hr
        .post(
            "/api/v1/departments",
            json!({"name": "一部一组", "parent_id": one}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let group = v["id"].as_str().unwrap().to_string();
    let (st, v) = answer(
        &hr,
        Method::PATCH,
        &format!("/api/v1/departments/{group}"),
        json!({"name": "一部甲组"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");

    // The administrator (scope all) still reaches everything.
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/users/{hr_id}"),
            json!({"department_id": two}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/departments/{two}"),
            json!({"parent_id": one}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/departments/{group}"),
            json!({}),
        ),
    ] {
        let (st, v) = answer(&admin, method.clone(), &path, body).await;
        assert!(st < 300, "{method} {path}: {st} {v}");
    }
    s.stop().await;
}

/// Review of the user.manage reach, gap 2: any holder of `user.manage` revoked anyone's API
/// token — the administrator's integrations included. Another's token is revoked only when its
/// user holds nothing beyond the caller.
#[tokio::test]
async fn user_manage_revokes_only_tokens_within_its_reach() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "hr", "name": "人事", "capabilities": ["user.manage"],
                   "scope": "department", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let hr_dept = common::add_department(&s, "人事部", None);
    common::add_user(&s, "hr1", &["hr"], Some(&hr_dept));
    let hr2 = common::add_user(&s, "hr2", &["hr"], Some(&hr_dept));
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;
    let (st, v) = admin
        .post("/api/v1/tokens", json!({"name": "对接系统"}))
        .await;
    assert_eq!(st, 201, "{v}");
    let admins = v["id"].as_str().unwrap().to_string();
    let secret = v["token"].as_str().unwrap().to_string();
    let (st, v) = admin
        .post("/api/v1/tokens", json!({"name": "人事二", "user_id": hr2}))
        .await;
    assert_eq!(st, 201, "{v}");
    let hr2s = v["id"].as_str().unwrap().to_string();

    let (st, v) = answer(
        &hr,
        Method::DELETE,
        &format!("/api/v1/tokens/{admins}"),
        json!({}),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("beyond_own_access")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("audit.view"),
        "{v}"
    );
    // The administrator's token still works.
    let r = reqwest::Client::new()
        .get(s.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Within reach: the token of an account holding the same role.
    let (st, v) = answer(
        &hr,
        Method::DELETE,
        &format!("/api/v1/tokens/{hr2s}"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["revoked_at"].is_string(), "{v}");
    s.stop().await;
}

/// Review of the user.manage reach, gap 3: the comparison ignored `lock_limit`, so a holder
/// allowed 5 locks created a role with 100000 and gave it out. A higher lock limit is more.
#[tokio::test]
async fn user_manage_grants_no_higher_lock_limit_than_its_own() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for body in [
        json!({"key": "hr", "name": "人事", "capabilities": ["user.manage"], "scope": "self",
               "field_privileges": [], "lock_limit": 5}),
        json!({"key": "locker", "name": "锁客", "capabilities": [], "lock_limit": 100}),
    ] {
        let (st, v) = admin.post("/api/v1/roles", body).await;
        assert_eq!(st, 201, "{v}");
    }
    common::add_user(&s, "hr1", &["hr"], None);
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;
    let refused: Vec<(Method, &str, serde_json::Value)> = vec![
        (
            Method::POST,
            "/api/v1/roles",
            json!({"key": "hoarder", "name": "囤客", "capabilities": [], "lock_limit": 100000}),
        ),
        (
            Method::POST,
            "/api/v1/users",
            json!({"username": "lk", "display_name": "锁客", "password": "a fine long pass",
                   "roles": ["locker"]}),
        ),
        (
            Method::PATCH,
            "/api/v1/roles/locker",
            json!({"name": "锁客甲"}),
        ),
    ];
    for (method, path, body) in refused {
        let (st, v) = answer(&hr, method.clone(), path, body.clone()).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("beyond_own_access")),
            "{method} {path} {body}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("锁定"), "{method} {path}: {message}");
    }
    // Up to its own limit it still grants; the administrator (every capability, lock limit 5
    // itself) grants any: it may raise its own role's limit anyway.
    let (st, v) = hr
        .post(
            "/api/v1/roles",
            json!({"key": "keeper", "name": "守客", "capabilities": [], "lock_limit": 5}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    s.stop().await;
}

/// Probe: a holder of `user.manage` with a department scope still acted on accounts outside
/// its department — edited them (phone, status), reset their password, minted and revoked their
/// tokens, departed them, and named or removed a manager from another department. Now acting
/// on an account needs its department within the caller's scope (unless scope `all`), and a
/// manager or successor must be such an account too: 403 `beyond_own_access` naming it.
#[tokio::test]
async fn user_manage_acts_only_on_accounts_in_its_departments() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "hr", "name": "人事", "capabilities": ["user.manage"],
                   "scope": "department", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let one = common::add_department(&s, "一部", None);
    let two = common::add_department(&s, "二部", None);
    common::add_user(&s, "hr1", &["hr"], Some(&one));
    let qian = common::add_user(&s, "qian", &["hr"], Some(&one));
    let sun = common::add_user(&s, "sun", &["hr"], Some(&one));
    let zhao = common::add_user(&s, "zhao", &["hr"], Some(&two));
    // Successors for a departure: sales in each department.
    let li = common::add_user(&s, "li", &["sales"], Some(&one));
    let wu = common::add_user(&s, "wu", &["sales"], Some(&two));
    let (st, v) = admin
        .post(
            "/api/v1/tokens",
            json!({"name": "赵的对接", "user_id": zhao}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let zhaos_token = v["id"].as_str().unwrap().to_string();
    let zhaos_secret = v["token"].as_str().unwrap().to_string();
    // sun's manager is zhao (set by the administrator): removing or replacing them reaches 二部.
    let (st, v) = answer(
        &admin,
        Method::PATCH,
        &format!("/api/v1/users/{sun}"),
        json!({"manager_id": zhao}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;

    let refused: Vec<(Method, String, serde_json::Value)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/users/{zhao}"),
            json!({"display_name": "赵改"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{zhao}"),
            json!({"phone": "13800138000"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{zhao}"),
            json!({"status": "disabled"}),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{zhao}/reset-password"),
            json!({"password": "Hijack-password-99"}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            json!({"name": "x", "user_id": zhao}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tokens/{zhaos_token}"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{zhao}/depart"),
            json!({"to_user": li}),
        ),
        // Someone of 一部 handed to, or reporting to, an account of 二部.
        (
            Method::POST,
            format!("/api/v1/users/{qian}/depart"),
            json!({"to_user": wu}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{qian}"),
            json!({"manager_id": zhao}),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "hr4", "display_name": "人事四", "password": "a fine long pass",
                   "roles": ["hr"], "department_id": one, "manager_id": zhao}),
        ),
        // … or taken from one.
        (
            Method::PATCH,
            format!("/api/v1/users/{sun}"),
            json!({"manager_id": ""}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{sun}"),
            json!({"manager_id": qian}),
        ),
    ];
    for (method, path, body) in refused {
        let (st, v) = answer(&hr, method.clone(), &path, body.clone()).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("beyond_own_access")),
            "{method} {path} {body}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("部门「二部」"),
            "{method} {path}: {message}"
        );
        assert!(
            v["error"]["details"]["lacks"]
                .as_str()
                .is_some_and(|l| l.contains("部门「二部」")),
            "{v}"
        );
    }
    // Nothing happened to zhao: same name, active, the token still works, the old password too.
    let (_, v) = admin.get(&format!("/api/v1/users/{zhao}")).await;
    assert_eq!(
        (
            v["display_name"].as_str(),
            v["status"].as_str(),
            &v["phone"]
        ),
        (Some("zhao"), Some("active"), &serde_json::Value::Null),
        "{v}"
    );
    let r = reqwest::Client::new()
        .get(s.url("/api/v1/me"))
        .bearer_auth(&zhaos_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    s.login("zhao", common::TEAM_PASSWORD).await;
    let (_, v) = admin.get(&format!("/api/v1/users/{sun}")).await;
    assert_eq!(v["manager_id"], json!(zhao), "{v}");

    // Within 一部 it all still works.
    let (st, v) = answer(
        &hr,
        Method::PATCH,
        &format!("/api/v1/users/{qian}"),
        json!({"display_name": "钱二", "manager_id": sun}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = hr
        .post(
            &format!("/api/v1/users/{qian}/reset-password"),
            json!({"password": "another long pass"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = hr
        .post("/api/v1/tokens", json!({"name": "t", "user_id": qian}))
        .await;
    assert_eq!(st, 201, "{v}");
    let qians_token = v["id"].as_str().unwrap().to_string();
    let (st, v) = answer(
        &hr,
        Method::DELETE,
        &format!("/api/v1/tokens/{qians_token}"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = hr
        .post(
            &format!("/api/v1/users/{qian}/depart"),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

/// Probe: the admin pages offered a department-scoped `user.manage` holder buttons the server
/// then refused (新建/移动/删除 on other departments, editing accounts outside its reach). The
/// lists now say per row what the caller may do, by the same rule the server applies.
#[tokio::test]
async fn lists_say_what_the_caller_may_manage() {
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "hr", "name": "人事", "capabilities": ["user.manage"],
                   "scope": "department", "field_privileges": []}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let one = common::add_department(&s, "一部", None);
    let group = common::add_department(&s, "一部一组", Some(&one));
    let two = common::add_department(&s, "二部", None);
    let hr1 = common::add_user(&s, "hr1", &["hr"], Some(&one));
    let qian = common::add_user(&s, "qian", &["hr"], Some(&one));
    let li = common::add_user(&s, "li", &["sales"], Some(&one));
    let zhao = common::add_user(&s, "zhao", &["hr"], Some(&two));
    let boss = admin_id(&s);
    let hr = s.login("hr1", common::TEAM_PASSWORD).await;

    let flags = |list: &serde_json::Value| -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let flag = i["may_manage"].as_bool();
                assert!(flag.is_some(), "{i}");
                (i["id"].as_str().unwrap().to_string(), flag.unwrap())
            })
            .collect();
        out.sort();
        out
    };
    let sorted = |mut v: Vec<(String, bool)>| {
        v.sort();
        v
    };
    let (st, users) = hr.get("/api/v1/users").await;
    assert_eq!(st, 200, "{users}");
    // Itself and qian (一部, nothing beyond hr); not li (holds customer.read), zhao (二部), boss.
    assert_eq!(
        flags(&users),
        sorted(vec![
            (hr1.clone(), true),
            (qian.clone(), true),
            (li.clone(), false),
            (zhao.clone(), false),
            (boss.clone(), false),
        ])
    );
    let (st, depts) = hr.get("/api/v1/departments").await;
    assert_eq!(st, 200, "{depts}");
    assert_eq!(
        flags(&depts),
        sorted(vec![
            (one.clone(), true),
            (group.clone(), true),
            (two.clone(), false)
        ])
    );
    assert_eq!(depts["may_create_top_level"], json!(false), "{depts}");

    // The administrator may do everything; a caller without user.manage nothing.
    let (_, users) = admin.get("/api/v1/users").await;
    assert!(flags(&users).iter().all(|(_, f)| *f), "{users}");
    let (_, depts) = admin.get("/api/v1/departments").await;
    assert!(flags(&depts).iter().all(|(_, f)| *f), "{depts}");
    assert_eq!(depts["may_create_top_level"], json!(true), "{depts}");
    let sales = s.login("li", common::TEAM_PASSWORD).await;
    let (_, depts) = sales.get("/api/v1/departments").await;
    assert!(flags(&depts).iter().all(|(_, f)| !*f), "{depts}");
    assert_eq!(depts["may_create_top_level"], json!(false), "{depts}");
    s.stop().await;
}

/// Probe: a JSON body refused by serde (an unknown field, a wrong type, a value not among the
/// choices) reached the page as serde's English. The message is now Chinese and names the field;
/// serde's words are kept in `details.detail` for the integrator.
#[tokio::test]
async fn body_refusals_are_in_chinese_and_name_the_field() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    for (body, field, words) in [
        (
            json!({"nickname": "小孙"}),
            "nickname",
            vec!["不支持字段「nickname」"],
        ),
        (
            json!({"roles": "admin"}),
            "roles",
            vec!["字段「roles」", "数组"],
        ),
        (
            json!({"status": "gone"}),
            "status",
            vec!["字段「status」", "gone", "active"],
        ),
    ] {
        let (st, v) = answer(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{sun}"),
            body.clone(),
        )
        .await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        for w in words {
            assert!(message.contains(w), "{body}: {message}");
        }
        assert!(
            !message.contains("expected") && !message.contains("unknown"),
            "no English in the message: {message}"
        );
        assert!(
            v["error"]["details"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("expected")),
            "{v}"
        );
    }
    s.stop().await;
}

/// A password an administrator chose (creating the account or resetting it, with
/// `must_change_password`) opens the account only to choose one's own: every other route is
/// 403 `password_change_required` until then; the API's default leaves it off.
#[tokio::test]
async fn a_password_set_by_an_administrator_must_be_changed_first() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, zhao) = admin
        .post(
            "/api/v1/users",
            serde_json::json!({"username": "zhao", "display_name": "赵", "roles": ["sales"],
                               "password": "initial pass 1!", "must_change_password": true}),
        )
        .await;
    assert_eq!(st, 201, "{zhao}");
    assert_eq!(zhao["must_change_password"], true, "{zhao}");

    let c = s.login("zhao", "initial pass 1!").await;
    let (st, me) = c.get("/api/v1/me").await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["user"]["must_change_password"], true, "{me}");
    for path in ["/api/v1/customers", "/api/v1/deals", "/api/v1/reminders"] {
        let (st, e) = c.get(path).await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (403, Some("password_change_required")),
            "{path}: {e}"
        );
    }
    let (st, e) = c
        .post(
            "/api/v1/customers",
            serde_json::json!({"name": "甲", "phone": "13800000001"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (403, Some("password_change_required"))
    );
    let (st, e) = c
        .post("/api/v1/tokens", serde_json::json!({"name": "x"}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (403, Some("password_change_required")),
        "{e}"
    );

    let (st, e) = c
        .post(
            "/api/v1/me/password",
            serde_json::json!({"current_password": "initial pass 1!", "new_password": "my own pass 22!"}),
        )
        .await;
    assert_eq!(st, 204, "{e}");
    let c = s.login("zhao", "my own pass 22!").await;
    let (_, me) = c.get("/api/v1/me").await;
    assert_eq!(me["user"]["must_change_password"], false, "{me}");
    assert_eq!(c.get("/api/v1/customers").await.0, 200);

    // A reset with the flag puts the account back behind the change; without it, not.
    let id = zhao["id"].as_str().unwrap();
    let (st, e) = admin
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            serde_json::json!({"password": "reset pass 333!", "must_change_password": true}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    let c = s.login("zhao", "reset pass 333!").await;
    assert_eq!(c.get("/api/v1/customers").await.0, 403);
    let (st, e) = admin
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            serde_json::json!({"password": "reset pass 444!"}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    let c = s.login("zhao", "reset pass 444!").await;
    assert_eq!(
        c.get("/api/v1/customers").await.0,
        200,
        "the API's default: no change asked"
    );
}
