//! Custom reports (`report.*`): the declared shape and the returned table are checked
//! strictly, errors name file and line, the runtime limits hold, inline tests run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rhai::{Dynamic, Map};

use super::report::{self, read_meta, read_output};
use super::*;

const GOOD: &str = r#"fn meta() {
    #{ title: "人均跟进", params: [#{ name: "period", kind: "period", label: "时间段" }],
       chart: #{ kind: "bar", x: "姓名", series: ["跟进"] } }
}

fn run(data, params) {
    let rows = [];
    for u in data.users { rows.push([u.name, u.n]); }
    #{ columns: ["姓名", #{ label: "跟进", kind: "number" }], rows: rows }
}
"#;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn eval(src: &str) -> Dynamic {
    rhai::Engine::new().eval::<Dynamic>(src).unwrap()
}

fn in_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Plugins) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(report::DIR)).unwrap();
    for (name, src) in files {
        std::fs::write(dir.path().join(file_name(name)), src).unwrap();
    }
    let p = Plugins::new(dir.path()).with_check_interval(Duration::ZERO);
    (dir, p)
}

fn data(users: &[(&str, i64)]) -> Dynamic {
    let mut m = report::blank_data();
    let list: rhai::Array = users
        .iter()
        .map(|(n, k)| {
            let mut u = Map::new();
            u.insert("name".into(), Dynamic::from(n.to_string()));
            u.insert("n".into(), Dynamic::from(*k));
            Dynamic::from(u)
        })
        .collect();
    m.insert("users".into(), Dynamic::from(list));
    Dynamic::from(m)
}

#[test]
fn a_report_file_lives_under_reports_and_is_named_report_dot() {
    assert!(valid_name("report.weekly-followups"));
    assert!(!valid_name("report."));
    assert!(!valid_name("report.a/b"));
    assert_eq!(file_name("report.weekly"), "reports/weekly.rhai");
    let (_d, p) = in_dir(&[("report.avg", GOOD)]);
    assert_eq!(p.report_names(), ["report.avg"]);
    let status = p
        .list()
        .into_iter()
        .find(|s| s.name == "report.avg")
        .unwrap();
    assert_eq!(
        (status.status.as_str(), status.hooks.as_slice()),
        ("ok", ["report.avg".to_string()].as_slice())
    );
    let out = p
        .run_report(
            "report.avg",
            data(&[("甲", 3), ("乙", 1)]),
            Dynamic::from(Map::new()),
            now(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(out.rows.len(), 2);
    assert_eq!(out.columns[1].kind, "number");
    assert_eq!(out.chart.unwrap().series, ["跟进"]);
}

#[test]
fn meta_is_checked_strictly() {
    let ok = read_meta(&eval(
        r#"#{ title: "t", params: [#{ name: "n", kind: "number", label: "N", initial: 3 },
                                   #{ name: "c", kind: "choice", label: "C", options: ["a", "b"] }] }"#,
    ))
    .unwrap();
    assert_eq!(ok.params[1].default, serde_json::json!("a"));
    for (src, needle) in [
        (r#"#{ params: [] }"#, "title"),
        (r#"#{ title: "t", colour: 1 }"#, "colour"),
        (
            r#"#{ title: "t", params: [#{ name: "x", kind: "date", label: "X" }] }"#,
            "kind",
        ),
        (
            r#"#{ title: "t", params: [#{ name: "x", kind: "choice", label: "X" }] }"#,
            "options",
        ),
        (
            r#"#{ title: "t", params: [#{ name: "from", kind: "number", label: "X" }] }"#,
            "from",
        ),
        (
            r#"#{ title: "t", params: [#{ name: "p", kind: "period", label: "P", "default": "ever" }] }"#,
            "default",
        ),
        (
            r#"#{ title: "t", chart: #{ kind: "radar", x: "a", series: ["b"] } }"#,
            "radar",
        ),
        (r#""just a string""#, "对象"),
    ] {
        let e = read_meta(&eval(src)).unwrap_err();
        assert!(e.contains(needle), "{src}: {e}");
    }
}

#[test]
fn the_table_is_checked_strictly() {
    let ok = read_output(
        &eval(r#"#{ columns: ["a", "b"], rows: [["x", 1], ["y", ()]] }"#),
        None,
    )
    .unwrap();
    assert_eq!(
        ok.columns[1].kind, "number",
        "a column of numbers is a number column"
    );
    for (src, needle) in [
        (r#"#{ rows: [] }"#, "columns"),
        (r#"#{ columns: [], rows: [] }"#, "1 到"),
        (r#"#{ columns: ["a"], rows: [["x", 1]] }"#, "2 格"),
        (r#"#{ columns: ["a", "a"], rows: [] }"#, "重复"),
        (r#"#{ columns: ["a"], rows: [[#{}]] }"#, "rows[0][0]"),
        (
            r#"#{ columns: [#{ label: "n", kind: "number" }], rows: [["x"]] }"#,
            "不是数字",
        ),
        (r#"#{ columns: ["a"], rows: [], extra: 1 }"#, "extra"),
        (
            r#"#{ columns: ["a", "b"], rows: [["x", 1]], chart: #{ kind: "bar", x: "a", series: ["c"] } }"#,
            "列名",
        ),
        (
            r#"#{ columns: ["a", "b"], rows: [["x", "y"]], chart: #{ kind: "bar", x: "a", series: ["b"] } }"#,
            "不是数字列",
        ),
        (r#"[1, 2]"#, "对象"),
    ] {
        let e = read_output(&eval(src), None).unwrap_err();
        assert!(e.contains(needle), "{src}: {e}");
    }
}

#[test]
fn a_broken_report_names_its_file_and_line_and_others_still_run() {
    let throws = "fn meta() { #{ title: \"坏\" } }\n\nfn run(data, params) {\n  let x = 1;\n  throw \"出错了\";\n}\n";
    let shape = "fn meta() { #{ title: \"形状\" } }\nfn run(data, params) {\n  #{ columns: [\"a\"], rows: [[1, 2]] }\n}\n";
    let syntax = "fn meta() { #{ title: \"语法\" } }\nfn run(data, params) {\n  let = ;\n}\n";
    let missing = "fn meta() { #{ title: \"缺\" } }\n";
    let (_d, p) = in_dir(&[
        ("report.avg", GOOD),
        ("report.throws", throws),
        ("report.shape", shape),
        ("report.syntax", syntax),
        ("report.missing", missing),
    ]);
    let run = |n: &str| {
        p.run_report(n, data(&[("甲", 1)]), Dynamic::from(Map::new()), now())
            .unwrap()
    };
    let e = run("report.throws").unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        ("reports/throws.rhai", Some(5)),
        "{e}"
    );
    let e = run("report.shape").unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        ("reports/shape.rhai", Some(2)),
        "{e}"
    );
    assert!(e.message.contains("2 格"), "{e}");
    let e = run("report.syntax").unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line),
        ("reports/syntax.rhai", Some(3)),
        "{e}"
    );
    let e = run("report.missing").unwrap_err();
    assert!(e.message.contains("fn run(data, params)"), "{e}");
    assert!(run("report.avg").is_ok(), "the good report is not affected");
    // The plugins page shows the file errors and the run-time failures.
    let list = p.list();
    let status = |n: &str| list.iter().find(|s| s.name == n).unwrap();
    assert_eq!(status("report.syntax").status, "error");
    assert_eq!(
        status("report.syntax").error.as_ref().unwrap().line,
        Some(3)
    );
    assert_eq!(status("report.throws").errors_since_save, 1);
    assert_eq!(status("report.throws").recent_errors[0].line, Some(5));
}

#[test]
fn the_runtime_limits_hold_for_reports() {
    let looping = "fn meta() { #{ title: \"死循环\" } }\nfn run(data, params) {\n  let n = 0;\n  loop { n += 1; }\n}\n";
    let huge = "fn meta() { #{ title: \"太大\" } }\nfn run(data, params) {\n  let rows = [[0]];\n  loop { rows += rows; }\n}\n";
    let (_d, p) = in_dir(&[("report.looping", looping), ("report.huge", huge)]);
    let p = p.with_report_limits(ReportLimits {
        max_operations: 1_000_000,
        max_ms: 2_000,
    });
    let e = p
        .run_report(
            "report.looping",
            data(&[]),
            Dynamic::from(Map::new()),
            now(),
        )
        .unwrap()
        .unwrap_err();
    assert!(
        e.message.contains("reports.max_operations") || e.message.contains("reports.max_ms"),
        "{e}"
    );
    assert!(e.message.contains("缩短时间段"), "{e}");
    assert_eq!(e.file, "reports/looping.rhai");
    let e = p
        .run_report("report.huge", data(&[]), Dynamic::from(Map::new()), now())
        .unwrap()
        .unwrap_err();
    assert!(e.message.contains("数据过大"), "{e}");
    // Rhai gives no position for a size limit: the error points at `fn run`.
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn inline_tests_of_a_report_run_in_plugin_check() {
    let src = format!(
        "{GOOD}\nfn tests() {{\n  [\n    #{{ name: \"对\", hook: \"run\", data: #{{ users: [#{{ name: \"甲\", n: 2 }}] }},\n       expect: #{{ rows: [[\"甲\", 2]] }} }},\n    #{{ name: \"错\", hook: \"run\",\n       expect: #{{ row_count: 1 }} }},\n  ]\n}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("reports")).unwrap();
    std::fs::write(dir.path().join("reports/avg.rhai"), &src).unwrap();
    let p = Plugins::new(Path::new("/nonexistent/zhudai-plugins"));
    let reports = check::check_dir(&p, dir.path(), None).unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.file, "reports/avg.rhai");
    assert_eq!(r.passed, 1);
    assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
    let f = &r.failures[0];
    assert_eq!(f.line, Some(16), "{f}");
    assert!(
        f.message.contains("错") && f.message.contains("row_count"),
        "{f}"
    );
    // A meta() that breaks its shape fails the check at fn meta.
    let bad = GOOD.replace("kind: \"period\"", "kind: \"date\"");
    let r = check::check_source(&p, "report.avg", &bad);
    assert_eq!(r.failures[0].line, Some(1), "{:?}", r.failures);
}

#[test]
fn data_larger_than_the_array_limit_can_be_read() {
    let src = "fn meta() { #{ title: \"计数\" } }\nfn run(data, params) {\n  let n = 0;\n  for u in data.users { n += u.n; }\n  #{ columns: [\"n\"], rows: [[n]] }\n}\n";
    let (_d, p) = in_dir(&[("report.count", src)]);
    let users: Vec<(&str, i64)> = (0..20_000).map(|_| ("x", 1)).collect();
    let out = p
        .run_report(
            "report.count",
            data(&users),
            Dynamic::from(Map::new()),
            now(),
        )
        .unwrap();
    assert_eq!(out.unwrap().rows[0][0], serde_json::json!(20_000));
}

/// A year for 200 users (73,200 per-user-day rows) runs the shipped weekly example under the
/// default report limits; under the hooks' 1,000,000 operations it would not, and the error
/// then names the file, the limit's key and what to do.
#[test]
fn a_year_for_200_users_runs_under_the_report_limits() {
    let src = include_str!("../../examples/plugins/reports/weekly-followups.rhai");
    let users: Vec<serde_json::Value> = (0..200)
        .map(|i| {
            serde_json::json!({"id": format!("u{i}"), "name": format!("员工{i}"),
            "department": "一组", "active": true})
        })
        .collect();
    let start = chrono::NaiveDate::from_ymd_opt(2025, 11, 20).unwrap();
    let mut days = Vec::with_capacity(366 * 200);
    for d in 0..366 {
        let day = (start + chrono::Duration::days(d)).to_string();
        for i in 0..200 {
            days.push(serde_json::json!({"day": day, "user_id": format!("u{i}"),
                "followups": 1, "new_leads": 0, "deals_signed": 0, "calls": 0,
                "calls_answered": 0, "claims": 0}));
        }
    }
    let data = serde_json::json!({"from": start.to_string(), "to": "2026-11-20",
        "users": users, "days": days});
    let (_d, p) = in_dir(&[("report.weekly", src)]);
    let out = p
        .run_report(
            "report.weekly",
            report::to_dynamic(&data),
            report::to_dynamic(&serde_json::json!({"target": 5})),
            now(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(out.rows.len(), 200);
    // Every user: 366 follow-ups on 366 active days.
    assert_eq!(out.rows[0][2], serde_json::json!(366));
    assert_eq!(out.rows[0][4], serde_json::json!(366));
    let tight = p.with_report_limits(ReportLimits {
        max_operations: 1_000_000,
        max_ms: 60_000,
    });
    let e = tight
        .run_report(
            "report.weekly",
            report::to_dynamic(&data),
            report::to_dynamic(&serde_json::json!({"target": 5})),
            now(),
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(e.file, "reports/weekly.rhai");
    assert!(e.message.contains("reports.max_operations"), "{e}");
    assert!(e.message.contains("1000000"), "{e}");
}
