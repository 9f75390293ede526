//! Monthly targets (业绩目标) per user and department, and the progress of each user and
//! department the caller sees, from counters kept in the writes' transactions: fees received
//! (`fee_totals` `vol/<month>/<officer>`), amount disbursed (`dis/<month>/<officer>`), deals
//! signed (the deal funnel's `fe/deal/<day>/<officer>/signed`) and follow-ups
//! (`followups_done/<user>/<day>`). Managers (`customer.assign`) set targets for the users and
//! departments of their scope; everyone sees their own progress, a manager (or finance) the
//! users and departments of their scope.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::fee;
use crate::domain::org::{self, UserStatus};
use crate::domain::target::{self, Actual, Progress, Target};
use crate::service::access::auth::Caller;
use crate::service::access::scope::Visible;
use crate::service::followups::followups_done_day_key;
use crate::service::{Error, Result};
use crate::store;
use crate::store::funnel::{self, Kind};

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetQuery {
    /// `YYYY-MM` (default: this month).
    pub month: Option<String>,
}

/// `PUT /targets`: one user's or one department's target of a month (absent measures: none).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTarget {
    pub month: String,
    pub user_id: Option<String>,
    pub department_id: Option<String>,
    pub fees_fen: Option<i64>,
    pub disbursed_fen: Option<i64>,
    pub deals_signed: Option<i64>,
    pub followups: Option<i64>,
}

/// A user or department with its target, actual and progress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub target: Target,
    pub actual: Actual,
    pub progress: Progress,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgressPage {
    pub month: String,
    pub users: Vec<Person>,
    pub departments: Vec<Person>,
    /// The caller may set targets (`customer.assign`).
    pub may_set: bool,
}

fn month_arg(m: Option<&str>, today: NaiveDate) -> Result<String> {
    match m {
        None => Ok(fee::month_of(today)),
        Some(m) => {
            fee::parse_month(m).ok_or_else(|| Error::validation("month", "月份格式应为 YYYY-MM"))
        }
    }
}

impl crate::service::fees::UseCases<'_> {
    /// The departments whose targets the caller sees and sets: every one for a firm-wide
    /// scope, their department and those below it for a department scope, none otherwise.
    fn departments_seen(
        &self,
        caller: &Caller,
        all: &[org::Department],
    ) -> Result<BTreeSet<String>> {
        let scope = self.scope_of(caller)?;
        Ok(match (&scope.visible, scope.department.as_deref()) {
            (Visible::All, _) => all.iter().map(|d| d.id.clone()).collect(),
            (Visible::Owners(_), Some(dept)) => org::subtree(all, dept),
            _ => BTreeSet::new(),
        })
    }

    /// `GET /targets/progress?month=`.
    pub fn progress(&self, caller: &Caller, q: &TargetQuery) -> Result<ProgressPage> {
        let month = month_arg(q.month.as_deref(), super::today(self.now()))?;
        let scope = self.scope_of(caller)?;
        // Colleagues' figures are for managers and finance; anyone else sees their own, even
        // with a firm-wide data scope (customer service, documents).
        let team = caller.can(Capability::CustomerAssign) || caller.can(Capability::FinanceRead);
        let from = format!("{month}-01");
        let to = format!("{month}-31");
        let (users, departments, targets, signed, done, totals) = self.store.read(|tx| {
            let users: Vec<_> = store::users::all(tx)?
                .into_iter()
                .filter(|u| u.id == caller.user.id || (team && scope.may_receive(&u.id)))
                .filter(|u| u.status == UserStatus::Active || u.id == caller.user.id)
                .collect();
            let departments = store::org::departments(tx)?;
            let targets: BTreeMap<String, Target> =
                store::fees::targets(tx, &month)?.into_iter().collect();
            let mut signed: BTreeMap<String, i64> = BTreeMap::new();
            funnel::rows(tx, Kind::Deal, false, &from, &to, |r| {
                if r.stage == "signed"
                    && let Some(o) = r.owner
                {
                    *signed.entry(o).or_default() += i64::try_from(r.count).unwrap_or(i64::MAX);
                }
            })?;
            let mut done: BTreeMap<String, i64> = BTreeMap::new();
            let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for u in &users {
                let start = followups_done_day_key(&u.id, &from);
                let end = format!("{}0", followups_done_day_key(&u.id, &to));
                let n: u64 = store::pools::counters_in_range(tx, &start, &end)?
                    .into_iter()
                    .map(|(_, c)| c)
                    .sum();
                done.insert(u.id.clone(), i64::try_from(n).unwrap_or(i64::MAX));
                totals.insert(
                    u.id.clone(),
                    (
                        store::fees::total(tx, &format!("vol/{month}/{}", u.id))?,
                        store::fees::total(tx, &format!("dis/{month}/{}", u.id))?,
                    ),
                );
            }
            Ok::<_, Error>((users, departments, targets, signed, done, totals))
        })?;
        let actual_of = |id: &str| -> Actual {
            let (fees_fen, disbursed_fen) = totals.get(id).copied().unwrap_or((0, 0));
            Actual {
                fees_fen,
                disbursed_fen,
                deals_signed: signed.get(id).copied().unwrap_or(0),
                followups: done.get(id).copied().unwrap_or(0),
            }
        };
        let person = |key: String, id: &str, name: &str, actual: Actual| -> Person {
            let t = targets.get(&key).cloned().unwrap_or_default();
            Person {
                id: id.to_string(),
                name: name.to_string(),
                progress: target::progress(&t, &actual),
                target: t,
                actual,
            }
        };
        let people: Vec<Person> = users
            .iter()
            .map(|u| {
                person(
                    store::fees::target_key(&month, false, &u.id),
                    &u.id,
                    &u.display_name,
                    actual_of(&u.id),
                )
            })
            .collect();
        let seen = if team {
            self.departments_seen(caller, &departments)?
        } else {
            BTreeSet::new()
        };
        let depts: Vec<Person> = departments
            .iter()
            .filter(|d| seen.contains(&d.id))
            .map(|d| {
                let members = org::subtree(&departments, &d.id);
                let mut sum = Actual::default();
                for u in users.iter().filter(|u| {
                    u.department_id
                        .as_ref()
                        .is_some_and(|x| members.contains(x))
                }) {
                    sum.add(&actual_of(&u.id));
                }
                person(
                    store::fees::target_key(&month, true, &d.id),
                    &d.id,
                    &d.name,
                    sum,
                )
            })
            .collect();
        Ok(ProgressPage {
            month,
            users: people,
            departments: depts,
            may_set: caller.can(Capability::CustomerAssign),
        })
    }

    /// `PUT /targets`: managers set a target for a user or a department of their scope.
    pub fn set_target(&self, caller: &Caller, input: SetTarget, source: &str) -> Result<Person> {
        caller.require(Capability::CustomerAssign)?;
        let month = month_arg(Some(&input.month), super::today(self.now()))?;
        let t = Target {
            fees_fen: input.fees_fen,
            disbursed_fen: input.disbursed_fen,
            deals_signed: input.deals_signed,
            followups: input.followups,
        };
        t.check().map_err(|(f, r)| Error::validation(f, r))?;
        let (key, id) = match (&input.user_id, &input.department_id) {
            (Some(u), None) => (store::fees::target_key(&month, false, u), u.clone()),
            (None, Some(d)) => (store::fees::target_key(&month, true, d), d.clone()),
            _ => {
                return Err(Error::validation(
                    "user_id",
                    "请指定一位员工（user_id）或一个部门（department_id）",
                ));
            }
        };
        let departments = self.store.read(store::org::departments)?;
        let seen = self.departments_seen(caller, &departments)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            match &input.user_id {
                Some(u) => {
                    let ok =
                        store::users::find_by_id_w(w.tx, u)?.is_some() && w.scope().may_receive(u);
                    if !ok {
                        return Err(Error::NotFound);
                    }
                }
                None => {
                    if !seen.contains(&id) {
                        return Err(Error::NotFound);
                    }
                }
            }
            store::fees::put_target(w.tx, &key, &t)?;
            w.audit(
                "target.set",
                Some(&id),
                json!({"month": month, "department": input.department_id.is_some(), "target": t}),
            )
        })?;
        let page = self.progress(caller, &TargetQuery { month: Some(month) })?;
        page.users
            .into_iter()
            .chain(page.departments)
            .find(|p| p.id == id)
            .ok_or(Error::NotFound)
    }
}
