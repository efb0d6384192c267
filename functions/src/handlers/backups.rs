use super::paging;
use crate::http::{authenticate, idempotency_key, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::backups::DownloadTtl;
use capydb_shared::domain::names::BackupLabel;
use capydb_shared::services::{backups, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &["label"])?;
    let label = body.opt_str("label")?.map(BackupLabel::parse).transpose()?;
    let idem = idempotency_key(&req, &principal)?;
    let (backup, job) =
        backups::request(ctx, &principal, &path_param(&req, "project_id"), label, idem.as_ref()).await?;
    respond(StatusCode::ACCEPTED, &json!({ "job": views::job(&job), "backup": views::plain(&backup) }))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = backups::list(ctx, &principal, &path_param(&req, "project_id"), limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("backups", &page, views::backup))
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let listed = backups::get(ctx, &principal, &path_param(&req, "project_id"), &path_param(&req, "backup_id")).await?;
    respond(StatusCode::OK, &json!({ "backup": views::backup(&listed) }))
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let backup =
        backups::delete(ctx, &principal, &path_param(&req, "project_id"), &path_param(&req, "backup_id")).await?;
    respond(StatusCode::OK, &json!({ "backup": backup, "deleted": true }))
}

pub async fn download_url(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &["expires_in_seconds"])?;
    let ttl = DownloadTtl::parse(body.opt_int("expires_in_seconds", "60 to 86400")?)?;
    let (project, backup) = (path_param(&req, "project_id"), path_param(&req, "backup_id"));
    let download = backups::download_url(ctx, &principal, &project, &backup, ttl).await?;
    respond(StatusCode::OK, &download)
}
