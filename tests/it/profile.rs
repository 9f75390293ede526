//! The qualification profile (资质): imported from the columns `zhudai demo --csv` writes (and
//! the new fields' usual headers), read back through the API.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;
use crate::import::upload;

use common::{ADMIN, ADMIN_PASSWORD, Fixture, TestServer};
use serde_json::json;

const CSV: &str = "姓名,手机号,贷款金额(元),贷款期限(月),贷款用途,职业,月收入(元),社保月数,公积金月数,公积金基数(元),有房,房产价值(元),有车,近2年逾期次数,近3月查询次数,近6月查询次数,负债(元),房产已抵押,车辆价值(元),当前逾期,近1月查询次数,信用卡使用率(%),营业执照月数,年纳税额(元),纳税等级,年营业额(元)\n\
张三,13800138000,300000,36,经营周转,business_owner,25000.50,24,12,8000,是,1500000,有,1,2,5,120000,Y,200000,否,1,65%,48,30000,B,5000000\n\
李四,13900139000,100000,12,消费,上班族,8000,6,0,,否,,无,0,0,0,0,,,N,0,0,,,,\n\
王五,13700137000,,,,employee,5000,12,,,也许,,,,,,,,,,,,,,,\n\
赵六,13600136000,,,,employee,5000,12,,,,,,,3,2,,,,,,,,,,\n";

#[tokio::test]
async fn demo_csv_columns_import_into_the_typed_profile() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = upload(&admin, "", CSV.as_bytes().to_vec()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["created"], 2, "{r}");
    let errors: Vec<(u64, &str, &str)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap(),
                e["label"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (4, "profile.has_property", "有房"),
            (5, "profile.credit.inquiries_6m", "近6月查询次数"),
        ],
        "a bad yes/no cell and a domain rule reject the row naming the column: {r}"
    );
    assert!(
        r["errors"][0]["reason"].as_str().unwrap().contains("有房"),
        "{r}"
    );

    let (_, page) = admin.get("/api/v1/customers?q=张三").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let (st, c) = admin.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(
        c["demand"],
        json!({"amount_fen": 30_000_000, "term_months": 36, "purpose": "经营周转"})
    );
    assert_eq!(
        c["profile"],
        json!({
            "occupation": "business_owner",
            "monthly_income_fen": 2_500_050,
            "social_security_months": 24,
            "provident_fund_months": 12,
            "provident_fund_base_fen": 800_000,
            "has_property": true,
            "property_value_fen": 150_000_000,
            "property_mortgaged": true,
            "has_car": true,
            "car_value_fen": 20_000_000,
            "credit": {
                "overdue_count_2y": 1,
                "current_overdue": false,
                "inquiries_1m": 1,
                "inquiries_3m": 2,
                "inquiries_6m": 5,
                "existing_debt_fen": 12_000_000,
                "card_utilization_pct": 65
            },
            "business": {
                "licence_age_months": 48,
                "annual_tax_fen": 3_000_000,
                "tax_rating": "B",
                "annual_turnover_fen": 500_000_000
            }
        })
    );

    let (_, page) = admin.get("/api/v1/customers?q=李四").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let (_, c) = admin.get(&format!("/api/v1/customers/{id}")).await;
    let p = &c["profile"];
    assert_eq!(p["occupation"], "employee", "Chinese label mapped");
    assert_eq!(
        (p["has_property"].as_bool(), p["has_car"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(p["credit"]["current_overdue"], false);
    assert!(p["property_mortgaged"].is_null(), "empty cell left unknown");
    assert!(p["business"]["tax_rating"].is_null());
}

#[tokio::test]
async fn the_api_takes_occupation_names_and_names_a_bad_profile_field() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let cases = [
        (json!({"occupation": "开出租车"}), "profile.occupation"),
        (
            json!({"credit": {"card_utilization_pct": 101}}),
            "profile.credit.card_utilization_pct",
        ),
        (
            json!({"business": {"tax_rating": "E"}}),
            "profile.business.tax_rating",
        ),
    ];
    for (profile, field) in cases {
        let (st, r) = admin
            .post(
                "/api/v1/customers",
                json!({"name": "周七", "phone": "13500135000", "profile": profile}),
            )
            .await;
        assert_eq!(st.as_u16(), 400, "{r}");
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "周七", "phone": "13500135000",
                   "profile": {"occupation": "civil_servant", "business": {"tax_rating": "M"}}}),
        )
        .await;
    assert_eq!(st.as_u16(), 201, "{c}");
    assert_eq!(c["profile"]["occupation"], "civil_servant");
    assert_eq!(c["profile"]["business"]["tax_rating"], "M");
}
