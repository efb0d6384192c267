use super::paging;
use crate::http::{authenticate, body, path_id, respond, HttpResult};
use crate::views;
use capydb_api::restore_points::{
    RestorePointCreateRequest, RestorePointDeleted, RestorePointList, RestorePointResponse,
};
use capydb_shared::domain::names::BackupLabel;
use capydb_shared::domain::restore_points::RestorePointKind;
use capydb_shared::ids::{ProjectId, RestorePointId};
use capydb_shared::services::restore_points::{self, NewRestorePoint};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: RestorePointCreateRequest = body(&req)?;
    let kind = RestorePointKind::infer(input.kind.map(Into::into), input.backup_key.is_some());
    let new = NewRestorePoint {
        label: BackupLabel::parse(&input.label)?,
        kind,
        backup_key: input.backup_key,
        pitr_time: input.pitr_time,
        note: input.note,
    };
    let point =
        restore_points::create(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, new).await?;
    respond(StatusCode::CREATED, &RestorePointResponse { restore_point: views::restore_point(&point) })
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let project = path_id::<ProjectId>(&req, "project_id", "project")?;
    let page = restore_points::list(ctx, &principal, &project, limit, cursor.as_ref()).await?;
    let (restore_points, next_cursor) = views::page(&page, views::restore_point);
    let pitr_window_days = restore_points::pitr_window_days(ctx, &principal, &project).await?;
    respond(StatusCode::OK, &RestorePointList { restore_points, next_cursor, pitr_window_days })
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let point = restore_points::delete(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        &path_id::<RestorePointId>(&req, "restore_point_id", "restore point")?,
    )
    .await?;
    respond(StatusCode::OK, &RestorePointDeleted { restore_point: views::restore_point(&point), deleted: true })
}
