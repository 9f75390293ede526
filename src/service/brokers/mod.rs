//! Brokers (经纪人 / 渠道合作方, docs/brokers.md): outside partners with a login who refer
//! borrowers. A broker is a user holding the `broker` role alone, tied to a channel
//! (`User::broker`); `http::extract` refuses them every route but [`portal_path`]'s.
//!
//! A referral takes the online application's path: the borrower's consent (with the text's
//! version) on the record, de-duplication by the phone's blind index (a customer the firm
//! already has gets a `referred` event and its owner a notice, never a second record, and the
//! broker is told 已有客户 only), the assignment rule firm-wide, the officer's new-lead
//! notice. The customer counts for the broker's channel and keeps `broker_id` through to its
//! deals; the referral fee is in [`fees`].

pub mod fees;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::customer::{self, Consent, CustomerInput};
use crate::domain::org::{BrokerInfo, UserStatus};
use crate::domain::profile::Demand;
use crate::domain::roles::DataScope;
use crate::service::access::auth::Caller;
use crate::service::access::scope::{Scope, Visible};
use crate::service::customers::shanghai;
use crate::service::pools::assign::Placed;
use crate::service::{Error, Result, new_id};
use crate::store;
use crate::store::brokers::{Referral, ReferralStatus};
use crate::store::channels::Channel;

pub use fees::{FeeQuery, FeeRow, FeesPage, MarkPaid};

crate::service::use_cases!(
    brokers,
    "Brokers (经纪人): their referrals, their portal, and the referral fees finance pays."
);

/// The version of [`CONSENT_TEXT`]; a referral records it. Changing the text bumps it.
pub const CONSENT_VERSION: u32 = 1;

/// What the broker confirms for the borrower before a referral is accepted.
pub const CONSENT_TEXT: &str = "本人已向借款人说明：其姓名、手机号、所在城市和借款需求将提供给本机构，\
用于联系借款人、评估并办理贷款居间服务；借款人已明确同意本机构依照《个人信息保护法》处理上述信息，\
并知悉可随时联系本机构查阅、更正或删除。";

/// Referrals a broker may submit per day (Asia/Shanghai); more are refused (429).
pub const DAILY_REFERRALS: u64 = 200;

/// The routes a broker may reach: their portal, their own account, logging out.
pub fn portal_path(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/me" | "/api/v1/me/password" | "/api/v1/auth/logout"
    ) || path.starts_with("/api/v1/broker/")
}

/// `POST /broker/referrals`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReferral {
    /// The borrower's name.
    pub name: String,
    /// The borrower's mainland mobile.
    pub phone: String,
    #[serde(default)]
    pub city: Option<String>,
    /// The loan wanted, 万元.
    #[serde(default)]
    pub amount_wan: Option<i64>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// The broker confirms the borrower consented to [`CONSENT_TEXT`].
    #[serde(default)]
    pub consent: bool,
    /// The version of the consent text shown (`GET /broker/portal`).
    #[serde(default)]
    pub consent_version: u32,
}

/// `GET /broker/portal`: what the portal shows besides the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Portal {
    pub display_name: String,
    pub company: String,
    pub channel: String,
    pub consent_text: String,
    pub consent_version: u32,
    pub referrals: u64,
}

/// One referral as its broker sees it: masked, a status, nothing of the firm's work.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReferralRow {
    pub id: String,
    /// `张**`
    pub name: String,
    /// `138****5678`
    pub phone: String,
    pub city: Option<String>,
    pub status: ReferralStatus,
    /// 已有客户, 待跟进, 已签约, 已放款, 未成交.
    pub status_label: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReferralPage {
    pub items: Vec<ReferralRow>,
    pub next_cursor: Option<String>,
    pub total: u64,
}

/// The answer to a referral: accepted as new, or 已有客户 (never who has it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReferralAccepted {
    pub id: String,
    pub existing: bool,
    pub status: ReferralStatus,
    pub message: String,
}

/// `GET /broker/referrals?cursor=&limit=`.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// A broker account as the admin's list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokerRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub company: String,
    pub channel_id: String,
    pub channel_name: Option<String>,
    pub status: UserStatus,
    pub referrals: u64,
}

pub fn status_label(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Existing => "已有客户",
        ReferralStatus::Following => "待跟进",
        ReferralStatus::Signed => "已签约",
        ReferralStatus::Disbursed => "已放款",
        ReferralStatus::Closed => "未成交",
    }
}

/// `张三丰` → `张**`: the first character and a star for each other.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first)
            .chain(chars.map(|_| '*'))
            .collect::<String>(),
        None => String::new(),
    }
}

fn opt(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl UseCases<'_> {
    /// The caller's broker record and channel; anyone else is refused.
    fn me(&self, caller: &Caller) -> Result<(BrokerInfo, Option<Channel>)> {
        caller.require(Capability::ReferralSubmit)?;
        let info = caller
            .user
            .broker
            .clone()
            .filter(|_| caller.user.is_broker())
            .ok_or_else(|| Error::Forbidden("broker".into()))?;
        let channel = self
            .store
            .read(|tx| store::channels::get(tx, &info.channel_id))?;
        Ok((info, channel))
    }

    /// `GET /broker/portal`.
    pub fn portal(&self, caller: &Caller) -> Result<Portal> {
        let (info, channel) = self.me(caller)?;
        let referrals = self
            .store
            .read(|tx| store::brokers::referral_count(tx, &caller.user.id))?;
        Ok(Portal {
            display_name: caller.user.display_name.clone(),
            company: info.company,
            channel: channel.map(|c| c.name).unwrap_or_default(),
            consent_text: CONSENT_TEXT.to_string(),
            consent_version: CONSENT_VERSION,
            referrals,
        })
    }

    /// `GET /broker/referrals`: the caller's own referrals, newest first, masked, with status.
    pub fn referrals(&self, caller: &Caller, q: &ReferralQuery) -> Result<ReferralPage> {
        self.me(caller)?;
        let limit = match q.limit {
            None => 20,
            Some(n @ 1..=100) => n,
            Some(_) => return Err(Error::validation("limit", "每页条数须在 1 到 100 之间")),
        };
        // A cursor is the id of the previous page's last referral: anything else would start
        // the list somewhere silently.
        if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty())
            && !crate::store::is_canonical_ulid(c)
        {
            return Err(Error::validation(
                "cursor",
                "分页位置无效，请从第一页重新查看",
            ));
        }
        let me = caller.user.id.as_str();
        self.store.read(|tx| {
            let rows = store::brokers::referrals_before(tx, me, q.cursor.as_deref(), limit + 1)?;
            let total = store::brokers::referral_count(tx, me)?;
            let more = rows.len() > limit;
            let mut items = Vec::with_capacity(limit);
            for r in rows.into_iter().take(limit) {
                let status = store::brokers::status_of(tx, &r)?;
                items.push(ReferralRow {
                    id: r.id.clone(),
                    name: r.name_masked.clone(),
                    phone: r.phone_masked.clone(),
                    city: r.city.clone(),
                    status,
                    status_label: status_label(status).to_string(),
                    at: r.at,
                });
            }
            let next_cursor = if more {
                items.last().map(|r| r.id.clone())
            } else {
                None
            };
            Ok::<_, Error>(ReferralPage {
                items,
                next_cursor,
                total,
            })
        })
    }

    /// `POST /broker/referrals`: one borrower referred by the calling broker.
    pub fn refer(&self, caller: &Caller, r: NewReferral, source: &str) -> Result<ReferralAccepted> {
        let (_, channel) = self.me(caller)?;
        let channel = channel.ok_or_else(|| Error::Unavailable {
            code: "broker_channel_missing",
            message: "您所属的渠道已不存在，请联系机构".into(),
        })?;
        let name = r.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(Error::validation("name", "请填写借款人姓名（最多32个字）"));
        }
        if !crate::domain::text::single_line_ok(&name) {
            return Err(Error::validation("name", crate::domain::text::REFUSED));
        }
        let phone = crate::domain::phone::parse(&r.phone)
            .map_err(|e| Error::validation("phone", e.to_string()))?;
        if !r.consent {
            return Err(Error::validation(
                "consent",
                "须取得借款人同意处理其个人信息后才能报单",
            ));
        }
        if r.consent_version != CONSENT_VERSION {
            return Err(Error::Refused {
                code: "referral_consent_outdated",
                message: "授权说明已更新，请刷新页面后重新确认".into(),
                details: json!({"consent_version": CONSENT_VERSION}),
            });
        }
        if r.amount_wan.is_some_and(|a| !(1..=100_000).contains(&a)) {
            return Err(Error::validation("amount_wan", "借款金额应为1到100000万元"));
        }
        let now = self.now();
        let input = CustomerInput {
            name: Some(name.clone()),
            phone: Some(phone.as_str().to_string()),
            city: opt(&r.city),
            channel: Some(channel.name.clone()),
            demand: Some(Demand {
                amount_fen: r.amount_wan.map(|w| w * 1_000_000),
                term_months: None,
                purpose: opt(&r.purpose),
            }),
            consent: Some(Consent {
                basis: "consent".into(),
                notice_version: Some(format!("broker: v{CONSENT_VERSION}")),
                channel: Some(format!("broker:{}", caller.user.username)),
                at: now,
            }),
            ..Default::default()
        };
        let today = now.with_timezone(&shanghai()).date_naive();
        let checked =
            customer::check(&input, true, today).map_err(|(f, r)| Error::validation(f, r))?;
        let mut c = self
            .customers()
            .new_record(&input, checked, None, &caller.user.id, now)?;
        c.broker_id = Some(caller.user.id.clone());
        let ctx = self.ctx(caller, source)?;
        // The assignment rule offers everyone who takes leads (the broker's own scope is
        // themselves, and they never own a customer).
        let firm = Scope {
            user_id: caller.user.id.clone(),
            kind: DataScope::All,
            visible: Visible::All,
            department: None,
        };
        let day_key = format!("referrals/{}/{today}", caller.user.id);
        ctx.write(|w| {
            if store::pools::bump(w.tx, &day_key)? > DAILY_REFERRALS {
                return Err(Error::Throttled {
                    retry_after_secs: 3600,
                });
            }
            let matches = crate::service::customers::UseCases::exact_matches(w.tx, &c)?;
            let existing = matches
                .iter()
                .map(|(_, m)| m)
                .find(|m| m.deleted_at.is_none())
                .or_else(|| matches.first().map(|(_, m)| m));
            let note = format!("经纪人 {}（{}）", caller.user.display_name, channel.name);
            let (customer_id, new_customer) = match existing {
                Some(m) => {
                    w.event(&m.id, "referred", None, None, Some(note))?;
                    if let (Some(owner), None) = (m.owner_id.as_deref(), m.deleted_at) {
                        store::notices::push(w.tx, owner, "referred", &m.id, None, now)?;
                    }
                    (m.id.clone(), false)
                }
                None => {
                    let pools = self.pools();
                    let mode = pools.assign_mode(None, "assign")?;
                    let mut picker = pools.picker(w.tx, caller, &firm, mode.clone())?;
                    let fallback =
                        crate::service::pools::UseCases::caller_pool(w.tx, &caller.user)?;
                    let (placed, reason) = pools.place_new(
                        w.tx,
                        &mut picker,
                        &mut c,
                        fallback.as_ref(),
                        &caller.user,
                        now,
                    )?;
                    if placed == Placed::Creator {
                        // No pool and nobody to take it: a broker never owns a customer.
                        return Err(Error::Unavailable {
                            code: "referral_unassignable",
                            message: "机构暂时无人接收新客户，请稍后再试".into(),
                        });
                    }
                    store::customers::put_by(w.tx, None, &c, None)?;
                    w.event(&c.id, "created", None, c.owner_id.clone(), Some(note))?;
                    let (kind, to) = placed.event(&c);
                    w.event(&c.id, kind, None, Some(to), Some(reason.clone()))?;
                    w.audit(
                        "customer.created",
                        Some(&c.id),
                        json!({"owner_id": c.owner_id, "pool_id": c.pool_id,
                               "channel": c.channel, "broker_id": c.broker_id,
                               "duplicate_flag": false}),
                    )?;
                    w.audit(
                        "customer.assigned",
                        Some(&c.id),
                        json!({"from": null, "to": c.owner_id, "pool_id": c.pool_id,
                               "mode": mode, "reason": reason, "new": true}),
                    )?;
                    (c.id.clone(), true)
                }
            };
            let referral = Referral {
                id: new_id(now),
                broker_id: caller.user.id.clone(),
                customer_id: customer_id.clone(),
                new_customer,
                name_masked: mask_name(&name),
                phone_masked: phone.masked(),
                city: opt(&r.city),
                consent_version: CONSENT_VERSION,
                at: now,
            };
            store::brokers::add_referral(w.tx, &referral)?;
            w.audit(
                "broker.referral",
                Some(&customer_id),
                json!({"referral": referral.id, "new": new_customer,
                       "channel": channel.name, "consent_version": CONSENT_VERSION}),
            )?;
            let status = if new_customer {
                ReferralStatus::Following
            } else {
                ReferralStatus::Existing
            };
            Ok(ReferralAccepted {
                id: referral.id,
                existing: !new_customer,
                status,
                message: if new_customer {
                    "已提交，机构会尽快联系借款人".into()
                } else {
                    "已有客户".into()
                },
            })
        })
    }

    /// `GET /brokers`: every broker account (admin, `user.manage`).
    pub fn list(&self, caller: &Caller) -> Result<Vec<BrokerRow>> {
        caller.require(Capability::UserManage)?;
        self.store.read(|tx| {
            let channels = store::channels::all(tx)?;
            let mut out = Vec::new();
            for u in store::users::all(tx)? {
                let Some(b) = u.broker.clone().filter(|_| u.is_broker()) else {
                    continue;
                };
                out.push(BrokerRow {
                    referrals: store::brokers::referral_count(tx, &u.id)?,
                    channel_name: channels
                        .iter()
                        .find(|c| c.id == b.channel_id)
                        .map(|c| c.name.clone()),
                    id: u.id,
                    username: u.username,
                    display_name: u.display_name,
                    phone: u.phone_masked,
                    company: b.company,
                    channel_id: b.channel_id,
                    status: u.status,
                });
            }
            Ok::<_, Error>(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_after_the_first_character() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn a_broker_reaches_the_portal_and_their_account_only() {
        for ok in [
            "/api/v1/broker/referrals",
            "/api/v1/broker/portal",
            "/api/v1/me",
            "/api/v1/me/password",
            "/api/v1/auth/logout",
        ] {
            assert!(portal_path(ok), "{ok}");
        }
        for no in [
            "/api/v1/customers",
            "/api/v1/brokers",
            "/api/v1/broker",
            "/api/v1/notices",
            "/api/v1/finance/referral-fees",
        ] {
            assert!(!portal_path(no), "{no}");
        }
    }
}
