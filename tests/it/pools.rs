//! Public pools (公海): recall rules at controlled dates, warnings, preview == sweep, claims
//! under concurrency (one winner, exact limits), cooldown, protection, membership, departure
//! into a pool, and assignment turns that survive a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer, epoch};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zhudai::service::org::users::Actor;

const PASS: &str = common::TEAM_PASSWORD;

fn department(s: &TestServer, name: &str) -> String {
    s.app
        .org()
        .create_department(
            &Actor::Operator,
            zhudai::service::org::DepartmentInput {
                name: name.into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id
}

/// A firm-wide pool with these settings (merged over the defaults); returns its id.
async fn pool(admin: &Client, name: &str, dept: Option<&str>, settings: Value) -> String {
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": name, "department_id": dept, "settings": settings}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_string()
}

/// A customer owned by `owner`, created by the admin; returns its id.
async fn customer(admin: &Client, n: u32, owner: &str, extra: Value) -> String {
    let mut body =
        json!({"name": format!("客户{n}"), "phone": format!("139{n:08}"), "owner_id": owner});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (st, c) = admin.post("/api/v1/customers", body).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn sweep(admin: &Client, at: DateTime<Utc>, dry_run: bool) -> Value {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (st, r) = admin
        .post(
            &format!(
                "/api/v1/pools/sweep?dry_run={dry_run}&as_of={}",
                at.replace('+', "%2B")
            ),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    r
}

/// A real sweep runs "now" only: the clock is moved on to `at`, then the sweep runs. Returns
/// the report and the administrator logged in again (the old session may have expired).
async fn run_sweep(s: &TestServer, at: DateTime<Utc>) -> (Value, Client) {
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

/// (customer id, action) pairs of a sweep report.
fn actions(r: &Value) -> BTreeSet<(String, String)> {
    r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["customer_id"].as_str().unwrap().to_string(),
                a["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(id: &str, action: &str) -> (String, String) {
    (id.to_string(), action.to_string())
}

async fn event_kinds(c: &Client, id: &str) -> Vec<String> {
    let (st, t) = c.get(&format!("/api/v1/customers/{id}/timeline")).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn recall_rules_by_grade_follow_up_signing_won_and_locks() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = pool(&admin, "全公司公海", None, json!({"no_signing_days": null})).await;

    let a = customer(&admin, 1, &sun, json!({"grade": "A"})).await;
    let d = customer(&admin, 2, &sun, json!({"grade": "D"})).await;
    let won = customer(&admin, 3, &sun, json!({"grade": "D", "stage": "won"})).await;
    let locked = customer(&admin, 4, &sun, json!({"grade": "D"})).await;
    let none = customer(&admin, 5, &sun, json!({})).await; // "default": 15 days
    let followed = customer(&admin, 6, &sun, json!({"grade": "D"})).await;
    let sun_c = s.login("sun", PASS).await;
    let (st, _) = sun_c
        .post(&format!("/api/v1/customers/{locked}/lock"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);

    // Day 5: a follow-up on `followed` moves its clock (counted from the later of the last
    // follow-up and held_since).
    s.clock.advance(Duration::days(5));
    let sun_c = s.login("sun", PASS).await;
    let (st, f) = sun_c
        .post(
            &format!("/api/v1/customers/{followed}/followups"),
            json!({"kind": "call", "content": "回访"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;

    let scenarios: &[(i64, &[(&str, &str)])] = &[
        (3, &[]),
        // D (7 days) is 3 days away at day 4: warned, not before.
        (4, &[(&d, "warn")]),
        (6, &[(&d, "warn")]),
        (7, &[(&d, "recall")]),
        // `followed` is due on day 5 + 7 = 12; warned from day 9.
        (9, &[(&d, "recall"), (&followed, "warn")]),
        (
            12,
            &[(&d, "recall"), (&none, "warn"), (&followed, "recall")],
        ),
        (
            15,
            &[(&d, "recall"), (&none, "recall"), (&followed, "recall")],
        ),
        (
            27,
            &[
                (&d, "recall"),
                (&none, "recall"),
                (&followed, "recall"),
                (&a, "warn"),
            ],
        ),
        (
            30,
            &[
                (&d, "recall"),
                (&none, "recall"),
                (&followed, "recall"),
                (&a, "recall"),
            ],
        ),
        // Won and locked customers are never recalled, however long.
        (
            400,
            &[
                (&d, "recall"),
                (&none, "recall"),
                (&followed, "recall"),
                (&a, "recall"),
            ],
        ),
    ];
    for (day, expect) in scenarios {
        let r = sweep(&admin, epoch() + Duration::days(*day), true).await;
        let want: BTreeSet<_> = expect.iter().map(|(i, a)| pair(i, a)).collect();
        assert_eq!(actions(&r), want, "day {day}: {r}");
    }
    let r = sweep(&admin, epoch() + Duration::days(7), true).await;
    let reason = r["actions"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("7天未跟进"), "{reason}");
    assert!(!actions(&r).contains(&pair(&won, "recall")));

    // Preview == real sweep, and the real one changes the records.
    let at = epoch() + Duration::days(12);
    let preview = sweep(&admin, at, true).await;
    let (real, admin) = run_sweep(&s, at).await;
    assert_eq!(preview["actions"], real["actions"]);
    assert_eq!(real["recalled"], 2);
    assert_eq!(real["warned"], 1);
    assert_eq!(real["dry_run"], false);
    let (_, c) = admin.get(&format!("/api/v1/customers/{d}")).await;
    assert_eq!(c["owner_id"], Value::Null);
    assert_eq!(c["pool_id"], p.as_str());
    assert_eq!(c["previous_owner_id"], sun.as_str());
    assert!(
        event_kinds(&admin, &d)
            .await
            .contains(&"recalled".to_string())
    );
    let (_, audit) = admin.get("/api/v1/audit?limit=200").await;
    let recalls = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "customer.recalled")
        .count();
    assert_eq!(recalls, 2, "one audit entry per recall");
    // A second run at the same instant has nothing more to recall.
    let (again, admin) = run_sweep(&s, at).await;
    assert_eq!(again["recalled"], 0);
    let (_, c) = admin.get(&format!("/api/v1/customers/{locked}")).await;
    assert_eq!(c["owner_id"], sun.as_str());
    assert_eq!(c["locked"], true);
}

#[tokio::test]
async fn no_signing_rule_counts_from_held_since_and_spares_signed() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let mei = common::add_user(&s, "mei", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    pool(
        &admin,
        "公海",
        None,
        json!({"no_followup_days": {"default": 1000}, "no_signing_days": 20, "warn_days_before": 0}),
    )
    .await;
    let lead = customer(&admin, 1, &sun, json!({})).await;
    let signed = customer(&admin, 2, &sun, json!({"stage": "signed"})).await;
    let r = sweep(&admin, epoch() + Duration::days(19), true).await;
    assert!(actions(&r).is_empty(), "{r}");
    let r = sweep(&admin, epoch() + Duration::days(20), true).await;
    assert_eq!(actions(&r), BTreeSet::from([pair(&lead, "recall")]));
    assert!(
        r["actions"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("20天内未签约")
    );
    let _ = signed;

    // Released on day 10 and claimed by mei: her 20 days start at the claim.
    s.clock.advance(Duration::days(10));
    let sun_c = s.login("sun", PASS).await;
    let (st, e) = sun_c
        .post(
            &format!("/api/v1/customers/{lead}/release"),
            json!({"reason": "客户暂无需求"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    let mei_c = s.login("mei", PASS).await;
    let (st, e) = mei_c
        .post(&format!("/api/v1/customers/{lead}/claim"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    assert_eq!(e["owner_id"], mei.as_str());
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let r = sweep(&admin, epoch() + Duration::days(29), true).await;
    assert!(actions(&r).is_empty(), "{r}");
    let r = sweep(&admin, epoch() + Duration::days(30), true).await;
    assert_eq!(actions(&r), BTreeSet::from([pair(&lead, "recall")]));
}

#[tokio::test]
async fn warnings_reach_the_owners_reminders_once_a_day() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    pool(&admin, "公海", None, json!({"no_signing_days": null})).await;
    let d = customer(&admin, 1, &sun, json!({"grade": "D"})).await;

    s.clock.advance(Duration::days(4));
    assert!(zhudai::jobs::pool::tick(&s.app), "first tick sweeps");
    assert!(
        !zhudai::jobs::pool::tick(&s.app),
        "not again within the interval"
    );
    s.clock.advance(Duration::minutes(10));
    assert!(zhudai::jobs::pool::tick(&s.app), "again after the interval");
    let sun_c = s.login("sun", PASS).await;
    let (st, r) = sun_c.get("/api/v1/reminders?due=today").await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let warn: Vec<&Value> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "recall_warning")
        .collect();
    assert_eq!(warn.len(), 1, "{r}");
    assert_eq!(warn[0]["customer"]["id"], d.as_str());
    assert_eq!(warn[0]["days_left"], 3);
    let count = |kinds: Vec<String>| kinds.iter().filter(|k| *k == "recall_warning").count();
    assert_eq!(
        count(event_kinds(&sun_c, &d).await),
        1,
        "one warning per day"
    );

    s.clock.advance(Duration::days(1));
    assert!(zhudai::jobs::pool::tick(&s.app));
    let sun_c = s.login("sun", PASS).await;
    assert_eq!(count(event_kinds(&sun_c, &d).await), 2);
    let (_, r) = sun_c.get("/api/v1/reminders?due=today").await;
    assert_eq!(r["items"][0]["days_left"], 2, "{r}");

    // A follow-up ends the warning.
    let (st, _) = sun_c
        .post(
            &format!("/api/v1/customers/{d}/followups"),
            json!({"kind": "call", "content": "回访"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, r) = sun_c.get("/api/v1/reminders?due=today").await;
    assert_eq!(r["total"], 0, "{r}");

    // The job recalls when due.
    s.clock.advance(Duration::days(7));
    assert!(zhudai::jobs::pool::tick(&s.app));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, c) = admin.get(&format!("/api/v1/customers/{d}")).await;
    assert_eq!(c["owner_id"], Value::Null, "{c}");
}

/// Puts `n` customers of `owner` into the pool (released by the owner); returns their ids.
async fn in_pool(
    s: &TestServer,
    admin: &Client,
    owner: (&str, &str),
    from: u32,
    n: u32,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in from..from + n {
        ids.push(customer(admin, i, owner.0, json!({})).await);
    }
    let c = s.login(owner.1, PASS).await;
    for id in &ids {
        let (st, e) = c
            .post(
                &format!("/api/v1/customers/{id}/release"),
                json!({"reason": "无法联系"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{e}");
    }
    ids
}

#[tokio::test]
async fn concurrent_claims_have_one_winner_and_limits_are_exact() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = pool(
        &admin,
        "公海",
        None,
        json!({"claim_daily_limit": 3, "max_owned": 300}),
    )
    .await;
    let owner = common::add_user(&s, "owner", &["sales"], None);
    let mut claimers = Vec::new();
    for i in 0..10 {
        common::add_user(&s, &format!("c{i}"), &["sales"], None);
        claimers.push(s.login(&format!("c{i}"), PASS).await);
    }
    let ids = in_pool(&s, &admin, (&owner, "owner"), 1, 11).await;

    // Release needs a reason.
    let (st, e) = admin
        .post(
            &format!("/api/v1/customers/{}/release", ids[0]),
            json!({"reason": " "}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("reason")),
        "{e}"
    );

    // 50 claims of one customer from 10 users at once: exactly one wins.
    let target = ids[0].clone();
    let mut tasks = Vec::new();
    for k in 0..50 {
        let c = Client {
            http: claimers[k % 10].http.clone(),
            base: claimers[k % 10].base.clone(),
            csrf: claimers[k % 10].csrf.clone(),
        };
        let path = format!("/api/v1/customers/{target}/claim");
        tasks.push(tokio::spawn(async move { c.post(&path, json!({})).await }));
    }
    let mut winners = Vec::new();
    for (k, t) in tasks.into_iter().enumerate() {
        let (st, body) = t.await.unwrap();
        match st.as_u16() {
            200 => winners.push(k % 10),
            409 => assert!(
                ["already_claimed", "already_owned"]
                    .contains(&body["error"]["code"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    // The next two checks need claimers who hold nothing and claimed nothing
    // today: any of the ten may have won the race above.
    let fresh: Vec<&Client> = (0..10)
        .filter(|i| *i != winners[0])
        .map(|i| &claimers[i])
        .collect();

    // The daily limit (3) holds under 10 concurrent claims of different customers.
    let c9 = fresh[fresh.len() - 1];
    let mut tasks = Vec::new();
    for id in &ids[1..11] {
        let c = Client {
            http: c9.http.clone(),
            base: c9.base.clone(),
            csrf: c9.csrf.clone(),
        };
        let path = format!("/api/v1/customers/{id}/claim");
        tasks.push(tokio::spawn(async move { c.post(&path, json!({})).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let (st, body) = t.await.unwrap();
        if st == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(st, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"]["code"], "claim_refused");
            assert_eq!(body["error"]["details"]["rule"], "claim_daily_limit");
            let m = body["error"]["message"].as_str().unwrap();
            assert!(
                m.contains("claim_daily_limit") && m.contains("每日上限"),
                "{m}"
            );
        }
    }
    assert_eq!(ok, 3);

    // max_owned: a fresh claimer may hold 2 (the daily limit no longer bites).
    let (st, e) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/pools/{p}"),
            Some(json!({"settings": {"claim_daily_limit": 100, "max_owned": 2}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    let (_, page) = admin.get(&format!("/api/v1/pools/{p}/customers")).await;
    let waiting: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(waiting.len(), 7);
    let c8 = fresh[fresh.len() - 2];
    let mut tasks = Vec::new();
    for id in &waiting {
        let c = Client {
            http: c8.http.clone(),
            base: c8.base.clone(),
            csrf: c8.csrf.clone(),
        };
        let path = format!("/api/v1/customers/{id}/claim");
        tasks.push(tokio::spawn(async move { c.post(&path, json!({})).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let (st, body) = t.await.unwrap();
        if st == StatusCode::OK {
            ok += 1;
        } else {
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("max_owned"),
                "{body}"
            );
        }
    }
    assert_eq!(ok, 2);
}

#[tokio::test]
async fn cooldown_protection_and_membership() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let one = department(&s, "一部");
    let two = department(&s, "二部");
    let sun = common::add_user(&s, "sun", &["sales"], Some(&one));
    common::add_user(&s, "mei", &["sales"], Some(&one));
    common::add_user(&s, "out", &["sales"], Some(&two));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = pool(
        &admin,
        "一部公海",
        Some(&one),
        json!({"reclaim_cooldown_days": 7, "protect_new_hours": 0}),
    )
    .await;
    let ids = in_pool(&s, &admin, (&sun, "sun"), 1, 2).await;

    // Non-members of the department's pool see nothing and cannot claim.
    let out = s.login("out", PASS).await;
    for path in [
        format!("/api/v1/pools/{p}"),
        format!("/api/v1/pools/{p}/customers"),
        format!("/api/v1/customers/{}", ids[0]),
        format!("/api/v1/customers/{}/timeline", ids[0]),
    ] {
        let (st, e) = out.get(&path).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {e}");
    }
    let (st, _) = out
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, pools) = out.get("/api/v1/pools").await;
    assert_eq!(pools.as_array().unwrap().len(), 0);

    // Members see the waiting customer and its history (previous owner, release reason).
    let mei = s.login("mei", PASS).await;
    let (st, c) = mei.get(&format!("/api/v1/customers/{}", ids[0])).await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["previous_owner_id"], sun.as_str());
    assert!(c["phone"].as_str().unwrap().contains("****"), "masked: {c}");
    assert!(
        event_kinds(&mei, &ids[0])
            .await
            .contains(&"released".to_string())
    );
    let (_, page) = mei
        .get(&format!("/api/v1/pools/{p}/customers?limit=1"))
        .await;
    assert_eq!(page["total"], 2);
    let cur = page["next_cursor"].as_str().unwrap();
    let (_, page2) = mei
        .get(&format!("/api/v1/pools/{p}/customers?limit=1&cursor={cur}"))
        .await;
    assert_eq!(page2["items"][0]["id"], ids[1].as_str());

    // Cooldown: the former owner waits 7 days; another member may claim at once.
    let sun_c = s.login("sun", PASS).await;
    let (st, e) = sun_c
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reclaim_cooldown"),
        "{e}"
    );
    s.clock.advance(Duration::days(7));
    let sun_c = s.login("sun", PASS).await;
    let (st, e) = sun_c
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");

    // Protection: nobody claims within 24 hours of a customer entering the pool.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, _) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/pools/{p}"),
            Some(json!({"settings": {"reclaim_cooldown_days": 7, "protect_new_hours": 24}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = sun_c
        .post(
            &format!("/api/v1/customers/{}/release", ids[0]),
            json!({"reason": "重复客户"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mei = s.login("mei", PASS).await;
    let (st, e) = mei
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("protect_new"),
        "{e}"
    );
    s.clock.advance(Duration::hours(25));
    let mei = s.login("mei", PASS).await;
    let (st, e) = mei
        .post(&format!("/api/v1/customers/{}/claim", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    // Now owned by mei: sun (no longer owner, own scope) gets 404 reading it.
    let sun_c = s.login("sun", PASS).await;
    let (st, _) = sun_c.get(&format!("/api/v1/customers/{}", ids[0])).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn locks_are_limited_per_role() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(customer(&admin, i, &sun, json!({})).await);
    }
    let sun_c = s.login("sun", PASS).await;
    for (i, id) in ids.iter().enumerate() {
        let (st, e) = sun_c
            .post(&format!("/api/v1/customers/{id}/lock"), json!({}))
            .await;
        if i < 5 {
            assert_eq!(st, StatusCode::OK, "{e}");
        } else {
            assert_eq!(
                (st, e["error"]["code"].as_str()),
                (StatusCode::CONFLICT, Some("lock_limit"))
            );
        }
    }
    let (st, _) = sun_c
        .post(&format!("/api/v1/customers/{}/unlock", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = sun_c
        .post(&format!("/api/v1/customers/{}/lock", ids[5]), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    // The admin (not the owner) cannot lock someone else's customer.
    let (st, _) = admin
        .post(&format!("/api/v1/customers/{}/lock", ids[0]), json!({}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn departure_to_a_pool_moves_exactly_the_departing_users_customers() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let mei = common::add_user(&s, "mei", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = pool(&admin, "公海", None, json!({})).await;
    let mut suns = BTreeSet::new();
    for i in 0..3 {
        suns.insert(customer(&admin, i, &sun, json!({})).await);
    }
    let meis = customer(&admin, 10, &mei, json!({})).await;
    let (st, e) = admin
        .post(
            &format!("/api/v1/users/{sun}/depart"),
            json!({"to_pool": "nope"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (st, r) = admin
        .post(
            &format!("/api/v1/users/{sun}/depart"),
            json!({"to_pool": p}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["customers_moved"], 3);
    let (_, page) = admin.get(&format!("/api/v1/pools/{p}/customers")).await;
    let waiting: BTreeSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(waiting, suns);
    let (_, c) = admin.get(&format!("/api/v1/customers/{meis}")).await;
    assert_eq!(c["owner_id"], mei.as_str());
    let (_, u) = admin.get(&format!("/api/v1/users/{sun}")).await;
    assert_eq!(u["status"], "departed");
    let first = suns.iter().next().unwrap();
    assert!(
        event_kinds(&admin, first)
            .await
            .contains(&"departed_to_pool".to_string())
    );
}

#[tokio::test]
async fn round_robin_assignment_is_fair_across_a_restart() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let mut users = Vec::new();
    for n in ["ra", "rb", "rc"] {
        users.push(common::add_user(&s, n, &["sales"], None));
    }
    users.sort();
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let me = admin.get("/api/v1/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut leads = Vec::new();
    for i in 0..6 {
        leads.push(customer(&admin, i, &me, json!({})).await);
    }
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": &leads[0..2], "auto": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let got: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [users[0].as_str(), users[1].as_str()]);

    let s = s.restart().await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": &leads[2..6], "auto": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let got: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            users[2].as_str(),
            users[0].as_str(),
            users[1].as_str(),
            users[2].as_str()
        ],
        "the turn continues after the restart"
    );

    // Disabled users are skipped; manual assignment names the user; sales may not assign.
    s.app
        .org()
        .set_user_status(
            &Actor::Operator,
            "rb",
            zhudai::domain::org::UserStatus::Disabled,
            "t",
        )
        .unwrap();
    let extra = customer(&admin, 20, &me, json!({})).await;
    let (_, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [extra], "auto": true, "mode": "least_loaded"}),
        )
        .await;
    assert_ne!(r["items"][0]["user_id"], users[1].as_str(), "{r}");
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [extra], "to_user": users[0]}),
        )
        .await;
    assert_eq!(
        (st, r["items"][0]["user_id"].as_str()),
        (StatusCode::OK, Some(users[0].as_str()))
    );
    let (st, _) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [extra], "to_user": users[0], "auto": true}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let ra = s.login("ra", PASS).await;
    let (st, _) = ra
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [extra], "to_user": users[2]}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// A sweep skips customers inside the rule's declared `horizon` (claimed/assigned and followed
/// up within it) without running `recall`; a rule that declares no horizon sees everyone.
/// Preview and sweep agree either way.
#[tokio::test]
async fn horizon_skips_only_when_the_rule_declares_one() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    pool(&admin, "全公司公海", None, json!({})).await;
    let fresh = customer(&admin, 1, &sun, json!({"grade": "A"})).await;
    let save = |source: &'static str| {
        let admin = &admin;
        async move {
            let (st, b) = admin
                .call(
                    reqwest::Method::PUT,
                    "/api/v1/plugins/pool",
                    Some(json!({"source": source, "note": "test"})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
        }
    };
    // Recalls everyone, no horizon: the customer claimed a moment ago is recalled.
    save("fn recall(customer, pool, ctx) { #{ recall: true, reason: \"全部回收\" } }\n").await;
    let now = epoch();
    let preview = sweep(&admin, now, true).await;
    assert_eq!(actions(&preview), BTreeSet::from([pair(&fresh, "recall")]));
    // The same rule declaring a 10-day horizon (stale: the save is refused unless forced, see
    // plugins::a_stale_horizon_is_caught): the fresh customer is not even evaluated…
    let (st, b) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/plugins/pool?force=true",
            Some(json!({
                "source": "fn recall(customer, pool, ctx) { #{ recall: true, reason: \"全部回收\" } }\n\
                           fn horizon(pool, ctx) { 10 }\n",
                "note": "test"
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let preview = sweep(&admin, now, true).await;
    assert_eq!(preview["scanned"], 1);
    assert!(actions(&preview).is_empty(), "{preview}");
    let (real, admin) = run_sweep(&s, now).await;
    assert_eq!(actions(&real), actions(&preview));
    // One second past the horizon it is due: the activity index is keyed by the day, and the
    // horizon's own day (the claim's day here) is read and compared to the second.
    let just = now + Duration::days(10) + Duration::seconds(1);
    let preview = sweep(&admin, just, true).await;
    assert_eq!(actions(&preview), BTreeSet::from([pair(&fresh, "recall")]));
    let preview = sweep(&admin, just - Duration::seconds(2), true).await;
    assert!(actions(&preview).is_empty(), "{preview}");
    // …until it is older than the horizon; then preview == sweep again.
    let later = now + Duration::days(11);
    let preview = sweep(&admin, later, true).await;
    assert_eq!(actions(&preview), BTreeSet::from([pair(&fresh, "recall")]));
    let (real, _) = run_sweep(&s, later).await;
    assert_eq!(actions(&real), actions(&preview));
}

/// Assignment settings: a paused user gets no automatic leads; in weighted mode a weight-3
/// user gets three leads for every one of a weight-1 user. `pool.manage` only; audited.
#[tokio::test]
async fn paused_users_get_no_leads_and_weights_share_them() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let wa = common::add_user(&s, "wa", &["sales"], None);
    let wb = common::add_user(&s, "wb", &["sales"], None);
    let wc = common::add_user(&s, "wc", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let me = admin.get("/api/v1/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (st, list) = admin.get("/api/v1/assignment/users").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let ids: BTreeSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([wa.as_str(), wb.as_str(), wc.as_str()]));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|u| u["paused"] == false && u["weight"] == 1)
    );

    let put = |id: String, body: Value| {
        let admin = &admin;
        async move {
            admin
                .call(
                    reqwest::Method::PUT,
                    &format!("/api/v1/assignment/users/{id}"),
                    Some(body),
                )
                .await
        }
    };
    let (st, b) = put(wb.clone(), json!({"paused": true})).await;
    assert_eq!(
        (st, b["paused"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{b}"
    );
    let (st, b) = put(wa.clone(), json!({"weight": 3})).await;
    assert_eq!((st, b["weight"].as_u64()), (StatusCode::OK, Some(3)), "{b}");
    let (st, _) = put(wc.clone(), json!({"weight": 0})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = put(me.clone(), json!({"paused": true})).await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "the admin hands leads out, takes none"
    );
    let sales = s.login("wa", PASS).await;
    let (st, _) = sales
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/assignment/users/{wa}"),
            Some(json!({"weight": 50})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        sales.get("/api/v1/assignment/users").await.0,
        StatusCode::FORBIDDEN
    );

    let mut leads = Vec::new();
    for i in 0..16 {
        leads.push(customer(&admin, i, &me, json!({})).await);
    }
    let (st, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": leads, "auto": true, "mode": "weighted"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let got = |id: &str| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["user_id"] == id)
            .count()
    };
    assert_eq!((got(&wa), got(&wb), got(&wc)), (12, 0, 4), "{r}");

    // Resumed: wb takes leads again; the list shows the loads.
    put(wb.clone(), json!({"paused": false})).await;
    let extra = customer(&admin, 30, &me, json!({})).await;
    let (_, r) = admin
        .post(
            "/api/v1/customers/assign",
            json!({"ids": [extra], "auto": true, "mode": "least_loaded"}),
        )
        .await;
    assert_eq!(r["items"][0]["user_id"], wb.as_str(), "{r}");
    let (_, list) = admin.get("/api/v1/assignment/users").await;
    let row = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&wa)["open_leads"], 12);
    assert_eq!(row(&wa)["weight"], 3);
    assert_eq!(row(&wb)["open_leads"], 1);

    let (st, page) = admin
        .get("/api/v1/audit?action=assignment.user_updated&limit=50")
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 3, "{page}");
}

/// A sweep report counts every action, per pool too, and lists only the first `limit` in
/// customer id order (`truncated` says so); the real sweep reports what the preview said.
#[tokio::test]
async fn sweep_reports_count_everything_and_list_the_first_limit() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let dept = department(&s, "一部");
    let li = common::add_user(&s, "li", &["sales"], Some(&dept));
    let sun = common::add_user(&s, "sun", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let firm = pool(&admin, "全公司公海", None, json!({"no_signing_days": null})).await;
    let own = pool(
        &admin,
        "一部公海",
        Some(&dept),
        json!({"no_signing_days": null}),
    )
    .await;
    let mut ids = Vec::new();
    // At day 7 grade D (7 days) is recalled and grade C (10 days) warned.
    for (n, owner, grade) in [
        (1, &li, "D"),
        (2, &li, "D"),
        (3, &li, "D"),
        (4, &li, "C"),
        (5, &sun, "D"),
        (6, &sun, "D"),
        (7, &sun, "C"),
        (8, &sun, "C"),
    ] {
        ids.push(customer(&admin, n, owner, json!({"grade": grade})).await);
    }
    ids.sort();
    // A real sweep runs now: the clock moves to day 7, where the previews look too.
    s.clock.advance(Duration::days(7));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let at = s
        .app
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let at = at.replace('+', "%2B");
    let run = |dry_run: bool, limit: Option<u32>| {
        let admin = &admin;
        let limit = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
        let url = format!("/api/v1/pools/sweep?dry_run={dry_run}&as_of={at}{limit}");
        async move {
            let (st, r) = admin.post(&url, json!({})).await;
            assert_eq!(st, StatusCode::OK, "{r}");
            r
        }
    };
    let listed = |r: &Value| -> Vec<String> {
        r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["customer_id"].as_str().unwrap().to_string())
            .collect()
    };
    let counts = |r: &Value| -> BTreeSet<(String, u64, u64)> {
        r["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["pool_id"].as_str().unwrap().to_string(),
                    p["recalled"].as_u64().unwrap(),
                    p["warned"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let want = BTreeSet::from([(own.clone(), 3, 1), (firm.clone(), 2, 2)]);

    let all = run(true, None).await;
    assert_eq!(
        (all["recalled"].as_u64(), all["warned"].as_u64()),
        (Some(5), Some(3)),
        "{all}"
    );
    assert_eq!(counts(&all), want);
    assert_eq!(listed(&all), ids, "every action listed, in id order");
    assert_eq!(all["truncated"], false);

    let two = run(true, Some(2)).await;
    assert_eq!(listed(&two), ids[..2].to_vec());
    assert_eq!(two["truncated"], true);
    assert_eq!(
        (two["recalled"].as_u64(), two["warned"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(counts(&two), want);
    let none = run(true, Some(0)).await;
    assert_eq!(listed(&none), Vec::<String>::new());
    assert_eq!(
        (none["truncated"].as_bool(), none["recalled"].as_u64()),
        (Some(true), Some(5))
    );
    // Above the maximum: at most 5000 listed (here all 8).
    assert_eq!(listed(&run(true, Some(100_000)).await), ids);

    let real = run(false, Some(2)).await;
    assert_eq!(
        real["actions"], two["actions"],
        "the preview is the real sweep"
    );
    assert_eq!(real["pools"], two["pools"]);
    assert_eq!(
        (real["recalled"].as_u64(), real["truncated"].as_bool()),
        (Some(5), Some(true))
    );
    // The ones not listed were recalled all the same.
    let (_, c) = admin.get(&format!("/api/v1/customers/{}", ids[7])).await;
    let recalled = [&own, &firm].iter().any(|p| c["pool_id"] == p.as_str());
    let warned = c["owner_id"] != Value::Null;
    assert!(recalled || warned, "{c}");
    let again = run(true, None).await;
    assert_eq!(again["recalled"], 0, "{again}");
    assert_eq!(again["warned"], 3, "{again}");
}

/// Issue 17.9: a customer going into a pool (released, recalled, departure) leaves its old
/// owner's next follow-up date behind: whoever claims it starts without a stale reminder.
#[tokio::test]
async fn a_customer_enters_the_pool_without_its_previous_owners_next_follow_up() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun = common::add_user(&s, "sun", &["sales"], None);
    common::add_user(&s, "mei", &["sales"], None);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    pool(&admin, "公海", None, json!({"reclaim_cooldown_days": 0})).await;
    let next = (epoch() + Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let id = customer(&admin, 1, &sun, json!({})).await;
    let sun_c = s.login("sun", PASS).await;
    let (st, c) = sun_c
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"next_followup_at": next})),
        )
        .await;
    assert_eq!(
        (st, c["next_followup_at"].as_str()),
        (StatusCode::OK, Some(next.as_str()))
    );
    let (st, c) = sun_c
        .post(
            &format!("/api/v1/customers/{id}/release"),
            json!({"reason": "暂无需求"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert!(c["next_followup_at"].is_null(), "released: {c}");
    let mei_c = s.login("mei", PASS).await;
    let (st, c) = mei_c
        .post(&format!("/api/v1/customers/{id}/claim"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert!(c["next_followup_at"].is_null(), "claimed: {c}");
    let (_, due) = mei_c.get("/api/v1/reminders?due=today").await;
    assert_eq!(due["total"], 0, "{due}");
    s.stop().await;
}
