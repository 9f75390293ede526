//! Rhai plugins: a sandboxed engine (`api`), read-only views (`views`), the hook contract
//! (`hooks`) and [`Plugins`], which loads `data/plugins/*.rhai`, reloads edits, keeps the last
//! good version of a broken file and falls back to the embedded defaults.

pub mod api;
pub mod check;
pub mod errors;
pub mod hooks;
mod load;
pub mod report;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};
use serde::Serialize;

pub use errors::{ErrorLog, PluginFailure};
pub use hooks::{
    AssignCandidate, AssignDecision, AssignInput, BrokerFeeInput, ClaimDecision, ClaimInput,
    FeeDecision, FeeInput, Hook, RecallDecision, RecallInput, ScoreDecision, ScoreInput,
    SplitInput,
};
pub use load::DiskEdit;
use load::State;

use api::{Binding, EvalGuard};
use hooks::Args;

/// A compiled plugin: its AST and the values of its top-level constants (which its
/// functions read by name, see `api::build`).
pub struct Compiled {
    pub ast: AST,
    pub consts: Option<api::Consts>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("source", &self.ast.source())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Compiled {
    type Target = AST;
    fn deref(&self) -> &AST {
        &self.ast
    }
}

/// One resolved version of the `pool.recall` rule (see [`Plugins::recall_rule`]).
pub struct RecallRule<'a> {
    plugins: &'a Plugins,
    file: String,
    ast: Arc<Compiled>,
    /// The saved version running (for the error log).
    pub version: Option<String>,
}

impl RecallRule<'_> {
    /// Whether this is the embedded default `pool.rhai`, unedited (served from the data
    /// directory's copy or built in): `service::pools::rules::recall_as_default_script` then
    /// decides exactly as it would, without the interpreter.
    pub fn is_default(&self) -> bool {
        self.plugins
            .defaults
            .get("pool")
            .is_some_and(|d| Arc::ptr_eq(d, &self.ast))
    }

    /// Keep, warn or recall an owned customer.
    pub fn recall(&self, i: &RecallInput) -> Result<RecallDecision, ScriptError> {
        self.recall_with(
            views::CustomerView::from_fields(&i.customer, i.held_since, i.locked),
            views::PoolView::new(&i.pool),
            i.now,
        )
    }

    /// [`RecallRule::recall`] with the views already built (a sweep builds each pool's once).
    pub fn recall_with(
        &self,
        customer: views::CustomerView,
        pool: views::PoolView,
        now: DateTime<Utc>,
    ) -> Result<RecallDecision, ScriptError> {
        let args = Args::Recall {
            customer,
            pool,
            ctx: views::CtxView::new(hooks::RECALL.name, now),
        };
        let v = self
            .plugins
            .call(&self.file, &self.ast, "recall", args.into_dynamics(), now)
            .map_err(|e| self.plugins.locate(hooks::RECALL, e))?;
        hooks::recall_decision(&v)
            .map_err(|m| Plugins::decision_error(&self.file, hooks::RECALL, m))
    }

    /// The rule's declared horizon for `pool`, in days: `fn horizon(pool, ctx)` in the same
    /// file. No customer both claimed/assigned and followed up (when it ever was) within the
    /// last `horizon` days can be recalled or warned, so a sweep skips them without running
    /// `recall`. `None` when the file declares no horizon (or returns `()`): every owned
    /// customer is evaluated.
    pub fn horizon(
        &self,
        pool: &views::PoolView,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, ScriptError> {
        if !self
            .ast
            .iter_functions()
            .any(|f| f.name == hooks::HORIZON && f.params.len() == 2)
        {
            return Ok(None);
        }
        let args = vec![
            Dynamic::from(pool.clone()),
            Dynamic::from(views::CtxView::new(hooks::RECALL.name, now)),
        ];
        let v = self
            .plugins
            .call(&self.file, &self.ast, hooks::HORIZON, args, now)?;
        if v.is_unit() {
            return Ok(None);
        }
        v.as_int().map(Some).map_err(|t| {
            Plugins::decision_error(
                &self.file,
                hooks::RECALL,
                format!("horizon 应返回天数（整数），实际为 {t}"),
            )
        })
    }
}

/// The default plugins shipped in the binary (also copied to `data/plugins/` on first run).
pub const DEFAULTS: [(&str, &str); 6] = [
    ("pool", include_str!("../../plugins/pool.rhai")),
    ("assign", include_str!("../../plugins/assign.rhai")),
    ("match", include_str!("../../plugins/match.rhai")),
    ("fee", include_str!("../../plugins/fee.rhai")),
    ("commission", include_str!("../../plugins/commission.rhai")),
    ("broker", include_str!("../../plugins/broker.rhai")),
];

/// A compile, lint or run-time error, located in a plugin file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScriptError {
    /// `pool.rhai`
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

/// How a plugin stands, for the admin page and `plugin check`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    pub name: String,
    pub file: String,
    /// Hooks this plugin file serves.
    pub hooks: Vec<String>,
    /// "file": data/plugins holds it; "default": only the embedded default exists.
    pub origin: String,
    /// "ok" or "error".
    pub status: String,
    /// What runs now: "file", "last_good" (the file is broken) or "default".
    pub running: String,
    /// The saved version that runs, when it is one (after a restart with a broken file: the
    /// newest saved version that compiles and passes its tests).
    pub running_version: Option<String>,
    pub error: Option<ScriptError>,
    /// Hook functions the file lacks (the built-in default runs for them), or a file that
    /// serves no known hook.
    pub warnings: Vec<String>,
    /// Run-time failures of this plugin's hooks since it was last saved.
    pub errors_since_save: u64,
    /// Hooks of this plugin whose last call failed.
    pub failing: Vec<String>,
    /// The latest run-time failures, newest first.
    pub recent_errors: Vec<PluginFailure>,
}

pub struct Plugins {
    dir: PathBuf,
    engine: Engine,
    /// Evaluates top-level constants (see [`api::build_lenient`]).
    lenient: Engine,
    bindings: Vec<Binding>,
    defaults: BTreeMap<String, Arc<Compiled>>,
    state: Mutex<State>,
    /// Disk is looked at no more often than this.
    check_interval: Duration,
    budget: Duration,
    /// Runs custom reports' `run` (`report.*`): the same sandbox with its own operation
    /// limit and wall-clock budget (`[reports]` in the configuration), since a report
    /// summarises a period's data while a hook decides about one record.
    report_engine: Engine,
    report_limits: ReportLimits,
    /// Run-time failures.
    pub errors: ErrorLog,
    /// Departments, for `dept(name)` and `candidate.department_path`.
    org: Mutex<api::Org>,
}

/// The limits a custom report's `run` has (configuration `[reports]`, docs/reports.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLimits {
    /// Operations one run may take.
    pub max_operations: u64,
    /// Wall-clock milliseconds one run may take.
    pub max_ms: u64,
}

impl Default for ReportLimits {
    fn default() -> Self {
        ReportLimits {
            max_operations: 50_000_000,
            max_ms: 10_000,
        }
    }
}

fn report_engine(limits: ReportLimits) -> Engine {
    let mut engine = api::build().engine;
    engine.set_max_operations(limits.max_operations);
    engine
}

/// A plugin name is a file stem: lowercase letters, digits, `_` and `-`; a custom report's is
/// `report.<stem>` (its file is `reports/<stem>.rhai`).
pub fn valid_name(name: &str) -> bool {
    let stem = report::stem(name).unwrap_or(name);
    !stem.is_empty()
        && stem.len() <= 64
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The file of a plugin, relative to the plugins directory: `pool.rhai`,
/// `reports/weekly.rhai` for the report `report.weekly`.
pub fn file_name(name: &str) -> String {
    match report::stem(name) {
        Some(stem) => format!("{}/{stem}.rhai", report::DIR),
        None => format!("{name}.rhai"),
    }
}

/// Strips the ` (line 3, position 7)` Rhai appends, since the line is reported separately.
fn without_position(s: String) -> String {
    match s.rfind(" (line ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// The innermost error of a call chain carries the line where it happened.
pub(crate) fn runtime_error(file: &str, err: &EvalAltResult) -> ScriptError {
    let mut e = err;
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = e {
        e = inner;
    }
    let line = e.position().line().or_else(|| err.position().line());
    let message = match e {
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("运算次数超过上限 {}（是否有死循环？）", api::MAX_OPERATIONS)
        }
        EvalAltResult::ErrorTerminated(..) => {
            format!(
                "运行超过 {} 毫秒，已中止（是否有死循环？）",
                api::DEADLINE_MS
            )
        }
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "函数调用层数超过上限 {}（是否有无限递归？）",
            api::MAX_CALL_LEVELS
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!(
                "数据过大：{what} 超过上限（字符串 {} 字节，数组/对象 {} 项）",
                api::MAX_STRING_SIZE,
                api::MAX_ARRAY_SIZE
            )
        }
        other => without_position(other.to_string()),
    };
    ScriptError {
        file: file.to_string(),
        line,
        message,
    }
}

impl Plugins {
    /// Plugins read from `dir` (usually `data/plugins`), which need not exist.
    pub fn new(dir: &Path) -> Plugins {
        let api = api::build();
        let mut p = Plugins {
            dir: dir.to_path_buf(),
            engine: api.engine,
            lenient: api::build_lenient(),
            bindings: api.bindings,
            defaults: BTreeMap::new(),
            state: Mutex::new(State {
                last_check: None,
                files: BTreeMap::new(),
                stored: BTreeMap::new(),
                disk_edits: Vec::new(),
            }),
            check_interval: Duration::from_secs(1),
            budget: Duration::from_millis(api::DEADLINE_MS),
            report_engine: report_engine(ReportLimits::default()),
            report_limits: ReportLimits::default(),
            errors: ErrorLog::default(),
            org: Mutex::new(Arc::new(Vec::new())),
        };
        for (name, source) in DEFAULTS {
            match p.compile(name, source) {
                Ok(ast) => {
                    p.defaults.insert(name.to_string(), Arc::new(ast));
                }
                Err(e) => tracing::error!(error = %e, "embedded default plugin does not compile"),
            }
        }
        p
    }

    /// Custom reports' own limits (`reports.max_operations`, `reports.max_ms`).
    pub fn with_report_limits(mut self, limits: ReportLimits) -> Plugins {
        self.report_engine = report_engine(limits);
        self.report_limits = limits;
        self
    }

    /// The limits custom reports run under.
    pub fn report_limits(&self) -> ReportLimits {
        self.report_limits
    }

    /// Looks at the disk on every call (tests and `plugin check`).
    pub fn with_check_interval(mut self, interval: Duration) -> Plugins {
        self.check_interval = interval;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every binding of the script API, in registration order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The departments scripts see.
    pub fn set_org(&self, departments: &[crate::domain::org::Department]) {
        let org = Arc::new(api::DeptInfo::all(departments));
        *self.org.lock().unwrap_or_else(|e| e.into_inner()) = org;
    }

    fn org(&self) -> api::Org {
        self.org.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The version that serves a hook now, the file name to blame for its errors and the saved
    /// version id.
    fn ast_for(&self, hook: Hook) -> Result<(String, Arc<Compiled>, Option<String>), ScriptError> {
        self.refresh();
        let file = file_name(hook.plugin);
        let has = |ast: &AST| ast.iter_functions().any(|f| f.name == hook.function);
        if let Some((ast, version)) = self
            .lock()
            .files
            .get(hook.plugin)
            .and_then(|e| Some((e.good.clone()?, e.good_version.clone())))
            && has(&ast)
        {
            return Ok((file, ast, version));
        }
        match self.defaults.get(hook.plugin) {
            Some(ast) if has(ast) => Ok((format!("{file} (内置默认)"), ast.clone(), None)),
            _ => Err(ScriptError {
                file,
                line: None,
                message: format!("没有实现挂钩 {} 的插件", hook.name),
            }),
        }
    }

    /// Records a run-time failure of `hook` about `record_id` in the error log.
    pub fn record_failure(
        &self,
        hook: Hook,
        e: &ScriptError,
        record_id: Option<&str>,
        now: DateTime<Utc>,
    ) {
        let version = self.version_of(hook);
        self.errors
            .record(PluginFailure::new(hook.name, version, e, record_id, now));
    }

    /// The saved version serving `hook`, when it is one.
    pub fn version_of(&self, hook: Hook) -> Option<String> {
        self.lock()
            .files
            .get(hook.plugin)
            .and_then(|e| e.good_version.clone())
    }

    /// Calls `function` of `ast` with the deadline and `now` set for this thread.
    pub(crate) fn call(
        &self,
        file: &str,
        ast: &Compiled,
        function: &str,
        args: Vec<Dynamic>,
        now: DateTime<Utc>,
    ) -> Result<Dynamic, ScriptError> {
        let _guard = EvalGuard::new(now, self.budget).with(ast.consts.clone(), Some(self.org()));
        let mut scope = Scope::new();
        self.engine
            .call_fn_with_options::<Dynamic>(
                CallFnOptions::new().eval_ast(false),
                &mut scope,
                &ast.ast,
                function,
                args,
            )
            .map_err(|e| runtime_error(file, &e))
    }

    /// Calls a report's `function` on the report engine (its own operation limit and
    /// budget); a limit hit says which limit and what to do.
    pub(crate) fn call_report(
        &self,
        file: &str,
        ast: &Compiled,
        function: &str,
        args: Vec<Dynamic>,
        now: DateTime<Utc>,
    ) -> Result<Dynamic, ScriptError> {
        let limits = self.report_limits;
        let _guard = EvalGuard::new(now, Duration::from_millis(limits.max_ms))
            .with(ast.consts.clone(), Some(self.org()));
        let mut scope = Scope::new();
        self.report_engine
            .call_fn_with_options::<Dynamic>(
                CallFnOptions::new().eval_ast(false),
                &mut scope,
                &ast.ast,
                function,
                args,
            )
            .map_err(|e| report::limit_error(file, &e, limits))
    }

    /// Runs a hook with prepared arguments; returns the raw value and the file that ran.
    pub(crate) fn run(
        &self,
        args: Args,
        now: DateTime<Utc>,
    ) -> Result<(String, Dynamic), ScriptError> {
        let hook = args.hook();
        let (file, ast, _) = self.ast_for(hook)?;
        let value = self
            .call(&file, &ast, hook.function, args.into_dynamics(), now)
            .map_err(|e| self.locate(hook, e))?;
        Ok((file, value))
    }

    /// An error without a position (a wall-clock stop) points at the hook function.
    fn locate(&self, hook: Hook, mut e: ScriptError) -> ScriptError {
        if e.line.is_none() {
            let source = self
                .lock()
                .files
                .get(hook.plugin)
                .map(|f| f.source.clone())
                .or_else(|| default_source(hook.plugin).map(str::to_string))
                .unwrap_or_default();
            e.line = line_of(&source, &format!("fn {}(", hook.function));
        }
        e
    }

    fn decision_error(file: &str, hook: Hook, message: String) -> ScriptError {
        ScriptError {
            file: file.to_string(),
            line: None,
            message: format!("{} 的返回值无效：{message}", hook.name),
        }
    }

    /// `pool.recall`: keep, warn or recall an owned customer.
    pub fn recall(&self, i: &RecallInput) -> Result<RecallDecision, ScriptError> {
        self.recall_rule()?.recall(i)
    }

    /// The version of `pool.recall` serving now, resolved once (a sweep evaluates one version
    /// for all its customers, and does not look at the disk per customer).
    pub fn recall_rule(&self) -> Result<RecallRule<'_>, ScriptError> {
        let (file, ast, version) = self.ast_for(hooks::RECALL)?;
        Ok(RecallRule {
            plugins: self,
            file,
            ast,
            version,
        })
    }

    /// `pool.can_claim`: may this user take this customer out of the pool now?
    pub fn can_claim(&self, i: &ClaimInput) -> Result<ClaimDecision, ScriptError> {
        let (file, v) = self.run(Args::claim(i), i.now)?;
        hooks::claim_decision(&v).map_err(|m| Self::decision_error(&file, hooks::CAN_CLAIM, m))
    }

    /// Whether `assign.pick` is served by the embedded default `assign.rhai`, unedited (the
    /// data directory's copy or built in): `service::pools::rules::assign_among` then decides
    /// exactly as it would, without the interpreter. Resolved per call, as [`Plugins::assign`]
    /// resolves its script, so an edit on disk takes effect at the same row.
    pub fn assign_is_default(&self) -> bool {
        self.ast_for(hooks::ASSIGN_PICK).is_ok_and(|(_, ast, _)| {
            self.defaults
                .get("assign")
                .is_some_and(|d| Arc::ptr_eq(d, &ast))
        })
    }

    /// `assign.pick`: who gets a new lead.
    pub fn assign(&self, i: &AssignInput) -> Result<AssignDecision, ScriptError> {
        let (file, v) = self.run(Args::pick(i, &self.org()), i.now)?;
        let mut d = hooks::assign_decision(&v)
            .map_err(|m| Self::decision_error(&file, hooks::ASSIGN_PICK, m))?;
        d.turns = api::turns_used();
        if let Some(id) = &d.user_id
            && !i.candidates.iter().any(|c| &c.user.id == id)
        {
            return Err(Self::decision_error(
                &file,
                hooks::ASSIGN_PICK,
                format!("user_id {id} 不在候选人中"),
            ));
        }
        Ok(d)
    }

    /// `products.score`: rank a product that passed the requirements (or refuse it by the
    /// firm's own rule).
    pub fn score(&self, i: &ScoreInput<'_>) -> Result<ScoreDecision, ScriptError> {
        let (file, v) = self.run(Args::score(i), i.now)?;
        hooks::score_decision(&v).map_err(|m| Self::decision_error(&file, hooks::SCORE, m))
    }

    /// `deal.fee`: the agreed fee of a disbursed deal.
    pub fn fee(&self, i: &FeeInput<'_>) -> Result<FeeDecision, ScriptError> {
        let (file, v) = self.run(Args::fee(i), i.now)?;
        hooks::fee_decision(&v).map_err(|m| Self::decision_error(&file, hooks::FEE, m))
    }

    /// `broker.fee`: the referral fee a broker is owed for a deal whose fee was collected.
    pub fn broker_fee(&self, i: &BrokerFeeInput<'_>) -> Result<FeeDecision, ScriptError> {
        let (file, v) = self.run(Args::broker_fee(i), i.now)?;
        hooks::broker_fee_decision(&v)
            .map_err(|m| Self::decision_error(&file, hooks::BROKER_FEE, m))
    }

    /// `commission.split`: the commission lines of one payment.
    pub fn split(
        &self,
        i: &SplitInput<'_>,
    ) -> Result<Vec<crate::domain::fee::SplitLine>, ScriptError> {
        let (file, v) = self.run(Args::split(i), i.now)?;
        hooks::split_decision(&v).map_err(|m| Self::decision_error(&file, hooks::SPLIT, m))
    }

    /// Average cost of one `pool.recall` evaluation over `rounds` runs (for sweep benches).
    pub fn bench_recall(&self, inputs: &[RecallInput], rounds: u32) -> Duration {
        let start = Instant::now();
        let mut n: u32 = 0;
        for _ in 0..rounds {
            for i in inputs {
                let _ = self.recall(i);
                n = n.saturating_add(1);
            }
        }
        start.elapsed() / n.max(1)
    }
}

pub fn default_source(name: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The 1-based line of the first occurrence of `needle`.
pub(crate) fn line_of(source: &str, needle: &str) -> Option<usize> {
    let at = source.find(needle)?;
    Some(source[..at].matches('\n').count() + 1)
}

#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trust_tests;
