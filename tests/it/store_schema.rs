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

/// `zhudai upgrade-check DIR` (the real binary) on a data directory holding the schema-1
/// fixture: every step with its time, the from/to versions, the result; the original store
/// file is left exactly as it was.
#[test]
fn upgrade_check_reports_the_migrations_of_a_schema_1_copy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(FIXTURE, data.join("zhudai.redb")).unwrap();
    zhudai::datadir::prepare(&zhudai::datadir::Layout::new(&data)).unwrap();
    let before = std::fs::read(data.join("zhudai.redb")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .arg("upgrade-check")
        .arg(&data)
        .arg("--work-dir")
        .arg(work.path())
        .env_remove("ZHUDAI_DATA")
        .env_remove("ZHUDAI_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for v in 1..migrate::SCHEMA_VERSION {
        assert!(
            stdout.contains(&format!("migration {v} → {}: ", v + 1)),
            "step {v} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains(&format!(
        "migrated from schema 1 to {}",
        migrate::SCHEMA_VERSION
    )));
    assert!(stdout.contains("result: ok — 2 user(s)"), "{stdout}");
    assert_eq!(std::fs::read(data.join("zhudai.redb")).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "the copy is removed"
    );
}

/// Schema 29: products written with the older field names and the nested `fees` object (every
/// release before it) read back with the names of docs/api.md, the fee terms intact, in the
/// current record and in the version history.
#[test]
fn products_of_schema_28_are_rewritten_with_the_api_names() {
    const PRODUCTS: TableDefinition<&str, &[u8]> = TableDefinition::new("products");
    const VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("product_versions");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zhudai.redb");
    drop(Store::open(&path).unwrap());
    let legacy = serde_json::json!({
        "id": "01JP0000000000000000000001", "name": "工薪贷", "lender": "某银行",
        "category": "credit", "amount_min_fen": 1_000_000, "amount_max_fen": 30_000_000,
        "term_min_months": 12, "term_max_months": 36, "rate_min_bp": 600, "rate_max_bp": 1200,
        "methods": ["annuity"],
        "requirements": {"age_min": 22, "age_max": 55, "property_required": true,
                         "car_required": false, "min_licence_age_months": 24},
        "documents": ["身份证"],
        "fees": {"service_fee": {"kind": "rate", "bp": 300}, "lender_rebate_bp": 100},
        "active": true, "notes": null, "version": 1,
        "created_at": "2026-11-01T02:00:00Z", "updated_at": "2026-11-01T02:00:00Z",
        "updated_by": "01JF0000000000000000000001"
    });
    let mut bytes = vec![1u8];
    bytes.extend(serde_json::to_vec(&legacy).unwrap());
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert("schema_version", 28)
            .unwrap();
        tx.open_table(PRODUCTS)
            .unwrap()
            .insert("01JP0000000000000000000001", bytes.as_slice())
            .unwrap();
        tx.open_table(VERSIONS)
            .unwrap()
            .insert("01JP0000000000000000000001/00000001", bytes.as_slice())
            .unwrap();
        tx.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let p = store
        .read(|tx| store::products::get(tx, "01JP0000000000000000000001"))
        .unwrap()
        .unwrap();
    assert_eq!(p.terms.amount_min_fen, 1_000_000);
    assert_eq!(p.terms.requirements.age_min, Some(22));
    assert!(p.terms.requirements.property_required);
    assert_eq!(p.terms.requirements.min_licence_age_months, Some(24));
    assert_eq!(
        p.terms.fees.service_fee,
        Some(zhudai::domain::product::ServiceFee::Rate { bp: 300 })
    );
    assert_eq!(p.terms.fees.lender_rebate_bp, Some(100));
    let stored = store
        .read(|tx| {
            let t = tx.open_table(PRODUCTS)?;
            let v = t
                .get("01JP0000000000000000000001")?
                .unwrap()
                .value()
                .to_vec();
            Ok::<_, store::Error>(v)
        })
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&stored[1..]).unwrap();
    assert_eq!(json["min_amount_fen"], 1_000_000, "{json}");
    assert_eq!(
        json["fee"],
        serde_json::json!({"kind": "rate", "rate_bp": 300})
    );
    assert_eq!(json["rebate_bp"], 100);
    assert_eq!(json["requirements"]["min_age"], 22);
    assert!(json.get("fees").is_none() && json.get("amount_min_fen").is_none());
    let versions = store
        .read(|tx| store::products::versions(tx, "01JP0000000000000000000001"))
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].terms.fees.lender_rebate_bp, Some(100));
}
