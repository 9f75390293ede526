//! The duplicate check staff run before entering a customer (撞单), and revealing a masked
//! field. Both answer within the caller's scope and never leak an out-of-scope record.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto::field::Kind;
use crate::domain::capability::{Capability, FieldPrivilege};
use crate::domain::customer::{self, Customer};
use crate::service::access::auth::Caller;
use crate::service::customers::shanghai;
use crate::service::{Error, Result, access::audit};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{self, customers, users};

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DuplicateQuery {
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicateMatch {
    /// `phone`, `id_number` (exact) or `name` (possible, same name).
    pub by: &'static str,
    /// Only when the caller may open the record.
    pub customer_id: Option<String>,
    /// Masked unless in the caller's scope.
    pub name: String,
    /// The owner's display name, masked unless in scope; `null` when in a pool.
    pub owner: Option<String>,
    pub in_recycle_bin: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicateAnswer {
    pub exists: bool,
    pub matches: Vec<DuplicateMatch>,
}

/// Which fields `unmask` can reveal.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevealField {
    Phone,
    IdNumber,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub value: String,
    /// Reveals left today, when the role has a quota.
    pub remaining_today: Option<u64>,
}

/// Whether `caller` reads phones and ID numbers in full without a quota: for them a lookup by
/// number confirms nothing they could not read, and it is not metered.
fn reads_numbers_freely(caller: &Caller) -> bool {
    caller.has(FieldPrivilege::PhoneViewFull)
        && caller.has(FieldPrivilege::IdNumberViewFull)
        && caller.access.daily_reveal_quota.is_none()
}

impl crate::service::App {
    /// Meters lookups by a full phone or ID number, or an ID number's last six digits (the
    /// duplicate check, search, the list's `q`), given as keyed hashes (blind indexes, see
    /// [`App::id_tail_key`]). Each one confirms or rules out a number, and
    /// a reader who sees a number masked knows all of it but a few digits: about 30 guesses
    /// complete an ID number whose age is shown, 10,000 a phone. So each user has an allowance
    /// per minute (`customers.number_lookups_per_minute`, 429) and per 24 hours
    /// (`customers.number_lookups_per_day`, 422 `number_lookup_quota_exceeded`, audited so the
    /// administrator sees who ran out). What is metered is distinct numbers: a number the user
    /// already looked up in the current 24-hour window tells them nothing new (the list page
    /// and its stage counts send the same `q`), and is not counted again. Kept in memory, as
    /// the hashes alone: a restart forgives the count.
    pub(crate) fn take_number_lookups(&self, caller: &Caller, numbers: &[String]) -> Result<()> {
        if numbers.is_empty() || reads_numbers_freely(caller) {
            return Ok(());
        }
        let cfg = &self.config.customers;
        let now = self.now();
        let day = chrono::Duration::days(1);
        let fresh = self.looked_up.fresh(&caller.user.id, numbers, day, now);
        if fresh.is_empty() {
            return Ok(());
        }
        let n = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
        let key = format!("lookup/{}", caller.user.id);
        let day_key = format!("{key}/day");
        let per_day = u64::from(cfg.number_lookups_per_day);
        if self
            .limits
            .would_take(&day_key, u64::from(n), per_day, day, now)
            .is_err()
        {
            // Audited once per window: the refusals that follow add nothing the admin needs.
            let first = self
                .limits
                .take(&format!("{key}/reported"), 1, 1, day, now)
                .is_ok();
            if first {
                self.store.write(|tx| {
                    audit::record(
                        tx,
                        now,
                        audit::by_user(
                            &caller.user,
                            "customer.number_lookups_exhausted",
                            "-",
                            None,
                            json!({"per_day": per_day}),
                        ),
                    )
                })?;
            }
            return Err(Error::Unprocessable {
                code: "number_lookup_quota_exceeded",
                message: format!(
                    "24 小时内按完整手机号、身份证号（或身份证后六位）查询的次数已用完（{per_day}次）；如需更多，请联系管理员"
                ),
            });
        }
        self.limits
            .take(
                &key,
                u64::from(n),
                u64::from(cfg.number_lookups_per_minute),
                chrono::Duration::minutes(1),
                now,
            )
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })?;
        self.limits
            .take(&day_key, u64::from(n), per_day, day, now)
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })?;
        let cap = usize::try_from(per_day).unwrap_or(usize::MAX);
        self.looked_up
            .remember(&caller.user.id, fresh, day, now, cap);
        Ok(())
    }

    /// The keyed hash of an ID number's last six digits typed as a search word (metered like
    /// a full number): the blind index's key, in a domain of its own.
    pub(crate) fn id_tail_key(&self, tail: &str) -> String {
        self.fields.blind_index(
            Kind::IdNumber,
            &format!("tail:{}", tail.to_ascii_uppercase()),
        )
    }
}

impl crate::service::customers::UseCases<'_> {
    /// Does this person exist already? Tells who owns them without revealing the record.
    pub fn check_duplicate(&self, caller: &Caller, q: &DuplicateQuery) -> Result<DuplicateAnswer> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.scope_of(caller)?;
        let today = self.now().with_timezone(&shanghai()).date_naive();
        let mut probes: Vec<(&'static str, char, String)> = Vec::new();
        if let Some(p) = q.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            let m = crate::domain::phone::parse(p)
                .map_err(|e| Error::validation("phone", e.to_string()))?;
            probes.push((
                "phone",
                'p',
                self.fields.blind_index(Kind::Phone, m.as_str()),
            ));
        }
        if let Some(i) = q.id_number.as_deref().filter(|i| !i.trim().is_empty()) {
            let n = crate::domain::id_number::parse(i, today)
                .map_err(|e| Error::validation("id_number", e.to_string()))?;
            probes.push((
                "id_number",
                'i',
                self.fields.blind_index(Kind::IdNumber, n.as_str()),
            ));
        }
        let name = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if probes.is_empty() && name.is_none() {
            return Err(Error::validation(
                "phone",
                "请至少提供手机号、身份证号或姓名之一",
            ));
        }
        let numbers: Vec<String> = probes.iter().map(|(_, _, b)| b.clone()).collect();
        self.take_number_lookups(caller, &numbers)?;
        // Firm-wide: a duplicate may be anyone's; what the caller sees of it is decided below.
        let found: Vec<(&'static str, Customer, Option<String>)> = self.store.read(|tx| {
            let all = Reader::unscoped(tx, Unscoped::Duplicates);
            let mut out: Vec<(&'static str, Customer, Option<String>)> = Vec::new();
            for (by, kind, bidx) in &probes {
                for id in all.ids_by_index(*kind, bidx)? {
                    if out.iter().any(|(_, c, _)| c.id == id) {
                        continue;
                    }
                    if let Some(c) = all.any(&id)? {
                        let owner = match c.owner_id.as_deref() {
                            Some(o) => users::get(tx, o)?.map(|u| u.display_name),
                            None => None,
                        };
                        out.push((by, c, owner));
                    }
                }
            }
            Ok::<_, Error>(out)
        })?;
        let mut found = found;
        if let Some(name) = name {
            // The exact-name keys, not every record: at most 20, compared in full.
            let same_name: Vec<Customer> = self.store.read(|tx| {
                let mut out = Vec::new();
                let all = Reader::unscoped(tx, Unscoped::Duplicates);
                for id in all.ids_by_name(name, 40)? {
                    if let Some(c) = all.any(&id)?
                        && c.name == name
                        && out.len() < 20
                    {
                        out.push(c);
                    }
                }
                Ok::<_, Error>(out)
            })?;
            let owners: Vec<Option<String>> = self.store.read(|tx| {
                same_name
                    .iter()
                    .map(|c| match c.owner_id.as_deref() {
                        Some(o) => Ok(users::get(tx, o)?.map(|u| u.display_name)),
                        None => Ok(None),
                    })
                    .collect::<std::result::Result<Vec<_>, store::Error>>()
            })?;
            for (c, owner) in same_name.into_iter().zip(owners) {
                if !found.iter().any(|(_, f, _)| f.id == c.id) {
                    found.push(("name", c, owner));
                }
            }
        }
        let matches: Vec<DuplicateMatch> = found
            .into_iter()
            .map(|(by, c, owner)| {
                let visible = scope.can_see(&c) && c.deleted_at.is_none();
                DuplicateMatch {
                    by,
                    customer_id: visible.then(|| c.id.clone()),
                    name: if visible {
                        c.name.clone()
                    } else {
                        customer::mask_name(&c.name)
                    },
                    owner: owner.map(|o| if visible { o } else { customer::mask_name(&o) }),
                    in_recycle_bin: c.deleted_at.is_some(),
                }
            })
            .collect();
        Ok(DuplicateAnswer {
            exists: matches.iter().any(|m| m.by != "name"),
            matches,
        })
    }

    /// Reveals a sensitive field in full: needs the field privilege, counts against the daily
    /// quota, and is audited with who, what, when and from where.
    pub fn unmask(
        &self,
        caller: &Caller,
        id: &str,
        field: RevealField,
        source: &str,
    ) -> Result<Revealed> {
        let c = self.visible_customer(caller, id)?;
        let owner = c.owner_id.as_deref() == Some(caller.user.id.as_str());
        // The basis of the reveal, kept in the audit row: a privilege over every visible
        // customer, or ownership (`phone.view_own`, the phone of one's own customers only).
        let (basis, sealed, name) = match field {
            RevealField::Phone if caller.has(FieldPrivilege::PhoneViewFull) => {
                ("phone.view_full", Some(c.phone.clone()), "phone")
            }
            RevealField::Phone if owner && caller.has(FieldPrivilege::PhoneViewOwn) => {
                ("phone.view_own", Some(c.phone.clone()), "phone")
            }
            RevealField::Phone => {
                return Err(Error::Forbidden(
                    FieldPrivilege::PhoneViewFull.as_str().into(),
                ));
            }
            RevealField::IdNumber if caller.has(FieldPrivilege::IdNumberViewFull) => {
                ("id_number.view_full", c.id_number.clone(), "id_number")
            }
            RevealField::IdNumber => {
                return Err(Error::Forbidden(
                    FieldPrivilege::IdNumberViewFull.as_str().into(),
                ));
            }
        };
        let sealed = sealed.ok_or(Error::NotFound)?;
        let value = self
            .fields
            .decrypt(&c.id, name, &sealed.enc)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let now = self.now();
        let day = now
            .with_timezone(&shanghai())
            .format("%Y-%m-%d")
            .to_string();
        // Own-phone reveals have their own quota and count (a salesperson role's allowance
        // never adds to a manager role's full reveals).
        let (quota, counter) = if basis == "phone.view_own" {
            (
                caller.access.own_phone_quota,
                format!("{}/own", caller.user.id),
            )
        } else {
            (caller.access.daily_reveal_quota, caller.user.id.clone())
        };
        let quota = quota.map(u64::from);
        let used = self.store.write(|tx| {
            let used = customers::add_reveal(tx, &counter, &day)?;
            if quota.is_some_and(|q| used > q) {
                return Err(Error::Unprocessable {
                    code: "reveal_quota_exceeded",
                    message: format!(
                        "今日查看完整信息的次数已用完（每日{}次）",
                        quota.unwrap_or(0)
                    ),
                });
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "customer.revealed",
                    source,
                    Some(c.id.clone()),
                    json!({"field": name, "basis": basis}),
                ),
            )?;
            Ok(used)
        })?;
        Ok(Revealed {
            value,
            remaining_today: quota.map(|q| q.saturating_sub(used)),
        })
    }
}
