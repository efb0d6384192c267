//! The store in memory, with the DynamoDB repository's conditions: every multi-record write is
//! checked whole before any of it is applied (a transaction), a job changes only from the state
//! its caller decided from, names and labels are claimed with their record or not at all, an
//! update needs the item to exist, versioned records are written only at the version their writer
//! read, the due index holds what is due, and lists page newest first and refuse a cursor they did
//! not return. It lets services' rules be tested in milliseconds; `store_conformance` runs the
//! same checks against it and against DynamoDB.

use crate::domain::api_keys::ApiKey;
use crate::domain::backups::Backup;
use crate::domain::deliveries::{Delivery, HealthUpdate};
use crate::domain::events::Event;
use crate::domain::integrations::{Integration, Provider};
use crate::domain::jobs::{due_at, due_bucket, due_sort_key, Job, JobState};
use crate::domain::organizations::Organization;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::{PreviewDatabase, PreviewState};
use crate::domain::projects::Project;
use crate::domain::restore_points::RestorePoint;
use crate::domain::restores::{Restore, RestoreStep, TargetKind};
use crate::domain::schedules::BackupSchedule;
use crate::domain::webhooks::WebhookEndpoint;
use crate::ids::{
    ApiKeyId, BackupId, DeliveryId, JobId, OrgId, PreviewId, ProjectId, RestoreId, RestorePointId, WebhookId,
};
use crate::store::{
    ApiKeyStore, BackupStore, CancelRequest, DeliveryStore, EventStore, IdempotencyRecord, IdempotencyStore,
    IntegrationStore, JobCondition, JobStore, LifecycleLock, OrganizationStore, PreviewStore, ProjectStore,
    RecordWrite, RestoreConflict, RestorePointStore, RestoreStore, RunKind, ScheduleStore, StoreError, StoredResponse,
    WebhookStore, LIFECYCLE_LOCK, PITR_LOCK,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By project, then by id: ids are ULIDs, so their order is the order of creation.
    points: HashMap<ProjectId, BTreeMap<RestorePointId, RestorePoint>>,
    labels: HashMap<(ProjectId, String), RestorePointId>,
    slots: HashMap<(ProjectId, String), u32>,
    webhooks: HashMap<OrgId, BTreeMap<WebhookId, WebhookEndpoint>>,
    deliveries: HashMap<WebhookId, BTreeMap<DeliveryId, Delivery>>,
    organizations: HashMap<OrgId, Organization>,
    projects: BTreeMap<ProjectId, Project>,
    backups: HashMap<ProjectId, BTreeMap<BackupId, Backup>>,
    jobs: BTreeMap<JobId, Job>,
    cancels: HashMap<JobId, CancelRequest>,
    restores: HashMap<ProjectId, BTreeMap<RestoreId, Restore>>,
    /// The project's locks, by their name (`LIFECYCLE_LOCK`, `PITR_LOCK`).
    locks: HashMap<(ProjectId, &'static str), LifecycleLock>,
    previews: BTreeMap<PreviewId, PreviewDatabase>,
    preview_names: HashMap<(ProjectId, String), PreviewId>,
    schedules: HashMap<(ProjectId, String), BackupSchedule>,
    runs: HashMap<(ProjectId, RunKind, NaiveDate), JobId>,
    keys_by_hash: HashMap<String, ApiKey>,
    /// The organisation's copy of each key, with the hash that finds the other copy.
    org_keys: HashMap<OrgId, BTreeMap<ApiKeyId, (ApiKey, String)>>,
    idempotency: HashMap<String, IdempotencyRecord>,
    responses: HashMap<String, StoredResponse>,
    integrations: HashMap<(ProjectId, Provider), Integration>,
    events: Vec<Event>,
}

impl State {
    fn backup_exists(&self, b: &Backup) -> bool {
        self.backups.get(&b.project_id).is_some_and(|m| m.contains_key(&b.id))
    }

    fn restore_exists(&self, r: &Restore) -> bool {
        self.restores.get(&r.project_id).is_some_and(|m| m.contains_key(&r.id))
    }

    fn event_free(&self, events: &[&Event]) -> bool {
        events.iter().all(|e| !self.events.iter().any(|stored| stored.id == e.id))
    }

    fn idempotency_free(&self, record: Option<&IdempotencyRecord>) -> bool {
        record.is_none_or(|r| !self.idempotency.contains_key(&r.scope))
    }

    fn record_idempotency(&mut self, record: Option<&IdempotencyRecord>) {
        if let Some(r) = record {
            self.idempotency.insert(r.scope.clone(), r.clone());
        }
    }

    /// A refused transaction that carried an idempotency record: refused because of the key, or
    /// because of one of its own conditions.
    fn refusal(&self, record: Option<&IdempotencyRecord>) -> StoreError {
        match record {
            Some(r) if self.idempotency.contains_key(&r.scope) => StoreError::IdempotencyKeyTaken,
            _ => StoreError::ConditionFailed,
        }
    }

    fn holds(&self, job: &JobId, condition: &JobCondition) -> bool {
        let Some(j) = self.jobs.get(job) else { return false };
        match condition {
            JobCondition::Pending { attempts } => j.state == JobState::Pending && j.attempts == *attempts,
            JobCondition::PendingSince { updated_at } => j.state == JobState::Pending && j.updated_at == *updated_at,
            JobCondition::OwnedBy { worker, attempts } => {
                j.state == JobState::Running && j.attempts == *attempts && j.claimed_by.as_ref() == Some(worker)
            }
            JobCondition::LeaseExpired { attempts, lease_until } => {
                j.state == JobState::Running && j.attempts == *attempts && j.lease_until == Some(*lease_until)
            }
        }
    }

    /// Whether a record written with a job may be written now (its own condition).
    fn record_allowed(&self, record: &RecordWrite) -> bool {
        match record {
            RecordWrite::Backup(b) => self.backup_exists(b),
            RecordWrite::NewBackup(b) => !self.backup_exists(b),
            RecordWrite::Project(p) => self.projects.contains_key(&p.id),
            RecordWrite::Restore(r) => self.restore_exists(r),
            RecordWrite::Preview(p) => self.previews.contains_key(&p.id),
            RecordWrite::ReleaseLock { project_id, job_id, lock } => {
                self.locks.get(&(project_id.clone(), *lock)).is_none_or(|held| &held.job_id == job_id)
            }
        }
    }

    fn apply_record(&mut self, record: &RecordWrite) {
        match record {
            RecordWrite::Backup(b) | RecordWrite::NewBackup(b) => {
                self.backups.entry(b.project_id.clone()).or_default().insert(b.id.clone(), b.clone());
            }
            RecordWrite::Project(p) => {
                self.projects.insert(p.id.clone(), p.clone());
            }
            RecordWrite::Restore(r) => {
                self.restores.entry(r.project_id.clone()).or_default().insert(r.id.clone(), r.clone());
            }
            RecordWrite::Preview(p) => {
                self.previews.insert(p.id.clone(), p.clone());
            }
            RecordWrite::ReleaseLock { project_id, lock, .. } => {
                self.locks.remove(&(project_id.clone(), *lock));
            }
        }
    }

    fn insert_job(&mut self, job: &Job) {
        self.jobs.insert(job.id.clone(), job.clone());
    }

    fn insert_backup(&mut self, b: &Backup) {
        self.backups.entry(b.project_id.clone()).or_default().insert(b.id.clone(), b.clone());
    }

    fn write_job_with(
        &mut self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
        events: &[Event],
    ) -> bool {
        let events: Vec<&Event> = events.iter().collect();
        if !self.holds(&job.id, condition)
            || !records.iter().all(|r| self.record_allowed(r))
            || !self.event_free(&events)
        {
            return false;
        }
        self.insert_job(job);
        records.iter().for_each(|r| self.apply_record(r));
        self.events.extend(events.into_iter().cloned());
        true
    }
}

/// The items of `items` that `keep` keeps, in their order: a list kept by another key than the
/// one it is stored by (a project's jobs, an organisation's projects).
fn only<K: Ord + Clone, T: Clone>(items: &BTreeMap<K, T>, keep: impl Fn(&T) -> bool) -> BTreeMap<K, T> {
    items.iter().filter(|(_, t)| keep(t)).map(|(k, t)| (k.clone(), t.clone())).collect()
}

/// Whether `at` is in due-index `bucket` and at or before `now`, compared as the index compares
/// (to the millisecond).
fn is_due(at: DateTime<Utc>, bucket: &str, now: DateTime<Utc>) -> bool {
    due_bucket(at) == bucket && due_sort_key(at, "") <= due_sort_key(now, "~")
}

/// The items of `items` due in `bucket` by `now`, soonest first.
fn due_of<'a, T: Clone + 'a>(
    items: impl Iterator<Item = &'a T>,
    due: impl Fn(&T) -> Option<DateTime<Utc>>,
    bucket: &str,
    now: DateTime<Utc>,
) -> Vec<T> {
    let mut found: Vec<(DateTime<Utc>, T)> =
        items.filter_map(|i| due(i).filter(|at| is_due(*at, bucket, now)).map(|at| (at, i.clone()))).collect();
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, i)| i).collect()
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every outbox event written so far, oldest first: what the completion function would read.
    pub fn events(&self) -> Vec<Event> {
        self.state().events.clone()
    }
}

/// A newest-first page of `items` (sorted oldest first by id) after the cursor's id. The cursor
/// names the list's owner too, so another list's cursor is refused.
fn page_of<K: Ord + ToString + std::str::FromStr, T: Clone>(
    owner: &str,
    items: Option<&BTreeMap<K, T>>,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<T>, StoreError> {
    let start: Option<K> = match cursor {
        None => None,
        Some(c) => {
            let fits = c.0.len() == 2 && c.0.get("owner").map(String::as_str) == Some(owner);
            match (fits, c.0.get("after").and_then(|id| id.parse().ok())) {
                (true, Some(id)) => Some(id),
                _ => return Err(StoreError::InvalidCursor),
            }
        }
    };
    let newest_first = items.into_iter().flat_map(|m| m.iter().rev());
    let page: Vec<(&K, &T)> =
        newest_first.filter(|(id, _)| start.as_ref().is_none_or(|s| *id < s)).take(limit as usize).collect();
    let next_cursor = match page.last() {
        Some((last, _)) if page.len() == limit as usize => {
            Some(Cursor(BTreeMap::from([("owner".into(), owner.to_string()), ("after".into(), last.to_string())])))
        }
        _ => None,
    };
    Ok(Page { items: page.into_iter().map(|(_, item)| item.clone()).collect(), next_cursor })
}

#[async_trait]
impl RestorePointStore for MemoryStore {
    async fn create_restore_point(&self, point: &RestorePoint) -> Result<bool, StoreError> {
        let mut state = self.state();
        let label = (point.project_id.clone(), point.label.clone());
        let exists = state.points.get(&point.project_id).is_some_and(|p| p.contains_key(&point.id));
        if exists || state.labels.contains_key(&label) {
            return Ok(false);
        }
        state.labels.insert(label, point.id.clone());
        state.points.entry(point.project_id.clone()).or_default().insert(point.id.clone(), point.clone());
        Ok(true)
    }

    async fn take_restore_point_slot(&self, project: &ProjectId, minute: &str, limit: u32) -> Result<bool, StoreError> {
        let mut state = self.state();
        let made = state.slots.entry((project.clone(), minute.to_string())).or_default();
        if *made >= limit {
            return Ok(false);
        }
        *made += 1;
        Ok(true)
    }

    async fn restore_point_label_taken(&self, project: &ProjectId, label: &str) -> Result<bool, StoreError> {
        Ok(self.state().labels.contains_key(&(project.clone(), label.to_string())))
    }

    async fn get_restore_point(
        &self,
        project: &ProjectId,
        id: &RestorePointId,
    ) -> Result<Option<RestorePoint>, StoreError> {
        Ok(self.state().points.get(project).and_then(|p| p.get(id)).cloned())
    }

    async fn list_restore_points(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<RestorePoint>, StoreError> {
        page_of(project.as_str(), self.state().points.get(project), limit, cursor)
    }

    async fn delete_restore_point(&self, point: &RestorePoint) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(points) = state.points.get_mut(&point.project_id) {
            points.remove(&point.id);
        }
        state.labels.remove(&(point.project_id.clone(), point.label.clone()));
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(&self, ep: &WebhookEndpoint) -> Result<(), StoreError> {
        let mut state = self.state();
        let endpoints = state.webhooks.entry(ep.org_id.clone()).or_default();
        if endpoints.contains_key(&ep.id) {
            return Err(StoreError::ConditionFailed);
        }
        endpoints.insert(ep.id.clone(), ep.clone());
        Ok(())
    }

    async fn update_webhook(&self, ep: &WebhookEndpoint) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.webhooks.get_mut(&ep.org_id).and_then(|e| e.get_mut(&ep.id)) {
            Some(stored) => {
                *stored = ep.clone();
                Ok(())
            }
            None => Err(StoreError::ConditionFailed),
        }
    }

    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<WebhookEndpoint>, StoreError> {
        Ok(self.state().webhooks.get(org).and_then(|e| e.get(id)).cloned())
    }

    async fn list_webhooks(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        page_of(org.as_str(), self.state().webhooks.get(org), limit, cursor)
    }

    async fn record_webhook_health(
        &self,
        org: &OrgId,
        id: &WebhookId,
        update: &HealthUpdate,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(ep) = state.webhooks.get_mut(org).and_then(|e| e.get_mut(id)) else { return Ok(false) };
        ep.health = update.health.clone();
        ep.failing_since = update.failing_since;
        ep.last_success_at = update.last_success_at;
        Ok(true)
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<(), StoreError> {
        if let Some(endpoints) = self.state().webhooks.get_mut(org) {
            endpoints.remove(id);
        }
        Ok(())
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn put_delivery(&self, d: &Delivery, expected: Option<u64>) -> Result<bool, StoreError> {
        let mut state = self.state();
        let deliveries = state.deliveries.entry(d.webhook_id.clone()).or_default();
        let current = deliveries.get(&d.id).map(|stored| stored.version);
        if current != expected {
            return Ok(false);
        }
        deliveries.insert(d.id.clone(), d.clone());
        Ok(true)
    }

    async fn get_delivery(&self, webhook: &WebhookId, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        Ok(self.state().deliveries.get(webhook).and_then(|d| d.get(id)).cloned())
    }

    async fn list_deliveries(
        &self,
        webhook: &WebhookId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Delivery>, StoreError> {
        page_of(webhook.as_str(), self.state().deliveries.get(webhook), limit, cursor)
    }

    async fn due_deliveries(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let state = self.state();
        Ok(due_of(state.deliveries.values().flat_map(|d| d.values()), Delivery::due_at, bucket, now))
    }
}

#[async_trait]
impl OrganizationStore for MemoryStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        self.state().organizations.insert(org.id.clone(), org.clone());
        Ok(())
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        Ok(self.state().organizations.get(id).cloned())
    }
}

#[async_trait]
impl ProjectStore for MemoryStore {
    async fn create_project(
        &self,
        project: &Project,
        job: &Job,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let allowed = !state.projects.contains_key(&project.id)
            && !state.jobs.contains_key(&job.id)
            && state.idempotency_free(idempotency);
        if !allowed {
            return Err(state.refusal(idempotency));
        }
        state.projects.insert(project.id.clone(), project.clone());
        state.insert_job(job);
        state.record_idempotency(idempotency);
        Ok(())
    }

    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        Ok(self.state().projects.get(id).cloned())
    }

    async fn due_projects(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Project>, StoreError> {
        Ok(due_of(self.state().projects.values(), |p| p.next_nightly_at, bucket, now))
    }

    async fn reprovision_project(&self, project: &Project, job: &Job, seen: &Project) -> Result<bool, StoreError> {
        let mut state = self.state();
        let unchanged = state.projects.get(&project.id).is_some_and(|p| p.updated_at == seen.updated_at);
        if !unchanged || state.jobs.contains_key(&job.id) {
            return Ok(false);
        }
        state.projects.insert(project.id.clone(), project.clone());
        state.insert_job(job);
        Ok(true)
    }

    async fn update_project(&self, project: &Project) -> Result<(), StoreError> {
        match self.state().projects.get_mut(&project.id) {
            Some(stored) => {
                *stored = project.clone();
                Ok(())
            }
            None => Err(StoreError::ConditionFailed),
        }
    }

    async fn list_projects(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Project>, StoreError> {
        let state = self.state();
        page_of(org.as_str(), Some(&only(&state.projects, |p| &p.org_id == org)), limit, cursor)
    }
}

#[async_trait]
impl BackupStore for MemoryStore {
    async fn create_backup(
        &self,
        backup: &Backup,
        job: &Job,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let allowed =
            !state.backup_exists(backup) && !state.jobs.contains_key(&job.id) && state.idempotency_free(idempotency);
        if !allowed {
            return Err(state.refusal(idempotency));
        }
        state.insert_backup(backup);
        state.insert_job(job);
        state.record_idempotency(idempotency);
        Ok(())
    }

    async fn get_backup(&self, project: &ProjectId, id: &BackupId) -> Result<Option<Backup>, StoreError> {
        Ok(self.state().backups.get(project).and_then(|m| m.get(id)).cloned())
    }

    async fn update_backup(&self, backup: &Backup) -> Result<(), StoreError> {
        let mut state = self.state();
        if !state.backup_exists(backup) {
            return Err(StoreError::ConditionFailed);
        }
        state.insert_backup(backup);
        Ok(())
    }

    async fn list_backups(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Backup>, StoreError> {
        page_of(project.as_str(), self.state().backups.get(project), limit, cursor)
    }

    async fn due_backups(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Backup>, StoreError> {
        let state = self.state();
        Ok(due_of(
            state.backups.values().flat_map(|m| m.values()),
            |b| b.retention_check_at.or(b.expires_at),
            bucket,
            now,
        ))
    }

    async fn delete_backup(&self, backup: &Backup) -> Result<(), StoreError> {
        if let Some(m) = self.state().backups.get_mut(&backup.project_id) {
            m.remove(&backup.id);
        }
        Ok(())
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.state().jobs.get(id).cloned())
    }

    async fn list_jobs(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Job>, StoreError> {
        let state = self.state();
        page_of(project.as_str(), Some(&only(&state.jobs, |j| &j.project_id == project)), limit, cursor)
    }

    async fn update_job(&self, job: &Job, condition: &JobCondition) -> Result<bool, StoreError> {
        Ok(self.state().write_job_with(job, condition, &[], &[]))
    }

    async fn transition_job(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
        events: &[Event],
    ) -> Result<bool, StoreError> {
        Ok(self.state().write_job_with(job, condition, records, events))
    }

    async fn record_progress(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        if !state.holds(&job.id, condition) || !records.iter().all(|r| state.record_allowed(r)) {
            return Ok(false);
        }
        records.iter().for_each(|r| state.apply_record(r));
        Ok(true)
    }

    async fn record_progress_uncancelled(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state.cancels.contains_key(&job.id)
            || !state.holds(&job.id, condition)
            || !records.iter().all(|r| state.record_allowed(r))
        {
            return Ok(false);
        }
        records.iter().for_each(|r| state.apply_record(r));
        Ok(true)
    }

    async fn request_cancel(
        &self,
        request: &CancelRequest,
        staging: Option<(&ProjectId, &RestoreId)>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let running = state.jobs.get(&request.job_id).is_some_and(|j| j.state == JobState::Running);
        let still_staging = staging.is_none_or(|(project, restore)| {
            state.restores.get(project).and_then(|m| m.get(restore)).is_none_or(|r| r.step == RestoreStep::Staging)
        });
        if !running || !still_staging || state.cancels.contains_key(&request.job_id) {
            return Ok(false);
        }
        state.cancels.insert(request.job_id.clone(), request.clone());
        Ok(true)
    }

    async fn cancel_request(&self, job: &JobId) -> Result<Option<CancelRequest>, StoreError> {
        Ok(self.state().cancels.get(job).cloned())
    }

    async fn due_jobs(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
        Ok(due_of(self.state().jobs.values(), due_at, bucket, now))
    }
}

#[async_trait]
impl RestoreStore for MemoryStore {
    async fn create_restore(
        &self,
        restore: &Restore,
        job: &Job,
        new_preview: Option<&PreviewDatabase>,
        lock_project: bool,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Result<(), RestoreConflict>, StoreError> {
        let mut state = self.state();
        let existing_preview = match (restore.target_kind, &restore.preview_id) {
            (TargetKind::Preview, Some(id)) => Some(id),
            _ => None,
        };
        let project = &restore.project_id;
        let lifecycle = state.locks.get(&(project.clone(), LIFECYCLE_LOCK)).cloned();
        let pitr = state.locks.get(&(project.clone(), PITR_LOCK)).cloned();
        let preview_free = new_preview.is_none_or(|p| {
            !state.previews.contains_key(&p.id)
                && !state.preview_names.contains_key(&(p.project_id.clone(), p.name.clone()))
        });
        let target_ready =
            existing_preview.is_none_or(|id| state.previews.get(id).is_some_and(|p| p.state == PreviewState::Ready));
        let allowed = !state.restore_exists(restore)
            && !state.jobs.contains_key(&job.id)
            && preview_free
            && target_ready
            && !(lock_project && lifecycle.is_some())
            && !(restore.pitr.is_some() && pitr.is_some())
            && state.idempotency_free(idempotency);
        if !allowed {
            if !state.idempotency_free(idempotency) {
                return Err(StoreError::IdempotencyKeyTaken);
            }
            // The same diagnosis as the repository's, in the same order.
            return Ok(Err(match (lifecycle, pitr) {
                (Some(lock), _) if lock_project => RestoreConflict::Locked(lock.job_id),
                (_, Some(lock)) if restore.pitr.is_some() => RestoreConflict::PitrRunning(lock.job_id),
                _ if existing_preview.is_some() => RestoreConflict::PreviewNotReady,
                _ => RestoreConflict::PreviewNameTaken,
            }));
        }
        state.restores.entry(project.clone()).or_default().insert(restore.id.clone(), restore.clone());
        state.insert_job(job);
        if let Some(p) = new_preview {
            state.previews.insert(p.id.clone(), p.clone());
            state.preview_names.insert((p.project_id.clone(), p.name.clone()), p.id.clone());
        }
        if let Some(p) = existing_preview.and_then(|id| state.previews.get_mut(id)) {
            p.state = PreviewState::Restoring;
            p.updated_at = restore.created_at;
        }
        for (take, lock) in [(lock_project, LIFECYCLE_LOCK), (restore.pitr.is_some(), PITR_LOCK)] {
            if take {
                state.locks.insert((project.clone(), lock), LifecycleLock { job_id: job.id.clone() });
            }
        }
        state.record_idempotency(idempotency);
        Ok(Ok(()))
    }

    async fn lifecycle_lock(&self, project: &ProjectId) -> Result<Option<LifecycleLock>, StoreError> {
        Ok(self.state().locks.get(&(project.clone(), LIFECYCLE_LOCK)).cloned())
    }

    async fn pitr_lock(&self, project: &ProjectId) -> Result<Option<LifecycleLock>, StoreError> {
        Ok(self.state().locks.get(&(project.clone(), PITR_LOCK)).cloned())
    }

    async fn get_restore(&self, project: &ProjectId, id: &RestoreId) -> Result<Option<Restore>, StoreError> {
        Ok(self.state().restores.get(project).and_then(|m| m.get(id)).cloned())
    }

    async fn list_restores(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Restore>, StoreError> {
        page_of(project.as_str(), self.state().restores.get(project), limit, cursor)
    }
}

#[async_trait]
impl PreviewStore for MemoryStore {
    async fn get_preview(&self, id: &PreviewId) -> Result<Option<PreviewDatabase>, StoreError> {
        Ok(self.state().previews.get(id).cloned())
    }

    async fn preview_named(&self, project: &ProjectId, name: &str) -> Result<Option<PreviewDatabase>, StoreError> {
        let state = self.state();
        Ok(state.preview_names.get(&(project.clone(), name.to_string())).and_then(|id| state.previews.get(id)).cloned())
    }

    async fn list_previews(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PreviewDatabase>, StoreError> {
        let state = self.state();
        page_of(project.as_str(), Some(&only(&state.previews, |p| &p.project_id == project)), limit, cursor)
    }

    async fn update_preview(&self, p: &PreviewDatabase) -> Result<(), StoreError> {
        match self.state().previews.get_mut(&p.id) {
            Some(stored) => {
                *stored = p.clone();
                Ok(())
            }
            None => Err(StoreError::ConditionFailed),
        }
    }

    async fn extend_preview(
        &self,
        id: &PreviewId,
        ttl_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<PreviewDatabase>, StoreError> {
        let mut state = self.state();
        match state.previews.get_mut(id) {
            Some(p) if p.state == PreviewState::Ready => {
                p.ttl_expires_at = ttl_expires_at;
                p.updated_at = now;
                Ok(Some(p.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn delete_preview(&self, p: &PreviewDatabase, event: &Event) -> Result<(), StoreError> {
        let mut state = self.state();
        if !state.event_free(&[event]) {
            return Err(StoreError::ConditionFailed);
        }
        state.previews.remove(&p.id);
        state.preview_names.remove(&(p.project_id.clone(), p.name.clone()));
        state.events.push(event.clone());
        Ok(())
    }

    async fn due_previews(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<PreviewDatabase>, StoreError> {
        Ok(due_of(self.state().previews.values(), |p| Some(p.ttl_expires_at), bucket, now))
    }
}

#[async_trait]
impl ScheduleStore for MemoryStore {
    async fn get_schedule(&self, project: &ProjectId, id: &str) -> Result<Option<BackupSchedule>, StoreError> {
        Ok(self.state().schedules.get(&(project.clone(), id.to_string())).cloned())
    }

    async fn put_schedule(&self, schedule: &BackupSchedule) -> Result<(), StoreError> {
        self.state().schedules.insert((schedule.project_id.clone(), schedule.id.clone()), schedule.clone());
        Ok(())
    }

    async fn record_schedule_check(&self, schedule: &BackupSchedule, event: Option<&Event>) -> Result<(), StoreError> {
        let mut state = self.state();
        let events: Vec<&Event> = event.into_iter().collect();
        if !state.event_free(&events) {
            return Err(StoreError::ConditionFailed);
        }
        state.schedules.insert((schedule.project_id.clone(), schedule.id.clone()), schedule.clone());
        state.events.extend(events.into_iter().cloned());
        Ok(())
    }

    async fn due_schedules(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<BackupSchedule>, StoreError> {
        Ok(due_of(self.state().schedules.values(), |s| s.check_at, bucket, now))
    }

    async fn delete_schedule(&self, project: &ProjectId, id: &str) -> Result<(), StoreError> {
        self.state().schedules.remove(&(project.clone(), id.to_string()));
        Ok(())
    }

    async fn scheduled_run(
        &self,
        project: &ProjectId,
        kind: RunKind,
        day: NaiveDate,
    ) -> Result<Option<JobId>, StoreError> {
        Ok(self.state().runs.get(&(project.clone(), kind, day)).cloned())
    }

    async fn create_scheduled_backup(
        &self,
        backup: &Backup,
        job: &Job,
        kind: RunKind,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let claim = (backup.project_id.clone(), kind, day);
        if state.backup_exists(backup) || state.jobs.contains_key(&job.id) || state.runs.contains_key(&claim) {
            return Ok(false);
        }
        state.insert_backup(backup);
        state.insert_job(job);
        state.runs.insert(claim, job.id.clone());
        Ok(true)
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_api_key(
        &self,
        key: &ApiKey,
        hash: &str,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let listed = state.org_keys.get(&key.org_id).is_some_and(|m| m.contains_key(&key.id));
        if state.keys_by_hash.contains_key(hash) || listed || !state.idempotency_free(idempotency) {
            return Err(state.refusal(idempotency));
        }
        state.keys_by_hash.insert(hash.to_string(), key.clone());
        state.org_keys.entry(key.org_id.clone()).or_default().insert(key.id.clone(), (key.clone(), hash.to_string()));
        state.record_idempotency(idempotency);
        Ok(())
    }

    async fn get_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.state().keys_by_hash.get(hash).cloned())
    }

    async fn list_api_keys(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ApiKey>, StoreError> {
        let state = self.state();
        let keys: Option<BTreeMap<ApiKeyId, ApiKey>> =
            state.org_keys.get(org).map(|m| m.iter().map(|(id, (k, _))| (id.clone(), k.clone())).collect());
        page_of(org.as_str(), keys.as_ref(), limit, cursor)
    }

    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.state().org_keys.get(org).and_then(|m| m.get(id)).map(|(k, _)| k.clone()))
    }

    async fn touch_api_key(&self, key: &ApiKey, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(k) = state.keys_by_hash.get_mut(hash) {
            k.last_used_at = Some(now);
        }
        if let Some((k, _)) = state.org_keys.get_mut(&key.org_id).and_then(|m| m.get_mut(&key.id)) {
            k.last_used_at = Some(now);
        }
        Ok(())
    }

    async fn revoke_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        let mut state = self.state();
        let Some((key, hash)) = state.org_keys.get(org).and_then(|m| m.get(id)).cloned() else { return Ok(None) };
        if key.revoked_at.is_some() {
            return Ok(Some(key));
        }
        if !state.keys_by_hash.contains_key(&hash) {
            return Err(StoreError::ConditionFailed);
        }
        if let Some(k) = state.keys_by_hash.get_mut(&hash) {
            k.revoked_at = Some(now);
        }
        let revoked = state.org_keys.get_mut(org).and_then(|m| m.get_mut(id)).map(|(k, _)| {
            k.revoked_at = Some(now);
            k.clone()
        });
        Ok(revoked)
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn get_idempotency(&self, scope: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.state().idempotency.get(scope).cloned())
    }

    async fn reserve_response(
        &self,
        scope: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), StoredResponse>, StoreError> {
        let mut state = self.state();
        if let Some(existing) = state.responses.get(scope) {
            return Ok(Err(existing.clone()));
        }
        let record = StoredResponse {
            scope: scope.to_string(),
            request_hash: request_hash.to_string(),
            status: None,
            body_enc: None,
            created_at: now,
            expires_at_epoch: (now + Duration::hours(24)).timestamp(),
        };
        state.responses.insert(scope.to_string(), record);
        Ok(Ok(()))
    }

    async fn complete_response(&self, mut record: StoredResponse) -> Result<(), StoreError> {
        record.expires_at_epoch = (record.created_at + Duration::hours(24)).timestamp();
        self.state().responses.insert(record.scope.clone(), record);
        Ok(())
    }

    async fn release_response(&self, scope: &str) -> Result<(), StoreError> {
        self.state().responses.remove(scope);
        Ok(())
    }
}

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn put_integration(&self, i: &Integration, expected: Option<u64>) -> Result<bool, StoreError> {
        let mut state = self.state();
        let key = (i.project_id.clone(), i.provider);
        if state.integrations.get(&key).map(|stored| stored.version) != expected {
            return Ok(false);
        }
        state.integrations.insert(key, i.clone());
        Ok(true)
    }

    async fn get_integration(
        &self,
        project: &ProjectId,
        provider: Provider,
    ) -> Result<Option<Integration>, StoreError> {
        Ok(self.state().integrations.get(&(project.clone(), provider)).cloned())
    }

    async fn list_integrations(&self, project: &ProjectId) -> Result<Vec<Integration>, StoreError> {
        let state = self.state();
        let mut found: Vec<Integration> =
            state.integrations.values().filter(|i| &i.project_id == project).cloned().collect();
        // The repository lists by sort key, newest (greatest) first.
        found.sort_by(|a, b| b.provider.as_str().cmp(a.provider.as_str()));
        Ok(found)
    }

    async fn delete_integration(&self, project: &ProjectId, provider: Provider) -> Result<(), StoreError> {
        match self.state().integrations.remove(&(project.clone(), provider)) {
            Some(_) => Ok(()),
            None => Err(StoreError::ConditionFailed),
        }
    }

    async fn due_integrations(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Integration>, StoreError> {
        Ok(due_of(self.state().integrations.values(), |i| i.next_sync_at, bucket, now))
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn put_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut state = self.state();
        if !state.event_free(&[event]) {
            return Err(StoreError::ConditionFailed);
        }
        state.events.push(event.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per port's contract, each on a store of its own.
    macro_rules! meets {
        ($($test:ident => $suite:ident),* $(,)?) => {
            $(
                #[tokio::test]
                async fn $test() {
                    crate::store_conformance::$suite(&MemoryStore::new()).await;
                }
            )*
        };
    }

    meets! {
        the_memory_store_meets_the_restore_point_contract => restore_points,
        the_memory_store_meets_the_delivery_contract => deliveries,
        the_memory_store_meets_the_webhook_contract => webhooks,
        the_memory_store_meets_the_project_contract => projects,
        the_memory_store_meets_the_backup_contract => backups,
        the_memory_store_meets_the_job_contract => jobs,
        the_memory_store_meets_the_restore_and_preview_contract => restores,
        the_memory_store_meets_the_schedule_contract => schedules,
        the_memory_store_meets_the_api_key_and_response_contract => api_keys_and_responses,
        the_memory_store_meets_the_integration_contract => integrations,
    }
}
