//! Backups: verified logical dumps of a project database.

use crate::jobs::Job;
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupCreateRequest {
    /// 1–200 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    OnDemand,
    Scheduled,
    Nightly,
    /// The copy of production a project overwrite takes before it replaces the data.
    PreRestore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    Pending,
    /// The stored archive was restored in an isolated instance and its checksum matched.
    Verified,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Backup {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub job_id: String,
    pub label: Option<String>,
    pub kind: BackupKind,
    pub state: BackupState,
    pub database_name: String,
    /// What `backup_key` restores take.
    pub backup_key: Option<String>,
    /// Bytes stored (compressed).
    pub size_bytes: Option<u64>,
    /// Bytes of the uncompressed `pg_dump` archive.
    pub dump_size_bytes: Option<u64>,
    /// SHA-256 (hex) of the stored object; for a directory archive, of its file list (one
    /// `<name> <size_bytes> <sha256>\n` line per file in name order, as the manifest lists them).
    pub sha256: Option<String>,
    /// `pg_dump-custom`: one archive object at `backup_key`. `pg_dump-directory` (large
    /// databases, dumped with parallel jobs): one zstd object per file under the `backup_key`
    /// prefix, listed with sizes and hashes in the manifest beside it.
    pub format: String,
    /// `zstd`.
    pub compression: String,
    pub postgres_version: Option<String>,
    pub verification_state: VerificationState,
    pub verified_at: Option<Timestamp>,
    pub verification_error: Option<String>,
    /// Why the backup failed (`failed` only).
    pub error: Option<String>,
    /// When retention deletes it; a pinned backup is kept past this.
    pub expires_at: Option<Timestamp>,
    /// Whether a restore point keeps it past its retention.
    pub pinned: bool,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// `202`: the backup is queued; follow `job`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupCreated {
    pub job: Job,
    pub backup: Backup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupList {
    pub backups: Vec<Backup>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupResponse {
    pub backup: Backup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupDeleted {
    pub backup: Backup,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadUrlRequest {
    /// How long the URL works: 60–86400 seconds, 900 when left out.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 86400)]
    pub expires_in_seconds: Option<i64>,
}

/// A URL that fetches the stored archive without credentials until `expires_at`. For a
/// `pg_dump-custom` backup the object is the archive compressed with zstd: `zstd -dc |
/// pg_restore` reads it. For a `pg_dump-directory` backup `url` fetches the manifest and `files`
/// lists every file's own URL: fetch them into one folder, `zstd -d` each, and run
/// `pg_restore --format=directory` on the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DownloadUrl {
    pub backup_id: String,
    pub url: String,
    pub expires_at: Timestamp,
    /// SHA-256 (hex) of the archive (custom) or of its file list (directory), as on the backup.
    pub sha256: String,
    pub size_bytes: u64,
    pub format: String,
    pub compression: String,
    /// A directory archive's files; empty for a custom archive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<DownloadFile>,
}

/// One file of a directory archive and a URL for it, valid as long as the download's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DownloadFile {
    /// pg_dump's file name (`toc.dat`, `<id>.dat`, …); the object is `<name>.zst`.
    pub name: String,
    pub url: String,
    /// SHA-256 (hex) and size of the bytes the URL returns (compressed).
    pub sha256: String,
    pub size_bytes: u64,
    /// The file's size once decompressed.
    pub dump_size_bytes: u64,
}
