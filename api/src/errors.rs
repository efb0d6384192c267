//! The error body every failed request gets, and the stable `code`s it carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What went wrong, in a form a program can branch on (`code`) and a person can act on
/// (`error`, `field`). Quote `request_id` (also sent as `X-Request-Id`) when asking for help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A sentence saying what was wrong and, for a bad field, what is allowed.
    pub error: String,
    pub code: ErrorCode,
    /// The request field or parameter at fault (`invalid_field` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The id this request is logged under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The job in flight that a `conflict` waits for, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $status:literal, $meaning:literal;)*) => {
        /// Stable error codes. The table in [`ErrorCode::ALL`] gives each one's status and meaning.
        // The codes are the variants in snake_case (a test holds `as_str` to it): the schema
        // generator reads `rename_all`, where a per-variant rename from a macro is lost.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ErrorCode {
            /// Every code with its HTTP status and what it means.
            pub const ALL: &'static [(ErrorCode, u16, &'static str)] = &[$((ErrorCode::$variant, $status, $meaning),)*];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }
        }
    };
}

codes! {
    InvalidField = "invalid_field", 400, "A body field, path or query parameter is missing, of the wrong type or out of range; `field` names it and the message gives the allowed range.";
    BadRequest = "bad_request", 400, "The body is not a JSON object, or the request as a whole makes no sense (for example two restore sources).";
    Unauthenticated = "unauthenticated", 401, "No credentials, or an API key or session that is unknown, revoked or expired.";
    Forbidden = "forbidden", 403, "The credential is valid but lacks the scope or org role this needs; the message names it.";
    NotFound = "not_found", 404, "No such resource visible to this credential (another org's resources are never revealed), or no such route.";
    Conflict = "conflict", 409, "The resource is busy or in the wrong state (another lifecycle job in flight, a pinned backup, a preview being restored); `job_id` names the job when there is one.";
    PayloadTooLarge = "payload_too_large", 413, "The request body is over 64 KiB.";
    UnsupportedMediaType = "unsupported_media_type", 415, "A request body was sent without `Content-Type: application/json`.";
    IdempotencyKeyReused = "idempotency_key_reused", 422, "The `Idempotency-Key` was used before with a different request body.";
    Unprocessable = "unprocessable", 422, "The request is well-formed but cannot be done (for example a restore from an unverified backup without `allow_unverified_backup`).";
    RateLimited = "rate_limited", 429, "Too many requests of this kind; retry after the `Retry-After` header's seconds.";
    Internal = "internal", 500, "An unexpected failure; it is logged under `request_id`. Retrying with the same `Idempotency-Key` is safe.";
    UpstreamUnavailable = "upstream_unavailable", 502, "A provider the request depends on (a deployment integration) did not answer properly.";
    Unavailable = "unavailable", 503, "A store or region cluster is briefly unreachable; retry with back-off.";
    SchedulerUnavailable = "scheduler_unavailable", 503, "The schedule was saved but the scheduler could not be updated; the message says which state it is in. Retry the PUT.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_lists_the_codes_as_they_are_sent() {
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let sent: Vec<&str> = ErrorCode::ALL.iter().map(|(c, _, _)| c.as_str()).collect();
        assert_eq!(listed, sent);
    }

    #[test]
    fn codes_serialize_as_their_strings_and_the_table_lists_each_once() {
        for (code, status, _) in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!((400..600).contains(status));
        }
        let unique: std::collections::HashSet<_> = ErrorCode::ALL.iter().map(|c| c.0).collect();
        assert_eq!(unique.len(), ErrorCode::ALL.len());
    }
}
