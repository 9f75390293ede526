//! Assignment of leads by managers: to a named user, or automatically through `assign.pick`
//! (round robin, weighted, least loaded, by city). The cursor of each scope is kept in
//! `counters`, so turns stay fair across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Caller;
use super::customers::live;
use super::pool_rules::{AssignCandidate, AssignInput};
use super::pools::{is_member, target_pool};
use super::scope::Scope;
use super::{App, Error, Result, audit, new_id};
use crate::domain::customer::{Customer, Stage};
use crate::domain::org::{User, UserStatus};
use crate::domain::pool::PoolSettings;
use crate::domain::roles;
use crate::store::customers::{self, TimelineEvent};
use crate::store::{WriteTransaction, pools, users};

/// Customers one request may assign.
const MAX_IDS: usize = 500;

pub const MODES: &[&str] = &["round_robin", "weighted", "least_loaded", "by_city"];

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub ids: Vec<String>,
    /// Give every customer to this user …
    #[serde(default)]
    pub to_user: Option<String>,
    /// … or let `assign.pick` choose for each.
    #[serde(default)]
    pub auto: bool,
    /// `round_robin`, `weighted`, `least_loaded` or `by_city`; default `[pool] assign_mode`.
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Assigned {
    pub customer_id: String,
    /// `null` when nobody could take it (then the customer is unchanged).
    pub user_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssignResult {
    pub items: Vec<Assigned>,
    pub assigned: u64,
}

/// A candidate's load, counted once per request and kept up to date as leads are handed out.
struct Load {
    user: User,
    owned_not_won: u64,
    open_leads: u64,
    cities: BTreeMap<String, u64>,
    weight: u32,
    capacity: u32,
    paused: bool,
}

/// Highest assignment weight (a weight-N user gets N turns for every turn of a weight-1 user).
pub const MAX_WEIGHT: u32 = 100;

fn paused_key(user: &str) -> String {
    format!("assign/paused/{user}")
}

fn weight_key(user: &str) -> String {
    format!("assign/weight/{user}")
}

/// An assignable user as the assignment settings list them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Assignee {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub department_id: Option<String>,
    /// Paused users get no automatic assignments.
    pub paused: bool,
    /// Turns in `weighted` mode (1–100; 1 when never set).
    pub weight: u32,
    /// Owned customers still at 线索 or 已联系.
    pub open_leads: u64,
    /// Owned customers not yet won, and the most their pool allows (库容).
    pub owned: u64,
    pub capacity: u32,
}

impl From<&Load> for Assignee {
    fn from(l: &Load) -> Assignee {
        Assignee {
            user_id: l.user.id.clone(),
            username: l.user.username.clone(),
            display_name: l.user.display_name.clone(),
            department_id: l.user.department_id.clone(),
            paused: l.paused,
            weight: l.weight,
            open_leads: l.open_leads,
            owned: l.owned_not_won,
            capacity: l.capacity,
        }
    }
}

/// A change of one user's assignment settings; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssigneeSettings {
    pub paused: Option<bool>,
    /// 1–100.
    pub weight: Option<u32>,
}

fn is_open_lead(c: &Customer) -> bool {
    matches!(c.stage, Stage::Lead | Stage::Contacted)
}

impl App {
    /// Active users the caller may assign to (in their scope, able to claim but not to assign,
    /// not paused), sorted by id, with their loads.
    fn candidates(&self, tx: &WriteTransaction, scope: &Scope) -> Result<Vec<Load>> {
        let mut all = Self::assignees(tx, scope)?;
        all.retain(|l| !l.paused);
        Ok(all)
    }

    /// Active users in `scope` who take leads (able to claim but not to assign), paused or
    /// not, sorted by id, with their loads.
    fn assignees(tx: &WriteTransaction, scope: &Scope) -> Result<Vec<Load>> {
        let all_roles = crate::store::org::roles_w(tx)?;
        let all_pools = pools::all_w(tx)?;
        let departments = crate::store::org::departments_w(tx)?;
        let mut out = Vec::new();
        for u in users::all_w(tx)? {
            if u.status != UserStatus::Active {
                continue;
            }
            if let Some(owners) = scope.owner_filter()
                && !owners.contains(&u.id)
            {
                continue;
            }
            let access = roles::combine(all_roles.iter().filter(|r| u.roles.contains(&r.key)));
            // Assignees are those who take leads, not those who hand them out.
            if !access.capabilities.contains("pool.claim")
                || access.capabilities.contains("customer.assign")
            {
                continue;
            }
            let mut load = Load {
                paused: pools::counter_w(tx, &paused_key(&u.id))? != 0,
                owned_not_won: 0,
                open_leads: 0,
                cities: BTreeMap::new(),
                weight: u32::try_from(pools::counter_w(tx, &weight_key(&u.id))?)
                    .unwrap_or(u32::MAX)
                    .max(1),
                capacity: target_pool(&all_pools, &departments, u.department_id.as_deref())
                    .map_or_else(
                        || PoolSettings::default().max_owned,
                        |p| p.settings.max_owned,
                    ),
                user: u,
            };
            for id in customers::ids_by_owner_w(tx, Some(&load.user.id))? {
                let Some(c) = customers::get_w(tx, &id)? else {
                    continue;
                };
                if c.deleted_at.is_some() {
                    continue;
                }
                if c.stage != Stage::Won {
                    load.owned_not_won += 1;
                }
                if is_open_lead(&c) {
                    load.open_leads += 1;
                }
                if let Some(city) = c.city {
                    *load.cities.entry(city).or_default() += 1;
                }
            }
            out.push(load);
        }
        out.sort_by(|a, b| a.user.id.cmp(&b.user.id));
        Ok(out)
    }

    /// May the caller hand this customer out? In scope, or waiting in a pool they may use.
    fn assignable(
        tx: &WriteTransaction,
        caller: &Caller,
        scope: &Scope,
        id: &str,
    ) -> Result<Customer> {
        let c = live(customers::get_w(tx, id)?.ok_or(Error::NotFound)?)?;
        if scope.can_see(&c) {
            return Ok(c);
        }
        if c.owner_id.is_none()
            && let Some(p) = &c.pool_id
            && let Some(pool) = pools::get_w(tx, p)?
        {
            let departments = crate::store::org::departments_w(tx)?;
            if caller.can("pool.manage") || is_member(&pool, &caller.user, &departments) {
                return Ok(c);
            }
        }
        Err(Error::NotFound)
    }

    /// The users automatic assignment hands leads to, with their pause, weight and load
    /// (`pool.manage`, which guards pool and assignment settings).
    pub fn list_assignees(&self, caller: &Caller) -> Result<Vec<Assignee>> {
        caller.require("pool.manage")?;
        let scope = self.scope_of(caller)?;
        // The loads are counted by the same code the assignment uses (write-transaction
        // readers); nothing is written.
        self.store.write(|tx| {
            Ok(Self::assignees(tx, &scope)?
                .iter()
                .map(Assignee::from)
                .collect())
        })
    }

    /// Pauses or resumes one user's automatic assignments, or sets their weight. Audited.
    pub fn set_assignee(
        &self,
        caller: &Caller,
        user_id: &str,
        change: AssigneeSettings,
        source: &str,
    ) -> Result<Assignee> {
        caller.require("pool.manage")?;
        if let Some(w) = change.weight
            && !(1..=MAX_WEIGHT).contains(&w)
        {
            return Err(Error::validation(
                "weight",
                format!("权重应为1到{MAX_WEIGHT}之间的整数"),
            ));
        }
        let scope = self.scope_of(caller)?;
        let now = self.now();
        self.store.write(|tx| {
            let before = Self::assignees(tx, &scope)?
                .into_iter()
                .find(|l| l.user.id == user_id)
                .ok_or(Error::NotFound)?;
            if let Some(p) = change.paused {
                if p {
                    pools::set_counter(tx, &paused_key(user_id), 1)?;
                } else {
                    pools::remove_counter(tx, &paused_key(user_id))?;
                }
            }
            if let Some(w) = change.weight {
                if w == 1 {
                    pools::remove_counter(tx, &weight_key(user_id))?;
                } else {
                    pools::set_counter(tx, &weight_key(user_id), u64::from(w))?;
                }
            }
            let mut after = Assignee::from(&before);
            after.paused = change.paused.unwrap_or(before.paused);
            after.weight = change.weight.unwrap_or(before.weight);
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "assignment.user_updated",
                    source,
                    Some(user_id.to_string()),
                    json!({
                        "before": {"paused": before.paused, "weight": before.weight},
                        "after": {"paused": after.paused, "weight": after.weight},
                    }),
                ),
            )?;
            Ok(after)
        })
    }

    /// Assigns customers to a named user or automatically, all in one transaction.
    pub fn assign_customers(
        &self,
        caller: &Caller,
        req: AssignRequest,
        source: &str,
    ) -> Result<AssignResult> {
        caller.require("customer.assign")?;
        if req.ids.is_empty() || req.ids.len() > MAX_IDS {
            return Err(Error::validation(
                "ids",
                format!("请选择1到{MAX_IDS}个客户"),
            ));
        }
        if req.auto == req.to_user.is_some() {
            return Err(Error::validation(
                "to_user",
                "请指定接收人，或选择自动分配（二选一）",
            ));
        }
        let mode = req
            .mode
            .clone()
            .unwrap_or_else(|| self.config.pool.assign_mode.clone());
        if !MODES.contains(&mode.as_str()) {
            return Err(Error::validation("mode", format!("未知的分配方式 {mode}")));
        }
        let scope = self.scope_of(caller)?;
        let now = self.now();
        let cursor_key = format!(
            "assign/{}",
            match scope.owner_filter() {
                None => "all",
                Some(_) => caller
                    .user
                    .department_id
                    .as_deref()
                    .unwrap_or(&caller.user.id),
            }
        );
        self.store.write(|tx| {
            let manual = match &req.to_user {
                Some(u) => Some(
                    users::find_by_id_w(tx, u)?
                        .filter(|u| u.status == UserStatus::Active)
                        .ok_or_else(|| Error::validation("to_user", "接收人不存在或已停用"))?,
                ),
                None => None,
            };
            let mut loads = if manual.is_none() {
                self.candidates(tx, &scope)?
            } else {
                Vec::new()
            };
            let mut items = Vec::new();
            for id in &req.ids {
                let before = Self::assignable(tx, caller, &scope, id)?;
                let (user_id, reason) = match &manual {
                    Some(u) => (Some(u.id.clone()), "手动分配".to_string()),
                    None => {
                        let open: Vec<&Load> = loads
                            .iter()
                            .filter(|l| l.owned_not_won < u64::from(l.capacity))
                            .collect();
                        let local: Vec<&Load> = match (&mode[..], &before.city) {
                            ("by_city", Some(city)) => open
                                .iter()
                                .copied()
                                .filter(|l| l.cities.contains_key(city))
                                .collect(),
                            _ => Vec::new(),
                        };
                        let pool = if local.is_empty() { open } else { local };
                        let input = AssignInput {
                            customer: before.clone(),
                            candidates: pool
                                .iter()
                                .map(|l| AssignCandidate {
                                    user: l.user.clone(),
                                    open_leads: l.open_leads,
                                    weight: l.weight,
                                })
                                .collect(),
                            mode: mode.clone(),
                            cursor: pools::counter_w(tx, &cursor_key)?,
                            now,
                        };
                        let d = self.assign_rule(&input)?;
                        if d.user_id.is_some() {
                            pools::bump(tx, &cursor_key)?;
                        }
                        (d.user_id, d.reason)
                    }
                };
                let Some(user_id) = user_id else {
                    items.push(Assigned {
                        customer_id: before.id.clone(),
                        user_id: None,
                        reason,
                    });
                    continue;
                };
                if before.owner_id.as_deref() != Some(user_id.as_str()) {
                    let mut c = before.clone();
                    c.owner_id = Some(user_id.clone());
                    c.pool_id = None;
                    c.held_since = Some(now);
                    c.locked = false;
                    c.updated_at = now;
                    customers::put(tx, Some(&before), &c)?;
                    if let Some(l) = loads.iter_mut().find(|l| l.user.id == user_id) {
                        l.owned_not_won += u64::from(c.stage != Stage::Won);
                        l.open_leads += u64::from(is_open_lead(&c));
                        if let Some(city) = &c.city {
                            *l.cities.entry(city.clone()).or_default() += 1;
                        }
                    }
                    customers::add_event(
                        tx,
                        &c.id,
                        &TimelineEvent::new(
                            new_id(now),
                            now,
                            &caller.user.id,
                            "assigned",
                            before.owner_id.clone().or(before.pool_id.clone()),
                            Some(user_id.clone()),
                            Some(reason.clone()),
                        ),
                    )?;
                    audit::record(
                        tx,
                        now,
                        audit::by_user(
                            &caller.user,
                            "customer.assigned",
                            source,
                            Some(c.id.clone()),
                            json!({"from": before.owner_id, "pool_id": before.pool_id,
                                   "to": user_id, "mode": if manual.is_some() { "manual" } else { mode.as_str() }}),
                        ),
                    )?;
                }
                items.push(Assigned {
                    customer_id: before.id.clone(),
                    user_id: Some(user_id),
                    reason,
                });
            }
            Ok(AssignResult {
                assigned: items.iter().filter(|i| i.user_id.is_some()).count() as u64,
                items,
            })
        })
    }
}
