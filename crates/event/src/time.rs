//! Event time. Detectors and correlation use only this, never the wall clock.

use std::fmt;

/// Milliseconds since the Unix epoch, UTC. Ordered, copyable, and cheap to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// Parses RFC 3339 / ISO 8601 with an offset (`2024-08-02T08:23:55Z`,
    /// `2024-08-02T08:23:55.123+00:00`). Returns `None` for anything else.
    ///
    /// Also accepts the zone-less `2024-01-01 00:00:00[.fff]` that data lakes (Panther, Athena
    /// exports) write for CloudTrail's `eventTime`, which CloudTrail defines as UTC.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(ts) = Self::parse_utc_seconds(text.as_bytes()) {
            return Some(ts);
        }
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Some(Timestamp(ts.as_millisecond()));
        }
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        let ts = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(Timestamp(ts.as_millisecond()))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, the only shape CloudTrail writes (`eventTime`, session
    /// `creationDate`), read without the general parser: two per record, they were 3 % of a
    /// CloudTrail scan. Anything else, or any doubt (a leap second, a day the month lacks), is
    /// left to jiff, so the answer is always jiff's (a property test compares them).
    fn parse_utc_seconds(b: &[u8]) -> Option<Self> {
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            b[range]
                .iter()
                .try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        // jiff's timestamps end late on 9999-12-30: the last year is left to it.
        if year > 9998 {
            return None;
        }
        Self::from_utc_civil(year, month, day, hour, minute, second)
    }

    /// A UTC date and time of the proleptic Gregorian calendar, or `None` for one that does not
    /// exist (a month past 12, a day the month lacks, an hour past 23, a leap second): what the
    /// fixed-layout time parsers (CloudTrail's, web servers') share.
    pub fn from_utc_civil(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<Self> {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if day < 1
            || day > month_days
            || !(0..=23).contains(&hour)
            || !(0..=59).contains(&minute)
            || !(0..=59).contains(&second)
        {
            return None;
        }
        // Days from the civil date (Howard Hinnant's `days_from_civil`).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(Timestamp(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with second precision when the milliseconds are zero, as the PRODUCT.md
    /// contract asks (`first_seen`, `last_seen`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) if self.0 % 1000 == 0 => write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%SZ")),
            Ok(ts) => write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")),
            Err(_) => write!(f, "invalid-time({})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cloudtrail_times_and_prints_them_back() {
        let t = Timestamp::parse_rfc3339("2024-08-02T08:23:55Z").unwrap();
        assert_eq!(t.to_string(), "2024-08-02T08:23:55Z");
        let t = Timestamp::parse_rfc3339("2024-08-02T08:23:55.250+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-08-02T06:23:55.250Z");
    }

    #[test]
    fn zone_less_data_lake_times_are_utc() {
        let t = Timestamp::parse_rfc3339("2025-01-20 16:52:14.000000000").unwrap();
        assert_eq!(t.to_string(), "2025-01-20T16:52:14Z");
        let t = Timestamp::parse_rfc3339("2022-12-11 19:42:55").unwrap();
        assert_eq!(t.to_string(), "2022-12-11T19:42:55Z");
    }

    #[test]
    fn rejects_text_that_is_not_a_time() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
        assert!(Timestamp::parse_rfc3339("").is_none());
    }

    /// The fast path must answer exactly as jiff does, for well-formed and malformed text alike.
    #[test]
    fn the_cloudtrail_fast_path_agrees_with_jiff() {
        use proptest::prelude::*;
        let jiff_only = |text: &str| -> Option<Timestamp> {
            text.parse::<jiff::Timestamp>()
                .ok()
                .map(|ts| Timestamp(ts.as_millisecond()))
        };
        for text in [
            "2024-02-29T23:59:59Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "0000-03-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-12-31T23:59:60Z",
            "2024-13-01T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01T24:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse_utc_seconds(text.as_bytes()).or_else(|| jiff_only(text)),
                jiff_only(text),
                "{text}"
            );
        }
        proptest!(|(y in 0i64..10000, mo in 0i64..14, d in 0i64..33, h in 0i64..26, mi in 0i64..61, s in 0i64..62)| {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            let fast = Timestamp::parse_utc_seconds(text.as_bytes());
            if fast.is_some() {
                prop_assert_eq!(fast, jiff_only(&text), "{}", text);
            }
            prop_assert_eq!(Timestamp::parse_rfc3339(&text).is_some(), jiff_only(&text).is_some() || text.parse::<jiff::civil::DateTime>().is_ok(), "{}", text);
        });
    }
}
