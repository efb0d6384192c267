//! Adapters: the AWS SDKs, PostgreSQL tools and outbound HTTP (webhook receivers, deployment
//! providers) behind the ports.

pub mod aws;
pub mod crypto;
pub mod dynamo;
pub mod ecs;
#[cfg(test)]
pub mod fakes;
pub mod local_instance;
pub mod memory;
pub mod pg_archive;
pub mod postgres;
pub mod providers;
pub mod recovery;
pub mod s3;
pub mod sandbox;
pub mod scheduler;
pub mod scratch;
pub mod webhook_http;
