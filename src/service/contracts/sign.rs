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

/// Per-address request counter of the public signing routes (in memory, fixed windows).
#[derive(Default)]
pub struct SignLimiter(Mutex<HashMap<String, (DateTime<Utc>, u32)>>);

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
}

/// What the borrower's page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SigningPage {
    pub title: String,
    /// The contract as frozen (the borrower's own full details).
    pub content: String,
    pub content_sha256: String,
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
    /// The page behind a signing link.
    pub fn signing_page(&self, token: &str, source: &str) -> Result<SigningPage> {
        let now = self.now();
        self.sign_limiter.hit(source, now)?;
        let hash = token_hash(token)?;
        let c = self
            .store
            .read(|tx| live(store::contracts::by_link(tx, &hash)?, now))?;
        let content = super::decrypt_content(&self.fields, &c).ok_or_else(|| {
            Error::Internal(format!("contract {}: content does not decrypt", c.id))
        })?;
        Ok(SigningPage {
            title: c.title.clone(),
            content,
            content_sha256: c.content_sha256.clone(),
            consents: c.consents.clone(),
            expires_at: c.link.as_ref().map_or(now, |l| l.expires_at),
            firm_name: self.config.contracts.firm_name.clone(),
        })
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
                        "content_sha256": c.content_sha256,
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
    fn only_png_signatures_of_limited_size() {
        assert!(decode_png("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==").is_ok());
        assert!(decode_png("R0lGODlhAQABAAAAACw=").is_err());
        assert!(decode_png("not base64!").is_err());
        let big = "A".repeat(MAX_SIGNATURE_BYTES * 2);
        assert!(decode_png(&big).is_err());
    }
}
