//! Customers (客户 / 线索): the record, its input, and the validation rules. No I/O: the
//! service encrypts sensitive fields and the store indexes them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::id_number::{self, Gender, IdNumber};
use super::phone::{self, Mobile};
use super::profile::money;
pub use super::profile::{Business, Credit, Demand, Occupation, Profile, TaxRating};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Lead,
    Contacted,
    Qualified,
    Invited,
    Visited,
    Signed,
    Won,
    Lost,
    Invalid,
}

impl Stage {
    /// Every stage, in the pipeline's order.
    pub const ALL: [Stage; 9] = [
        Stage::Lead,
        Stage::Contacted,
        Stage::Qualified,
        Stage::Invited,
        Stage::Visited,
        Stage::Signed,
        Stage::Won,
        Stage::Lost,
        Stage::Invalid,
    ];

    /// The stored and API name (`lead`, `won`, …).
    pub fn key(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Contacted => "contacted",
            Stage::Qualified => "qualified",
            Stage::Invited => "invited",
            Stage::Visited => "visited",
            Stage::Signed => "signed",
            Stage::Won => "won",
            Stage::Lost => "lost",
            Stage::Invalid => "invalid",
        }
    }

    /// The customer funnel's stages, in order (lost and invalid are off it).
    pub const PIPELINE: [&'static str; 7] = [
        "lead",
        "contacted",
        "qualified",
        "invited",
        "visited",
        "signed",
        "won",
    ];
}

/// PIPL: on what basis the firm holds this person's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consent {
    /// e.g. `consent`, `contract`.
    pub basis: String,
    pub notice_version: Option<String>,
    pub channel: Option<String>,
    pub at: DateTime<Utc>,
}

/// A sensitive value as stored: ciphertext, blind index and the masked form for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sealed {
    pub enc: String,
    pub bidx: String,
    pub masked: String,
    /// Last digits kept in clear for search by suffix (4 for phones, 4 for ID numbers).
    pub tail: String,
    /// Phones only: the lead-check index (`FieldCipher::lead_index`, schema 24), empty for an
    /// ID number, an erased value, or a record the schema-22 fill has not reached yet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lead: String,
}

/// The stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: Sealed,
    #[serde(default)]
    pub extra_phones: Vec<Sealed>,
    pub id_number: Option<Sealed>,
    pub gender: Option<Gender>,
    /// The birth year from the ID number, for age bands in reports and rules. The full birth
    /// date is never stored in clear: beside the masked number (`110105********002X`, whose
    /// hidden digits are exactly the date) it would complete the ID number without the key.
    #[serde(default)]
    pub birth_year: Option<i32>,
    /// Read from records written before schema 11 (which stored the whole date in clear), so
    /// the migration can turn it into `birth_year`; never written.
    #[serde(default, rename = "birth_date", skip_serializing)]
    pub legacy_birth_date: Option<NaiveDate>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub company: Option<String>,
    pub channel: Option<String>,
    pub stage: Stage,
    pub grade: Option<String>,
    #[serde(default)]
    pub stars: u8,
    pub intent: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub demand: Demand,
    #[serde(default, deserialize_with = "super::profile::stored")]
    pub profile: Profile,
    #[serde(default)]
    pub custom: BTreeMap<String, serde_json::Value>,
    pub owner_id: Option<String>,
    pub pool_id: Option<String>,
    #[serde(default)]
    pub collaborators: Vec<String>,
    pub consent: Option<Consent>,
    pub last_followup_at: Option<DateTime<Utc>>,
    pub next_followup_at: Option<DateTime<Utc>>,
    /// A manager should look at this record (created despite a possible duplicate).
    #[serde(default)]
    pub duplicate_flag: bool,
    pub created_by: String,
    /// The broker (经纪人) whose referral brought this customer (docs/brokers.md); kept
    /// through to the customer's deals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Soft-deleted (recycle bin) since.
    pub deleted_at: Option<DateTime<Utc>>,
    /// When the current owner got the customer (claim, assignment, transfer); recall counts
    /// from the later of this and `created_at`.
    #[serde(default)]
    pub held_since: Option<DateTime<Utc>>,
    /// Locked by its owner: never recalled.
    #[serde(default)]
    pub locked: bool,
    /// When the customer last entered a pool (release, recall, departure).
    #[serde(default)]
    pub pool_entered_at: Option<DateTime<Utc>>,
    /// The owner before it went to a pool (for the reclaim cooldown and the claimer's history).
    #[serde(default)]
    pub previous_owner_id: Option<String>,
    /// Why it went to its pool: the release reason, the recall rule's reason, a departure.
    /// Shown while it waits there (see `CustomerView::pool_reason`).
    #[serde(default)]
    pub pool_reason: Option<String>,
    /// 备注: free notes about the customer (several lines, at most 1,000 characters).
    #[serde(default)]
    pub notes: Option<String>,
    /// 录入时间 in the system the customer came from (an import keeps it); `created_at` stays
    /// when it entered zhudai.
    #[serde(default)]
    pub entered_at: Option<DateTime<Utc>>,
}

/// The fields rules (plugins) read, decoded from a stored customer without the sealed phone
/// and ID number, the profile, demand and custom fields: a recall sweep decodes only these.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RuleFields {
    pub id: String,
    pub name: String,
    pub stage: Stage,
    pub grade: Option<String>,
    #[serde(default)]
    pub stars: u8,
    pub city: Option<String>,
    pub channel: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub owner_id: Option<String>,
    pub pool_id: Option<String>,
    pub last_followup_at: Option<DateTime<Utc>>,
    pub next_followup_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub held_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub pool_entered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub previous_owner_id: Option<String>,
    /// The stage of the customer's most advanced open deal (`None`: no open deal). Not part of
    /// the customer record nor the compact view: a recall sweep fills it from the deal keys.
    #[serde(skip)]
    pub deal_stage: Option<crate::domain::deal::DealStage>,
}

impl RuleFields {
    /// Since when the current owner holds the customer: the later of held_since and created_at.
    pub fn held_since(&self) -> DateTime<Utc> {
        self.held_since
            .map_or(self.created_at, |h| h.max(self.created_at))
    }
}

impl From<&Customer> for RuleFields {
    fn from(c: &Customer) -> RuleFields {
        RuleFields {
            id: c.id.clone(),
            name: c.name.clone(),
            stage: c.stage,
            grade: c.grade.clone(),
            stars: c.stars,
            city: c.city.clone(),
            channel: c.channel.clone(),
            tags: c.tags.clone(),
            owner_id: c.owner_id.clone(),
            pool_id: c.pool_id.clone(),
            last_followup_at: c.last_followup_at,
            next_followup_at: c.next_followup_at,
            created_at: c.created_at,
            deleted_at: c.deleted_at,
            held_since: c.held_since,
            locked: c.locked,
            pool_entered_at: c.pool_entered_at,
            previous_owner_id: c.previous_owner_id.clone(),
            deal_stage: None,
        }
    }
}

/// What a caller sends to create or replace a customer's editable fields. Unknown fields are
/// refused, as in [`CustomerPatch`] (a misspelt field must not be silently dropped).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub extra_phones: Option<Vec<String>>,
    pub id_number: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub company: Option<String>,
    pub channel: Option<String>,
    pub stage: Option<Stage>,
    pub grade: Option<String>,
    pub stars: Option<u8>,
    pub intent: Option<String>,
    pub tags: Option<Vec<String>>,
    /// 备注 (several lines, at most 1,000 characters).
    pub notes: Option<String>,
    /// 录入时间 in the system it came from (not in the future).
    pub entered_at: Option<DateTime<Utc>>,
    pub demand: Option<Demand>,
    pub profile: Option<Profile>,
    #[schema(value_type = Option<Object>)]
    pub custom: Option<BTreeMap<String, serde_json::Value>>,
    pub consent: Option<Consent>,
    /// Owner to give it to (needs `customer.transfer` when not yourself).
    pub owner_id: Option<String>,
    /// `"auto"`: the owner is chosen by the assignment rule (`assign.pick`, mode
    /// `[pool] assign_mode`) among the users of my scope who take leads; or a mode name
    /// (`round_robin`, `weighted`, `least_loaded`, `by_city`). Needs `customer.assign`; not
    /// together with `owner_id`. When nobody can take it, it goes to my department's pool.
    pub assign: Option<String>,
}

/// Reads a field that may be absent (`None`: leave it), `null` (`Some(None)`: clear it) or a
/// value (`Some(Some(v))`). Use with `#[serde(default, deserialize_with = "double")]`.
pub fn double<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A PATCH of a customer: absent keys stay as they are; `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// Cannot be cleared (`null` is refused).
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Cannot be cleared (`null` is refused).
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub extra_phones: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub id_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub channel: Option<Option<String>>,
    pub stage: Option<Stage>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub grade: Option<Option<String>>,
    pub stars: Option<u8>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub intent: Option<Option<String>>,
    /// 备注; `null` clears it.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub demand: Option<Demand>,
    pub profile: Option<Profile>,
    /// Merged into the record's custom values; `null` or `""` removes a key.
    #[schema(value_type = Option<Object>)]
    pub custom: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<Consent>)]
    pub consent: Option<Option<Consent>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub next_followup_at: Option<Option<DateTime<Utc>>>,
    /// Refused: ownership changes go through transfer.
    pub owner_id: Option<String>,
    /// The `updated_at` the client read: when the record has changed since, the edit is
    /// refused (409 `edit_conflict`, with what changed) instead of silently overwriting the
    /// other person's values. Absent: the edit applies whatever changed meanwhile.
    pub expected_updated_at: Option<DateTime<Utc>>,
}

impl CustomerPatch {
    /// The values to validate as an input (cleared fields are absent from it) and the names of
    /// the fields to clear.
    pub fn split(&self) -> Result<(CustomerInput, Vec<&'static str>), Problem> {
        if self.name == Some(None) {
            return Err(("name", "姓名不能为空".into()));
        }
        if self.phone == Some(None) {
            return Err(("phone", "手机号不能为空，不能清除".into()));
        }
        let mut clear = Vec::new();
        let mut take = |name: &'static str, v: &Option<Option<String>>| -> Option<String> {
            match v {
                Some(None) => {
                    clear.push(name);
                    None
                }
                Some(Some(s)) => Some(s.clone()),
                None => None,
            }
        };
        let input = CustomerInput {
            name: self.name.clone().flatten(),
            phone: self.phone.clone().flatten(),
            extra_phones: self.extra_phones.clone(),
            id_number: take("id_number", &self.id_number),
            city: take("city", &self.city),
            address: take("address", &self.address),
            company: take("company", &self.company),
            channel: take("channel", &self.channel),
            stage: self.stage,
            grade: take("grade", &self.grade),
            stars: self.stars,
            intent: take("intent", &self.intent),
            tags: self.tags.clone(),
            notes: take("notes", &self.notes),
            entered_at: None,
            demand: self.demand.clone(),
            profile: self.profile.clone(),
            custom: self.custom.clone(),
            consent: self.consent.clone().flatten(),
            owner_id: self.owner_id.clone(),
            assign: None,
        };
        if self.consent == Some(None) {
            clear.push("consent");
        }
        if self.next_followup_at == Some(None) {
            clear.push("next_followup_at");
        }
        Ok((input, clear))
    }
}

/// Input after validation: normalised sensitive values still in plaintext (the service seals
/// them immediately).
#[derive(Debug, Clone)]
pub struct Checked {
    pub phone: Option<Mobile>,
    pub extra_phones: Option<Vec<Mobile>>,
    pub id_number: Option<Option<IdNumber>>,
}

pub use super::profile::Problem;

fn text(field: &'static str, v: &Option<String>, max: usize) -> Result<(), Problem> {
    if let Some(s) = v {
        if s.chars().count() > max {
            return Err((field, format!("最多{max}个字符")));
        }
        if !super::text::single_line_ok(s) {
            return Err((field, super::text::REFUSED.into()));
        }
    }
    Ok(())
}

/// Validates an input. `creating` makes name and phone required. Errors name the field (dotted
/// for nested ones) and the reason in Chinese.
pub fn check(input: &CustomerInput, creating: bool, today: NaiveDate) -> Result<Checked, Problem> {
    match &input.name {
        Some(n) if n.trim().is_empty() => return Err(("name", "姓名不能为空".into())),
        Some(n) if n.trim().chars().count() > 32 => {
            return Err(("name", "姓名最多32个字符".into()));
        }
        None if creating => return Err(("name", "姓名不能为空".into())),
        _ => {}
    }
    if input
        .name
        .as_deref()
        .is_some_and(|n| !super::text::single_line_ok(n))
    {
        return Err(("name", super::text::REFUSED.into()));
    }
    let phone = match &input.phone {
        Some(p) => Some(phone::parse(p).map_err(|e| ("phone", e.to_string()))?),
        None if creating => return Err(("phone", "手机号不能为空".into())),
        None => None,
    };
    let extra_phones = match &input.extra_phones {
        Some(list) if list.len() > 5 => return Err(("extra_phones", "最多5个其他号码".into())),
        Some(list) => Some(
            list.iter()
                .map(|p| phone::parse(p).map_err(|e| ("extra_phones", e.to_string())))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let id_number = match input.id_number.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(raw) => Some(Some(
            id_number::parse(raw, today).map_err(|e| ("id_number", e.to_string()))?,
        )),
        None => None,
    };
    text("city", &input.city, 32)?;
    text("address", &input.address, 200)?;
    text("company", &input.company, 100)?;
    text("channel", &input.channel, 32)?;
    text("intent", &input.intent, 16)?;
    if let Some(at) = input.entered_at {
        // The Shanghai calendar day (UTC+8 all year).
        let day = (at + chrono::Duration::hours(8)).date_naive();
        if day > today {
            return Err(("entered_at", "录入时间不能晚于今天".into()));
        }
        if chrono::Datelike::year(&day) < 1990 {
            return Err(("entered_at", "录入时间不能早于1990年".into()));
        }
    }
    if let Some(n) = &input.notes {
        if n.chars().count() > 1000 {
            return Err(("notes", "备注最多1000个字符".into()));
        }
        if !super::text::multi_line_ok(n) {
            return Err(("notes", super::text::REFUSED_MULTI.into()));
        }
    }
    if let Some(g) = &input.grade
        && !["A", "B", "C", "D"].contains(&g.as_str())
    {
        return Err(("grade", "等级应为 A、B、C 或 D".into()));
    }
    if let Some(c) = &input.consent {
        if c.basis.trim().is_empty() || c.basis.chars().count() > 32 {
            return Err(("consent.basis", "同意依据不能为空，最多32个字符".into()));
        }
        text("consent.basis", &Some(c.basis.clone()), 32)?;
        text("consent.notice_version", &c.notice_version, 32)?;
        text("consent.channel", &c.channel, 32)?;
    }
    if input.stars.is_some_and(|s| s > 5) {
        return Err(("stars", "星级应为0到5".into()));
    }
    if let Some(tags) = &input.tags {
        if tags.len() > 30 {
            return Err(("tags", "最多30个标签".into()));
        }
        if tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 16)
        {
            return Err(("tags", "标签不能为空，最多16个字符".into()));
        }
        if !tags.iter().all(|t| super::text::single_line_ok(t)) {
            return Err(("tags", super::text::REFUSED.into()));
        }
    }
    if let Some(d) = &input.demand {
        money("demand.amount_fen", d.amount_fen)?;
        if d.term_months.is_some_and(|t| t == 0 || t > 600) {
            return Err(("demand.term_months", "期限应为1到600个月".into()));
        }
        text("demand.purpose", &d.purpose, 64)?;
    }
    if let Some(p) = &input.profile {
        super::profile::check(p)?;
    }
    Ok(Checked {
        phone,
        extra_phones,
        id_number,
    })
}

/// `张三丰` → `张**`: how an out-of-scope owner or customer is named in a duplicate answer.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn base() -> CustomerInput {
        CustomerInput {
            name: Some("张三丰".into()),
            phone: Some("138 0013 8000".into()),
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        type Change = fn(&mut CustomerInput);
        let cases: Vec<(Change, &str)> = vec![
            (|i| i.name = None, "name"),
            (|i| i.name = Some("  ".into()), "name"),
            (|i| i.phone = None, "phone"),
            (|i| i.phone = Some("12345".into()), "phone"),
            (
                |i| i.extra_phones = Some(vec!["1380013800".into()]),
                "extra_phones",
            ),
            (
                |i| i.id_number = Some("110105194912310021".into()),
                "id_number",
            ),
            (|i| i.grade = Some("E".into()), "grade"),
            (|i| i.stars = Some(6), "stars"),
            (|i| i.tags = Some(vec!["".into()]), "tags"),
            (
                |i| {
                    i.demand = Some(Demand {
                        amount_fen: Some(-1),
                        ..Default::default()
                    })
                },
                "demand.amount_fen",
            ),
            (
                |i| {
                    i.demand = Some(Demand {
                        term_months: Some(0),
                        ..Default::default()
                    })
                },
                "demand.term_months",
            ),
            (
                |i| {
                    i.profile = Some(Profile {
                        credit: Credit {
                            inquiries_3m: Some(4),
                            inquiries_6m: Some(2),
                            ..Default::default()
                        },
                        ..Default::default()
                    })
                },
                "profile.credit.inquiries_6m",
            ),
        ];
        for (change, field) in cases {
            let mut input = base();
            change(&mut input);
            let err = check(&input, true, today()).unwrap_err();
            assert_eq!(err.0, field, "{err:?}");
        }
        let ok = check(&base(), true, today()).unwrap();
        assert_eq!(ok.phone.unwrap().as_str(), "13800138000");
        // Editing needs no name or phone.
        assert!(check(&CustomerInput::default(), false, today()).is_ok());
    }

    #[test]
    fn patches_tell_absent_from_null() {
        let p: CustomerPatch =
            serde_json::from_str(r#"{"city": null, "company": "某公司", "consent": null}"#)
                .unwrap();
        let (input, clear) = p.split().unwrap();
        assert_eq!(clear, vec!["city", "consent"]);
        assert_eq!(input.company.as_deref(), Some("某公司"));
        assert!(input.address.is_none());
        let p: CustomerPatch = serde_json::from_str("{}").unwrap();
        assert!(p.split().unwrap().1.is_empty());
        let p: CustomerPatch = serde_json::from_str(r#"{"name": null}"#).unwrap();
        assert_eq!(p.split().unwrap_err().0, "name");
    }

    #[test]
    fn a_stored_free_text_occupation_still_decodes() {
        let c: Customer = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "王五", "stage": "lead", "created_by": "u1",
            "phone": {"enc": "", "bidx": "", "masked": "", "tail": ""},
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "profile": {"occupation": "个体户", "monthly_income_fen": 100}
        }))
        .unwrap();
        assert_eq!(c.profile.occupation, Some(Occupation::BusinessOwner));
        assert_eq!(c.profile.monthly_income_fen, Some(100));
        // And without a profile at all.
        let mut v = serde_json::to_value(&c).unwrap();
        v.as_object_mut().unwrap().remove("profile");
        let c: Customer = serde_json::from_value(v).unwrap();
        assert_eq!(c.profile, Profile::default());
    }

    #[test]
    fn names_are_masked_for_strangers() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
    }
}
