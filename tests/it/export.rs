//! Exports: capability, scope, masking (full values only without a reveal quota), formula
//! injection, exact money, audit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TestServer};
use serde_json::{Value, json};
use zhudai::service::org::DepartmentInput;
use zhudai::service::org::users::Actor;

const PASS: &str = common::TEAM_PASSWORD;

async fn download(c: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{}", c.base, path))
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let disposition = r
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (st, disposition, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn exports_are_scoped_masked_defused_and_audited() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let op = Actor::Operator;
    let a = s
        .app
        .org()
        .create_department(
            &op,
            DepartmentInput {
                name: "一部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    let b = s
        .app
        .org()
        .create_department(
            &op,
            DepartmentInput {
                name: "二部".into(),
                parent_id: None,
            },
            "t",
        )
        .unwrap()
        .id;
    for (n, r, d) in [
        ("mgr_a", "manager", &a),
        ("sales_a", "sales", &a),
        ("sales_b", "sales", &b),
    ] {
        common::add_user(&s, n, &[r], Some(d));
    }
    let sales_a = s.login("sales_a", PASS).await;
    let sales_b = s.login("sales_b", PASS).await;
    let mgr_a = s.login("mgr_a", PASS).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    sales_a.post("/api/v1/customers", json!({"name": "=HYPERLINK(\"http://evil\")", "phone": "13812340001", "id_number": "11010519491231002X", "demand": {"amount_fen": 30000050}})).await;
    sales_a
        .post(
            "/api/v1/customers",
            json!({"name": "张三", "phone": "13812340002", "tags": ["有房"]}),
        )
        .await;
    sales_b
        .post(
            "/api/v1/customers",
            json!({"name": "李四", "phone": "13812340003"}),
        )
        .await;

    let (st, _, _) = download(&sales_a, "/api/v1/exports/customers?format=csv").await;
    assert_eq!(st, 403, "sales has no customer.export");

    let (st, disposition, body) = download(&mgr_a, "/api/v1/exports/customers?format=csv").await;
    assert_eq!(st, 200);
    assert!(
        disposition.starts_with("attachment;") && disposition.contains(".csv"),
        "{disposition}"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM for Excel");
    assert!(
        text.contains("张三") && !text.contains("李四"),
        "department scope: {text}"
    );
    assert!(
        text.contains("138****0002") && !text.contains("13812340002"),
        "masked"
    );
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "formula defused: {text}"
    );
    assert!(text.contains("300000.50"), "money exact in yuan");
    assert!(text.contains("110105********002X"));
    let (st, _, _) = download(&mgr_a, "/api/v1/exports/customers?format=csv&full=true").await;
    assert_eq!(st, 403, "a reveal quota rules out full exports");

    let (st, _, body) = download(
        &admin,
        "/api/v1/exports/customers?format=csv&full=true&tag=有房",
    )
    .await;
    assert_eq!(st, 200);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text.lines().count(),
        2,
        "header + the one tagged customer: {text}"
    );
    assert!(text.contains("13812340002"), "admin: full values");

    let (st, _, body) = download(&admin, "/api/v1/exports/customers?format=xlsx").await;
    assert_eq!(st, 200);
    assert_eq!(&body[..2], b"PK", "an XLSX (zip) file");

    let (_, audit) = admin.get("/api/v1/audit?action=customer.exported").await;
    let items = audit["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        3,
        "refused exports are not files, the three served ones are audited"
    );
    assert_eq!(items[1]["detail"]["rows"], 1);
    assert_eq!(items[1]["detail"]["filter"]["tag"], "有房");
    assert_eq!(items[1]["detail"]["full"], true);
    assert_eq!(items[2]["actor"], "mgr_a");
    assert_eq!(items[2]["detail"]["rows"], 2);
    // Exports are written to a file row by row and streamed; nothing is left behind.
    let left: Vec<_> = std::fs::read_dir(s.dir.path().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "export files left: {left:?}");
    s.stop().await;
}

/// The export read the whole customers table whatever the filter (and in its own order):
/// now it pages through the index-backed list the customer list uses, so it reads the rows the
/// list shows — the same ones, in the same order — and nothing else.
#[tokio::test]
async fn the_export_reads_exactly_the_rows_the_list_shows() {
    use zhudai::service::customers::export::ExportQuery;
    let s = TestServer::start(Fixture::WithAdmin).await;
    let one = common::add_department(&s, "一部", None);
    let two = common::add_department(&s, "二部", None);
    common::add_user(&s, "mgr_a", &["manager"], Some(&one));
    common::add_user(&s, "sales_a", &["sales"], Some(&one));
    let b_id = common::add_user(&s, "sales_b", &["sales"], Some(&two));
    let sales_a = s.login("sales_a", PASS).await;
    let sales_b = s.login("sales_b", PASS).await;
    let mgr_a = s.login("mgr_a", PASS).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for i in 0..16u32 {
        let who = if i % 2 == 0 { &sales_a } else { &sales_b };
        let mut body = json!({"name": format!("客户{i:02}"), "phone": format!("1381234{i:04}")});
        if i % 3 == 0 {
            body["tags"] = json!(["有房"]);
        }
        if i % 4 == 1 {
            body["grade"] = json!("A");
            body["channel"] = json!("抖音广告");
        }
        if i % 5 == 2 {
            body["stage"] = json!("qualified");
        }
        let (st, v) = who.post("/api/v1/customers", body).await;
        assert_eq!(st, 201, "{v}");
    }
    let cases: Vec<(&str, &Client, Value)> = vec![
        ("admin", &admin, json!({})),
        ("admin", &admin, json!({"tag": "有房"})),
        (
            "admin",
            &admin,
            json!({"grade": "A", "channel": "抖音广告"}),
        ),
        ("admin", &admin, json!({"stage": "qualified"})),
        ("admin", &admin, json!({"owner": b_id})),
        ("mgr_a", &mgr_a, json!({})),
        ("mgr_a", &mgr_a, json!({"tag": "有房"})),
        ("mgr_a", &mgr_a, json!({"owner": b_id})),
    ];
    for (name, client, filter) in cases {
        let query: String = filter
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("&{k}={}", v.as_str().unwrap()))
            .collect();
        let (st, page) = client
            .get(&format!("/api/v1/customers?limit=200{query}"))
            .await;
        assert_eq!(st, 200, "{page}");
        let listed: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        let caller = s.app.access().caller_for(name).unwrap();
        let mut q = filter.clone();
        q["format"] = json!("csv");
        let q: ExportQuery = serde_json::from_value(q).unwrap();
        let mut file = s
            .app
            .customers()
            .export_customers(&caller, &q, "test")
            .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file.file, &mut text).unwrap();
        let exported: Vec<String> = text
            .trim_start_matches('\u{feff}')
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect();
        assert_eq!(exported, listed, "{name} {filter}");
        assert_eq!(file.rows, listed.len(), "{name} {filter}");
        assert_eq!(
            file.read,
            listed.len(),
            "{name} {filter}: records read beyond the filter's rows"
        );
    }
    s.stop().await;
}
