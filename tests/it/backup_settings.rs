//! Backup settings saved on the 备份 page: validated with the field named, audited, and in
//! force at the scheduler's next look without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use zhudai::jobs::backup as job;

async fn save(c: &common::Client, body: Value) -> (u16, Value) {
    let (st, v) = c
        .call(Method::PUT, "/api/v1/backups/settings", Some(body))
        .await;
    (st.as_u16(), v)
}

#[tokio::test]
async fn backup_settings_from_the_page_take_effect_without_a_restart() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let out = tempfile::tempdir().unwrap();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let good = json!({"enabled": true, "dir": out.path().display().to_string(), "time": "02:30",
                      "keep_daily": 7, "keep_weekly": 4, "recipients": [recipient]});

    // Nothing configured: no backup runs.
    let (_, st) = admin.get("/api/v1/backups/status").await;
    assert_eq!(
        (st["configured"].as_bool(), st["from_page"].as_bool()),
        (Some(false), Some(false)),
        "{st}"
    );

    assert_eq!(
        save(&xiao, good.clone()).await.0,
        403,
        "a salesperson may not"
    );
    for (change, field) in [
        (json!({"dir": "backups"}), "dir"),
        (json!({"dir": "/no/such/disk"}), "dir"),
        (json!({"time": "25:00"}), "time"),
        (json!({"keep_daily": 0, "keep_weekly": 0}), "keep_daily"),
        (json!({"recipients": ["not-a-key"]}), "recipients"),
        (json!({"recipients": []}), "recipients"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (st, e) = save(&admin, body).await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{change}: {e}"
        );
    }
    let (_, st) = admin.get("/api/v1/backups/status").await;
    assert_eq!(
        st["from_page"], false,
        "a refused save writes nothing: {st}"
    );

    let (code, st) = save(&admin, good.clone()).await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(
        (
            st["configured"].as_bool(),
            st["enabled"].as_bool(),
            st["from_page"].as_bool()
        ),
        (Some(true), Some(true), Some(true)),
        "{st}"
    );
    assert_eq!(st["recipients"], json!([recipient]));
    let (_, audit) = admin
        .get("/api/v1/audit?action=backup.settings_changed")
        .await;
    assert_eq!(
        audit["items"][0]["detail"]["after"]["dir"], good["dir"],
        "{audit}"
    );
    assert_eq!(audit["items"][0]["detail"]["before"]["enabled"], false);

    // The scheduler reads them at its next look: the first notes the slot, the next day's runs.
    assert!(job::tick(&s.app).is_none());
    s.clock
        .advance(chrono::Duration::minutes(16 * 60 + 30) + chrono::Duration::seconds(30));
    let run = job::tick(&s.app).expect("due with the page's settings");
    assert!(run.ok, "{run:?}");
    assert!(
        run.file
            .as_deref()
            .unwrap()
            .starts_with(&out.path().display().to_string())
    );

    // Switched off from the page: nothing runs the day after.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await; // the clock moved past the session
    let mut off = good.clone();
    off["enabled"] = json!(false);
    assert_eq!(save(&admin, off).await.0, 200);
    s.clock.advance(chrono::Duration::days(1));
    assert!(job::tick(&s.app).is_none());
}
