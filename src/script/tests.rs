//! Engine tests: the binding list, the sandbox limits, the default rules at controlled dates,
//! reload and the inline tests of the shipped plugins.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::customer::{Customer, RuleFields, Stage};
use crate::domain::org::{User, UserStatus};
use crate::domain::pool::{Pool, PoolSettings};

/// Every binding of the script API. Adding or removing one without updating this list (and
/// regenerating docs/plugins.md) fails here.
const EXPECTED: &[&str] = &[
    "Customer",
    "customer.id: string",
    "customer.name: string",
    "customer.stage: string",
    "customer.grade: string|()",
    "customer.stars: int",
    "customer.city: string|()",
    "customer.channel: string|()",
    "customer.tags: array",
    "customer.owner_id: string|()",
    "customer.pool_id: string|()",
    "customer.previous_owner_id: string|()",
    "customer.last_followup_at: int|() (时间)",
    "customer.next_followup_at: int|() (时间)",
    "customer.created_at: int (时间)",
    "customer.held_since: int (时间)",
    "customer.locked: bool",
    "customer.pool_entered_at: int|() (时间)",
    "customer.deleted: bool",
    "customer.deal_stage: string|()",
    "customer.demand: map",
    "customer.profile: map",
    "User",
    "user.id: string",
    "user.username: string",
    "user.display_name: string",
    "user.roles: array",
    "user.department_id: string|()",
    "user.is_admin: bool",
    "Deal",
    "deal.id: string",
    "deal.customer_id: string",
    "deal.product_id: string",
    "deal.product_name: string",
    "deal.lender: string",
    "deal.category: string",
    "deal.amount_fen: int",
    "deal.disbursed_fen: int",
    "deal.disbursed_on: string|()",
    "deal.fee_terms: map",
    "deal.rebate_bp: int|()",
    "deal.fee_fen: int",
    "deal.officer_id: string",
    "deal.assistant_id: string|()",
    "deal.manager_id: string|()",
    "deal.channel: string|()",
    "deal.channel_id: string|()",
    "Payment",
    "payment.id: string",
    "payment.amount_fen: int",
    "payment.paid_on: string",
    "payment.month: string",
    "payment.method: string",
    "Pool",
    "pool.id: string",
    "pool.name: string",
    "pool.department_id: string|()",
    "pool.recall_enabled: bool",
    "pool.no_followup_days: map",
    "pool.no_signing_days: int|()",
    "pool.warn_days_before: int",
    "pool.claim_daily_limit: int",
    "pool.max_owned: int",
    "pool.max_owned_counts_won: bool",
    "pool.reclaim_cooldown_days: int",
    "pool.protect_new_hours: int",
    "Candidate",
    "candidate.id: string",
    "candidate.display_name: string",
    "candidate.department_id: string|()",
    "candidate.department_path: array",
    "candidate.open_leads: int",
    "candidate.weight: int",
    "Product",
    "product.id: string",
    "product.name: string",
    "product.lender: string",
    "product.category: string",
    "product.amount_min_fen: int",
    "product.amount_max_fen: int",
    "product.term_min_months: int",
    "product.term_max_months: int",
    "product.rate_min_bp: int",
    "product.rate_max_bp: int",
    "product.methods: array",
    "product.requirements: map",
    "product.documents: array",
    "product.fees: map",
    "Ctx",
    "ctx.hook: string",
    "ctx.now: int (时间)",
    "ctx.owned_count: int",
    "ctx.owned_count_excluding_won: int",
    "ctx.claims_today: int",
    "ctx.last_released_at: int|() (时间)",
    "ctx.entered_pool_at: int|() (时间)",
    "ctx.mode: string",
    "ctx.cursor: int",
    "ctx.turns: map",
    "ctx.age: int|()",
    "ctx.status: string",
    "ctx.missing: array",
    "ctx.month_volume_fen: int",
    "ctx.estimate: map",
    "api_version() -> int",
    "days_between(a: int, b: int) -> int",
    "yuan(fen: int) -> string",
    "percent(bp: int) -> string",
    "date(ts: int) -> string",
    "today() -> string",
    "ts(s: string) -> int",
    "days(n: int) -> int",
    "hours(n: int) -> int",
    "days_left(now: int, due: int) -> int",
    "later(a: int|(), b: int|()) -> int|()",
    "dept(name: string) -> map|()",
    "ctx.turn(group: string) -> int",
    "pool.no_followup_days_for(grade: string|()) -> int",
];

#[test]
fn every_binding_is_listed() {
    let api = api::build();
    let got: Vec<&str> = api.bindings.iter().map(|b| b.signature.as_str()).collect();
    assert_eq!(
        got, EXPECTED,
        "the script API changed: update EXPECTED in src/script/tests.rs and regenerate docs/plugins.md (`zhudai plugin docs > docs/plugins.md`)"
    );
    for b in &api.bindings {
        assert!(!b.doc.is_empty(), "{} has no description", b.name);
    }
}

#[test]
fn docs_are_current() {
    let api = api::build();
    let want = api::reference(&api.bindings);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plugins.md");
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have != want && std::env::var_os("ZHUDAI_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    assert!(
        have == want,
        "docs/plugins.md is stale: run `zhudai plugin docs > docs/plugins.md` (or ZHUDAI_BLESS=1 cargo test --lib script)"
    );
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn customer(grade: Option<&str>, stage: Stage, last: Option<&str>) -> Customer {
    let created = at("2026-09-01T00:00:00Z");
    let mut c: Customer = serde_json::from_value(serde_json::json!({
        "id": "c1", "name": "王五", "phone": {"enc": "", "bidx": "", "masked": "", "tail": ""},
        "stage": "lead", "created_by": "u0",
        "created_at": created, "updated_at": created,
    }))
    .unwrap_or_else(|_| panic!("customer json"));
    c.grade = grade.map(str::to_string);
    c.stage = stage;
    c.last_followup_at = last.map(at);
    c.owner_id = Some("u1".into());
    c
}

fn pool(settings: PoolSettings) -> Pool {
    let t = at("2026-01-01T00:00:00Z");
    Pool {
        id: "p1".into(),
        name: "公海".into(),
        department_id: None,
        members: vec![],
        admins: vec![],
        settings,
        created_at: t,
        updated_at: t,
    }
}

fn user(id: &str) -> User {
    let t = at("2026-01-01T00:00:00Z");
    User {
        id: id.into(),
        username: id.into(),
        display_name: id.into(),
        password_hash: String::new(),
        roles: vec!["sales".into()],
        status: UserStatus::Active,
        department_id: None,
        manager_id: None,
        phone_enc: None,
        phone_bidx: None,
        phone_masked: None,
        extension: None,
        broker: None,
        must_change_password: false,
        created_at: t,
        updated_at: t,
    }
}

fn defaults() -> Plugins {
    // An empty directory: the embedded defaults run.
    Plugins::new(Path::new("/nonexistent/zhudai-plugins"))
}

fn recall_at(
    p: &Plugins,
    c: &Customer,
    held: &str,
    now: &str,
    settings: PoolSettings,
) -> RecallDecision {
    p.recall(&RecallInput {
        customer: RuleFields::from(c),
        pool: pool(settings),
        locked: false,
        held_since: at(held),
        now: at(now),
    })
    .unwrap()
}

#[test]
fn default_recall_by_grade_counts_from_the_later_of_followup_and_held_since() {
    let p = defaults();
    let s = PoolSettings {
        no_signing_days: None,
        ..PoolSettings::default()
    };
    // (grade, last follow-up, held since, now, expected)
    let keep = RecallDecision::Keep;
    type Row<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        &'a str,
        RecallDecision,
    );
    let rows: Vec<Row> = vec![
        // B: 15 days from the last follow-up.
        (
            Some("B"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-16T01:59:59Z",
            RecallDecision::Warn {
                days_left: 1,
                reason: "超过15天未跟进（B级客户）".into(),
            },
        ),
        (
            Some("B"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-16T02:00:00Z",
            RecallDecision::Recall {
                reason: "超过15天未跟进（B级客户）".into(),
            },
        ),
        // Warned exactly 3 days before, not 4.
        (
            Some("B"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-13T02:00:00Z",
            RecallDecision::Warn {
                days_left: 3,
                reason: "超过15天未跟进（B级客户）".into(),
            },
        ),
        (
            Some("B"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-12T02:00:00Z",
            keep.clone(),
        ),
        // A: 30 days; D: 7 days.
        (
            Some("A"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-20T02:00:00Z",
            keep.clone(),
        ),
        (
            Some("A"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-12-01T02:00:00Z",
            RecallDecision::Recall {
                reason: "超过30天未跟进（A级客户）".into(),
            },
        ),
        (
            Some("D"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-08T02:00:00Z",
            RecallDecision::Recall {
                reason: "超过7天未跟进（D级客户）".into(),
            },
        ),
        // No grade and an unknown grade: "default" (15).
        (
            None,
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-16T02:00:00Z",
            RecallDecision::Recall {
                reason: "超过15天未跟进（默认级客户）".into(),
            },
        ),
        (
            Some("Z"),
            Some("2026-11-01T02:00:00Z"),
            "2026-10-01T00:00:00Z",
            "2026-11-15T02:00:00Z",
            RecallDecision::Warn {
                days_left: 1,
                reason: "超过15天未跟进（默认级客户）".into(),
            },
        ),
        // Claimed after the last follow-up: the clock starts at the claim.
        (
            Some("D"),
            Some("2026-10-01T02:00:00Z"),
            "2026-11-10T00:00:00Z",
            "2026-11-16T00:00:00Z",
            RecallDecision::Warn {
                days_left: 1,
                reason: "超过7天未跟进（D级客户）".into(),
            },
        ),
        // Never followed up: from held_since.
        (
            Some("C"),
            None,
            "2026-11-10T00:00:00Z",
            "2026-11-20T00:00:00Z",
            RecallDecision::Recall {
                reason: "超过10天未跟进（C级客户）".into(),
            },
        ),
    ];
    for (k, (grade, last, held, now, want)) in rows.into_iter().enumerate() {
        let c = customer(grade, Stage::Contacted, last);
        assert_eq!(recall_at(&p, &c, held, now, s.clone()), want, "row {k}");
    }
}

#[test]
fn default_recall_no_signing_won_and_locked() {
    let p = defaults();
    let s = PoolSettings::default(); // no_signing_days 90
    let fresh = Some("2026-11-19T02:00:00Z");
    // Held since Aug 1 + 90 days = Oct 30: recalled although followed up yesterday.
    let c = customer(Some("A"), Stage::Visited, fresh);
    assert_eq!(
        recall_at(
            &p,
            &c,
            "2026-08-01T00:00:00Z",
            "2026-11-20T02:00:00Z",
            s.clone()
        ),
        RecallDecision::Recall {
            reason: "领取或分配后90天内未签约".into()
        }
    );
    // Warned 2 days before the 90th day.
    assert_eq!(
        recall_at(
            &p,
            &c,
            "2026-08-24T00:00:00Z",
            "2026-11-20T02:00:00Z",
            s.clone()
        ),
        RecallDecision::Warn {
            days_left: 2,
            reason: "领取或分配后90天内未签约".into()
        }
    );
    // Signed: only the follow-up rule applies.
    let signed = customer(Some("A"), Stage::Signed, fresh);
    assert_eq!(
        recall_at(
            &p,
            &signed,
            "2026-08-01T00:00:00Z",
            "2026-11-20T02:00:00Z",
            s.clone()
        ),
        RecallDecision::Keep
    );
    // Won: never, whatever the dates.
    let won = customer(Some("D"), Stage::Won, None);
    assert_eq!(
        recall_at(
            &p,
            &won,
            "2025-01-01T00:00:00Z",
            "2026-11-20T02:00:00Z",
            s.clone()
        ),
        RecallDecision::Keep
    );
    // Locked: never.
    let old = customer(Some("D"), Stage::Lead, None);
    let locked = p
        .recall(&RecallInput {
            customer: RuleFields::from(&old),
            pool: pool(s.clone()),
            locked: true,
            held_since: at("2025-01-01T00:00:00Z"),
            now: at("2026-11-20T02:00:00Z"),
        })
        .unwrap();
    assert_eq!(locked, RecallDecision::Keep);
    // Recall disabled on the pool.
    let off = PoolSettings {
        recall_enabled: false,
        ..s.clone()
    };
    assert_eq!(
        recall_at(
            &p,
            &old,
            "2025-01-01T00:00:00Z",
            "2026-11-20T02:00:00Z",
            off
        ),
        RecallDecision::Keep
    );
    // Deleted customers are left alone.
    let mut gone = old.clone();
    gone.deleted_at = Some(at("2026-11-01T00:00:00Z"));
    assert_eq!(
        recall_at(&p, &gone, "2025-01-01T00:00:00Z", "2026-11-20T02:00:00Z", s),
        RecallDecision::Keep
    );
}

fn claim(p: &Plugins, settings: PoolSettings, f: impl FnOnce(&mut ClaimInput)) -> ClaimDecision {
    let mut i = ClaimInput {
        customer: customer(Some("B"), Stage::Lead, None),
        pool: pool(settings),
        user: user("u2"),
        owned_count: 10,
        owned_count_excluding_won: 10,
        claims_today_in_pool: 0,
        last_released_by_this_user_at: None,
        entered_pool_at: Some(at("2026-11-01T00:00:00Z")),
        deal_stage: None,
        now: at("2026-11-20T02:00:00Z"),
    };
    f(&mut i);
    p.can_claim(&i).unwrap()
}

fn rule(d: ClaimDecision) -> String {
    match d {
        ClaimDecision::Allow => "allow".into(),
        ClaimDecision::Refuse { rule, reason } => {
            assert!(!reason.is_empty());
            rule
        }
    }
}

#[test]
fn default_claim_rules_name_the_rule() {
    let p = defaults();
    let s = PoolSettings::default;
    assert_eq!(rule(claim(&p, s(), |_| {})), "allow");
    assert_eq!(
        rule(claim(&p, s(), |i| i.claims_today_in_pool = 19)),
        "allow"
    );
    assert_eq!(
        rule(claim(&p, s(), |i| i.claims_today_in_pool = 20)),
        "claim_daily_limit"
    );
    assert_eq!(
        rule(claim(&p, s(), |i| {
            i.owned_count = 500;
            i.owned_count_excluding_won = 299;
        })),
        "allow"
    );
    assert_eq!(
        rule(claim(&p, s(), |i| i.owned_count_excluding_won = 300)),
        "max_owned"
    );
    let counts_won = PoolSettings {
        max_owned_counts_won: true,
        ..s()
    };
    assert_eq!(
        rule(claim(&p, counts_won, |i| {
            i.owned_count = 300;
            i.owned_count_excluding_won = 1;
        })),
        "max_owned"
    );
    // Cooldown: 7 days after losing it.
    assert_eq!(
        rule(claim(&p, s(), |i| i.last_released_by_this_user_at =
            Some(at("2026-11-13T02:00:01Z")))),
        "reclaim_cooldown"
    );
    assert_eq!(
        rule(claim(&p, s(), |i| i.last_released_by_this_user_at =
            Some(at("2026-11-13T02:00:00Z")))),
        "allow"
    );
    // New-in-pool protection, off by default.
    let just_in = |i: &mut ClaimInput| i.entered_pool_at = Some(at("2026-11-20T01:00:00Z"));
    assert_eq!(rule(claim(&p, s(), just_in)), "allow");
    let protect = PoolSettings {
        protect_new_hours: 2,
        ..s()
    };
    assert_eq!(rule(claim(&p, protect.clone(), just_in)), "protect_new");
    assert_eq!(
        rule(claim(&p, protect, |i| i.entered_pool_at =
            Some(at("2026-11-20T00:00:00Z")))),
        "allow"
    );
}

#[test]
fn default_assign_modes() {
    let p = defaults();
    let cands: Vec<AssignCandidate> = [("u1", 5, 1), ("u2", 2, 3), ("u3", 2, 1)]
        .into_iter()
        .map(|(id, open, weight)| AssignCandidate {
            user: user(id),
            open_leads: open,
            weight,
        })
        .collect();
    let pick = |mode: &str, cursor: u64, cands: Vec<AssignCandidate>| {
        p.assign(&AssignInput {
            customer: customer(None, Stage::Lead, None),
            candidates: cands,
            mode: mode.into(),
            cursor,
            turns: Vec::new(),
            deal_stage: None,
            now: at("2026-11-20T02:00:00Z"),
        })
        .unwrap()
        .user_id
    };
    let ids = |v: Vec<Option<String>>| {
        v.into_iter()
            .map(|x| x.unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids((0..4)
            .map(|c| pick("round_robin", c, cands.clone()))
            .collect()),
        ["u1", "u2", "u3", "u1"]
    );
    assert_eq!(
        ids((0..5).map(|c| pick("weighted", c, cands.clone())).collect()),
        ["u1", "u2", "u2", "u2", "u3"]
    );
    assert_eq!(
        ids((0..3)
            .map(|c| pick("least_loaded", c, cands.clone()))
            .collect()),
        ["u2", "u2", "u3"]
    );
    assert_eq!(
        ids((0..2).map(|c| pick("by_city", c, cands.clone())).collect()),
        ["u1", "u2"]
    );
    assert_eq!(pick("round_robin", 0, vec![]), None);
}

fn write(dir: &Path, name: &str, source: &str) {
    std::fs::write(dir.join(file_name(name)), source).unwrap();
}

fn plugins_in(dir: &Path) -> Plugins {
    Plugins::new(dir).with_check_interval(Duration::ZERO)
}

fn recall_err(p: &Plugins) -> ScriptError {
    let c = customer(Some("B"), Stage::Lead, None);
    p.recall(&RecallInput {
        customer: RuleFields::from(&c),
        pool: pool(PoolSettings::default()),
        locked: false,
        held_since: at("2026-11-01T00:00:00Z"),
        now: at("2026-11-20T02:00:00Z"),
    })
    .unwrap_err()
}

/// Issue 16.9: claim and assignment rules see the customer's most advanced open deal, as
/// recall rules do.
#[test]
fn claim_and_pick_rules_see_the_deal_stage() {
    use crate::domain::deal::DealStage;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pool",
        "fn can_claim(customer, user, pool, ctx) {\n    if customer.deal_stage == \"submitted\" {\n        return #{ allow: false, rule: \"open_deal\", reason: \"已进件的客户不能领取\" };\n    }\n    #{ allow: true }\n}\n",
    );
    write(
        dir.path(),
        "assign",
        "fn pick(customer, candidates, ctx) {\n    #{ user_id: candidates[0].id, reason: `阶段：${customer.deal_stage}` }\n}\n",
    );
    let p = plugins_in(dir.path());
    let s = PoolSettings::default;
    assert_eq!(
        rule(claim(&p, s(), |i| i.deal_stage = Some(DealStage::Submitted))),
        "open_deal"
    );
    assert_eq!(rule(claim(&p, s(), |_| {})), "allow");
    let pick = |deal_stage| {
        p.assign(&AssignInput {
            customer: customer(None, Stage::Lead, None),
            candidates: vec![AssignCandidate {
                user: user("u1"),
                open_leads: 0,
                weight: 1,
            }],
            mode: "round_robin".into(),
            cursor: 0,
            turns: Vec::new(),
            deal_stage,
            now: at("2026-11-20T02:00:00Z"),
        })
        .unwrap()
        .reason
    };
    assert_eq!(pick(Some(DealStage::Approved)), "阶段：approved");
    assert_eq!(pick(None), "阶段：");
}

#[test]
fn hostile_scripts_fail_with_file_line_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let p = plugins_in(dir.path());
    let cases: &[(&str, usize, &str)] = &[
        (
            "fn recall(customer, pool, ctx) {\n    let x = 0;\n    loop { x += 1; }\n}\n",
            0,
            "死循环",
        ),
        (
            "fn deep(n) { deep(n + 1) }\nfn recall(customer, pool, ctx) {\n    deep(0)\n}\n",
            0,
            "函数调用层数超过上限",
        ),
        (
            "fn recall(customer, pool, ctx) {\n    let s = \"ab\";\n    while true { s += s; }\n}\n",
            0,
            "数据过大",
        ),
        (
            "fn recall(customer, pool, ctx) {\n    let n = customer.name;\n    n - 1\n}\n",
            3,
            "Function not found",
        ),
        (
            "fn recall(customer, pool, ctx) {\n    customer.name = \"x\";\n    #{}\n}\n",
            2,
            "",
        ),
        (
            "fn recall(customer, pool, ctx) {\n    let f = open(\"/etc/passwd\");\n}\n",
            2,
            "Function not found",
        ),
        (
            "fn recall(customer, pool, ctx) {\n    #{ recall: true }\n}\n",
            usize::MAX,
            "reason",
        ),
    ];
    for (k, (source, line, needle)) in cases.iter().enumerate() {
        write(dir.path(), "pool", source);
        let started = std::time::Instant::now();
        let e = recall_err(&p);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "case {k} took {:?}",
            started.elapsed()
        );
        assert!(e.file.starts_with("pool.rhai"), "case {k}: {e}");
        // 0: a wall-clock stop may point at the hook function instead of the loop.
        match *line {
            0 => assert!(e.line.is_some(), "case {k}: {e}"),
            usize::MAX => {}
            l => assert_eq!(e.line, Some(l), "case {k}: {e}"),
        }
        assert!(e.message.contains(needle), "case {k}: {e}");
    }
}

#[test]
fn sandbox_refuses_import_eval_and_reports_syntax_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = plugins_in(dir.path());
    for (source, line) in [
        (
            "import \"fs\" as fs;\nfn recall(customer, pool, ctx) { #{} }\n",
            1,
        ),
        ("fn recall(customer, pool, ctx) {\n  eval(\"1\")\n}\n", 2),
        ("fn recall(customer, pool, ctx) {\n  let x = ;\n}\n", 2),
        ("fn recall(customer, pool) {\n  #{}\n}\n", 1),
    ] {
        let e = p.compile("pool", source).unwrap_err();
        assert_eq!(e.file, "pool.rhai");
        assert_eq!(e.line, Some(line), "{source}: {e}");
    }
}

#[test]
fn a_slow_script_hits_the_wall_clock_deadline() {
    let dir = tempfile::tempdir().unwrap();
    // Cheap in operations, slow in time: sorting a big array many times.
    write(
        dir.path(),
        "pool",
        "fn recall(customer, pool, ctx) {\n  let a = [];\n  for i in 0..9000 { a.push(9000 - i); }\n  for r in 0..1000000 { a.sort(); }\n}\n",
    );
    let p = plugins_in(dir.path());
    let started = std::time::Instant::now();
    let e = recall_err(&p);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        e.message.contains("毫秒") || e.message.contains("运算次数"),
        "{e}"
    );
}

#[test]
fn reload_picks_up_edits_and_keeps_the_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let p = plugins_in(dir.path());
    let c = customer(Some("B"), Stage::Lead, None);
    let run = |p: &Plugins| {
        p.recall(&RecallInput {
            customer: RuleFields::from(&c),
            pool: pool(PoolSettings::default()),
            locked: false,
            held_since: at("2026-11-19T00:00:00Z"),
            now: at("2026-11-20T02:00:00Z"),
        })
        .unwrap()
    };
    assert_eq!(run(&p), RecallDecision::Keep, "default rule");
    write(
        dir.path(),
        "pool",
        "fn recall(customer, pool, ctx) {\n  #{ recall: true, reason: \"v1\" }\n}\n",
    );
    assert_eq!(
        run(&p),
        RecallDecision::Recall {
            reason: "v1".into()
        }
    );
    // Broken: v1 keeps running and the error is exposed.
    write(
        dir.path(),
        "pool",
        "fn recall(customer, pool, ctx) {\n  #{ recall: true, reason: \"v2\" \n}\n",
    );
    assert_eq!(
        run(&p),
        RecallDecision::Recall {
            reason: "v1".into()
        }
    );
    let st = p.list().into_iter().find(|s| s.name == "pool").unwrap();
    assert_eq!(
        (st.status.as_str(), st.running.as_str()),
        ("error", "last_good")
    );
    let e = st.error.unwrap();
    assert_eq!(
        (e.file.as_str(), e.line.is_some()),
        ("pool.rhai", true),
        "{e}"
    );
    // can_claim is missing from the file: the default runs and a warning says so.
    assert_eq!(st.warnings.len(), 1, "{:?}", st.warnings);
    // Fixed: the new version runs.
    write(
        dir.path(),
        "pool",
        "fn recall(customer, pool, ctx) {\n  #{ warn: 1, reason: \"v3\" }\n}\n",
    );
    assert_eq!(
        run(&p),
        RecallDecision::Warn {
            days_left: 1,
            reason: "v3".into()
        }
    );
    // Removed: back to the default.
    std::fs::remove_file(dir.path().join("pool.rhai")).unwrap();
    assert_eq!(run(&p), RecallDecision::Keep);
}

#[test]
fn reload_is_throttled_to_the_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    let p = Plugins::new(dir.path()).with_check_interval(Duration::from_secs(3600));
    assert!(p.list().iter().all(|s| s.origin == "default"));
    write(
        dir.path(),
        "pool",
        "fn recall(customer, pool, ctx) { #{} }\n",
    );
    assert!(
        p.list().iter().all(|s| s.origin == "default"),
        "not looked at yet"
    );
    p.invalidate();
    assert!(
        p.list()
            .iter()
            .any(|s| s.name == "pool" && s.origin == "file")
    );
}

#[test]
fn shipped_plugins_pass_their_inline_tests() {
    let p = defaults();
    for dir in ["plugins", "examples/plugins"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let reports = check::check_dir(&p, &path, None).unwrap();
        assert!(!reports.is_empty(), "{dir} has no plugins");
        for r in reports {
            assert!(r.failures.is_empty(), "{dir}/{}: {:?}", r.file, r.failures);
            assert!(r.passed > 0, "{dir}/{} has no inline tests", r.file);
        }
    }
}

#[test]
fn a_failing_inline_test_names_file_and_line() {
    let p = defaults();
    let source = "fn recall(customer, pool, ctx) { #{} }\n\nfn tests() {\n  [\n    #{ name: \"ok\", hook: \"recall\", expect: #{ keep: true } },\n    #{ name: \"wrong\", hook: \"recall\",\n       expect: #{ recall: true } },\n  ]\n}\n";
    let r = check::check_source(&p, "strict", source);
    assert_eq!(r.passed, 1);
    assert_eq!(r.failures.len(), 1);
    let f = &r.failures[0];
    assert_eq!((f.file.as_str(), f.line), ("strict.rhai", Some(6)), "{f}");
    assert!(f.message.contains("wrong"), "{f}");
}

#[test]
fn calendar_helpers_count_shanghai_days() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pool",
        "fn recall(customer, pool, ctx) {\n  let a = ts(\"2026-11-19T15:59:00Z\");\n  let b = ts(\"2026-11-19T16:01:00Z\");\n  #{ warn: days_between(a, b) * 100 + days_between(ts(\"2026-11-01\"), ctx.now), reason: date(b) + \" \" + today() }\n}\n",
    );
    let p = plugins_in(dir.path());
    let d = p
        .recall(&RecallInput {
            customer: RuleFields::from(&customer(None, Stage::Lead, None)),
            pool: pool(PoolSettings::default()),
            locked: false,
            held_since: at("2026-11-01T00:00:00Z"),
            now: at("2026-11-20T17:00:00Z"),
        })
        .unwrap();
    // 23:59 and 00:01 in Shanghai are one calendar day apart; Nov 21 01:00 +08:00 is 20 days after Nov 1.
    assert_eq!(
        d,
        RecallDecision::Warn {
            days_left: 120,
            reason: "2026-11-20 2026-11-21".into()
        }
    );
}

#[test]
fn bench_recall_reports_a_cost() {
    let p = defaults();
    let inputs: Vec<RecallInput> = (0..20)
        .map(|k| RecallInput {
            customer: RuleFields::from(&customer(
                Some(["A", "B", "C", "D"][k % 4]),
                Stage::Contacted,
                Some("2026-11-01T02:00:00Z"),
            )),
            pool: pool(PoolSettings::default()),
            locked: false,
            held_since: Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(),
            now: at("2026-11-20T02:00:00Z"),
        })
        .collect();
    let per = p.bench_recall(&inputs, 5);
    eprintln!("pool.recall (default plugin): {per:?} per evaluation");
    assert!(per < Duration::from_millis(50), "{per:?} per evaluation");
}

#[test]
fn stage_names_match_the_stored_form() {
    for stage in Stage::ALL {
        let mut c = customer(None, stage, None);
        c.stage = stage;
        let view = views::CustomerView::new(&c, c.created_at, false);
        assert_eq!(
            serde_json::json!(view.stage.into_string().unwrap()),
            serde_json::to_value(stage).unwrap()
        );
    }
}

#[test]
fn scripts_read_the_profile_and_cannot_change_it() {
    use crate::domain::customer::{Occupation, TaxRating};
    let mut c = customer(None, Stage::Lead, None);
    c.profile.occupation = Some(Occupation::BusinessOwner);
    c.profile.credit.inquiries_1m = Some(2);
    c.profile.business.tax_rating = Some(TaxRating::A);
    c.demand.amount_fen = Some(30_000_000);
    let view = views::CustomerView::new(&c, c.created_at, false);
    let p = defaults();
    let ast = p
        .compile(
            "x",
            "fn f(c) { let p = c.profile; p.credit.inquiries_1m = 99; \
             [c.profile.occupation, c.profile.credit.inquiries_1m, c.profile.business.tax_rating, \
              c.profile.has_car, c.demand.amount_fen] }\n",
        )
        .unwrap();
    let v = p
        .call("x.rhai", &ast, "f", vec![Dynamic::from(view)], c.created_at)
        .unwrap();
    // The assignment changed a copy: the view keeps the record's value.
    assert_eq!(
        check::to_json(&v),
        serde_json::json!(["business_owner", 2, "A", null, 30_000_000])
    );

    // Inline tests fill the profile from a map.
    let src = "fn can_claim(customer, user, pool, ctx) {\n\
                 if customer.profile.business.tax_rating == \"D\" { return #{ allow: false, rule: \"tax\" }; }\n\
                 #{ allow: true }\n}\n\
               fn tests() { [\n\
                 #{ hook: \"can_claim\", customer: #{ profile: #{ business: #{ tax_rating: \"D\" } } }, expect: #{ allow: false, rule: \"tax\" } },\n\
                 #{ hook: \"can_claim\", expect: #{ allow: true } },\n\
               ] }\n";
    let r = check::check_source(&p, "pool", src);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.passed, 2);
}

#[test]
fn default_horizon_is_the_shortest_rule_minus_the_warning() {
    let p = defaults();
    let rule = p.recall_rule().unwrap();
    let now = at("2026-11-20T02:00:00Z");
    let h = |s: PoolSettings| rule.horizon(&views::PoolView::new(&pool(s)), now).unwrap();
    // D: 7 days, warned 3 days before.
    assert_eq!(h(PoolSettings::default()), Some(4));
    let mut s = PoolSettings {
        no_signing_days: Some(5),
        warn_days_before: 1,
        ..PoolSettings::default()
    };
    assert_eq!(h(s.clone()), Some(4));
    s.no_followup_days.clear();
    s.no_signing_days = None;
    assert_eq!(h(s.clone()), Some(14), "no grades: the built-in 15 days");
    s.recall_enabled = false;
    assert_eq!(h(s), None);
}

/// Inside the declared horizon (claimed and followed up within it) the default rule never
/// recalls or warns, whatever the grade, stage and settings: the sweep's skip is sound.
#[test]
fn default_rule_keeps_everyone_inside_its_horizon() {
    let p = defaults();
    let rule = p.recall_rule().unwrap();
    let now = at("2026-11-20T02:00:00Z");
    let mut settings = vec![PoolSettings::default()];
    let mut s = PoolSettings {
        no_signing_days: Some(6),
        warn_days_before: 5,
        ..PoolSettings::default()
    };
    settings.push(s.clone());
    s.no_followup_days.insert("A".into(), 2);
    settings.push(s);
    let mut checked = 0;
    for s in settings {
        let pl = pool(s);
        let days = rule
            .horizon(&views::PoolView::new(&pl), now)
            .unwrap()
            .unwrap();
        let cut = now - chrono::Duration::days(days);
        for grade in [None, Some("A"), Some("B"), Some("C"), Some("D"), Some("X")] {
            for stage in [Stage::Lead, Stage::Signed, Stage::Lost] {
                // Held and followed up from just after the cut-off to now, hour by hour.
                for held_h in (1..days * 24).step_by(5) {
                    for last_h in [None, Some(1), Some(held_h / 2 + 1), Some(days * 24 - 1)] {
                        let mut c = customer(grade, stage, None);
                        c.last_followup_at = last_h.map(|h| cut + chrono::Duration::hours(h));
                        let held = cut + chrono::Duration::hours(held_h);
                        let d = rule
                            .recall(&RecallInput {
                                customer: RuleFields::from(&c),
                                pool: pl.clone(),
                                locked: false,
                                held_since: held,
                                now,
                            })
                            .unwrap();
                        assert_eq!(
                            d,
                            RecallDecision::Keep,
                            "{grade:?} {stage:?} {held_h} {last_h:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1000);
}

/// The default script and the built-in fallback rule decide alike (the fallback must not
/// change outcomes when a script fails at run time).
#[test]
fn default_script_equals_the_built_in_rule() {
    let p = defaults();
    let now = at("2026-11-20T02:00:00Z");
    for s in [
        PoolSettings::default(),
        PoolSettings {
            no_signing_days: None,
            ..PoolSettings::default()
        },
    ] {
        for grade in [None, Some("A"), Some("B"), Some("D"), Some("X")] {
            for stage in [Stage::Lead, Stage::Signed, Stage::Won] {
                for held_days in [1, 20, 85, 89, 95] {
                    for last_days in [None, Some(0), Some(6), Some(13), Some(16), Some(40)] {
                        let c = customer(grade, stage, None);
                        let mut c = c;
                        c.last_followup_at = last_days
                            .map(|d| now - chrono::Duration::days(d) - chrono::Duration::hours(5));
                        let i = RecallInput {
                            customer: RuleFields::from(&c),
                            pool: pool(s.clone()),
                            locked: false,
                            held_since: now - chrono::Duration::days(held_days),
                            now,
                        };
                        assert_eq!(
                            p.recall(&i).unwrap(),
                            crate::service::pools::rules::recall(&i),
                            "{grade:?} {stage:?} {held_days} {last_days:?}"
                        );
                    }
                }
            }
        }
    }
}

/// The sweep's shortcut for the unedited default script (`recall_as_default_script`) decides
/// exactly as the script on random customers, pools and instants, sub-second times included.
#[test]
fn the_default_scripts_rust_twin_decides_alike_to_the_second() {
    let p = defaults();
    let rule = p.recall_rule().unwrap();
    assert!(rule.is_default());
    let mut seed = 0x2026_1127_u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n.max(1)
    };
    let base = at("2026-11-20T02:00:00Z");
    let grades = [None, Some("A"), Some("B"), Some("C"), Some("D"), Some("X")];
    let stages = [Stage::Lead, Stage::Qualified, Stage::Signed, Stage::Won];
    let mut decided = [0usize; 3];
    for _ in 0..4000 {
        let mut s = PoolSettings {
            recall_enabled: next(20) != 0,
            no_signing_days: [None, Some(30), Some(90)][next(3) as usize],
            warn_days_before: next(5) as u32,
            ..PoolSettings::default()
        };
        if next(3) == 0 {
            s.no_followup_days.remove("D");
        }
        let pl = pool(s);
        let view = views::PoolView::new(&pl);
        // Instants within a few seconds of whole days from each other, with nanoseconds.
        let jitter = |n: &mut dyn FnMut(u64) -> u64| {
            chrono::Duration::days(n(100) as i64)
                + chrono::Duration::seconds(n(7) as i64 - 3)
                + chrono::Duration::nanoseconds(n(1_000_000_000) as i64)
        };
        let now = base + chrono::Duration::nanoseconds(next(1_000_000_000) as i64);
        let held = now - jitter(&mut next);
        let mut c = customer(grades[next(6) as usize], stages[next(4) as usize], None);
        c.last_followup_at = (next(4) != 0).then(|| now - jitter(&mut next));
        let f = RuleFields {
            // No deal, or a deal at any stage (the rule keeps those past 进件).
            deal_stage: [None]
                .into_iter()
                .chain(crate::domain::deal::DealStage::ALL.map(Some))
                .nth(next(10) as usize)
                .flatten(),
            ..RuleFields::from(&c)
        };
        let locked = next(15) == 0;
        let script = rule
            .recall_with(
                views::CustomerView::from_fields(&f, held, locked),
                view,
                now,
            )
            .unwrap();
        let twin = crate::service::pools::rules::recall_as_default_script(
            &pl.settings,
            &f,
            locked,
            held,
            now,
        );
        assert_eq!(
            script, twin,
            "{f:?} held {held} now {now} {:?}",
            pl.settings
        );
        decided[match twin {
            RecallDecision::Keep => 0,
            RecallDecision::Warn { .. } => 1,
            RecallDecision::Recall { .. } => 2,
        }] += 1;
    }
    assert!(decided.iter().all(|n| *n > 50), "{decided:?}");
}

/// Only the unedited default is recognised: an edited copy runs in the interpreter.
#[test]
fn only_the_unedited_default_pool_script_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let p = Plugins::new(dir.path()).with_check_interval(Duration::ZERO);
    let source = DEFAULTS[0].1;
    std::fs::write(dir.path().join("pool.rhai"), source).unwrap();
    assert!(p.recall_rule().unwrap().is_default());
    std::fs::write(
        dir.path().join("pool.rhai"),
        source.replace(
            "customer.locked ||",
            "customer.locked || customer.stars > 4 ||",
        ),
    )
    .unwrap();
    assert!(!p.recall_rule().unwrap().is_default());
}

/// Plugins read a product's requirements and fee terms under the names docs/plugins.md gives
/// (`age_min`, `property_required`, `service_fee.bp` …), whatever names the HTTP API uses: a
/// renamed key would read as `()` in a firm's script and silently change its decisions.
#[test]
fn plugin_product_views_keep_their_documented_names() {
    use crate::domain::product::{FeeTerms, Product, ProductInput, Requirements, ServiceFee};
    let p = Product {
        id: "p1".into(),
        terms: ProductInput {
            name: "工薪贷".into(),
            lender: "某银行".into(),
            category: crate::domain::product::Category::Credit,
            amount_min_fen: 1_000_000,
            amount_max_fen: 30_000_000,
            term_min_months: 12,
            term_max_months: 36,
            rate_min_bp: 600,
            rate_max_bp: 1200,
            methods: vec![crate::domain::loan::Method::Annuity],
            requirements: Requirements {
                age_min: Some(22),
                property_required: true,
                min_licence_age_months: Some(24),
                ..Requirements::default()
            },
            documents: vec![],
            fees: FeeTerms {
                service_fee: Some(ServiceFee::Rate { bp: 300 }),
                lender_rebate_bp: Some(100),
            },
            active: true,
            notes: None,
        },
        version: 1,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        updated_by: "u".into(),
    };
    let v = super::views::ProductView::new(&p);
    let r = v.requirements.cast::<rhai::Map>();
    assert_eq!(r["age_min"].as_int(), Ok(22));
    assert_eq!(r["property_required"].as_bool(), Ok(true));
    assert_eq!(r["min_licence_age_months"].as_int(), Ok(24));
    assert!(!r.contains_key("min_age"));
    let f = v.fees.cast::<rhai::Map>();
    let fee = f["service_fee"].clone().cast::<rhai::Map>();
    assert_eq!(fee["bp"].as_int(), Ok(300));
    assert_eq!(f["lender_rebate_bp"].as_int(), Ok(100));
}

/// The service's shortcut for the unedited default `assign.rhai` (`rules::assign_among`)
/// decides exactly as the script, in every mode, over random candidates, weights, loads and
/// cursors; an edited copy is not taken for the default.
#[test]
fn the_default_assign_scripts_rust_twin_decides_alike() {
    let p = defaults();
    assert!(p.assign_is_default());
    let mut seed = 0x2026_1205_u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n.max(1)
    };
    let modes = [
        "round_robin",
        "weighted",
        "least_loaded",
        "by_city",
        "other",
    ];
    let mut assigned = 0;
    for _ in 0..1500 {
        let n = next(6);
        let candidates: Vec<AssignCandidate> = (0..n)
            .map(|k| AssignCandidate {
                user: user(&format!("u{k}")),
                open_leads: next(4),
                weight: next(4) as u32,
            })
            .collect();
        let input = AssignInput {
            customer: customer(None, Stage::Lead, None),
            candidates,
            mode: modes[next(5) as usize].into(),
            cursor: next(50),
            turns: Vec::new(),
            deal_stage: None,
            now: at("2026-11-20T02:00:00Z"),
        };
        let script = p.assign(&input).unwrap();
        let twin = crate::service::pools::rules::assign_among(
            &input.candidates,
            &input.mode,
            input.cursor,
        );
        assert_eq!(script, twin, "{} cursor {}", input.mode, input.cursor);
        assigned += usize::from(twin.user_id.is_some());
    }
    assert!(assigned > 1000, "{assigned}");
    let dir = tempfile::tempdir().unwrap();
    let p = Plugins::new(dir.path()).with_check_interval(Duration::ZERO);
    let source = DEFAULTS[1].1;
    std::fs::write(dir.path().join("assign.rhai"), source).unwrap();
    assert!(p.assign_is_default(), "the data directory's unedited copy");
    std::fs::write(
        dir.path().join("assign.rhai"),
        format!("{source}\n// 本公司\n"),
    )
    .unwrap();
    assert!(
        !p.assign_is_default(),
        "an edited copy runs in the interpreter"
    );
}
