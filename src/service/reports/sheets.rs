//! The reports page (`GET /reports/{name}`): each report is one table (columns in order, one
//! object per row, totals) over a period and the caller's scope, optionally one department,
//! and the same table as an XLSX file (audited `report.exported`). Every figure comes from
//! counters kept in the writes' transactions, never from the records:
//! - `activity`: per visible user, the follow-ups logged in the period
//!   (`followups_done/<user>/<day>`, the counter the 工作台 trends read, so the two reconcile)
//!   and the customers held now (the owner loads, `store::loads`);
//! - `funnel`: the customer funnel (or the deal funnel with `kind=deal`), stage by stage;
//! - `pools`: claims and recalls per user and pool in the period (`claim/<user>/<pool>/<day>`,
//!   `recall/<former owner>/<pool>/<day>`, bumped in the recall's transaction);
//! - `call_stats`, `rankings`, `finance`, `products` and the activity's by-kind and hoarding columns:
//!   `people.rs`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::capability::Capability;
use crate::domain::org::User;
use crate::service::access::audit;
use crate::service::access::auth::Caller;
use crate::service::customers::cells::xlsx_text;
use crate::service::{Error, Result};
use crate::store::{pools, users};

/// The reports listed on the reports page, in order.
pub const REPORTS: [&str; 7] = [
    "activity",
    "funnel",
    "pools",
    "call_stats",
    "rankings",
    "finance",
    "products",
];

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD` (Asia/Shanghai); default the first of this month.
    pub from: Option<String>,
    /// Last day, inclusive; default today. At most 366 days after `from`.
    pub to: Option<String>,
    /// Only the users of this department (its id; not its sub-departments), within my scope.
    pub department: Option<String>,
    /// `funnel` only: `customer` (default) or `deal`.
    pub kind: Option<String>,
    /// `xlsx` for the file; absent for JSON.
    pub format: Option<String>,
    /// `activity` only: hoarding counts customers held without a follow-up for this many
    /// days (1–365, default 7).
    pub idle_days: Option<u32>,
    /// `rankings` only: `fees` (default), `deals`, `followups` or `calls`.
    pub by: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportColumn {
    /// The key of the cell in each row.
    pub key: String,
    /// The column heading (zh-CN).
    pub label: String,
    /// `text` (ids and names: text cells in XLSX) or `number`.
    pub kind: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportTable {
    /// `activity`, `funnel`, `pools`, `call_stats`, `rankings`, `finance` or `products`.
    pub name: String,
    /// The report's title (zh-CN).
    pub title: String,
    pub from: String,
    pub to: String,
    pub department: Option<String>,
    pub columns: Vec<ReportColumn>,
    /// One object per row, keyed by the columns' keys.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<BTreeMap<String, Value>>,
    /// The sum of each number column over the rows (the funnel: none).
    #[schema(value_type = Object)]
    pub totals: BTreeMap<String, u64>,
    /// The column a chart plots per row (the UI draws a bar per row, a funnel for `funnel`).
    pub chart: String,
    /// What the report cannot show yet, said plainly (e.g. hoarding needs an index).
    pub notes: Vec<String>,
}

/// An exported report.
pub struct ReportFile {
    pub bytes: Vec<u8>,
    pub filename: String,
    pub rows: usize,
}

pub(super) fn col(key: &str, label: &str, kind: &str) -> ReportColumn {
    ReportColumn {
        key: key.into(),
        label: label.into(),
        kind: kind.into(),
    }
}

/// Sums every number column over the rows.
fn totals(columns: &[ReportColumn], rows: &[BTreeMap<String, Value>]) -> BTreeMap<String, u64> {
    columns
        .iter()
        .filter(|c| c.kind == "number")
        .map(|c| {
            let sum = rows
                .iter()
                .filter_map(|r| r.get(&c.key).and_then(Value::as_u64))
                .sum();
            (c.key.clone(), sum)
        })
        .collect()
}

/// The days `from..=to` of a counter keyed `<prefix><day>`: the range for `counters_in_range`
/// ('0' sorts after every character of a day, so all of day `to` is below it).
pub(super) fn day_range(prefix: &str, from: NaiveDate, to: NaiveDate) -> (String, String) {
    (format!("{prefix}{from}"), format!("{prefix}{to}0"))
}

impl crate::service::reports::UseCases<'_> {
    /// The users of the caller's scope (and of `department` when given), staff only: the
    /// users table is small.
    pub(super) fn report_people(
        &self,
        tx: &redb::ReadTransaction,
        caller: &Caller,
        department: Option<&str>,
    ) -> Result<Vec<User>> {
        let scope = self.scope_of(caller)?;
        Ok(users::all(tx)?
            .into_iter()
            .filter(|u| scope.may_receive(&u.id))
            .filter(|u| department.is_none_or(|d| u.department_id.as_deref() == Some(d)))
            .collect())
    }

    /// The report `name` for the query's period over the caller's scope.
    pub fn report(&self, caller: &Caller, name: &str, q: &ReportQuery) -> Result<ReportTable> {
        caller.require(Capability::CustomerRead)?;
        let (from, to) = self.period(q.from.as_deref(), q.to.as_deref())?;
        let department = q
            .department
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let (title, columns, rows, chart, notes) = match name {
            "activity" => self.activity_sheet(caller, department, (from, to), q.idle_days)?,
            "funnel" => {
                let fq = crate::service::reports::FunnelQuery {
                    from: Some(from.to_string()),
                    to: Some(to.to_string()),
                };
                let funnel = match q.kind.as_deref().unwrap_or("customer") {
                    "customer" => self.customer_funnel(caller, &fq)?,
                    "deal" => self.deal_funnel(caller, &fq)?,
                    _ => return Err(Error::validation("kind", "只能是customer或deal")),
                };
                let mut rows: Vec<BTreeMap<String, Value>> = funnel
                    .stages
                    .iter()
                    .map(|s| {
                        BTreeMap::from([
                            ("stage".to_string(), json!(s.stage)),
                            ("reached".to_string(), json!(s.reached)),
                            ("conversion_bp".to_string(), json!(s.conversion_bp)),
                            ("left".to_string(), json!(s.left)),
                            ("median_days".to_string(), json!(s.median_days)),
                        ])
                    })
                    .collect();
                rows.extend(funnel.outcomes.iter().map(|(stage, n)| {
                    BTreeMap::from([
                        ("stage".to_string(), json!(stage)),
                        ("reached".to_string(), json!(n)),
                    ])
                }));
                let mut notes = Vec::new();
                if department.is_some() {
                    notes.push("漏斗按数据范围统计，不按部门筛选。".to_string());
                }
                (
                    "转化漏斗",
                    vec![
                        col("stage", "阶段", "text"),
                        col("reached", "到达", "number"),
                        col("conversion_bp", "转化率（基点）", "number"),
                        col("left", "离开", "number"),
                        col("median_days", "停留天数中位数", "number"),
                    ],
                    rows,
                    "reached",
                    notes,
                )
            }
            "pools" => {
                let rows = self.store.read(|tx| {
                    let names: BTreeMap<String, String> = pools::all(tx)?
                        .into_iter()
                        .map(|p| (p.id, p.name))
                        .collect();
                    let mut rows = Vec::new();
                    for u in self.report_people(tx, caller, department)? {
                        // (claimed, recalled) per pool in the period, from
                        // `claim/<user>/<pool>/<day>` and `recall/<owner>/<pool>/<day>`.
                        // And the claims of the period whose customer reached 签约 afterwards,
                        // `claimsign/<user>/<pool>/<claim day>` (cohort by claim day).
                        let mut per_pool: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
                        for (which, prefix) in [(0, "claim"), (1, "recall"), (2, "claimsign")] {
                            let keys =
                                pools::counters_with_prefix(tx, &format!("{prefix}/{}/", u.id))?;
                            for (key, n) in keys {
                                let mut parts = key.rsplitn(3, '/');
                                let day = parts.next().unwrap_or_default();
                                let pool = parts.next().unwrap_or_default();
                                let in_period = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                                    .is_ok_and(|d| d >= from && d <= to);
                                if in_period {
                                    let e = per_pool.entry(pool.to_string()).or_default();
                                    match which {
                                        0 => e.0 += n,
                                        1 => e.1 += n,
                                        _ => e.2 += n,
                                    }
                                }
                            }
                        }
                        for (pool, (claimed, recalled, signed)) in per_pool {
                            rows.push(BTreeMap::from([
                                ("user_id".to_string(), json!(u.id)),
                                ("display_name".to_string(), json!(u.display_name)),
                                ("pool_id".to_string(), json!(pool)),
                                (
                                    "pool_name".to_string(),
                                    json!(
                                        names.get(&pool).cloned().unwrap_or_else(|| pool.clone())
                                    ),
                                ),
                                ("claimed".to_string(), json!(claimed)),
                                ("recalled".to_string(), json!(recalled)),
                                ("signed".to_string(), json!(signed)),
                                (
                                    "sign_rate_bp".to_string(),
                                    json!((signed * 10_000).checked_div(claimed).unwrap_or(0)),
                                ),
                            ]));
                        }
                    }
                    Ok::<_, Error>(rows)
                })?;
                (
                    "公海池",
                    vec![
                        col("user_id", "用户ID", "text"),
                        col("display_name", "姓名", "text"),
                        col("pool_id", "公海池ID", "text"),
                        col("pool_name", "公海池", "text"),
                        col("claimed", "领取", "number"),
                        col("recalled", "被回收", "number"),
                        col("signed", "领取后签约", "number"),
                        col("sign_rate_bp", "领取后签约率（基点）", "number"),
                    ],
                    rows,
                    "claimed",
                    vec![
                        "回收自本版本起按日计数，之前的回收不计。".to_string(),
                        "领取后签约：时间段内的领取中，客户之后（不限于时间段内）有业务单到达签约或之后阶段的次数；\
                         每次领取最多计一次，按领取日归入时间段；自本版本起计数。"
                            .to_string(),
                    ],
                )
            }
            "call_stats" => self.calls_sheet(caller, department, (from, to))?,
            // `ranking`: the name docs/api.md (the public contract) gives it.
            "rankings" | "ranking" => {
                self.rankings_sheet(caller, department, (from, to), q.by.as_deref())?
            }
            "finance" => self.finance_sheet(caller, department, (from, to))?,
            "products" => self.products_sheet(caller, department, (from, to))?,
            _ => return Err(Error::NotFound),
        };
        let totals = if name == "funnel" {
            BTreeMap::new()
        } else {
            let mut t = totals(&columns, &rows);
            super::people::fix_totals(name, &mut t);
            t
        };
        Ok(ReportTable {
            name: name.to_string(),
            title: title.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            department: department.map(str::to_string),
            columns,
            rows,
            totals,
            chart: chart.to_string(),
            notes,
        })
    }

    /// The report as an XLSX file: ids and names as text cells (defused against formulas),
    /// figures as numbers. Audited `report.exported` with the report, period and row count.
    pub fn export_report(
        &self,
        caller: &Caller,
        name: &str,
        q: &ReportQuery,
        source: &str,
    ) -> Result<ReportFile> {
        let table = self.report(caller, name, q)?;
        let bytes = xlsx(&table)?;
        let now = self.now();
        let rows = table.rows.len();
        self.store.write(|tx| {
            let detail = json!({
                "report": table.name, "from": table.from, "to": table.to,
                "department": table.department, "kind": q.kind, "rows": rows,
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
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::Internal(e.to_string())
}

/// The table as an XLSX workbook (one sheet: headings, rows, a totals row).
pub(super) fn xlsx(t: &ReportTable) -> Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, column) in t.columns.iter().enumerate() {
        let c = u16::try_from(c).map_err(|e| Error::Internal(e.to_string()))?;
        sheet
            .write_string(0, c, xlsx_text(&column.label))
            .map_err(xlsx_error)?;
    }
    let mut r: u32 = 1;
    for row in &t.rows {
        for (c, column) in t.columns.iter().enumerate() {
            let c = u16::try_from(c).map_err(|e| Error::Internal(e.to_string()))?;
            match row.get(&column.key) {
                Some(Value::Number(n)) if column.kind == "number" => {
                    sheet
                        .write_number(r, c, n.as_f64().unwrap_or_default())
                        .map_err(xlsx_error)?;
                }
                Some(Value::String(s)) => {
                    sheet.write_string(r, c, xlsx_text(s)).map_err(xlsx_error)?;
                }
                Some(Value::Null) | None => {}
                Some(other) => {
                    sheet
                        .write_string(r, c, xlsx_text(&other.to_string()))
                        .map_err(xlsx_error)?;
                }
            }
        }
        r += 1;
    }
    if !t.totals.is_empty() {
        sheet.write_string(r, 0, "合计").map_err(xlsx_error)?;
        for (c, column) in t.columns.iter().enumerate() {
            if let Some(n) = t.totals.get(&column.key) {
                let c = u16::try_from(c).map_err(|e| Error::Internal(e.to_string()))?;
                sheet.write_number(r, c, *n as f64).map_err(xlsx_error)?;
            }
        }
    }
    book.save_to_buffer().map_err(xlsx_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_number_columns_only() {
        let columns = vec![col("name", "姓名", "text"), col("n", "次数", "number")];
        let rows = vec![
            BTreeMap::from([
                ("name".to_string(), json!("=1+1")),
                ("n".to_string(), json!(2)),
            ]),
            BTreeMap::from([
                ("name".to_string(), json!("b")),
                ("n".to_string(), json!(3)),
            ]),
        ];
        let t = totals(&columns, &rows);
        assert_eq!(t.get("n"), Some(&5));
        assert!(!t.contains_key("name"));
    }

    #[test]
    fn a_day_range_holds_the_whole_last_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let (a, b) = day_range("x/", d("2026-01-01"), d("2026-01-31"));
        assert!(a.as_str() <= "x/2026-01-01" && "x/2026-01-31" < b.as_str());
        assert!("x/2026-02-01" > b.as_str());
    }
}
