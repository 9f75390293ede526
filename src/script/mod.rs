//! Rhai plugins: a sandboxed engine (`api`), read-only views (`views`), the hook contract
//! (`hooks`) and [`Plugins`], which loads `data/plugins/*.rhai`, reloads edits, keeps the last
//! good version of a broken file and falls back to the embedded defaults.

pub mod api;
pub mod check;
pub mod errors;
pub mod hooks;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};
use serde::Serialize;

pub use errors::{ErrorLog, PluginFailure};
pub use hooks::{
    AssignCandidate, AssignDecision, AssignInput, ClaimDecision, ClaimInput, Hook, RecallDecision,
    RecallInput,
};

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
    /// directory's copy or built in): `service::pool_rules::recall_as_default_script` then
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
pub const DEFAULTS: [(&str, &str); 2] = [
    ("pool", include_str!("../../plugins/pool.rhai")),
    ("assign", include_str!("../../plugins/assign.rhai")),
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

/// A plugin file changed on disk (not through a save): the service records it as a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskEdit {
    pub name: String,
    pub source: String,
    /// Why it does not run, when it does not.
    pub error: Option<String>,
}

struct Entry {
    stamp: Option<(SystemTime, u64)>,
    source: String,
    /// The version that runs: the file when it is good, else the last good one.
    good: Option<Arc<Compiled>>,
    /// The saved version id of `good`, when it is one.
    good_version: Option<String>,
    error: Option<ScriptError>,
}

impl Entry {
    fn empty() -> Entry {
        Entry {
            stamp: None,
            source: String::new(),
            good: None,
            good_version: None,
            error: None,
        }
    }
}

struct State {
    last_check: Option<Instant>,
    files: BTreeMap<String, Entry>,
    /// Saved versions per plugin, newest first: (id, source).
    stored: BTreeMap<String, Vec<(String, String)>>,
    disk_edits: Vec<DiskEdit>,
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
    /// Run-time failures.
    pub errors: ErrorLog,
    /// Departments, for `dept(name)` and `candidate.department_path`.
    org: Mutex<api::Org>,
}

/// A plugin name is a file stem: lowercase letters, digits, `_` and `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub fn file_name(name: &str) -> String {
    format!("{name}.rhai")
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

    /// The saved versions of every plugin, newest first (from the store, at start): a file
    /// broken at start runs the newest of them that compiles and passes its tests.
    pub fn set_stored(&self, stored: BTreeMap<String, Vec<(String, String)>>) {
        let mut st = self.lock();
        st.stored = stored;
        st.last_check = None;
        // Files already read are read again, now knowing their versions.
        for e in st.files.values_mut() {
            e.stamp = None;
        }
    }

    /// A version just saved (its file is being written).
    pub fn add_stored(&self, name: &str, id: &str, source: &str) {
        let mut st = self.lock();
        st.stored
            .entry(name.to_string())
            .or_default()
            .insert(0, (id.to_string(), source.to_string()));
        st.last_check = None;
    }

    /// Edits found on disk since the last call, to be recorded as versions.
    pub fn take_disk_edits(&self) -> Vec<DiskEdit> {
        self.refresh();
        std::mem::take(&mut self.lock().disk_edits)
    }

    /// The departments scripts see.
    pub fn set_org(&self, departments: &[crate::domain::org::Department]) {
        let org = Arc::new(api::DeptInfo::all(departments));
        *self.org.lock().unwrap_or_else(|e| e.into_inner()) = org;
    }

    fn org(&self) -> api::Org {
        self.org.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The values of a source's top-level constants (its top level is run, sandboxed).
    fn constants(&self, file: &str, source: &str) -> Result<Option<api::Consts>, ScriptError> {
        if !source.contains("const ") {
            return Ok(None);
        }
        let located = |line: Option<usize>, message: String| ScriptError {
            file: file.to_string(),
            line,
            message,
        };
        let ast = self
            .lenient
            .compile(source)
            .map_err(|e| located(e.1.line(), e.0.to_string()))?;
        let _guard = EvalGuard::new(DateTime::<Utc>::default(), self.budget);
        let mut scope = Scope::new();
        self.lenient
            .run_ast_with_scope(&mut scope, &ast)
            .map_err(|e| runtime_error(file, &e))?;
        let consts: Vec<(String, Dynamic)> = scope
            .iter_raw()
            .filter(|(_, constant, _)| *constant)
            .map(|(n, _, v)| (n.to_string(), v.clone()))
            .collect();
        Ok((!consts.is_empty()).then(|| Arc::new(consts)))
    }

    /// Compiles and lints a plugin's source.
    pub fn compile(&self, name: &str, source: &str) -> Result<Compiled, ScriptError> {
        let file = file_name(name);
        let consts = self.constants(&file, source)?;
        let mut scope = Scope::new();
        for (n, v) in consts.iter().flat_map(|c| c.iter()) {
            scope.push_constant_dynamic(n.clone(), v.clone());
        }
        let mut ast = self
            .engine
            .compile_with_scope(&scope, source)
            .map_err(|e| ScriptError {
                file: file.clone(),
                line: e.1.line(),
                message: e.0.to_string(),
            })?;
        ast.set_source(file.as_str());
        for h in hooks::HOOKS.iter().filter(|h| h.plugin == name) {
            if let Some(f) = ast.iter_functions().find(|f| f.name == h.function)
                && f.params.len() != h.params.len()
            {
                return Err(ScriptError {
                    file: file.clone(),
                    line: line_of(source, &format!("fn {}", h.function)),
                    message: format!(
                        "挂钩 {} 的函数应为 fn {}({})，这里有 {} 个参数",
                        h.name,
                        h.function,
                        h.params.join(", "),
                        f.params.len()
                    ),
                });
            }
        }
        Ok(Compiled { ast, consts })
    }

    /// Hook functions a plugin source lacks, or that it serves no known hook.
    fn warnings(name: &str, ast: &AST) -> Vec<String> {
        if !hooks::HOOKS.iter().any(|h| h.plugin == name) {
            let known: Vec<String> = hooks::HOOKS
                .iter()
                .map(|h| format!("{} 的 fn {}", file_name(h.plugin), h.function))
                .collect();
            return vec![format!(
                "{} 不服务任何已知挂钩，不会被调用（已知：{}）",
                file_name(name),
                known.join("、")
            )];
        }
        hooks::HOOKS
            .iter()
            .filter(|h| h.plugin == name)
            .filter(|h| !ast.iter_functions().any(|f| f.name == h.function))
            .map(|h| {
                format!(
                    "未定义 fn {}({})，{} 使用内置默认规则",
                    h.function,
                    h.params.join(", "),
                    h.name
                )
            })
            .collect()
    }

    /// Compiles a source and runs its checks (inline tests, the horizon check): what must
    /// hold before a version may run.
    pub fn verified(&self, name: &str, source: &str) -> Result<Arc<Compiled>, ScriptError> {
        let compiled = self.compile(name, source)?;
        let report = check::check_compiled(self, name, source, &compiled);
        match report.failures.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(Arc::new(compiled)),
        }
    }

    /// Re-reads changed files, at most once per check interval.
    fn refresh(&self) {
        let mut st = self.lock();
        if let Some(t) = st.last_check
            && t.elapsed() < self.check_interval
        {
            return;
        }
        st.last_check = Some(Instant::now());
        let mut seen = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for ent in rd.flatten() {
                let path = ent.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".rhai"))
                    .filter(|n| valid_name(n))
                    .map(str::to_string)
                else {
                    continue;
                };
                let Ok(meta) = ent.metadata() else { continue };
                let stamp = (
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    meta.len(),
                );
                seen.push(name.clone());
                if st.files.get(&name).is_some_and(|e| e.stamp == Some(stamp)) {
                    continue;
                }
                let source = match std::fs::read_to_string(&path) {
                    Ok(s) => s,
                    Err(e) => {
                        let entry = st.files.entry(name.clone()).or_insert_with(Entry::empty);
                        entry.error = Some(ScriptError {
                            file: file_name(&name),
                            line: None,
                            message: format!("无法读取：{e}"),
                        });
                        continue;
                    }
                };
                let is_default = DEFAULTS.iter().any(|(n, src)| *n == name && *src == source);
                // The shipped default, unedited, shares the embedded AST: a sweep recognises it
                // (`RecallRule::is_default`) and runs its Rust twin instead of the interpreter.
                let stored = st.stored.get(&name).cloned().unwrap_or_default();
                let version = stored
                    .iter()
                    .find(|(_, src)| *src == source)
                    .map(|(id, _)| id.clone());
                // A saved version passed its checks at save (or the admin forced it): it only
                // has to compile. Anything else must also pass its tests and horizon check.
                let compiled = match self.defaults.get(&name) {
                    Some(d) if is_default => Ok(d.clone()),
                    _ if version.is_some() => self.compile(&name, &source).map(Arc::new),
                    _ => self.verified(&name, &source),
                };
                let changed = st.files.get(&name).is_none_or(|e| e.source != source);
                if version.is_none() && !is_default && changed {
                    st.disk_edits.push(DiskEdit {
                        name: name.clone(),
                        source: source.clone(),
                        error: compiled.as_ref().err().map(ToString::to_string),
                    });
                }
                let entry = st.files.entry(name.clone()).or_insert_with(Entry::empty);
                entry.stamp = Some(stamp);
                entry.source = source;
                match compiled {
                    Ok(ast) => {
                        entry.good = Some(ast);
                        entry.good_version = version;
                        entry.error = None;
                        tracing::info!(plugin = %name, "plugin loaded");
                    }
                    Err(e) => {
                        if entry.good.is_none() {
                            // At start: the newest saved version that compiles and passes.
                            for (id, src) in &stored {
                                if let Ok(ast) = self.verified(&name, src) {
                                    entry.good = Some(ast);
                                    entry.good_version = Some(id.clone());
                                    break;
                                }
                            }
                        }
                        match &entry.good_version {
                            Some(v) => {
                                tracing::warn!(error = %e, version = %v, "plugin does not run; the last good saved version runs")
                            }
                            None if entry.good.is_some() => {
                                tracing::warn!(error = %e, "plugin does not run; the last good version keeps running")
                            }
                            None => {
                                tracing::warn!(error = %e, "plugin does not run and no saved version does; the built-in default runs")
                            }
                        }
                        entry.error = Some(e);
                    }
                }
            }
        }
        st.files.retain(|name, _| seen.contains(name));
    }

    /// Forces the next call to look at the disk (after a save through the API).
    pub fn invalidate(&self) {
        self.lock().last_check = None;
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

    /// Every plugin: the files on disk and the embedded defaults not overridden by one.
    pub fn list(&self) -> Vec<PluginStatus> {
        self.refresh();
        let st = self.lock();
        let mut names: Vec<String> = st.files.keys().cloned().collect();
        for name in self.defaults.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let hooks = hooks::HOOKS
                    .iter()
                    .filter(|h| h.plugin == name)
                    .map(|h| h.name.to_string())
                    .collect();
                let (origin, status, running, running_version, error, warnings) =
                    match st.files.get(&name) {
                        Some(e) => (
                            "file",
                            if e.error.is_some() { "error" } else { "ok" },
                            match (&e.error, &e.good) {
                                (None, _) => "file",
                                (Some(_), Some(_)) => "last_good",
                                (Some(_), None) => "default",
                            },
                            e.good.as_ref().and(e.good_version.clone()),
                            e.error.clone(),
                            e.good
                                .as_ref()
                                .map(|a| Self::warnings(&name, a))
                                .unwrap_or_default(),
                        ),
                        None => ("default", "ok", "default", None, None, Vec::new()),
                    };
                let served: Vec<&str> = hooks::HOOKS
                    .iter()
                    .filter(|h| h.plugin == name)
                    .map(|h| h.name)
                    .collect();
                let failing = self
                    .errors
                    .failing()
                    .into_iter()
                    .filter(|h| served.contains(&h.as_str()))
                    .collect();
                PluginStatus {
                    file: file_name(&name),
                    errors_since_save: served.iter().map(|h| self.errors.count(h)).sum(),
                    recent_errors: self.errors.recent(&served, 20),
                    failing,
                    name,
                    hooks,
                    origin: origin.into(),
                    status: status.into(),
                    running: running.into(),
                    running_version,
                    error,
                    warnings,
                }
            })
            .collect()
    }

    /// The source of a plugin as it is on disk, or the embedded default.
    pub fn source(&self, name: &str) -> Option<String> {
        self.refresh();
        if let Some(e) = self.lock().files.get(name) {
            return Some(e.source.clone());
        }
        default_source(name).map(str::to_string)
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
mod tests;
#[cfg(test)]
mod trust_tests;
