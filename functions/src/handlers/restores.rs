use super::paging;
use crate::http::{authenticate, body, idempotency_key, path_id, respond, HttpResult};
use crate::views;
use capydb_api::restores::{RestoreCreateRequest, RestoreCreated, RestoreList, RestoreResponse};
use capydb_shared::domain::previews::{PreviewName, TtlHours};
use capydb_shared::domain::restores::{RestoreSource, TargetKind};
use capydb_shared::ids::{ProjectId, RestoreId};
use capydb_shared::services::restores::{self, RestoreRequest};
use capydb_shared::services::{previews, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: RestoreCreateRequest = body(&req)?;
    let request = RestoreRequest {
        source: RestoreSource::parse(input.backup_key, input.restore_point_id, input.restore_time.as_deref())?,
        target_kind: input.target_kind.map_or(TargetKind::NewPreview, Into::into),
        preview_id: input.preview_id,
        preview_name: input.preview_name.as_deref().map(PreviewName::parse).transpose()?,
        ttl: TtlHours::parse(input.ttl_hours)?,
        confirm_project_overwrite: input.confirm_project_overwrite.unwrap_or(false),
        allow_unverified_backup: input.allow_unverified_backup.unwrap_or(false),
    };
    let idem = idempotency_key(&req, &principal)?;
    let done = restores::request(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        request,
        idem.as_ref(),
    )
    .await?;
    let preview = match &done.preview {
        Some(p) => Some(views::preview(p, &previews::placement(ctx, &p.project_id).await?)),
        None => None,
    };
    respond(
        StatusCode::ACCEPTED,
        &RestoreCreated {
            job: views::job(&done.job),
            pitr: done.restore.pitr.as_ref().map(views::pitr),
            restore: views::restore(&done.restore),
            preview,
        },
    )
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page =
        restores::list(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, limit, cursor.as_ref())
            .await?;
    let (restores, next_cursor) = views::page(&page, views::restore);
    respond(StatusCode::OK, &RestoreList { restores, next_cursor })
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let restore = restores::get(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        &path_id::<RestoreId>(&req, "restore_id", "restore")?,
    )
    .await?;
    respond(StatusCode::OK, &RestoreResponse { restore: views::restore(&restore) })
}
