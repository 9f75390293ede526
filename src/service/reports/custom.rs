//! Custom reports (`report.*`, files `plugins/reports/<name>.rhai`, `script::report`): the
//! list for the reports menu and running one. The data handed to the script is built here
//! from the caller's scope only — the users they may see (`Scope::may_receive`) and the
//! counters of those users — so a salesperson's run sees their own numbers by construction;
//! the script gets values, never a handle to read more. Every figure comes from counters kept
//! in the writes' transactions (no record is read):
//! - per user and day: `followups_done/<user>/<day>`, the funnel's new leads
//!   (`fe/customer/<day>/<owner>/lead`) and signed deals (`fe/deal/<day>/<officer>/signed`),
//!   calls (`calls/<user>/<day>/n|answered`), claims (`claim/<user>/<pool>/<day>`);
//! - per user and month: fees collected net of refunds (`vol/<month>/<officer>`) and amounts
//!   disbursed (`dis/<month>/<officer>`);
//! - per channel and month (`store::channels::stats`): only for a firm-wide scope with
//!   `finance.read` and no department filter (the channel counters are not per user);
//! - per product, day, user and stage (`deals`): a deal entering a stage,
//!   `prod/<product>/<day>/<officer>/<stage>`.
//!
//! A `product` parameter filters: `deals` holds only that product, `days[].deals_signed`
//! counts only its signs, and `months` and `channels` (not kept per product) are empty.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};

use super::sheets::{ReportColumn, ReportFile, ReportTable, xlsx};
use crate::domain::capability::Capability;
use crate::domain::org::UserStatus;
use crate::script::ScriptError;
use crate::script::report::{self, ChartSpec, ReportMeta, ReportParam};
use crate::service::access::audit;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::customers::shanghai;
use crate::service::followups::followups_done_day_key;
use crate::service::{Error, Result};
use crate::store::funnel::{self, Kind};
use crate::store::{self, pools, users};

/// A custom report in the reports menu.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomReportInfo {
    /// The report's name (`weekly` for `reports/weekly.rhai`): `GET /reports/custom/{name}`.
    pub name: String,
    /// The plugin's name on the plugins page (`report.weekly`).
    pub plugin: String,
    pub file: String,
    /// The declared title; the file name when no version runs.
    pub title: String,
    pub title_en: Option<String>,
    pub params: Vec<ReportParam>,
    pub chart: Option<ChartSpec>,
    /// Whether a version runs (the file, or its last good version).
    pub runnable: bool,
    /// The file's error (compile, tests, `meta()`), with file and line: when `runnable`, the
    /// last good version runs meanwhile.
    pub error: Option<ScriptError>,
}

/// A custom report's result: the usual table (columns keyed `c0`, `c1`, …) and its chart.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomReportResult {
    #[serde(flatten)]
    pub table: ReportTable,
    pub chart_spec: Option<ChartSpec>,
    /// The parameters as the script received them.
    #[schema(value_type = Object)]
    pub params: Value,
    /// The file's own error when its last good version ran instead.
    pub file_error: Option<ScriptError>,
}

fn plugin_name(name: &str) -> Result<String> {
    let plugin = format!("{}{name}", report::PREFIX);
    if crate::script::valid_name(&plugin) && !name.is_empty() {
        Ok(plugin)
    } else {
        Err(Error::NotFound)
    }
}

/// The period a `period` parameter's default names, ending today.
fn default_period(which: &str, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    match which {
        "last_month" => {
            let end = first - Duration::days(1);
            (end.with_day(1).unwrap_or(end), end)
        }
        "last_and_this_month" => {
            let end = first - Duration::days(1);
            (end.with_day(1).unwrap_or(end), today)
        }
        "last_7_days" => (today - Duration::days(6), today),
        "last_30_days" => (today - Duration::days(29), today),
        _ => (first, today),
    }
}

fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = from.with_day(1).unwrap_or(from);
    while d <= to {
        out.push(d.format("%Y-%m").to_string());
        d = d
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(to + Duration::days(1));
    }
    out
}

/// Per (user, day) counts, as handed to the script.
#[derive(Default)]
struct Day {
    followups: u64,
    new_leads: u64,
    deals_signed: u64,
    calls: u64,
    calls_answered: u64,
    claims: u64,
}

impl crate::service::reports::UseCases<'_> {
    /// The custom reports for the menu, each with its declaration or its error.
    pub fn custom_reports(&self, caller: &Caller) -> Result<Vec<CustomReportInfo>> {
        caller.require(Capability::CustomerRead)?;
        let now = self.now();
        Ok(self
            .plugins
            .report_names()
            .into_iter()
            .filter_map(|plugin| {
                let meta = self.plugins.report_meta(&plugin, now)?;
                let name = report::stem(&plugin).unwrap_or_default().to_string();
                let file = crate::script::file_name(&plugin);
                Some(match meta {
                    Ok((m, error)) => CustomReportInfo {
                        name,
                        plugin,
                        file,
                        title: m.title,
                        title_en: m.title_en,
                        params: m.params,
                        chart: m.chart,
                        runnable: true,
                        error,
                    },
                    Err(e) => CustomReportInfo {
                        title: file.clone(),
                        name,
                        plugin,
                        file,
                        title_en: None,
                        params: Vec::new(),
                        chart: None,
                        runnable: false,
                        error: Some(e),
                    },
                })
            })
            .collect())
    }

    /// Runs the custom report `name` with the query's parameters over the caller's scope.
    /// A script that fails (throws, returns a bad shape, runs over its limits) is refused
    /// with `report_plugin_failed` naming the file and line; nothing else is affected.
    pub fn custom_report(
        &self,
        caller: &Caller,
        name: &str,
        q: &BTreeMap<String, String>,
    ) -> Result<CustomReportResult> {
        caller.require(Capability::CustomerRead)?;
        let plugin = plugin_name(name)?;
        let now = self.now();
        let failed = |e: ScriptError| Error::Unprocessable {
            code: "report_plugin_failed",
            message: e.to_string(),
        };
        let (meta, file_error) = self
            .plugins
            .report_meta(&plugin, now)
            .ok_or(Error::NotFound)?
            .map_err(failed)?;
        let (params, from, to, department, product) = self.custom_params(&meta, q)?;
        let data = self.custom_data(caller, from, to, department.as_deref(), product.as_deref())?;
        let out = self
            .plugins
            .run_report(
                &plugin,
                report::to_dynamic(&data),
                report::to_dynamic(&params),
                now,
            )
            .ok_or(Error::NotFound)?
            .map_err(failed)?;
        let key = |i: usize| format!("c{i}");
        let columns: Vec<ReportColumn> = out
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| ReportColumn {
                key: key(i),
                label: c.label.clone(),
                kind: c.kind.clone(),
            })
            .collect();
        let rows = out
            .rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .enumerate()
                    .map(|(i, v)| (key(i), v))
                    .collect::<BTreeMap<_, _>>()
            })
            .collect();
        let chart = out
            .chart
            .as_ref()
            .and_then(|c| c.series.first())
            .and_then(|s| columns.iter().find(|c| &c.label == s))
            .map(|c| c.key.clone())
            .unwrap_or_default();
        Ok(CustomReportResult {
            table: ReportTable {
                name: format!("custom/{name}"),
                title: meta.title,
                from: from.to_string(),
                to: to.to_string(),
                department,
                columns,
                rows,
                totals: BTreeMap::new(),
                chart,
                notes: Vec::new(),
            },
            chart_spec: out.chart,
            params,
            file_error,
        })
    }

    /// The custom report as an XLSX file (text cells defused against formulas), audited
    /// `report.exported` like the built-in reports.
    pub fn export_custom_report(
        &self,
        caller: &Caller,
        name: &str,
        q: &BTreeMap<String, String>,
        source: &str,
    ) -> Result<ReportFile> {
        let r = self.custom_report(caller, name, q)?;
        let table = r.table;
        let bytes = xlsx(&table)?;
        let now = self.now();
        let rows = table.rows.len();
        self.store.write(|tx| {
            let detail = json!({
                "report": table.name, "from": table.from, "to": table.to,
                "department": table.department, "params": r.params, "rows": rows,
            });
            let entry = audit::by_user(&caller.user, "report.exported", source, None, detail);
            audit::record(tx, now, entry)
        })?;
        Ok(ReportFile {
            bytes,
            filename: format!("{}-{}-{}.xlsx", table.title, table.from, table.to),
            rows,
        })
    }

    /// The parameters as the script receives them, the period, the department filter and the
    /// product filter (the first `product` parameter given).
    #[allow(clippy::type_complexity)]
    fn custom_params(
        &self,
        meta: &ReportMeta,
        q: &BTreeMap<String, String>,
    ) -> Result<(Value, NaiveDate, NaiveDate, Option<String>, Option<String>)> {
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let given = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut out = serde_json::Map::new();
        let (mut from, mut to) = default_period("this_month", today);
        let mut department = None;
        let mut product = None;
        for p in &meta.params {
            let v = match p.kind.as_str() {
                "period" => {
                    let (df, dt) = default_period(p.default.as_str().unwrap_or(""), today);
                    let (f, t) = self.period(
                        Some(given("from").map_or_else(|| df.to_string(), str::to_string))
                            .as_deref(),
                        Some(given("to").map_or_else(|| dt.to_string(), str::to_string)).as_deref(),
                    )?;
                    (from, to) = (f, t);
                    json!({"from": f.to_string(), "to": t.to_string()})
                }
                "department" => match given(&p.name) {
                    Some(d) => {
                        let name = self
                            .store
                            .read(|tx| Ok::<_, Error>(store::org::departments(tx)?))?
                            .into_iter()
                            .find(|x| x.id == d)
                            .map(|x| x.name)
                            .ok_or_else(|| Error::validation(&p.name, "部门不存在"))?;
                        if department.is_none() {
                            department = Some(d.to_string());
                        }
                        json!({"id": d, "name": name})
                    }
                    None => Value::Null,
                },
                "product" => match given(&p.name) {
                    Some(id) => {
                        let prod = self
                            .store
                            .read(|tx| Ok::<_, Error>(store::products::get(tx, id)?))?
                            .ok_or_else(|| Error::validation(&p.name, "产品不存在"))?;
                        if product.is_none() {
                            product = Some(prod.id.clone());
                        }
                        json!({"id": prod.id, "name": prod.terms.name, "lender": prod.terms.lender})
                    }
                    None => Value::Null,
                },
                "number" => match given(&p.name) {
                    Some(s) => Value::from(
                        s.parse::<i64>()
                            .map_err(|_| Error::validation(&p.name, "应为整数"))?,
                    ),
                    None => p.default.clone(),
                },
                _ => match given(&p.name) {
                    Some(s) if p.options.iter().any(|o| o == s) => Value::String(s.to_string()),
                    Some(_) => return Err(Error::validation(&p.name, "不是可选的值")),
                    None => p.default.clone(),
                },
            };
            out.insert(p.name.clone(), v);
        }
        Ok((Value::Object(out), from, to, department, product))
    }

    /// The data a custom report is given: the caller's scope only (see the module doc), and
    /// with `product` only that product's figures.
    pub fn custom_data(
        &self,
        caller: &Caller,
        from: NaiveDate,
        to: NaiveDate,
        department: Option<&str>,
        product: Option<&str>,
    ) -> Result<Value> {
        let scope = self.scope_of(caller)?;
        let firm_finance = caller.can(Capability::FinanceRead)
            && matches!(scope.visible, Visible::All)
            && department.is_none();
        let (f, t) = (from.to_string(), to.to_string());
        let month_list = months(from, to);
        self.store.read(|tx| {
            let departments = store::org::departments(tx)?;
            let dept_name = |id: &Option<String>| {
                id.as_ref()
                    .and_then(|id| departments.iter().find(|d| &d.id == id))
                    .map(|d| d.name.clone())
            };
            // The users table is small (the firm's staff); the scope picks whom to count.
            let people: Vec<_> = users::all(tx)?
                .into_iter()
                .filter(|u| scope.may_receive(&u.id))
                .filter(|u| department.is_none_or(|d| u.department_id.as_deref() == Some(d)))
                .collect();
            let ids: BTreeSet<&str> = people.iter().map(|u| u.id.as_str()).collect();
            let mut days: BTreeMap<(String, String), Day> = BTreeMap::new();
            for u in &people {
                let start = followups_done_day_key(&u.id, &f);
                let end = format!("{}0", followups_done_day_key(&u.id, &t));
                for (key, n) in pools::counters_in_range(tx, &start, &end)? {
                    let day = key.rsplit('/').next().unwrap_or_default().to_string();
                    days.entry((day, u.id.clone())).or_default().followups += n;
                }
                let start = format!("calls/{}/{f}", u.id);
                let end = format!("calls/{}/{t}0", u.id);
                for (key, n) in pools::counters_in_range(tx, &start, &end)? {
                    let mut parts = key.rsplitn(3, '/');
                    let (Some(metric), Some(day)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    let e = days.entry((day.to_string(), u.id.clone())).or_default();
                    match metric {
                        "n" => e.calls += n,
                        "answered" => e.calls_answered += n,
                        _ => {}
                    }
                }
                for (key, n) in pools::counters_with_prefix(tx, &format!("claim/{}/", u.id))? {
                    let day = key.rsplit('/').next().unwrap_or_default();
                    if day >= f.as_str() && day <= t.as_str() {
                        days.entry((day.to_string(), u.id.clone()))
                            .or_default()
                            .claims += n;
                    }
                }
            }
            // With a product chosen, signed deals come from that product's counters below.
            let funnel_stages: &[(Kind, &str)] = if product.is_some() {
                &[(Kind::Customer, "lead")]
            } else {
                &[(Kind::Customer, "lead"), (Kind::Deal, "signed")]
            };
            for &(kind, stage) in funnel_stages {
                funnel::rows(tx, kind, false, &f, &t, |r| {
                    if r.stage != stage {
                        return;
                    }
                    let Some(owner) = r.owner.filter(|o| ids.contains(o.as_str())) else {
                        return;
                    };
                    let e = days.entry((r.day, owner)).or_default();
                    if stage == "lead" {
                        e.new_leads += r.count;
                    } else {
                        e.deals_signed += r.count;
                    }
                })?;
            }
            // Per product, day, officer and stage: `prod/<product>/<day>/<officer>/<stage>`
            // (a deal entering the stage), only the chosen product when there is one.
            let products: Vec<(String, String)> = match product {
                Some(id) => store::products::get(tx, id)?
                    .map(|p| (p.id, p.terms.name))
                    .into_iter()
                    .collect(),
                None => store::products::all(tx)?
                    .into_iter()
                    .map(|p| (p.id, p.terms.name))
                    .collect(),
            };
            let mut deal_rows = Vec::new();
            for (pid, pname) in &products {
                let start = format!("prod/{pid}/{f}");
                let end = format!("prod/{pid}/{t}0");
                for (key, n) in pools::counters_in_range(tx, &start, &end)? {
                    let mut parts = key.rsplitn(4, '/');
                    let (Some(stage), Some(officer), Some(day)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    if !ids.contains(officer) {
                        continue;
                    }
                    if product.is_some() && stage == "signed" {
                        days.entry((day.to_string(), officer.to_string()))
                            .or_default()
                            .deals_signed += n;
                    }
                    deal_rows.push(json!({"day": day, "user_id": officer, "product_id": pid,
                        "product": pname, "stage": stage, "n": n}));
                }
            }
            // Fees and disbursements are kept per officer and month, not per product: with a
            // product chosen there are none to give (never another product's money).
            let mut month_rows = Vec::new();
            for m in month_list.iter().filter(|_| product.is_none()) {
                for u in &people {
                    let fees = store::fees::total(tx, &format!("vol/{m}/{}", u.id))?;
                    let disbursed = store::fees::total(tx, &format!("dis/{m}/{}", u.id))?;
                    if fees != 0 || disbursed != 0 {
                        month_rows.push(json!({"month": m, "user_id": u.id,
                            "fees_fen": fees, "disbursed_fen": disbursed}));
                    }
                }
            }
            let mut channels = Vec::new();
            if firm_finance
                && product.is_none()
                && let (Some(a), Some(b)) = (month_list.first(), month_list.last())
            {
                let mut per: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
                store::channels::stats(tx, a, b, |month, metric, text, n| {
                    *per.entry((month.to_string(), text.trim().to_string()))
                        .or_default()
                        .entry(metric.to_string())
                        .or_default() += n;
                })?;
                for ((month, channel), m) in per {
                    let g = |k: &str| m.get(k).copied().unwrap_or(0);
                    channels.push(json!({"month": month, "channel": channel,
                        "leads": g("leads"), "valid_leads": g("valid"), "signed": g("signed"),
                        "disbursed_fen": g("disbursed"), "fees_fen": g("fees")}));
                }
            }
            let visible_departments: BTreeSet<&str> = people
                .iter()
                .filter_map(|u| u.department_id.as_deref())
                .collect();
            Ok::<_, Error>(json!({
                "from": f,
                "to": t,
                "today": self.now().with_timezone(&shanghai()).date_naive().to_string(),
                "scope": match (&scope.visible, scope.kind) {
                    (Visible::All, _) => "all",
                    (_, crate::domain::roles::DataScope::Own) => "own",
                    _ => "department",
                },
                "department": department,
                "users": people.iter().map(|u| json!({
                    "id": u.id, "name": u.display_name, "department_id": u.department_id,
                    "department": dept_name(&u.department_id),
                    "active": u.status == UserStatus::Active,
                })).collect::<Vec<_>>(),
                "departments": departments.iter()
                    .filter(|d| visible_departments.contains(d.id.as_str()))
                    .map(|d| json!({"id": d.id, "name": d.name})).collect::<Vec<_>>(),
                "days": days.into_iter().map(|((day, user), d)| json!({
                    "day": day, "user_id": user, "followups": d.followups,
                    "new_leads": d.new_leads, "deals_signed": d.deals_signed,
                    "calls": d.calls, "calls_answered": d.calls_answered, "claims": d.claims,
                })).collect::<Vec<_>>(),
                "months": month_rows,
                "deals": deal_rows,
                "product": product,
                "channels": channels,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_periods_end_today() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let today = d("2026-03-15");
        assert_eq!(
            default_period("this_month", today),
            (d("2026-03-01"), today)
        );
        assert_eq!(
            default_period("last_month", today),
            (d("2026-02-01"), d("2026-02-28"))
        );
        assert_eq!(
            default_period("last_7_days", today),
            (d("2026-03-09"), today)
        );
        assert_eq!(months(d("2025-12-30"), d("2026-02-01")).len(), 3);
    }
}
