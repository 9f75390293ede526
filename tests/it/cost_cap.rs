//! Issue 16.7: a contract is neither frozen nor sent when the deal's comprehensive annualised
//! cost is above the firm's cap (`loans.cost_cap_bp`, 36% by default) — unless a manager
//! overrides with a reason, which leaves one `deal.override` audit row (`rule: cost_cap`) per
//! step. A salesperson's override is refused (403), nothing written on any refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

/// 24% at most, a 20% service fee up front: far above 36% on every method.
fn costly_loan() -> Value {
    json!({
        "name": "急用贷", "lender": "某小贷", "category": "credit",
        "amount_min_fen": 100_000, "amount_max_fen": 10_000_000,
        "term_min_months": 6, "term_max_months": 24,
        "rate_min_bp": 1800, "rate_max_bp": 2400,
        "methods": ["annuity", "interest_only"],
        "fees": {"service_fee": {"kind": "rate", "bp": 2000}}
    })
}

async fn deal(c: &Client, customer: &str, product: &str, amount: i64, term: u32) -> String {
    let (st, d) = c
        .post(
            "/api/v1/deals",
            json!({"customer_id": customer, "product_id": product,
                   "amount_fen": amount, "term_months": term}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    d["id"].as_str().unwrap().to_string()
}

async fn new_contract(c: &Client, deal: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"template_id": "default-service-agreement"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (st, v) = c
        .post(&format!("/api/v1/deals/{deal}/contracts"), body)
        .await;
    (st.as_u16(), v)
}

async fn link(c: &Client, id: &str, body: Value) -> (u16, Value) {
    let (st, v) = c.post(&format!("/api/v1/contracts/{id}/link"), body).await;
    (st.as_u16(), v)
}

async fn overrides(admin: &Client) -> Vec<Value> {
    let (st, a) = admin
        .get("/api/v1/audit?action=deal.override&limit=50")
        .await;
    assert_eq!(st, 200, "{a}");
    a["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn contracts_above_the_cost_cap_need_a_managers_override() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let east = common::add_department(&s, "东区", None);
    common::add_user(&s, "xiao", &["sales"], Some(&east));
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let sales = s.login("xiao", TEAM_PASSWORD).await;
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let (st, cheap) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{cheap}");
    let (st, dear) = admin.post("/api/v1/products", costly_loan()).await;
    assert_eq!(st, 201, "{dear}");
    let (st, c) = sales
        .post(
            "/api/v1/customers",
            json!({"name": "钱七", "phone": "13800138000"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let c = c["id"].as_str().unwrap();

    // Under the cap (12% at worst + a 3% fee over 36 months): made and sent, no override.
    let fine = deal(&sales, c, cheap["id"].as_str().unwrap(), 30_000_000, 36).await;
    let (st, v) = new_contract(&sales, &fine, json!({})).await;
    assert_eq!(st, 201, "{v}");
    let (st, l) = link(&sales, v["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(st, 200, "{l}");
    assert!(overrides(&admin).await.is_empty());

    // Over the cap (requested terms at the product's worst case): refused, naming the cost
    // and the cap in Chinese; nothing written.
    let over = deal(&sales, c, dear["id"].as_str().unwrap(), 1_000_000, 12).await;
    let (st, e) = new_contract(&sales, &over, json!({})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("deal_cost_over_cap")),
        "{e}"
    );
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("综合年化成本") && msg.contains("上限 36.00%"),
        "{msg}"
    );
    let cost_bp = e["error"]["details"]["cost_bp"].as_i64().unwrap();
    assert!(cost_bp > 3600, "{e}");
    assert!(msg.contains(&e["error"]["details"]["cost"].as_str().unwrap().to_string()));
    assert_eq!(e["error"]["details"]["basis"], "request");
    let (_, list) = sales.get(&format!("/api/v1/deals/{over}/contracts")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing frozen");

    // A salesperson may not override; a manager must give a reason.
    let ov = json!({"override": true, "reason": "客户坚持，已书面告知成本"});
    let (st, e) = new_contract(&sales, &over, ov.clone()).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (403, &json!("deal_override_forbidden")),
        "{e}"
    );
    let (st, e) = new_contract(&boss, &over, json!({"override": true, "reason": "  "})).await;
    assert_eq!((st, &e["error"]["field"]), (400, &json!("reason")), "{e}");
    assert!(
        overrides(&admin).await.is_empty(),
        "no refusal is audited as an override"
    );

    // The manager's override: made, one audit row with the reason.
    let (st, v) = new_contract(&boss, &over, ov.clone()).await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap();
    let rows = overrides(&admin).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["target"], json!(over));
    let d = &rows[0]["detail"];
    assert_eq!(
        (
            &d["rule"],
            &d["reason"],
            &d["step"],
            &d["contract_id"],
            &d["cost_bp"]
        ),
        (
            &json!("cost_cap"),
            &json!("客户坚持，已书面告知成本"),
            &json!("create"),
            &json!(id),
            &json!(cost_bp)
        ),
        "{d}"
    );

    // Sending it is a second step, checked again: the same refusals, the same override.
    let (st, e) = link(&sales, id, json!({})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("deal_cost_over_cap")),
        "{e}"
    );
    let (st, e) = link(&boss, id, json!({})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("deal_cost_over_cap")),
        "{e}"
    );
    let (st, e) = link(&sales, id, ov.clone()).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (403, &json!("deal_override_forbidden")),
        "{e}"
    );
    let (st, e) = link(&boss, id, json!({"override": true})).await;
    assert_eq!((st, &e["error"]["field"]), (400, &json!("reason")), "{e}");
    let (_, c1) = sales.get(&format!("/api/v1/contracts/{id}")).await;
    assert_eq!(c1["state"], "draft", "no link on a refusal: {c1}");
    assert_eq!(overrides(&admin).await.len(), 1);
    let (st, l) = link(
        &boss,
        id,
        json!({"override": true, "reason": "经理复核通过"}),
    )
    .await;
    assert_eq!(st, 200, "{l}");
    assert!(l["signing_url"].as_str().unwrap().contains("/sign/"));
    let rows = overrides(&admin).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let d = &rows[0]["detail"];
    assert_eq!(
        (&d["rule"], &d["reason"], &d["step"]),
        (&json!("cost_cap"), &json!("经理复核通过"), &json!("link")),
        "newest first: {rows:?}"
    );
}

#[tokio::test]
async fn the_cost_follows_the_approval_and_the_disbursement() {
    use zhudai::domain::deal::{Approval, Deal, Disbursement};
    use zhudai::service::deals::{CostBasis, CostUnknown, contract_cost};
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let product: zhudai::domain::product::ProductInput =
        serde_json::from_value(costly_loan()).unwrap();
    let mut d: Deal = serde_json::from_value(json!({
        "id": "d1", "customer_id": "c1", "customer_name": "钱七",
        "product": {"id": "p1", "name": "急用贷", "lender": "某小贷", "category": "credit",
                    "version": 1, "service_fee": null},
        "amount_fen": 1_000_000, "term_months": 12, "officer_id": "u1", "assistant_id": null,
        "stage": "invited", "approval": null, "disbursement": null, "closed_reason": null,
        "history": [], "created_by": "u1",
        "created_at": "2026-03-01T00:00:00Z", "updated_at": "2026-03-01T00:00:00Z"
    }))
    .unwrap();
    // The request at the product's worst case: interest-only at 24% costs 24%, annuity 24%
    // too (no fee here): the highest rate is what counts.
    let c = contract_cost(&d, Some(&product), today).unwrap();
    assert_eq!((c.bp, c.basis), (2400, CostBasis::Request));
    // No product to read the worst case from: refused naming the field, not let through.
    assert_eq!(
        contract_cost(&d, None, today).unwrap_err(),
        CostUnknown::Field(
            "product_id",
            "找不到业务单的产品，无法计算综合年化成本".into()
        )
    );
    // Approved at 6% (term from the request): that rate, not the product's highest.
    d.approval = Some(Approval {
        amount_fen: 1_000_000,
        term_months: None,
        rate_bp: Some(600),
    });
    let c = contract_cost(&d, Some(&product), today).unwrap();
    assert_eq!((c.bp, c.basis), (600, CostBasis::Approval));
    // Disbursed at 9.6% annuity: the disbursement decides (the product is not needed).
    d.disbursement = Some(Disbursement {
        amount_fen: 1_000_000,
        disbursed_on: today,
        rate_bp: 960,
        term_months: 12,
        method: zhudai::domain::loan::Method::Annuity,
        first_repayment_date: chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
    });
    let c = contract_cost(&d, None, today).unwrap();
    assert_eq!((c.bp, c.basis), (960, CostBasis::Disbursement));
    // No loan amount at all: the terms are required.
    d.disbursement = None;
    d.approval = None;
    d.amount_fen = 0;
    assert_eq!(
        contract_cost(&d, Some(&product), today).unwrap_err(),
        CostUnknown::NoAmount
    );
}
