use crate::http::{authenticate, body, path_id, path_param, respond, HttpResult};
use crate::views;
use capydb_api::integrations::{
    IntegrationDeleted, IntegrationList, IntegrationResponse, NetlifyIntegrationRequest, VercelIntegrationRequest,
};
use capydb_api::Empty;
use capydb_shared::domain::integrations::Provider;
use capydb_shared::ids::ProjectId;
use capydb_shared::services::integrations::{self, SetIntegration};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;

pub async fn list(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let items = integrations::list(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?).await?;
    respond(StatusCode::OK, &IntegrationList { integrations: items.iter().map(views::integration).collect() })
}

/// `PUT …/integrations/vercel {"project_id", "team_id"?, "token"}` or
/// `PUT …/integrations/netlify {"site_id", "token"}`.
pub async fn put(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let provider = Provider::parse_field(&path_param(&req, "provider"))?;
    let (target_id, team_id, token) = match provider {
        Provider::Vercel => {
            let input: VercelIntegrationRequest = body(&req)?;
            (input.project_id, input.team_id, input.token)
        }
        Provider::Netlify => {
            let input: NetlifyIntegrationRequest = body(&req)?;
            (input.site_id, None, input.token)
        }
    };
    let set = SetIntegration { target_id, team_id, token };
    let (integration, created) =
        integrations::set(ctx, &principal, &path_id::<ProjectId>(&req, "project_id", "project")?, provider, set)
            .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    respond(status, &IntegrationResponse { integration: views::integration(&integration) })
}

pub async fn delete(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let integration = integrations::remove(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        Provider::parse_field(&path_param(&req, "provider"))?,
    )
    .await?;
    respond(StatusCode::OK, &IntegrationDeleted { integration: views::integration(&integration), deleted: true })
}

pub async fn sync(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    body::<Empty>(&req)?;
    let integration = integrations::sync(
        ctx,
        &principal,
        &path_id::<ProjectId>(&req, "project_id", "project")?,
        Provider::parse_field(&path_param(&req, "provider"))?,
    )
    .await?;
    respond(StatusCode::OK, &IntegrationResponse { integration: views::integration(&integration) })
}
