//! Custom reports (`plugins/reports/*.rhai`, `GET /reports/custom/{name}`): added through the
//! plugins API they appear without a restart; the same plugin returns different rows to a
//! salesperson (their own), a manager (their department) and the admin (everyone); a broken
//! one answers 422 with its file and line and does not stop the others; the XLSX export is
//! audited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use crate::common;

use common::{ADMIN, ADMIN_PASSWORD, Client, Fixture, TEAM_PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// Follow-ups per visible user, one row each (sorted by name).
const PER_USER: &str = r#"fn meta() {
    #{ title: "人均跟进", params: [#{ name: "period", kind: "period", label: "时间段" }],
       chart: #{ kind: "bar", x: "姓名", series: ["跟进"] } }
}

fn run(data, params) {
    let n = #{};
    for d in data.days { n[d.user_id] = (n[d.user_id] ?? 0) + d.followups; }
    let rows = [];
    for u in data.users { rows.push([u.name, n[u.id] ?? 0]); }
    rows.sort(|a, b| if a[0] < b[0] { -1 } else if a[0] > b[0] { 1 } else { 0 });
    #{ columns: ["姓名", #{ label: "跟进", kind: "number" }], rows: rows }
}

fn tests() {
    [ #{ name: "空", hook: "run", expect: #{ row_count: 0 } } ]
}
"#;

async fn lead(c: &Client, name: &str, phone: &str) -> String {
    let (st, v) = c
        .post("/api/v1/customers", json!({"name": name, "phone": phone}))
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn follow(c: &Client, id: &str, times: usize) {
    for _ in 0..times {
        let (st, v) = c
            .post(
                &format!("/api/v1/customers/{id}/followups"),
                json!({"kind": "call", "content": "电话沟通"}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
}

fn rows(r: &Value) -> Vec<(String, i64)> {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["c0"].as_str().unwrap().to_string(),
                x["c1"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_same_report_sees_only_the_callers_scope() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let east = common::add_department(&s, "东区", None);
    let west = common::add_department(&s, "西区", None);
    common::add_user(&s, "boss", &["manager"], Some(&east));
    common::add_user(&s, "xiao", &["sales"], Some(&east));
    common::add_user(&s, "far", &["sales"], Some(&west));
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;

    // Added through the plugins API: it appears at once.
    let (st, v) = admin
        .call(
            Method::PUT,
            "/api/v1/plugins/report.per-user",
            Some(json!({"source": PER_USER})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["file"], "reports/per-user.rhai");
    let (st, list) = admin.get("/api/v1/reports/custom").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list[0]["name"], "per-user", "{list}");
    assert_eq!(list[0]["title"], "人均跟进");
    assert_eq!(list[0]["params"][0]["kind"], "period");
    assert_eq!(list[0]["runnable"], true);

    let xiao = s.login("xiao", TEAM_PASSWORD).await;
    let far = s.login("far", TEAM_PASSWORD).await;
    let a = lead(&xiao, "甲", "13800000001").await;
    follow(&xiao, &a, 3).await;
    let b = lead(&far, "乙", "13800000002").await;
    follow(&far, &b, 2).await;

    let (st, r) = xiao.get("/api/v1/reports/custom/per-user").await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        rows(&r),
        [("xiao".to_string(), 3)],
        "a salesperson: own row only"
    );
    assert_eq!(r["chart_spec"]["kind"], "bar");
    assert_eq!(r["columns"][1]["kind"], "number");

    let boss = s.login("boss", TEAM_PASSWORD).await;
    let (_, r) = boss.get("/api/v1/reports/custom/per-user").await;
    assert_eq!(
        rows(&r),
        [("boss".to_string(), 0), ("xiao".to_string(), 3)],
        "a manager: their department"
    );

    let (_, r) = admin.get("/api/v1/reports/custom/per-user").await;
    let all = rows(&r);
    assert!(all.contains(&("far".to_string(), 2)) && all.contains(&("xiao".to_string(), 3)));
    // A department filter narrows the data handed in; a period before the follow-ups is empty.
    let (_, r) = admin
        .get("/api/v1/reports/custom/per-user?from=2020-01-01&to=2020-01-31")
        .await;
    assert!(rows(&r).iter().all(|(_, n)| *n == 0), "{r}");
    assert_eq!(r["from"], "2020-01-01");

    // The same period's built-in activity report agrees, row by row.
    let (_, act) = admin.get("/api/v1/reports/activity").await;
    let (_, r) = admin.get("/api/v1/reports/custom/per-user").await;
    for row in act["rows"].as_array().unwrap() {
        let name = row["display_name"].as_str().unwrap();
        let mine = rows(&r).into_iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(mine.1, row["followups"].as_i64().unwrap(), "{name}");
    }

    // XLSX, audited.
    let resp = admin
        .http
        .get(format!(
            "{}/api/v1/reports/custom/per-user?format=xlsx",
            admin.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(&resp.bytes().await.unwrap()[..2], b"PK");
    let (_, audit) = admin.get("/api/v1/audit?action=report.exported").await;
    assert_eq!(
        audit["items"][0]["detail"]["report"], "custom/per-user",
        "{audit}"
    );

    let (st, _) = admin.get("/api/v1/reports/custom/nope").await;
    assert_eq!(st, 404);
    let (st, e) = admin
        .get(&format!(
            "/api/v1/reports/custom/per-user?department={west}x"
        ))
        .await;
    assert_eq!(st, 200, "an undeclared parameter is ignored: {e}");
    s.stop().await;
}

#[tokio::test]
async fn a_broken_report_shows_its_file_and_line_and_the_others_still_run() {
    // Reports' own limits, low here so the endless loop stops soon.
    let mut config = zhudai::config::Config::defaults().unwrap();
    config.reports.max_operations = 1_000_000;
    config.reports.max_ms = 1_000;
    let s = TestServer::start_with_config(Fixture::WithAdmin, config).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let dir = s.dir.path().join("plugins").join("reports");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("good.rhai"), PER_USER).unwrap();
    std::fs::write(
        dir.join("throws.rhai"),
        "fn meta() { #{ title: \"会出错\" } }\n\nfn run(data, params) {\n  throw \"算不出来\";\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("syntax.rhai"),
        "fn meta() { #{ title: \"语法错\" } }\nfn run(data, params) {\n  let = ;\n}\n",
    )
    .unwrap();
    let looping = "fn meta() { #{ title: \"死循环\" } }\nfn run(data, params) {\n  loop { }\n}\n";
    std::fs::write(dir.join("looping.rhai"), looping).unwrap();
    // The server looks at the plugins directory at most once a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let (st, list) = admin.get("/api/v1/reports/custom").await;
    assert_eq!(st, 200, "{list}");
    let find = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("syntax")["runnable"], false);
    assert_eq!(find("syntax")["error"]["file"], "reports/syntax.rhai");
    assert_eq!(find("syntax")["error"]["line"], 3);
    assert_eq!(find("good")["runnable"], true);

    let (st, e) = admin.get("/api/v1/reports/custom/throws").await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["error"]["code"], "report_plugin_failed");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("reports/throws.rhai:4:"), "{msg}");
    let (st, e) = admin.get("/api/v1/reports/custom/syntax").await;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("reports/syntax.rhai:3:")
    );
    let (st, e) = admin.get("/api/v1/reports/custom/looping").await;
    assert_eq!(st, 422, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("reports/looping.rhai:"), "{msg}");
    assert!(
        msg.contains("reports.max_operations") || msg.contains("reports.max_ms"),
        "the key to raise: {msg}"
    );

    let (st, _) = admin.get("/api/v1/reports/custom/good").await;
    assert_eq!(st, 200, "the good report still runs");
    let (st, _) = admin.get("/api/v1/reports/activity").await;
    assert_eq!(st, 200, "the built-in reports still run");

    // The plugins page shows them: the file error, and the run-time failure.
    let (_, plugins) = admin.get("/api/v1/plugins").await;
    let p = |n: &str| {
        plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(p("report.syntax")["status"], "error");
    assert_eq!(p("report.syntax")["error"]["line"], 3);
    assert_eq!(p("report.throws")["errors_since_save"], 1);
    assert_eq!(p("report.throws")["recent_errors"][0]["line"], 4);

    // Saving a broken one through the API is refused with file and line; nothing written.
    let (st, e) = admin
        .call(
            Method::PUT,
            "/api/v1/plugins/report.new",
            Some(json!({"source": "fn meta() { #{ title: \"x\" } }\n"})),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["script_error"]["file"], "reports/new.rhai");
    assert!(!dir.join("new.rhai").exists());
    s.stop().await;
}

#[tokio::test]
async fn the_shipped_examples_run_over_real_data() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    for (name, file) in [
        ("report.weekly-followups", "weekly-followups.rhai"),
        ("report.channel-mom", "channel-mom.rhai"),
    ] {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/plugins/reports")
                .join(file),
        )
        .unwrap();
        let (st, v) = admin
            .call(
                Method::PUT,
                &format!("/api/v1/plugins/{name}"),
                Some(json!({"source": source})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let id = lead(&admin, "甲", "13800000001").await;
    follow(&admin, &id, 2).await;
    let (st, r) = admin
        .get("/api/v1/reports/custom/weekly-followups?target=1")
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["params"]["target"], 1);
    let me = r["rows"].as_array().unwrap().iter().find(|x| x["c2"] == 2);
    assert!(me.is_some(), "the admin's two follow-ups: {r}");
    let (st, r) = admin
        .get("/api/v1/reports/custom/channel-mom?metric=线索")
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["rows"][0]["c0"], "未填渠道", "{r}");
    let (st, e) = admin
        .get("/api/v1/reports/custom/channel-mom?metric=nope")
        .await;
    assert_eq!((st.as_u16(), &e["error"]["field"]), (400, &json!("metric")));
    s.stop().await;
}

/// `zhudai plugin check` runs the reports' inline tests: the shipped examples pass; a failing
/// case fails the check with its file and line.
#[test]
fn plugin_check_runs_the_reports_inline_tests() {
    let run = |dir: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zhudai"))
            .args(["plugin", "check", "--dir", dir])
            .output()
            .unwrap()
    };
    let out = run(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/plugins"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ok    reports/weekly-followups.rhai: 2 test case(s) passed"),
        "{text}"
    );
    assert!(
        text.contains("ok    reports/channel-mom.rhai: 3 test case(s) passed"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("reports")).unwrap();
    let failing = PER_USER.replace("row_count: 0", "row_count: 2");
    std::fs::write(dir.path().join("reports/per-user.rhai"), failing).unwrap();
    let out = run(dir.path().to_str().unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("FAIL  reports/per-user.rhai:16: 用例「空」"),
        "{text}"
    );
}

/// Per product: the deals' stage rows of every product the data holds, and the signs per day.
const PER_PRODUCT: &str = r#"fn meta() {
    #{ title: "产品签约", params: [#{ name: "period", kind: "period", label: "时间段" },
                                  #{ name: "product", kind: "product", label: "产品" }] }
}

fn run(data, params) {
    let per = #{};
    for d in data.deals { per[d.product] = (per[d.product] ?? 0) + d.n; }
    let signed = 0;
    for d in data.days { signed += d.deals_signed; }
    let rows = [];
    for k in per.keys() { rows.push([k, per[k]]); }
    rows.sort(|a, b| if a[0] < b[0] { -1 } else if a[0] > b[0] { 1 } else { 0 });
    rows.push(["签约合计", signed]);
    rows.push(["回款月数", data.months.len()]);
    #{ columns: ["产品", #{ label: "数", kind: "number" }], rows: rows }
}
"#;

/// The product parameter filters the data: with product A the script sees A's deal rows and
/// signs only (B's would show as a row and in the total if the filter broke), and no money
/// (fees are not kept per product); without it, both.
#[tokio::test]
async fn the_product_parameter_filters_the_data() {
    let s = TestServer::start(Fixture::WithAdmin).await;
    let admin = s.login(ADMIN, ADMIN_PASSWORD).await;
    let (st, v) = admin
        .call(
            Method::PUT,
            "/api/v1/plugins/report.per-product",
            Some(json!({"source": PER_PRODUCT})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let mut ids = Vec::new();
    for name in ["甲贷", "乙贷"] {
        let mut body = crate::products::salary_loan();
        body["name"] = json!(name);
        let (st, p) = admin.post("/api/v1/products", body).await;
        assert_eq!(st, 201, "{p}");
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    // 甲贷: one deal signed; 乙贷: two deals signed.
    for (i, product) in [&ids[0], &ids[1], &ids[1]].into_iter().enumerate() {
        let c = lead(&admin, &format!("客户{i}"), &format!("1390000000{i}")).await;
        let (st, d) = admin
            .post(
                "/api/v1/deals",
                json!({"customer_id": c, "product_id": product,
                       "amount_fen": 10_000_000, "term_months": 12}),
            )
            .await;
        assert_eq!(st, 201, "{d}");
        let id = d["id"].as_str().unwrap();
        for body in [
            json!({"stage": "visited"}),
            json!({"stage": "signed", "override": true, "reason": "合同原件已收，系统补录"}),
        ] {
            let (st, v) = admin.post(&format!("/api/v1/deals/{id}/stage"), body).await;
            assert_eq!(st, 200, "{v}");
        }
    }
    let table = |r: &Value| -> Vec<(String, i64)> { rows(r) };
    let (st, r) = admin
        .get(&format!(
            "/api/v1/reports/custom/per-product?product={}",
            ids[0]
        ))
        .await;
    assert_eq!(st, 200, "{r}");
    // 甲贷: invited, visited, signed = 3 stage entries; one sign; no months.
    assert_eq!(
        table(&r),
        [
            ("甲贷".to_string(), 3),
            ("签约合计".to_string(), 1),
            ("回款月数".to_string(), 0)
        ],
        "{r}"
    );
    let (st, r) = admin.get("/api/v1/reports/custom/per-product").await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        table(&r)[..3],
        [
            ("乙贷".to_string(), 6),
            ("甲贷".to_string(), 3),
            ("签约合计".to_string(), 3)
        ],
        "{r}"
    );
    s.stop().await;
}
