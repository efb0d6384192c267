//! API key scopes. A human session carries every scope; what it may do beyond that depends on
//! its org role (see `auth`).

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
    fn every_scope_round_trips_through_its_name_and_serde() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(Scope::parse("backups:admin"), None);
    }
}
