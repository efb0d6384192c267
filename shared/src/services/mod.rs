//! Use cases: what the API handlers, workers and sweeps call. Each takes the caller's
//! `Principal` where access matters and answers with domain records or an `Error`.

pub mod api_keys;
pub mod archive_catalogue;
pub mod backup_pipeline;
pub mod backup_worker;
pub mod backups;
pub mod base_backups;
pub mod bootstrap;
pub mod checkpoints;
pub mod completion;
pub mod context;
pub mod deliveries;
pub mod directory_archive;
pub mod idempotency;
pub mod integrations;
pub mod job_kinds;
pub mod job_work;
pub mod jobs;
pub mod metrics;
pub mod nightly;
pub mod pins;
pub mod pitr;
pub mod previews;
pub mod projects;
pub mod provision_worker;
pub mod regions;
pub mod restore_points;
pub mod restore_worker;
pub mod restores;
pub mod retention;
pub mod runners;
pub mod schedules;
pub mod sweeper;
pub mod wal_archive;
pub mod webhooks;

pub use context::Context;
