//! Follow-ups, reminders, transfers and the customer timeline.

crate::service::use_cases!(
    followups,
    "Follow-ups, the timeline, reminders, transfers and departures."
);

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::{CustomerView, recipient, shanghai};
use super::{Error, Result, access::audit, new_id};
use crate::domain::capability::Capability;
use crate::domain::followup::{self, Followup, FollowupInput};
use crate::domain::org::{User, UserStatus};
use crate::service::access::auth::Caller;
use crate::service::context::W;
use crate::store::customers::{self, Reader, TimelineEvent, Unscoped};
use crate::store::users;

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// Next follow-up falls on today (Asia/Shanghai).
    Today,
    /// Next follow-up was due before today.
    Overdue,
    /// Next follow-up falls on tomorrow.
    Tomorrow,
    /// Next follow-up falls in the six days after tomorrow (the rest of the coming week).
    Week,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reminder {
    pub customer: CustomerView,
    /// The promised follow-up time, or (`recall_warning`) when the customer will be recalled.
    pub due_at: DateTime<Utc>,
    /// `followup` or `recall_warning` (the pool will take the customer back soon).
    pub kind: String,
    /// Whole days until recall (`recall_warning` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// Why the customer would be recalled (`recall_warning` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub followups: Vec<Followup>,
    pub events: Vec<TimelineEvent>,
}

/// The counter of `user`'s follow-ups logged on the Shanghai day of `at`. Kept per day and
/// never deleted: the team view reads today's, the trends report (`reports::trends`) a range.
fn followups_done_key(user: &str, at: DateTime<Utc>) -> String {
    followups_done_day_key(
        user,
        &at.with_timezone(&shanghai()).format("%Y-%m-%d").to_string(),
    )
}

/// The counter of `user`'s follow-ups of `kind` logged on the Shanghai day of `at`
/// (`followups_kind/<user>/<day>/<kind>`, schema 29; `store::report_keys`).
fn followups_kind_key(
    user: &str,
    at: DateTime<Utc>,
    kind: crate::domain::followup::FollowupKind,
) -> String {
    crate::store::report_keys::followups_kind_key(
        user,
        &at.with_timezone(&shanghai()).format("%Y-%m-%d").to_string(),
        kind.as_str(),
    )
}

/// The counter of `user`'s follow-ups logged on `day` (`YYYY-MM-DD`, Asia/Shanghai).
pub(crate) fn followups_done_day_key(user: &str, day: &str) -> String {
    format!("followups_done/{user}/{day}")
}

/// One colleague's day, as their manager sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TeamMemberToday {
    pub user_id: String,
    pub display_name: String,
    /// Follow-ups they logged today (Asia/Shanghai).
    pub followups_today: u64,
    /// Their customers whose promised follow-up is before today.
    pub overdue: u64,
    /// Their customers still at 线索 or 已联系.
    pub open_leads: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TeamToday {
    /// The Shanghai day counted (YYYY-MM-DD).
    pub day: String,
    pub members: Vec<TeamMemberToday>,
}

impl crate::service::followups::UseCases<'_> {
    pub fn add_followup(
        &self,
        caller: &Caller,
        customer_id: &str,
        input: FollowupInput,
    ) -> Result<Followup> {
        caller.require(Capability::CustomerEdit)?;
        let scope = self.scope_of(caller)?;
        let now = self.now();
        followup::check(&input, now).map_err(|(f, r)| Error::validation(f, r))?;
        self.store.write(|tx| {
            let before = scope
                .customers(tx)
                .live(customer_id)?
                .ok_or(Error::NotFound)?;
            let f = Followup {
                id: new_id(now),
                customer_id: before.id.clone(),
                author_id: caller.user.id.clone(),
                kind: input.kind,
                content: input.content.trim().to_string(),
                outcome: input.outcome.clone().filter(|o| !o.trim().is_empty()),
                next_at: input.next_at,
                created_at: now,
                edited_at: None,
            };
            customers::put_followup(tx, &f)?;
            // Follow-ups done per person and Shanghai day (the manager's team view).
            crate::store::pools::bump(tx, &followups_done_key(&caller.user.id, now))?;
            // … and per kind (the activity report's 电话/微信/面谈… columns).
            crate::store::pools::bump(tx, &followups_kind_key(&caller.user.id, now, f.kind))?;
            // What pool recall rules read: the last contact, and the next one promised.
            let mut c = before.clone();
            c.last_followup_at = Some(now);
            c.next_followup_at = input.next_at;
            c.updated_at = now;
            customers::put(tx, Some(&before), &c)?;
            Ok(f)
        })
    }

    /// Corrects a follow-up: only its author, only within 24 hours; audited.
    pub fn edit_followup(
        &self,
        caller: &Caller,
        customer_id: &str,
        id: &str,
        input: FollowupInput,
        source: &str,
    ) -> Result<Followup> {
        caller.require(Capability::CustomerEdit)?;
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        followup::check(&input, now).map_err(|(f, r)| Error::validation(f, r))?;
        ctx.write(|w| {
            let read = w.customers();
            let c = read.any(customer_id)?.ok_or(Error::NotFound)?;
            let mut f = read.followup(&c, id)?.ok_or(Error::NotFound)?;
            if !followup::editable(&f, &caller.user.id, now) {
                return Err(Error::Unprocessable {
                    code: "followup_locked",
                    message: "只有本人可在24小时内修改跟进记录".into(),
                });
            }
            if f.kind != input.kind {
                // The per-kind counter of the day it was logged follows the correction.
                let old = followups_kind_key(&f.author_id, f.created_at, f.kind);
                let n = crate::store::pools::counter_w(w.tx, &old)?;
                crate::store::pools::set_counter(w.tx, &old, n.saturating_sub(1))?;
                let new = followups_kind_key(&f.author_id, f.created_at, input.kind);
                crate::store::pools::bump(w.tx, &new)?;
            }
            f.kind = input.kind;
            f.content = input.content.trim().to_string();
            f.outcome = input.outcome.clone().filter(|o| !o.trim().is_empty());
            f.next_at = input.next_at;
            f.edited_at = Some(now);
            customers::put_followup(w.tx, &f)?;
            w.audit("followup.edited", Some(&f.id), json!({"customer_id": c.id}))?;
            Ok(f)
        })
    }

    pub fn timeline(&self, caller: &Caller, customer_id: &str) -> Result<Timeline> {
        caller.require(Capability::CustomerRead)?;
        // Pool members see a waiting customer's history too (the ReadScope).
        let read = self.read_scope_of(caller)?;
        self.store.read(|tx| {
            let customers = read.customers(tx);
            let c = customers.live(customer_id)?.ok_or(Error::NotFound)?;
            Ok(Timeline {
                followups: customers.followups(&c)?,
                events: customers.events(&c)?,
            })
        })
    }

    /// The caller's own customers whose next follow-up is due today or overdue, earliest first.
    pub fn reminders(&self, caller: &Caller, due: Due) -> Result<Vec<Reminder>> {
        caller.require(Capability::CustomerRead)?;
        let now = self.now();
        let local = now.with_timezone(&shanghai());
        let start = local
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(shanghai()).single())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| Error::Internal("cannot compute the start of today".into()))?;
        let end = start + Duration::days(1);
        let scope = self.scope_of(caller)?;
        let mut out = self.store.read(|tx| {
            let mut out = Vec::new();
            let read = scope.customers(tx);
            for id in read.ids_by_owner(&caller.user.id)? {
                let Some(c) = read.live(&id)? else {
                    continue;
                };
                let Some(at) = c.next_followup_at else {
                    continue;
                };
                let day = Duration::days(1);
                let hit = match due {
                    Due::Today => at >= start && at < end,
                    Due::Overdue => at < start,
                    Due::Tomorrow => at >= end && at < end + day,
                    Due::Week => at >= end + day && at < end + day * 7,
                };
                if hit {
                    out.push(Reminder {
                        customer: self.viewer(caller).view(&c)?,
                        due_at: at,
                        kind: "followup".into(),
                        days_left: None,
                        reason: None,
                    });
                }
            }
            Ok::<_, Error>(out)
        })?;
        if let Due::Today = due {
            out.extend(self.pools().recall_warnings(caller)?);
        }
        out.sort_by_key(|r| r.due_at);
        Ok(out)
    }

    /// The team at a glance for a caller who sees others' customers (a department manager, or
    /// anyone with a firm-wide scope): per active colleague in that scope, today's follow-ups
    /// (a counter kept with each follow-up), overdue customers (the index, one count each) and
    /// open leads (the owner load counters). Someone who sees only their own gets 403.
    pub fn team_today(&self, caller: &Caller) -> Result<TeamToday> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        if scope.kind == crate::domain::roles::DataScope::Own {
            return Err(Error::Forbidden("部门或全公司的数据范围".into()));
        }
        let now = self.now();
        let (members, roles) = self
            .store
            .read(|tx| Ok::<_, Error>((users::all(tx)?, crate::store::org::roles(tx)?)))?;
        let members: Vec<crate::domain::org::User> = members
            .into_iter()
            .filter(|u| u.status == UserStatus::Active && scope.may_receive(&u.id))
            .collect();
        let ctx = crate::service::customers::list::FilterContext::new(&caller.user.id, now);
        let mut out = Vec::with_capacity(members.len());
        for u in members {
            let (followups_today, load) = self.store.read(|tx| {
                Ok::<_, Error>((
                    crate::store::pools::counter(tx, &followups_done_key(&u.id, now))?,
                    crate::store::loads::of(tx, &u.id)?,
                ))
            })?;
            // Someone whose roles cannot work customers (finance, say) is not on the team's
            // follow-up table, unless they still hold customers: then their backlog shows.
            let works_customers = crate::service::customers::recipient::lacks(&roles, &u).is_none();
            if !works_customers && load.live == 0 && followups_today == 0 {
                continue;
            }
            let overdue = crate::service::customers::list::CustomerFilter {
                due: Some(crate::service::customers::list::DueFilter::Overdue),
                owner: Some(u.id.clone()),
                ..Default::default()
            };
            let req = crate::service::customers::list::list_request(
                &overdue,
                &ctx,
                crate::service::search::restrict_of(&scope, Vec::new()),
                1,
            );
            let overdue = match self
                .search
                .list(&self.store, &|c| self.lookup().id_tail(c), &req)
            {
                Ok(crate::search::Listed::Page { total, .. }) => total as u64,
                Ok(_) | Err(crate::search::Error::Rebuilding) => {
                    return Err(Error::Unavailable {
                        code: "search_rebuilding",
                        message: "搜索索引正在重建，请稍后再试".into(),
                    });
                }
                Err(e) => return Err(crate::service::search::search_error(e)),
            };
            let open_leads = load.open_leads;
            out.push(TeamMemberToday {
                user_id: u.id,
                display_name: u.display_name,
                followups_today,
                overdue,
                open_leads,
            });
        }
        Ok(TeamToday {
            day: now
                .with_timezone(&shanghai())
                .format("%Y-%m-%d")
                .to_string(),
            members: out,
        })
    }

    /// Gives a customer to another active user; recorded on the timeline and in the audit log.
    pub fn transfer_customer(
        &self,
        caller: &Caller,
        id: &str,
        to_user: &str,
        source: &str,
    ) -> Result<CustomerView> {
        caller.require(Capability::CustomerTransfer)?;
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        ctx.write(|w| {
            let before = w.live(id)?;
            let target = recipient::recipient(w.tx, &ctx.scope, to_user, "to_user")?;
            if before.owner_id.as_deref() == Some(target.id.as_str()) {
                return Err(Error::validation("to_user", "客户已经属于该用户"));
            }
            let c = move_to(w, &before, &target.id, now)?;
            self.viewer(caller).view(&c)
        })
    }
}

/// Gives `before` to `to` (a transfer, or an approved transfer request): owner, out of any
/// pool, held from now; with its timeline event and audit row, in the caller's transaction.
pub(crate) fn move_to(
    w: &W<'_>,
    before: &crate::domain::customer::Customer,
    to: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::domain::customer::Customer> {
    let mut c = before.clone();
    c.owner_id = Some(to.to_string());
    c.pool_id = None;
    c.pool_reason = None;
    c.held_since = Some(now);
    c.updated_at = now;
    w.put(Some(before), &c)?;
    w.event(
        &c.id,
        "transferred",
        before.owner_id.clone(),
        Some(to.to_string()),
        None,
    )?;
    w.audit(
        "customer.transferred",
        Some(&c.id),
        json!({"from": before.owner_id, "to": to}),
    )?;
    Ok(c)
}

/// A departing user's successor must be able to work the customers ([`recipient::lacks`]);
/// their reach is the departure's own rule (`Actor::may_reach_account`), checked before.
fn check_successor(tx: &crate::store::WriteTransaction, successor: &User) -> Result<()> {
    let roles = crate::store::org::roles_w(tx)?;
    match recipient::lacks(&roles, successor) {
        None => Ok(()),
        Some(reason) => Err(Error::validation(
            "to_user",
            format!("{reason}，或转入公海"),
        )),
    }
}

/// Where a departing user's customers go.
#[derive(Debug, Clone)]
pub enum DepartTo {
    /// A successor (user id) inherits them.
    User(String),
    /// They go into this public pool (pool id).
    Pool(String),
}

impl crate::service::followups::UseCases<'_> {
    /// 离职继承: marks a user departed (ending their sessions) and hands every customer they
    /// own — with its reminders and history — to a successor, all in one transaction.
    /// Returns how many customers moved.
    pub fn depart_user(
        &self,
        actor: &crate::service::org::users::Actor,
        user_id: &str,
        successor_id: &str,
        source: &str,
    ) -> Result<u64> {
        self.depart_user_to(
            actor,
            user_id,
            &DepartTo::User(successor_id.to_string()),
            source,
        )
    }

    /// Departure with the customers going to a successor or into a public pool; everything
    /// (customers, timeline, status, sessions, audit) in one transaction.
    pub fn depart_user_to(
        &self,
        actor: &crate::service::org::users::Actor,
        user_id: &str,
        to: &DepartTo,
        source: &str,
    ) -> Result<u64> {
        actor.require(Capability::UserManage)?;
        if let DepartTo::User(successor_id) = to
            && user_id == successor_id
        {
            return Err(Error::validation("to_user", "接收人不能是离职人员本人"));
        }
        let now = self.now();
        let actor_id = match actor {
            crate::service::org::users::Actor::User(c) => c.user.id.clone(),
            crate::service::org::users::Actor::Operator => "operator".to_string(),
        };
        self.store.write(|tx| {
            let mut leaving = users::find_by_id_w(tx, user_id)?.ok_or(Error::NotFound)?;
            actor.may_act_on(tx, &leaving, "为此账号办理离职")?;
            let (successor, pool) = match to {
                DepartTo::User(id) => {
                    let s = users::find_by_id_w(tx, id)?
                        .filter(|u| u.status == UserStatus::Active)
                        .ok_or_else(|| Error::validation("to_user", "接收人不存在或已停用"))?;
                    // The customers go to the successor: one the caller reaches (checked first,
                    // so that an account out of reach is not described by its permissions).
                    let depts = crate::store::org::departments_w(tx)?;
                    actor.may_reach_account(&depts, &s, "把客户交给此接收人")?;
                    check_successor(tx, &s)?;
                    (Some(s), None)
                }
                DepartTo::Pool(id) => (
                    None,
                    Some(
                        crate::store::pools::get_w(tx, id)?
                            .ok_or_else(|| Error::validation("to_pool", "公海不存在"))?,
                    ),
                ),
            };
            if leaving.is_admin()
                && users::all_w(tx)?
                    .iter()
                    .filter(|u| {
                        u.id != leaving.id && u.is_admin() && u.status == UserStatus::Active
                    })
                    .count()
                    == 0
            {
                return Err(Error::Unprocessable {
                    code: "last_admin",
                    message: "这是最后一个在职管理员，不能办理离职".into(),
                });
            }
            let all = Reader::unscoped(tx, Unscoped::Handover);
            let ids = all.ids_by_owner(&leaving.id)?;
            for id in &ids {
                let Some(before) = all.any(id)? else {
                    continue;
                };
                let mut c = before.clone();
                let (kind, to_id, note) = match (&successor, &pool) {
                    (Some(s), _) => {
                        c.owner_id = Some(s.id.clone());
                        c.held_since = Some(now);
                        c.updated_at = now;
                        ("inherited", s.id.clone(), "离职继承")
                    }
                    (None, Some(p)) => {
                        super::pools::into_pool(&mut c, p, now, "离职转入公海");
                        ("departed_to_pool", p.id.clone(), "离职转入公海")
                    }
                    (None, None) => continue,
                };
                customers::put(tx, Some(&before), &c)?;
                customers::add_event(
                    tx,
                    id,
                    &customers::TimelineEvent::new(
                        new_id(now),
                        now,
                        &actor_id,
                        kind,
                        Some(leaving.id.clone()),
                        Some(to_id),
                        Some(note.into()),
                    ),
                )?;
            }
            leaving.status = UserStatus::Departed;
            leaving.updated_at = now;
            users::update(tx, &leaving)?;
            let ended = crate::store::sessions::delete_for_user(tx, &leaving.id)?;
            let revoked = crate::store::tokens::revoke_for_user(tx, &leaving.id, now)?;
            audit::record(
                tx,
                now,
                actor.audit(
                    "user.departed",
                    source,
                    Some(leaving.id.clone()),
                    json!({
                        "username": leaving.username,
                        "successor": successor.as_ref().map(|s| s.username.clone()),
                        "pool_id": pool.as_ref().map(|p| p.id.clone()),
                        "customers_moved": ids.len(), "sessions_ended": ended,
                        "tokens_revoked": revoked,
                    }),
                ),
            )?;
            Ok(ids.len() as u64)
        })
    }
}
