//! Daily backup schedules. The table holds the truth; EventBridge Scheduler holds a copy that
//! fires. A PUT writes the record (marked unsynced), then the scheduler, then marks the record
//! synced — so a scheduler failure leaves a record that says so, and the next PUT repairs both.
//! The fired function re-reads the record, so a stale copy in the scheduler cannot run a backup
//! the record does not want.

use super::{projects, Context};
use crate::auth::Principal;
use crate::domain::backups::{Backup, BackupKind};
use crate::domain::events::Event;
use crate::domain::jobs::{buckets_to_sweep, Job, JobState, JobType};
use crate::domain::projects::ProjectState;
use crate::domain::schedules::{missed_grace, scheduler_name, BackupSchedule, ScheduleSpec, SCHEDULE_ID};
use crate::domain::scopes::Scope;
use crate::ids::{BackupId, JobId, ProjectId};
use crate::store::RunKind;
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

pub async fn list(ctx: &Context, principal: &Principal, project_id: &ProjectId) -> Result<Vec<BackupSchedule>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    Ok(ctx.schedules.get_schedule(&project.id, SCHEDULE_ID).await?.into_iter().collect())
}

pub async fn put(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    spec: ScheduleSpec,
) -> Result<BackupSchedule, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    let now = ctx.clock.now();
    let previous = ctx.schedules.get_schedule(&project.id, SCHEDULE_ID).await?;
    let mut schedule = BackupSchedule {
        id: SCHEDULE_ID.into(),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        cron_hour: spec.cron_hour,
        cron_minute: spec.cron_minute,
        is_active: spec.is_active,
        label: spec.label.clone(),
        retention_days: spec.retention_days,
        last_run_at: previous.as_ref().and_then(|p| p.last_run_at),
        last_job_id: previous.as_ref().and_then(|p| p.last_job_id.clone()),
        last_run_state: previous.as_ref().and_then(|p| p.last_run_state.clone()),
        check_at: spec.is_active.then(|| spec.next_run_after(now) + missed_grace()),
        scheduler_synced: false,
        created_at: previous.as_ref().map(|p| p.created_at).unwrap_or(now),
        updated_at: now,
    };
    ctx.schedules.put_schedule(&schedule).await?;
    let input = json!({ "project_id": project.id }).to_string();
    ctx.scheduler.put(&scheduler_name(&project.id), &spec.expression(), spec.is_active, &input).await.map_err(|e| {
        tracing::error!(project = %project.id, error = %e, "scheduler rejected the schedule");
        Error::SchedulerUnavailable("the schedule is saved but not yet in effect: the scheduler did not respond; repeat the request to apply it".into())
    })?;
    schedule.scheduler_synced = true;
    ctx.schedules.put_schedule(&schedule).await?;
    Ok(schedule)
}

/// Removes the scheduler's copy first, so a failure leaves the record to retry the delete with.
pub async fn delete(ctx: &Context, principal: &Principal, project_id: &ProjectId) -> Result<BackupSchedule, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    let schedule = ctx
        .schedules
        .get_schedule(&project.id, SCHEDULE_ID)
        .await?
        .ok_or_else(|| Error::not_found("scheduled backup"))?;
    ctx.scheduler.delete(&scheduler_name(&project.id)).await.map_err(|e| {
        tracing::error!(project = %project.id, error = %e, "scheduler did not remove the schedule");
        Error::SchedulerUnavailable(
            "the schedule could not be removed: the scheduler did not respond; repeat the request".into(),
        )
    })?;
    ctx.schedules.delete_schedule(&project.id, SCHEDULE_ID).await?;
    Ok(schedule)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduledRun {
    Created(JobId),
    /// Today's run exists already: the scheduler delivered twice.
    AlreadyRan(JobId),
    Skipped(&'static str),
}

/// What the schedule fires: one `scheduled` backup per project and UTC day, expiring after the
/// schedule's retention.
pub async fn run(ctx: &Context, project_id: &ProjectId, now: DateTime<Utc>) -> Result<ScheduledRun, Error> {
    let Some(mut schedule) = ctx.schedules.get_schedule(project_id, SCHEDULE_ID).await? else {
        return Ok(ScheduledRun::Skipped("no schedule"));
    };
    if !schedule.is_active {
        return Ok(ScheduledRun::Skipped("schedule is disabled"));
    }
    let Some(project) = ctx.projects.get_project(project_id).await?.filter(|p| p.state == ProjectState::Ready) else {
        return Ok(ScheduledRun::Skipped("project is not ready"));
    };
    let day = now.date_naive();
    if let Some(job) = ctx.schedules.scheduled_run(project_id, RunKind::Scheduled, day).await? {
        return Ok(ScheduledRun::AlreadyRan(job));
    }
    let mut job =
        Job::new(JobType::Backup, project.org_id.clone(), project.id.clone(), ctx.config.job_max_attempts, now);
    let mut backup = Backup::new(
        BackupId::generate(),
        project.id.clone(),
        project.org_id.clone(),
        job.id.clone(),
        Some(schedule.label.clone()),
        BackupKind::Scheduled,
        project.database_name.clone(),
        now,
    );
    backup.expires_at = Some(now + Duration::days(schedule.retention_days as i64));
    job.backup_id = Some(backup.id.clone());
    if !ctx.schedules.create_scheduled_backup(&backup, &job, RunKind::Scheduled, day).await? {
        let job = ctx
            .schedules
            .scheduled_run(project_id, RunKind::Scheduled, day)
            .await?
            .ok_or_else(|| Error::Internal("run claim vanished".into()))?;
        return Ok(ScheduledRun::AlreadyRan(job));
    }
    schedule.last_run_at = Some(now);
    schedule.last_job_id = Some(job.id.clone());
    ctx.schedules.put_schedule(&schedule).await?;
    Ok(ScheduledRun::Created(job.id))
}

/// Checks every schedule whose expected run is past its grace period: a run that completed is
/// noted; one that failed or never happened is recorded as `missed` with a `backup.missed` event.
/// Reads only the due index. Returns how many runs were missed.
pub async fn check_missed(ctx: &Context, now: DateTime<Utc>) -> Result<u32, Error> {
    let mut missed = 0;
    for bucket in buckets_to_sweep(now, super::sweeper::LOOKBACK_HOURS) {
        for mut schedule in ctx.schedules.due_schedules(&bucket, now).await? {
            let Some(check_at) = schedule.check_at.filter(|at| *at <= now) else { continue };
            if !schedule.is_active {
                schedule.check_at = None;
                ctx.schedules.put_schedule(&schedule).await?;
                continue;
            }
            let expected = check_at - missed_grace();
            let job = match ctx
                .schedules
                .scheduled_run(&schedule.project_id, RunKind::Scheduled, expected.date_naive())
                .await?
            {
                Some(id) => ctx.jobs.get_job(&id).await?,
                None => None,
            };
            let state = match job.as_ref().map(|j| j.state) {
                Some(JobState::Completed) => "completed",
                Some(JobState::Failed) => "failed",
                Some(_) => {
                    // Still running past the grace period: look again shortly.
                    schedule.check_at = Some(now + Duration::minutes(15));
                    ctx.schedules.put_schedule(&schedule).await?;
                    continue;
                }
                None => "missed",
            };
            let event = (state != "completed").then(|| {
                Event::new(
                    "backup.missed",
                    schedule.org_id.clone(),
                    Some(schedule.project_id.clone()),
                    now,
                    crate::contract::data(&capydb_api::events::BackupMissedData {
                        project_id: schedule.project_id.to_string(),
                        schedule_id: schedule.id.clone(),
                        expected_at: crate::contract::ts(expected),
                        reason: if state == "failed" {
                            "the scheduled backup failed"
                        } else {
                            "no scheduled backup ran"
                        }
                        .into(),
                        job_id: job.as_ref().map(|j| j.id.to_string()),
                    }),
                )
            });
            schedule.last_run_state = Some(if state == "completed" { "completed" } else { "missed" }.to_string());
            schedule.check_at = Some(schedule.spec().next_run_after(now) + missed_grace());
            ctx.schedules.record_schedule_check(&schedule, event.as_ref()).await?;
            if event.is_some() {
                missed += 1;
                tracing::warn!(project = %schedule.project_id, %expected, state, "scheduled backup missed");
            }
        }
    }
    Ok(missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backups::BackupKind;
    use crate::domain::projects::Project;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0).unwrap()
    }

    /// The project's daily schedule at 03:00, kept 7 days, first checked after the run of `day`.
    async fn daily_at_three(ctx: &Context, project: &Project, day: u32) -> BackupSchedule {
        let schedule = BackupSchedule {
            check_at: Some(at(day, 3, 0) + missed_grace()),
            created_at: at(1, 0, 0),
            updated_at: at(1, 0, 0),
            ..crate::store_conformance::schedule(project)
        };
        ctx.schedules.put_schedule(&schedule).await.unwrap();
        schedule
    }

    #[tokio::test]
    async fn a_schedule_makes_one_backup_a_day_however_often_it_fires() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"x").await;
        daily_at_three(&ctx, &project, 3).await;
        fakes.clock.set(at(3, 3, 0));

        let ScheduledRun::Created(job_id) = run(&ctx, &project.id, at(3, 3, 0)).await.unwrap() else {
            panic!("the first firing of the day creates the backup")
        };
        for late in [at(3, 3, 1), at(3, 23, 59)] {
            assert_eq!(
                run(&ctx, &project.id, late).await.unwrap(),
                ScheduledRun::AlreadyRan(job_id.clone()),
                "a repeat delivery"
            );
        }
        let job = ctx.jobs.get_job(&job_id).await.unwrap().unwrap();
        let backup = ctx.backups.get_backup(&project.id, job.backup_id.as_ref().unwrap()).await.unwrap().unwrap();
        assert_eq!((backup.kind, backup.label.as_deref()), (BackupKind::Scheduled, Some("daily")));
        assert_eq!(backup.expires_at, Some(at(3, 3, 0) + Duration::days(7)), "kept for the schedule's retention");
        let schedule = ctx.schedules.get_schedule(&project.id, SCHEDULE_ID).await.unwrap().unwrap();
        assert_eq!((schedule.last_run_at, schedule.last_job_id.as_ref()), (Some(at(3, 3, 0)), Some(&job_id)));
        assert_eq!(ctx.backups.list_backups(&project.id, 10, None).await.unwrap().items.len(), 1);

        let ScheduledRun::Created(next) = run(&ctx, &project.id, at(4, 3, 0)).await.unwrap() else {
            panic!("the next day has its own run")
        };
        assert_ne!(next, job_id);
    }

    #[tokio::test]
    async fn a_disabled_schedule_or_an_unready_project_fires_nothing() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"x").await;
        assert_eq!(run(&ctx, &project.id, at(3, 3, 0)).await.unwrap(), ScheduledRun::Skipped("no schedule"));
        let mut schedule = daily_at_three(&ctx, &project, 3).await;
        schedule.is_active = false;
        ctx.schedules.put_schedule(&schedule).await.unwrap();
        assert_eq!(run(&ctx, &project.id, at(3, 3, 0)).await.unwrap(), ScheduledRun::Skipped("schedule is disabled"));
        schedule.is_active = true;
        ctx.schedules.put_schedule(&schedule).await.unwrap();
        let provisioning = Project { state: ProjectState::Provisioning, ..project.clone() };
        ctx.projects.update_project(&provisioning).await.unwrap();
        assert_eq!(run(&ctx, &project.id, at(3, 3, 0)).await.unwrap(), ScheduledRun::Skipped("project is not ready"));
        assert!(ctx.backups.list_backups(&project.id, 10, None).await.unwrap().items.is_empty());
    }

    #[tokio::test]
    async fn a_run_that_never_happened_is_reported_missed_once_and_a_completed_one_is_not() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"x").await;
        daily_at_three(&ctx, &project, 3).await;

        assert_eq!(check_missed(&ctx, at(3, 3, 59)).await.unwrap(), 0, "not before the grace period ends");
        assert_eq!(check_missed(&ctx, at(3, 4, 1)).await.unwrap(), 1, "no run on the 3rd");
        let missed: Vec<_> = fakes.store.events().into_iter().filter(|e| e.event_type == "backup.missed").collect();
        assert_eq!(missed.len(), 1);
        assert_eq!(missed[0].data["reason"], "no scheduled backup ran");
        assert_eq!(missed[0].data["expected_at"], serde_json::to_value(crate::contract::ts(at(3, 3, 0))).unwrap());
        let schedule = ctx.schedules.get_schedule(&project.id, SCHEDULE_ID).await.unwrap().unwrap();
        assert_eq!(schedule.last_run_state.as_deref(), Some("missed"));
        assert_eq!(schedule.check_at, Some(at(4, 3, 0) + missed_grace()), "next checked after the 4th's run");
        assert_eq!(check_missed(&ctx, at(3, 4, 30)).await.unwrap(), 0, "reported once");

        // The 4th: the run happens and is still going at the check, then completes.
        let ScheduledRun::Created(job_id) = run(&ctx, &project.id, at(4, 3, 0)).await.unwrap() else { panic!() };
        assert_eq!(check_missed(&ctx, at(4, 4, 1)).await.unwrap(), 0, "a running backup is not missed");
        let schedule = ctx.schedules.get_schedule(&project.id, SCHEDULE_ID).await.unwrap().unwrap();
        assert_eq!(schedule.check_at, Some(at(4, 4, 1) + Duration::minutes(15)), "looked at again shortly");
        let mut job = ctx.jobs.get_job(&job_id).await.unwrap().unwrap();
        let seen = crate::store::JobCondition::Pending { attempts: 0 };
        job.state = JobState::Completed;
        assert!(ctx.jobs.update_job(&job, &seen).await.unwrap());
        assert_eq!(check_missed(&ctx, at(4, 4, 20)).await.unwrap(), 0);
        let schedule = ctx.schedules.get_schedule(&project.id, SCHEDULE_ID).await.unwrap().unwrap();
        assert_eq!(schedule.last_run_state.as_deref(), Some("completed"));
        assert_eq!(fakes.store.events().iter().filter(|e| e.event_type == "backup.missed").count(), 1);
    }
}
