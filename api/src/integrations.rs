//! Deployment integrations: pushing a project's connection URLs to Vercel or Netlify.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Vercel,
    Netlify,
}

/// `PUT …/integrations/vercel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VercelIntegrationRequest {
    /// The Vercel project to push to.
    pub project_id: String,
    #[serde(default)]
    pub team_id: Option<String>,
    /// Encrypted at rest and never returned.
    pub token: String,
}

/// `PUT …/integrations/netlify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetlifyIntegrationRequest {
    pub site_id: String,
    /// Encrypted at rest and never returned.
    pub token: String,
}

/// The body of `PUT …/integrations/{provider}`: the provider's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum IntegrationRequest {
    Vercel(VercelIntegrationRequest),
    Netlify(NetlifyIntegrationRequest),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Saved; nothing pushed yet.
    Never,
    /// A push is due (after a restore or on request), or being retried.
    Pending,
    Synced,
    /// Retries ran out; the next restore or sync tries again.
    Failed,
}

/// Where the variables go: `project_id` (and `team_id`) for Vercel, `site_id` for Netlify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Integration {
    pub provider: Provider,
    pub project_id: String,
    pub target: IntegrationTarget,
    /// The variables it sets: `DATABASE_URL` (pooled) and `DATABASE_URL_UNPOOLED` (direct).
    pub env_vars: Vec<String>,
    pub sync_state: SyncState,
    pub sync_reason: Option<String>,
    pub sync_attempts: u32,
    pub next_sync_at: Option<Timestamp>,
    pub last_synced_at: Option<Timestamp>,
    pub last_sync_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationList {
    pub integrations: Vec<Integration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationResponse {
    pub integration: Integration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationDeleted {
    pub integration: Integration,
    pub deleted: bool,
}
