//! Engine tests for issue 15: strict result schemas, top-level constants inside hook
//! functions, department helpers, the horizon check and inline tests of `horizon`.

use std::path::Path;

use chrono::{DateTime, Utc};
use rhai::{Dynamic, Map};

use super::*;
use crate::domain::org::Department;

fn plugins() -> Plugins {
    Plugins::new(Path::new("/nonexistent/zhudai-plugins"))
}

fn map(pairs: &[(&str, Dynamic)]) -> Dynamic {
    Dynamic::from(
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect::<Map>(),
    )
}

fn s(v: &str) -> Dynamic {
    Dynamic::from(v.to_string())
}

#[test]
fn results_are_checked_against_the_hook_schema() {
    use hooks::{assign_decision, claim_decision, recall_decision};
    // Unknown keys (a typo) are errors, not "keep" / "nobody".
    let e = recall_decision(&map(&[("recal", Dynamic::from(true))])).unwrap_err();
    assert!(e.contains("未知的键 recal"), "{e}");
    let e = assign_decision(&map(&[("userid", s("u1"))])).unwrap_err();
    assert!(e.contains("userid"), "{e}");
    // Wrong types.
    let e = recall_decision(&map(&[("recall", s("yes"))])).unwrap_err();
    assert!(e.contains("recall 应为 bool"), "{e}");
    let e = recall_decision(&map(&[("warn", Dynamic::from(false))])).unwrap_err();
    assert!(e.contains("warn"), "{e}");
    // Missing required keys.
    let e = claim_decision(&map(&[("rule", s("x"))])).unwrap_err();
    assert!(e.contains("缺少必需的键 allow"), "{e}");
    let e = claim_decision(&map(&[("allow", Dynamic::from(false))])).unwrap_err();
    assert!(e.contains("rule"), "{e}");
    let e = recall_decision(&map(&[("recall", Dynamic::from(true))])).unwrap_err();
    assert!(e.contains("reason"), "{e}");
    let e = assign_decision(&map(&[("reason", s("r"))])).unwrap_err();
    assert!(e.contains("user_id"), "{e}");
    // The documented forms still read.
    assert_eq!(recall_decision(&Dynamic::UNIT), Ok(RecallDecision::Keep));
    assert_eq!(recall_decision(&map(&[])), Ok(RecallDecision::Keep));
    assert_eq!(
        claim_decision(&Dynamic::from(true)),
        Ok(ClaimDecision::Allow)
    );
    assert_eq!(
        assign_decision(&map(&[("user_id", Dynamic::UNIT), ("reason", s("无人"))]))
            .unwrap()
            .user_id,
        None
    );
    // Every hook documents a schema and its failure semantics.
    for h in hooks::HOOKS {
        assert!(!h.result.is_empty() && !h.on_error.is_empty(), "{}", h.name);
    }
}

#[test]
fn top_level_constants_are_readable_inside_hook_functions() {
    let p = plugins();
    let src = "const LIMIT = 5;\nconst RULE = \"daily\";\n\
               fn can_claim(customer, user, pool, ctx) {\n\
                 if ctx.claims_today >= LIMIT { return #{ allow: false, rule: RULE }; }\n\
                 #{ allow: true }\n}\n\
               fn tests() { [\n\
                 #{ hook: \"can_claim\", ctx: #{ claims_today: 5 }, expect: #{ allow: false, rule: \"daily\" } },\n\
                 #{ hook: \"can_claim\", ctx: #{ claims_today: 4 }, expect: #{ allow: true } },\n\
               ] }\n";
    let r = check::check_source(&p, "pool", src);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.passed, 2);
    // A name that is neither local nor a constant is still refused at compile time.
    let e = p
        .compile("pool", "fn can_claim(customer, user, pool, ctx) { LIMT }\n")
        .unwrap_err();
    assert!(e.message.contains("LIMT"), "{e}");
}

#[test]
fn dept_and_department_path_read_the_departments() {
    let p = plugins();
    let t = DateTime::<Utc>::default();
    let d = |id: &str, name: &str, parent: Option<&str>| Department {
        id: id.into(),
        name: name.into(),
        parent_id: parent.map(str::to_string),
        created_at: t,
    };
    p.set_org(&[
        d("d1", "总部", None),
        d("d2", "直播部", Some("d1")),
        d("d3", "直播一组", Some("d2")),
    ]);
    let ast = p
        .compile(
            "x",
            "fn f() { [dept(\"直播一组\").path, dept(\"直播部\").id, dept(\"没有\")] }\n",
        )
        .unwrap();
    let v = p.call("x.rhai", &ast, "f", Vec::new(), t).unwrap();
    assert_eq!(
        check::to_json(&v),
        serde_json::json!([["总部", "直播部", "直播一组"], "d2", null])
    );
    let org = api::DeptInfo::all(&[d("d1", "总部", None), d("d3", "直播一组", Some("d1"))]);
    assert_eq!(
        api::department_path(&org, Some("d3")),
        vec!["总部".to_string(), "直播一组".to_string()]
    );
}

#[test]
fn a_stale_horizon_fails_the_check_and_horizon_can_be_tested_inline() {
    let p = plugins();
    let stale = "fn recall(customer, pool, ctx) { #{ recall: true, reason: \"全部\" } }\n\
                 fn horizon(pool, ctx) { 10 }\n";
    let r = check::check_source(&p, "pool", stale);
    assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
    assert_eq!(r.failures[0].line, Some(2));
    assert!(
        r.failures[0].message.contains("horizon"),
        "{}",
        r.failures[0]
    );
    // The shipped default's horizon holds, and inline tests can pin it.
    let default = default_source("pool").unwrap();
    let with_case = default.replace(
        "    [\n        #{ name: \"B级15天未跟进回收\"",
        "    [\n        #{ name: \"预筛天数\", hook: \"horizon\", expect: #{ days: 4 } },\n        #{ name: \"B级15天未跟进回收\"",
    );
    assert_ne!(with_case, default, "the anchor moved");
    let r = check::check_source(&p, "pool", &with_case);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let wrong = with_case.replace("days: 4", "days: 9");
    let r = check::check_source(&p, "pool", &wrong);
    assert!(
        r.failures[0].message.contains("days 期望 9"),
        "{:?}",
        r.failures
    );
}

#[test]
fn a_file_serving_no_known_hook_is_warned_about_and_a_missing_dir_is_an_error() {
    let p = plugins();
    let r = check::check_source(&p, "scoring", "fn score(c) { 1 }\n");
    assert!(
        r.warnings.iter().any(|w| w.contains("不服务任何已知挂钩")),
        "{:?}",
        r.warnings
    );
    assert!(check::check_dir(&p, Path::new("/nonexistent/zhudai-plugins"), None).is_err());
}
