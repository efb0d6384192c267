//! The store in memory, with the DynamoDB repository's conditions: a label is claimed with its
//! point or not at all, a slot is counted only under the limit, lists page newest first and
//! refuse a cursor they did not return. It lets services' rules be tested in milliseconds;
//! `store_conformance` runs the same checks against it and against DynamoDB.

use crate::domain::pagination::{Cursor, Page};
use crate::domain::restore_points::RestorePoint;
use crate::ids::{ProjectId, RestorePointId};
use crate::store::{RestorePointStore, StoreError};
use async_trait::async_trait;
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
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The cursor names the last point of a page, and the project, so another list's cursor is refused.
fn cursor_of(project: &ProjectId, id: &RestorePointId) -> Cursor {
    Cursor(BTreeMap::from([("project".into(), project.to_string()), ("after".into(), id.to_string())]))
}

fn after(project: &ProjectId, cursor: &Cursor) -> Result<RestorePointId, StoreError> {
    let fits = cursor.0.len() == 2 && cursor.0.get("project").map(String::as_str) == Some(project.as_str());
    let id = cursor.0.get("after").and_then(|id| id.parse().ok());
    match (fits, id) {
        (true, Some(id)) => Ok(id),
        _ => Err(StoreError::InvalidCursor),
    }
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
        let start = cursor.map(|c| after(project, c)).transpose()?;
        let state = self.state();
        let newest_first = state.points.get(project).into_iter().flat_map(|p| p.values().rev());
        let items: Vec<RestorePoint> =
            newest_first.filter(|p| start.as_ref().is_none_or(|s| p.id < *s)).take(limit as usize).cloned().collect();
        let next_cursor = match items.last() {
            Some(last) if items.len() == limit as usize => Some(cursor_of(project, &last.id)),
            _ => None,
        };
        Ok(Page { items, next_cursor })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_meets_the_restore_point_contract() {
        crate::store_conformance::restore_points(&MemoryStore::new()).await;
    }
}
