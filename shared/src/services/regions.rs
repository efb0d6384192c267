//! Region facts for `GET /v1/regions`, including what point-in-time recovery can reach there.

use super::archive_catalogue::{region_window, RegionWindow, WINDOW_DAYS};
use super::Context;
use crate::Error;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionInfo {
    pub name: String,
    pub display_name: String,
    pub location: String,
    /// Whether the cluster ships WAL continuously.
    pub wal_archiving: bool,
    /// Days of point-in-time recovery the region keeps when its archive is complete.
    pub pitr_window_days: Option<u32>,
    /// `pitr_available`, the restorable window and the archive's lag. A region with no base
    /// backup yet, or whose WAL has a gap, offers only what it can actually restore.
    #[serde(flatten)]
    pub pitr: RegionWindow,
}

pub async fn list(ctx: &Context) -> Result<Vec<RegionInfo>, Error> {
    let mut out = Vec::new();
    for r in &ctx.config.regions {
        out.push(describe(ctx, r).await);
    }
    Ok(out)
}

/// One region, by name (a project's).
pub async fn info(ctx: &Context, name: &str) -> Result<RegionInfo, Error> {
    Ok(describe(ctx, ctx.region(name)?).await)
}

async fn describe(ctx: &Context, r: &crate::config::RegionConfig) -> RegionInfo {
    let pitr = match region_window(ctx, r, ctx.clock.now()).await {
        Ok(w) => w,
        // One region's archive being unreadable must not hide the others.
        Err(e) => {
            tracing::error!(region = r.name, error = %e, "reading the WAL archive failed");
            RegionWindow::unavailable()
        }
    };
    RegionInfo {
        name: r.name.clone(),
        display_name: r.display_name.clone().unwrap_or_else(|| r.name.clone()),
        location: r.location.clone().unwrap_or_else(|| "unspecified".into()),
        wal_archiving: r.wal_archiving,
        pitr_window_days: r.wal_archiving.then_some(WINDOW_DAYS),
        pitr,
    }
}
