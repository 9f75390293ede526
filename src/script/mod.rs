//! Rhai plugins: a sandboxed engine (`api`), read-only views (`views`), the hook contract
//! (`hooks`) and [`Plugins`], which loads `data/plugins/*.rhai`, reloads edits, keeps the last
//! good version of a broken file and falls back to the embedded defaults.

pub mod api;
pub mod check;
pub mod hooks;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};
use serde::Serialize;

pub use hooks::{
    AssignCandidate, AssignDecision, AssignInput, ClaimDecision, ClaimInput, Hook, RecallDecision,
    RecallInput,
};

use api::{Binding, EvalGuard};
use hooks::Args;

/// One resolved version of the `pool.recall` rule (see [`Plugins::recall_rule`]).
pub struct RecallRule<'a> {
    plugins: &'a Plugins,
    file: String,
    ast: Arc<AST>,
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
    pub error: Option<ScriptError>,
    /// Hook functions the file lacks (the built-in default runs for them).
    pub warnings: Vec<String>,
}

struct Entry {
    stamp: Option<(SystemTime, u64)>,
    source: String,
    /// The last version that compiled and passed the lint.
    good: Option<Arc<AST>>,
    error: Option<ScriptError>,
}

struct State {
    last_check: Option<Instant>,
    files: BTreeMap<String, Entry>,
}

pub struct Plugins {
    dir: PathBuf,
    engine: Engine,
    bindings: Vec<Binding>,
    defaults: BTreeMap<String, Arc<AST>>,
    state: Mutex<State>,
    /// Disk is looked at no more often than this.
    check_interval: Duration,
    budget: Duration,
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
            bindings: api.bindings,
            defaults: BTreeMap::new(),
            state: Mutex::new(State {
                last_check: None,
                files: BTreeMap::new(),
            }),
            check_interval: Duration::from_secs(1),
            budget: Duration::from_millis(api::DEADLINE_MS),
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

    /// Compiles and lints a plugin's source.
    pub fn compile(&self, name: &str, source: &str) -> Result<AST, ScriptError> {
        let file = file_name(name);
        let mut ast = self.engine.compile(source).map_err(|e| ScriptError {
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
        Ok(ast)
    }

    /// Hook functions a plugin source lacks.
    fn warnings(name: &str, ast: &AST) -> Vec<String> {
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
                        let entry = st.files.entry(name.clone()).or_insert_with(|| Entry {
                            stamp: None,
                            source: String::new(),
                            good: None,
                            error: None,
                        });
                        entry.error = Some(ScriptError {
                            file: file_name(&name),
                            line: None,
                            message: format!("无法读取：{e}"),
                        });
                        continue;
                    }
                };
                // The shipped default, unedited, shares the embedded AST: a sweep recognises it
                // (`RecallRule::is_default`) and runs its Rust twin instead of the interpreter.
                let compiled = match self.defaults.get(&name) {
                    Some(d) if DEFAULTS.iter().any(|(n, src)| *n == name && *src == source) => {
                        Ok(d.clone())
                    }
                    _ => self.compile(&name, &source).map(Arc::new),
                };
                let entry = st.files.entry(name.clone()).or_insert_with(|| Entry {
                    stamp: None,
                    source: String::new(),
                    good: None,
                    error: None,
                });
                entry.stamp = Some(stamp);
                entry.source = source;
                match compiled {
                    Ok(ast) => {
                        entry.good = Some(ast);
                        entry.error = None;
                        tracing::info!(plugin = %name, "plugin loaded");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "plugin does not compile; the last good version keeps running");
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

    /// The AST that serves a hook now, and the file name to blame for its errors.
    fn ast_for(&self, hook: Hook) -> Result<(String, Arc<AST>), ScriptError> {
        self.refresh();
        let file = file_name(hook.plugin);
        let has = |ast: &AST| ast.iter_functions().any(|f| f.name == hook.function);
        if let Some(ast) = self
            .lock()
            .files
            .get(hook.plugin)
            .and_then(|e| e.good.clone())
            && has(&ast)
        {
            return Ok((file, ast));
        }
        match self.defaults.get(hook.plugin) {
            Some(ast) if has(ast) => Ok((format!("{file} (内置默认)"), ast.clone())),
            _ => Err(ScriptError {
                file,
                line: None,
                message: format!("没有实现挂钩 {} 的插件", hook.name),
            }),
        }
    }

    /// Calls `function` of `ast` with the deadline and `now` set for this thread.
    pub(crate) fn call(
        &self,
        file: &str,
        ast: &AST,
        function: &str,
        args: Vec<Dynamic>,
        now: DateTime<Utc>,
    ) -> Result<Dynamic, ScriptError> {
        let _guard = EvalGuard::new(now, self.budget);
        let mut scope = Scope::new();
        self.engine
            .call_fn_with_options::<Dynamic>(
                CallFnOptions::new().eval_ast(false),
                &mut scope,
                ast,
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
        let (file, ast) = self.ast_for(hook)?;
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
        let (file, ast) = self.ast_for(hooks::RECALL)?;
        Ok(RecallRule {
            plugins: self,
            file,
            ast,
        })
    }

    /// `pool.can_claim`: may this user take this customer out of the pool now?
    pub fn can_claim(&self, i: &ClaimInput) -> Result<ClaimDecision, ScriptError> {
        let (file, v) = self.run(Args::claim(i), i.now)?;
        hooks::claim_decision(&v).map_err(|m| Self::decision_error(&file, hooks::CAN_CLAIM, m))
    }

    /// `assign.pick`: who gets a new lead.
    pub fn assign(&self, i: &AssignInput) -> Result<AssignDecision, ScriptError> {
        let (file, v) = self.run(Args::pick(i), i.now)?;
        let d = hooks::assign_decision(&v)
            .map_err(|m| Self::decision_error(&file, hooks::ASSIGN_PICK, m))?;
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
                let (origin, status, running, error, warnings) = match st.files.get(&name) {
                    Some(e) => (
                        "file",
                        if e.error.is_some() { "error" } else { "ok" },
                        match (&e.error, &e.good) {
                            (None, _) => "file",
                            (Some(_), Some(_)) => "last_good",
                            (Some(_), None) => "default",
                        },
                        e.error.clone(),
                        e.good
                            .as_ref()
                            .map(|a| Self::warnings(&name, a))
                            .unwrap_or_default(),
                    ),
                    None => ("default", "ok", "default", None, Vec::new()),
                };
                PluginStatus {
                    file: file_name(&name),
                    name,
                    hooks,
                    origin: origin.into(),
                    status: status.into(),
                    running: running.into(),
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
