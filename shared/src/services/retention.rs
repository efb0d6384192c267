//! The retention sweep (hourly): deletes backups past their `expires_at` — archive, manifest and
//! record — reading only the due index. A backup pinned by a restore point is kept and looked at
//! again an hour later, for as long as the point exists.

use super::{pins, Context};
use crate::domain::backups::{retention, Retention};
use crate::domain::jobs::buckets_to_sweep;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub deleted: u32,
    pub pinned: u32,
}

pub async fn sweep(ctx: &Context, now: DateTime<Utc>) -> Result<RetentionReport, Error> {
    let mut report = RetentionReport::default();
    for bucket in buckets_to_sweep(now, super::sweeper::LOOKBACK_HOURS) {
        for mut backup in ctx.backups.due_backups(&bucket, now).await? {
            // Asking for pins costs a read of the project's points: only for expired backups.
            let expired = retention(&backup, false, now) == Retention::Delete;
            let pinned = expired
                && !pins::pinning(ctx.restore_points.as_ref(), &backup.project_id, &backup.id).await?.is_empty();
            match retention(&backup, pinned, now) {
                Retention::Leave => {}
                Retention::KeepPinned { check_again_at } => {
                    backup.retention_check_at = Some(check_again_at);
                    ctx.backups.update_backup(&backup).await?;
                    report.pinned += 1;
                }
                Retention::Delete => {
                    super::backups::remove_stored(ctx, &backup.project_id, &backup.id).await?;
                    ctx.backups.delete_backup(&backup).await?;
                    report.deleted += 1;
                }
            }
        }
    }
    Ok(report)
}
