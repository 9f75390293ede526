//! Probe F20: the audit page showed bare ids (a deal's ULID as its target, `officer_id`,
//! `product_id`, a payment's `recorded_by`) and filtered by operator only on the exact login
//! name. A page now carries `names` for the ids on it — users for every reader, customers and
//! deals only where the reader's own scope reaches them — and `actor_id` filters by person.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

/// Every string on a page's entries (targets, actor ids, detail values, nested).
fn strings_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings_of(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_audit_page_names_the_ids_on_it_within_the_readers_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let xiao_id = common::add_user(&s, "xiao", &["sales"], None);
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{xiao_id}"),
            Some(json!({"display_name": "肖晓"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // An auditor: reads the log and customers, but only their own (none).
    let (st, r) = admin
        .post(
            "/api/v1/roles",
            json!({"key": "auditor", "name": "审计员", "capabilities": ["audit.view",
                   "customer.read", "deal.read"], "scope": "self", "field_privileges": [],
                   "daily_reveal_quota": 0}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    common::add_user(&s, "shen", &["auditor"], None);
    let (st, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    let product_id = p["id"].as_str().unwrap().to_string();

    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let (st, c) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800000071"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let customer_id = c["id"].as_str().unwrap().to_string();
    let (st, d) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": customer_id, "product_id": product_id,
                   "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let deal_id = d["id"].as_str().unwrap().to_string();

    // The administrator (whole firm): the deal, its customer, product and officer by name.
    let (st, page) = admin.get("/api/v1/audit?action=deal.created").await;
    assert_eq!(st, 200, "{page}");
    let names = &page["names"];
    assert_eq!(names[&xiao_id], "肖晓", "{page}");
    assert_eq!(names[&customer_id], "钱七", "{page}");
    assert_eq!(names[&product_id], "工薪贷", "{page}");
    let deal = names[&deal_id].as_str().unwrap_or_default();
    assert!(
        deal.contains("钱七") && deal.contains("工薪贷"),
        "the deal reads as customer and product: {page}"
    );

    // The auditor: the same entry, the colleague named, the customer and deal kept as ids.
    let shen = s.login("shen", TEAM_PASSWORD).await;
    let (st, page) = shen.get("/api/v1/audit?action=deal.created").await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["items"][0]["target"], json!(deal_id), "{page}");
    let names = &page["names"];
    assert_eq!(names[&xiao_id], "肖晓", "{page}");
    assert!(names.get(&customer_id).is_none(), "{page}");
    assert!(names.get(&deal_id).is_none(), "{page}");
    assert!(!page.to_string().contains("钱七"), "{page}");
    assert!(page["customer_names"].get(&customer_id).is_none(), "{page}");

    // Names only for the ids on the page: one customer.created entry names no deal or product.
    let (st, page) = admin
        .get("/api/v1/audit?action=customer.created&limit=1")
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["names"][&customer_id], "钱七", "{page}");
    let mut on_page = Vec::new();
    strings_of(&page["items"], &mut on_page);
    for id in page["names"].as_object().unwrap().keys() {
        assert!(on_page.contains(id), "{id} is not on the page: {page}");
    }
    assert!(page["names"].get(&deal_id).is_none(), "{page}");
    assert!(page["names"].get(&product_id).is_none(), "{page}");
    s.stop().await;
}

/// The operator filter by person: `actor_id` (the page offers the colleagues by name); `actor`
/// (the login name) still works.
#[tokio::test]
async fn the_audit_log_filters_by_the_acting_person() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let xiao_id = common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let (st, c) = xiao
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800000072"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, page) = admin
        .get(&format!("/api/v1/audit?actor_id={xiao_id}"))
        .await;
    assert_eq!(st, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(items.len() >= 2, "xiao's login and customer: {page}");
    assert!(
        items.iter().all(|e| e["actor_id"] == json!(xiao_id)),
        "{page}"
    );
    assert_eq!(page["total"], json!(items.len()), "{page}");
    let (st, by_name) = admin.get("/api/v1/audit?actor=xiao").await;
    assert_eq!(st, 200, "{by_name}");
    assert_eq!(by_name["total"], page["total"], "{by_name}");
    s.stop().await;
}
