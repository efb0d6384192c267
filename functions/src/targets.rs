//! Every Lambda function of `template.yaml`, by its SAM logical id: what it serves. The one
//! `capydb-lambda` binary reads its function from `CAPYDB_FUNCTION` (set per function in the
//! template) and `make invoke` takes the same names.

use crate::routes::{RouteId, ROUTES};
use crate::workers::{Sweep, Worker, SCHEDULED_BACKUP_FUNCTION, SCHEDULES, WORKERS};

/// The environment variable naming the function a Lambda runs.
pub const FUNCTION_VAR: &str = "CAPYDB_FUNCTION";

/// Not a Lambda function: the container task a large job is handed to runs the same binary
/// under this name (`CAPYDB_RUNNER=task`, `CAPYDB_JOB_ID`), runs that one job, and exits.
pub const TASK_FUNCTION: &str = "JobTask";

/// What a function is.
#[derive(Clone, Copy)]
pub enum Target {
    Route(RouteId),
    Worker(&'static Worker),
    Sweep(Sweep),
    ScheduledBackup,
}

/// The function named `function` (a SAM logical id such as `BackupsListFunction`).
pub fn target(function: &str) -> Option<Target> {
    if let Some(r) = ROUTES.iter().find(|r| r.function == function) {
        return Some(Target::Route(r.id));
    }
    if let Some(w) = WORKERS.iter().find(|w| w.function == function) {
        return Some(Target::Worker(w));
    }
    if let Some(s) = SCHEDULES.iter().find(|s| s.function == function) {
        return Some(Target::Sweep(s.sweep));
    }
    (function == SCHEDULED_BACKUP_FUNCTION).then_some(Target::ScheduledBackup)
}

/// Every function [`target`] knows, for messages and the template test.
pub fn names() -> Vec<&'static str> {
    let mut all: Vec<&str> = ROUTES.iter().map(|r| r.function).collect();
    all.extend(WORKERS.iter().map(|w| w.function));
    all.extend(SCHEDULES.iter().map(|s| s.function));
    all.push(SCHEDULED_BACKUP_FUNCTION);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_a_target_and_nothing_else_is() {
        let names = names();
        assert_eq!(names.iter().collect::<std::collections::HashSet<_>>().len(), names.len(), "names are unique");
        for n in names {
            assert!(target(n).is_some(), "{n}");
        }
        assert!(target("backups-list").is_none());
        assert!(target("Nope").is_none());
    }
}
