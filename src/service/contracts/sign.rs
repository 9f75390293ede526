//! Signing through the one-time link, by the borrower (no login: the token is the authority,
//! and it opens this one contract and nothing else). A used, replaced or expired link is 410,
//! a guessed one 404; either writes nothing. Signing stores the record, consumes the link and
//! writes the audit row in one transaction. Requests are limited per source address.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::UseCases;
use crate::domain::contract::{
    self, Consent, Contract, ContractState, GivenConsent, MAX_SIGNATURE_BYTES, Signing,
};
use crate::service::{Error, Result};
use crate::store;
use crate::store::audit::NewAudit;
use crate::store::contracts::Link;

/// Requests one address may make to the signing routes per window.
const LIMIT_PER_WINDOW: u32 = 40;
const WINDOW_MINUTES: i64 = 10;
/// Addresses remembered at most (a flood of spoofed-looking addresses cannot grow memory).
const MAX_ADDRESSES: usize = 10_000;

/// Wrong identity checks one link allows before it locks (in memory: a restart forgives them;
/// the per-address limit still holds).
const MAX_CHECK_FAILURES: u32 = 5;

/// Per-address request counter of the public signing routes (in memory, fixed windows), and
/// each link's failed identity checks.
#[derive(Default)]
pub struct SignLimiter(
    Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
    Mutex<HashMap<String, u32>>,
);

impl SignLimiter {
    /// Counts a request from `source`; refuses past the window's allowance.
    pub fn hit(&self, source: &str, now: DateTime<Utc>) -> Result<()> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_ADDRESSES {
            m.retain(|_, (start, _)| now - *start < Duration::minutes(WINDOW_MINUTES));
        }
        let e = m.entry(source.to_string()).or_insert((now, 0));
        if now - e.0 >= Duration::minutes(WINDOW_MINUTES) {
            *e = (now, 0);
        }
        e.1 += 1;
        if e.1 > LIMIT_PER_WINDOW {
            let left = (e.0 + Duration::minutes(WINDOW_MINUTES) - now).num_seconds();
            return Err(Error::Throttled {
                retry_after_secs: u64::try_from(left.max(1)).unwrap_or(1),
            });
        }
        Ok(())
    }

    fn locked(&self, link: &str) -> bool {
        let m = self.1.lock().unwrap_or_else(|p| p.into_inner());
        m.get(link).is_some_and(|n| *n >= MAX_CHECK_FAILURES)
    }

    /// Counts a wrong identity check on `link`; returns the checks left.
    fn failed(&self, link: &str) -> u32 {
        let mut m = self.1.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_ADDRESSES {
            m.clear();
        }
        let n = m.entry(link.to_string()).or_insert(0);
        *n += 1;
        MAX_CHECK_FAILURES.saturating_sub(*n)
    }
}

/// What the borrower proves before the page shows the contract in full: a number of theirs
/// that the full copy holds and the staff's masked copy does not. Whoever opens the link
/// without it (the salesperson who forwards it, who may not reveal the ID number) reads the
/// masked copy.
#[derive(Debug, Clone, PartialEq)]
enum Proof {
    IdNumber(String),
    Phone(String),
}

impl Proof {
    fn key(&self) -> &'static str {
        match self {
            Proof::IdNumber(_) => "id_number",
            Proof::Phone(_) => "phone",
        }
    }

    fn matches(&self, typed: &str) -> bool {
        let typed: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        match self {
            Proof::IdNumber(n) => typed.to_ascii_uppercase() == *n,
            Proof::Phone(p) => typed.strip_prefix("+86").unwrap_or(&typed) == p,
        }
    }

    fn refusal(&self, left: u32) -> Error {
        let what = match self {
            Proof::IdNumber(_) => "身份证号码",
            Proof::Phone(_) => "手机号码",
        };
        Error::validation("verify", format!("{what}与合同不符（还可尝试 {left} 次）"))
    }
}

/// The borrower's ID number in the full copy (an 18-character number with a valid check digit
/// that the masked copy lacks), else their phone, else nothing to prove (both copies alike).
fn proof_of(full: &str, masked: &str, today: chrono::NaiveDate) -> Option<Proof> {
    if full == masked {
        return None;
    }
    let runs = |text: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut run = String::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() || ((c == 'X' || c == 'x') && run.len() == 17) {
                run.push(c.to_ascii_uppercase());
            } else {
                if !run.is_empty() {
                    out.push(std::mem::take(&mut run));
                }
                if c == 'X' || c == 'x' {
                    continue;
                }
            }
        }
        out
    };
    let in_full = runs(full);
    let in_masked = runs(masked);
    let fresh = |r: &&String| !in_masked.contains(r);
    if let Some(id) = in_full
        .iter()
        .filter(fresh)
        .find(|r| r.len() == 18 && crate::domain::id_number::parse(r, today).is_ok())
    {
        return Some(Proof::IdNumber(id.clone()));
    }
    in_full
        .iter()
        .filter(fresh)
        .find(|r| r.len() == 11 && r.starts_with('1'))
        .map(|p| Proof::Phone(p.clone()))
}

/// What the borrower's page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SigningPage {
    pub title: String,
    /// The contract as frozen: the masked copy while `verify` is asked, else in full.
    pub content: String,
    /// What the borrower types to read the contract in full and to sign (`id_number` or
    /// `phone`); absent when the full copy holds neither.
    pub verify: Option<&'static str>,
    /// The full text's SHA-256: with the full copy only (`None` while `verify` is asked; it
    /// comes with the full text from `open`), for the masked copy and a guess hashed would
    /// confirm the number.
    pub content_sha256: Option<String>,
    pub consents: Vec<Consent>,
    pub expires_at: DateTime<Utc>,
    pub firm_name: String,
}

/// `POST /sign/{token}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// Consent key → ticked; every consent of the contract must be `true`.
    pub consents: BTreeMap<String, bool>,
    /// The drawn signature: PNG, base64 (a `data:image/png;base64,` prefix is accepted).
    pub signature_png: String,
    /// The name the borrower typed (optional).
    pub typed_name: Option<String>,
    /// The borrower's ID number (or phone) when the page asks for it (`verify`).
    pub verify: Option<String>,
}

/// `POST /sign/{token}/open`: the borrower's number, to read the contract in full.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    pub verify: String,
}

/// The contract in full, once the borrower proved who they are.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Opened {
    pub content: String,
    pub content_sha256: String,
}

/// The signing result shown to the borrower.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Signed {
    pub signed_at: DateTime<Utc>,
    pub content_sha256: String,
}

fn gone(why: &str) -> Error {
    let message = match why {
        store::contracts::DEAD_USED => "此签署链接已使用过，合同已签署；如有疑问请联系您的业务员",
        store::contracts::DEAD_VOID => "此合同已作废，链接失效；请联系您的业务员",
        "expired" => "此签署链接已过期，请联系您的业务员重新发送",
        _ => "此签署链接已失效（已发送新链接），请使用最新的链接",
    };
    Error::Gone {
        code: "sign_link_gone",
        message: message.into(),
    }
}

fn locked() -> Error {
    Error::Gone {
        code: "sign_link_locked",
        message: "身份核对失败次数过多，此链接已锁定；请联系您的业务员重新发送".into(),
    }
}

/// A token never issued: 404, like any absent thing.
fn unknown() -> Error {
    Error::NotFound
}

/// Only hex tokens of the issued length are looked up at all.
fn token_hash(token: &str) -> Result<String> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    Ok(crate::crypto::sha256_hex(token.as_bytes()))
}

fn live(link: Link, now: DateTime<Utc>) -> Result<Contract> {
    match link {
        Link::Unknown => Err(unknown()),
        Link::Dead(why) => Err(gone(&why)),
        Link::Live(c) => {
            let expired = c.link.as_ref().is_none_or(|l| l.expires_at <= now);
            if c.state != ContractState::Sent {
                return Err(gone(store::contracts::DEAD_USED));
            }
            if expired {
                return Err(gone("expired"));
            }
            Ok(*c)
        }
    }
}

fn decode_png(s: &str) -> Result<Vec<u8>> {
    let b64 = s.strip_prefix("data:image/png;base64,").unwrap_or(s);
    if b64.len() > MAX_SIGNATURE_BYTES / 3 * 4 + 8 {
        return Err(Error::validation(
            "signature_png",
            "签名图片过大（最大 300 KB）",
        ));
    }
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| Error::validation("signature_png", "签名图片格式不正确"))?;
    if png.len() > MAX_SIGNATURE_BYTES {
        return Err(Error::validation(
            "signature_png",
            "签名图片过大（最大 300 KB）",
        ));
    }
    if !contract::is_png(&png) {
        return Err(Error::validation("signature_png", "签名必须是 PNG 图片"));
    }
    Ok(png)
}

impl UseCases<'_> {
    /// The contract behind a live link (and the link's hash, and now), the request counted
    /// against its source address.
    fn by_live_link(&self, token: &str, source: &str) -> Result<(Contract, String, DateTime<Utc>)> {
        let now = self.now();
        self.sign_limiter.hit(source, now)?;
        let hash = token_hash(token)?;
        let c = self
            .store
            .read(|tx| live(store::contracts::by_link(tx, &hash)?, now))?;
        Ok((c, hash, now))
    }

    /// The page behind a signing link.
    pub fn signing_page(&self, token: &str, source: &str) -> Result<SigningPage> {
        let (c, _, now) = self.by_live_link(token, source)?;
        let full = super::decrypt_content(&self.fields, &c).ok_or_else(|| {
            Error::Internal(format!("contract {}: content does not decrypt", c.id))
        })?;
        let proof = proof_of(&full, &c.content_masked, crate::service::fees::today(now));
        Ok(SigningPage {
            title: c.title.clone(),
            verify: proof.as_ref().map(Proof::key),
            content_sha256: Some(c.content_sha256.clone()).filter(|_| proof.is_none()),
            content: match proof {
                Some(_) => c.content_masked.clone(),
                None => full,
            },
            consents: c.consents.clone(),
            expires_at: c.link.as_ref().map_or(now, |l| l.expires_at),
            firm_name: self.config.contracts.firm_name.clone(),
        })
    }

    /// The contract in full for the borrower who typed their number (`SigningPage::verify`);
    /// a wrong one is counted against the link, which locks after a few.
    pub fn open_signing(&self, token: &str, req: OpenRequest, source: &str) -> Result<Opened> {
        let (c, hash, now) = self.by_live_link(token, source)?;
        let full = self.proven(&c, &hash, req.verify.as_str(), now)?;
        Ok(Opened {
            content: full,
            content_sha256: c.content_sha256.clone(),
        })
    }

    /// The full copy, when `typed` proves the borrower (or nothing needs proving).
    fn proven(&self, c: &Contract, link: &str, typed: &str, now: DateTime<Utc>) -> Result<String> {
        if self.sign_limiter.locked(link) {
            return Err(locked());
        }
        let full = super::decrypt_content(&self.fields, c).ok_or_else(|| {
            Error::Internal(format!("contract {}: content does not decrypt", c.id))
        })?;
        match proof_of(&full, &c.content_masked, crate::service::fees::today(now)) {
            Some(p) if !p.matches(typed) => match self.sign_limiter.failed(link) {
                0 => Err(locked()),
                left => Err(p.refusal(left)),
            },
            _ => Ok(full),
        }
    }

    /// Signs through the link: every consent ticked, a PNG signature; one transaction.
    pub fn sign(
        &self,
        token: &str,
        req: SignRequest,
        source: &str,
        user_agent: &str,
    ) -> Result<Signed> {
        let now = self.now();
        self.sign_limiter.hit(source, now)?;
        let hash = token_hash(token)?;
        let png = decode_png(&req.signature_png)?;
        let typed_name = req
            .typed_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if typed_name.as_ref().is_some_and(|n| n.chars().count() > 30) {
            return Err(Error::validation("typed_name", "姓名不能超过30个字"));
        }
        let ua: String = user_agent.chars().take(400).collect();
        self.store.write(|tx| {
            let before = live(store::contracts::by_link(tx, &hash)?, now)?;
            self.proven(&before, &hash, req.verify.as_deref().unwrap_or(""), now)?;
            let mut given = Vec::new();
            for c in &before.consents {
                if req.consents.get(&c.key) != Some(&true) {
                    return Err(Error::validation(
                        format!("consents.{}", c.key),
                        format!("请勾选「{}」", c.label),
                    ));
                }
                given.push(GivenConsent {
                    key: c.key.clone(),
                    version: c.version,
                    text: c.text.clone(),
                    agreed: true,
                });
            }
            let link = before
                .link
                .clone()
                .ok_or_else(|| Error::Internal("live link without link".into()))?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
            let mut c = before.clone();
            c.signing = Some(Signing {
                at: now,
                ip: source.to_string(),
                user_agent: ua.clone(),
                typed_name: typed_name.clone(),
                consents: given.clone(),
                link_id: link.id.clone(),
                content_sha256: before.content_sha256.clone(),
                signature_enc: self
                    .fields
                    .encrypt(&c.id, "signature", &b64)
                    .map_err(|e| Error::Internal(e.to_string()))?,
                signature_sha256: crate::crypto::sha256_hex(&png),
            });
            c.state = ContractState::Signed;
            c.updated_at = now;
            store::contracts::put(tx, Some(&before), &c)?;
            // The text's keyed seal, not its SHA-256 (see `contract.created`).
            let seal = super::decrypt_content(&self.fields, &c)
                .map(|text| self.fields.content_seal(&text))
                .ok_or_else(|| {
                    Error::Internal(format!("contract {}: content does not decrypt", c.id))
                })?;
            crate::service::access::audit::record(
                tx,
                now,
                NewAudit {
                    actor_id: None,
                    actor: "签署人".into(),
                    action: "contract.signed",
                    target: Some(c.id.clone()),
                    detail: json!({
                        "deal_id": c.deal_id, "link_id": link.id,
                        "content_hmac": seal,
                        "consents": given.iter().map(|g| json!({"key": g.key, "version": g.version}))
                            .collect::<Vec<_>>(),
                        "user_agent": ua,
                    }),
                    source: source.to_string(),
                },
            )?;
            Ok(Signed {
                signed_at: now,
                content_sha256: c.content_sha256.clone(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_past_the_window_allowance_and_forgets_after_it() {
        let l = SignLimiter::default();
        let t0 = chrono::DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        for _ in 0..LIMIT_PER_WINDOW {
            assert!(l.hit("1.2.3.4", t0).is_ok());
        }
        assert!(matches!(l.hit("1.2.3.4", t0), Err(Error::Throttled { .. })));
        assert!(l.hit("5.6.7.8", t0).is_ok(), "per address");
        assert!(
            l.hit("1.2.3.4", t0 + Duration::minutes(WINDOW_MINUTES))
                .is_ok()
        );
    }

    #[test]
    fn the_borrower_proves_the_id_number_the_masked_copy_lacks_else_the_phone() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
        let full = "<p>身份证号：11010519491231002X，电话 13812345678，金额 80000</p>";
        let masked = "<p>身份证号：110105********002X，电话 138****5678，金额 80000</p>";
        let p = proof_of(full, masked, today);
        assert_eq!(p, Some(Proof::IdNumber("11010519491231002X".into())));
        let p = p.unwrap_or(Proof::Phone(String::new()));
        assert!(p.matches("110105 19491231 002x"));
        assert!(!p.matches("110105194912310021"));
        assert!(!p.matches(""));
        // Without an ID number in the contract: the phone.
        let full = "<p>电话 13812345678，金额 80000</p>";
        let masked = "<p>电话 138****5678，金额 80000</p>";
        let p = proof_of(full, masked, today);
        assert_eq!(p, Some(Proof::Phone("13812345678".into())));
        assert!(p.is_some_and(|p| p.matches("+86 138-1234-5678")));
        // Neither: nothing to prove.
        assert_eq!(
            proof_of("<p>金额 80000</p>", "<p>金额 80000</p>", today),
            None
        );
    }

    #[test]
    fn a_link_locks_after_the_allowed_wrong_checks() {
        let l = SignLimiter::default();
        for left in (0..MAX_CHECK_FAILURES).rev() {
            assert!(!l.locked("a"));
            assert_eq!(l.failed("a"), left);
        }
        assert!(l.locked("a"));
        assert!(!l.locked("b"), "per link");
    }

    #[test]
    fn only_png_signatures_of_limited_size() {
        assert!(decode_png("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==").is_ok());
        assert!(decode_png("R0lGODlhAQABAAAAACw=").is_err());
        assert!(decode_png("not base64!").is_err());
        let big = "A".repeat(MAX_SIGNATURE_BYTES * 2);
        assert!(decode_png(&big).is_err());
    }
}
