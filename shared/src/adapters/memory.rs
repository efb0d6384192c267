//! The store in memory, with the DynamoDB repository's conditions: a label is claimed with its
//! point or not at all, a slot is counted only under the limit, an update needs the item to
//! exist, a health update touches only the health fields, a delivery is written only at the
//! version its writer read, the due index holds what is pending and due, and lists page newest
//! first and refuse a cursor they did not return. It lets services' rules be tested in
//! milliseconds; `store_conformance` runs the same checks against it and against DynamoDB.

use crate::domain::deliveries::{Delivery, HealthUpdate};
use crate::domain::jobs::due_bucket;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::restore_points::RestorePoint;
use crate::domain::webhooks::WebhookEndpoint;
use crate::ids::{DeliveryId, OrgId, ProjectId, RestorePointId, WebhookId};
use crate::store::{DeliveryStore, RestorePointStore, StoreError, WebhookStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let mut due: Vec<(DateTime<Utc>, Delivery)> = state
            .deliveries
            .values()
            .flat_map(|d| d.values())
            .filter_map(|d| d.due_at().filter(|at| due_bucket(*at) == bucket && *at <= now).map(|at| (at, d.clone())))
            .collect();
        due.sort_by_key(|(at, _)| *at);
        Ok(due.into_iter().map(|(_, d)| d).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_meets_the_restore_point_contract() {
        crate::store_conformance::restore_points(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn the_memory_store_meets_the_delivery_contract() {
        crate::store_conformance::deliveries(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn the_memory_store_meets_the_webhook_contract() {
        crate::store_conformance::webhooks(&MemoryStore::new()).await;
    }
}
