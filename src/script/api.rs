//! The one place that binds the script API: the sandboxed engine, the view types scripts read
//! and the helper functions they call. Every binding goes through [`Api`], which records its
//! name, signature and description; `docs/plugins.md` is generated from that record and a test
//! fails when a binding changes without the list in the test being updated.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, CorePackage, LogicPackage,
    MoreStringPackage, Package,
};
use rhai::{Dynamic, Engine, ImmutableString, Map};

use super::views::{
    CandidateView, CtxView, CustomerView, DealView, PaymentView, PoolView, ProductView, UserView,
};

/// The version of the API described here; plugins can read it with `api_version()`.
pub const API_VERSION: i64 = 1;

/// Operations one hook call may run (an infinite loop stops here).
pub const MAX_OPERATIONS: u64 = 1_000_000;
/// Wall-clock budget of one hook call.
pub const DEADLINE_MS: u64 = 200;
pub const MAX_CALL_LEVELS: usize = 32;
pub const MAX_STRING_SIZE: usize = 64 * 1024;
pub const MAX_ARRAY_SIZE: usize = 10_000;
pub const MAX_MAP_SIZE: usize = 10_000;

thread_local! {
    /// Deadline of the evaluation running on this thread (set by `Plugins` around each call).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// `ctx.now` of the evaluation running on this thread, for `today()`.
    static NOW: Cell<i64> = const { Cell::new(0) };
    /// The top-level constants of the file being run (readable inside its functions).
    static CONSTS: RefCell<Option<Consts>> = const { RefCell::new(None) };
    /// The departments `dept(name)` looks up.
    static ORG: RefCell<Option<Org>> = const { RefCell::new(None) };
    /// The groups whose `ctx.turn(group)` the running call read.
    static TURNS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A file's top-level constants, by name.
pub type Consts = Arc<Vec<(String, Dynamic)>>;
/// The departments, each with its path of names from the top.
pub type Org = Arc<Vec<DeptInfo>>;

/// A department as `dept(name)` and `candidate.department_path` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeptInfo {
    pub id: String,
    pub name: String,
    /// Names from the top department down to this one.
    pub path: Vec<String>,
}

impl DeptInfo {
    /// Every department with its path (a parent missing from the list ends the path).
    pub fn all(depts: &[crate::domain::org::Department]) -> Vec<DeptInfo> {
        depts
            .iter()
            .map(|d| {
                let mut path = vec![d.name.clone()];
                let mut parent = d.parent_id.clone();
                while let Some(p) = parent.take() {
                    if path.len() > depts.len() {
                        break;
                    }
                    if let Some(pd) = depts.iter().find(|x| x.id == p) {
                        path.push(pd.name.clone());
                        parent = pd.parent_id.clone();
                    }
                }
                path.reverse();
                DeptInfo {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    path,
                }
            })
            .collect()
    }
}

/// The path of names of department `id` (empty when unknown or `None`).
pub fn department_path(org: &[DeptInfo], id: Option<&str>) -> Vec<String> {
    id.and_then(|id| org.iter().find(|d| d.id == id))
        .map(|d| d.path.clone())
        .unwrap_or_default()
}

/// The groups the last call on this thread read with `ctx.turn(group)`.
pub(crate) fn turns_used() -> Vec<String> {
    TURNS.with(|t| t.borrow().clone())
}

/// Sets the deadline and `now` for evaluations on this thread until the guard drops.
pub(crate) struct EvalGuard;

impl EvalGuard {
    pub(crate) fn new(now: DateTime<Utc>, budget: std::time::Duration) -> EvalGuard {
        DEADLINE.with(|d| d.set(Some(Instant::now() + budget)));
        NOW.with(|n| n.set(now.timestamp()));
        TURNS.with(|t| t.borrow_mut().clear());
        EvalGuard
    }

    /// The constants and departments this call sees.
    pub(crate) fn with(self, consts: Option<Consts>, org: Option<Org>) -> EvalGuard {
        CONSTS.with(|c| *c.borrow_mut() = consts);
        ORG.with(|o| *o.borrow_mut() = org);
        self
    }
}

impl Drop for EvalGuard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
        CONSTS.with(|c| *c.borrow_mut() = None);
        ORG.with(|o| *o.borrow_mut() = None);
    }
}

/// One exposed binding, as listed in the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// "type", "field" or "function".
    pub kind: &'static str,
    /// `Customer`, `customer.stage`, `days_between(a, b)`.
    pub name: String,
    /// The Rhai signature, e.g. `days_between(a: int, b: int) -> int`.
    pub signature: String,
    pub doc: &'static str,
}

/// The registrar: everything a script can reach is added through it.
pub struct Api {
    pub engine: Engine,
    pub bindings: Vec<Binding>,
}

impl Api {
    pub fn ty<T: Clone + Send + Sync + 'static>(&mut self, name: &'static str, doc: &'static str) {
        self.engine.register_type_with_name::<T>(name);
        self.bindings.push(Binding {
            kind: "type",
            name: name.to_string(),
            signature: name.to_string(),
            doc,
        });
    }

    pub fn field<T: Clone + Send + Sync + 'static>(
        &mut self,
        owner: &'static str,
        name: &'static str,
        ty: &'static str,
        doc: &'static str,
        get: impl Fn(&mut T) -> Dynamic + Send + Sync + 'static,
    ) {
        self.engine.register_get(name, get);
        let var = owner.to_lowercase();
        self.bindings.push(Binding {
            kind: "field",
            name: format!("{var}.{name}"),
            signature: format!("{var}.{name}: {ty}"),
            doc,
        });
    }

    fn push_fn(&mut self, name: &'static str, signature: &'static str, doc: &'static str) {
        self.bindings.push(Binding {
            kind: "function",
            name: name.to_string(),
            signature: signature.to_string(),
            doc,
        });
    }
}

/// Calendar dates are counted in China Standard Time (+08:00, no daylight saving).
fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

pub fn date_of(ts: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp(ts, 0).map(|t| t.with_timezone(&shanghai()).date_naive())
}

/// Parses `2026-11-20T02:00:00Z` (any RFC 3339) or `2026-11-20` (midnight in Shanghai).
pub fn parse_ts(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let midnight = d.and_hms_opt(0, 0, 0)?;
    shanghai()
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.timestamp())
}

pub fn ts_to_utc(ts: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts, 0)
}

type Rr<T> = Result<T, Box<rhai::EvalAltResult>>;

fn bad(msg: String) -> Box<rhai::EvalAltResult> {
    msg.into()
}

fn days_between(a: i64, b: i64) -> Rr<i64> {
    match (date_of(a), date_of(b)) {
        (Some(a), Some(b)) => Ok((b - a).num_days()),
        _ => Err(bad(format!("days_between: 时间超出范围（{a}, {b}）"))),
    }
}

fn date_string(ts: i64) -> Rr<ImmutableString> {
    date_of(ts)
        .map(|d| d.format("%Y-%m-%d").to_string().into())
        .ok_or_else(|| bad(format!("date: 时间超出范围（{ts}）")))
}

/// Builds the sandboxed engine with every binding. Never enables `unchecked`.
pub fn build() -> Api {
    build_with(true)
}

/// The same engine without strict variables: it only evaluates a file's top level to learn
/// its constants (whose names the strict engine then accepts inside functions).
pub fn build_lenient() -> Engine {
    build_with(false).engine
}

fn build_with(strict: bool) -> Api {
    let mut engine = Engine::new_raw();
    // Only pure packages: no file, time-of-system, blob or debugging package.
    engine.register_global_module(CorePackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.set_max_modules(0);
    engine.disable_symbol("eval");
    // `import` is refused at compile time too (not only when it would run).
    engine.disable_symbol("import");
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    engine.set_strict_variables(strict);
    // A name no local declares is looked up among the file's top-level constants.
    #[allow(deprecated)] // `on_var` is stable in use, only marked volatile upstream
    engine.on_var(|name, index, ctx| {
        if index > 0 || ctx.scope().contains(name) {
            return Ok(None);
        }
        Ok(CONSTS.with(|c| {
            c.borrow()
                .as_ref()
                .and_then(|c| c.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
        }))
    });
    engine.on_progress(|ops| {
        if ops % 1024 != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|d| Instant::now() > d));
        late.then(|| Dynamic::from("deadline"))
    });
    // print/debug output goes nowhere (a plugin must not fill the server log).
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});

    let mut api = Api {
        engine,
        bindings: Vec::new(),
    };
    CustomerView::register(&mut api);
    UserView::register(&mut api);
    DealView::register(&mut api);
    PaymentView::register(&mut api);
    PoolView::register(&mut api);
    CandidateView::register(&mut api);
    ProductView::register(&mut api);
    CtxView::register(&mut api);
    register_functions(&mut api);
    api
}

fn register_functions(api: &mut Api) {
    api.engine.register_fn("api_version", || API_VERSION);
    api.push_fn(
        "api_version",
        "api_version() -> int",
        "插件 API 的版本（当前为 1）。",
    );

    api.engine.register_fn("days_between", days_between);
    api.push_fn(
        "days_between",
        "days_between(a: int, b: int) -> int",
        "从时间 a 到时间 b 跨过的自然日数（按北京时间 +08:00 的日期相减；同一天为 0，b 早于 a 为负）。",
    );

    api.engine.register_fn("yuan", crate::domain::fee::yuan);
    api.push_fn(
        "yuan",
        "yuan(fen: int) -> string",
        "分写成元，千位分组，与界面一致：123456 → \"1,234.56元\"，-5 → \"-0.05元\"。",
    );

    api.engine.register_fn("percent", percent);
    api.push_fn(
        "percent",
        "percent(bp: int) -> string",
        "基点写成百分数：300 → \"3%\"，250 → \"2.5%\"，305 → \"3.05%\"。",
    );

    api.engine.register_fn("date", date_string);
    api.push_fn(
        "date",
        "date(ts: int) -> string",
        "时间戳在北京时间的日期，如 \"2026-11-20\"。",
    );

    api.engine.register_fn("today", || -> Rr<ImmutableString> {
        date_string(NOW.with(Cell::get))
    });
    api.push_fn(
        "today",
        "today() -> string",
        "ctx.now 在北京时间的日期（不读系统时钟，测试时随 now 变化）。",
    );

    api.engine
        .register_fn("ts", |s: ImmutableString| -> Rr<i64> {
            parse_ts(&s).ok_or_else(|| bad(format!("ts: 无法识别的时间 \"{s}\"")))
        });
    api.push_fn(
        "ts",
        "ts(s: string) -> int",
        "把 \"2026-11-20T02:00:00Z\"（RFC 3339）或 \"2026-11-20\"（北京时间零点）转成时间戳（Unix 秒）。",
    );

    api.engine
        .register_fn("days", |n: i64| n.saturating_mul(86_400));
    api.push_fn(
        "days",
        "days(n: int) -> int",
        "n 天的秒数（n × 24 小时），用于 `t + days(15)`。",
    );

    api.engine
        .register_fn("hours", |n: i64| n.saturating_mul(3_600));
    api.push_fn("hours", "hours(n: int) -> int", "n 小时的秒数。");

    api.engine
        .register_fn("days_left", |from: i64, to: i64| -> i64 {
            (to.saturating_sub(from))
                .saturating_add(86_399)
                .div_euclid(86_400)
        });
    api.push_fn(
        "days_left",
        "days_left(now: int, due: int) -> int",
        "从 now 到 due 还剩的整天数，向上取整（还差 1 小时算 1 天；已过期为 0 或负数）。",
    );

    api.engine
        .register_fn("later", |a: Dynamic, b: Dynamic| -> Dynamic {
            match (a.as_int(), b.as_int()) {
                (Ok(x), Ok(y)) => Dynamic::from(x.max(y)),
                (Ok(_), Err(_)) => a,
                _ => b,
            }
        });
    api.push_fn(
        "later",
        "later(a: int|(), b: int|()) -> int|()",
        "两个时间中较晚的一个；其中一个为 ()（没有）时返回另一个。",
    );

    api.engine
        .register_fn("dept", |name: ImmutableString| -> Dynamic {
            ORG.with(|o| {
                let org = o.borrow();
                let Some(d) = org
                    .as_ref()
                    .and_then(|o| o.iter().find(|d| d.name == name.as_str()))
                else {
                    return Dynamic::UNIT;
                };
                let mut m = Map::new();
                m.insert("id".into(), Dynamic::from(d.id.clone()));
                m.insert("name".into(), Dynamic::from(d.name.clone()));
                m.insert(
                    "path".into(),
                    Dynamic::from(
                        d.path
                            .iter()
                            .map(|p| Dynamic::from(p.clone()))
                            .collect::<rhai::Array>(),
                    ),
                );
                Dynamic::from(m)
            })
        });
    api.push_fn(
        "dept",
        "dept(name: string) -> map|()",
        "按名称查部门：#{ id, name, path }（path 是从最上级到该部门的名称数组），没有这个部门为 ()。\
         例如 `candidates.filter(|c| c.department_id == dept(\"直播部\").id)`；\
         要包含下级部门，用 `\"直播部\" in c.department_path`。",
    );

    api.engine
        .register_fn("turn", |ctx: &mut CtxView, group: ImmutableString| -> i64 {
            TURNS.with(|t| {
                let mut t = t.borrow_mut();
                if !t.iter().any(|g| g == group.as_str()) {
                    t.push(group.to_string());
                }
            });
            ctx.turns
                .read_lock::<Map>()
                .and_then(|m| m.get(group.as_str()).and_then(|v| v.as_int().ok()))
                .unwrap_or(0)
        });
    api.push_fn(
        "turn",
        "ctx.turn(group: string) -> int",
        "assign.pick：分组 group 的轮次，即此分配范围内本规则按该分组已分出的线索数（持久保存；\
         线索分给某人后，本次读过的每个分组的计数加 1）。“直播部内部轮流”写作 \
         `let c = candidates.filter(|c| \"直播部\" in c.department_path); c[ctx.turn(\"直播部\") % c.len()]`。",
    );

    api.engine.register_fn(
        "no_followup_days_for",
        |pool: &mut PoolView, grade: Dynamic| -> i64 { pool.no_followup_days_for(&grade) },
    );
    api.push_fn(
        "no_followup_days_for",
        "pool.no_followup_days_for(grade: string|()) -> int",
        "该等级客户允许不跟进的天数：先查 no_followup_days[grade]，再查 \"default\"，都没有为 15。",
    );
}

/// The reference for plugin authors, generated from the bindings (`docs/plugins.md`).
pub fn reference(bindings: &[Binding]) -> String {
    let mut out = String::new();
    out.push_str(
        "# 插件 API 参考（zhudai plugin API）\n\n\
         <!-- 由 src/script/api.rs 生成：`zhudai plugin docs > docs/plugins.md`；测试会检查它是否过期。 -->\n\n",
    );
    out.push_str(&format!(
        "API 版本：{API_VERSION}。插件是 `data/plugins/` 下的 Rhai 脚本，在沙箱中运行：没有 import、eval、\
         文件、网络和系统时钟；每次调用最多 {MAX_OPERATIONS} 次运算、{DEADLINE_MS} 毫秒、调用深度 {MAX_CALL_LEVELS}，\
         字符串最长 {MAX_STRING_SIZE} 字节，数组和对象最多 {MAX_ARRAY_SIZE} 项。\n\n"
    ));
    out.push_str(&hooks_doc());
    out.push_str(super::report::REPORTS_DOC);
    out.push_str("\n## 类型与字段\n\n时间都是 Unix 秒（int），没有的值为 `()`。\n");
    for b in bindings {
        match b.kind {
            "type" => out.push_str(&format!("\n### {}\n\n{}\n\n", b.name, b.doc)),
            "field" => out.push_str(&format!("- `{}` — {}\n", b.signature, b.doc)),
            _ => {}
        }
    }
    out.push_str("\n## 函数\n\n");
    for b in bindings.iter().filter(|b| b.kind == "function") {
        out.push_str(&format!("- `{}` — {}\n", b.signature, b.doc));
    }
    out.push_str(INLINE_TESTS_DOC);
    out
}

/// The hooks section: signature, result schema and failure semantics of every hook, from
/// `hooks::HOOKS` (a hook added there is documented here with no other change).
fn hooks_doc() -> String {
    use super::hooks::HOOKS;
    let mut out = String::from(
        "## 挂钩（hooks）\n\n\
         每个挂钩是一个插件文件里的一个函数：服务把只读输入交给它，它返回一个决定，服务在自己的事务里执行。\
         返回值按下面的结果格式严格检查：**未知的键、类型不对、缺少必需的键都是错误**，与脚本抛出错误同样处理（见“出错时”）。\
         插件文件缺少某个挂钩函数时使用内置默认规则；一个文件不服务任何已知挂钩时，插件页和 `plugin check` 给出警告。\n",
    );
    for h in HOOKS {
        out.push_str(&format!(
            "\n### `{}`\n\n`{}`: `fn {}({})`\n\n| 键 | 类型 | 必需 | 含义 |\n|---|---|---|---|\n",
            h.name,
            super::file_name(h.plugin),
            h.function,
            h.params.join(", ")
        ));
        for k in h.result {
            let required = match k.required {
                "always" => "是",
                "never" => "否",
                cond => cond,
            };
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                k.key, k.ty, required, k.doc
            ));
        }
        out.push_str(&format!(
            "\n简写：{}。\n\n**出错时**（抛出错误、返回值不合格式、超时）：{}。\n",
            h.shorthand, h.on_error
        ));
    }
    out.push_str(ENGINE_RULES_DOC);
    out
}

const ENGINE_RULES_DOC: &str = "\n### 引擎规则（脚本不能改变）\n\n\
- 锁定、已成交（won）、已删除的客户**永不回收、永不提醒**，也**不可领取**；进入公海未满 `protect_new_hours` 小时的客户不可领取（规则名 `protect_new`）。\
这些在调用脚本之前由服务检查，脚本返回什么都不会改变它们（领取被拒时规则名为 `locked`、`won`、`deleted`、`protect_new`）。\n\
- `assign.pick` 返回的 `user_id` 必须是 candidates 之一，否则按出错处理。\n\n\
### `fn horizon(pool, ctx)`（可选，`pool.rhai`）\n\n\
返回天数 H：开始持有（领取/分配）和最近一次跟进（没有跟进过则只看开始持有）都在 H 天以内的客户不可能被回收或提醒，\
回收扫描直接跳过它们、不调用 `recall`，以加快扫描。返回 `()` 或不定义时每个客户都调用 `recall`。\
**horizon 会被检查**：`plugin check` 和保存时，用几组公海设置（默认、`no_signing_days: 20`、`warn_days_before: 0`、\
各等级不跟进天数至多 5）在 H 天以内生成各等级、各阶段的客户运行 `recall`，有任何一个被回收或提醒就失败（horizon 过大）。\
内置测试也可以直接测 horizon：`#{ hook: \"horizon\", pool: #{ … }, expect: #{ days: 12 } }`。\n\n\
### 出错的记录与显示\n\n\
每次出错都记入错误日志（挂钩、运行的版本、文件:行号、错误信息、客户 id），内存中保留最近 200 条。\
插件页显示每个插件自上次保存以来的出错次数和最近的错误；某个挂钩最近一次调用出错时，管理员页面顶部显示横幅，\
直到它再次成功或插件被重新保存。回收扫描的报告给出 `errors`（出错的客户数）和 `first_errors`（前 10 条）；\
服务器日志每次扫描每个挂钩只写一行汇总，不按客户逐条写。\n\n\
### 保存与版本\n\n\
保存（`PUT /api/v1/plugins/{name}` 或插件页）先编译，再运行文件自带的 `tests()` 和 horizon 检查：不通过时拒绝保存（422，\
`plugin_tests_failed`，给出失败的用例和 文件:行号），确认要保存可加 `?force=true`（审计记录中注明 forced 和失败项）。\
每次保存都是一个版本；直接在磁盘上修改的文件也会记为版本（作者 `disk`，审计动作 `plugin.disk_edit`）。\
文件不能编译或测试不通过时（包括重启时）运行最近一个能编译且通过测试的版本，`running` 为 `last_good`，插件页写明运行的是哪个版本（`running_version`；正常保存后 `running` 为 `file`，`running_version` 是刚保存的版本，页面不提示）；\
一个都没有时运行内置默认规则。`DELETE /api/v1/plugins/{name}` 删除文件（版本保留），内置默认规则重新生效。\n\n\
### 常量与新的挂钩\n\n\
文件顶层的 `const` 可以在挂钩函数里直接使用（如 `const DAILY = 5;` 之后在 `can_claim` 里写 `DAILY`）。\
以后加入的挂钩（如 `products.score`、`deal.fee`、`commission.split`）遵循同一约定：\
在 `src/script/hooks.rs` 的 `HOOKS` 里声明函数、参数、结果格式（`result`）和出错时的处理（`on_error`），\
本参考、严格的返回值检查、内置测试（`hook: \"函数名\"`）和错误日志都随之生效。\
自定义报表（`report.*`）是一组文件而不是一个固定的挂钩，约定见下一节。\n";

const INLINE_TESTS_DOC: &str = "\n## 内置测试用例\n\n\
插件可以定义 `fn tests()`，返回用例数组；`zhudai plugin check` 会逐个运行，失败时给出 文件:行号 并以非零状态退出：\n\n\
```rhai\n\
fn tests() {\n\
    [\n\
        #{ name: \"B级15天未跟进回收\", hook: \"recall\", now: \"2026-11-20T02:00:00Z\",\n\
           customer: #{ grade: \"B\", held_since: \"2026-10-01\", last_followup_at: \"2026-11-01T02:00:00Z\" },\n\
           pool: #{ warn_days_before: 3 },\n\
           expect: #{ recall: true } },\n\
    ]\n\
}\n\
```\n\n\
- `hook`：`recall`、`can_claim`、`pick` 或 `horizon`（也可写全名 `pool.recall`）；报表插件为 `run`（见“自定义报表”）。\n\
- `now`：用例的当前时间；`customer`、`user`、`pool`、`candidates`（数组）、`ctx` 只写需要的字段，其余取默认值\
（池子设置取系统默认；客户 created_at 与 held_since 默认为 now）；写错字段名会报错。\
候选人的 `department_path` 和 `ctx.turns` 可以直接写出；测试中 `dept(name)` 返回 ()（测试没有部门数据）。时间可写 RFC 3339、`\"2026-11-20\"` 或 Unix 秒。\n\
- `expect`：只比较写出的键，例如 `#{ recall: true }`、`#{ warn: 2 }`、`#{ keep: true }`、`#{ allow: false, rule: \"max_owned\" }`、`#{ user_id: \"u2\" }`。\n";

/// Basis points as a percentage, without trailing zeros: 300 → `3%`, 250 → `2.5%`, 305 → `3.05%`.
fn percent(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let b = bp.unsigned_abs();
    let (whole, frac) = (b / 100, b % 100);
    match frac {
        0 => format!("{sign}{whole}%"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}%", f / 10),
        f => format!("{sign}{whole}.{f:02}%"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_is_written_without_trailing_zeros() {
        let cases = [
            (300, "3%"),
            (250, "2.5%"),
            (305, "3.05%"),
            (0, "0%"),
            (1, "0.01%"),
            (-150, "-1.5%"),
        ];
        for (bp, text) in cases {
            assert_eq!(super::percent(bp), text, "{bp}");
        }
    }
}
