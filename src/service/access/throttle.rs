//! Login throttling, three ways (ASVS V2.2, NIST 800-63B 5.2.2):
//! - per (account, source address): after 5 failures, exponential back-off from 30 s to 15 min;
//! - per source address across all accounts (password spraying): after 20 failures within the
//!   window, back-off; each failure ages out on its own after the window, a correct login takes
//!   that account's failures off the address, and an account that logged in correctly from the
//!   address is not held back by the address's count (a whole office behind one NAT address is
//!   not locked out by one sprayer or a few typists);
//! - per account across all addresses: only after 100 consecutive failures, so nobody can lock
//!   a colleague out from elsewhere with a handful of wrong passwords.
//!
//! Counters live in memory: a restart forgets them, which costs an attacker a restart of a
//! server they cannot reach, and keeps every failed attempt from becoming a disk write.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

const PAIR_FREE: u32 = 5;
const SOURCE_FREE: u32 = 20;
const ACCOUNT_FREE: u32 = 100;
const BASE_SECS: i64 = 30;
const MAX_SECS: i64 = 15 * 60;
/// A counter with no attempt for this long starts again from zero, and a failure counts against
/// its address for this long: a few typos a day never add up to a lock-out.
const WINDOW_MINUTES: i64 = 60;
/// Failures an address remembers: past `SOURCE_FREE + 8` the back-off is at its maximum anyway.
const SOURCE_KEEP: usize = SOURCE_FREE as usize + 8;

#[derive(Default, Clone, Copy)]
struct Counter {
    /// Attempts not (yet) proven right: counted when they start, so parallel guesses cannot
    /// slip in between a check and the verdict.
    failures: u32,
    last: Option<DateTime<Utc>>,
    /// When the last refusal of this counter was written to the audit log.
    refusal_logged: Option<DateTime<Utc>>,
}

impl Counter {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.last
            .is_some_and(|t| now - t < Duration::minutes(WINDOW_MINUTES))
    }

    /// When the next attempt is allowed, given `free` attempts before back-off starts.
    fn allowed_at(&self, free: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.live(now) {
            return None;
        }
        let over = self.failures.checked_sub(free)?;
        let secs = BASE_SECS
            .checked_shl(over.min(20))
            .unwrap_or(MAX_SECS)
            .min(MAX_SECS);
        self.last.map(|t| t + Duration::seconds(secs))
    }

    fn bump(&mut self, now: DateTime<Utc>) {
        if !self.live(now) {
            *self = Counter::default();
        }
        self.failures += 1;
        self.last = Some(now);
    }
}

/// The failures from one address, oldest first, each with its account: they age out one by
/// one, and a correct login removes its account's.
#[derive(Default)]
struct SourceCounter {
    failures: VecDeque<(DateTime<Utc>, String)>,
}

impl SourceCounter {
    fn prune(&mut self, now: DateTime<Utc>) {
        let window = Duration::minutes(WINDOW_MINUTES);
        while self
            .failures
            .front()
            .is_some_and(|(t, _)| now - *t >= window)
        {
            self.failures.pop_front();
        }
    }

    fn allowed_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let window = Duration::minutes(WINDOW_MINUTES);
        let live = self.failures.iter().filter(|(t, _)| now - *t < window);
        let count = u32::try_from(live.count()).unwrap_or(u32::MAX);
        let over = count.checked_sub(SOURCE_FREE)?;
        let secs = BASE_SECS
            .checked_shl(over.min(20))
            .unwrap_or(MAX_SECS)
            .min(MAX_SECS);
        self.failures
            .back()
            .map(|(t, _)| *t + Duration::seconds(secs))
    }

    fn bump(&mut self, account: &str, now: DateTime<Utc>) {
        self.prune(now);
        if self.failures.len() >= SOURCE_KEEP {
            self.failures.pop_front();
        }
        self.failures.push_back((now, account.to_string()));
    }
}

#[derive(Default)]
struct State {
    pair: HashMap<(String, String), Counter>,
    source: HashMap<String, SourceCounter>,
    account: HashMap<String, Counter>,
    /// (account, address) → the last correct login: that account is not held back by the
    /// address's count for a window after it.
    trusted: HashMap<(String, String), DateTime<Utc>>,
}

#[derive(Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

/// A refused attempt: wait this long; `log` is true for the first refusal of a back-off period
/// (the audit log records that one, not every hammering request).
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub retry_after_secs: u64,
    pub log: bool,
}

fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    /// Admits an attempt (counting it as a failure until [`success`](Self::success)) or refuses it.
    pub fn begin(&self, username: &str, source: &str, now: DateTime<Utc>) -> Result<(), Refused> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let account = account_key(username);
        let pair_key = (account.clone(), source.to_string());
        let trusted = state
            .trusted
            .get(&pair_key)
            .is_some_and(|t| now - *t < Duration::minutes(WINDOW_MINUTES));
        let waits = [
            state
                .pair
                .get(&pair_key)
                .and_then(|c| c.allowed_at(PAIR_FREE, now)),
            state
                .source
                .get(source)
                .filter(|_| !trusted)
                .and_then(|c| c.allowed_at(now)),
            state
                .account
                .get(&account)
                .and_then(|c| c.allowed_at(ACCOUNT_FREE, now)),
        ];
        if let Some(at) = waits.into_iter().flatten().max().filter(|at| *at > now) {
            let secs = u64::try_from((at - now).num_seconds().max(1)).unwrap_or(1);
            let pair = state.pair.entry(pair_key).or_default();
            // Logged again only after an attempt was admitted since the last logged refusal.
            let log = pair
                .refusal_logged
                .is_none_or(|t| pair.last.is_some_and(|l| l > t));
            if log {
                pair.refusal_logged = Some(now);
            }
            return Err(Refused {
                retry_after_secs: secs,
                log,
            });
        }
        state.pair.entry(pair_key).or_default().bump(now);
        state
            .source
            .entry(source.to_string())
            .or_default()
            .bump(&account, now);
        state.account.entry(account).or_default().bump(now);
        if state.pair.len() + state.source.len() + state.trusted.len() > 10_000 {
            let keep = |c: &mut Counter| c.live(now);
            let window = Duration::minutes(WINDOW_MINUTES);
            state.pair.retain(|_, c| keep(c));
            state.account.retain(|_, c| keep(c));
            state.source.retain(|_, c| {
                c.prune(now);
                !c.failures.is_empty()
            });
            state.trusted.retain(|_, t| now - *t < window);
        }
        Ok(())
    }

    /// The attempt was right: the account's counters clear, the address forgets that account's
    /// failures and no longer holds the account back for a window (a sprayer who guesses one
    /// account right stays slowed down for the others).
    pub fn success(&self, username: &str, source: &str, now: DateTime<Utc>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let account = account_key(username);
        let pair_key = (account.clone(), source.to_string());
        state.pair.remove(&pair_key);
        state.account.remove(&account);
        if let Some(c) = state.source.get_mut(source) {
            c.failures.retain(|(_, a)| *a != account);
        }
        state.trusted.insert(pair_key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    fn attempts(th: &LoginThrottle, user: &str, src: &str, n: usize, now: DateTime<Utc>) -> usize {
        (0..n).filter(|_| th.begin(user, src, now).is_ok()).count()
    }

    #[test]
    fn pair_backs_off_after_five_exponentially() {
        let th = LoginThrottle::default();
        let now = t0();
        assert_eq!(
            attempts(&th, "wang", "10.0.0.1", 50, now),
            5,
            "a burst admits five"
        );
        let refused = th.begin("WANG ", "10.0.0.1", now).unwrap_err();
        assert_eq!(
            refused,
            Refused {
                retry_after_secs: 30,
                log: false
            },
            "same account, any case; logged once"
        );
        assert!(
            th.begin("wang", "10.0.0.2", now).is_ok(),
            "other address unaffected"
        );
        let later = now + Duration::seconds(30);
        assert!(th.begin("wang", "10.0.0.1", later).is_ok());
        assert_eq!(
            th.begin("wang", "10.0.0.1", later)
                .unwrap_err()
                .retry_after_secs,
            60,
            "doubles"
        );
        th.success("wang", "10.0.0.1", later);
        assert!(th.begin("wang", "10.0.0.1", later).is_ok());
    }

    #[test]
    fn first_refusal_of_each_back_off_is_logged() {
        let th = LoginThrottle::default();
        let now = t0();
        attempts(&th, "li", "10.0.0.9", 5, now);
        assert!(th.begin("li", "10.0.0.9", now).unwrap_err().log);
        assert!(!th.begin("li", "10.0.0.9", now).unwrap_err().log);
        let later = now + Duration::seconds(31);
        assert!(th.begin("li", "10.0.0.9", later).is_ok());
        assert!(
            th.begin("li", "10.0.0.9", later).unwrap_err().log,
            "a new back-off period"
        );
    }

    #[test]
    fn spraying_from_one_address_is_slowed_but_typos_age_out() {
        let th = LoginThrottle::default();
        let now = t0();
        for i in 0..20 {
            assert!(th.begin(&format!("user{i}"), "10.9.9.9", now).is_ok());
        }
        assert!(th.begin("someone-else", "10.9.9.9", now).is_err());
        assert!(th.begin("someone-else", "10.1.1.1", now).is_ok());
        // An office behind one NAT address: yesterday's typos do not count today.
        let tomorrow = now + Duration::hours(25);
        assert!(th.begin("someone-else", "10.9.9.9", tomorrow).is_ok());
    }

    /// Issue 14.6: behind an office NAT, after 20 failures across accounts, correct logins kept
    /// getting 429 after the first one each minute for 25 minutes (each admitted attempt renewed
    /// the address's window, and a success only took one failure back).
    #[test]
    fn correct_logins_relax_the_address_and_failures_age_out() {
        let th = LoginThrottle::default();
        let nat = "10.9.9.9";
        let now = t0();
        for i in 0..20 {
            assert!(th.begin(&format!("x{i}"), nat, now).is_ok());
        }
        assert!(th.begin("wang", nat, now).is_err(), "spraying slowed");
        let t = now + Duration::seconds(31);
        assert!(th.begin("wang", nat, t).is_ok());
        th.success("wang", nat, t);
        // Every colleague who logs in right, one after the other, gets in.
        for (i, who) in ["li", "zhao", "qian", "sun"].into_iter().enumerate() {
            let at = t + Duration::seconds(i64::try_from(i).unwrap());
            assert!(th.begin(who, nat, at).is_ok(), "{who}");
            th.success(who, nat, at);
        }
        // The sprayer adds failures: the address backs off again for unknown accounts, but an
        // account that logged in right from here is not held back by the address.
        for i in 20..30 {
            let _ = th.begin(&format!("x{i}"), nat, t + Duration::seconds(60));
        }
        let t2 = t + Duration::seconds(61);
        assert!(th.begin("zhou", nat, t2).is_err(), "new account waits");
        assert!(th.begin("wang", nat, t2).is_ok(), "wang logged in here");
        th.success("wang", nat, t2);
        // Its own mistakes still count against it (per account and address).
        for _ in 0..5 {
            assert!(th.begin("wang", nat, t2).is_ok());
        }
        assert!(th.begin("wang", nat, t2).is_err());
    }

    /// The window decays as documented, whatever the traffic in between: each failure counts
    /// against the address for 60 minutes from when it happened (before, every admitted attempt
    /// renewed the whole count).
    #[test]
    fn address_failures_age_out_one_by_one_despite_traffic() {
        let th = LoginThrottle::default();
        let nat = "10.9.9.9";
        let now = t0();
        for i in 0..20 {
            assert!(th.begin(&format!("x{i}"), nat, now).is_ok());
        }
        let late = now + Duration::seconds(31);
        assert!(th.begin("x20", nat, late).is_ok());
        // A colleague logs in right every minute.
        let mut at = late;
        for _ in 0..60 {
            at += Duration::minutes(1);
            assert!(th.begin("li", nat, at).is_ok());
            th.success("li", nat, at);
        }
        let near = now + Duration::minutes(59);
        let th2 = LoginThrottle::default();
        for i in 0..20 {
            assert!(th2.begin(&format!("x{i}"), nat, now).is_ok());
        }
        assert!(th2.begin("x20", nat, late).is_ok());
        assert!(th2.begin("zhou", nat, near).is_ok(), "back-off over");
        assert!(
            th2.begin("qian", nat, near).is_err(),
            "59 minutes: still counted"
        );
        let after = now + Duration::minutes(61) + Duration::seconds(31);
        assert!(th.begin("zhou", nat, after).is_ok());
        assert!(
            th.begin("qian", nat, after).is_ok(),
            "an hour later: aged out"
        );
    }

    #[test]
    fn account_ceiling_is_high_and_capped() {
        let th = LoginThrottle::default();
        let now = t0();
        for i in 0..99 {
            assert!(
                th.begin("li", &format!("10.0.{}.{}", i / 250, i % 250), now)
                    .is_ok()
            );
        }
        assert!(
            th.begin("li", "192.168.1.5", now).is_ok(),
            "100th attempt from elsewhere: still open"
        );
        for i in 0..30 {
            let _ = th.begin("li", &format!("10.1.0.{i}"), now);
        }
        let wait = th
            .begin("li", "192.168.1.6", now)
            .unwrap_err()
            .retry_after_secs;
        assert!(wait <= 15 * 60, "capped at 15 minutes: {wait}");
    }
}
