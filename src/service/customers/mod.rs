//! Customer use cases: create with duplicate check, read, list, edit, soft delete. Every query
//! takes the caller's scope. The callers' duplicate check and reveals are in `duplicates`.

pub mod bulk;
pub mod cells;
pub mod duplicates;
pub mod export;
pub mod list;
pub mod recycle;
pub mod settings;

use chrono::{FixedOffset, Utc};
use serde::Serialize;
use serde_json::json;

use super::search::{restrict_of, search_error};
use super::{App, Error, Result, access::audit, new_id};
use crate::crypto::field::{FieldCipher, Kind};
use crate::domain::capability::{Capability, FieldPrivilege};
use crate::domain::custom_field;
use crate::domain::customer::{self, Customer, CustomerInput, Sealed, Stage};
use crate::domain::id_number::{Gender, IdNumber};
use crate::domain::phone::Mobile;
use crate::search::Listed;
use crate::service::access::auth::Caller;
use crate::service::access::scope::{Owned, Scope};
use crate::store::{WriteTransaction, customers, users};

pub use crate::service::customers::duplicates::{
    DuplicateAnswer, DuplicateMatch, DuplicateQuery, RevealField, Revealed,
};
pub use crate::service::customers::list::{CustomerFilter, DueFilter, FilterContext, Sort, Whose};

/// China Standard Time: no daylight saving since 1991, so a fixed offset is exact.
pub fn shanghai() -> FixedOffset {
    use chrono::Offset;
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The API name of a stage (`lead`, `won`, …), as stored on timeline events.
fn stage_name(s: Stage) -> Option<String> {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
}

fn cursor_gone() -> Error {
    Error::validation("cursor", "分页位置已失效，请从第一页重新查看")
}

fn has_query(f: &CustomerFilter) -> bool {
    f.q.as_deref().is_some_and(|q| !q.trim().is_empty())
}

/// A customer that is not in the recycle bin (those answer "not found" to everyday use cases).
pub(crate) fn live(c: Customer) -> Result<Customer> {
    if c.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    Ok(c)
}

impl Owned for Customer {
    fn owner_id(&self) -> Option<&str> {
        self.owner_id.as_deref()
    }
    fn collaborators(&self) -> &[String] {
        &self.collaborators
    }
}

/// The customer as the API shows it: sensitive fields masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub extra_phones: Vec<String>,
    pub id_number: Option<String>,
    pub gender: Option<Gender>,
    /// Age in completed years (Asia/Shanghai date), from the ID number.
    pub age: Option<u32>,
    /// Only for holders of `id_number.view_full`: with the masked number it is the whole ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<chrono::NaiveDate>,
    pub city: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
    pub channel: Option<String>,
    pub stage: Stage,
    pub grade: Option<String>,
    pub stars: u8,
    pub intent: Option<String>,
    pub tags: Vec<String>,
    pub owner_id: Option<String>,
    pub pool_id: Option<String>,
    pub demand: customer::Demand,
    pub profile: customer::Profile,
    #[schema(value_type = Object)]
    pub custom: std::collections::BTreeMap<String, serde_json::Value>,
    pub consent: Option<customer::Consent>,
    pub duplicate_flag: bool,
    pub last_followup_at: Option<chrono::DateTime<Utc>>,
    pub next_followup_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
    /// Since when the current owner holds it (claim, assignment, transfer).
    pub held_since: Option<chrono::DateTime<Utc>>,
    /// Locked by its owner against pool recall.
    pub locked: bool,
    /// When it last entered a public pool.
    pub pool_entered_at: Option<chrono::DateTime<Utc>>,
    /// Who held it before it went to a pool.
    pub previous_owner_id: Option<String>,
}

/// How customers leave the service for one caller. Sensitive values are masked; the birth
/// date (the 8 digits a masked ID number hides) goes only to holders of `id_number.view_full`,
/// everyone else gets age and gender. Every customer a use case hands out is built here.
pub struct Viewer<'a> {
    fields: &'a FieldCipher,
    today: chrono::NaiveDate,
    birth_date: bool,
}

impl Viewer<'_> {
    /// The ID number, decrypted: its birth date has no clear copy in the store.
    fn id_number(&self, c: &Customer) -> Result<Option<IdNumber>> {
        let Some(sealed) = &c.id_number else {
            return Ok(None);
        };
        let plain = self
            .fields
            .decrypt(&c.id, "id_number", &sealed.enc)
            .map_err(|e| Error::Internal(format!("customer {}: id_number: {e}", c.id)))?;
        let n = IdNumber::from_stored(&plain).ok_or_else(|| {
            Error::Internal(format!("customer {}: stored id_number is malformed", c.id))
        })?;
        Ok(Some(n))
    }

    /// Age in completed years, from the ID number.
    pub fn age(&self, c: &Customer) -> Result<Option<u32>> {
        Ok(self.id_number(c)?.map(|n| n.age_on(self.today)))
    }

    pub fn view(&self, c: &Customer) -> Result<CustomerView> {
        let n = self.id_number(c)?;
        let mut v = CustomerView::masked(c, n.as_ref().map(|n| n.age_on(self.today)));
        if self.birth_date {
            v.birth_date = n.map(|n| n.birth_date());
        }
        Ok(v)
    }
}

impl App {
    /// The [`Viewer`] for `caller` today.
    pub fn viewer(&self, caller: &Caller) -> Viewer<'_> {
        Viewer {
            fields: &self.fields,
            today: self.now().with_timezone(&shanghai()).date_naive(),
            birth_date: caller.has(FieldPrivilege::IdNumberViewFull),
        }
    }
}

impl CustomerView {
    fn masked(c: &Customer, age: Option<u32>) -> Self {
        CustomerView {
            id: c.id.clone(),
            name: c.name.clone(),
            phone: c.phone.masked.clone(),
            extra_phones: c.extra_phones.iter().map(|p| p.masked.clone()).collect(),
            id_number: c.id_number.as_ref().map(|i| i.masked.clone()),
            gender: c.gender,
            age,
            birth_date: None,
            city: c.city.clone(),
            company: c.company.clone(),
            address: c.address.clone(),
            channel: c.channel.clone(),
            stage: c.stage,
            grade: c.grade.clone(),
            stars: c.stars,
            intent: c.intent.clone(),
            tags: c.tags.clone(),
            owner_id: c.owner_id.clone(),
            pool_id: c.pool_id.clone(),
            demand: c.demand.clone(),
            profile: c.profile.clone(),
            custom: c.custom.clone(),
            consent: c.consent.clone(),
            duplicate_flag: c.duplicate_flag,
            last_followup_at: c.last_followup_at,
            next_followup_at: c.next_followup_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            held_since: c.held_since,
            locked: c.locked,
            pool_entered_at: c.pool_entered_at,
            previous_owner_id: c.previous_owner_id.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerView>,
    pub next_cursor: Option<String>,
    /// Matching customers in the caller's scope.
    pub total: u64,
}

impl App {
    fn seal(
        &self,
        id: &str,
        field: &str,
        kind: Kind,
        plain: &str,
        masked: String,
        tail: &str,
    ) -> Result<Sealed> {
        Ok(Sealed {
            enc: self
                .fields
                .encrypt(id, field, plain)
                .map_err(|e| Error::Internal(e.to_string()))?,
            bidx: self.fields.blind_index(kind, plain),
            masked,
            tail: tail.to_string(),
        })
    }

    fn seal_id_number(&self, id: &str, n: &crate::domain::id_number::IdNumber) -> Result<Sealed> {
        self.seal(
            id,
            "id_number",
            Kind::IdNumber,
            n.as_str(),
            n.masked(),
            n.last4(),
        )
    }

    fn seal_phone(&self, id: &str, field: &str, m: &Mobile) -> Result<Sealed> {
        self.seal(id, field, Kind::Phone, m.as_str(), m.masked(), m.last4())
    }

    /// Display name of a user, for duplicate answers.
    fn owner_name(tx: &WriteTransaction, owner: Option<&str>) -> Result<Option<String>> {
        Ok(match owner {
            Some(id) => users::find_by_id_w(tx, id)?.map(|u| u.display_name),
            None => None,
        })
    }

    /// Exact matches by blind index (phones, ID number) among all customers, deleted included.
    pub(crate) fn exact_matches(
        tx: &WriteTransaction,
        c: &Customer,
    ) -> Result<Vec<(&'static str, Customer)>> {
        let mut out: Vec<(&'static str, Customer)> = Vec::new();
        let mut probes: Vec<(&'static str, char, &str)> =
            vec![("phone", 'p', c.phone.bidx.as_str())];
        probes.extend(
            c.extra_phones
                .iter()
                .map(|p| ("phone", 'p', p.bidx.as_str())),
        );
        if let Some(i) = &c.id_number {
            probes.push(("id_number", 'i', i.bidx.as_str()));
        }
        for (by, kind, bidx) in probes {
            for id in customers::ids_by_index_w(tx, kind, bidx)? {
                if id == c.id || out.iter().any(|(_, m)| m.id == id) {
                    continue;
                }
                if let Some(m) = customers::get_w(tx, &id)? {
                    out.push((by, m));
                }
            }
        }
        Ok(out)
    }

    /// A new customer record from validated input, sensitive values sealed under its new id.
    pub(crate) fn new_record(
        &self,
        input: &CustomerInput,
        checked: customer::Checked,
        owner_id: Option<String>,
        created_by: &str,
        now: chrono::DateTime<Utc>,
    ) -> Result<Customer> {
        let id = new_id(now);
        let phone = checked
            .phone
            .as_ref()
            .ok_or_else(|| Error::validation("phone", "手机号不能为空"))?;
        let id_number = match checked.id_number.clone().flatten() {
            Some(n) => Some(self.seal_id_number(&id, &n)?),
            None => None,
        };
        let derived = checked.id_number.clone().flatten();
        let c = Customer {
            id: id.clone(),
            name: input.name.clone().unwrap_or_default().trim().to_string(),
            phone: self.seal_phone(&id, "phone", phone)?,
            extra_phones: checked
                .extra_phones
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, m)| self.seal_phone(&id, &format!("extra_phones.{i}"), m))
                .collect::<Result<_>>()?,
            id_number,
            gender: derived.as_ref().map(|n| n.gender()),
            birth_year: derived
                .as_ref()
                .map(|n| chrono::Datelike::year(&n.birth_date())),
            legacy_birth_date: None,
            city: input.city.clone(),
            address: input.address.clone(),
            company: input.company.clone(),
            channel: input.channel.clone(),
            stage: input.stage.unwrap_or(Stage::Lead),
            grade: input.grade.clone(),
            stars: input.stars.unwrap_or(0),
            intent: input.intent.clone(),
            tags: input.tags.clone().unwrap_or_default(),
            demand: input.demand.clone().unwrap_or_default(),
            profile: input.profile.clone().unwrap_or_default(),
            custom: input.custom.clone().unwrap_or_default(),
            owner_id,
            pool_id: None,
            collaborators: Vec::new(),
            consent: input.consent.clone(),
            last_followup_at: None,
            next_followup_at: None,
            duplicate_flag: false,
            created_by: created_by.to_string(),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            held_since: None,
            locked: false,
            pool_entered_at: None,
            previous_owner_id: None,
        };
        Ok(c)
    }

    pub fn create_customer(
        &self,
        caller: &Caller,
        input: CustomerInput,
        source: &str,
    ) -> Result<CustomerView> {
        caller.require(Capability::CustomerCreate)?;
        let scope = self.scope_of(caller)?;
        let now = self.now();
        let checked = customer::check(&input, true, now.with_timezone(&shanghai()).date_naive())
            .map_err(|(f, r)| Error::validation(f, r))?;
        let named = input.owner_id.as_deref().filter(|o| !o.is_empty());
        let auto = self.new_lead_assign_mode(caller, input.assign.as_deref(), named.is_some())?;
        let owner_id = match named {
            _ if auto.is_some() => None,
            Some(o) if o != caller.user.id => {
                caller.require(Capability::CustomerTransfer)?;
                if !self.scope_of(caller)?.may_receive(o) {
                    return Err(Error::validation(
                        "owner_id",
                        super::followups::OUT_OF_SCOPE_RECEIVER,
                    ));
                }
                Some(o.to_string())
            }
            _ => Some(caller.user.id.clone()),
        };
        let mut c = self.new_record(&input, checked, owner_id, &caller.user.id, now)?;
        let refuse = self.config.customers.on_duplicate == "refuse";
        self.store.write(|tx| {
            let defs = crate::service::customers::settings::custom_fields_w(tx)?;
            c.custom = custom_field::validate_map(&defs, &c.custom, true)
                .map_err(|(f, r)| Error::validation(f, r))?;
            if let Some(owner) = c.owner_id.as_deref() {
                let ok = users::find_by_id_w(tx, owner)?
                    .is_some_and(|u| u.status == crate::domain::org::UserStatus::Active);
                if !ok {
                    return Err(Error::validation("owner_id", "负责人不存在或已停用"));
                }
            }
            // Inside the write transaction: redb runs one writer at a time, so two concurrent
            // creates of the same phone cannot both pass this check.
            let dups = Self::exact_matches(tx, &c)?;
            if let Some((by, first)) = dups.first() {
                if refuse {
                    // Named in full to those who may see the existing record, masked to others.
                    let visible = scope.can_see(first) && first.deleted_at.is_none();
                    let owner = Self::owner_name(tx, first.owner_id.as_deref())?
                        .map(|n| if visible { n } else { customer::mask_name(&n) })
                        .unwrap_or_else(|| "公海".into());
                    let what = if *by == "phone" { "手机号" } else { "身份证号" };
                    return Err(Error::Conflict {
                        code: "duplicate",
                        message: format!("该{what}的客户已存在（负责人：{owner}），请勿重复录入"),
                    });
                }
                c.duplicate_flag = true;
            }
            let placed = match &auto {
                Some(mode) => {
                    let mut picker = self.picker(tx, caller, &scope, mode.clone())?;
                    let fallback = Self::caller_pool(tx, &caller.user)?;
                    Some(self.place_new(tx, &mut picker, &mut c, fallback.as_ref(), &caller.user, now)?)
                }
                None => None,
            };
            customers::put(tx, None, &c)?;
            customers::add_event(tx, &c.id, &customers::TimelineEvent::new(new_id(now), now, &caller.user.id, "created", None, c.owner_id.clone(), c.channel.clone()))?;
            audit::record(tx, now, audit::by_user(&caller.user, "customer.created", source, Some(c.id.clone()),
                json!({"owner_id": c.owner_id, "pool_id": c.pool_id, "channel": c.channel, "duplicate_flag": c.duplicate_flag})))?;
            if let (Some((placed, reason)), Some(mode)) = (placed, &auto) {
                // Like a manager's assignment: on the timeline with the rule's reason, audited.
                crate::service::pools::assign::placement_event(tx, &caller.user.id, &c, &placed, &reason, now)?;
                audit::record(tx, now, audit::by_user(&caller.user, "customer.assigned", source, Some(c.id.clone()),
                    json!({"from": null, "to": c.owner_id, "pool_id": c.pool_id, "mode": mode, "reason": reason, "new": true})))?;
            }
            Ok(())
        })?;
        self.viewer(caller).view(&c)
    }

    pub(crate) fn visible_customer(
        &self,
        caller: &Caller,
        scope: &Scope,
        id: &str,
    ) -> Result<Customer> {
        caller.require(Capability::CustomerRead)?;
        let found = self.store.read(|tx| customers::get(tx, id))?;
        // Members of the pool a customer waits in may read it (and its history) before claiming.
        let c = match found {
            Some(c) if !scope.can_see(&c) && self.in_callers_pool(caller, &c)? => c,
            other => scope.check(other)?,
        };
        if c.deleted_at.is_some() {
            return Err(Error::NotFound);
        }
        Ok(c)
    }

    pub fn get_customer(&self, caller: &Caller, id: &str) -> Result<CustomerView> {
        let scope = self.scope_of(caller)?;
        self.viewer(caller)
            .view(&self.visible_customer(caller, &scope, id)?)
    }

    /// The customer list. Without `q` it is served from the search index (only the page's
    /// records are read); with `q` the ranked matches are read and filtered.
    pub fn list_customers(&self, caller: &Caller, f: &CustomerFilter) -> Result<CustomerPage> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        if !has_query(f)
            && let Some(page) = self.list_from_index(caller, &scope, f)?
        {
            return Ok(page);
        }
        self.list_by_reading(caller, &scope, f)
    }

    /// The list from the index alone; `None` when the index cannot serve it right now (being
    /// opened or rebuilt, or holding ids it cannot order). For tests comparing both paths.
    #[doc(hidden)]
    pub fn list_customers_indexed(
        &self,
        caller: &Caller,
        f: &CustomerFilter,
    ) -> Result<Option<CustomerPage>> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        self.list_from_index(caller, &scope, f)
    }

    /// The reference list: every record read and filtered with [`CustomerFilter::matches`]
    /// (and the `q` path). For tests comparing both paths.
    #[doc(hidden)]
    pub fn list_customers_scanned(
        &self,
        caller: &Caller,
        f: &CustomerFilter,
    ) -> Result<CustomerPage> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        self.list_by_reading(caller, &scope, f)
    }

    fn list_from_index(
        &self,
        caller: &Caller,
        scope: &Scope,
        f: &CustomerFilter,
    ) -> Result<Option<CustomerPage>> {
        let limit = f.limit.unwrap_or(50).clamp(1, 200);
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let req = crate::service::customers::list::list_request(
            f,
            &ctx,
            restrict_of(scope, Vec::new()),
            limit,
        );
        let listed = match self.search.list(&self.store, &|c| self.id_tail(c), &req) {
            Ok(l) => l,
            Err(crate::search::Error::Rebuilding) => return Ok(None),
            Err(e) => return Err(search_error(e)),
        };
        let (ids, total, more) = match listed {
            Listed::Page { ids, total, more } => (ids, total, more),
            Listed::Unordered => return Ok(None),
            Listed::CursorGone => return Err(cursor_gone()),
        };
        let viewer = self.viewer(caller);
        let items = self.store.read(|tx| {
            let mut items = Vec::with_capacity(ids.len());
            for id in &ids {
                // The index decided scope and deletion; the records it names are checked
                // again, as search does, so an index behind the store never shows too much.
                if let Some(c) = customers::get(tx, id)?
                    && c.deleted_at.is_none()
                    && scope.can_see(&c)
                {
                    items.push(viewer.view(&c)?);
                }
            }
            Ok::<_, Error>(items)
        })?;
        let next_cursor = if more {
            items.last().map(|v: &CustomerView| v.id.clone())
        } else {
            None
        };
        Ok(Some(CustomerPage {
            items,
            next_cursor,
            total: total as u64,
        }))
    }

    fn list_by_reading(
        &self,
        caller: &Caller,
        scope: &Scope,
        f: &CustomerFilter,
    ) -> Result<CustomerPage> {
        let limit = f.limit.unwrap_or(50).clamp(1, 200);
        let ctx = FilterContext::new(&caller.user.id, self.now());
        let viewer = self.viewer(caller);
        let keep = |c: &Customer| c.deleted_at.is_none() && scope.can_see(c) && f.matches(c, &ctx);
        // Only (sort key, id) of every match is held; the page's records are read afterwards.
        let mut keys: Vec<(String, String)> = Vec::new();
        let ranked = match f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => Some(self.ranked_ids(scope, q)?),
            None => None,
        };
        let page = self.store.read(|tx| {
            match &ranked {
                Some(ids) => {
                    for (rank, id) in ids.iter().enumerate() {
                        if let Some(c) = customers::get(tx, id)?
                            && keep(&c)
                        {
                            let key = match f.sort {
                                Some(_) => f.sort_key(&c),
                                None => format!("{rank:08}"),
                            };
                            keys.push((key, c.id));
                        }
                    }
                }
                None => customers::scan(tx, None, |c| {
                    if keep(&c) {
                        keys.push((f.sort_key(&c), c.id));
                    }
                    true
                })?,
            }
            keys.sort();
            // Search results keep their ranking (best first) unless a sort was asked for.
            let by_rank = ranked.is_some() && f.sort.is_none();
            if !by_rank && f.sort.unwrap_or_default().descending() {
                keys.reverse();
            }
            let start = match f.cursor.as_deref() {
                Some(cur) => keys
                    .iter()
                    .position(|(_, id)| id == cur)
                    .map(|i| i + 1)
                    .ok_or_else(cursor_gone)?,
                None => 0,
            };
            let mut items = Vec::new();
            for (_, id) in keys.iter().skip(start).take(limit) {
                if let Some(c) = customers::get(tx, id)? {
                    items.push(viewer.view(&c)?);
                }
            }
            let next_cursor = if start + limit < keys.len() {
                items.last().map(|v: &CustomerView| v.id.clone())
            } else {
                None
            };
            Ok::<_, Error>(CustomerPage {
                items,
                next_cursor,
                total: keys.len() as u64,
            })
        })?;
        Ok(page)
    }

    pub fn update_customer(
        &self,
        caller: &Caller,
        id: &str,
        patch: customer::CustomerPatch,
        source: &str,
    ) -> Result<CustomerView> {
        caller.require(Capability::CustomerEdit)?;
        let scope = self.scope_of(caller)?;
        let now = self.now();
        let (input, clear) = patch.split().map_err(|(f, r)| Error::validation(f, r))?;
        if let Some(Some(at)) = patch.next_followup_at {
            crate::domain::followup::check_next_at(at, now)
                .map_err(|r| Error::validation("next_followup_at", r))?;
        }
        let checked = customer::check(&input, false, now.with_timezone(&shanghai()).date_naive())
            .map_err(|(f, r)| Error::validation(f, r))?;
        if input.owner_id.is_some() {
            return Err(Error::validation("owner_id", "请使用转移功能更换负责人"));
        }
        let refuse = self.config.customers.on_duplicate == "refuse";
        self.store.write(|tx| {
            let before = live(scope.check(customers::get_w(tx, id)?)?)?;
            let mut c = before.clone();
            let mut changed: Vec<&str> = Vec::new();
            macro_rules! set {
                ($field:ident) => {
                    if let Some(v) = input.$field.clone() {
                        c.$field = v.into();
                        changed.push(stringify!($field));
                    }
                };
            }
            if let Some(n) = &input.name {
                c.name = n.trim().to_string();
                changed.push("name");
            }
            if let Some(p) = &checked.phone {
                c.phone = self.seal_phone(&c.id, "phone", p)?;
                changed.push("phone");
            }
            if let Some(list) = &checked.extra_phones {
                c.extra_phones = list
                    .iter()
                    .enumerate()
                    .map(|(i, m)| self.seal_phone(&c.id, &format!("extra_phones.{i}"), m))
                    .collect::<Result<_>>()?;
                changed.push("extra_phones");
            }
            if let Some(n) = &checked.id_number {
                c.id_number = match n {
                    Some(n) => Some(self.seal_id_number(&c.id, n)?),
                    None => None,
                };
                c.gender = n.as_ref().map(|n| n.gender());
                c.birth_year = n.as_ref().map(|n| chrono::Datelike::year(&n.birth_date()));
                changed.push("id_number");
            }
            set!(city);
            set!(address);
            set!(company);
            set!(channel);
            set!(stage);
            set!(grade);
            set!(stars);
            set!(intent);
            set!(tags);
            set!(demand);
            set!(profile);
            set!(consent);
            if let Some(values) = &input.custom {
                let defs = crate::service::customers::settings::custom_fields_w(tx)?;
                let given = custom_field::validate_map(&defs, values, false)
                    .map_err(|(f, r)| Error::validation(f, r))?;
                for k in values.keys() {
                    match given.get(k) {
                        Some(v) => c.custom.insert(k.clone(), v.clone()),
                        None => c.custom.remove(k),
                    };
                }
                if let Some(d) = defs.iter().find(|d| {
                    d.active
                        && d.required
                        && values.contains_key(&d.key)
                        && !c.custom.contains_key(&d.key)
                }) {
                    return Err(Error::validation(
                        format!("custom.{}", d.key),
                        format!("{}不能为空", d.label),
                    ));
                }
                changed.push("custom");
            }
            if let Some(Some(at)) = patch.next_followup_at {
                c.next_followup_at = Some(at);
                changed.push("next_followup_at");
            }
            for f in &clear {
                match *f {
                    "id_number" => {
                        c.id_number = None;
                        c.gender = None;
                        c.birth_year = None;
                    }
                    "city" => c.city = None,
                    "address" => c.address = None,
                    "company" => c.company = None,
                    "channel" => c.channel = None,
                    "grade" => c.grade = None,
                    "intent" => c.intent = None,
                    "consent" => c.consent = None,
                    "next_followup_at" => c.next_followup_at = None,
                    _ => {}
                }
                changed.push(f);
            }
            if changed
                .iter()
                .any(|f| ["phone", "extra_phones", "id_number"].contains(f))
                && !Self::exact_matches(tx, &c)?.is_empty()
            {
                if refuse {
                    return Err(Error::Conflict {
                        code: "duplicate",
                        message: "该号码已属于另一位客户".into(),
                    });
                }
                c.duplicate_flag = true;
            }
            c.updated_at = now;
            customers::put(tx, Some(&before), &c)?;
            if c.stage != before.stage {
                customers::add_event(
                    tx,
                    &c.id,
                    &customers::TimelineEvent::new(
                        new_id(now),
                        now,
                        &caller.user.id,
                        "stage_changed",
                        stage_name(before.stage),
                        stage_name(c.stage),
                        None,
                    ),
                )?;
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "customer.updated",
                    source,
                    Some(c.id.clone()),
                    json!({"fields": changed}),
                ),
            )?;
            if c.consent != before.consent {
                // PIPL: the legal basis is evidence; each change is kept in the audit chain.
                audit::record(
                    tx,
                    now,
                    audit::by_user(
                        &caller.user,
                        "customer.consent_changed",
                        source,
                        Some(c.id.clone()),
                        json!({"from": before.consent, "to": c.consent}),
                    ),
                )?;
            }
            self.viewer(caller).view(&c)
        })
    }

    /// Moves a customer to the recycle bin.
    pub fn delete_customer(&self, caller: &Caller, id: &str, source: &str) -> Result<()> {
        caller.require(Capability::CustomerDelete)?;
        let scope = self.scope_of(caller)?;
        let now = self.now();
        self.store.write(|tx| {
            let before = live(scope.check(customers::get_w(tx, id)?)?)?;
            let mut c = before.clone();
            c.deleted_at = Some(now);
            c.updated_at = now;
            customers::put(tx, Some(&before), &c)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "customer.deleted",
                    source,
                    Some(c.id.clone()),
                    json!({}),
                ),
            )
        })
    }
}
