use crate::http::{authenticate, path_param, respond, HttpResult, JsonBody};
use capydb_shared::domain::schedules::{BackupSchedule, ScheduleSpec, SCHEDULE_ID};
use capydb_shared::services::{schedules, Context};
use capydb_shared::Error;
use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

fn view(s: &BackupSchedule, now: DateTime<Utc>) -> Value {
    json!({
        "id": s.id, "cron_hour": s.cron_hour, "cron_minute": s.cron_minute, "is_active": s.is_active, "label": s.label,
        "retention_days": s.retention_days, "last_run_at": s.last_run_at, "last_job_id": s.last_job_id, "last_run_state": s.last_run_state,
        "next_run_at": s.is_active.then(|| s.spec().next_run_after(now)), "scheduler_synced": s.scheduler_synced,
        "created_at": s.created_at, "updated_at": s.updated_at,
    })
}

fn schedule_id(req: &Request) -> Result<(), Error> {
    if path_param(req, "schedule_id") == SCHEDULE_ID {
        Ok(())
    } else {
        Err(Error::not_found("scheduled backup (a project has one, `default`)"))
    }
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let found = schedules::list(ctx, &principal, &path_param(&req, "project_id")).await?;
    let now = ctx.clock.now();
    respond(StatusCode::OK, &json!({ "scheduled_backups": found.iter().map(|s| view(s, now)).collect::<Vec<_>>() }))
}

pub async fn put(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    schedule_id(&req)?;
    let body = JsonBody::parse(&req, &["cron_hour", "cron_minute", "is_active", "label", "retention_days"])?;
    let spec = ScheduleSpec::new(
        body.opt_int("cron_hour", "0 to 23")?,
        body.opt_int("cron_minute", "0 to 59")?,
        body.opt_bool("is_active")?,
        body.opt_str("label")?.map(str::to_string),
        body.opt_int("retention_days", "1 to 365")?,
    )?;
    let schedule = schedules::put(ctx, &principal, &path_param(&req, "project_id"), spec).await?;
    respond(StatusCode::OK, &json!({ "scheduled_backup": view(&schedule, ctx.clock.now()) }))
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    schedule_id(&req)?;
    let schedule = schedules::delete(ctx, &principal, &path_param(&req, "project_id")).await?;
    respond(StatusCode::OK, &json!({ "scheduled_backup": view(&schedule, ctx.clock.now()), "deleted": true }))
}
