//! Fixed-window counters in memory, keyed by text (a token, an address, a phone's blind
//! index): the duplicate check's per-token limits and the application forms' anti-abuse
//! limits. A restart forgets them, like the login throttle: cheap, and no disk write per
//! refused request.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (DateTime<Utc>, u64)>>,
}

/// Keys kept before expired windows are swept (bounds the memory an attacker can fill).
const SWEEP_AT: usize = 50_000;

impl Limiter {
    /// Adds `n` to `key`'s count in the window of `window` that started at its first use;
    /// refused (the seconds until the window ends) when the count would pass `limit`. A
    /// refusal adds nothing.
    pub fn take(
        &self,
        key: &str,
        n: u64,
        limit: u64,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), u64> {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now - *start < Duration::days(1));
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now - entry.0 >= window {
            *entry = (now, 0);
        }
        if entry.1 + n > limit {
            let left = (entry.0 + window - now).num_seconds().max(1);
            return Err(u64::try_from(left).unwrap_or(1));
        }
        entry.1 += n;
        Ok(())
    }

    /// Whether `key` could take `n` more now (nothing is counted).
    pub fn would_take(
        &self,
        key: &str,
        n: u64,
        limit: u64,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), u64> {
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((start, count)) if now - *start < window && count + n > limit => {
                let left = (*start + window - now).num_seconds().max(1);
                Err(u64::try_from(left).unwrap_or(1))
            }
            _ => Ok(()),
        }
    }
}

/// What each key (a user) has looked up in a fixed window from its first use, as keyed hashes
/// (blind indexes, never the numbers themselves): a repeat within the window is not metered
/// again ([`crate::service::App::take_number_lookups`]). Memory is bounded by the keys (users)
/// and `cap` hashes per key.
#[derive(Default)]
pub struct Seen {
    windows: Mutex<HashMap<String, SeenWindow>>,
}

/// When a key's window started, and the hashes it looked up since.
type SeenWindow = (DateTime<Utc>, HashSet<String>);

impl Seen {
    /// Those of `items` that `key` has not looked up in its window, each once, in order.
    pub fn fresh(
        &self,
        key: &str,
        items: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let seen = map
            .get(key)
            .filter(|(start, _)| now - *start < window)
            .map(|(_, s)| s);
        let mut out: Vec<String> = Vec::new();
        for i in items {
            if !seen.is_some_and(|s| s.contains(i)) && !out.contains(i) {
                out.push(i.clone());
            }
        }
        out
    }

    /// Remembers `items` for `key` in its window (a new window when the last one is over).
    /// Past `cap` hashes nothing more is remembered: a repeat is then metered again, never
    /// the other way round.
    pub fn remember(
        &self,
        key: &str,
        items: Vec<String>,
        window: Duration,
        now: DateTime<Utc>,
        cap: usize,
    ) {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now - *start < window);
        }
        let entry = map
            .entry(key.to_string())
            .or_insert_with(|| (now, HashSet::new()));
        if now - entry.0 >= window {
            *entry = (now, HashSet::new());
        }
        for i in items {
            if entry.1.len() >= cap {
                break;
            }
            entry.1.insert(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_the_window_and_starts_again_after_it() {
        let l = Limiter::default();
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let m = Duration::minutes(1);
        for _ in 0..3 {
            assert!(l.take("a", 1, 3, m, t0).is_ok());
        }
        assert_eq!(l.take("a", 1, 3, m, t0 + Duration::seconds(20)), Err(40));
        assert!(l.take("b", 1, 3, m, t0).is_ok(), "keys are separate");
        assert!(l.would_take("a", 1, 3, m, t0).is_err());
        assert!(l.take("a", 1, 3, m, t0 + m).is_ok(), "a new window");
        assert!(
            l.take("a", 5, 3, m, t0 + m).is_err(),
            "a refusal adds nothing"
        );
        assert!(l.take("a", 2, 3, m, t0 + m).is_ok());
    }

    #[test]
    fn seen_keeps_each_key_apart_for_its_window_up_to_the_cap() {
        let s = Seen::default();
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = Duration::days(1);
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(s.fresh("u", &v(&["a", "b", "a"]), d, t0), v(&["a", "b"]));
        s.remember("u", v(&["a", "b"]), d, t0, 3);
        assert_eq!(s.fresh("u", &v(&["a", "c"]), d, t0), v(&["c"]));
        assert_eq!(
            s.fresh("w", &v(&["a"]), d, t0),
            v(&["a"]),
            "keys are separate"
        );
        s.remember("u", v(&["c", "d"]), d, t0, 3);
        assert_eq!(s.fresh("u", &v(&["c", "d"]), d, t0), v(&["d"]), "the cap");
        assert_eq!(
            s.fresh("u", &v(&["a"]), d, t0 + d),
            v(&["a"]),
            "a new window"
        );
    }
}
