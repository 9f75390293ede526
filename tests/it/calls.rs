//! Calls from the PBX (issue 22.1–22.4): ingestion by a token with `call.ingest`, idempotency,
//! matching by the number's blind index (matched / unmatched, attach), the timeline and the
//! recall clock (manual clock), recordings sniffed and encrypted, ranged playback audited and
//! 404 outside scope, and the statistics from a known fixture, figure by figure.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

/// The admin's API token (the admin role holds `call.ingest`).
async fn pbx_token(admin: &Client) -> String {
    let (st, t) = admin.post("/api/v1/tokens", json!({"name": "PBX"})).await;
    assert_eq!(st, 201, "{t}");
    t["token"].as_str().unwrap().to_string()
}

pub async fn post_call(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/calls"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn cdr(id: &str, to: &str, at: DateTime<Utc>, talk: u32, result: &str, agent: &str) -> Value {
    json!({"external_id": id, "direction": "out", "from": "8001", "to": to,
           "started_at": at, "ring_seconds": 6, "talk_seconds": talk, "result": result,
           "agent": agent})
}

/// A minimal WAV file (8 kHz mono 8-bit) of `n` samples.
pub fn wav(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&((36 + n) as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&8u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(n as u32).to_le_bytes());
    v.extend((0..n).map(|i| (128.0 + 100.0 * ((i as f64) * 0.1).sin()) as u8));
    v
}

async fn upload(s: &TestServer, token: &str, call: &str, body: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url(&format!("/api/v1/calls/{call}/recording")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn customer(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn audit_count(admin: &Client, action: &str) -> usize {
    let (st, a) = admin
        .get(&format!("/api/v1/audit?action={action}&limit=200"))
        .await;
    assert_eq!(st, 200, "{a}");
    a["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn ingest_matches_by_number_is_idempotent_and_unmatched_calls_wait() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let c = customer(&xiao, "钱七", "13800138000").await;
    let token = pbx_token(&admin).await;
    let at = s.app.now() - Duration::minutes(10);

    // A salesperson's session has no `call.ingest`.
    let (st, _) = xiao
        .post(
            "/api/v1/calls",
            cdr("x0", "13800138000", at, 0, "busy", "xiao"),
        )
        .await;
    assert_eq!(st, 403);

    // Matched by the callee (outbound), written however the PBX writes it.
    let (st, call) = post_call(
        &s,
        &token,
        cdr("pbx-1", "+86 138-0013-8000", at, 125, "answered", "xiao"),
    )
    .await;
    assert_eq!(st, 201, "{call}");
    assert!(
        call.get("customer_id").is_none(),
        "the PBX is not told which customer a number is: {call}"
    );
    assert_eq!(call["to"], "138****8000", "masked in every response");
    assert_eq!(call["from"], "****");
    assert_eq!(call["user_name"], "xiao");
    assert!(!call.to_string().contains("13800138000"));
    // The same external id again: the same call, 200.
    let (st, again) = post_call(
        &s,
        &token,
        cdr("pbx-1", "13800138000", at, 125, "answered", "xiao"),
    )
    .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["id"], call["id"]);
    // Inbound: the caller is the customer's number.
    let mut inbound = cdr("pbx-2", "8001", at, 0, "no_answer", "xiao");
    inbound["direction"] = json!("in");
    inbound["from"] = json!("13800138000");
    let (st, v) = post_call(&s, &token, inbound).await;
    assert_eq!(st, 201, "{v}");
    assert!(v.get("customer_id").is_none(), "{v}");
    // Validation names the field.
    let (st, v) = post_call(
        &s,
        &token,
        cdr(
            "pbx-1970",
            "13800138000",
            DateTime::UNIX_EPOCH,
            0,
            "busy",
            "xiao",
        ),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (400, Some("started_at")),
        "a PBX clock never set is no call: {v}"
    );
    let (st, v) = post_call(
        &s,
        &token,
        cdr("pbx-3", "1380013<8000", at, 0, "busy", "xiao"),
    )
    .await;
    assert_eq!((st, v["error"]["field"].as_str()), (400, Some("to")), "{v}");

    let (st, list) = xiao.get(&format!("/api/v1/customers/{c}/calls")).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["total"], 2, "matched by both numbers: {list}");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["customer_id"] == c.as_str())
    );

    // An unknown number waits in the unmatched list (managers and admins only).
    // Its agent is a forwarded mobile, not a user: kept masked like a number.
    let (st, lost) = post_call(
        &s,
        &token,
        cdr(
            "pbx-4",
            "13911112222",
            at,
            30,
            "answered",
            "+86 137-0000-1234",
        ),
    )
    .await;
    assert_eq!(st, 201, "{lost}");
    assert!(lost.get("customer_id").is_none(), "{lost}");
    assert_eq!(lost["agent"], "137****1234", "{lost}");
    assert!(lost["user_id"].is_null());
    assert_eq!(xiao.get("/api/v1/calls/unmatched").await.0, 403);
    let (st, un) = admin.get("/api/v1/calls/unmatched").await;
    assert_eq!(st, 200, "{un}");
    assert_eq!(un["total"], 1);
    assert_eq!(un["items"][0]["to"], "139****2222");
    assert_eq!(un["items"][0]["agent"], "137****1234");
    assert!(un["items"][0]["customer_id"].is_null());
    assert!(!un.to_string().contains("13700001234"), "{un}");
    let lost_id = lost["id"].as_str().unwrap();
    // Attached to a customer: out of the list, onto the customer.
    let (st, a) = admin
        .post(
            &format!("/api/v1/calls/{lost_id}/attach"),
            json!({"customer_id": c}),
        )
        .await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["customer_id"], c.as_str());
    let (st, again) = admin
        .post(
            &format!("/api/v1/calls/{lost_id}/attach"),
            json!({"customer_id": c}),
        )
        .await;
    assert_eq!(st, 409, "{again}");
    assert_eq!(again["error"]["code"], "call_already_attached");
    assert_eq!(admin.get("/api/v1/calls/unmatched").await.1["total"], 0);
    assert_eq!(
        xiao.get(&format!("/api/v1/customers/{c}/calls")).await.1["total"],
        3
    );
    assert_eq!(audit_count(&admin, "call.ingested").await, 3);
    assert_eq!(audit_count(&admin, "call.attached").await, 1);
}

#[tokio::test]
async fn an_answered_call_is_on_the_timeline_and_resets_the_recall_clock() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let called = customer(&xiao, "钱七", "13800138000").await;
    let missed = customer(&xiao, "孙八", "13800138001").await;
    let idle = customer(&xiao, "周九", "13800138002").await;
    let token = pbx_token(&admin).await;
    // A firm-wide pool with the default recall rules (15 days without a follow-up).
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海", "department_id": null,
                   "settings": {"no_signing_days": null}}),
        )
        .await;
    assert_eq!(st, 201, "{p}");

    s.clock.advance(Duration::days(10));
    let now = s.app.now();
    let (st, _) = post_call(
        &s,
        &token,
        cdr("a", "13800138000", now, 60, "answered", "xiao"),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = post_call(
        &s,
        &token,
        cdr("b", "13800138001", now, 0, "no_answer", "xiao"),
    )
    .await;
    assert_eq!(st, 201);

    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let (_, c) = xiao.get(&format!("/api/v1/customers/{called}")).await;
    assert_eq!(
        c["last_followup_at"]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        Some(now)
    );
    let (_, m) = xiao.get(&format!("/api/v1/customers/{missed}")).await;
    assert!(
        m["last_followup_at"].is_null(),
        "an unanswered call is no contact"
    );
    let (_, t) = xiao
        .get(&format!("/api/v1/customers/{missed}/timeline"))
        .await;
    let kinds: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"call"), "{t}");

    // At day 16 the idle and the missed customers go back; the one reached on day 10 stays.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let at =
        (common::epoch() + Duration::days(16)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (st, r) = admin
        .post(
            &format!(
                "/api/v1/pools/sweep?dry_run=true&as_of={}",
                at.replace('+', "%2B")
            ),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let recalled: Vec<&str> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "recall")
        .map(|a| a["customer_id"].as_str().unwrap())
        .collect();
    assert!(recalled.contains(&idle.as_str()), "{r}");
    assert!(recalled.contains(&missed.as_str()), "{r}");
    assert!(!recalled.contains(&called.as_str()), "{r}");
}

#[tokio::test]
async fn recordings_are_sniffed_encrypted_played_by_range_and_audited_within_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    common::add_user(&s, "xiao", &["sales"], Some(&east));
    common::add_user(&s, "other", &["sales"], Some(&west));
    common::add_user(&s, "boss_w", &["manager"], Some(&west));
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    customer(&xiao, "钱七", "13800138000").await;
    let token = pbx_token(&admin).await;
    let at = s.app.now();
    let (_, call) = post_call(
        &s,
        &token,
        cdr("r1", "13800138000", at, 60, "answered", "xiao"),
    )
    .await;
    let id = call["id"].as_str().unwrap().to_string();

    // Not audio: refused from the bytes, whatever the content type says.
    let (st, v) = upload(&s, &token, &id, b"%PDF-1.7\n%%EOF".to_vec()).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (422, Some("recording_type_refused"))
    );
    assert_eq!(
        upload(&s, &token, "01JZZZZZZZZZZZZZZZZZZZZZZZ", wav(100))
            .await
            .0,
        404
    );
    let body = wav(200_000);
    let (st, v) = upload(&s, &token, &id, body.clone()).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["recording"]["content_type"], "audio/wav");
    assert_eq!(v["recording"]["size"], body.len());

    // Encrypted at rest: the WAV header is nowhere in the blob files.
    let mut found = false;
    for e in walk(&s.dir.path().join("blobs")) {
        let bytes = std::fs::read(&e).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == &body[..12]),
            "plaintext in {e:?}"
        );
        found = true;
    }
    assert!(found, "a blob file was written");

    let path = format!("{}/api/v1/calls/{id}/recording", xiao.base);
    let whole = xiao.http.get(&path).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "audio/wav");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), body.as_slice());
    // Seeking: a range inside the second chunk.
    let r = xiao
        .http
        .get(&path)
        .header("range", "bytes=70000-70009")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 70000-70009/{}", body.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[70000..70010]);
    let r = xiao
        .http
        .get(&path)
        .header("range", "bytes=9999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    // Outside scope: 404 like a call that does not exist, and nothing audited for it.
    for who in ["other", "boss_w"] {
        let c = s.login(who, TEAM_PASSWORD).await;
        let (st, _) = c.get(&format!("/api/v1/calls/{id}/recording")).await;
        assert_eq!(st, 404, "{who}");
        let (st, _) = c
            .get("/api/v1/calls/01JZZZZZZZZZZZZZZZZZZZZZZZ/recording")
            .await;
        assert_eq!(st, 404);
    }
    // Every play audited: the three requests that reached the file (the 416 included).
    assert_eq!(audit_count(&admin, "call.recording_played").await, 3);
    assert_eq!(audit_count(&admin, "call.recording_added").await, 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn statistics_per_user_and_day_from_a_known_fixture() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    let xiao = common::add_user(&s, "xiao", &["sales"], Some(&east));
    let li = common::add_user(&s, "li", &["sales"], Some(&west));
    common::add_user(&s, "boss_e", &["manager"], Some(&east));
    let xc = s.login("xiao", TEAM_PASSWORD).await;
    customer(&xc, "甲", "13800000001").await;
    customer(&xc, "乙", "13800000002").await;
    let lc = s.login("li", TEAM_PASSWORD).await;
    customer(&lc, "丙", "13800000003").await;
    let token = pbx_token(&admin).await;

    // Day 1 (2026-11-20 Shanghai; the clock is at 10:00 there).
    let d1 = s.app.now() - Duration::hours(1);
    let d2 = d1 + Duration::days(1);
    let fixture = [
        // xiao, day 1: 4 calls, 3 answered (60 + 90 + 30 s), customers 甲 twice and 乙.
        ("1", "13800000001", d1, 60, "answered", "xiao"),
        ("2", "13800000001", d1, 90, "answered", "xiao"),
        ("3", "13800000002", d1, 30, "answered", "xiao"),
        ("4", "13800000002", d1, 0, "busy", "xiao"),
        // xiao, day 2: 1 call, not answered.
        ("5", "13800000001", d2, 0, "no_answer", "xiao"),
        // li, day 1: 2 calls, 1 answered (200 s) to an unknown number (no customer reached).
        ("6", "13999999999", d1, 200, "answered", "li"),
        ("7", "13800000003", d1, 0, "rejected", "li"),
    ];
    s.clock.advance(Duration::days(1));
    for (id, to, at, talk, result, agent) in fixture {
        let (st, v) = post_call(&s, &token, cdr(id, to, at, talk, result, agent)).await;
        assert_eq!(st, 201, "{v}");
    }
    let q = "/api/v1/reports/calls?from=2026-11-20&to=2026-11-21";
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin.get(q).await;
    assert_eq!(st, 200, "{r}");
    let row = |v: &Value, user: &str, day: Option<&str>| -> Value {
        let list = if day.is_some() {
            &v["days"]
        } else {
            &v["users"]
        };
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["user_id"] == user && r["day"].as_str() == day)
            .cloned()
            .unwrap_or_else(|| panic!("no row {user} {day:?} in {v}"))
    };
    let figures = |r: &Value| {
        (
            r["calls"].as_u64().unwrap(),
            r["answered"].as_u64().unwrap(),
            r["answered_rate_bp"].as_u64().unwrap(),
            r["talk_seconds"].as_u64().unwrap(),
            r["avg_talk_seconds"].as_u64().unwrap(),
            r["customers_reached"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        figures(&row(&r, &xiao, Some("2026-11-20"))),
        (4, 3, 7500, 180, 60, 2)
    );
    assert_eq!(
        figures(&row(&r, &xiao, Some("2026-11-21"))),
        (1, 0, 0, 0, 0, 0)
    );
    assert_eq!(figures(&row(&r, &xiao, None)), (5, 3, 6000, 180, 60, 2));
    assert_eq!(figures(&row(&r, &li, None)), (2, 1, 5000, 200, 200, 0));
    assert_eq!(r["users"][0]["user_id"], xiao.as_str(), "most calls first");

    // Scope: a salesperson sees their own row, the east manager the east department's.
    let xc = s.login("xiao", TEAM_PASSWORD).await;
    let (_, mine) = xc.get(q).await;
    assert_eq!(mine["users"].as_array().unwrap().len(), 1, "{mine}");
    let boss = s.login("boss_e", TEAM_PASSWORD).await;
    let (_, theirs) = boss.get(q).await;
    let ids: Vec<&str> = theirs["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [xiao.as_str()]);
    // One day only.
    let (_, one) = admin
        .get("/api/v1/reports/calls?from=2026-11-21&to=2026-11-21")
        .await;
    assert_eq!(figures(&row(&one, &xiao, None)), (1, 0, 0, 0, 0, 0));
    let (st, bad) = admin
        .get("/api/v1/reports/calls?from=2026-11-21&to=2026-11-20")
        .await;
    assert_eq!(
        (st.as_u16(), bad["error"]["field"].as_str()),
        (400, Some("to"))
    );
}

#[tokio::test]
async fn click_to_call_sends_the_real_number_to_the_pbx_only_within_scope() {
    // A stand-in PBX: records what it receives.
    type Received = std::sync::Mutex<Vec<(Option<String>, Value)>>;
    let got: std::sync::Arc<Received> = Default::default();
    let seen = got.clone();
    let pbx = axum::Router::new().route(
        "/originate",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string());
                    seen.lock().unwrap().push((auth, body));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, pbx).await.unwrap() });

    // Not configured: refused, and the UI is told.
    let off = TestServer::start(Fixture::WithAdmin).await;
    common::add_user(&off, "xiao", &["sales"], None);
    let xiao = off.login("xiao", TEAM_PASSWORD).await;
    let c = customer(&xiao, "钱七", "13800138000").await;
    assert_eq!(
        xiao.get("/api/v1/calls/config").await.1["click_to_call"],
        false
    );
    let (st, v) = xiao
        .post(&format!("/api/v1/customers/{c}/call"), json!({}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("click_to_call_off"))
    );

    let mut config = zhudai::config::Config::defaults().unwrap();
    config.calls.click_to_call_url = format!("http://{addr}/originate");
    config.calls.click_to_call_token = "pbx-secret-123".into();
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let xiao_id = common::add_user(&s, "xiao", &["sales"], None);
    common::add_user(&s, "other", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    // The admin gives xiao extension 8001 (unique).
    let (st, u) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{xiao_id}"),
            Some(json!({"extension": "8001"})),
        )
        .await;
    assert_eq!(st, 200, "{u}");
    let other_id = common::add_user(&s, "third", &["sales"], None);
    let (st, e) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{other_id}"),
            Some(json!({"extension": "8001"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("extension"))
    );

    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let c = customer(&xiao, "钱七", "13800138000").await;
    assert_eq!(
        xiao.get("/api/v1/calls/config").await.1["click_to_call"],
        true
    );
    let (st, d) = xiao
        .post(&format!("/api/v1/customers/{c}/call"), json!({}))
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        d,
        json!({"number": "138****8000", "extension": "8001"}),
        "masked for the browser"
    );
    assert_eq!(
        got.lock().unwrap().clone(),
        [(
            Some("Bearer pbx-secret-123".to_string()),
            json!({"extension": "8001", "number": "13800138000"})
        )],
        "the PBX receives the real number"
    );
    // Out of scope: 404, and the PBX hears nothing.
    let other = s.login("other", TEAM_PASSWORD).await;
    let (st, _) = other
        .post(&format!("/api/v1/customers/{c}/call"), json!({}))
        .await;
    assert_eq!(st, 404);
    assert_eq!(got.lock().unwrap().len(), 1);
    assert_eq!(audit_count(&admin, "call.dialed").await, 1);
    // Calls from the PBX find the user by extension.
    let token = pbx_token(&admin).await;
    let (st, v) = post_call(
        &s,
        &token,
        cdr("e1", "13800138000", s.app.now(), 10, "answered", "8001"),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["user_id"], xiao_id.as_str());
    // Rate limit: 10 a minute per user.
    for _ in 1..10 {
        assert_eq!(
            xiao.post(&format!("/api/v1/customers/{c}/call"), json!({}))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        xiao.post(&format!("/api/v1/customers/{c}/call"), json!({}))
            .await
            .0,
        429
    );
}

#[tokio::test]
async fn erasing_a_customer_removes_their_call_recordings() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let c = customer(&admin, "钱七", "13800138000").await;
    let token = pbx_token(&admin).await;
    let (_, call) = post_call(
        &s,
        &token,
        cdr(
            "erase-1",
            "13800138000",
            s.app.now(),
            5,
            "answered",
            "admin",
        ),
    )
    .await;
    let id = call["id"].as_str().unwrap().to_string();
    let (st, v) = upload(&s, &token, &id, wav(5000)).await;
    assert_eq!(st, 201, "{v}");
    let blob = v["recording"]["blob"].as_str().unwrap().to_string();
    let path = s.dir.path().join("blobs").join(&blob[..2]).join(&blob);
    assert!(path.exists());
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{c}/erase"),
            json!({"request_ref": "PIPL-2"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert!(!path.exists(), "the recording is gone");
    assert!(
        s.app
            .store
            .read(|tx| zhudai::store::blobs::get(tx, &blob))
            .unwrap()
            .is_none()
    );
    let (st, _) = admin.get(&format!("/api/v1/calls/{id}/recording")).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn a_recording_is_fetched_only_from_an_allow_listed_host() {
    let audio = wav(3000);
    let served = audio.clone();
    let host = axum::Router::new()
        .route(
            "/rec/a.wav",
            axum::routing::get(move || {
                let b = served.clone();
                async move { b }
            }),
        )
        .route(
            "/rec/missing.wav",
            axum::routing::get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, host).await.unwrap() });

    let mut config = zhudai::config::Config::defaults().unwrap();
    config.calls.recording_fetch_hosts = vec![addr.to_string()];
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    customer(&admin, "钱七", "13800138000").await;
    let token = pbx_token(&admin).await;
    let (_, call) = post_call(
        &s,
        &token,
        cdr("f1", "13800138000", s.app.now(), 5, "answered", "admin"),
    )
    .await;
    let id = call["id"].as_str().unwrap();
    let fetch = |url: String| {
        let (s, token) = (&s, &token);
        async move {
            let r = reqwest::Client::new()
                .post(s.url(&format!("/api/v1/calls/{id}/recording/fetch")))
                .bearer_auth(token)
                .json(&json!({"url": url}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Another host (here: another port of the same machine) is refused before any request.
    let other = format!("http://127.0.0.1:{}/rec/a.wav", addr.port() + 1);
    let (st, v) = fetch(other).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (400, Some("url")),
        "{v}"
    );
    let (st, v) = fetch(format!("https://{addr}/rec/a.wav")).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = fetch(format!("http://{addr}/rec/missing.wav")).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (503, Some("recording_fetch_failed"))
    );
    let (st, v) = fetch(format!("http://{addr}/rec/a.wav")).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["recording"]["size"], audio.len());
    assert_eq!(v["recording"]["content_type"], "audio/wav");
    let r = admin
        .http
        .get(format!("{}/api/v1/calls/{id}/recording", admin.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), audio.as_slice());
}

/// The call shape of docs/api.md has no `external_id`: such a call is accepted, and the same
/// record posted again (however the PBX writes the number) is the same call, not a second one;
/// a call that differs in its start is a new one.
#[tokio::test]
async fn a_call_without_an_external_id_is_recorded_once() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    customer(&admin, "钱七", "13800138000").await;
    let token = pbx_token(&admin).await;
    let at = s.app.now() - Duration::minutes(10);
    let body = |to: &str, at: DateTime<Utc>| {
        json!({"direction": "out", "agent": ADMIN, "from": "8001", "to": to,
               "started_at": at, "ring_seconds": 5, "talk_seconds": 60, "result": "answered"})
    };
    let (st, first) = post_call(&s, &token, body("13800138000", at)).await;
    assert_eq!(st, 201, "{first}");
    let (st, again) = post_call(&s, &token, body("+86 138-0013-8000", at)).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    let (st, later) = post_call(&s, &token, body("13800138000", at + Duration::minutes(1))).await;
    assert_eq!(st, 201, "{later}");
    assert_ne!(later["id"], first["id"]);
}
