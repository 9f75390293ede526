//! The reports page (GET /reports/{name}): per-user activity that reconciles with the 工作台
//! trends for the same scope and period, scoped rows (a salesperson their own, a manager their
//! department), the department filter, pool claims, and the audited, formula-safe XLSX export.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

async fn lead(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn follow(c: &Client, id: &str, times: usize) {
    for _ in 0..times {
        let (st, v) = c
            .post(
                &format!("/api/v1/customers/{id}/followups"),
                json!({"kind": "call", "content": "电话沟通"}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
}

fn sum(rows: &Value, field: &str) -> u64 {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_u64().unwrap_or(0))
        .sum()
}

/// (name, follow-ups, held) per row, in the report's order.
fn rows(t: &Value) -> Vec<(String, u64, u64)> {
    let mut v: Vec<(String, u64, u64)> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["display_name"].as_str().unwrap().to_string(),
                r["followups"].as_u64().unwrap(),
                r["customers_held"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The activity report for the trends' 30 days reconciles with the trends: the sum of the
/// per-user rows is the series' total and the report's total. Returns that total.
async fn reconciles(c: &Client) -> u64 {
    let (st, t) = c.get("/api/v1/reports/trends").await;
    assert_eq!(st, 200, "{t}");
    let trend_total = sum(&t["series"], "followups");
    let path = format!(
        "/api/v1/reports/activity?from={}&to={}",
        t["from"].as_str().unwrap(),
        t["to"].as_str().unwrap()
    );
    let (st, r) = c.get(&path).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(sum(&r["rows"], "followups"), trend_total, "{r} vs {t}");
    assert_eq!(r["totals"]["followups"].as_u64(), Some(trend_total), "{r}");
    trend_total
}

#[tokio::test]
async fn activity_reconciles_with_the_trends_and_is_scoped() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    common::add_user(&s, "xiao", &["sales"], Some(&east));
    common::add_user(&s, "da", &["sales"], Some(&east));
    common::add_user(&s, "far", &["sales"], Some(&west));
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    let far = s.login("far", TEAM_PASSWORD).await;

    let a = lead(&xiao, "甲", "13800000001").await;
    let b = lead(&xiao, "乙", "13800000002").await;
    follow(&xiao, &a, 3).await;
    let c = lead(&da, "丙", "13800000003").await;
    follow(&da, &c, 1).await;
    let d = lead(&far, "丁", "13800000004").await;
    follow(&far, &d, 2).await;
    // Two days later xiao follows up once more.
    s.clock.advance(chrono::Duration::days(2));
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    follow(&xiao, &b, 1).await;

    // A salesperson: their own row only.
    assert_eq!(reconciles(&xiao).await, 4);
    let (_, r) = xiao.get("/api/v1/reports/activity").await;
    assert_eq!(rows(&r), [("xiao".to_string(), 4, 2)], "{r}");

    // The manager: their department, not far in 西区.
    let boss = s.login("boss", TEAM_PASSWORD).await;
    assert_eq!(reconciles(&boss).await, 5);
    let (_, r) = boss.get("/api/v1/reports/activity").await;
    assert_eq!(
        rows(&r),
        [
            ("boss".to_string(), 0, 0),
            ("da".to_string(), 1, 1),
            ("xiao".to_string(), 4, 2)
        ],
        "{r}"
    );
    // Another department through the filter is still only what the manager sees: nothing.
    let (_, r) = boss
        .get(&format!("/api/v1/reports/activity?department={west}"))
        .await;
    assert_eq!(r["rows"], json!([]), "{r}");

    // The admin: everyone; the department filter narrows to it; the parts add up to the whole.
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(reconciles(&admin).await, 7);
    let (_, e) = admin
        .get(&format!("/api/v1/reports/activity?department={east}"))
        .await;
    let (_, w) = admin
        .get(&format!("/api/v1/reports/activity?department={west}"))
        .await;
    assert_eq!(rows(&w), [("far".to_string(), 2, 1)], "{w}");
    assert_eq!(
        e["totals"]["followups"].as_u64().unwrap() + w["totals"]["followups"].as_u64().unwrap(),
        7
    );

    // A period before the follow-ups counts none; a bad period and an unknown report refuse.
    let (_, r) = admin
        .get("/api/v1/reports/activity?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(r["totals"]["followups"], 0, "{r}");
    let (st, e) = admin
        .get("/api/v1/reports/activity?from=2026-02-01&to=2026-01-01")
        .await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("to")));
    let (st, _) = admin.get("/api/v1/reports/nope").await;
    assert_eq!(st.as_u16(), 404);
    s.stop().await;
}

#[tokio::test]
async fn pools_count_claims_per_user_and_pool_in_the_period() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    common::add_user(&s, "xiao", &["sales"], Some(&east));
    common::add_user(&s, "da", &["sales"], Some(&east));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "总公海", "department_id": null, "settings": {}}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    let a = lead(&xiao, "甲", "13800000001").await;
    let (st, e) = xiao
        .post(
            &format!("/api/v1/customers/{a}/release"),
            json!({"reason": "客户暂无需求"}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    let (st, e) = da
        .post(&format!("/api/v1/customers/{a}/claim"), json!({}))
        .await;
    assert_eq!(st, 200, "{e}");

    let boss = s.login("boss", TEAM_PASSWORD).await;
    let (st, r) = boss.get("/api/v1/reports/pools").await;
    assert_eq!(st, 200, "{r}");
    let got: Vec<(&str, u64)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["display_name"].as_str().unwrap(),
                x["claimed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("da", 1)], "{r}");
    assert_eq!(r["rows"][0]["pool_name"], "总公海");
    assert_eq!(r["totals"]["claimed"], 1);
    // xiao sees none of da's claims.
    let (_, r) = xiao.get("/api/v1/reports/pools").await;
    assert_eq!(r["rows"], json!([]), "{r}");

    // Recalls: the sweep's count is the report's total, per former owner.
    lead(&xiao, "乙", "13800000002").await;
    s.clock.advance(chrono::Duration::days(40));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, sw) = admin
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(st, 200, "{sw}");
    let recalled = sw["recalled"].as_u64().unwrap();
    assert!(recalled >= 2, "xiao's and da's customers go back: {sw}");
    let (_, r) = admin
        .get("/api/v1/reports/pools?from=2020-01-01&to=2020-12-31")
        .await;
    assert_eq!(r["rows"], json!([]), "another period: {r}");
    let (_, r) = admin.get("/api/v1/reports/trends").await;
    let to = r["to"].as_str().unwrap().to_string();
    let (_, r) = admin
        .get(&format!("/api/v1/reports/pools?from={to}&to={to}"))
        .await;
    assert_eq!(
        r["totals"]["recalled"].as_u64(),
        Some(recalled),
        "{r} vs {sw}"
    );
    assert_eq!(r["totals"]["claimed"], 0, "the claim was 40 days ago: {r}");
    let xiao_recalled: u64 = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["display_name"] == "xiao")
        .map(|x| x["recalled"].as_u64().unwrap())
        .sum();
    assert_eq!(xiao_recalled, 1, "{r}");
    s.stop().await;
}

#[tokio::test]
async fn a_report_exports_as_audited_formula_safe_xlsx() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = lead(&admin, "甲", "13800000001").await;
    follow(&admin, &id, 2).await;
    let r = admin
        .http
        .get(format!(
            "{}/api/v1/reports/activity?format=xlsx",
            admin.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = r.bytes().await.unwrap();
    assert_eq!(&body[..2], b"PK", "an XLSX (zip) file");

    let r = admin
        .http
        .get(format!(
            "{}/api/v1/reports/funnel?format=xlsx&kind=deal",
            admin.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (st, e) = admin.get("/api/v1/reports/activity?format=pdf").await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("format")));

    let (_, audit) = admin.get("/api/v1/audit?action=report.exported").await;
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{audit}");
    let reports: Vec<&str> = items
        .iter()
        .map(|i| i["detail"]["report"].as_str().unwrap())
        .collect();
    assert!(reports.contains(&"activity") && reports.contains(&"funnel"));
    s.stop().await;
}

#[tokio::test]
async fn the_funnel_report_is_the_funnel_as_a_table() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    lead(&admin, "甲", "13800000001").await;
    let (_, f) = admin.get("/api/v1/funnels/customers").await;
    let (st, r) = admin.get("/api/v1/reports/funnel").await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["rows"][0]["stage"], "lead");
    assert_eq!(r["rows"][0]["reached"], f["stages"][0]["reached"]);
    assert_eq!(r["rows"][0]["reached"], 1);
    let (st, e) = admin.get("/api/v1/reports/funnel?kind=x").await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("kind")));
    s.stop().await;
}

async fn release(c: &Client, id: &str) {
    let (st, e) = c
        .post(
            &format!("/api/v1/customers/{id}/release"),
            json!({"reason": "客户暂无需求"}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
}

async fn claim(c: &Client, id: &str) {
    let (st, e) = c
        .post(&format!("/api/v1/customers/{id}/claim"), json!({}))
        .await;
    assert_eq!(st, 200, "{e}");
}

/// A deal of `customer` taken to 签约 (the admin's audited override of the contract).
async fn sign(admin: &Client, product: &str, customer: &str) -> String {
    let (st, d) = admin
        .post(
            "/api/v1/deals",
            json!({"customer_id": customer, "product_id": product,
                   "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    for body in [
        json!({"stage": "visited"}),
        json!({"stage": "signed", "override": true, "reason": "合同原件已收，系统补录"}),
    ] {
        let (st, v) = admin.post(&format!("/api/v1/deals/{id}/stage"), body).await;
        assert_eq!(st, 200, "{v}");
    }
    id
}

/// 领取后签约 (claim-to-sign): of the claims in the period (cohort by claim day), those whose
/// customer then had a deal reach 签约 or later; once per claim however many deals sign; a
/// recall and a re-claim start a new cohort entry (the sign counts for the latest claim only);
/// per-user rows add up to the totals, whose rate is recomputed from them.
#[tokio::test]
async fn pools_count_claims_that_reached_signing_once_per_claim() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    common::add_user(&s, "xiao", &["sales"], Some(&east));
    common::add_user(&s, "da", &["sales"], Some(&east));
    common::add_user(&s, "lao", &["sales"], Some(&east));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, p) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "总公海", "department_id": null, "settings": {}}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let (st, prod) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{prod}");
    let prod = prod["id"].as_str().unwrap().to_string();
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let da = s.login("da", TEAM_PASSWORD).await;
    // lao's leads go to the pool (lao claims none of them back: no row for lao).
    let lao = s.login("lao", TEAM_PASSWORD).await;
    let a = lead(&lao, "甲", "13800000001").await;
    let b = lead(&lao, "乙", "13800000002").await;
    let c = lead(&lao, "丙", "13800000003").await;
    for id in [&a, &b, &c] {
        release(&lao, id).await;
    }
    claim(&da, &a).await;
    claim(&da, &b).await;
    claim(&xiao, &c).await;
    // A signs twice (two deals) and moves on: one sign for da's claim.
    let d1 = sign(&admin, &prod, &a).await;
    sign(&admin, &prod, &a).await;
    let (st, v) = admin
        .post(
            &format!("/api/v1/deals/{d1}/stage"),
            json!({"stage": "submitted"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    sign(&admin, &prod, &c).await;
    // B: da's claim ends in a release; xiao re-claims it and it signs: xiao's claim counts.
    release(&da, &b).await;
    claim(&xiao, &b).await;
    sign(&admin, &prod, &b).await;

    let per = |r: &Value| -> Vec<(String, u64, u64, u64)> {
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["display_name"].as_str().unwrap().to_string(),
                    x["claimed"].as_u64().unwrap(),
                    x["signed"].as_u64().unwrap(),
                    x["sign_rate_bp"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let (st, r) = boss.get("/api/v1/reports/pools").await;
    assert_eq!(st, 200, "{r}");
    let mut got = per(&r);
    got.sort();
    assert_eq!(
        got,
        [
            ("da".to_string(), 2, 1, 5000),
            ("xiao".to_string(), 2, 2, 10_000)
        ],
        "{r}"
    );
    assert_eq!(r["totals"]["claimed"], 4, "{r}");
    assert_eq!(r["totals"]["signed"], 3, "{r}");
    assert_eq!(r["totals"]["sign_rate_bp"], 7500, "{r}");
    assert_eq!(sum(&r["rows"], "signed"), 3);
    // A salesperson sees only their own claims and signs.
    let (_, r) = da.get("/api/v1/reports/pools").await;
    assert_eq!(per(&r), [("da".to_string(), 2, 1, 5000)], "{r}");
    // Cohort by claim day: a period without the claims has none of the signs either.
    let (_, r) = boss
        .get("/api/v1/reports/pools?from=2020-01-01&to=2020-12-31")
        .await;
    assert_eq!(r["rows"], json!([]), "{r}");
    s.stop().await;
}
