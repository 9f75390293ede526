//! Issue 18.3, the thin HTTP path: what the request edge and the detail read do faster must
//! answer exactly as before.

use crate::common;

use common::{ADMIN, Fixture, TestServer};
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
    common::set_up_admin(&app);
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

/// The detail answer of a fully filled customer, byte for byte, for a reader who sees birth
/// dates (the administrator) and one who does not (the owning salesperson), and of a customer
/// waiting in a pool: what the detail read's own decode and serialisation must keep exactly.
/// Random ids (customer, users) are replaced by placeholders before comparing.
#[tokio::test]
async fn detail_json_is_pinned() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let sales_id = common::add_user(&s, "xiao", &["sales"], None);
    let admin = s.app.access().caller_for(ADMIN).unwrap();
    let mut synth = zhudai::synth::Generator::new(7, s.app.now());
    let t = common::epoch() + chrono::Duration::milliseconds(1_234);
    let mut c = s
        .app
        .platform()
        .demo_record(&synth.customer(), Some(sales_id.clone()), "test")
        .unwrap();
    let extra = s
        .app
        .platform()
        .demo_record(&synth.customer(), None, "test")
        .unwrap();
    c.extra_phones.extend(extra.extra_phones.clone());
    c.extra_phones.push(extra.phone.clone());
    c.company = Some("深圳某某科技有限公司".into());
    c.tags = vec!["高意向".into(), "回访\"引号\"".into()];
    c.custom.insert("wx".into(), json!("wx_123"));
    c.custom.insert(
        "nested".into(),
        json!({"b": [1, 2.5, "二"], "a": null, "c": true}),
    );
    c.custom.insert("amount".into(), json!(-12_345_678_901i64));
    c.consent = Some(zhudai::domain::customer::Consent {
        basis: "consent".into(),
        notice_version: Some("v3".into()),
        channel: Some("web".into()),
        at: t,
    });
    c.collaborators = vec![admin.user.id.clone()];
    c.last_followup_at = Some(t);
    c.next_followup_at = Some(t + chrono::Duration::days(3));
    c.held_since = Some(t);
    c.locked = true;
    c.duplicate_flag = true;
    c.notes = Some("第一行\n第二行\t<b>&</b>".into());
    c.entered_at = Some(t - chrono::Duration::days(400));
    c.pool_reason = Some("not shown: it has an owner".into());
    let mut pooled = extra;
    pooled.pool_id = Some("pool-x".into());
    pooled.pool_reason = Some("超时未跟进".into());
    pooled.previous_owner_id = Some(sales_id.clone());
    pooled.pool_entered_at = Some(t);
    pooled.id_number = None;
    pooled.gender = None;
    pooled.birth_year = None;
    s.app
        .store
        .write(|tx| {
            zhudai::store::customers::put(tx, None, &c)?;
            zhudai::store::customers::put(tx, None, &pooled)?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let boss = s.login(ADMIN, common::ADMIN_PASSWORD).await;
    let xiao = s.login("xiao", common::TEAM_PASSWORD).await;
    let mut got = Vec::new();
    for (client, id) in [(&boss, &c.id), (&xiao, &c.id), (&boss, &pooled.id)] {
        let resp = client
            .http
            .get(s.url(&format!("/api/v1/customers/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        got.push(
            resp.text()
                .await
                .unwrap()
                .replace(&c.id, "<customer>")
                .replace(&pooled.id, "<pooled>")
                .replace(&sales_id, "<sales>")
                .replace(&admin.user.id, "<admin>"),
        );
    }
    let want = [PINNED_ADMIN, PINNED_SALES, PINNED_POOLED];
    for (i, (got, want)) in got.iter().zip(want).enumerate() {
        if got != want {
            eprintln!("PINNED answer {i}:\n{got}");
        }
    }
    assert_eq!(got, want);
}

const PINNED_ADMIN: &str = r##"{"id":"<customer>","name":"崔贞瑾","phone":"174****2368","extra_phones":["134****8368"],"id_number":"440606********2422","gender":"female","age":34,"birth_date":"1992-09-09","city":"佛山","company":"深圳某某科技有限公司","address":"顺德区祖庙路5号25栋4单元3002","channel":"地推","stage":"contacted","grade":"C","stars":2,"intent":"low","tags":["高意向","回访\"引号\""],"owner_id":"<sales>","pool_id":null,"demand":{"amount_fen":6000000,"term_months":36,"purpose":"经营周转"},"profile":{"occupation":"freelancer","monthly_income_fen":1290000,"social_security_months":0,"provident_fund_months":0,"provident_fund_base_fen":0,"has_property":false,"property_value_fen":null,"property_mortgaged":null,"has_car":true,"car_value_fen":null,"credit":{"overdue_count_2y":0,"current_overdue":null,"inquiries_1m":null,"inquiries_3m":0,"inquiries_6m":3,"existing_debt_fen":23000000,"card_utilization_pct":null},"business":{"licence_age_months":null,"annual_tax_fen":null,"tax_rating":null,"annual_turnover_fen":null}},"custom":{"amount":-12345678901,"nested":{"a":null,"b":[1,2.5,"二"],"c":true},"wx":"wx_123"},"consent":{"basis":"consent","notice_version":"v3","channel":"web","at":"2026-11-20T02:00:01.234Z"},"duplicate_flag":true,"last_followup_at":"2026-11-20T02:00:01.234Z","next_followup_at":"2026-11-23T02:00:01.234Z","created_at":"2026-10-31T08:55:12Z","updated_at":"2026-10-31T08:55:12Z","held_since":"2026-11-20T02:00:01.234Z","locked":true,"pool_entered_at":null,"previous_owner_id":null,"pool_reason":null,"notes":"第一行\n第二行\t<b>&</b>","entered_at":"2025-10-16T02:00:01.234Z"}"##;
const PINNED_SALES: &str = r##"{"id":"<customer>","name":"崔贞瑾","phone":"174****2368","extra_phones":["134****8368"],"id_number":"440606********2422","gender":"female","age":34,"city":"佛山","company":"深圳某某科技有限公司","address":"顺德区祖庙路5号25栋4单元3002","channel":"地推","stage":"contacted","grade":"C","stars":2,"intent":"low","tags":["高意向","回访\"引号\""],"owner_id":"<sales>","pool_id":null,"demand":{"amount_fen":6000000,"term_months":36,"purpose":"经营周转"},"profile":{"occupation":"freelancer","monthly_income_fen":1290000,"social_security_months":0,"provident_fund_months":0,"provident_fund_base_fen":0,"has_property":false,"property_value_fen":null,"property_mortgaged":null,"has_car":true,"car_value_fen":null,"credit":{"overdue_count_2y":0,"current_overdue":null,"inquiries_1m":null,"inquiries_3m":0,"inquiries_6m":3,"existing_debt_fen":23000000,"card_utilization_pct":null},"business":{"licence_age_months":null,"annual_tax_fen":null,"tax_rating":null,"annual_turnover_fen":null}},"custom":{"amount":-12345678901,"nested":{"a":null,"b":[1,2.5,"二"],"c":true},"wx":"wx_123"},"consent":{"basis":"consent","notice_version":"v3","channel":"web","at":"2026-11-20T02:00:01.234Z"},"duplicate_flag":true,"last_followup_at":"2026-11-20T02:00:01.234Z","next_followup_at":"2026-11-23T02:00:01.234Z","created_at":"2026-10-31T08:55:12Z","updated_at":"2026-10-31T08:55:12Z","held_since":"2026-11-20T02:00:01.234Z","locked":true,"pool_entered_at":null,"previous_owner_id":null,"pool_reason":null,"notes":"第一行\n第二行\t<b>&</b>","entered_at":"2025-10-16T02:00:01.234Z"}"##;
const PINNED_POOLED: &str = r##"{"id":"<pooled>","name":"江浩克","phone":"134****8368","extra_phones":[],"id_number":null,"gender":null,"age":null,"city":"广州","company":null,"address":"白云区环市东路266号18栋3单元3004","channel":"老客户转介绍","stage":"lead","grade":"A","stars":3,"intent":"low","tags":["有房","公积金","社保","征信良好","负债高"],"owner_id":null,"pool_id":"pool-x","demand":{"amount_fen":70000000,"term_months":60,"purpose":"资金周转"},"profile":{"occupation":"employee","monthly_income_fen":1810000,"social_security_months":145,"provident_fund_months":63,"provident_fund_base_fen":1104000,"has_property":true,"property_value_fen":524000000,"property_mortgaged":null,"has_car":false,"car_value_fen":null,"credit":{"overdue_count_2y":0,"current_overdue":null,"inquiries_1m":null,"inquiries_3m":1,"inquiries_6m":1,"existing_debt_fen":131000000,"card_utilization_pct":null},"business":{"licence_age_months":null,"annual_tax_fen":null,"tax_rating":null,"annual_turnover_fen":null}},"custom":{},"consent":null,"duplicate_flag":false,"last_followup_at":null,"next_followup_at":null,"created_at":"2026-10-15T07:48:44Z","updated_at":"2026-10-15T07:48:44Z","held_since":null,"locked":false,"pool_entered_at":"2026-11-20T02:00:01.234Z","previous_owner_id":"<sales>","pool_reason":"超时未跟进","notes":null,"entered_at":null}"##;
