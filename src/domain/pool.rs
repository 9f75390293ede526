//! Public pools (公海): customers without an owner that members may claim, and the settings that
//! drive recall, claim limits and protection. Pure types; the rules run in `script` (plugins
//! with a plain-Rust default) and are applied by `service::pools`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A pool. Stored in table `pools`, keyed by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pool {
    pub id: String,
    pub name: String,
    /// None: the firm-wide pool.
    #[serde(default)]
    pub department_id: Option<String>,
    /// User ids; empty means everyone in `department_id`'s subtree (everyone if firm-wide).
    #[serde(default)]
    pub members: Vec<String>,
    /// User ids who manage this pool (settings, release on behalf, sweep preview).
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub settings: PoolSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The rules of a pool. Every field has a default so older records and partial bodies read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PoolSettings {
    /// Recall owned customers into this pool at all.
    pub recall_enabled: bool,
    /// Days without a follow-up before recall, by grade ("A".."D") and "default".
    pub no_followup_days: BTreeMap<String, u32>,
    /// Recall if the customer has not reached stage signed/won within N days of held_since.
    pub no_signing_days: Option<u32>,
    /// Warn the owner this many days before a recall.
    pub warn_days_before: u32,
    /// Claims per user per (Shanghai) day in this pool.
    pub claim_daily_limit: u32,
    /// Owned customers a user may hold before claims are refused.
    pub max_owned: u32,
    /// Whether won customers count towards `max_owned`.
    pub max_owned_counts_won: bool,
    /// A former owner may not re-claim within N days of losing the customer.
    pub reclaim_cooldown_days: u32,
    /// Nobody may claim within N hours of the customer entering the pool.
    pub protect_new_hours: u32,
}

impl PoolSettings {
    /// These settings with the keys of `patch` changed and every other one kept (a partial
    /// `PATCH /pools/{id}`); `no_followup_days` merges grade by grade. An unknown key or a
    /// wrong type is refused with its field.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<PoolSettings, (String, String)> {
        let serde_json::Value::Object(changes) = patch else {
            return Err(("settings".into(), "settings 应为对象".into()));
        };
        let mut merged =
            serde_json::to_value(self).map_err(|e| ("settings".to_string(), e.to_string()))?;
        let serde_json::Value::Object(current) = &mut merged else {
            return Err(("settings".into(), "settings 应为对象".into()));
        };
        for (k, v) in changes {
            let Some(slot) = current.get_mut(k) else {
                return Err((format!("settings.{k}"), format!("未知的设置项 {k}")));
            };
            match (slot, v) {
                (serde_json::Value::Object(have), serde_json::Value::Object(new)) => {
                    for (g, n) in new {
                        have.insert(g.clone(), n.clone());
                    }
                }
                (slot, v) => *slot = v.clone(),
            }
        }
        serde_json::from_value(merged).map_err(|e| ("settings".to_string(), e.to_string()))
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            recall_enabled: true,
            no_followup_days: default_no_followup_days(),
            no_signing_days: Some(90),
            warn_days_before: 3,
            claim_daily_limit: 20,
            max_owned: 300,
            max_owned_counts_won: false,
            reclaim_cooldown_days: 7,
            protect_new_hours: 0,
        }
    }
}

pub fn default_no_followup_days() -> BTreeMap<String, u32> {
    [("A", 30), ("B", 15), ("C", 10), ("D", 7), ("default", 15)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl PoolSettings {
    /// Days without follow-up allowed for a grade (falls back to "default", then 15).
    pub fn no_followup_days_for(&self, grade: Option<&str>) -> u32 {
        grade
            .and_then(|g| self.no_followup_days.get(g))
            .or_else(|| self.no_followup_days.get("default"))
            .copied()
            .unwrap_or(15)
    }
}

impl Pool {
    /// Whether `user_id` is listed as a pool admin.
    pub fn is_admin(&self, user_id: &str) -> bool {
        self.admins.iter().any(|a| a == user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_on_missing_fields() {
        let s: PoolSettings = serde_json::from_str(r#"{"max_owned": 5}"#).unwrap();
        assert_eq!(s.max_owned, 5);
        assert_eq!(s.claim_daily_limit, 20);
        assert_eq!(s.no_followup_days_for(Some("A")), 30);
        assert_eq!(s.no_followup_days_for(Some("Z")), 15);
        assert_eq!(s.no_followup_days_for(None), 15);
        assert_eq!(s.no_signing_days, Some(90));
    }
}

#[cfg(test)]
mod patch_tests {
    use super::*;

    #[test]
    fn a_partial_patch_changes_only_what_is_sent() {
        let mut before = PoolSettings {
            max_owned: 77,
            ..Default::default()
        };
        before.no_followup_days.insert("A".into(), 40);
        let after = before
            .patched(&serde_json::json!({"claim_daily_limit": 3, "no_followup_days": {"B": 9}}))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(after.claim_daily_limit, 3);
        assert_eq!(after.max_owned, 77, "unsent settings stay");
        assert_eq!(after.no_followup_days.get("A"), Some(&40));
        assert_eq!(after.no_followup_days.get("B"), Some(&9));
        let none = before
            .patched(&serde_json::json!({"no_signing_days": null}))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(none.no_signing_days, None);
        let e = before
            .patched(&serde_json::json!({"max_own": 3}))
            .unwrap_err();
        assert_eq!(e.0, "settings.max_own");
        assert!(
            before
                .patched(&serde_json::json!({"max_owned": "x"}))
                .is_err()
        );
    }
}
