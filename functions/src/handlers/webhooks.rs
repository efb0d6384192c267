use super::paging;
use crate::http::{authenticate, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::webhooks::WebhookEndpoint;
use capydb_shared::services::deliveries;
use capydb_shared::services::webhooks::{self, EndpointChange, NewEndpoint};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

const FIELDS: [&str; 4] = ["url", "description", "event_types", "is_active"];

fn types(body: &JsonBody) -> Result<Option<Vec<String>>, capydb_shared::Error> {
    Ok(body.opt_str_list("event_types")?.map(|l| l.into_iter().map(str::to_string).collect()))
}

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &FIELDS)?;
    let new = NewEndpoint {
        url: body.str("url")?.to_string(),
        description: body.opt_str("description")?.map(str::to_string),
        event_types: types(&body)?.unwrap_or_default(),
        is_active: body.opt_bool("is_active")?.unwrap_or(true),
    };
    let (endpoint, secret) = webhooks::create(ctx, &principal, &path_param(&req, "org_id"), new).await?;
    respond(StatusCode::CREATED, &with_secret(&endpoint, &secret))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page = webhooks::list(ctx, &principal, &path_param(&req, "org_id"), limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("webhook_endpoints", &page, views::webhook_endpoint))
}

pub async fn update(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = JsonBody::parse(&req, &FIELDS)?;
    let change = EndpointChange {
        url: body.opt_str("url")?.map(str::to_string),
        // A present `description` (even null or "") replaces it; an absent one keeps it.
        description: body
            .has("description")
            .then(|| body.opt_str("description"))
            .transpose()?
            .map(|d| d.map(str::to_string)),
        event_types: types(&body)?,
        is_active: body.opt_bool("is_active")?,
    };
    let endpoint =
        webhooks::update(ctx, &principal, &path_param(&req, "org_id"), &path_param(&req, "webhook_id"), change).await?;
    respond(StatusCode::OK, &json!({ "webhook_endpoint": views::webhook_endpoint(&endpoint) }))
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let endpoint =
        webhooks::delete(ctx, &principal, &path_param(&req, "org_id"), &path_param(&req, "webhook_id")).await?;
    respond(StatusCode::OK, &json!({ "webhook_endpoint": views::webhook_endpoint(&endpoint), "deleted": true }))
}

pub async fn rotate_secret(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    JsonBody::parse(&req, &[])?;
    let (endpoint, secret) =
        webhooks::rotate_secret(ctx, &principal, &path_param(&req, "org_id"), &path_param(&req, "webhook_id")).await?;
    respond(StatusCode::OK, &with_secret(&endpoint, &secret))
}

pub async fn deliveries(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let (org, endpoint) = (path_param(&req, "org_id"), path_param(&req, "webhook_id"));
    let page = deliveries::list(ctx, &principal, &org, &endpoint, limit, cursor.as_ref()).await?;
    respond(StatusCode::OK, &views::page("deliveries", &page, views::delivery))
}

pub async fn send_test(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    JsonBody::parse(&req, &[])?;
    let delivery =
        deliveries::send_test(ctx, &principal, &path_param(&req, "org_id"), &path_param(&req, "webhook_id")).await?;
    respond(StatusCode::OK, &json!({ "delivery": views::delivery(&delivery) }))
}

pub async fn redeliver(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    JsonBody::parse(&req, &[])?;
    let (org, endpoint, delivery) =
        (path_param(&req, "org_id"), path_param(&req, "webhook_id"), path_param(&req, "delivery_id"));
    let delivery = deliveries::redeliver(ctx, &principal, &org, &endpoint, &delivery).await?;
    respond(StatusCode::OK, &json!({ "delivery": views::delivery(&delivery) }))
}

/// The one response that carries the plaintext secret.
fn with_secret(endpoint: &WebhookEndpoint, secret: &str) -> Value {
    json!({ "webhook_endpoint": views::webhook_endpoint(endpoint), "plaintext_secret": secret })
}
