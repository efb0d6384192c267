//! Org webhook endpoints and their deliveries.

use crate::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointCreateRequest {
    /// An `https://` URL at a public address (at most 2048 characters).
    #[schema(max_length = 2048)]
    pub url: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Event types to send; every type when empty or left out.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Fields left out stay as they are; `description: null` clears the description.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointUpdateRequest {
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointHealth {
    Healthy,
    /// Deliveries have been failing for a while; they are still attempted.
    Failing,
    /// Deliveries have failed for days; still attempted, never silently dropped.
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub is_active: bool,
    pub health: EndpointHealth,
    pub failing_since: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The only responses that carry the signing secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    pub webhook_endpoint: WebhookEndpoint,
    /// `whsec_…`: verifies `X-CapyDB-Signature`.
    pub plaintext_secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointList {
    pub webhook_endpoints: Vec<WebhookEndpoint>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointResponse {
    pub webhook_endpoint: WebhookEndpoint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointDeleted {
    pub webhook_endpoint: WebhookEndpoint,
    pub deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// One POST to the receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub at: Timestamp,
    /// The receiver's HTTP status, when it answered at all.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub webhook_endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    /// How many attempts were made.
    pub attempts: u32,
    /// The receiver's status on the last attempt.
    pub response_status: Option<u16>,
    /// Every attempt, oldest first.
    pub attempt_details: Vec<DeliveryAttempt>,
    pub next_attempt_at: Option<Timestamp>,
    /// The delivery this one sends again.
    pub redelivery_of: Option<String>,
    /// The envelope exactly as sent (and signed).
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryResponse {
    pub delivery: Delivery,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_tells_a_cleared_description_from_a_kept_one() {
        let parse = |s: &str| serde_json::from_str::<WebhookEndpointUpdateRequest>(s).unwrap().description;
        assert_eq!(parse("{}"), None);
        assert_eq!(parse(r#"{"description": null}"#), Some(None));
        assert_eq!(parse(r#"{"description": "x"}"#), Some(Some("x".into())));
    }
}
