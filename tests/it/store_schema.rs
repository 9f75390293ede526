//! Schema versions: a store written by an older zhudai is migrated at start-up; one written by
//! a newer zhudai is refused; a store held by another process is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use redb::{ReadableDatabase, TableDefinition};
use zhudai::store::{self, Store, migrate};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const USERS_V1: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.redb");

/// Writes the schema-1 fixture exactly as zhudai's first schema laid it out (meta + users, no
/// username index). Run with `cargo test --test store_schema -- --ignored` only to recreate it.
#[test]
#[ignore]
fn write_v1_fixture() {
    let _ = std::fs::remove_file(FIXTURE);
    let db = redb::Database::create(FIXTURE).unwrap();
    let tx = db.begin_write().unwrap();
    tx.open_table(META)
        .unwrap()
        .insert("schema_version", 1)
        .unwrap();
    {
        let mut users = tx.open_table(USERS_V1).unwrap();
        for (id, name) in [
            ("01JF0000000000000000000001", "Wang.Fang"),
            ("01JF0000000000000000000002", "li"),
        ] {
            let record = serde_json::json!({
                "id": id, "username": name, "display_name": "王芳",
                "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$ZmFrZWhhc2hmYWtlaGFzaGZha2VoYXNoZmFrZWg",
                "roles": ["sales"], "status": "active",
                "created_at": "2026-01-05T02:00:00Z", "updated_at": "2026-01-05T02:00:00Z"
            });
            let mut bytes = vec![1u8];
            bytes.extend(serde_json::to_vec(&record).unwrap());
            users.insert(id, bytes.as_slice()).unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn schema_1_fixture_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zhudai.redb");
    std::fs::copy(FIXTURE, &path).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(
        migrate::stored_version(&store).unwrap(),
        Some(migrate::SCHEMA_VERSION)
    );
    let found = store
        .read(|tx| store::users::find_by_username(tx, "wang.fang"))
        .unwrap()
        .expect("migration built the username index");
    assert_eq!(found.id, "01JF0000000000000000000001");
    assert_eq!(
        found.department_id, None,
        "fields added later read as defaults"
    );
    drop(store);
    // Opening again is a no-op.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.read(store::users::count).unwrap(), 2);
}

#[test]
fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zhudai.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", 999)
            .unwrap();
        tx.commit().unwrap();
    }
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, store::Error::TooNew { found: 999, .. }));
    assert!(err.to_string().contains("newer zhudai"), "{err}");
    // And it was not touched.
    let db = redb::Database::open(&path).unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(
        tx.open_table(META)
            .unwrap()
            .get("schema_version")
            .unwrap()
            .unwrap()
            .value(),
        999
    );
}

#[test]
fn a_store_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zhudai.redb");
    let _held = Store::open(&path).unwrap();
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, store::Error::InUse(_)), "{err}");
    assert!(err.to_string().contains("already in use"));
}

#[test]
fn a_failed_use_case_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("zhudai.redb")).unwrap();
    let result: Result<(), store::Error> = store.write(|tx| {
        tx.open_table(META)?.insert("half-written", 1)?;
        Err(store::Error::Conflict(
            "the use case changed its mind".into(),
        ))
    });
    assert!(result.is_err());
    let seen = store
        .read(|tx| Ok::<_, store::Error>(tx.open_table(META)?.get("half-written")?.is_some()))
        .unwrap();
    assert!(!seen, "aborted write is invisible");
}
