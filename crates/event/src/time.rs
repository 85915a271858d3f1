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
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Some(Timestamp(ts.as_millisecond()));
        }
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        let ts = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(Timestamp(ts.as_millisecond()))
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
}
