//! An update import (`on_duplicate: update`): a row's cells written over the existing
//! customer. Only the columns the sheet has, and of those only the non-empty cells, change a
//! field (an absent column or an empty cell leaves it as it was: clearing by import would wipe
//! whole lists by mistake); every field a new row may fill is applied, and the fields that
//! really changed are returned for the report.

use serde_json::Value;

use crate::domain::customer::{Customer, CustomerInput};
use crate::domain::profile::{self, Profile};
use crate::service::{Error, Result};
use crate::store::WriteTransaction;
use crate::store::customers::{Reader, Unscoped};

/// The updated record and the changed fields, or why the row is refused (field, reason).
pub(super) type Merged = std::result::Result<(Customer, Vec<String>), (String, String)>;

impl crate::service::import::UseCases<'_> {
    /// `existing` with `input` (the row, checked) written over it; `row` is the row as a new
    /// record (its sealed ID number gives the blind index to look for).
    pub(super) fn merged(
        &self,
        tx: &WriteTransaction,
        existing: &Customer,
        row: &Customer,
        input: &CustomerInput,
        today: chrono::NaiveDate,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Merged> {
        let mut u = existing.clone();
        let mut changed: Vec<String> = Vec::new();
        macro_rules! text {
            ($f:ident) => {
                if let Some(v) = &input.$f
                    && u.$f.as_ref() != Some(v)
                {
                    u.$f = Some(v.clone());
                    changed.push(stringify!($f).into());
                }
            };
        }
        if let Some(n) = &input.name {
            let n = n.trim();
            if !n.is_empty() && u.name != n {
                u.name = n.to_string();
                changed.push("name".into());
            }
        }
        text!(city);
        text!(address);
        text!(company);
        text!(channel);
        text!(grade);
        text!(intent);
        text!(notes);
        if let Some(at) = input.entered_at
            && u.entered_at != Some(at)
        {
            u.entered_at = Some(at);
            changed.push("entered_at".into());
        }
        if let Some(stars) = input.stars
            && u.stars != stars
        {
            u.stars = stars;
            changed.push("stars".into());
        }
        if let Some(stage) = input.stage
            && u.stage != stage
        {
            u.stage = stage;
            changed.push("stage".into());
        }
        if let Some(tags) = &input.tags {
            let before = u.tags.len();
            for t in tags {
                if !u.tags.contains(t) {
                    u.tags.push(t.clone());
                }
            }
            if u.tags.len() != before {
                changed.push("tags".into());
            }
        }
        if let Some(d) = &input.demand {
            if let Some(a) = d.amount_fen
                && u.demand.amount_fen != Some(a)
            {
                u.demand.amount_fen = Some(a);
                changed.push("demand.amount_fen".into());
            }
            if let Some(t) = d.term_months
                && u.demand.term_months != Some(t)
            {
                u.demand.term_months = Some(t);
                changed.push("demand.term_months".into());
            }
            if let Some(p) = &d.purpose
                && u.demand.purpose.as_ref() != Some(p)
            {
                u.demand.purpose = Some(p.clone());
                changed.push("demand.purpose".into());
            }
        }
        if let Some(p) = &input.profile {
            let (merged, fields) = merged_profile(&u.profile, p)?;
            if !fields.is_empty() {
                // The row's cells were checked alone; with the fields kept they must still
                // agree (1-month inquiries ≤ 3-month, no mortgage without property …).
                if let Err((field, reason)) = profile::check(&merged) {
                    return Ok(Err((field.to_string(), reason)));
                }
                u.profile = merged;
                changed.extend(fields);
            }
        }
        if let Some(custom) = &input.custom {
            for (k, v) in custom {
                if u.custom.get(k) != Some(v) {
                    u.custom.insert(k.clone(), v.clone());
                    changed.push(format!("custom.{k}"));
                }
            }
        }
        if let (Some(raw), Some(sealed)) = (&input.id_number, &row.id_number) {
            match &existing.id_number {
                Some(e) if e.bidx == sealed.bidx => {}
                Some(_) => {
                    return Ok(Err((
                        "id_number".into(),
                        "与已有客户的身份证号不一致：导入不会更改身份证号，请在客户资料中修改"
                            .into(),
                    )));
                }
                None => {
                    let probe = vec![vec![('i', sealed.bidx.as_str())]];
                    let other = Reader::unscoped(tx, Unscoped::Duplicates)
                        .first_ids_by_index(&probe)?
                        .into_iter()
                        .flatten()
                        .any(|id| id != existing.id);
                    if other {
                        return Ok(Err((
                            "id_number".into(),
                            "该身份证号已属于另一位客户".into(),
                        )));
                    }
                    let n = crate::domain::id_number::parse(raw, today)
                        .map_err(|e| Error::Internal(format!("a checked ID number: {e}")))?;
                    u.id_number = Some(self.customers().seal_id_number(&existing.id, &n)?);
                    u.gender = Some(n.gender());
                    u.birth_year = Some(chrono::Datelike::year(&n.birth_date()));
                    changed.push("id_number".into());
                }
            }
        }
        if !changed.is_empty() {
            u.updated_at = now;
        }
        Ok(Ok((u, changed)))
    }
}

/// The profile with the row's answered fields written over it, and their dotted names.
fn merged_profile(before: &Profile, row: &Profile) -> Result<(Profile, Vec<String>)> {
    let json = |e: serde_json::Error| Error::Internal(format!("profile merge: {e}"));
    let mut into = serde_json::to_value(before).map_err(json)?;
    let from = serde_json::to_value(row).map_err(json)?;
    let mut fields = Vec::new();
    overlay(&mut into, &from, "profile", &mut fields);
    let merged = serde_json::from_value(into).map_err(json)?;
    Ok((merged, fields))
}

/// Every non-null leaf of `from` written into `into`; the paths that changed are pushed.
fn overlay(into: &mut Value, from: &Value, path: &str, changed: &mut Vec<String>) {
    let (Value::Object(to), Value::Object(src)) = (into, from) else {
        return;
    };
    for (k, v) in src {
        let here = format!("{path}.{k}");
        match v {
            Value::Null => {}
            Value::Object(_) => {
                let slot = to
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if slot.is_null() {
                    *slot = Value::Object(serde_json::Map::new());
                }
                overlay(slot, v, &here, changed);
            }
            _ => {
                if to.get(k) != Some(v) {
                    to.insert(k.clone(), v.clone());
                    changed.push(here);
                }
            }
        }
    }
}
