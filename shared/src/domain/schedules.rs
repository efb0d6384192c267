//! Daily backup schedules: a UTC time of day, an active flag, a label and a retention.

use crate::ids::{JobId, OrgId, ProjectId};
use crate::Error;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// A project has one daily schedule, at `…/scheduled-backups/default`.
pub const SCHEDULE_ID: &str = "default";

/// The schedule a path names: only `default` exists; anything else is not found.
pub fn check_schedule_id(raw: &str) -> Result<(), Error> {
    if raw == SCHEDULE_ID {
        Ok(())
    } else {
        Err(Error::not_found("scheduled backup (a project has one, `default`)"))
    }
}
pub const DEFAULT_LABEL: &str = "scheduled";
pub const DEFAULT_RETENTION_DAYS: u32 = 14;
pub const MAX_RETENTION_DAYS: u32 = 365;
/// The platform's own nightly dump of every project database: 02:15 UTC, kept 14 days.
pub const NIGHTLY_HOUR: u32 = 2;
pub const NIGHTLY_MINUTE: u32 = 15;
pub const NIGHTLY_RETENTION_DAYS: i64 = 14;

/// The first nightly dump time strictly after `now`.
pub fn next_nightly_after(now: DateTime<Utc>) -> DateTime<Utc> {
    let spec = ScheduleSpec {
        cron_hour: NIGHTLY_HOUR,
        cron_minute: NIGHTLY_MINUTE,
        is_active: true,
        label: String::new(),
        retention_days: 1,
    };
    spec.next_run_after(now)
}

/// The validated body of `PUT …/scheduled-backups/default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    pub cron_hour: u32,
    pub cron_minute: u32,
    pub is_active: bool,
    pub label: String,
    pub retention_days: u32,
}

impl ScheduleSpec {
    /// Checks every field against its range; the error names the field and the range.
    pub fn new(
        cron_hour: Option<i64>,
        cron_minute: Option<i64>,
        is_active: Option<bool>,
        label: Option<String>,
        retention_days: Option<i64>,
    ) -> Result<Self, Error> {
        let ranged =
            |field: &str, value: Option<i64>, min: i64, max: i64, default: Option<i64>| -> Result<u32, Error> {
                match value.or(default) {
                    Some(v) if (min..=max).contains(&v) => Ok(v as u32),
                    Some(v) => {
                        Err(Error::invalid(field, format!("{field} must be an integer from {min} to {max} (got {v})")))
                    }
                    None => Err(Error::invalid(field, format!("{field} is required (an integer from {min} to {max})"))),
                }
            };
        let label = match label {
            None => DEFAULT_LABEL.to_string(),
            Some(l) => super::names::BackupLabel::parse(&l)?.into_inner(),
        };
        Ok(ScheduleSpec {
            cron_hour: ranged("cron_hour", cron_hour, 0, 23, None)?,
            cron_minute: ranged("cron_minute", cron_minute, 0, 59, None)?,
            is_active: is_active.ok_or_else(|| Error::invalid("is_active", "is_active is required (true or false)"))?,
            label,
            retention_days: ranged(
                "retention_days",
                retention_days,
                1,
                MAX_RETENTION_DAYS as i64,
                Some(DEFAULT_RETENTION_DAYS as i64),
            )?,
        })
    }

    /// The EventBridge Scheduler expression (evaluated in UTC).
    pub fn expression(&self) -> String {
        format!("cron({} {} * * ? *)", self.cron_minute, self.cron_hour)
    }

    /// The first run strictly after `now`.
    pub fn next_run_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let at = NaiveTime::from_hms_opt(self.cron_hour, self.cron_minute, 0).expect("validated time of day");
        let today = now.date_naive().and_time(at).and_utc();
        if today > now {
            today
        } else {
            today + Duration::days(1)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupSchedule {
    pub id: String,
    pub project_id: ProjectId,
    pub org_id: OrgId,
    pub cron_hour: u32,
    pub cron_minute: u32,
    pub is_active: bool,
    pub label: String,
    pub retention_days: u32,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_job_id: Option<JobId>,
    /// How the last expected run went: `completed`, `failed` or `missed`.
    #[serde(default)]
    pub last_run_state: Option<String>,
    /// When to check that the next expected run completed (its time plus the grace period).
    #[serde(default)]
    pub check_at: Option<DateTime<Utc>>,
    /// Whether the EventBridge schedule matches this record; `false` after a failed sync, until
    /// the next successful PUT repairs it.
    pub scheduler_synced: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BackupSchedule {
    pub fn spec(&self) -> ScheduleSpec {
        ScheduleSpec {
            cron_hour: self.cron_hour,
            cron_minute: self.cron_minute,
            is_active: self.is_active,
            label: self.label.clone(),
            retention_days: self.retention_days,
        }
    }
}

/// How long after its time a scheduled backup may take before it counts as missed.
pub fn missed_grace() -> Duration {
    Duration::hours(1)
}

/// Name of a project's schedule in the scheduler (unique within our schedule group).
pub fn scheduler_name(project: &ProjectId) -> String {
    format!("backup-{project}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_has_one_schedule_named_default() {
        check_schedule_id("default").unwrap();
        for other in ["Default", "nightly", ""] {
            assert!(matches!(check_schedule_id(other), Err(Error::NotFound(_))), "{other}");
        }
    }
    use chrono::TimeZone;

    fn field(e: Error) -> String {
        match e {
            Error::InvalidField { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_are_enforced_and_named() {
        assert_eq!(field(ScheduleSpec::new(Some(24), Some(0), Some(true), None, None).unwrap_err()), "cron_hour");
        assert_eq!(field(ScheduleSpec::new(Some(3), Some(-1), Some(true), None, None).unwrap_err()), "cron_minute");
        assert_eq!(
            field(ScheduleSpec::new(Some(3), Some(0), Some(true), None, Some(0)).unwrap_err()),
            "retention_days"
        );
        assert_eq!(
            field(ScheduleSpec::new(Some(3), Some(0), Some(true), None, Some(366)).unwrap_err()),
            "retention_days"
        );
        assert_eq!(field(ScheduleSpec::new(Some(3), Some(0), None, None, None).unwrap_err()), "is_active");
        assert_eq!(field(ScheduleSpec::new(None, Some(0), Some(true), None, None).unwrap_err()), "cron_hour");
        let e = ScheduleSpec::new(Some(3), Some(60), Some(true), None, None).unwrap_err();
        assert!(e.to_string().contains("0 to 59"), "{e}");
    }

    #[test]
    fn defaults_and_expression() {
        let s = ScheduleSpec::new(Some(3), Some(5), Some(true), None, None).unwrap();
        assert_eq!((s.label.as_str(), s.retention_days), ("scheduled", 14));
        assert_eq!(s.expression(), "cron(5 3 * * ? *)");
    }

    #[test]
    fn next_run_is_today_or_tomorrow() {
        let s = ScheduleSpec::new(Some(3), Some(5), Some(true), None, None).unwrap();
        let before = Utc.with_ymd_and_hms(2026, 6, 9, 2, 0, 0).unwrap();
        assert_eq!(s.next_run_after(before), Utc.with_ymd_and_hms(2026, 6, 9, 3, 5, 0).unwrap());
        let at = Utc.with_ymd_and_hms(2026, 6, 9, 3, 5, 0).unwrap();
        assert_eq!(s.next_run_after(at), Utc.with_ymd_and_hms(2026, 6, 10, 3, 5, 0).unwrap());
    }
}
