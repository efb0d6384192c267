//! Operator bootstrap: an organisation and its first admin API key. Idempotent, so the local
//! runtime can run it on every start with the ids and key it saved.

use super::projects::provisioning_job;
use super::Context;
use crate::adapters::crypto::random_password;
use crate::domain::api_keys::{self, ApiKey};
use crate::domain::organizations::Organization;
use crate::domain::projects::{database_name, role_name, Project, ProjectState};
use crate::domain::scopes::Scope;
use crate::ids::{ApiKeyId, OrgId, ProjectId};
use crate::Error;

/// Ensures the org exists and `plaintext` is a usable admin key of it.
pub async fn organization(ctx: &Context, org_id: &OrgId, name: &str, plaintext: &str) -> Result<Organization, Error> {
    let now = ctx.clock.now();
    let org = match ctx.organizations.get_organization(org_id).await? {
        Some(org) => org,
        None => {
            let org = Organization { id: org_id.clone(), name: name.to_string(), created_at: now };
            ctx.organizations.put_organization(&org).await?;
            org
        }
    };
    if !plaintext.starts_with(api_keys::PREFIX) {
        return Err(Error::invalid("api_key", format!("an API key starts with {}", api_keys::PREFIX)));
    }
    if ctx.api_keys.get_api_key_by_hash(&api_keys::hash(plaintext)).await?.is_none() {
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: org_id.clone(),
            name: "bootstrap admin".into(),
            display_prefix: api_keys::display_prefix(plaintext),
            scopes: Scope::ALL.to_vec(),
            project_id: None,
            expires_at: None,
            revoked_at: None,
            parent_key_id: None,
            last_used_at: None,
            created_at: now,
        };
        ctx.api_keys.create_api_key(&key, &api_keys::hash(plaintext), None).await?;
    }
    Ok(org)
}

/// Ensures a project with this id exists; queues its provisioning job when it is new.
/// Provisioning is idempotent, so a project whose database already exists on the cluster
/// (a restarted local stack) simply becomes ready again.
pub async fn project(
    ctx: &Context,
    org_id: &OrgId,
    project_id: &ProjectId,
    name: &str,
    region: &str,
) -> Result<Project, Error> {
    if let Some(p) = ctx.projects.get_project(project_id).await? {
        return Ok(p);
    }
    ctx.region(region)?;
    let now = ctx.clock.now();
    let project = Project {
        id: project_id.clone(),
        org_id: org_id.clone(),
        name: name.to_string(),
        region: region.to_string(),
        state: ProjectState::Provisioning,
        database_name: database_name(project_id),
        db_username: role_name(project_id),
        db_password_enc: ctx.secrets.seal(&random_password()),
        error: None,
        next_nightly_at: None,
        created_at: now,
        updated_at: now,
    };
    let job = provisioning_job(ctx, &project);
    ctx.projects.create_project(&project, &job, None).await?;
    Ok(project)
}

/// Provisions a project again whose provisioning failed (say, its region cluster was still
/// starting). Provisioning is idempotent, so this repairs whatever the first attempt left.
/// `Ok(false)` when the project is not `failed` (or changed meanwhile).
pub async fn reprovision(ctx: &Context, project_id: &ProjectId) -> Result<bool, Error> {
    let Some(seen) = ctx.projects.get_project(project_id).await? else {
        return Err(Error::not_found("project"));
    };
    if seen.state != ProjectState::Failed {
        return Ok(false);
    }
    let now = ctx.clock.now();
    let mut project = seen.clone();
    project.state = ProjectState::Provisioning;
    project.error = None;
    project.updated_at = now;
    let job = provisioning_job(ctx, &project);
    Ok(ctx.projects.reprovision_project(&project, &job, &seen).await?)
}
