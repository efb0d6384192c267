//! API keys `capy_live_…`: shown once, stored only as their SHA-256.

use super::scopes::Scope;
use crate::ids::{ApiKeyId, OrgId, ProjectId};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "capy_live_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    /// The first characters of the key, so people can tell keys apart.
    pub display_prefix: String,
    pub scopes: Vec<Scope>,
    pub project_id: Option<ProjectId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The key that created this one: it stops working when any key above it is revoked or
    /// expires, and never expires later than it.
    #[serde(default)]
    pub parent_key_id: Option<ApiKeyId>,
    /// When it last authenticated a request, to the minute: a key nobody uses can go.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A child key's expiry: what was asked for, but never later than its parent's.
pub fn capped_expiry(requested: Option<DateTime<Utc>>, parent: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (requested, parent) {
        (Some(r), Some(p)) => Some(r.min(p)),
        (r, None) => r,
        (None, p) => p,
    }
}

impl ApiKey {
    pub fn is_usable(&self, now: DateTime<Utc>) -> Result<(), &'static str> {
        if self.revoked_at.is_some() {
            return Err("API key has been revoked");
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err("API key has expired");
        }
        Ok(())
    }
}

/// A fresh key: 32 random bytes, hex-encoded after the `capy_live_` prefix.
pub fn generate_plaintext() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

pub fn hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

pub fn display_prefix(plaintext: &str) -> String {
    plaintext.chars().take(PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_key_never_expires_after_its_parent() {
        let now = Utc::now();
        let (soon, later) = (Some(now + chrono::Duration::hours(1)), Some(now + chrono::Duration::days(9)));
        assert_eq!(capped_expiry(None, soon), soon);
        assert_eq!(capped_expiry(later, soon), soon);
        assert_eq!(capped_expiry(soon, later), soon);
        assert_eq!(capped_expiry(later, None), later);
        assert_eq!(capped_expiry(None, None), None);
    }
    use chrono::Duration;

    fn key(now: DateTime<Utc>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::generate(),
            org_id: OrgId::generate(),
            name: "ci".into(),
            display_prefix: "capy_live_abcdef".into(),
            scopes: vec![Scope::BackupsRead],
            project_id: None,
            expires_at: Some(now + Duration::hours(1)),
            revoked_at: None,
            parent_key_id: None,
            last_used_at: None,
            created_at: now,
        }
    }

    #[test]
    fn keys_are_unique_prefixed_and_hash_deterministically() {
        let a = generate_plaintext();
        let b = generate_plaintext();
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(display_prefix(&a).len(), PREFIX.len() + 6);
    }

    #[test]
    fn expired_and_revoked_keys_are_unusable() {
        let now = Utc::now();
        let mut k = key(now);
        assert!(k.is_usable(now).is_ok());
        assert_eq!(k.is_usable(now + Duration::hours(2)), Err("API key has expired"));
        k.revoked_at = Some(now);
        assert_eq!(k.is_usable(now), Err("API key has been revoked"));
    }
}
