//! Preview databases: listing, connection details, TTL extension, deletion and expiry.

use super::projects::Connections;
use super::{projects, Context};
use crate::auth::Principal;
use crate::contract;
use crate::domain::events::Event;
use crate::domain::jobs::buckets_to_sweep;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::{PreviewDatabase, PreviewState, TtlHours};
use crate::domain::scopes::Scope;
use crate::ids::{PreviewId, ProjectId};
use crate::Error;
use chrono::{DateTime, Utc};

/// The preview if the caller may see it (via its project); otherwise "not found".
async fn visible(ctx: &Context, principal: &Principal, id: &PreviewId) -> Result<PreviewDatabase, Error> {
    let not_found = || Error::not_found("preview database");
    let preview = ctx.previews.get_preview(id).await?.ok_or_else(not_found)?;
    projects::visible(ctx, principal, &preview.project_id).await.map_err(|_| not_found())?;
    Ok(preview)
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<PreviewDatabase>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    Ok(ctx.previews.list_previews(&project.id, limit, cursor).await?)
}

pub async fn get(ctx: &Context, principal: &Principal, id: &PreviewId) -> Result<PreviewDatabase, Error> {
    principal.require_scope(Scope::BackupsRead)?;
    visible(ctx, principal, id).await
}

/// Where a project's previews are reached, and the database their data came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub public_host: String,
    pub direct_port: u16,
    pub pooled_port: u16,
    pub source_database: String,
}

pub async fn placement(ctx: &Context, project: &crate::ids::ProjectId) -> Result<Placement, Error> {
    let project = ctx.projects.get_project(project).await?.ok_or_else(|| Error::not_found("project"))?;
    let region = ctx.region(&project.region)?;
    Ok(Placement {
        public_host: region.public_host.clone(),
        direct_port: region.public_port,
        pooled_port: region.pooled_port.unwrap_or(region.public_port),
        source_database: project.database_name,
    })
}

/// How to connect to a preview (scopes `backups:read` and `credentials:read`).
pub async fn connections(ctx: &Context, principal: &Principal, id: &PreviewId) -> Result<Connections, Error> {
    principal.require_scope(Scope::BackupsRead)?;
    principal.require_scope(Scope::CredentialsRead)?;
    let preview = visible(ctx, principal, id).await?;
    if !matches!(preview.state, PreviewState::Ready | PreviewState::Restoring) {
        return Err(Error::Conflict {
            message: format!("preview database {} is {:?}, not ready", preview.id, preview.state).to_lowercase(),
            job_id: None,
        });
    }
    let project = ctx.projects.get_project(&preview.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    let region = ctx.region(&project.region)?;
    let password = ctx.secrets.open(&preview.db_password_enc).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Connections::to(region, &preview.db_username, &password, &preview.database_name))
}

pub async fn extend(
    ctx: &Context,
    principal: &Principal,
    id: &PreviewId,
    ttl: TtlHours,
) -> Result<PreviewDatabase, Error> {
    principal.require_scope(Scope::BackupsWrite)?;
    let preview = visible(ctx, principal, id).await?;
    let now = ctx.clock.now();
    ctx.previews.extend_preview(&preview.id, ttl.after(now), now).await?.ok_or_else(|| Error::Conflict {
        message: format!("preview database {} is not ready (a restore into it may be in progress)", preview.id),
        job_id: None,
    })
}

pub async fn delete(ctx: &Context, principal: &Principal, id: &PreviewId) -> Result<PreviewDatabase, Error> {
    principal.require_scope(Scope::BackupsWrite)?;
    let preview = visible(ctx, principal, id).await?;
    remove(ctx, &preview, "deleted").await?;
    Ok(preview)
}

/// Drops the preview's database and role, then its record (with a `preview.deleted` event).
async fn remove(ctx: &Context, preview: &PreviewDatabase, reason: &str) -> Result<(), Error> {
    if matches!(preview.state, PreviewState::Creating | PreviewState::Restoring) {
        return Err(Error::Conflict {
            message: format!("a restore into preview {} is in progress", preview.id),
            job_id: None,
        });
    }
    let project = ctx.projects.get_project(&preview.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    let region = ctx.region(&project.region)?;
    ctx.data_plane.drop_database(region, &preview.database_name).await?;
    ctx.data_plane.drop_role(region, &preview.db_username).await?;
    let now = ctx.clock.now();
    let event = Event::new(
        "preview.deleted",
        preview.org_id.clone(),
        Some(preview.project_id.clone()),
        now,
        contract::data(&capydb_api::events::PreviewDeletedData {
            project_id: preview.project_id.to_string(),
            preview_id: preview.id.to_string(),
            name: preview.name.clone(),
            reason: reason.to_string(),
        }),
    );
    ctx.previews.delete_preview(preview, &event).await?;
    Ok(())
}

/// Drops every preview whose TTL has run out by `now`; returns how many.
pub async fn sweep_expired(ctx: &Context, now: DateTime<Utc>) -> Result<u32, Error> {
    let mut removed = 0;
    for bucket in buckets_to_sweep(now, super::sweeper::LOOKBACK_HOURS) {
        for preview in ctx.previews.due_previews(&bucket, now).await? {
            if preview.ttl_expires_at > now || matches!(preview.state, PreviewState::Creating | PreviewState::Restoring)
            {
                continue;
            }
            match remove(ctx, &preview, "expired").await {
                Ok(()) => removed += 1,
                Err(e) => tracing::error!(preview = %preview.id, error = %e, "could not remove expired preview"),
            }
        }
    }
    Ok(removed)
}
