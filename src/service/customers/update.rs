//! Editing and deleting a customer: a patch applied field by field, the duplicate check when
//! a number changes, the stage on the timeline, consent changes audited on their own.

use serde_json::json;

use super::{CustomerView, shanghai, stage_name};
use crate::crypto::field::Kind;
use crate::domain::capability::Capability;
use crate::domain::custom_field;
use crate::domain::customer::{self, Checked, Customer, CustomerInput};
use crate::service::access::auth::Caller;
use crate::service::context::W;
use crate::service::{Error, Result};

/// The refusal of an edit made on an outdated copy (`edit_conflict`).
const EDIT_CONFLICT: &str = "该客户资料已被他人修改，请重新载入后再改，或确认覆盖";

/// How many of the newest audit entries an edit conflict looks through for what changed.
const CONFLICT_LOOKBACK: usize = 2000;

/// A validated patch: the values to set, the fields to clear, the new follow-up date.
struct Edit {
    input: CustomerInput,
    checked: Checked,
    clear: Vec<&'static str>,
    next_followup_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl crate::service::customers::UseCases<'_> {
    pub fn update_customer(
        &self,
        caller: &Caller,
        id: &str,
        patch: customer::CustomerPatch,
        source: &str,
    ) -> Result<CustomerView> {
        caller.require(Capability::CustomerEdit)?;
        let ctx = self.ctx(caller, source)?;
        let edit = self.validate_edit(&patch, ctx.now)?;
        // A number set on a customer answers whether it is someone else's (409 `duplicate`, or
        // the duplicate flag): a lookup by number like the duplicate check, metered alike.
        let c = &edit.checked;
        let numbers: Vec<String> = c
            .phone
            .iter()
            .chain(c.extra_phones.iter().flatten())
            .map(|m| self.fields.blind_index(Kind::Phone, m.as_str()))
            .chain(
                c.id_number
                    .iter()
                    .flatten()
                    .map(|n| self.fields.blind_index(Kind::IdNumber, n.as_str())),
            )
            .collect();
        self.take_number_lookups(caller, &numbers)?;
        ctx.write(|w| {
            let before = w.live(id)?;
            if let Some(read_at) = patch.expected_updated_at
                && read_at != before.updated_at
            {
                return Err(self.edit_conflict(w, caller, &before, read_at)?);
            }
            let mut c = before.clone();
            let changed = self.apply_edit(w, &edit, &mut c)?;
            self.check_numbers_after_edit(w, &changed, &mut c)?;
            // `updated_at` is the version an edit is checked against: every edit makes a new
            // one, even when the clock has not moved on (or went back) since the last.
            c.updated_at = w
                .now()
                .max(before.updated_at + chrono::Duration::nanoseconds(1));
            w.put(Some(&before), &c)?;
            if c.stage != before.stage {
                w.event(
                    &c.id,
                    "stage_changed",
                    stage_name(before.stage),
                    stage_name(c.stage),
                    None,
                )?;
            }
            // The version the edit made: an edit conflict tells by it which edits came after
            // the copy a client read, also when they share the clock's instant.
            w.audit(
                "customer.updated",
                Some(&c.id),
                json!({"fields": changed, "updated_at": c.updated_at}),
            )?;
            if c.consent != before.consent {
                // PIPL: the legal basis is evidence; each change is kept in the audit chain.
                w.audit(
                    "customer.consent_changed",
                    Some(&c.id),
                    json!({"from": before.consent, "to": c.consent}),
                )?;
            }
            self.viewer(caller).view(&c)
        })
    }

    /// The refusal of an edit made on a copy read at `read_at`, older than the record: which
    /// fields changed since (from the audit log's recent entries about it and the customer's
    /// timeline and follow-ups), who changed it
    /// last, and the record as it is now (as this caller may see it), so the client shows the
    /// other person's values and lets the user reload or overwrite on purpose.
    fn edit_conflict(
        &self,
        w: &W<'_>,
        caller: &Caller,
        now_is: &Customer,
        read_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Error> {
        let entries =
            crate::store::audit::recent_about(w.tx, &now_is.id, read_at, CONFLICT_LOOKBACK)?;
        let mut fields: Vec<String> = Vec::new();
        // Edits name the version they made; other changes count when made after the read.
        let after_read = |e: &crate::store::audit::AuditEntry| match e.action.as_str() {
            "customer.updated" => e.detail["updated_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or(e.at > read_at, |v| v.with_timezone(&chrono::Utc) > read_at),
            _ => e.at > read_at,
        };
        // Only the entries that changed the record count: a reveal or a lock since the read is
        // not a change, and naming its actor would tell who looked.
        let changes: Vec<_> = entries
            .iter()
            .filter(|e| after_read(e))
            .filter_map(|e| fields_changed(e).map(|named| (e, named)))
            .collect();
        // (when, who, what) of every change since the read, oldest first.
        let mut since: Vec<(chrono::DateTime<chrono::Utc>, Option<String>, Vec<String>)> = changes
            .iter()
            .rev()
            .map(|(e, named)| (e.at, e.actor_id.clone(), named.clone()))
            .collect();
        // Changes with no audit entry about the customer, from its own timeline: a deal's
        // stage move carried over to the customer (the entry names the deal) and a follow-up
        // (it sets the next contact).
        let reader = w.customers();
        for e in reader.events(now_is)? {
            if e.at > read_at && e.kind == "stage_changed" {
                since.push((e.at, Some(e.actor_id), vec!["stage".to_string()]));
            }
        }
        for f in reader.followups(now_is)? {
            if f.created_at > read_at {
                since.push((
                    f.created_at,
                    Some(f.author_id),
                    vec!["next_followup_at".to_string()],
                ));
            }
        }
        since.sort_by_key(|(at, _, _)| *at);
        for (_, _, named) in &since {
            for f in named {
                if !fields.contains(f) {
                    fields.push(f.clone());
                }
            }
        }
        // Who changed it last: the newest change's author.
        let by = match since.last().and_then(|(_, who, _)| who.as_deref()) {
            Some(u) => crate::store::users::find_by_id_w(w.tx, u)?.map(|u| u.display_name),
            None => None,
        };
        let current = serde_json::to_value(self.viewer(caller).view(now_is)?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Error::Refused {
            code: "edit_conflict",
            message: EDIT_CONFLICT.into(),
            details: json!({
                "fields": fields,
                "updated_at": now_is.updated_at,
                "updated_by": by,
                "current": current,
            }),
        })
    }

    /// Phase 1, before any read: the patch's shape and values.
    fn validate_edit(
        &self,
        patch: &customer::CustomerPatch,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Edit> {
        let (input, clear) = patch.split().map_err(|(f, r)| Error::validation(f, r))?;
        let next_followup_at = patch.next_followup_at.flatten();
        if let Some(at) = next_followup_at {
            crate::domain::followup::check_next_at(at, now)
                .map_err(|r| Error::validation("next_followup_at", r))?;
        }
        let checked = customer::check(&input, false, now.with_timezone(&shanghai()).date_naive())
            .map_err(|(f, r)| Error::validation(f, r))?;
        if input.owner_id.is_some() {
            return Err(Error::validation("owner_id", "请使用转移功能更换负责人"));
        }
        Ok(Edit {
            input,
            checked,
            clear,
            next_followup_at,
        })
    }

    /// Phase 2: the patch applied to the record; returns the names of the changed fields.
    fn apply_edit(&self, w: &W<'_>, e: &Edit, c: &mut Customer) -> Result<Vec<&'static str>> {
        let input = &e.input;
        let mut changed: Vec<&'static str> = Vec::new();
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
        if let Some(p) = &e.checked.phone {
            c.phone = self.seal_phone(&c.id, "phone", p)?;
            changed.push("phone");
        }
        if let Some(list) = &e.checked.extra_phones {
            c.extra_phones = list
                .iter()
                .enumerate()
                .map(|(i, m)| self.seal_phone(&c.id, &format!("extra_phones.{i}"), m))
                .collect::<Result<_>>()?;
            changed.push("extra_phones");
        }
        if let Some(n) = &e.checked.id_number {
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
        set!(notes);
        set!(tags);
        set!(demand);
        set!(profile);
        set!(consent);
        if let Some(values) = &input.custom {
            apply_custom(w, values, c)?;
            changed.push("custom");
        }
        if let Some(at) = e.next_followup_at {
            c.next_followup_at = Some(at);
            changed.push("next_followup_at");
        }
        for f in &e.clear {
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
                "notes" => c.notes = None,
                "consent" => c.consent = None,
                "next_followup_at" => c.next_followup_at = None,
                _ => {}
            }
            changed.push(f);
        }
        Ok(changed)
    }

    /// Phase 3: a changed phone or ID number that belongs to another customer is refused or
    /// flagged, as `customers.on_duplicate` says.
    fn check_numbers_after_edit(
        &self,
        w: &W<'_>,
        changed: &[&'static str],
        c: &mut Customer,
    ) -> Result<()> {
        let numbers_changed = changed
            .iter()
            .any(|f| ["phone", "extra_phones", "id_number"].contains(f));
        if !numbers_changed || Self::exact_matches(w.tx, c)?.is_empty() {
            return Ok(());
        }
        if self.config.customers.on_duplicate == "refuse" {
            return Err(Error::Conflict {
                code: "duplicate",
                message: "该号码已属于另一位客户".into(),
            });
        }
        c.duplicate_flag = true;
        Ok(())
    }

    /// Moves a customer to the recycle bin.
    pub fn delete_customer(&self, caller: &Caller, id: &str, source: &str) -> Result<()> {
        caller.require(Capability::CustomerDelete)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let before = w.live(id)?;
            let mut c = before.clone();
            c.deleted_at = Some(w.now());
            c.updated_at = w.now();
            w.put(Some(&before), &c)?;
            w.audit("customer.deleted", Some(&c.id), json!({}))
        })
    }
}

/// Custom values of a patch: given keys set (validated against the definitions), keys given
/// empty removed; a required field cannot be emptied.
fn apply_custom(
    w: &W<'_>,
    values: &std::collections::BTreeMap<String, serde_json::Value>,
    c: &mut Customer,
) -> Result<()> {
    let defs = super::settings::custom_fields_w(w.tx)?;
    let given = custom_field::validate_map(&defs, values, false)
        .map_err(|(f, r)| Error::validation(f, r))?;
    for k in values.keys() {
        match given.get(k) {
            Some(v) => c.custom.insert(k.clone(), v.clone()),
            None => c.custom.remove(k),
        };
    }
    if let Some(d) = defs.iter().find(|d| {
        d.active && d.required && values.contains_key(&d.key) && !c.custom.contains_key(&d.key)
    }) {
        return Err(Error::validation(
            format!("custom.{}", d.key),
            format!("{}不能为空", d.label),
        ));
    }
    Ok(())
}

/// The customer fields an audit entry says it changed; `None` for an entry that changed
/// nothing in the record (a reveal, a lock).
fn fields_changed(e: &crate::store::audit::AuditEntry) -> Option<Vec<String>> {
    match e.action.as_str() {
        "customer.updated" => Some(
            e.detail["fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "customer.transferred"
        | "customer.assigned"
        | "customer.claimed"
        | "customer.released"
        | "customer.recalled" => Some(vec!["owner_id".into()]),
        _ => None,
    }
}
