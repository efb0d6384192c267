//! HTTP plumbing shared by the handlers: credentials, JSON bodies with field-level errors,
//! responses, and the mapping of service errors to status codes and stable `code`s.

use capydb_api::{ErrorBody, ErrorCode};
use capydb_shared::auth::{self, Principal};
use capydb_shared::services::idempotency::IdempotencyKey;
use capydb_shared::services::Context;
use capydb_shared::Error;
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use utoipa::PartialSchema;

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
    let code = match err {
        Error::InvalidField { .. } => ErrorCode::InvalidField,
        Error::BadRequest(_) => ErrorCode::BadRequest,
        Error::Unauthenticated(_) => ErrorCode::Unauthenticated,
        Error::Forbidden(_) => ErrorCode::Forbidden,
        Error::NotFound(_) => ErrorCode::NotFound,
        Error::Conflict { .. } => ErrorCode::Conflict,
        Error::IdempotencyMismatch => ErrorCode::IdempotencyKeyReused,
        Error::Unprocessable(_) => ErrorCode::Unprocessable,
        Error::RateLimited { .. } => ErrorCode::RateLimited,
        Error::Store(_) | Error::ObjectStore(_) | Error::DataPlane(_) => ErrorCode::Unavailable,
        Error::SchedulerUnavailable(_) => ErrorCode::SchedulerUnavailable,
        Error::Upstream(_) => ErrorCode::UpstreamUnavailable,
        Error::Internal(_) => ErrorCode::Internal,
    };
    let status = status_of(code);
    // A scheduler outage's message says what state the schedule is in and what to do.
    let message = if status.is_server_error() && !matches!(err, Error::SchedulerUnavailable(_) | Error::Upstream(_)) {
        tracing::error!(error = %err, "request failed");
        "the service could not complete the request; please retry".to_string()
    } else {
        err.to_string()
    };
    let mut response = problem(code, &message, |body| match err {
        Error::InvalidField { field, .. } => body.field = Some(field.clone()),
        Error::Conflict { job_id: Some(job), .. } => body.job_id = Some(job.clone()),
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

/// The HTTP status of an error code, as the contract documents it.
pub fn status_of(code: ErrorCode) -> StatusCode {
    let status = ErrorCode::ALL.iter().find(|(c, _, _)| *c == code).map_or(500, |(_, s, _)| *s);
    StatusCode::from_u16(status).expect("documented statuses are valid")
}

/// An error answer: `{error, code, request_id}` plus what `extra` adds (`field`, `job_id`).
pub fn problem(code: ErrorCode, message: &str, extra: impl FnOnce(&mut ErrorBody)) -> Response<Body> {
    let mut body = ErrorBody {
        error: message.to_string(),
        code,
        field: None,
        request_id: REQUEST_ID.try_with(Clone::clone).ok(),
        job_id: None,
    };
    extra(&mut body);
    respond(status_of(code), &body).expect("error body serializes")
}

/// Largest request body accepted: every request of this API is a small JSON object.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The answer to a body too large (413) or not JSON by its `Content-Type` (415), given before
/// any handler runs; `None` for a body the handler may read.
pub fn refuse_body(req: &Request) -> Option<Response<Body>> {
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Some(problem(
            ErrorCode::PayloadTooLarge,
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
        ErrorCode::UnsupportedMediaType,
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
    auth::authenticate(&*ctx.api_keys, ctx.config.session_secret.as_deref(), token, ctx.clock.now()).await
}

pub fn path_param(req: &Request, name: &str) -> String {
    req.path_parameters_ref().and_then(|p| p.first(name)).unwrap_or_default().to_string()
}

/// A path id parsed into its type. A malformed id names nothing, so it is the same 404 as an
/// unknown one (`{what} not found`), before any service runs.
pub fn path_id<T: std::str::FromStr>(req: &Request, name: &str, what: &str) -> Result<T, Error> {
    path_param(req, name).parse().map_err(|_| Error::not_found(what))
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

/// The request body as its contract type. An empty body reads as `{}`. Every error names the
/// field at fault (an unknown one, a missing one, or one of the wrong type or value) and, from
/// the contract's schema, what the field takes.
pub fn body<T: DeserializeOwned + PartialSchema>(req: &Request) -> Result<T, Error> {
    let bytes = req.body().as_ref();
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Error::BadRequest(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::BadRequest("request body must be a JSON object".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde reports unknown and missing fields at the object, naming the field in backticks.
        let named = message.split('`').nth(1).map(str::to_string);
        let field = match path.as_str() {
            "." => named.clone().unwrap_or_default(),
            p => p.to_string(),
        };
        let expected = message.find(", expected").map(|i| &message[i + ", expected".len()..]);
        let message = if message.starts_with("unknown field") {
            match expected {
                Some(allowed) => format!("unknown field `{field}`; allowed:{allowed}"),
                None => format!("unknown field `{field}`; this body takes no fields"),
            }
        } else if let Some(got) = message.strip_prefix("invalid type: ").and_then(|m| m.split(", expected").next()) {
            let takes = takes::<T>(&field).unwrap_or_else(|| expected.unwrap_or(" a valid value").trim().to_string());
            format!("{field} must be {takes} (got {got})")
        } else if let (true, Some(allowed)) = (message.starts_with("unknown variant"), expected) {
            format!("{field} must be{allowed} (got {})", named.as_deref().map_or("?".into(), |n| format!("`{n}`")))
        } else if path == "." {
            message
        } else {
            format!("{field}: {message}")
        };
        Error::invalid(field, message)
    })
}

/// What a body field takes, in words, from the contract's schema of `T`.
fn takes<T: PartialSchema>(field: &str) -> Option<String> {
    let schema = serde_json::to_value(T::schema()).ok()?;
    let property = schema.get("properties")?.get(field)?;
    let kind = match &property["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null")?.to_string(),
        _ => return None,
    };
    Some(match kind.as_str() {
        "integer" => match (property["minimum"].as_i64(), property["maximum"].as_i64()) {
            (Some(min), Some(max)) => format!("an integer from {min} to {max}"),
            _ => "an integer".into(),
        },
        "boolean" => "true or false".into(),
        "string" => match property["maxLength"].as_u64() {
            Some(max) => format!("a string of at most {max} characters"),
            None => "a string".into(),
        },
        "array" => "a list of strings".into(),
        other => format!("a JSON {other}"),
    })
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
        use capydb_api::backups::BackupCreateRequest;
        use capydb_api::previews::PreviewExtendRequest;
        let field = |e: Error| match e {
            Error::InvalidField { field, message } => (field, message),
            other => panic!("{other:?}"),
        };
        let (f, m) = field(body::<BackupCreateRequest>(&request(r#"{"label": 5}"#)).unwrap_err());
        assert_eq!(
            (f.as_str(), m.as_str()),
            ("label", "label must be a string of at most 200 characters (got integer `5`)")
        );
        let (f, m) = field(body::<BackupCreateRequest>(&request(r#"{"lable": "x"}"#)).unwrap_err());
        assert_eq!(f, "lable");
        assert!(m.contains("allowed: `label`"), "{m}");
        let (f, m) = field(body::<PreviewExtendRequest>(&request("{}")).unwrap_err());
        assert_eq!((f.as_str(), m.as_str()), ("ttl_hours", "missing field `ttl_hours`"));
        let (f, m) = field(body::<PreviewExtendRequest>(&request(r#"{"ttl_hours": 1.5}"#)).unwrap_err());
        assert_eq!(
            (f.as_str(), m.as_str()),
            ("ttl_hours", "ttl_hours must be an integer from 1 to 168 (got floating point `1.5`)")
        );
        let restore = r#"{"target_kind": "production"}"#;
        let (f, m) = field(body::<capydb_api::restores::RestoreCreateRequest>(&request(restore)).unwrap_err());
        assert_eq!(f, "target_kind");
        assert!(m.starts_with("target_kind must be one of `new_preview`, `preview`, `project`"), "{m}");
        let (f, m) = field(body::<capydb_api::Empty>(&request(r#"{"x": 1}"#)).unwrap_err());
        assert_eq!(f, "x");
        assert!(m.contains("takes no fields") || m.contains("allowed"), "{m}");
        assert!(matches!(body::<BackupCreateRequest>(&request("[1]")), Err(Error::BadRequest(_))));
        assert!(matches!(body::<BackupCreateRequest>(&request("{nope")), Err(Error::BadRequest(_))));
        assert_eq!(body::<BackupCreateRequest>(&request("")).unwrap().label, None);
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
