//! Fires the per-project schedules the way EventBridge Scheduler would: moto stores them but
//! never fires them, so the runtime reads them back from the Scheduler API and invokes the
//! scheduled-backup function with each schedule's input when its time of day passes.

use crate::workers::{self, ScheduledBackupInput};
use capydb_shared::services::Context;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// The UTC time of day of a `cron(M H * * ? *)` expression — the only form we create.
pub fn daily_time(expression: &str) -> Option<NaiveTime> {
    let inner = expression.strip_prefix("cron(")?.strip_suffix(')')?;
    let fields: Vec<&str> = inner.split_whitespace().collect();
    match fields.as_slice() {
        [m, h, "*", "*", "?", "*"] => NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0),
        _ => None,
    }
}

/// The firing in `(after, up_to]`, if the daily time falls in it.
pub fn firing_between(at: NaiveTime, after: DateTime<Utc>, up_to: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = up_to.date_naive().and_time(at).and_utc();
    let candidate = if today <= up_to { today } else { today - Duration::days(1) };
    (candidate > after).then_some(candidate)
}

pub async fn fire(ctx: Context, every: std::time::Duration, cancel: CancellationToken) {
    // Schedules fire from the moment the runtime starts, never for times before it.
    let started = ctx.clock.now();
    let mut checked: HashMap<String, DateTime<Utc>> = HashMap::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now = ctx.clock.now();
        let entries = match ctx.scheduler.list().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "listing schedules failed");
                continue;
            }
        };
        for entry in entries.into_iter().filter(|e| e.enabled) {
            let after = *checked.get(&entry.name).unwrap_or(&started);
            checked.insert(entry.name.clone(), now);
            let Some(at) = daily_time(&entry.expression) else {
                tracing::warn!(schedule = entry.name, expression = entry.expression, "unsupported schedule expression");
                continue;
            };
            if firing_between(at, after, now).is_none() {
                continue;
            }
            match serde_json::from_str::<ScheduledBackupInput>(&entry.input) {
                Ok(input) => {
                    if let Err(e) = workers::handle_scheduled_backup(&ctx, input).await {
                        tracing::error!(schedule = entry.name, error = %e, "scheduled backup failed");
                    }
                }
                Err(e) => tracing::error!(schedule = entry.name, error = %e, "schedule input is not ours"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reads_our_expressions_only() {
        assert_eq!(daily_time("cron(5 3 * * ? *)"), NaiveTime::from_hms_opt(3, 5, 0));
        assert_eq!(daily_time("cron(0 24 * * ? *)"), None);
        assert_eq!(daily_time("rate(1 hour)"), None);
        assert_eq!(daily_time("cron(5 3 1 * ? *)"), None);
    }

    #[test]
    fn fires_once_when_the_time_passes_including_across_midnight() {
        let at = NaiveTime::from_hms_opt(3, 5, 0).unwrap();
        let t = |h, m| Utc.with_ymd_and_hms(2026, 6, 9, h, m, 0).unwrap();
        assert_eq!(firing_between(at, t(3, 0), t(3, 10)), Some(t(3, 5)));
        assert_eq!(firing_between(at, t(3, 5), t(3, 10)), None, "already fired at 03:05");
        assert_eq!(firing_between(at, t(2, 0), t(3, 4)), None);
        let midnight = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
        let late = Utc.with_ymd_and_hms(2026, 6, 8, 23, 59, 30).unwrap();
        assert_eq!(firing_between(midnight, late, t(0, 0)), Some(t(0, 0)));
    }
}
