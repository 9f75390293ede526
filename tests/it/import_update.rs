//! Importing over existing customers (`on_duplicate=update`): only the columns the sheet has
//! change, every column a new row may fill is applied (name, profile, ID number), and the
//! report says per row what changed. And the summary of where rows went: pooled rows with the
//! pool and the reason, skipped duplicates with the row and the matching field.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;
use crate::import::upload;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use serde_json::{Value, json};

async fn customer(admin: &Client, id: &str) -> Value {
    let (st, c) = admin.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(st, 200, "{c}");
    c
}

async fn new_customer(admin: &Client) -> String {
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "边界1", "phone": "13700001001", "city": "成都",
                   "demand": {"amount_fen": 500_000_000, "term_months": 12, "purpose": "周转"},
                   "profile": {"monthly_income_fen": 500_000, "social_security_months": 24}}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_update_changes_only_the_columns_of_the_sheet_and_says_what_changed() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let id = new_customer(&admin).await;

    // Only the amount: the term and the purpose the sheet does not have stay.
    let (st, r) = upload(
        &admin,
        "?on_duplicate=update",
        "姓名,手机号,贷款金额(元)\n边界1,13700001001,80000\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!((st, r["updated"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(r["changes"][0]["row"], 2, "{r}");
    assert_eq!(
        r["changes"][0]["fields"],
        json!(["demand.amount_fen"]),
        "{r}"
    );
    let c = customer(&admin, &id).await;
    assert_eq!(
        c["demand"],
        json!({"amount_fen": 8_000_000, "term_months": 12, "purpose": "周转"}),
        "{c}"
    );

    // Name and a profile column; the empty city cell leaves the city as it was.
    let sheet = "姓名,手机号,城市,月收入(元)\n边界1改,13700001001,,6000\n";
    let (st, r) = upload(&admin, "?on_duplicate=update", sheet.as_bytes().to_vec()).await;
    assert_eq!((st, r["updated"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(
        r["changes"][0]["fields"],
        json!(["name", "profile.monthly_income_fen"]),
        "{r}"
    );
    let c = customer(&admin, &id).await;
    assert_eq!(c["name"], "边界1改");
    assert_eq!(c["city"], "成都");
    assert_eq!(c["profile"]["monthly_income_fen"], 600_000);
    assert_eq!(c["profile"]["social_security_months"], 24, "{c}");

    // The same sheet again changes nothing: not counted as updated.
    let (_, r) = upload(&admin, "?on_duplicate=update", sheet.as_bytes().to_vec()).await;
    assert_eq!(
        (r["updated"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );

    // An ID number fills a customer who has none (sealed and indexed: the age shows, and a
    // new row with the same ID number is a duplicate); a different one is refused.
    let (_, r) = upload(
        &admin,
        "?on_duplicate=update",
        "姓名,手机号,身份证号\n边界1改,13700001001,11010519491231002X\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!(r["updated"], 1, "{r}");
    let c = customer(&admin, &id).await;
    assert_eq!(c["id_number"], "110105********002X", "{c}");
    assert!(c["age"].as_u64().unwrap() > 70, "{c}");
    let (_, r) = upload(
        &admin,
        "",
        "姓名,手机号,身份证号\n别人,13900001002,11010519491231002X\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!(
        (r["created"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    let (_, r) = upload(
        &admin,
        "?on_duplicate=update",
        "姓名,手机号,身份证号\n边界1改,13700001001,110105195102020017\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!(
        (r["updated"].as_u64(), r["rejected"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    assert_eq!(r["errors"][0]["field"], "id_number", "{r}");
    let c = customer(&admin, &id).await;
    assert_eq!(c["id_number"], "110105********002X", "{c}");
    s.stop().await;
}

#[tokio::test]
async fn the_summary_says_where_rows_went_and_lists_skipped_duplicates() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    new_customer(&admin).await;
    let (st, p) = admin
        .post("/api/v1/pools", json!({"name": "公司公海"}))
        .await;
    assert_eq!(st, 201, "{p}");
    // Nobody takes leads in the fixture: every row goes to the pool, and the summary says so.
    let (st, r) = upload(
        &admin,
        "?assign=auto",
        "姓名,手机号\n甲,13900000001\n乙,13900000002\n边界,13700001001\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            r["created"].as_u64(),
            r["assigned"].as_u64(),
            r["pooled"].as_u64(),
            r["skipped"].as_u64()
        ),
        (Some(2), Some(0), Some(2), Some(1)),
        "{r}"
    );
    let placed = &r["placements"][0];
    assert_eq!(placed["rows"], 2, "{r}");
    assert_eq!(placed["pool_name"], "公司公海", "{r}");
    assert!(
        placed["reason"].as_str().is_some_and(|n| !n.is_empty()),
        "{r}"
    );
    // The skipped row: its line, the field that matched, the existing customer masked.
    let d = &r["duplicates"][0];
    assert_eq!(
        (d["row"].as_u64(), d["field"].as_str()),
        (Some(4), Some("phone")),
        "{r}"
    );
    let reason = d["reason"].as_str().unwrap();
    assert!(
        reason.contains("边*") && !reason.contains("边界1"),
        "{reason}"
    );
    s.stop().await;
}
