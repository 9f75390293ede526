//! The public online application (在线申请, no login): the form as served, with a signed
//! fill-time ticket, and a submission. Anti-abuse without third parties: a honeypot field, the
//! minimum fill time (the ticket's HMAC proves when the page was served), per-address and
//! per-phone rate limits, and the body limit of the route. Every refusal writes nothing.
//!
//! A new phone becomes one customer through the normal create path (sealed, indexed, counted,
//! placed by the assignment rule, the officer's new-lead notice) with the consent versions on
//! the record and in the submission; a phone the firm already has adds an `applied` event to
//! that customer and a notice to its owner, never a second record. The submission acts as the
//! form's account (`Form::acting_user_id`): its scope offers the assignment candidates.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::forms::SENSITIVE;
use crate::domain::customer::{self, Consent, CustomerInput};
use crate::domain::profile::{Demand, Profile};
use crate::service::access::audit;
use crate::service::access::auth::{Caller, CallerAuth, access_of};
use crate::service::customers::shanghai;
use crate::service::{Error, Result, new_id};
use crate::store::applications::{self, Form, Submission};
use crate::store::{notices, users};

/// A ticket older than this is refused (the page was left open too long): reload.
const TICKET_HOURS: i64 = 2;

/// What the visitor sends. Unknown fields are ignored (a browser sends the submit button).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Application {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub city: Option<String>,
    /// 万元.
    #[serde(default)]
    pub amount: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// 元 per month.
    #[serde(default)]
    pub monthly_income: Option<String>,
    /// `yes` / `no`.
    #[serde(default)]
    pub has_property: Option<String>,
    #[serde(default)]
    pub has_car: Option<String>,
    /// A checkbox: ticked is `v<version>` (the version the page showed, what the form sends),
    /// `on`, `true`, `1` or `yes`; absent or empty is not ticked; anything else is refused.
    #[serde(default)]
    pub consent_general: Option<String>,
    #[serde(default)]
    pub consent_sensitive: Option<String>,
    /// The signed fill-time ticket served with the page.
    #[serde(default)]
    pub ticket: String,
    /// The honeypot: hidden from people, filled by bots.
    #[serde(default)]
    pub website: Option<String>,
}

/// The answer to an accepted submission: nothing about the firm's records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub ok: bool,
}

fn refused(code: &'static str, message: &str) -> Error {
    Error::Refused {
        code,
        message: message.into(),
        details: json!({}),
    }
}

fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn yes_no(field: &str, v: &Option<String>) -> Result<Option<bool>> {
    match opt(v) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(_) => Err(Error::validation(field, "请选择有或没有")),
    }
}

fn number(field: &str, v: &Option<String>, min: i64, max: i64) -> Result<Option<i64>> {
    match opt(v) {
        None => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::validation(field, "请填写合理的数字")),
        },
    }
}

/// A consent checkbox: `None` not ticked, `Some(None)` ticked, `Some(Some(v))` ticked for the
/// text of version `v` (what the page sends). An explicit no (`false`, `off`, `0`, `no`, as a
/// JSON client sends an unticked box) is not ticked; whether that is acceptable is the
/// caller's to say (the sensitive consent is needed only with sensitive answers). Anything else
/// is refused.
fn consent(field: &str, v: &Option<String>) -> Result<Option<Option<u32>>> {
    let Some(s) = opt(v) else { return Ok(None) };
    if let Some(n) = s.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) {
        return Ok(Some(Some(n)));
    }
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(Some(None)),
        "off" | "false" | "0" | "no" => Ok(None),
        _ => Err(Error::validation(
            field,
            "未表示同意：勾选即同意（on、true、1 或页面给出的版本号），不同意请留空或填 false",
        )),
    }
}

/// The consent versions a page showed, as its ticket carries them.
struct Shown {
    general: u32,
    sensitive: u32,
}

fn outdated() -> Error {
    refused(
        "consent_outdated",
        "个人信息处理规则已更新，请阅读新的内容后重新勾选并提交",
    )
}

impl crate::service::leads::UseCases<'_> {
    /// An active form by its slug (inactive or absent: not found).
    pub fn public_form(&self, slug: &str) -> Result<Form> {
        self.store.read(|tx| {
            applications::by_slug(tx, slug)?
                .filter(|f| f.active)
                .ok_or(Error::NotFound)
        })
    }

    /// The fill-time ticket of a page of `form` served now, with the consent versions the page
    /// shows: `<unix seconds>.<general>.<sensitive>.<mac>`.
    pub fn ticket(&self, form: &Form) -> String {
        let t = self.now().timestamp();
        let (g, s) = (form.consent_general.version, form.consent_sensitive.version);
        let mac = self
            .fields
            .ticket_mac(&format!("{}\0{t}\0{g}\0{s}", form.id));
        format!("{t}.{g}.{s}.{mac}")
    }

    fn check_ticket(&self, form: &Form, ticket: &str) -> Result<Shown> {
        let invalid = || refused("apply_ticket_invalid", "页面已过期，请刷新后重新填写");
        let mut parts = ticket.splitn(4, '.');
        let mut next = || parts.next().ok_or_else(invalid);
        let (t, g, s, mac) = (next()?, next()?, next()?, next()?);
        let secs: i64 = t.parse().map_err(|_| invalid())?;
        let general: u32 = g.parse().map_err(|_| invalid())?;
        let sensitive: u32 = s.parse().map_err(|_| invalid())?;
        let expected = self
            .fields
            .ticket_mac(&format!("{}\0{secs}\0{general}\0{sensitive}", form.id));
        if !crate::crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return Err(invalid());
        }
        let age = self.now().timestamp() - secs;
        if !(-60..=TICKET_HOURS * 3600).contains(&age) {
            return Err(invalid());
        }
        if age < i64::from(form.min_fill_seconds) {
            return Err(refused(
                "apply_too_fast",
                "提交过快，请确认填写内容后再提交",
            ));
        }
        Ok(Shown { general, sensitive })
    }

    fn take(&self, key: String, limit: u32, window: Duration) -> Result<()> {
        self.limits
            .take(&key, 1, u64::from(limit), window, self.now())
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })
    }

    /// A visitor's application to the form `slug` from `source` (the client address).
    pub fn submit(&self, slug: &str, a: Application, source: &str) -> Result<Accepted> {
        let form = self.public_form(slug)?;
        if opt(&a.website).is_some() {
            return Err(refused("apply_refused", "提交未被接受"));
        }
        let shown = self.check_ticket(&form, &a.ticket)?;
        let cfg = &self.config.leads;
        self.take(
            format!("apply/addr/{source}"),
            cfg.apply_per_address_per_hour,
            Duration::hours(1),
        )?;
        let phone = crate::domain::phone::parse(&a.phone)
            .map_err(|e| Error::validation("phone", e.to_string()))?;
        let general = consent("consent_general", &a.consent_general)?;
        let sensitive = consent("consent_sensitive", &a.consent_sensitive)?;
        let Some(general) = general else {
            return Err(Error::validation(
                "consent_general",
                "请阅读并同意个人信息处理规则",
            ));
        };
        let asks = |f: &str| form.fields.iter().any(|x| x == f);
        // A field the form does not ask is not stored: say so rather than drop it.
        for (f, v) in [
            ("name", &a.name),
            ("city", &a.city),
            ("amount", &a.amount),
            ("purpose", &a.purpose),
            ("monthly_income", &a.monthly_income),
            ("has_property", &a.has_property),
            ("has_car", &a.has_car),
        ] {
            if !asks(f) && opt(v).is_some() {
                return Err(Error::validation(f, "此申请表不收集这一项"));
            }
        }
        let answer = |f: &str| match f {
            "monthly_income" => opt(&a.monthly_income),
            "has_property" => opt(&a.has_property),
            "has_car" => opt(&a.has_car),
            _ => None,
        };
        let sensitive_given = SENSITIVE.iter().any(|f| asks(f) && answer(f).is_some());
        let sensitive_consent = sensitive.is_some();
        if sensitive_given && !sensitive_consent {
            return Err(Error::validation(
                "consent_sensitive",
                "填写收入、房产或车辆信息需单独同意处理敏感个人信息",
            ));
        }
        // The consent recorded is the text the visitor saw: the page's versions (its ticket,
        // and the version the checkbox sends) must still be the form's.
        let current = (form.consent_general.version, form.consent_sensitive.version);
        if shown.general != current.0 || general.is_some_and(|v| v != current.0) {
            return Err(outdated());
        }
        if sensitive_consent
            && (shown.sensitive != current.1 || sensitive.flatten().is_some_and(|v| v != current.1))
        {
            return Err(outdated());
        }
        let pick = |f: &str, v: &Option<String>| -> Option<String> {
            asks(f).then(|| opt(v).map(str::to_string)).flatten()
        };
        let amount_wan = if asks("amount") {
            number("amount", &a.amount, 1, 100_000)?
        } else {
            None
        };
        let income = if asks("monthly_income") {
            number("monthly_income", &a.monthly_income, 0, 10_000_000)?
        } else {
            None
        };
        let has_property = if asks("has_property") {
            yes_no("has_property", &a.has_property)?
        } else {
            None
        };
        let has_car = if asks("has_car") {
            yes_no("has_car", &a.has_car)?
        } else {
            None
        };
        let now = self.now();
        let versions = json!({"form": form.slug,
            "consent_general_version": form.consent_general.version,
            "consent_sensitive_version": sensitive_consent.then_some(form.consent_sensitive.version)});
        let input = CustomerInput {
            // A record needs a name: a form that does not ask it (or a visitor who left it
            // empty) gets one the officer recognises and corrects on the first call.
            name: Some(
                pick("name", &a.name).unwrap_or_else(|| format!("在线申请{}", phone.last4())),
            ),
            phone: Some(phone.as_str().to_string()),
            city: pick("city", &a.city),
            channel: Some(form.channel.clone()),
            demand: Some(Demand {
                amount_fen: amount_wan.map(|w| w * 1_000_000),
                term_months: None,
                purpose: pick("purpose", &a.purpose),
            }),
            profile: Some(Profile {
                monthly_income_fen: income.map(|y| y * 100),
                has_property,
                has_car,
                ..Default::default()
            }),
            consent: Some(Consent {
                basis: "consent".into(),
                notice_version: Some(format!(
                    "{}: general v{}{}",
                    form.slug,
                    form.consent_general.version,
                    if sensitive_consent {
                        format!(", sensitive v{}", form.consent_sensitive.version)
                    } else {
                        String::new()
                    }
                )),
                channel: Some(format!("apply:{}", form.slug)),
                at: now,
            }),
            ..Default::default()
        };
        let today = now.with_timezone(&shanghai()).date_naive();
        let checked =
            customer::check(&input, true, today).map_err(|(f, r)| Error::validation(f, r))?;
        self.take(
            format!(
                "apply/phone/{}",
                self.fields
                    .blind_index(crate::crypto::field::Kind::Phone, phone.as_str())
            ),
            cfg.apply_per_phone_per_day,
            Duration::days(1),
        )?;

        // The form's account: whose scope the assignment picks from.
        let acting = self.store.read(|tx| {
            let user = users::get(tx, &form.acting_user_id)?
                .filter(|u| u.status == crate::domain::org::UserStatus::Active)
                .ok_or_else(|| Error::Unavailable {
                    code: "apply_form_unavailable",
                    message: "该申请表暂不可用，请联系我们".into(),
                })?;
            let access = access_of(tx, &user)?;
            Ok::<_, Error>(Caller {
                user,
                access,
                auth: CallerAuth::Token {
                    id: format!("apply:{}", form.id),
                },
            })
        })?;
        let customers = self.customers();
        let mut c = customers.new_record(&input, checked, None, &acting.user.id, now)?;
        let ctx = self.ctx(&acting, source)?;
        let anonymous = |action: &'static str, target: &str, detail: serde_json::Value| {
            crate::store::audit::NewAudit {
                target: Some(target.to_string()),
                ..audit::anonymous(&format!("在线申请 {}", form.slug), action, source, detail)
            }
        };
        ctx.write(|w| {
            let matches = crate::service::customers::UseCases::exact_matches(w.tx, &c)?;
            let existing = matches
                .iter()
                .map(|(_, m)| m)
                .find(|m| m.deleted_at.is_none())
                .or_else(|| matches.first().map(|(_, m)| m));
            let (customer_id, new_customer) = match existing {
                Some(m) => {
                    w.event(&m.id, "applied", None, None, Some(form.title.clone()))?;
                    if let (Some(owner), None) = (m.owner_id.as_deref(), m.deleted_at) {
                        notices::push(w.tx, owner, "applied", &m.id, None, now)?;
                    }
                    (m.id.clone(), false)
                }
                None => {
                    let mode = self.pools().assign_mode(None, "assign")?;
                    let mut picker =
                        self.pools()
                            .picker(w.tx, &acting, &ctx.scope, mode.clone())?;
                    let fallback =
                        crate::service::pools::UseCases::caller_pool(w.tx, &acting.user)?;
                    let (placed, reason) = self.pools().place_new(
                        w.tx,
                        &mut picker,
                        &mut c,
                        fallback.as_ref(),
                        &acting.user,
                        now,
                    )?;
                    // Written by nobody in particular: the officer's notice says "the system".
                    crate::store::customers::put_by(w.tx, None, &c, None)?;
                    w.event(
                        &c.id,
                        "created",
                        None,
                        c.owner_id.clone(),
                        c.channel.clone(),
                    )?;
                    let (kind, to) = placed.event(&c);
                    w.event(&c.id, kind, None, Some(to), Some(reason.clone()))?;
                    audit::record(
                        w.tx,
                        now,
                        anonymous(
                            "customer.created",
                            &c.id,
                            json!({"owner_id": c.owner_id, "pool_id": c.pool_id,
                                   "channel": c.channel, "duplicate_flag": false}),
                        ),
                    )?;
                    audit::record(
                        w.tx,
                        now,
                        anonymous(
                            "customer.assigned",
                            &c.id,
                            json!({"from": null, "to": c.owner_id, "pool_id": c.pool_id,
                                   "mode": mode, "reason": reason, "new": true}),
                        ),
                    )?;
                    (c.id.clone(), true)
                }
            };
            let sub = Submission {
                id: new_id(now),
                form_id: form.id.clone(),
                customer_id: customer_id.clone(),
                new_customer,
                phone_masked: phone.masked(),
                consent_general_version: form.consent_general.version,
                consent_sensitive_version: if sensitive_consent {
                    form.consent_sensitive.version
                } else {
                    0
                },
                at: now,
            };
            applications::add_submission(w.tx, &sub)?;
            let mut detail = versions.clone();
            detail["new"] = json!(new_customer);
            audit::record(
                w.tx,
                now,
                anonymous("customer.applied", &customer_id, detail),
            )
        })?;
        Ok(Accepted { ok: true })
    }
}
