//! What every implementation of a store port must answer, one suite per port: the unit tests run it
//! against the in-memory store, the integration suite against DynamoDB (moto), so the two cannot
//! drift. Each check uses projects of its own, so it runs beside other tests on a shared table.

use crate::domain::deliveries::{Delivery, DeliveryState, HealthUpdate};
use crate::domain::jobs::due_bucket;
use crate::domain::pagination::Cursor;
use crate::domain::restore_points::{RestorePoint, RestorePointKind, RestorePointState};
use crate::domain::webhooks::{Health, WebhookEndpoint};
use crate::ids::{BackupId, DeliveryId, EventId, OrgId, ProjectId, RestorePointId, WebhookId};
use crate::store::{DeliveryStore, RestorePointStore, StoreError, WebhookStore};
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
