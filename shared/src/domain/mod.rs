//! Pure rules: validated values, records and their state machines. No I/O.

pub mod api_keys;
pub mod backups;
pub mod deliveries;
pub mod events;
pub mod integrations;
pub mod jobs;
pub mod names;
pub mod organizations;
pub mod pagination;
pub mod previews;
pub mod projects;
pub mod restore_plan;
pub mod restore_points;
pub mod restores;
pub mod retry;
pub mod runner;
pub mod schedules;
pub mod scopes;
pub mod wal;
pub mod webhooks;
