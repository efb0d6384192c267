//! Prefixed, time-sortable identifiers (`prj_01j…`). Parsing validates the prefix and the ULID
//! body, so a handler never passes an arbitrary string on to the store.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a valid {kind} id")]
pub struct IdError {
    pub kind: &'static str,
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $kind:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, ulid::Ulid::new().to_string().to_lowercase()))
            }

            /// An id with a chosen ULID, for ids that must come out the same on every retry.
            pub fn from_ulid(u: ulid::Ulid) -> Self {
                Self(format!("{}_{}", $prefix, u.to_string().to_lowercase()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let body = s.strip_prefix(concat!($prefix, "_")).ok_or(IdError { kind: $kind })?;
                if ulid::Ulid::from_string(body).is_err() || body != body.to_lowercase() {
                    return Err(IdError { kind: $kind });
                }
                Ok(Self(s.to_string()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(OrgId, "org", "organization");
prefixed_id!(ProjectId, "prj", "project");
prefixed_id!(JobId, "job", "job");
prefixed_id!(BackupId, "bkp", "backup");
prefixed_id!(ApiKeyId, "key", "API key");
prefixed_id!(EventId, "evt", "event");
prefixed_id!(PreviewId, "pvw", "preview database");
prefixed_id!(RestoreId, "rst", "restore");
prefixed_id!(RestorePointId, "rp", "restore point");
prefixed_id!(WebhookId, "whk", "webhook endpoint");
prefixed_id!(DeliveryId, "dlv", "webhook delivery");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_sort_by_time() {
        let a = ProjectId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ProjectId::generate();
        assert_eq!(a.as_str().parse::<ProjectId>().unwrap(), a);
        assert!(b > a, "later ids sort after earlier ones");
    }

    #[test]
    fn wrong_prefix_or_body_is_refused() {
        let job = JobId::generate();
        assert!(job.as_str().parse::<ProjectId>().is_err());
        assert!("prj_notaulid".parse::<ProjectId>().is_err());
        assert!("prj_01J0000000000000000000000Z".parse::<ProjectId>().is_err());
        assert!("".parse::<ProjectId>().is_err());
    }
}
