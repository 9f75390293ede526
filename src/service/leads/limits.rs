//! Fixed-window counters in memory, keyed by text (a token, an address, a phone's blind
//! index): the duplicate check's per-token limits and the application forms' anti-abuse
//! limits. A restart forgets them, like the login throttle: cheap, and no disk write per
//! refused request.

use std::collections::HashMap;
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
}
