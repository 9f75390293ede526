//! The lead-vendor duplicate check (撞库): which of a vendor's numbers are already the firm's
//! customers, yes or no per number and nothing else (never the owner, stage or id), so a firm
//! does not buy leads it already has. Numbers are normalised like customer phones
//! (`domain::phone`); a SHA-256 entry is the hash of the normalised 11 digits (no +86), lower-
//! or upper-case hex. Answered from the keyed lead index (`store::leads`): one probe per entry.
//! Customers in the recycle bin count (still the firm's leads); erased customers do not.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::service::access::audit;
use crate::service::access::auth::{Caller, CallerAuth};
use crate::service::{Error, Result};

/// Entries per request, phones and hashes together.
pub const MAX_ENTRIES: usize = 1_000;

/// `{"phones": [...]}`, `{"sha256": [...]}`, or both (at most 1,000 entries together).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Mobile numbers as written (`138 0013 8000`, `+86 13800138000`, …).
    #[serde(default)]
    pub phones: Vec<String>,
    /// SHA-256 hex of the normalised number (11 digits, no country code).
    #[serde(default)]
    pub sha256: Vec<String>,
}

/// One entry's answer: `exists`, or `error` when the entry is not a mobile number / a hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// The entry as sent.
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// Why the entry was not checked (Chinese).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answers in request order (phones first, then hashes) and the counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    pub results: Vec<CheckResult>,
    pub checked: usize,
    pub existing: usize,
    pub invalid: usize,
}

/// The lead index of one entry, or why it is not one.
fn index_of(
    fields: &crate::crypto::field::FieldCipher,
    entry: &str,
    hashed: bool,
) -> Result<String, String> {
    if hashed {
        let h = entry.trim().to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("不是64位十六进制的SHA-256".into());
        }
        Ok(fields.lead_index_of_sha256(&h))
    } else {
        let m = crate::domain::phone::parse(entry).map_err(|e| e.to_string())?;
        Ok(fields.lead_index(m.as_str()))
    }
}

impl crate::service::leads::UseCases<'_> {
    /// The limits of one caller: requests per minute per API token (per user in the browser),
    /// numbers per day per user, whichever of their tokens or sessions asks (any session can
    /// mint another token: a day's numbers per token would be no limit at all).
    fn check_limits(&self, caller: &Caller, entries: usize) -> Result<()> {
        let key = match &caller.auth {
            CallerAuth::Token { id } => format!("check/t/{id}"),
            CallerAuth::Session { .. } | CallerAuth::Shell => {
                format!("check/u/{}", caller.user.id)
            }
        };
        let cfg = &self.config.leads;
        let now = self.now();
        let day_key = format!("check/u/{}/day", caller.user.id);
        let n = u64::try_from(entries).unwrap_or(u64::MAX);
        let per_day = u64::from(cfg.check_numbers_per_day);
        self.limits
            .would_take(&day_key, n, per_day, Duration::days(1), now)
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })?;
        let per_minute = u64::from(cfg.check_requests_per_minute);
        self.limits
            .take(&key, 1, per_minute, Duration::minutes(1), now)
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })?;
        self.limits
            .take(&day_key, n, per_day, Duration::days(1), now)
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })
    }

    /// `POST /leads/check` (`lead.check`): yes/no per entry; audited with the counts only.
    pub fn check_leads(
        &self,
        caller: &Caller,
        req: CheckRequest,
        source: &str,
    ) -> Result<CheckResponse> {
        caller.require(Capability::LeadCheck)?;
        let total = req.phones.len() + req.sha256.len();
        if total == 0 {
            return Err(Error::validation("phones", "请至少提供一个手机号或SHA-256"));
        }
        if total > MAX_ENTRIES {
            return Err(Error::validation(
                "phones",
                format!("每次最多{MAX_ENTRIES}条，本次{total}条"),
            ));
        }
        if req.phones.iter().chain(&req.sha256).any(|e| e.len() > 100) {
            return Err(Error::validation("phones", "条目过长"));
        }
        self.check_limits(caller, total)?;
        let pending = self.store.read(|tx| {
            let pending = crate::store::leads::fill_pending(tx)?;
            Ok::<_, Error>(pending)
        })?;
        if pending {
            return Err(Error::Unavailable {
                code: "lead_index_building",
                message: "撞库索引正在建立，请稍后再试".into(),
            });
        }
        let entries = req
            .phones
            .into_iter()
            .map(|e| (e, false))
            .chain(req.sha256.into_iter().map(|e| (e, true)));
        let results = self.store.read(|tx| {
            entries
                .map(|(input, hashed)| {
                    Ok(match index_of(&self.fields, &input, hashed) {
                        Ok(lead) => CheckResult {
                            exists: Some(crate::store::leads::exists(tx, &lead)?),
                            input,
                            error: None,
                        },
                        Err(why) => CheckResult {
                            input,
                            exists: None,
                            error: Some(why),
                        },
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let existing = results.iter().filter(|r| r.exists == Some(true)).count();
        let invalid = results.iter().filter(|r| r.error.is_some()).count();
        let checked = results.len() - invalid;
        let now = self.now();
        self.store.write(|tx| {
            let detail = json!({"entries": total, "checked": checked, "existing": existing,
                                "invalid": invalid});
            let entry = audit::by_user(&caller.user, "lead.checked", source, None, detail);
            audit::record(tx, now, entry)
        })?;
        Ok(CheckResponse {
            results,
            checked,
            existing,
            invalid,
        })
    }
}
