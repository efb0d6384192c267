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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backups::{manifest_key, Backup};
    use crate::services::context::Fakes;
    use crate::services::jobs::{self, RunResult};
    use crate::store_conformance::{backup_with_job, restore_point};
    use chrono::Duration;

    async fn expiring_backup(ctx: &Context, project: &crate::domain::projects::Project, keep: Duration) -> Backup {
        let (mut backup, job) = backup_with_job(project);
        backup.expires_at = Some(ctx.clock.now() + keep);
        ctx.backups.create_backup(&backup, &job, None).await.unwrap();
        assert_eq!(jobs::run(ctx, &job.id).await.unwrap(), RunResult::Completed);
        ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn an_expired_backup_goes_with_its_archive_unless_a_restore_point_pins_it() {
        let (ctx, fakes): (Context, Fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"rows").await;
        let doomed = expiring_backup(&ctx, &project, Duration::hours(1)).await;
        let pinned = expiring_backup(&ctx, &project, Duration::hours(1)).await;
        let young = expiring_backup(&ctx, &project, Duration::days(7)).await;
        let mut point = restore_point(&project.id, "before-migration");
        point.backup_id = Some(pinned.id.clone());
        assert!(ctx.restore_points.create_restore_point(&point).await.unwrap());

        let early = sweep(&ctx, ctx.clock.now() + Duration::minutes(59)).await.unwrap();
        assert_eq!(early, RetentionReport { deleted: 0, pinned: 0 }, "nothing before it expires");
        let later = ctx.clock.now() + Duration::hours(1) + Duration::minutes(1);
        assert_eq!(sweep(&ctx, later).await.unwrap(), RetentionReport { deleted: 1, pinned: 1 });

        assert_eq!(ctx.backups.get_backup(&project.id, &doomed.id).await.unwrap(), None, "the record goes");
        let key = doomed.backup_key.as_deref().unwrap();
        assert!(fakes.objects.bytes(key).is_none(), "and its archive");
        assert!(fakes.objects.bytes(&manifest_key(&project.id, &doomed.id)).is_none(), "and its manifest");
        let kept = ctx.backups.get_backup(&project.id, &pinned.id).await.unwrap().expect("a pinned backup stays");
        assert!(fakes.objects.bytes(kept.backup_key.as_deref().unwrap()).is_some());
        assert_eq!(
            kept.retention_check_at,
            Some(later + crate::domain::backups::PINNED_RECHECK),
            "looked at again later"
        );
        assert!(ctx.backups.get_backup(&project.id, &young.id).await.unwrap().is_some());

        // Once the point is deleted, the next look removes it.
        ctx.restore_points.delete_restore_point(&point).await.unwrap();
        let recheck = later + crate::domain::backups::PINNED_RECHECK;
        assert_eq!(sweep(&ctx, recheck).await.unwrap(), RetentionReport { deleted: 1, pinned: 0 });
        assert_eq!(ctx.backups.get_backup(&project.id, &pinned.id).await.unwrap(), None);
    }
}
