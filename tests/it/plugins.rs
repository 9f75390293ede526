//! Plugins over HTTP: list, save (versioned, audited, 422 with file/line when broken, the old
//! version keeps running), rollback, try a hook on a real customer, and hostile scripts that
//! never stop the server from answering.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::time::{Duration, Instant};

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn put(c: &common::Client, name: &str, source: &str) -> (u16, Value) {
    let (st, body) = c
        .call(
            Method::PUT,
            &format!("/api/v1/plugins/{name}"),
            Some(json!({"source": source, "note": "test"})),
        )
        .await;
    (st.as_u16(), body)
}

async fn new_customer(c: &common::Client) -> String {
    let (st, cu) = c
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13811112222", "grade": "B"}),
        )
        .await;
    assert_eq!(st, 201, "{cu}");
    cu["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn plugins_list_save_version_rollback_and_audit() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;

    // The defaults were copied on first run and run from disk.
    let (st, list) = admin.get("/api/v1/plugins").await;
    assert_eq!(st, 200, "{list}");
    let pool = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pool")
        .unwrap()
        .clone();
    assert_eq!(
        (pool["status"].as_str(), pool["running"].as_str()),
        (Some("ok"), Some("file")),
        "{pool}"
    );
    assert_eq!(pool["hooks"], json!(["pool.recall", "pool.can_claim"]));

    // Sales may not manage plugins.
    common::add_user(&s, "sun", &["sales"], None);
    let sun = s.login("sun", common::TEAM_PASSWORD).await;
    assert_eq!(sun.get("/api/v1/plugins").await.0, 403);
    assert_eq!(put(&sun, "pool", "fn recall(c, p, x) { #{} }").await.0, 403);

    let id = new_customer(&admin).await;
    let try_recall = json!({"hook": "pool.recall", "customer_id": id});

    // Save a version that recalls everyone.
    let v1 = "fn recall(customer, pool, ctx) {\n    #{ recall: true, reason: \"全部回收\" }\n}\n";
    let (st, d) = put(&admin, "pool", v1).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["source"], v1);
    assert_eq!(d["versions"].as_array().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("plugins/pool.rhai")).unwrap(),
        v1
    );
    let (st, r) = admin
        .post("/api/v1/plugins/pool/test", try_recall.clone())
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["decision"]["reason"], "全部回收", "{r}");

    // A broken source: 422 with file/line/message, nothing changes.
    let broken = "fn recall(customer, pool, ctx) {\n    let x = ;\n}\n";
    let (st, e) = put(&admin, "pool", broken).await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["error"]["code"], "plugin_compile");
    assert_eq!(e["script_error"]["file"], "pool.rhai");
    assert_eq!(e["script_error"]["line"], 2);
    let (_, d) = admin.get("/api/v1/plugins/pool").await;
    assert_eq!(
        (
            d["source"].as_str(),
            d["versions"].as_array().unwrap().len()
        ),
        (Some(v1), 1)
    );
    let (_, r) = admin
        .post("/api/v1/plugins/pool/test", try_recall.clone())
        .await;
    assert_eq!(r["decision"]["reason"], "全部回收");

    // Version 2 keeps everyone; then roll back to version 1.
    let v2 = "fn recall(customer, pool, ctx) {\n    #{}\n}\n";
    assert_eq!(put(&admin, "pool", v2).await.0, 200);
    let (_, r) = admin
        .post("/api/v1/plugins/pool/test", try_recall.clone())
        .await;
    assert_eq!(r["decision"]["keep"], true, "{r}");
    let (_, d) = admin.get("/api/v1/plugins/pool").await;
    let versions = d["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let first = versions[1]["id"].as_str().unwrap().to_string();
    let (st, v) = admin
        .get(&format!("/api/v1/plugins/pool/versions/{first}"))
        .await;
    assert_eq!((st.as_u16(), v["source"].as_str()), (200, Some(v1)));
    assert_eq!(admin.get("/api/v1/plugins/pool/versions/nope").await.0, 404);
    let (st, d) = admin
        .post("/api/v1/plugins/pool/rollback", json!({"version": first}))
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["versions"].as_array().unwrap().len(), 3);
    let (_, r) = admin
        .post("/api/v1/plugins/pool/test", try_recall.clone())
        .await;
    assert_eq!(r["decision"]["reason"], "全部回收");

    // Every save is audited with a diff summary.
    let (_, audit) = admin.get("/api/v1/audit?action=plugin.saved").await;
    let rows = audit["items"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{audit}");
    let last = &rows[0];
    assert_eq!(last["target"], "pool");
    assert!(last["detail"]["added"].is_number(), "{last}");

    // Bad names and unknown hooks.
    assert_eq!(put(&admin, "../x", v2).await.0, 404);
    assert_eq!(put(&admin, "Bad", v2).await.0, 400);
    let (st, _) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "nope", "customer_id": id}),
        )
        .await;
    assert_eq!(st, 400);
    // A customer outside the caller's scope is not found.
    let (st, _) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": "01NOPE"}),
        )
        .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn try_it_runs_default_rules_with_inline_pool_settings() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = new_customer(&admin).await;
    // Created now: nothing due with the defaults; recalled with a zero-day limit.
    let (_, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id}),
        )
        .await;
    assert_eq!(r["decision"]["keep"], true, "{r}");
    let (_, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id, "pool": {"no_followup_days": {"default": 0}}}),
        )
        .await;
    assert_eq!(r["decision"]["recall"], true, "{r}");
    let (_, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "can_claim", "customer_id": id, "pool": {"claim_daily_limit": 0}}),
        )
        .await;
    assert_eq!(r["decision"]["rule"], "claim_daily_limit", "{r}");
    let (_, r) = admin
        .post(
            "/api/v1/plugins/assign/test",
            json!({"hook": "assign.pick", "customer_id": id}),
        )
        .await;
    assert!(r["decision"]["user_id"].is_string(), "{r}");
}

#[tokio::test]
async fn hostile_scripts_fail_with_file_and_line_while_the_server_keeps_answering() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = new_customer(&admin).await;
    let hostile = [
        (
            "fn recall(customer, pool, ctx) {\n    let x = 0;\n    loop { x += 1; }\n}\n",
            0,
        ),
        (
            "fn deep(n) { deep(n + 1) }\nfn recall(customer, pool, ctx) {\n    deep(0)\n}\n",
            0,
        ),
        (
            "fn recall(customer, pool, ctx) {\n    let s = \"ab\";\n    while true { s += s; }\n}\n",
            0,
        ),
        (
            "fn recall(customer, pool, ctx) {\n    customer.name - 1\n}\n",
            2,
        ),
    ];
    for (source, line) in hostile {
        let (st, d) = put(&admin, "pool", source).await;
        assert_eq!(st, 200, "{d}");
        let base = s.base.clone();
        let health = tokio::spawn(async move {
            // While the hostile script runs, health answers quickly.
            let http = reqwest::Client::new();
            let mut worst = Duration::ZERO;
            for _ in 0..5 {
                let t = Instant::now();
                let r = http
                    .get(format!("{base}/api/v1/health"))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                worst = worst.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            worst
        });
        let started = Instant::now();
        let (st, r) = admin
            .post(
                "/api/v1/plugins/pool/test",
                json!({"hook": "recall", "customer_id": id}),
            )
            .await;
        assert_eq!(st, 200, "{r}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(r["error"]["file"], "pool.rhai", "{r}");
        if line == 0 {
            // Stopped by the wall clock or the operation limit: the loop or the hook function.
            assert!(r["error"]["line"].is_number(), "{r}");
        } else {
            assert_eq!(r["error"]["line"], line, "{r}");
        }
        assert!(r["error"]["message"].as_str().unwrap().len() > 3, "{r}");
        let worst = health.await.unwrap();
        assert!(worst < Duration::from_millis(500), "health took {worst:?}");
    }
    // A syntax error is refused at save; the last good version keeps running.
    let (st, e) = put(&admin, "pool", "fn recall(customer, pool, ctx) {\n  #{ \n").await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["script_error"]["file"], "pool.rhai");
    assert_eq!(s.client().get("/api/v1/health").await.0, 200);
}

#[tokio::test]
async fn an_edit_on_disk_is_picked_up_and_a_broken_one_reported() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = new_customer(&admin).await;
    let file = s.dir.path().join("plugins/pool.rhai");
    std::fs::write(
        &file,
        "fn recall(customer, pool, ctx) {\n  #{ recall: true, reason: \"磁盘\" }\n}\n",
    )
    .unwrap();
    s.app.plugins.invalidate();
    let (_, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id}),
        )
        .await;
    assert_eq!(r["decision"]["reason"], "磁盘", "{r}");
    std::fs::write(
        &file,
        "fn recall(customer, pool, ctx) {\n  #{ recall: \n}\n",
    )
    .unwrap();
    s.app.plugins.invalidate();
    let (_, r) = admin
        .post(
            "/api/v1/plugins/pool/test",
            json!({"hook": "recall", "customer_id": id}),
        )
        .await;
    assert_eq!(
        r["decision"]["reason"], "磁盘",
        "old version keeps running: {r}"
    );
    let (_, list) = admin.get("/api/v1/plugins").await;
    let pool = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pool")
        .unwrap();
    assert_eq!(pool["status"], "error");
    assert_eq!(pool["running"], "last_good");
    assert_eq!(pool["error"]["file"], "pool.rhai");
    assert!(pool["error"]["line"].is_number(), "{pool}");
}

/// The try-it panel asks `can_claim` with the chosen user's real counts (owned customers,
/// today's claims in the pool), computed by the code the claim itself uses.
#[tokio::test]
async fn try_it_can_claim_uses_the_users_real_counts() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let lee = common::add_user(&s, "lee", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "公海", "settings": {"claim_daily_limit": 1, "max_owned": 2,
                   "reclaim_cooldown_days": 0}}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let pool_id = p["id"].as_str().unwrap().to_string();
    // Three customers in the pool.
    let mut ids = Vec::new();
    for n in 0..3 {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{n}"), "phone": format!("1390000000{n}"), "owner_id": sun}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        let (st, r) = admin
            .post(
                &format!("/api/v1/customers/{id}/release"),
                json!({"reason": "测试", "pool_id": pool_id}),
            )
            .await;
        assert_eq!(st, 200, "{r}");
        ids.push(id);
    }
    let try_claim = |user: &str, customer: &str| {
        let admin = &admin;
        let body = json!({"hook": "can_claim", "customer_id": customer, "pool_id": pool_id,
                          "user_id": user});
        async move {
            let (st, r) = admin.post("/api/v1/plugins/pool/test", body).await;
            assert_eq!(st, 200, "{r}");
            r["decision"].clone()
        }
    };
    assert_eq!(try_claim(&lee, &ids[0]).await["allow"], true);
    // lee claims one: today's limit (1) is reached for lee, not for sun.
    let lee_c = s.login("lee", common::TEAM_PASSWORD).await;
    let (st, r) = lee_c
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(try_claim(&lee, &ids[1]).await["rule"], "claim_daily_limit");
    assert_eq!(try_claim(&sun, &ids[1]).await["allow"], true);
    // sun owns 2 (the limit): refused by max_owned.
    for n in 10..12 {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{n}"), "phone": format!("139000000{n}"), "owner_id": sun}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
    }
    assert_eq!(try_claim(&sun, &ids[1]).await["rule"], "max_owned");
    // The real claim agrees.
    let sun_c = s.login("sun", common::TEAM_PASSWORD).await;
    let (st, r) = sun_c
        .post(&format!("/api/v1/customers/{}/claim", ids[1]), json!({}))
        .await;
    assert_eq!(st, 409, "{r}");
    assert!(r.to_string().contains("max_owned"), "{r}");
}
