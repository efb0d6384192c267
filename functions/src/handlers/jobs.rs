use super::paging;
use crate::http::{authenticate, path_param, respond, HttpResult};
use crate::views;
use capydb_shared::services::{jobs, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let job = jobs::get(ctx, &principal, &path_param(&req, "job_id")).await?;
    respond(StatusCode::OK, &json!({ "job": views::job(&job) }))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = jobs::list(ctx, &principal, &path_param(&req, "project_id"), limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("jobs", &page, views::job))
}
