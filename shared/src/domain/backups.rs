//! Logical backups: one compressed `pg_dump` archive of a project database, with its manifest.

use crate::ids::{BackupId, JobId, OrgId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    OnDemand,
    Scheduled,
    Nightly,
    PreRestore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    Pending,
    Verified,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub id: BackupId,
    pub project_id: ProjectId,
    pub org_id: OrgId,
    pub job_id: JobId,
    pub label: Option<String>,
    pub kind: BackupKind,
    pub state: BackupState,
    pub database_name: String,
    pub backup_key: Option<String>,
    pub size_bytes: Option<u64>,
    /// Size of the uncompressed archive: the scratch space a parallel restore stages it in.
    #[serde(default)]
    pub dump_size_bytes: Option<u64>,
    pub sha256: Option<String>,
    pub format: String,
    pub compression: String,
    pub postgres_version: Option<String>,
    pub verification_state: VerificationState,
    pub verified_at: Option<DateTime<Utc>>,
    pub verification_error: Option<String>,
    pub error: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// When the retention sweep next looks at this backup: its expiry, or later while a restore
    /// point pins it.
    #[serde(default)]
    pub retention_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub const FORMAT: &str = "pg_dump-custom";
/// A `pg_dump --format=directory` archive: one zstd object per file under
/// [`directory_prefix`], listed with sizes and hashes in the manifest. Taken with parallel jobs
/// by a worker with several vCPUs (a task), for databases one stream is too slow for.
pub const FORMAT_DIRECTORY: &str = "pg_dump-directory";
pub const COMPRESSION: &str = "zstd";

impl Backup {
    pub fn is_directory(&self) -> bool {
        self.format == FORMAT_DIRECTORY
    }
}

impl Backup {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: BackupId,
        project_id: ProjectId,
        org_id: OrgId,
        job_id: JobId,
        label: Option<String>,
        kind: BackupKind,
        database_name: String,
        now: DateTime<Utc>,
    ) -> Self {
        Backup {
            id,
            project_id,
            org_id,
            job_id,
            label,
            kind,
            state: BackupState::Pending,
            database_name,
            backup_key: None,
            size_bytes: None,
            dump_size_bytes: None,
            sha256: None,
            format: FORMAT.into(),
            compression: COMPRESSION.into(),
            postgres_version: None,
            verification_state: VerificationState::Pending,
            verified_at: None,
            verification_error: None,
            error: None,
            expires_at: None,
            retention_check_at: None,
            created_at: now,
            completed_at: None,
            updated_at: now,
        }
    }
}

/// What the retention sweep does with a backup the due index returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Not expired yet (the index is read a little wide), or still being taken.
    Leave,
    /// Expired, but a restore point pins it: look again at this moment, for as long as it is
    /// pinned.
    KeepPinned { check_again_at: DateTime<Utc> },
    /// Expired and unpinned: the archive, its manifest and its record go.
    Delete,
}

/// How often a pinned, expired backup is looked at again.
pub const PINNED_RECHECK: chrono::Duration = chrono::Duration::hours(1);

pub fn retention(backup: &Backup, pinned: bool, now: DateTime<Utc>) -> Retention {
    let expired = backup.expires_at.is_some_and(|at| at <= now);
    if !expired || matches!(backup.state, BackupState::Pending | BackupState::Running) {
        return Retention::Leave;
    }
    if pinned {
        return Retention::KeepPinned { check_again_at: now + PINNED_RECHECK };
    }
    Retention::Delete
}

/// Object key of a backup archive. Deterministic per backup id, so a retried attempt
/// overwrites its own earlier upload instead of leaving a second object.
pub fn object_key(project: &ProjectId, backup: &BackupId) -> String {
    format!("projects/{project}/backups/{backup}.dump.zst")
}

/// Where a directory-format archive's files are stored: the backup's key (a prefix).
pub fn directory_prefix(project: &ProjectId, backup: &BackupId) -> String {
    format!("projects/{project}/backups/{backup}.dir/")
}

/// The backup id an archive key of `project` names (a custom archive's object or a directory
/// archive's prefix), if it is one of this layout.
pub fn backup_id_of_key(project: &ProjectId, key: &str) -> Option<BackupId> {
    let rest = key.strip_prefix(&format!("projects/{project}/backups/"))?;
    rest.strip_suffix(".dump.zst").or_else(|| rest.strip_suffix(".dir/"))?.parse().ok()
}

/// One file of a directory-format archive, as stored: `<prefix><name>.zst`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveFile {
    /// pg_dump's file name: `toc.dat`, `<dump id>.dat`, large objects' `blob_<oid>.dat` and
    /// `blobs*.toc`.
    pub name: String,
    /// The stored (compressed) object's size and SHA-256.
    pub size_bytes: u64,
    pub sha256: String,
    /// The file's size as pg_dump wrote it (what `zstd -d` yields).
    pub dump_bytes: u64,
}

impl ArchiveFile {
    /// pg_dump names its files from numbers; anything else (a path, `..`) is refused before it
    /// is used as a file name or a key.
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 128
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    }

    pub fn key(&self, prefix: &str) -> String {
        format!("{prefix}{}.zst", self.name)
    }
}

/// The checksum a directory archive's record carries: SHA-256 over its file list, one
/// `<name> <stored bytes> <sha256>` line per file in name order. Every file's own hash is in the
/// list, so this one value pins every stored byte, as an archive's SHA-256 does.
pub fn files_digest(files: &[ArchiveFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&ArchiveFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    for f in sorted {
        hasher.update(format!("{} {} {}\n", f.name, f.size_bytes, f.sha256));
    }
    hex::encode(hasher.finalize())
}

pub fn manifest_key(project: &ProjectId, backup: &BackupId) -> String {
    format!("projects/{project}/backups/{backup}.manifest.json")
}

/// Written beside each archive so the object stands on its own without the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub backup_id: BackupId,
    pub project_id: ProjectId,
    pub database_name: String,
    pub format: String,
    pub compression: String,
    pub postgres_version: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// Size of the archive once decompressed (what `zstd -dc` yields).
    pub dump_size_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub restore_hint: String,
    /// A directory archive's files; `sha256` above is their [`files_digest`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ArchiveFile>,
}

const MIB: usize = 1024 * 1024;
/// S3 allows at most 10,000 parts of at least 5 MiB (but the last).
pub const MAX_PARTS: u32 = 10_000;

/// Size of multipart part `n` (1-based). Parts start at 8 MiB and grow by 8 MiB every 1,000
/// parts up to 64 MiB, so the part limit allows archives of ~416 GiB while memory stays bounded
/// by a few parts whatever the database size.
pub fn part_size(part_number: u32) -> usize {
    let step = ((part_number.saturating_sub(1)) / 1000) as usize + 1;
    (8 * MIB * step).min(64 * MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_deletes_what_expired_keeps_what_is_pinned_and_leaves_what_runs() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let mut b = Backup::new(
            BackupId::generate(),
            ProjectId::generate(),
            OrgId::generate(),
            JobId::generate(),
            None,
            BackupKind::Scheduled,
            "db".into(),
            now,
        );
        b.state = BackupState::Completed;
        assert_eq!(retention(&b, false, now), Retention::Leave, "no expiry: kept for good");
        b.expires_at = Some(now + chrono::Duration::seconds(1));
        assert_eq!(retention(&b, false, now), Retention::Leave, "not yet");
        b.expires_at = Some(now);
        assert_eq!(retention(&b, false, now), Retention::Delete, "due at the moment it expires");
        assert_eq!(
            retention(&b, true, now),
            Retention::KeepPinned { check_again_at: now + chrono::Duration::hours(1) }
        );
        for state in [BackupState::Pending, BackupState::Running] {
            b.state = state;
            assert_eq!(retention(&b, false, now), Retention::Leave, "{state:?} is still being taken");
        }
        b.state = BackupState::Failed;
        assert_eq!(retention(&b, false, now), Retention::Delete, "a failed backup expires too");
    }

    #[test]
    fn parts_start_at_8_mib_and_never_exceed_64_mib() {
        assert_eq!(part_size(1), 8 * MIB);
        assert_eq!(part_size(1000), 8 * MIB);
        assert_eq!(part_size(1001), 16 * MIB);
        assert_eq!(part_size(MAX_PARTS), 64 * MIB);
        assert!((1..=MAX_PARTS).all(|n| part_size(n) >= 5 * MIB && part_size(n) <= 64 * MIB));
    }

    #[test]
    fn part_schedule_holds_more_than_400_gib() {
        let max_archive_bytes: u64 = (1..=MAX_PARTS).map(|n| part_size(n) as u64).sum();
        assert!(max_archive_bytes > 400 * 1024 * MIB as u64);
    }

    #[test]
    fn object_keys_follow_the_project_prefix_layout() {
        let p: ProjectId = "prj_01j0000000000000000000000z".parse().unwrap();
        let b: BackupId = "bkp_01j0000000000000000000000z".parse().unwrap();
        assert_eq!(
            object_key(&p, &b),
            "projects/prj_01j0000000000000000000000z/backups/bkp_01j0000000000000000000000z.dump.zst"
        );
        assert!(manifest_key(&p, &b).ends_with(".manifest.json"));
        assert_eq!(backup_id_of_key(&p, &object_key(&p, &b)), Some(b.clone()));
        assert_eq!(backup_id_of_key(&ProjectId::generate(), &object_key(&p, &b)), None, "another project's key");
        assert_eq!(backup_id_of_key(&p, "projects/x/backups/y.dump.zst"), None);
        assert_eq!(directory_prefix(&p, &b), format!("projects/{p}/backups/{b}.dir/"));
        assert_eq!(backup_id_of_key(&p, &directory_prefix(&p, &b)), Some(b.clone()), "a directory archive's key");
        assert_eq!(
            backup_id_of_key(&p, &format!("projects/{p}/backups/{b}.dir/toc.dat.zst")),
            None,
            "one of its files"
        );
    }

    #[test]
    fn archive_file_names_are_pg_dumps_and_the_digest_pins_every_file() {
        for ok in ["toc.dat", "4012.dat", "blob_16384.dat", "blobs_3301.toc", "blobs.toc"] {
            assert!(ArchiveFile::valid_name(ok), "{ok}");
        }
        for bad in ["", "../toc.dat", "a/b.dat", ".hidden", "x y", "toc.dat\n"] {
            assert!(!ArchiveFile::valid_name(bad), "{bad:?}");
        }
        let file = |name: &str, sha: &str| ArchiveFile {
            name: name.into(),
            size_bytes: 10,
            sha256: sha.into(),
            dump_bytes: 20,
        };
        let a = vec![file("toc.dat", "aa"), file("1.dat", "bb")];
        let reordered = vec![file("1.dat", "bb"), file("toc.dat", "aa")];
        assert_eq!(files_digest(&a), files_digest(&reordered), "the order stored does not matter");
        assert_ne!(files_digest(&a), files_digest(&[file("toc.dat", "aa"), file("1.dat", "bc")]), "a file's hash does");
        assert_ne!(files_digest(&a), files_digest(&a[..1]), "and so does a missing file");
        assert_eq!(a[1].key("p/"), "p/1.dat.zst");
    }
}

/// How long a download URL works: `expires_in_seconds`, 60 to 86400, default 900.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadTtl(u32);

impl DownloadTtl {
    pub const DEFAULT_SECONDS: u32 = 900;

    pub fn parse(value: Option<i64>) -> Result<Self, crate::Error> {
        match value {
            None => Ok(DownloadTtl(Self::DEFAULT_SECONDS)),
            Some(s @ 60..=86_400) => Ok(DownloadTtl(s as u32)),
            Some(s) => Err(crate::Error::invalid(
                "expires_in_seconds",
                format!("expires_in_seconds must be from 60 to 86400 (got {s})"),
            )),
        }
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod download_tests {
    use super::*;

    #[test]
    fn download_ttl_defaults_to_15_minutes_and_names_its_range() {
        assert_eq!(DownloadTtl::parse(None).unwrap().seconds(), 900);
        assert_eq!(DownloadTtl::parse(Some(86_400)).unwrap().seconds(), 86_400);
        for bad in [59, 86_401, -1] {
            let e = DownloadTtl::parse(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("60 to 86400"), "{e}");
        }
    }
}
