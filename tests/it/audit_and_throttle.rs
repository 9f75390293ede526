//! Login throttling and the hash-chained audit log: brute force is slowed without locking the
//! account out for its owner, every attempt is audited, and tampering is detected by doctor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use redb::{ReadableTable, TableDefinition};
use serde_json::json;
use zhudai::service::Error;

#[tokio::test]
async fn brute_force_is_throttled_per_address_and_audited() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let app = s.app.clone();
    let attacker = "203.0.113.9";
    let mut outcomes = Vec::new();
    for _ in 0..50 {
        outcomes.push(
            match app.access().login(ADMIN, "guess-guess-guess", attacker) {
                Err(Error::InvalidCredentials) => "401",
                Err(Error::Throttled { .. }) => "429",
                other => panic!("unexpected {:?}", other.map(|_| ())),
            },
        );
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == "401").count(),
        5,
        "{outcomes:?}"
    );
    assert!(
        outcomes[5..].iter().all(|o| *o == "429"),
        "throttled after 5"
    );
    // Even the right password waits from the attacker's address...
    assert!(matches!(
        app.access().login(ADMIN, ADMIN_PASSWORD, attacker),
        Err(Error::Throttled { .. })
    ));
    // ...but the owner, elsewhere, is not locked out.
    assert!(
        app.access()
            .login(ADMIN, ADMIN_PASSWORD, "198.51.100.7")
            .is_ok()
    );

    // Over HTTP: 429 with Retry-After, the contract's error body. The test client's address
    // is 127.0.0.1; fail five times from there first.
    let c = s.client();
    for _ in 0..5 {
        let (st, _) = c
            .post(
                "/api/v1/auth/login",
                json!({"username": ADMIN, "password": "nope-nope"}),
            )
            .await;
        assert_eq!(st, 401);
    }
    let resp = c
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": ADMIN, "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "throttled");

    // Every attempt is in the audit log.
    s.clock.advance(chrono::Duration::seconds(31));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let count = |action: &'static str| {
        let admin = &admin;
        async move {
            let (st, page) = admin
                .get(&format!("/api/v1/audit?action={action}&limit=500"))
                .await;
            assert_eq!(st, 200, "{page}");
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("auth.login_failed").await, 5 + 5);
    // One row per back-off period and pair, not one per hammering request.
    assert_eq!(count("auth.login_throttled").await, 2);
    assert_eq!(
        count("auth.login").await,
        2,
        "the owner's login and this one"
    );
    let (_, page) = admin
        .get("/api/v1/audit?action=auth.login_failed&limit=1")
        .await;
    let e = &page["items"][0];
    assert_eq!(e["actor"], ADMIN);
    assert_eq!(e["detail"]["reason"], "wrong_password");
    assert_eq!(e["source"], "127.0.0.1");
    assert!(page["next_cursor"].is_string());
    assert!(
        s.app
            .access()
            .audit_verify()
            .unwrap()
            .first_broken
            .is_none()
    );
    s.stop().await;
}

#[tokio::test]
async fn audit_log_needs_audit_view() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    s.app.platform().demo_staff(2, 1).unwrap(); // staff0002 is a sales account
    let sales = s
        .login("staff0002", zhudai::service::platform::demo::DEMO_PASSWORD)
        .await;
    let (st, body) = sales.get("/api/v1/audit").await;
    assert_eq!(
        (st.as_u16(), body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (st, _) = s.client().get("/api/v1/audit").await;
    assert_eq!(st, 401);
    s.stop().await;
}

#[tokio::test]
async fn one_tampered_byte_is_found_by_doctor() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    for i in 0..4 {
        let _ = s
            .app
            .access()
            .login(ADMIN, "wrong password", &format!("10.0.0.{i}"));
    }
    let data = s.stop().await;
    let dir = data.path().to_path_buf();

    let doctor = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(["--data", dir.to_str().unwrap(), "doctor"])
            .output()
            .unwrap()
    };
    let out = doctor();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("audit chain: 5 entries verified"), "{text}");

    // Flip one byte inside entry 3's stored JSON (the source address 10.0.0.1 → 10.0.0.3).
    const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
    {
        let db = redb::Database::open(dir.join("zhudai.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(AUDIT).unwrap();
            let mut bytes = t.get(3).unwrap().unwrap().value().to_vec();
            let text = String::from_utf8(bytes.clone()).unwrap();
            let at = text.find("10.0.0.1").unwrap() + 7;
            bytes[at] = b'3';
            t.insert(3, bytes.as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }
    let out = doctor();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("FAIL  audit chain: broken at entry 3"),
        "{text}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_throttled_and_audited() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    // A range, as a hosting partner configures its proxy subnet; 10.1.2.3 inside it is skipped too.
    config.server.trusted_proxies = vec!["127.0.0.0/8".into(), "10.0.0.0/8".into()];
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let http = reqwest::Client::new();
    let attempt = |xff: &'static str| {
        let http = http.clone();
        let url = s.url("/api/v1/auth/login");
        async move {
            http.post(url)
                .header("x-forwarded-for", xff)
                .json(&json!({"username": ADMIN, "password": "wrong-wrong"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The client forges a left-hand entry; the proxy appends the real address on the right.
    for _ in 0..5 {
        assert_eq!(attempt("6.6.6.6, 203.0.113.5, 10.1.2.3").await, 401);
    }
    assert_eq!(
        attempt("7.7.7.7, 203.0.113.5").await,
        429,
        "throttled by the real address"
    );
    assert_eq!(
        attempt("198.51.100.1").await,
        401,
        "another client behind the same proxy is not"
    );
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await; // the test client sends no X-Forwarded-For
    let (_, page) = admin
        .get("/api/v1/audit?action=auth.login_failed&limit=1")
        .await;
    assert_eq!(page["items"][0]["source"], "198.51.100.1");
    s.stop().await;
}

/// Issue 17.7: the audit page names customer targets the reader may see — through the reader's
/// own scope, so a deleted customer (or one outside it) stays an id.
#[tokio::test]
async fn the_audit_page_names_customers_the_reader_may_see() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(common::ADMIN, common::ADMIN_PASSWORD).await;
    let (_, a) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "冯一", "phone": "13800000031"}),
        )
        .await;
    let (_, b) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "冯二", "phone": "13800000032"}),
        )
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let (st, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/customers/{b}"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, page) = admin.get("/api/v1/audit?action=customer.created").await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["customer_names"][a], "冯一", "{page}");
    assert!(
        page["customer_names"].get(b).is_none(),
        "a deleted customer stays an id: {page}"
    );
    s.stop().await;
}

/// Probe: a change to a user's phone or extension left `user.updated` saying nothing had
/// changed (its before/after held neither), and no entry said which fields changed. Now the
/// entry lists `changed`, and the phone appears only masked.
#[tokio::test]
async fn a_user_s_phone_and_extension_changes_are_audited_by_field() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let li = common::add_user(&s, "li", &["sales"], None);
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{li}"),
            Some(json!({"phone": "13800138000", "extension": "8021"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, page) = admin.get("/api/v1/audit?action=user.updated").await;
    assert_eq!(st, 200, "{page}");
    let entry = &page["items"][0];
    assert_eq!(entry["target"], json!(li), "{page}");
    assert_eq!(
        entry["detail"]["changed"],
        json!(["phone", "extension"]),
        "{entry}"
    );
    assert_eq!(
        entry["detail"]["after"]["extension"],
        json!("8021"),
        "{entry}"
    );
    assert_eq!(
        entry["detail"]["after"]["phone"],
        json!("138****8000"),
        "{entry}"
    );
    assert!(!entry.to_string().contains("13800138000"), "{entry}");
    s.stop().await;
}

/// Probe: an export refused (no `customer.export`, or a full copy beyond one's privileges or
/// with a reveal quota) left no trace; an attempt to take more than one may is now in the log.
#[tokio::test]
async fn a_refused_export_is_audited() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "sales1", &["sales"], None);
    common::add_user(&s, "mgr1", &["manager"], None);
    let sales = s.login("sales1", common::TEAM_PASSWORD).await;
    let mgr = s.login("mgr1", common::TEAM_PASSWORD).await;
    // Refused every time, recorded once an hour per user: a loop must not grow the
    // permanent log without end.
    for _ in 0..5 {
        let (st, _) = sales.get("/api/v1/exports/customers?format=csv").await;
        assert_eq!(st, 403);
    }
    let (st, _) = mgr
        .get("/api/v1/exports/customers?format=xlsx&full=true")
        .await;
    assert_eq!(st, 403);
    let (st, page) = admin
        .get("/api/v1/audit?action=customer.export_refused")
        .await;
    assert_eq!(st, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["actor"], json!("mgr1"), "{page}");
    assert_eq!(items[0]["detail"]["full"], json!(true), "{page}");
    assert_eq!(items[0]["detail"]["format"], json!("xlsx"), "{page}");
    assert!(items[0]["detail"]["lacks"].is_string(), "{page}");
    assert_eq!(items[1]["actor"], json!("sales1"), "{page}");
    assert_eq!(
        items[1]["detail"]["lacks"],
        json!("customer.export"),
        "{page}"
    );
    s.clock.advance(chrono::Duration::minutes(61));
    let sales = s.login("sales1", common::TEAM_PASSWORD).await;
    let (st, _) = sales.get("/api/v1/exports/customers?format=csv").await;
    assert_eq!(st, 403);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, page) = admin
        .get("/api/v1/audit?action=customer.export_refused")
        .await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        3,
        "an hour later: {page}"
    );
    s.stop().await;
}

/// Probe: unknown query parameters on the audit list (`?target=…`, a typo of `action`) were
/// ignored, so a filter that does not exist returned the whole log as if it had matched.
#[tokio::test]
async fn the_audit_list_refuses_unknown_parameters() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for (query, name) in [("actoin=auth.login", "actoin"), ("target=x", "target")] {
        let (st, v) = admin.get(&format!("/api/v1/audit?{query}")).await;
        assert_eq!(
            (st.as_u16(), v["error"]["field"].as_str()),
            (400, Some(name)),
            "{query}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains(name),
            "{v}"
        );
    }
    let (st, v) = admin.get("/api/v1/audit?action=auth.login&limit=5").await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}
