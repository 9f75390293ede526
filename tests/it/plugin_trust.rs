//! Plugins a firm can trust (issue 15): a failing hook has a safe outcome and is recorded
//! where the admin sees it, results are checked strictly, saves run the file's tests, a broken
//! file after a restart runs the last good saved version, engine rules beat scripts, a stale
//! horizon is caught, and the integrators' helpers (const, departments, turns) work end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer, epoch};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put(c: &Client, path: &str, source: &str) -> (StatusCode, Value) {
    c.call(
        Method::PUT,
        path,
        Some(json!({"source": source, "note": "test"})),
    )
    .await
}

/// The firm-wide pool (a fresh data directory has none).
async fn firm_pool(c: &Client) -> String {
    let (st, p) = c
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海", "department_id": null, "settings": {}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_string()
}

async fn save(c: &Client, name: &str, source: &str) {
    let (st, b) = put(c, &format!("/api/v1/plugins/{name}"), source).await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

async fn plugin(c: &Client, name: &str) -> Value {
    let (st, list) = c.get("/api/v1/plugins").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
        .clone()
}

async fn customer(c: &Client, n: u32, owner: &str, extra: Value) -> String {
    let mut body =
        json!({"name": format!("客户{n}"), "phone": format!("136{n:08}"), "owner_id": owner});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (st, c) = c.post("/api/v1/customers", body).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn sweep(c: &Client, days: i64, dry_run: bool) -> Value {
    let at = (epoch() + Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (st, r) = c
        .post(
            &format!("/api/v1/pools/sweep?dry_run={dry_run}&as_of={at}"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    r
}

/// A real sweep runs now: the clock moves on to `days` after the epoch, then it runs. Returns
/// the report and the administrator logged in again (the old session may have expired).
async fn run_sweep(s: &TestServer, days: i64) -> (Value, Client) {
    let at = epoch() + Duration::days(days);
    let now = s.app.now();
    assert!(at >= now, "the clock only moves forward");
    s.clock.advance(at - now);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    (r, admin)
}

const RECALL_ALL: &str =
    "fn recall(customer, pool, ctx) { #{ recall: true, reason: \"全部回收\" } }\n";

/// A `can_claim` that throws (a typo such as `ctx.claim_today`) refuses the claim with rule
/// `plugin_error` and the message; the plugins page counts it and marks the hook failing until
/// it is saved again. It used to run the built-in rule silently.
#[tokio::test]
async fn a_throwing_can_claim_refuses_and_shows_on_the_plugins_page() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    common::add_user(&s, "mei", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    firm_pool(&admin).await;
    let id = customer(&admin, 1, &sun, json!({})).await;
    let sun_c = s.login("sun", common::TEAM_PASSWORD).await;
    let (st, e) = sun_c
        .post(
            &format!("/api/v1/customers/{id}/release"),
            json!({"reason": "暂无需求"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    save(
        &admin,
        "pool",
        "fn can_claim(customer, user, pool, ctx) {\n  if ctx.claim_today >= 5 { return #{ allow: false, rule: \"daily\" }; }\n  #{ allow: true }\n}\n",
    )
    .await;
    s.clock.advance(Duration::days(3));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mei = s.login("mei", common::TEAM_PASSWORD).await;
    let (st, e) = mei
        .post(&format!("/api/v1/customers/{id}/claim"), json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["code"], "claim_refused");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("plugin_error") && msg.contains("claim_today"),
        "{msg}"
    );

    let p = plugin(&admin, "pool").await;
    assert_eq!(p["errors_since_save"], 1, "{p}");
    assert_eq!(p["failing"], json!(["pool.can_claim"]), "{p}");
    let f = &p["recent_errors"][0];
    assert_eq!(
        (f["hook"].as_str(), f["file"].as_str(), f["line"].as_u64()),
        (Some("pool.can_claim"), Some("pool.rhai"), Some(2)),
        "{f}"
    );
    assert_eq!(f["record_id"], id.as_str());
    assert!(f["version"].is_string(), "the saved version is named: {f}");

    // Saving again starts the count afresh and clears the banner.
    save(
        &admin,
        "pool",
        "fn can_claim(customer, user, pool, ctx) { #{ allow: true } }\n",
    )
    .await;
    let p = plugin(&admin, "pool").await;
    assert_eq!(
        (p["errors_since_save"].as_u64(), p["failing"].clone()),
        (Some(0), json!([]))
    );
    let (st, e) = mei
        .post(&format!("/api/v1/customers/{id}/claim"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
}

/// A misspelled key or a wrong type in a result is an error: the sweep keeps the customer and
/// counts it (it used to read as "keep" silently); one summary, the count in the report.
#[tokio::test]
async fn a_misspelled_result_key_is_an_error_counted_in_the_sweep_report() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    firm_pool(&admin).await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(customer(&admin, n, &sun, json!({})).await);
    }
    for (source, needle) in [
        (
            "fn recall(customer, pool, ctx) { #{ recal: true, reason: \"拼错\" } }\n",
            "recal",
        ),
        (
            "fn recall(customer, pool, ctx) { #{ recall: \"yes\", reason: \"类型\" } }\n",
            "recall 应为 bool",
        ),
        (
            "fn recall(customer, pool, ctx) { #{ recall: true } }\n",
            "reason",
        ),
    ] {
        save(&admin, "pool", source).await;
        let r = sweep(&admin, 1, true).await;
        assert_eq!(
            (r["recalled"].as_u64(), r["errors"].as_u64()),
            (Some(0), Some(12)),
            "{r}"
        );
        assert_eq!(r["first_errors"].as_array().unwrap().len(), 10, "{r}");
        let m = r["first_errors"][0]["message"].as_str().unwrap();
        assert!(m.contains(needle), "{needle}: {m}");
        assert!(
            ids.contains(
                &r["first_errors"][0]["record_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            )
        );
    }
    // The real sweep keeps them all and reports the count; the plugins page shows it.
    let (r, admin) = run_sweep(&s, 1).await;
    assert_eq!(
        (r["recalled"].as_u64(), r["errors"].as_u64()),
        (Some(0), Some(12)),
        "{r}"
    );
    let p = plugin(&admin, "pool").await;
    assert_eq!(p["errors_since_save"], 12, "{p}");
    assert_eq!(p["failing"], json!(["pool.recall"]), "{p}");
    // The try-it panel shows the same error.
    let (_, t) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": ids[0]}),
        )
        .await;
    assert!(
        t["error"]["message"].as_str().unwrap().contains("reason"),
        "{t}"
    );
}

/// A sweep in which the hook throws for every customer: the report counts them all, the
/// summary is logged once (not per customer), and the server keeps answering.
#[tokio::test]
async fn a_throwing_recall_is_counted_once_per_sweep_and_the_server_keeps_answering() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    firm_pool(&admin).await;
    for n in 0..30 {
        customer(&admin, n, &sun, json!({})).await;
    }
    save(
        &admin,
        "pool",
        "fn recall(customer, pool, ctx) { throw \"坏规则\"; }\n",
    )
    .await;
    let app = s.app.clone();
    let (report, lines) = tokio::task::spawn_blocking(move || {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Capture(writer.clone()))
            .with_max_level(tracing::Level::ERROR)
            .with_ansi(false)
            .finish();
        let report = tracing::subscriber::with_default(subscriber, || {
            app.pools()
                .sweep_at(epoch() + Duration::days(1), false, 10)
                .unwrap()
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        (report, text)
    })
    .await
    .unwrap();
    assert_eq!((report.errors, report.recalled), (30, 0));
    assert_eq!(report.first_errors.len(), 10);
    assert!(report.first_errors[0].message.contains("坏规则"));
    assert_eq!(lines.lines().count(), 1, "one summary line: {lines}");
    assert!(lines.contains("errors=30"), "{lines}");
    assert_eq!(s.client().get("/api/v1/health").await.0, StatusCode::OK);
}

struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Saving runs the file's `tests()`: a failing case is refused with 422, the case and its
/// line; `?force=true` saves anyway and the audit says so.
#[tokio::test]
async fn a_save_with_failing_tests_is_refused_unless_forced() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let source = "fn pick(customer, candidates, ctx) { #{ user_id: (), reason: \"不分\" } }\n\
                  fn tests() {\n  [\n    #{ name: \"总给u1\", hook: \"pick\", candidates: [#{ id: \"u1\" }], expect: #{ user_id: \"u1\" } },\n  ]\n}\n";
    let (st, e) = put(&admin, "/api/v1/plugins/assign", source).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "plugin_tests_failed");
    assert_eq!(e["script_error"]["file"], "assign.rhai");
    assert_eq!(e["script_error"]["line"], 4, "{e}");
    assert!(
        e["script_error"]["message"]
            .as_str()
            .unwrap()
            .contains("总给u1")
    );
    let p = plugin(&admin, "assign").await;
    assert_eq!(p["running"], "file");
    let (_, detail) = admin.get("/api/v1/plugins/assign").await;
    assert!(
        !detail["source"].as_str().unwrap().contains("不分"),
        "not saved"
    );

    let (st, d) = put(&admin, "/api/v1/plugins/assign?force=true", source).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let (_, audit) = admin.get("/api/v1/audit?action=plugin.saved").await;
    let row = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "plugin.saved")
        .unwrap()
        .clone();
    assert_eq!(row["detail"]["forced"], true, "{row}");
}

/// After a restart, a file that does not compile runs the newest saved version that does (it
/// used to run the built-in default while the log claimed otherwise); the page names it.
#[tokio::test]
async fn a_broken_file_after_restart_runs_the_last_good_version() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    firm_pool(&admin).await;
    let id = customer(&admin, 1, &sun, json!({})).await;
    save(
        &admin,
        "pool",
        "fn recall(customer, pool, ctx) { #{ recall: true, reason: \"已保存的版本\" } }\n",
    )
    .await;
    let (_, detail) = admin.get("/api/v1/plugins/pool").await;
    let version = detail["versions"][0]["id"].as_str().unwrap().to_string();
    std::fs::write(
        s.dir.path().join("plugins/pool.rhai"),
        "fn recall(customer, pool, ctx) {\n  #{ recall: \n}\n",
    )
    .unwrap();
    let s = s.restart().await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = plugin(&admin, "pool").await;
    assert_eq!(
        (
            p["status"].as_str(),
            p["running"].as_str(),
            p["running_version"].as_str()
        ),
        (Some("error"), Some("last_good"), Some(version.as_str())),
        "{p}"
    );
    let r = sweep(&admin, 1, true).await;
    assert_eq!(r["actions"][0]["reason"], "已保存的版本", "{r}");
    assert_eq!(r["actions"][0]["customer_id"], id.as_str());
    // The broken edit on disk became a version too, audited as a disk edit.
    let (_, detail) = admin.get("/api/v1/plugins/pool").await;
    assert_eq!(detail["versions"][0]["author"], "disk", "{detail}");
    let (_, audit) = admin.get("/api/v1/audit?action=plugin.disk_edit").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "plugin.disk_edit"),
        "{audit}"
    );
}

/// Locked, won and deleted customers are never recalled, whatever the script says.
#[tokio::test]
async fn a_script_that_recalls_a_locked_customer_has_no_effect() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    firm_pool(&admin).await;
    let plain = customer(&admin, 1, &sun, json!({})).await;
    let locked = customer(&admin, 2, &sun, json!({})).await;
    let won = customer(&admin, 3, &sun, json!({"stage": "won"})).await;
    let sun_c = s.login("sun", common::TEAM_PASSWORD).await;
    let (st, e) = sun_c
        .post(&format!("/api/v1/customers/{locked}/lock"), json!({}))
        .await;
    assert!(st.is_success(), "{e}");
    save(&admin, "pool", RECALL_ALL).await;
    let (r, admin) = run_sweep(&s, 1).await;
    let recalled: Vec<&str> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["customer_id"].as_str().unwrap())
        .collect();
    assert_eq!(recalled, vec![plain.as_str()], "{r}");
    for id in [&locked, &won] {
        let (_, c) = admin.get(&format!("/api/v1/customers/{id}")).await;
        assert_eq!(c["owner_id"], sun.as_str(), "{c}");
    }
}

/// A `horizon` left at a value the recall rule breaks is refused at save (and by `plugin
/// check`): a sweep would otherwise skip customers the rule wants recalled.
#[tokio::test]
async fn a_stale_horizon_is_caught() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let source = format!("{RECALL_ALL}fn horizon(pool, ctx) {{ 10 }}\n");
    let (st, e) = put(&admin, "/api/v1/plugins/pool", &source).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "plugin_tests_failed");
    assert_eq!(e["script_error"]["line"], 2, "{e}");
    assert!(
        e["script_error"]["message"]
            .as_str()
            .unwrap()
            .contains("horizon"),
        "{e}"
    );
    // A horizon the rule honours saves.
    save(
        &admin,
        "pool",
        "fn recall(customer, pool, ctx) {\n  if days_between(customer.held_since, ctx.now) > 20 { return #{ recall: true, reason: \"20天\" }; }\n  #{}\n}\nfn horizon(pool, ctx) { 20 }\n",
    )
    .await;
}

/// Try-it takes `now` and refuses unknown fields; DELETE removes a plugin file (the built-in
/// default serves again) and is audited.
#[tokio::test]
async fn try_it_takes_now_and_delete_restores_the_default() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = customer(&admin, 1, &sun, json!({"grade": "B"})).await;
    let (st, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["decision"]["recall"], false, "{r}");
    let later = (epoch() + Duration::days(20)).to_rfc3339();
    let (_, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id, "now": later}),
        )
        .await;
    assert_eq!(r["decision"]["recall"], true, "{r}");
    let (st, e) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id, "as_of": later}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("as_of"),
        "{e}"
    );

    save(&admin, "pool", RECALL_ALL).await;
    let (st, _) = admin
        .call(Method::DELETE, "/api/v1/plugins/pool", None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let p = plugin(&admin, "pool").await;
    assert_eq!(
        (p["origin"].as_str(), p["running"].as_str()),
        (Some("default"), Some("default"))
    );
    let (st, _) = admin
        .call(Method::DELETE, "/api/v1/plugins/pool", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, audit) = admin.get("/api/v1/audit?action=plugin.deleted").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "plugin.deleted")
    );
}

/// The examples' "round robin inside one department": 抖音 leads go in turn to the people of
/// 直播部 and the departments below it, with the group's own persisted turn (`ctx.turn`),
/// uninterrupted by other leads; the rule's top-level constants are read inside `pick`.
#[tokio::test]
async fn round_robin_inside_one_department() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let live = common::add_department(&s, "直播部", None);
    let sub = common::add_department(&s, "直播一组", Some(&live));
    let other = common::add_department(&s, "电销部", None);
    let a = common::add_user(&s, "la", &["sales"], Some(&live));
    let b = common::add_user(&s, "lb", &["sales"], Some(&sub));
    let c = common::add_user(&s, "oc", &["sales"], Some(&other));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plugins/assign-dept-round-robin.rhai"
    ))
    .unwrap();
    save(&admin, "assign", &source).await;
    let mut owners = Vec::new();
    for n in 0..6u32 {
        let channel = if n % 3 == 2 { "百度" } else { "抖音" };
        let (st, cu) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("线索{n}"), "phone": format!("135{n:08}"),
                       "channel": channel, "assign": "auto"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{cu}");
        owners.push((channel, cu["owner_id"].as_str().unwrap_or("").to_string()));
    }
    let live_owners: Vec<&str> = owners
        .iter()
        .filter(|(ch, _)| *ch == "抖音")
        .map(|(_, o)| o.as_str())
        .collect();
    let mut pair = [a.as_str(), b.as_str()];
    pair.sort();
    assert_eq!(
        live_owners,
        vec![pair[0], pair[1], pair[0], pair[1]],
        "{owners:?}"
    );
    assert!(!live_owners.contains(&c.as_str()));
}

/// `zhudai plugin check` on a directory that does not exist fails (it used to report "no
/// plugins" and exit 0); on the shipped examples it passes, the round-robin rule included.
#[test]
fn plugin_check_fails_on_a_missing_directory() {
    let run = |dir: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(["plugin", "check", "--dir", dir])
            .output()
            .unwrap()
    };
    let out = run("/nonexistent/zhudai-plugins");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/zhudai-plugins"), "{err}");
    let out = run(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/plugins"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ok    assign-dept-round-robin.rhai: 4 test case(s) passed"),
        "{text}"
    );
}
