//! Importing the files agencies really have: GBK CSV with a title line, blank lines, full-width
//! digits, +86 prefixes and trailing spaces; XLSX with a merged title and phones stored as
//! numbers; duplicates inside the file and against the store; dry runs; re-runs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use serde_json::{Value, json};

async fn upload(c: &Client, query: &str, body: Vec<u8>) -> (u16, Value) {
    let r = c
        .http
        .post(format!("{}/api/v1/imports{query}", c.base))
        .header("x-csrf-token", c.csrf.clone().unwrap())
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn gbk_csv() -> Vec<u8> {
    let text = "2026年11月客户名单（市场部）\n\
姓名,手机号码,身份证号,城市,贷款金额（万元）,标签,备注\n\
张三 ,１３８００１３８０００,11010519491231002X,成都 ,30.5,有房;公积金,老客户介绍\n\
\n\
李四,+86 139-0013-9000,,重庆,50,,\n\
王五,12345,,成都,10,,号码错了\n\
赵六,13800138000,,成都,,,与第一行同号\n\
钱七,137 0013 7000,,北京,abc,,金额写错\n\
孙八,13600136000,,上海,,,\n";
    encoding_rs::GBK.encode(text).0.into_owned()
}

#[tokio::test]
async fn a_messy_gbk_csv_imports_with_row_errors_and_is_idempotent() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    // Already in the store: 孙八's phone.
    admin
        .post(
            "/api/v1/customers",
            json!({"name": "孙八", "phone": "13600136000"}),
        )
        .await;

    let (st, dry) = upload(&admin, "?dry_run=true", gbk_csv()).await;
    assert_eq!(st, 200, "{dry}");
    assert_eq!(
        (
            dry["dry_run"].as_bool(),
            dry["created"].as_u64(),
            dry["skipped"].as_u64()
        ),
        (Some(true), Some(2), Some(1)),
        "{dry}"
    );
    assert_eq!(
        admin.get("/api/v1/customers").await.1["total"],
        1,
        "a dry run writes nothing"
    );

    let (st, r) = upload(&admin, "", gbk_csv()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["rows"], 6, "blank line and title not counted: {r}");
    assert_eq!(
        (r["created"].as_u64(), r["skipped"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    let errors: Vec<(u64, &str)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [(6, "phone"), (7, "phone"), (8, "amount_wan")],
        "{r}"
    );
    assert!(
        r["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("手机号"),
        "reasons in Chinese"
    );

    let (_, page) = admin.get("/api/v1/customers?tag=有房").await;
    let zhang = &page["items"][0];
    assert_eq!(zhang["name"], "张三", "trimmed");
    assert_eq!(
        zhang["phone"], "138****8000",
        "full-width digits understood"
    );
    assert_eq!(zhang["city"], "成都");
    assert_eq!(
        zhang["demand"]["amount_fen"], 30_500_000,
        "30.5 万元 to the fen"
    );
    assert_eq!(zhang["tags"], json!(["有房", "公积金"]));
    assert_eq!(zhang["gender"], "female");

    let (_, again) = upload(&admin, "", gbk_csv()).await;
    assert_eq!(
        (again["created"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(3)),
        "running it twice adds nothing: {again}"
    );

    let (st, updated) = upload(
        &admin,
        "?on_duplicate=update",
        "姓名,手机号,城市\n张三,13800138000,绵阳\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!(
        (st, updated["updated"].as_u64()),
        (200, Some(1)),
        "{updated}"
    );
    let (_, page) = admin.get("/api/v1/customers?tag=有房").await;
    assert_eq!(page["items"][0]["city"], "绵阳");

    let (_, audit) = admin.get("/api/v1/audit?action=customer.imported").await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        3,
        "dry runs are not imports"
    );
    assert_eq!(audit["items"][2]["detail"]["created"], 2);
    s.stop().await;
}

#[tokio::test]
async fn xlsx_with_merged_title_and_numeric_phones() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet
        .merge_range(
            0,
            0,
            0,
            3,
            "客户资料导入表",
            &rust_xlsxwriter::Format::new(),
        )
        .unwrap();
    for (c, h) in ["客户姓名", "联系电话", "所在城市", "贷款金额(元)"]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    sheet.write_string(2, 0, "周九").unwrap();
    sheet.write_number(2, 1, 13500135000.0).unwrap(); // Excel turned the phone into a number
    sheet.write_string(2, 2, "深圳").unwrap();
    sheet.write_number(2, 3, 200000.0).unwrap();
    sheet.write_string(3, 0, "吴十").unwrap();
    sheet.write_string(3, 1, "13500135001.0").unwrap(); // …or kept "…0.0" as text
    // A stray cell at the very last column and row: must not make the reader allocate the
    // whole 1,048,576 × 16,384 grid (ignored: beyond the columns we read).
    sheet.write_string(1_048_575, 16_383, "x").unwrap();
    let (st, r) = upload(&admin, "", book.save_to_buffer().unwrap()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["created"].as_u64(), r["errors"].as_array().unwrap().len()),
        (Some(2), 0),
        "{r}"
    );
    let (_, page) = admin.get("/api/v1/customers").await;
    let zhou = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "周九")
        .unwrap();
    assert_eq!(
        (
            zhou["phone"].as_str(),
            zhou["demand"]["amount_fen"].as_i64()
        ),
        (Some("135****5000"), Some(20_000_000))
    );
    s.stop().await;
}

#[tokio::test]
async fn imports_need_the_capability_a_header_and_respect_the_size_limit() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.server.import_limit_bytes = 4096;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    s.app.demo_staff(2, 1).unwrap();
    let sales = s
        .login("staff0002", zhudai::service::demo::DEMO_PASSWORD)
        .await;
    let (st, e) = upload(
        &sales,
        "",
        "姓名,手机号\n甲,13500135000\n".as_bytes().to_vec(),
    )
    .await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, e) = upload(&admin, "", "foo,bar\n1,2\n".as_bytes().to_vec()).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("file")),
        "{e}"
    );
    let (st, e) = upload(&admin, "", vec![b'x'; 8192]).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_import_command_reports_rows() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let file = data.path().join("客户.csv");
    std::fs::write(&file, gbk_csv()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args([
            "--data",
            data.path().to_str().unwrap(),
            "import",
            file.to_str().unwrap(),
            "--owner",
            ADMIN,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "6 rows: 3 created, 0 updated, 0 skipped as duplicates, 0 flagged, 3 rejected"
        ),
        "{text}"
    );
    assert!(text.contains("row 6: phone:"), "{text}");
}
