//! The per-user reports of issue 21.2 / 22.3: follow-ups by kind and hoarding (囤积) in the
//! activity report, the `owner_touch` key kept right by every transition that changes the
//! owner or the last follow-up, the call statistics as a report (`call_stats`) from a known
//! fixture, the rankings, reconciliation (rows = totals = the trends), scope (a salesperson
//! their own row, a manager their department) and the audited XLSX export of each.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// A customer owned by `owner`, created by the admin; returns its id.
async fn owned(admin: &Client, n: u32, owner: &str) -> String {
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": format!("客户{n}"), "phone": format!("139{n:08}"), "owner_id": owner}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn follow(c: &Client, id: &str, kind: &str) -> String {
    let (st, v) = c
        .post(
            &format!("/api/v1/customers/{id}/followups"),
            json!({"kind": kind, "content": "沟通"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// The `owner_touch` keys of `owner`: customer id → last touch (Unix seconds).
fn touch(s: &TestServer, owner: &str) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = s
        .app
        .store
        .read(|tx| zhudai::store::report_keys::of_owner(tx, owner))
        .unwrap()
        .into_iter()
        .map(|(at, id)| (id, at))
        .collect();
    v.sort();
    v
}

fn ids(s: &TestServer, owner: &str) -> BTreeSet<String> {
    // Every look at the keys also checks their buckets (schema 33) moved with them.
    let drift = s
        .app
        .store
        .read(zhudai::store::report_keys::bucket_drift)
        .unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    touch(s, owner).into_iter().map(|(id, _)| id).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn at_of(s: &TestServer, owner: &str, id: &str) -> i64 {
    touch(s, owner)
        .into_iter()
        .find(|(c, _)| c == id)
        .unwrap_or_else(|| panic!("{id} not under {owner}"))
        .1
}

fn row<'a>(t: &'a Value, user: &str) -> &'a Value {
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == user)
        .unwrap_or_else(|| panic!("no row {user} in {t}"))
}

fn sum(t: &Value, key: &str) -> u64 {
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_u64().unwrap_or(0))
        .sum()
}

fn user_ids(t: &Value) -> BTreeSet<String> {
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap().to_string())
        .collect()
}

async fn report(c: &Client, q: &str) -> Value {
    let (st, t) = c.get(&format!("/api/v1/reports/{q}")).await;
    assert_eq!(st, 200, "{q}: {t}");
    t
}

async fn pbx_token(admin: &Client) -> String {
    let (st, t) = admin.post("/api/v1/tokens", json!({"name": "PBX"})).await;
    assert_eq!(st, 201, "{t}");
    t["token"].as_str().unwrap().to_string()
}

/// One CDR: (external id, callee, start, talk seconds, result, agent).
type Cdr<'a> = (&'a str, &'a str, DateTime<Utc>, u32, &'a str, &'a str);

async fn post_call(s: &TestServer, token: &str, (id, to, at, talk, result, agent): Cdr<'_>) {
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/calls"))
        .bearer_auth(token)
        .json(
            &json!({"external_id": id, "direction": "out", "from": "8001", "to": to,
           "started_at": at, "ring_seconds": 6, "talk_seconds": talk, "result": result,
           "agent": agent}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
}

/// Every path that changes a customer's owner or last follow-up moves its `owner_touch` key;
/// each step below would fail if that path forgot it.
#[tokio::test]
async fn the_hoarding_key_follows_every_transition() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海", "settings": {"no_signing_days": null}}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let t0 = s.app.now().timestamp();
    let c1 = owned(&admin, 1, &sun).await;
    let c2 = owned(&admin, 2, &sun).await;
    // Create: held since now.
    assert_eq!(touch(&s, &sun), {
        let mut v = vec![(c1.clone(), t0), (c2.clone(), t0)];
        v.sort();
        v
    });

    // Eight days on, both are hoarded (7 days by default), none with 9.
    s.clock.advance(Duration::days(8));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let t = report(&admin, "activity").await;
    assert_eq!(row(&t, &sun)["hoarding"], 2, "{t}");
    let t = report(&admin, "activity?idle_days=9").await;
    assert_eq!(row(&t, &sun)["hoarding"], 0, "{t}");
    let (st, e) = admin.get("/api/v1/reports/activity?idle_days=0").await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("idle_days"))
    );

    // A follow-up moves the key to now.
    let sun_c = s.login("sun", TEAM_PASSWORD).await;
    follow(&sun_c, &c1, "wechat").await;
    assert_eq!(at_of(&s, &sun, &c1), s.app.now().timestamp());
    let t = report(&admin, "activity").await;
    assert_eq!(row(&t, &sun)["hoarding"], 1, "{t}");

    // Transfer: off sun's keys, onto li's, held since now.
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{c2}/transfer"),
            json!({"to_user": li}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert_eq!(ids(&s, &sun), set(&[&c1]));
    assert_eq!(at_of(&s, &li, &c2), s.app.now().timestamp());

    // Release into the pool: nobody's; a claim: the claimer's.
    let (st, v) = sun_c
        .post(
            &format!("/api/v1/customers/{c1}/release"),
            json!({"reason": "无法联系"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert!(ids(&s, &sun).is_empty());
    let li_c = s.login("li", TEAM_PASSWORD).await;
    let (st, v) = li_c
        .post(&format!("/api/v1/customers/{c1}/claim"), json!({}))
        .await;
    assert!(st.is_success(), "{v}");
    assert_eq!(ids(&s, &li), set(&[&c1, &c2]));

    // Delete: gone; restore: back.
    let (st, v) = admin
        .call(Method::DELETE, &format!("/api/v1/customers/{c2}"), None)
        .await;
    assert!(st.is_success(), "{v}");
    assert_eq!(ids(&s, &li), set(&[&c1]));
    let (st, v) = admin
        .post(&format!("/api/v1/customers/{c2}/restore"), json!({}))
        .await;
    assert!(st.is_success(), "{v}");
    assert_eq!(ids(&s, &li), set(&[&c1, &c2]));

    // Release and assign by the manager: to sun.
    let (st, v) = li_c
        .post(
            &format!("/api/v1/customers/{c2}/release"),
            json!({"reason": "无法联系"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let (st, v) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [c2], "to_user": sun}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert_eq!(ids(&s, &sun), set(&[&c2]));

    // An answered call counts as a follow-up: the key moves to the call's start.
    s.clock.advance(Duration::days(2));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let token = pbx_token(&admin).await;
    let at = s.app.now() - Duration::minutes(5);
    post_call(&s, &token, ("k1", "13900000002", at, 30, "answered", "sun")).await;
    assert_eq!(at_of(&s, &sun, &c2), at.timestamp());

    // Erase (PIPL): gone for good.
    let c3 = owned(&admin, 3, &sun).await;
    assert!(ids(&s, &sun).contains(&c3));
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{c3}/erase"),
            json!({"request_ref": "PIPL-1"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    assert_eq!(ids(&s, &sun), set(&[&c2]));

    // Recall: a sweep 30 days on takes them back into the pool, off every owner's keys.
    s.clock.advance(Duration::days(30));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(st, 200, "{r}");
    let recalled: BTreeSet<String> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "recall")
        .map(|a| a["customer_id"].as_str().unwrap().to_string())
        .collect();
    assert!(recalled.contains(&c2), "{r}");
    for id in &recalled {
        assert!(!ids(&s, &sun).contains(id) && !ids(&s, &li).contains(id));
    }
    let t = report(&admin, "activity").await;
    assert_eq!(t["totals"]["hoarding"], 0, "{t}");
}

/// Follow-ups by kind add up to the follow-ups; rows add up to the totals, which equal the
/// trends for the same scope; a salesperson sees their own row, a manager their department;
/// correcting a follow-up's kind moves its count.
#[tokio::test]
async fn activity_by_kind_reconciles_and_is_scoped() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let sun = common::add_user(&s, "sun", &["sales"], Some(&east));
    let li = common::add_user(&s, "li", &["sales"], Some(&east));
    let zhou = common::add_user(&s, "zhou", &["sales"], Some(&west));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let a = owned(&admin, 1, &sun).await;
    let b = owned(&admin, 2, &li).await;
    let c = owned(&admin, 3, &zhou).await;
    let sun_c = s.login("sun", TEAM_PASSWORD).await;
    let li_c = s.login("li", TEAM_PASSWORD).await;
    let zhou_c = s.login("zhou", TEAM_PASSWORD).await;
    let f = follow(&sun_c, &a, "call").await;
    follow(&sun_c, &a, "call").await;
    follow(&sun_c, &a, "wechat").await;
    follow(&li_c, &b, "visit").await;
    follow(&zhou_c, &c, "sms").await;
    follow(&zhou_c, &c, "note").await;

    let t = report(&admin, "activity").await;
    let kinds = ["call", "wechat", "visit", "sms", "note"];
    for r in t["rows"].as_array().unwrap() {
        let by_kind: u64 = kinds
            .iter()
            .map(|k| r[format!("followups_{k}")].as_u64().unwrap())
            .sum();
        assert_eq!(by_kind, r["followups"].as_u64().unwrap(), "{r}");
    }
    assert_eq!(row(&t, &sun)["followups_call"], 2);
    assert_eq!(row(&t, &sun)["followups_wechat"], 1);
    assert_eq!(row(&t, &li)["followups_visit"], 1);
    assert_eq!(row(&t, &zhou)["followups_note"], 1);
    assert_eq!(sum(&t, "followups"), 6);
    assert_eq!(t["totals"]["followups"], 6);
    assert_eq!(t["totals"]["followups_call"], 2);
    // The dashboard's trends count the same.
    let (_, tr) = admin.get("/api/v1/reports/trends").await;
    let trend: u64 = tr["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["followups"].as_u64().unwrap())
        .sum();
    assert_eq!(trend, 6);
    // Departments add up to the firm.
    let e = report(&admin, &format!("activity?department={east}")).await;
    let w = report(&admin, &format!("activity?department={west}")).await;
    assert_eq!(
        e["totals"]["followups"].as_u64().unwrap() + w["totals"]["followups"].as_u64().unwrap(),
        6
    );

    // Scope: sun their own row; the east manager east only.
    let mine = report(&sun_c, "activity").await;
    assert_eq!(user_ids(&mine), set(&[&sun]));
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let theirs = report(&boss, "activity").await;
    assert!(!user_ids(&theirs).contains(&zhou), "{theirs}");
    assert_eq!(theirs["totals"]["followups"], 4);
    let (_, btr) = boss.get("/api/v1/reports/trends").await;
    let btrend: u64 = btr["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["followups"].as_u64().unwrap())
        .sum();
    assert_eq!(btrend, 4, "the manager's dashboard = their report");

    // Correcting the kind moves the count (same day, same total).
    let (st, v) = sun_c
        .call(
            Method::PATCH,
            &format!("/api/v1/customers/{a}/followups/{f}"),
            Some(json!({"kind": "visit", "content": "面谈了"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let t = report(&admin, "activity").await;
    assert_eq!(row(&t, &sun)["followups_call"], 1);
    assert_eq!(row(&t, &sun)["followups_visit"], 1);
    assert_eq!(row(&t, &sun)["followups"], 3);
}

/// The call statistics as a report, figure by figure from a known fixture; the rankings by
/// calls and follow-ups; both scoped and exported as audited XLSX.
#[tokio::test]
async fn call_stats_and_rankings_from_a_known_fixture() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    let xiao = common::add_user(&s, "xiao", &["sales"], Some(&east));
    let li = common::add_user(&s, "li", &["sales"], Some(&west));
    common::add_user(&s, "boss_e", &["manager"], Some(&east));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let a = owned(&admin, 1, &xiao).await;
    owned(&admin, 2, &xiao).await;
    owned(&admin, 3, &li).await;
    let xc = s.login("xiao", TEAM_PASSWORD).await;
    follow(&xc, &a, "call").await;
    let token = pbx_token(&admin).await;
    let d1 = s.app.now() - Duration::hours(1);
    let d2 = d1 + Duration::days(1);
    let fixture = [
        ("1", "13900000001", d1, 60, "answered", "xiao"),
        ("2", "13900000001", d1, 90, "answered", "xiao"),
        ("3", "13900000002", d1, 30, "answered", "xiao"),
        ("4", "13900000002", d1, 0, "busy", "xiao"),
        ("5", "13900000001", d2, 0, "no_answer", "xiao"),
        ("6", "13999999999", d1, 200, "answered", "li"),
        ("7", "13900000003", d1, 0, "rejected", "li"),
    ];
    s.clock.advance(Duration::days(1));
    for cdr in fixture {
        post_call(&s, &token, cdr).await;
    }
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let q = "call_stats?from=2026-11-20&to=2026-11-21";
    let t = report(&admin, q).await;
    let figures = |r: &Value| {
        [
            "calls",
            "answered",
            "answered_rate_bp",
            "talk_seconds",
            "avg_talk_seconds",
            "customers_reached",
        ]
        .map(|k| r[k].as_u64().unwrap())
    };
    assert_eq!(figures(row(&t, &xiao)), [5, 3, 6000, 180, 60, 2]);
    assert_eq!(figures(row(&t, &li)), [2, 1, 5000, 200, 200, 0]);
    // Totals: sums, the rate and average recomputed from them.
    assert_eq!(figures(&t["totals"]), [7, 4, 5714, 380, 95, 2], "{t}");
    // The same figures as the per-day endpoint of issue 22.3.
    let (_, old) = admin
        .get("/api/v1/reports/calls?from=2026-11-20&to=2026-11-21")
        .await;
    let total: u64 = old["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["calls"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 7);

    // Scope.
    let xc = s.login("xiao", TEAM_PASSWORD).await;
    assert_eq!(user_ids(&report(&xc, q).await), set(&[&xiao]));
    let boss = s.login("boss_e", TEAM_PASSWORD).await;
    let theirs = report(&boss, q).await;
    assert!(user_ids(&theirs).contains(&xiao) && !user_ids(&theirs).contains(&li));
    assert_eq!(
        theirs["totals"]["calls"], 5,
        "the east department's calls only"
    );
    let w = report(&admin, &format!("{q}&department={west}")).await;
    assert_eq!(user_ids(&w), set(&[&li]));

    // Rankings by calls: xiao first; by follow-ups: xiao 1, li 0; fees and deals zero.
    let r = report(&admin, "rankings?from=2026-11-20&to=2026-11-21&by=calls").await;
    let first = &r["rows"][0];
    assert_eq!(
        (first["user_id"].as_str(), &first["rank"]),
        (Some(xiao.as_str()), &json!(1))
    );
    assert_eq!(row(&r, &li)["calls"], 2);
    assert_eq!(row(&r, &xiao)["followups"], 1);
    assert_eq!(r["totals"]["calls"], 7);
    assert!(r["totals"].get("rank").is_none(), "{r}");
    // `ranking`, the name docs/api.md gives, is the same report.
    let same = report(&admin, "ranking?from=2026-11-20&to=2026-11-21&by=calls").await;
    assert_eq!(same["rows"], r["rows"]);
    // Reconciliation across reports: the rankings' calls and follow-ups are the call
    // statistics' and the activity report's, user by user.
    let act = report(&admin, "activity?from=2026-11-20&to=2026-11-21").await;
    for u in [&xiao, &li] {
        assert_eq!(row(&r, u)["calls"], row(&t, u)["calls"], "{u}");
        assert_eq!(row(&r, u)["followups"], row(&act, u)["followups"], "{u}");
    }
    assert_eq!(r["totals"]["followups"], act["totals"]["followups"]);
    let (st, e) = admin.get("/api/v1/reports/rankings?by=money").await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("by")));
    // A salesperson ranks only themselves (the default: own figures only).
    let mine = report(&xc, "rankings?from=2026-11-20&to=2026-11-21").await;
    assert_eq!(user_ids(&mine), set(&[&xiao]));

    // XLSX of each, audited.
    for name in ["call_stats", "rankings", "activity", "finance"] {
        let resp = admin
            .http
            .get(s.url(&format!(
                "/api/v1/reports/{name}?from=2026-11-20&to=2026-11-21&format=xlsx"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{name}");
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(&bytes[..2], b"PK", "{name}");
    }
    let (st, a) = admin
        .get("/api/v1/audit?action=report.exported&limit=50")
        .await;
    assert_eq!(st, 200, "{a}");
    let reports: BTreeSet<String> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["detail"]["report"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        ["call_stats", "rankings", "activity", "finance"]
            .iter()
            .all(|n| reports.contains(*n)),
        "{a}"
    );
}

/// `owner_touch` rows (owner, last touch, customer) and `followups_kind/…` counters.
type KeptRows = (Vec<(String, i64, String)>, Vec<(String, u64)>);

/// `owner_touch` rows and `followups_kind/…` counters of a store file.
fn report_rows(path: &std::path::Path) -> KeptRows {
    use redb::{ReadableDatabase, ReadableTable};
    use zhudai::store::tables;
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let touch = tx
        .open_table(tables::OWNER_TOUCH)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| {
            let (k, _) = r.unwrap();
            let (o, at, id) = k.value();
            (o.to_string(), at, id.to_string())
        })
        .collect();
    let kinds = tx
        .open_table(tables::COUNTERS)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value().to_string(), v.value())
        })
        .filter(|(k, _)| {
            k.starts_with("followups_kind/") || k.starts_with("prod/") || k.starts_with("prodwhy/")
        })
        .collect();
    (touch, kinds)
}

/// The 28 → 29 upgrade builds exactly the keys and counters the writes kept.
#[tokio::test]
async fn the_upgrade_builds_what_the_writes_keep() {
    use redb::ReadableTable;
    use zhudai::store::{migrate, tables};
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let li = common::add_user(&s, "li", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let a = owned(&admin, 1, &sun).await;
    let b = owned(&admin, 2, &li).await;
    owned(&admin, 3, &li).await;
    s.clock.advance(Duration::days(2));
    let sun_c = s.login("sun", TEAM_PASSWORD).await;
    follow(&sun_c, &a, "call").await;
    follow(&sun_c, &a, "wechat").await;
    let li_c = s.login("li", TEAM_PASSWORD).await;
    follow(&li_c, &b, "visit").await;
    // A deal: created, visited, withdrawn with a reason (the per-product counters).
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    let (st, d) = sun_c
        .post(
            "/api/v1/deals",
            json!({"customer_id": a, "product_id": p["id"], "amount_fen": 5_000_000,
                   "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    for body in [
        json!({"stage": "visited"}),
        json!({"stage": "withdrawn", "reason": "收入/流水不足"}),
    ] {
        let (st, v) = admin
            .post(
                &format!("/api/v1/deals/{}/stage", d["id"].as_str().unwrap()),
                body,
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.redb");
    s.app.store.snapshot_to(&copy).unwrap();
    let kept = report_rows(&copy);
    assert_eq!(kept.0.len(), 3, "{kept:?}");
    // 3 follow-up kinds; invited, visited, withdrawn and one reason of the product.
    assert_eq!(kept.1.len(), 7, "{kept:?}");
    {
        let db = redb::Database::open(&copy).unwrap();
        let tx = db.begin_write().unwrap();
        tx.delete_table(tables::OWNER_TOUCH).unwrap();
        {
            let mut counters = tx.open_table(tables::COUNTERS).unwrap();
            for (k, _) in &kept.1 {
                counters.remove(k.as_str()).unwrap();
            }
            assert!(
                counters.iter().unwrap().all(|r| !r
                    .unwrap()
                    .0
                    .value()
                    .starts_with("followups_kind/"))
            );
        }
        tx.open_table(tables::META)
            .unwrap()
            .insert("schema_version", 28)
            .unwrap();
        tx.commit().unwrap();
    }
    let migrated = common::open_keyed(s.dir.path(), &copy);
    assert_eq!(
        migrate::stored_version(&migrated).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    drop(migrated);
    assert_eq!(report_rows(&copy), kept);
}
