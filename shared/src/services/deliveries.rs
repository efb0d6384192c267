//! Webhook delivery: the completion function fans each outbox event out to the org's
//! subscribed endpoints (one delivery each), every attempt is signed and recorded, failures
//! are retried by the sweep from the due index, and the endpoint's health follows.

use super::metrics::Unit;
use super::webhooks::{readable_org, writable_org};
use super::Context;
use crate::adapters::webhook_http::SendOutcome;
use crate::auth::Principal;
use crate::domain::deliveries::{after_attempt, Attempt, Delivery, DeliveryState};
use crate::domain::events::Event;
use crate::domain::jobs::buckets_to_sweep;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::webhooks::{signature_header, WebhookEndpoint, WebhookUrl};
use crate::ids::{DeliveryId, OrgId, WebhookId};
use crate::Error;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

/// Hours of due index the retry sweep reads (retries are at most 4 h apart, so this leaves
/// room for a sweep outage).
pub const LOOKBACK_HOURS: i64 = 48;

/// Deliveries attempted at once by one invocation.
const CONCURRENT_ATTEMPTS: usize = 8;

/// Endpoints read per fan-out; an org has at most `webhooks::MAX_ENDPOINTS`.
const ENDPOINTS_PAGE: u32 = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FanOut {
    pub deliveries: u32,
    pub delivered: u32,
}

/// Creates the deliveries of `event` and attempts each once. Safe to repeat: delivery ids are
/// derived from (event, endpoint), so a repeated run finds them and leaves retries to the sweep.
pub async fn fan_out(ctx: &Context, event: &Event) -> Result<FanOut, Error> {
    let now = ctx.clock.now();
    let endpoints = ctx.webhooks.list_webhooks(&event.org_id, ENDPOINTS_PAGE, None).await?.items;
    let mut fresh = Vec::new();
    for endpoint in endpoints.into_iter().filter(|e| subscribed(e, &event.event_type)) {
        let delivery = Delivery::for_event(event, &endpoint, now);
        if ctx.deliveries.put_delivery(&delivery, None).await? {
            fresh.push((delivery, endpoint));
        }
    }
    let mut report = FanOut { deliveries: fresh.len() as u32, delivered: 0 };
    // The endpoints were just read: each first attempt uses them as they are.
    let results: Vec<_> = futures::stream::iter(fresh)
        .map(|(d, endpoint)| attempt_to(ctx, d, Some(endpoint), now))
        .buffer_unordered(CONCURRENT_ATTEMPTS)
        .collect()
        .await;
    for result in results {
        if result?.state == DeliveryState::Delivered {
            report.delivered += 1;
        }
    }
    Ok(report)
}

fn subscribed(endpoint: &WebhookEndpoint, event_type: &str) -> bool {
    endpoint.is_active
        && event_type != "webhook.test"
        && (endpoint.event_types.is_empty() || endpoint.event_types.iter().any(|t| t == event_type))
}

/// One attempt at `d`, unless it is not due or another attempt holds it. Returns the
/// delivery as it now stands.
pub async fn attempt(ctx: &Context, d: Delivery, now: DateTime<Utc>) -> Result<Delivery, Error> {
    if !d.attemptable(now) {
        return Ok(d);
    }
    let endpoint = ctx.webhooks.get_webhook(&d.org_id, &d.webhook_id).await?;
    attempt_to(ctx, d, endpoint, now).await
}

/// An attempt at `d` for its endpoint as read (`None`: deleted).
async fn attempt_to(
    ctx: &Context,
    d: Delivery,
    endpoint: Option<WebhookEndpoint>,
    now: DateTime<Utc>,
) -> Result<Delivery, Error> {
    let endpoint = match endpoint {
        Some(e) if e.is_active => e,
        gone_or_off => {
            let reason = if gone_or_off.is_some() { "endpoint is disabled" } else { "endpoint was deleted" };
            let mut ended = d.clone();
            ended.abandon(reason, now);
            ended.version += 1;
            ctx.deliveries.put_delivery(&ended, Some(d.version)).await?;
            return Ok(ended);
        }
    };
    let mut claimed = d.clone();
    claimed.claim(now);
    claimed.version += 1;
    if !ctx.deliveries.put_delivery(&claimed, Some(d.version)).await? {
        return Ok(d);
    }
    let outcome = send(ctx, &endpoint, &claimed).await;
    let attempt = Attempt {
        at: now,
        status_code: outcome.status_code,
        latency_ms: outcome.latency_ms,
        error: outcome.error,
        response_excerpt: outcome.response_excerpt,
    };
    let ok = attempt.succeeded();
    let mut done = claimed.clone();
    done.record(attempt, rand::random::<f64>());
    done.version += 1;
    if !ctx.deliveries.put_delivery(&done, Some(claimed.version)).await? {
        tracing::warn!(delivery = %d.id, "delivery changed during its attempt; the newer state stands");
    }
    tracing::info!(delivery = %done.id, endpoint = %endpoint.id, ok, state = ?done.state, "webhook attempt");
    ctx.metrics.emit(
        now,
        &[],
        &[
            ("DeliveryAttempts", 1.0, Unit::Count),
            ("DeliveriesSucceeded", if ok { 1.0 } else { 0.0 }, Unit::Count),
            ("DeliveriesFailed", if ok { 0.0 } else { 1.0 }, Unit::Count),
            ("DeliveryLatency", outcome_latency(&done) as f64, Unit::Milliseconds),
        ],
        &[("DeliveryId", done.id.as_str()), ("EventType", &done.event_type)],
    );
    ctx.webhooks.record_webhook_health(&endpoint.org_id, &endpoint.id, &after_attempt(&endpoint, ok, now)).await?;
    Ok(done)
}

fn outcome_latency(d: &Delivery) -> u64 {
    d.attempts.last().map_or(0, |a| a.latency_ms)
}

async fn send(ctx: &Context, endpoint: &WebhookEndpoint, d: &Delivery) -> SendOutcome {
    let refused =
        |error: String| SendOutcome { status_code: None, latency_ms: 0, error: Some(error), response_excerpt: None };
    // Stored URLs were checked on save; the checks that need no DNS are repeated in case the
    // rules changed since, and the sender's resolver repeats the rest.
    let url = match WebhookUrl::parse(&endpoint.url, ctx.config.webhooks_allow_private) {
        Ok(url) => url,
        Err(e) => return refused(e.to_string()),
    };
    let secret = match ctx.secrets.open(&endpoint.secret_enc) {
        Ok(s) => s,
        Err(e) => return refused(format!("signing secret unreadable: {e}")),
    };
    // Signed with the wall clock: receivers compare it with theirs.
    let signature = signature_header(&secret, Utc::now().timestamp(), d.payload.as_bytes());
    let headers = [
        ("X-CapyDB-Event", d.event_type.clone()),
        ("X-CapyDB-Delivery", d.id.to_string()),
        ("X-CapyDB-Signature", signature),
    ];
    ctx.webhook_sender.send(url.as_str(), &headers, d.payload.clone()).await
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    pub attempted: u32,
    pub delivered: u32,
    pub failed: u32,
}

/// The scheduled retry sweep: attempts every delivery whose next attempt is due.
pub async fn retry_due(ctx: &Context, now: DateTime<Utc>) -> Result<RetryReport, Error> {
    let mut due = Vec::new();
    for bucket in buckets_to_sweep(now, LOOKBACK_HOURS) {
        due.extend(ctx.deliveries.due_deliveries(&bucket, now).await?.into_iter().filter(|d| d.attemptable(now)));
    }
    let mut report = RetryReport::default();
    let results: Vec<_> =
        futures::stream::iter(due).map(|d| attempt(ctx, d, now)).buffer_unordered(CONCURRENT_ATTEMPTS).collect().await;
    for result in results {
        let d = result?;
        report.attempted += 1;
        match d.state {
            DeliveryState::Delivered => report.delivered += 1,
            DeliveryState::Failed => report.failed += 1,
            DeliveryState::Pending => {}
        }
    }
    Ok(report)
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    endpoint_id: &WebhookId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Delivery>, Error> {
    let org = readable_org(principal, org_id)?;
    let endpoint = find_endpoint(ctx, &org, endpoint_id).await?;
    Ok(ctx.deliveries.list_deliveries(&endpoint.id, limit, cursor).await?)
}

/// Sends a `webhook.test` event to the endpoint now, once, and returns how it went.
pub async fn send_test(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    endpoint_id: &WebhookId,
) -> Result<Delivery, Error> {
    let org = writable_org(principal, org_id)?;
    let endpoint = active_endpoint(ctx, &org, endpoint_id).await?;
    let now = ctx.clock.now();
    let event = Event::new(
        "webhook.test",
        org,
        None,
        now,
        crate::contract::data(&capydb_api::events::WebhookTestData {
            webhook_endpoint_id: endpoint.id.to_string(),
            message: "Test event from CapyDB Backups".into(),
        }),
    );
    let delivery = Delivery::test(&event, &endpoint, now);
    ctx.deliveries.put_delivery(&delivery, None).await?;
    attempt(ctx, delivery, now).await
}

/// Sends an earlier delivery's event again, as a new delivery (new id, retried as usual).
pub async fn redeliver(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    endpoint_id: &WebhookId,
    delivery_id: &DeliveryId,
) -> Result<Delivery, Error> {
    let org = writable_org(principal, org_id)?;
    let endpoint = active_endpoint(ctx, &org, endpoint_id).await?;
    let original =
        ctx.deliveries.get_delivery(&endpoint.id, delivery_id).await?.ok_or_else(|| Error::not_found("delivery"))?;
    let now = ctx.clock.now();
    let delivery = Delivery::redelivery(&original, now);
    ctx.deliveries.put_delivery(&delivery, None).await?;
    attempt(ctx, delivery, now).await
}

async fn find_endpoint(ctx: &Context, org: &OrgId, id: &WebhookId) -> Result<WebhookEndpoint, Error> {
    ctx.webhooks.get_webhook(org, id).await?.ok_or_else(|| Error::not_found("webhook endpoint"))
}

async fn active_endpoint(ctx: &Context, org: &OrgId, id: &WebhookId) -> Result<WebhookEndpoint, Error> {
    let endpoint = find_endpoint(ctx, org, id).await?;
    if !endpoint.is_active {
        return Err(Error::Conflict {
            message: "the webhook endpoint is disabled; enable it with is_active: true first".into(),
            job_id: None,
        });
    }
    Ok(endpoint)
}
