//! Customer use cases: create with duplicate check, read, list, edit, soft delete. Every query
//! takes the caller's scope. The callers' duplicate check and reveals are in `duplicates`.

crate::service::use_cases!(
    customers,
    "Customer records: create, read, list, edit, bulk actions, duplicates and reveals, the recycle bin, exports, custom fields and tags."
);

pub mod bulk;
pub mod cells;
mod create;
pub mod duplicates;
pub mod export;
pub mod list;
mod read;
pub(crate) mod recipient;
pub mod recycle;
pub mod settings;
pub mod transfer_requests;
mod update;

use chrono::{FixedOffset, Utc};
use serde::Serialize;

use super::{App, Error, Result};
use crate::crypto::field::FieldCipher;
use crate::domain::capability::FieldPrivilege;
use crate::domain::customer::{self, Customer, Stage};
use crate::domain::id_number::{self, Gender, IdNumber};
use crate::service::access::auth::Caller;
use crate::service::access::scope::Owned;
use crate::store::customer_codec::Shown;

pub use crate::service::customers::duplicates::{
    DuplicateAnswer, DuplicateMatch, DuplicateQuery, RevealField, Revealed,
};
pub use crate::service::customers::list::{CustomerFilter, DueFilter, FilterContext, Sort, Whose};
pub use crate::service::customers::read::StageCounts;

/// China Standard Time: no daylight saving since 1991, so a fixed offset is exact.
pub fn shanghai() -> FixedOffset {
    use chrono::Offset;
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The API name of a stage (`lead`, `won`, …), as stored on timeline events.
pub(crate) fn stage_name(s: Stage) -> Option<String> {
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
    /// While it waits in a pool: why it went there (release reason, recall rule, departure).
    pub pool_reason: Option<String>,
    /// 备注.
    pub notes: Option<String>,
    /// 录入时间 in the system it came from.
    pub entered_at: Option<chrono::DateTime<Utc>>,
}

/// How customers leave the service for one caller. Sensitive values are masked; the birth
/// date (the 8 digits a masked ID number hides) goes only to holders of `id_number.view_full`
/// without a daily reveal quota ([`reads_birth_dates`]), everyone else gets age and gender. Every customer a use case hands out is built here.
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

    /// The birth date and today's date (Asia/Shanghai), for rules that count to a birthday
    /// (matching's age hint); not shown as such.
    /// The birth date and today, for a hint counted to the birthday: only for a reader of
    /// birth dates (`None` otherwise; "13 天后满 22 岁" is the birth date).
    pub fn born(&self, c: &Customer) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>> {
        if !self.birth_date {
            return Ok(None);
        }
        Ok(self.id_number(c)?.map(|n| (n.birth_date(), self.today)))
    }

    pub fn view(&self, c: &Customer) -> Result<CustomerView> {
        let n = self.id_number(c)?;
        let mut v = CustomerView::masked(c, n.as_ref().map(|n| n.age_on(self.today)));
        if self.birth_date {
            v.birth_date = n.map(|n| n.birth_date());
        }
        Ok(v)
    }

    /// [`Viewer::view`] of a record the caller no longer needs: its fields move into the view
    /// instead of being copied (the detail read and the list pages).
    pub fn view_owned(&self, c: Customer) -> Result<CustomerView> {
        let n = self.id_number(&c)?;
        let mut v = CustomerView::masked_owned(c, n.as_ref().map(|n| n.age_on(self.today)));
        if self.birth_date {
            v.birth_date = n.map(|n| n.birth_date());
        }
        Ok(v)
    }
}

impl Viewer<'_> {
    /// [`Viewer::view_owned`] of a record decoded for display (the detail read): the ID
    /// number is decrypted from its ciphertext bytes into a stack buffer and only its birth
    /// date is kept. The answer is the same view, field for field (`tests/it/thin_path.rs`).
    pub fn view_shown(&self, s: Shown) -> Result<CustomerView> {
        let c = s.customer;
        let birth = match &s.id_number_enc {
            None => None,
            Some(enc) => {
                let birth = self
                    .fields
                    .open(&c.id, "id_number", &enc.generation, &enc.bytes, |plain| {
                        IdNumber::birth_date_of_stored(plain)
                    })
                    .map_err(|e| Error::Internal(format!("customer {}: id_number: {e}", c.id)))?
                    .ok_or_else(|| {
                        Error::Internal(format!("customer {}: stored id_number is malformed", c.id))
                    })?;
                Some(birth)
            }
        };
        let mut v = CustomerView::masked_owned(c, birth.map(|b| id_number::age_on(b, self.today)));
        if self.birth_date {
            v.birth_date = birth;
        }
        Ok(v)
    }
}

/// Whether `caller` reads birth dates: the 8 digits a masked ID number hides, so only a
/// holder of `id_number.view_full` without a daily reveal quota (a quota-limited holder reads
/// a full number by a reveal, counted and audited, never by a birth date on every page).
pub(crate) fn reads_birth_dates(caller: &Caller) -> bool {
    caller.has(FieldPrivilege::IdNumberViewFull) && caller.access.daily_reveal_quota.is_none()
}

impl App {
    /// The [`Viewer`] for `caller` today.
    pub fn viewer(&self, caller: &Caller) -> Viewer<'_> {
        Viewer {
            fields: &self.fields,
            today: self.now().with_timezone(&shanghai()).date_naive(),
            birth_date: reads_birth_dates(caller),
        }
    }
}

impl CustomerView {
    /// [`CustomerView::masked`] moving the fields out of `c`; the two must list the same
    /// fields (`tests`: `owned_and_borrowed_views_agree`).
    fn masked_owned(c: Customer, age: Option<u32>) -> Self {
        let pool_reason = c
            .pool_reason
            .filter(|_| c.owner_id.is_none() && c.pool_id.is_some());
        CustomerView {
            id: c.id,
            name: c.name,
            phone: c.phone.masked,
            extra_phones: c.extra_phones.into_iter().map(|p| p.masked).collect(),
            id_number: c.id_number.map(|i| i.masked),
            gender: c.gender,
            age,
            birth_date: None,
            city: c.city,
            company: c.company,
            address: c.address,
            channel: c.channel,
            stage: c.stage,
            grade: c.grade,
            stars: c.stars,
            intent: c.intent,
            tags: c.tags,
            owner_id: c.owner_id,
            pool_id: c.pool_id,
            demand: c.demand,
            profile: c.profile,
            custom: c.custom,
            consent: c.consent,
            duplicate_flag: c.duplicate_flag,
            last_followup_at: c.last_followup_at,
            next_followup_at: c.next_followup_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            held_since: c.held_since,
            locked: c.locked,
            pool_entered_at: c.pool_entered_at,
            previous_owner_id: c.previous_owner_id,
            pool_reason,
            notes: c.notes,
            entered_at: c.entered_at,
        }
    }

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
            pool_reason: c
                .pool_reason
                .clone()
                .filter(|_| c.owner_id.is_none() && c.pool_id.is_some()),
            notes: c.notes.clone(),
            entered_at: c.entered_at,
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
