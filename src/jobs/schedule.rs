//! When scheduled work is due. Times of day are configured in China Standard Time; zhudai uses
//! the fixed offset +08:00 (China has no daylight saving time, so this equals Asia/Shanghai).

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Offset, TimeZone, Utc};

/// Asia/Shanghai as a fixed offset (+08:00).
pub fn zone() -> FixedOffset {
    // +08:00 is always a valid offset; the UTC fallback only avoids an `unwrap`.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

/// The latest daily run instant at or before `now`.
pub fn last_slot(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let local = now.with_timezone(&zone());
    let today = local.date_naive().and_time(at);
    let today = zone()
        .from_local_datetime(&today)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    if today <= now {
        today
    } else {
        today - Duration::days(1)
    }
}

/// The next daily run instant strictly after `now`.
pub fn next_slot(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    last_slot(now, at) + Duration::days(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slots_are_in_china_time() {
        let at = parse_time_of_day("02:30").unwrap();
        // 2026-11-20 02:00 UTC = 10:00 +08:00: today's 02:30 local (18:30 UTC the day before) has passed.
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap();
        assert_eq!(
            last_slot(now, at),
            Utc.with_ymd_and_hms(2026, 11, 19, 18, 30, 0).unwrap()
        );
        assert_eq!(
            next_slot(now, at),
            Utc.with_ymd_and_hms(2026, 11, 20, 18, 30, 0).unwrap()
        );
        // 18:29 UTC is 02:29 local: the slot of the day before still applies.
        let early = Utc.with_ymd_and_hms(2026, 11, 20, 18, 29, 0).unwrap();
        assert_eq!(
            last_slot(early, at),
            Utc.with_ymd_and_hms(2026, 11, 19, 18, 30, 0).unwrap()
        );
        assert!(parse_time_of_day("25:00").is_none());
        assert!(parse_time_of_day("7:05").is_some());
    }
}
