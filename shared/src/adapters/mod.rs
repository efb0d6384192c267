//! Adapters: the AWS SDKs and PostgreSQL tools behind the ports.

pub mod aws;
pub mod crypto;
pub mod dynamo;
pub mod pg_archive;
pub mod postgres;
pub mod s3;
pub mod scheduler;
