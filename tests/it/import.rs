//! Importing the files agencies really have: GBK CSV with a title line, blank lines, full-width
//! digits, +86 prefixes and trailing spaces; XLSX with a merged title and phones stored as
//! numbers; duplicates inside the file and against the store; dry runs; re-runs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use serde_json::{Value, json};

pub async fn upload(c: &Client, query: &str, body: Vec<u8>) -> (u16, Value) {
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
    s.app.platform().demo_staff(2, 1).unwrap();
    let sales = s
        .login("staff0002", zhudai::service::platform::demo::DEMO_PASSWORD)
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
    let text = imported_gbk_csv(&cli_import(data.path(), &file, &[]));
    assert!(text.contains("row 6: 手机号: 手机号应为11位"), "{text}");
}

/// `zhudai import FILE --owner ADMIN` on the stopped server's data directory, with `extra`
/// arguments.
fn cli_import(
    data: &std::path::Path,
    file: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args([
            "--data",
            data.to_str().unwrap(),
            "import",
            file.to_str().unwrap(),
            "--owner",
            ADMIN,
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The command succeeded and reported [`gbk_csv`]'s counts; returns what it printed.
fn imported_gbk_csv(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
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
    text
}

/// `--batch-rows` sets the rows per transaction within 100..=20,000; outside it the command
/// refuses before touching the store.
#[tokio::test]
async fn the_import_command_takes_rows_per_transaction() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let file = data.path().join("客户.csv");
    std::fs::write(&file, gbk_csv()).unwrap();
    let run = |rows: &str| cli_import(data.path(), &file, &["--batch-rows", rows]);
    for bad in ["99", "20001", "0"] {
        let out = run(bad);
        assert!(!out.status.success(), "--batch-rows {bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--batch-rows"), "{err}");
    }
    imported_gbk_csv(&run("100"));
}

// ---------------------------------------------------------------------------------------------
// Jobs, the mapping step, templates, error reports, owners and pools.

const BOUNDARY: &str = "zhudai-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart body: the file plus text fields.
pub fn form(file_name: &str, file: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

pub async fn post_form(c: &Client, path: &str, body: Vec<u8>) -> (u16, Value) {
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .header("x-csrf-token", c.csrf.clone().unwrap())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Polls a job every 50 ms until it has finished.
pub async fn wait_job(c: &Client, id: &str) -> Value {
    for _ in 0..600 {
        let (st, job) = c.get(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(st, 200, "{job}");
        if ["done", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

/// `n` valid rows (distinct phones 1390000xxxx), UTF-8.
fn many_rows(n: usize) -> Vec<u8> {
    let mut s = String::from("姓名,手机号,城市\n");
    for i in 0..n {
        s.push_str(&format!("客户{i},1390{:07},成都\n", i));
    }
    s.into_bytes()
}

async fn customer_total(c: &Client) -> u64 {
    c.get("/api/v1/customers?limit=1").await.1["total"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_job_runs_to_done_with_progress_and_an_error_report_of_exactly_the_rejected_rows() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("11月名单.csv", &gbk_csv(), &[("on_duplicate", "skip")]),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    assert_eq!(job["file_name"], "11月名单.csv");
    assert!(["queued", "running", "done"].contains(&job["status"].as_str().unwrap()));
    let id = job["id"].as_str().unwrap().to_string();
    let job = wait_job(&admin, &id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (
            job["total"].as_u64(),
            job["processed"].as_u64(),
            job["created"].as_u64(),
            job["rejected"].as_u64()
        ),
        (Some(6), Some(6), Some(3), Some(3)),
        "{job}"
    );
    let rejected: Vec<(u64, &str)> = job["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, [(6, "phone"), (7, "phone"), (8, "amount_wan")]);
    assert_eq!(job["headers"][1], "手机号码", "the file's own header kept");
    assert!(
        job["mapping"]
            .as_array()
            .unwrap()
            .contains(&json!(["手机号码", "phone"])),
        "mapping used: {job}"
    );

    // The error report: exactly the rejected rows, original cells as text, reasons in Chinese.
    let r = admin
        .http
        .get(format!("{}/api/v1/imports/{id}/errors.xlsx", admin.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("errors.xlsx")
    );
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 4, "header + 3 rejected rows: {rows:?}");
    assert_eq!(rows[0][0], "行号");
    assert_eq!(rows[0][2], "手机号码");
    assert_eq!(rows[0].last().unwrap(), "错误原因");
    assert_eq!(
        rows.iter()
            .skip(1)
            .map(|r| r[0].clone())
            .collect::<Vec<_>>(),
        ["6", "7", "8"]
    );
    assert_eq!(rows[1][1], "王五");
    assert_eq!(rows[1][2], "12345", "phone kept as typed, as text");
    assert!(
        calamine::DataType::is_string(range.get((1, 2)).unwrap()),
        "phones are text cells"
    );
    assert_eq!(rows[3][5], "abc");
    assert_eq!(rows[3][rows[3].len() - 2], "贷款金额（万元）");
    assert!(rows[2].last().unwrap().contains("重复"), "{rows:?}");

    // Listed among my jobs; someone else does not see it.
    let (_, list) = admin.get("/api/v1/imports").await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    s.app.platform().demo_staff(2, 1).unwrap();
    let other = s
        .login("staff0001", zhudai::service::platform::demo::DEMO_PASSWORD)
        .await;
    let (st, _) = other.get(&format!("/api/v1/imports/{id}")).await;
    assert!(st == 404 || st == 403, "{st}");
    s.stop().await;
}

#[tokio::test]
async fn cancel_stops_between_batches_consistently_and_a_rerun_completes_exactly() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let caller = s.app.access().caller_for(ADMIN).unwrap();
    let file = many_rows(3000);
    let id = zhudai::service::new_id(s.app.now());
    std::fs::write(s.app.imports().spool_path(&id).unwrap(), &file).unwrap();
    let opts = zhudai::service::import::ImportOptions {
        batch_rows: Some(50),
        ..Default::default()
    };
    s.app
        .start_import_job(&caller, &id, "big.csv", opts, "test")
        .unwrap();
    let (st, c) = admin
        .post(&format!("/api/v1/imports/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    let job = wait_job(&admin, &id).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    let created = job["created"].as_u64().unwrap();
    assert!(created < 3000, "stopped before the end: {job}");
    assert_eq!(created % 50, 0, "whole batches only: {job}");
    assert_eq!(
        job["processed"].as_u64(),
        Some(created),
        "every processed row was created"
    );
    assert_eq!(
        customer_total(&admin).await,
        created,
        "the job reports exactly what was committed"
    );
    let (st, e) = admin
        .post(&format!("/api/v1/imports/{id}/cancel"), json!({}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("job_finished"))
    );

    // The same file again completes it: nothing twice.
    let (st, job) = post_form(&admin, "/api/v1/imports", form("big.csv", &file, &[])).await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            job["status"].as_str(),
            job["created"].as_u64(),
            job["skipped"].as_u64()
        ),
        (Some("done"), Some(3000 - created), Some(created)),
        "{job}"
    );
    assert_eq!(customer_total(&admin).await, 3000);
    s.stop().await;
}

#[tokio::test]
async fn a_job_left_running_by_a_crash_is_failed_at_start_up() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let caller = s.app.access().caller_for(ADMIN).unwrap();
    let id = zhudai::service::new_id(s.app.now());
    std::fs::write(s.app.imports().spool_path(&id).unwrap(), many_rows(10)).unwrap();
    // Recorded, never run (as if the process died): write the record by starting and then
    // marking it running by hand is not possible from outside, so recover a queued one.
    let job = s
        .app
        .start_import_job(&caller, &id, "x.csv", Default::default(), "test")
        .unwrap();
    assert_eq!(job.status, zhudai::service::import::jobs::JobStatus::Queued);
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let done = wait_job(&admin, &id).await;
    assert_eq!(done["status"], "done");
    // A job that never finished: the store is reopened with it still open.
    s.app
        .store
        .write(|tx| {
            let mut t = tx.open_table(zhudai::store::tables::IMPORT_JOBS)?;
            let mut j: Value = {
                let v = redb::ReadableTable::get(&t, id.as_str())?.unwrap();
                serde_json::from_slice(&v.value()[1..]).unwrap()
            };
            j["status"] = json!("running");
            j["finished_at"] = Value::Null;
            let mut bytes = vec![1u8];
            bytes.extend(serde_json::to_vec(&j).unwrap());
            t.insert(id.as_str(), bytes.as_slice())?;
            Ok::<_, zhudai::store::Error>(())
        })
        .unwrap();
    assert_eq!(s.app.imports().recover_import_jobs().unwrap(), 1);
    let (_, job) = admin.get(&format!("/api/v1/imports/{id}")).await;
    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap().contains("中断"), "{job}");
    s.stop().await;
}

#[tokio::test]
async fn the_mapping_step_previews_and_the_chosen_mapping_overrides_the_automatic_one() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let file = encoding_rs::GBK
        .encode("客户名单\n姓名,手机号,城市,地区\n张三,13800138000,北京,成都\n李四,13900139000,上海,重庆\n")
        .0
        .into_owned();
    let (st, p) = post_form(&admin, "/api/v1/imports/preview", form("a.csv", &file, &[])).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["encoding"], "gb18030");
    assert_eq!(p["header_row"], 2);
    assert_eq!(p["headers"], json!(["姓名", "手机号", "城市", "地区"]));
    assert_eq!(
        p["mapping"],
        json!([
            ["姓名", "name"],
            ["手机号", "phone"],
            ["城市", "city"],
            ["地区", null]
        ])
    );
    assert_eq!(p["rows"].as_array().unwrap().len(), 2);
    assert_eq!(p["rows"][1][0], "李四");
    assert_eq!(p["total"], 2);
    assert!(
        p["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "owner")
    );

    // The importer maps 地区 to the city and ignores 城市.
    let mapping = json!({"城市": null, "地区": "city"}).to_string();
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("a.csv", &file, &[("mapping", &mapping)]),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["created"], 2, "{job}");
    let (_, page) = admin.get("/api/v1/customers").await;
    let mut cities: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["city"].as_str().unwrap())
        .collect();
    cities.sort();
    assert_eq!(cities, ["成都", "重庆"], "from 地区, not 城市");

    // A mapping to a field that does not exist is refused before anything starts.
    let (st, e) = post_form(
        &admin,
        "/api/v1/imports",
        form("a.csv", &file, &[("mapping", r#"{"地区": "shoe_size"}"#)]),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("mapping")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_saved_template_applies_to_files_whose_headers_match() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, t) = admin
        .post(
            "/api/v1/import-templates",
            json!({"name": "某贷款超市导出", "mapping": {"用户": "name", "号码": "phone", "所在地": "city", "备注": "ignore"}}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let tid = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["mapping"]["备注"], Value::Null);
    let (st, _) = admin
        .post(
            "/api/v1/import-templates",
            json!({"name": "某贷款超市导出", "mapping": {"用户": "name", "号码": "phone"}}),
        )
        .await;
    assert_eq!(st, 409, "one name, one template");
    let (_, list) = admin.get("/api/v1/import-templates").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let file = "用户,号码,所在地,备注\n周一,13500135000,成都,老客户\n".as_bytes();
    let (st, p) = post_form(&admin, "/api/v1/imports/preview", form("b.csv", file, &[])).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        p["template"]["id"],
        tid.as_str(),
        "the matching template is offered"
    );
    assert_eq!(
        p["mapping"],
        json!([
            ["用户", "name"],
            ["号码", "phone"],
            ["所在地", "city"],
            ["备注", null]
        ])
    );
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("b.csv", file, &[("template_id", &tid)]),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (job["status"].as_str(), job["created"].as_u64()),
        (Some("done"), Some(1)),
        "{job}"
    );
    let (_, page) = admin.get("/api/v1/customers").await;
    assert_eq!(page["items"][0]["city"], "成都");

    // A file without the template's headers is refused with the template named.
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "c.csv",
            "姓名,手机号\n甲,13500135001\n".as_bytes(),
            &[("template_id", &tid)],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("模板"), "{job}");

    let (st, _) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/import-templates/{tid}"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (_, list) = admin.get("/api/v1/import-templates").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    s.stop().await;
}

#[tokio::test]
async fn rows_go_to_a_pool_or_to_the_owner_named_within_the_importers_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    // A public pool exists.
    let (st, p) = admin.post("/api/v1/pools", json!({"name": "公海一"})).await;
    assert_eq!(st, 201, "{p}");
    let pool_1 = p["id"].as_str().unwrap().to_string();
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "p.csv",
            "姓名,手机号\n公海甲,13700137000\n".as_bytes(),
            &[("pool_id", pool_1.as_str())],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["created"], 1, "{job}");
    let (_, page) = admin.get("/api/v1/customers").await;
    let c = &page["items"][0];
    assert_eq!(
        (c["owner_id"].clone(), c["pool_id"].clone()),
        (Value::Null, json!(pool_1))
    );
    let (st, e) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "p.csv",
            "姓名,手机号\n甲,13700137001\n".as_bytes(),
            &[("pool_id", "no-such-pool")],
        ),
    )
    .await;
    assert_eq!((st, e["error"]["field"].as_str()), (400, Some("pool_id")));

    // A self-scoped importer without customer.transfer: own name only.
    let (st, r) = admin
        .post("/api/v1/roles", json!({"key": "importer", "name": "录入员", "capabilities": ["customer.read", "customer.create", "customer.import"], "scope": "self", "field_privileges": [], "daily_reveal_quota": 0}))
        .await;
    assert_eq!(st, 201, "{r}");
    let wang = common::add_user(&s, "xiao.wang", &["importer"], None);
    let zhao = common::add_user(&s, "xiao.zhao", &["sales"], None);
    let w = s.login("xiao.wang", common::TEAM_PASSWORD).await;
    let (st, e) = post_form(
        &w,
        "/api/v1/imports",
        form(
            "o.csv",
            "姓名,手机号\n乙,13700137002\n".as_bytes(),
            &[("owner", "xiao.zhao")],
        ),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("owner")),
        "{e}"
    );
    let (st, job) = post_form(
        &w,
        "/api/v1/imports",
        form(
            "o.csv",
            "姓名,手机号,负责人\n乙,13700137002,xiao.zhao\n丙,13700137003,xiao.wang\n丁,13700137004,\n".as_bytes(),
            &[],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let job = wait_job(&w, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (job["created"].as_u64(), job["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{job}"
    );
    assert_eq!(job["rejected_rows"][0]["field"], "owner");
    assert_eq!(job["rejected_rows"][0]["row"], 2);

    // The admin may give rows to anyone: by the owner column.
    let (_, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "o.csv",
            "姓名,手机号,负责人\n戊,13700137005,xiao.zhao\n".as_bytes(),
            &[],
        ),
    )
    .await;
    let job = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["created"], 1, "{job}");
    let (_, page) = admin.get(&format!("/api/v1/customers?owner={zhao}")).await;
    assert_eq!(page["items"][0]["name"], "戊", "{page}");
    let (_, page) = admin.get(&format!("/api/v1/customers?owner={wang}")).await;
    assert_eq!(page["total"], 2, "{page}");
    s.stop().await;
}

#[tokio::test]
async fn the_import_command_takes_a_mapping_file_and_writes_an_error_report() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let file = data.path().join("名单.csv");
    std::fs::write(
        &file,
        "客户,联系号码,地区\n张三,13800138000,成都\n李四,123,重庆\n".as_bytes(),
    )
    .unwrap();
    let mapping = data.path().join("m.toml");
    std::fs::write(
        &mapping,
        "[columns]\n\"客户\" = \"name\"\n\"联系号码\" = \"phone\"\n\"地区\" = \"city\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
        .args([
            "--data",
            data.path().to_str().unwrap(),
            "import",
            file.to_str().unwrap(),
            "--owner",
            ADMIN,
            "--mapping",
            mapping.to_str().unwrap(),
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
            "2 rows: 1 created, 0 updated, 0 skipped as duplicates, 0 flagged, 1 rejected"
        ),
        "{text}"
    );
    let report = data.path().join("名单.csv.errors.xlsx");
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&report).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.height(), 2, "header + the one rejected row");
    assert_eq!(range.get((1, 1)).unwrap().to_string(), "李四");
    assert_eq!(range.get((1, 2)).unwrap().to_string(), "123");
}

/// Issue 17.3: a 贷款需求（万元） column fills the demand in fen, a 客户阶段 column with the labels
/// people type sets the stage (an unknown one rejects the row naming the column), 备注 and the
/// original 录入时间 are kept.
#[tokio::test]
async fn demand_in_wan_and_stage_labels_are_imported() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let csv = "姓名,手机号,贷款需求（万元）,客户阶段,备注,录入时间\n\
王一,13800000001,30.5,已上门,老客户介绍；有房,2024/5/6 09:30\n\
王二,13800000002,8,新线索,,\n\
王三,13800000003,,随便写的,,\n\
王四,13800000004,,,,2099-01-01\n";
    let (st, r) = upload(&admin, "", csv.as_bytes().to_vec()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["created"], 2, "{r}");
    assert_eq!(r["errors"][0]["field"], "stage", "{r}");
    assert_eq!(r["errors"][0]["row"], 4, "{r}");
    // An entry date in the future is refused, naming the column, not dropped.
    assert_eq!(
        (
            r["errors"][1]["row"].as_u64(),
            r["errors"][1]["field"].as_str()
        ),
        (Some(5), Some("entered_at")),
        "{r}"
    );
    let (_, page) = admin.get("/api/v1/customers?sort=name").await;
    let got: Vec<(String, String, i64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["stage"].as_str().unwrap().to_string(),
                c["demand"]["amount_fen"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("王一".to_string(), "visited".to_string(), 30_500_000),
            ("王二".to_string(), "lead".to_string(), 8_000_000),
        ]
    );
    // 备注 has a place: kept on import, edited and cleared like any optional field.
    let first = &page["items"][0];
    assert_eq!(first["notes"], "老客户介绍；有房", "{first}");
    assert_eq!(
        first["entered_at"], "2024-05-06T01:30:00Z",
        "录入时间 kept: {first}"
    );
    assert!(page["items"][1]["entered_at"].is_null());
    let path = format!("/api/v1/customers/{}", first["id"].as_str().unwrap());
    let (st, c) = admin
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"notes": "第一行\n第二行"})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), c["notes"].as_str()),
        (200, Some("第一行\n第二行")),
        "{c}"
    );
    let (st, c) = admin
        .call(reqwest::Method::PATCH, &path, Some(json!({"notes": null})))
        .await;
    assert_eq!(st, 200);
    assert!(c["notes"].is_null(), "{c}");
    let too_long = "字".repeat(1001);
    let (st, e) = admin
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"notes": too_long})),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("notes")),
        "{e}"
    );
    s.stop().await;
}

/// A row with a good name and phone but an ID number whose check digit is wrong, and a row whose
/// phone is bad (a required field: refused whatever the choice).
const BAD_ID_CSV: &str = "姓名,手机号,身份证号,录入时间\n\
周一,13800000011,110105194912310021,2024-05-06\n\
周二,13800000012,,\n\
周三,12345,,\n";

#[tokio::test]
async fn a_bad_optional_field_refuses_the_row_by_default_naming_whose_row_and_the_value() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = upload(
        &admin,
        "?bad_optional=reject",
        BAD_ID_CSV.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            r["created"].as_u64(),
            r["rejected"].as_u64(),
            r["to_review"].as_u64()
        ),
        (Some(1), Some(2), Some(0)),
        "{r}"
    );
    let e = &r["errors"][0];
    assert_eq!(
        (e["row"].as_u64(), e["field"].as_str(), e["label"].as_str()),
        (Some(2), Some("id_number"), Some("身份证号")),
        "{r}"
    );
    assert_eq!(e["name"], "周一", "whose row: {r}");
    assert_eq!(e["value"], "110105194912310021", "the value as typed: {r}");
    assert_eq!(
        (
            r["errors"][1]["name"].as_str(),
            r["errors"][1]["value"].as_str()
        ),
        (Some("周三"), Some("12345")),
        "{r}"
    );
    assert!(r["warnings"].as_array().unwrap().is_empty(), "{r}");
    s.stop().await;
}

#[tokio::test]
async fn keep_imports_the_row_without_the_bad_field_tagged_for_review_and_warns() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = upload(&admin, "?bad_optional=keep", BAD_ID_CSV.as_bytes().to_vec()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            r["created"].as_u64(),
            r["rejected"].as_u64(),
            r["to_review"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "the bad phone is still refused: {r}"
    );
    assert_eq!(r["errors"][0]["field"], "phone", "{r}");
    let w = &r["warnings"][0];
    assert_eq!(
        (
            w["row"].as_u64(),
            w["field"].as_str(),
            w["name"].as_str(),
            w["value"].as_str()
        ),
        (
            Some(2),
            Some("id_number"),
            Some("周一"),
            Some("110105194912310021")
        ),
        "{r}"
    );
    let (_, page) = admin.get("/api/v1/customers?sort=name").await;
    let zhou = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "周一")
        .unwrap()
        .clone();
    assert!(
        zhou["id_number"].is_null(),
        "imported without the ID: {zhou}"
    );
    assert_eq!(
        zhou["tags"],
        json!(["待核对"]),
        "flagged for review: {zhou}"
    );
    assert_eq!(
        zhou["entered_at"], "2024-05-05T16:00:00Z",
        "the good fields kept: {zhou}"
    );
    let other = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "周二")
        .unwrap();
    assert_eq!(
        other["tags"],
        json!([]),
        "a good row is not flagged: {other}"
    );

    // As a background job: the warning rows show whose row and what value to the importer;
    // the job record itself keeps neither (the list reads the stored records as they are).
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "再来.csv",
            BAD_ID_CSV.replace("138000000", "139000000").as_bytes(),
            &[("bad_optional", "keep")],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    assert_eq!(job["bad_optional"], "keep");
    let id = job["id"].as_str().unwrap().to_string();
    let job = wait_job(&admin, &id).await;
    assert_eq!(
        (job["created"].as_u64(), job["to_review"].as_u64()),
        (Some(2), Some(1)),
        "{job}"
    );
    assert_eq!(job["warning_rows"][0]["name"], "周一", "{job}");
    assert_eq!(
        job["warning_rows"][0]["value"], "110105194912310021",
        "{job}"
    );
    assert_eq!(job["rejected_rows"][0]["name"], "周三", "{job}");
    let (_, list) = admin.get("/api/v1/imports").await;
    let stored = &list["items"][0];
    assert_eq!(stored["id"], id.as_str());
    assert!(
        stored["warning_rows"][0].get("name").is_none()
            && stored["rejected_rows"][0].get("value").is_none(),
        "no personal data in the job record: {stored}"
    );
    // A kept row is not in the error report (it was imported); the refused one is.
    let r = admin
        .http
        .get(format!("{}/api/v1/imports/{id}/errors.xlsx", admin.base))
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.rows().count(), 2, "header + the refused row");

    let (st, e) = post_form(
        &admin,
        "/api/v1/imports",
        form("x.csv", BAD_ID_CSV.as_bytes(), &[("bad_optional", "maybe")]),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("bad_optional")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_import_command_keeps_rows_with_a_bad_optional_field_when_asked() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let file = data.path().join("名单.csv");
    std::fs::write(&file, BAD_ID_CSV).unwrap();
    let run = |choice: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args([
                "--data",
                data.path().to_str().unwrap(),
                "import",
                file.to_str().unwrap(),
                "--owner",
                ADMIN,
                "--dry-run",
                "--bad-optional",
                choice,
            ])
            .output()
            .unwrap()
    };
    let out = run("keep");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 created"), "{text}");
    assert!(
        text.contains("row 2 (周一): 身份证号 \"110105194912310021\" left out, tagged 待核对"),
        "{text}"
    );
    assert!(
        text.contains("imported without a bad field, tagged 待核对: 1"),
        "{text}"
    );
    let out = run("reject");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 created") && text.contains("2 rejected"),
        "{text}"
    );
    assert!(!text.contains("left out"), "{text}");
}

/// `zhudai demo --csv` writes what `zhudai import` reads: every row created, its 创建时间
/// (RFC 3339) kept as the entry time (`entered_at`). The demo's own file was refused row by row before.
#[tokio::test]
async fn the_demo_csv_imports_whole() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let file = data.path().join("demo.csv");
    let run = |args: &[&str]| {
        let mut all = vec!["--data", data.path().to_str().unwrap()];
        all.extend_from_slice(args);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(&all)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        text
    };
    run(&["demo", "--customers", "12", "--csv", file.to_str().unwrap()]);
    let csv = std::fs::read_to_string(&file).unwrap();
    let first_created = csv
        .lines()
        .nth(1)
        .and_then(|l| {
            l.split(',')
                .find(|f| f.contains('T') && f.contains("+00:00"))
        })
        .unwrap()
        .to_string();
    let text = run(&["import", file.to_str().unwrap(), "--owner", ADMIN]);
    assert!(
        text.contains("12 created") && text.contains("0 rejected"),
        "{text}"
    );

    let config = zhudai::config::Config::defaults().unwrap();
    let clock = std::sync::Arc::new(zhudai::service::ManualClock::new(common::epoch()));
    let s = TestServer::start_in(data, config, clock).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, page) = admin.get("/api/v1/customers?limit=50").await;
    let created: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entered_at"].as_str().unwrap_or_default().to_string())
        .collect();
    let want = chrono::DateTime::parse_from_rfc3339(&first_created).unwrap();
    assert!(
        created
            .iter()
            .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .any(|t| t == want),
        "{first_created} among {created:?}"
    );
    s.stop().await;
}
