//! CapyDB Backups core: the domain (pure rules), the ports it needs, the adapters that
//! implement them (DynamoDB, S3, PostgreSQL data plane) and the services (use cases) that the
//! Lambda handlers call. Nothing here knows about Lambda or HTTP.

pub mod adapters;
pub mod auth;
pub mod clock;
pub mod config;
pub mod contract;
pub mod domain;
pub mod error;
pub mod ids;
pub mod ports;
pub mod services;
pub mod store;
pub mod store_conformance;

#[cfg(test)]
mod module_graph;

pub use error::Error;
