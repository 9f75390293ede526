//! Follow-ups, reminders (Asia/Shanghai days, time injected), the 24-hour edit window,
//! transfers and the timeline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use chrono::Duration;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer, epoch};
use reqwest::Method;
use serde_json::json;

const PASS: &str = common::TEAM_PASSWORD;

fn user(s: &TestServer, name: &str, role: &str) -> String {
    common::add_user(s, name, &[role], None)
}

/// Logs in afresh (the clock jumps past the idle timeout) and counts due reminders.
async fn due_count(s: &TestServer, when: &str) -> u64 {
    let sun = s.login("sun", PASS).await;
    let (_, r) = sun.get(&format!("/api/v1/reminders?due={when}")).await;
    r["total"].as_u64().unwrap()
}

#[tokio::test]
async fn followups_drive_reminders_by_shanghai_day() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    user(&s, "sun", "sales");
    let sun = s.login("sun", PASS).await;
    let (_, c) = sun
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13811112222"}),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    let fpath = format!("/api/v1/customers/{id}/followups");

    for (body, field) in [
        (json!({"kind": "call", "content": "  "}), "content"),
        (
            json!({"kind": "call", "content": "x", "next_at": (epoch() - Duration::days(1)).to_rfc3339()}),
            "next_at",
        ),
    ] {
        let (st, e) = sun.post(&fpath, body).await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some(field))
        );
    }
    let (st, e) = sun
        .post(&fpath, json!({"kind": "fax", "content": "x"}))
        .await;
    assert_eq!(st, 400, "{e}");

    // epoch() is 10:00 in Shanghai on 2026-11-20; next contact: tomorrow 09:30 Shanghai.
    let next = epoch() + Duration::hours(23) + Duration::minutes(30);
    let (st, f) = sun.post(&fpath, json!({"kind": "call", "content": "客户有房产一套，想做抵押经营贷", "outcome": "有意向", "next_at": next.to_rfc3339()})).await;
    assert_eq!(st, 201, "{f}");
    let (_, c) = sun.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(
        c["last_followup_at"]
            .as_str()
            .map(|t| t.starts_with("2026-11-20T02:00:00")),
        Some(true)
    );
    assert_eq!(
        c["next_followup_at"].as_str().unwrap(),
        next.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );

    let due = |when: &'static str| {
        let sun = &sun;
        async move {
            let (st, r) = sun.get(&format!("/api/v1/reminders?due={when}")).await;
            assert_eq!(st, 200, "{r}");
            r["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["customer"]["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(due("today").await.is_empty(), "due tomorrow, not today");
    assert!(due("overdue").await.is_empty());
    assert_eq!(due("tomorrow").await, ["钱七"], "tomorrow 09:30 Shanghai");
    assert!(
        due("week").await.is_empty(),
        "tomorrow is not the rest of the week"
    );
    // 14:30 UTC on the 20th is 22:30 in Shanghai: still the 20th there.
    s.clock.advance(Duration::hours(12) + Duration::minutes(30));
    assert_eq!(
        due_count(&s, "today").await,
        0,
        "22:30 in Shanghai is still the day before"
    );
    s.clock.advance(Duration::hours(2)); // 00:30 on the 21st in Shanghai (16:30 UTC on the 20th)
    assert_eq!(
        due_count(&s, "today").await,
        1,
        "the Shanghai day, not the UTC day"
    );
    s.clock.advance(Duration::days(1));
    assert_eq!(
        (due_count(&s, "today").await, due_count(&s, "overdue").await),
        (0, 1)
    );
    let sun = s.login("sun", PASS).await;
    let (st, _) = sun.get("/api/v1/reminders?due=someday").await;
    assert_eq!(st, 400);

    // A follow-up without a next time clears the reminder.
    let sun2 = s.login("sun", PASS).await;
    let (st, _) = sun2
        .post(&fpath, json!({"kind": "wechat", "content": "已发资料"}))
        .await;
    assert_eq!(st, 201);
    let (_, r) = sun2.get("/api/v1/reminders?due=overdue").await;
    assert_eq!(r["total"], 0);
    s.stop().await;
}

#[tokio::test]
async fn followups_can_be_corrected_by_their_author_for_24_hours() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    user(&s, "sun", "sales");
    let sun = s.login("sun", PASS).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, c) = sun
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13811112222"}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let (_, f) = sun
        .post(
            &format!("/api/v1/customers/{id}/followups"),
            json!({"kind": "call", "content": "未接通"}),
        )
        .await;
    let path = format!(
        "/api/v1/customers/{id}/followups/{}",
        f["id"].as_str().unwrap()
    );
    let (st, e) = admin
        .call(
            Method::PATCH,
            &path,
            Some(json!({"kind": "call", "content": "改写"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("followup_locked")),
        "not the author"
    );
    let (st, g) = sun
        .call(
            Method::PATCH,
            &path,
            Some(json!({"kind": "call", "content": "未接通，晚上再打"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), g["content"].as_str()),
        (200, Some("未接通，晚上再打"))
    );
    assert!(g["edited_at"].is_string());
    s.clock.advance(Duration::hours(24) + Duration::minutes(1));
    let sun = s.login("sun", PASS).await;
    let (st, _) = sun
        .call(
            Method::PATCH,
            &path,
            Some(json!({"kind": "call", "content": "再改"})),
        )
        .await;
    assert_eq!(st, 422, "after 24 hours it is history");
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, a) = admin.get("/api/v1/audit?action=followup.edited").await;
    assert_eq!(a["items"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn transfer_moves_the_customer_and_its_reminder() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    user(&s, "sun", "sales");
    let li = user(&s, "li", "sales");
    let sun = s.login("sun", PASS).await;
    let li_c = s.login("li", PASS).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, c) = sun
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13811112222"}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let next = epoch() + Duration::hours(2);
    sun.post(
        &format!("/api/v1/customers/{id}/followups"),
        json!({"kind": "call", "content": "约了下午", "next_at": next.to_rfc3339()}),
    )
    .await;
    assert_eq!(sun.get("/api/v1/reminders?due=today").await.1["total"], 1);

    let tpath = format!("/api/v1/customers/{id}/transfer");
    let (st, e) = sun.post(&tpath, json!({"to_user": li})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "sales cannot give customers away"
    );
    let (st, e) = admin.post(&tpath, json!({"to_user": "01NOBODY"})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("to_user"))
    );
    let (st, moved) = admin.post(&tpath, json!({"to_user": li})).await;
    assert_eq!(
        (st.as_u16(), moved["owner_id"].as_str()),
        (200, Some(li.as_str()))
    );

    assert_eq!(
        sun.get(&format!("/api/v1/customers/{id}")).await.0,
        404,
        "the old owner lost it"
    );
    assert_eq!(li_c.get(&format!("/api/v1/customers/{id}")).await.0, 200);
    assert_eq!(sun.get("/api/v1/reminders?due=today").await.1["total"], 0);
    assert_eq!(
        li_c.get("/api/v1/reminders?due=today").await.1["total"],
        1,
        "the reminder went along"
    );

    let (st, _) = li_c
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"stage": "contacted"})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, t) = li_c.get(&format!("/api/v1/customers/{id}/timeline")).await;
    let kinds: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "transferred", "stage_changed"]);
    assert_eq!(
        (
            t["events"][2]["from"].as_str(),
            t["events"][2]["to"].as_str()
        ),
        (Some("lead"), Some("contacted"))
    );
    assert_eq!(t["events"][1]["to"], li.as_str());
    assert_eq!(
        t["followups"].as_array().unwrap().len(),
        1,
        "history stays with the customer"
    );
    let (_, a) = admin.get("/api/v1/audit?action=customer.transferred").await;
    assert_eq!(a["items"][0]["detail"]["to"], li.as_str());
    s.stop().await;
}

#[tokio::test]
async fn departure_hands_every_customer_to_the_successor_at_once() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sun_id = user(&s, "sun", "sales");
    let li = user(&s, "li", "sales");
    user(&s, "zhao", "sales");
    let sun = s.login("sun", PASS).await;
    let zhao = s.login("zhao", PASS).await;
    for (i, phone) in ["13811110001", "13811110002", "13811110003"]
        .iter()
        .enumerate()
    {
        let (st, c) = sun
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{i}"), "phone": phone}),
            )
            .await;
        assert_eq!(st, 201);
        let next = epoch() + Duration::hours(1);
        sun.post(
            &format!("/api/v1/customers/{}/followups", c["id"].as_str().unwrap()),
            json!({"kind": "call", "content": "回访", "next_at": next.to_rfc3339()}),
        )
        .await;
    }
    zhao.post(
        "/api/v1/customers",
        json!({"name": "别人的", "phone": "13811110009"}),
    )
    .await;

    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, e) = admin
        .post(
            &format!("/api/v1/users/{sun_id}/depart"),
            json!({"to_user": sun_id}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("to_user"))
    );
    let (st, r) = admin
        .post(
            &format!("/api/v1/users/{sun_id}/depart"),
            json!({"to_user": li}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), r["customers_moved"].as_u64()),
        (200, Some(3)),
        "{r}"
    );

    assert_eq!(
        sun.get("/api/v1/me").await.0,
        401,
        "the departed user's session ended"
    );
    let li_c = s.login("li", PASS).await;
    let (_, page) = li_c.get("/api/v1/customers").await;
    assert_eq!(page["total"], 3, "exactly the departed user's customers");
    assert_eq!(
        li_c.get("/api/v1/reminders?due=today").await.1["total"],
        3,
        "with their reminders"
    );
    let (_, page) = zhao.get("/api/v1/customers").await;
    assert_eq!(page["total"], 1, "nobody else's moved");
    let (_, u) = admin.get(&format!("/api/v1/users/{sun_id}")).await;
    assert_eq!(u["status"], "departed");
    let (_, a) = admin.get("/api/v1/audit?action=user.departed").await;
    assert_eq!(a["items"][0]["detail"]["customers_moved"], 3);
    s.stop().await;
}

/// Issue 17.4: tomorrow and the rest of the coming week, by Shanghai days, beside today.
#[tokio::test]
async fn reminders_for_tomorrow_and_the_rest_of_the_week() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    user(&s, "sun", "sales");
    let sun = s.login("sun", PASS).await;
    // epoch() is 10:00 on 2026-11-20 in Shanghai; day 0 is today.
    for (day, name) in [
        (1, "明天客户"),
        (2, "后天客户"),
        (7, "七天后客户"),
        (8, "八天后客户"),
    ] {
        let at = epoch() + Duration::days(day) + Duration::hours(1);
        let (st, c) = sun
            .post(
                "/api/v1/customers",
                json!({"name": name, "phone": format!("1381111{:04}", day)}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        let id = c["id"].as_str().unwrap();
        let (st, c) = sun
            .call(
                Method::PATCH,
                &format!("/api/v1/customers/{id}"),
                Some(json!({"next_followup_at": at.to_rfc3339()})),
            )
            .await;
        assert_eq!(st, 200, "{c}");
    }
    let due = |when: &'static str| {
        let sun = &sun;
        async move {
            let (st, r) = sun.get(&format!("/api/v1/reminders?due={when}")).await;
            assert_eq!(st, 200, "{r}");
            r["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["customer"]["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(due("tomorrow").await, ["明天客户"]);
    assert_eq!(due("week").await, ["后天客户", "七天后客户"], "days 2 to 7");
    assert!(due("today").await.is_empty());
    s.stop().await;
}

/// Issue 17.4: a manager sees their team's day at a glance — follow-ups logged today, overdue
/// customers and open leads per colleague in their scope; a salesperson gets 403.
#[tokio::test]
async fn a_manager_sees_the_teams_day() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let op = zhudai::service::org::users::Actor::Operator;
    let dept = s
        .app
        .org()
        .create_department(
            &op,
            zhudai::service::org::DepartmentInput {
                name: "一部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    let other = s
        .app
        .org()
        .create_department(
            &op,
            zhudai::service::org::DepartmentInput {
                name: "二部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    common::add_user(&s, "mgr", &["manager"], Some(&dept));
    let sun_id = common::add_user(&s, "sun", &["sales"], Some(&dept));
    common::add_user(&s, "far", &["sales"], Some(&other));
    // Finance in the department works no customers: not a row of the follow-up table.
    common::add_user(&s, "cai", &["finance"], Some(&dept));
    let sun = s.login("sun", PASS).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (st, c) = sun
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{i}"), "phone": format!("1391111000{i}")}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    // Two follow-ups today; one customer promised a call tomorrow, which becomes overdue.
    for id in &ids[..2] {
        let (st, f) = sun
            .post(
                &format!("/api/v1/customers/{id}/followups"),
                json!({"kind": "call", "content": "电话沟通", "next_at": (epoch() + Duration::hours(24)).to_rfc3339()}),
            )
            .await;
        assert_eq!(st, 201, "{f}");
    }
    let (st, e) = sun.get("/api/v1/team/today").await;
    assert_eq!(st, 403, "{e}");
    let mgr = s.login("mgr", PASS).await;
    let (st, team) = mgr.get("/api/v1/team/today").await;
    assert_eq!(st, 200, "{team}");
    let row = |team: &serde_json::Value, id: &str| {
        team["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == id)
            .cloned()
    };
    let sun_row = row(&team, &sun_id).unwrap();
    assert_eq!(
        (
            sun_row["followups_today"].as_u64(),
            sun_row["overdue"].as_u64(),
            sun_row["open_leads"].as_u64()
        ),
        (Some(2), Some(0), Some(3))
    );
    let names: Vec<&str> = team["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display_name"].as_str().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("far")),
        "another department is not in the team: {names:?}"
    );
    assert!(
        !names.contains(&"cai"),
        "someone who cannot work customers (and holds none) is not in the team: {names:?}"
    );
    // Two days later: today's count starts again, the two promised calls are overdue.
    s.clock.advance(Duration::days(2));
    let mgr = s.login("mgr", PASS).await;
    let (_, team) = mgr.get("/api/v1/team/today").await;
    let sun_row = row(&team, &sun_id).unwrap();
    assert_eq!(
        (
            sun_row["followups_today"].as_u64(),
            sun_row["overdue"].as_u64()
        ),
        (Some(0), Some(2))
    );
    s.stop().await;
}
