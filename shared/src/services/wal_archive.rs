//! The WAL archive in object storage: what the archive helper does for PostgreSQL's
//! `archive_command` (push) and `restore_command` (fetch), and the listing the window and the
//! sweeps read. Files are stored zstd-compressed at `wal/<region>/<file>.zst`, with the SHA-256
//! of the original bytes in the object's metadata.

use crate::domain::wal::{Archived, Segment};
use crate::ports::{ObjectStore, ObjectStoreError};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncReadExt;

/// The helper's config file: where the archive is. Written by `infra/cluster.sh` (from
/// `CAPYDB_WAL_CONFIG`) for a cluster, by the restore worker for a recovery instance.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HelperConfig {
    pub bucket: String,
    /// The region cluster whose archive this is (`wal/<region>/`).
    pub region: String,
    pub aws_region: String,
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Local stacks only: the bucket may not exist yet when the cluster starts archiving.
    #[serde(default)]
    pub create_bucket: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{name} is already archived with different contents (sha256 {stored}, this file {ours}); refusing to overwrite it")]
    Conflict { name: String, stored: String, ours: String },
    #[error("{0} is not a WAL file name")]
    BadName(String),
    #[error("archived {name} is corrupt: {why}")]
    Corrupt { name: String, why: String },
    #[error("object storage: {0}")]
    Store(#[from] ObjectStoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    /// The same bytes were archived before (PostgreSQL retries after a crash): success.
    AlreadyThere,
}

pub fn prefix(region: &str) -> String {
    format!("wal/{region}/")
}

fn key(region: &str, name: &str) -> String {
    format!("{}{name}.zst", prefix(region))
}

/// File names PostgreSQL archives: segments, timeline histories, backup labels.
fn valid_name(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or_default();
    (Segment::parse(name).is_some()
        || name.ends_with(".history")
        || name.ends_with(".backup")
        || name.ends_with(".partial"))
        && base.len() >= 8
        && base.bytes().all(|b| b.is_ascii_hexdigit())
        && !name.contains('/')
}

/// Archives `path` as `name`. Returns only once the object store has it; an existing object
/// of that name is success only when it holds the same bytes.
pub async fn push(store: &dyn ObjectStore, region: &str, path: &Path, name: &str) -> Result<Pushed, WalError> {
    if !valid_name(name) {
        return Err(WalError::BadName(name.to_string()));
    }
    let raw = tokio::fs::read(path).await?;
    let sha = hex::encode(Sha256::digest(&raw));
    let key = key(region, name);
    if let Some(existing) = store.head(&key).await? {
        let stored = existing.metadata.get("sha256").cloned().unwrap_or_default();
        return if stored == sha {
            Ok(Pushed::AlreadyThere)
        } else {
            Err(WalError::Conflict { name: name.to_string(), stored, ours: sha })
        };
    }
    let raw_len = raw.len().to_string();
    let compressed = tokio::task::spawn_blocking(move || zstd::bulk::compress(&raw, 3))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    store
        .put_with_metadata(
            &key,
            Bytes::from(compressed),
            "application/zstd",
            &[("sha256", &sha), ("raw-size", &raw_len)],
        )
        .await?;
    Ok(Pushed::Stored)
}

/// Restores archived `name` to `dest` (written beside it, checked, then renamed). `Ok(false)`
/// when the archive does not have it — the normal end of recovery.
pub async fn fetch(store: &dyn ObjectStore, region: &str, name: &str, dest: &Path) -> Result<bool, WalError> {
    if !valid_name(name) {
        return Err(WalError::BadName(name.to_string()));
    }
    let key = key(region, name);
    let Some(info) = store.head(&key).await? else { return Ok(false) };
    let mut reader = match store.get(&key).await {
        Ok(r) => r,
        Err(ObjectStoreError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut compressed = Vec::new();
    reader.read_to_end(&mut compressed).await?;
    let raw = tokio::task::spawn_blocking(move || zstd::stream::decode_all(compressed.as_slice()))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .map_err(|e| WalError::Corrupt { name: name.to_string(), why: e.to_string() })?;
    let sha = hex::encode(Sha256::digest(&raw));
    if info.metadata.get("sha256") != Some(&sha) {
        return Err(WalError::Corrupt {
            name: name.to_string(),
            why: format!("sha256 is {sha}, not the archived one"),
        });
    }
    let tmp = dest.with_extension("capydb-partial");
    tokio::fs::write(&tmp, &raw).await?;
    tokio::fs::rename(&tmp, dest).await?;
    Ok(true)
}

/// Archived segments of `region` (timeline histories and the like left out), oldest first,
/// from `from` on.
pub async fn segments(store: &dyn ObjectStore, region: &str, from: Option<Segment>) -> Result<Vec<Archived>, WalError> {
    let prefix = prefix(region);
    // Keys sort like segment numbers within a timeline, and `<prefix><name>` sorts just before
    // `<prefix><name>.zst`: the listing starts at `from` itself.
    let start_after = from.map(|s| format!("{prefix}{}", s.name()));
    let mut found: Vec<Archived> = Vec::new();
    for o in store.list(&prefix, start_after.as_deref()).await? {
        let name = o.key.trim_start_matches(&prefix).trim_end_matches(".zst");
        if let Some(segment) = Segment::parse(name) {
            found.push(Archived { segment, archived_at: o.last_modified.unwrap_or_default() });
        }
    }
    Ok(found)
}

/// Deletes archived segments older than `keep_from`; returns how many.
pub async fn sweep_before(store: &dyn ObjectStore, region: &str, keep_from: Segment) -> Result<usize, WalError> {
    let prefix = prefix(region);
    let mut deleted = 0;
    for o in store.list(&prefix, None).await? {
        let name = o.key.trim_start_matches(&prefix).trim_end_matches(".zst");
        match Segment::parse(name) {
            Some(s) if s.timeline == keep_from.timeline && s.number < keep_from.number => {
                store.delete(&o.key).await?;
                deleted += 1;
            }
            Some(s) if s.number >= keep_from.number => break,
            _ => {}
        }
    }
    Ok(deleted)
}
