//! The public contract of the CapyDB Backups API.
//!
//! Every request body, response body, error body and webhook payload of the HTTP API is a type
//! here. The handlers deserialize requests into these types and build responses from them, the
//! CLI reads responses into them, and the OpenAPI document ([`openapi::document`]) is generated
//! from them, so a renamed field fails a build rather than a client. The storage shape of a
//! record is not this shape: the service maps one to the other.
//!
//! Conventions: timestamps are RFC 3339 in UTC with millisecond precision; an optional field
//! without a value is sent as `null` in responses (only the error body and an integration
//! target leave out what does not apply); request bodies refuse unknown fields, naming them.

pub mod backups;
pub mod errors;
pub mod events;
pub mod identity;
pub mod integrations;
pub mod jobs;
pub mod openapi;
pub mod previews;
pub mod projects;
pub mod restore_points;
pub mod restores;
pub mod schedules;
pub mod time;
pub mod webhooks;

pub use errors::{ErrorBody, ErrorCode};
pub use time::Timestamp;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of a POST that takes no fields: absent, or `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The OpenAPI document, as the API serves it at `GET /v1/openapi.json`.
pub fn openapi_json() -> String {
    openapi::document_json()
}
