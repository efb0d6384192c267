use super::paging;
use crate::http::{authenticate, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::previews::TtlHours;
use capydb_shared::services::{previews, Context};
use capydb_shared::Error;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = previews::list(ctx, &principal, &path_param(&req, "project_id"), limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("preview_databases", &page, views::preview))
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (preview, connection) = previews::get(ctx, &principal, &path_param(&req, "preview_id")).await?;
    let mut view = views::preview(&preview);
    view["connection"] = json!(connection);
    respond(StatusCode::OK, &json!({ "preview_database": view }))
}

pub async fn extend(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &["ttl_hours"])?;
    let hours = body
        .opt_int("ttl_hours", "1 to 168")?
        .ok_or_else(|| Error::invalid("ttl_hours", "ttl_hours is required (1 to 168)"))?;
    let preview =
        previews::extend(ctx, &principal, &path_param(&req, "preview_id"), TtlHours::parse(Some(hours))?).await?;
    respond(StatusCode::OK, &json!({ "preview_database": views::preview(&preview) }))
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let preview = previews::delete(ctx, &principal, &path_param(&req, "preview_id")).await?;
    respond(StatusCode::OK, &json!({ "preview_database": views::preview(&preview), "deleted": true }))
}
