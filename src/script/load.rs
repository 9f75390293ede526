//! Loading plugin files: compile (with the file's top-level constants), lint, run the
//! checks a version must pass, re-read changed files, keep the last good version (from memory
//! or, after a restart, from the saved versions), note edits made on disk, and report status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};
use rhai::{AST, Dynamic, Scope};

use super::api::{self, EvalGuard};
use super::{
    Compiled, DEFAULTS, PluginStatus, Plugins, ScriptError, check, default_source, file_name,
    hooks, line_of, report, runtime_error, valid_name,
};

/// The plugin files of a directory: `*.rhai` and the custom reports `reports/*.rhai`
/// (named `report.<stem>`), with their paths.
pub(super) fn plugin_files(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    for (sub, prefix) in [(None, ""), (Some(report::DIR), report::PREFIX)] {
        let d = match sub {
            Some(s) => dir.join(s),
            None => dir.to_path_buf(),
        };
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for ent in rd.flatten() {
            let path = ent.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".rhai"))
                .map(|n| format!("{prefix}{n}"))
                .filter(|n| valid_name(n))
            else {
                continue;
            };
            if path.is_file() {
                out.push((name, path));
            }
        }
    }
    out
}

/// A plugin file changed on disk (not through a save): the service records it as a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskEdit {
    pub name: String,
    pub source: String,
    /// Why it does not run, when it does not.
    pub error: Option<String>,
}

pub(super) struct Entry {
    pub(super) stamp: Option<(SystemTime, u64)>,
    pub(super) source: String,
    /// The version that runs: the file when it is good, else the last good one.
    pub(super) good: Option<Arc<Compiled>>,
    /// The saved version id of `good`, when it is one.
    pub(super) good_version: Option<String>,
    pub(super) error: Option<ScriptError>,
}

impl Entry {
    pub(super) fn empty() -> Entry {
        Entry {
            stamp: None,
            source: String::new(),
            good: None,
            good_version: None,
            error: None,
        }
    }
}

pub(super) struct State {
    pub(super) last_check: Option<Instant>,
    pub(super) files: BTreeMap<String, Entry>,
    /// Saved versions per plugin, newest first: (id, source).
    pub(super) stored: BTreeMap<String, Vec<(String, String)>>,
    pub(super) disk_edits: Vec<DiskEdit>,
}

impl Plugins {
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
        let compiled = Compiled { ast, consts };
        if report::is_report(name) {
            report::check_functions(name, source, &compiled)?;
        }
        Ok(compiled)
    }

    /// Hook functions a plugin source lacks, or that it serves no known hook.
    pub(super) fn warnings(name: &str, ast: &AST) -> Vec<String> {
        if report::is_report(name) {
            return Vec::new();
        }
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
    pub(super) fn refresh(&self) {
        let mut st = self.lock();
        if let Some(t) = st.last_check
            && t.elapsed() < self.check_interval
        {
            return;
        }
        st.last_check = Some(Instant::now());
        let mut seen = Vec::new();
        {
            for (name, path) in plugin_files(&self.dir) {
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
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
                let hooks = if report::is_report(&name) {
                    vec![name.clone()]
                } else {
                    hooks::HOOKS
                        .iter()
                        .filter(|h| h.plugin == name)
                        .map(|h| h.name.to_string())
                        .collect()
                };
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
                let served: Vec<&str> = if report::is_report(&name) {
                    vec![name.as_str()]
                } else {
                    hooks::HOOKS
                        .iter()
                        .filter(|h| h.plugin == name)
                        .map(|h| h.name)
                        .collect()
                };
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
