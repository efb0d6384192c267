//! The service-layer error: what a use case can answer. The HTTP layer maps each variant to a
//! status and a stable `code`; adapters' errors are wrapped, never shown raw to a caller.

use crate::ports::{DataPlaneError, ObjectStoreError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is missing or out of range.
    #[error("{message}")]
    InvalidField { field: String, message: String },
    /// The request as a whole is malformed (not JSON, not an object).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// Unknown resource, or one the caller may not see (the two are indistinguishable).
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict { message: String, job_id: Option<String> },
    #[error("Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("{0}")]
    Unprocessable(String),
    /// Too many requests of this kind for now; worth retrying after `retry_after_seconds`.
    #[error("{message}")]
    RateLimited { message: String, retry_after_seconds: u64 },
    #[error("storage unavailable: {0}")]
    Store(StoreError),
    #[error("object storage unavailable: {0}")]
    ObjectStore(#[from] ObjectStoreError),
    #[error("database cluster error: {0}")]
    DataPlane(#[from] DataPlaneError),
    /// The change is saved but the scheduler did not take it; repeating the request repairs it.
    #[error("{0}")]
    SchedulerUnavailable(String),
    /// A third-party API we depend on for this request (a deployment provider) failed.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => Error::invalid("cursor", "cursor is not one this list returned"),
            other => Error::Store(other),
        }
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidField { field: field.into(), message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }
}
