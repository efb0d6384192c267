use super::paging;
use crate::http::{authenticate, idempotency_key, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::names::ProjectName;
use capydb_shared::services::{projects, regions, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &["name", "region"])?;
    let name = ProjectName::parse(body.str("name")?)?;
    let region = body.opt_str("region")?;
    let idem = idempotency_key(&req, &principal)?;
    let (project, job) = projects::create(ctx, &principal, name, region, idem.as_ref()).await?;
    respond(StatusCode::ACCEPTED, &json!({ "project": views::project(&project), "job": views::job(&job) }))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = projects::list(ctx, &principal, limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("projects", &page, views::project))
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let project = projects::get(ctx, &principal, &path_param(&req, "project_id")).await?;
    let region = regions::info(ctx, &project.region).await?;
    respond(StatusCode::OK, &json!({ "project": views::project(&project), "region": region }))
}

pub async fn connections(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let connections = projects::connections(ctx, &principal, &path_param(&req, "project_id")).await?;
    respond(StatusCode::OK, &json!({ "connections": connections }))
}
