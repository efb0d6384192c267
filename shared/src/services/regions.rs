//! Region facts for `GET /v1/regions`.

use crate::config::Config;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionInfo {
    pub name: String,
    /// Whether the cluster ships WAL continuously.
    pub wal_archiving: bool,
    /// Whether restores to a timestamp are offered in this region.
    pub pitr_available: bool,
    pub pitr_window_days: Option<u32>,
}

pub fn list(config: &Config) -> Vec<RegionInfo> {
    config
        .regions
        .iter()
        .map(|r| RegionInfo {
            name: r.name.clone(),
            wal_archiving: r.wal_archiving,
            // Point-in-time restore needs the WAL archive in object storage and base backups;
            // until a region has both, it does not claim a window it cannot restore.
            pitr_available: false,
            pitr_window_days: None,
        })
        .collect()
}
