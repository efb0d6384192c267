//! Fault-injecting proxies for the fault suite and the soak: one in front of moto that answers
//! chosen requests with the errors S3 and DynamoDB really give (503 SlowDown,
//! ThrottlingException), holds them, or stalls their bodies, on the Nth request matching a
//! pattern; and one in front of a PostgreSQL cluster that refuses, cuts or slows connections.

use crate::harness::stack;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub type Matcher = Box<dyn Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    /// Requests matching so far.
    seen: usize,
    /// Which matching requests meet `action`: the `from`-th (1-based) and the `count - 1` after it.
    from: usize,
    count: usize,
    action: Action,
    failed: usize,
}

#[derive(Clone)]
pub enum Action {
    /// Answer with this error instead of forwarding.
    Answer { status: StatusCode, content_type: &'static str, body: &'static str },
    /// Hold the request forever (as a worker killed mid-request leaves it), and say so here.
    Hang(Arc<Notify>),
    /// Forward it, but stop after the first bytes of the answer's body (and say so at
    /// `reached`); the rest follows once `release` fires, or never without one.
    StallBody { reached: Arc<Notify>, release: Option<Arc<Notify>> },
}

/// A proxy in front of moto that fails what its rules say and forwards everything else.
pub struct FaultProxy {
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start() -> FaultProxy {
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let state = rules.clone();
        let upstream = stack().moto_url.clone();
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (rules, upstream, http) = (state.clone(), upstream.clone(), http.clone());
            async move {
                let mut stall = None;
                match fault(&rules, &method, &uri, &headers) {
                    Some(Action::Answer { status, content_type, body }) => {
                        let mut resp = (status, body).into_response();
                        resp.headers_mut().insert("content-type", content_type.parse().unwrap());
                        return resp;
                    }
                    Some(Action::Hang(reached)) => {
                        reached.notify_one();
                        return std::future::pending().await;
                    }
                    Some(Action::StallBody { reached, release }) => stall = Some((reached, release)),
                    None => {}
                }
                let url = format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
                let mut req = http.request(method, url).body(body);
                for (k, v) in headers.iter().filter(|(k, _)| *k != "host" && *k != "content-length") {
                    req = req.header(k, v);
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let headers = resp.headers().clone();
                        let bytes = resp.bytes().await.unwrap_or_default();
                        let body = match stall {
                            None => axum::body::Body::from(bytes),
                            Some((reached, release)) => {
                                let split = bytes.len().min(64 * 1024);
                                let (first, rest) = (bytes.slice(..split), bytes.slice(split..));
                                let sent = futures::stream::once(async move {
                                    reached.notify_one();
                                    Ok::<_, std::io::Error>(first)
                                });
                                let rest = futures::stream::once(async move {
                                    match release {
                                        Some(release) => release.notified().await,
                                        None => std::future::pending().await,
                                    }
                                    Ok::<_, std::io::Error>(rest)
                                });
                                axum::body::Body::from_stream(sent.chain(rest))
                            }
                        };
                        let mut out = Response::new(body);
                        *out.status_mut() = status;
                        for (k, v) in
                            headers.iter().filter(|(k, _)| *k != "content-length" && *k != "transfer-encoding")
                        {
                            out.headers_mut().insert(k, v.clone());
                        }
                        out
                    }
                    Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
                }
            }
        });
        // Parts are 8 MiB and more: far past axum's default body limit.
        let app = app.layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fault proxy serves");
        });
        FaultProxy { url, rules, task }
    }

    pub fn push(&self, matches: Matcher, from: usize, count: usize, action: Action) {
        self.rules.lock().unwrap().push(Rule { matches, seen: 0, from, count, action, failed: 0 });
    }

    pub fn fail(
        &self,
        matches: Matcher,
        from: usize,
        count: usize,
        status: StatusCode,
        content_type: &'static str,
        body: &'static str,
    ) {
        self.push(matches, from, count, Action::Answer { status, content_type, body });
    }

    /// Holds the `nth` request matching forever; the returned handle fires when it arrives.
    pub fn hang(&self, matches: Matcher, nth: usize) -> Arc<Notify> {
        let reached = Arc::new(Notify::new());
        self.push(matches, nth, 1, Action::Hang(reached.clone()));
        reached
    }

    /// Answers the `nth` request matching with its first 64 KiB and then nothing more, as a
    /// connection that stops mid-stream; the returned handle fires once those bytes went out.
    pub fn stall_body(&self, matches: Matcher, nth: usize) -> Arc<Notify> {
        let reached = Arc::new(Notify::new());
        self.push(matches, nth, 1, Action::StallBody { reached: reached.clone(), release: None });
        reached
    }

    /// Like [`FaultProxy::stall_body`], but the rest of the body follows once the second handle
    /// fires: a transfer that pauses while something else happens.
    pub fn pause_body(&self, matches: Matcher, nth: usize) -> (Arc<Notify>, Arc<Notify>) {
        let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        self.push(matches, nth, 1, Action::StallBody { reached: reached.clone(), release: Some(release.clone()) });
        (reached, release)
    }

    /// Forwards everything from now on.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// How many requests the rules failed, in the order they were added.
    pub fn failed(&self) -> Vec<usize> {
        self.rules.lock().unwrap().iter().map(|r| r.failed).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fault(rules: &Mutex<Vec<Rule>>, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Action> {
    let mut rules = rules.lock().unwrap();
    for rule in rules.iter_mut() {
        if !(rule.matches)(method, uri, headers) {
            continue;
        }
        rule.seen += 1;
        if rule.seen >= rule.from && rule.seen < rule.from + rule.count {
            rule.failed += 1;
            return Some(rule.action.clone());
        }
    }
    None
}

pub const SLOW_DOWN: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>";
pub const TRANSACTION_CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;
pub const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

pub fn upload_part(n: u32) -> Matcher {
    Box::new(move |m, uri, _| {
        *m == Method::PUT
            && uri
                .query()
                .is_some_and(|q| q.contains(&format!("partNumber={n}&")) || q.ends_with(&format!("partNumber={n}")))
    })
}

pub fn complete_upload() -> Matcher {
    Box::new(|m, uri, _| *m == Method::POST && uri.query().is_some_and(|q| q.contains("uploadId=")))
}

pub fn dynamo(target: &'static str) -> Matcher {
    Box::new(move |_, _, h| h.get("x-amz-target").and_then(|v| v.to_str().ok()) == Some(target))
}

/// The stored archive of a backup, as the verification sandbox and restores read it.
pub fn archive_get() -> Matcher {
    Box::new(|m, uri, _| *m == Method::GET && uri.path().ends_with(".dump.zst"))
}

/// Which way bytes flow through a proxied connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flow {
    /// From the code under test to the cluster (what pg_restore loads).
    ToServer,
    /// From the cluster to the code under test (what pg_dump reads).
    ToClient,
}

#[derive(Default)]
struct PgRules {
    /// Cut the next `count` connections on which `bytes` have flowed `flow`.
    cut_after: Option<(Flow, u64, usize)>,
    /// Added before a connection reaches the cluster.
    connect_delay: Duration,
    /// Added before every chunk forwarded, either way.
    chunk_delay: Duration,
}

struct PgShared {
    rules: Mutex<PgRules>,
    live: Mutex<Vec<tokio::task::AbortHandle>>,
    cut: AtomicUsize,
    accepted: AtomicUsize,
}

impl PgShared {
    fn cuts(&self, flow: Flow, so_far: u64) -> bool {
        let mut rules = self.rules.lock().unwrap();
        let Some((at_flow, bytes, count)) = rules.cut_after else { return false };
        if at_flow != flow || so_far < bytes {
            return false;
        }
        rules.cut_after = (count > 1).then_some((at_flow, bytes, count - 1));
        self.cut.fetch_add(1, Ordering::SeqCst);
        true
    }
}

/// A proxy in front of one PostgreSQL cluster: the workers of a test reach the cluster through
/// it (its region's admin URL names the proxy), so it can refuse them as a stopped cluster does,
/// cut a connection mid-stream as a failover or a network drop does, or slow every byte down.
/// Tenants keep reaching the cluster directly.
pub struct PgFaultProxy {
    pub port: u16,
    region: capydb_shared::config::RegionConfig,
    shared: Arc<PgShared>,
    listener: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PgFaultProxy {
    /// A proxy in front of `region`'s cluster (one of the shared stack's), accepting.
    pub async fn start(region: &str) -> PgFaultProxy {
        let region = stack().regions.iter().find(|r| r.name == region).expect("region").clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(PgShared {
            rules: Mutex::default(),
            live: Mutex::default(),
            cut: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        });
        let upstream: SocketAddr = ([127, 0, 0, 1], region.public_port).into();
        let task = tokio::spawn(accept_loop(listener, upstream, shared.clone()));
        PgFaultProxy { port, region, shared, listener: tokio::sync::Mutex::new(Some(task)) }
    }

    /// The region as the code under test sees it: its admin connections (SQL, pg_dump,
    /// pg_restore) go through this proxy.
    pub fn region(&self) -> capydb_shared::config::RegionConfig {
        let mut region = self.region.clone();
        region.admin_url =
            region.admin_url.replace(&format!(":{}/", self.region.public_port), &format!(":{}/", self.port));
        region
    }

    /// `CAPYDB_REGIONS` with this proxy's region in place of the real one.
    pub fn regions_env(&self) -> (&'static str, String) {
        let regions: Vec<_> = stack()
            .regions
            .iter()
            .map(|r| if r.name == self.region.name { self.region() } else { r.clone() })
            .collect();
        ("CAPYDB_REGIONS", serde_json::to_string(&regions).unwrap())
    }

    /// As a stopped cluster: new connections are refused and open ones end (how many it ended).
    pub async fn refuse(&self) -> usize {
        if let Some(task) = self.listener.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
        self.cut_all()
    }

    /// Accepts connections again (on the same port) after [`PgFaultProxy::refuse`].
    pub async fn accept(&self) {
        let mut slot = self.listener.lock().await;
        if slot.is_none() {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("the proxy's port is still free");
            let upstream: SocketAddr = ([127, 0, 0, 1], self.region.public_port).into();
            *slot = Some(tokio::spawn(accept_loop(listener, upstream, self.shared.clone())));
        }
    }

    /// Ends every open connection, as a cluster restart or a network drop does.
    pub fn cut_all(&self) -> usize {
        let live = std::mem::take(&mut *self.shared.live.lock().unwrap());
        live.iter().filter(|c| !c.is_finished()).inspect(|c| c.abort()).count()
    }

    /// Cuts the next `count` connections once `bytes` have flowed `flow` on one of them.
    pub fn cut_after(&self, flow: Flow, bytes: u64, count: usize) {
        self.shared.rules.lock().unwrap().cut_after = Some((flow, bytes, count));
    }

    /// Adds `connect` before each connection reaches the cluster and `chunk` before every
    /// chunk forwarded.
    pub fn delay(&self, connect: Duration, chunk: Duration) {
        let mut rules = self.shared.rules.lock().unwrap();
        (rules.connect_delay, rules.chunk_delay) = (connect, chunk);
    }

    /// No cuts and no delay from now on.
    pub fn clear(&self) {
        *self.shared.rules.lock().unwrap() = PgRules::default();
    }

    /// How many connections the cut rules ended.
    pub fn cut(&self) -> usize {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// How many connections the proxy has taken in.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for PgFaultProxy {
    fn drop(&mut self) {
        if let Some(task) = self.listener.get_mut().take() {
            task.abort();
        }
        self.cut_all();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<PgShared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let connection = tokio::spawn(relay(client, upstream, shared.clone()));
        let mut live = shared.live.lock().unwrap();
        live.retain(|c| !c.is_finished());
        live.push(connection.abort_handle());
    }
}

/// Forwards one connection both ways until either side ends it or a rule cuts it (dropping both
/// sockets: each side sees the other close, as when a server process dies).
async fn relay(client: TcpStream, upstream: SocketAddr, shared: Arc<PgShared>) {
    let delay = shared.rules.lock().unwrap().connect_delay;
    tokio::time::sleep(delay).await;
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    tokio::select! {
        _ = pump(from_client, to_server, Flow::ToServer, &shared) => {}
        _ = pump(from_server, to_client, Flow::ToClient, &shared) => {}
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    flow: Flow,
    shared: &PgShared,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut so_far = 0u64;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let delay = shared.rules.lock().unwrap().chunk_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        to.write_all(&buf[..n]).await?;
        so_far += n as u64;
        if shared.cuts(flow, so_far) {
            return Ok(());
        }
    }
}
