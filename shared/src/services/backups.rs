use super::directory_archive;
use super::idempotency::{winner, IdempotencyKey};
use super::{pins, projects, Context};
use crate::auth::{Credential, OrgRole, Principal};
use crate::domain::backups::{
    backup_id_of_key, manifest_key, ArchiveFile, Backup, BackupKind, BackupState, DownloadTtl,
};
use crate::domain::events::Event;
use crate::domain::jobs::{Job, JobType};
use crate::domain::names::BackupLabel;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::projects::{Project, ProjectState};
use crate::domain::scopes::Scope;
use crate::ids::{BackupId, JobId, ProjectId};
use crate::store::StoreError;
use crate::Error;
use capydb_api::events;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Created {
    backup_id: BackupId,
    job_id: JobId,
}

/// Queues an on-demand backup: a `pending` backup record and the job that produces it.
pub async fn request(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    label: Option<BackupLabel>,
    idempotency: Option<&IdempotencyKey>,
) -> Result<(Backup, Job), Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    if let Some(key) = idempotency {
        if let Some(prev) = key.previous::<Created>(&*ctx.idempotency).await? {
            return load_created(ctx, &project, prev).await;
        }
    }
    match project.state {
        ProjectState::Ready => {}
        ProjectState::Provisioning => {
            return Err(Error::Conflict {
                message: "the project database is still being provisioned".into(),
                job_id: None,
            })
        }
        ProjectState::Failed => {
            return Err(Error::Conflict { message: "the project database failed to provision".into(), job_id: None })
        }
    }
    let now = ctx.clock.now();
    let mut job =
        Job::new(JobType::Backup, project.org_id.clone(), project.id.clone(), ctx.config.job_max_attempts, now);
    let backup = Backup::new(
        BackupId::generate(),
        project.id.clone(),
        project.org_id.clone(),
        job.id.clone(),
        label.map(BackupLabel::into_inner),
        BackupKind::OnDemand,
        project.database_name.clone(),
        now,
    );
    job.backup_id = Some(backup.id.clone());
    let record = idempotency.map(|k| k.record(&Created { backup_id: backup.id.clone(), job_id: job.id.clone() }, now));
    match ctx.backups.create_backup(&backup, &job, record.as_ref()).await {
        Ok(()) => Ok((backup, job)),
        Err(StoreError::IdempotencyKeyTaken) => {
            load_created(ctx, &project, winner(idempotency, &*ctx.idempotency).await?).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn load_created(ctx: &Context, project: &Project, created: Created) -> Result<(Backup, Job), Error> {
    let backup =
        ctx.backups.get_backup(&project.id, &created.backup_id).await?.ok_or_else(|| Error::not_found("backup"))?;
    let job = ctx.jobs.get_job(&created.job_id).await?.ok_or_else(|| Error::not_found("job"))?;
    Ok((backup, job))
}

/// A backup and whether a restore point pins it (pinned backups outlive their retention).
pub struct Listed {
    pub backup: Backup,
    pub pinned: bool,
}

pub async fn get(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    backup_id: &BackupId,
) -> Result<Listed, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    let backup = find(ctx, &project, backup_id).await?;
    let pinned = pins::pinned_backups(ctx.restore_points.as_ref(), &project.id).await?.contains(&backup.id);
    Ok(Listed { backup, pinned })
}

/// The backup an object key names, if it is one of `project`'s. A key that is not of this
/// project's layout is a 400 naming `backup_key`; a well-formed unknown one is a 404.
pub async fn by_key(ctx: &Context, project: &Project, key: &str) -> Result<Backup, Error> {
    let id = backup_id_of_key(&project.id, key).ok_or_else(|| {
        Error::invalid(
            "backup_key",
            format!(
                "backup_key must be a key of this project (projects/{0}/backups/<backup id>.dump.zst or projects/{0}/backups/<backup id>.dir/)",
                project.id
            ),
        )
    })?;
    let backup = ctx.backups.get_backup(&project.id, &id).await?;
    backup.filter(|b| b.backup_key.as_deref() == Some(key)).ok_or_else(|| Error::not_found("backup"))
}

async fn find(ctx: &Context, project: &Project, id: &BackupId) -> Result<Backup, Error> {
    ctx.backups.get_backup(&project.id, id).await?.ok_or_else(|| Error::not_found("backup"))
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Listed>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    let page = ctx.backups.list_backups(&project.id, limit, cursor).await?;
    let pinned = pins::pinned_backups(ctx.restore_points.as_ref(), &project.id).await?;
    let items = page.items.into_iter().map(|b| Listed { pinned: pinned.contains(&b.id), backup: b }).collect();
    Ok(Page { items, next_cursor: page.next_cursor })
}

/// Deletes a finished backup: the archive and manifest first, then the record, so a failure
/// part-way leaves a record that can be deleted again rather than an orphaned object.
pub async fn delete(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    backup_id: &BackupId,
) -> Result<Backup, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    let backup = find(ctx, &project, backup_id).await?;
    if matches!(backup.state, BackupState::Pending | BackupState::Running) {
        return Err(Error::Conflict {
            message: format!("backup {} is still in progress (job {})", backup.id, backup.job_id),
            job_id: Some(backup.job_id.to_string()),
        });
    }
    let pins = pins::pinning(ctx.restore_points.as_ref(), &project.id, &backup.id).await?;
    if let Some(point) = pins.first() {
        return Err(Error::Conflict {
            message: format!(
                "backup {} is pinned by restore point {} ({}); delete the restore point first",
                backup.id, point.label, point.id
            ),
            job_id: None,
        });
    }
    remove_stored(ctx, &backup.project_id, &backup.id).await?;
    ctx.backups.delete_backup(&backup).await?;
    Ok(backup)
}

/// Removes what a backup stored: the archive or a directory archive's files (their keys are
/// derived from the ids, so this works before the record knows them) and its manifest; deleting an absent object is not an error.
/// The record is the caller's.
pub async fn remove_stored(
    ctx: &Context,
    project: &crate::ids::ProjectId,
    backup: &crate::ids::BackupId,
) -> Result<(), Error> {
    ctx.objects.delete(&crate::domain::backups::object_key(project, backup)).await?;
    super::directory_archive::remove(ctx.objects.as_ref(), &crate::domain::backups::directory_prefix(project, backup))
        .await?;
    ctx.objects.delete(&manifest_key(project, backup)).await?;
    Ok(())
}

/// Where to fetch a backup's archive: a URL that needs no credentials until `expires_at`.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadUrl {
    pub backup_id: BackupId,
    pub url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub sha256: String,
    pub size_bytes: u64,
    pub format: String,
    pub compression: String,
    /// A directory archive's files, each with its URL (`url` above is then the manifest's).
    pub files: Vec<(ArchiveFile, String)>,
}

/// A download URL for a completed backup. The archive is the data itself, so this needs
/// `credentials:read` beside `backups:read` (and the org `admin` role for a session), and every
/// URL handed out is recorded as a `backup.downloaded` event.
pub async fn download_url(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    backup_id: &BackupId,
    ttl: DownloadTtl,
) -> Result<DownloadUrl, Error> {
    if let Credential::Session { role, .. } = &principal.credential {
        if *role != OrgRole::Admin {
            return Err(Error::Forbidden("downloading a backup needs the organization `admin` role".into()));
        }
    }
    principal.require_scope(Scope::CredentialsRead)?;
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    let backup = find(ctx, &project, backup_id).await?;
    let (BackupState::Completed, Some(key), Some(sha256), Some(size_bytes)) =
        (backup.state, &backup.backup_key, &backup.sha256, backup.size_bytes)
    else {
        let state = serde_json::to_value(backup.state).ok().and_then(|v| v.as_str().map(str::to_string));
        return Err(Error::Conflict {
            message: format!(
                "backup {} is {}; only a completed backup can be downloaded",
                backup.id,
                state.unwrap_or_default()
            ),
            job_id: None,
        });
    };
    let seconds = ttl.seconds();
    let expires_in = std::time::Duration::from_secs(seconds.into());
    let (url, files) = match backup.is_directory() {
        false => (ctx.objects.presigned_get(key, expires_in).await?, Vec::new()),
        true => {
            let listed = directory_archive::files_of(ctx.objects.as_ref(), &backup)
                .await
                .map_err(|e| Error::Internal(format!("cannot list backup {}'s files: {e}", backup.id)))?;
            let mut files = Vec::with_capacity(listed.len());
            for file in listed {
                let url = ctx.objects.presigned_get(&file.key(key), expires_in).await?;
                files.push((file, url));
            }
            (ctx.objects.presigned_get(&manifest_key(&project.id, &backup.id), expires_in).await?, files)
        }
    };
    let now = ctx.clock.now();
    let download = DownloadUrl {
        backup_id: backup.id.clone(),
        url,
        expires_at: now + chrono::Duration::seconds(seconds.into()),
        sha256: sha256.clone(),
        size_bytes,
        format: backup.format.clone(),
        compression: backup.compression.clone(),
        files,
    };
    let by = match &principal.credential {
        Credential::ApiKey { key_id, .. } => events::Actor { api_key_id: Some(key_id.to_string()), user_id: None },
        Credential::Session { user_id, .. } => events::Actor { api_key_id: None, user_id: Some(user_id.clone()) },
    };
    let event = Event::new(
        "backup.downloaded",
        project.org_id.clone(),
        Some(project.id.clone()),
        now,
        crate::contract::data(&events::BackupDownloadedData {
            project_id: project.id.to_string(),
            backup_id: backup.id.to_string(),
            backup_key: key.to_string(),
            expires_at: crate::contract::ts(download.expires_at),
            by,
        }),
    );
    ctx.events.put_event(&event).await?;
    Ok(download)
}
