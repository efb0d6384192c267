use crate::http::{authenticate, respond, HttpResult};
use capydb_api::identity::{CredentialType, Me, OrgRole};
use capydb_shared::auth::{self, Credential};
use capydb_shared::domain::scopes::Scope;
use capydb_shared::services::Context;
use lambda_http::http::StatusCode;
use lambda_http::Request;

/// Who is calling: how a client finds its organisation, and what its credential may do.
pub async fn get(ctx: &Context, req: Request) -> HttpResult {
    let principal = authenticate(ctx, &req).await?;
    let names = |scopes: &[Scope]| scopes.iter().map(|s| s.as_str().to_string()).collect();
    let me = match &principal.credential {
        Credential::ApiKey { key_id, scopes, project_id } => Me {
            organization_id: principal.org_id.to_string(),
            credential_type: CredentialType::ApiKey,
            api_key_id: Some(key_id.to_string()),
            user_id: None,
            role: None,
            scopes: names(scopes),
            project_id: project_id.as_ref().map(ToString::to_string),
        },
        Credential::Session { user_id, role } => Me {
            organization_id: principal.org_id.to_string(),
            credential_type: CredentialType::Session,
            api_key_id: None,
            user_id: Some(user_id.clone()),
            role: Some(match role {
                auth::OrgRole::Admin => OrgRole::Admin,
                auth::OrgRole::Member => OrgRole::Member,
            }),
            scopes: names(&Scope::ALL),
            project_id: None,
        },
    };
    respond(StatusCode::OK, &me)
}
