//! Outbox events. Written in the same transaction as the state change they announce; the
//! completion function fans them out to webhooks.

use crate::ids::{EventId, OrgId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub event_type: String,
    pub org_id: OrgId,
    pub project_id: Option<ProjectId>,
    pub created_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(
        event_type: &str,
        org_id: OrgId,
        project_id: Option<ProjectId>,
        now: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Event { id: EventId::generate(), event_type: event_type.to_string(), org_id, project_id, created_at: now, data }
    }
}
