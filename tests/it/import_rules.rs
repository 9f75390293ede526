//! Import rules beyond reading files: custom-field cells parsed and checked like a form,
//! duplicates found in the recycle bin, pools the importer may fill, rejected-row files removed
//! after their retention period.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;
use crate::import::{form, post_form, upload, wait_job};

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// Customer records in the store, recycle bin included.
fn customer_rows(s: &TestServer) -> u64 {
    use redb::ReadableTableMetadata;
    s.app
        .store
        .read(|tx| {
            let n = tx.open_table(zhudai::store::tables::CUSTOMERS)?.len()?;
            Ok::<_, zhudai::store::Error>(n)
        })
        .unwrap()
}

async fn define_fields(admin: &Client) {
    for d in [
        json!({"key": "source_kind", "label": "来源类型", "kind": "select", "options": ["转介绍", "广告"], "show_in_list": true}),
        json!({"key": "deposit", "label": "保证金", "kind": "money"}),
        json!({"key": "loans", "label": "在贷笔数", "kind": "number"}),
        json!({"key": "visit_on", "label": "到访日期", "kind": "date"}),
    ] {
        let (st, v) = admin.post("/api/v1/custom-fields", d).await;
        assert_eq!(st, 201, "{v}");
    }
    // `show_in_list` (the list's default columns) is kept; absent means false.
    let (_, defs) = admin.get("/api/v1/custom-fields").await;
    let shown: Vec<(&str, bool)> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap(),
                d["show_in_list"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(shown.contains(&("source_kind", true)) && shown.contains(&("deposit", false)));
}

fn mapping() -> String {
    json!({"来源": "custom.source_kind", "保证金(元)": "custom.deposit", "在贷": "custom.loans", "到访": "custom.visit_on"})
        .to_string()
}

#[tokio::test]
async fn custom_field_cells_are_parsed_and_checked_like_a_form() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    define_fields(&admin).await;
    let csv = "姓名,手机号,来源,保证金(元),在贷,到访\n\
甲,13800138001,转介绍,\"1,234.50\",2,2026-11-20\n\
乙,13800138002,广告,12万,,\n\
丙,13800138003,路过,100,,\n\
丁,13800138004,广告,一百块,,\n\
戊,13800138005,,,三,\n\
己,13800138006,,,,2026/11/20\n";
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "c.csv",
            csv.as_bytes(),
            &[("dry_run", "true"), ("mapping", &mapping())],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let dry = wait_job(&admin, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (dry["created"].as_u64(), dry["rejected"].as_u64()),
        (Some(2), Some(4)),
        "the dry run shows the bad cells: {dry}"
    );
    let errors: Vec<(u64, String, String)> = dry["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let fields: Vec<(u64, &str)> = errors.iter().map(|(r, f, _)| (*r, f.as_str())).collect();
    assert_eq!(
        fields,
        [
            (4, "custom.source_kind"),
            (5, "custom.deposit"),
            (6, "custom.loans"),
            (7, "custom.visit_on")
        ]
    );
    // People read the custom field's label, not its key.
    let labels: Vec<&str> = dry["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["来源类型", "保证金", "在贷笔数", "到访日期"],
        "{dry}"
    );
    assert!(
        errors[0].2.contains("列“来源”") && errors[0].2.contains("不在选项中"),
        "{errors:?}"
    );
    assert!(errors[1].2.contains("列“保证金(元)”"), "{errors:?}");
    assert_eq!(customer_rows(&s), 0, "a dry run writes nothing");

    // The real run stores parsed values: money in fen, numbers as numbers.
    let (_, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("c.csv", csv.as_bytes(), &[("mapping", &mapping())]),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_job(&admin, &id).await;
    assert_eq!(done["created"], 2, "{done}");
    let (_, page) = admin.get("/api/v1/customers?sort=name").await;
    let by_name = |n: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()["custom"]
            .clone()
    };
    assert_eq!(
        by_name("甲"),
        json!({"source_kind": "转介绍", "deposit": 123450, "loans": 2, "visit_on": "2026-11-20"})
    );
    assert_eq!(
        by_name("乙"),
        json!({"source_kind": "广告", "deposit": 12000000})
    );

    // The error report carries the reason naming the column.
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
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(
        rows[1].last().unwrap().contains("列“来源”"),
        "{:?}",
        rows[1]
    );
    let field_column: Vec<&str> = rows[1..].iter().map(|r| r[r.len() - 2].as_str()).collect();
    assert_eq!(field_column, ["来源类型", "保证金", "在贷笔数", "到访日期"]);
    s.stop().await;
}

#[tokio::test]
async fn required_custom_fields_are_needed_by_new_rows_only() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, _) = admin
        .post(
            "/api/v1/custom-fields",
            json!({"key": "wx", "label": "微信号", "kind": "text", "required": true}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "老客户", "phone": "13900139000", "custom": {"wx": "laoke"}}),
        )
        .await;
    assert_eq!(st, 201);
    // The 微信号 column maps itself: it is the field's name.
    let csv = "姓名,手机号,城市,微信号\n老客户,13900139000,成都,\n新客户,13900139001,成都,\n第三,13900139002,成都,wx3\n";
    let (st, report) = upload(&admin, "?on_duplicate=update", csv.as_bytes().to_vec()).await;
    assert_eq!(st, 200, "{report}");
    assert!(
        report["columns"]
            .as_array()
            .unwrap()
            .contains(&json!(["微信号", "custom.wx"])),
        "{report}"
    );
    assert_eq!(
        (report["updated"].as_u64(), report["created"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["field"], "custom.wx", "{report}");
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("微信号不能为空")
    );
    s.stop().await;
}

#[tokio::test]
async fn a_phone_in_the_recycle_bin_is_a_duplicate_on_import() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, c) = admin
        .post(
            "/api/v1/customers",
            json!({"name": "删掉的", "phone": "13700137000", "id_number": "11010519491231002X"}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, _) = admin
        .call(
            Method::DELETE,
            &format!("/api/v1/customers/{}", c["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(customer_rows(&s), 1, "kept in the recycle bin");

    // By phone and by ID number: skipped, not created again.
    let csv =
        "姓名,手机号,身份证号\n又来了,137-0013-7000,\n换号了,13700137009,11010519491231002X\n";
    let (st, report) = upload(&admin, "?on_duplicate=skip", csv.as_bytes().to_vec()).await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(
        (report["skipped"].as_u64(), report["created"].as_u64()),
        (Some(2), Some(0)),
        "{report}"
    );
    // Update does not bring a deleted record back or edit it.
    let (_, report) = upload(&admin, "?on_duplicate=update", csv.as_bytes().to_vec()).await;
    assert_eq!(
        (report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(0), Some(2)),
        "{report}"
    );
    // Flag creates it, marked for a manager.
    let (_, report) = upload(&admin, "?on_duplicate=flag", csv.as_bytes().to_vec()).await;
    assert_eq!(report["flagged"], 2, "{report}");
    assert_eq!(customer_rows(&s), 3);
    let _: Value = report;
    s.stop().await;
}

/// A department's pool (one firm-wide pool at most, so each test pool gets a department).
async fn pool(admin: &Client, name: &str, body: Value) -> String {
    let (st, d) = admin
        .post("/api/v1/departments", json!({"name": format!("{name}部")}))
        .await;
    assert_eq!(st, 201, "{d}");
    let mut body = body;
    body["name"] = json!(name);
    body["department_id"] = d["id"].clone();
    let (st, p) = admin.post("/api/v1/pools", body).await;
    assert_eq!(st, 201, "{p}");
    p["id"].as_str().unwrap().to_string()
}

async fn try_pool(c: &Client, pool: &str, phone: &str) -> (u16, Value) {
    let body = form(
        "p.csv",
        format!("姓名,手机号\n甲,{phone}\n").as_bytes(),
        &[("pool_id", pool)],
    );
    post_form(c, "/api/v1/imports", body).await
}

#[tokio::test]
async fn importing_into_a_pool_needs_the_right_to_use_that_pool() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, r) = admin
        .post("/api/v1/roles", json!({"key": "importer", "name": "录入员", "capabilities": ["customer.read", "customer.create", "customer.import"], "scope": "self", "field_privileges": [], "daily_reveal_quota": 0}))
        .await;
    assert_eq!(st, 201, "{r}");
    let wang = common::add_user(&s, "xiao.wang", &["importer"], None);
    let li = common::add_user(&s, "xiao.li", &["importer"], None);
    let mine = pool(&admin, "王的公海", json!({"members": [wang]})).await;
    let run_by_wang = pool(
        &admin,
        "王管理的公海",
        json!({"members": [li], "admins": [wang]}),
    )
    .await;
    let others = pool(&admin, "李的公海", json!({"members": [li]})).await;
    let w = s.login("xiao.wang", common::TEAM_PASSWORD).await;
    // A pool the importer is not a member or admin of answers like an absent one.
    let (st, e) = try_pool(&w, &others, "13600136000").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (400, Some("pool_id")),
        "{e}"
    );
    let (st, e2) = try_pool(&w, "no-such-pool", "13600136000").await;
    assert_eq!(st, 400);
    assert_eq!(
        e["error"]["message"], e2["error"]["message"],
        "no existence leak"
    );
    // Member and pool admin may; so may pool.manage (the administrator), into any pool.
    for (c, pool, phone) in [
        (&w, &mine, "13600136001"),
        (&w, &run_by_wang, "13600136002"),
        (&admin, &others, "13600136003"),
    ] {
        let (st, job) = try_pool(c, pool, phone).await;
        assert_eq!(st, 202, "{job}");
        let job = wait_job(c, job["id"].as_str().unwrap()).await;
        assert_eq!(job["created"], 1, "{job}");
    }
    let (_, page) = admin.get("/api/v1/customers").await;
    let pools: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pool_id"].as_str().unwrap())
        .collect();
    assert_eq!(pools.len(), 3, "{page}");
    for p in [&mine, &run_by_wang, &others] {
        assert!(pools.contains(&p.as_str()), "{pools:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn the_import_command_leaves_the_search_index_up_to_date() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let data = s.stop().await;
    let file = data.path().join("名单.csv");
    std::fs::write(
        &file,
        "姓名,手机号,城市\n检索甲,13800138000,成都\n检索乙,13800138001,重庆\n".as_bytes(),
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
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = zhudai::store::Store::open(&data.path().join("zhudai.redb")).unwrap();
    let seen = zhudai::search::inspect(data.path(), &store, 100).unwrap();
    assert!(seen.generation.is_some(), "{seen:?}");
    assert_eq!(seen.live_customers, 2);
    assert_eq!(
        (seen.pending, seen.documents),
        (0, 2),
        "indexed before the command exited: {seen:?}"
    );
}

#[tokio::test]
async fn rejected_row_files_are_removed_after_the_retention_period() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    assert_eq!(s.app.config.customers.import_rejected_days, 7, "default");
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let imports = s.dir.path().join("imports");
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form(
            "r.csv",
            "姓名,手机号\n甲,13800138000\n乙,123\n".as_bytes(),
            &[],
        ),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let job = wait_job(&admin, &id).await;
    assert_eq!(job["rejected"], 1, "{job}");
    let file = imports.join(format!("{id}.rejected"));
    assert!(file.exists());
    // A file left behind by a job whose record is gone.
    let orphan = imports.join("01ORPHANJOB.rejected");
    std::fs::write(&orphan, "sealed\n").unwrap();

    let report = |admin: &Client| {
        let url = format!("{}/api/v1/imports/{id}/errors.xlsx", admin.base);
        let http = admin.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    // (Sessions end after 12 hours: log in again after moving the clock.)
    s.clock.advance(chrono::Duration::days(6));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, _) = admin.get("/api/v1/imports").await;
    assert_eq!(st, 200);
    assert!(file.exists(), "kept within the retention period");
    assert!(!orphan.exists(), "no job record: removed at once");
    assert_eq!(report(&admin).await, 200);

    s.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    admin.get("/api/v1/imports").await;
    assert!(!file.exists(), "removed after 7 days");
    let (_, job) = admin.get(&format!("/api/v1/imports/{id}")).await;
    assert_eq!(job["errors_purged"], true, "{job}");
    assert_eq!(report(&admin).await, 422, "expired, not an empty report");
    s.stop().await;
}

#[tokio::test]
async fn a_new_import_also_clears_expired_files_and_the_period_is_configurable() {
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.customers.import_rejected_days = 2;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let csv = "姓名,手机号\n乙,123\n";
    let (_, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("a.csv", csv.as_bytes(), &[]),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    wait_job(&admin, &id).await;
    let file = s.dir.path().join("imports").join(format!("{id}.rejected"));
    assert!(file.exists());
    s.clock
        .advance(chrono::Duration::days(2) + chrono::Duration::minutes(1));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (_, next) = post_form(
        &admin,
        "/api/v1/imports",
        form("b.csv", csv.as_bytes(), &[]),
    )
    .await;
    wait_job(&admin, next["id"].as_str().unwrap()).await;
    assert!(
        !file.exists(),
        "starting an import removed the expired file"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_hourly_housekeeping_removes_expired_files_without_any_request() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, job) = post_form(
        &admin,
        "/api/v1/imports",
        form("h.csv", "姓名,手机号\n乙,123\n".as_bytes(), &[]),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    wait_job(&admin, &id).await;
    let file = s.dir.path().join("imports").join(format!("{id}.rejected"));
    assert!(file.exists());

    assert_eq!(zhudai::jobs::housekeeping::tick(&s.app).1, 0, "not yet due");
    assert!(file.exists());
    s.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let (sessions, files) = zhudai::jobs::housekeeping::tick(&s.app);
    assert_eq!(files, 1);
    assert!(sessions >= 1, "the admin's session expired too");
    assert!(!file.exists());
    s.stop().await;
}
