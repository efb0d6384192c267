//! The HTTP front: turns each request under `/v1` into the `lambda_http::Request` API Gateway
//! would send (path and query parameters included) and calls the route's handler. Every other
//! path is the dashboard, served from its built files, so it shares the API's origin exactly as
//! CloudFront arranges it in a deployment (no CORS anywhere).

use crate::http::{error_response, problem, RequestScope};
use crate::routes::{dispatch, resolve, NoRoute};
use axum::body::Body as AxumBody;
use axum::extract::{Request as AxumRequest, State};
use axum::response::Response as AxumResponse;
use capydb_shared::services::Context;
use capydb_shared::Error;
use lambda_http::{Body, RequestExt, Response};
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// API Gateway's payload limit for Lambda integrations.
const MAX_BODY: usize = 6 * 1024 * 1024;

pub async fn serve(listener: TcpListener, ctx: Context, dashboard: Option<PathBuf>, cancel: CancellationToken) {
    let app = axum::Router::new()
        .nest(super::providers::PREFIX, super::providers::router())
        .fallback(move |State(ctx): State<Context>, req: AxumRequest| {
            let dashboard = dashboard.clone();
            async move {
                // Everything under /v1 is the API's to answer (its 404s included), as the
                // distribution's `/v1/*` behavior sends it there.
                let path = req.uri().path();
                if path == "/v1" || path.starts_with("/v1/") {
                    handle(State(ctx), req).await
                } else {
                    super::dashboard::serve(dashboard, req).await
                }
            }
        })
        .with_state(ctx);
    let shutdown = async move { cancel.cancelled().await };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "local API server stopped");
    }
}

async fn handle(State(ctx): State<Context>, req: AxumRequest) -> AxumResponse {
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let response = match to_lambda(req).await {
        Ok((route, request)) => dispatch(route, &ctx, request).await,
        Err(refused) => RequestScope::with_id(None, &method, &path).answer(async { refused() }).await,
    };
    let (parts, body) = response.into_parts();
    AxumResponse::from_parts(parts, AxumBody::from(body.to_vec()))
}

/// What the front answers itself, as API Gateway would, built inside the request's scope.
type Refusal = Box<dyn FnOnce() -> Response<Body> + Send>;

async fn to_lambda(req: AxumRequest) -> Result<(crate::routes::RouteId, lambda_http::Request), Refusal> {
    let (parts, body) = req.into_parts();
    let (route, params) = match resolve(parts.method.as_str(), parts.uri.path()) {
        Ok(found) => found,
        // API Gateway answers unmatched routes with 404 whatever the method.
        Err(NoRoute::MethodNotAllowed) => {
            let e = Error::NotFound(format!("{} on {}", parts.method, parts.uri.path()));
            return Err(Box::new(move || error_response(&e)));
        }
        Err(NoRoute::UnknownPath) => {
            let e = Error::not_found(format!("route {}", parts.uri.path()));
            return Err(Box::new(move || error_response(&e)));
        }
    };
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| -> Refusal {
        Box::new(|| {
            problem(
                capydb_api::ErrorCode::PayloadTooLarge,
                &format!("the request body exceeds {MAX_BODY} bytes"),
                |_| {},
            )
        })
    })?;
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        query.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    let request = lambda_http::http::Request::from_parts(parts, body)
        .with_path_parameters(params.into_iter().collect::<HashMap<String, String>>())
        .with_query_string_parameters(query);
    Ok((route.id, request))
}
