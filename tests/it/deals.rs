//! Deals (业务单) over HTTP: creation rules, required fields per stage, illegal moves refused,
//! history kept, the customer's stage following its deals, the manager's audited override of
//! a missing contract, the schedule of a disbursed deal, and scope (404 outside it in get,
//! move, edit, list, board and a customer's deals).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn product(admin: &Client) -> String {
    let (st, p) = admin
        .post("/api/v1/products", crate::products::salary_loan())
        .await;
    assert_eq!(st, 201, "{p}");
    p["id"].as_str().unwrap().to_string()
}

async fn customer(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn deal(c: &Client, customer: &str, product: &str) -> Value {
    let (st, d) = c
        .post(
            "/api/v1/deals",
            json!({"customer_id": customer, "product_id": product,
                   "amount_fen": 10_000_000, "term_months": 12}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    d
}

async fn stage(c: &Client, id: &str, body: Value) -> (u16, Value) {
    let (st, v) = c.post(&format!("/api/v1/deals/{id}/stage"), body).await;
    (st.as_u16(), v)
}

async fn customer_stage(c: &Client, id: &str) -> String {
    let (_, v) = c.get(&format!("/api/v1/customers/{id}")).await;
    v["stage"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_deal_moves_through_the_pipeline_with_its_fields_history_and_customer() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let p = product(&admin).await;
    let c = customer(&xiao, "钱七", "13800138000").await;

    // Creation: the product must exist and be active, the amount sensible.
    let (st, e) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c, "product_id": "nope", "amount_fen": 1, "term_months": 12}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("product_id"))
    );
    let (st, e) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c, "product_id": p, "amount_fen": 0, "term_months": 12}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("amount_fen"))
    );
    let (st, e) = xiao
        .post(
            "/api/v1/deals",
            json!({"customer_id": c, "product_id": p, "amount_fen": 1, "term_months": 12,
                   "officer": "x"}),
        )
        .await;
    assert_eq!(st, 400, "an unknown field is refused: {e}");
    let d = deal(&xiao, &c, &p).await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["stage"], "invited");
    assert_eq!(
        d["product"]["name"], "工薪贷",
        "a snapshot of the product: {d}"
    );
    assert_eq!(d["officer_name"], "xiao");
    assert_eq!(
        customer_stage(&xiao, &c).await,
        "invited",
        "the customer follows"
    );

    // Illegal: skipping to submitted; a required field missing names it.
    let (st, e) = stage(&xiao, id, json!({"stage": "submitted"})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("deal_stage_illegal")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("邀约"),
        "{e}"
    );
    let (st, e) = stage(&xiao, id, json!({"stage": "withdrawn"})).await;
    assert_eq!((st, &e["error"]["field"]), (400, &json!("reason")), "{e}");

    // 签约 without a contract: refused; a salesperson may not override.
    let (st, v) = stage(&xiao, id, json!({"stage": "visited", "note": "到店面谈"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(customer_stage(&xiao, &c).await, "visited");
    let (st, e) = stage(&xiao, id, json!({"stage": "signed"})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("deal_contract_required")),
        "{e}"
    );
    let (st, e) = stage(
        &xiao,
        id,
        json!({"stage": "signed", "override": true, "reason": "原件已收"}),
    )
    .await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (403, &json!("deal_override_forbidden")),
        "{e}"
    );
    // The manager (admin here) overrides with a reason: audited.
    let (st, e) = stage(&admin, id, json!({"stage": "signed", "override": true})).await;
    assert_eq!((st, &e["error"]["field"]), (400, &json!("reason")), "{e}");
    let (st, v) = stage(
        &admin,
        id,
        json!({"stage": "signed", "override": true, "reason": "合同原件已收，系统补录"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(customer_stage(&xiao, &c).await, "signed");
    let (_, audit) = admin.get("/api/v1/audit?action=deal.override").await;
    let row = &audit["items"][0];
    assert_eq!(row["target"], *id, "{audit}");
    assert_eq!(row["detail"]["reason"], "合同原件已收，系统补录");

    let (st, _) = stage(&xiao, id, json!({"stage": "submitted"})).await;
    assert_eq!(st, 200);
    let (st, e) = stage(&xiao, id, json!({"stage": "approved"})).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("approved_amount_fen")),
        "{e}"
    );
    // A misspelt field is refused, not dropped; so is a missing or unknown stage.
    let (st, e) = stage(
        &xiao,
        id,
        json!({"stage": "approved", "approved_amount": 1}),
    )
    .await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (400, &json!("validation")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approved_amount"),
        "{e}"
    );
    for body in [json!({}), json!({"stage": "lent"})] {
        let (st, e) = stage(&xiao, id, body).await;
        assert_eq!(st, 400, "{e}");
    }
    let (st, _) = stage(
        &xiao,
        id,
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(customer_stage(&xiao, &c).await, "signed");

    let disbursed = json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_000,
        "disbursed_on": "2026-11-20", "rate_bp": 1200, "term_months": 12,
        "method": "annuity", "first_repayment_date": "2026-12-20"});
    for field in [
        "disbursed_amount_fen",
        "disbursed_on",
        "rate_bp",
        "term_months",
        "method",
        "first_repayment_date",
    ] {
        let mut body = disbursed.clone();
        body.as_object_mut().unwrap().remove(field);
        let (st, e) = stage(&xiao, id, body).await;
        assert_eq!((st, &e["error"]["field"]), (400, &json!(field)), "{e}");
    }
    // A bad query parameter too (it was a bare "请求无效").
    let (st, e) = xiao.get("/api/v1/deals?cursor=zzz").await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("cursor")),
        "a malformed cursor is refused, not read as the first page: {e}"
    );
    for (query, field) in [("limit=abc", "limit"), ("stage=bogus", "stage")] {
        let (st, e) = xiao.get(&format!("/api/v1/deals?{query}")).await;
        assert_eq!(
            (
                st.as_u16(),
                e["error"]["code"].as_str(),
                e["error"]["field"].as_str()
            ),
            (400, Some("validation"), Some(field)),
            "{query}: {e}"
        );
    }
    // A wrong or unknown field is refused naming it.
    for (key, value) in [
        ("disbursed_on", json!("2026-13-45")),
        ("method", json!("weird")),
        ("bogus", json!(1)),
        ("override", json!("yes")),
    ] {
        let mut body = disbursed.clone();
        body[key] = value;
        let (st, e) = stage(&xiao, id, body).await;
        assert_eq!((st, &e["error"]["field"]), (400, &json!(key)), "{key}: {e}");
    }
    // Paid out on a day that has come (the clock is 2026-11-20), since 1900.
    for day in ["2026-11-21", "0001-01-01"] {
        let mut body = disbursed.clone();
        body["disbursed_on"] = json!(day);
        body["first_repayment_date"] = json!("2026-12-21");
        let (st, e) = stage(&xiao, id, body).await;
        assert_eq!(
            (st, &e["error"]["field"]),
            (400, &json!("disbursed_on")),
            "{day}: {e}"
        );
    }
    let mut too_much = disbursed.clone();
    too_much["disbursed_amount_fen"] = json!(8_000_001);
    let (st, e) = stage(&xiao, id, too_much).await;
    assert_eq!(
        (st, &e["error"]["field"]),
        (400, &json!("disbursed_amount_fen")),
        "{e}"
    );
    let (st, v) = stage(&xiao, id, disbursed).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(customer_stage(&xiao, &c).await, "won");

    // The schedule and the comprehensive cost: ¥80,000, 12 months, 12% annuity, a 3% service
    // fee (¥2,400) paid at disbursement.
    let (_, v) = xiao.get(&format!("/api/v1/deals/{id}")).await;
    let sched = &v["schedule"];
    assert_eq!(sched["periods"].as_array().unwrap().len(), 12, "{v}");
    assert_eq!(sched["total_principal_fen"], 8_000_000);
    assert_eq!(sched["service_fee_fen"], 240_000);
    let cost = sched["comprehensive_cost_bp"].as_i64().unwrap();
    assert!((1_750..1_800).contains(&cost), "above the 12% rate: {cost}");
    assert!(
        sched["cost_warning"].is_null(),
        "under the default 24% line: {sched}"
    );
    assert_eq!(sched["over_cap"], false);

    // 收费 follows the money: not by hand while the fee is owed; waiving (or paying) the rest
    // moves the deal there.
    let (st, e) = stage(&xiao, id, json!({"stage": "fee_collected"})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("fee_not_collected")),
        "{e}"
    );
    let (_, v) = xiao.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(v["stage"], "disbursed");
    let (st, f) = admin
        .post(
            &format!("/api/v1/deals/{id}/fee-waivers"),
            json!({"amount_fen": 240_000, "reason": "老客户全免"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &f["stage"]),
        (201, &json!("fee_collected")),
        "{f}"
    );
    let (st, e) = stage(&xiao, id, json!({"stage": "withdrawn", "reason": "x"})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (409, &json!("deal_stage_illegal")),
        "{e}"
    );

    // The history: who, from, to, the override reason.
    let (_, v) = xiao.get(&format!("/api/v1/deals/{id}")).await;
    let moves: Vec<(Value, Value)> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (Value::Null, json!("invited")),
            (json!("invited"), json!("visited")),
            (json!("visited"), json!("signed")),
            (json!("signed"), json!("submitted")),
            (json!("submitted"), json!("approved")),
            (json!("approved"), json!("disbursed")),
            (json!("disbursed"), json!("fee_collected")),
        ]
    );
    assert_eq!(v["history"][1]["note"], "到店面谈");
    assert_eq!(v["history"][2]["override_reason"], "合同原件已收，系统补录");
    assert_ne!(
        v["history"][2]["by"], v["history"][1]["by"],
        "the manager moved it"
    );
    let (_, audit) = admin.get("/api/v1/audit?action=deal.stage_changed").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 6, "{audit}");

    // The customer's timeline shows the stage changes the deal caused.
    let (_, tl) = xiao.get(&format!("/api/v1/customers/{c}/timeline")).await;
    let text = tl.to_string();
    assert!(text.contains("随业务单"), "{tl}");
}

#[tokio::test]
async fn the_customer_follows_its_most_advanced_open_deal() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = product(&admin).await;
    let c = customer(&admin, "孙八", "13900139000").await;
    let a = deal(&admin, &c, &p).await;
    let b = deal(&admin, &c, &p).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let (st, _) = stage(&admin, a, json!({"stage": "visited"})).await;
    assert_eq!(st, 200);
    let (st, _) = stage(
        &admin,
        a,
        json!({"stage": "signed", "override": true, "reason": "补录"}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = stage(&admin, a, json!({"stage": "submitted"})).await;
    assert_eq!(st, 200);
    assert_eq!(customer_stage(&admin, &c).await, "signed");
    // B moving to visited does not pull the customer back: A is further.
    let (st, _) = stage(&admin, b, json!({"stage": "visited"})).await;
    assert_eq!(st, 200);
    assert_eq!(customer_stage(&admin, &c).await, "signed");
    // A rejected: B is now the most advanced open deal.
    let (st, v) = stage(
        &admin,
        a,
        json!({"stage": "rejected", "reason": "征信查询过多"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["closed_reason"], "征信查询过多");
    assert_eq!(customer_stage(&admin, &c).await, "visited");
    // B withdrawn too: no open deal; the customer keeps the stage it had.
    let (st, _) = stage(
        &admin,
        b,
        json!({"stage": "withdrawn", "reason": "客户不需要了"}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(customer_stage(&admin, &c).await, "visited");

    // The deal funnel counts both deals by their officer, passing through and closing.
    let (st, f) = admin
        .get("/api/v1/funnels/deals?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(st, 200, "{f}");
    let reached: Vec<u64> = f["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reached"].as_u64().unwrap())
        .collect();
    // invited, visited, signed, submitted, approved, disbursed, fee_collected
    assert_eq!(reached, [2, 2, 1, 1, 0, 0, 0], "{f}");
    assert_eq!(f["outcomes"], json!({"rejected": 1, "withdrawn": 1}));
    assert_eq!(
        f["reasons"],
        json!([{"stage": "withdrawn", "reason": "客户不需要了", "count": 1},
               {"stage": "rejected", "reason": "征信查询过多", "count": 1}]),
        "the reasons given, counted (ties by the reason's text)"
    );
    assert_eq!(
        f["stages"][1]["conversion_bp"], 5000,
        "1 of 2 visited signed"
    );

    let (_, list) = admin.get(&format!("/api/v1/customers/{c}/deals")).await;
    assert_eq!(list["total"], 2, "{list}");
    let (_, list) = admin.get("/api/v1/deals?stage=rejected").await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], *a);
    // A closed deal is not edited.
    let (st, e) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/deals/{a}"),
            Some(json!({"amount_fen": 1})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("deal_closed"))
    );
}

#[tokio::test]
async fn deals_are_scoped_like_customers() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let east = common::add_department(&s, "东区", None);
    let a_id = common::add_user(&s, "sales_a", &["sales"], Some(&east));
    common::add_user(&s, "sales_b", &["sales"], Some(&east));
    let helper = common::add_user(&s, "helper", &["sales"], Some(&east));
    common::add_user(&s, "boss", &["manager"], Some(&east));
    let sa = s.login("sales_a", TEAM_PASSWORD).await;
    let sb = s.login("sales_b", TEAM_PASSWORD).await;
    let sh = s.login("helper", TEAM_PASSWORD).await;
    let boss = s.login("boss", TEAM_PASSWORD).await;
    let p = product(&admin).await;
    let c = customer(&sa, "周九", "13700137000").await;

    // B may not open a deal on A's customer (404 like the customer), nor name another
    // officer they do not see.
    let (st, _) = sb
        .post(
            "/api/v1/deals",
            json!({"customer_id": c, "product_id": p, "amount_fen": 100, "term_months": 12}),
        )
        .await;
    assert_eq!(st, 404);
    let (st, e) = sa
        .post(
            "/api/v1/deals",
            json!({"customer_id": c, "product_id": p, "amount_fen": 10_000_000, "term_months": 12,
                   "officer_id": helper}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["field"]),
        (400, &json!("officer_id"))
    );

    let d = deal(&sa, &c, &p).await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["officer_id"], a_id);

    // B: 404 in get, move, edit; absent from list, board and the customer's deals.
    let (st, _) = sb.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(st, 404);
    let (st, _) = stage(&sb, id, json!({"stage": "visited"})).await;
    assert_eq!(st, 404);
    let (st, _) = sb
        .call(
            Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(json!({"amount_fen": 5})),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = sb.get(&format!("/api/v1/customers/{c}/deals")).await;
    assert_eq!(st, 404);
    let (_, list) = sb.get("/api/v1/deals").await;
    assert_eq!(
        (
            list["total"].as_u64(),
            list["items"].as_array().unwrap().len()
        ),
        (Some(0), 0)
    );
    let (_, list) = sb.get(&format!("/api/v1/deals?officer={a_id}")).await;
    assert_eq!(list["total"], 0, "{list}");
    let (_, board) = sb.get("/api/v1/deals/board").await;
    let invited = &board["columns"][0];
    assert_eq!(
        (invited["stage"].as_str(), invited["count"].as_u64()),
        (Some("invited"), Some(0))
    );
    assert!(invited["cards"].as_array().unwrap().is_empty());

    // A and A's manager see it; so does an assistant once added (not the customer though).
    for c in [&sa, &boss] {
        let (_, board) = c.get("/api/v1/deals/board").await;
        assert_eq!(board["columns"][0]["count"], 1, "{board}");
        assert_eq!(board["columns"][0]["cards"][0]["id"], *id);
        let (_, list) = c.get("/api/v1/deals?stage=invited").await;
        assert_eq!(list["total"], 1, "{list}");
    }
    let (st, v) = sa
        .call(
            Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(json!({"assistant_id": helper, "amount_fen": 9_000_000})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["assistant_name"], "helper");
    let (st, _) = sh.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(st, 200);
    let (_, board) = sh.get("/api/v1/deals/board").await;
    assert_eq!(
        board["columns"][0]["count"], 1,
        "assistant-only deals are counted: {board}"
    );
    let (_, list) = sh.get("/api/v1/deals").await;
    assert_eq!(list["total"], 1, "{list}");
    // The assistant moves it; the customer (not theirs) follows all the same.
    let (st, _) = stage(&sh, id, json!({"stage": "visited"})).await;
    assert_eq!(st, 200);
    assert_eq!(customer_stage(&sa, &c).await, "visited");
    let (_, audit) = admin.get("/api/v1/audit?action=deal.updated").await;
    assert_eq!(
        audit["items"][0]["detail"]["fields"],
        json!(["amount_fen", "assistant_id"]),
        "{audit}"
    );
    // Removing the assistant takes the deal out of their sight.
    let (st, _) = sa
        .call(
            Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(json!({"assistant_id": null})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = sh.get(&format!("/api/v1/deals/{id}")).await;
    assert_eq!(st, 404);
    // The deal funnel: A's deal counts for A and their manager, not for B.
    let url = "/api/v1/funnels/deals?from=2026-11-01&to=2026-11-30";
    let invited = |f: &Value| f["stages"][0]["reached"].as_u64().unwrap();
    let (_, fa) = sa.get(url).await;
    let (_, fb) = sb.get(url).await;
    let (_, fboss) = boss.get(url).await;
    assert_eq!(
        (invited(&fa), invited(&fb), invited(&fboss)),
        (1, 0, 1),
        "{fb}"
    );
}

#[tokio::test]
async fn lists_page_from_the_keys_newest_first() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = product(&admin).await;
    let c = customer(&admin, "吴十", "13600136000").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            deal(&admin, &c, &p).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids.reverse();
    for filter in ["", "stage=invited&", &format!("customer={c}&")] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (st, page) = admin
                .get(&format!("/api/v1/deals?{filter}limit=2{cursor}"))
                .await;
            assert_eq!(st, 200, "{page}");
            assert_eq!(page["total"], 5, "{filter}: {page}");
            for d in page["items"].as_array().unwrap() {
                seen.push(d["id"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{filter}");
    }
    let (st, e) = admin.get("/api/v1/deals?limit=0").await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("limit")));
}

/// Issue 16.9: the default pool rule never recalls a customer whose most advanced open deal
/// is past 进件 (approved, disbursed, collected); a deal only at 进件 protects nothing. Both the
/// preview and the real sweep (which re-decides in its write transaction) hold it.
#[tokio::test]
async fn the_default_pool_rule_keeps_customers_with_an_approved_deal() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let p = product(&admin).await;
    let (st, pool) = admin
        .post(
            "/api/v1/pools",
            json!({"name": "全公司公海", "department_id": null, "settings": {}}),
        )
        .await;
    assert_eq!(st, 201, "{pool}");
    let approved = customer(&xiao, "甲", "13500135001").await;
    let submitted = customer(&xiao, "乙", "13500135002").await;
    let rejected = customer(&xiao, "丙", "13500135003").await;
    let mut deals = Vec::new();
    for c in [&approved, &submitted, &rejected] {
        let d = deal(&xiao, c, &p).await["id"].as_str().unwrap().to_string();
        for body in [
            json!({"stage": "signed", "override": true, "reason": "补录"}),
            json!({"stage": "submitted"}),
        ] {
            let (st, v) = stage(&admin, &d, body).await;
            assert_eq!(st, 200, "{v}");
        }
        deals.push(d);
    }
    let (st, _) = stage(
        &admin,
        &deals[0],
        json!({"stage": "approved", "approved_amount_fen": 5_000_000}),
    )
    .await;
    assert_eq!(st, 200);
    // An approved deal that is then rejected protects nothing any more.
    for body in [
        json!({"stage": "approved", "approved_amount_fen": 5_000_000}),
        json!({"stage": "rejected", "reason": "放款前复核未通过"}),
    ] {
        let (st, _) = stage(&admin, &deals[2], body).await;
        assert_eq!(st, 200);
    }

    let later = s.app.now() + chrono::Duration::days(120);
    let at = later
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .replace('+', "%2B");
    let (st, plan) = admin
        .post(
            &format!("/api/v1/pools/sweep?dry_run=true&as_of={at}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{plan}");
    let recalled = |r: &Value| -> Vec<String> {
        let mut v: Vec<String> = r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "recall")
            .map(|a| a["customer_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut expected = vec![submitted.clone(), rejected.clone()];
    expected.sort();
    assert_eq!(recalled(&plan), expected, "{plan}");

    // Trying the rule on a customer (plugins page) sees the deal as the sweep does.
    for (c, keep) in [(&approved, true), (&submitted, false)] {
        let (st, r) = admin
            .post(
                "/api/v1/plugins/pool/test",
                json!({"hook": "pool.recall", "customer_id": c,
                       "now": later.to_rfc3339()}),
            )
            .await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["decision"]["keep"] == json!(true), keep, "{r}");
    }

    s.clock.advance(chrono::Duration::days(120));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, done) = admin
        .post("/api/v1/pools/sweep?dry_run=false", json!({}))
        .await;
    assert_eq!(st, 200, "{done}");
    let (_, kept) = admin.get(&format!("/api/v1/customers/{approved}")).await;
    assert!(kept["owner_id"].is_string(), "still owned: {kept}");
    let (_, gone) = admin.get(&format!("/api/v1/customers/{submitted}")).await;
    assert!(gone["owner_id"].is_null(), "recalled: {gone}");
}

/// Every id of a deal list, all pages followed.
async fn all_ids(c: &Client, query: &str) -> (Vec<String>, u64) {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    let mut total = None;
    loop {
        let (st, page) = c
            .get(&format!("/api/v1/deals?{query}&limit=3{cursor}"))
            .await;
        assert_eq!(st, 200, "{page}");
        total.get_or_insert(page["total"].as_u64().unwrap());
        for d in page["items"].as_array().unwrap() {
            ids.push(d["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    (ids, total.unwrap())
}

/// The counters and keys against a plain count: after random creations, moves, officer and
/// assistant changes, every user's board counts, list totals and pages (whole, and per stage)
/// equal what filtering every deal by that user's scope gives.
#[tokio::test]
async fn counts_and_pages_match_a_plain_filter_after_random_changes() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    let a = common::add_user(&s, "east_a", &["sales"], Some(&east));
    let b = common::add_user(&s, "east_b", &["sales"], Some(&east));
    let w = common::add_user(&s, "west_w", &["sales"], Some(&west));
    common::add_user(&s, "east_boss", &["manager"], Some(&east));
    let users = [a.clone(), b.clone(), w.clone()];
    // Who each login sees (its own id, or the east department's people).
    let viewers = [
        ("east_a", vec![a.clone()]),
        ("east_b", vec![b.clone()]),
        ("west_w", vec![w.clone()]),
        ("east_boss", vec![a.clone(), b.clone()]),
    ];
    let p = product(&admin).await;
    let mut customers = Vec::new();
    for (i, owner) in users.iter().enumerate() {
        let (st, c) = admin
            .post(
                "/api/v1/customers",
                json!({"name": format!("客户{i}"), "phone": format!("1360000000{i}"),
                       "owner_id": owner}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        customers.push(c["id"].as_str().unwrap().to_string());
    }
    let mut seed = 0x1604_u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..40 {
        match next(4) {
            0 | 1 if ids.len() < 14 => {
                let k = next(3) as usize;
                let assistant = (next(3) == 0).then(|| users[next(3) as usize].clone());
                let (st, d) = admin
                    .post(
                        "/api/v1/deals",
                        json!({"customer_id": customers[k], "product_id": p,
                               "amount_fen": 1_000_000, "term_months": 12,
                               "officer_id": users[next(3) as usize],
                               "assistant_id": assistant}),
                    )
                    .await;
                assert_eq!(st, 201, "{d}");
                ids.push(d["id"].as_str().unwrap().to_string());
            }
            2 if !ids.is_empty() => {
                let id = &ids[next(ids.len() as u64) as usize];
                let (_, d) = admin.get(&format!("/api/v1/deals/{id}")).await;
                let offered = d["next_stages"].as_array().unwrap();
                if offered.is_empty() {
                    continue;
                }
                let to = offered[next(offered.len() as u64) as usize]
                    .as_str()
                    .unwrap();
                let body = json!({"stage": to, "override": true, "reason": "测试",
                    "approved_amount_fen": 1_000_000, "disbursed_amount_fen": 1_000_000,
                    "disbursed_on": "2026-11-20", "rate_bp": 1000, "term_months": 12,
                    "method": "annuity", "first_repayment_date": "2026-12-20"});
                let (st, v) = stage(&admin, id, body).await;
                assert_eq!(st, 200, "{to}: {v}");
            }
            _ if !ids.is_empty() => {
                let id = &ids[next(ids.len() as u64) as usize];
                let assistant = (next(2) == 0).then(|| users[next(3) as usize].clone());
                let (st, v) = admin
                    .call(
                        Method::PATCH,
                        &format!("/api/v1/deals/{id}"),
                        Some(json!({"officer_id": users[next(3) as usize],
                                    "assistant_id": assistant})),
                    )
                    .await;
                assert!(st == 200 || st == 409, "{v}");
            }
            _ => {}
        }
    }
    // The truth: every deal as the administrator reads it.
    let mut all = Vec::new();
    for id in &ids {
        let (_, d) = admin.get(&format!("/api/v1/deals/{id}")).await;
        all.push(d);
    }
    // What `zhudai doctor` recounts agrees; a tampered counter is reported.
    let drift = s.app.store.read(zhudai::store::deals::drift).unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    // The walk reached what it is meant to check.
    assert!(ids.len() >= 8, "{} deals", ids.len());
    assert!(all.iter().filter(|d| d["stage"] != "invited").count() >= 3);
    assert!(
        all.iter()
            .any(|d| { d["assistant_id"].is_string() && d["assistant_id"] != d["officer_id"] })
    );
    for (login, seen) in &viewers {
        let c = s.login(login, TEAM_PASSWORD).await;
        let visible: Vec<&Value> = all
            .iter()
            .filter(|d| {
                seen.iter()
                    .any(|u| d["officer_id"] == json!(u) || d["assistant_id"] == json!(u))
            })
            .collect();
        let mut expected: Vec<String> = visible
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        expected.sort_unstable_by(|x, y| y.cmp(x));
        let (got, total) = all_ids(&c, "").await;
        assert_eq!(
            (got, total),
            (expected.clone(), expected.len() as u64),
            "{login}"
        );
        let (_, board) = c.get("/api/v1/deals/board").await;
        for col in board["columns"].as_array().unwrap() {
            let st = col["stage"].as_str().unwrap();
            let mut want: Vec<String> = visible
                .iter()
                .filter(|d| d["stage"] == st)
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect();
            want.sort_unstable_by(|x, y| y.cmp(x));
            assert_eq!(col["count"], want.len(), "{login} {st}");
            let cards: Vec<&str> = col["cards"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap())
                .collect();
            assert_eq!(cards, want, "{login} {st} cards");
            let (got, total) = all_ids(&c, &format!("stage={st}")).await;
            assert_eq!(
                (got, total),
                (want, col["count"].as_u64().unwrap()),
                "{login} {st}"
            );
        }
    }
    // Tampered: reported.
    s.app
        .store
        .write(|tx| {
            tx.open_table(zhudai::store::tables::DEAL_COUNTS)?
                .insert(("*", "invited"), 999)?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    let drift = s.app.store.read(zhudai::store::deals::drift).unwrap();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(
        drift[0].starts_with("deal count */invited: 999"),
        "{drift:?}"
    );
}

/// A deal stays inside what its product lends: the amount and term asked (on creation and
/// on edit) and the disbursement (method, amount, term). A probe made a 1-fen, 1-month deal on
/// a ¥10,000 / 12-month product and disbursed it by a method the product does not offer.
#[tokio::test]
async fn a_deal_stays_inside_its_products_ranges() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = product(&admin).await; // ¥10,000–¥300,000, 12–36 months, annuity / equal principal
    let c = customer(&admin, "钱七", "13800138000").await;
    for (amount, term, field) in [
        (1, 12, "amount_fen"),
        (999_999, 12, "amount_fen"),
        (30_000_001, 12, "amount_fen"),
        (10_000_000, 1, "term_months"),
        (10_000_000, 37, "term_months"),
    ] {
        let (st, e) = admin
            .post(
                "/api/v1/deals",
                json!({"customer_id": c, "product_id": p, "amount_fen": amount,
                       "term_months": term}),
            )
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["field"].as_str()),
            (400, Some(field)),
            "{amount} fen, {term} months: {e}"
        );
    }
    let (_, list) = admin.get("/api/v1/deals").await;
    assert_eq!(list["total"], 0, "nothing written: {list}");
    // The edges are inside.
    for (amount, term) in [(1_000_000, 12), (30_000_000, 36)] {
        let (st, d) = admin
            .post(
                "/api/v1/deals",
                json!({"customer_id": c, "product_id": p, "amount_fen": amount,
                       "term_months": term}),
            )
            .await;
        assert_eq!(st, 201, "{d}");
    }
    let d = deal(&admin, &c, &p).await;
    let id = d["id"].as_str().unwrap();
    let (st, e) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(json!({"term_months": 6})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("term_months")),
        "{e}"
    );
    for body in [
        json!({"stage": "visited"}),
        json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
    ] {
        assert_eq!(stage(&admin, id, body).await.0, 200);
    }
    let disbursed = |method: &str, amount: i64, term: u32| {
        json!({"stage": "disbursed", "disbursed_amount_fen": amount,
               "disbursed_on": "2026-11-19", "rate_bp": 1000, "term_months": term,
               "method": method, "first_repayment_date": "2026-12-19"})
    };
    let (st, e) = stage(&admin, id, disbursed("bullet", 8_000_000, 12)).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("method")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("annuity"),
        "{e}"
    );
    let (st, v) = stage(&admin, id, disbursed("equal_principal", 8_000_000, 24)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["stage"], "disbursed");
}

/// Moves a new deal (by a manager) to 放款: ¥80,000 approved and disbursed, 12 months at 12%
/// annuity, on `on` with the first repayment on `first`.
async fn disburse(manager: &Client, id: &str, on: &str, first: &str) {
    for body in [
        json!({"stage": "visited"}),
        json!({"stage": "signed", "override": true, "reason": "合同原件已收"}),
        json!({"stage": "submitted"}),
        json!({"stage": "approved", "approved_amount_fen": 8_000_000}),
        json!({"stage": "disbursed", "disbursed_amount_fen": 8_000_000,
               "disbursed_on": on, "rate_bp": 1200, "term_months": 12,
               "method": "annuity", "first_repayment_date": first}),
    ] {
        let (st, v) = stage(manager, id, body).await;
        assert_eq!(st, 200, "{v}");
    }
}

/// Issue 16.8: a disbursed deal reminds its officer before the first repayment, two months
/// before maturity (a renewal) and before the maturity; no one else sees them.
#[tokio::test]
async fn a_disbursed_deal_reminds_its_officer_of_its_key_dates() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "xiao", &["sales"], None);
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let p = product(&admin).await;
    let c = customer(&admin, "钱九", "13600136001").await;
    let d = deal(&admin, &c, &p).await;
    let id = d["id"].as_str().unwrap();
    // The test clock is 2026-11-20: the first repayment in 3 days, 12 months.
    disburse(&admin, id, "2026-11-20", "2026-11-23").await;
    let (st, today) = admin.get("/api/v1/deals/reminders").await;
    assert_eq!(st, 200, "{today}");
    assert_eq!(
        today,
        json!([{"deal_id": id, "customer_id": c, "customer_name": "钱九", "product": "工薪贷",
                "kind": "first_payment", "date": "2026-11-23", "remind_on": "2026-11-20",
                "amount_fen": 8_000_000}]),
    );
    let (_, week) = admin.get("/api/v1/deals/reminders?due=week").await;
    assert_eq!(week, json!([]));
    let (_, theirs) = xiao.get("/api/v1/deals/reminders").await;
    assert_eq!(theirs, json!([]), "only the officer's");

    // 2027-08-23: two months before the maturity (2027-10-23), a renewal opportunity.
    s.clock.advance(chrono::Duration::days(276));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, today) = admin.get("/api/v1/deals/reminders").await;
    let kinds: Vec<(&str, &str)> = today
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["date"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("renewal", "2027-10-23")], "{today}");
    // 2027-10-16: the maturity in 7 days.
    s.clock.advance(chrono::Duration::days(54));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, today) = admin.get("/api/v1/deals/reminders").await;
    assert_eq!(today[0]["kind"], "maturity", "{today}");
    // After the maturity, nothing is left to remind.
    s.clock.advance(chrono::Duration::days(8));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, today) = admin.get("/api/v1/deals/reminders").await;
    assert_eq!(today, json!([]));
}

/// Issue 16.7 (part): a disbursed deal whose comprehensive cost is above the firm's warning line
/// or cap (`[loans]`) says so on the deal.
#[tokio::test]
async fn a_deal_above_the_firms_cost_limits_is_flagged() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.loans.cost_warn_bp = 1500;
    config.loans.cost_cap_bp = 1700;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let p = product(&admin).await;
    let c = customer(&admin, "吴十", "13600136002").await;
    let d = deal(&admin, &c, &p).await;
    let id = d["id"].as_str().unwrap();
    disburse(&admin, id, "2026-11-20", "2026-12-20").await;
    let (_, v) = admin.get(&format!("/api/v1/deals/{id}")).await;
    let sched = &v["schedule"];
    assert_eq!(sched["over_cap"], true, "about 17.7% > 17%: {sched}");
    let warning = sched["cost_warning"].as_str().unwrap();
    assert!(warning.contains("超过本机构上限 17.00%"), "{warning}");
}
