//! Stand-ins for the parts of the Vercel and Netlify APIs the deployment integrations call,
//! served by the local runtime under `/local/providers` so `make dev` can connect an integration
//! without an account or a network. They accept any token and keep nothing: a push "succeeds".
//! The integration tests use their own, stricter fake (`tests/integration/receivers.rs`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Where the local runtime serves them; `make dev` points `CAPYDB_VERCEL_API_URL` and
/// `CAPYDB_NETLIFY_API_URL` here.
pub const PREFIX: &str = "/local/providers";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/v9/projects/{id}", get(|Path(id): Path<String>| async move { Json(json!({ "id": id, "name": id })) }))
        .route(
            "/v10/projects/{id}/env",
            post(|Json(vars): Json<Value>| async move { (StatusCode::CREATED, Json(json!({ "created": vars }))) }),
        )
        .route(
            "/api/v1/sites/{id}",
            get(|Path(id): Path<String>| async move { Json(json!({ "id": id, "account_id": "local" })) }),
        )
        .route(
            "/api/v1/accounts/{account}/env",
            post(|Json(vars): Json<Value>| async move { (StatusCode::CREATED, Json(vars)) }),
        )
        .route("/api/v1/accounts/{account}/env/{key}", put(|Json(var): Json<Value>| async move { Json(var) }))
}
