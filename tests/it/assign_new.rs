//! Automatic assignment of NEW leads (`assign.pick`): created through the API with
//! `"assign": "auto"` or imported with `assign=auto`. Turns are fair and survive a restart;
//! paused, disabled and full (库容) users get none; a lead nobody can take waits in a pool.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;
use crate::import::{form, post_form, wait_job};

use std::collections::BTreeMap;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zhudai::service::org::users::Actor;

/// Creates a lead through the API with `body` merged in; returns the created customer.
async fn lead(c: &Client, n: u32, extra: Value) -> Value {
    let mut body = json!({"name": format!("线索{n}"), "phone": format!("137{n:08}")});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (st, b) = c.post("/api/v1/customers", body).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b
}

async fn auto_lead(c: &Client, n: u32) -> Value {
    lead(c, n, json!({"assign": "auto"})).await
}

fn owner(c: &Value) -> String {
    c["owner_id"].as_str().unwrap_or("").to_string()
}

/// Leads per owner id.
fn tally(owners: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for o in owners {
        *m.entry(o.clone()).or_default() += 1;
    }
    m
}

async fn timeline(c: &Client, id: &str) -> Vec<Value> {
    let (st, t) = c.get(&format!("/api/v1/customers/{id}/timeline")).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    t["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn round_robin_spreads_new_leads_evenly_and_continues_after_a_restart() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let mut sales: Vec<String> = ["na", "nb", "nc"]
        .iter()
        .map(|n| common::add_user(&s, n, &["sales"], None))
        .collect();
    sales.sort();
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut owners = Vec::new();
    for n in 0..4 {
        owners.push(owner(&auto_lead(&admin, n).await));
    }
    assert_eq!(owners, [&*sales[0], &sales[1], &sales[2], &sales[0]]);

    // The turn is kept in the store: after a restart it goes on with the next user.
    let s = s.restart().await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for n in 4..9 {
        owners.push(owner(&auto_lead(&admin, n).await));
    }
    assert_eq!(owners[4], sales[1], "the turn continues after the restart");
    assert_eq!(
        tally(&owners),
        sales.iter().map(|u| (u.clone(), 3)).collect(),
        "{owners:?}"
    );

    // On the timeline with the rule's reason, and audited like a manager's assignment.
    let (_, page) = admin.get("/api/v1/customers?limit=1").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let events = timeline(&admin, &id).await;
    let assigned = events.iter().find(|e| e["kind"] == "assigned").unwrap();
    assert_eq!(assigned["note"], "轮流分配", "{events:?}");
    let (_, audit) = admin
        .get("/api/v1/audit?action=customer.assigned&limit=50")
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 9, "{audit}");
    s.stop().await;
}

#[tokio::test]
async fn paused_disabled_and_full_users_get_none_and_nobody_left_means_the_pool() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let free = common::add_user(&s, "free", &["sales"], None);
    let paused = common::add_user(&s, "paused", &["sales"], None);
    let _gone = common::add_user(&s, "gone", &["sales"], None);
    let full_dept = s
        .app
        .org()
        .create_department(
            &Actor::Operator,
            zhudai::service::org::DepartmentInput {
                name: "满员部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    let full = common::add_user(&s, "full", &["sales"], Some(&full_dept));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    // 库容 of the full user's department: one customer, which they already hold.
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "满员部公海", "department_id": full_dept, "settings": {"max_owned": 1}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    lead(&admin, 100, json!({"owner_id": full})).await;
    let (st, b) = admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/assignment/users/{paused}"),
            Some(json!({"paused": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    s.app
        .org()
        .set_user_status(
            &Actor::Operator,
            "gone",
            zhudai::domain::org::UserStatus::Disabled,
            "t",
        )
        .unwrap();
    for n in 0..6 {
        let c = auto_lead(&admin, n).await;
        assert_eq!(owner(&c), free, "{c}");
    }

    // With everyone paused or full, a new lead waits in the caller's pool, with the reason.
    let (st, p) = admin
        .post("/api/v1/pools", json!({"name": "全公司公海"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let firm_pool = p["id"].as_str().unwrap().to_string();
    admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/assignment/users/{free}"),
            Some(json!({"paused": true})),
        )
        .await;
    let c = auto_lead(&admin, 7).await;
    assert_eq!(
        (c["owner_id"].clone(), c["pool_id"].clone()),
        (Value::Null, json!(firm_pool)),
        "{c}"
    );
    let events = timeline(&admin, c["id"].as_str().unwrap()).await;
    let e = events
        .iter()
        .find(|e| e["kind"] == "assign_to_pool")
        .unwrap();
    assert!(
        e["note"].as_str().unwrap().contains("没有可分配的业务员"),
        "{e}"
    );
    // A won customer is never claimable: it stays with whoever entered it, not in the pool.
    let admin_id = s.app.access().caller_for(ADMIN).unwrap().user.id;
    let c = lead(&admin, 8, json!({"assign": "auto", "stage": "won"})).await;
    assert_eq!(
        (c["owner_id"].as_str(), c["pool_id"].clone()),
        (Some(admin_id.as_str()), Value::Null),
        "{c}"
    );
    let events = timeline(&admin, c["id"].as_str().unwrap()).await;
    assert!(
        events
            .iter()
            .any(|e| e["note"].as_str().is_some_and(|n| n.contains("已成交"))),
        "{events:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn least_loaded_gives_new_leads_to_whoever_has_fewest_open_leads() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let a = common::add_user(&s, "la", &["sales"], None);
    let b = common::add_user(&s, "lb", &["sales"], None);
    let c = common::add_user(&s, "lc", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    lead(&admin, 1, json!({"owner_id": a})).await;
    lead(&admin, 2, json!({"owner_id": a})).await;
    lead(&admin, 3, json!({"owner_id": c})).await;
    let first = lead(&admin, 10, json!({"assign": "least_loaded"})).await;
    assert_eq!(owner(&first), b, "b had none");
    for n in 11..13 {
        let l = lead(&admin, n, json!({"assign": "least_loaded"})).await;
        assert_ne!(owner(&l), a, "a already had the most");
    }
    let (_, list) = admin.get("/api/v1/assignment/users").await;
    let open: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["open_leads"].as_u64().unwrap())
        .collect();
    assert_eq!(open, [2, 2, 2], "{list}");
    s.stop().await;
}

#[tokio::test]
async fn only_callers_who_may_assign_ask_for_it_and_the_request_is_checked() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sales = common::add_user(&s, "sa", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let body = json!({"name": "某某", "phone": "13600000001", "assign": "auto"});
    let sa = s.login("sa", common::TEAM_PASSWORD).await;
    let (st, e) = sa.post("/api/v1/customers", body.clone()).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let mut bad = body.clone();
    bad["assign"] = json!("lottery");
    let (st, e) = admin.post("/api/v1/customers", bad).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("assign")),
        "{e}"
    );
    let mut both = body.clone();
    both["owner_id"] = json!(sales);
    let (st, e) = admin.post("/api/v1/customers", both).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("assign")),
        "{e}"
    );
    // Nothing was created by the refused requests.
    let (_, page) = admin.get("/api/v1/customers?limit=1").await;
    assert_eq!(page["total"], 0, "{page}");
    let c = auto_lead(&admin, 1).await;
    assert_eq!(owner(&c), sales);
    s.stop().await;
}

/// `n` rows of a CSV (phones 1350000xxxx); the second column is an owner column when `owner`.
fn rows(n: usize, from: usize, owner: Option<(usize, &str)>) -> Vec<u8> {
    let mut s = String::from("姓名,手机号,城市,负责人\n");
    for i in from..from + n {
        let o = match owner {
            Some((k, name)) if k == i => name,
            _ => "",
        };
        s.push_str(&format!("导入{i},1350{i:07},成都,{o}\n"));
    }
    s.into_bytes()
}

async fn owners_of_imported(c: &Client) -> Vec<String> {
    let (_, page) = c.get("/api/v1/customers?q=导入&limit=200").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["owner_id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn an_import_with_assign_auto_spreads_rows_evenly_and_sends_the_rest_to_the_pool() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let ia = common::add_user(&s, "ia", &["sales"], None);
    let mut sales = vec![
        ia.clone(),
        common::add_user(&s, "ib", &["sales"], None),
        common::add_user(&s, "ic", &["sales"], None),
    ];
    sales.sort();
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    // 31 rows, one naming its owner: the other 30 are spread 10/10/10 across five batches.
    let caller = s.app.access().caller_for(ADMIN).unwrap();
    let id = zhudai::service::new_id(s.app.now());
    std::fs::write(
        s.app.imports().spool_path(&id).unwrap(),
        rows(31, 0, Some((5, "ia"))),
    )
    .unwrap();
    let opts = zhudai::service::import::ImportOptions {
        assign: Some("auto".into()),
        batch_rows: Some(7),
        ..Default::default()
    };
    let job = s
        .app
        .start_import_job(&caller, &id, "a.csv", opts, "test")
        .unwrap();
    assert_eq!(job.assign.as_deref(), Some("auto"));
    let job = wait_job(&admin, &id).await;
    assert_eq!(
        (job["created"].as_u64(), job["assigned"].as_u64()),
        (Some(31), Some(30)),
        "{job}"
    );
    let mut expect: BTreeMap<String, usize> = sales.iter().map(|u| (u.clone(), 10)).collect();
    *expect.get_mut(&ia).unwrap() += 1;
    assert_eq!(tally(&owners_of_imported(&admin).await), expect);

    // Nobody can take leads: the rows wait in the chosen pool.
    let (st, p) = admin
        .post("/api/v1/pools", json!({"name": "导入公海"}))
        .await;
    assert_eq!(st, 201, "{p}");
    let pool = p["id"].as_str().unwrap().to_string();
    for u in &sales {
        admin
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/assignment/users/{u}"),
                Some(json!({"paused": true})),
            )
            .await;
    }
    let (_, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "b.csv",
            &rows(4, 100, None),
            &[("assign", "auto"), ("pool_id", pool.as_str())],
        ),
    )
    .await;
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (job["created"].as_u64(), job["assigned"].as_u64()),
        (Some(4), Some(0)),
        "{job}"
    );
    let (_, page) = admin
        .get(&format!("/api/v1/pools/{pool}/customers?limit=50"))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4, "{page}");

    // Assigning needs customer.assign; not together with an owner.
    let (st, e) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "c.csv",
            &rows(1, 200, None),
            &[("assign", "auto"), ("owner", "ia")],
        ),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("assign")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_import_command_assigns_with_assign_auto() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    for n in ["ca", "cb"] {
        common::add_user(&s, n, &["sales"], None);
    }
    let data = s.stop().await;
    let file = data.path().join("线索.csv");
    std::fs::write(&file, rows(6, 0, None)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args([
            "--data",
            data.path().to_str().unwrap(),
            "import",
            file.to_str().unwrap(),
            "--owner",
            ADMIN,
            "--assign",
            "auto",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("6 created") && text.contains("6 assigned"),
        "{text}"
    );
}

/// A firm's own `assign.pick` decides for new leads too; a rule naming someone it was not
/// offered (a departed colleague, a typo) assigns nobody and the failure is recorded (it used
/// to be overruled by the built-in rule, silently).
#[tokio::test]
async fn a_custom_rule_decides_and_an_unoffered_choice_is_recorded_not_overruled() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let mut sales: Vec<String> = ["ra", "rb", "rc"]
        .iter()
        .map(|n| common::add_user(&s, n, &["sales"], None))
        .collect();
    sales.sort();
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let put = |source: &'static str| {
        let admin = &admin;
        async move {
            let (st, b) = admin
                .call(
                    reqwest::Method::PUT,
                    "/api/v1/plugins/assign",
                    Some(json!({"source": source, "note": "test"})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
        }
    };
    put("fn pick(customer, candidates, ctx) {\n    #{ user_id: candidates[candidates.len() - 1].id, reason: \"总给最后一位\" }\n}\n").await;
    for n in 0..2 {
        let c = auto_lead(&admin, n).await;
        assert_eq!(owner(&c), sales[2], "{c}");
    }
    let events = timeline(&admin, auto_lead(&admin, 2).await["id"].as_str().unwrap()).await;
    let e = events.iter().find(|e| e["kind"] == "assigned").unwrap();
    assert_eq!(e["note"], "总给最后一位", "{e}");

    // Naming someone not offered is a failure: nobody is assigned (no built-in rule swapped
    // in), the lead stays with the caller's pool or the caller, and the failure is recorded.
    put("fn pick(customer, candidates, ctx) {\n    #{ user_id: \"ghost\", reason: \"查无此人\" }\n}\n").await;
    let c = auto_lead(&admin, 3).await;
    assert!(!sales.contains(&owner(&c)), "{c}");
    let (_, list) = admin.get("/api/v1/plugins").await;
    let assign = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "assign")
        .unwrap();
    assert_eq!(assign["errors_since_save"], 1, "{assign}");
    assert_eq!(assign["failing"], json!(["assign.pick"]), "{assign}");
    assert!(
        assign["recent_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ghost"),
        "{assign}"
    );
    assert_eq!(assign["recent_errors"][0]["record_id"], c["id"], "{assign}");
    s.stop().await;
}

/// Capacity (库容) for assignment means what it means for claims: won customers count against
/// `max_owned` only when the pool's `max_owned_counts_won` is set.
#[tokio::test]
async fn won_customers_count_against_capacity_only_when_the_pool_says_so() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let winner = common::add_user(&s, "winner", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海",
                   "settings": {"max_owned": 2, "max_owned_counts_won": true}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let pool = p["id"].as_str().unwrap().to_string();
    // Two won customers and one open: three held, two not won.
    lead(&admin, 1, json!({"owner_id": winner, "stage": "won"})).await;
    lead(&admin, 2, json!({"owner_id": winner, "stage": "won"})).await;
    // Counting won ones, the user is full: the lead waits in the admin's pool.
    let c = auto_lead(&admin, 3).await;
    assert_eq!(owner(&c), "", "{c}");
    let (_, users) = admin.get("/api/v1/assignment/users").await;
    assert_eq!(users[0]["owned"], 2, "{users}");
    // Not counting them, there is room for two.
    let (st, p) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/pools/{pool}"),
            Some(json!({"settings": {"max_owned": 2, "max_owned_counts_won": false}})),
        )
        .await;
    assert!(st.is_success(), "{st} {p}");
    let owners = [
        owner(&auto_lead(&admin, 4).await),
        owner(&auto_lead(&admin, 5).await),
    ];
    assert_eq!(owners, [winner.clone(), winner.clone()]);
    assert_eq!(
        owner(&auto_lead(&admin, 6).await),
        "",
        "full again: 2 not won"
    );
    let (_, users) = admin.get("/api/v1/assignment/users").await;
    assert_eq!(users[0]["owned"], 2, "{users}");
    s.stop().await;
}

/// The raw-body import (`application/octet-stream`) takes `assign` and `pool_id` as query
/// parameters, as the multipart form takes them as fields.
#[tokio::test]
async fn a_raw_body_import_assigns_with_the_assign_query_parameter() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let mut sales: Vec<String> = ["ra", "rb", "rc"]
        .iter()
        .map(|n| common::add_user(&s, n, &["sales"], None))
        .collect();
    sales.sort();
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = crate::import::upload(&admin, "?assign=auto", rows(6, 0, None)).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["created"].as_u64(), r["assigned"].as_u64()),
        (Some(6), Some(6)),
        "{r}"
    );
    let mut owners = owners_of_imported(&admin).await;
    owners.sort();
    let mut want: Vec<String> = sales.iter().chain(&sales).cloned().collect();
    want.sort();
    assert_eq!(owners, want, "two each");
    // Nobody free: the rows wait in the pool named by `pool_id`.
    let (st, p) = admin
        .post("/api/v1/pools", json!({"name": "导入公海"}))
        .await;
    assert_eq!(st, 201, "{p}");
    let pool = p["id"].as_str().unwrap().to_string();
    for u in &sales {
        admin
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/assignment/users/{u}"),
                Some(json!({"paused": true})),
            )
            .await;
    }
    let (st, r) = crate::import::upload(
        &admin,
        &format!("?assign=auto&pool_id={pool}"),
        rows(2, 50, None),
    )
    .await;
    assert_eq!((st, r["assigned"].as_u64()), (200, Some(0)), "{r}");
    let (_, page) = admin
        .get(&format!("/api/v1/pools/{pool}/customers?limit=50"))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    // Checked like the form: an unknown mode, and `assign` with an owner.
    let (st, e) = crate::import::upload(&admin, "?assign=lottery", rows(1, 90, None)).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("assign")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn auto_assignment_to_a_chosen_department_stays_inside_it_and_its_sub_departments() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let dept = |name: &str, parent: Option<&str>| common::add_department(&s, name, parent);
    let a = dept("成都一部", None);
    let a1 = dept("一部一组", Some(&a));
    let b = dept("成都二部", None);
    let in_a = [
        common::add_user(&s, "ra", &["sales"], Some(&a)),
        common::add_user(&s, "ra1", &["sales"], Some(&a1)),
    ];
    let in_b = common::add_user(&s, "rb", &["sales"], Some(&b));
    common::add_user(&s, "mgr_b", &["manager"], Some(&b));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(lead(&admin, 500 + n, json!({})).await["id"].clone());
    }

    // Department A (with its sub-department): only ra and ra1, three each.
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": ids, "auto": true, "department_id": a}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let got: Vec<String> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap().to_string())
        .collect();
    let t = tally(&got);
    assert_eq!(t.len(), 2, "{r}");
    assert!(in_a.iter().all(|u| t.get(u) == Some(&3)), "{t:?}");
    assert!(!t.contains_key(&in_b));

    // Refusals: unknown department, a department outside a manager's tree, without auto.
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [ids[0]], "auto": true, "department_id": "nope"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["error"]["field"], "department_id", "{r}");
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [ids[0]], "to_user": in_b, "department_id": b}),
        )
        .await;
    assert_eq!(
        (st, r["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("department_id")),
        "{r}"
    );
    let mgr_b = s.login("mgr_b", common::TEAM_PASSWORD).await;
    let mine = lead(&mgr_b, 600, json!({})).await["id"].clone();
    let (st, r) = mgr_b
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [mine], "auto": true, "department_id": a}),
        )
        .await;
    assert_eq!(
        (st, r["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("department_id")),
        "{r}"
    );
    let (st, r) = mgr_b
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [mine], "auto": true, "department_id": b}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["items"][0]["user_id"], in_b.as_str(), "{r}");
}
