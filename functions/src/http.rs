//! HTTP plumbing shared by the handlers: credentials, JSON bodies with field-level errors,
//! responses, and the mapping of service errors to status codes and stable `code`s.

use capydb_shared::auth::{self, Principal};
use capydb_shared::services::idempotency::IdempotencyKey;
use capydb_shared::services::Context;
use capydb_shared::Error;
use lambda_http::http::{HeaderMap, StatusCode};
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
    let mut body = json!({ "error": message, "code": code });
    match err {
        Error::InvalidField { field, .. } => body["field"] = json!(field),
        Error::Conflict { job_id: Some(job), .. } => body["job_id"] = json!(job),
        _ => {}
    }
    let mut response = respond(status, &body).expect("error body serializes");
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert("www-authenticate", "Bearer".parse().expect("static header"));
    }
    if let Error::RateLimited { retry_after_seconds, .. } = err {
        response.headers_mut().insert("retry-after", (*retry_after_seconds).into());
    }
    response
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
