//! `zhudai backup` from the command line, as a cron job runs it: beside a running `zhudai serve`
//! process its result (success or failure) reaches `GET /api/v1/backups/status`, the backup
//! metrics and `zhudai doctor` through the server's admin socket; with no server it is recorded
//! by the CLI itself. Also: a damaged archive is told from a wrong key, and `backup.dir` may
//! not be the data directory or inside it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_zhudai");
const PASSWORD: &str = "correct-horse-battery";
const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

fn zhudai(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("ZHUDAI_LOG", "warn")
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Served {
    child: Child,
    base: String,
    _lines: mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `zhudai serve` as its own process on a port the OS picks.
fn serve(data: &Path) -> Served {
    let mut child = Command::new(BIN)
        .args(["--data", s(data), "serve", "--listen", "127.0.0.1:0"])
        .env("ZHUDAI_LOG", "info")
        .env("ZHUDAI_METRICS_TOKEN", METRICS_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = crate::common::output_lines(&mut child);
    let base = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("server banner");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim().to_string();
        }
    };
    Served {
        child,
        base,
        _lines: lines,
    }
}

/// A data directory initialised by `zhudai user add` with an administrator `admin`.
fn data_dir_with_admin(parent: &Path) -> std::path::PathBuf {
    let data = parent.join("data");
    let pass = parent.join("admin-pass.txt");
    std::fs::write(&pass, format!("{PASSWORD}\n")).unwrap();
    let o = zhudai(&[
        "--data",
        s(&data),
        "user",
        "add",
        "--username",
        "admin",
        "--role",
        "admin",
        "--password-file",
        s(&pass),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    data
}

async fn admin_client(base: &str) -> reqwest::Client {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    c
}

async fn status(c: &reqwest::Client, base: &str) -> Value {
    let r = c
        .get(format!("{base}/api/v1/backups/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn metrics(base: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn doctor(data: &Path) -> String {
    let o = zhudai(&["--data", s(data), "doctor"]);
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_backup_beside_the_server_reaches_status_metrics_and_doctor() {
    let work = tempfile::tempdir().unwrap();
    let data = data_dir_with_admin(work.path());
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let server = serve(&data);
    let admin = admin_client(&server.base).await;
    let before = status(&admin, &server.base).await;
    assert!(before["last"].is_null(), "{before}");

    // A successful CLI backup beside the running server.
    let out = work.path().join("nightly.age");
    let (d, o, r) = (data.clone(), out.clone(), recipient.clone());
    let made = tokio::task::spawn_blocking(move || {
        zhudai(&["--data", s(&d), "backup", "--out", s(&o), "-r", &r])
    })
    .await
    .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let st = status(&admin, &server.base).await;
    assert_eq!(st["last"]["ok"], true, "{st}");
    assert_eq!(st["last"]["trigger"], "cli", "{st}");
    assert_eq!(st["last"]["file"], s(&out), "{st}");
    assert_eq!(
        st["last"]["size_bytes"].as_u64(),
        Some(std::fs::metadata(&out).unwrap().len())
    );
    assert_eq!(st["last_success"]["file"], s(&out), "{st}");
    assert_eq!(st["warning"], false, "{st}");
    let m = metrics(&server.base).await;
    assert_eq!(metric(&m, "zhudai_backup_last_run_ok"), Some(1.0), "{m}");
    assert!(
        metric(&m, "zhudai_backup_last_success_timestamp_seconds").is_some(),
        "{m}"
    );

    // A failing one (the target disk is not there): the admin sees the failure and why.
    let missing = work.path().join("no-such-disk").join("nightly.age");
    let (d, o, r) = (data.clone(), missing.clone(), recipient.clone());
    let failed = tokio::task::spawn_blocking(move || {
        zhudai(&["--data", s(&d), "backup", "--out", s(&o), "-r", &r])
    })
    .await
    .unwrap();
    assert!(!failed.status.success(), "{}", text(&failed));
    let st = status(&admin, &server.base).await;
    assert_eq!(st["last"]["ok"], false, "{st}");
    assert_eq!(st["last"]["trigger"], "cli", "{st}");
    assert!(
        st["last"]["error"]
            .as_str()
            .unwrap()
            .contains("no-such-disk"),
        "{st}"
    );
    assert_eq!(
        st["last_success"]["file"],
        s(&out),
        "the last good one stays"
    );
    assert_eq!(st["warning"], true, "a failed CLI backup warns: {st}");
    let m = metrics(&server.base).await;
    assert_eq!(metric(&m, "zhudai_backup_last_run_ok"), Some(0.0), "{m}");

    // The server recorded both in its audit log, as the admin socket's.
    let r = admin
        .get(format!("{}/api/v1/audit?action=backup.failed", server.base))
        .send()
        .await
        .unwrap();
    let audit: Value = r.json().await.unwrap();
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");

    // doctor (server stopped) shows the failure.
    drop(server);
    let report = doctor(&data);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("warn  last backup: FAILED") && l.contains("no-such-disk")),
        "{report}"
    );

    // With no server running (a stale admin.sock may be left by the kill), the CLI records
    // the backup itself.
    let offline = work.path().join("offline.age");
    let made = zhudai(&[
        "--data",
        s(&data),
        "backup",
        "--out",
        s(&offline),
        "-r",
        &recipient,
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let report = doctor(&data);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("ok    last backup:") && l.contains("offline.age")),
        "{report}"
    );
    let server = serve(&data);
    let admin = admin_client(&server.base).await;
    let st = status(&admin, &server.base).await;
    assert_eq!(st["last"]["file"], s(&offline), "{st}");
    assert_eq!(st["last"]["trigger"], "cli", "{st}");
}

/// An age file whose header is damaged (or is not an age file at all) is reported as damaged,
/// never as "wrong key"; a key that does not open an intact archive is reported as such.
#[test]
fn a_damaged_header_is_not_reported_as_a_wrong_key() {
    let work = tempfile::tempdir().unwrap();
    let data = data_dir_with_admin(work.path());
    let pass = work.path().join("pass.txt");
    std::fs::write(&pass, "correct horse\n").unwrap();
    let wrong = work.path().join("wrong.txt");
    std::fs::write(&wrong, "battery staple\n").unwrap();
    let id = age::x25519::Identity::generate();
    let identity = work.path().join("id.txt");
    std::fs::write(&identity, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let other = work.path().join("other.txt");
    std::fs::write(
        &other,
        format!(
            "{}\n",
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
        ),
    )
    .unwrap();

    let with_pass = work.path().join("p.age");
    let o = zhudai(&[
        "--data",
        s(&data),
        "backup",
        "--out",
        s(&with_pass),
        "--passphrase-file",
        s(&pass),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let with_id = work.path().join("r.age");
    let recipient = id.to_public().to_string();
    let o = zhudai(&[
        "--data",
        s(&data),
        "backup",
        "--out",
        s(&with_id),
        "-r",
        &recipient,
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // Damage to one byte of the header's text: its type, its arguments, its MAC line.
    let damage = |file: &Path, name: &str, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = std::fs::read(file).unwrap();
        edit(&mut bytes);
        let p = work.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let find = |bytes: &[u8], needle: &[u8]| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let mac_of = |bytes: &[u8]| find(bytes, b"\n--- ") + 6;
    let cases: Vec<(&str, std::path::PathBuf, &Path, bool)> = vec![
        (
            "stanza type (passphrase)",
            damage(&with_pass, "t1.age", &|b| {
                let i = find(b, b"scrypt");
                b[i + 3] = b'x';
            }),
            &pass,
            true,
        ),
        (
            "stanza type (recipients)",
            damage(&with_id, "t2.age", &|b| {
                let i = find(b, b"X25519");
                b[i + 1] = b'y';
            }),
            &identity,
            false,
        ),
        (
            "work factor",
            damage(&with_pass, "t3.age", &|b| {
                let i = find(b, b" 18\n");
                b[i + 1] = b'%';
            }),
            &pass,
            true,
        ),
        (
            "MAC with the right passphrase",
            damage(&with_pass, "t4.age", &|b| {
                let i = mac_of(b);
                b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            }),
            &pass,
            true,
        ),
        (
            "MAC with the right identity",
            damage(&with_id, "t5.age", &|b| {
                let i = mac_of(b);
                b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            }),
            &identity,
            false,
        ),
        (
            "first line",
            damage(&with_id, "t6.age", &|b| b[3] = b'X'),
            &identity,
            false,
        ),
        (
            "truncated inside the header",
            damage(&with_id, "t7.age", &|b| b.truncate(50)),
            &identity,
            false,
        ),
    ];
    for (n, (what, file, key, passphrase)) in cases.iter().enumerate() {
        let flag = if *passphrase {
            "--passphrase-file"
        } else {
            "-i"
        };
        let v = zhudai(&["backup", "verify", s(file), flag, s(key)]);
        let err = text(&v);
        assert!(!v.status.success(), "{what}: {err}");
        assert!(
            !err.contains("wrong passphrase")
                && !err.contains("give -i")
                && !err.contains("give --passphrase-file"),
            "{what}: reported as a key problem: {err}"
        );
        assert!(
            err.contains("damaged") || err.contains("truncated"),
            "{what}: {err}"
        );
        let target = work.path().join(format!("restore-{n}"));
        let r = zhudai(&["restore", s(file), "--to", s(&target), flag, s(key)]);
        let err = text(&r);
        assert!(!r.status.success(), "{what}: {err}");
        assert!(
            err.contains("damaged") || err.contains("truncated"),
            "{what}: restore: {err}"
        );
        assert!(!err.contains("wrong passphrase"), "{what}: restore: {err}");
    }

    // An intact archive and a key that does not open it: the key, not damage.
    for (file, flag, key) in [
        (&with_pass, "--passphrase-file", &wrong),
        (&with_id, "-i", &other),
    ] {
        let v = zhudai(&["backup", "verify", s(file), flag, s(key)]);
        let err = text(&v);
        assert!(!v.status.success());
        assert!(err.contains("wrong passphrase or identity"), "{err}");
        assert!(!err.contains("damaged"), "{err}");
    }
}

/// `backup.dir` inside the data directory (or the directory itself) is refused where it is
/// set: the configuration file, and the 备份 page's settings API.
#[tokio::test]
async fn a_backup_dir_inside_the_data_directory_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let data = data_dir_with_admin(work.path());
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    std::fs::create_dir_all(data.join("backups")).unwrap();
    for dir in [
        s(&data).to_string(),
        data.join("backups").display().to_string(),
        "backups".to_string(),
        format!("{}/./", s(&data)),
    ] {
        std::fs::write(
            data.join("config.toml"),
            format!("[backup]\nenabled = true\ndir = \"{dir}\"\nrecipients = [\"{recipient}\"]\n"),
        )
        .unwrap();
        let err = zhudai::config::Config::load(Some(&data), std::iter::empty(), &[])
            .err()
            .unwrap_or_else(|| panic!("{dir}: accepted"));
        let msg = err.to_string();
        assert!(msg.contains("backup.dir"), "{dir}: {msg}");
        assert!(msg.contains("数据目录"), "{dir}: {msg}");
        // And the server refuses to start on it.
        let o = Command::new(BIN)
            .args(["--data", s(&data), "serve", "--listen", "127.0.0.1:0"])
            .env("ZHUDAI_LOG", "warn")
            .output()
            .unwrap();
        assert!(!o.status.success(), "{dir}: {}", text(&o));
        assert!(text(&o).contains("backup.dir"), "{dir}: {}", text(&o));
    }
    // Beside it is fine.
    let beside = work.path().join("backups");
    std::fs::create_dir_all(&beside).unwrap();
    std::fs::write(
        data.join("config.toml"),
        format!(
            "[backup]\nenabled = true\ndir = \"{}\"\nrecipients = [\"{recipient}\"]\n",
            beside.display()
        ),
    )
    .unwrap();
    assert!(zhudai::config::Config::load(Some(&data), std::iter::empty(), &[]).is_ok());
    std::fs::remove_file(data.join("config.toml")).unwrap();

    // The page's settings API.
    let server = serve(&data);
    let admin = admin_client(&server.base).await;
    let csrf = {
        let r = admin
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["csrf_token"].as_str().unwrap().to_string()
    };
    for dir in [
        s(&data).to_string(),
        data.join("backups").display().to_string(),
    ] {
        let r = admin
            .put(format!("{}/api/v1/backups/settings", server.base))
            .header("X-CSRF-Token", &csrf)
            .json(
                &json!({"enabled": true, "dir": dir, "time": "02:30", "keep_daily": 7,
                          "keep_weekly": 4, "recipients": [recipient]}),
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 400, "{dir}: {body}");
        assert_eq!(body["error"]["field"], "dir", "{dir}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("数据目录"),
            "{body}"
        );
    }
    let r = admin
        .put(format!("{}/api/v1/backups/settings", server.base))
        .header("X-CSRF-Token", &csrf)
        .json(
            &json!({"enabled": true, "dir": s(&beside), "time": "02:30", "keep_daily": 7,
                      "keep_weekly": 4, "recipients": [recipient]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
