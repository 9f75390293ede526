//! Backups and restore with real files, real age encryption and real redb stores: consistency
//! beside a busy server, every corruption case refused with nothing written, restore's
//! refusals and migrations. The reference `age` tool round trips are in `backup_interop.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use age::secrecy::ExposeSecret;
use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use redb::ReadableDatabase;
use zhudai::backup::archive;
use zhudai::store::audit::{self, NewAudit};
use zhudai::store::{Store, migrate};

const BIN: &str = env!("CARGO_BIN_EXE_zhudai");

/// An X25519 key pair written as age-keygen would: (identity file, recipient string).
fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("# test key\n{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    (path, id.to_public().to_string())
}

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn system_entry(action: &'static str, n: u64) -> NewAudit {
    NewAudit {
        actor_id: None,
        actor: "system".into(),
        action,
        target: Some(format!("row-{n}")),
        detail: serde_json::json!({"n": n, "note": "x".repeat(200)}),
        source: "test".into(),
    }
}

/// Names in the directory, for "nothing was written" checks.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_beside_a_busy_server_restores_one_point_in_time_and_serves() {
    let server = TestServer::start(Fixture::WithAdmin).await;
    let data = server.dir.path().to_path_buf();
    let admin = zhudai::admin_socket::spawn(Arc::clone(&server.app), &data).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = keypair(keys.path(), "id.txt");

    // Some volume, then a writer that commits continuously through the app's store.
    let app = Arc::clone(&server.app);
    let now = app.now();
    app.store
        .write(|tx| {
            for n in 0..3000 {
                audit::append(tx, now, system_entry("auth.logout", n))?;
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let committed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, committed, stop) = (Arc::clone(&app), committed.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                app.store
                    .write(|tx| audit::append(tx, now, system_entry("auth.logout", n)))
                    .unwrap();
                n += 1;
                committed.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while committed.load(Ordering::SeqCst) < 50 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let seq_now = |app: &zhudai::service::App| {
        app.store
            .read(|tx| {
                Ok::<_, zhudai::store::Error>(audit::list(tx, None, None, None, 1)?.0[0].seq)
            })
            .unwrap()
    };
    let before = seq_now(&app);
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("f.age");
    let data_s = data.clone();
    let file_s = file.clone();
    let recipient_s = recipient.clone();
    let made = tokio::task::spawn_blocking(move || {
        zhudai(&[
            "--data",
            s(&data_s),
            "backup",
            "--out",
            s(&file_s),
            "-r",
            &recipient_s,
        ])
    })
    .await
    .unwrap();
    let after = seq_now(&app);
    let during = committed.load(Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(
        stdout(&made).contains("snapshot from the running server"),
        "{}",
        stdout(&made)
    );
    assert!(during > 50, "the writer kept committing");
    assert!(
        !listing(&data.join("tmp"))
            .iter()
            .any(|n| n.ends_with(".redb"))
    );

    // The server recorded the snapshot in its audit log.
    let snapshots = app
        .store
        .read(|tx| {
            Ok::<_, zhudai::store::Error>(
                audit::list(tx, Some("backup.snapshot"), None, None, 10)?.0,
            )
        })
        .unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0].source, "admin-socket");

    // Restore into a new directory.
    let target = out_dir.path().join("restored");
    let restored = zhudai(&["restore", s(&file), "--to", s(&target), "-i", s(&identity)]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    // The manifest anchors the chain's head; the restore checked the restored chain holds it.
    assert!(
        stdout(&restored).contains("entries verified; it holds the head the backup recorded"),
        "{}",
        stdout(&restored)
    );
    let key = zhudai::crypto::keyfile::load(&target.join("keys").join("master.key")).unwrap();
    let store = Store::open_keyed(
        &target.join("zhudai.redb"),
        zhudai::store::DEFAULT_CACHE_BYTES,
        Some(zhudai::crypto::audit_key(&key)),
    )
    .unwrap();
    let check = store.verify_audit().unwrap();
    assert_eq!(check.first_broken, None, "the restored chain verifies");
    // One point in time between the backup's start and end: a prefix of the live chain.
    assert!(
        check.entries >= before && check.entries <= after,
        "restored {} entries; live had {before} at the start and {after} at the end",
        check.entries
    );
    let live: Vec<_> = app
        .store
        .read(|tx| Ok::<_, zhudai::store::Error>(audit::list(tx, None, None, None, 500_000)?.0))
        .unwrap();
    let copy: Vec<_> = store
        .read(|tx| Ok::<_, zhudai::store::Error>(audit::list(tx, None, None, None, 500_000)?.0))
        .unwrap();
    let live_prefix: Vec<_> = live
        .into_iter()
        .filter(|e| e.seq <= check.entries)
        .collect();
    assert_eq!(
        copy, live_prefix,
        "the copy equals the live store at that point"
    );
    assert_eq!(
        std::fs::read(target.join("keys/master.key")).unwrap(),
        std::fs::read(data.join("keys/master.key")).unwrap()
    );
    let mode = std::fs::metadata(target.join("keys/master.key"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    drop(store);
    admin.shutdown().await;
    assert!(
        !data.join("admin.sock").exists(),
        "socket removed on shutdown"
    );
    drop(server);

    // The server starts on the restored directory and the administrator logs in.
    let restored_app = zhudai::open_app(
        &target,
        zhudai::config::Config::defaults().unwrap(),
        Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(zhudai::http::serve(listener, restored_app, async {
        let _ = rx.await;
    }));
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = tx.send(());
    served.await.unwrap().unwrap();
}

/// A data directory (server stopped) with an admin and some audit entries.
async fn stopped_data_dir() -> tempfile::TempDir {
    let server = TestServer::start(Fixture::WithAdmin).await;
    let now = server.app.now();
    server
        .app
        .store
        .write(|tx| {
            for n in 0..200 {
                audit::append(tx, now, system_entry("auth.logout", n))?;
            }
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    std::fs::write(
        server.dir.path().join("config.toml"),
        "[session]\nidle_minutes = 45\n",
    )
    .unwrap();
    // 300 KB that do not compress (stored attachments are ciphertext): the archive spans
    // several age chunks, so a byte flipped in its middle is not in the last one.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::create_dir_all(server.dir.path().join("blobs/zz")).unwrap();
    std::fs::write(server.dir.path().join("blobs/zz/noise"), noise).unwrap();
    server.stop().await
}

#[tokio::test]
async fn every_corruption_is_refused_with_nothing_written() {
    let data = stopped_data_dir().await;
    let work = tempfile::tempdir().unwrap();
    let (identity, recipient) = keypair(work.path(), "id.txt");
    let (other_identity, _) = keypair(work.path(), "other.txt");
    let pass = work.path().join("pass.txt");
    std::fs::write(&pass, "correct horse\n").unwrap();
    let wrong_pass = work.path().join("wrong.txt");
    std::fs::write(&wrong_pass, "battery staple\n").unwrap();

    let good = work.path().join("good.age");
    let out = zhudai(&[
        "--data",
        s(data.path()),
        "backup",
        "--out",
        s(&good),
        "-r",
        &recipient,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("snapshot from the store file"));
    let with_pass = work.path().join("pass.age");
    let out = zhudai(&[
        "--data",
        s(data.path()),
        "backup",
        "--out",
        s(&with_pass),
        "--passphrase-file",
        s(&pass),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Both verify.
    let ok = zhudai(&["backup", "verify", s(&good), "-i", s(&identity)]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("OK: "), "{}", stdout(&ok));
    assert_eq!(stdout(&ok).trim().lines().count(), 1);
    let ok = zhudai(&[
        "backup",
        "verify",
        s(&with_pass),
        "--passphrase-file",
        s(&pass),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));

    // Never overwrites.
    let again = zhudai(&[
        "--data",
        s(data.path()),
        "backup",
        "--out",
        s(&good),
        "-r",
        &recipient,
    ]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let bytes = std::fs::read(&good).unwrap();
    let variant = |name: &str, content: Vec<u8>| {
        let p = work.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    };
    let mut flipped = bytes.clone();
    let mid = bytes.len() / 2;
    flipped[mid] ^= 0x01;
    let mut flipped_header = bytes.clone();
    flipped_header[40] ^= 0x01;
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"garbage after the end");
    let mut trailing_block = bytes.clone();
    trailing_block.extend(std::iter::repeat_n(0u8, 70_000));
    let not_zhudai = {
        let enc = age::Encryptor::with_recipients(std::iter::once(
            &recipient.parse::<age::x25519::Recipient>().unwrap() as &dyn age::Recipient,
        ))
        .unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, b"just some text, not a tar archive at all\n").unwrap();
        w.finish().unwrap();
        out
    };

    type Case<'a> = (&'a str, PathBuf, Vec<&'a str>, &'a str);
    let id = s(&identity);
    let cases: Vec<Case> = vec![
        (
            "truncated",
            variant("trunc.age", bytes[..bytes.len() - 100].to_vec()),
            vec!["-i", id],
            "truncated",
        ),
        (
            "truncated at half",
            variant("half.age", bytes[..bytes.len() / 2].to_vec()),
            vec!["-i", id],
            "truncated",
        ),
        (
            "cut inside the header",
            variant("head.age", bytes[..60].to_vec()),
            vec!["-i", id],
            "",
        ),
        (
            "flipped byte",
            variant("flip.age", flipped),
            vec!["-i", id],
            "corrupted",
        ),
        (
            "flipped header byte",
            variant("fliph.age", flipped_header),
            vec!["-i", id],
            "",
        ),
        (
            "trailing garbage",
            variant("trail.age", trailing),
            vec!["-i", id],
            "at its end",
        ),
        (
            "trailing zeros",
            variant("trailz.age", trailing_block),
            vec!["-i", id],
            "damaged",
        ),
        (
            "wrong identity",
            good.clone(),
            vec!["-i", s(&other_identity)],
            "wrong passphrase or identity",
        ),
        (
            "wrong passphrase",
            with_pass.clone(),
            vec!["--passphrase-file", s(&wrong_pass)],
            "wrong passphrase or identity",
        ),
        (
            "passphrase for a recipients backup",
            good.clone(),
            vec!["--passphrase-file", s(&pass)],
            "give -i",
        ),
        (
            "identity for a passphrase backup",
            with_pass.clone(),
            vec!["-i", id],
            "give --passphrase-file",
        ),
        (
            "not age at all",
            variant("text.age", b"hello, I am a text file\n".to_vec()),
            vec!["-i", id],
            "not an age-encrypted file",
        ),
        (
            "age but not zhudai",
            variant("other.age", not_zhudai),
            vec!["-i", id],
            "not a zhudai backup",
        ),
    ];
    for (what, file, key, expect) in &cases {
        let mut args = vec!["backup", "verify", s(file)];
        args.extend(key);
        let v = zhudai(&args);
        let err = stderr(&v);
        assert!(!v.status.success(), "{what}: verify must fail");
        assert!(err.contains(expect), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
        assert!(err.starts_with("zhudai: error: "), "{what}: {err}");

        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("data");
        let mut args = vec!["restore", s(file), "--to", s(&target)];
        args.extend(key);
        let r = zhudai(&args);
        assert!(!r.status.success(), "{what}: restore must fail");
        assert!(stderr(&r).contains(expect), "{what}: {}", stderr(&r));
        assert!(
            listing(parent.path()).is_empty(),
            "{what}: nothing written: {:?}",
            listing(parent.path())
        );
    }
}

#[tokio::test]
async fn restore_refuses_busy_or_full_targets_and_keeps_what_it_replaces() {
    let data = stopped_data_dir().await;
    let work = tempfile::tempdir().unwrap();
    let (identity, recipient) = keypair(work.path(), "id.txt");
    let recipients = work.path().join("recipients.txt");
    let (identity2, recipient2) = keypair(work.path(), "id2.txt");
    std::fs::write(
        &recipients,
        format!("# two keys\n{recipient}\n\n{recipient2}\n"),
    )
    .unwrap();
    let file = work.path().join("f.age");
    let out = zhudai(&[
        "--data",
        s(data.path()),
        "backup",
        "--out",
        s(&file),
        "-R",
        s(&recipients),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for id in [&identity, &identity2] {
        let v = zhudai(&["backup", "verify", s(&file), "-i", s(id)]);
        assert!(
            v.status.success(),
            "either recipient opens it: {}",
            stderr(&v)
        );
    }

    // A non-empty target needs --force.
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("old.txt"), "old").unwrap();
    let r = zhudai(&["restore", s(&file), "--to", s(&target), "-i", s(&identity)]);
    assert!(!r.status.success());
    assert!(stderr(&r).contains("not empty"), "{}", stderr(&r));
    assert_eq!(listing(&target), vec!["old.txt"]);

    // With --force the old contents are kept aside.
    let r = zhudai(&[
        "restore",
        s(&file),
        "--to",
        s(&target),
        "-i",
        s(&identity),
        "--force",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains(".replaced-"), "{}", stdout(&r));
    let aside: Vec<String> = listing(work.path())
        .into_iter()
        .filter(|n| n.starts_with("target.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(listing(&work.path().join(&aside[0])), vec!["old.txt"]);
    let got = listing(&target);
    for want in ["config.toml", "keys", "plugins", "zhudai.redb"] {
        assert!(got.contains(&want.to_string()), "{got:?}");
    }
    assert_eq!(
        std::fs::read_to_string(target.join("config.toml")).unwrap(),
        "[session]\nidle_minutes = 45\n"
    );

    // Refused while a server holds the target, even with --force.
    let app = zhudai::open_app(
        &target,
        zhudai::config::Config::defaults().unwrap(),
        Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .unwrap();
    let r = zhudai(&[
        "restore",
        s(&file),
        "--to",
        s(&target),
        "-i",
        s(&identity),
        "--force",
    ]);
    assert!(!r.status.success());
    assert!(
        stderr(&r).contains("running zhudai server"),
        "{}",
        stderr(&r)
    );
    let admin = zhudai::admin_socket::spawn(Arc::clone(&app), &target).unwrap();
    assert!(zhudai::backup::restore::held_by_server(&target));
    admin.shutdown().await;
    drop(app);
}

/// Writes a store whose recorded schema is `version`, as a zhudai of that schema would.
fn store_with_schema(path: &Path, version: u64) {
    drop(Store::open(path).unwrap());
    let db = redb::Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    tx.open_table(zhudai::store::tables::META)
        .unwrap()
        .insert("schema_version", version)
        .unwrap();
    tx.commit().unwrap();
}

fn craft_backup(work: &Path, store: &Path, manifest_schema: u64, recipient: &str) -> PathBuf {
    craft_backup_with_head(work, store, manifest_schema, recipient, None)
}

fn craft_backup_with_head(
    work: &Path,
    store: &Path,
    manifest_schema: u64,
    recipient: &str,
    audit_head: Option<audit::Head>,
) -> PathBuf {
    let key = work.join("master.key");
    zhudai::crypto::keyfile::load_or_create(&key).unwrap();
    let out = work.join(format!("crafted-{manifest_schema}.age"));
    archive::write(
        &out,
        &[
            archive::Entry {
                path: "zhudai.redb".into(),
                source: store.to_path_buf(),
            },
            archive::Entry {
                path: "keys/master.key".into(),
                source: key,
            },
        ],
        &archive::Header {
            schema_version: manifest_schema,
            created_at: common::epoch(),
            audit_head,
        },
        &zhudai::backup::Encryption::Recipients(vec![recipient.parse().unwrap()]),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    out
}

#[test]
fn a_newer_schema_is_refused_and_an_older_one_migrated() {
    let work = tempfile::tempdir().unwrap();
    let (identity, recipient) = keypair(work.path(), "id.txt");
    let newer = migrate::SCHEMA_VERSION + 1;
    let store = work.path().join("newer.redb");
    store_with_schema(&store, newer);
    // The manifest tells the truth, or lies; either way the store decides.
    for manifest_schema in [newer, migrate::SCHEMA_VERSION] {
        let file = craft_backup(work.path(), &store, manifest_schema, &recipient);
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("data");
        let r = zhudai(&["restore", s(&file), "--to", s(&target), "-i", s(&identity)]);
        assert!(!r.status.success());
        let err = stderr(&r);
        assert!(
            err.contains(&format!("schema version {newer}")) && err.contains("newer"),
            "{err}"
        );
        assert!(listing(parent.path()).is_empty(), "nothing written");
    }

    // A backup of a schema-1 store (taken without migrating it) is migrated on restore.
    let old_data = work.path().join("old-data");
    std::fs::create_dir_all(old_data.join("keys")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.redb"),
        old_data.join("zhudai.redb"),
    )
    .unwrap();
    zhudai::crypto::keyfile::load_or_create(&old_data.join("keys/master.key")).unwrap();
    let file = work.path().join("old.age");
    let out = zhudai(&[
        "--data",
        s(&old_data),
        "backup",
        "--out",
        s(&file),
        "-r",
        &recipient,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("schema 1"), "{}", stdout(&out));
    {
        // The source was not migrated by the backup.
        let db = redb::ReadOnlyDatabase::open(old_data.join("zhudai.redb")).unwrap();
        let tx = db.begin_read().unwrap();
        let meta = tx.open_table(zhudai::store::tables::META).unwrap();
        assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), 1);
    }
    let target = work.path().join("migrated");
    let r = zhudai(&["restore", s(&file), "--to", s(&target), "-i", s(&identity)]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        stdout(&r).contains("migrated from schema 1"),
        "{}",
        stdout(&r)
    );
    let store = Store::open(&target.join("zhudai.redb")).unwrap();
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
}

#[test]
fn bad_arguments_and_keys_get_one_line_reasons() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["backup", "--out", "x.age"], "say how to encrypt"),
        (
            vec!["backup", "--out", "x.age", "-r", "ssh-ed25519 AAAAC3Nza"],
            "SSH keys are not supported",
        ),
        (
            vec!["backup", "--out", "x.age", "-r", "age1nope"],
            "not an age X25519 recipient",
        ),
        (
            vec!["backup", "--out", "x.age", "--passphrase-file", s(&empty)],
            "is empty",
        ),
        (vec!["backup", "verify", "x.age"], "key is needed"),
    ];
    for (args, expect) in cases {
        let o = zhudai(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
}

#[test]
fn a_restored_chain_shorter_than_the_manifests_head_is_reported() {
    let work = tempfile::tempdir().unwrap();
    let (identity, recipient) = keypair(work.path(), "id.txt");
    let (key, _) =
        zhudai::crypto::keyfile::load_or_create(&work.path().join("master.key")).unwrap();
    let path = work.path().join("short.redb");
    let head = {
        let store = Store::open_keyed(
            &path,
            zhudai::store::DEFAULT_CACHE_BYTES,
            Some(zhudai::crypto::audit_key(&key)),
        )
        .unwrap();
        for n in 0..3 {
            store
                .write(|tx| audit::append(tx, common::epoch(), system_entry("auth.logout", n)))
                .unwrap();
        }
        store.read(audit::head).unwrap().unwrap()
    };
    // The manifest recorded two entries more than the archived store holds.
    let claimed = audit::Head {
        seq: head.seq + 2,
        hash: head.hash.clone(),
    };
    let file = craft_backup_with_head(
        work.path(),
        &path,
        migrate::SCHEMA_VERSION,
        &recipient,
        Some(claimed),
    );
    let target = work.path().join("restored");
    let r = zhudai(&["restore", s(&file), "--to", s(&target), "-i", s(&identity)]);
    assert!(r.status.success(), "{}", stderr(&r));
    let out = stdout(&r);
    assert!(
        out.contains("warning: the audit log in this backup is broken at entry 5")
            && out.contains("does not hold the head the manifest records"),
        "{out}"
    );
}

/// Archive format 2 (a zstd-compressed tar, SHA-256 in the manifest, no format frame), as the
/// release before format 3 wrote it (tests/fixtures/format2/README.md): this release verifies
/// it with SHA-256, restores it, serves its customers and passes `doctor`.
#[tokio::test]
async fn a_format_2_backup_verifies_and_restores() {
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let backup = fixtures.join("format2/backup.age");
    let identity = fixtures.join("old-release/identity.txt");
    let ok = zhudai(&["backup", "verify", s(&backup), "-i", s(&identity)]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("OK: "), "{}", stdout(&ok));
    let key = std::fs::read_to_string(&identity).unwrap();
    let key = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let unlock = zhudai::backup::Unlock::Identities(vec![Box::new(
        key.parse::<age::x25519::Identity>().unwrap(),
    )]);
    let manifest =
        archive::read(&backup, &unlock, None, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(manifest.format_version, 2);
    assert!(
        manifest
            .entries
            .iter()
            .all(|e| e.sha256.is_some() && e.blake3.is_none())
    );

    let target = tempfile::tempdir().unwrap();
    let r = zhudai(&[
        "restore",
        s(&backup),
        "--to",
        s(target.path()),
        "-i",
        s(&identity),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let doctor = zhudai(&["--data", s(target.path()), "doctor"]);
    assert!(
        doctor.status.success(),
        "{}{}",
        stdout(&doctor),
        stderr(&doctor)
    );
    let config = zhudai::config::Config::defaults().unwrap();
    let clock = Arc::new(zhudai::service::ManualClock::new(common::epoch()));
    let server = TestServer::start_in(target, config, clock).await;
    let boss = server.login("boss", "Zhudai-Format2-2026").await;
    let (status, page) = boss.get("/api/v1/customers?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 30, "{page}");
    server.stop().await;
}

/// Issue 23: the upgrade path an agency takes — a backup written by the previous release (the
/// fixture's README says which and how) restores with this binary, migrates, serves its data,
/// passes `doctor`, and this binary's own backup of it restores again to the same data.
#[tokio::test]
async fn a_backup_of_the_previous_release_restores_and_round_trips() {
    let fixture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/old-release"
    ));
    let identity = fixture.join("identity.txt");
    let first = tempfile::tempdir().unwrap();
    let r = zhudai(&[
        "restore",
        s(&fixture.join("backup.age")),
        "--to",
        s(first.path()),
        "-i",
        s(&identity),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        stdout(&r).contains("migrated from schema 15"),
        "{}",
        stdout(&r)
    );

    // What the old release held, read through this release's API.
    async fn check(dir: tempfile::TempDir) -> tempfile::TempDir {
        let config = zhudai::config::Config::defaults().unwrap();
        let clock = Arc::new(zhudai::service::ManualClock::new(common::epoch()));
        let server = TestServer::start_in(dir, config, clock).await;
        let boss = server.login("boss", "Zhudai-Old-Release-2026").await;
        let (status, page) = boss.get("/api/v1/customers?limit=1").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 30, "{page}");
        let (status, c) = boss
            .get("/api/v1/customers/01M92KQVH0YE9M5F5ZF4633GRA")
            .await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["name"], "罗凯庆");
        assert_eq!(
            c["phone"], "134****7369",
            "the encrypted phone decrypts and masks"
        );
        let (status, log) = boss
            .get("/api/v1/customers/01M92KQVH0YE9M5F5ZF4633GRA/followups")
            .await;
        assert_eq!(status, 200, "{log}");
        assert!(
            log.to_string().contains("旧版本的跟进记录"),
            "the old follow-up is there: {log}"
        );
        let (status, hits) = boss.get("/api/v1/search?q=罗凯庆").await;
        assert_eq!(status, 200, "{hits}");
        assert!(
            hits.to_string().contains("01M92KQVH0YE9M5F5ZF4633GRA"),
            "{hits}"
        );
        server.stop().await
    }
    let first = check(first).await;
    let doctor = zhudai(&["--data", s(first.path()), "doctor"]);
    assert!(
        doctor.status.success(),
        "{}{}",
        stdout(&doctor),
        stderr(&doctor)
    );

    // This release's backup of the upgraded directory restores to the same data.
    let work = tempfile::tempdir().unwrap();
    let (id2, recipient) = keypair(work.path(), "id.txt");
    let file = work.path().join("new.age");
    let out = zhudai(&[
        "--data",
        s(first.path()),
        "backup",
        "--out",
        s(&file),
        "-r",
        &recipient,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Compressed inside the encryption (format 3): far smaller than the store it holds.
    let archive = std::fs::metadata(&file).unwrap().len();
    let store = std::fs::metadata(first.path().join("zhudai.redb"))
        .unwrap()
        .len();
    assert!(
        archive * 3 < store,
        "archive {archive} bytes, store {store}"
    );
    let second = tempfile::tempdir().unwrap();
    let r = zhudai(&["restore", s(&file), "--to", s(second.path()), "-i", s(&id2)]);
    assert!(r.status.success(), "{}", stderr(&r));
    check(second).await;
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A snapshot of the open store is its file copied whole under the writer lock: the copy opens
/// read-only and holds exactly the live rows. While an erasure waits for its scrub, the live
/// file's free pages still hold the erased record, and the snapshot is taken row by row
/// instead, so the backup does not carry the erased customer on.
#[tokio::test]
async fn a_snapshot_copies_the_file_unless_an_erasure_waits_for_its_scrub() {
    use zhudai::store::snapshot::Method;
    let server = TestServer::start(Fixture::WithAdmin).await;
    let admin = server.login(ADMIN, ADMIN_PASSWORD).await;
    const NAME: &str = "擦除测试客户甲乙丙丁";
    let mut ids = Vec::new();
    for (n, name) in [NAME, "保留客户"].iter().enumerate() {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                serde_json::json!({"name": name, "phone": format!("1390013900{n}")}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let dump = |store: &Store| store.read(zhudai::store::tables::dump_all).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // No erasure pending: the file, copied whole.
    let copy = tmp.path().join("file.redb");
    let (snap, method) = server.app.store.snapshot_by(&copy).unwrap();
    assert_eq!(method, Method::File);
    assert_eq!(snap.schema_version, Some(migrate::SCHEMA_VERSION));
    let live = dump(&server.app.store);
    let rows: u64 = live.values().map(|t| t.len() as u64).sum();
    assert_eq!(snap.rows, rows);
    let head = server.app.store.read(audit::head).unwrap();
    assert!(head.is_some());
    assert_eq!(snap.audit_head, head, "the manifest's head is the copy's");
    assert!(
        redb::ReadOnlyDatabase::open(&copy).is_err(),
        "the copy is of a file in use: it is settled before it is read"
    );
    zhudai::store::snapshot::settle(&copy, zhudai::store::snapshot::OnDisk::Scratch).unwrap();
    let db = redb::ReadOnlyDatabase::open(&copy).expect("settled, the copy opens read-only");
    let copied = zhudai::store::tables::dump_all(&db.begin_read().unwrap()).unwrap();
    assert_eq!(copied, live, "the copy holds exactly the live rows");
    drop(db);
    assert!(
        server.app.store.snapshot_by(&copy).is_err(),
        "an existing file is not overwritten"
    );
    // `snapshot_to` settles it itself.
    let clean = tmp.path().join("clean.redb");
    server.app.store.snapshot_to(&clean).unwrap();
    let db = redb::ReadOnlyDatabase::open(&clean).expect("opens read-only");
    let copied = zhudai::store::tables::dump_all(&db.begin_read().unwrap()).unwrap();
    assert_eq!(copied, live);
    drop(db);

    // Erased: the live file still holds the old record in free pages until the scrub.
    let (st, body) = admin
        .post(
            &format!("/api/v1/customers/{}/erase", ids[0]),
            serde_json::json!({"request_ref": "PI-1"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let live_bytes = std::fs::read(server.dir.path().join("zhudai.redb")).unwrap();
    assert!(
        holds(&live_bytes, NAME),
        "the live file still holds the erased name (what a file copy would carry)"
    );
    let rows_copy = tmp.path().join("rows.redb");
    let (_, method) = server.app.store.snapshot_by(&rows_copy).unwrap();
    assert_eq!(method, Method::Rows);
    let bytes = std::fs::read(&rows_copy).unwrap();
    assert!(
        !holds(&bytes, NAME),
        "the snapshot does not hold the erased name"
    );
    assert!(holds(&bytes, "保留客户"), "it holds the others");
    let db = redb::ReadOnlyDatabase::open(&rows_copy).unwrap();
    let copied = zhudai::store::tables::dump_all(&db.begin_read().unwrap()).unwrap();
    assert_eq!(copied, dump(&server.app.store));
}
