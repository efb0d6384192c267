use super::paging;
use crate::http::{authenticate, body, idempotency_key, path_id, respond, HttpResult};
use crate::views;
use capydb_api::backups::{
    BackupCreateRequest, BackupCreated, BackupDeleted, BackupList, BackupResponse, DownloadUrlRequest,
};
use capydb_shared::domain::backups::DownloadTtl;
use capydb_shared::domain::names::BackupLabel;
use capydb_shared::ids::{BackupId, ProjectId};
use capydb_shared::services::{backups, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: BackupCreateRequest = body(&req)?;
    let label = input.label.as_deref().map(BackupLabel::parse).transpose()?;
    let idem = idempotency_key(&req, &principal)?;
    let (backup, job) =
        backups::request(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, label, idem.as_ref())
            .await?;
    respond(StatusCode::ACCEPTED, &BackupCreated { job: views::job(&job), backup: views::backup(&backup, false) })
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page =
        backups::list(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, limit, cursor.as_ref())
            .await?;
    let (backups, next_cursor) = views::page(&page, views::listed_backup);
    respond(StatusCode::OK, &BackupList { backups, next_cursor })
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let listed = backups::get(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        &path_id::<BackupId>(&req, "backup_id", "backup")?,
    )
    .await?;
    respond(StatusCode::OK, &BackupResponse { backup: views::listed_backup(&listed) })
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let backup = backups::delete(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        &path_id::<BackupId>(&req, "backup_id", "backup")?,
    )
    .await?;
    respond(StatusCode::OK, &BackupDeleted { backup: views::backup(&backup, false), deleted: true })
}

pub async fn download_url(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: DownloadUrlRequest = body(&req)?;
    let ttl = DownloadTtl::parse(input.expires_in_seconds)?;
    let (project, backup) =
        (path_id::<ProjectId>(&req, "project_id", "project")?, path_id::<BackupId>(&req, "backup_id", "backup")?);
    let download = backups::download_url(ctx, &principal, &project, &backup, ttl).await?;
    respond(StatusCode::OK, &views::download_url(download))
}
