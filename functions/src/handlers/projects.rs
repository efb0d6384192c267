use super::paging;
use crate::http::{authenticate, body, idempotency_key, path_id, respond, HttpResult};
use crate::views;
use capydb_api::projects::{ProjectConnections, ProjectCreateRequest, ProjectCreated, ProjectDetail, ProjectList};
use capydb_shared::domain::names::ProjectName;
use capydb_shared::ids::ProjectId;
use capydb_shared::services::{projects, regions, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: ProjectCreateRequest = body(&req)?;
    let name = ProjectName::parse(&input.name)?;
    let idem = idempotency_key(&req, &principal)?;
    let (project, job) = projects::create(ctx, &principal, name, input.region.as_deref(), idem.as_ref()).await?;
    respond(StatusCode::ACCEPTED, &ProjectCreated { project: views::project(&project), job: views::job(&job) })
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = projects::list(ctx, &principal, limit, cursor.as_ref()).await?;
    let (projects, next_cursor) = views::page(&page, views::project);
    respond(StatusCode::OK, &ProjectList { projects, next_cursor })
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let project = projects::get(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?).await?;
    let region = regions::info(ctx, &project.region).await?;
    respond(StatusCode::OK, &ProjectDetail { project: views::project(&project), region: views::region(region) })
}

pub async fn connections(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let connections =
        projects::connections(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?).await?;
    respond(StatusCode::OK, &ProjectConnections { connections: views::connections(connections) })
}
