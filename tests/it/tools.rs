//! Issue 16.6/16.7 over HTTP: `GET /tools/repayment-schedule` — the published figures, the
//! comprehensive cost with fees, every bad input answered 400 with its parameter, login
//! required (any role, or an API token).

use serde_json::{Value, json};

use crate::common;
use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};

const PATH: &str = "/api/v1/tools/repayment-schedule";
const LOAN: &str = "principal_fen=100000000&annual_rate_bp=490&months=360";

async fn schedule(c: &Client, query: &str) -> Value {
    let (st, v) = c.get(&format!("{PATH}?{query}")).await;
    assert_eq!(st, 200, "{query}: {v}");
    v
}

#[tokio::test]
async fn published_figures_over_http() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    common::add_user(&s, "sun", &["sales"], None);
    let sun = s.login("sun", common::TEAM_PASSWORD).await;

    // ¥1,000,000 · 360 months · 4.9% 等额本息: ¥5,307.27 a month, costing exactly 4.9%.
    let v = schedule(
        &sun,
        &format!("{LOAN}&method=annuity&first_date=2027-01-31"),
    )
    .await;
    assert_eq!(v["method"], "annuity");
    assert_eq!(
        (&v["principal_fen"], &v["annual_rate_bp"], &v["months"]),
        (&json!(100_000_000), &json!(490), &json!(360))
    );
    let periods = v["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 360);
    assert_eq!(
        periods[0],
        json!({"no": 1, "date": "2027-01-31", "payment_fen": 530_727, "principal_fen": 122_394,
               "interest_fen": 408_333, "balance_fen": 99_877_606})
    );
    assert_eq!(periods[1]["date"], "2027-02-28");
    assert!(periods[..359].iter().all(|p| p["payment_fen"] == 530_727));
    assert_eq!(periods[359]["balance_fen"], 0);
    assert_eq!(v["start_date"], "2026-12-31");
    assert_eq!(v["total_principal_fen"], 100_000_000);
    assert_eq!(v["total_interest_fen"], 91_061_512);
    assert_eq!(v["total_payment_fen"], 191_061_512);
    assert_eq!(v["comprehensive_cost_bp"], 490);
    assert_eq!((&v["fee_fen"], &v["total_fee_fen"]), (&json!(0), &json!(0)));

    // 等额本金: ¥6,861.11 then ¥6,849.77.
    let v = schedule(&sun, &format!("{LOAN}&method=equal_principal")).await;
    let first_two: Vec<&Value> = v["periods"].as_array().unwrap()[..2]
        .iter()
        .map(|p| &p["payment_fen"])
        .collect();
    assert_eq!(first_two, [&json!(686_111), &json!(684_977)]);
    // Without first_date: one month after today in Asia/Shanghai (the test clock's 2026-11-20).
    assert_eq!(v["first_date"], "2026-12-20");
    assert_eq!(v["comprehensive_cost_bp"], 490);

    // 到期还本付息 and 先息后本, with fees in the comprehensive cost.
    let v = schedule(
        &sun,
        "principal_fen=10000000&annual_rate_bp=1200&months=12&method=bullet&first_date=2027-01-15",
    )
    .await;
    assert_eq!(v["periods"].as_array().unwrap().len(), 1);
    assert_eq!(v["periods"][0]["date"], "2027-12-15");
    assert_eq!(v["periods"][0]["payment_fen"], 11_200_000);
    assert_eq!(v["comprehensive_cost_bp"], 1139);
    const INTEREST_ONLY: &str =
        "principal_fen=10000000&annual_rate_bp=600&months=24&method=interest_only";
    let v = schedule(&sun, &format!("{INTEREST_ONLY}&fee_monthly_fen=50000")).await;
    assert_eq!(v["comprehensive_cost_bp"], 1200);
    assert_eq!(v["total_fee_fen"], 1_200_000);
    let v = schedule(
        &sun,
        "principal_fen=10000000&annual_rate_bp=1200&months=12&method=annuity&fee_fen=200000",
    )
    .await;
    assert_eq!(v["comprehensive_cost_bp"], 1585);
    assert_eq!(
        v["total_interest_fen"],
        v["total_payment_fen"].as_i64().unwrap() - 10_000_000
    );
    s.stop().await;
}

#[tokio::test]
async fn every_bad_input_is_a_400_naming_it() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let ok = "principal_fen=100000&annual_rate_bp=490&months=12&method=annuity";
    let cases: &[(&str, &str)] = &[
        (
            "annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=&annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=0&annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=-100&annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=10000000000001&annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=1e5&annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=999999999999999999999999999999&annual_rate_bp=490&months=12&method=annuity",
            "principal_fen",
        ),
        (
            "principal_fen=100000&months=12&method=annuity",
            "annual_rate_bp",
        ),
        (
            "principal_fen=100000&annual_rate_bp=4.9&months=12&method=annuity",
            "annual_rate_bp",
        ),
        (
            "principal_fen=100000&annual_rate_bp=-1&months=12&method=annuity",
            "annual_rate_bp",
        ),
        (
            "principal_fen=100000&annual_rate_bp=100001&months=12&method=annuity",
            "annual_rate_bp",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&method=annuity",
            "months",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&months=0&method=annuity",
            "months",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&months=601&method=annuity",
            "months",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&months=99999999999&method=annuity",
            "months",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&months=12",
            "method",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&months=12&method=%E7%AD%89%E9%A2%9D",
            "method",
        ),
        (
            "principal_fen=100000&annual_rate_bp=490&months=12&method=balloon",
            "method",
        ),
    ];
    let tails: &[(&str, &str)] = &[
        ("&first_date=2027-02-30", "first_date"),
        ("&first_date=20270201", "first_date"),
        ("&first_date=3000-01-01", "first_date"),
        ("&fee_fen=-1", "fee_fen"),
        ("&fee_fen=abc", "fee_fen"),
        ("&fee_fen=10000000000001", "fee_fen"),
        ("&fee_fen=100000", "fee_fen"),
        ("&fee_monthly_fen=-1", "fee_monthly_fen"),
        ("&fee_monthly_fen=10000000000001", "fee_monthly_fen"),
        ("&months=24", "months"),
        ("&rate=490", "rate"),
    ];
    let mut queries: Vec<(String, &str)> = cases.iter().map(|(q, f)| (q.to_string(), *f)).collect();
    queries.extend(tails.iter().map(|(t, f)| (format!("{ok}{t}"), *f)));
    for (query, field) in queries {
        let (st, v) = admin.get(&format!("{PATH}?{query}")).await;
        assert_eq!(st, 400, "{query}: {v}");
        assert_eq!(v["error"]["code"], "validation", "{query}: {v}");
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "a Chinese reason: {message}"
        );
    }
    // The largest accepted inputs answer (600 periods), and quickly enough for a test.
    const LARGEST: &str = "principal_fen=10000000000000&annual_rate_bp=100000&months=600";
    const FEES: &str = "fee_fen=9999999999999&fee_monthly_fen=10000000000000";
    let v = schedule(&admin, &format!("{LARGEST}&method=annuity&{FEES}")).await;
    assert_eq!(v["periods"].as_array().unwrap().len(), 600);
    s.stop().await;
}

#[tokio::test]
async fn login_required_any_role_or_a_token() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let query = format!("{PATH}?principal_fen=100000&annual_rate_bp=490&months=12&method=annuity");
    let (st, v) = s.client().get(&query).await;
    assert_eq!(st, 401, "{v}");
    assert_eq!(v["error"]["code"], "unauthenticated");
    // Bad input from a stranger is still a 401: nothing is computed before the login check.
    let (st, _) = s.client().get(&format!("{PATH}?months=0")).await;
    assert_eq!(st, 401);

    for role in ["service", "documents", "finance"] {
        common::add_user(&s, role, &[role], None);
        let c = s.login(role, common::TEAM_PASSWORD).await;
        let (st, v) = c.get(&query).await;
        assert_eq!(st, 200, "{role}: {v}");
    }
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, token) = admin
        .post("/api/v1/tokens", json!({"name": "calculator"}))
        .await;
    assert_eq!(st, 201, "{token}");
    let secret = token["token"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .get(s.url(&query))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.stop().await;
}
