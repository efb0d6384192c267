use crate::http::{authenticate, body, path_id, path_param, respond, HttpResult};
use crate::views;
use capydb_api::schedules::{ScheduleDeleted, ScheduleList, ScheduleRequest, ScheduleResponse};
use capydb_shared::domain::schedules::{check_schedule_id, ScheduleSpec};
use capydb_shared::ids::ProjectId;
use capydb_shared::services::{schedules, Context};
use capydb_shared::Error;
use lambda_http::http::StatusCode;
use lambda_http::Request;

fn schedule_id(req: &Request) -> Result<(), Error> {
    check_schedule_id(&path_param(req, "schedule_id"))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let found = schedules::list(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?).await?;
    let now = ctx.clock.now();
    respond(
        StatusCode::OK,
        &ScheduleList { scheduled_backups: found.iter().map(|s| views::schedule(s, now)).collect() },
    )
}

pub async fn put(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    schedule_id(&req)?;
    let input: ScheduleRequest = body(&req)?;
    let spec =
        ScheduleSpec::new(input.cron_hour, input.cron_minute, input.is_active, input.label, input.retention_days)?;
    let schedule = schedules::put(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, spec).await?;
    respond(StatusCode::OK, &ScheduleResponse { scheduled_backup: views::schedule(&schedule, ctx.clock.now()) })
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    schedule_id(&req)?;
    let schedule = schedules::delete(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?).await?;
    respond(
        StatusCode::OK,
        &ScheduleDeleted { scheduled_backup: views::schedule(&schedule, ctx.clock.now()), deleted: true },
    )
}
