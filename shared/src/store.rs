//! The store's vocabulary: what services say to the table and hear back, in terms of the domain
//! and independent of DynamoDB — its errors, the conditions a job transition is decided from,
//! the records written with a job, why a restore was refused, the project's locks. The DynamoDB
//! adapter (`adapters/dynamo`) speaks it; services and the crate's `Error` never name the adapter's
//! own types.

use crate::domain::api_keys::ApiKey;
use crate::domain::backups::Backup;
use crate::domain::deliveries::{Delivery, HealthUpdate};
use crate::domain::events::Event;
use crate::domain::integrations::{Integration, Provider};
use crate::domain::jobs::Job;
use crate::domain::organizations::Organization;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::PreviewDatabase;
use crate::domain::projects::Project;
use crate::domain::restore_points::RestorePoint;
use crate::domain::restores::Restore;
use crate::domain::schedules::BackupSchedule;
use crate::domain::webhooks::WebhookEndpoint;
use crate::ids::{
    ApiKeyId, BackupId, DeliveryId, JobId, OrgId, PreviewId, ProjectId, RestoreId, RestorePointId, WebhookId,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold: someone else changed the item first.
    #[error("the item was changed concurrently")]
    ConditionFailed,
    /// The Idempotency-Key was already recorded.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    /// A list cursor that this list never returned (forged, truncated or from another list).
    #[error("cursor is not one this list returned")]
    InvalidCursor,
    #[error("{0}")]
    Backend(String),
}

/// Someone asked a running job to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub job_id: JobId,
    /// `api_key:<id>` or `user:<id>`.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The state a transition was decided from.
#[derive(Debug, Clone)]
pub enum JobCondition {
    /// Still pending with this many attempts (claim).
    Pending { attempts: u32 },
    /// Pending and untouched since this moment (sweeper kick).
    PendingSince { updated_at: DateTime<Utc> },
    /// Running under this worker's claim (heartbeat, finish).
    OwnedBy { worker: String, attempts: u32 },
    /// Running with exactly this lease, which the sweeper saw expire.
    LeaseExpired { attempts: u32, lease_until: DateTime<Utc> },
}

/// A record changed in the same transaction as a job (the job's subject).
#[derive(Debug, Clone)]
pub enum RecordWrite {
    Backup(Backup),
    /// A backup record created by the job itself (a pre-restore safety copy).
    NewBackup(Backup),
    Project(Project),
    Restore(Restore),
    Preview(PreviewDatabase),
    /// Frees one of the project's locks (`LIFECYCLE_LOCK`, `PITR_LOCK`), which this job holds.
    ReleaseLock {
        project_id: ProjectId,
        job_id: JobId,
        lock: &'static str,
    },
}

/// Serialises changes to a project's data (overwrites of the project or of a preview).
pub const LIFECYCLE_LOCK: &str = "LOCK#lifecycle";
/// At most one point-in-time restore per project at a time: each one makes the region cluster
/// switch WAL and starts a whole-cluster recovery instance.
pub const PITR_LOCK: &str = "LOCK#pitr";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LifecycleLock {
    pub job_id: JobId,
}

/// Why creating a restore was refused.
#[derive(Debug)]
pub enum RestoreConflict {
    /// Another job holds the project's lifecycle lock.
    Locked(JobId),
    PreviewNameTaken,
    /// Another point-in-time restore of the project is running.
    PitrRunning(JobId),
    /// The existing preview to restore into is not `ready` (another restore, or deleted).
    PreviewNotReady,
}

/// Which daily run a claim is for: the project's own schedule or the platform's nightly dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    Scheduled,
    Nightly,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// `<org>#<key>`
    pub scope: String,
    pub request_hash: String,
    /// What the first request created, as JSON ids, so a retry answers with the same resources.
    pub result: String,
    pub created_at: DateTime<Utc>,
    /// DynamoDB TTL attribute: records are forgotten after a day.
    pub expires_at_epoch: i64,
}

impl IdempotencyRecord {
    pub fn new(scope: String, request_hash: String, result: String, now: DateTime<Utc>) -> Self {
        IdempotencyRecord {
            scope,
            request_hash,
            result,
            created_at: now,
            expires_at_epoch: (now + Duration::hours(24)).timestamp(),
        }
    }
}

/// A replayable response for a POST whose change has no transaction of its own to carry an
/// idempotency record: reserved before the handler runs, filled in after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub scope: String,
    pub request_hash: String,
    /// `None` while the first request is still running.
    pub status: Option<u16>,
    /// The response body, sealed (it may hold a secret shown once).
    pub body_enc: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at_epoch: i64,
}

// The store ports. Each is implemented by the DynamoDB repository and by the in-memory store
// (`adapters/memory.rs`); `store_conformance` holds both to the same answers.

/// Restore points of a project, each with a label unique in it.
#[async_trait]
pub trait RestorePointStore: Send + Sync {
    /// Writes the point and claims its label; `Ok(false)` (and nothing written) when the label is
    /// taken in the project.
    async fn create_restore_point(&self, point: &RestorePoint) -> Result<bool, StoreError>;
    /// Counts one point against the project's allowance for `minute` (`yyyymmddhhmm`); `false`
    /// when `limit` were already made in it.
    async fn take_restore_point_slot(&self, project: &ProjectId, minute: &str, limit: u32) -> Result<bool, StoreError>;
    async fn restore_point_label_taken(&self, project: &ProjectId, label: &str) -> Result<bool, StoreError>;
    async fn get_restore_point(
        &self,
        project: &ProjectId,
        id: &RestorePointId,
    ) -> Result<Option<RestorePoint>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_restore_points(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<RestorePoint>, StoreError>;
    /// Deletes the point and frees its label.
    async fn delete_restore_point(&self, point: &RestorePoint) -> Result<(), StoreError>;
}

/// Webhook endpoints of an organisation.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// `ConditionFailed` when an endpoint with this id exists.
    async fn create_webhook(&self, ep: &WebhookEndpoint) -> Result<(), StoreError>;
    /// Replaces an endpoint that still exists; `ConditionFailed` when it was deleted meanwhile.
    async fn update_webhook(&self, ep: &WebhookEndpoint) -> Result<(), StoreError>;
    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_webhooks(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<WebhookEndpoint>, StoreError>;
    /// Sets only the health fields, so a delivery never undoes a concurrent change of the
    /// endpoint. `Ok(false)` when the endpoint is gone.
    async fn record_webhook_health(
        &self,
        org: &OrgId,
        id: &WebhookId,
        update: &HealthUpdate,
    ) -> Result<bool, StoreError>;
    /// Deleting an endpoint that is already gone is not an error.
    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<(), StoreError>;
}

/// Webhook deliveries under their endpoint, findable by when their next attempt is due.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Writes `d` if it is new (`expected` = `None`) or still at version `expected`; the stored
    /// copy gets `d.version`. `Ok(false)` (and nothing written) when another writer got there
    /// first.
    async fn put_delivery(&self, d: &Delivery, expected: Option<u64>) -> Result<bool, StoreError>;
    async fn get_delivery(&self, webhook: &WebhookId, id: &DeliveryId) -> Result<Option<Delivery>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_deliveries(
        &self,
        webhook: &WebhookId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Pending deliveries whose next attempt falls in due-index `bucket` (the hour of
    /// `domain::jobs::due_bucket`) and is due at or before `now`.
    async fn due_deliveries(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError>;
}

/// Organisations (created by the operator's bootstrap).
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// Creates or replaces: bootstrap is idempotent.
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError>;
    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError>;
}

/// Projects of an organisation, each created together with the job that provisions it, and in
/// the due index at their next nightly dump.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// The project and its provisioning job (and the idempotency record), all or nothing.
    /// `IdempotencyKeyTaken` when the key was recorded already.
    async fn create_project(
        &self,
        project: &Project,
        job: &Job,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError>;
    /// Projects whose nightly dump falls in due-index `bucket` at or before `now`.
    async fn due_projects(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Project>, StoreError>;
    /// Puts the project back to provisioning with its new job, only if it is still as `seen`
    /// (its `updated_at`); `Ok(false)` and nothing written otherwise.
    async fn reprovision_project(&self, project: &Project, job: &Job, seen: &Project) -> Result<bool, StoreError>;
    /// Replaces a project that exists; `ConditionFailed` when it does not.
    async fn update_project(&self, project: &Project) -> Result<(), StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_projects(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Project>, StoreError>;
}

/// Backup records under their project, in the due index at their retention check.
#[async_trait]
pub trait BackupStore: Send + Sync {
    /// The backup (state `pending`) with the job that produces it, all or nothing.
    async fn create_backup(
        &self,
        backup: &Backup,
        job: &Job,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn get_backup(&self, project: &ProjectId, id: &BackupId) -> Result<Option<Backup>, StoreError>;
    /// Replaces a backup that exists (never resurrects a deleted one): `ConditionFailed`.
    async fn update_backup(&self, backup: &Backup) -> Result<(), StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_backups(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Backup>, StoreError>;
    /// Backups whose retention check falls in `bucket` at or before `now`.
    async fn due_backups(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Backup>, StoreError>;
    async fn delete_backup(&self, backup: &Backup) -> Result<(), StoreError>;
}

/// Jobs and their transitions. Every change is conditional on the state it was decided from
/// ([`JobCondition`]), and a transition writes the job's subject records and outbox events in
/// the same all-or-nothing step.
#[async_trait]
pub trait JobStore: Send + Sync {
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_jobs(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Job>, StoreError>;
    /// Replaces the job if `condition` still holds; `Ok(false)` when it does not.
    async fn update_job(&self, job: &Job, condition: &JobCondition) -> Result<bool, StoreError>;
    /// Moves the job to `job`'s state and writes `records` and `events`, all or nothing;
    /// `Ok(false)` (nothing written) when the condition or a record's own condition fails.
    async fn transition_job(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
        events: &[Event],
    ) -> Result<bool, StoreError>;
    /// Writes `records` only while the job is still held under `condition`.
    async fn record_progress(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError>;
    /// [`JobStore::record_progress`], and only while nobody has asked to cancel the job.
    async fn record_progress_uncancelled(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError>;
    /// Asks a running job to stop, beside the job so a heartbeat cannot erase it; only while it
    /// runs and, when `staging` names its restore, while that restore is still staging.
    /// `Ok(false)` when either no longer holds or a request exists already.
    async fn request_cancel(
        &self,
        request: &CancelRequest,
        staging: Option<(&ProjectId, &RestoreId)>,
    ) -> Result<bool, StoreError>;
    async fn cancel_request(&self, job: &JobId) -> Result<Option<CancelRequest>, StoreError>;
    /// Jobs whose due time (pickup, retry or lease end) falls in `bucket` at or before `now`.
    async fn due_jobs(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError>;
}

/// Restores under their project, and the project's locks.
#[async_trait]
pub trait RestoreStore: Send + Sync {
    /// The restore, its job, the new preview (with its name), the existing target preview moved
    /// from `ready` to `restoring`, and the locks it takes — all or nothing. A refusal says why.
    async fn create_restore(
        &self,
        restore: &Restore,
        job: &Job,
        new_preview: Option<&PreviewDatabase>,
        lock_project: bool,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Result<(), RestoreConflict>, StoreError>;
    async fn lifecycle_lock(&self, project: &ProjectId) -> Result<Option<LifecycleLock>, StoreError>;
    async fn pitr_lock(&self, project: &ProjectId) -> Result<Option<LifecycleLock>, StoreError>;
    async fn get_restore(&self, project: &ProjectId, id: &RestoreId) -> Result<Option<Restore>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_restores(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Restore>, StoreError>;
}

/// Preview databases by their own id, with names unique in their project.
#[async_trait]
pub trait PreviewStore: Send + Sync {
    async fn get_preview(&self, id: &PreviewId) -> Result<Option<PreviewDatabase>, StoreError>;
    async fn preview_named(&self, project: &ProjectId, name: &str) -> Result<Option<PreviewDatabase>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_previews(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PreviewDatabase>, StoreError>;
    /// Replaces a preview that exists; `ConditionFailed` when it does not.
    async fn update_preview(&self, p: &PreviewDatabase) -> Result<(), StoreError>;
    /// Moves a `ready` preview's expiry and nothing else; `None` when it is gone or not ready.
    async fn extend_preview(
        &self,
        id: &PreviewId,
        ttl_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<PreviewDatabase>, StoreError>;
    /// Removes the preview, frees its name and records `event`, all or nothing.
    async fn delete_preview(&self, p: &PreviewDatabase, event: &Event) -> Result<(), StoreError>;
    /// Previews whose TTL runs out in `bucket` at or before `now`.
    async fn due_previews(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<PreviewDatabase>, StoreError>;
}

/// Backup schedules and the once-a-day claims that make a duplicate firing harmless.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    async fn get_schedule(&self, project: &ProjectId, id: &str) -> Result<Option<BackupSchedule>, StoreError>;
    async fn put_schedule(&self, schedule: &BackupSchedule) -> Result<(), StoreError>;
    /// Records how an expected run went, with the `backup.missed` event when it did not happen.
    async fn record_schedule_check(&self, schedule: &BackupSchedule, event: Option<&Event>) -> Result<(), StoreError>;
    /// Schedules whose check falls in `bucket` at or before `now`.
    async fn due_schedules(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<BackupSchedule>, StoreError>;
    async fn delete_schedule(&self, project: &ProjectId, id: &str) -> Result<(), StoreError>;
    /// The job already created for `day`'s run of `kind`, if any.
    async fn scheduled_run(
        &self,
        project: &ProjectId,
        kind: RunKind,
        day: NaiveDate,
    ) -> Result<Option<JobId>, StoreError>;
    /// The backup, its job and the claim on `day`; `Ok(false)` and nothing written when the day
    /// was claimed already.
    async fn create_scheduled_backup(
        &self,
        backup: &Backup,
        job: &Job,
        kind: RunKind,
        day: NaiveDate,
    ) -> Result<bool, StoreError>;
}

/// API keys, found by their hash for authentication and listed under their organisation.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(
        &self,
        key: &ApiKey,
        hash: &str,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn get_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Newest first, at most `limit`; a cursor this list did not return is `InvalidCursor`.
    async fn list_api_keys(&self, org: &OrgId, limit: u32, cursor: Option<&Cursor>)
        -> Result<Page<ApiKey>, StoreError>;
    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError>;
    /// Records that the key authenticated a request; a key gone meanwhile is not an error.
    async fn touch_api_key(&self, key: &ApiKey, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Revokes the key (once: a second revocation keeps the first time); `None` when the
    /// organisation has no such key.
    async fn revoke_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError>;
}

/// `Idempotency-Key` records and replayable responses.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn get_idempotency(&self, scope: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Reserves `scope` for this request; `Ok(Err(existing))` when it is taken.
    async fn reserve_response(
        &self,
        scope: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), StoredResponse>, StoreError>;
    /// Stores the answer; it expires a day after the reservation.
    async fn complete_response(&self, record: StoredResponse) -> Result<(), StoreError>;
    /// Forgets a reservation, so that a retry runs again.
    async fn release_response(&self, scope: &str) -> Result<(), StoreError>;
}

/// Deployment integrations, one per provider and project, written optimistically by version.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Writes `i` if new (`expected` = `None`) or still at version `expected`; `Ok(false)` when
    /// another writer got there first.
    async fn put_integration(&self, i: &Integration, expected: Option<u64>) -> Result<bool, StoreError>;
    async fn get_integration(&self, project: &ProjectId, provider: Provider)
        -> Result<Option<Integration>, StoreError>;
    async fn list_integrations(&self, project: &ProjectId) -> Result<Vec<Integration>, StoreError>;
    /// `ConditionFailed` when there is no such integration.
    async fn delete_integration(&self, project: &ProjectId, provider: Provider) -> Result<(), StoreError>;
    /// Integrations whose push is due in `bucket` at or before `now`.
    async fn due_integrations(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Integration>, StoreError>;
}

/// Outbox events that report no change of their own (the audit event of a download).
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn put_event(&self, event: &Event) -> Result<(), StoreError>;
}
