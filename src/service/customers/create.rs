//! Creating a customer: validation, sealing the sensitive values under the new id, the
//! firm-wide duplicate check, placement (auto-assignment or the caller's pool), and the
//! record, timeline event and audit row in one transaction.

use chrono::Utc;
use serde_json::json;

use super::{CustomerView, shanghai};
use crate::crypto::field::Kind;
use crate::domain::capability::Capability;
use crate::domain::custom_field;
use crate::domain::customer::{self, Customer, CustomerInput, Sealed, Stage};
use crate::domain::phone::Mobile;
use crate::service::access::auth::Caller;
use crate::service::context::W;
use crate::service::{Error, Result, new_id};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{WriteTransaction, users};

impl crate::service::customers::UseCases<'_> {
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
            lead: match kind {
                Kind::Phone => self.fields.lead_index(plain),
                _ => String::new(),
            },
            masked,
            tail: tail.to_string(),
        })
    }

    pub(crate) fn seal_id_number(
        &self,
        id: &str,
        n: &crate::domain::id_number::IdNumber,
    ) -> Result<Sealed> {
        self.seal(
            id,
            "id_number",
            Kind::IdNumber,
            n.as_str(),
            n.masked(),
            n.last4(),
        )
    }

    pub(super) fn seal_phone(&self, id: &str, field: &str, m: &Mobile) -> Result<Sealed> {
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
        let all = Reader::unscoped(tx, Unscoped::Duplicates);
        for (by, kind, bidx) in probes {
            for id in all.ids_by_index(kind, bidx)? {
                if id == c.id || out.iter().any(|(_, m)| m.id == id) {
                    continue;
                }
                if let Some(m) = all.any(&id)? {
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
            broker_id: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            held_since: None,
            locked: false,
            pool_entered_at: None,
            previous_owner_id: None,
            pool_reason: None,
            notes: input.notes.clone().filter(|n| !n.trim().is_empty()),
            entered_at: input.entered_at,
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
        let ctx = self.ctx(caller, source)?;
        let now = ctx.now;
        let checked = customer::check(&input, true, now.with_timezone(&shanghai()).date_naive())
            .map_err(|(f, r)| Error::validation(f, r))?;
        let named = input.owner_id.as_deref().filter(|o| !o.is_empty());
        let auto =
            self.pools()
                .new_lead_assign_mode(caller, input.assign.as_deref(), named.is_some())?;
        let owner_id = match named {
            _ if auto.is_some() => None,
            Some(o) if o != caller.user.id => {
                caller.require(Capability::CustomerTransfer)?;
                Some(o.to_string())
            }
            _ => Some(caller.user.id.clone()),
        };
        let mut c = self.new_record(&input, checked, owner_id, &caller.user.id, now)?;
        ctx.write(|w| {
            let defs = crate::service::customers::settings::custom_fields_w(w.tx)?;
            c.custom = custom_field::validate_map(&defs, &c.custom, true)
                .map_err(|(f, r)| Error::validation(f, r))?;
            match c.owner_id.as_deref() {
                // Someone else named: the rule for every hand-over.
                Some(owner) if owner != caller.user.id => {
                    crate::service::customers::recipient::recipient(
                        w.tx, &ctx.scope, owner, "owner_id",
                    )?;
                }
                Some(owner) => {
                    let ok = users::find_by_id_w(w.tx, owner)?
                        .is_some_and(|u| u.status == crate::domain::org::UserStatus::Active);
                    if !ok {
                        return Err(Error::validation("owner_id", "负责人不存在或已停用"));
                    }
                }
                None => {}
            }
            self.refuse_or_flag_duplicate(w, &mut c)?;
            let placed = match &auto {
                Some(mode) => {
                    let mut picker = self
                        .pools()
                        .picker(w.tx, caller, &ctx.scope, mode.clone())?;
                    let fallback =
                        crate::service::pools::UseCases::caller_pool(w.tx, &caller.user)?;
                    let user = &caller.user;
                    Some(self.pools().place_new(
                        w.tx,
                        &mut picker,
                        &mut c,
                        fallback.as_ref(),
                        user,
                        now,
                    )?)
                }
                None => None,
            };
            w.put(None, &c)?;
            w.event(
                &c.id,
                "created",
                None,
                c.owner_id.clone(),
                c.channel.clone(),
            )?;
            w.audit(
                "customer.created",
                Some(&c.id),
                json!({"owner_id": c.owner_id, "pool_id": c.pool_id, "channel": c.channel,
                       "duplicate_flag": c.duplicate_flag}),
            )?;
            if let (Some((placed, reason)), Some(mode)) = (placed, &auto) {
                // Like a manager's assignment: on the timeline with the rule's reason, audited.
                let (kind, to) = placed.event(&c);
                w.event(&c.id, kind, None, Some(to), Some(reason.clone()))?;
                w.audit(
                    "customer.assigned",
                    Some(&c.id),
                    json!({"from": null, "to": c.owner_id, "pool_id": c.pool_id, "mode": mode,
                           "reason": reason, "new": true}),
                )?;
            }
            Ok(())
        })?;
        self.viewer(caller).view(&c)
    }

    /// A new record sharing a phone or ID number with an existing one is refused or flagged,
    /// as `customers.on_duplicate` says. Inside the write transaction: redb runs one writer
    /// at a time, so two concurrent creates of the same phone cannot both pass.
    fn refuse_or_flag_duplicate(&self, w: &W<'_>, c: &mut Customer) -> Result<()> {
        let dups = Self::exact_matches(w.tx, c)?;
        let Some((by, first)) = dups.first() else {
            return Ok(());
        };
        if self.config.customers.on_duplicate != "refuse" {
            c.duplicate_flag = true;
            return Ok(());
        }
        // Named in full to those who may see the existing record, masked to others.
        let visible = w.scope().can_see(first) && first.deleted_at.is_none();
        let owner = Self::owner_name(w.tx, first.owner_id.as_deref())?
            .map(|n| if visible { n } else { customer::mask_name(&n) })
            .unwrap_or_else(|| "公海".into());
        let what = if *by == "phone" {
            "手机号"
        } else {
            "身份证号"
        };
        Err(Error::Conflict {
            code: "duplicate",
            message: format!("该{what}的客户已存在（负责人：{owner}），请勿重复录入"),
        })
    }
}
