//! Custom reports (`report.*`): a file `plugins/reports/<name>.rhai` (plugin name
//! `report.<name>`) declares `fn meta()` (title, parameters, an optional chart) and
//! `fn run(data, params)` (the table). The server builds `data` from the caller's scope only
//! (`service::reports::custom`); the script never gets a handle to read more. Both return
//! values are checked strictly here, like `hooks::check_result`: an unknown key, a wrong type
//! or a missing key is an error, located at the function that returned it.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Map};
use serde::Serialize;
use serde_json::Value;

use super::{Compiled, Plugins, ScriptError, file_name, line_of};

/// Plugin names of custom reports start with this (`report.weekly`).
pub const PREFIX: &str = "report.";
/// Their files live in this sub-directory of the plugins directory.
pub const DIR: &str = "reports";
/// The parameter kinds a report may declare.
pub const PARAM_KINDS: [&str; 5] = ["period", "department", "product", "number", "choice"];
/// The chart kinds the reports page draws.
pub const CHART_KINDS: [&str; 3] = ["bar", "line", "pie"];
/// At most this many columns (rows are bounded by the engine's array limit).
pub const MAX_COLUMNS: usize = 50;

/// The report's stem (`weekly` of `report.weekly`), when `name` names a custom report.
pub fn stem(name: &str) -> Option<&str> {
    name.strip_prefix(PREFIX)
}

pub fn is_report(name: &str) -> bool {
    stem(name).is_some()
}

/// One declared parameter, shown as a form field on the reports page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportParam {
    /// The key in `params` (and in the query string; a period uses `from` and `to`).
    pub name: String,
    /// `period`, `department`, `product`, `number` or `choice`.
    pub kind: String,
    pub label: String,
    pub label_en: Option<String>,
    /// The default: a period `this_month`, `last_month`, `last_and_this_month`, `last_7_days`
    /// or `last_30_days`; a
    /// number an integer; a choice one of `options`; else null.
    #[schema(value_type = Object)]
    pub default: Value,
    /// `choice` only: the values offered.
    pub options: Vec<String>,
}

/// A chart over the table: `x` names the column of the categories, `series` the number
/// columns plotted (one line, bar set or, for a pie, the first only).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChartSpec {
    /// `bar`, `line` or `pie`.
    pub kind: String,
    pub x: String,
    pub series: Vec<String>,
}

/// What `fn meta()` declares.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportMeta {
    pub title: String,
    pub title_en: Option<String>,
    pub params: Vec<ReportParam>,
    pub chart: Option<ChartSpec>,
}

/// One column of what `fn run` returned.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutColumn {
    pub label: String,
    /// `text` or `number`.
    pub kind: String,
}

/// What `fn run` returned, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportOutput {
    pub columns: Vec<OutColumn>,
    /// One array per row, one cell per column (string, number, bool or null).
    pub rows: Vec<Vec<Value>>,
    /// The chart: `run`'s own, else `meta`'s.
    pub chart: Option<ChartSpec>,
}

fn map_of(v: &Dynamic, what: &str) -> Result<Map, String> {
    v.read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or_else(|| format!("{what} 应为对象 #{{…}}，实际为 {}", v.type_name()))
}

fn array_of(v: &Dynamic, what: &str) -> Result<Array, String> {
    v.read_lock::<Array>()
        .map(|a| a.clone())
        .ok_or_else(|| format!("{what} 应为数组 […]，实际为 {}", v.type_name()))
}

fn only_keys(m: &Map, what: &str, known: &[&str]) -> Result<(), String> {
    for k in m.keys() {
        if !known.contains(&k.as_str()) {
            return Err(format!(
                "{what} 有未知的键 {k}（只认 {}）",
                known.join("、")
            ));
        }
    }
    Ok(())
}

fn string(m: &Map, key: &str, what: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => v
            .clone()
            .into_string()
            .map(Some)
            .map_err(|t| format!("{what}.{key} 应为字符串，实际为 {t}")),
    }
}

fn required(m: &Map, key: &str, what: &str) -> Result<String, String> {
    string(m, key, what)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("{what} 缺少必需的键 {key}（非空字符串）"))
}

fn ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

fn read_chart(v: &Dynamic, what: &str) -> Result<Option<ChartSpec>, String> {
    if v.is_unit() {
        return Ok(None);
    }
    let m = map_of(v, what)?;
    only_keys(&m, what, &["kind", "x", "series"])?;
    let kind = required(&m, "kind", what)?;
    if !CHART_KINDS.contains(&kind.as_str()) {
        return Err(format!(
            "{what}.kind 只能是 {}，实际为 {kind}",
            CHART_KINDS.join("、")
        ));
    }
    let x = required(&m, "x", what)?;
    let series = array_of(
        m.get("series")
            .ok_or(format!("{what} 缺少必需的键 series"))?,
        &format!("{what}.series"),
    )?
    .into_iter()
    .map(|s| {
        s.into_string()
            .map_err(|t| format!("{what}.series 的每一项应为列名（字符串），实际为 {t}"))
    })
    .collect::<Result<Vec<_>, _>>()?;
    if series.is_empty() {
        return Err(format!("{what}.series 至少要有一列"));
    }
    Ok(Some(ChartSpec { kind, x, series }))
}

/// Reads and checks what `fn meta()` returned.
pub fn read_meta(v: &Dynamic) -> Result<ReportMeta, String> {
    let m = map_of(v, "meta()")?;
    only_keys(&m, "meta()", &["title", "title_en", "params", "chart"])?;
    let title = required(&m, "title", "meta()")?;
    let title_en = string(&m, "title_en", "meta()")?;
    let mut params = Vec::new();
    let list = match m.get("params") {
        None => Array::new(),
        Some(v) => array_of(v, "meta().params")?,
    };
    for (i, p) in list.iter().enumerate() {
        let what = format!("meta().params[{i}]");
        let p = map_of(p, &what)?;
        only_keys(
            &p,
            &what,
            &[
                "name", "kind", "label", "label_en", "default", "initial", "options",
            ],
        )?;
        let name = required(&p, "name", &what)?;
        if !ident(&name) || name == "from" || name == "to" || name == "format" {
            return Err(format!(
                "{what}.name 应为字母开头的字母、数字、下划线（最多 32 个），且不能是 from、to、format：{name}"
            ));
        }
        if params.iter().any(|q: &ReportParam| q.name == name) {
            return Err(format!("{what}.name 重复：{name}"));
        }
        let kind = required(&p, "kind", &what)?;
        if !PARAM_KINDS.contains(&kind.as_str()) {
            return Err(format!(
                "{what}.kind 只能是 {}，实际为 {kind}",
                PARAM_KINDS.join("、")
            ));
        }
        if kind == "period" && params.iter().any(|q| q.kind == "period") {
            return Err(format!("{what}：一个报表最多一个 period 参数"));
        }
        let label = required(&p, "label", &what)?;
        let label_en = string(&p, "label_en", &what)?;
        let options: Vec<String> = match p.get("options") {
            None => Vec::new(),
            Some(v) => array_of(v, &format!("{what}.options"))?
                .into_iter()
                .map(|o| {
                    o.into_string()
                        .map_err(|t| format!("{what}.options 的每一项应为字符串，实际为 {t}"))
                })
                .collect::<Result<_, _>>()?,
        };
        if kind == "choice" && options.is_empty() {
            return Err(format!("{what}：choice 参数须给出 options"));
        }
        if kind != "choice" && !options.is_empty() {
            return Err(format!("{what}：只有 choice 参数可以有 options"));
        }
        // `default` is a reserved word in Rhai: written quoted (`"default": …`) or as `initial`.
        let d = p
            .get("default")
            .or_else(|| p.get("initial"))
            .cloned()
            .unwrap_or(Dynamic::UNIT);
        let default = match kind.as_str() {
            "period" => {
                let s = if d.is_unit() {
                    "this_month".to_string()
                } else {
                    d.into_string()
                        .map_err(|t| format!("{what}.default 应为字符串，实际为 {t}"))?
                };
                if !PERIODS.contains(&s.as_str()) {
                    return Err(format!(
                        "{what}.default 只能是 {}，实际为 {s}",
                        PERIODS.join("、")
                    ));
                }
                Value::String(s)
            }
            "number" if d.is_unit() => Value::Null,
            "number" => Value::from(
                d.as_int()
                    .map_err(|t| format!("{what}.default 应为整数，实际为 {t}"))?,
            ),
            "choice" => {
                let s = if d.is_unit() {
                    options.first().cloned().unwrap_or_default()
                } else {
                    d.into_string()
                        .map_err(|t| format!("{what}.default 应为字符串，实际为 {t}"))?
                };
                if !options.contains(&s) {
                    return Err(format!("{what}.default 应为 options 之一：{s}"));
                }
                Value::String(s)
            }
            _ if d.is_unit() => Value::Null,
            _ => return Err(format!("{what}：{kind} 参数没有 default")),
        };
        params.push(ReportParam {
            name,
            kind,
            label,
            label_en,
            default,
            options,
        });
    }
    let chart = match m.get("chart") {
        None => None,
        Some(v) => read_chart(v, "meta().chart")?,
    };
    Ok(ReportMeta {
        title,
        title_en,
        params,
        chart,
    })
}

/// The default periods a `period` parameter may name.
pub const PERIODS: [&str; 5] = [
    "this_month",
    "last_month",
    "last_and_this_month",
    "last_7_days",
    "last_30_days",
];

fn cell(v: &Dynamic) -> Option<Value> {
    if v.is_unit() {
        Some(Value::Null)
    } else if let Ok(b) = v.as_bool() {
        Some(Value::Bool(b))
    } else if let Ok(n) = v.as_int() {
        Some(Value::from(n))
    } else if let Ok(f) = v.as_float() {
        Some(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
    } else if v.is_string() {
        Some(Value::String(v.clone().into_string().unwrap_or_default()))
    } else {
        None
    }
}

/// Reads and checks what `fn run(data, params)` returned.
pub fn read_output(v: &Dynamic, meta_chart: Option<&ChartSpec>) -> Result<ReportOutput, String> {
    let m = map_of(v, "run()")?;
    only_keys(&m, "run()", &["columns", "rows", "chart"])?;
    let cols = array_of(
        m.get("columns").ok_or("run() 缺少必需的键 columns")?,
        "run().columns",
    )?;
    if cols.is_empty() || cols.len() > MAX_COLUMNS {
        return Err(format!("run().columns 应有 1 到 {MAX_COLUMNS} 列"));
    }
    let mut columns = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        let what = format!("run().columns[{i}]");
        let (label, kind) = if c.is_string() {
            (c.clone().into_string().unwrap_or_default(), None)
        } else {
            let cm = map_of(c, &what)?;
            only_keys(&cm, &what, &["label", "kind"])?;
            (required(&cm, "label", &what)?, string(&cm, "kind", &what)?)
        };
        if label.trim().is_empty() {
            return Err(format!("{what} 列名不能为空"));
        }
        if columns.iter().any(|x: &OutColumn| x.label == label) {
            return Err(format!("{what} 列名重复：{label}"));
        }
        if let Some(k) = &kind
            && k != "text"
            && k != "number"
        {
            return Err(format!("{what}.kind 只能是 text 或 number，实际为 {k}"));
        }
        columns.push(OutColumn {
            label,
            kind: kind.unwrap_or_default(),
        });
    }
    let list = array_of(
        m.get("rows").ok_or("run() 缺少必需的键 rows")?,
        "run().rows",
    )?;
    let mut rows = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let what = format!("run().rows[{i}]");
        let cells = array_of(r, &what)?;
        if cells.len() != columns.len() {
            return Err(format!(
                "{what} 有 {} 格，应与 columns 一样为 {} 格",
                cells.len(),
                columns.len()
            ));
        }
        let mut row = Vec::with_capacity(cells.len());
        for (j, c) in cells.iter().enumerate() {
            let v = cell(c).ok_or_else(|| {
                format!(
                    "{what}[{j}] 应为字符串、数字、布尔或 ()，实际为 {}",
                    c.type_name()
                )
            })?;
            row.push(v);
        }
        rows.push(row);
    }
    // A column without a declared kind is a number column when every cell is a number or empty.
    for (j, c) in columns.iter_mut().enumerate() {
        let numeric = |r: &Vec<Value>| r.get(j).is_some_and(|v| v.is_number() || v.is_null());
        if c.kind.is_empty() {
            let any = rows.iter().any(|r| r.get(j).is_some_and(Value::is_number));
            c.kind = if any && rows.iter().all(numeric) {
                "number"
            } else {
                "text"
            }
            .into();
        } else if c.kind == "number"
            && let Some(i) = rows.iter().position(|r| !numeric(r))
        {
            return Err(format!(
                "run().rows[{i}][{j}]：列「{}」是 number，这一格不是数字",
                c.label
            ));
        }
    }
    let chart = match m.get("chart") {
        Some(v) => read_chart(v, "run().chart")?,
        None => meta_chart.cloned(),
    };
    if let Some(ch) = &chart {
        let find = |l: &str| columns.iter().find(|c| c.label == l);
        if find(&ch.x).is_none() {
            return Err(format!("chart.x 应为某一列的列名：{}", ch.x));
        }
        for s in &ch.series {
            match find(s) {
                Some(c) if c.kind == "number" => {}
                Some(_) => return Err(format!("chart.series 的列「{s}」不是数字列")),
                None => return Err(format!("chart.series 应为列名：{s}")),
            }
        }
    }
    Ok(ReportOutput {
        columns,
        rows,
        chart,
    })
}

/// A JSON value as a Rhai value (the data handed to `run`).
pub fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(a) => Dynamic::from(a.iter().map(to_dynamic).collect::<Array>()),
        Value::Object(o) => Dynamic::from(
            o.iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect::<Map>(),
        ),
    }
}

/// The output as a JSON object for comparing with an inline test's `expect`.
pub fn output_json(o: &ReportOutput) -> Value {
    serde_json::json!({
        "columns": o.columns.iter().map(|c| c.label.clone()).collect::<Vec<_>>(),
        "rows": o.rows,
        "row_count": o.rows.len(),
        "chart": o.chart,
    })
}

/// The data a test case starts from (its `data` overlays it).
pub fn blank_data() -> Map {
    let mut m = Map::new();
    for (k, v) in [
        ("from", Dynamic::from("2026-11-01".to_string())),
        ("to", Dynamic::from("2026-11-30".to_string())),
        ("today", Dynamic::from("2026-11-20".to_string())),
        ("scope", Dynamic::from("all".to_string())),
        ("department", Dynamic::UNIT),
        ("product", Dynamic::UNIT),
    ] {
        m.insert(k.into(), v);
    }
    for k in [
        "users",
        "departments",
        "days",
        "months",
        "channels",
        "deals",
    ] {
        m.insert(k.into(), Dynamic::from(Array::new()));
    }
    m
}

/// Compile-time requirements of a report file: `fn meta()` and `fn run(data, params)`.
pub fn check_functions(name: &str, source: &str, c: &Compiled) -> Result<(), ScriptError> {
    let file = file_name(name);
    for (f, n, sig) in [("meta", 0, "fn meta()"), ("run", 2, "fn run(data, params)")] {
        match c.ast.iter_functions().find(|x| x.name == f) {
            Some(x) if x.params.len() == n => {}
            Some(x) => {
                return Err(ScriptError {
                    file,
                    line: line_of(source, &format!("fn {f}")),
                    message: format!("报表插件的函数应为 {sig}，这里有 {} 个参数", x.params.len()),
                });
            }
            None => {
                return Err(ScriptError {
                    file,
                    line: None,
                    message: format!("报表插件须定义 {sig}"),
                });
            }
        }
    }
    Ok(())
}

impl Plugins {
    /// Calls `meta` of a compiled report and checks it.
    pub(crate) fn meta_of(
        &self,
        name: &str,
        source: &str,
        c: &Compiled,
        now: DateTime<Utc>,
    ) -> Result<ReportMeta, ScriptError> {
        let file = file_name(name);
        let v = self
            .call(&file, c, "meta", Vec::new(), now)
            .map_err(|e| at_fn(e, source, "meta"))?;
        read_meta(&v).map_err(|message| ScriptError {
            file,
            line: line_of(source, "fn meta"),
            message,
        })
    }

    /// Calls `run` of a compiled report with `data` and `params` and checks the table.
    pub(crate) fn run_compiled(
        &self,
        name: &str,
        source: &str,
        c: &Compiled,
        data: Dynamic,
        params: Dynamic,
        now: DateTime<Utc>,
    ) -> Result<ReportOutput, ScriptError> {
        let file = file_name(name);
        let meta = self.meta_of(name, source, c, now)?;
        let v = self
            .call_report(&file, c, "run", vec![data, params], now)
            .map_err(|e| at_fn(e, source, "run"))?;
        read_output(&v, meta.chart.as_ref()).map_err(|message| ScriptError {
            file,
            line: line_of(source, "fn run"),
            message: format!("run 的返回值无效：{message}"),
        })
    }

    /// The custom reports present (files under `reports/`), by plugin name.
    pub fn report_names(&self) -> Vec<String> {
        self.refresh();
        self.lock()
            .files
            .keys()
            .filter(|n| is_report(n))
            .cloned()
            .collect()
    }

    /// The version of a report that runs (its source and AST) and the file's own error when
    /// it does not run as written (then the last good version runs, when there is one).
    #[allow(clippy::type_complexity)]
    fn report_entry(
        &self,
        name: &str,
    ) -> Option<(
        Option<(String, std::sync::Arc<Compiled>)>,
        Option<ScriptError>,
    )> {
        self.refresh();
        let st = self.lock();
        let e = st.files.get(name)?;
        let source = match (&e.good_version, &e.error) {
            // The file is broken: the source of the saved version that runs.
            (Some(v), Some(_)) => st
                .stored
                .get(name)
                .and_then(|s| s.iter().find(|(id, _)| id == v))
                .map_or_else(|| e.source.clone(), |(_, s)| s.clone()),
            _ => e.source.clone(),
        };
        Some((e.good.clone().map(|g| (source, g)), e.error.clone()))
    }

    /// A report's declaration: `Ok((meta, file error))` when a version runs (the file's own
    /// error too when that version is the last good one), `Err` when none does. `None`: no
    /// such report.
    #[allow(clippy::type_complexity)]
    pub fn report_meta(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Option<Result<(ReportMeta, Option<ScriptError>), ScriptError>> {
        let (good, error) = self.report_entry(name)?;
        Some(match good {
            Some((source, c)) => self.meta_of(name, &source, &c, now).map(|m| (m, error)),
            None => Err(error.unwrap_or_else(|| ScriptError {
                file: file_name(name),
                line: None,
                message: "没有可运行的版本".into(),
            })),
        })
    }

    /// Runs a report. A failure is recorded in the error log (shown on the plugins page).
    /// `None`: no such report.
    pub fn run_report(
        &self,
        name: &str,
        data: Dynamic,
        params: Dynamic,
        now: DateTime<Utc>,
    ) -> Option<Result<ReportOutput, ScriptError>> {
        let (good, error) = self.report_entry(name)?;
        let result = match good {
            Some((source, c)) => self.run_compiled(name, &source, &c, data, params, now),
            None => Err(error.unwrap_or_else(|| ScriptError {
                file: file_name(name),
                line: None,
                message: "没有可运行的版本".into(),
            })),
        };
        match &result {
            Ok(_) => self.errors.ok(name),
            Err(e) => {
                let version = self
                    .lock()
                    .files
                    .get(name)
                    .and_then(|e| e.good_version.clone());
                self.errors
                    .record(super::PluginFailure::new(name, version, e, None, now));
            }
        }
        Some(result)
    }
}

/// A report's run-time error: a limit hit names the limit and says what to do (a shorter
/// period, a department, or a higher `reports.max_operations` / `reports.max_ms`); anything
/// else as for every hook.
pub(super) fn limit_error(
    file: &str,
    err: &rhai::EvalAltResult,
    limits: super::ReportLimits,
) -> ScriptError {
    let mut e = err;
    while let rhai::EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = e {
        e = inner;
    }
    let what = match e {
        rhai::EvalAltResult::ErrorTooManyOperations(_) => format!(
            "运算次数超过报表上限 {}（配置 reports.max_operations）",
            limits.max_operations
        ),
        rhai::EvalAltResult::ErrorTerminated(..) => format!(
            "运行超过报表时限 {} 毫秒（配置 reports.max_ms）",
            limits.max_ms
        ),
        _ => return super::runtime_error(file, err),
    };
    let mut out = super::runtime_error(file, err);
    out.message = format!("{what}，已中止：请缩短时间段或选择一个部门后重试，或请管理员调大该上限");
    out
}

/// A run-time error without a line points at the function that was called.
fn at_fn(mut e: ScriptError, source: &str, f: &str) -> ScriptError {
    if e.line.is_none() {
        e.line = line_of(source, &format!("fn {f}("));
    }
    e
}

/// An inline test of a report: `#{ name, hook: "run", now, data: #{…}, params: #{…},
/// expect: #{ columns: […], rows: [[…]], row_count: n, chart: #{…} } }`. `data` overlays
/// [`blank_data`]; only the keys written in `expect` are compared.
pub(super) fn run_case(
    plugins: &Plugins,
    name: &str,
    source: &str,
    c: &Compiled,
    case: &Map,
    now: DateTime<Utc>,
) -> Result<(), String> {
    only_keys(
        case,
        "用例",
        &["name", "hook", "now", "data", "params", "expect"],
    )?;
    let hook = case
        .get("hook")
        .and_then(|h| h.clone().into_string().ok())
        .ok_or("缺少 hook")?;
    if hook != "run" {
        return Err(format!("报表插件的用例 hook 应为 \"run\"，实际为 {hook}"));
    }
    let mut data = blank_data();
    if let Some(d) = case.get("data") {
        for (k, v) in map_of(d, "data")? {
            data.insert(k, v);
        }
    }
    let params = match case.get("params") {
        None => Dynamic::from(Map::new()),
        Some(p) => Dynamic::from(map_of(p, "params")?),
    };
    let out = plugins
        .run_compiled(name, source, c, Dynamic::from(data), params, now)
        .map_err(|e| e.to_string())?;
    let got = output_json(&out);
    let expect = map_of(case.get("expect").ok_or("缺少 expect")?, "expect")?;
    if expect.is_empty() {
        return Err("缺少 expect".into());
    }
    for (key, want) in &expect {
        let want = super::check::to_json(want);
        let have = got.get(key.as_str()).cloned().unwrap_or(Value::Null);
        if !same(&want, &have) {
            return Err(format!("{key} 期望 {want}，实际 {have}"));
        }
    }
    Ok(())
}

/// JSON equality where 2 and 2.0 are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The custom reports section of the plugin reference (`docs/plugins.md`).
pub const REPORTS_DOC: &str = r#"
## 自定义报表 / Custom reports（`report.*`）

一个自定义报表是 `data/plugins/reports/<名称>.rhai`（插件名 `report.<名称>`，名称为小写字母、数字、`-`、`_`），不需要重新编译：
在插件页点“新建报表”上传或粘贴，或直接放进目录（一秒内生效，记为 `disk` 版本）。它出现在“报表”菜单内置报表之后，参数显示为表单，
`GET /api/v1/reports/custom` 列出全部（含出错的及其 文件:行号），`GET /api/v1/reports/custom/{名称}?from=&to=&<参数>=` 运行，
`&format=xlsx` 导出（文本单元格防公式，审计 `report.exported`，detail.report 为 `custom/<名称>`）。示例：`examples/plugins/reports/`（每周跟进质量、渠道月度对比）。

### `fn meta()`

| 键 | 类型 | 必需 | 含义 |
|---|---|---|---|
| `title` | `string` | 是 | 标题（菜单与页面） |
| `title_en` | `string` | 否 | 英文界面的标题 |
| `params` | `array` | 否 | 参数，每项 `#{ name, kind, label, label_en?, initial?, options? }` |
| `chart` | `map` | 否 | 图表 `#{ kind: "bar"\|"line"\|"pie", x: 列名, series: [数字列名…] }` |

参数 `kind`：`period`（时间段，最多一个；查询参数 `from`、`to`；`initial` 为 `this_month`（默认）、`last_month`、`last_and_this_month`、`last_7_days`、`last_30_days`；
`params.<name>` 为 `#{ from, to }`）、`department`（部门 id；给出时 data 只含该部门的人，仍在调用人范围内；`params.<name>` 为 `#{ id, name }` 或 `()`）、
`product`（产品 id；`#{ id, name, lender }` 或 `()`）、`number`（整数）、`choice`（`options` 之一，默认第一个）。`default` 是 Rhai 的保留字，默认值写作 `initial`（或带引号的 `"default"`）。
参数名为字母开头的字母、数字、下划线，不能是 `from`、`to`、`format`。

### `fn run(data, params)`

返回 `#{ columns: [...], rows: [[...], ...], chart? }`：`columns` 1–50 列，每列是列名字符串或 `#{ label, kind: "text"|"number" }`（不写 kind 时，全是数字或 () 的列为 number）；
每行是与 columns 等长的数组，单元格为字符串、整数、小数、布尔或 ()；number 列只能是数字或 ()；`chart` 覆盖 meta 的图表（可按数据生成列名），`x` 和 `series` 必须是列名，series 必须是数字列。
**未知的键、类型不对、行长不符都是错误**，与脚本抛出错误、超过运算次数/时间/大小上限同样处理：报表页显示错误（422 `report_plugin_failed`，消息以 `reports/<名称>.rhai:行号:` 开头），
记入错误日志（插件页的出错次数和最近错误），其他报表和页面照常；自定义报表出错不触发管理员横幅。文件不能编译或测试不通过时运行上一个可用版本，报表页注明。

`data`（服务器按调用人的数据范围构造，脚本拿不到任何读取句柄；销售只看到自己，主管本部门，全公司范围所有人；所有数字来自与写入同一事务维护的计数，不读记录）：

- `data.from`、`data.to`、`data.today`：`YYYY-MM-DD`（北京时间）；`data.scope`：`own`、`department` 或 `all`；`data.department`：部门筛选的 id 或 ()
- `data.users`：`[#{ id, name, department_id, department, active }]` 范围内（及部门筛选内）的人
- `data.departments`：`[#{ id, name }]` 这些人所在的部门
- `data.days`：`[#{ day, user_id, followups, new_leads, deals_signed, calls, calls_answered, claims }]` 每人每天（只列有数字的日子）：跟进次数、新线索（按当时负责人）、签约业务单（按负责人）、通话与接通、公海领取
- `data.months`：`[#{ month, user_id, fees_fen, disbursed_fen }]` 每人每月（时间段涉及的月份）：回款（扣除退款，分）、放款金额（分）
- `data.channels`：`[#{ month, channel, leads, valid_leads, signed, disbursed_fen, fees_fen }]` 每渠道每月；渠道计数不按人，只有全公司范围且有 `finance.read`、未按部门筛选时提供，否则为 `[]`
- `data.deals`：`[#{ day, user_id, product_id, product, stage, n }]` 每产品、每天、每个业务员、每个阶段：业务单进入该阶段的次数（`invited`…`fee_collected`、`rejected`、`withdrawn`），以及 `matched`（查看客户的产品匹配时该产品“符合”，按客户、产品、天计一次，计给查看的人）
- `data.product`：产品筛选的 id 或 ()

**产品参数筛选数据**：报表声明了 `product` 参数且调用时给出时，`data.deals` 只含该产品，`data.days[].deals_signed` 只计该产品的签约，
`data.months` 和 `data.channels`（回款、放款、渠道数字不按产品记录）为 `[]`——脚本看不到其他产品的数字。

**运行上限**：报表的 `run` 有自己的上限（配置 `[reports]`：`max_operations` 默认 50000000 次运算，`max_ms` 默认 10000 毫秒；挂钩仍为 1000000 次、200 毫秒），
因为它汇总一个时间段的数据：一年 × 200 人约 73000 条 `data.days`，示例“每周跟进质量”在默认上限内可以运行（有测试）。仍然超过时报表页显示
“reports/<名称>.rhai:行号: 运算次数超过报表上限 N（配置 reports.max_operations），已中止：请缩短时间段或选择一个部门后重试，或请管理员调大该上限”（422，不会白屏）。
数据可以比数组上限（10000 项）大，读取不受限制。

内置测试：`#{ name, hook: "run", now?, data: #{ … }, params: #{ … }, expect: #{ columns?: [列名…], rows?: [[…]], row_count?: n, chart?: #{…} } }`；
`data` 覆盖空数据（`from` 2026-11-01、`to` 2026-11-30、各列表为空），`expect` 只比较写出的键。`zhudai plugin check` 检查 `plugins/reports/` 下的文件（编译、meta 的格式、测试），保存时同样检查。

**English.** A custom report is `data/plugins/reports/<name>.rhai` (plugin `report.<name>`), added through the plugins page (新建报表: upload or paste) or on disk, without a restart. It declares `fn meta()` — `title`, `title_en`, `params` (`period` → query `from`/`to`, `department`, `product`, `number`, `choice` with `options`; the default is written `initial`, since `default` is reserved in Rhai) and an optional `chart` (`bar`/`line`/`pie`, `x` a column, `series` number columns) — and `fn run(data, params)` returning `#{ columns, rows, chart? }`. Both are checked strictly: unknown keys, wrong types and ragged rows are errors, handled like a throw or a limit (operations, time, size — the same as every hook): the report answers 422 `report_plugin_failed` with `reports/<name>.rhai:<line>:` and the failure is logged on the plugins page; nothing else is affected. `data` is built by the server from the caller's scope only (users, their departments, per user and day follow-ups, new leads, signed deals, calls, claims; per user and month fees and disbursements; per channel and month figures for a firm-wide finance scope only), all from counters kept in the writes' transactions. `GET /api/v1/reports/custom` lists the reports (broken ones with their error), `GET /api/v1/reports/custom/{name}` runs one, `format=xlsx` exports it (formula-safe, audited `report.exported`). `data` also holds `deals` (per product, day, officer and stage: `n` deals entering the stage, and `matched`: the product listed as eligible when someone asked a customer's matching, once per customer, product and day) and `product` (the product filter). A `product` parameter, when given, filters the data: `deals` holds only that product, `days[].deals_signed` counts only its signs, and `months` and `channels` (money and channel figures are not kept per product) are empty. `data` may be larger than the array limit (reading it is fine). A report's `run` has its own limits (`[reports]` in the configuration: `max_operations`, default 50,000,000, and `max_ms`, default 10,000; hooks keep 1,000,000 and 200 ms), since it summarises a period: a year for 200 users (about 73,000 `days` rows) runs the weekly example (tested). Over them the report answers 422 naming the file, the limit and its key and what to do (a shorter period, a department, or a higher limit). Inline tests use `hook: "run"` with `data`, `params` and `expect` (`columns`, `rows`, `row_count`, `chart`) and run in `zhudai plugin check` and on save.
"#;
