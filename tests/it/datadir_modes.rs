//! Borrowers' data is not world-readable: `serve` makes a data directory created beforehand
//! with a loose mode private (0700), everything the server writes is 0600 (directories 0700),
//! and `zhudai doctor` reports each loose file or directory with the command that fixes it.
//! (Tests may run as root, who reads anything: the mode bits are checked, not access.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_zhudai");

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Every file and directory below `dir` (not following links), with its mode.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            out.push((p.clone(), true, mode(&p)));
            walk(&p, out);
        } else if meta.is_file() {
            out.push((p.clone(), false, mode(&p)));
        }
    }
}

/// Runs `zhudai serve` until it listens, then stops it (SIGTERM, a clean stop).
fn serve_once(data: &Path) -> String {
    let mut child = Command::new(BIN)
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
    let rx = crate::common::output_lines(&mut child);
    let mut log = String::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no banner: {log}"));
        log.push_str(&line);
        log.push('\n');
        if line.starts_with("listening on ") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        log.push_str(&line);
        log.push('\n');
    }
    log
}

fn doctor(data: &Path) -> (bool, String) {
    let o = Command::new(BIN)
        .args(["--data", data.to_str().unwrap(), "doctor"])
        .env("ZHUDAI_LOG", "warn")
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

#[test]
fn a_loose_data_directory_is_made_private_and_doctor_reports_loose_files() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o755);

    let log = serve_once(&data);
    assert_eq!(mode(&data), 0o700, "made private on start: {log}");
    assert!(log.contains("0755"), "the change is logged: {log}");
    let mut all = Vec::new();
    walk(&data, &mut all);
    assert!(
        all.iter()
            .any(|(p, _, _)| p.starts_with(data.join("index"))),
        "the index was written"
    );
    for (p, is_dir, m) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*m & 0o077, 0, "{} is {m:o}, want {want:o}", p.display());
    }
    let (ok, report) = doctor(&data);
    assert!(ok, "{report}");
    assert!(
        report.lines().any(|l| l.starts_with("ok    file modes")),
        "{report}"
    );

    // Loosened by hand (an old release, a careless copy): doctor names each with its fix.
    chmod(&data, 0o755);
    let redb = data.join("zhudai.redb");
    chmod(&redb, 0o644);
    let plugin = data.join("plugins").join("pool.rhai");
    chmod(&plugin, 0o644);
    let index = data.join("index");
    chmod(&index, 0o755);
    let (ok, report) = doctor(&data);
    assert!(!ok, "{report}");
    let line_for = |needle: &str| {
        report
            .lines()
            .find(|l| l.contains(needle) && l.contains("chmod"))
            .map(str::to_string)
    };
    let d = line_for(&format!("chmod 700 {}", data.display()));
    assert!(
        d.as_deref()
            .is_some_and(|l| l.starts_with("FAIL  data directory")),
        "{report}"
    );
    assert!(
        line_for(&format!("chmod 600 {}", redb.display())).is_some(),
        "{report}"
    );
    assert!(
        line_for(&format!("chmod 600 {}", plugin.display())).is_some(),
        "{report}"
    );
    assert!(
        line_for(&format!("chmod 700 {}", index.display())).is_some(),
        "{report}"
    );

    // The next start makes the directory private again.
    serve_once(&data);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&redb), 0o600, "the store is made private on open");
}
