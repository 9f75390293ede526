//! Issue 18.3, the thin HTTP path: what the request edge and the detail read do faster must
//! answer exactly as before.

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use serde_json::json;

/// The detail read builds its view by moving the record's fields (`Viewer::view_owned`); it
/// must equal the view built from a borrowed record (every other use case), for a caller
/// who sees birth dates and one who does not, over records with every optional field set.
#[test]
fn owned_and_borrowed_views_agree() {
    let dir = tempfile::tempdir().unwrap();
    let app = zhudai::open_app(
        dir.path(),
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch())),
    )
    .unwrap();
    let setup = app.access().prepare_setup().unwrap().unwrap();
    app.access()
        .complete_setup(&setup, ADMIN, "管理员", ADMIN_PASSWORD, "test")
        .unwrap();
    app.platform().demo_staff(3, 7).unwrap();
    let admin = app.access().caller_for(ADMIN).unwrap();
    let mut synth = zhudai::synth::Generator::new(18, app.now());
    let mut checked = 0;
    for i in 0..200 {
        let mut c = app
            .platform()
            .demo_record(&synth.customer(), Some(admin.user.id.clone()), "test")
            .unwrap();
        // Fields the generator may leave empty, set on some records.
        if i % 3 == 0 {
            c.owner_id = None;
            c.pool_id = Some("pool-1".into());
            c.pool_reason = Some("超时未跟进".into());
            c.previous_owner_id = Some(admin.user.id.clone());
            c.locked = true;
            c.notes = Some("备注".into());
            c.tags = vec!["a".into(), "b".into()];
            c.custom.insert("k".into(), json!({"x": [1, 2]}));
        }
        if i % 5 == 0 {
            // A pool reason without a pool is not shown.
            c.pool_reason = Some("stale".into());
        }
        for viewer in [app.viewer(&admin), {
            let mut sales = admin.clone();
            sales.access.field_privileges.clear();
            app.viewer(&sales)
        }] {
            let borrowed = serde_json::to_value(viewer.view(&c).unwrap()).unwrap();
            let owned = serde_json::to_value(viewer.view_owned(c.clone()).unwrap()).unwrap();
            assert_eq!(borrowed, owned, "record {i}");
            checked += 1;
        }
    }
    assert_eq!(checked, 400);
}

/// The edge keeps a client's request id, answers refusals of the inner layers as JSON with
/// the security headers, and counts nothing twice.
#[tokio::test]
async fn the_edge_keeps_ids_headers_and_json_refusals() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(s.url("/api/v1/health"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "client-chosen-id");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    // Method not allowed comes from the router as plain text: JSON with the headers here.
    let resp = client.delete(s.url("/api/v1/health")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let h = resp.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-request-id"].len(), 26);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
    // Web pages get the security headers but not the API's no-store.
    let resp = client.get(s.url("/")).send().await.unwrap();
    assert!(resp.headers().contains_key("content-security-policy"));
    assert!(
        !resp.headers().contains_key("cache-control")
            || resp.headers()["cache-control"] != "no-store"
    );
}
