//! Stand-ins for object storage and the region clusters, for the fast tier: enough behaviour for
//! services to run whole jobs in memory (multipart uploads that really assemble, databases that
//! really hold what a restore wrote, roles that exist or not) and faults on demand. They prove
//! the services' rules; the PostgreSQL and S3 adapters themselves are proved against the real
//! things in the integration suite.

use crate::config::RegionConfig;
use crate::ports::{
    BoxReader, DataPlane, DataPlaneError, DumpProcess, Login, ObjectInfo, ObjectStore, ObjectStoreError, WalStatus,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use tokio::io::AsyncReadExt;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An object's body and its user metadata.
type Object = (Bytes, HashMap<String, String>);
/// A multipart upload's key and the parts sent so far.
type Upload = (String, BTreeMap<u32, Bytes>);

#[derive(Default)]
pub struct MemoryObjects {
    objects: Mutex<BTreeMap<String, Object>>,
    /// By upload id.
    uploads: Mutex<HashMap<String, Upload>>,
    /// Objects whose key ends so are read back with one byte changed.
    tampered: Mutex<Option<String>>,
}

impl MemoryObjects {
    pub fn bytes(&self, key: &str) -> Option<Bytes> {
        lock(&self.objects).get(key).map(|(b, _)| b.clone())
    }

    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }

    /// From now on, objects whose key ends with `suffix` read back with a byte changed, as
    /// storage that corrupted them would.
    pub fn tamper_reads(&self, suffix: &str) {
        *lock(&self.tampered) = Some(suffix.to_string());
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        lock(&self.uploads).len()
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn start_upload(&self, key: &str) -> Result<String, ObjectStoreError> {
        let id = ulid::Ulid::new().to_string();
        lock(&self.uploads).insert(id.clone(), (key.to_string(), BTreeMap::new()));
        Ok(id)
    }

    async fn upload_part(&self, key: &str, upload_id: &str, n: u32, data: Bytes) -> Result<String, ObjectStoreError> {
        match lock(&self.uploads).get_mut(upload_id) {
            Some((k, parts)) if k == key => {
                parts.insert(n, data);
                Ok(format!("etag-{n}"))
            }
            _ => Err(ObjectStoreError::Backend(format!("NoSuchUpload: {upload_id}"))),
        }
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(u32, String)>,
    ) -> Result<(), ObjectStoreError> {
        let Some((k, sent)) = lock(&self.uploads).remove(upload_id) else {
            return Err(ObjectStoreError::Backend(format!("NoSuchUpload: {upload_id}")));
        };
        let mut body = Vec::new();
        for (n, _) in parts {
            let part = sent.get(&n).ok_or_else(|| ObjectStoreError::Backend(format!("InvalidPart: {n}")))?;
            body.extend_from_slice(part);
        }
        debug_assert_eq!(k, key);
        lock(&self.objects).insert(key.to_string(), (body.into(), HashMap::new()));
        Ok(())
    }

    async fn abort_upload(&self, _key: &str, upload_id: &str) -> Result<(), ObjectStoreError> {
        lock(&self.uploads).remove(upload_id);
        Ok(())
    }

    async fn abort_stale_uploads(&self, key: &str) -> Result<usize, ObjectStoreError> {
        let mut uploads = lock(&self.uploads);
        let before = uploads.len();
        uploads.retain(|_, (k, _)| k != key && !(key.ends_with('/') && k.starts_with(key)));
        Ok(before - uploads.len())
    }

    async fn put(&self, key: &str, body: Bytes, _content_type: &str) -> Result<(), ObjectStoreError> {
        lock(&self.objects).insert(key.to_string(), (body, HashMap::new()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<BoxReader, ObjectStoreError> {
        let mut body = self.bytes(key).ok_or_else(|| ObjectStoreError::NotFound(key.to_string()))?.to_vec();
        if lock(&self.tampered).as_ref().is_some_and(|suffix| key.ends_with(suffix.as_str())) {
            let last = body.len() - 1;
            body[last] ^= 0x55;
        }
        Ok(Box::pin(std::io::Cursor::new(body)))
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        lock(&self.objects).remove(key);
        Ok(())
    }

    async fn put_with_metadata(
        &self,
        key: &str,
        body: Bytes,
        _content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), ObjectStoreError> {
        let meta = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        lock(&self.objects).insert(key.to_string(), (body, meta));
        Ok(())
    }

    async fn presigned_get(&self, key: &str, _expires_in: std::time::Duration) -> Result<String, ObjectStoreError> {
        Ok(format!("memory://{key}"))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        Ok(lock(&self.objects).get(key).map(|(b, meta)| ObjectInfo {
            key: key.to_string(),
            size: b.len() as u64,
            last_modified: None,
            metadata: meta.clone(),
        }))
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, ObjectStoreError> {
        Ok(lock(&self.objects)
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && start_after.is_none_or(|after| k.as_str() > after))
            .map(|(k, (b, _))| ObjectInfo {
                key: k.clone(),
                size: b.len() as u64,
                last_modified: None,
                metadata: HashMap::new(),
            })
            .collect())
    }
}

/// The first bytes of every archive the fake cluster dumps, as `PGDMP` starts a real one.
pub const ARCHIVE_MAGIC: &[u8] = b"PGDMP-fake\n";
/// Database contents that make the fake sandbox refuse the archive, as a restore that fails.
pub const UNRESTORABLE: &[u8] = b"unrestorable";

#[derive(Default)]
struct Cluster {
    databases: BTreeMap<String, Vec<u8>>,
    roles: BTreeSet<String>,
    closed: BTreeSet<String>,
}

/// The region clusters in memory: a database is its bytes; a dump is those bytes behind
/// [`ARCHIVE_MAGIC`]; a restore writes them back; verification reads the whole archive and
/// refuses one without the magic or holding [`UNRESTORABLE`].
pub struct FakeDataPlane {
    clusters: Mutex<HashMap<String, Cluster>>,
    /// How many of the next calls find the cluster refusing connections.
    refusals: Mutex<u32>,
    /// How much larger `database_size` says a database is than the bytes it holds, so a test
    /// can make a small database look large.
    size_factor: Mutex<u64>,
}

impl Default for FakeDataPlane {
    fn default() -> Self {
        FakeDataPlane { clusters: Mutex::default(), refusals: Mutex::new(0), size_factor: Mutex::new(1) }
    }
}

impl FakeDataPlane {
    pub fn put_database(&self, region: &str, database: &str, contents: &[u8]) {
        lock(&self.clusters)
            .entry(region.to_string())
            .or_default()
            .databases
            .insert(database.to_string(), contents.to_vec());
    }

    pub fn database(&self, region: &str, database: &str) -> Option<Vec<u8>> {
        lock(&self.clusters).get(region).and_then(|c| c.databases.get(database).cloned())
    }

    pub fn databases(&self, region: &str) -> Vec<String> {
        lock(&self.clusters).get(region).map(|c| c.databases.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn has_role(&self, region: &str, role: &str) -> bool {
        lock(&self.clusters).get(region).is_some_and(|c| c.roles.contains(role))
    }

    /// `database_size` reports every database `factor` times its bytes.
    pub fn inflate_sizes(&self, factor: u64) {
        *lock(&self.size_factor) = factor;
    }

    /// The next `n` calls fail as a restarting cluster does.
    pub fn refuse_connections(&self, n: u32) {
        *lock(&self.refusals) = n;
    }

    /// Runs `f` on the region's cluster, unless this call is one to refuse.
    fn with<T>(
        &self,
        region: &RegionConfig,
        f: impl FnOnce(&mut Cluster) -> Result<T, DataPlaneError>,
    ) -> Result<T, DataPlaneError> {
        {
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(DataPlaneError::Connect {
                    region: region.name.clone(),
                    message: "error connecting to server: Connection refused (os error 111)".into(),
                });
            }
        }
        f(lock(&self.clusters).entry(region.name.clone()).or_default())
    }
}

fn missing(database: &str) -> DataPlaneError {
    DataPlaneError::Sql(format!("database \"{database}\" does not exist"))
}

fn no_wal() -> DataPlaneError {
    DataPlaneError::Sql("the fake cluster keeps no WAL".into())
}

/// What a fake directory dump holds: `toc.dat` (the magic, then the data file's name) and the
/// data file with the database's bytes.
const DATA_FILE: &str = "3001.dat";

async fn read_directory(dir: &Path) -> Result<Vec<u8>, DataPlaneError> {
    let toc = tokio::fs::read(dir.join("toc.dat")).await?;
    let name = toc.strip_prefix(ARCHIVE_MAGIC).ok_or_else(|| DataPlaneError::Tool {
        tool: "pg_restore",
        message: "toc.dat does not appear to be a valid archive".into(),
    })?;
    Ok(tokio::fs::read(dir.join(String::from_utf8_lossy(name).trim())).await?)
}

async fn read_all(mut archive: BoxReader) -> Result<Vec<u8>, DataPlaneError> {
    let mut body = Vec::new();
    archive.read_to_end(&mut body).await?;
    Ok(body)
}

#[async_trait]
impl DataPlane for FakeDataPlane {
    async fn provision_database(
        &self,
        region: &RegionConfig,
        database: &str,
        role: &str,
        _password: &str,
    ) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            c.roles.insert(role.to_string());
            c.databases.entry(database.to_string()).or_default();
            Ok(())
        })
    }

    async fn server_version(&self, region: &RegionConfig) -> Result<String, DataPlaneError> {
        self.with(region, |_| Ok("17.0 (fake)".to_string()))
    }

    async fn dump(&self, region: &RegionConfig, database: &str, _login: &Login) -> Result<DumpProcess, DataPlaneError> {
        let contents = self.with(region, |c| c.databases.get(database).cloned().ok_or_else(|| missing(database)))?;
        let mut archive = ARCHIVE_MAGIC.to_vec();
        archive.extend_from_slice(&contents);
        Ok(DumpProcess { reader: Box::pin(std::io::Cursor::new(archive)), finished: async { Ok(()) }.boxed() })
    }

    async fn restore(
        &self,
        region: &RegionConfig,
        database: &str,
        archive: BoxReader,
        _archive_bytes: Option<u64>,
        _login: &Login,
    ) -> Result<(), DataPlaneError> {
        let body = read_all(archive).await?;
        let contents = body
            .strip_prefix(ARCHIVE_MAGIC)
            .ok_or_else(|| DataPlaneError::Tool {
                tool: "pg_restore",
                message: "input file does not appear to be a valid archive".into(),
            })?
            .to_vec();
        self.with(region, |c| match c.databases.get_mut(database) {
            Some(db) => {
                *db = contents;
                Ok(())
            }
            None => Err(missing(database)),
        })
    }

    async fn verify(&self, archive: BoxReader, _archive_bytes: Option<u64>, _role: &str) -> Result<(), DataPlaneError> {
        let body = read_all(archive).await?;
        match body.strip_prefix(ARCHIVE_MAGIC) {
            Some(contents) if !contents.windows(UNRESTORABLE.len()).any(|w| w == UNRESTORABLE) => Ok(()),
            _ => Err(DataPlaneError::Tool { tool: "pg_restore", message: "the archive does not restore".into() }),
        }
    }

    async fn dump_directory(
        &self,
        region: &RegionConfig,
        database: &str,
        _login: &Login,
        dir: &Path,
        _jobs: u32,
    ) -> Result<BoxFuture<'static, Result<(), DataPlaneError>>, DataPlaneError> {
        let contents = self.with(region, |c| c.databases.get(database).cloned().ok_or_else(|| missing(database)))?;
        let dir = dir.to_path_buf();
        Ok(async move {
            tokio::fs::write(dir.join(DATA_FILE), contents).await?;
            tokio::fs::write(dir.join("toc.dat"), [ARCHIVE_MAGIC, DATA_FILE.as_bytes()].concat()).await?;
            Ok(())
        }
        .boxed())
    }

    async fn restore_directory(
        &self,
        region: &RegionConfig,
        database: &str,
        dir: &Path,
        _login: &Login,
    ) -> Result<(), DataPlaneError> {
        let contents = read_directory(dir).await?;
        self.with(region, |c| match c.databases.get_mut(database) {
            Some(db) => {
                *db = contents;
                Ok(())
            }
            None => Err(missing(database)),
        })
    }

    async fn verify_directory(&self, dir: &Path, _dump_bytes: u64, _role: &str) -> Result<(), DataPlaneError> {
        let contents = read_directory(dir).await?;
        match contents.windows(UNRESTORABLE.len()).any(|w| w == UNRESTORABLE) {
            false => Ok(()),
            true => Err(DataPlaneError::Tool { tool: "pg_restore", message: "the archive does not restore".into() }),
        }
    }

    async fn create_database(&self, region: &RegionConfig, database: &str, _owner: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| match c.databases.contains_key(database) {
            true => Err(DataPlaneError::Sql(format!("database \"{database}\" already exists"))),
            false => {
                c.databases.insert(database.to_string(), Vec::new());
                Ok(())
            }
        })
    }

    async fn drop_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            c.databases.remove(database);
            c.closed.remove(database);
            Ok(())
        })
    }

    async fn ensure_role(&self, region: &RegionConfig, role: &str, _password: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            c.roles.insert(role.to_string());
            Ok(())
        })
    }

    async fn drop_role(&self, region: &RegionConfig, role: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            c.roles.remove(role);
            Ok(())
        })
    }

    async fn rename_database(&self, region: &RegionConfig, from: &str, to: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            let db = c.databases.remove(from).ok_or_else(|| missing(from))?;
            c.databases.insert(to.to_string(), db);
            Ok(())
        })
    }

    async fn database_exists(&self, region: &RegionConfig, database: &str) -> Result<bool, DataPlaneError> {
        self.with(region, |c| Ok(c.databases.contains_key(database)))
    }

    async fn database_size(&self, region: &RegionConfig, database: &str) -> Result<u64, DataPlaneError> {
        let size =
            self.with(region, |c| c.databases.get(database).map(|d| d.len() as u64).ok_or_else(|| missing(database)))?;
        Ok(size.saturating_mul(*lock(&self.size_factor)))
    }

    async fn base_backup(&self, _region: &RegionConfig) -> Result<DumpProcess, DataPlaneError> {
        Err(no_wal())
    }

    async fn wal_status(&self, _region: &RegionConfig) -> Result<WalStatus, DataPlaneError> {
        Err(no_wal())
    }

    async fn switch_wal(&self, _region: &RegionConfig) -> Result<String, DataPlaneError> {
        Err(no_wal())
    }

    async fn create_restore_point(&self, _region: &RegionConfig, _name: &str) -> Result<String, DataPlaneError> {
        Err(no_wal())
    }

    async fn close_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            c.closed.insert(database.to_string());
            Ok(())
        })
    }

    async fn open_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            c.closed.remove(database);
            Ok(())
        })
    }

    async fn swap_databases(
        &self,
        region: &RegionConfig,
        live: &str,
        staging: &str,
        keep_as: &str,
    ) -> Result<(), DataPlaneError> {
        self.with(region, |c| {
            if !c.databases.contains_key(live)
                || !c.databases.contains_key(staging)
                || c.databases.contains_key(keep_as)
            {
                return Err(DataPlaneError::Sql(format!("cannot swap {staging} into {live}")));
            }
            let old = c.databases.remove(live).expect("checked");
            let new = c.databases.remove(staging).expect("checked");
            c.databases.insert(keep_as.to_string(), old);
            c.databases.insert(live.to_string(), new);
            c.closed.remove(live);
            Ok(())
        })
    }
}

/// A task launcher that starts nothing, keeps what it was asked, and can be told to fail.
#[derive(Default)]
pub struct FakeTasks {
    launched: Mutex<Vec<crate::ids::JobId>>,
    refusals: Mutex<u32>,
}

impl FakeTasks {
    pub fn launched(&self) -> Vec<crate::ids::JobId> {
        lock(&self.launched).clone()
    }

    /// The next `n` launches fail as ECS does without capacity.
    pub fn refuse(&self, n: u32) {
        *lock(&self.refusals) = n;
    }
}

#[async_trait]
impl crate::ports::TaskLauncher for FakeTasks {
    async fn launch(&self, job: &crate::ids::JobId) -> Result<String, crate::ports::LaunchError> {
        let mut refusals = lock(&self.refusals);
        if *refusals > 0 {
            *refusals -= 1;
            return Err(crate::ports::LaunchError("RESOURCE:FARGATE no capacity is available".into()));
        }
        let mut launched = lock(&self.launched);
        launched.push(job.clone());
        Ok(format!("arn:aws:ecs:us-east-1:000000000000:task/capydb/{}", launched.len()))
    }
}
