//! The Lambda side of CapyDB Backups: one thin handler per API route, the stream workers and
//! the scheduled sweeps (every function runs the one `capydb-lambda` binary), plus the local
//! runtime that hosts all of them on one port, and the WAL archive helper region clusters run.

pub mod handlers;
pub mod http;
pub mod invoke;
pub mod lambda;
pub mod local;
pub mod routes;
pub mod targets;
pub mod views;
pub mod wal_helper;
pub mod workers;

#[cfg(test)]
mod template_sync;
