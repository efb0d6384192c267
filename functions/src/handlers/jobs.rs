use super::paging;
use crate::http::{authenticate, body, path_id, respond, HttpResult};
use crate::views;
use capydb_api::jobs::{JobList, JobResponse};
use capydb_api::Empty;
use capydb_shared::ids::{JobId, ProjectId};
use capydb_shared::services::{jobs, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let job = jobs::get(ctx, &principal, &path_id::<JobId>(&req, "job_id", "job")?).await?;
    respond(StatusCode::OK, &JobResponse { job: views::job(&job) })
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page =
        jobs::list(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, limit, cursor.as_ref())
            .await?;
    let (jobs, next_cursor) = views::page(&page, views::job);
    respond(StatusCode::OK, &JobList { jobs, next_cursor })
}

/// `202`: a pending job is already `cancelled`; a running one stops within seconds (follow it).
pub async fn cancel(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    body::<Empty>(&req)?;
    let job = jobs::cancel(ctx, &principal, &path_id::<JobId>(&req, "job_id", "job")?).await?;
    respond(StatusCode::ACCEPTED, &JobResponse { job: views::job(&job) })
}
