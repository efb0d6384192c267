//! What a region's archive holds, read from object storage alone: its base backups (each
//! described by `basebackups/<region>/<id>/manifest.json`), the WAL segments archived after
//! them, and the point-in-time window the two give. Base backups (the writer) and point-in-time
//! planning (a reader) both stand on this.

use super::{wal_archive, Context};
use crate::config::RegionConfig;
use crate::domain::wal::{window, BaseBackup, Window};
use crate::ports::{ObjectStore, ObjectStoreError};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::AsyncReadExt;

pub fn prefix(region: &str) -> String {
    format!("basebackups/{region}/")
}

pub fn manifest_key(region: &str, id: &str) -> String {
    format!("{}{id}/manifest.json", prefix(region))
}

/// The region's base backups, oldest first.
pub async fn list(store: &dyn ObjectStore, region: &str) -> Result<Vec<BaseBackup>, Error> {
    let mut found = Vec::new();
    for o in store.list(&prefix(region), None).await? {
        if o.key.ends_with("/manifest.json") {
            found.extend(manifest(store, &o.key).await?);
        }
    }
    found.sort_by_key(|b| b.completed_at);
    Ok(found)
}

/// One base backup by id; `None` when it is gone.
pub async fn get(store: &dyn ObjectStore, region: &str, id: &str) -> Result<Option<BaseBackup>, Error> {
    manifest(store, &manifest_key(region, id)).await
}

/// A manifest; `None` when it is missing or unreadable (a backup being pruned).
async fn manifest(store: &dyn ObjectStore, key: &str) -> Result<Option<BaseBackup>, Error> {
    let mut reader = match store.get(key).await {
        Ok(r) => r,
        Err(ObjectStoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut body = Vec::new();
    reader.read_to_end(&mut body).await.map_err(|e| Error::Internal(e.to_string()))?;
    match serde_json::from_slice::<BaseBackup>(&body) {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            tracing::warn!(key, error = %e, "unreadable base backup manifest skipped");
            Ok(None)
        }
    }
}

/// Days of point-in-time recovery a region aims to keep (one base backup a day, 30 kept).
pub const WINDOW_DAYS: u32 = 30;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionWindow {
    pub pitr_available: bool,
    pub earliest_restore_time: Option<DateTime<Utc>>,
    /// The end of the newest archived WAL.
    pub latest_restore_time: Option<DateTime<Utc>>,
    /// How far the archive is behind now.
    pub archive_lag_seconds: Option<i64>,
    /// Missing WAL the window had to stop at (`first..last` segment names).
    pub wal_gaps: Vec<String>,
    #[serde(skip)]
    pub window: Option<Window>,
}

impl RegionWindow {
    pub fn unavailable() -> RegionWindow {
        RegionWindow {
            pitr_available: false,
            earliest_restore_time: None,
            latest_restore_time: None,
            archive_lag_seconds: None,
            wal_gaps: vec![],
            window: None,
        }
    }
}

pub async fn region_window(ctx: &Context, region: &RegionConfig, now: DateTime<Utc>) -> Result<RegionWindow, Error> {
    if !region.wal_archiving {
        return Ok(RegionWindow::unavailable());
    }
    let bases = list(ctx.wal_objects.as_ref(), &region.name).await?;
    window_of(ctx, region, bases, now).await
}

/// The window `bases` (the region's base backups, already read) and the archived WAL give.
pub async fn window_of(
    ctx: &Context,
    region: &RegionConfig,
    bases: Vec<BaseBackup>,
    now: DateTime<Utc>,
) -> Result<RegionWindow, Error> {
    let store = ctx.wal_objects.as_ref();
    let from = bases.iter().filter_map(|b| b.start_segment()).min();
    let segments = if from.is_some() {
        wal_archive::segments(store, &region.name, from).await.map_err(|e| Error::Internal(e.to_string()))?
    } else {
        Vec::new()
    };
    let report = window(&segments, &bases);
    let latest_segment = segments.iter().map(|s| s.archived_at).max();
    Ok(RegionWindow {
        pitr_available: report.window.is_some(),
        earliest_restore_time: report.window.as_ref().map(|w| w.earliest),
        latest_restore_time: report.window.as_ref().map(|w| w.latest),
        archive_lag_seconds: latest_segment.map(|t| (now - t).num_seconds().max(0)),
        wal_gaps: report.gaps.iter().map(|(a, b)| format!("{}..{}", a.name(), b.name())).collect(),
        window: report.window,
    })
}

/// How long a request waits for the archiver to ship a segment it just ended (an API call
/// must answer within API Gateway's 29 s; the archiver usually needs well under a second).
pub const REQUEST_ARCHIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits until the region's archiver has stored `segment` (a WAL file name) or a later one.
pub async fn wait_archived(
    ctx: &Context,
    region: &RegionConfig,
    segment: &str,
    wait: std::time::Duration,
) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let status = ctx.data_plane.wal_status(region).await?;
        // `…0003.00000028.backup` follows segment `…0003`; a `.history` file sorts apart.
        if status.last_archived.as_deref().and_then(|a| a.get(..24)).is_some_and(|a| a >= segment) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Conflict {
                job_id: None,
                message: format!(
                    "region {} did not archive WAL segment {segment} within {} s (last archived: {}); retry shortly",
                    region.name,
                    wait.as_secs(),
                    status.last_archived.as_deref().unwrap_or("none")
                ),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
