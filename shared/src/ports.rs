//! Ports: what the services need from the outside world. Adapters in `adapters/` implement
//! them against S3 and PostgreSQL. The table's ports are in `store.rs`.

use crate::config::RegionConfig;
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::path::Path;
use std::pin::Pin;
use tokio::io::AsyncRead;

pub type BoxReader = Pin<Box<dyn AsyncRead + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("object {0} does not exist")]
    NotFound(String),
    #[error("{0}")]
    Backend(String),
}

/// What a listing or a HEAD says about an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
    pub metadata: std::collections::HashMap<String, String>,
}

/// Object storage for archives and manifests.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Starts a multipart upload and returns its upload id.
    async fn start_upload(&self, key: &str) -> Result<String, ObjectStoreError>;
    /// Uploads one part; returns its ETag.
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: Bytes,
    ) -> Result<String, ObjectStoreError>;
    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(u32, String)>,
    ) -> Result<(), ObjectStoreError>;
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), ObjectStoreError>;
    /// Aborts multipart uploads of `key` left behind by an attempt that died; returns how many.
    /// A `key` ending in `/` is a prefix: every upload under it is aborted.
    async fn abort_stale_uploads(&self, key: &str) -> Result<usize, ObjectStoreError>;
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> Result<(), ObjectStoreError>;
    async fn get(&self, key: &str) -> Result<BoxReader, ObjectStoreError>;
    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError>;
    /// Stores `body` with user metadata (e.g. the checksum of what it compresses).
    async fn put_with_metadata(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), ObjectStoreError> {
        let _ = (key, body, content_type, metadata);
        Err(ObjectStoreError::Backend("this object store cannot store metadata".into()))
    }
    /// A URL that reads the object without credentials until `expires_in` has passed.
    async fn presigned_get(&self, key: &str, expires_in: std::time::Duration) -> Result<String, ObjectStoreError> {
        let _ = (key, expires_in);
        Err(ObjectStoreError::Backend("this object store cannot hand out URLs".into()))
    }
    /// The object's size, time and metadata; `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        let _ = key;
        Err(ObjectStoreError::Backend("this object store cannot describe objects".into()))
    }
    /// Every object under `prefix` whose key sorts after `start_after`, in key order (no
    /// metadata).
    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, ObjectStoreError> {
        let _ = (prefix, start_after);
        Err(ObjectStoreError::Backend("this object store cannot list".into()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    #[error("cannot reach region cluster {region}: {message}")]
    Connect { region: String, message: String },
    #[error("{tool} failed: {message}")]
    Tool { tool: &'static str, message: String },
    #[error("{0}")]
    Sql(String),
    /// A verification sandbox could not be set up: says nothing about the archive.
    #[error("the verification sandbox could not start: {0}")]
    Sandbox(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running `pg_dump`: read the archive from `reader`, then await `finished`, which fails if
/// the dump did not complete (a short stream alone does not say so).
pub struct DumpProcess {
    pub reader: BoxReader,
    pub finished: BoxFuture<'static, Result<(), DataPlaneError>>,
}

/// A login role and its password: whom a tool that may run tenant SQL connects as. It is always
/// a tenant's own (or an equally unprivileged) role, never the cluster's superuser.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub role: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("role", &self.role).finish_non_exhaustive()
    }
}

/// Where a cluster's WAL stands.
#[derive(Debug, Clone, PartialEq)]
pub struct WalStatus {
    /// `pg_current_wal_lsn()`, as PostgreSQL prints it.
    pub lsn: String,
    pub timeline: u32,
    /// The server's clock when it answered.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The newest file the archiver has stored, if any.
    pub last_archived: Option<String>,
}

/// The PostgreSQL clusters project databases live on.
#[async_trait]
pub trait DataPlane: Send + Sync {
    /// Creates (or repairs) the project's role and database. Idempotent.
    async fn provision_database(
        &self,
        region: &RegionConfig,
        database: &str,
        role: &str,
        password: &str,
    ) -> Result<(), DataPlaneError>;
    async fn server_version(&self, region: &RegionConfig) -> Result<String, DataPlaneError>;
    /// Starts a custom-format, uncompressed dump of `database`, connected as `login`.
    async fn dump(&self, region: &RegionConfig, database: &str, login: &Login) -> Result<DumpProcess, DataPlaneError>;
    /// Restores a custom-format archive read from `archive` into the existing, empty `database`,
    /// connected as `login` (which then owns every object). `archive_bytes` is the archive's size
    /// when known: a parallel restore stages the archive locally only when it knows the space is
    /// there. The whole of `archive` is read either way.
    async fn restore(
        &self,
        region: &RegionConfig,
        database: &str,
        archive: BoxReader,
        archive_bytes: Option<u64>,
        login: &Login,
    ) -> Result<(), DataPlaneError>;
    /// Proves an archive restores: loads it into a throw-away PostgreSQL instance of its own (never
    /// a region cluster), connected as an unprivileged role named `role` (the tenant's role name,
    /// so that objects naming it restore). The instance is gone when this returns.
    async fn verify(&self, archive: BoxReader, archive_bytes: Option<u64>, role: &str) -> Result<(), DataPlaneError>;
    /// Starts a directory-format dump of `database` into the empty folder `dir` with `jobs`
    /// parallel connections, all as `login`. Files appear in `dir` as the dump goes; the returned
    /// future ends when the dump does, and fails if it did not complete.
    async fn dump_directory(
        &self,
        region: &RegionConfig,
        database: &str,
        login: &Login,
        dir: &Path,
        jobs: u32,
    ) -> Result<BoxFuture<'static, Result<(), DataPlaneError>>, DataPlaneError>;
    /// Restores the directory-format archive in `dir` into the existing, empty `database` with
    /// parallel jobs, connected as `login`, as [`DataPlane::restore`] does.
    async fn restore_directory(
        &self,
        region: &RegionConfig,
        database: &str,
        dir: &Path,
        login: &Login,
    ) -> Result<(), DataPlaneError>;
    /// [`DataPlane::verify`] for the directory-format archive in `dir` (`dump_bytes` in all).
    async fn verify_directory(&self, dir: &Path, dump_bytes: u64, role: &str) -> Result<(), DataPlaneError>;
    /// Creates `database` owned by `owner`, which alone may connect to it: PUBLIC never holds
    /// CONNECT on it, not even for a moment.
    async fn create_database(&self, region: &RegionConfig, database: &str, owner: &str) -> Result<(), DataPlaneError>;
    /// Drops `database` if it exists, ending its sessions first.
    async fn drop_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError>;
    /// Creates the login role, or resets its password if it exists.
    async fn ensure_role(&self, region: &RegionConfig, role: &str, password: &str) -> Result<(), DataPlaneError>;
    async fn drop_role(&self, region: &RegionConfig, role: &str) -> Result<(), DataPlaneError>;
    async fn rename_database(&self, region: &RegionConfig, from: &str, to: &str) -> Result<(), DataPlaneError>;
    async fn database_exists(&self, region: &RegionConfig, database: &str) -> Result<bool, DataPlaneError>;
    /// `pg_database_size` of `database`: what a backup of it will read.
    async fn database_size(&self, region: &RegionConfig, database: &str) -> Result<u64, DataPlaneError>;
    /// Starts a physical base backup of the whole cluster: a tar stream on `reader`, WAL not
    /// included (the archive has it; the backup ends only once its WAL is archived).
    async fn base_backup(&self, region: &RegionConfig) -> Result<DumpProcess, DataPlaneError>;
    async fn wal_status(&self, region: &RegionConfig) -> Result<WalStatus, DataPlaneError>;
    /// Ends the current WAL segment so the archiver ships it; returns the segment's file name.
    async fn switch_wal(&self, region: &RegionConfig) -> Result<String, DataPlaneError>;
    /// Places a named restore point in the WAL; returns its LSN.
    async fn create_restore_point(&self, region: &RegionConfig, name: &str) -> Result<String, DataPlaneError>;
    /// Closes `database` to new sessions and ends its current ones (before a swap). Reopens it
    /// and fails if sessions do not end.
    async fn close_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError>;
    /// Lets sessions connect to `database` again, if it exists. Idempotent.
    async fn open_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError>;
    /// Puts `staging` in the place of the closed `live` in one transaction; the old `live` is kept
    /// under the name `keep_as`, open to connections. Nothing changes if it fails; `live` then
    /// stays closed until [`DataPlane::open_database`].
    async fn swap_databases(
        &self,
        region: &RegionConfig,
        live: &str,
        staging: &str,
        keep_as: &str,
    ) -> Result<(), DataPlaneError>;
}

/// Why a task could not be started. Every cause (no capacity, a quota, throttling, the service
/// unreachable) may pass: the job stays pending and the hand-over is tried again with back-off.
#[derive(Debug, thiserror::Error)]
#[error("could not start a task: {0}")]
pub struct LaunchError(pub String);

/// Starts the container task a job is handed to: ECS `RunTask` in AWS, a child process locally.
/// The task claims the job itself, as any worker does.
#[async_trait]
pub trait TaskLauncher: Send + Sync {
    /// Starts one task for `job`; returns the task's ARN.
    async fn launch(&self, job: &crate::ids::JobId) -> Result<String, LaunchError>;
}
