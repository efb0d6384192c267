//! Which work runs which kind of job: the only place that names the workers, so the runner
//! (`jobs.rs`) and the sweeps reach them through [`JobWork`] alone.

use super::job_work::JobWork;
use super::{backup_worker, provision_worker, restore_worker};
use crate::domain::jobs::JobType;

pub fn work_for(kind: JobType) -> &'static dyn JobWork {
    match kind {
        JobType::Backup => &backup_worker::BackupWork,
        JobType::ProvisionProject => &provision_worker::ProvisionWork,
        JobType::Restore => &restore_worker::RestoreWork,
    }
}
