use super::paging;
use crate::http::{authenticate, body, path_id, respond, HttpResult};
use crate::views;
use capydb_api::webhooks::{
    DeliveryList, DeliveryResponse, WebhookEndpointCreateRequest, WebhookEndpointDeleted, WebhookEndpointList,
    WebhookEndpointResponse, WebhookEndpointUpdateRequest, WebhookEndpointWithSecret,
};
use capydb_api::Empty;
use capydb_shared::domain::webhooks::WebhookEndpoint;
use capydb_shared::ids::{DeliveryId, OrgId, WebhookId};
use capydb_shared::services::deliveries;
use capydb_shared::services::webhooks::{self, EndpointChange, NewEndpoint};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: WebhookEndpointCreateRequest = body(&req)?;
    let new = NewEndpoint {
        url: input.url,
        description: input.description,
        event_types: input.event_types.unwrap_or_default(),
        is_active: input.is_active.unwrap_or(true),
    };
    let (endpoint, secret) =
        webhooks::create(ctx, &principal, &path_id::<OrgId>(&req, "org_id", "organization")?, new).await?;
    respond(StatusCode::CREATED, &with_secret(&endpoint, secret))
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let page =
        webhooks::list(ctx, &principal, &path_id::<OrgId>(&req, "org_id", "organization")?, limit, cursor.as_ref())
            .await?;
    let (webhook_endpoints, next_cursor) = views::page(&page, views::webhook_endpoint);
    respond(StatusCode::OK, &WebhookEndpointList { webhook_endpoints, next_cursor })
}

pub async fn update(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let input: WebhookEndpointUpdateRequest = body(&req)?;
    let change = EndpointChange {
        url: input.url,
        description: input.description,
        event_types: input.event_types,
        is_active: input.is_active,
    };
    let endpoint = webhooks::update(
        ctx,
        &principal,
        &path_id::<OrgId>(&req, "org_id", "organization")?,
        &path_id::<WebhookId>(&req, "webhook_id", "webhook endpoint")?,
        change,
    )
    .await?;
    respond(StatusCode::OK, &WebhookEndpointResponse { webhook_endpoint: views::webhook_endpoint(&endpoint) })
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let endpoint = webhooks::delete(
        ctx,
        &principal,
        &path_id::<OrgId>(&req, "org_id", "organization")?,
        &path_id::<WebhookId>(&req, "webhook_id", "webhook endpoint")?,
    )
    .await?;
    respond(
        StatusCode::OK,
        &WebhookEndpointDeleted { webhook_endpoint: views::webhook_endpoint(&endpoint), deleted: true },
    )
}

pub async fn rotate_secret(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    body::<Empty>(&req)?;
    let (endpoint, secret) = webhooks::rotate_secret(
        ctx,
        &principal,
        &path_id::<OrgId>(&req, "org_id", "organization")?,
        &path_id::<WebhookId>(&req, "webhook_id", "webhook endpoint")?,
    )
    .await?;
    respond(StatusCode::OK, &with_secret(&endpoint, secret))
}

pub async fn deliveries(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let (limit, cursor) = paging(&req)?;
    let (org, endpoint) = (
        path_id::<OrgId>(&req, "org_id", "organization")?,
        path_id::<WebhookId>(&req, "webhook_id", "webhook endpoint")?,
    );
    let page = deliveries::list(ctx, &principal, &org, &endpoint, limit, cursor.as_ref()).await?;
    let (deliveries, next_cursor) = views::page(&page, views::delivery);
    respond(StatusCode::OK, &DeliveryList { deliveries, next_cursor })
}

pub async fn send_test(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    body::<Empty>(&req)?;
    let delivery = deliveries::send_test(
        ctx,
        &principal,
        &path_id::<OrgId>(&req, "org_id", "organization")?,
        &path_id::<WebhookId>(&req, "webhook_id", "webhook endpoint")?,
    )
    .await?;
    respond(StatusCode::OK, &DeliveryResponse { delivery: views::delivery(&delivery) })
}

pub async fn redeliver(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    body::<Empty>(&req)?;
    let (org, endpoint, delivery) = (
        path_id::<OrgId>(&req, "org_id", "organization")?,
        path_id::<WebhookId>(&req, "webhook_id", "webhook endpoint")?,
        path_id::<DeliveryId>(&req, "delivery_id", "delivery")?,
    );
    let delivery = deliveries::redeliver(ctx, &principal, &org, &endpoint, &delivery).await?;
    respond(StatusCode::OK, &DeliveryResponse { delivery: views::delivery(&delivery) })
}

/// The one response that carries the plaintext secret.
fn with_secret(endpoint: &WebhookEndpoint, secret: String) -> WebhookEndpointWithSecret {
    WebhookEndpointWithSecret { webhook_endpoint: views::webhook_endpoint(endpoint), plaintext_secret: secret }
}
