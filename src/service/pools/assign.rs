//! Assignment of leads by managers: to a named user, or automatically through `assign.pick`
//! (round robin, weighted, least loaded, by city). The cursor of each scope is kept in
//! `counters`, so turns stay fair across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::{Customer, Stage};
use crate::domain::org::{self, User};
use crate::domain::pool::Pool;
use crate::domain::roles::{self, DataScope};
use crate::service::access::auth::Caller;
use crate::service::access::scope::Scope;
use crate::service::customers::recipient;
use crate::service::pools::rules::{self, AssignCandidate, AssignDecision, AssignInput};
use crate::service::pools::target_pool;
use crate::service::{Error, Result, access::audit};
use crate::store::{WriteTransaction, loads, pools, users};

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
    /// With `auto`: hand out only to people of this department and the departments below it
    /// (which must be within the caller's own scope). Round-robin keeps a cursor per department.
    #[serde(default)]
    pub department_id: Option<String>,
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
    /// Live customers owned, won ones included.
    owned: u64,
    owned_not_won: u64,
    open_leads: u64,
    cities: BTreeMap<String, u64>,
    weight: u32,
    capacity: u32,
    /// Whether won customers count against `capacity` (the pool's `max_owned_counts_won`,
    /// as for claims).
    counts_won: bool,
    paused: bool,
}

impl rules::Offered for &Load {
    fn user_id(&self) -> &str {
        &self.user.id
    }
    fn weight(&self) -> u32 {
        self.weight
    }
    fn open_leads(&self) -> u64 {
        self.open_leads
    }
}

impl Load {
    /// The owned customers counted against the capacity (库容).
    fn held(&self) -> u64 {
        if self.counts_won {
            self.owned
        } else {
            self.owned_not_won
        }
    }
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
    /// Owned customers counted against the capacity (not yet won; won too when the pool's
    /// `max_owned_counts_won` is set), and the most their pool allows (库容).
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
            owned: l.held(),
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
    loads::is_open_lead(c.stage)
}

/// One run of automatic assignment (a request, a new customer, an import): the candidates and
/// their loads, counted once and kept up to date as leads are handed out, the mode, and the key
/// of the scope's cursor in `counters` (persisted, so turns stay fair across restarts).
pub(crate) struct Picker {
    loads: Vec<Load>,
    mode: String,
    cursor_key: String,
}

impl Picker {
    /// Counts `c` (about to belong to `user_id`) in the loads: the new owner's go up, the old
    /// owner's go down.
    fn moved(&mut self, c: &Customer, user_id: &str) {
        if c.owner_id.as_deref() == Some(user_id) {
            return;
        }
        let (not_won, open) = (u64::from(c.stage != Stage::Won), u64::from(is_open_lead(c)));
        for l in &mut self.loads {
            if l.user.id == user_id {
                l.owned += 1;
                l.owned_not_won += not_won;
                l.open_leads += open;
                if let Some(city) = &c.city {
                    *l.cities.entry(city.clone()).or_default() += 1;
                }
            } else if c.owner_id.as_deref() == Some(l.user.id.as_str()) {
                l.owned = l.owned.saturating_sub(1);
                l.owned_not_won = l.owned_not_won.saturating_sub(not_won);
                l.open_leads = l.open_leads.saturating_sub(open);
                if let Some(city) = &c.city
                    && let Some(n) = l.cities.get_mut(city)
                {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        l.cities.remove(city);
                    }
                }
            }
        }
    }
}

/// Where an automatically assigned NEW customer went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Placed {
    /// To the user `assign.pick` chose.
    User(String),
    /// Nobody could take it: to this pool.
    Pool(String),
    /// Nobody could take it and there is no pool: kept by whoever entered it.
    Creator,
}

impl Placed {
    /// The timeline entry of a new customer's automatic placement (kind, to): `assigned` to its
    /// owner, or `assign_to_pool` when nobody could take it.
    pub(crate) fn event(&self, c: &Customer) -> (&'static str, String) {
        match self {
            Placed::User(u) => ("assigned", u.clone()),
            Placed::Creator => ("assigned", c.created_by.clone()),
            Placed::Pool(p) => ("assign_to_pool", p.clone()),
        }
    }
}

impl crate::service::pools::UseCases<'_> {
    /// The assignment mode asked for (`auto` or absent: `[pool] assign_mode`), checked;
    /// `field` names the request field in the error.
    pub(crate) fn assign_mode(&self, requested: Option<&str>, field: &str) -> Result<String> {
        let mode = match requested.map(str::trim).filter(|m| !m.is_empty()) {
            None | Some("auto") => self.config.pool.assign_mode.clone(),
            Some(m) => m.to_string(),
        };
        if !MODES.contains(&mode.as_str()) {
            return Err(Error::validation(
                field,
                format!("未知的分配方式 {mode}（可选 auto、{}）", MODES.join("、")),
            ));
        }
        Ok(mode)
    }

    /// The mode of a new lead's automatic assignment (`assign` of a create or an import), or
    /// `None` when not asked. Needs `customer.assign`, and excludes a named owner.
    pub(crate) fn new_lead_assign_mode(
        &self,
        caller: &Caller,
        assign: Option<&str>,
        owner_named: bool,
    ) -> Result<Option<String>> {
        let Some(a) = assign.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        caller.require(Capability::CustomerAssign)?;
        if owner_named {
            return Err(Error::validation(
                "assign",
                "自动分配（assign）与指定负责人只能选择一个",
            ));
        }
        Ok(Some(self.assign_mode(Some(a), "assign")?))
    }

    /// Prepares automatic assignment by `caller`: their scope's candidates with their loads
    /// (counted once here), and their scope's cursor.
    pub(crate) fn picker(
        &self,
        tx: &WriteTransaction,
        caller: &Caller,
        scope: &Scope,
        mode: String,
    ) -> Result<Picker> {
        self.picker_in(tx, caller, scope, mode, None)
    }

    /// [`App::picker`] limited to the people of `department` and the departments below it,
    /// with that department's own cursor. The department must exist and lie within the
    /// caller's scope (all departments, or their own department or tree).
    pub(crate) fn picker_in(
        &self,
        tx: &WriteTransaction,
        caller: &Caller,
        scope: &Scope,
        mode: String,
        department: Option<&str>,
    ) -> Result<Picker> {
        let mut loads = self.candidates(tx, scope)?;
        // `dept(name)` and `candidate.department_path` read the departments as they are now.
        self.plugins.set_org(&crate::store::org::departments_w(tx)?);
        let cursor_key = match department {
            Some(d) => {
                let departments = crate::store::org::departments_w(tx)?;
                if !departments.iter().any(|x| x.id == d) {
                    return Err(Error::validation("department_id", "部门不存在"));
                }
                let allowed = match (scope.owner_filter(), scope.department.as_deref()) {
                    (None, _) => true,
                    (Some(_), Some(mine)) if scope.kind == DataScope::DepartmentTree => {
                        org::subtree(&departments, mine).contains(d)
                    }
                    (Some(_), Some(mine)) => mine == d,
                    (Some(_), None) => false,
                };
                if !allowed {
                    return Err(Error::validation(
                        "department_id",
                        "只能分配给您管理范围内的部门",
                    ));
                }
                let below = org::subtree(&departments, d);
                loads.retain(|l| {
                    l.user
                        .department_id
                        .as_ref()
                        .is_some_and(|x| below.contains(x))
                });
                format!("assign/dept/{d}")
            }
            None => format!(
                "assign/{}",
                match scope.owner_filter() {
                    None => "all",
                    Some(_) => caller
                        .user
                        .department_id
                        .as_deref()
                        .unwrap_or(&caller.user.id),
                }
            ),
        };
        Ok(Picker {
            loads,
            mode,
            cursor_key,
        })
    }

    /// Who gets `customer`: candidates under their capacity (库容), in `by_city` mode those
    /// already serving its city (all when none does), asked through `assign.pick`. A choice
    /// advances the cursor (and the `ctx.turn` groups the rule read) and counts the customer
    /// in the chosen user's load. A rule that fails, or names someone it was not offered,
    /// assigns nobody (see [`App::assign_rule`]).
    pub(crate) fn pick(
        &self,
        tx: &WriteTransaction,
        p: &mut Picker,
        customer: &Customer,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<AssignDecision> {
        let open: Vec<&Load> = p
            .loads
            .iter()
            .filter(|l| l.held() < u64::from(l.capacity))
            .collect();
        let local: Vec<&Load> = match (p.mode.as_str(), &customer.city) {
            ("by_city", Some(city)) => open
                .iter()
                .copied()
                .filter(|l| l.cities.contains_key(city))
                .collect(),
            _ => Vec::new(),
        };
        let offered = if local.is_empty() { open } else { local };
        if self.plugins.assign_is_default() {
            // The unedited default script: its Rust twin decides alike (and uses no
            // `ctx.turn`), without cloning the customer and candidates into the interpreter
            // for every row of an import.
            let cursor = pools::counter_w(tx, &p.cursor_key)?;
            let d = rules::assign_among(&offered, &p.mode, cursor);
            self.plugins
                .errors
                .ok(crate::script::hooks::ASSIGN_PICK.name);
            if let Some(u) = &d.user_id {
                pools::bump(tx, &p.cursor_key)?;
                p.moved(customer, u);
            }
            return Ok(d);
        }
        // `ctx.turn(group)` counters live beside the scope's cursor.
        let turn_prefix = format!("{}/turn/", p.cursor_key);
        let input = AssignInput {
            customer: customer.clone(),
            candidates: offered
                .iter()
                .map(|l| AssignCandidate {
                    user: l.user.clone(),
                    open_leads: l.open_leads,
                    weight: l.weight,
                })
                .collect(),
            mode: p.mode.clone(),
            cursor: pools::counter_w(tx, &p.cursor_key)?,
            turns: pools::counters_with_prefix_w(tx, &turn_prefix)?
                .into_iter()
                .map(|(k, n)| (k.trim_start_matches(&turn_prefix).to_string(), n))
                .collect(),
            deal_stage: crate::store::deals::lead_stage(tx, &customer.id)?,
            now,
        };
        // `Plugins::assign` refuses a user who was not offered (an error, like a throw).
        let d = self.assign_rule(&input)?;
        if let Some(u) = &d.user_id {
            pools::bump(tx, &p.cursor_key)?;
            for group in &d.turns {
                pools::bump(tx, &format!("{turn_prefix}{group}"))?;
            }
            p.moved(customer, u);
        }
        Ok(d)
    }

    /// Gives a NEW customer (not yet written) its owner by `assign.pick`; when nobody can take
    /// it, puts it in `fallback` (see [`App::caller_pool`]), and when there is no pool at all
    /// leaves it with `creator`, so a lead never lands with nobody. Returns where it went and why.
    pub(crate) fn place_new(
        &self,
        tx: &WriteTransaction,
        p: &mut Picker,
        c: &mut Customer,
        fallback: Option<&Pool>,
        creator: &User,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Placed, String)> {
        let d = self.pick(tx, p, c, now)?;
        if let Some(u) = d.user_id {
            c.owner_id = Some(u.clone());
            c.pool_id = None;
            c.pool_reason = None;
            c.held_since = Some(now);
            return Ok((Placed::User(u), d.reason));
        }
        // A won customer can never be claimed (`rules::claim_forbidden`): a pool would hold it
        // where nobody can take it, so whoever entered it keeps it.
        let fallback = fallback.filter(|_| c.stage != crate::domain::customer::Stage::Won);
        if fallback.is_none() && c.stage == crate::domain::customer::Stage::Won {
            c.owner_id = Some(creator.id.clone());
            c.pool_id = None;
            c.pool_reason = None;
            c.held_since = Some(now);
            return Ok((
                Placed::Creator,
                format!("{}；已成交的客户无法从公海领取，由录入人负责", d.reason),
            ));
        }
        Ok(match fallback {
            Some(pool) => {
                c.owner_id = None;
                c.pool_id = Some(pool.id.clone());
                c.pool_entered_at = Some(now);
                c.held_since = None;
                (
                    Placed::Pool(pool.id.clone()),
                    pool_note(&d.reason, &pool.name),
                )
            }
            None => {
                c.owner_id = Some(creator.id.clone());
                c.pool_id = None;
                c.pool_reason = None;
                c.held_since = Some(now);
                (Placed::Creator, creator_note(&d.reason))
            }
        })
    }

    /// The pool of `user`'s department (or the nearest parent's, else the firm-wide pool):
    /// where new leads nobody can take wait.
    pub(crate) fn caller_pool(tx: &WriteTransaction, user: &User) -> Result<Option<Pool>> {
        let all = pools::all_w(tx)?;
        let departments = crate::store::org::departments_w(tx)?;
        Ok(target_pool(&all, &departments, user.department_id.as_deref()).cloned())
    }

    /// Active users the caller may assign to (in their scope, able to claim but not to assign,
    /// not paused), sorted by id, with their loads.
    fn candidates(&self, tx: &WriteTransaction, scope: &Scope) -> Result<Vec<Load>> {
        let mut all = Self::assignees(tx, scope)?;
        all.retain(|l| !l.paused);
        Ok(all)
    }

    /// Users the caller may give customers to ([`recipient::refusal`]) who take leads (able
    /// to claim but not to assign), paused or not, sorted by id, with their loads.
    fn assignees(tx: &WriteTransaction, scope: &Scope) -> Result<Vec<Load>> {
        let all_roles = crate::store::org::roles_w(tx)?;
        let all_pools = pools::all_w(tx)?;
        let departments = crate::store::org::departments_w(tx)?;
        let mut out = Vec::new();
        for u in users::all_w(tx)? {
            // Whom a customer may be given to at all (active, in scope, able to work it) …
            if recipient::refusal(scope, &all_roles, &u).is_some() {
                continue;
            }
            let access = roles::combine(all_roles.iter().filter(|r| u.roles.contains(&r.key)));
            // … and of those, who take leads, not who hand them out.
            if !access.capabilities.contains(&Capability::PoolClaim)
                || access.capabilities.contains(&Capability::CustomerAssign)
            {
                continue;
            }
            let settings = target_pool(&all_pools, &departments, u.department_id.as_deref())
                .map(|p| p.settings.clone())
                .unwrap_or_default();
            let mut load = Load {
                paused: pools::counter_w(tx, &paused_key(&u.id))? != 0,
                owned: 0,
                owned_not_won: 0,
                open_leads: 0,
                cities: BTreeMap::new(),
                weight: u32::try_from(pools::counter_w(tx, &weight_key(&u.id))?)
                    .unwrap_or(u32::MAX)
                    .max(1),
                capacity: settings.max_owned,
                counts_won: settings.max_owned_counts_won,
                user: u,
            };
            // The owner's counters, kept by every customer write (`store::loads`).
            let counted = loads::of_w(tx, &load.user.id)?;
            load.owned = counted.live;
            load.owned_not_won = counted.not_won;
            load.open_leads = counted.open_leads;
            load.cities = counted.cities;
            out.push(load);
        }
        out.sort_by(|a, b| a.user.id.cmp(&b.user.id));
        Ok(out)
    }

    /// The users automatic assignment hands leads to, with their pause, weight and load
    /// (`pool.manage`, which guards pool and assignment settings).
    pub fn list_assignees(&self, caller: &Caller) -> Result<Vec<Assignee>> {
        caller.require(Capability::PoolManage)?;
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
        caller.require(Capability::PoolManage)?;
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
        caller.require(Capability::CustomerAssign)?;
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
        if req.department_id.is_some() && !req.auto {
            return Err(Error::validation(
                "department_id",
                "按部门分配只能与自动分配一起使用",
            ));
        }
        let mode = self.assign_mode(req.mode.as_deref(), "mode")?;
        // The caller hands out customers in their scope or waiting in a pool they may use.
        let read = self.read_scope_of(caller)?;
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        ctx.write(|w| {
            let tx = w.tx;
            let manual = match &req.to_user {
                Some(u) => Some(recipient::recipient(tx, w.scope(), u, "to_user")?),
                None => None,
            };
            let mut picker = match &manual {
                Some(_) => None,
                None => Some(self.picker_in(
                    tx,
                    caller,
                    &read.scope,
                    mode.clone(),
                    req.department_id.as_deref(),
                )?),
            };
            let mut items = Vec::new();
            for id in &req.ids {
                let before = read.customers(tx).live(id)?.ok_or(Error::NotFound)?;
                let (user_id, reason) = match (&manual, picker.as_mut()) {
                    (Some(u), _) => (Some(u.id.clone()), "手动分配".to_string()),
                    (None, Some(p)) => {
                        let d = self.pick(tx, p, &before, now)?;
                        (d.user_id, d.reason)
                    }
                    (None, None) => (None, String::new()),
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
                    c.pool_reason = None;
                    c.held_since = Some(now);
                    c.locked = false;
                    c.updated_at = now;
                    w.put(Some(&before), &c)?;
                    w.event(
                        &c.id,
                        "assigned",
                        before.owner_id.clone().or(before.pool_id.clone()),
                        Some(user_id.clone()),
                        Some(reason.clone()),
                    )?;
                    let how = if manual.is_some() {
                        "manual"
                    } else {
                        mode.as_str()
                    };
                    w.audit(
                        "customer.assigned",
                        Some(&c.id),
                        json!({"from": before.owner_id, "pool_id": before.pool_id,
                               "to": user_id, "mode": how}),
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

/// The timeline note of a new lead nobody could take, placed in a pool (translated in the UI:
/// `assign.reason.toPool`).
pub(crate) fn pool_note(reason: &str, pool: &str) -> String {
    format!("{reason}，进入公海“{pool}”")
}

/// The timeline note of a new lead nobody could take, kept by whoever entered it, when there is
/// no pool (`assign.reason.toCreator`).
pub(crate) fn creator_note(reason: &str) -> String {
    format!("{reason}，且尚未设置公海，由录入人负责")
}
