//! API key scopes. A human session carries every scope; what it may do beyond that depends on
//! its org role (see `auth`).

use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "projects:read")]
    ProjectsRead,
    #[serde(rename = "projects:write")]
    ProjectsWrite,
    #[serde(rename = "backups:read")]
    BackupsRead,
    #[serde(rename = "backups:write")]
    BackupsWrite,
    #[serde(rename = "jobs:read")]
    JobsRead,
    #[serde(rename = "credentials:read")]
    CredentialsRead,
    #[serde(rename = "organizations:read")]
    OrganizationsRead,
    #[serde(rename = "organizations:write")]
    OrganizationsWrite,
    #[serde(rename = "api_keys:read")]
    ApiKeysRead,
    #[serde(rename = "api_keys:write")]
    ApiKeysWrite,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::ProjectsRead,
        Scope::ProjectsWrite,
        Scope::BackupsRead,
        Scope::BackupsWrite,
        Scope::JobsRead,
        Scope::CredentialsRead,
        Scope::OrganizationsRead,
        Scope::OrganizationsWrite,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ProjectsRead => "projects:read",
            Scope::ProjectsWrite => "projects:write",
            Scope::BackupsRead => "backups:read",
            Scope::BackupsWrite => "backups:write",
            Scope::JobsRead => "jobs:read",
            Scope::CredentialsRead => "credentials:read",
            Scope::OrganizationsRead => "organizations:read",
            Scope::OrganizationsWrite => "organizations:write",
            Scope::ApiKeysRead => "api_keys:read",
            Scope::ApiKeysWrite => "api_keys:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// A new key's `scopes` as requested: every scope when the request names none (a full key,
    /// as the dashboard's first key is), else each one known, or a 400 naming `scopes` and the
    /// allowed values.
    pub fn parse_requested(requested: Option<&[String]>) -> Result<Vec<Scope>, Error> {
        let Some(requested) = requested else { return Ok(Scope::ALL.to_vec()) };
        requested
            .iter()
            .map(|s| {
                Scope::parse(s).ok_or_else(|| {
                    let allowed = Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                    Error::invalid("scopes", format!("unknown scope `{s}`; allowed: {allowed}"))
                })
            })
            .collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_without_scopes_gets_all_and_an_unknown_scope_is_named() {
        assert_eq!(Scope::parse_requested(None).unwrap(), Scope::ALL.to_vec());
        let asked = ["backups:read".to_string(), "jobs:read".to_string()];
        assert_eq!(Scope::parse_requested(Some(&asked)).unwrap(), vec![Scope::BackupsRead, Scope::JobsRead]);
        assert_eq!(Scope::parse_requested(Some(&[])).unwrap(), vec![], "an empty list is a key that can do nothing");
        let e = Scope::parse_requested(Some(&["backups:rule".to_string()])).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidField { field, message } if field == "scopes" && message.contains("backups:rule") && message.contains("jobs:read")),
            "{e:?}"
        );
    }

    #[test]
    fn every_scope_round_trips_through_its_name_and_serde() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(Scope::parse("backups:admin"), None);
    }
}
