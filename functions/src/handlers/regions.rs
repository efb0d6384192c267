use crate::http::{authenticate, respond, HttpResult};
use capydb_shared::services::{regions, Context};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    authenticate(ctx, &req).await?;
    respond(StatusCode::OK, &json!({ "regions": regions::list(ctx).await? }))
}
