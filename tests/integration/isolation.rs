//! Tenant data is hostile: an archive's functions, constraints and index expressions run while
//! it is verified and restored. These tests plant what an attacker would and run every path that
//! loads tenant data — on-demand backup, nightly dump, restore into a new preview, project
//! overwrite, point-in-time restore — then check that the tenant gained nothing.

use crate::harness::{TestEnv, SESSION_SECRET};
use capydb_shared::adapters::sandbox::{Sandbox, DATABASE as SANDBOX_DB};
use capydb_shared::auth::{sign_session, OrgRole, SessionClaims};
use capydb_shared::services::base_backups;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

/// The schema of a tenant who wants the cluster: a CHECK constraint that, whenever it finds
/// itself running with a superuser behind it (directly or after undoing a SET ROLE), makes its
/// role superuser, joins the victim's role, writes into the victim's database and runs a shell
/// command; and an index expression that tries `COPY … TO PROGRAM` every time. Every step hides
/// its failure, so a restore that does not escalate still succeeds.
fn hostile_schema(me: &str, victim_role: &str, victim_db: &str, socket_dir: &str, port: u16, marker: &str) -> String {
    format!(
        r#"
CREATE TABLE public.ledger (n int);
INSERT INTO public.ledger SELECT generate_series(1, 10);
CREATE FUNCTION public.pwn() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN
    IF session_user <> current_user THEN RESET ROLE; END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      EXECUTE 'ALTER ROLE "{me}" SUPERUSER';
      EXECUTE 'GRANT "{victim_role}" TO "{me}"';
      EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}-check''';
      EXECUTE 'CREATE EXTENSION IF NOT EXISTS dblink';
      PERFORM dblink_exec('host={socket_dir} port={port} user=postgres dbname={victim_db}',
                          'INSERT INTO public.secrets VALUES (666)');
    END IF;
  EXCEPTION WHEN others THEN NULL;
  END;
  RETURN true;
END $f$;
CREATE FUNCTION public.shell(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  BEGIN
    EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}-index''';
  EXCEPTION WHEN others THEN NULL;
  END;
  RETURN $1;
END $f$;
CREATE TABLE public.t (x int CHECK (public.pwn()));
INSERT INTO public.t VALUES (1), (2);
CREATE INDEX t_shell ON public.t (public.shell(x));
CREATE FUNCTION public.on_insert() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM public.pwn();
  BEGIN
    EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}-trigger''';
  EXCEPTION WHEN others THEN NULL;
  END;
  RETURN NEW;
END $f$;
CREATE TRIGGER t_insert BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.on_insert();
ALTER TABLE public.ledger ALTER COLUMN n SET DEFAULT (CASE WHEN public.pwn() THEN 0 END);
"#
    )
}

struct Scene {
    attacker: String,
    attacker_role: String,
    victim: String,
    victim_role: String,
    marker: String,
}

async fn scene(env: &TestEnv) -> Scene {
    let attacker = env.project("local-1").await;
    let victim = env.project("local-1").await;
    env.tenant_sql(&victim, "CREATE TABLE public.secrets (n int); INSERT INTO public.secrets VALUES (1)").await;
    let role_of = |p: &str| format!("{p}_owner");
    let region = env.region("local-1");
    let socket_dir = format!("/tmp/capydb-it-{}/local-1", std::process::id());
    let marker = format!("/tmp/capydb-pwned-{attacker}");
    let victim_db = env.database_of(&victim).await;
    env.tenant_sql(
        &attacker,
        &hostile_schema(&role_of(&attacker), &role_of(&victim), &victim_db, &socket_dir, region.public_port, &marker),
    )
    .await;
    let s = Scene { attacker_role: role_of(&attacker), victim_role: role_of(&victim), attacker, victim, marker };
    assert_unharmed(env, &s, "after the schema was planted").await;
    s
}

/// The attacker is still an ordinary role, reaches nothing of the victim's, and ran no command.
async fn assert_unharmed(env: &TestEnv, s: &Scene, after: &str) {
    let admin = env.admin_db("local-1", "postgres").await;
    let row = admin
        .query_one(
            "SELECT rolsuper, rolcreaterole, pg_has_role($1, $2, 'MEMBER') FROM pg_roles WHERE rolname = $1",
            &[&s.attacker_role, &s.victim_role],
        )
        .await
        .unwrap();
    let (superuser, createrole, member): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    assert!(!superuser && !createrole, "{after}: the tenant role gained privileges");
    assert!(!member, "{after}: the tenant role joined the victim's role");
    let victim_db = env.database_of(&s.victim).await;
    let secrets: i64 =
        env.admin_db("local-1", &victim_db).await.query_one("SELECT count(*) FROM secrets", &[]).await.unwrap().get(0);
    assert_eq!(secrets, 1, "{after}: the victim's database gained a row");
    for suffix in ["check", "index", "trigger"] {
        let path = format!("{}-{suffix}", s.marker);
        assert!(!std::path::Path::new(&path).exists(), "{after}: a tenant command ran on the cluster host ({path})");
    }
}

async fn completed(env: &TestEnv, job: &str) -> Value {
    let job = env.wait_job(job).await;
    assert_eq!(job["state"], "completed", "{job}");
    job
}

async fn backup(env: &TestEnv, project: &str) -> String {
    let (status, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(status, 202, "{created}");
    completed(env, created["job"]["id"].as_str().unwrap()).await;
    let (_, b) =
        env.get(&format!("/v1/projects/{project}/backups/{}", created["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(b["backup"]["verification_state"], "verified", "{b}");
    b["backup"]["backup_key"].as_str().unwrap().to_string()
}

async fn restore(env: &TestEnv, project: &str, body: Value, key: &str) -> Value {
    let path = format!("/v1/projects/{project}/restores");
    let mut attempt = 1;
    loop {
        let (status, r) = env.call("POST", &path, Some(key), Some(body.clone()), None).await;
        // A busy shared cluster may not archive the WAL a point-in-time request waits for in
        // time; the answer says to retry, and a client does.
        if status == 409 && r["error"].as_str().is_some_and(|e| e.contains("retry shortly")) && attempt < 4 {
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            continue;
        }
        assert_eq!(status, 202, "{r}");
        return completed(env, r["job"]["id"].as_str().unwrap()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_archive_gains_nothing_on_any_path_that_loads_it() {
    let env = TestEnv::new().await;
    let s = scene(&env).await;

    let key = backup(&env, &s.attacker).await;
    assert_unharmed(&env, &s, "an on-demand backup and its verification").await;

    let tonight = Utc::now() + Duration::days(1);
    let report = capydb_shared::services::nightly::fan_out(&env.ctx, tonight).await.unwrap();
    assert!(report.created >= 1, "{report:?}");
    let (_, listed) = env.get(&format!("/v1/projects/{}/backups", s.attacker)).await;
    let nightly = listed["backups"].as_array().unwrap().iter().find(|b| b["kind"] == "nightly").unwrap().clone();
    completed(&env, nightly["job_id"].as_str().unwrap()).await;
    assert_unharmed(&env, &s, "the nightly dump").await;

    restore(&env, &s.attacker, json!({ "backup_key": key, "preview_name": "hostile" }), &env.key).await;
    assert_unharmed(&env, &s, "a restore into a new preview").await;

    let admin = sign_session(
        &SessionClaims {
            sub: "usr_admin".into(),
            org_id: env.org.to_string(),
            org_role: OrgRole::Admin,
            exp: (Utc::now() + Duration::hours(1)).timestamp(),
        },
        SESSION_SECRET,
    );
    let over = json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true });
    restore(&env, &s.attacker, over, &admin).await;
    assert_unharmed(&env, &s, "a project overwrite and its safety copy").await;

    base_backups::take(&env.ctx, env.ctx.region("local-1").unwrap()).await.expect("base backup");
    let pitr = json!({ "restore_time": Utc::now().to_rfc3339(), "preview_name": "hostile-pitr" });
    restore(&env, &s.attacker, pitr, &env.key).await;
    assert_unharmed(&env, &s, "a point-in-time restore").await;

    // The data is all still there: hostile or not, it is the tenant's.
    let rows: i64 = env.tenant_db(&s.attacker).await.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0);
    assert_eq!(rows, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_needing_an_untrusted_extension_fails_naming_it() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let db = env.database_of(&project).await;
    // Only a superuser can put it there (a tenant cannot); the archive then holds it.
    env.sql("local-1", &db, "CREATE EXTENSION dblink").await;
    env.tenant_sql(&project, "CREATE EXTENSION citext; CREATE TABLE t (name citext); INSERT INTO t VALUES ('A')").await;
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("extension \"dblink\"") && error.contains("trusted extensions"), "{error}");

    // Trusted extensions restore as the tenant's own role.
    env.sql("local-1", &db, "DROP EXTENSION dblink").await;
    backup(&env, &project).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_tenants_cannot_reach_staging_or_verification_databases() {
    let env = TestEnv::new().await;
    let owner = env.project("local-1").await;
    let other = env.project("local-1").await;
    let region = env.region("local-1").clone();
    let (_, c) = env.get(&format!("/v1/projects/{other}/connections")).await;
    let other_url = url::Url::parse(c["connections"]["direct_url"].as_str().unwrap()).unwrap();

    // A staging database, as a restore creates it for the owner's role.
    let staging = format!("capydb_stage_it{}", &owner[4..]);
    env.ctx.data_plane.create_database(&region, &staging, &format!("{owner}_owner")).await.unwrap();
    let mut url = other_url.clone();
    url.set_path(&staging);
    let refused = tokio_postgres::connect(url.as_str(), tokio_postgres::NoTls).await.err().expect("refused");
    let message = refused.as_db_error().map(|e| e.message().to_string()).unwrap_or_else(|| refused.to_string());
    assert!(message.contains("permission denied"), "{message}");
    env.ctx.data_plane.drop_database(&region, &staging).await.unwrap();

    // A verification sandbox: nobody but its restoring role, and only with its password.
    let scratch = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(None, scratch.path(), &format!("{owner}_owner"), 1, 1024).await.expect("sandbox");
    let port = sandbox.region().public_port;
    let attempts = [
        format!("postgres://{}:{}@127.0.0.1:{port}/{SANDBOX_DB}", other_url.username(), other_url.password().unwrap()),
        format!("postgres://postgres:{}@127.0.0.1:{port}/postgres", crate::harness::stack().pg_password),
        format!("postgres://postgres:{}@127.0.0.1:{port}/{SANDBOX_DB}", crate::harness::stack().pg_password),
        format!("postgres://{}:wrong@127.0.0.1:{port}/{SANDBOX_DB}", sandbox.login.role),
    ];
    for attempt in &attempts {
        assert!(tokio_postgres::connect(attempt, tokio_postgres::NoTls).await.is_err(), "{attempt} got in");
    }
    let own = format!("postgres://{}:{}@127.0.0.1:{port}/{SANDBOX_DB}", sandbox.login.role, sandbox.login.password);
    let (client, conn) = tokio_postgres::connect(&own, tokio_postgres::NoTls).await.expect("its own role connects");
    tokio::spawn(conn);
    let superuser: String = client.query_one("SHOW is_superuser", &[]).await.unwrap().get(0);
    assert_eq!(superuser, "off");
    drop(client);
    sandbox.remove().await;
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "the sandbox left files behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_abandoned_mid_way_leaves_no_server_and_no_files() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().unwrap();
    // The sandbox runs as `postgres`, which must get through to its folder.
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = TestEnv::with_env(&[("CAPYDB_SCRATCH_DIR", scratch.path().display().to_string())]).await;
    // An archive that never arrives: the restore waits in the sandbox until the work is dropped.
    let (writer, reader) = tokio::io::duplex(64);
    let dp = env.ctx.data_plane.clone();
    let verifying = tokio::spawn(async move { dp.verify(Box::pin(reader), None, "abandoned_role").await });

    // The server accepts connections (initdb's own single-user runs also leave a postmaster.pid).
    let running = || {
        std::fs::read_dir(scratch.path()).unwrap().flatten().any(|d| {
            std::fs::read_to_string(d.path().join("server.log"))
                .is_ok_and(|log| log.contains("ready to accept connections"))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !running() {
        assert!(std::time::Instant::now() < deadline, "no sandbox server started");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // As a lost lease or a killed task would: the future is dropped, nothing awaits its cleanup.
    verifying.abort();
    assert!(verifying.await.unwrap_err().is_cancelled());
    drop(writer);

    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().flatten().map(|d| d.path()).collect();
    assert!(left.is_empty(), "the sandbox's files are gone: {left:?}");
    let path = scratch.path().display().to_string();
    let processes = || {
        let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&path))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let servers: Vec<_> = processes().into_iter().filter(|l| l.contains("bin/postgres ")).collect();
    assert!(servers.is_empty(), "no sandbox server outlives its work: {servers:?}");
    // A tool the dropped work had started (initdb, pg_restore) ends by itself once its files are
    // gone; nothing of the sandbox may linger.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !processes().is_empty() {
        assert!(std::time::Instant::now() < deadline, "left running: {:?}", processes());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
