//! `zhudai doctor` opens every customer's sealed phones and ID number under the master key and
//! checks their blind indexes: a value that does not open (a damaged record, a store from
//! another key) would fail its reveal and export, and leave the ID number's last digits out of
//! the search index; doctor must name it. An erased customer (nothing left to open) is fine.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use std::path::Path;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer, doctor};
use serde_json::json;
use zhudai::store::customers::{self, Reader, Unscoped};

/// Three customers with an ID number and an extra phone, the third one erased (its phone
/// kept as an empty sealed value); the data dir and the first two ids.
async fn world() -> (tempfile::TempDir, String, String) {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for (name, phone, extra, id_number) in [
        ("张三丰", "13800138000", "13700137000", "11010519491231002X"),
        ("李四", "13900139000", "13500135000", "110105195001010012"),
        ("王五", "13600136000", "13300133000", "110105195102020017"),
    ] {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": name, "phone": phone, "id_number": id_number,
                       "extra_phones": [extra]}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let (st, v) = admin
        .post(
            &format!("/api/v1/customers/{}/erase", ids[2]),
            json!({"request_ref": "删除请求-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let dir = s.stop().await;
    (dir, ids[0].clone(), ids[1].clone())
}

/// Gives `victim` the sealed ID number of `donor`: the ciphertext is bound to its record, so
/// it no longer opens (what a damaged or transplanted record looks like).
fn transplant_id_number(dir: &Path, victim: &str, donor: &str) {
    let store = common::open_keyed(dir, &dir.join("zhudai.redb"));
    store
        .write(|tx| {
            let read = Reader::unscoped(tx, Unscoped::Jobs);
            let before = read.any(victim)?.unwrap();
            let other = read.any(donor)?.unwrap();
            let mut after = before.clone();
            after.id_number.as_mut().unwrap().enc = other.id_number.unwrap().enc;
            customers::put(tx, Some(&before), &after)
        })
        .unwrap();
}

#[tokio::test]
async fn doctor_names_a_customer_whose_id_number_does_not_open() {
    let (dir, first, second) = world().await;
    let (ok, text) = doctor(dir.path(), &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok    sealed fields: 6 open under the key"),
        "{text}"
    );

    transplant_id_number(dir.path(), &first, &second);
    let (ok, text) = doctor(dir.path(), &[]);
    assert!(
        !ok,
        "a sealed value that does not open must fail doctor: {text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL  sealed fields"))
        .unwrap_or_else(|| panic!("no sealed-fields failure: {text}"));
    assert!(line.contains("1 of 6"), "{line}");
    assert!(line.contains(&format!("{first}.id_number")), "{line}");
    assert!(!line.contains(&second), "{line}");
}

#[tokio::test]
async fn doctor_names_a_sealed_value_whose_blind_index_does_not_match() {
    let (dir, first, second) = world().await;
    let store = common::open_keyed(dir.path(), &dir.path().join("zhudai.redb"));
    store
        .write(|tx| {
            let read = Reader::unscoped(tx, Unscoped::Jobs);
            let before = read.any(&second)?.unwrap();
            let other = read.any(&first)?.unwrap();
            let mut after = before.clone();
            after.extra_phones[0].bidx = other.phone.bidx.clone();
            customers::put(tx, Some(&before), &after)
        })
        .unwrap();
    drop(store);
    let (ok, text) = doctor(dir.path(), &[]);
    assert!(!ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL  sealed fields"))
        .unwrap_or_else(|| panic!("no sealed-fields failure: {text}"));
    assert!(
        line.contains(&format!(
            "{second}.extra_phones.0: blind index does not match"
        )),
        "{line}"
    );
}
