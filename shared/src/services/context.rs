use super::checkpoints::Checkpoints;
use crate::adapters::aws;
use crate::adapters::crypto::SecretBox;
use crate::adapters::dynamo::Repository;
use crate::adapters::postgres::PostgresDataPlane;
use crate::adapters::providers::EnvProviders;
use crate::adapters::s3::S3ObjectStore;
use crate::adapters::scheduler::EventBridgeScheduler;
use crate::adapters::webhook_http::WebhookSender;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, RegionConfig};
use crate::ports::{DataPlane, ObjectStore, TaskLauncher};
use crate::store::{
    ApiKeyStore, BackupStore, DeliveryStore, EventStore, IdempotencyStore, IntegrationStore, JobStore,
    OrganizationStore, PreviewStore, ProjectStore, RestorePointStore, RestoreStore, ScheduleStore, WebhookStore,
};
use crate::Error;
use std::sync::Arc;

/// The fast tier's stand-ins, as a test sees them.
#[cfg(test)]
pub(crate) struct Fakes {
    pub store: Arc<crate::adapters::memory::MemoryStore>,
    pub data_plane: Arc<crate::adapters::fakes::FakeDataPlane>,
    pub objects: Arc<crate::adapters::fakes::MemoryObjects>,
    pub clock: Arc<crate::clock::ManualClock>,
    pub tasks: Arc<crate::adapters::fakes::FakeTasks>,
}

#[cfg(test)]
impl Fakes {
    /// A ready project of a new organisation on `local-1`, its database holding `contents`.
    pub async fn ready_project(&self, ctx: &Context, contents: &[u8]) -> crate::domain::projects::Project {
        use crate::domain::jobs::{Job, JobState, JobType};
        let mut project = crate::store_conformance::project(&crate::ids::OrgId::generate());
        project.db_password_enc = ctx.secrets.seal("tenant-password");
        let mut provisioned =
            Job::new(JobType::ProvisionProject, project.org_id.clone(), project.id.clone(), 3, ctx.clock.now());
        provisioned.state = JobState::Completed;
        ctx.projects.create_project(&project, &provisioned, None).await.expect("the project is written");
        self.data_plane.put_database("local-1", &project.database_name, contents);
        project
    }
}

/// Everything a handler or worker needs, built once per process (Lambda cold start).
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    /// The store, one port per aggregate: the DynamoDB repository in service, the in-memory
    /// store in the fast tests.
    pub organizations: Arc<dyn OrganizationStore>,
    pub projects: Arc<dyn ProjectStore>,
    pub backups: Arc<dyn BackupStore>,
    pub jobs: Arc<dyn JobStore>,
    pub restores: Arc<dyn RestoreStore>,
    pub previews: Arc<dyn PreviewStore>,
    pub schedules: Arc<dyn ScheduleStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub events: Arc<dyn EventStore>,
    pub restore_points: Arc<dyn RestorePointStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub objects: Arc<dyn ObjectStore>,
    /// The WAL archive and base backups (`wal_bucket`).
    pub wal_objects: Arc<dyn ObjectStore>,
    pub data_plane: Arc<dyn DataPlane>,
    /// Starts the container tasks large jobs are handed to.
    pub tasks: Arc<dyn TaskLauncher>,
    pub clock: Arc<dyn Clock>,
    pub secrets: SecretBox,
    pub scheduler: EventBridgeScheduler,
    pub webhook_sender: WebhookSender,
    pub providers: EnvProviders,
    pub checkpoints: Checkpoints,
    pub metrics: super::metrics::Metrics,
}

impl Context {
    /// The scratch volume, as much of it as jobs may count on.
    pub fn scratch(&self) -> crate::adapters::scratch::Scratch {
        crate::adapters::scratch::Scratch::new(self.config.scratch_dir.clone(), self.config.scratch_limit)
    }

    pub async fn from_config(config: Config) -> Self {
        let sdk = aws::sdk_config(&config).await;
        let repo = Arc::new(Repository::new(aws::dynamodb(&sdk), config.table.clone()));
        let objects = Arc::new(S3ObjectStore::new(aws::s3(&sdk, &config), config.bucket.clone()));
        let wal_objects = Arc::new(S3ObjectStore::new(aws::s3(&sdk, &config), config.wal_bucket.clone()));
        let data_plane = Arc::new(PostgresDataPlane::new(
            config.pg_bin_dir.clone(),
            config.restore_jobs,
            crate::adapters::scratch::Scratch::new(config.scratch_dir.clone(), config.scratch_limit),
        ));
        let secrets = SecretBox::new(&config.secrets_key);
        let scheduler = EventBridgeScheduler::new(
            aws::scheduler(&sdk),
            config.schedule_group.clone(),
            config.scheduled_backup_arn.clone(),
            config.scheduler_role_arn.clone(),
        );
        let tasks = Arc::new(crate::adapters::ecs::EcsTaskLauncher::new(aws::ecs(&sdk), config.task.clone()));
        let webhook_sender = WebhookSender::new(config.webhooks_allow_private);
        let providers = EnvProviders::new(&config.vercel_api_url, &config.netlify_api_url);
        Context {
            webhook_sender,
            providers,
            config: Arc::new(config),
            organizations: repo.clone(),
            projects: repo.clone(),
            backups: repo.clone(),
            jobs: repo.clone(),
            restores: repo.clone(),
            previews: repo.clone(),
            schedules: repo.clone(),
            api_keys: repo.clone(),
            idempotency: repo.clone(),
            integrations: repo.clone(),
            events: repo.clone(),
            restore_points: repo.clone(),
            webhooks: repo.clone(),
            deliveries: repo,
            objects,
            wal_objects,
            data_plane,
            tasks,
            clock: Arc::new(SystemClock),
            secrets,
            scheduler,
            checkpoints: Checkpoints::default(),
            metrics: super::metrics::Metrics::stdout(),
        }
    }

    /// A context for the fast tier: its store ports are `store`, its object stores and clusters
    /// the in-memory fakes, its clock stands still. Nothing else in it is faked: its AWS clients
    /// (the scheduler) and region URLs point at a closed local port, so a service that reaches
    /// past the ports fails at once instead of passing by accident.
    #[cfg(test)]
    pub(crate) async fn in_memory(store: Arc<crate::adapters::memory::MemoryStore>) -> Context {
        Self::with_store(store).await.0
    }

    /// A fast-tier context on a new in-memory store, with handles on the store, the fakes and
    /// the clock.
    #[cfg(test)]
    pub(crate) async fn fast() -> (Context, Fakes) {
        Self::with_store(Arc::new(crate::adapters::memory::MemoryStore::new())).await
    }

    /// This context with its configuration changed.
    #[cfg(test)]
    pub(crate) fn with_config(&self, change: impl FnOnce(&mut Config)) -> Context {
        let mut config = (*self.config).clone();
        change(&mut config);
        Context { config: Arc::new(config), ..self.clone() }
    }

    #[cfg(test)]
    async fn with_store(store: Arc<crate::adapters::memory::MemoryStore>) -> (Context, Fakes) {
        let vars = [
            ("CAPYDB_TABLE", "memory"),
            ("CAPYDB_BUCKET", "memory"),
            (
                "CAPYDB_REGIONS",
                r#"[{"name":"local-1","admin_url":"postgres://postgres@127.0.0.1:9/postgres","public_host":"127.0.0.1","public_port":9,"wal_archiving":false}]"#,
            ),
            ("CAPYDB_SECRETS_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("CAPYDB_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ];
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        let mut ctx = Context::from_config(Config::from_lookup(lookup).expect("a complete configuration")).await;
        ctx.organizations = store.clone();
        ctx.projects = store.clone();
        ctx.backups = store.clone();
        ctx.jobs = store.clone();
        ctx.restores = store.clone();
        ctx.previews = store.clone();
        ctx.schedules = store.clone();
        ctx.api_keys = store.clone();
        ctx.idempotency = store.clone();
        ctx.integrations = store.clone();
        ctx.events = store.clone();
        ctx.restore_points = store.clone();
        ctx.webhooks = store.clone();
        ctx.deliveries = store.clone();
        let fakes = Fakes {
            store: store.clone(),
            data_plane: Arc::new(crate::adapters::fakes::FakeDataPlane::default()),
            objects: Arc::new(crate::adapters::fakes::MemoryObjects::default()),
            clock: Arc::new(crate::clock::ManualClock::new(chrono::Utc::now())),
            tasks: Arc::new(crate::adapters::fakes::FakeTasks::default()),
        };
        ctx.tasks = fakes.tasks.clone();
        ctx.data_plane = fakes.data_plane.clone();
        ctx.objects = fakes.objects.clone();
        ctx.wal_objects = Arc::new(crate::adapters::fakes::MemoryObjects::default());
        ctx.clock = fakes.clock.clone();
        (ctx, fakes)
    }

    pub fn region(&self, name: &str) -> Result<&RegionConfig, Error> {
        self.config.region(name).ok_or_else(|| Error::Internal(format!("region {name} is not configured")))
    }
}
