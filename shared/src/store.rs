//! The store's vocabulary: what services say to the table and hear back, in terms of the domain
//! and independent of DynamoDB — its errors, the conditions a job transition is decided from,
//! the records written with a job, why a restore was refused, the project's locks. The DynamoDB
//! adapter (`adapters/dynamo`) speaks it; services and the crate's `Error` never name the adapter's
//! own types.

use crate::domain::backups::Backup;
use crate::domain::deliveries::{Delivery, HealthUpdate};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::PreviewDatabase;
use crate::domain::projects::Project;
use crate::domain::restore_points::RestorePoint;
use crate::domain::restores::Restore;
use crate::domain::webhooks::WebhookEndpoint;
use crate::ids::{DeliveryId, JobId, OrgId, ProjectId, RestorePointId, WebhookId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
