//! Staging a piped `pg_dump` archive for a parallel restore: the data positions we write into
//! its TOC must be the ones pg_dump itself writes when it dumps to a file, and `pg_restore
//! --jobs` must restore every table and large object from it.

use crate::harness::TestEnv;
use capydb_shared::adapters::pg_archive::{stage, toc_offsets};
use std::process::{Command, Stdio};

pub(crate) fn pg_command(env: &TestEnv, tool: &str, database: &str) -> Command {
    let url = url::Url::parse(&env.region("local-1").admin_url).unwrap();
    let mut cmd = Command::new(tool);
    cmd.env("PGHOST", url.host_str().unwrap())
        .env("PGPORT", url.port().unwrap().to_string())
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", url.password().unwrap())
        .env("PGDATABASE", database)
        .stdin(Stdio::null());
    cmd
}

#[tokio::test]
async fn staged_archive_gets_pg_dumps_own_offsets_and_restores_in_parallel() {
    let env = TestEnv::new().await;
    let source = format!("archive_src_{}", &env.name[3..].to_lowercase());
    let target = format!("archive_dst_{}", &env.name[3..].to_lowercase());
    env.sql("local-1", "postgres", &format!("CREATE DATABASE {source}")).await;
    env.sql(
        "local-1",
        &source,
        "CREATE TABLE a (id int PRIMARY KEY, body text);
         INSERT INTO a SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, 20000) i;
         CREATE TABLE b (id int, doc jsonb);
         INSERT INTO b SELECT i, jsonb_build_object('n', i) FROM generate_series(1, 5000) i;
         CREATE INDEX b_doc ON b USING gin (doc);
         CREATE TABLE empty_one (x int);
         SELECT lo_from_bytea(0, convert_to(repeat('large object ', 1000), 'UTF8'));",
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let seekable = dir.path().join("seekable.dump");
    let out = pg_command(&env, "pg_dump", &source).args(["-Fc", "-Z0", "-f"]).arg(&seekable).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The same dump through a pipe, as the backup pipeline reads it, staged by us.
    let mut child = pg_command(&env, "pg_dump", &source).args(["-Fc", "-Z0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut piped = tokio::process::ChildStdout::from_std(child.stdout.take().unwrap()).unwrap();
    let staged_path = dir.path().join("staged.dump");
    let staged = stage(&mut piped, tokio::fs::File::create(&staged_path).await.unwrap()).await.unwrap();
    assert!(child.wait().unwrap().success());
    assert!(staged.offsets_written, "the TOC of a PostgreSQL {} archive is understood", env.name);
    assert_eq!(staged.bytes, std::fs::metadata(&staged_path).unwrap().len());

    let ours = toc_offsets(&staged_path).await.unwrap();
    let theirs = toc_offsets(&seekable).await.unwrap();
    let fields = |toc: &[capydb_shared::adapters::pg_archive::TocEntry]| {
        toc.iter().map(|e| (e.dump_id, e.flag, e.offset)).collect::<Vec<_>>()
    };
    assert_eq!(fields(&ours), fields(&theirs), "the staged TOC points where pg_dump's own does");
    assert!(ours.iter().filter(|e| e.flag == 2).count() >= 4, "a, b, empty_one and the large object have data");

    env.sql("local-1", "postgres", &format!("CREATE DATABASE {target}")).await;
    let out = pg_command(&env, "pg_restore", &target)
        .args(["--exit-on-error", "-j", "2", "-d", &target])
        .arg(&staged_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "parallel restore from the staged file: {}", String::from_utf8_lossy(&out.stderr));
    let restored = env.admin_db("local-1", &target).await;
    let count = |sql: &'static str| {
        let restored = &restored;
        async move { restored.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM a").await, 20000);
    assert_eq!(count("SELECT count(*) FROM b WHERE doc @> '{\"n\": 4242}'").await, 1);
    assert_eq!(count("SELECT sum(length(lo_get(oid)))::bigint FROM pg_largeobject_metadata").await, 13000);
    for db in [&source, &target] {
        env.sql("local-1", "postgres", &format!("DROP DATABASE {db} WITH (FORCE)")).await;
    }
}

#[tokio::test]
async fn anything_but_a_custom_archive_is_staged_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.sql");
    let body = b"-- a plain SQL dump is not a custom-format archive\nSELECT 1;\n".repeat(1000);
    let staged = stage(&mut &body[..], tokio::fs::File::create(&path).await.unwrap()).await.unwrap();
    assert!(!staged.offsets_written);
    assert_eq!(std::fs::read(&path).unwrap(), body, "copied byte for byte");
}
