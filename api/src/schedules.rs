//! A project's daily backup schedule (one per project, id `default`).

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Hour of the day, UTC: 0–23.
    #[schema(minimum = 0, maximum = 23)]
    pub cron_hour: Option<i64>,
    /// 0–59.
    #[schema(minimum = 0, maximum = 59)]
    pub cron_minute: Option<i64>,
    pub is_active: Option<bool>,
    /// Label of the backups it takes: 1–200 characters, `scheduled` when left out.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub label: Option<String>,
    /// Days its backups are kept: 1–365, 14 when left out.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub retention_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduledBackup {
    pub id: String,
    pub organization_id: String,
    pub project_id: String,
    pub cron_hour: u32,
    pub cron_minute: u32,
    pub is_active: bool,
    pub label: String,
    pub retention_days: u32,
    pub last_run_at: Option<Timestamp>,
    pub last_job_id: Option<String>,
    /// How the last expected run went: `completed`, `failed` or `missed`.
    pub last_run_state: Option<String>,
    pub next_run_at: Option<Timestamp>,
    /// Whether the scheduler matches this record; `false` after a failed sync until a PUT repairs it.
    pub scheduler_synced: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleList {
    pub scheduled_backups: Vec<ScheduledBackup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleResponse {
    pub scheduled_backup: ScheduledBackup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleDeleted {
    pub scheduled_backup: ScheduledBackup,
    pub deleted: bool,
}
