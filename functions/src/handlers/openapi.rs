use crate::http::HttpResult;
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// The OpenAPI document, without credentials: clients are generated from it.
pub async fn get(_ctx: &Context, _req: Request) -> HttpResult {
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("cache-control", "public, max-age=300")
        .body(Body::from(capydb_api::openapi_json()))
        .expect("static response parts are valid"))
}
