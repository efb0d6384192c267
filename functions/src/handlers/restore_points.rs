use super::paging;
use crate::http::{authenticate, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::names::BackupLabel;
use capydb_shared::domain::restore_points::RestorePointKind;
use capydb_shared::services::restore_points::{self, NewRestorePoint};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &["label", "kind", "backup_key", "pitr_time", "note"])?;
    let backup_key = body.opt_str("backup_key")?.map(str::to_string);
    let new = NewRestorePoint {
        label: BackupLabel::parse(body.str("label")?)?,
        kind: RestorePointKind::parse(body.opt_str("kind")?, backup_key.is_some())?,
        backup_key,
        pitr_time: body.opt_str("pitr_time")?.map(str::to_string),
        note: body.opt_str("note")?.map(str::to_string),
    };
    let point = restore_points::create(ctx, &principal, &path_param(&req, "project_id"), new).await?;
    respond(StatusCode::CREATED, &json!({ "restore_point": point }))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = restore_points::list(ctx, &principal, &path_param(&req, "project_id"), limit, cursor.as_ref()).await?;
    let mut body = views::page("restore_points", &page, views::plain);
    body["pitr_window_days"] =
        json!(restore_points::pitr_window_days(ctx, &principal, &path_param(&req, "project_id")).await?);
    respond(StatusCode::OK, &body)
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let point =
        restore_points::delete(ctx, &principal, &path_param(&req, "project_id"), &path_param(&req, "restore_point_id"))
            .await?;
    respond(StatusCode::OK, &json!({ "restore_point": point, "deleted": true }))
}
