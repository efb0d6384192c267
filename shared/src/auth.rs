//! Who is calling, and what they may touch. API keys are looked up by hash; human sessions are
//! JWTs signed by CapyDB's identity provider (HS256 with a shared secret).
//!
//! Rules: everything outside the caller's org, or outside a project-scoped key's project, is
//! reported as not found (no existence leak). Scopes limit API keys; sessions carry every
//! scope, but key management needs the `admin` org role.

use crate::domain::api_keys;
use crate::domain::projects::Project;
use crate::domain::scopes::Scope;
use crate::ids::{ApiKeyId, OrgId, ProjectId};
use crate::store::ApiKeyStore;
use crate::Error;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Admin,
    Member,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    ApiKey { key_id: ApiKeyId, scopes: Vec<Scope>, project_id: Option<ProjectId> },
    Session { user_id: String, role: OrgRole },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub org_id: OrgId,
    pub credential: Credential,
}

impl Principal {
    pub fn has_scope(&self, scope: Scope) -> bool {
        match &self.credential {
            Credential::ApiKey { scopes, .. } => scopes.contains(&scope),
            Credential::Session { .. } => true,
        }
    }

    pub fn require_scope(&self, scope: Scope) -> Result<(), Error> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("this API key lacks the `{scope}` scope")))
        }
    }

    /// The org in a path must be the caller's own; any other is "not found".
    pub fn require_org(&self, org: &OrgId) -> Result<(), Error> {
        if &self.org_id == org {
            Ok(())
        } else {
            Err(Error::not_found("organization"))
        }
    }

    pub fn project_restriction(&self) -> Option<&ProjectId> {
        match &self.credential {
            Credential::ApiKey { project_id, .. } => project_id.as_ref(),
            Credential::Session { .. } => None,
        }
    }

    pub fn can_see_project(&self, project: &Project) -> bool {
        project.org_id == self.org_id && self.project_restriction().is_none_or(|p| p == &project.id)
    }

    /// Org-level administration (API keys, webhooks): not for project-scoped keys, and with a
    /// session only for org admins.
    /// Who this is, as records name them: `api_key:<id>` or `user:<id>`.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
            Credential::Session { user_id, .. } => format!("user:{user_id}"),
        }
    }

    /// A signed-in organization member (not an admin).
    pub fn is_member_session(&self) -> bool {
        matches!(self.credential, Credential::Session { role: OrgRole::Member, .. })
    }

    pub fn require_org_admin(&self, scope: Scope) -> Result<(), Error> {
        match &self.credential {
            Credential::ApiKey { project_id: Some(_), .. } => {
                Err(Error::Forbidden("a project-scoped API key cannot manage the organization".into()))
            }
            Credential::ApiKey { .. } => self.require_scope(scope),
            Credential::Session { role: OrgRole::Admin, .. } => Ok(()),
            Credential::Session { .. } => {
                Err(Error::Forbidden("this action needs the organization `admin` role".into()))
            }
        }
    }
}

/// Claims of a human session token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub sub: String,
    pub org_id: String,
    pub org_role: OrgRole,
    pub exp: i64,
}

pub fn sign_session(claims: &SessionClaims, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()))
        .expect("HS256 signing with an in-memory key cannot fail")
}

pub fn verify_session(token: &str, secret: &str) -> Result<SessionClaims, Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 30;
    validation.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<SessionClaims>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Error::Unauthenticated("session token has expired".into())
            }
            _ => Error::Unauthenticated("session token is not valid".into()),
        })
}

/// How many keys above a key are checked; deeper chains are not made in practice.
const MAX_KEY_DEPTH: usize = 16;

/// Resolves a bearer token to a principal.
pub async fn authenticate(
    store: &dyn ApiKeyStore,
    session_secret: Option<&str>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, Error> {
    if token.starts_with(api_keys::PREFIX) {
        let hash = api_keys::hash(token);
        let key = store
            .get_api_key_by_hash(&hash)
            .await?
            .ok_or_else(|| Error::Unauthenticated("API key is not valid".into()))?;
        key.is_usable(now).map_err(|m| Error::Unauthenticated(m.into()))?;
        // Every key above it must still be usable: revoking a key revokes what it created.
        let mut parent = key.parent_key_id.clone();
        for _ in 0..MAX_KEY_DEPTH {
            let Some(id) = parent else { break };
            let above = store.get_api_key(&key.org_id, &id).await?;
            match above.filter(|k| k.is_usable(now).is_ok()) {
                Some(k) => parent = k.parent_key_id,
                None => {
                    return Err(Error::Unauthenticated(
                        "API key is not valid: the key that created it was revoked or has expired".into(),
                    ))
                }
            }
        }
        // To the minute is enough to tell a used key from a forgotten one, and costs one write
        // a minute per key rather than one per request.
        if key.last_used_at.is_none_or(|t| now - t >= chrono::Duration::seconds(60)) {
            if let Err(e) = store.touch_api_key(&key, &hash, now).await {
                tracing::warn!(key_id = %key.id, error = %e, "could not record when the API key was used");
            }
        }
        return Ok(Principal {
            org_id: key.org_id,
            credential: Credential::ApiKey { key_id: key.id, scopes: key.scopes, project_id: key.project_id },
        });
    }
    let secret = session_secret.ok_or_else(|| Error::Unauthenticated("credentials are not valid".into()))?;
    let claims = verify_session(token, secret)?;
    let org_id = claims
        .org_id
        .parse()
        .map_err(|_| Error::Unauthenticated("session token names no valid organization".into()))?;
    Ok(Principal { org_id, credential: Credential::Session { user_id: claims.sub, role: claims.org_role } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: OrgRole, exp: i64) -> SessionClaims {
        SessionClaims { sub: "usr_1".into(), org_id: OrgId::generate().to_string(), org_role: role, exp }
    }

    #[test]
    fn session_round_trip_and_tampering() {
        let c = claims(OrgRole::Admin, Utc::now().timestamp() + 600);
        let token = sign_session(&c, "s3cret");
        assert_eq!(verify_session(&token, "s3cret").unwrap(), c);
        assert!(matches!(verify_session(&token, "other"), Err(Error::Unauthenticated(_))));
        let mut tampered = token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(verify_session(&tampered, "s3cret").is_err());
    }

    #[test]
    fn expired_session_is_refused_with_a_reason() {
        let token = sign_session(&claims(OrgRole::Member, Utc::now().timestamp() - 3600), "s3cret");
        match verify_session(&token, "s3cret") {
            Err(Error::Unauthenticated(m)) => assert!(m.contains("expired"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scopes_org_and_project_restrictions() {
        let org = OrgId::generate();
        let prj = ProjectId::generate();
        let key = Principal {
            org_id: org.clone(),
            credential: Credential::ApiKey {
                key_id: ApiKeyId::generate(),
                scopes: vec![Scope::BackupsRead],
                project_id: Some(prj.clone()),
            },
        };
        assert!(key.require_scope(Scope::BackupsRead).is_ok());
        assert!(matches!(key.require_scope(Scope::BackupsWrite), Err(Error::Forbidden(_))));
        assert!(matches!(key.require_org(&OrgId::generate()), Err(Error::NotFound(_))));
        assert!(matches!(key.require_org_admin(Scope::ApiKeysWrite), Err(Error::Forbidden(_))));
        let member =
            Principal { org_id: org, credential: Credential::Session { user_id: "u".into(), role: OrgRole::Member } };
        assert!(member.require_scope(Scope::BackupsWrite).is_ok());
        assert!(matches!(member.require_org_admin(Scope::ApiKeysWrite), Err(Error::Forbidden(_))));
    }
}
