//! Physical base backups of the archiving region clusters (daily, and on demand): a
//! `pg_basebackup` tar streamed through zstd into object storage with a manifest beside it.
//! The 30 newest are kept; WAL older than the oldest kept one is swept. Base backups describe
//! themselves in object storage (`basebackups/<region>/<id>/manifest.json`), like the WAL
//! they need, so the archive can be read without the table.

use super::archive_catalogue::{self as catalogue, manifest_key, prefix};
use super::backup_pipeline::upload_dump;
use super::{wal_archive, Context};
use crate::config::RegionConfig;
use crate::domain::wal::{format_lsn, parse_lsn, BaseBackup, Segment, SEGMENT_BYTES};
use crate::ports::ObjectStore;
use crate::Error;
use bytes::Bytes;
use serde::Serialize;

/// Base backups kept per region: with one a day, about 30 days of point-in-time recovery.
pub const KEEP: usize = 30;

#[derive(Debug, Clone, Serialize)]
pub struct Taken {
    pub base_backup_id: String,
    pub region: String,
    pub size_bytes: u64,
    pub removed_base_backups: usize,
    pub removed_wal_segments: usize,
    /// WAL missing from the archive (the verify step): a gap limits the window until a base
    /// backup after it, which this one is.
    pub wal_gaps: Vec<String>,
}

/// Takes a base backup of every archiving region (the scheduled function).
pub async fn take_all(ctx: &Context) -> Result<Vec<Taken>, Error> {
    let mut taken = Vec::new();
    for region in ctx.config.regions.iter().filter(|r| r.wal_archiving) {
        taken.push(take(ctx, region).await?);
    }
    Ok(taken)
}

pub async fn take(ctx: &Context, region: &RegionConfig) -> Result<Taken, Error> {
    if !region.wal_archiving {
        return Err(Error::Unprocessable(format!("region {} does not archive WAL", region.name)));
    }
    let store = ctx.wal_objects.as_ref();
    let before = ctx.data_plane.wal_status(region).await?;
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let key = format!("{}{id}/base.tar.zst", prefix(&region.name));
    let process = ctx.data_plane.base_backup(region).await?;
    let uploaded = upload_dump(store, &key, process, &|_| {})
        .await
        .map_err(|e| Error::Internal(format!("base backup of {} failed: {e}", region.name)))?;
    // The backup is consistent by the time pg_basebackup returns, somewhere before `after`.
    // Ending that segment now and waiting for it makes the backup usable at once instead of
    // after the next archive_timeout.
    let after = ctx.data_plane.wal_status(region).await?;
    let ended = ctx.data_plane.switch_wal(region).await?;
    catalogue::wait_archived(ctx, region, &ended, std::time::Duration::from_secs(120)).await?;
    // The backup stopped before `after`, and everything before the switch is in `ended` or
    // earlier; when `after` sits at the start of a still-empty segment, the end is the last
    // byte of `ended`, which is archived.
    let end_lsn = match (parse_lsn(&after.lsn), Segment::parse(&ended)) {
        (Some(a), Some(e)) => format_lsn(a.min((e.number + 1) * SEGMENT_BYTES - 1)),
        _ => after.lsn.clone(),
    };
    let manifest = BaseBackup {
        id: id.clone(),
        region: region.name.clone(),
        timeline: before.timeline,
        start_lsn: before.lsn,
        end_lsn,
        started_at: before.at,
        completed_at: after.at,
        key,
        size_bytes: uploaded.size_bytes,
        tar_bytes: uploaded.dump_bytes,
        sha256: uploaded.sha256,
        server_version: ctx.data_plane.server_version(region).await?,
    };
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    store.put(&manifest_key(&region.name, &id), Bytes::from(body), "application/json").await?;
    tracing::info!(region = region.name, base_backup = id, size = manifest.size_bytes, "base backup stored");
    let (kept, removed_base_backups, removed_wal_segments) = prune(store, &region.name).await?;
    let wal_gaps = catalogue::window_of(ctx, region, kept, ctx.clock.now()).await?.wal_gaps;
    if !wal_gaps.is_empty() {
        tracing::error!(region = region.name, gaps = ?wal_gaps, "WAL is missing from the archive");
    }
    Ok(Taken {
        base_backup_id: id,
        region: region.name.clone(),
        size_bytes: manifest.size_bytes,
        removed_base_backups,
        removed_wal_segments,
        wal_gaps,
    })
}

/// Keeps the newest [`KEEP`] base backups and the WAL they need; returns the kept ones and how
/// many backups and segments went.
async fn prune(store: &dyn ObjectStore, region: &str) -> Result<(Vec<BaseBackup>, usize, usize), Error> {
    let mut all = catalogue::list(store, region).await?;
    let excess = all.len().saturating_sub(KEEP);
    for old in &all[..excess] {
        // The manifest goes first: a half-removed backup is never listed as usable.
        store.delete(&manifest_key(region, &old.id)).await?;
        store.delete(&old.key).await?;
    }
    let removed_wal = match all[excess..].first().and_then(|oldest| oldest.start_segment()) {
        Some(keep_from) => {
            wal_archive::sweep_before(store, region, keep_from).await.map_err(|e| Error::Internal(e.to_string()))?
        }
        None => 0,
    };
    Ok((all.split_off(excess), excess, removed_wal))
}
