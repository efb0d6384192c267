//! `Idempotency-Key`: the first request's result is replayed for a retry with the same key and
//! body; the same key with another body is refused.

use crate::ids::OrgId;
use crate::store::{IdempotencyRecord, IdempotencyStore};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    scope: String,
    request_hash: String,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// `request` identifies the operation (method and path); `body` is the raw request body.
    pub fn new(org: &OrgId, key: &str, request: &str, body: &[u8]) -> Result<Self, Error> {
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::invalid(
                "Idempotency-Key",
                format!("Idempotency-Key must be 1 to {} visible ASCII characters", Self::MAX_LEN),
            ));
        }
        let mut h = Sha256::new();
        h.update(request.as_bytes());
        h.update([0]);
        h.update(body);
        Ok(IdempotencyKey { scope: format!("{org}#{key}"), request_hash: hex::encode(h.finalize()) })
    }

    pub fn record<T: Serialize>(&self, result: &T, now: DateTime<Utc>) -> IdempotencyRecord {
        IdempotencyRecord::new(
            self.scope.clone(),
            self.request_hash.clone(),
            serde_json::to_string(result).expect("ids serialize"),
            now,
        )
    }

    /// The first request's result, if this key was used before with the same request.
    pub async fn previous<T: DeserializeOwned>(&self, store: &dyn IdempotencyStore) -> Result<Option<T>, Error> {
        let Some(record) = store.get_idempotency(&self.scope).await? else {
            return Ok(None);
        };
        if record.request_hash != self.request_hash {
            return Err(Error::IdempotencyMismatch);
        }
        serde_json::from_str(&record.result).map(Some).map_err(|e| Error::Internal(format!("idempotency record: {e}")))
    }
}

/// What to do with a POST that carries an `Idempotency-Key` and has no transaction of its own
/// to record it in.
pub enum Replay {
    /// First time: run it, then [`finish_response`].
    Run,
    /// Answered before: send this again.
    Respond { status: u16, body: Vec<u8> },
    /// The first request with this key is still running.
    InProgress,
}

pub async fn begin_response(ctx: &super::Context, key: &IdempotencyKey) -> Result<Replay, Error> {
    let stored = match ctx.idempotency.reserve_response(&key.scope, &key.request_hash, ctx.clock.now()).await? {
        Ok(()) => return Ok(Replay::Run),
        Err(stored) => stored,
    };
    if stored.request_hash != key.request_hash {
        return Err(Error::IdempotencyMismatch);
    }
    match (stored.status, stored.body_enc) {
        (Some(status), Some(body)) => {
            let body = ctx.secrets.open(&body).map_err(|e| Error::Internal(format!("idempotent response: {e}")))?;
            Ok(Replay::Respond { status, body: body.into_bytes() })
        }
        _ => Ok(Replay::InProgress),
    }
}

/// Keeps the answer for retries (sealed: it may show a secret once), or, for a failure on our
/// side (5xx), forgets the key so that a retry runs again.
pub async fn finish_response(
    ctx: &super::Context,
    key: &IdempotencyKey,
    status: u16,
    body: &[u8],
) -> Result<(), Error> {
    if status >= 500 {
        return Ok(ctx.idempotency.release_response(&key.scope).await?);
    }
    let record = crate::store::StoredResponse {
        scope: key.scope.clone(),
        request_hash: key.request_hash.clone(),
        status: Some(status),
        body_enc: Some(ctx.secrets.seal(&String::from_utf8_lossy(body))),
        created_at: ctx.clock.now(),
        expires_at_epoch: 0,
    };
    Ok(ctx.idempotency.complete_response(record).await?)
}

/// After a write lost the race for `key` to an identical request, the winner's result.
pub async fn winner<T: DeserializeOwned>(
    key: Option<&IdempotencyKey>,
    store: &dyn IdempotencyStore,
) -> Result<T, Error> {
    let key = key.ok_or_else(|| Error::Internal("idempotency conflict without a key".into()))?;
    key.previous(store).await?.ok_or_else(|| Error::Internal("idempotency record vanished".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_request_same_hash_other_body_other_hash() {
        let org = OrgId::generate();
        let a = IdempotencyKey::new(&org, "k1", "POST /v1/x", b"{}").unwrap();
        let b = IdempotencyKey::new(&org, "k1", "POST /v1/x", b"{}").unwrap();
        let c = IdempotencyKey::new(&org, "k1", "POST /v1/x", b"{\"label\":1}").unwrap();
        assert_eq!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
    }

    #[test]
    fn key_format_is_checked() {
        let org = OrgId::generate();
        assert!(IdempotencyKey::new(&org, "", "r", b"").is_err());
        assert!(IdempotencyKey::new(&org, "has space", "r", b"").is_err());
        assert!(IdempotencyKey::new(&org, &"k".repeat(256), "r", b"").is_err());
    }
}
