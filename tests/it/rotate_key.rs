//! `zhudai doctor --rotate-key`: every sensitive value re-encrypted and re-indexed under a new
//! master key; reveals and duplicate checks keep working; reruns are harmless; the server
//! refuses to start while a rotation is unfinished.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_zhudai");

#[tokio::test]
async fn rotation_reencrypts_everything_and_lookups_still_work() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, c) = admin
        .post("/api/v1/customers", json!({"name": "周八", "phone": "13822223333", "id_number": "11010519491231002X", "extra_phones": ["13922223333"]}))
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    // A scan in the blob store: its key is wrapped by the master key and must follow it.
    let (_, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    let (_, d) = admin
        .post(
            "/api/v1/deals",
            json!({"customer_id": id, "product_id": p["id"], "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    let scan = b"%PDF-1.7 a scanned property certificate".to_vec();
    let deal = d["id"].as_str().unwrap().to_string();
    let blob = {
        let staged = {
            let mut w = s.app.blobs.writer().unwrap();
            w.write(&scan).unwrap();
            w.finish().unwrap()
        };
        let token = s
            .app
            .access()
            .login(ADMIN, ADMIN_PASSWORD, "t")
            .unwrap()
            .token;
        let caller = s.app.access().authenticate_session(&token).unwrap();
        s.app
            .documents()
            .attach(&caller, &deal, "i1", staged, None, "test")
            .unwrap()
            .blob
    };
    let before = s
        .app
        .store
        .read(|tx| {
            zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance,
            )
            .any(&id)
        })
        .unwrap()
        .unwrap();
    let data = s.stop().await;
    let dir = data.path();
    let old_key = std::fs::read(dir.join("keys/master.key")).unwrap();

    // An unfinished rotation blocks the server.
    std::fs::write(dir.join("keys/master.next.key"), "").unwrap();
    let blocked = zhudai::open_app(
        dir,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::SystemClock),
    );
    assert!(
        blocked
            .err()
            .unwrap()
            .to_string()
            .contains("rotation is in progress")
    );
    std::fs::remove_file(dir.join("keys/master.next.key")).unwrap();

    let out = std::process::Command::new(BIN)
        .args(["--data", dir.to_str().unwrap(), "doctor", "--rotate-key"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("rotated: 1 records"), "{text}");
    assert_ne!(std::fs::read(dir.join("keys/master.key")).unwrap(), old_key);
    assert!(!dir.join("keys/master.next.key").exists());
    let retired: Vec<_> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("master.key.retired-")
        })
        .collect();
    assert_eq!(retired.len(), 1);

    // Doctor is happy, and a second rotation is a new one that also completes.
    let out = std::process::Command::new(BIN)
        .args(["--data", dir.to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let app = zhudai::open_app(
        dir,
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    let after = app
        .store
        .read(|tx| {
            zhudai::store::customers::Reader::unscoped(
                tx,
                zhudai::store::customers::Unscoped::Maintenance,
            )
            .any(&id)
        })
        .unwrap()
        .unwrap();
    let meta = app
        .store
        .read(|tx| zhudai::store::blobs::get(tx, &blob))
        .unwrap()
        .unwrap();
    assert_eq!(
        app.blobs
            .open(&blob, meta.size, &meta.key)
            .unwrap()
            .read_all()
            .unwrap(),
        scan,
        "the blob reads under the new key"
    );
    assert_ne!(after.phone.enc, before.phone.enc);
    assert_ne!(
        after.phone.bidx, before.phone.bidx,
        "blind index recomputed under the new key"
    );
    // The lead-check index too (schema 24): the new one is found, the old one is gone.
    assert_ne!(after.phone.lead, before.phone.lead);
    let found = |lead: &str| {
        app.store
            .read(|tx| zhudai::store::leads::exists(tx, lead))
            .unwrap()
    };
    assert!(found(&app.fields.lead_index("13822223333")));
    assert!(!found(&before.phone.lead));
    assert_eq!(
        app.fields.decrypt(&id, "phone", &after.phone.enc).unwrap(),
        "13822223333"
    );
    assert_eq!(
        app.fields
            .decrypt(&id, "extra_phones.0", &after.extra_phones[0].enc)
            .unwrap(),
        "13922223333"
    );
    assert_eq!(
        app.fields
            .decrypt(&id, "id_number", &after.id_number.as_ref().unwrap().enc)
            .unwrap(),
        "11010519491231002X"
    );
    let token = app
        .access()
        .login(ADMIN, ADMIN_PASSWORD, "t")
        .unwrap()
        .token;
    let caller = app.access().authenticate_session(&token).unwrap();
    let dup = app
        .customers()
        .check_duplicate(
            &caller,
            &zhudai::service::customers::DuplicateQuery {
                phone: Some("13922223333".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        dup.exists,
        "the secondary index follows the new blind index"
    );
    assert_eq!(
        app.customers()
            .unmask(
                &caller,
                &id,
                zhudai::service::customers::RevealField::Phone,
                "t"
            )
            .unwrap()
            .value,
        "13822223333"
    );

    // Rerunning the re-encryption with the same new key changes nothing (resume safety).
    let next = zhudai::crypto::keyfile::load(&dir.join("keys/master.key")).unwrap();
    let same = zhudai::crypto::field::FieldCipher::new(&next);
    assert_eq!(
        app.platform().rotate_fields(&same, &mut |_, _| {}).unwrap(),
        0
    );
}

#[tokio::test]
async fn a_missing_or_foreign_key_is_refused_not_replaced() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let dir = data.path();
    let key = dir.join("keys/master.key");
    let open = || {
        zhudai::open_app(
            dir,
            zhudai::config::Config::defaults().unwrap(),
            std::sync::Arc::new(zhudai::service::SystemClock),
        )
        .map(|_| ())
    };
    let original = std::fs::read(&key).unwrap();

    std::fs::remove_file(&key).unwrap();
    let err = open().unwrap_err().to_string();
    assert!(err.contains("is missing but"), "{err}");
    assert!(!key.exists(), "no new key was left behind");

    // Another installation's key.
    let other = tempfile::tempdir().unwrap();
    zhudai::crypto::keyfile::load_or_create(&other.path().join("k")).unwrap();
    std::fs::copy(other.path().join("k"), &key).unwrap();
    let err = open().unwrap_err().to_string();
    assert!(
        err.contains("not the key this data was written with"),
        "{err}"
    );

    std::fs::write(&key, original).unwrap();
    open().unwrap();
}
