use crate::http::{authenticate, respond, HttpResult};
use capydb_shared::auth::{Credential, OrgRole};
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;

/// Who is calling: how a client finds its organisation, and what its credential may do.
pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let body = match &principal.credential {
        Credential::ApiKey { key_id, scopes, project_id } => json!({
            "organization_id": principal.org_id, "credential_type": "api_key", "api_key_id": key_id,
            "role": null, "scopes": scopes, "project_id": project_id,
        }),
        Credential::Session { user_id, role } => json!({
            "organization_id": principal.org_id, "credential_type": "session", "user_id": user_id,
            "role": match role { OrgRole::Admin => "admin", OrgRole::Member => "member" },
            "scopes": capydb_shared::domain::scopes::Scope::ALL, "project_id": null,
        }),
    };
    respond(StatusCode::OK, &body)
}
