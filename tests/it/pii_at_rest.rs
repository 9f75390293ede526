//! Sensitive fields never sit in the store in plaintext: they are encrypted per record, found
//! through a keyed blind index, and shown masked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use serde_json::json;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn phone_numbers_are_encrypted_in_the_store_file() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, u) = admin
        .post("/api/v1/users", json!({"username": "wu", "display_name": "吴", "roles": ["sales"], "password": "a good long pass", "phone": "+86 138-0013-8000"}))
        .await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(u["phone"], "138****8000", "normalised, then masked");
    let (st, e) = admin
        .post("/api/v1/users", json!({"username": "zheng", "display_name": "郑", "roles": ["sales"], "password": "a good long pass", "phone": "12345"}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("phone"))
    );
    let id = u["id"].as_str().unwrap();
    let (st, u2) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"phone": "13900139000"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), u2["phone"].as_str()),
        (200, Some("139****9000"))
    );

    // The encrypted value decrypts for this record only; the blind index finds the number.
    let user = s
        .app
        .store
        .read(|tx| zhudai::store::users::find_by_username(tx, "wu"))
        .unwrap()
        .unwrap();
    let enc = user.phone_enc.clone().unwrap();
    assert_eq!(
        s.app.fields.decrypt(&user.id, "phone", &enc).unwrap(),
        "13900139000"
    );
    assert_eq!(
        user.phone_bidx.as_deref(),
        Some(
            s.app
                .fields
                .blind_index(zhudai::crypto::field::Kind::Phone, "13900139000")
                .as_str()
        )
    );

    let data = s.stop().await;
    let bytes = std::fs::read(data.path().join("zhudai.redb")).unwrap();
    for plain in ["13800138000", "13900139000", "0013-8000", "138-0013"] {
        assert!(!contains(&bytes, plain), "{plain} found in the store file");
    }
    assert!(
        contains(&bytes, "139****9000"),
        "the test can see masked values, so it would see plaintext"
    );
}
