//! The black-box integration suite: the local runtime (the same handlers and workers Lambda
//! runs) against moto and real PostgreSQL clusters, driven over HTTP and through the `capydb`
//! binary. One moto and two clusters serve the whole binary; every test gets its own table,
//! bucket, runtime and projects.

mod harness;

mod archive;
mod auth;
mod backups;
mod cancels;
mod cli;
mod contract;
mod dashboard;
mod deliveries;
mod downloads;
mod failures;
mod fault_proxy;
mod faults;
mod idempotency;
mod integrations;
mod invoke;
mod isolation;
mod limits;
mod pins;
mod pitr;
mod projects;
mod receivers;
mod requests;
mod restores;
mod retries;
mod schedules;
mod soak;
mod store_conformance;
mod swap_crashes;
mod tasks;
mod wal;
mod webhooks;
