use super::paging;
use crate::http::{authenticate, idempotency_key, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::previews::{PreviewName, TtlHours};
use capydb_shared::domain::restores::TargetKind;
use capydb_shared::services::restores::{self, RestoreRequest};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

const FIELDS: &[&str] = &[
    "backup_key",
    "restore_point_id",
    "restore_time",
    "target_kind",
    "preview_id",
    "preview_name",
    "ttl_hours",
    "confirm_project_overwrite",
    "allow_unverified_backup",
];

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, FIELDS)?;
    let request = RestoreRequest {
        backup_key: body.opt_str("backup_key")?.map(str::to_string),
        restore_point_id: body.opt_str("restore_point_id")?.map(str::to_string),
        restore_time: body.opt_str("restore_time")?.map(str::to_string),
        target_kind: TargetKind::parse(body.opt_str("target_kind")?)?,
        preview_id: body.opt_str("preview_id")?.map(str::to_string),
        preview_name: body.opt_str("preview_name")?.map(PreviewName::parse).transpose()?,
        ttl: TtlHours::parse(body.opt_int("ttl_hours", "1 to 168")?)?,
        confirm_project_overwrite: body.opt_bool("confirm_project_overwrite")?.unwrap_or(false),
        allow_unverified_backup: body.opt_bool("allow_unverified_backup")?.unwrap_or(false),
    };
    let idem = idempotency_key(&req, &principal)?;
    let done = restores::request(ctx, &principal, &path_param(&req, "project_id"), request, idem.as_ref()).await?;
    respond(
        StatusCode::ACCEPTED,
        &json!({ "job": views::job(&done.job), "restore": done.restore, "preview": done.preview.as_ref().map(views::preview),
                 // Point-in-time: what was asked, what will be restored, and whether it was clamped.
                 "pitr": done.restore.pitr.as_ref().map(|p| json!({
                     "requested_restore_time": p.requested_restore_time, "restore_time": p.restore_time,
                     "restore_time_clamped": p.restore_time_clamped,
                 })) }),
    )
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = restores::list(ctx, &principal, &path_param(&req, "project_id"), limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("restores", &page, views::plain))
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let restore =
        restores::get(ctx, &principal, &path_param(&req, "project_id"), &path_param(&req, "restore_id")).await?;
    respond(StatusCode::OK, &json!({ "restore": restore }))
}
