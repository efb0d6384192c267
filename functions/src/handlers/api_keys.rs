use super::paging;
use crate::http::{authenticate, body, idempotency_key, path_id, respond, HttpResult};
use crate::views;
use capydb_api::identity::{ApiKeyCreateRequest, ApiKeyCreated, ApiKeyList, ApiKeyResponse};
use capydb_shared::domain::names::KeyName;
use capydb_shared::domain::scopes::Scope;
use capydb_shared::ids::{ApiKeyId, OrgId};
use capydb_shared::services::api_keys::{self, NewKey};
use capydb_shared::services::Context;
use capydb_shared::Error;
use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::Request;

fn org_of(req: &Request) -> Result<OrgId, Error> {
    path_id(req, "org_id", "organization")
}

pub async fn create(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let org = org_of(&req)?;
    let input: ApiKeyCreateRequest = body(&req)?;
    let name = KeyName::parse(&input.name)?;
    let scopes = Scope::parse_requested(input.scopes.as_deref())?;
    let project_id = input
        .project_id
        .map(|p| p.parse().map_err(|_| Error::invalid("project_id", "project_id must be a project id (prj_…)")))
        .transpose()?;
    let expires_at = input
        .expires_at
        .map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| Error::invalid("expires_at", "expires_at must be an RFC 3339 timestamp"))
        })
        .transpose()?;
    let idem = idempotency_key(&req, &principal)?;
    let new = NewKey { name, scopes, project_id, expires_at };
    let (key, plaintext) = api_keys::create(ctx, &principal, &org, new, idem.as_ref()).await?;
    let api_key = views::api_key(&key, ctx.clock.now());
    respond(StatusCode::CREATED, &ApiKeyCreated { api_key, plaintext_api_key: plaintext })
}

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let org = org_of(&req)?;
    let (limit, cursor) = paging(&req)?;
    let page = api_keys::list(ctx, &principal, &org, limit, cursor.as_ref()).await?;
    let now = ctx.clock.now();
    let (api_keys, next_cursor) = views::page(&page, |k| views::api_key(k, now));
    respond(StatusCode::OK, &ApiKeyList { api_keys, next_cursor })
}

pub async fn revoke(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let org = org_of(&req)?;
    let key = api_keys::revoke(ctx, &principal, &org, &path_id::<ApiKeyId>(&req, "key_id", "API key")?).await?;
    respond(StatusCode::OK, &ApiKeyResponse { api_key: views::api_key(&key, ctx.clock.now()) })
}
