//! What point-in-time recovery can offer in a region: the window the WAL archive and the base
//! backups give, computed from object storage.

use super::archive_catalogue::{region_window, wait_archived, RegionWindow, REQUEST_ARCHIVE_WAIT};
use super::Context;
use crate::config::RegionConfig;
use crate::domain::restore_points::RestorePoint;
use crate::domain::restores::PitrSource;
use crate::domain::wal::{parse_lsn, RecoveryTarget, Segment, Window};
use crate::Error;
use chrono::{DateTime, Utc};

/// A restore point may be placed up to this far ahead of the service's clock (clock skew);
/// later ones are refused, since nobody can mark a moment that has not happened.
pub fn future_tolerance() -> chrono::Duration {
    chrono::Duration::seconds(60)
}

pub fn require_archiving(region: &RegionConfig) -> Result<(), Error> {
    if region.wal_archiving {
        Ok(())
    } else {
        Err(Error::Unprocessable(format!("point-in-time recovery is not available in region {}", region.name)))
    }
}

fn window_text(w: &Window) -> String {
    format!(
        "{} to {}",
        w.earliest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        w.latest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// The region's window, made current first when `moment` lies past its end: the segment in
/// progress is ended and archived, so "now" really is restorable.
async fn window_reaching(
    ctx: &Context,
    region: &RegionConfig,
    moment: Option<DateTime<Utc>>,
    lsn: Option<u64>,
) -> Result<RegionWindow, Error> {
    let now = ctx.clock.now();
    let current = region_window(ctx, region, now).await?;
    let behind_time = match (&current.window, moment) {
        (Some(w), Some(m)) => m > w.latest,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let behind_lsn = match lsn {
        Some(lsn) => {
            let status = ctx.data_plane.wal_status(region).await?;
            let needed = Segment::of_lsn(status.timeline, lsn).name();
            status.last_archived.as_deref().and_then(|a| a.get(..24)).is_none_or(|a| a < needed.as_str())
        }
        None => false,
    };
    if !(behind_time || behind_lsn) {
        return Ok(current);
    }
    let ended = ctx.data_plane.switch_wal(region).await?;
    wait_archived(ctx, region, &ended, REQUEST_ARCHIVE_WAIT).await?;
    region_window(ctx, region, ctx.clock.now()).await
}

fn no_window(region: &RegionConfig, w: &RegionWindow) -> Error {
    let gaps = if w.wal_gaps.is_empty() { String::new() } else { format!(" (WAL missing: {})", w.wal_gaps.join(", ")) };
    Error::Unprocessable(format!(
        "region {} has no restorable point-in-time window yet: no base backup with complete WAL after it{gaps}",
        region.name
    ))
}

/// Plans a restore to `requested`: the newest base backup before it, recovery to that time —
/// or, past the end of the archive, to its end, reported as clamped.
pub async fn plan_time(
    ctx: &Context,
    region: &RegionConfig,
    field: &str,
    requested: DateTime<Utc>,
) -> Result<PitrSource, Error> {
    require_archiving(region)?;
    // A moment past the archive's end, however far ahead, is restored as its end and reported
    // as clamped (CapyDB's published behaviour).
    let w = window_reaching(ctx, region, Some(requested), None).await?;
    let Some(window) = &w.window else { return Err(no_window(region, &w)) };
    if requested < window.earliest {
        return Err(Error::invalid(
            field,
            format!(
                "{field} {} is before the restorable window of region {}: {}",
                requested.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                region.name,
                window_text(window)
            ),
        ));
    }
    let clamped = requested > window.latest;
    let restore_time = if clamped { window.latest } else { requested };
    let base = base_for(window, restore_time, None).ok_or_else(|| no_window(region, &w))?;
    Ok(PitrSource {
        requested_restore_time: Some(requested),
        restore_time,
        restore_time_clamped: clamped,
        // Clamped or not, recovery stops at the moment asked for: WAL archived between this
        // plan and the recovery may reach past `restore_time`, never past `requested`.
        target: RecoveryTarget::Time { at: requested },
        base_backup_id: base,
    })
}

/// Plans a restore to a `pitr` restore point: exactly to its named WAL record when it has one,
/// else to its time.
pub async fn plan_point(ctx: &Context, region: &RegionConfig, point: &RestorePoint) -> Result<PitrSource, Error> {
    require_archiving(region)?;
    let at = point.pitr_time.ok_or_else(|| Error::Unprocessable(format!("restore point {} has no time", point.id)))?;
    let (Some(name), Some(raw_lsn)) = (&point.pitr_name, &point.pitr_lsn) else {
        let mut planned = plan_time(ctx, region, "restore_point_id", at).await?;
        planned.requested_restore_time = None;
        return Ok(planned);
    };
    let lsn = parse_lsn(raw_lsn).ok_or_else(|| Error::Internal(format!("restore point {} has a bad LSN", point.id)))?;
    let w = window_reaching(ctx, region, None, Some(lsn)).await?;
    let Some(window) = &w.window else { return Err(no_window(region, &w)) };
    if at < window.earliest {
        return Err(Error::Unprocessable(format!(
            "restore point {} ({}) is older than the restorable window of region {}: {}",
            point.id,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            region.name,
            window_text(window)
        )));
    }
    let base = base_for(window, at, Some(lsn)).ok_or_else(|| no_window(region, &w))?;
    Ok(PitrSource {
        requested_restore_time: None,
        restore_time: at,
        restore_time_clamped: false,
        target: RecoveryTarget::Name { name: name.clone(), lsn: raw_lsn.clone() },
        base_backup_id: base,
    })
}

/// The newest usable base backup that was complete by `at` (and, for an LSN target, whose
/// consistent point precedes it).
fn base_for(window: &Window, at: DateTime<Utc>, lsn: Option<u64>) -> Option<String> {
    window
        .base_backups
        .iter()
        .filter(|b| b.completed_at <= at)
        .filter(|b| match (lsn, b.end_lsn.as_str()) {
            (Some(target), end) => parse_lsn(end).is_some_and(|e| e <= target),
            (None, _) => true,
        })
        .max_by_key(|b| b.completed_at)
        .map(|b| b.id.clone())
}

/// Whether a `pitr` restore point can still be restored (its moment inside the window).
pub fn point_in_window(point: &RestorePoint, window: Option<&Window>) -> bool {
    match (point.pitr_time, window) {
        (Some(at), Some(w)) => at >= w.earliest,
        _ => false,
    }
}
