//! What every implementation of a store port must answer, one suite per port: the unit tests run it
//! against the in-memory store, the integration suite against DynamoDB (moto), so the two cannot
//! drift. Each check uses projects of its own, so it runs beside other tests on a shared table.

use crate::domain::api_keys::ApiKey;
use crate::domain::backups::{Backup, BackupKind};
use crate::domain::deliveries::{Delivery, DeliveryState, HealthUpdate};
use crate::domain::events::Event;
use crate::domain::integrations::{Integration, Provider, SyncState, Target as IntegrationTarget};
use crate::domain::jobs::{due_bucket, Job, JobState, JobType};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::{PreviewDatabase, PreviewState};
use crate::domain::projects::{Project, ProjectState};
use crate::domain::restore_points::{RestorePoint, RestorePointKind, RestorePointState};
use crate::domain::restores::{PitrSource, Restore, RestoreState, RestoreStep, TargetKind};
use crate::domain::schedules::BackupSchedule;
use crate::domain::scopes::Scope;
use crate::domain::wal::RecoveryTarget;
use crate::domain::webhooks::{Health, WebhookEndpoint};
use crate::ids::{
    ApiKeyId, BackupId, DeliveryId, EventId, OrgId, PreviewId, ProjectId, RestoreId, RestorePointId, WebhookId,
};
use crate::store::PreviewStore;
use crate::store::{
    ApiKeyStore, BackupStore, CancelRequest, DeliveryStore, IdempotencyRecord, IdempotencyStore, IntegrationStore,
    JobCondition, JobStore, ProjectStore, RecordWrite, RestoreConflict, RestorePointStore, RestoreStore, RunKind,
    ScheduleStore, StoreError, StoredResponse, WebhookStore, LIFECYCLE_LOCK,
};
use chrono::NaiveDate;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::collections::BTreeMap;

/// A restore point of `project` pinning a fresh backup id, for tests of stores and of rules.
pub fn restore_point(project: &ProjectId, label: &str) -> RestorePoint {
    RestorePoint {
        id: RestorePointId::generate(),
        project_id: project.clone(),
        org_id: OrgId::generate(),
        label: label.into(),
        kind: RestorePointKind::Backup,
        backup_id: Some(BackupId::generate()),
        backup_key: Some("projects/p/backups/b.dump.zst".into()),
        pitr_time: None,
        pitr_name: None,
        pitr_lsn: None,
        note: None,
        state: RestorePointState::Active,
        created_at: chrono::Utc::now(),
    }
}

/// Labels are unique per project and freed by a delete; pages are newest first and whole;
/// cursors of other lists are refused; the per-minute allowance counts to its limit.
pub async fn restore_points(store: &dyn RestorePointStore) {
    let (project, other) = (ProjectId::generate(), ProjectId::generate());

    let first = restore_point(&project, "before-migration");
    assert!(store.create_restore_point(&first).await.unwrap(), "a new label is taken");
    assert!(store.restore_point_label_taken(&project, "before-migration").await.unwrap());
    let again = restore_point(&project, "before-migration");
    assert!(!store.create_restore_point(&again).await.unwrap(), "a label is unique in its project");
    assert_eq!(store.get_restore_point(&project, &again.id).await.unwrap(), None, "the refused point is not written");
    assert!(
        store.create_restore_point(&restore_point(&other, "before-migration")).await.unwrap(),
        "labels are per project"
    );
    assert_eq!(store.get_restore_point(&project, &first.id).await.unwrap().as_ref(), Some(&first));
    assert_eq!(store.get_restore_point(&other, &first.id).await.unwrap(), None, "read under its own project only");

    let mut made = vec![first.clone()];
    for n in 0..6 {
        let p = restore_point(&project, &format!("point-{n}"));
        assert!(store.create_restore_point(&p).await.unwrap());
        made.push(p);
    }
    made.sort_by(|a, b| b.id.cmp(&a.id));
    let (mut listed, mut cursor, mut pages) = (Vec::new(), None::<Cursor>, 0);
    loop {
        let page = store.list_restore_points(&project, 3, cursor.as_ref()).await.unwrap();
        assert!(page.items.len() <= 3, "a page holds at most its limit");
        listed.extend(page.items.into_iter().map(|p| p.id));
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(listed, made.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), "every point once, newest first");

    let first_page = store.list_restore_points(&project, 3, None).await.unwrap();
    let theirs = first_page.next_cursor.expect("seven points fill more than a page of three");
    let refused = store.list_restore_points(&other, 3, Some(&theirs)).await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor)), "another project's cursor: {refused:?}");
    let forged = Cursor(BTreeMap::from([("sk".to_string(), "RPOINT#rp_x".to_string())]));
    let refused = store.list_restore_points(&project, 3, Some(&forged)).await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor)), "a forged cursor: {refused:?}");

    store.delete_restore_point(&first).await.unwrap();
    assert_eq!(store.get_restore_point(&project, &first.id).await.unwrap(), None);
    assert!(!store.restore_point_label_taken(&project, "before-migration").await.unwrap(), "a delete frees the label");
    assert!(store.create_restore_point(&restore_point(&project, "before-migration")).await.unwrap());

    let minute = "202612031000";
    for n in 0..2 {
        assert!(store.take_restore_point_slot(&project, minute, 2).await.unwrap(), "slot {n} of 2");
    }
    assert!(!store.take_restore_point_slot(&project, minute, 2).await.unwrap(), "the third in a minute is refused");
    assert!(store.take_restore_point_slot(&project, "202612031001", 2).await.unwrap(), "a new minute");
    assert!(store.take_restore_point_slot(&other, minute, 2).await.unwrap(), "per project");
}

fn endpoint(org: &OrgId, url: &str) -> WebhookEndpoint {
    let now = chrono::Utc::now();
    WebhookEndpoint {
        id: WebhookId::generate(),
        org_id: org.clone(),
        url: url.into(),
        description: None,
        event_types: Vec::new(),
        is_active: true,
        secret_enc: "sealed".into(),
        health: Health::Healthy,
        failing_since: None,
        last_success_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// An endpoint is created once, updated only while it exists, read and listed under its own
/// organisation; a health update leaves the rest of the endpoint as it is and says when the
/// endpoint is gone.
pub async fn webhooks(store: &dyn WebhookStore) {
    let (org, other) = (OrgId::generate(), OrgId::generate());
    let mut ep = endpoint(&org, "https://hooks.example.com/a");
    store.create_webhook(&ep).await.unwrap();
    assert!(matches!(store.create_webhook(&ep).await, Err(StoreError::ConditionFailed)), "created once");
    assert_eq!(store.get_webhook(&org, &ep.id).await.unwrap().as_ref(), Some(&ep));
    assert_eq!(store.get_webhook(&other, &ep.id).await.unwrap(), None, "read under its own organisation only");

    ep.description = Some("billing".into());
    ep.is_active = false;
    store.update_webhook(&ep).await.unwrap();
    let failing = HealthUpdate { health: Health::Failing, failing_since: Some(ep.created_at), last_success_at: None };
    assert!(store.record_webhook_health(&org, &ep.id, &failing).await.unwrap());
    let stored = store.get_webhook(&org, &ep.id).await.unwrap().unwrap();
    assert_eq!((stored.health, stored.failing_since), (Health::Failing, Some(ep.created_at)));
    assert_eq!(
        (stored.description.as_deref(), stored.is_active, stored.url.as_str()),
        (Some("billing"), false, "https://hooks.example.com/a"),
        "a health update keeps the endpoint's own fields"
    );

    let mut made = vec![ep.id.clone()];
    for n in 0..4 {
        let e = endpoint(&org, &format!("https://hooks.example.com/{n}"));
        store.create_webhook(&e).await.unwrap();
        made.push(e.id);
    }
    store.create_webhook(&endpoint(&other, "https://other.example.com/")).await.unwrap();
    made.sort_by(|a, b| b.cmp(a));
    let (mut listed, mut cursor, mut pages) = (Vec::new(), None::<Cursor>, 0);
    loop {
        let page = store.list_webhooks(&org, 2, cursor.as_ref()).await.unwrap();
        assert!(page.items.len() <= 2);
        assert!(page.items.iter().all(|e| e.org_id == org), "only the organisation's endpoints");
        listed.extend(page.items.into_iter().map(|e| e.id));
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(listed, made, "every endpoint once, newest first");
    let theirs = store.list_webhooks(&org, 2, None).await.unwrap().next_cursor.expect("five fill more than a page");
    let refused = store.list_webhooks(&other, 2, Some(&theirs)).await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor)), "another organisation's cursor: {refused:?}");

    store.delete_webhook(&org, &ep.id).await.unwrap();
    assert_eq!(store.get_webhook(&org, &ep.id).await.unwrap(), None);
    store.delete_webhook(&org, &ep.id).await.unwrap();
    assert!(matches!(store.update_webhook(&ep).await, Err(StoreError::ConditionFailed)), "no update of a deleted one");
    assert!(!store.record_webhook_health(&org, &ep.id, &failing).await.unwrap(), "no health for a deleted one");
    assert_eq!(store.get_webhook(&org, &ep.id).await.unwrap(), None, "nor brought back by it");
}

fn delivery(webhook: &WebhookId, next_attempt_at: Option<DateTime<Utc>>) -> Delivery {
    let now = Utc::now().trunc_subsecs(3);
    Delivery {
        id: DeliveryId::generate(),
        webhook_id: webhook.clone(),
        org_id: OrgId::generate(),
        event_id: EventId::generate(),
        event_type: "backup.completed".into(),
        payload: "{}".into(),
        state: DeliveryState::Pending,
        attempts: Vec::new(),
        next_attempt_at,
        attempt_lease_until: None,
        retries: true,
        redelivery_of: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        version: 1,
        expires_at_epoch: None,
    }
}

/// A delivery is written once, then only by the writer that read its current version; it is
/// listed newest first under its endpoint, and found by the due index exactly while its next
/// attempt is due.
pub async fn deliveries(store: &dyn DeliveryStore) {
    let (webhook, other) = (WebhookId::generate(), WebhookId::generate());
    // A moment early in an hour that has passed, so "due" and "not yet" fall in one bucket.
    let hour = (Utc::now() - Duration::hours(2)).trunc_subsecs(0);
    let hour = hour - Duration::minutes(i64::from(chrono::Timelike::minute(&hour))) + Duration::minutes(1);
    let (soon, later) = (hour + Duration::minutes(5), hour + Duration::minutes(40));

    let mut d = delivery(&webhook, Some(soon));
    assert!(store.put_delivery(&d, None).await.unwrap(), "a new delivery is written");
    assert!(!store.put_delivery(&d, None).await.unwrap(), "and only once");
    assert_eq!(store.get_delivery(&webhook, &d.id).await.unwrap().as_ref(), Some(&d));
    assert_eq!(store.get_delivery(&other, &d.id).await.unwrap(), None, "read under its own endpoint only");

    let read = d.version;
    d.version = read + 1;
    d.payload = "{\"attempt\":1}".into();
    assert!(store.put_delivery(&d, Some(read)).await.unwrap(), "the writer that read the current version");
    let mut stale = d.clone();
    stale.version = read + 1;
    stale.payload = "{\"lost\":true}".into();
    assert!(!store.put_delivery(&stale, Some(read)).await.unwrap(), "a writer that read an older version");
    assert_eq!(
        store.get_delivery(&webhook, &d.id).await.unwrap().as_ref(),
        Some(&d),
        "the stale write changed nothing"
    );

    let waiting = delivery(&webhook, Some(later));
    let done = Delivery { state: DeliveryState::Delivered, next_attempt_at: None, ..delivery(&webhook, None) };
    for x in [&waiting, &done] {
        assert!(store.put_delivery(x, None).await.unwrap());
    }
    let ours = |found: Vec<Delivery>| -> Vec<DeliveryId> {
        found.into_iter().filter(|f| f.webhook_id == webhook).map(|f| f.id).collect()
    };
    let bucket = due_bucket(soon);
    assert_eq!(ours(store.due_deliveries(&bucket, soon).await.unwrap()), vec![d.id.clone()], "due at its moment");
    assert!(ours(store.due_deliveries(&bucket, soon - Duration::seconds(1)).await.unwrap()).is_empty(), "not before");
    assert_eq!(
        ours(store.due_deliveries(&bucket, later).await.unwrap()),
        vec![d.id.clone(), waiting.id.clone()],
        "earliest first; a finished delivery is never due"
    );
    let next_hour = due_bucket(hour + Duration::hours(1));
    assert!(ours(store.due_deliveries(&next_hour, later).await.unwrap()).is_empty(), "only its own hour's bucket");

    let mut made = vec![d.id.clone(), waiting.id.clone(), done.id.clone()];
    made.sort_by(|a, b| b.cmp(a));
    let first = store.list_deliveries(&webhook, 2, None).await.unwrap();
    let cursor = first.next_cursor.clone().expect("three fill more than a page of two");
    let second = store.list_deliveries(&webhook, 2, Some(&cursor)).await.unwrap();
    let listed: Vec<DeliveryId> = first.items.into_iter().chain(second.items).map(|x| x.id).collect();
    assert_eq!(listed, made, "newest first, each once");
    let refused = store.list_deliveries(&other, 2, Some(&cursor)).await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor)), "another endpoint's cursor: {refused:?}");
}

/// A moment both stores keep exactly (DynamoDB holds what it is given; whole milliseconds keep
/// comparisons plain).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A ready project of `org`, for tests of stores and of rules.
pub fn project(org: &OrgId) -> Project {
    let at = now();
    let id = ProjectId::generate();
    Project {
        database_name: format!("db_{}", id.as_str().replace('-', "_")),
        db_username: format!("u_{}", id.as_str()),
        id,
        org_id: org.clone(),
        name: "shop".into(),
        region: "local-1".into(),
        state: ProjectState::Ready,
        db_password_enc: "sealed".into(),
        error: None,
        next_nightly_at: None,
        created_at: at,
        updated_at: at,
    }
}

/// A pending backup of `project` and the job that takes it.
pub fn backup_with_job(project: &Project) -> (Backup, Job) {
    let at = now();
    let mut job = Job::new(JobType::Backup, project.org_id.clone(), project.id.clone(), 3, at);
    let backup = Backup::new(
        BackupId::generate(),
        project.id.clone(),
        project.org_id.clone(),
        job.id.clone(),
        Some("nightly".into()),
        BackupKind::OnDemand,
        project.database_name.clone(),
        at,
    );
    job.backup_id = Some(backup.id.clone());
    (backup, job)
}

/// A preview of `project` called `name`, ready.
pub fn preview(project: &Project, name: &str) -> PreviewDatabase {
    let at = now();
    PreviewDatabase {
        id: PreviewId::generate(),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        name: name.into(),
        database_name: format!("preview_{name}"),
        db_username: format!("preview_{name}"),
        db_password_enc: "sealed".into(),
        state: PreviewState::Ready,
        ttl_expires_at: at + Duration::hours(24),
        source_kind: Some("backup".into()),
        source_backup_key: None,
        source_restore_time: None,
        error: None,
        created_at: at,
        updated_at: at,
    }
}

/// A restore of `project` from `backup` into `target` (a preview's id for the preview kinds),
/// with its job.
pub fn restore_with_job(
    project: &Project,
    backup: &Backup,
    target: TargetKind,
    preview: Option<&PreviewId>,
) -> (Restore, Job) {
    let at = now();
    let mut job = Job::new(JobType::Restore, project.org_id.clone(), project.id.clone(), 3, at);
    let restore = Restore {
        id: RestoreId::generate(),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        job_id: job.id.clone(),
        source_kind: "backup".into(),
        source_backup_id: Some(backup.id.clone()),
        source_backup_key: backup.backup_key.clone(),
        pitr: None,
        source_restore_point_id: None,
        target_kind: target,
        preview_id: preview.cloned(),
        allow_unverified_backup: false,
        state: RestoreState::Pending,
        error: None,
        safety_backup_id: None,
        step: RestoreStep::Staging,
        created_at: at,
        started_at: None,
        completed_at: None,
        updated_at: at,
    };
    job.restore_id = Some(restore.id.clone());
    job.preview_database_id = preview.map(|p| p.to_string());
    (restore, job)
}

/// `job` claimed by `worker` at `at` for `lease`.
fn claimed(job: &Job, worker: &str, at: DateTime<Utc>, lease: Duration) -> Job {
    let mut next = job.clone();
    next.state = JobState::Running;
    next.attempts += 1;
    next.claimed_by = Some(worker.into());
    next.claimed_at = Some(at);
    next.lease_until = Some(at + lease);
    next.updated_at = at;
    next
}

/// Every id of a list, newest first, paging through it `per_page` at a time.
async fn all_ids<T, F, Fut>(per_page: u32, mut page: F, id: impl Fn(&T) -> String) -> Vec<String>
where
    F: FnMut(u32, Option<Cursor>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let (mut ids, mut cursor) = (Vec::new(), None);
    for _ in 0..20 {
        let p = page(per_page, cursor.take()).await.unwrap();
        assert!(p.items.len() <= per_page as usize, "a page holds at most its limit");
        ids.extend(p.items.iter().map(&id));
        match p.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
    panic!("paging did not end");
}

fn newest_first(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.reverse();
    ids
}

/// A project is written with its job or not at all, once per idempotency key; it is reprovisioned
/// only from the state the caller saw, updated only while it exists, listed under its own
/// organisation and due at its nightly dump.
pub async fn projects<S: ProjectStore + JobStore + IdempotencyStore + ?Sized>(store: &S) {
    let (org, other) = (OrgId::generate(), OrgId::generate());
    let p = project(&org);
    let job = Job::new(JobType::ProvisionProject, org.clone(), p.id.clone(), 3, p.created_at);
    let key = IdempotencyRecord::new(format!("{org}#create-shop"), "hash".into(), "{}".into(), p.created_at);
    store.create_project(&p, &job, Some(&key)).await.unwrap();
    assert_eq!(store.get_project(&p.id).await.unwrap().as_ref(), Some(&p));
    assert_eq!(store.get_job(&job.id).await.unwrap().map(|j| j.state), Some(JobState::Pending), "with its job");
    assert_eq!(store.get_idempotency(&key.scope).await.unwrap().as_ref(), Some(&key), "and its key");

    let again = project(&org);
    let job2 = Job::new(JobType::ProvisionProject, org.clone(), again.id.clone(), 3, again.created_at);
    let refused = store.create_project(&again, &job2, Some(&key)).await;
    assert!(matches!(refused, Err(StoreError::IdempotencyKeyTaken)), "a key creates once: {refused:?}");
    assert_eq!(store.get_project(&again.id).await.unwrap(), None, "nothing of the refused request is written");
    assert_eq!(store.get_job(&job2.id).await.unwrap(), None);
    let refused = store.create_project(&p, &job2, None).await;
    assert!(matches!(refused, Err(StoreError::ConditionFailed)), "an id is created once: {refused:?}");
    assert_eq!(store.get_job(&job2.id).await.unwrap(), None, "the job of a refused project is not written");

    let mut moved = p.clone();
    moved.state = ProjectState::Provisioning;
    moved.updated_at = p.updated_at + Duration::seconds(1);
    let retry = Job::new(JobType::ProvisionProject, org.clone(), p.id.clone(), 3, moved.updated_at);
    let stale = Project { updated_at: p.updated_at - Duration::seconds(5), ..p.clone() };
    assert!(!store.reprovision_project(&moved, &retry, &stale).await.unwrap(), "only from the state the caller saw");
    assert_eq!(store.get_job(&retry.id).await.unwrap(), None);
    assert!(store.reprovision_project(&moved, &retry, &p).await.unwrap());
    assert_eq!(store.get_project(&p.id).await.unwrap().map(|x| x.state), Some(ProjectState::Provisioning));
    assert!(store.get_job(&retry.id).await.unwrap().is_some());

    let ghost = project(&org);
    assert!(
        matches!(store.update_project(&ghost).await, Err(StoreError::ConditionFailed)),
        "an update needs the project"
    );
    assert_eq!(store.get_project(&ghost.id).await.unwrap(), None, "and never creates it");

    let mut made = vec![p.id.to_string()];
    for _ in 0..4 {
        let q = project(&org);
        let j = Job::new(JobType::ProvisionProject, org.clone(), q.id.clone(), 3, q.created_at);
        store.create_project(&q, &j, None).await.unwrap();
        made.push(q.id.to_string());
    }
    let q = project(&other);
    store
        .create_project(&q, &Job::new(JobType::ProvisionProject, other.clone(), q.id.clone(), 3, q.created_at), None)
        .await
        .unwrap();
    let listed = all_ids(
        2,
        {
            let owner = &org;
            move |n, c| async move { store.list_projects(owner, n, c.as_ref()).await }
        },
        |p: &Project| p.id.to_string(),
    )
    .await;
    assert_eq!(listed, newest_first(made), "every project of the organisation once, newest first");

    let mut nightly = store.get_project(&p.id).await.unwrap().unwrap();
    let at = now() - Duration::minutes(1);
    nightly.next_nightly_at = Some(at);
    store.update_project(&nightly).await.unwrap();
    let due = store.due_projects(&due_bucket(at), now()).await.unwrap();
    assert!(due.iter().any(|d| d.id == p.id), "due at its nightly dump");
    let early = store.due_projects(&due_bucket(at), at - Duration::seconds(1)).await.unwrap();
    assert!(!early.iter().any(|d| d.id == p.id), "not before it");
}

/// A backup is written with its job, updated only while it exists, listed newest first under its
/// project, due at its retention check, and gone after a delete.
pub async fn backups<S: BackupStore + JobStore + ProjectStore + ?Sized>(store: &S) {
    let org = OrgId::generate();
    let (p, other) = (project(&org), project(&org));
    let (b, job) = backup_with_job(&p);
    store.create_backup(&b, &job, None).await.unwrap();
    assert_eq!(store.get_backup(&p.id, &b.id).await.unwrap().as_ref(), Some(&b));
    assert_eq!(store.get_backup(&other.id, &b.id).await.unwrap(), None, "read under its own project only");
    assert_eq!(store.get_job(&job.id).await.unwrap().and_then(|j| j.backup_id), Some(b.id.clone()));
    let (b2, _) = backup_with_job(&p);
    let refused = store.create_backup(&b2, &job, None).await;
    assert!(matches!(refused, Err(StoreError::ConditionFailed)), "a job is created once: {refused:?}");
    assert_eq!(store.get_backup(&p.id, &b2.id).await.unwrap(), None, "all or nothing");

    let mut made = vec![b.id.to_string()];
    for _ in 0..4 {
        let (x, j) = backup_with_job(&p);
        store.create_backup(&x, &j, None).await.unwrap();
        made.push(x.id.to_string());
    }
    let listed = all_ids(
        2,
        {
            let owner = &p.id;
            move |n, c| async move { store.list_backups(owner, n, c.as_ref()).await }
        },
        |b: &Backup| b.id.to_string(),
    )
    .await;
    assert_eq!(listed, newest_first(made));
    let theirs = store.list_backups(&p.id, 2, None).await.unwrap().next_cursor.unwrap();
    assert!(matches!(store.list_backups(&other.id, 2, Some(&theirs)).await, Err(StoreError::InvalidCursor)));

    let mut expiring = b.clone();
    let at = now() - Duration::minutes(2);
    expiring.expires_at = Some(at);
    store.update_backup(&expiring).await.unwrap();
    assert!(
        store.due_backups(&due_bucket(at), now()).await.unwrap().iter().any(|x| x.id == b.id),
        "due when it expires"
    );
    let recheck = now() + Duration::hours(1);
    expiring.retention_check_at = Some(recheck);
    store.update_backup(&expiring).await.unwrap();
    assert!(
        !store.due_backups(&due_bucket(at), now()).await.unwrap().iter().any(|x| x.id == b.id),
        "a retention check moves it in the index"
    );
    assert!(store.due_backups(&due_bucket(recheck), recheck).await.unwrap().iter().any(|x| x.id == b.id));

    store.delete_backup(&expiring).await.unwrap();
    assert_eq!(store.get_backup(&p.id, &b.id).await.unwrap(), None);
    assert!(matches!(store.update_backup(&expiring).await, Err(StoreError::ConditionFailed)), "never resurrected");
    assert_eq!(store.get_backup(&p.id, &b.id).await.unwrap(), None);
}

/// A job changes only from the state its caller decided from: one claim wins, only the owner
/// renews or finishes, the sweeper acts only on the lease it saw expire. A transition writes the
/// job with its records all or nothing; a cancellation is asked only of a running job, once, and
/// stops an uncancelled progress write.
pub async fn jobs<S: JobStore + BackupStore + ProjectStore + RestoreStore + ?Sized>(store: &S) {
    let org = OrgId::generate();
    let p = project(&org);
    let (b, job) = backup_with_job(&p);
    store.create_backup(&b, &job, None).await.unwrap();
    let pending = JobCondition::Pending { attempts: 0 };
    assert!(
        !store.due_jobs(&due_bucket(job.created_at), job.created_at).await.unwrap().iter().any(|j| j.id == job.id),
        "a new job waits out its pickup grace"
    );
    let pickup = job.created_at + crate::domain::jobs::pickup_grace();
    assert!(
        store.due_jobs(&due_bucket(pickup), pickup).await.unwrap().iter().any(|j| j.id == job.id),
        "then the sweeper sees it"
    );

    let at = now();
    let lease = Duration::minutes(5);
    let mine = claimed(&job, "worker-a", at, lease);
    let theirs = claimed(&job, "worker-b", at, lease);
    assert!(store.update_job(&mine, &pending).await.unwrap(), "the first claim wins");
    assert!(!store.update_job(&theirs, &pending).await.unwrap(), "the second loses");
    assert_eq!(store.get_job(&job.id).await.unwrap().and_then(|j| j.claimed_by).as_deref(), Some("worker-a"));

    let owner = JobCondition::OwnedBy { worker: "worker-a".into(), attempts: 1 };
    let impostor = JobCondition::OwnedBy { worker: "worker-b".into(), attempts: 1 };
    let mut renewed = mine.clone();
    renewed.lease_until = Some(at + lease + Duration::minutes(1));
    assert!(!store.update_job(&renewed, &impostor).await.unwrap(), "only the owner renews");
    assert!(store.update_job(&renewed, &owner).await.unwrap());
    let seen = JobCondition::LeaseExpired { attempts: 1, lease_until: at + lease };
    assert!(
        !store.update_job(&mine.back_to_pending(at), &seen).await.unwrap(),
        "the sweeper acts on the lease it saw, not a renewed one"
    );
    assert_eq!(store.get_job(&job.id).await.unwrap().map(|j| j.state), Some(JobState::Running));

    // A record whose own condition fails sinks the whole transition.
    let (stranger, _) = backup_with_job(&p);
    let mut done = renewed.clone();
    done.state = JobState::Completed;
    done.lease_until = None;
    let mut finished = b.clone();
    finished.state = crate::domain::backups::BackupState::Completed;
    let event = Event::new("backup.completed", org.clone(), Some(p.id.clone()), at, serde_json::json!({}));
    let records = [RecordWrite::Backup(finished.clone()), RecordWrite::Backup(stranger.clone())];
    assert!(!store.transition_job(&done, &owner, &records, std::slice::from_ref(&event)).await.unwrap());
    assert_eq!(store.get_job(&job.id).await.unwrap().map(|j| j.state), Some(JobState::Running), "nothing written");
    assert_eq!(store.get_backup(&p.id, &b.id).await.unwrap().map(|x| x.state), Some(b.state));

    // Progress is written only while the job is held, and stops once a cancellation is asked.
    let progressed = RecordWrite::Backup(Backup { size_bytes: Some(42), ..b.clone() });
    assert!(!store.record_progress(&renewed, &impostor, std::slice::from_ref(&progressed)).await.unwrap());
    assert!(store.record_progress(&renewed, &owner, std::slice::from_ref(&progressed)).await.unwrap());
    assert_eq!(store.get_backup(&p.id, &b.id).await.unwrap().and_then(|x| x.size_bytes), Some(42));
    assert!(store.record_progress_uncancelled(&renewed, &owner, std::slice::from_ref(&progressed)).await.unwrap());
    let request = CancelRequest { job_id: job.id.clone(), by: "api_key:ak_test".into(), at };
    assert!(store.request_cancel(&request, None).await.unwrap(), "a running job may be asked to stop");
    assert!(!store.request_cancel(&request, None).await.unwrap(), "once");
    assert_eq!(store.cancel_request(&job.id).await.unwrap().as_ref(), Some(&request));
    assert!(
        !store.record_progress_uncancelled(&renewed, &owner, std::slice::from_ref(&progressed)).await.unwrap(),
        "no swap after a cancellation"
    );
    assert!(
        store.update_job(&Job { updated_at: at + Duration::seconds(1), ..renewed.clone() }, &owner).await.unwrap(),
        "a heartbeat does not erase the request"
    );
    assert!(store.cancel_request(&job.id).await.unwrap().is_some());

    let finished_records = [RecordWrite::Backup(finished.clone())];
    assert!(store.transition_job(&done, &owner, &finished_records, std::slice::from_ref(&event)).await.unwrap());
    assert_eq!(store.get_job(&job.id).await.unwrap().map(|j| j.state), Some(JobState::Completed));
    assert_eq!(store.get_backup(&p.id, &b.id).await.unwrap().map(|x| x.state), Some(finished.state));
    assert!(
        !store.transition_job(&done, &owner, &finished_records, &[]).await.unwrap(),
        "a finished job is not finished twice"
    );
    let (_, idle) = backup_with_job(&p);
    let never = CancelRequest { job_id: idle.id.clone(), by: "user:u".into(), at };
    assert!(!store.request_cancel(&never, None).await.unwrap(), "a job that is not running is not asked");

    // A lock is released only by the job that holds it.
    let (r, rjob) = restore_with_job(&p, &b, TargetKind::Project, None);
    assert!(store.create_restore(&r, &rjob, None, true, None).await.unwrap().is_ok());
    let rclaimed = claimed(&rjob, "worker-a", at, lease);
    assert!(store.update_job(&rclaimed, &JobCondition::Pending { attempts: 0 }).await.unwrap());
    let rowner = JobCondition::OwnedBy { worker: "worker-a".into(), attempts: 1 };
    let foreign = RecordWrite::ReleaseLock { project_id: p.id.clone(), job_id: job.id.clone(), lock: LIFECYCLE_LOCK };
    let rdone = Job { state: JobState::Completed, ..rclaimed.clone() };
    assert!(!store.transition_job(&rdone, &rowner, &[foreign], &[]).await.unwrap(), "another job's lock stays");
    assert!(store.lifecycle_lock(&p.id).await.unwrap().is_some());
    let own = RecordWrite::ReleaseLock { project_id: p.id.clone(), job_id: rjob.id.clone(), lock: LIFECYCLE_LOCK };
    assert!(store.transition_job(&rdone, &rowner, &[own], &[]).await.unwrap());
    assert_eq!(store.lifecycle_lock(&p.id).await.unwrap().map(|l| l.job_id), None, "released with the job's end");

    let listed = all_ids(
        1,
        {
            let owner = &p.id;
            move |n, c| async move { store.list_jobs(owner, n, c.as_ref()).await }
        },
        |j: &Job| j.id.to_string(),
    )
    .await;
    assert_eq!(listed, newest_first(vec![job.id.to_string(), rjob.id.to_string()]), "the project's jobs, newest first");
}

/// A restore is written with its job, its new preview and its locks, or not at all, and a refusal
/// names its cause: the project's lifecycle lock, a running point-in-time restore, a preview name
/// in use, a target preview that is not ready. A preview's name is unique in its project and
/// freed by its delete; only a ready preview is extended or restored into.
pub async fn restores<S: RestoreStore + PreviewStore + JobStore + BackupStore + ?Sized>(store: &S) {
    let org = OrgId::generate();
    let p = project(&org);
    let (b, bjob) = backup_with_job(&p);
    store.create_backup(&b, &bjob, None).await.unwrap();

    let staging = preview(&p, "staging");
    let (r1, j1) = restore_with_job(&p, &b, TargetKind::NewPreview, Some(&staging.id));
    assert!(store.create_restore(&r1, &j1, Some(&staging), false, None).await.unwrap().is_ok());
    assert_eq!(store.get_restore(&p.id, &r1.id).await.unwrap().as_ref(), Some(&r1));
    assert_eq!(store.preview_named(&p.id, "staging").await.unwrap().map(|x| x.id), Some(staging.id.clone()));
    assert_eq!(store.get_preview(&staging.id).await.unwrap().as_ref(), Some(&staging));

    let clash = preview(&p, "staging");
    let (r2, j2) = restore_with_job(&p, &b, TargetKind::NewPreview, Some(&clash.id));
    let refused = store.create_restore(&r2, &j2, Some(&clash), false, None).await.unwrap();
    assert!(matches!(refused, Err(RestoreConflict::PreviewNameTaken)), "{refused:?}");
    assert_eq!(store.get_restore(&p.id, &r2.id).await.unwrap(), None, "nothing of a refused restore is written");
    assert_eq!(store.get_job(&j2.id).await.unwrap(), None);
    assert_eq!(store.get_preview(&clash.id).await.unwrap(), None);

    // Into the existing preview: it must be ready, and is `restoring` from then on.
    let mut creating = store.get_preview(&staging.id).await.unwrap().unwrap();
    creating.state = PreviewState::Creating;
    store.update_preview(&creating).await.unwrap();
    let (r3, j3) = restore_with_job(&p, &b, TargetKind::Preview, Some(&staging.id));
    let refused = store.create_restore(&r3, &j3, None, true, None).await.unwrap();
    assert!(matches!(refused, Err(RestoreConflict::PreviewNotReady)), "{refused:?}");
    assert_eq!(store.lifecycle_lock(&p.id).await.unwrap().map(|l| l.job_id), None, "the lock is not taken either");
    let at = now() + Duration::hours(48);
    assert_eq!(store.extend_preview(&staging.id, at, now()).await.unwrap(), None, "only a ready preview is extended");
    store.update_preview(&staging).await.unwrap();
    let extended = store.extend_preview(&staging.id, at, now()).await.unwrap().expect("a ready preview is extended");
    assert_eq!((extended.ttl_expires_at, extended.name.as_str()), (at, "staging"), "its expiry and nothing else");
    assert!(
        store.due_previews(&due_bucket(at), at).await.unwrap().iter().any(|x| x.id == staging.id),
        "due at its new expiry"
    );
    assert!(
        !store
            .due_previews(&due_bucket(staging.ttl_expires_at), staging.ttl_expires_at)
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == staging.id),
        "and no longer at the old one"
    );

    let (r4, j4) = restore_with_job(&p, &b, TargetKind::Preview, Some(&staging.id));
    assert!(store.create_restore(&r4, &j4, None, true, None).await.unwrap().is_ok());
    assert_eq!(store.get_preview(&staging.id).await.unwrap().map(|x| x.state), Some(PreviewState::Restoring));
    assert_eq!(store.extend_preview(&staging.id, at, now()).await.unwrap(), None, "not while it is restored into");
    assert_eq!(store.lifecycle_lock(&p.id).await.unwrap().map(|l| l.job_id), Some(j4.id.clone()));

    let (r5, j5) = restore_with_job(&p, &b, TargetKind::Project, None);
    let refused = store.create_restore(&r5, &j5, None, true, None).await.unwrap();
    assert!(matches!(&refused, Err(RestoreConflict::Locked(holder)) if holder == &j4.id), "{refused:?}");

    // One point-in-time restore per project at a time, whatever its target.
    let q = project(&org);
    let pitr = PitrSource {
        requested_restore_time: None,
        restore_time: now(),
        restore_time_clamped: false,
        target: RecoveryTarget::Time { at: now() },
        base_backup_id: "bb_1".into(),
    };
    let (mut a, ja) = restore_with_job(&q, &b, TargetKind::NewPreview, None);
    a.pitr = Some(pitr.clone());
    let pa = preview(&q, "pitr-a");
    a.preview_id = Some(pa.id.clone());
    assert!(store.create_restore(&a, &ja, Some(&pa), false, None).await.unwrap().is_ok());
    let (mut c, jc) = restore_with_job(&q, &b, TargetKind::NewPreview, None);
    c.pitr = Some(pitr);
    let pc = preview(&q, "pitr-c");
    c.preview_id = Some(pc.id.clone());
    let refused = store.create_restore(&c, &jc, Some(&pc), false, None).await.unwrap();
    assert!(matches!(&refused, Err(RestoreConflict::PitrRunning(holder)) if holder == &ja.id), "{refused:?}");
    assert_eq!(store.preview_named(&q.id, "pitr-c").await.unwrap(), None, "its preview's name stays free");

    let gone = Event::new("preview.deleted", org.clone(), Some(p.id.clone()), now(), serde_json::json!({}));
    store.delete_preview(&staging, &gone).await.unwrap();
    assert_eq!(store.get_preview(&staging.id).await.unwrap(), None);
    assert_eq!(store.preview_named(&p.id, "staging").await.unwrap(), None, "a delete frees the name");
    assert!(matches!(store.update_preview(&staging).await, Err(StoreError::ConditionFailed)), "never resurrected");

    let listed = all_ids(
        1,
        {
            let owner = &p.id;
            move |n, c| async move { store.list_restores(owner, n, c.as_ref()).await }
        },
        |r: &Restore| r.id.to_string(),
    )
    .await;
    assert_eq!(listed, newest_first(vec![r1.id.to_string(), r4.id.to_string()]), "what was written, newest first");
    let listed = all_ids(
        1,
        {
            let owner = &q.id;
            move |n, c| async move { store.list_previews(owner, n, c.as_ref()).await }
        },
        |p: &PreviewDatabase| p.id.to_string(),
    )
    .await;
    assert_eq!(listed, vec![pa.id.to_string()]);
}

/// The project's daily schedule at 03:00, kept 7 days, due for its check a minute ago.
pub fn schedule(project: &Project) -> BackupSchedule {
    let at = now();
    BackupSchedule {
        id: "default".into(),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        cron_hour: 3,
        cron_minute: 0,
        is_active: true,
        label: "daily".into(),
        retention_days: 7,
        last_run_at: None,
        last_job_id: None,
        last_run_state: None,
        check_at: Some(at - Duration::minutes(1)),
        scheduler_synced: true,
        created_at: at,
        updated_at: at,
    }
}

/// A day's run is claimed once, with its backup and job; schedules are due at their check and
/// gone after a delete.
pub async fn schedules<S: ScheduleStore + BackupStore + JobStore + ?Sized>(store: &S) {
    let org = OrgId::generate();
    let p = project(&org);
    let s = schedule(&p);
    store.put_schedule(&s).await.unwrap();
    assert_eq!(store.get_schedule(&p.id, &s.id).await.unwrap().as_ref(), Some(&s));
    let at = s.check_at.unwrap();
    assert!(store.due_schedules(&due_bucket(at), now()).await.unwrap().iter().any(|x| x.project_id == p.id));

    let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let (b, job) = backup_with_job(&p);
    assert!(store.create_scheduled_backup(&b, &job, RunKind::Scheduled, day).await.unwrap());
    assert_eq!(store.scheduled_run(&p.id, RunKind::Scheduled, day).await.unwrap(), Some(job.id.clone()));
    let (b2, job2) = backup_with_job(&p);
    assert!(!store.create_scheduled_backup(&b2, &job2, RunKind::Scheduled, day).await.unwrap(), "one run a day");
    assert_eq!(store.get_backup(&p.id, &b2.id).await.unwrap(), None, "the duplicate writes nothing");
    assert_eq!(store.get_job(&job2.id).await.unwrap(), None);
    assert_eq!(store.scheduled_run(&p.id, RunKind::Nightly, day).await.unwrap(), None, "the nightly run is its own");
    assert!(store.create_scheduled_backup(&b2, &job2, RunKind::Nightly, day).await.unwrap());
    assert_eq!(store.scheduled_run(&p.id, RunKind::Scheduled, day.succ_opt().unwrap()).await.unwrap(), None);

    let mut checked = s.clone();
    checked.check_at = None;
    checked.last_run_state = Some("missed".into());
    let missed = Event::new("backup.missed", org.clone(), Some(p.id.clone()), now(), serde_json::json!({}));
    store.record_schedule_check(&checked, Some(&missed)).await.unwrap();
    assert_eq!(
        store.get_schedule(&p.id, &s.id).await.unwrap().and_then(|x| x.last_run_state).as_deref(),
        Some("missed")
    );
    assert!(
        !store.due_schedules(&due_bucket(at), now()).await.unwrap().iter().any(|x| x.project_id == p.id),
        "checked, it leaves the index"
    );

    store.delete_schedule(&p.id, &s.id).await.unwrap();
    assert_eq!(store.get_schedule(&p.id, &s.id).await.unwrap(), None);
}

fn api_key(org: &OrgId, name: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        org_id: org.clone(),
        name: name.into(),
        display_prefix: "capy_live_ab".into(),
        scopes: vec![Scope::BackupsRead],
        project_id: None,
        expires_at: None,
        revoked_at: None,
        created_at: now(),
        parent_key_id: None,
        last_used_at: None,
    }
}

/// A key is found by its hash and listed under its organisation; use and revocation reach both;
/// a key is revoked once. A replayable response is reserved once, completed, and released.
pub async fn api_keys_and_responses<S: ApiKeyStore + IdempotencyStore + ?Sized>(store: &S) {
    let (org, other) = (OrgId::generate(), OrgId::generate());
    let key = api_key(&org, "ci");
    let hash = format!("hash-{}", key.id);
    store.create_api_key(&key, &hash, None).await.unwrap();
    assert_eq!(store.get_api_key_by_hash(&hash).await.unwrap().as_ref(), Some(&key));
    assert_eq!(store.get_api_key(&org, &key.id).await.unwrap().as_ref(), Some(&key));
    assert_eq!(store.get_api_key(&other, &key.id).await.unwrap(), None, "under its own organisation only");
    let twin = ApiKey { id: ApiKeyId::generate(), ..key.clone() };
    assert!(store.create_api_key(&twin, &hash, None).await.is_err(), "a hash belongs to one key");
    assert_eq!(store.get_api_key(&org, &twin.id).await.unwrap(), None, "all or nothing");

    let used = now();
    store.touch_api_key(&key, &hash, used).await.unwrap();
    assert_eq!(store.get_api_key_by_hash(&hash).await.unwrap().and_then(|k| k.last_used_at), Some(used));
    assert_eq!(store.get_api_key(&org, &key.id).await.unwrap().and_then(|k| k.last_used_at), Some(used));

    let mut made = vec![key.id.to_string()];
    for n in 0..3 {
        let k = api_key(&org, &format!("k{n}"));
        store.create_api_key(&k, &format!("hash-{}", k.id), None).await.unwrap();
        made.push(k.id.to_string());
    }
    let listed = all_ids(
        2,
        {
            let owner = &org;
            move |n, c| async move { store.list_api_keys(owner, n, c.as_ref()).await }
        },
        |k: &ApiKey| k.id.to_string(),
    )
    .await;
    assert_eq!(listed, newest_first(made));

    let at = now();
    let revoked = store.revoke_api_key(&org, &key.id, at).await.unwrap().expect("the key exists");
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(
        store.get_api_key_by_hash(&hash).await.unwrap().and_then(|k| k.revoked_at),
        Some(at),
        "authentication sees it"
    );
    let again = store.revoke_api_key(&org, &key.id, at + Duration::hours(1)).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(at), "revoked once; the first time stays");
    assert_eq!(store.revoke_api_key(&other, &key.id, at).await.unwrap(), None, "another organisation's key is unknown");

    let scope = format!("{org}#replay-{}", key.id);
    let t = now();
    assert!(store.reserve_response(&scope, "h1", t).await.unwrap().is_ok());
    let taken = store.reserve_response(&scope, "h1", t).await.unwrap().expect_err("reserved once");
    assert_eq!((taken.request_hash.as_str(), taken.status), ("h1", None), "in progress");
    let done = StoredResponse { status: Some(201), body_enc: Some("sealed".into()), ..taken };
    store.complete_response(done).await.unwrap();
    let replay = store.reserve_response(&scope, "h1", t).await.unwrap().expect_err("answered");
    assert_eq!(replay.status, Some(201));
    assert_eq!(replay.expires_at_epoch, (t + Duration::hours(24)).timestamp(), "kept a day");
    store.release_response(&scope).await.unwrap();
    assert!(store.reserve_response(&scope, "h2", t).await.unwrap().is_ok(), "released, the key runs again");
}

fn integration(project: &Project, provider: Provider) -> Integration {
    let at = now();
    Integration {
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        provider,
        target: IntegrationTarget { id: "prj_1".into(), team_id: None },
        token_enc: "sealed".into(),
        sync_state: SyncState::Never,
        sync_reason: None,
        sync_attempts: 0,
        sync_requested_at: None,
        next_sync_at: None,
        last_synced_at: None,
        last_sync_error: None,
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

/// An integration is written at the version its writer read, one per provider, due while a
/// push is due, and deleted once.
pub async fn integrations(store: &dyn IntegrationStore) {
    let p = project(&OrgId::generate());
    let vercel = integration(&p, Provider::Vercel);
    assert!(store.put_integration(&vercel, None).await.unwrap());
    assert!(!store.put_integration(&vercel, None).await.unwrap(), "created once");
    let mut next = vercel.clone();
    next.version = 2;
    let at = now() - Duration::minutes(1);
    next.next_sync_at = Some(at);
    assert!(!store.put_integration(&next, Some(7)).await.unwrap(), "only at the version read");
    assert!(store.put_integration(&next, Some(1)).await.unwrap());
    assert!(!store.put_integration(&next, Some(1)).await.unwrap(), "a second writer from version 1 loses");
    assert_eq!(store.get_integration(&p.id, Provider::Vercel).await.unwrap().map(|i| i.version), Some(2));
    assert!(store.due_integrations(&due_bucket(at), now()).await.unwrap().iter().any(|i| i.project_id == p.id));
    assert!(store.put_integration(&integration(&p, Provider::Netlify), None).await.unwrap());
    let providers: Vec<Provider> = store.list_integrations(&p.id).await.unwrap().iter().map(|i| i.provider).collect();
    assert_eq!(providers, vec![Provider::Vercel, Provider::Netlify]);

    store.delete_integration(&p.id, Provider::Vercel).await.unwrap();
    assert_eq!(store.get_integration(&p.id, Provider::Vercel).await.unwrap(), None);
    assert!(matches!(store.delete_integration(&p.id, Provider::Vercel).await, Err(StoreError::ConditionFailed)));
}
