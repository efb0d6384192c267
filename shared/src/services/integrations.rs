//! Deployment integrations: save (token checked with the provider, then sealed), list, remove,
//! and push the project's connection strings — on save, on request, and after every completed
//! restore. A failed push is retried by the sweep; it never affects the restore itself.

use super::projects::{connection_strings, visible_with};
use super::Context;
use crate::adapters::providers::ProviderError;
use crate::auth::Principal;
use crate::domain::events::Event;
use crate::domain::integrations::{parse_token, Integration, Provider, SyncState, Target, ENV_DIRECT, ENV_POOLED};
use crate::domain::jobs::buckets_to_sweep;
use crate::domain::projects::Project;
use crate::domain::scopes::Scope;
use crate::ids::ProjectId;
use crate::store::StoreError;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub struct SetIntegration {
    /// Vercel's `project_id` or Netlify's `site_id`.
    pub target_id: String,
    pub team_id: Option<String>,
    pub token: String,
}

pub async fn list(ctx: &Context, principal: &Principal, project_id: &ProjectId) -> Result<Vec<Integration>, Error> {
    let project = visible_with(ctx, principal, Scope::ProjectsRead, project_id).await?;
    Ok(ctx.integrations.list_integrations(&project.id).await?)
}

/// Creates or replaces the project's integration with `provider`, then pushes the variables
/// once. Returns the integration and whether it is new.
pub async fn set(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    provider: Provider,
    set: SetIntegration,
) -> Result<(Integration, bool), Error> {
    let project = writable_project(ctx, principal, project_id).await?;
    let target = Target::parse(provider, &set.target_id, set.team_id.as_deref())?;
    let token = parse_token(&set.token)?;
    match ctx.providers.validate(provider, &target, token).await {
        Ok(()) => {}
        Err(ProviderError::Rejected(reason)) => {
            return Err(Error::invalid("token", format!("{provider} refused the token or target: {reason}")));
        }
        Err(ProviderError::Unavailable(reason)) => {
            return Err(Error::Upstream(format!(
                "could not check the token with {provider}: {reason}; nothing was saved"
            )));
        }
    }
    let now = ctx.clock.now();
    let existing = ctx.integrations.get_integration(&project.id, provider).await?;
    let created = existing.is_none();
    let mut integration = Integration {
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        provider,
        target,
        token_enc: ctx.secrets.seal(token),
        sync_state: SyncState::Never,
        sync_reason: None,
        sync_attempts: 0,
        sync_requested_at: None,
        next_sync_at: None,
        last_synced_at: existing.as_ref().and_then(|e| e.last_synced_at),
        last_sync_error: None,
        created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(now),
        updated_at: now,
        version: existing.as_ref().map(|e| e.version + 1).unwrap_or(0),
    };
    integration.request_sync("connected", now);
    if !ctx.integrations.put_integration(&integration, existing.as_ref().map(|e| e.version)).await? {
        return Err(Error::Conflict {
            message: format!("the {provider} integration changed meanwhile; retry"),
            job_id: None,
        });
    }
    let synced = attempt_sync(ctx, integration, now).await?;
    Ok((synced, created))
}

pub async fn remove(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    provider: Provider,
) -> Result<Integration, Error> {
    let integration = existing(ctx, principal, project_id, provider).await?;
    let (project, provider) = (&integration.project_id, integration.provider);
    match ctx.integrations.delete_integration(project, provider).await {
        Ok(()) => Ok(integration),
        Err(StoreError::ConditionFailed) => Err(Error::not_found(format!("{provider} integration"))),
        Err(e) => Err(e.into()),
    }
}

/// Pushes the variables now and returns the integration with the result.
pub async fn sync(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    provider: Provider,
) -> Result<Integration, Error> {
    let integration = existing(ctx, principal, project_id, provider).await?;
    let now = ctx.clock.now();
    request_and_attempt(ctx, integration, "manual", now).await
}

/// Follow-up of `restore.completed`: every integration of the project gets the variables again.
pub async fn on_restore_completed(ctx: &Context, event: &Event) -> Result<u32, Error> {
    let Some(project) = &event.project_id else { return Ok(0) };
    let now = ctx.clock.now();
    let mut pushed = 0;
    for integration in ctx.integrations.list_integrations(project).await? {
        let synced = request_and_attempt(ctx, integration, "restore.completed", now).await?;
        if synced.sync_state == SyncState::Synced {
            pushed += 1;
        }
    }
    Ok(pushed)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub attempted: u32,
    pub synced: u32,
}

/// The retry half of the sweep: pushes that failed and are due again.
pub async fn retry_due(ctx: &Context, now: DateTime<Utc>) -> Result<SyncReport, Error> {
    let mut report = SyncReport::default();
    for bucket in buckets_to_sweep(now, super::deliveries::LOOKBACK_HOURS) {
        for integration in ctx.integrations.due_integrations(&bucket, now).await? {
            if integration.sync_state != SyncState::Pending {
                continue;
            }
            report.attempted += 1;
            if attempt_sync(ctx, integration, now).await?.sync_state == SyncState::Synced {
                report.synced += 1;
            }
        }
    }
    Ok(report)
}

async fn request_and_attempt(
    ctx: &Context,
    mut integration: Integration,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Integration, Error> {
    let expected = integration.version;
    integration.request_sync(reason, now);
    integration.version += 1;
    if !ctx.integrations.put_integration(&integration, Some(expected)).await? {
        return Err(Error::Conflict {
            message: format!("the {} integration changed meanwhile; retry", integration.provider),
            job_id: None,
        });
    }
    attempt_sync(ctx, integration, now).await
}

/// One push. The outcome is written only if nobody changed the integration meanwhile (a
/// newer save or push wins).
async fn attempt_sync(ctx: &Context, integration: Integration, now: DateTime<Utc>) -> Result<Integration, Error> {
    let result = push(ctx, &integration).await;
    let mut next = integration.clone();
    next.version += 1;
    match result {
        Ok(()) => next.record_sync(Ok(()), now, rand::random::<f64>()),
        Err(PushError::Retry(reason)) => next.record_sync(Err(reason), now, rand::random::<f64>()),
        Err(PushError::GiveUp(reason)) => {
            next.record_sync(Err(reason), now, 0.0);
            next.sync_state = SyncState::Failed;
            next.next_sync_at = None;
        }
    }
    tracing::info!(project = %next.project_id, provider = %next.provider, state = ?next.sync_state,
                   error = next.last_sync_error.as_deref(), "integration push");
    if ctx.integrations.put_integration(&next, Some(integration.version)).await? {
        Ok(next)
    } else {
        Ok(ctx.integrations.get_integration(&integration.project_id, integration.provider).await?.unwrap_or(next))
    }
}

enum PushError {
    Retry(String),
    GiveUp(String),
}

async fn push(ctx: &Context, integration: &Integration) -> Result<(), PushError> {
    let project: Project = match ctx.projects.get_project(&integration.project_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(PushError::GiveUp("the project no longer exists".into())),
        Err(e) => return Err(PushError::Retry(e.to_string())),
    };
    // Not ready yet (still provisioning): worth retrying.
    let urls = connection_strings(ctx, &project).map_err(|e| PushError::Retry(e.to_string()))?;
    let token = ctx.secrets.open(&integration.token_enc).map_err(|e| PushError::GiveUp(e.to_string()))?;
    let vars = [(ENV_POOLED, urls.pooled_url.as_str()), (ENV_DIRECT, urls.direct_url.as_str())];
    match ctx.providers.push(integration.provider, &integration.target, &token, &vars).await {
        Ok(()) => Ok(()),
        // A refused token or a deleted project will not fix itself; saving the integration
        // again (or the next restore) tries anew.
        Err(ProviderError::Rejected(reason)) => Err(PushError::GiveUp(reason)),
        Err(ProviderError::Unavailable(reason)) => Err(PushError::Retry(reason)),
    }
}

async fn writable_project(ctx: &Context, principal: &Principal, project_id: &ProjectId) -> Result<Project, Error> {
    // Pushing connection strings to a third party hands out the database password.
    principal.require_scope(Scope::CredentialsRead)?;
    visible_with(ctx, principal, Scope::ProjectsWrite, project_id).await
}

/// The project's integration with `provider`, for a caller who may change it.
async fn existing(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    provider: Provider,
) -> Result<Integration, Error> {
    let project = writable_project(ctx, principal, project_id).await?;
    ctx.integrations
        .get_integration(&project.id, provider)
        .await?
        .ok_or_else(|| Error::not_found(format!("{provider} integration")))
}
