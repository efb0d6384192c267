//! HTTP plumbing shared by the handlers: credentials, JSON bodies with field-level errors,
//! responses, and the mapping of service errors to status codes and stable `code`s.

use capydb_shared::auth::{self, Principal};
use capydb_shared::services::idempotency::IdempotencyKey;
use capydb_shared::services::Context;
use capydb_shared::Error;
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

pub type HttpResult = Result<Response<Body>, Error>;

pub fn respond<T: Serialize>(status: StatusCode, body: &T) -> HttpResult {
    let bytes = serde_json::to_vec(body).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .expect("static response parts are valid"))
}

/// Status and stable code for an error. 5xx messages are generic: details go to the log only.
pub fn error_response(err: &Error) -> Response<Body> {
    let (status, code) = match err {
        Error::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
        Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
        Error::IdempotencyMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
        Error::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::Store(_) | Error::ObjectStore(_) | Error::DataPlane(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        Error::SchedulerUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "scheduler_unavailable"),
        Error::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_unavailable"),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    // A scheduler outage's message says what state the schedule is in and what to do.
    let message = if status.is_server_error() && !matches!(err, Error::SchedulerUnavailable(_) | Error::Upstream(_)) {
        tracing::error!(error = %err, "request failed");
        "the service could not complete the request; please retry".to_string()
    } else {
        err.to_string()
    };
    let mut response = problem(status, code, &message, |body| match err {
        Error::InvalidField { field, .. } => body["field"] = json!(field),
        Error::Conflict { job_id: Some(job), .. } => body["job_id"] = json!(job),
        _ => {}
    });
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert("www-authenticate", "Bearer".parse().expect("static header"));
    }
    if let Error::RateLimited { retry_after_seconds, .. } = err {
        response.headers_mut().insert("retry-after", (*retry_after_seconds).into());
    }
    response
}

tokio::task_local! {
    /// The id of the request being answered, for its error body and log lines.
    static REQUEST_ID: String;
}

/// A request's id: API Gateway's own where there is one (so its access log and ours agree),
/// else a fresh `req_…`. It is sent back as `X-Request-Id`, carried in every error body, and on
/// every log line of the request.
pub struct RequestScope {
    id: String,
    span: tracing::Span,
}

impl RequestScope {
    pub fn of(req: &Request) -> Self {
        Self::with_id(gateway_request_id(req), req.method().as_str(), req.uri().path())
    }

    /// For an answer given before there is a Lambda request (the local front's own 404 and 413).
    pub fn with_id(id: Option<String>, method: &str, path: &str) -> Self {
        let id = id.unwrap_or_else(|| format!("req_{}", ulid::Ulid::new().to_string().to_lowercase()));
        let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
        RequestScope { id, span }
    }

    pub async fn answer(self, handle: impl std::future::Future<Output = Response<Body>>) -> Response<Body> {
        let started = std::time::Instant::now();
        let mut response =
            REQUEST_ID.scope(self.id.clone(), tracing::Instrument::instrument(handle, self.span.clone())).await;
        self.span.in_scope(|| {
            tracing::info!(status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "answered")
        });
        if let Ok(value) = self.id.parse() {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}

fn gateway_request_id(req: &Request) -> Option<String> {
    let id = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(c) => c.request_id.clone()?,
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())).then_some(id)
}

/// An error answer: `{error, code, request_id}` plus what `extra` adds (`field`, `job_id`).
pub fn problem(status: StatusCode, code: &str, message: &str, extra: impl FnOnce(&mut Value)) -> Response<Body> {
    let mut body = json!({ "error": message, "code": code });
    if let Ok(id) = REQUEST_ID.try_with(Clone::clone) {
        body["request_id"] = json!(id);
    }
    extra(&mut body);
    respond(status, &body).expect("error body serializes")
}

/// Largest request body accepted: every request of this API is a small JSON object.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The answer to a body too large (413) or not JSON by its `Content-Type` (415), given before
/// any handler runs; `None` for a body the handler may read.
pub fn refuse_body(req: &Request) -> Option<Response<Body>> {
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Some(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the request body is {} bytes; at most {MAX_BODY_BYTES} are accepted", body.len()),
            |_| {},
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" {
        return None;
    }
    let got = if content_type.is_empty() { "no Content-Type".to_string() } else { format!("`{content_type}`") };
    Some(problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        &format!("request bodies must be JSON with `Content-Type: application/json` (got {got})"),
        |_| {},
    ))
}

/// `Authorization: Bearer <token>` or `X-API-Key: <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

pub async fn authenticate(ctx: &Context, req: &Request) -> Result<Principal, Error> {
    let token = bearer_token(req.headers())
        .ok_or_else(|| Error::Unauthenticated("missing credentials: send `Authorization: Bearer <API key>`".into()))?;
    auth::authenticate(&ctx.repo, ctx.config.session_secret.as_deref(), token, ctx.clock.now()).await
}

pub fn path_param(req: &Request, name: &str) -> String {
    req.path_parameters_ref().and_then(|p| p.first(name)).unwrap_or_default().to_string()
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_string)
}

/// The `Idempotency-Key` of a POST, bound to the caller's org, the route and the raw body.
pub fn idempotency_key(req: &Request, principal: &Principal) -> Result<Option<IdempotencyKey>, Error> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw.to_str().map_err(|_| Error::invalid("Idempotency-Key", "Idempotency-Key must be visible ASCII"))?;
    let request = format!("{} {}", req.method(), req.uri().path());
    IdempotencyKey::new(&principal.org_id, key, &request, req.body().as_ref()).map(Some)
}

/// A JSON object body whose fields are read one by one, so every error names its field.
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    /// Parses the body; an empty body counts as `{}`. Fields outside `allowed` are refused.
    pub fn parse(req: &Request, allowed: &[&str]) -> Result<Self, Error> {
        let bytes = req.body().as_ref();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Map::new()));
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::BadRequest(format!("request body is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::BadRequest("request body must be a JSON object".into()));
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::invalid(
                unknown.clone(),
                format!("unknown field `{unknown}`; allowed: {}", allowed.join(", ")),
            ));
        }
        Ok(JsonBody(map))
    }

    /// Whether the body names `field` at all (null included): for PATCH, where null clears.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<&str>, Error> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid(field, format!("{field} must be a string"))),
        }
    }

    pub fn str(&self, field: &str) -> Result<&str, Error> {
        self.opt_str(field)?.ok_or_else(|| Error::invalid(field, format!("{field} is required")))
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, Error> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid(field, format!("{field} must be true or false"))),
        }
    }

    /// An integer field; `range` is only for the message of a wrong type.
    pub fn opt_int(&self, field: &str, range: &str) -> Result<Option<i64>, Error> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(_) => Err(Error::invalid(field, format!("{field} must be an integer from {range}"))),
        }
    }

    pub fn opt_str_list(&self, field: &str) -> Result<Option<Vec<&str>>, Error> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| Error::invalid(field, format!("{field} must be a list of strings"))))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(Error::invalid(field, format!("{field} must be a list of strings"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn request(body: &str) -> Request {
        http::Request::builder().method("POST").uri("/v1/x").body(Body::from(body.to_string())).unwrap()
    }

    fn typed(body: &str, content_type: Option<&str>) -> Request {
        let mut req = request(body);
        if let Some(ct) = content_type {
            req.headers_mut().insert("content-type", ct.parse().unwrap());
        }
        req
    }

    #[test]
    fn only_json_bodies_within_the_limit_reach_a_handler() {
        let status = |req: Request| refuse_body(&req).map(|r| r.status().as_u16());
        assert_eq!(status(typed("", None)), None, "no body needs no type");
        assert_eq!(status(typed("{}", Some("application/json"))), None);
        assert_eq!(status(typed("{}", Some("Application/JSON; charset=utf-8"))), None);
        assert_eq!(status(typed("{}", None)), Some(415));
        assert_eq!(status(typed("{}", Some("text/plain"))), Some(415));
        assert_eq!(status(typed("{}", Some("application/jsonx"))), Some(415));
        let big = format!("{{\"label\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(status(typed(&big, Some("application/json"))), Some(413));
    }

    #[test]
    fn bearer_and_api_key_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert("x-api-key", "capy_live_x".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("capy_live_x"));
        h.insert("authorization", "Bearer capy_live_y".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("capy_live_y"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn body_errors_name_the_field() {
        let field = |e: Error| match e {
            Error::InvalidField { field, .. } => field,
            other => panic!("{other:?}"),
        };
        let b = JsonBody::parse(&request(r#"{"label": 5}"#), &["label"]).unwrap();
        assert_eq!(field(b.opt_str("label").unwrap_err()), "label");
        assert_eq!(field(JsonBody::parse(&request(r#"{"lable": "x"}"#), &["label"]).err().unwrap()), "lable");
        assert!(matches!(JsonBody::parse(&request("[1]"), &[]), Err(Error::BadRequest(_))));
        assert!(matches!(JsonBody::parse(&request("{nope"), &[]), Err(Error::BadRequest(_))));
        assert!(JsonBody::parse(&request(""), &["label"]).unwrap().opt_str("label").unwrap().is_none());
    }

    #[test]
    fn server_errors_do_not_leak_details_and_client_errors_carry_codes() {
        let r = error_response(&Error::Internal("secret detail".into()));
        assert_eq!(r.status(), 500);
        let body = String::from_utf8(r.body().to_vec()).unwrap();
        assert!(!body.contains("secret detail"), "{body}");
        let r = error_response(&Error::invalid("label", "label must be at most 200 characters"));
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!((v["code"].as_str(), v["field"].as_str()), (Some("invalid_field"), Some("label")));
    }
}
