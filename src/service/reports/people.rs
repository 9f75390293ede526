//! The per-user reports beyond the first three (issue 21.2, 22.3), each its own function
//! returning a [`Sheet`] for the dispatcher in `sheets.rs`, every figure from keys and counters
//! kept in the writes' transactions:
//! - `activity`: follow-ups per kind (`followups_kind/<user>/<day>/<kind>`, schema 30, counted
//!   from the records at the upgrade) and hoarding (囤积: held customers whose last touch — the
//!   later of the claim and the last follow-up — is more than N days ago; one range of
//!   `owner_touch` per user, `store::report_keys`);
//! - `call_stats`: the call counters `calls/<user>/<day>/{n,answered,talk,reached}` (`store::calls`);
//! - `rankings`: fees collected (the payments and refunds keyed `pm:<month>/<officer>/…` whose
//!   day lies in the period), deals signed (the deal funnel's `signed` entries), follow-ups and
//!   calls, ranked by one of them;
//! - `finance`: per officer, collected, refunded, commission (`com/<month>/<user>`, whole
//!   months), outstanding fees and their ageing from the disbursement day (`rcv:` keys);
//! - `products`: per product, deals entering each stage and the rejection reasons
//!   (`prod/…`, `prodwhy/…`, `store::report_keys`).
//!
//! The people are those of the caller's scope (a salesperson: only their own row; a manager:
//! their department; a firm-wide scope: everyone), optionally one department.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Value, json};

use super::sheets::{ReportColumn, col};
use crate::domain::capability::Capability;
use crate::domain::followup::FollowupKind;
use crate::domain::org::{User, UserStatus};
use crate::service::access::auth::Caller;
use crate::service::customers::shanghai;
use crate::service::followups::followups_done_day_key;
use crate::service::{Error, Result};
use crate::store::funnel::{self, Kind};
use crate::store::{fees, loads, pools, report_keys};

/// One report's table before totals: title, columns, rows, the charted column, notes.
pub(super) type Sheet = (
    &'static str,
    Vec<ReportColumn>,
    Vec<BTreeMap<String, Value>>,
    &'static str,
    Vec<String>,
);

/// What ranks the `rankings` report.
pub const RANK_BY: [&str; 4] = ["fees", "deals", "followups", "calls"];

/// The default N of "held without a follow-up for N days".
pub const IDLE_DAYS: u32 = 7;

/// The counters `<prefix><day>…` over the days `from..=to`.
fn sum_days(
    tx: &redb::ReadTransaction,
    prefix: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, u64)>> {
    let (start, end) = super::sheets::day_range(prefix, from, to);
    Ok(pools::counters_in_range(tx, &start, &end)?)
}

/// Visits the counters `<prefix><day>…` over the days `from..=to` (no key copied).
fn visit_days(
    tx: &redb::ReadTransaction,
    prefix: &str,
    from: NaiveDate,
    to: NaiveDate,
    visit: impl FnMut(&str, u64),
) -> Result<()> {
    let (start, end) = super::sheets::day_range(prefix, from, to);
    Ok(pools::visit_counters(tx, &start, &end, visit)?)
}

/// The total of the counters `<prefix><day>…` over the days `from..=to`.
fn total_days(
    tx: &redb::ReadTransaction,
    prefix: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64> {
    let mut n = 0;
    visit_days(tx, prefix, from, to, |_, c| n += c)?;
    Ok(n)
}

/// The months (`YYYY-MM`) the days `from..=to` touch.
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

fn row(user: &User) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("user_id".to_string(), json!(user.id)),
        ("display_name".to_string(), json!(user.display_name)),
    ])
}

/// Whether a departed user's row is left out: only when nothing is counted for them.
fn skip(user: &User, row: &BTreeMap<String, Value>) -> bool {
    user.status != UserStatus::Active
        && row
            .iter()
            .filter(|(k, _)| k.as_str() != "user_id" && k.as_str() != "display_name")
            .all(|(_, v)| v.as_u64() == Some(0) || v.as_i64() == Some(0))
}

/// Per-call figures of one user over the period.
#[derive(Default)]
struct Calls {
    n: u64,
    answered: u64,
    talk: u64,
    reached: u64,
}

fn calls_of(
    tx: &redb::ReadTransaction,
    user: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Calls> {
    let mut c = Calls::default();
    visit_days(tx, &format!("calls/{user}/"), from, to, |key, n| match key
        .rsplit('/')
        .next()
        .unwrap_or_default()
    {
        "n" => c.n += n,
        "answered" => c.answered += n,
        "talk" => c.talk += n,
        "reached" => c.reached += n,
        _ => {}
    })?;
    Ok(c)
}

/// Fixes the totals row where a sum means nothing: rates and averages recomputed from the
/// summed parts, ranks dropped.
/// The products report's funnel rates: (column, numerator, denominator).
const PRODUCT_RATES: [(&str, &str, &str); 2] = [
    ("applied_bp", "submitted", "matched"),
    ("approved_bp", "approved", "submitted"),
];

pub(super) fn fix_totals(name: &str, totals: &mut BTreeMap<String, u64>) {
    match name {
        "products" => {
            for (k, num, den) in PRODUCT_RATES {
                let get = |s: &str| totals.get(s).copied().unwrap_or(0);
                let v = (get(num) * 10_000).checked_div(get(den)).unwrap_or(0);
                totals.insert(k.into(), v);
            }
        }
        "call_stats" => {
            let get = |k: &str| totals.get(k).copied().unwrap_or(0);
            let (calls, answered, talk) = (get("calls"), get("answered"), get("talk_seconds"));
            totals.insert(
                "answered_rate_bp".into(),
                (answered * 10_000).checked_div(calls).unwrap_or(0),
            );
            totals.insert(
                "avg_talk_seconds".into(),
                talk.checked_div(answered).unwrap_or(0),
            );
        }
        "rankings" => {
            totals.remove("rank");
        }
        "pools" => {
            let get = |k: &str| totals.get(k).copied().unwrap_or(0);
            let (claimed, signed) = (get("claimed"), get("signed"));
            totals.insert(
                "sign_rate_bp".into(),
                (signed * 10_000).checked_div(claimed).unwrap_or(0),
            );
        }
        _ => {}
    }
}

impl crate::service::reports::UseCases<'_> {
    /// `activity`: follow-ups in the period, per kind, customers held now, open leads, and
    /// hoarding (held, last touched more than `idle_days` ago).
    pub(super) fn activity_sheet(
        &self,
        caller: &Caller,
        department: Option<&str>,
        (from, to): (NaiveDate, NaiveDate),
        idle_days: Option<u32>,
    ) -> Result<Sheet> {
        let idle = idle_days.unwrap_or(IDLE_DAYS);
        if !(1..=365).contains(&idle) {
            return Err(Error::validation("idle_days", "应在1到365天之间"));
        }
        let cutoff = self.now() - Duration::days(i64::from(idle));
        let rows = self.store.read(|tx| {
            let mut rows = Vec::new();
            for u in self.report_people(tx, caller, department)? {
                let done = total_days(tx, &followups_done_day_key(&u.id, ""), from, to)?;
                let mut kinds = [0u64; FollowupKind::ALL.len()];
                visit_days(
                    tx,
                    &format!("followups_kind/{}/", u.id),
                    from,
                    to,
                    |key, n| {
                        let kind = key.rsplit('/').next().unwrap_or_default();
                        if let Some(i) = FollowupKind::ALL.iter().position(|k| k.as_str() == kind) {
                            kinds[i] += n;
                        }
                    },
                )?;
                let held = loads::of(tx, &u.id)?;
                let hoarded = report_keys::stale(tx, &u.id, cutoff)?;
                let mut r = row(&u);
                r.insert("followups".into(), json!(done));
                for (k, n) in FollowupKind::ALL.iter().zip(kinds) {
                    r.insert(format!("followups_{}", k.as_str()), json!(n));
                }
                r.insert("customers_held".into(), json!(held.live));
                r.insert("open_leads".into(), json!(held.open_leads));
                r.insert("hoarding".into(), json!(hoarded));
                if !skip(&u, &r) {
                    rows.push(r);
                }
            }
            Ok::<_, Error>(rows)
        })?;
        let mut columns = vec![
            col("user_id", "用户ID", "text"),
            col("display_name", "姓名", "text"),
            col("followups", "跟进次数", "number"),
        ];
        for k in FollowupKind::ALL {
            columns.push(ReportColumn {
                key: format!("followups_{}", k.as_str()),
                label: k.label().to_string(),
                kind: "number".into(),
            });
        }
        columns.extend([
            col("customers_held", "当前持有客户", "number"),
            col("open_leads", "其中待跟进线索", "number"),
            col("hoarding", "囤积", "number"),
        ]);
        Ok((
            "跟进活动",
            columns,
            rows,
            "followups",
            vec![format!(
                "囤积：当前持有、且{idle}天内没有跟进（从领取/分配或最后一次跟进起算，取较晚者）的客户数，是现在的数，不随时间段变化。"
            )],
        ))
    }

    /// `call_stats` (`GET /reports/calls` keeps the per-day shape of issue 22.3): per user, calls, answered rate, talk time, average talk, customers reached.
    pub(super) fn calls_sheet(
        &self,
        caller: &Caller,
        department: Option<&str>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Sheet> {
        let rows = self.store.read(|tx| {
            let mut rows = Vec::new();
            for u in self.report_people(tx, caller, department)? {
                let c = calls_of(tx, &u.id, from, to)?;
                let mut r = row(&u);
                r.insert("calls".into(), json!(c.n));
                r.insert("answered".into(), json!(c.answered));
                r.insert(
                    "answered_rate_bp".into(),
                    json!((c.answered * 10_000).checked_div(c.n).unwrap_or(0)),
                );
                r.insert("talk_seconds".into(), json!(c.talk));
                r.insert(
                    "avg_talk_seconds".into(),
                    json!(c.talk.checked_div(c.answered).unwrap_or(0)),
                );
                r.insert("customers_reached".into(), json!(c.reached));
                if !skip(&u, &r) {
                    rows.push(r);
                }
            }
            Ok::<_, Error>(rows)
        })?;
        Ok((
            "通话统计",
            vec![
                col("user_id", "用户ID", "text"),
                col("display_name", "姓名", "text"),
                col("calls", "通话", "number"),
                col("answered", "接通", "number"),
                col("answered_rate_bp", "接通率（基点）", "number"),
                col("talk_seconds", "通话时长（秒）", "number"),
                col("avg_talk_seconds", "平均通话（秒）", "number"),
                col("customers_reached", "触达客户", "number"),
            ],
            rows,
            "calls",
            vec!["触达客户按天去重，跨天相加。".to_string()],
        ))
    }

    /// `rankings`: fees collected, deals signed, follow-ups and calls per user in the period,
    /// ranked by `by` (default fees). Needs `deal.read` (fees and deals are deal figures).
    pub(super) fn rankings_sheet(
        &self,
        caller: &Caller,
        department: Option<&str>,
        (from, to): (NaiveDate, NaiveDate),
        by: Option<&str>,
    ) -> Result<Sheet> {
        caller.require(Capability::DealRead)?;
        let by = by.unwrap_or("fees");
        if !RANK_BY.contains(&by) {
            return Err(Error::validation(
                "by",
                "只能是fees、deals、followups或calls",
            ));
        }
        let scope = self.scope_of(caller)?;
        let mut rows = self.store.read(|tx| {
            let people = self.report_people(tx, caller, department)?;
            // Fees: the payments and refunds on days in the period, per officer, from the
            // rollups kept with the accounts (whole months + the edge days).
            let mut fees_of: BTreeMap<String, i64> = BTreeMap::new();
            let reader = fees::Reader::scoped(tx, &scope);
            for u in &people {
                let (paid, refunded) = reader.paid_refunded(&u.id, from, to)?;
                fees_of.insert(u.id.clone(), paid - refunded);
            }
            let mut signed: BTreeMap<String, u64> = BTreeMap::new();
            funnel::rows_ref(
                tx,
                Kind::Deal,
                false,
                &from.to_string(),
                &to.to_string(),
                |r| {
                    if r.stage == "signed"
                        && let Some(o) = r.owner
                    {
                        match signed.get_mut(o) {
                            Some(n) => *n += r.count,
                            None => {
                                signed.insert(o.to_string(), r.count);
                            }
                        }
                    }
                },
            )?;
            let mut rows = Vec::new();
            for u in people {
                let done = total_days(tx, &followups_done_day_key(&u.id, ""), from, to)?;
                let calls = calls_of(tx, &u.id, from, to)?;
                let mut r = row(&u);
                r.insert(
                    "fees_fen".into(),
                    json!(fees_of.get(&u.id).copied().unwrap_or(0).max(0)),
                );
                r.insert(
                    "deals_signed".into(),
                    json!(signed.get(&u.id).copied().unwrap_or(0)),
                );
                r.insert("followups".into(), json!(done));
                r.insert("calls".into(), json!(calls.n));
                if !skip(&u, &r) {
                    rows.push(r);
                }
            }
            Ok::<_, Error>(rows)
        })?;
        let key = match by {
            "deals" => "deals_signed",
            "followups" => "followups",
            "calls" => "calls",
            _ => "fees_fen",
        };
        let figure = |r: &BTreeMap<String, Value>| r.get(key).and_then(Value::as_u64).unwrap_or(0);
        let name = |r: &BTreeMap<String, Value>| {
            r.get("display_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        rows.sort_by(|a, b| {
            figure(b)
                .cmp(&figure(a))
                .then_with(|| name(a).cmp(&name(b)))
        });
        // Equal figures share a rank (1, 2, 2, 4).
        let mut last: Option<(u64, usize)> = None;
        for (i, r) in rows.iter_mut().enumerate() {
            let f = figure(r);
            let rank = match last {
                Some((lf, lr)) if lf == f => lr,
                _ => i + 1,
            };
            last = Some((f, rank));
            r.insert("rank".into(), json!(rank));
        }
        let chart = match by {
            "deals" => "deals_signed",
            "followups" => "followups",
            "calls" => "calls",
            _ => "fees_fen",
        };
        Ok((
            "排行榜",
            vec![
                col("rank", "名次", "number"),
                col("user_id", "用户ID", "text"),
                col("display_name", "姓名", "text"),
                col("fees_fen", "回款（分）", "number"),
                col("deals_signed", "签约", "number"),
                col("followups", "跟进", "number"),
                col("calls", "通话", "number"),
            ],
            rows,
            chart,
            vec!["回款为时间段内的收款减退款（按业务员）；销售只看到自己一行。".to_string()],
        ))
    }

    /// `finance`: per officer, fees collected and refunded in the period, commission of the
    /// months touched, outstanding fees now and their ageing. Needs `deal.read`.
    pub(super) fn finance_sheet(
        &self,
        caller: &Caller,
        department: Option<&str>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Sheet> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let rows = self.store.read(|tx| {
            let people = self.report_people(tx, caller, department)?;
            let reader = fees::Reader::scoped(tx, &scope);
            let mut rows = Vec::new();
            for u in people {
                // Collected and refunded in the period, outstanding now by disbursement day:
                // the rollups kept with the accounts (`store::fees`), not the accounts.
                let moves = reader.paid_refunded(&u.id, from, to)?;
                let mut due = [0i64; 5];
                for (day, bal) in reader.outstanding_by_day(&u.id)? {
                    let b = match (today - day).num_days() {
                        ..=30 => 1,
                        31..=60 => 2,
                        61..=90 => 3,
                        _ => 4,
                    };
                    due[0] += bal;
                    due[b] += bal;
                }
                let mut commission = 0i64;
                for m in months(from, to) {
                    commission += fees::total(tx, &format!("com/{m}/{}", u.id))?;
                }
                let (paid, refunded) = moves;
                let d = due;
                let mut r = row(&u);
                let put = |r: &mut BTreeMap<String, Value>, k: &str, v: i64| {
                    r.insert(k.to_string(), json!(v.max(0)));
                };
                put(&mut r, "collected_fen", paid);
                put(&mut r, "refunded_fen", refunded);
                put(&mut r, "net_fen", paid - refunded);
                put(&mut r, "commission_fen", commission);
                put(&mut r, "outstanding_fen", d[0]);
                put(&mut r, "age_0_30_fen", d[1]);
                put(&mut r, "age_31_60_fen", d[2]);
                put(&mut r, "age_61_90_fen", d[3]);
                put(&mut r, "age_over_90_fen", d[4]);
                if !skip(&u, &r) {
                    rows.push(r);
                }
            }
            Ok::<_, Error>(rows)
        })?;
        Ok((
            "财务",
            vec![
                col("user_id", "用户ID", "text"),
                col("display_name", "姓名", "text"),
                col("collected_fen", "收款（分）", "number"),
                col("refunded_fen", "退款（分）", "number"),
                col("net_fen", "净回款（分）", "number"),
                col("commission_fen", "提成（分）", "number"),
                col("outstanding_fen", "应收未收（分）", "number"),
                col("age_0_30_fen", "0–30天", "number"),
                col("age_31_60_fen", "31–60天", "number"),
                col("age_61_90_fen", "61–90天", "number"),
                col("age_over_90_fen", ">90天", "number"),
            ],
            rows,
            "net_fen",
            vec![
                "提成按所涉及的整月统计；应收未收与账龄是现在的数（从放款日起算），不随时间段变化。"
                    .to_string(),
            ],
        ))
    }
}

impl crate::service::reports::UseCases<'_> {
    /// `products`: per product, deals created, submitted (进件), approved, rejected (with the
    /// reasons, most frequent first), withdrawn and disbursed in the period, for the deals of
    /// the officers in scope. Needs `deal.read`.
    pub(super) fn products_sheet(
        &self,
        caller: &Caller,
        department: Option<&str>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Sheet> {
        caller.require(Capability::DealRead)?;
        const STAGES: [&str; 7] = [
            "matched",
            "invited",
            "submitted",
            "approved",
            "rejected",
            "withdrawn",
            "disbursed",
        ];
        let rows = self.store.read(|tx| {
            let people: std::collections::BTreeSet<String> = self
                .report_people(tx, caller, department)?
                .into_iter()
                .map(|u| u.id)
                .collect();
            let mut rows = Vec::new();
            // The products table is small (the firm's catalogue).
            for p in crate::store::products::all(tx)? {
                let mut n: BTreeMap<String, u64> = BTreeMap::new();
                for (key, c) in sum_days(tx, &format!("prod/{}/", p.id), from, to)? {
                    let mut parts = key.rsplitn(3, '/');
                    let (Some(stage), Some(officer)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    if people.contains(officer) {
                        *n.entry(stage.to_string()).or_default() += c;
                    }
                }
                let mut why: BTreeMap<String, u64> = BTreeMap::new();
                for (key, c) in sum_days(tx, &format!("prodwhy/{}/", p.id), from, to)? {
                    // `prodwhy/<product>/<day>/<officer>/<reason>`: the reason may hold '/'.
                    let mut parts = key.splitn(5, '/').skip(3);
                    let (Some(officer), Some(reason)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    if people.contains(officer) {
                        *why.entry(reason.to_string()).or_default() += c;
                    }
                }
                if n.values().all(|c| *c == 0) {
                    continue;
                }
                let mut reasons: Vec<(String, u64)> = why.into_iter().collect();
                reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let reasons: Vec<String> = reasons
                    .iter()
                    .take(5)
                    .map(|(r, c)| format!("{r}×{c}"))
                    .collect();
                let mut r = BTreeMap::from([
                    ("product_id".to_string(), json!(p.id)),
                    ("product_name".to_string(), json!(p.terms.name)),
                    ("reasons".to_string(), json!(reasons.join("；"))),
                ]);
                for s in STAGES {
                    r.insert(s.to_string(), json!(n.get(s).copied().unwrap_or(0)));
                }
                let get = |s: &str| n.get(s).copied().unwrap_or(0);
                for (k, num, den) in PRODUCT_RATES {
                    r.insert(
                        k.to_string(),
                        json!((get(num) * 10_000).checked_div(get(den)).unwrap_or(0)),
                    );
                }
                rows.push(r);
            }
            Ok::<_, Error>(rows)
        })?;
        Ok((
            "产品统计",
            vec![
                col("product_id", "产品ID", "text"),
                col("product_name", "产品", "text"),
                col("matched", "匹配", "number"),
                col("invited", "建单", "number"),
                col("submitted", "进件", "number"),
                col("applied_bp", "匹配→进件（基点）", "number"),
                col("approved", "批复", "number"),
                col("approved_bp", "进件→批复（基点）", "number"),
                col("rejected", "拒绝", "number"),
                col("withdrawn", "撤回", "number"),
                col("disbursed", "放款", "number"),
                col("reasons", "拒绝/撤回原因", "text"),
            ],
            rows,
            "submitted",
            vec![
                "按业务单进入各阶段的日期统计（业务员在范围内的业务单）。".to_string(),
                "匹配：有人查看客户的产品匹配时，列为“符合”的产品按客户、产品、天各计一次（计给查看的人），自本版本起计数；\
                 匹配→进件、进件→批复为同一时间段内两数之比（不是同一批客户的跟踪）。"
                    .to_string(),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_touches_each_month_once() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        assert_eq!(
            months(d("2026-01-31"), d("2026-03-01")),
            ["2026-01", "2026-02", "2026-03"]
        );
        assert_eq!(months(d("2026-05-02"), d("2026-05-09")), ["2026-05"]);
    }

    #[test]
    fn call_totals_recompute_the_rate_and_the_average() {
        let mut t = BTreeMap::from([
            ("calls".to_string(), 4),
            ("answered".to_string(), 2),
            ("talk_seconds".to_string(), 90),
            ("answered_rate_bp".to_string(), 15_000),
            ("avg_talk_seconds".to_string(), 100),
        ]);
        fix_totals("call_stats", &mut t);
        assert_eq!(t.get("answered_rate_bp"), Some(&5_000));
        assert_eq!(t.get("avg_talk_seconds"), Some(&45));
    }
}
