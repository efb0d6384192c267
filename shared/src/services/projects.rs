use super::idempotency::{winner, IdempotencyKey};
use super::Context;
use crate::adapters::crypto::random_password;
use crate::auth::Principal;
use crate::domain::jobs::{Job, JobType};
use crate::domain::names::ProjectName;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::projects::{database_name, role_name, Project, ProjectState};
use crate::domain::scopes::Scope;
use crate::ids::{JobId, ProjectId};
use crate::ports::Login;
use crate::store::StoreError;
use crate::Error;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Created {
    project_id: ProjectId,
    job_id: JobId,
}

/// Creates a project record and queues the job that provisions its database.
pub async fn create(
    ctx: &Context,
    principal: &Principal,
    name: ProjectName,
    region: Option<&str>,
    idempotency: Option<&IdempotencyKey>,
) -> Result<(Project, Job), Error> {
    principal.require_scope(Scope::ProjectsWrite)?;
    if principal.project_restriction().is_some() {
        return Err(Error::Forbidden("a project-scoped API key cannot create projects".into()));
    }
    // Without a region, the first configured one (CAPYDB_REGIONS lists the default first).
    let region = match region {
        Some(r) => r,
        None => ctx
            .config
            .regions
            .first()
            .map(|r| r.name.as_str())
            .ok_or_else(|| Error::Internal("no region is configured".into()))?,
    };
    if ctx.config.region(region).is_none() {
        let names = ctx.config.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
        return Err(Error::invalid("region", format!("region must be one of: {names}")));
    }
    if let Some(key) = idempotency {
        if let Some(prev) = key.previous::<Created>(&*ctx.idempotency).await? {
            return load_created(ctx, prev).await;
        }
    }
    let now = ctx.clock.now();
    let id = ProjectId::generate();
    let project = Project {
        org_id: principal.org_id.clone(),
        name: name.into_inner(),
        region: region.to_string(),
        state: ProjectState::Provisioning,
        database_name: database_name(&id),
        db_username: role_name(&id),
        db_password_enc: ctx.secrets.seal(&random_password()),
        error: None,
        next_nightly_at: None,
        created_at: now,
        updated_at: now,
        id,
    };
    let job = provisioning_job(ctx, &project);
    let record =
        idempotency.map(|k| k.record(&Created { project_id: project.id.clone(), job_id: job.id.clone() }, now));
    match ctx.projects.create_project(&project, &job, record.as_ref()).await {
        Ok(()) => Ok((project, job)),
        Err(StoreError::IdempotencyKeyTaken) => load_created(ctx, winner(idempotency, &*ctx.idempotency).await?).await,
        Err(e) => Err(e.into()),
    }
}

async fn load_created(ctx: &Context, created: Created) -> Result<(Project, Job), Error> {
    let project = ctx.projects.get_project(&created.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    let job = ctx.jobs.get_job(&created.job_id).await?.ok_or_else(|| Error::not_found("job"))?;
    Ok((project, job))
}

/// The project if the caller may see it; every other case is "not found".
pub async fn visible(ctx: &Context, principal: &Principal, id: &ProjectId) -> Result<Project, Error> {
    let not_found = || Error::not_found("project");
    let project = ctx.projects.get_project(id).await?.ok_or_else(not_found)?;
    if principal.can_see_project(&project) {
        Ok(project)
    } else {
        Err(not_found())
    }
}

/// [`visible`], for a caller that must also hold `scope`.
pub async fn visible_with(
    ctx: &Context,
    principal: &Principal,
    scope: Scope,
    id: &ProjectId,
) -> Result<Project, Error> {
    principal.require_scope(scope)?;
    visible(ctx, principal, id).await
}

pub async fn get(ctx: &Context, principal: &Principal, id: &ProjectId) -> Result<Project, Error> {
    visible_with(ctx, principal, Scope::ProjectsRead, id).await
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Project>, Error> {
    principal.require_scope(Scope::ProjectsRead)?;
    if let Some(only) = principal.project_restriction() {
        let items =
            ctx.projects.get_project(only).await?.into_iter().filter(|p| principal.can_see_project(p)).collect();
        return Ok(Page { items, next_cursor: None });
    }
    Ok(ctx.projects.list_projects(&principal.org_id, limit, cursor).await?)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Connections {
    pub direct_url: String,
    pub pooled_url: String,
    pub username: String,
    pub database_name: String,
    pub host: String,
    pub port: u16,
    pub pooled_port: u16,
}

impl Connections {
    /// How `username` reaches `database` on `region`, directly and through its pooler.
    pub fn to(region: &crate::config::RegionConfig, username: &str, password: &str, database: &str) -> Connections {
        let pooled_port = region.pooled_port.unwrap_or(region.public_port);
        let url = |port: u16| format!("postgresql://{username}:{password}@{}:{port}/{database}", region.public_host);
        Connections {
            direct_url: url(region.public_port),
            pooled_url: url(pooled_port),
            username: username.to_string(),
            database_name: database.to_string(),
            host: region.public_host.clone(),
            port: region.public_port,
            pooled_port,
        }
    }
}

/// The project's own role, as dumps and restores of its data connect (never the superuser).
pub fn login(ctx: &Context, project: &Project) -> Result<Login, Error> {
    let password = ctx.secrets.open(&project.db_password_enc).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Login { role: project.db_username.clone(), password })
}

/// Connection strings for the project database (scope `credentials:read`).
pub async fn connections(ctx: &Context, principal: &Principal, id: &ProjectId) -> Result<Connections, Error> {
    principal.require_scope(Scope::CredentialsRead)?;
    let project = visible(ctx, principal, id).await?;
    connection_strings(ctx, &project)
}

/// The project database's connection strings, password included (callers check scopes).
pub fn connection_strings(ctx: &Context, project: &Project) -> Result<Connections, Error> {
    if project.state != ProjectState::Ready {
        return Err(Error::Conflict { message: "the project database is not ready yet".into(), job_id: None });
    }
    let region = ctx.region(&project.region)?;
    let password = ctx.secrets.open(&project.db_password_enc).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Connections::to(region, &project.db_username, &password, &project.database_name))
}

/// The job that creates (or repairs) a project's role and database.
pub(crate) fn provisioning_job(ctx: &Context, project: &Project) -> Job {
    Job::new(
        JobType::ProvisionProject,
        project.org_id.clone(),
        project.id.clone(),
        ctx.config.job_max_attempts,
        project.updated_at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryStore;
    use crate::auth::{Credential, OrgRole};
    use crate::domain::names::ProjectName;
    use crate::ids::OrgId;
    use crate::services::idempotency::{begin_response, finish_response, Replay};
    use std::sync::Arc;

    fn admin(org: &OrgId) -> Principal {
        Principal {
            org_id: org.clone(),
            credential: Credential::Session { user_id: "usr_1".into(), role: OrgRole::Admin },
        }
    }

    #[tokio::test]
    async fn a_retried_create_with_the_same_key_answers_with_the_first_project_and_another_body_is_refused() {
        let ctx = Context::in_memory(Arc::new(MemoryStore::new())).await;
        let org = OrgId::generate();
        let who = admin(&org);
        let body = br#"{"name":"shop"}"#;
        let key = IdempotencyKey::new(&org, "create-shop-1", "POST /v1/projects", body).unwrap();

        let (first, job) = create(&ctx, &who, ProjectName::parse("shop").unwrap(), None, Some(&key)).await.unwrap();
        let (again, again_job) =
            create(&ctx, &who, ProjectName::parse("shop").unwrap(), None, Some(&key)).await.unwrap();
        assert_eq!((&again.id, &again_job.id), (&first.id, &job.id), "the retry gets the first answer");
        let listed = ctx.projects.list_projects(&org, 10, None).await.unwrap().items;
        assert_eq!(listed.iter().map(|p| &p.id).collect::<Vec<_>>(), vec![&first.id], "one project, not two");
        assert_eq!(ctx.jobs.list_jobs(&first.id, 10, None).await.unwrap().items.len(), 1, "one provisioning job");

        let other = IdempotencyKey::new(&org, "create-shop-1", "POST /v1/projects", br#"{"name":"blog"}"#).unwrap();
        let refused = create(&ctx, &who, ProjectName::parse("blog").unwrap(), None, Some(&other)).await;
        assert!(matches!(refused, Err(Error::IdempotencyMismatch)), "the same key with another body");
        assert_eq!(ctx.projects.list_projects(&org, 10, None).await.unwrap().items.len(), 1);

        let elsewhere = OrgId::generate();
        let theirs = IdempotencyKey::new(&elsewhere, "create-shop-1", "POST /v1/projects", body).unwrap();
        let (separate, _) =
            create(&ctx, &admin(&elsewhere), ProjectName::parse("shop").unwrap(), None, Some(&theirs)).await.unwrap();
        assert_ne!(separate.id, first.id, "keys are per organisation");
    }

    #[tokio::test]
    async fn a_stored_response_is_replayed_a_running_one_is_reported_and_a_failed_one_runs_again() {
        let ctx = Context::in_memory(Arc::new(MemoryStore::new())).await;
        let org = OrgId::generate();
        let key = IdempotencyKey::new(&org, "key-1", "POST /v1/api-keys", b"{}").unwrap();
        assert!(matches!(begin_response(&ctx, &key).await.unwrap(), Replay::Run));
        assert!(matches!(begin_response(&ctx, &key).await.unwrap(), Replay::InProgress), "the first is still running");
        finish_response(&ctx, &key, 201, br#"{"secret":"shown once"}"#).await.unwrap();
        match begin_response(&ctx, &key).await.unwrap() {
            Replay::Respond { status, body } => {
                assert_eq!((status, body.as_slice()), (201, &br#"{"secret":"shown once"}"#[..]))
            }
            _ => panic!("a finished request is replayed"),
        }
        let changed = IdempotencyKey::new(&org, "key-1", "POST /v1/api-keys", br#"{"name":"x"}"#).unwrap();
        assert!(matches!(begin_response(&ctx, &changed).await, Err(Error::IdempotencyMismatch)));

        let failing = IdempotencyKey::new(&org, "key-2", "POST /v1/api-keys", b"{}").unwrap();
        assert!(matches!(begin_response(&ctx, &failing).await.unwrap(), Replay::Run));
        finish_response(&ctx, &failing, 503, b"{}").await.unwrap();
        assert!(
            matches!(begin_response(&ctx, &failing).await.unwrap(), Replay::Run),
            "a failure on our side is forgotten"
        );
    }
}
