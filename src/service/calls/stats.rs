//! Call statistics per user and day (issue 22.3), read from the counters `store::calls`
//! keeps in each call's transaction (`calls/<user>/<day>/{n,answered,talk,reached}`), never
//! from the call records. Over the caller's scope: a salesperson their own, a manager their
//! departments', an admin everyone.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::capability::Capability;
use crate::domain::org::User;
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store::{pools, users};

/// Longest period one report covers.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallStatsQuery {
    /// First day, `YYYY-MM-DD` (Asia/Shanghai).
    pub from: String,
    /// Last day, included.
    pub to: String,
}

/// One user's figures on one day (`day`) or over the period (`day` = null).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallStatsRow {
    pub user_id: String,
    pub display_name: String,
    pub day: Option<String>,
    pub calls: u64,
    pub answered: u64,
    /// answered ÷ calls in basis points (10000 = all answered); 0 without calls.
    pub answered_rate_bp: u64,
    pub talk_seconds: u64,
    /// talk seconds ÷ answered calls, rounded down; 0 without answered calls.
    pub avg_talk_seconds: u64,
    /// Distinct customers reached (answered) that day; over a period, the sum of the days.
    pub customers_reached: u64,
}

impl CallStatsRow {
    fn add(&mut self, metric: &str, n: u64) {
        match metric {
            "n" => self.calls += n,
            "answered" => self.answered += n,
            "talk" => self.talk_seconds += n,
            "reached" => self.customers_reached += n,
            _ => {}
        }
    }

    fn finish(mut self) -> Self {
        self.answered_rate_bp = (self.answered * 10_000)
            .checked_div(self.calls)
            .unwrap_or(0);
        self.avg_talk_seconds = self.talk_seconds.checked_div(self.answered).unwrap_or(0);
        self
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallStatsReport {
    pub from: String,
    pub to: String,
    /// Per user over the period, most calls first (users with no call left out).
    pub users: Vec<CallStatsRow>,
    /// Per user and day with at least one call, by day then user.
    pub days: Vec<CallStatsRow>,
}

fn day(field: &'static str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| Error::validation(field, "日期格式应为 YYYY-MM-DD"))
}

impl super::UseCases<'_> {
    /// The period's call figures of the users in the caller's scope (`customer.read`).
    pub fn stats(&self, caller: &Caller, q: &CallStatsQuery) -> Result<CallStatsReport> {
        caller.require(Capability::CustomerRead)?;
        let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
        if to < from {
            return Err(Error::validation("to", "结束日期不能早于开始日期"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(Error::validation("to", "统计区间最长366天"));
        }
        let scope = self.scope_of(caller)?;
        let (from, to) = (from.to_string(), to.to_string());
        let (people, counted) = self.store.read(|tx| {
            // The users table is small (the firm's staff); the scope picks whom to count.
            let people: Vec<User> = users::all(tx)?
                .into_iter()
                .filter(|u| scope.may_receive(&u.id))
                .collect();
            let mut counted = Vec::new();
            for u in &people {
                let start = format!("calls/{}/{from}", u.id);
                // '0' sorts after '/', so every metric of day `to` is below it.
                let end = format!("calls/{}/{to}0", u.id);
                for (key, n) in pools::counters_in_range(tx, &start, &end)? {
                    let mut parts = key.rsplitn(3, '/');
                    let (Some(metric), Some(d)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    counted.push((u.id.clone(), d.to_string(), metric.to_string(), n));
                }
            }
            Ok::<_, Error>((people, counted))
        })?;
        let names: BTreeMap<&str, &str> = people
            .iter()
            .map(|u| (u.id.as_str(), u.display_name.as_str()))
            .collect();
        let blank = |user: &str, day: Option<&str>| CallStatsRow {
            user_id: user.to_string(),
            display_name: names.get(user).copied().unwrap_or(user).to_string(),
            day: day.map(str::to_string),
            ..CallStatsRow::default()
        };
        let mut per_user: BTreeMap<String, CallStatsRow> = BTreeMap::new();
        let mut per_day: BTreeMap<(String, String), CallStatsRow> = BTreeMap::new();
        for (user, d, metric, n) in counted {
            per_user
                .entry(user.clone())
                .or_insert_with(|| blank(&user, None))
                .add(&metric, n);
            per_day
                .entry((d.clone(), user.clone()))
                .or_insert_with(|| blank(&user, Some(&d)))
                .add(&metric, n);
        }
        let mut users: Vec<CallStatsRow> =
            per_user.into_values().map(CallStatsRow::finish).collect();
        users.sort_by(|a, b| {
            b.calls
                .cmp(&a.calls)
                .then_with(|| a.display_name.cmp(&b.display_name))
        });
        Ok(CallStatsReport {
            from,
            to,
            users,
            days: per_day.into_values().map(CallStatsRow::finish).collect(),
        })
    }
}
