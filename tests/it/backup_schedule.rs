//! Scheduled backups driven by the app's clock, retention, the post command, the status file,
//! the admin API (`/api/v1/backups/status`, `/api/v1/backups/run`) and `zhudai doctor`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use age::secrecy::ExposeSecret;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use serde_json::json;
use zhudai::config::Config;
use zhudai::jobs::backup::{self as job, Trigger};

fn config(dir: &Path, recipient: &str, post_command: &str) -> Config {
    let mut c = Config::defaults().unwrap();
    c.backup.enabled = true;
    c.backup.dir = dir.display().to_string();
    c.backup.time = "02:30".into();
    c.backup.keep_daily = 2;
    c.backup.keep_weekly = 1;
    c.backup.recipients = vec![recipient.to_string()];
    c.backup.post_command = post_command.into();
    c
}

fn archives(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".age"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn daily_backups_follow_the_clock_keep_what_retention_says_and_report() {
    let out = tempfile::tempdir().unwrap();
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    let server = TestServer::start_with_config(
        Fixture::WithAdmin,
        config(
            out.path(),
            &recipient,
            "echo copied > \"$ZHUDAI_BACKUP_FILE.sent\"",
        ),
    )
    .await;
    let app = &server.app;
    // Old archives of ours, and a file that is not ours.
    for name in [
        "zhudai-20261001-023000.age",
        "zhudai-20261110-023000.age",
        "zhudai-20261118-023000.age",
        "notes.age",
    ] {
        std::fs::write(out.path().join(name), b"old").unwrap();
    }
    // Clock: 2026-11-20 10:00 +08:00. The first look only notes the current slot.
    assert!(job::tick(app).is_none());
    assert!(job::tick(app).is_none());
    assert!(archives(out.path()).len() == 4);
    // 2026-11-21 02:30:30 +08:00: the day's run.
    server
        .clock
        .advance(chrono::Duration::minutes(16 * 60 + 30) + chrono::Duration::seconds(30));
    let run = job::tick(app).expect("due");
    assert!(run.ok, "{run:?}");
    assert_eq!(run.trigger, Trigger::Scheduled);
    let name = "zhudai-20261121-023030.age";
    assert!(run.file.as_deref().unwrap().ends_with(name));
    assert_eq!(run.post_command_error, None);
    assert!(
        out.path().join(format!("{name}.sent")).exists(),
        "post command ran"
    );
    // keep_daily 2 (Nov 21, Nov 18) + keep_weekly 1 (week 47 = the Nov 21 one): Oct 1 and
    // Nov 10 go; notes.age is not ours.
    let mut deleted = run.deleted.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        vec!["zhudai-20261001-023000.age", "zhudai-20261110-023000.age"]
    );
    assert_eq!(
        archives(out.path()),
        vec!["notes.age", "zhudai-20261118-023000.age", name]
    );
    // Once per slot.
    assert!(job::tick(app).is_none());
    // The archive is a real backup.
    let unlock = zhudai::backup::Unlock::Identities(vec![Box::new(
        id.to_string()
            .expose_secret()
            .parse::<age::x25519::Identity>()
            .unwrap(),
    )]);
    let manifest = zhudai::backup::archive::read(
        &out.path().join(name),
        &unlock,
        None,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(manifest.entries[0].path, "zhudai.redb");

    // The status file and the API.
    let status = job::load_status(server.dir.path()).unwrap();
    assert_eq!(status.last_scheduled.as_ref(), Some(&run));
    let admin = server.login(ADMIN, ADMIN_PASSWORD).await;
    let (code, body) = admin.get("/api/v1/backups/status").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["configured"], true);
    assert!(body["config_problem"].is_null(), "{body}");
    assert_eq!(body["warning"], false);
    assert_eq!(body["running"], false);
    assert_eq!(body["last"]["ok"], true);
    assert_eq!(body["last"]["size_bytes"], run.size_bytes.unwrap());
    assert_eq!(body["next_run_at"], "2026-11-21T18:30:00Z");

    // Run now: 202, then it finishes in the background.
    server.clock.advance(chrono::Duration::hours(1));
    let admin = server.login(ADMIN, ADMIN_PASSWORD).await;
    let (code, body) = admin.post("/api/v1/backups/run", json!({})).await;
    assert_eq!(code, 202, "{body}");
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        let (_, b) = admin.get("/api/v1/backups/status").await;
        if b["running"] == false && b["last"]["trigger"] == "manual" {
            last = b;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last["last"]["ok"], true, "{last}");
    assert_eq!(last["last"]["requested_by"], ADMIN);
    let (_, audit) = admin.get("/api/v1/audit?action=backup.requested").await;
    assert_eq!(audit["items"][0]["actor"], ADMIN);
    let (_, audit) = admin.get("/api/v1/audit?action=backup.completed").await;
    assert!(audit["total"].as_u64().unwrap() >= 2);

    // Someone without backup.run sees neither.
    let (code, _) = admin
        .post(
            "/api/v1/users",
            json!({"username": "xiaoli", "display_name": "小李", "roles": ["sales"], "password": "a long sales pass"}),
        )
        .await;
    assert_eq!(code, 201);
    let sales = server.login("xiaoli", "a long sales pass").await;
    assert_eq!(sales.get("/api/v1/backups/status").await.0, 403);
    assert_eq!(sales.post("/api/v1/backups/run", json!({})).await.0, 403);
    let dir = server.stop().await;

    // doctor shows the last backup.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", dir.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok    last backup:") && l.contains(".age")),
        "{text}"
    );
}

#[tokio::test]
async fn a_failed_scheduled_backup_warns_admins_and_doctor() {
    let out = tempfile::tempdir().unwrap();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let server = TestServer::start_with_config(
        Fixture::WithAdmin,
        config(
            out.path(),
            &recipient,
            "echo 'rsync: host unreachable' >&2; exit 3",
        ),
    )
    .await;
    let app = &server.app;
    assert!(job::tick(app).is_none());
    server.clock.advance(chrono::Duration::days(1));
    let run = job::tick(app).unwrap();
    assert!(run.ok);
    assert_eq!(
        run.post_command_error.as_deref(),
        Some("post command exited with status 3: rsync: host unreachable")
    );
    let admin = server.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, body) = admin.get("/api/v1/backups/status").await;
    assert_eq!(body["warning"], true, "{body}");

    // The disk goes away: the next scheduled run fails, with the reason.
    drop(out);
    server.clock.advance(chrono::Duration::days(1));
    let run = job::tick(app).unwrap();
    assert!(!run.ok);
    assert!(
        run.error
            .as_deref()
            .unwrap()
            .contains("is the disk mounted"),
        "{run:?}"
    );
    let admin = server.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, body) = admin.get("/api/v1/backups/status").await;
    assert_eq!(body["warning"], true);
    assert_eq!(body["configured"], false);
    assert_eq!(body["last"]["ok"], false);
    // The UI words the problem from its code (issue 17.8: no English in the Chinese UI).
    assert_eq!(body["config_problem"], "dir_missing", "{body}");
    let (code, body) = admin.post("/api/v1/backups/run", json!({})).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "backup_not_configured");
    let dir = server.stop().await;
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", dir.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("warn  last backup: FAILED") && l.contains("disk mounted")),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreadable_status_file_is_reported_not_read_as_no_backup_yet() {
    let out = tempfile::tempdir().unwrap();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let server =
        TestServer::start_with_config(Fixture::WithAdmin, config(out.path(), &recipient, "")).await;
    std::fs::write(job::status_path(server.dir.path()), b"{\"last\": {trunc").unwrap();
    assert!(job::load_status(server.dir.path()).is_err());
    // The scheduler does not take the damaged file for "never ran" and overwrite it.
    assert!(job::tick(&server.app).is_none());
    assert_eq!(
        std::fs::read(job::status_path(server.dir.path())).unwrap(),
        b"{\"last\": {trunc"
    );
    let admin = server.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, body) = admin.get("/api/v1/backups/status").await;
    assert_eq!(body["warning"], true, "{body}");
    assert!(
        body["status_error"]
            .as_str()
            .unwrap()
            .contains("backup-status.json"),
        "{body}"
    );
    let dir = server.stop().await;
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args(["--data", dir.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL  last backup:") && l.contains("damaged")),
        "{text}"
    );
}
