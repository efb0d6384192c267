//! Who is calling (`GET /v1/me`) and the org's API keys.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    ApiKey,
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Admin,
    Member,
}

/// The caller: how a client finds its organization and what its credential may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub organization_id: String,
    pub credential_type: CredentialType,
    /// The API key's id (`api_key` only).
    pub api_key_id: Option<String>,
    /// The signed-in user (`session` only).
    pub user_id: Option<String>,
    /// The user's org role (`session` only).
    pub role: Option<OrgRole>,
    pub scopes: Vec<String>,
    /// The project a project-scoped key is limited to.
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreateRequest {
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// A subset of the creating credential's scopes; all of them when left out.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Limit the key to one project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// RFC 3339; never later than the creating key's own expiry.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub project_id: Option<String>,
    /// Neither revoked nor expired.
    pub is_active: bool,
    /// When the key last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The key that created this one: revoking it revokes this one too.
    pub parent_key_id: Option<String>,
    pub created_at: Timestamp,
}

/// The only response that carries the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    pub api_key: ApiKey,
    /// `capy_live_…`; shown once and stored only as a hash, so a replay of the same
    /// `Idempotency-Key` answers `null` here.
    pub plaintext_api_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyResponse {
    pub api_key: ApiKey,
}
