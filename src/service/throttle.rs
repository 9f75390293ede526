//! Login throttling, three ways (ASVS V2.2, NIST 800-63B 5.2.2):
//! - per (account, source address): after 5 failures, exponential back-off from 30 s to 15 min;
//! - per source address across all accounts (password spraying): after 20 failures, back-off;
//! - per account across all addresses: only after 100 consecutive failures, so nobody can lock
//!   a colleague out from elsewhere with a handful of wrong passwords.
//!
//! Counters live in memory: a restart forgets them, which costs an attacker a restart of a
//! server they cannot reach, and keeps every failed attempt from becoming a disk write.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

const PAIR_FREE: u32 = 5;
const SOURCE_FREE: u32 = 20;
const ACCOUNT_FREE: u32 = 100;
const BASE_SECS: i64 = 30;
const MAX_SECS: i64 = 15 * 60;
/// Counters untouched for this long are forgotten.
const FORGET_AFTER_HOURS: i64 = 24;

#[derive(Default, Clone, Copy)]
struct Counter {
    failures: u32,
    last: Option<DateTime<Utc>>,
}

impl Counter {
    /// When the next attempt is allowed, given `free` failures before back-off starts.
    fn allowed_at(&self, free: u32) -> Option<DateTime<Utc>> {
        let over = self.failures.checked_sub(free)?;
        let secs = BASE_SECS
            .checked_shl(over.min(20))
            .unwrap_or(MAX_SECS)
            .min(MAX_SECS);
        self.last.map(|t| t + Duration::seconds(secs))
    }
}

#[derive(Default)]
struct State {
    pair: HashMap<(String, String), Counter>,
    source: HashMap<String, Counter>,
    account: HashMap<String, Counter>,
}

#[derive(Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    /// `Err(seconds)` when this attempt must wait.
    pub fn check(&self, username: &str, source: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let account = account_key(username);
        let waits = [
            state
                .pair
                .get(&(account.clone(), source.to_string()))
                .and_then(|c| c.allowed_at(PAIR_FREE)),
            state
                .source
                .get(source)
                .and_then(|c| c.allowed_at(SOURCE_FREE)),
            state
                .account
                .get(&account)
                .and_then(|c| c.allowed_at(ACCOUNT_FREE)),
        ];
        match waits.into_iter().flatten().max() {
            Some(at) if at > now => {
                let secs = (at - now).num_seconds().max(1);
                Err(u64::try_from(secs).unwrap_or(1))
            }
            _ => Ok(()),
        }
    }

    pub fn failure(&self, username: &str, source: &str, now: DateTime<Utc>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let account = account_key(username);
        let c = state
            .pair
            .entry((account.clone(), source.to_string()))
            .or_default();
        c.failures += 1;
        c.last = Some(now);
        let c = state.source.entry(source.to_string()).or_default();
        c.failures += 1;
        c.last = Some(now);
        let c = state.account.entry(account).or_default();
        c.failures += 1;
        c.last = Some(now);
        if state.pair.len() > 10_000 {
            let cutoff = now - Duration::hours(FORGET_AFTER_HOURS);
            let keep = |c: &mut Counter| c.last.is_some_and(|t| t > cutoff);
            state.pair.retain(|_, c| keep(c));
            state.source.retain(|_, c| keep(c));
            state.account.retain(|_, c| keep(c));
        }
    }

    /// A correct password clears the account's counters (not the source's: a sprayer who
    /// guesses one account right stays slowed down for the others).
    pub fn success(&self, username: &str, source: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let account = account_key(username);
        state.pair.remove(&(account.clone(), source.to_string()));
        state.account.remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    #[test]
    fn pair_backs_off_after_five_exponentially() {
        let th = LoginThrottle::default();
        let now = t0();
        for _ in 0..5 {
            assert!(th.check("wang", "10.0.0.1", now).is_ok());
            th.failure("wang", "10.0.0.1", now);
        }
        assert_eq!(th.check("wang", "10.0.0.1", now), Err(30));
        assert_eq!(
            th.check("WANG ", "10.0.0.1", now),
            Err(30),
            "same account, any case"
        );
        assert!(
            th.check("wang", "10.0.0.2", now).is_ok(),
            "other address unaffected"
        );
        let later = now + Duration::seconds(30);
        assert!(th.check("wang", "10.0.0.1", later).is_ok());
        th.failure("wang", "10.0.0.1", later);
        assert_eq!(th.check("wang", "10.0.0.1", later), Err(60), "doubles");
        th.success("wang", "10.0.0.1");
        assert!(th.check("wang", "10.0.0.1", later).is_ok());
    }

    #[test]
    fn spraying_from_one_address_is_slowed() {
        let th = LoginThrottle::default();
        let now = t0();
        for i in 0..20 {
            th.failure(&format!("user{i}"), "10.9.9.9", now);
        }
        assert!(th.check("someone-else", "10.9.9.9", now).is_err());
        assert!(th.check("someone-else", "10.1.1.1", now).is_ok());
    }

    #[test]
    fn account_ceiling_is_high_and_capped() {
        let th = LoginThrottle::default();
        let now = t0();
        for i in 0..99 {
            th.failure("li", &format!("10.0.{}.{}", i / 250, i % 250), now);
        }
        assert!(
            th.check("li", "192.168.1.5", now).is_ok(),
            "99 failures elsewhere: still open"
        );
        for i in 0..30 {
            th.failure("li", &format!("10.1.0.{i}"), now);
        }
        let wait = th.check("li", "192.168.1.5", now).unwrap_err();
        assert!(wait <= 15 * 60, "capped at 15 minutes: {wait}");
    }
}
