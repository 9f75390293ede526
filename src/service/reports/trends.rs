//! The 工作台 trends: new leads and follow-ups per day over the last 30 or 90 days, and a ranking
//! of the users the caller sees, all read from counters kept in the writes' transactions (the
//! funnel's lead counters `fl/<day>/<owner>`, kept with `fe/customer/<day>/<owner>/lead`, the
//! follow-ups' `followups_done/<user>/<day>`),
//! never from the records. The ranking and the series are built from the same counters, so
//! they reconcile by construction (tests/it/trends.rs checks it).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::org::{User, UserStatus};
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::customers::shanghai;
use crate::service::followups::followups_done_day_key;
use crate::service::{Error, Result};
use crate::store::funnel;
use crate::store::{pools, users};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendsQuery {
    /// How many days back, today included: 30 (default) or 90.
    pub days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrendDay {
    /// `YYYY-MM-DD`, Asia/Shanghai.
    pub day: String,
    /// Customers entering 线索 that day in my scope (created, or back on the pipeline).
    pub new_leads: u64,
    /// Follow-ups logged that day by the users in my scope.
    pub followups: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RankRow {
    pub user_id: String,
    pub display_name: String,
    /// Follow-ups they logged in the period.
    pub followups: u64,
    /// New leads they owned when counted, in the period.
    pub new_leads: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Trends {
    pub from: String,
    pub to: String,
    pub days: u32,
    /// The lead counters are complete from this day on; a period starting earlier undercounts.
    pub counting_since: Option<String>,
    /// Every day of the period, oldest first, zeros included.
    pub series: Vec<TrendDay>,
    /// Per user in my scope: the period's follow-ups and new leads, most follow-ups first.
    /// Active users always; departed ones only with something counted.
    pub ranking: Vec<RankRow>,
    /// New leads counted without an owner (into a pool): in `series`, in no ranking row. Only
    /// a firm-wide scope sees them. Sum of `ranking` + this = sum of `series`.
    pub unowned_new_leads: u64,
}

/// The days of a period of `n` days ending on `to`, oldest first.
fn days_ending(to: NaiveDate, n: u32) -> Vec<String> {
    (0..i64::from(n))
        .rev()
        .map(|back| (to - Duration::days(back)).to_string())
        .collect()
}

/// The ranking row of `id`, made on first use (named from the users in scope, else its id).
fn entry<'a>(
    ranking: &'a mut BTreeMap<String, RankRow>,
    names: &BTreeMap<&str, &User>,
    id: &str,
) -> &'a mut RankRow {
    ranking.entry(id.to_string()).or_insert_with(|| RankRow {
        user_id: id.to_string(),
        display_name: names
            .get(id)
            .map_or_else(|| id.to_string(), |u| u.display_name.clone()),
        followups: 0,
        new_leads: 0,
    })
}

/// Sorts the ranking: most follow-ups, then most new leads, then by name.
fn rank(rows: &mut [RankRow]) {
    rows.sort_by(|a, b| {
        b.followups
            .cmp(&a.followups)
            .then(b.new_leads.cmp(&a.new_leads))
            .then_with(|| a.display_name.cmp(&b.display_name))
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
}

impl crate::service::reports::UseCases<'_> {
    /// New leads and follow-ups per day over the caller's scope for the last 30 or 90 days,
    /// and the ranking of the users in that scope.
    pub fn trends(&self, caller: &Caller, q: &TrendsQuery) -> Result<Trends> {
        caller.require(Capability::CustomerRead)?;
        let n = q.days.unwrap_or(30);
        if n != 30 && n != 90 {
            return Err(Error::validation("days", "只能是30或90"));
        }
        let scope = self.scope_of(caller)?;
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let days = days_ending(today, n);
        let (from, to) = match (days.first(), days.last()) {
            (Some(f), Some(t)) => (f.clone(), t.clone()),
            _ => return Err(Error::Internal("an empty period".into())),
        };
        let index: BTreeMap<&str, usize> = days
            .iter()
            .enumerate()
            .map(|(i, d)| (d.as_str(), i))
            .collect();
        let mut series: Vec<TrendDay> = days
            .iter()
            .map(|d| TrendDay {
                day: d.clone(),
                new_leads: 0,
                followups: 0,
            })
            .collect();
        let mut ranking: BTreeMap<String, RankRow> = BTreeMap::new();
        let mut unowned_new_leads = 0;

        let (people, leads, done, counting_since) = self.store.read(|tx| {
            // The users table is small (the firm's staff); the scope picks whom to count.
            let people: Vec<User> = users::all(tx)?
                .into_iter()
                .filter(|u| scope.may_receive(&u.id))
                .collect();
            // The lead counters (`fl/<day>/<owner>`, one row per owner and day, kept with the
            // funnel's `lead` entries), not every stage's funnel rows.
            let mut leads: Vec<(Option<String>, String, u64)> = Vec::new();
            funnel::leads_in(tx, &from, &to, |day, owner, count| {
                let sees = match (&scope.visible, owner) {
                    (Visible::All, _) => true,
                    (Visible::Owners(set), Some(o)) => set.contains(o),
                    (Visible::Owners(_), None) => false,
                };
                if sees {
                    leads.push((owner.map(str::to_string), day.to_string(), count));
                }
            })?;
            // Per user and day index (the series' position), no key copied.
            let mut done: Vec<(usize, usize, u64)> = Vec::new();
            for (ui, u) in people.iter().enumerate() {
                let start = followups_done_day_key(&u.id, &from);
                // '0' sorts after every character of a day, so all of day `to` is below it.
                let end = format!("{}0", followups_done_day_key(&u.id, &to));
                pools::visit_counters(tx, &start, &end, |key, count| {
                    let day = key.rsplit('/').next().unwrap_or_default();
                    if let Some(&i) = index.get(day) {
                        done.push((ui, i, count));
                    }
                })?;
            }
            Ok::<_, Error>((people, leads, done, funnel::since(tx)?))
        })?;

        let names: BTreeMap<&str, &User> = people.iter().map(|u| (u.id.as_str(), u)).collect();
        for u in &people {
            if u.status == UserStatus::Active {
                entry(&mut ranking, &names, &u.id);
            }
        }
        for (owner, day, count) in leads {
            let Some(&i) = index.get(day.as_str()) else {
                continue;
            };
            if let Some(s) = series.get_mut(i) {
                s.new_leads += count;
            }
            match owner {
                Some(o) => entry(&mut ranking, &names, &o).new_leads += count,
                None => unowned_new_leads += count,
            }
        }
        for (ui, i, count) in done {
            if let Some(s) = series.get_mut(i) {
                s.followups += count;
            }
            if let Some(u) = people.get(ui) {
                entry(&mut ranking, &names, &u.id).followups += count;
            }
        }
        let mut ranking: Vec<RankRow> = ranking.into_values().collect();
        rank(&mut ranking);
        Ok(Trends {
            from,
            to,
            days: n,
            counting_since,
            series,
            ranking,
            unowned_new_leads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_lists_every_day_oldest_first() {
        let to = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
        let d = days_ending(to, 30);
        assert_eq!(d.len(), 30);
        assert_eq!(d.first().map(String::as_str), Some("2026-01-31"));
        assert_eq!(d.last().map(String::as_str), Some("2026-03-01"));
    }

    #[test]
    fn the_ranking_puts_most_followups_first_then_leads_then_name() {
        let r = |id: &str, f, l| RankRow {
            user_id: id.into(),
            display_name: id.into(),
            followups: f,
            new_leads: l,
        };
        let mut rows = vec![r("c", 1, 5), r("b", 3, 0), r("a", 1, 5), r("d", 1, 9)];
        rank(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|x| x.user_id.as_str()).collect();
        assert_eq!(ids, ["b", "d", "a", "c"]);
    }
}
