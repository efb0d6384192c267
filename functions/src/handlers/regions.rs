use crate::http::{authenticate, respond, HttpResult};
use crate::views;
use capydb_api::projects::RegionList;
use capydb_shared::services::{regions, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    authenticate(ctx, &req).await?;
    let details: Vec<_> = regions::list(ctx).await?.into_iter().map(views::region).collect();
    respond(
        StatusCode::OK,
        &RegionList { regions: details.iter().map(|r| r.id.clone()).collect(), region_details: details },
    )
}
