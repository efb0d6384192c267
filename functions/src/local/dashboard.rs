//! The built dashboard (`dashboard/dist`), served the way the deployment's CloudFront serves it:
//! hashed assets as files, every other path as `index.html` (the app routes in the browser),
//! with the same security headers as the distribution's response-headers policy.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Same as `DashboardHeadersPolicy` in template.yaml: the app loads nothing from anywhere else,
/// talks only to its own origin and cannot be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub async fn serve(dir: Option<PathBuf>, req: Request) -> Response {
    let Some(dir) = dir.filter(|d| d.join("index.html").is_file()) else {
        return (
            StatusCode::NOT_FOUND,
            "The dashboard is not built here: `make dev` builds it (npm ci && npm run build in dashboard/).\n",
        )
            .into_response();
    };
    let asset = req.uri().path().rsplit('/').next().is_some_and(|last| last.contains('.'));
    let mut response = if asset {
        match ServeDir::new(&dir).oneshot(req).await {
            Ok(r) => r.map(Body::new),
            Err(never) => match never {},
        }
    } else {
        match ServeFile::new(dir.join("index.html")).oneshot(req).await {
            Ok(r) => r.map(Body::new),
            Err(never) => match never {},
        }
    };
    let headers = response.headers_mut();
    let cache = if asset { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
