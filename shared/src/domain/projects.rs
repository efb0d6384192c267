//! Projects: one logical Postgres database on a region cluster, owned by an organisation.

use crate::ids::{OrgId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectState {
    Provisioning,
    Ready,
    Failed,
}

/// The project as stored. `db_password_enc` is AES-GCM sealed and never leaves the service
/// except through the credentials endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub name: String,
    pub region: String,
    pub state: ProjectState,
    pub database_name: String,
    pub db_username: String,
    pub db_password_enc: String,
    pub error: Option<String>,
    /// When the platform's nightly dump next takes this project (set once it is ready).
    #[serde(default)]
    pub next_nightly_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Database and role names derive from the project id: unique, valid unquoted identifiers
/// (lowercase, under 63 bytes), and stable across re-provisioning.
pub fn database_name(id: &ProjectId) -> String {
    id.as_str().to_string()
}

pub fn role_name(id: &ProjectId) -> String {
    format!("{}_owner", id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_valid_postgres_identifiers() {
        let id = ProjectId::generate();
        for name in [database_name(&id), role_name(&id)] {
            assert!(name.len() < 63);
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
        }
    }
}
