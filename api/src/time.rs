//! Timestamps as the API writes them: RFC 3339, UTC, millisecond precision.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|_| serde::de::Error::custom(format!("`{raw}` is not an RFC 3339 timestamp")))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 in UTC with millisecond precision, e.g. `2026-06-09T14:30:00.000Z`"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_with_milliseconds_in_utc_and_read_back() {
        let t = DateTime::parse_from_rfc3339("2026-06-09T16:30:00.123456+02:00").unwrap().with_timezone(&Utc);
        let json = serde_json::to_string(&Timestamp(t)).unwrap();
        assert_eq!(json, "\"2026-06-09T14:30:00.123Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back.0.timestamp_millis(), t.timestamp_millis());
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
