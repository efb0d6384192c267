use super::idempotency::{winner, IdempotencyKey};
use super::Context;
use crate::auth::{Credential, Principal};
use crate::domain::api_keys::{self, ApiKey};
use crate::domain::names::KeyName;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::scopes::Scope;
use crate::ids::{ApiKeyId, OrgId, ProjectId};
use crate::store::StoreError;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub struct NewKey {
    pub name: KeyName,
    pub scopes: Vec<Scope>,
    pub project_id: Option<ProjectId>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct Created {
    key_id: ApiKeyId,
}

/// Creates a key and returns it with its plaintext — the only time the plaintext exists
/// outside the caller. A retry with the same Idempotency-Key returns the key without it.
pub async fn create(
    ctx: &Context,
    principal: &Principal,
    org: &OrgId,
    new: NewKey,
    idempotency: Option<&IdempotencyKey>,
) -> Result<(ApiKey, Option<String>), Error> {
    principal.require_org(org)?;
    principal.require_org_admin(Scope::ApiKeysWrite)?;
    if let Some(extra) = new.scopes.iter().find(|s| !principal.has_scope(**s)) {
        return Err(Error::Forbidden(format!("cannot grant the `{extra}` scope, which the calling key does not have")));
    }
    let now = ctx.clock.now();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::invalid("expires_at", "expires_at must be in the future"));
    }
    if let Some(project) = &new.project_id {
        let visible = ctx.projects.get_project(project).await?.is_some_and(|p| &p.org_id == org);
        if !visible {
            return Err(Error::invalid("project_id", "project_id must name a project of this organization"));
        }
    }
    if let Some(key) = idempotency {
        if let Some(prev) = key.previous::<Created>(&*ctx.idempotency).await? {
            return Ok((load(ctx, org, &prev.key_id).await?, None));
        }
    }
    // A key made by a key cannot outlive it; sessions have no key above them.
    let parent = match &principal.credential {
        Credential::ApiKey { key_id, .. } => Some(load(ctx, org, key_id).await?),
        Credential::Session { .. } => None,
    };
    let expires_at = api_keys::capped_expiry(new.expires_at, parent.as_ref().and_then(|p| p.expires_at));
    let plaintext = api_keys::generate_plaintext();
    let mut scopes = new.scopes;
    scopes.sort();
    scopes.dedup();
    let key = ApiKey {
        id: ApiKeyId::generate(),
        org_id: org.clone(),
        name: new.name.into_inner(),
        display_prefix: api_keys::display_prefix(&plaintext),
        scopes,
        project_id: new.project_id,
        expires_at,
        revoked_at: None,
        parent_key_id: parent.map(|p| p.id),
        last_used_at: None,
        created_at: now,
    };
    let record = idempotency.map(|k| k.record(&Created { key_id: key.id.clone() }, now));
    match ctx.api_keys.create_api_key(&key, &api_keys::hash(&plaintext), record.as_ref()).await {
        Ok(()) => Ok((key, Some(plaintext))),
        Err(StoreError::IdempotencyKeyTaken) => {
            let prev: Created = winner(idempotency, &*ctx.idempotency).await?;
            Ok((load(ctx, org, &prev.key_id).await?, None))
        }
        Err(e) => Err(e.into()),
    }
}

async fn load(ctx: &Context, org: &OrgId, id: &ApiKeyId) -> Result<ApiKey, Error> {
    ctx.api_keys.get_api_key(org, id).await?.ok_or_else(|| Error::not_found("API key"))
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    org: &OrgId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<ApiKey>, Error> {
    principal.require_org(org)?;
    principal.require_org_admin(Scope::ApiKeysRead)?;
    Ok(ctx.api_keys.list_api_keys(org, limit, cursor).await?)
}

pub async fn revoke(ctx: &Context, principal: &Principal, org: &OrgId, id: &ApiKeyId) -> Result<ApiKey, Error> {
    principal.require_org(org)?;
    principal.require_org_admin(Scope::ApiKeysWrite)?;
    ctx.api_keys.revoke_api_key(org, id, ctx.clock.now()).await?.ok_or_else(|| Error::not_found("API key"))
}
