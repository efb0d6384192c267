//! Preview databases: a restore target beside production, with its own role and a TTL.

use crate::ids::{OrgId, PreviewId, ProjectId};
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewState {
    /// Being filled by its first restore.
    Creating,
    Ready,
    /// Ready, with a restore into it under way (the current data stays until it succeeds).
    Restoring,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewDatabase {
    pub id: PreviewId,
    pub project_id: ProjectId,
    pub org_id: OrgId,
    pub name: String,
    pub database_name: String,
    pub db_username: String,
    pub db_password_enc: String,
    pub state: PreviewState,
    pub ttl_expires_at: DateTime<Utc>,
    pub source_kind: Option<String>,
    pub source_backup_key: Option<String>,
    pub source_restore_time: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn database_name(id: &PreviewId) -> String {
    id.as_str().to_string()
}

pub fn role_name(id: &PreviewId) -> String {
    format!("{}_owner", id.as_str())
}

/// Hours a preview lives: 1–168, default 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlHours(u32);

impl TtlHours {
    pub const DEFAULT: u32 = 24;
    pub const MAX: u32 = 168;

    pub fn parse(value: Option<i64>) -> Result<Self, Error> {
        match value {
            None => Ok(TtlHours(Self::DEFAULT)),
            Some(h) if (1..=Self::MAX as i64).contains(&h) => Ok(TtlHours(h as u32)),
            Some(h) => Err(Error::invalid("ttl_hours", format!("ttl_hours must be from 1 to {} (got {h})", Self::MAX))),
        }
    }

    pub fn after(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::hours(self.0 as i64)
    }
}

/// A preview's name: 1–63 characters of lowercase letters, digits and hyphens, starting with a
/// letter — usable as a hostname label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewName(String);

impl PreviewName {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let ok = (1..=63).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(PreviewName(value.to_string()))
        } else {
            Err(Error::invalid(
                "preview_name",
                "preview_name must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter",
            ))
        }
    }

    /// A generated name for a preview nobody named: `restore-<date>-<suffix>`.
    pub fn generated(now: DateTime<Utc>, id: &PreviewId) -> Self {
        let suffix: String = id.as_str().chars().rev().take(6).collect::<String>().chars().rev().collect();
        PreviewName(format!("restore-{}-{suffix}", now.format("%Y%m%d")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_bounds_and_default() {
        assert_eq!(TtlHours::parse(None).unwrap(), TtlHours(24));
        assert_eq!(TtlHours::parse(Some(168)).unwrap(), TtlHours(168));
        for bad in [0, 169, -1] {
            let e = TtlHours::parse(Some(bad)).unwrap_err();
            assert!(e.to_string().contains("1 to 168"), "{e}");
        }
    }

    #[test]
    fn preview_names() {
        assert!(PreviewName::parse("inspect-monday").is_ok());
        for bad in ["", "Inspect", "9lives", "has space", &"a".repeat(64)] {
            assert!(PreviewName::parse(bad).is_err(), "{bad}");
        }
        let id = PreviewId::generate();
        let g = PreviewName::generated(Utc::now(), &id);
        assert!(PreviewName::parse(g.as_str()).is_ok(), "{}", g.as_str());
    }
}
