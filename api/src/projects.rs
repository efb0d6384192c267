//! Projects, their regions and their connection details.

use crate::jobs::Job;
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectCreateRequest {
    /// 1–64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// A region id from `GET /v1/regions`; the first region when left out.
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectState {
    Provisioning,
    Ready,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub region: String,
    pub state: ProjectState,
    pub database_name: String,
    /// Why provisioning failed (`failed` only).
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `202`: the project is provisioning; follow `job`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectCreated {
    pub project: Project,
    pub job: Job,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<Project>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectDetail {
    pub project: Project,
    /// The project's region, with what point-in-time recovery can reach there now.
    pub region: Region,
}

/// A region cluster projects live on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Region {
    pub id: String,
    pub display_name: String,
    pub location: String,
    /// Whether the cluster ships its WAL continuously (point-in-time recovery needs it).
    pub wal_archiving: bool,
    /// Days of point-in-time recovery kept when the archive is complete.
    pub pitr_window_days: Option<u32>,
    /// Whether a point-in-time restore is possible right now.
    pub pitr_available: bool,
    pub earliest_restore_time: Option<Timestamp>,
    /// The end of the newest archived WAL; a later `restore_time` is clamped to it.
    pub latest_restore_time: Option<Timestamp>,
    /// How far the archive is behind now, in seconds.
    pub archive_lag_seconds: Option<i64>,
    /// Missing WAL the window had to stop at, as `first..last` segment names.
    pub wal_gaps: Vec<String>,
}

/// `regions` lists the ids, as CapyDB publishes it; `region_details` carries each region's facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegionList {
    pub regions: Vec<String>,
    pub region_details: Vec<Region>,
}

/// How to connect to a database: needs scope `credentials:read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Connections {
    pub direct_url: String,
    /// Through the region's pooler; the direct URL where the region has none.
    pub pooled_url: String,
    pub username: String,
    /// The PostgreSQL role the username logs in as.
    pub role: String,
    pub database_name: String,
    pub host: String,
    pub port: u16,
    pub pooled_port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectConnections {
    pub connections: Connections,
}
