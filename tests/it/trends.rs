//! The 工作台 trends (GET /reports/trends): new leads and follow-ups per Shanghai day from the
//! counters, and a ranking that reconciles with the series, over the caller's scope only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

async fn lead(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn follow(c: &Client, id: &str, times: usize) {
    for _ in 0..times {
        let (st, v) = c
            .post(
                &format!("/api/v1/customers/{id}/followups"),
                json!({"kind": "call", "content": "电话沟通"}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
}

fn sum(rows: &Value, field: &str) -> u64 {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_u64().unwrap())
        .sum()
}

/// The series and the ranking agree: every lead and follow-up counted once in each (leads
/// without an owner are in the series and in `unowned_new_leads`). Returns (leads, follow-ups).
fn reconciled(t: &Value) -> (u64, u64) {
    let leads = sum(&t["series"], "new_leads");
    let done = sum(&t["series"], "followups");
    assert_eq!(
        sum(&t["ranking"], "new_leads") + t["unowned_new_leads"].as_u64().unwrap(),
        leads,
        "{t}"
    );
    assert_eq!(sum(&t["ranking"], "followups"), done, "{t}");
    (leads, done)
}

fn ranked(t: &Value) -> Vec<(String, u64, u64)> {
    t["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["display_name"].as_str().unwrap().to_string(),
                r["followups"].as_u64().unwrap(),
                r["new_leads"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn trends_count_leads_and_followups_by_day_over_my_scope_and_reconcile() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let xiao_id = common::add_user(&s, "xiao", &["sales"], Some(&east));
    let da_id = common::add_user(&s, "da", &["sales"], Some(&east));
    let idle = common::add_user(&s, "idle", &["sales"], Some(&east));
    common::add_user(&s, "far", &["sales"], Some(&west));
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    let far = s.login("far", TEAM_PASSWORD).await;

    // 2026-11-20 (Shanghai): xiao 2 leads and 3 follow-ups, da 1 and 1, far 1 and 2.
    let a = lead(&xiao, "甲", "13800000001").await;
    lead(&xiao, "乙", "13800000002").await;
    follow(&xiao, &a, 3).await;
    let c = lead(&da, "丙", "13800000003").await;
    follow(&da, &c, 1).await;
    let d = lead(&far, "丁", "13800000004").await;
    follow(&far, &d, 2).await;
    // Two days later (11-22): xiao 1 more lead, 1 follow-up.
    s.clock.advance(chrono::Duration::days(2));
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let e = lead(&xiao, "戊", "13800000005").await;
    follow(&xiao, &e, 1).await;

    let (st, t) = xiao.get("/api/v1/reports/trends").await;
    assert_eq!(st, 200, "{t}");
    let series = t["series"].as_array().unwrap();
    assert_eq!(series.len(), 30, "every day present");
    assert_eq!(
        (t["from"].as_str(), t["to"].as_str()),
        (Some("2026-10-24"), Some("2026-11-22"))
    );
    assert_eq!(series[0]["day"], "2026-10-24", "oldest first");
    assert_eq!(
        (
            &series[27]["day"],
            &series[27]["new_leads"],
            &series[27]["followups"]
        ),
        (&json!("2026-11-20"), &json!(2), &json!(3))
    );
    assert_eq!(
        (&series[28]["new_leads"], &series[28]["followups"]),
        (&json!(0), &json!(0)),
        "a quiet day is a zero"
    );
    assert_eq!(
        (&series[29]["new_leads"], &series[29]["followups"]),
        (&json!(1), &json!(1))
    );
    // A salesperson: only their own numbers.
    assert_eq!(reconciled(&t), (3, 4));
    assert_eq!(ranked(&t), [("xiao".to_string(), 4, 3)]);

    // The manager: their department (boss, xiao, da), not far in 西区.
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let (_, t) = boss.get("/api/v1/reports/trends").await;
    assert_eq!(reconciled(&t), (4, 5), "{t}");
    assert_eq!(
        ranked(&t),
        [
            ("xiao".to_string(), 4, 3),
            ("da".to_string(), 1, 1),
            ("boss".to_string(), 0, 0),
            ("idle".to_string(), 0, 0)
        ]
    );
    assert_eq!(t["series"][27]["followups"], 4);

    // The admin: everyone.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, t) = admin.get("/api/v1/reports/trends?days=90").await;
    assert_eq!(t["series"].as_array().unwrap().len(), 90);
    assert_eq!(reconciled(&t), (5, 7), "{t}");
    let names: Vec<String> = ranked(&t).into_iter().map(|r| r.0).collect();
    assert_eq!(&names[..3], ["xiao", "far", "da"], "by follow-ups: {t}");
    assert!(names.contains(&"boss".to_string()), "{t}");

    // Departures: xiao's customers go to da, but the counts stay where they were made (xiao's
    // row stays, departed, because it has numbers); idle, departed with nothing, drops out.
    let op = zhudai::service::org::users::Actor::Operator;
    s.app
        .followups()
        .depart_user(&op, &xiao_id, &da_id, "test")
        .unwrap();
    s.app
        .followups()
        .depart_user(&op, &idle, &da_id, "test")
        .unwrap();
    let (_, t) = boss.get("/api/v1/reports/trends").await;
    assert_eq!(reconciled(&t), (4, 5), "{t}");
    assert_eq!(
        ranked(&t),
        [
            ("xiao".to_string(), 4, 3),
            ("da".to_string(), 1, 1),
            ("boss".to_string(), 0, 0)
        ]
    );

    // Only 30 or 90 days.
    let (st, e) = boss.get("/api/v1/reports/trends?days=7").await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("days")));
    s.stop().await;
}
