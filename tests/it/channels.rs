//! Issue 19.4: channels (渠道) with monthly costs and the ROI report, from a known fixture
//! checked figure by figure; closed months refuse cost edits; finance-only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD};
use serde_json::{Value, json};

/// The test clock's day and month in Asia/Shanghai, the firm's calendar.
fn today() -> (String, String) {
    let d = (common::epoch() + chrono::Duration::hours(8)).date_naive();
    (d.to_string(), d.format("%Y-%m").to_string())
}

fn last_month(month: &str) -> String {
    let y: i32 = month[..4].parse().unwrap();
    let m: u32 = month[5..].parse().unwrap();
    if m == 1 {
        format!("{:04}-12", y - 1)
    } else {
        format!("{y:04}-{:02}", m - 1)
    }
}

async fn customer(c: &Client, name: &str, phone: &str, channel: Option<&str>) -> String {
    let mut body = json!({"name": name, "phone": phone});
    if let Some(ch) = channel {
        body["channel"] = json!(ch);
    }
    let (st, v) = c.post("/api/v1/customers", body).await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn row<'a>(r: &'a Value, label: &str) -> &'a Value {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["label"] == label)
        .unwrap_or_else(|| panic!("no row {label}: {r}"))
}

/// (leads, valid, signed, disbursed, fees, cost, cost/lead, cost/signed, ROI bp)
fn figures(r: &Value) -> Vec<Value> {
    [
        "leads",
        "valid_leads",
        "signed",
        "disbursed_fen",
        "fees_fen",
        "cost_fen",
        "cost_per_lead_fen",
        "cost_per_signed_fen",
        "roi_bp",
    ]
    .iter()
    .map(|k| r[*k].clone())
    .collect()
}

#[tokio::test]
async fn roi_from_a_known_fixture_figure_by_figure() {
    let s = common::TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    common::add_user(&s, "cai", &["finance"], None);
    common::add_user(&s, "xiao", &["sales"], None);
    let cai = s.login("cai", TEAM_PASSWORD).await;
    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let (day, month) = today();

    // Channels: finance creates them; names are unique; a salesperson may not.
    let (st, dy) = cai
        .post(
            "/api/v1/channels",
            json!({"name": "抖音", "kind": "线上广告"}),
        )
        .await;
    assert_eq!(st, 201, "{dy}");
    let (st, dt) = cai
        .post("/api/v1/channels", json!({"name": "地推A", "kind": "地推"}))
        .await;
    assert_eq!(st, 201, "{dt}");
    let (st, e) = cai
        .post(
            "/api/v1/channels",
            json!({"name": " 抖音 ", "kind": "电销"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("channel_exists"))
    );
    let (st, e) = cai
        .post("/api/v1/channels", json!({"name": "x", "kind": "随便"}))
        .await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("kind")));
    assert_eq!(
        xiao.post("/api/v1/channels", json!({"name": "y", "kind": "地推"}))
            .await
            .0,
        403
    );
    assert_eq!(xiao.get("/api/v1/channels").await.0, 403);
    // A manager does not see the firm's channel costs either.
    let one = common::add_department(&s, "一部", None);
    common::add_user(&s, "wang", &["manager"], Some(&one));
    let wang = s.login("wang", TEAM_PASSWORD).await;
    let (st, e) = wang.get("/api/v1/reports/channels").await;
    assert_eq!(st, 403);
    // The refusal says what is missing in Chinese (the capability's own name aside).
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("全公司的数据范围"), "{message}");
    assert!(!message.contains("firm-wide"), "{message}");
    assert_eq!(xiao.get("/api/v1/reports/channels").await.0, 403);
    let (dy, dt) = (dy["id"].as_str().unwrap(), dt["id"].as_str().unwrap());

    // Costs of this month: 抖音 700 元, 地推A 500 元.
    for (id, fen) in [(dy, 70_000), (dt, 50_000)] {
        let (st, v) = cai
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/channels/{id}/costs/{month}"),
                Some(json!({"cost_fen": fen})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }

    // Leads: three from 抖音 (one typed with spaces), one from an unregistered text, one
    // without a channel.
    let a1 = customer(&admin, "钱一", "13800138001", Some("抖音")).await;
    let a2 = customer(&admin, "钱二", "13800138002", Some(" 抖音")).await;
    let _a3 = customer(&admin, "钱三", "13800138003", Some("抖音")).await;
    customer(&admin, "孙四", "13800138004", Some("朋友介绍")).await;
    customer(&admin, "李五", "13800138005", None).await;
    // a2 becomes a valid lead (qualified); a1 becomes one through its deal below.
    let (st, v) = admin
        .post(
            "/api/v1/customers/bulk",
            json!({"ids": [a2], "action": "set_stage", "stage": "qualified"}),
        )
        .await;
    assert_eq!((st.as_u16(), &v["count"]), (200, &json!(1)), "{v}");
    // Setting the stage it already has counts nothing more.
    let (st, v) = admin
        .post(
            "/api/v1/customers/bulk",
            json!({"ids": [a2], "action": "set_stage", "stage": "qualified"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    // a1's deal: signed, disbursed 80,000 元 today, fee 3% = 2,400 元; 2,000 元 paid and
    // 300 元 refunded: 1,700 元 of fees.
    let mut p = crate::products::salary_loan();
    p["fee"] = json!({"kind": "rate", "rate_bp": 300});
    p.as_object_mut().unwrap().remove("rebate_bp");
    let (st, p) = admin.post("/api/v1/products", p).await;
    assert_eq!(st, 201, "{p}");
    let (st, d) = admin
        .post(
            "/api/v1/deals",
            json!({"customer_id": a1, "product_id": p["id"], "amount_fen": 10_000_000,
                   "term_months": 12}),
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
               "disbursed_on": day, "rate_bp": 1200, "term_months": 12,
               "method": "annuity", "first_repayment_date": "2099-01-02"}),
    ] {
        let (st, v) = admin.post(&format!("/api/v1/deals/{id}/stage"), body).await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = cai
        .post(
            &format!("/api/v1/deals/{id}/payments"),
            json!({"amount_fen": 200_000, "paid_on": day, "method": "transfer",
                   "payer": "钱一", "receipt_no": "R-1"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = cai
        .post(
            &format!("/api/v1/deals/{id}/refunds"),
            json!({"amount_fen": 30_000, "refunded_on": day, "reason": "部分退费"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");

    let (st, r) = cai
        .get(&format!("/api/v1/reports/channels?from={month}&to={month}"))
        .await;
    assert_eq!(st, 200, "{r}");
    // 抖音: cost/lead 70,000 / 3 = 23,333.33 → 23,333; ROI (170,000 − 70,000) / 70,000 =
    // 1.428571… → 14,286 bp.
    assert_eq!(
        figures(row(&r, "抖音")),
        vec![
            json!(3),
            json!(2),
            json!(1),
            json!(8_000_000),
            json!(170_000),
            json!(70_000),
            json!(23_333),
            json!(70_000),
            json!(14_286)
        ],
        "{r}"
    );
    // 地推A: a cost and nothing else: ROI −100%, no per-lead or per-signed cost.
    assert_eq!(
        figures(row(&r, "地推A")),
        vec![
            json!(0),
            json!(0),
            json!(0),
            json!(0),
            json!(0),
            json!(50_000),
            Value::Null,
            Value::Null,
            json!(-10_000)
        ]
    );
    // Texts no channel is named after are their own rows: nothing is dropped; no cost, no ROI.
    let u = row(&r, "未登记渠道: 朋友介绍");
    assert_eq!(
        (&u["leads"], &u["registered"], &u["roi_bp"]),
        (&json!(1), &json!(false), &Value::Null)
    );
    assert_eq!(row(&r, "未填渠道")["leads"], 1);
    // Totals: 5 leads, cost 1,200 元 → 240 元 a lead; ROI 50,000 / 120,000 → 4,167 bp.
    assert_eq!(
        figures(&r["totals"]),
        vec![
            json!(5),
            json!(2),
            json!(1),
            json!(8_000_000),
            json!(170_000),
            json!(120_000),
            json!(24_000),
            json!(120_000),
            json!(4_167)
        ]
    );

    // An earlier month has none of it; a reversed period is refused.
    let before = last_month(&month);
    let (_, r0) = cai
        .get(&format!(
            "/api/v1/reports/channels?from={before}&to={before}"
        ))
        .await;
    assert_eq!(figures(&r0["totals"])[0], json!(0), "{r0}");
    let (st, e) = cai
        .get(&format!(
            "/api/v1/reports/channels?from={month}&to={before}"
        ))
        .await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("to")));

    // The list carries this month's costs.
    let (st, l) = cai.get("/api/v1/channels").await;
    assert_eq!(st, 200, "{l}");
    let item = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == dy)
        .unwrap();
    assert_eq!(item["costs"][&month], 70_000);
    assert_eq!(l["months"].as_array().unwrap().len(), 12);

    // A closed month's cost cannot change (like its payments).
    let (st, v) = cai
        .post(&format!("/api/v1/finance/months/{before}/close"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, e) = cai
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/channels/{dy}/costs/{before}"),
            Some(json!({"cost_fen": 1})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), &e["error"]["code"]),
        (409, &json!("month_closed"))
    );

    // Renaming 地推A to 朋友介绍 takes the unregistered row's counts.
    let (st, v) = cai
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/channels/{dt}"),
            Some(json!({"name": "朋友介绍", "kind": "转介绍"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, r) = cai
        .get(&format!("/api/v1/reports/channels?from={month}&to={month}"))
        .await;
    assert_eq!(row(&r, "朋友介绍")["leads"], 1);
    assert!(
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["registered"] == true || x["label"] == "未填渠道"),
        "{r}"
    );

    // Every change is audited.
    let (_, a) = admin.get("/api/v1/audit?action=channel.cost_set").await;
    assert!(a.to_string().contains("channel.cost_set"), "{a}");
}
