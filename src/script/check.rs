//! `plugin check`: compile and lint plugin files and run their inline test cases
//! (`fn tests()` returning `[#{ hook, now, customer, …, expect }]`).

use std::path::Path;

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Map};

use super::api::{parse_ts, ts_to_utc};
use super::hooks::{self, Args, Hook};
use super::views::{
    CandidateView, CtxView, CustomerView, DealView, PaymentView, PoolView, ProductView, UserView,
};
use super::{Compiled, Plugins, RecallRule, ScriptError, file_name, line_of};
use crate::domain::customer::{RuleFields, Stage};
use crate::domain::pool::{Pool, PoolSettings};

/// The outcome of checking one file.
#[derive(Debug, Default)]
pub struct FileReport {
    pub file: String,
    pub warnings: Vec<String>,
    pub passed: usize,
    /// Compile errors and failed cases, each located.
    pub failures: Vec<ScriptError>,
}

/// Checks every `*.rhai` in `dir` (or only `only`). A directory that cannot be read is an
/// error, not "no plugins".
pub fn check_dir(
    plugins: &Plugins,
    dir: &Path,
    only: Option<&str>,
) -> std::io::Result<Vec<FileReport>> {
    std::fs::read_dir(dir)?;
    let mut names: Vec<String> = super::load::plugin_files(dir)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .filter(|n| only.is_none_or(|o| o == n))
        .map(|name| {
            let path = dir.join(file_name(&name));
            match std::fs::read_to_string(&path) {
                Ok(source) => check_source(plugins, &name, &source),
                Err(e) => FileReport {
                    file: file_name(&name),
                    failures: vec![ScriptError {
                        file: file_name(&name),
                        line: None,
                        message: format!("无法读取：{e}"),
                    }],
                    ..FileReport::default()
                },
            }
        })
        .collect())
}

/// Compiles, lints and runs the inline tests of one plugin source.
pub fn check_source(plugins: &Plugins, name: &str, source: &str) -> FileReport {
    match plugins.compile(name, source) {
        Ok(ast) => check_compiled(plugins, name, source, &ast),
        Err(e) => FileReport {
            file: file_name(name),
            failures: vec![e],
            ..FileReport::default()
        },
    }
}

/// Lints a compiled source, checks its horizon and runs its inline tests.
pub fn check_compiled(plugins: &Plugins, name: &str, source: &str, ast: &Compiled) -> FileReport {
    let file = file_name(name);
    let mut report = FileReport {
        file: file.clone(),
        ..FileReport::default()
    };
    report.warnings = Plugins::warnings(name, ast);
    if let Err(e) = check_horizon(plugins, name, source, ast) {
        report.failures.push(e);
    }
    let fixed = ts_to_utc(parse_ts("2026-11-20T02:00:00Z").unwrap_or(0)).unwrap_or_default();
    if super::report::is_report(name)
        && let Err(e) = plugins.meta_of(name, source, ast, fixed)
    {
        report.failures.push(e);
        return report;
    }
    if !ast
        .iter_functions()
        .any(|f| f.name == "tests" && f.params.is_empty())
    {
        return report;
    }
    let cases = match plugins.call(&file, ast, "tests", Vec::new(), fixed) {
        Ok(v) => v,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    let Some(cases) = cases.read_lock::<Array>().map(|a| a.clone()) else {
        report.failures.push(ScriptError {
            file: file.clone(),
            line: line_of(source, "fn tests"),
            message: "fn tests() 应返回用例数组".into(),
        });
        return report;
    };
    let lines = case_lines(source);
    for (k, case) in cases.iter().enumerate() {
        let line = lines
            .get(k)
            .copied()
            .or_else(|| line_of(source, "fn tests"));
        match run_case(plugins, name, source, &file, ast, case) {
            Ok(()) => report.passed += 1,
            Err(message) => {
                let label = case
                    .read_lock::<Map>()
                    .and_then(|m| m.get("name").and_then(|n| n.clone().into_string().ok()))
                    .unwrap_or_else(|| format!("第 {} 个用例", k + 1));
                report.failures.push(ScriptError {
                    file: file.clone(),
                    line,
                    message: format!("用例「{label}」：{message}"),
                });
            }
        }
    }
    report
}

/// Lines of the `hook:` keys after `fn tests`, one per case in writing order.
fn case_lines(source: &str) -> Vec<usize> {
    let Some(start) = source.find("fn tests") else {
        return Vec::new();
    };
    let base = source[..start].matches('\n').count() + 1;
    source[start..]
        .lines()
        .enumerate()
        .flat_map(|(i, l)| {
            let n = l.matches("hook:").count() + l.matches("hook :").count();
            std::iter::repeat_n(base + i, n)
        })
        .collect()
}

fn map_of(case: &Map, key: &str) -> Result<Map, String> {
    match case.get(key) {
        None => Ok(Map::new()),
        Some(v) => v
            .read_lock::<Map>()
            .map(|m| m.clone())
            .ok_or_else(|| format!("{key} 应为对象 #{{…}}")),
    }
}

fn run_case(
    plugins: &Plugins,
    name: &str,
    source: &str,
    file: &str,
    ast: &Compiled,
    case: &Dynamic,
) -> Result<(), String> {
    let case = case
        .read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or("用例应为对象 #{ hook, now, …, expect }")?;
    if super::report::is_report(name) {
        let now = case_now(&case)?;
        return super::report::run_case(plugins, name, source, ast, &case, now);
    }
    for key in case.keys() {
        if ![
            "name",
            "hook",
            "now",
            "customer",
            "user",
            "pool",
            "candidates",
            "product",
            "deal",
            "payment",
            "ctx",
            "expect",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("未知的键 {key}"));
        }
    }
    let hook_name = case
        .get("hook")
        .and_then(|h| h.clone().into_string().ok())
        .ok_or("缺少 hook")?;
    if hook_name == hooks::HORIZON {
        return horizon_case(plugins, file, ast, &case);
    }
    let hook: Hook = hooks::hook(&hook_name).ok_or(format!("未知的挂钩 {hook_name}"))?;
    let now_ts = match case.get("now") {
        Some(v) => views_ts(v)?,
        None => parse_ts("2026-11-20T02:00:00Z").unwrap_or(0),
    };
    let now: DateTime<Utc> = ts_to_utc(now_ts).ok_or("now 超出范围")?;

    let mut customer = CustomerView::blank(now_ts);
    let cmap = map_of(&case, "customer")?;
    customer.overlay(&cmap)?;
    // held_since defaults to created_at when only the latter is given.
    if !cmap.contains_key("held_since") {
        customer.held_since = customer.created_at.clone();
    }
    let mut pool = PoolView::new(&test_pool(Default::default(), now));
    pool.overlay(&map_of(&case, "pool")?)?;
    let mut ctx = CtxView::new(hook.name, now);
    let mut product = ProductView::blank();
    product.overlay(&map_of(&case, "product")?)?;
    if hook.function == "score" {
        // The estimate a test does not give: the product's upper bounds.
        let mut estimate = rhai::Map::new();
        estimate.insert("amount_fen".into(), product.amount_max_fen.clone());
        estimate.insert("term_months".into(), product.term_max_months.clone());
        ctx.estimate = Dynamic::from(estimate);
    }
    ctx.overlay(&map_of(&case, "ctx")?)?;

    let args = match hook.function {
        "recall" => Args::Recall {
            customer,
            pool,
            ctx,
        },
        "can_claim" => {
            let mut user = UserView::blank();
            user.overlay(&map_of(&case, "user")?)?;
            Args::Claim {
                customer,
                user,
                pool,
                ctx,
            }
        }
        "score" => Args::Score {
            customer,
            product,
            ctx,
        },
        "fee" | "split" | "referral_fee" => {
            let mut deal = DealView::blank();
            deal.overlay(&map_of(&case, "deal")?)?;
            if hook.function == "fee" {
                Args::Fee { deal, ctx }
            } else if hook.function == "referral_fee" {
                Args::BrokerFee { deal, ctx }
            } else {
                let mut payment = PaymentView::blank();
                payment.overlay(&map_of(&case, "payment")?)?;
                Args::Split { payment, deal, ctx }
            }
        }
        _ => {
            let list = match case.get("candidates") {
                None => Array::new(),
                Some(v) => v
                    .read_lock::<Array>()
                    .map(|a| a.clone())
                    .ok_or("candidates 应为数组")?,
            };
            let mut candidates = Vec::new();
            for c in list {
                let m = c
                    .read_lock::<Map>()
                    .map(|m| m.clone())
                    .ok_or("candidates 的每一项应为对象 #{ id, … }")?;
                let mut view = CandidateView::blank();
                view.overlay(&m)?;
                candidates.push(view);
            }
            Args::Pick {
                customer,
                candidates,
                ctx,
            }
        }
    };
    // The function under test: this file's, else the built-in default.
    let value = if ast.iter_functions().any(|f| f.name == hook.function) {
        plugins.call(file, ast, hook.function, args.into_dynamics(), now)
    } else {
        let default = plugins
            .defaults
            .get(hook.plugin)
            .ok_or(format!("{name} 没有 {}", hook.function))?;
        plugins.call(file, default, hook.function, args.into_dynamics(), now)
    }
    .map_err(|mut e| {
        if e.line.is_none() {
            e.line = line_of(source, &format!("fn {}(", hook.function));
        }
        e.to_string()
    })?;
    let got = hooks::decision_map(hook, &value)?;
    let expect = map_of(&case, "expect")?;
    if expect.is_empty() {
        return Err("缺少 expect".into());
    }
    for (key, want) in &expect {
        let want = to_json(want);
        let have = got
            .get(key.as_str())
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        if want != have {
            return Err(format!("{key} 期望 {want}，实际 {have}（完整结果 {got}）"));
        }
    }
    Ok(())
}

fn views_ts(v: &Dynamic) -> Result<i64, String> {
    if let Ok(n) = v.as_int() {
        return Ok(n);
    }
    let s = v.clone().into_string().map_err(|_| "now 应为时间")?;
    parse_ts(&s).ok_or(format!("无法识别的时间 \"{s}\""))
}

/// A Rhai value as JSON, for comparing with a decision.
pub fn to_json(v: &Dynamic) -> serde_json::Value {
    use serde_json::Value;
    if v.is_unit() {
        Value::Null
    } else if let Ok(b) = v.as_bool() {
        Value::Bool(b)
    } else if let Ok(n) = v.as_int() {
        Value::from(n)
    } else if let Ok(f) = v.as_float() {
        Value::from(f)
    } else if v.is_string() {
        Value::String(v.clone().into_string().unwrap_or_default())
    } else if let Some(a) = v.read_lock::<Array>() {
        Value::Array(a.iter().map(to_json).collect())
    } else if let Some(m) = v.read_lock::<Map>() {
        Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
    } else {
        Value::String(v.to_string())
    }
}

fn test_pool(settings: PoolSettings, now: DateTime<Utc>) -> Pool {
    Pool {
        id: "p1".into(),
        name: "公海".into(),
        department_id: None,
        members: Vec::new(),
        admins: Vec::new(),
        settings,
        created_at: now,
        updated_at: now,
    }
}

fn case_now(case: &Map) -> Result<DateTime<Utc>, String> {
    let ts = match case.get("now") {
        Some(v) => views_ts(v)?,
        None => parse_ts("2026-11-20T02:00:00Z").unwrap_or(0),
    };
    ts_to_utc(ts).ok_or_else(|| "now 超出范围".to_string())
}

/// An inline test of `fn horizon(pool, ctx)`: `#{ hook: "horizon", pool: #{…}, expect: #{ days: 12 } }`.
fn horizon_case(plugins: &Plugins, file: &str, ast: &Compiled, case: &Map) -> Result<(), String> {
    let now = case_now(case)?;
    let mut pool = PoolView::new(&test_pool(Default::default(), now));
    pool.overlay(&map_of(case, "pool")?)?;
    let rule = RecallRule {
        plugins,
        file: file.to_string(),
        ast: std::sync::Arc::new(Compiled {
            ast: ast.ast.clone(),
            consts: ast.consts.clone(),
        }),
        version: None,
    };
    let days = rule.horizon(&pool, now).map_err(|e| e.to_string())?;
    let got = days.map_or(serde_json::Value::Null, serde_json::Value::from);
    let expect = map_of(case, "expect")?;
    for (key, want) in &expect {
        if key.as_str() != "days" {
            return Err(format!("horizon 的 expect 只有 days，没有 {key}"));
        }
        let want = to_json(want);
        if want != got {
            return Err(format!("days 期望 {want}，实际 {got}"));
        }
    }
    if expect.is_empty() {
        return Err("缺少 expect".into());
    }
    Ok(())
}

/// Pool settings the horizon check tries: the defaults and variants that move each limit.
fn horizon_pools() -> Vec<PoolSettings> {
    let base = PoolSettings::default();
    let mut out = vec![base.clone()];
    let mut signing = base.clone();
    signing.no_signing_days = Some(20);
    out.push(signing);
    let mut no_warn = base.clone();
    no_warn.warn_days_before = 0;
    out.push(no_warn);
    let mut short = base;
    for v in short.no_followup_days.values_mut() {
        *v = (*v).min(5);
    }
    out.push(short);
    out
}

/// `fn horizon` promises that a customer claimed and followed up within its days is never
/// recalled or warned; a sweep skips such customers without asking `recall`. Checked here on
/// generated customers inside the horizon: one that `recall` would recall or warn fails it.
fn check_horizon(
    plugins: &Plugins,
    name: &str,
    source: &str,
    ast: &Compiled,
) -> Result<(), ScriptError> {
    if name != hooks::RECALL.plugin
        || !ast
            .iter_functions()
            .any(|f| f.name == hooks::HORIZON && f.params.len() == 2)
    {
        return Ok(());
    }
    let file = file_name(name);
    let owned = std::sync::Arc::new(Compiled {
        ast: ast.ast.clone(),
        consts: ast.consts.clone(),
    });
    let recall_ast = if ast
        .iter_functions()
        .any(|f| f.name == hooks::RECALL.function)
    {
        owned.clone()
    } else {
        match plugins.defaults.get(hooks::RECALL.plugin) {
            Some(d) => d.clone(),
            None => return Ok(()),
        }
    };
    let rule = RecallRule {
        plugins,
        file: file.clone(),
        ast: owned,
        version: None,
    };
    let recall = RecallRule {
        plugins,
        file: file.clone(),
        ast: recall_ast,
        version: None,
    };
    let now = ts_to_utc(parse_ts("2026-11-20T02:00:00Z").unwrap_or(0)).unwrap_or_default();
    let line = line_of(source, "fn horizon");
    for settings in horizon_pools() {
        let pool = test_pool(settings, now);
        let view = PoolView::new(&pool);
        let Some(h) = rule.horizon(&view, now)? else {
            continue;
        };
        if h <= 0 {
            continue;
        }
        // Inside the horizon: held and followed up less than `h` days ago.
        let ages = [h.saturating_mul(3_600), h * 86_400 / 2, 3_600]
            .map(|secs| secs.clamp(60, (h * 86_400).saturating_sub(60).max(60)));
        for grade in [None, Some("A"), Some("B"), Some("C"), Some("D"), Some("X")] {
            for stage in [Stage::Lead, Stage::Contacted, Stage::Signed] {
                for held in ages {
                    for follow in [None, Some(held), Some(ages[2])] {
                        let held_since = now - chrono::Duration::seconds(held);
                        let c = RuleFields {
                            id: "h1".into(),
                            name: "horizon".into(),
                            stage,
                            grade: grade.map(str::to_string),
                            owner_id: Some("u1".into()),
                            created_at: held_since,
                            held_since: Some(held_since),
                            last_followup_at: follow.map(|s| now - chrono::Duration::seconds(s)),
                            stars: 0,
                            city: None,
                            channel: None,
                            tags: Vec::new(),
                            pool_id: None,
                            next_followup_at: None,
                            deleted_at: None,
                            locked: false,
                            pool_entered_at: None,
                            previous_owner_id: None,
                            deal_stage: None,
                        };
                        let d = recall.recall_with(
                            CustomerView::from_fields(&c, held_since, false),
                            view.clone(),
                            now,
                        )?;
                        if d != hooks::RecallDecision::Keep {
                            return Err(ScriptError {
                                file: file.clone(),
                                line,
                                message: format!(
                                    "horizon 声明 {h} 天内不会回收或提醒，但 recall 对{}级、阶段 {:?}、{} 小时前开始持有{}的客户返回了 {:?}（公海设置 {}）：请同时修改 horizon",
                                    grade.unwrap_or("未评"),
                                    stage,
                                    held / 3_600,
                                    follow.map_or(String::new(), |f| format!(
                                        "、{} 小时前跟进",
                                        f / 3_600
                                    )),
                                    d,
                                    serde_json::to_string(&pool.settings).unwrap_or_default()
                                ),
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
