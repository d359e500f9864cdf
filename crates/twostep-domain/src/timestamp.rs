//! UTC instants as the domain sees them: passed in by the caller, never read
//! from a clock here.

use std::fmt;
use std::ops::{Add, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// A UTC instant with second-or-better precision, serialised as RFC 3339.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Wraps an instant, converting it to UTC.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(at.to_offset(UtcOffset::UTC))
    }

    /// Seconds since the Unix epoch; for tests and fixtures.
    pub fn from_unix(seconds: i64) -> Self {
        Self(OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    /// The wrapped instant.
    pub fn instant(self) -> OffsetDateTime {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// This instant plus a number of seconds (saturating at the far future).
    pub fn plus_seconds(self, seconds: u64) -> Self {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        Self(
            self.0
                .checked_add(Duration::seconds(seconds))
                .unwrap_or(self.0),
        )
    }

    /// Whole seconds from `self` until `later`, zero if `later` is not after.
    pub fn seconds_until(self, later: Timestamp) -> u64 {
        let delta = (later.0 - self.0).whole_seconds();
        u64::try_from(delta).unwrap_or(0)
    }

    /// RFC 3339 text, as in JSON.
    pub fn rfc3339(self) -> String {
        self.0
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.0.unix_timestamp().to_string())
    }

    /// Parses RFC 3339 text.
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339).ok().map(Self::new)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0 + rhs)
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Duration;
    fn sub(self, rhs: Timestamp) -> Duration {
        self.0 - rhs.0
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_rfc3339() {
        let at = Timestamp::from_unix(1_700_000_000);
        assert_eq!(at.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(Timestamp::parse("2023-11-14T22:13:20Z"), Some(at));
        assert_eq!(Timestamp::parse("2023-11-14T23:13:20+01:00"), Some(at));
    }

    #[test]
    fn seconds_until_is_zero_for_the_past() {
        let at = Timestamp::from_unix(100);
        assert_eq!(at.seconds_until(Timestamp::from_unix(160)), 60);
        assert_eq!(at.seconds_until(Timestamp::from_unix(40)), 0);
    }
}
