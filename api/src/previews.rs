//! Preview databases: restores a person can look at before trusting them.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewState {
    /// Being filled by its first restore.
    Creating,
    Ready,
    /// Ready, with a restore into it under way; the current data stays until it succeeds.
    Restoring,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewDatabase {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub name: String,
    pub database_name: String,
    pub state: PreviewState,
    /// When the preview is dropped unless extended.
    pub ttl_expires_at: Timestamp,
    /// `backup` or `pitr`, once a restore filled it.
    pub source_kind: Option<String>,
    pub source_backup_key: Option<String>,
    pub source_restore_time: Option<Timestamp>,
    /// The project database its data came from.
    pub source_database: String,
    pub public_host: String,
    pub direct_port: u16,
    pub pooled_port: u16,
    /// The PostgreSQL role that owns the preview.
    pub role_name: String,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewList {
    pub preview_databases: Vec<PreviewDatabase>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewResponse {
    pub preview_database: PreviewDatabase,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewDeleted {
    pub preview_database: PreviewDatabase,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewExtendRequest {
    /// New lifetime from now: 1–168 hours.
    #[schema(minimum = 1, maximum = 168)]
    pub ttl_hours: i64,
}

/// CapyDB's published shape: `{preview}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewExtended {
    pub preview: PreviewDatabase,
}
