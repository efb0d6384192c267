//! Webhook endpoints of an organisation: create, list, change, delete, rotate the secret. The
//! `whsec_…` secret is returned once (on create and rotate) and otherwise exists only sealed.

use super::Context;
use crate::auth::Principal;
use crate::domain::deliveries::health;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::scopes::Scope;
use crate::domain::webhooks::{
    generate_secret, parse_description, parse_event_types, refused_address, Health, WebhookEndpoint, WebhookUrl,
};
use crate::ids::{OrgId, WebhookId};
use crate::store::StoreError;
use crate::Error;

/// At most this many endpoints per organisation: each event fans out to all of them.
pub const MAX_ENDPOINTS: usize = 20;

pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub is_active: bool,
}

/// Fields a PATCH may change; `None` leaves a field as it is.
#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

pub async fn create(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    new: NewEndpoint,
) -> Result<(WebhookEndpoint, String), Error> {
    let org = writable_org(principal, org_id)?;
    let url = checked_url(ctx, &new.url).await?;
    let event_types = parse_event_types(&new.event_types)?;
    let description = parse_description(new.description.as_deref())?;
    if ctx.webhooks.list_webhooks(&org, MAX_ENDPOINTS as u32, None).await?.items.len() >= MAX_ENDPOINTS {
        return Err(Error::Conflict {
            message: format!("an organization can have at most {MAX_ENDPOINTS} webhook endpoints"),
            job_id: None,
        });
    }
    let secret = generate_secret();
    let now = ctx.clock.now();
    let endpoint = WebhookEndpoint {
        id: WebhookId::generate(),
        org_id: org,
        url: url.as_str().to_string(),
        description,
        event_types,
        is_active: new.is_active,
        secret_enc: ctx.secrets.seal(&secret),
        health: Health::Healthy,
        failing_since: None,
        last_success_at: None,
        created_at: now,
        updated_at: now,
    };
    ctx.webhooks.create_webhook(&endpoint).await?;
    Ok((endpoint, secret))
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<WebhookEndpoint>, Error> {
    let org = readable_org(principal, org_id)?;
    let mut page = ctx.webhooks.list_webhooks(&org, limit, cursor).await?;
    let now = ctx.clock.now();
    page.items.iter_mut().for_each(|e| refresh_health(e, now));
    Ok(page)
}

pub async fn update(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    id: &WebhookId,
    change: EndpointChange,
) -> Result<WebhookEndpoint, Error> {
    let org = writable_org(principal, org_id)?;
    let mut endpoint = find(ctx, &org, id).await?;
    if let Some(url) = &change.url {
        endpoint.url = checked_url(ctx, url).await?.as_str().to_string();
    }
    if let Some(types) = &change.event_types {
        endpoint.event_types = parse_event_types(types)?;
    }
    if let Some(description) = &change.description {
        endpoint.description = parse_description(description.as_deref())?;
    }
    if let Some(active) = change.is_active {
        endpoint.is_active = active;
    }
    endpoint.updated_at = ctx.clock.now();
    store_update(ctx, &endpoint).await?;
    Ok(endpoint)
}

pub async fn delete(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    id: &WebhookId,
) -> Result<WebhookEndpoint, Error> {
    let org = writable_org(principal, org_id)?;
    let endpoint = find(ctx, &org, id).await?;
    ctx.webhooks.delete_webhook(&org, &endpoint.id).await?;
    Ok(endpoint)
}

/// Replaces the signing secret; the new one is returned once and signs every later delivery.
pub async fn rotate_secret(
    ctx: &Context,
    principal: &Principal,
    org_id: &OrgId,
    id: &WebhookId,
) -> Result<(WebhookEndpoint, String), Error> {
    let org = writable_org(principal, org_id)?;
    let mut endpoint = find(ctx, &org, id).await?;
    let secret = generate_secret();
    endpoint.secret_enc = ctx.secrets.seal(&secret);
    endpoint.updated_at = ctx.clock.now();
    store_update(ctx, &endpoint).await?;
    Ok((endpoint, secret))
}

async fn store_update(ctx: &Context, endpoint: &WebhookEndpoint) -> Result<(), Error> {
    match ctx.webhooks.update_webhook(endpoint).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(Error::not_found("webhook endpoint")),
        Err(e) => Err(e.into()),
    }
}

async fn find(ctx: &Context, org: &OrgId, id: &WebhookId) -> Result<WebhookEndpoint, Error> {
    let mut endpoint = ctx.webhooks.get_webhook(org, id).await?.ok_or_else(|| Error::not_found("webhook endpoint"))?;
    refresh_health(&mut endpoint, ctx.clock.now());
    Ok(endpoint)
}

/// Stored health is as of the last attempt; a failure streak that has gone on since is older now.
fn refresh_health(endpoint: &mut WebhookEndpoint, now: chrono::DateTime<chrono::Utc>) {
    endpoint.health = health(endpoint.failing_since, now);
}

/// Reading endpoints and deliveries needs what changing them needs (an org-wide key or an org
/// admin): their payloads carry every project's ids, backup keys and errors.
pub(crate) fn readable_org(principal: &Principal, org: &OrgId) -> Result<OrgId, Error> {
    principal.require_org(org)?;
    principal.require_org_admin(Scope::OrganizationsRead)?;
    Ok(org.clone())
}

pub(crate) fn writable_org(principal: &Principal, org: &OrgId) -> Result<OrgId, Error> {
    principal.require_org(org)?;
    principal.require_org_admin(Scope::OrganizationsWrite)?;
    Ok(org.clone())
}

/// The URL's static checks, then every address its host resolves to must be public (unless
/// this deployment allows private receivers). Delivery checks again: DNS can change.
pub async fn checked_url(ctx: &Context, raw: &str) -> Result<WebhookUrl, Error> {
    let allow_private = ctx.config.webhooks_allow_private;
    let url = WebhookUrl::parse(raw, allow_private)?;
    if !allow_private {
        ensure_public(&url).await?;
    }
    Ok(url)
}

/// Resolves the URL's host and refuses it if any address is not public, so that a name with
/// one public and one private address cannot be used to reach the private one.
pub async fn ensure_public(url: &WebhookUrl) -> Result<Vec<std::net::SocketAddr>, Error> {
    let addrs: Vec<_> = tokio::net::lookup_host((url.host(), url.port()))
        .await
        .map_err(|_| Error::invalid("url", format!("url host {} does not resolve", url.host())))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::invalid("url", format!("url host {} does not resolve", url.host())));
    }
    for addr in &addrs {
        if let Some(class) = refused_address(addr.ip()) {
            return Err(Error::invalid(
                "url",
                format!(
                    "url host {} resolves to a {class} address ({}); receivers must be public",
                    url.host(),
                    addr.ip()
                ),
            ));
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryStore;
    use crate::auth::{Credential, OrgRole};
    use crate::store::WebhookStore;
    use std::sync::Arc;

    fn session(org: &OrgId, role: OrgRole) -> Principal {
        Principal { org_id: org.clone(), credential: Credential::Session { user_id: "usr_1".into(), role } }
    }

    fn new(n: usize) -> NewEndpoint {
        NewEndpoint {
            url: format!("https://hooks.example.com/{n}"),
            description: None,
            event_types: vec!["backup.completed".into()],
            is_active: true,
        }
    }

    #[tokio::test]
    async fn an_organisation_gets_its_endpoints_up_to_the_limit_and_only_from_an_admin() {
        let store = Arc::new(MemoryStore::new());
        let ctx = Context::in_memory(store.clone()).await;
        let org = OrgId::generate();
        let admin = session(&org, OrgRole::Admin);

        let refused = create(&ctx, &session(&org, OrgRole::Member), &org, new(0)).await.unwrap_err();
        assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
        let elsewhere = create(&ctx, &session(&OrgId::generate(), OrgRole::Admin), &org, new(0)).await;
        assert!(elsewhere.is_err(), "an admin of another organisation");
        assert!(store.list_webhooks(&org, 100, None).await.unwrap().items.is_empty(), "nothing written");

        let (first, secret) = create(&ctx, &admin, &org, new(0)).await.unwrap();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_ne!(first.secret_enc, secret, "the secret is stored sealed");
        assert_eq!(ctx.secrets.open(&first.secret_enc).unwrap(), secret);
        for n in 1..MAX_ENDPOINTS {
            create(&ctx, &admin, &org, new(n)).await.unwrap();
        }
        let over = create(&ctx, &admin, &org, new(MAX_ENDPOINTS)).await.unwrap_err();
        assert!(matches!(&over, Error::Conflict { message, .. } if message.contains("at most 20")), "{over:?}");
        assert_eq!(store.list_webhooks(&org, 100, None).await.unwrap().items.len(), MAX_ENDPOINTS);
        let bad = create(&ctx, &admin, &OrgId::generate(), new(0)).await;
        assert!(bad.is_err(), "not an admin there");
    }
}
