//! Local HTTP peers of the runtime: a webhook receiver that records what it gets, and a fake
//! of the Vercel and Netlify APIs that records every call and keeps the env vars it was sent.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    /// The status the receiver answered with.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str).unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    log: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

/// A webhook receiver on 127.0.0.1 that can be stopped (connections refused) and started again
/// on the same port, and told which status to answer with.
pub struct Receiver {
    addr: SocketAddr,
    state: ReceiverState,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = ReceiverState { status: Arc::new(AtomicU16::new(200)), ..Default::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let mut r = Receiver { addr, state, task: None };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = Router::new().route("/{*path}", any(receive)).with_state(self.state.clone());
        self.task = Some(tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver serves");
        }));
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/capydb", self.addr)
    }

    /// Stops listening: deliveries meet a refused connection.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot re-bind {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }

    pub fn respond_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.log.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for what was received (at most 60 s).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "receiver never got {what}; got {:?}", got);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn receive(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> Response {
    let status = state.status.load(Ordering::SeqCst);
    let headers =
        headers.iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string())).collect();
    state.log.lock().unwrap().push(Received { headers, body: String::from_utf8_lossy(&body).into_owned(), status });
    let code = StatusCode::from_u16(status).unwrap();
    if code.is_redirection() {
        return (code, [("location", "http://169.254.169.254/latest/meta-data/")], "moved").into_response();
    }
    (code, "receiver says hi").into_response()
}

pub const GOOD_TOKEN: &str = "tok_good";

#[derive(Debug, Clone)]
pub struct ProviderCall {
    pub method: String,
    pub path: String,
    pub query: String,
    pub token: String,
    pub body: Value,
}

/// (provider, target, key) → value
type EnvVars = HashMap<(String, String, String), String>;

#[derive(Clone, Default)]
struct ProviderState {
    calls: Arc<Mutex<Vec<ProviderCall>>>,
    env: Arc<Mutex<EnvVars>>,
    down: Arc<AtomicU16>,
}

/// The parts of the Vercel and Netlify APIs the integrations use, with their error shapes:
/// any token but [`GOOD_TOKEN`] is refused; `set_down(true)` makes every call a 503.
pub struct FakeProviders {
    pub url: String,
    state: ProviderState,
    task: JoinHandle<()>,
}

impl FakeProviders {
    pub async fn start() -> FakeProviders {
        let state = ProviderState::default();
        let app = Router::new()
            .route("/v9/projects/{id}", get(vercel_project))
            .route("/v10/projects/{id}/env", post(vercel_env))
            .route("/api/v1/sites/{id}", get(netlify_site))
            .route("/api/v1/accounts/{account}/env", post(netlify_create))
            .route("/api/v1/accounts/{account}/env/{key}", put(netlify_update))
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake providers");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake providers serve");
        });
        FakeProviders { url, state, task }
    }

    /// Environment for a runtime that talks to this fake (and may post to local receivers).
    pub fn runtime_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CAPYDB_WEBHOOKS_ALLOW_PRIVATE", "true".into()),
            ("CAPYDB_VERCEL_API_URL", self.url.clone()),
            ("CAPYDB_NETLIFY_API_URL", self.url.clone()),
        ]
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down as u16, Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<ProviderCall> {
        self.state.calls.lock().unwrap().clone()
    }

    pub fn clear_calls(&self) {
        self.state.calls.lock().unwrap().clear();
    }

    /// The value the provider holds for `key` on `target`.
    pub fn env_var(&self, provider: &str, target: &str, key: &str) -> Option<String> {
        self.state.env.lock().unwrap().get(&(provider.into(), target.into(), key.into())).cloned()
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(state): State<ProviderState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    state.calls.lock().unwrap().push(ProviderCall {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        token: token.clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    if state.down.load(Ordering::SeqCst) == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "message": "upstream maintenance" }))).into_response();
    }
    if token != GOOD_TOKEN {
        // Vercel and Netlify word their refusals differently; both carry a message.
        return if uri.path().starts_with("/api/v1/") {
            (StatusCode::UNAUTHORIZED, Json(json!({ "code": 401, "message": "Access Denied: Invalid token" })))
                .into_response()
        } else {
            (
                StatusCode::FORBIDDEN,
                Json(
                    json!({ "error": { "code": "forbidden", "message": "You don't have permission: invalid token" } }),
                ),
            )
                .into_response()
        };
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

async fn vercel_project(Path(id): Path<String>) -> Response {
    if id == "missing" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "not_found", "message": "Project not found" } })),
        )
            .into_response();
    }
    Json(json!({ "id": id, "name": id })).into_response()
}

async fn vercel_env(
    State(state): State<ProviderState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    if q.get("upsert").map(String::as_str) != Some("true") {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": { "message": "ENV_ALREADY_EXISTS" } })))
            .into_response();
    }
    let mut env = state.env.lock().unwrap();
    for var in body.as_array().cloned().unwrap_or_default() {
        env.insert(
            ("vercel".into(), id.clone(), var["key"].as_str().unwrap_or_default().into()),
            var["value"].as_str().unwrap_or_default().into(),
        );
    }
    (StatusCode::CREATED, Json(json!({ "created": body }))).into_response()
}

async fn netlify_site(Path(id): Path<String>) -> Response {
    Json(json!({ "id": id, "account_id": "acct_fake" })).into_response()
}

async fn netlify_create(
    State(state): State<ProviderState>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let site = q.get("site_id").cloned().unwrap_or_default();
    let mut env = state.env.lock().unwrap();
    for var in body.as_array().cloned().unwrap_or_default() {
        let key = var["key"].as_str().unwrap_or_default().to_string();
        if env.contains_key(&("netlify".into(), site.clone(), key.clone())) {
            return (StatusCode::CONFLICT, Json(json!({ "message": "env var already exists" }))).into_response();
        }
        env.insert(
            ("netlify".into(), site.clone(), key),
            var["values"][0]["value"].as_str().unwrap_or_default().into(),
        );
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn netlify_update(
    State(state): State<ProviderState>,
    Path((_account, key)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Json(var): Json<Value>,
) -> Response {
    let site = q.get("site_id").cloned().unwrap_or_default();
    let mut env = state.env.lock().unwrap();
    let slot = ("netlify".to_string(), site, key);
    if !env.contains_key(&slot) {
        return (StatusCode::NOT_FOUND, Json(json!({ "message": "Not Found" }))).into_response();
    }
    env.insert(slot, var["values"][0]["value"].as_str().unwrap_or_default().into());
    Json(var).into_response()
}
