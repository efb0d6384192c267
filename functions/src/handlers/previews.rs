use super::paging;
use crate::http::{authenticate, body, path_id, respond, HttpResult};
use crate::views;
use capydb_api::previews::{PreviewDeleted, PreviewExtendRequest, PreviewExtended, PreviewList, PreviewResponse};
use capydb_shared::domain::previews::TtlHours;
use capydb_shared::ids::{PreviewId, ProjectId};
use capydb_shared::services::{previews, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let project = path_id::<ProjectId>(&req, "project_id", "project")?;
    let page = previews::list(ctx, &principal, &project, limit, cursor.as_ref()).await?;
    let placement = match page.items.first() {
        Some(p) => Some(previews::placement(ctx, &p.project_id).await?),
        None => None,
    };
    let (preview_databases, next_cursor) =
        views::page(&page, |p| views::preview(p, placement.as_ref().expect("a page with items has a placement")));
    respond(StatusCode::OK, &PreviewList { preview_databases, next_cursor })
}

pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let preview =
        previews::get(ctx, &principal, &path_id::<PreviewId>(&req, "preview_id", "preview database")?).await?;
    let placement = previews::placement(ctx, &preview.project_id).await?;
    respond(StatusCode::OK, &PreviewResponse { preview_database: views::preview(&preview, &placement) })
}

pub async fn connections(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let connections =
        previews::connections(ctx, &principal, &path_id::<PreviewId>(&req, "preview_id", "preview database")?).await?;
    respond(StatusCode::OK, &views::connections(connections))
}

pub async fn extend(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: PreviewExtendRequest = body(&req)?;
    let ttl = TtlHours::parse(Some(input.ttl_hours))?;
    let preview =
        previews::extend(ctx, &principal, &path_id::<PreviewId>(&req, "preview_id", "preview database")?, ttl).await?;
    let placement = previews::placement(ctx, &preview.project_id).await?;
    respond(StatusCode::OK, &PreviewExtended { preview: views::preview(&preview, &placement) })
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let preview =
        previews::delete(ctx, &principal, &path_id::<PreviewId>(&req, "preview_id", "preview database")?).await?;
    let placement = previews::placement(ctx, &preview.project_id).await?;
    respond(StatusCode::OK, &PreviewDeleted { preview_database: views::preview(&preview, &placement), deleted: true })
}
