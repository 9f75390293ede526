//! The real binary as an operator runs it: first-run link, kill -9 and restart, a second
//! server on the same data directory, SIGTERM, configuration printing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_zhudai");

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    base: String,
    setup_url: Option<String>,
}

/// Starts `zhudai serve` on a port the OS picks and reads its banner.
fn serve(data: &Path) -> Running {
    serve_with(data, &[])
}

fn serve_with(data: &Path, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BIN)
        .envs(env.iter().copied())
        .args([
            "--data",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("ZHUDAI_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = crate::common::output_lines(&mut child);
    let mut base = None;
    let mut setup_url = None;
    // The banner ends with "listening on URL"; the setup link, if any, comes before it.
    while base.is_none() {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("server banner");
        if let (Some(i), true) = (line.find("http"), line.contains("/setup#token=")) {
            setup_url = Some(line[i..].trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("listening on ") {
            base = Some(rest.trim().to_string());
        }
    }
    Running {
        child,
        lines,
        base: base.unwrap(),
        setup_url,
    }
}

async fn login(base: &str, user: &str, pass: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": pass}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn first_run_then_kill_9_then_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = serve(&data);
    let url = s
        .setup_url
        .clone()
        .expect("first run prints the setup link");
    let token = url.split("#token=").nth(1).unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert!(data.join("keys/master.key").exists());
    assert!(
        data.join("plugins/README.md").exists(),
        "default plugins copied"
    );

    let health: serde_json::Value = reqwest::get(format!("{}/api/v1/health", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let html = reqwest::get(format!("{}/", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("zh-CN"));

    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/setup", s.base))
        .json(&json!({"token": token, "username": "boss", "display_name": "老板", "password": "a long enough pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(login(&s.base, "boss", "a long enough pass").await, 200);

    // kill -9: no chance to close anything.
    s.child.kill().unwrap();
    s.child.wait().unwrap();

    let mut s = serve(&data);
    assert!(
        s.setup_url.is_none(),
        "an administrator exists: no setup link"
    );
    assert_eq!(
        login(&s.base, "boss", "a long enough pass").await,
        200,
        "committed data survived"
    );
    s.child.kill().unwrap();
    s.child.wait().unwrap();
}

#[tokio::test]
async fn a_second_server_on_the_same_data_fails_fast_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = serve(&data);

    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .args([
            "--data",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10), "fails fast");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already in use"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    let status = Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = first.child.wait().unwrap();
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?}");
    let mut stopped = false;
    while let Ok(line) = first.lines.recv_timeout(Duration::from_secs(5)) {
        stopped |= line.contains("store closed");
    }
    assert!(stopped, "logged the clean stop");

    // The store was released: it opens again.
    let mut again = serve(&data);
    assert_eq!(
        reqwest::get(format!("{}/api/v1/health", again.base))
            .await
            .unwrap()
            .status(),
        200
    );
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}

#[test]
fn print_config_layers_and_hides_nothing_it_should_show() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[session]\nidle_minutes = 15\nmystery = 1\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "serve",
            "--print-config",
        ])
        .env("ZHUDAI_SERVER_LISTEN", "0.0.0.0:9999")
        .env("ZHUDAI_TYPO", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("listen = \"0.0.0.0:9999\""), "{stdout}");
    assert!(stdout.contains("idle_minutes = 15"), "{stdout}");
    assert!(
        stderr.contains("session.mystery") && stderr.contains("ZHUDAI_TYPO"),
        "{stderr}"
    );
    let parsed: toml::Table = stdout.parse().unwrap();
    assert!(parsed.contains_key("server"));
}

/// kill -9 between the store commit and the index commit: the customer is in the store, the
/// index does not have it; the next start replays the outbox and search finds it.
#[tokio::test]
async fn a_crash_before_the_index_commit_heals_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = serve(&data);
    let token = s.setup_url.clone().unwrap();
    let token = token.split("#token=").nth(1).unwrap().to_string();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let resp = http
        .post(format!("{}/api/v1/setup", s.base))
        .json(&json!({"token": token, "username": "boss", "display_name": "老板", "password": "a long enough pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    s.child.kill().unwrap();
    s.child.wait().unwrap();

    let mut s = serve_with(&data, &[(zhudai::search::CRASH_HOOK_ENV, "1")]);
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"username": "boss", "password": "a long enough pass"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = login["csrf_token"].as_str().unwrap().to_string();
    let resp = http
        .post(format!("{}/api/v1/customers", s.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "崩溃前客户", "phone": "13812340000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "the store committed the customer");
    // The indexer picks the change up within half a second and dies before committing.
    let status = s.child.wait().unwrap();
    assert!(!status.success(), "the crash hook aborted the process");

    let mut s = serve(&data);
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"username": "boss", "password": "a long enough pass"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(login["csrf_token"].is_string());
    let found: serde_json::Value = http
        .get(format!("{}/api/v1/search?q=%E5%B4%A9%E6%BA%83", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["customer"]["name"], "崩溃前客户");

    // `zhudai reindex` beside the running server rebuilds online, through the admin socket…
    let out = Command::new(BIN)
        .args(["--data", data.to_str().unwrap(), "reindex"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("running server rebuilt the search index: 1 customers"),
        "{stdout}"
    );
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    // …and with the server stopped it opens the store itself.
    let out = Command::new(BIN)
        .args(["--data", data.to_str().unwrap(), "reindex"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("search index rebuilt: 1 customers"),
        "{stdout}"
    );
}

/// The `THP_enabled` line of a process's status (Linux 5.0 and later).
fn thp_enabled(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// The allocator asks for transparent huge pages (an import is faster with them); a server
/// turns them off for itself, or it would keep whole 2 MB pages for the bytes it touches.
#[test]
fn the_server_runs_without_transparent_huge_pages() {
    // This process has them, so the server's 0 is the server's own doing.
    assert_eq!(thp_enabled("self"), "1");
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(&dir.path().join("data"));
    let server = thp_enabled(&s.child.id().to_string());
    s.child.kill().unwrap();
    let _ = s.child.wait();
    assert_eq!(
        server, "0",
        "zhudai serve turned transparent huge pages off"
    );
}
