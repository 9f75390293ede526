//! Issue 22.1's example integration (examples/calls/cdr_post.py): the FreeSWITCH CSV CDR
//! (mod_cdr_csv, default template) and the Asterisk Master.csv parse to the calls expected
//! (`--dry-run`), and the script posts the FreeSWITCH sample to a running server, twice
//! without recording anything twice. Needs `python3` (CI has it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};

fn script() -> String {
    format!("{}/examples/calls/cdr_post.py", env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> String {
    format!("{}/examples/calls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn dry_run(format: &str, file: &str) -> Vec<Value> {
    let out = Command::new("python3")
        .args([&script(), "--format", format, "--dry-run", &sample(file)])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (external id, direction, from, result, ring, talk, started at)
fn summary(calls: &[Value]) -> Vec<Value> {
    calls
        .iter()
        .map(|c| {
            json!([
                c["external_id"],
                c["direction"],
                c["from"],
                c["result"],
                c["ring_seconds"],
                c["talk_seconds"],
                c["started_at"]
            ])
        })
        .collect()
}

#[test]
fn freeswitch_and_asterisk_cdrs_parse_to_the_expected_calls() {
    let fs = dry_run("freeswitch", "freeswitch.csv");
    let id = |n: u32| format!("0b1d6a2e-5f4c-4c1e-9a51-1f0e8f3d000{n}");
    assert_eq!(
        summary(&fs),
        vec![
            json!([
                id(1),
                "out",
                "8001",
                "answered",
                6,
                125,
                "2026-12-05T01:30:01Z"
            ]),
            json!([
                id(2),
                "out",
                "8001",
                "no_answer",
                25,
                0,
                "2026-12-05T01:40:00Z"
            ]),
            json!([
                id(3),
                "in",
                "13800138000",
                "answered",
                4,
                60,
                "2026-12-05T02:05:10Z"
            ]),
            json!([id(5), "out", "8001", "busy", 3, 0, "2026-12-05T03:00:00Z"]),
        ]
    );
    assert_eq!(
        fs[2]["agent"], "8002",
        "an inbound call's agent is the extension called"
    );
    // The Asterisk sample reads as before: the same first three calls, its own ids.
    let ast = dry_run("asterisk", "Master.csv");
    assert_eq!(ast.len(), 4);
    assert_eq!(
        summary(&ast)[..3]
            .iter()
            .map(|v| v.as_array().unwrap()[1..].to_vec())
            .collect::<Vec<_>>(),
        summary(&fs)[..3]
            .iter()
            .map(|v| v.as_array().unwrap()[1..].to_vec())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_script_posts_a_freeswitch_cdr_to_the_server_once() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    // The sample's calls are of 2026-12-05; calls from the future are refused.
    s.clock.advance(chrono::Duration::days(16));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, token) = admin.post("/api/v1/tokens", json!({"name": "pbx"})).await;
    assert_eq!(st, 201, "{token}");
    let token = token["token"].as_str().unwrap().to_string();
    let url = s.url("");
    let run = move || {
        let (token, url) = (token.clone(), url.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new("python3")
                    .args([
                        &script(),
                        "--format",
                        "freeswitch",
                        "--url",
                        &url,
                        &sample("freeswitch.csv"),
                    ])
                    .env("ZHUDAI_TOKEN", &token)
                    .output()
                    .expect("python3 runs")
            })
            .await
            .unwrap()
        }
    };
    let out = run().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts, json!({"created": 4, "known": 0, "failed": 0}));
    let out = run().await;
    let counts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts, json!({"created": 0, "known": 4, "failed": 0}));
}
