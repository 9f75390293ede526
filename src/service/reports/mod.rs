//! Reports: funnels and trends for a period and the caller's scope, read from counters kept in the same
//! transaction as the records (`store::funnel`), never from the records.

crate::service::use_cases!(reports, "Funnels and reports.");

mod custom;
mod people;
mod sheets;
mod trends;
pub use custom::{CustomReportInfo, CustomReportResult};
pub use sheets::{REPORTS, ReportColumn, ReportFile, ReportQuery, ReportTable};
pub use trends::{RankRow, TrendDay, Trends, TrendsQuery};

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::customer::Stage;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::customers::shanghai;
use crate::service::{Error, Result};
use crate::store::funnel::{self, Kind};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// First day, `YYYY-MM-DD` (Asia/Shanghai); default the first of this month.
    pub from: Option<String>,
    /// Last day, inclusive; default today. At most 366 days after `from`.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FunnelStage {
    pub stage: String,
    /// Records that reached the stage in the period (passing through counts).
    pub reached: u64,
    /// Of those reaching this stage, the share reaching the next, in basis points (10000 =
    /// 100%); absent for the last stage or when none reached this one.
    pub conversion_bp: Option<u64>,
    /// Records that left the stage in the period.
    pub left: u64,
    /// The median whole days in the stage of those that left it: exact up to 30, else the
    /// upper bound of its range (45, 60, 90, 120, 180, 270, 365); absent when none left.
    pub median_days: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    pub kind: String,
    pub from: String,
    pub to: String,
    /// The counters are complete from this day on (the upgrade that introduced them); a period
    /// starting earlier undercounts.
    pub counting_since: Option<String>,
    /// The pipeline's stages in order.
    pub stages: Vec<FunnelStage>,
    /// Off the pipeline (lost, invalid; rejected, withdrawn for deals): entries in the period.
    pub outcomes: BTreeMap<String, u64>,
    /// Why (deals: the reasons given when rejected or withdrawn), most frequent first, at most 20.
    pub reasons: Vec<FunnelReason>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FunnelReason {
    pub stage: String,
    pub reason: String,
    pub count: u64,
}

fn parse_day(field: &'static str, v: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| Error::validation(field, "日期格式应为 YYYY-MM-DD"))
}

/// The median bucket of a histogram (bucket → count).
fn median(h: &BTreeMap<u32, u64>) -> Option<u32> {
    let total: u64 = h.values().sum();
    if total == 0 {
        return None;
    }
    let half = total.div_ceil(2);
    let mut seen = 0;
    for (b, n) in h {
        seen += n;
        if seen >= half {
            return Some(*b);
        }
    }
    None
}

impl crate::service::reports::UseCases<'_> {
    /// A report's period: Asia/Shanghai days `from..=to`, by default the first of this month to
    /// today, at most 366 days apart.
    pub(crate) fn period(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(NaiveDate, NaiveDate)> {
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let from = match from {
            Some(v) => parse_day("from", v)?,
            None => today.with_day(1).unwrap_or(today),
        };
        let to = match to {
            Some(v) => parse_day("to", v)?,
            None => today,
        };
        if to < from {
            return Err(Error::validation("to", "结束日期不能早于开始日期"));
        }
        if (to - from).num_days() > 366 {
            return Err(Error::validation("to", "一次最多统计366天"));
        }
        Ok((from, to))
    }

    /// A funnel of `kind` over the caller's scope (owners they see; the unowned for a
    /// firm-wide scope) for the query's period.
    pub fn funnel(
        &self,
        caller: &Caller,
        kind: Kind,
        pipeline: &[&str],
        q: &FunnelQuery,
    ) -> Result<Funnel> {
        caller.require(Capability::CustomerRead)?;
        let (from, to) = self.period(q.from.as_deref(), q.to.as_deref())?;
        let scope = self.scope_of(caller)?;
        let sees = |owner: &Option<String>| match (&scope.visible, owner) {
            (Visible::All, _) => true,
            (Visible::Owners(set), Some(o)) => set.contains(o),
            (Visible::Owners(_), None) => false,
        };
        let (f, t) = (from.to_string(), to.to_string());
        let mut reached: BTreeMap<String, u64> = BTreeMap::new();
        let mut stays: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
        let mut why: BTreeMap<(String, String), u64> = BTreeMap::new();
        let counting_since = self.store.read(|tx| {
            funnel::period_rows(tx, kind, false, from, to, |r| {
                if sees(&r.owner) {
                    *reached.entry(r.stage).or_default() += r.count;
                }
            })?;
            funnel::period_rows(tx, kind, true, from, to, |r| {
                if sees(&r.owner) {
                    *stays
                        .entry(r.stage)
                        .or_default()
                        .entry(r.bucket.unwrap_or(0))
                        .or_default() += r.count;
                }
            })?;
            funnel::period_reasons(tx, kind, from, to, |owner, stage, reason, n| {
                if sees(&owner) {
                    *why.entry((stage, reason)).or_default() += n;
                }
            })?;
            funnel::since(tx)
        })?;
        let mut reasons: Vec<FunnelReason> = why
            .into_iter()
            .map(|((stage, reason), count)| FunnelReason {
                stage,
                reason,
                count,
            })
            .collect();
        reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        reasons.truncate(20);
        let count = |s: &str| reached.get(s).copied().unwrap_or(0);
        let stages = pipeline
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let here = count(s);
                let h = stays.get(*s);
                FunnelStage {
                    stage: s.to_string(),
                    reached: here,
                    conversion_bp: pipeline
                        .get(i + 1)
                        .filter(|_| here > 0)
                        .map(|next| count(next) * 10_000 / here),
                    left: h.map_or(0, |h| h.values().sum()),
                    median_days: h.and_then(median),
                }
            })
            .collect();
        let outcomes = reached
            .iter()
            .filter(|(s, _)| !pipeline.contains(&s.as_str()))
            .map(|(s, n)| (s.clone(), *n))
            .collect();
        Ok(Funnel {
            kind: match kind {
                Kind::Customer => "customer",
                Kind::Deal => "deal",
            }
            .into(),
            from: f,
            to: t,
            counting_since,
            stages,
            outcomes,
            reasons,
        })
    }

    /// The deal funnel: invited → fee collected; rejected and withdrawn as outcomes. Counted
    /// by the deal's officer.
    pub fn deal_funnel(&self, caller: &Caller, q: &FunnelQuery) -> Result<Funnel> {
        caller.require(Capability::DealRead)?;
        self.funnel(
            caller,
            Kind::Deal,
            &crate::domain::deal::DealStage::PIPELINE,
            q,
        )
    }

    /// The customer funnel: lead → won; lost and invalid as outcomes.
    pub fn customer_funnel(&self, caller: &Caller, q: &FunnelQuery) -> Result<Funnel> {
        self.funnel(caller, Kind::Customer, &Stage::PIPELINE, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_bucket_holding_the_middle_record() {
        let h = |v: &[(u32, u64)]| v.iter().copied().collect::<BTreeMap<u32, u64>>();
        assert_eq!(median(&h(&[])), None);
        assert_eq!(median(&h(&[(3, 1)])), Some(3));
        assert_eq!(median(&h(&[(1, 1), (5, 1), (9, 1)])), Some(5));
        assert_eq!(
            median(&h(&[(1, 2), (9, 2)])),
            Some(1),
            "the lower middle of an even count"
        );
        assert_eq!(median(&h(&[(0, 1), (2, 1), (60, 5)])), Some(60));
    }
}
