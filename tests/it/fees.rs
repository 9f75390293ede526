//! Issue 19: fees, payments (回款), commissions (`commission.split`), refunds and clawbacks,
//! month close with its frozen hash, and scope — over HTTP, to the fen.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use serde_json::{Value, json};

struct Team {
    s: TestServer,
    admin: Client,
    /// finance role
    cai: Client,
    /// sales, department 一部, manager wang
    xiao: Client,
    xiao_id: String,
    /// sales, department 一部 (the assistant)
    li_id: String,
    /// manager of 一部
    wang: Client,
    wang_id: String,
    /// manager of 二部
    zhao: Client,
}

async fn team() -> Team {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let one = common::add_department(&s, "一部", None);
    let two = common::add_department(&s, "二部", None);
    let wang_id = common::add_user(&s, "wang", &["manager"], Some(&one));
    common::add_user(&s, "zhao", &["manager"], Some(&two));
    let xiao_id = common::add_user(&s, "xiao", &["sales"], Some(&one));
    let li_id = common::add_user(&s, "li", &["sales"], Some(&one));
    common::add_user(&s, "cai", &["finance"], None);
    let (st, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{xiao_id}"),
            Some(json!({"manager_id": wang_id})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    Team {
        cai: s.login("cai", TEAM_PASSWORD).await,
        xiao: s.login("xiao", TEAM_PASSWORD).await,
        wang: s.login("wang", TEAM_PASSWORD).await,
        zhao: s.login("zhao", TEAM_PASSWORD).await,
        admin,
        xiao_id,
        li_id,
        wang_id,
        s,
    }
}

/// A deal of xiao's (assistant li) for a product with `fees`, disbursed 80,000 元 on
/// 2026-11-02.
async fn disbursed_deal(t: &Team, fees: Value, phone: &str) -> String {
    let mut p = crate::products::salary_loan();
    // The older nested `fees` shape (still read): it replaces the fixture's `fee`/`rebate_bp`.
    let m = p.as_object_mut().unwrap();
    m.remove("fee");
    m.remove("rebate_bp");
    p["fees"] = fees;
    p["name"] = json!(format!("工薪贷{phone}"));
    let (st, p) = t.admin.post("/api/v1/products", p).await;
    assert_eq!(st, 201, "{p}");
    let (st, c) = t
        .xiao
        .post("/api/v1/customers", json!({"name": "钱七", "phone": phone}))
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, d) = t
        .xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c["id"], "product_id": p["id"], "amount_fen": 10_000_000,
                   "term_months": 12, "assistant_id": t.li_id}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    for body in [
        json!({"stage": "visited"}),
        json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
        json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_000,
               "disbursed_on": "2026-11-02", "rate_bp": 1200, "term_months": 12,
               "method": "annuity", "first_repayment_date": "2026-12-02"}),
    ] {
        let (st, v) = t
            .admin
            .post(&format!("/api/v1/deals/{id}/stage"), body)
            .await;
        assert_eq!(st, 200, "{v}");
    }
    id
}

async fn pay(c: &Client, deal: &str, fen: i64, on: &str) -> (u16, Value) {
    let (st, v) = c
        .post(
            &format!("/api/v1/deals/{deal}/payments"),
            json!({"amount_fen": fen, "paid_on": on, "method": "transfer",
                   "payer": "钱七", "receipt_no": format!("R-{fen}")}),
        )
        .await;
    (st.as_u16(), v)
}

async fn statement(c: &Client, user: &str, month: &str) -> (u16, Value) {
    let (st, v) = c
        .get(&format!(
            "/api/v1/commissions/statement?user={user}&month={month}"
        ))
        .await;
    (st.as_u16(), v)
}

fn by_role(s: &Value) -> Vec<(String, String, i64)> {
    s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["role"].as_str().unwrap().to_string(),
                l["kind"].as_str().unwrap().to_string(),
                l["amount_fen"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn payments_write_commissions_and_collect_the_fee_in_full() {
    let t = team().await;
    // 3% of 80,000 元 = 2,400 元; rebate 1% = 800 元.
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "rate", "bp": 300}, "lender_rebate_bp": 100}),
        "13800138000",
    )
    .await;
    let (st, f) = t.xiao.get(&format!("/api/v1/deals/{id}/fees")).await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(
        (
            &f["fee_fen"],
            &f["balance_fen"],
            &f["rebate_fen"],
            &f["recorded"]
        ),
        (
            &json!(240_000),
            &json!(240_000),
            &json!(80_000),
            &json!(true)
        ),
        "the fee was computed at disbursement: {f}"
    );
    assert!(f["fee_rule"].as_str().unwrap().contains("3%"), "{f}");

    // The plugin page's try-it runs deal.fee and commission.split on the customer's deal.
    let (_, deal) = t.admin.get(&format!("/api/v1/deals/{id}")).await;
    let (st, tried) = t
        .admin
        .post(
            "/api/v1/plugins/fee/test",
            json!({"hook": "deal.fee", "customer_id": deal["customer_id"]}),
        )
        .await;
    assert_eq!(st, 200, "{tried}");
    assert_eq!(tried["decision"]["fee_fen"], 240_000, "{tried}");
    let (_, tried) = t
        .admin
        .post(
            "/api/v1/plugins/commission/test",
            json!({"hook": "commission.split", "customer_id": deal["customer_id"]}),
        )
        .await;
    assert_eq!(
        tried["decision"]["by_role"],
        json!({"officer": 100_000, "assistant": 20_000, "manager": 10_000}),
        "a sample payment of 10,000 元: {tried}"
    );

    // A salesperson cannot record money; finance can. Partial payment of 1,000.01 元.
    assert_eq!(pay(&t.xiao, &id, 100_001, "2026-11-10").await.0, 403);
    let (st, f) = pay(&t.cai, &id, 100_001, "2026-11-10").await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(f["balance_fen"], 139_999);
    assert_eq!(f["stage"], "disbursed");
    // Overpaying, a future date, a zero amount: refused naming the field.
    let (st, e) = pay(&t.cai, &id, 140_000, "2026-11-10").await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("amount_fen")),
        "{e}"
    );
    let (st, e) = pay(&t.cai, &id, 1, "2026-11-21").await;
    assert_eq!((st, &e["error"]["field"]), (400, &json!("paid_on")), "{e}");
    assert_eq!(pay(&t.cai, &id, 0, "2026-11-10").await.0, 400);

    let (st, e) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/refunds"),
            json!({"amount_fen": 1, "refunded_on": "2026-11-09", "reason": "早于回款"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("refunded_on")),
        "{e}"
    );

    // Commission lines: officer 10% (first tier), assistant 2%, manager 1%, to the fen.
    let (st, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(st, 200, "{s}");
    assert_eq!(
        by_role(&s),
        [("officer".into(), "commission".into(), 10_000)]
    );
    let (_, s) = statement(&t.cai, &t.li_id, "2026-11").await;
    assert_eq!(
        by_role(&s),
        [("assistant".into(), "commission".into(), 2_000)]
    );
    let (_, s) = statement(&t.wang, &t.wang_id, "2026-11").await;
    assert_eq!(
        by_role(&s),
        [("manager".into(), "commission".into(), 1_000)]
    );

    // A payment recorded by mistake is removed with its lines (an open month).
    let (st, f) = pay(&t.cai, &id, 5, "2026-11-11").await;
    assert_eq!(st, 201, "{f}");
    let pid = f["payments"][1]["id"].as_str().unwrap().to_string();
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(s["total_fen"], 10_001, "0.5 fen rounds up: {s}");
    let del = format!("/api/v1/deals/{id}/payments/{pid}");
    assert_eq!(
        t.cai.call(reqwest::Method::DELETE, &del, None).await.0,
        400,
        "a reason"
    );
    let (st, f) = t
        .cai
        .call(
            reqwest::Method::DELETE,
            &format!("{del}?reason=%E5%BD%95%E9%94%99"),
            None,
        )
        .await;
    assert_eq!(
        (st.as_u16(), &f["balance_fen"]),
        (200, &json!(139_999)),
        "{f}"
    );
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(s["total_fen"], 10_000);

    // The rest: the deal reaches 收费 through the stage path (history, customer won).
    let (st, f) = pay(&t.cai, &id, 139_999, "2026-11-12").await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(
        (&f["balance_fen"], &f["stage"]),
        (&json!(0), &json!("fee_collected"))
    );
    let (_, d) = t.xiao.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(d["stage"], "fee_collected");
    assert_eq!(
        d["history"].as_array().unwrap().last().unwrap()["note"],
        "服务费已收齐"
    );
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(s["total_fen"], 24_000, "10% of 2,400 元: {s}");

    assert_eq!(
        t.s.app.store.read(zhudai::store::fees::drift).unwrap(),
        Vec::<String>::new(),
        "keys and totals match a recount"
    );

    // The rebate is its own receivable.
    let (_, r) = t.cai.get("/api/v1/finance/rebates").await;
    assert_eq!(r["total_fen"], 80_000, "{r}");
    let (st, f) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/rebate-receipts"),
            json!({"amount_fen": 80_000, "received_on": "2026-11-15", "receipt_no": "L-1"}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(f["rebate_balance_fen"], 0);
    let (_, r) = t.cai.get("/api/v1/finance/rebates").await;
    assert_eq!(r["items"], json!([]));

    // The month's payments: finance sees all, the department's manager too, another
    // department's manager nothing, a salesperson is refused the finance list.
    let (_, m) = t.cai.get("/api/v1/finance/payments?month=2026-11").await;
    assert_eq!(
        (&m["received_fen"], &m["items"].as_array().unwrap().len()),
        (&json!(240_000), &2)
    );
    let (_, m) = t.wang.get("/api/v1/finance/payments?month=2026-11").await;
    assert_eq!(m["received_fen"], 240_000);
    let (_, m) = t.zhao.get("/api/v1/finance/payments?month=2026-11").await;
    assert_eq!(m["items"], json!([]));
    let (st, _) = t.xiao.get("/api/v1/finance/payments").await;
    assert_eq!(st, 403);
    // Statements: a salesperson sees only their own; a manager of another department not ours.
    assert_eq!(statement(&t.xiao, &t.li_id, "2026-11").await.0, 404);
    assert_eq!(statement(&t.zhao, &t.xiao_id, "2026-11").await.0, 404);
    assert_eq!(statement(&t.wang, &t.xiao_id, "2026-11").await.0, 200);
    // A deal out of scope: 404 like an absent one.
    assert_eq!(t.zhao.get(&format!("/api/v1/deals/{id}/fees")).await.0, 404);
    // XLSX export of a statement.
    let resp = t
        .xiao
        .http
        .get(format!(
            "{}/api/v1/commissions/statement.xlsx?month=2026-11",
            t.xiao.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.bytes().await.unwrap().starts_with(b"PK"),
        "a zip (xlsx)"
    );
}

#[tokio::test]
async fn the_officers_tiers_follow_the_months_volume_to_the_fen() {
    let t = team().await;
    // A fixed fee of 300,000 元.
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "fixed", "fen": 30_000_000}}),
        "13800138001",
    )
    .await;
    // 60,000 元: 50,000 × 10% + 10,000 × 12% = 6,200 元.
    assert_eq!(pay(&t.cai, &id, 6_000_000, "2026-11-05").await.0, 201);
    // 200,000 元 more, from 60,000 to 260,000: 140,000 × 12% + 60,000 × 15% = 25,800 元.
    assert_eq!(pay(&t.cai, &id, 20_000_000, "2026-11-06").await.0, 201);
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(
        by_role(&s),
        [
            ("officer".into(), "commission".into(), 620_000),
            ("officer".into(), "commission".into(), 2_580_000)
        ]
    );
    // A manager waives the rest (audited); a salesperson may not.
    let (st, _) = t
        .xiao
        .post(
            &format!("/api/v1/deals/{id}/fee-waivers"),
            json!({"amount_fen": 4_000_000, "reason": "老客户"}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, f) = t
        .wang
        .post(
            &format!("/api/v1/deals/{id}/fee-waivers"),
            json!({"amount_fen": 4_000_000, "reason": "老客户"}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(
        (&f["balance_fen"], &f["stage"]),
        (&json!(0), &json!("fee_collected"))
    );
}

#[tokio::test]
async fn a_refund_after_close_lands_in_the_next_open_month_and_the_hash_holds() {
    let mut t = team().await;
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "rate", "bp": 300}}),
        "13800138002",
    )
    .await;
    assert_eq!(pay(&t.cai, &id, 240_000, "2026-11-10").await.0, 201);
    // Receivables before: none (paid in full).
    let (_, r) = t.cai.get("/api/v1/finance/receivables").await;
    assert_eq!(r["items"], json!([]), "{r}");

    // 2026-11 is not over yet (the clock says 2026-11-20): it cannot be closed, and the
    // months list says so.
    let close = "/api/v1/finance/months/2026-11/close";
    let (st, e) = t.cai.post(close, json!({})).await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("month_not_over")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("还没结束"),
        "{e}"
    );
    let (_, months) = t.cai.get("/api/v1/finance/months").await;
    assert_eq!(
        (&months[0]["month"], &months[0]["over"], &months[1]["over"]),
        (&json!("2026-11"), &json!(false), &json!(true)),
        "{months}"
    );

    // December: close 2026-11. A salesperson and a manager may not; finance may; twice is
    // refused; December itself is not over.
    t.s.clock.advance(chrono::Duration::days(15));
    // Sessions do not outlive the fortnight: sign in again.
    t.cai = t.s.login("cai", TEAM_PASSWORD).await;
    t.xiao = t.s.login("xiao", TEAM_PASSWORD).await;
    t.wang = t.s.login("wang", TEAM_PASSWORD).await;
    t.admin = t.s.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(t.wang.post(close, json!({})).await.0, 403);
    let (st, m) = t.cai.post(close, json!({})).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(
        (&m["closed"], &m["verified"], &m["lines"]),
        (&json!(true), &json!(true), &json!(3))
    );
    let frozen = m["hash"].as_str().unwrap().to_string();
    let (st, e) = t.cai.post(close, json!({})).await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("month_already_closed"))
    );
    for later in ["2026-12", "2027-01"] {
        let (st, e) = t
            .cai
            .post(&format!("/api/v1/finance/months/{later}/close"), json!({}))
            .await;
        assert_eq!(
            (st.as_u16(), &e["error"]["code"]),
            (409, &json!("month_not_over")),
            "{later}: {e}"
        );
    }

    // Nothing dated in November can be written or removed any more.
    let (_, f) = t.cai.get(&format!("/api/v1/deals/{id}/fees")).await;
    let pid = f["payments"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(f["payments"][0]["locked"], true);
    let (st, e) = t
        .cai
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/deals/{id}/payments/{pid}?reason=录错"),
            None,
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("month_closed")),
        "{e}"
    );
    let (st, e) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/refunds"),
            json!({"amount_fen": 1, "refunded_on": "2026-11-15", "reason": "误收"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("month_closed")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("已月结"),
        "{e}"
    );

    // December: half refunded → adjustment lines in December naming the November lines.
    let (st, f) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/refunds"),
            json!({"amount_fen": 120_000, "refunded_on": "2026-12-03", "reason": "客户投诉退一半"}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(
        (&f["balance_fen"], &f["refunded_fen"]),
        (&json!(120_000), &json!(120_000))
    );
    assert_eq!(f["payments"][0]["locked"], true, "{f}");
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-12").await;
    assert_eq!(
        by_role(&s),
        [("officer".into(), "adjustment".into(), -12_000)]
    );
    let adj = &s["lines"][0];
    assert!(
        adj["adjusts"][0].as_str().unwrap().starts_with("2026-11/"),
        "{adj}"
    );
    assert!(adj["rule"].as_str().unwrap().contains("2026-11"), "{adj}");
    let (_, s) = statement(&t.cai, &t.li_id, "2026-12").await;
    assert_eq!(s["total_fen"], -2_400, "assistant 2% of 2,400 元 × ½");
    // November's statement is untouched, and its hash still verifies.
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(
        (&s["total_fen"], &s["closed"]),
        (&json!(24_000), &json!(true))
    );
    let (_, m) = t.cai.get("/api/v1/finance/months/2026-11").await;
    assert_eq!(
        (&m["verified"], m["hash"].as_str().unwrap()),
        (&json!(true), frozen.as_str())
    );
    // The public contract's forms: GET /deals/{id}/payments, refunds as negative payments,
    // GET /commissions in the caller's scope.
    let (_, list) = t.cai.get(&format!("/api/v1/deals/{id}/payments")).await;
    assert_eq!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount_fen"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [240_000, -120_000],
        "{list}"
    );
    let (st, e) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/payments"),
            json!({"amount_fen": -1, "paid_on": "2026-12-04", "method": "transfer"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("reason")),
        "{e}"
    );
    let (_, mine) = t
        .xiao
        .get("/api/v1/commissions?mine=true&month=2026-12")
        .await;
    assert_eq!(mine["total_fen"], -12_000, "{mine}");
    // Each line's deal is named as people name it: the customer and the product.
    let label = &mine["deals"][id.as_str()];
    assert_eq!(label["customer_name"], "钱七", "{mine}");
    assert!(
        label["product_name"]
            .as_str()
            .unwrap()
            .starts_with("工薪贷"),
        "{mine}"
    );
    assert_eq!(t.xiao.get("/api/v1/commissions?month=2026-12").await.0, 403);
    let (_, all) = t.cai.get("/api/v1/commissions?month=2026-12").await;
    assert_eq!(
        all["total"], 3,
        "officer, assistant, manager adjustments: {all}"
    );
    assert_eq!(all["deals"].as_object().unwrap().len(), 1, "{all}");
    assert_eq!(all["deals"][id.as_str()]["customer_name"], "钱七");

    // A refund in the same (open) month (as a negative payment) is a plain clawback.
    let (st, _) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/payments"),
            json!({"amount_fen": -120_000, "paid_on": "2026-12-04", "method": "transfer",
                   "reason": "全部退回"}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-12").await;
    assert_eq!(s["total_fen"], -24_000, "all clawed back, to the fen: {s}");

    // One stored byte changed: the hash no longer verifies.
    t.s.app
        .store
        .write(|tx| {
            let keys = {
                let rows = zhudai::store::fees::month_lines(tx, "2026-11")?;
                rows.into_iter()
                    .map(|l| zhudai::store::fees::line_key(&l))
                    .collect::<Vec<_>>()
            };
            let mut line = zhudai::store::fees::month_lines(tx, "2026-11")?
                .into_iter()
                .next()
                .unwrap();
            line.amount_fen += 1;
            let bytes = zhudai::store::codec::encode(&line)?;
            zhudai::store::fees::tamper_line_for_tests(tx, &keys[0], &bytes)
        })
        .unwrap();
    let (_, m) = t.cai.get("/api/v1/finance/months/2026-11").await;
    assert_eq!(m["verified"], false, "{m}");

    // Doctor's recount: the tampered amount shows as a commission total that differs.
    let drift = t.s.app.store.read(zhudai::store::fees::drift).unwrap();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(drift[0].starts_with("fee total com/2026-11/"), "{drift:?}");

    // Reopening: admins only, with a reason; audited.
    let reopen = "/api/v1/finance/months/2026-11/reopen";
    assert_eq!(t.cai.post(reopen, json!({"reason": "更正"})).await.0, 403);
    assert_eq!(t.admin.post(reopen, json!({"reason": " "})).await.0, 400);
    let (st, m) = t.admin.post(reopen, json!({"reason": "更正提成"})).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["closed"], false);
    let (_, audit) = t.admin.get("/api/v1/audit?limit=200").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "fee.payment",
        "fee.refund",
        "month.closed",
        "month.reopened",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
}

#[tokio::test]
async fn a_firms_own_scheme_runs_and_a_failing_one_writes_nothing() {
    let t = team().await;
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "rate", "bp": 300}}),
        "13800138003",
    )
    .await;
    let plugins = t.s.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    // A flat 8% for the officer, 20 元 a payment for the manager, nothing for the assistant.
    std::fs::write(
        plugins.join("commission.rhai"),
        r#"
fn split(payment, deal, ctx) {
    [#{ user: deal.officer_id, role: "officer", amount_fen: payment.amount_fen * 8 / 100, rule: "=统一 8%" },
     #{ user: deal.manager_id, role: "manager", amount_fen: 2000, rule: "每笔 20 元" }]
}
"#,
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(pay(&t.cai, &id, 100_000, "2026-11-10").await.0, 201);
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    assert_eq!(
        by_role(&s),
        [("officer".into(), "commission".into(), 8_000)]
    );
    assert_eq!(s["lines"][0]["rule"], "=统一 8%");
    // The export writes the rule as text, never as a formula.
    let r = t
        .xiao
        .http
        .get(format!(
            "{}/api/v1/commissions/statement.xlsx?month=2026-11",
            t.xiao.base
        ))
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0][5], "计算依据");
    assert_eq!(rows[1][5], "'=统一 8%", "defused: {rows:?}");
    assert_eq!(rows[1][4], "80", "80.00 元: {rows:?}");
    let (_, s) = statement(&t.wang, &t.wang_id, "2026-11").await;
    assert_eq!(s["total_fen"], 2_000);
    let (_, s) = statement(&t.cai, &t.li_id, "2026-11").await;
    assert_eq!(s["lines"], json!([]));

    // A scheme that fails: the payment is refused with the plugin's error, nothing written.
    std::fs::write(
        plugins.join("commission.rhai"),
        "fn split(payment, deal, ctx) { throw \"方案未定\"; }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (st, e) = pay(&t.cai, &id, 100_000, "2026-11-11").await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("plugin_failed")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("方案未定"),
        "{e}"
    );
    let (_, f) = t.cai.get(&format!("/api/v1/deals/{id}/fees")).await;
    assert_eq!(
        f["paid_fen"], 100_000,
        "the refused payment left nothing: {f}"
    );
    let (_, m) = t.cai.get("/api/v1/finance/payments?month=2026-11").await;
    assert_eq!(m["items"].as_array().unwrap().len(), 1);

    // A failing deal.fee refuses the disbursement: the deal stays approved, no account.
    std::fs::write(
        plugins.join("fee.rhai"),
        "fn fee(deal, ctx) { throw \"费率未定\"; }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, p) = t.admin.get("/api/v1/products").await;
    let product = p["items"][0]["id"].clone();
    let (_, c) = t
        .xiao
        .post(
            "/api/v1/customers",
            json!({"name": "孙八", "phone": "13800138009"}),
        )
        .await;
    let (_, d) = t
        .xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c["id"], "product_id": product, "amount_fen": 10_000_000,
                   "term_months": 12}),
        )
        .await;
    let did = d["id"].as_str().unwrap();
    for body in [
        json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
    ] {
        let (st, v) = t
            .admin
            .post(&format!("/api/v1/deals/{did}/stage"), body)
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, e) = t
        .admin
        .post(
            &format!("/api/v1/deals/{did}/stage"),
            json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_000,
                   "disbursed_on": "2026-11-02", "rate_bp": 1200, "term_months": 12,
                   "method": "annuity", "first_repayment_date": "2026-12-02"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("plugin_failed")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("费率未定"),
        "{e}"
    );
    let (_, d) = t.admin.get(&format!("/api/v1/deals/{did}")).await;
    assert_eq!(d["stage"], "approved", "nothing half-written");
}

#[tokio::test]
async fn targets_show_progress_to_each_user_and_their_manager() {
    let t = team().await;
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "rate", "bp": 300}}),
        "13800138004",
    )
    .await;
    // A manager sets xiao's November target; a salesperson may not, another department's
    // manager cannot reach xiao (404 like an absent user).
    let body = json!({"month": "2026-11", "user_id": t.xiao_id, "fees_fen": 480_000,
                      "disbursed_fen": 16_000_000, "deals_signed": 4, "followups": 10});
    let (st, _) = t
        .xiao
        .call(reqwest::Method::PUT, "/api/v1/targets", Some(body.clone()))
        .await;
    assert_eq!(st, 403);
    let (st, _) = t
        .zhao
        .call(reqwest::Method::PUT, "/api/v1/targets", Some(body.clone()))
        .await;
    assert_eq!(st, 404);
    let (st, p) = t
        .wang
        .call(reqwest::Method::PUT, "/api/v1/targets", Some(body))
        .await;
    assert_eq!(st, 200, "{p}");
    // Disbursed 80,000 元 and one deal signed already count.
    assert_eq!(
        (
            &p["actual"]["disbursed_fen"],
            &p["actual"]["deals_signed"],
            &p["progress"]["disbursed_bp"]
        ),
        (&json!(8_000_000), &json!(1), &json!(5_000)),
        "{p}"
    );
    let (st, e) = t
        .wang
        .call(
            reqwest::Method::PUT,
            "/api/v1/targets",
            Some(json!({"month": "2026-11", "user_id": t.xiao_id, "followups": -1})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("followups"))
    );

    // A payment moves the progress: 2,400 元 of 4,800 = 50%.
    assert_eq!(pay(&t.cai, &id, 240_000, "2026-11-10").await.0, 201);
    let (_, mine) = t.xiao.get("/api/v1/targets/progress?month=2026-11").await;
    let users = mine["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "a salesperson sees only themselves: {mine}");
    assert_eq!(users[0]["progress"]["fees_bp"], 5_000);
    assert_eq!(mine["departments"], json!([]));
    let (_, team) = t.wang.get("/api/v1/targets/progress?month=2026-11").await;
    let names: Vec<&str> = team["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"xiao") && !names.contains(&"zhao"),
        "{names:?}"
    );
    let dept = &team["departments"][0];
    assert_eq!(
        (&dept["name"], &dept["actual"]["fees_fen"]),
        (&json!("一部"), &json!(240_000))
    );
}

fn report_row<'a>(t: &'a Value, user: &str) -> Option<&'a Value> {
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == user)
}

/// The finance report and the rankings by fees from a known deal: collected, refunded, net,
/// outstanding and its ageing bucket, to the fen; rows = totals; scoped (sales own, a
/// manager their department, finance everyone).
#[tokio::test]
async fn the_finance_report_and_fee_rankings_to_the_fen() {
    let t = team().await;
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "rate", "bp": 300}}),
        "13800138009",
    )
    .await;
    // Fee: 3% of 80,000 元 = 240,000 fen; 100,000 paid on 11-10, 10,000 refunded on 11-15.
    let (st, v) = pay(&t.cai, &id, 100_000, "2026-11-10").await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/refunds"),
            json!({"amount_fen": 10_000, "refunded_on": "2026-11-15", "reason": "多收"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let q = "/api/v1/reports/finance?from=2026-11-01&to=2026-11-30";
    let (st, f) = t.cai.get(q).await;
    assert_eq!(st, 200, "{f}");
    let x = report_row(&f, &t.xiao_id).unwrap_or_else(|| panic!("{f}"));
    let figures = [
        "collected_fen",
        "refunded_fen",
        "net_fen",
        "outstanding_fen",
        "age_0_30_fen",
        "age_31_60_fen",
        "age_over_90_fen",
    ]
    .map(|k| x[k].as_i64().unwrap());
    assert_eq!(figures, [100_000, 10_000, 90_000, 150_000, 150_000, 0, 0]);
    for k in [
        "collected_fen",
        "net_fen",
        "outstanding_fen",
        "commission_fen",
    ] {
        let rows: i64 = f["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[k].as_i64().unwrap())
            .sum();
        assert_eq!(f["totals"][k].as_i64(), Some(rows), "{k}: {f}");
    }
    // Commission: the lines of November, as the statements show them.
    let commission: i64 = f["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["commission_fen"].as_i64().unwrap())
        .sum();
    assert!(commission > 0, "{f}");
    // A period before the payment: nothing collected, the receivable still outstanding.
    let (_, early) = t
        .cai
        .get("/api/v1/reports/finance?from=2026-11-01&to=2026-11-05")
        .await;
    let x = report_row(&early, &t.xiao_id).unwrap();
    assert_eq!(
        (x["collected_fen"].as_i64(), x["outstanding_fen"].as_i64()),
        (Some(0), Some(150_000))
    );

    // Rankings by fees: xiao first with the net.
    let (st, r) = t
        .wang
        .get("/api/v1/reports/rankings?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["rows"][0]["user_id"], t.xiao_id.as_str(), "{r}");
    assert_eq!(r["rows"][0]["fees_fen"], 90_000);
    assert_eq!(r["rows"][0]["deals_signed"], 1);
    // The rankings' fees are the finance report's net, for the same scope and period.
    let (_, wf) = t.wang.get(q).await;
    assert_eq!(
        r["totals"]["fees_fen"], wf["totals"]["net_fen"],
        "{r} vs {wf}"
    );

    // Scope: xiao their own row; the other department's manager nothing of xiao's.
    let (_, mine) = t.xiao.get(q).await;
    assert_eq!(mine["rows"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["rows"][0]["user_id"], t.xiao_id.as_str());
    let (_, other) = t.zhao.get(q).await;
    assert!(report_row(&other, &t.xiao_id).is_none(), "{other}");
    assert_eq!(other["totals"]["collected_fen"], 0);
    let (_, dept) = t.wang.get(q).await;
    assert_eq!(dept["totals"]["collected_fen"], 100_000, "{dept}");

    // Products: a second deal of the same product rejected with a reason.
    let (_, first) = t.admin.get(&format!("/api/v1/deals/{id}")).await;
    let product = first["product"]["id"].as_str().unwrap().to_string();
    let (st, c) = t
        .xiao
        .post(
            "/api/v1/customers",
            json!({"name": "孙八", "phone": "13800138010"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, d) = t
        .xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c["id"], "product_id": product, "amount_fen": 5_000_000,
                   "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    for body in [
        json!({"stage": "signed", "override": true, "reason": "补录"}),
        json!({"stage": "submitted"}),
        json!({"stage": "rejected", "reason": "征信查询过多"}),
    ] {
        let (st, v) = t
            .admin
            .post(
                &format!("/api/v1/deals/{}/stage", d["id"].as_str().unwrap()),
                body,
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let pq = "/api/v1/reports/products?from=2026-11-01&to=2026-11-30";
    let (st, p) = t.wang.get(pq).await;
    assert_eq!(st, 200, "{p}");
    let row = p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["product_id"] == product.as_str())
        .unwrap_or_else(|| panic!("{p}"));
    let figures = ["invited", "submitted", "approved", "rejected", "disbursed"]
        .map(|k| row[k].as_u64().unwrap());
    assert_eq!(figures, [2, 2, 1, 1, 1], "{p}");
    assert_eq!(row["reasons"], "征信查询过多×1");
    // The other department's manager sees none of it.
    let (_, other) = t.zhao.get(pq).await;
    assert!(other["rows"].as_array().unwrap().is_empty(), "{other}");
}

/// Issue 19: `deal.fee` and `commission.split` see the deal's channel (the customer's text and
/// the registered channel's id) and the product's category; a firm's scheme pays by them.
#[tokio::test]
async fn a_scheme_pays_by_channel_and_product_category_to_the_fen() {
    let t = team().await;
    let (st, ch) = t
        .admin
        .post(
            "/api/v1/channels",
            json!({"name": "抖音", "kind": "线上广告"}),
        )
        .await;
    assert_eq!(st, 201, "{ch}");
    let douyin = ch["id"].as_str().unwrap().to_string();
    let plugins = t.s.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    // The fee: 1.5% on a mortgage, else 3%. The officer: 5% on a registered 抖音 customer's
    // payment, 12% on a mortgage, else 10%; the rule names what the plugin saw.
    std::fs::write(
        plugins.join("fee.rhai"),
        r#"
fn fee(deal, ctx) {
    let bp = if deal.category == "mortgage" { 150 } else { 300 };
    #{ fee_fen: (deal.disbursed_fen * bp + 5000) / 10000, rule: `${deal.category} ${bp}bp` }
}
"#,
    )
    .unwrap();
    std::fs::write(
        plugins.join("commission.rhai"),
        r#"
fn split(payment, deal, ctx) {
    let bp = if deal.channel == "抖音" && deal.channel_id != () { 500 }
             else if deal.category == "mortgage" { 1200 } else { 1000 };
    [#{ user: deal.officer_id, role: "officer", amount_fen: (payment.amount_fen * bp + 5000) / 10000,
        rule: `${deal.channel}|${deal.channel_id}|${deal.product_id}|${deal.category}|${bp}` }]
}
"#,
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    // category, the customer's channel text, phone.
    let mut deals = Vec::new();
    for (i, (category, channel, phone)) in [
        ("credit", Some("抖音"), "13800138101"),
        ("mortgage", Some("朋友介绍"), "13800138102"),
        ("credit", None, "13800138103"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = crate::products::salary_loan();
        p["name"] = json!(format!("产品{i}"));
        p["category"] = json!(category);
        let (st, p) = t.admin.post("/api/v1/products", p).await;
        assert_eq!(st, 201, "{p}");
        let mut c = json!({"name": "钱七", "phone": phone});
        if let Some(ch) = channel {
            c["channel"] = json!(ch);
        }
        let (st, c) = t.xiao.post("/api/v1/customers", c).await;
        assert_eq!(st, 201, "{c}");
        let (st, d) = t
            .xiao
            .post(
                "/api/v1/deals",
                json!({"customer_id": c["id"], "product_id": p["id"], "amount_fen": 10_000_000,
                       "term_months": 12}),
            )
            .await;
        assert_eq!(st, 201, "{d}");
        let id = d["id"].as_str().unwrap().to_string();
        for body in [
            json!({"stage": "visited"}),
            json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
            json!({"stage": "submitted"}),
            json!({"stage": "approved", "approved_amount_fen": 8_000_001}),
            json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_001,
                   "disbursed_on": "2026-11-02", "rate_bp": 1200, "term_months": 12,
                   "method": "annuity", "first_repayment_date": "2026-12-02"}),
        ] {
            let (st, v) = t
                .admin
                .post(&format!("/api/v1/deals/{id}/stage"), body)
                .await;
            assert_eq!(st, 200, "{v}");
        }
        deals.push((id, p["id"].as_str().unwrap().to_string()));
    }
    // Fees to the fen: 8,000,001 × 3% = 240,000.03 → 240,000; × 1.5% = 120,000.015 → 120,000.
    for ((id, _), fee) in deals.iter().zip([240_000, 120_000, 240_000]) {
        let (_, f) = t.cai.get(&format!("/api/v1/deals/{id}/fees")).await;
        assert_eq!(f["fee_fen"], fee, "{f}");
    }
    // One payment each of 12,345 fen: 5% → 617.25 → 617; 12% → 1,481.4 → 1,481; 10% → 1,234.5
    // → 1,235.
    for (id, _) in &deals {
        assert_eq!(pay(&t.cai, id, 12_345, "2026-11-10").await.0, 201);
    }
    let (_, s) = statement(&t.xiao, &t.xiao_id, "2026-11").await;
    let mut lines: Vec<(String, i64)> = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["rule"].as_str().unwrap().to_string(),
                l["amount_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    lines.sort();
    let mut want = vec![
        (format!("抖音|{douyin}|{}|credit|500", deals[0].1), 617),
        (format!("朋友介绍||{}|mortgage|1200", deals[1].1), 1_481),
        (format!("||{}|credit|1000", deals[2].1), 1_235),
    ];
    want.sort();
    assert_eq!(lines, want, "{s}");
    assert_eq!(s["total_fen"], 617 + 1_481 + 1_235);
}

/// Money is not dated before it could exist, nor taken past what the fee allows: a payment or
/// a lender's rebate before the disbursement, a recomputed fee below what was collected, and
/// the most negative amount (once a 500: its negation overflowed) are refused naming the field.
#[tokio::test]
async fn money_before_the_disbursement_or_past_the_fee_is_refused() {
    let t = team().await;
    let id = disbursed_deal(
        &t,
        json!({"service_fee": {"kind": "rate", "bp": 300}, "lender_rebate_bp": 100}),
        "13800138077",
    )
    .await;
    let field = |e: &Value| e["error"]["field"].as_str().map(str::to_string);
    let (st, e) = pay(&t.cai, &id, i64::MIN, "2026-11-10").await;
    assert_eq!((st, field(&e)), (400, Some("amount_fen".into())), "{e}");
    // Disbursed on 2026-11-02: the day before is refused, the day itself taken.
    let (st, e) = pay(&t.cai, &id, 100_000, "2026-11-01").await;
    assert_eq!((st, field(&e)), (400, Some("paid_on".into())), "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("放款日期"),
        "{e}"
    );
    let (st, f) = pay(&t.cai, &id, 100_000, "2026-11-02").await;
    assert_eq!(st, 201, "{f}");
    for (on, status) in [("2026-11-01", 400), ("2026-11-02", 201)] {
        let (st, e) = t
            .cai
            .post(
                &format!("/api/v1/deals/{id}/rebate-receipts"),
                json!({"amount_fen": 100, "received_on": on, "receipt_no": format!("L-{on}")}),
            )
            .await;
        assert_eq!(st, status, "{on}: {e}");
        if status == 400 {
            assert_eq!(field(&e), Some("received_on".into()), "{e}");
        }
    }

    // The firm's fee rule falls to a flat 8 元, below the 1,000 元 collected. Recomputing is
    // refused (a refund comes first) and the account is left as it was.
    let plugins = t.s.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("fee.rhai"),
        "fn fee(deal, ctx) { #{ fee_fen: 800, rule: \"每笔 8 元\" } }\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (st, e) = t
        .cai
        .post(
            &format!("/api/v1/deals/{id}/fee-recompute"),
            json!({"reason": "费率调整"}),
        )
        .await;
    assert_eq!(st, 409, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("退款"),
        "{e}"
    );
    let (_, f) = t.cai.get(&format!("/api/v1/deals/{id}/fees")).await;
    assert_eq!(
        (&f["fee_fen"], &f["balance_fen"]),
        (&json!(240_000), &json!(140_000)),
        "{f}"
    );
}

/// Probe (ui30) F14: a deal keeps the fee terms of the product version it was made with, so a
/// deal made before its product had a service fee owed nothing, had no 登记回款, and finance had
/// no way to set the fee. Recomputing can now take the product's current fee into the deal
/// (audited with the old and new terms); without it the deal's own terms stay.
#[tokio::test]
async fn recomputing_can_take_the_products_current_fee_into_the_deal() {
    let t = team().await;
    let id = disbursed_deal(&t, json!({}), "13800138078").await;
    let (_, f) = t.cai.get(&format!("/api/v1/deals/{id}/fees")).await;
    assert_eq!(
        (&f["fee_fen"], &f["balance_fen"]),
        (&json!(0), &json!(0)),
        "{f}"
    );
    let (st, e) = pay(&t.cai, &id, 100_000, "2026-11-10").await;
    assert_eq!(st, 400, "nothing is owed, no payment taken: {e}");

    let (_, d) = t.cai.get(&format!("/api/v1/deals/{id}")).await;
    let product = d["product"]["id"].as_str().unwrap().to_string();
    let (st, p) = t
        .admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{product}"),
            Some(json!({"fee": {"kind": "rate", "bp": 300}})),
        )
        .await;
    assert_eq!(st, 200, "{p}");

    // Recomputed on the deal's own terms: still nothing owed.
    let recompute = |body: Value| {
        let (c, id) = (&t.cai, id.clone());
        async move {
            let (st, v) = c
                .post(&format!("/api/v1/deals/{id}/fee-recompute"), body)
                .await;
            (st.as_u16(), v)
        }
    };
    let (st, f) = recompute(json!({"reason": "核对"})).await;
    assert_eq!((st, &f["fee_fen"]), (200, &json!(0)), "{f}");
    // With the product's current fee: 3% of the 80,000 元 disbursed.
    let (st, f) = recompute(json!({"reason": "产品后来才设服务费", "product_fee": true})).await;
    assert_eq!(
        (st, &f["fee_fen"], &f["balance_fen"]),
        (200, &json!(240_000), &json!(240_000)),
        "{f}"
    );
    let (_, d) = t.cai.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(
        d["product"]["service_fee"],
        json!({"kind": "rate", "rate_bp": 300}),
        "{d}"
    );
    let (st, v) = pay(&t.cai, &id, 100_000, "2026-11-10").await;
    assert_eq!(st, 201, "a payment is taken now: {v}");
    let (_, a) = t
        .admin
        .get("/api/v1/audit?action=fee.recomputed&limit=5")
        .await;
    let last = &a["items"][0]["detail"];
    assert_eq!(
        (
            &last["from_fen"],
            &last["to_fen"],
            &last["product_fee"]["from"],
            &last["product_fee"]["to"]
        ),
        (
            &json!(0),
            &json!(240_000),
            &Value::Null,
            &json!({"kind": "rate", "rate_bp": 300})
        ),
        "{a}"
    );
    // Unknown fields are still refused.
    let (st, _) = recompute(json!({"reason": "x", "product": true})).await;
    assert_eq!(st, 400);
}
