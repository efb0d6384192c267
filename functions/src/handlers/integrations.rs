use crate::http::{authenticate, path_param, respond, HttpResult, JsonBody};
use crate::views;
use capydb_shared::domain::integrations::Provider;
use capydb_shared::services::integrations::{self, parse_provider, target_field, SetIntegration};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let items = integrations::list(ctx, &principal, &path_param(&req, "project_id")).await?;
    respond(StatusCode::OK, &json!({ "integrations": items.iter().map(views::integration).collect::<Vec<_>>() }))
}

/// `PUT …/integrations/vercel {"project_id", "team_id"?, "token"}` or
/// `PUT …/integrations/netlify {"site_id", "token"}`.
pub async fn put(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let raw_provider = path_param(&req, "provider");
    let provider = parse_provider(&raw_provider)?;
    let field = target_field(provider);
    let allowed: &[&str] = match provider {
        Provider::Vercel => &["project_id", "team_id", "token"],
        Provider::Netlify => &["site_id", "token"],
    };
    let body = JsonBody::parse(&req, allowed)?;
    let set = SetIntegration {
        target_field: field,
        target_id: body.str(field)?.to_string(),
        team_id: body.opt_str("team_id")?.map(str::to_string),
        token: body.str("token")?.to_string(),
    };
    let (integration, created) =
        integrations::set(ctx, &principal, &path_param(&req, "project_id"), &raw_provider, set).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    respond(status, &json!({ "integration": views::integration(&integration) }))
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let integration =
        integrations::remove(ctx, &principal, &path_param(&req, "project_id"), &path_param(&req, "provider")).await?;
    respond(StatusCode::OK, &json!({ "integration": views::integration(&integration), "deleted": true }))
}

pub async fn sync(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    JsonBody::parse(&req, &[])?;
    let integration =
        integrations::sync(ctx, &principal, &path_param(&req, "project_id"), &path_param(&req, "provider")).await?;
    respond(StatusCode::OK, &json!({ "integration": views::integration(&integration) }))
}
