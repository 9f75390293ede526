//! The keyed audit chain and its anchors: deleting the newest entries, or rewriting entries and
//! recomputing every hash without the key, makes `doctor` fail; an anchor that only lags the
//! chain (a crash between a commit and the anchor write) is a note, not a failure; a store
//! from before schema 12 is re-keyed by the migration, and a break it already had stays
//! reported. Also: a new install has a firm-wide pool, and the migration gives one to a store
//! without any.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::sync::Arc;

use common::{ADMIN, Fixture, TestServer, doctor};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};
use zhudai::store::audit::AuditEntry;

const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `<seq>:<hash>` doctor prints for the operator to keep.
fn printed_head(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with("ok    audit head: "))
        .unwrap_or_else(|| panic!("no head printed: {text}"));
    line["ok    audit head: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A server with a few audited events, stopped; its data directory.
async fn world(events: usize) -> tempfile::TempDir {
    let s = TestServer::start(Fixture::WithAdmin).await;
    for i in 0..events {
        let _ = s
            .app
            .access()
            .login(ADMIN, "wrong password", &format!("10.0.0.{i}"));
    }
    s.stop().await
}

fn entries(db: &redb::Database) -> Vec<AuditEntry> {
    let tx = db.begin_read().unwrap();
    let t = tx.open_table(AUDIT).unwrap();
    t.iter()
        .unwrap()
        .map(|r| serde_json::from_slice(&r.unwrap().1.value()[1..]).unwrap())
        .collect()
}

/// What an attacker without the key can do: rewrite entries and chain them with SHA-256 (the
/// algorithm of the unkeyed chain).
fn rehash_without_key(db: &redb::Database, edit: impl Fn(&mut AuditEntry)) {
    let all = entries(db);
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(AUDIT).unwrap();
        let mut prev = GENESIS.to_string();
        for mut e in all {
            edit(&mut e);
            e.prev_hash = prev;
            e.hash = String::new();
            let mut h = Sha256::new();
            h.update(e.prev_hash.as_bytes());
            h.update(serde_json::to_vec(&e).unwrap());
            e.hash = hex::encode(h.finalize());
            prev = e.hash.clone();
            let mut bytes = vec![1u8];
            bytes.extend(serde_json::to_vec(&e).unwrap());
            t.insert(e.seq, bytes.as_slice()).unwrap();
        }
    }
    tx.commit().unwrap();
}

#[tokio::test]
async fn deleting_the_newest_entries_fails_doctor_against_the_anchor_and_the_kept_head() {
    let data = world(4).await;
    let dir = data.path();
    let (ok, text) = doctor(dir, &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok    audit anchor: the chain ends at"),
        "{text}"
    );
    let kept = printed_head(&text);

    // Delete the two newest entries: what is left still chains correctly.
    {
        let db = redb::Database::open(dir.join("zhudai.redb")).unwrap();
        let n = entries(&db).len() as u64;
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(AUDIT).unwrap();
            t.remove(n).unwrap();
            t.remove(n - 1).unwrap();
        }
        tx.commit().unwrap();
    }
    let (ok, text) = doctor(dir, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("ok    audit chain:"),
        "the rest verifies: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL  audit anchor:")
                && l.contains("newest entries were deleted")),
        "{text}"
    );

    // Without the anchor file, the head the operator kept still shows it.
    std::fs::remove_file(dir.join("audit-head")).unwrap();
    let (ok, text) = doctor(dir, &["--audit-head", &kept]);
    assert!(!ok, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL  audit head given:")
                && l.contains("newest entries were deleted")),
        "{text}"
    );
}

#[tokio::test]
async fn rewriting_and_recomputing_every_hash_without_the_key_fails_doctor() {
    let data = world(4).await;
    let dir = data.path();
    assert!(doctor(dir, &[]).0);
    {
        let db = redb::Database::open(dir.join("zhudai.redb")).unwrap();
        rehash_without_key(&db, |e| {
            if e.source == "10.0.0.1" {
                e.source = "10.0.0.9".into();
            }
        });
    }
    // The anchor cannot tell (same length): the key does.
    std::fs::remove_file(dir.join("audit-head")).unwrap();
    let (ok, text) = doctor(dir, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "FAIL  audit chain: broken at entry 1: content does not match its keyed hash"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_anchor_that_lags_a_consistent_chain_is_a_note_not_a_failure() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let _ = s.app.access().login(ADMIN, "wrong password", "10.0.0.1");
    let data = s.stop().await;
    let dir = data.path();
    let (ok, text) = doctor(dir, &[]);
    assert!(ok, "{text}");
    let kept = printed_head(&text);
    let anchor_then = std::fs::read_to_string(dir.join("audit-head")).unwrap();
    assert_eq!(anchor_then.trim(), kept);

    // More work; then the anchor is put back as a crash right after a commit leaves it.
    let config = zhudai::config::Config::defaults().unwrap();
    let app = zhudai::open_app(dir, config, Arc::new(zhudai::service::SystemClock)).unwrap();
    for i in 0..3 {
        let _ = app
            .access()
            .login(ADMIN, "wrong password", &format!("10.0.1.{i}"));
    }
    drop(app);
    std::fs::write(dir.join("audit-head"), &anchor_then).unwrap();
    let (ok, text) = doctor(dir, &["--audit-head", &kept]);
    assert!(ok, "{text}");
    assert!(
        text.contains("note  audit anchor: behind the chain by 3 entries"),
        "{text}"
    );
    assert!(
        text.contains("note  audit head given: behind the chain by 3 entries"),
        "{text}"
    );

    // The next start brings the anchor up to the chain's head.
    let config = zhudai::config::Config::defaults().unwrap();
    let app = zhudai::open_app(dir, config, Arc::new(zhudai::service::SystemClock)).unwrap();
    let head = app.store.read(zhudai::store::audit::head).unwrap().unwrap();
    drop(app);
    assert_eq!(
        std::fs::read_to_string(dir.join("audit-head"))
            .unwrap()
            .trim(),
        head.to_string()
    );
    let (ok, text) = doctor(dir, &[]);
    assert!(
        ok && text.contains("ok    audit anchor: the chain ends at"),
        "{text}"
    );
}

/// A store as a schema-10 binary left it: the chain sealed with plain SHA-256, no pool.
async fn old_store(break_entry: Option<u64>) -> tempfile::TempDir {
    let data = world(3).await;
    let db = redb::Database::open(data.path().join("zhudai.redb")).unwrap();
    rehash_without_key(&db, |_| {});
    let tx = db.begin_write().unwrap();
    {
        if let Some(seq) = break_entry {
            let mut t = tx.open_table(AUDIT).unwrap();
            let mut bytes = t.get(seq).unwrap().unwrap().value().to_vec();
            let at = bytes.len() - 10;
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            t.insert(seq, bytes.as_slice()).unwrap();
        }
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", 10)
            .unwrap();
        let pools: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
        let mut p = tx.open_table(pools).unwrap();
        let ids: Vec<String> = p
            .iter()
            .unwrap()
            .map(|r| r.unwrap().0.value().to_string())
            .collect();
        for id in ids {
            p.remove(id.as_str()).unwrap();
        }
    }
    tx.commit().unwrap();
    drop(db);
    std::fs::remove_file(data.path().join("audit-head")).unwrap();
    data
}

#[tokio::test]
async fn migration_12_keys_an_old_chain_and_creates_the_firm_wide_pool() {
    let data = old_store(None).await;
    let dir = data.path();
    let before = {
        let db = redb::Database::open(dir.join("zhudai.redb")).unwrap();
        entries(&db).len() as u64
    };
    // Without the master key the store cannot be upgraded (nothing could verify the chain).
    assert!(matches!(
        zhudai::store::Store::open(&dir.join("zhudai.redb")),
        Err(zhudai::store::Error::AuditKeyMissing)
    ));
    let config = zhudai::config::Config::defaults().unwrap();
    let app = zhudai::open_app(dir, config, Arc::new(zhudai::service::SystemClock)).unwrap();
    let check = app.access().audit_verify().unwrap();
    assert_eq!(check.first_broken, None);
    assert_eq!(check.legacy_break, None);
    assert_eq!(check.entries, before + 1, "the chain_keyed entry");
    let pools = app.store.read(zhudai::store::pools::all).unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].name, "公司公海");
    assert_eq!(pools[0].department_id, None);
    drop(app);
    let (ok, text) = doctor(dir, &[]);
    assert!(ok, "{text}");
    let version = format!("version {}", zhudai::store::migrate::SCHEMA_VERSION);
    assert!(text.contains(&version), "{text}");
}

#[tokio::test]
async fn a_break_in_the_old_chain_stays_reported_after_keying() {
    let data = old_store(Some(2)).await;
    let dir = data.path();
    let config = zhudai::config::Config::defaults().unwrap();
    drop(zhudai::open_app(dir, config, Arc::new(zhudai::service::SystemClock)).unwrap());
    let (ok, text) = doctor(dir, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "FAIL  audit chain: the chain was already broken before it was keyed, at entry 2"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_new_install_has_a_firm_wide_pool() {
    let dir = tempfile::tempdir().unwrap();
    let config = zhudai::config::Config::defaults().unwrap();
    let app = zhudai::open_app(dir.path(), config, Arc::new(zhudai::service::SystemClock)).unwrap();
    let pools = app.store.read(zhudai::store::pools::all).unwrap();
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert_eq!(pools[0].department_id, None);
    assert!(pools[0].settings.recall_enabled);
}

/// Schema 39: a store of schema 38 has no audit filters; the upgrade builds them from the
/// log, and a filtered page and its total then come from them (`doctor` recounts the log).
#[tokio::test]
async fn migration_39_builds_the_audit_filters_from_the_log() {
    let data = world(25).await;
    let dir = data.path();
    {
        let db = redb::Database::open(dir.join("zhudai.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        let by: TableDefinition<&[u8], ()> = TableDefinition::new("audit_by");
        let counts: TableDefinition<&[u8], u64> = TableDefinition::new("audit_counts");
        assert!(tx.delete_table(by).unwrap());
        assert!(tx.delete_table(counts).unwrap());
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", 38)
            .unwrap();
        tx.commit().unwrap();
    }
    let config = zhudai::config::Config::defaults().unwrap();
    let app = zhudai::open_app(dir, config, Arc::new(zhudai::service::SystemClock)).unwrap();
    let filter = zhudai::store::audit::Filter {
        action: Some("auth.login_failed"),
        actor: Some(ADMIN),
        actor_id: None,
    };
    let (page, total) = app
        .store
        .read(|tx| zhudai::store::audit::list_where(tx, &filter, None, 10))
        .unwrap();
    assert_eq!(total, 25);
    assert_eq!(page.len(), 10);
    assert!(page.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    assert!(page.iter().all(|e| e.action == "auth.login_failed"));
    drop(app);
    let (ok, text) = doctor(dir, &[]);
    assert!(
        ok && text.contains("ok    audit filters: match the log"),
        "{text}"
    );
}
