//! `capydb restore`, `capydb restores …` and `capydb preview …`.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, field, Format};
use crate::{fail_if_failed, preview_id, wait, Cli, PreviewCmd, RestoreArgs, RestorePointsCmd, RestoresCmd};
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};

fn target_kind(args: &RestoreArgs) -> &str {
    match (&args.target_kind, &args.preview) {
        (Some(kind), _) => kind,
        (None, Some(_)) => "preview",
        (None, None) => "new_preview",
    }
}

/// Overwriting production needs the flag, or — on a terminal — the project's name typed back.
async fn confirm_overwrite(api: &Api, project: &str) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "--target-kind project overwrites the production database: pass --confirm-project-overwrite".into(),
        ));
    }
    let p = api.get(&format!("/v1/projects/{project}")).await?;
    let name = field(&p["project"], "name");
    eprint!(
        "This replaces the production database of project {name} ({project}).\nType the project name to continue: "
    );
    std::io::stderr().flush().ok();
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed).map_err(|e| CliError::Other(e.to_string()))?;
    if typed.trim() != name {
        return Err(CliError::Usage("the name did not match; nothing was changed".into()));
    }
    Ok(())
}

pub async fn run(cli: &Cli, api: &Api, args: &RestoreArgs, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    let kind = target_kind(args);
    if kind == "project" && !args.confirm_project_overwrite {
        confirm_overwrite(api, project).await?;
    }
    let mut body = json!({ "target_kind": kind, "confirm_project_overwrite": kind == "project",
                           "allow_unverified_backup": args.allow_unverified });
    let optional = [
        ("backup_key", args.backup_key.clone().map(Value::from)),
        ("restore_point_id", args.restore_point.clone().map(Value::from)),
        ("restore_time", args.restore_time.clone().map(Value::from)),
        ("preview_name", args.preview_name.clone().map(Value::from)),
        ("ttl_hours", args.ttl_hours.map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            body[name] = v;
        }
    }
    if let Some(p) = &args.preview {
        body["preview_id"] = json!(preview_id(cli, api, p).await?);
    }
    let v = api.post(&format!("/v1/projects/{project}/restores"), body, None).await?;
    let restore_id = field(&v["restore"], "id");
    if out == Format::Table && v["pitr"]["restore_time_clamped"] == true {
        // Stderr: the notice must not mix with output scripts read.
        eprintln!(
            "Note: {} is past the latest restorable moment; restoring to the latest one, {}.",
            field(&v["pitr"], "requested_restore_time"),
            field(&v["pitr"], "restore_time")
        );
    }
    if !args.wait.wait {
        match out {
            Format::Json => output::json(&v),
            Format::Table => println!("Restore {restore_id} queued (job {}).", field(&v["job"], "id")),
        }
        return Ok(());
    }
    let job = wait::job(api, &field(&v["job"], "id"), args.wait.wait_timeout).await?;
    let restore = api.get(&format!("/v1/projects/{project}/restores/{restore_id}")).await?["restore"].clone();
    match out {
        Format::Json => output::json(&json!({ "restore": restore, "job": job })),
        Format::Table if job["state"] == "completed" => describe_outcome(api, project, &restore).await?,
        Format::Table => {}
    }
    fail_if_failed(&job)
}

/// Where the data now is and how to reach it, in plain words.
async fn describe_outcome(api: &Api, project: &str, r: &Value) -> Result<(), CliError> {
    let source = match r["pitr"]["restore_time"].as_str() {
        Some(at) => format!("{at} (point in time)"),
        None => field(r, "source_backup_key"),
    };
    if r["target_kind"] == "project" {
        println!("The production database of project {project} now holds the data of {source}.");
        println!("Connection strings are unchanged: capydb connection-string");
        if let Some(safety) = r["safety_backup_id"].as_str() {
            let b = api.get(&format!("/v1/projects/{project}/backups/{safety}")).await?;
            println!("The data from just before is saved as backup {safety} (kept 7 days). To undo:");
            println!(
                "  capydb restore --backup-key {} --target-kind project --confirm-project-overwrite --wait",
                field(&b["backup"], "backup_key")
            );
        }
    } else {
        let preview = field(r, "preview_id");
        let p = api.get(&format!("/v1/preview-databases/{preview}")).await?["preview_database"].clone();
        println!("Restored {source} into preview database {} ({preview}).", field(&p, "name"));
        println!(
            "It is deleted at {} unless extended (capydb preview extend {} --ttl-hours N).",
            field(&p, "ttl_expires_at"),
            field(&p, "name")
        );
        println!("Connect: psql \"$(capydb connection-string --preview {})\"", field(&p, "name"));
    }
    Ok(())
}

pub async fn history(cli: &Cli, api: &Api, cmd: &RestoresCmd, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    match cmd {
        RestoresCmd::List(list) => {
            let v = list.fetch(api, &format!("/v1/projects/{project}/restores"), "restores").await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    &v,
                    "restores",
                    &[
                        ("ID", &|r| field(r, "id")),
                        ("STATE", &|r| field(r, "state")),
                        ("TARGET", &|r| field(r, "target_kind")),
                        ("PREVIEW", &|r| field(r, "preview_id")),
                        ("SOURCE", &|r| field(r, "source_backup_key")),
                        ("CREATED", &|r| field(r, "created_at")),
                        ("ERROR", &|r| field(r, "error")),
                    ],
                ),
            }
        }
        RestoresCmd::Get { restore_id } => {
            let v = api.get(&format!("/v1/projects/{project}/restores/{restore_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => {
                    let r = &v["restore"];
                    output::record(&[
                        ("id", field(r, "id")),
                        ("state", field(r, "state")),
                        ("target", field(r, "target_kind")),
                        ("preview", field(r, "preview_id")),
                        ("source", field(r, "source_backup_key")),
                        ("safety backup", field(r, "safety_backup_id")),
                        ("error", field(r, "error")),
                        ("created", field(r, "created_at")),
                        ("completed", field(r, "completed_at")),
                    ])
                }
            }
        }
    }
    Ok(())
}

fn print_preview(p: &Value) {
    output::record(&[
        ("id", field(p, "id")),
        ("name", field(p, "name")),
        ("state", field(p, "state")),
        ("database", field(p, "database_name")),
        ("expires", field(p, "ttl_expires_at")),
        ("source", field(p, "source_backup_key")),
        ("connection", field(&p["connection"], "direct_url")),
    ]);
}

pub async fn previews(cli: &Cli, api: &Api, cmd: &PreviewCmd, out: Format) -> Result<(), CliError> {
    let show = |v: &Value| match out {
        Format::Json => output::json(v),
        Format::Table => print_preview(&v["preview_database"]),
    };
    match cmd {
        PreviewCmd::List(list) => {
            let path = format!("/v1/projects/{}/preview-databases", cli.project()?);
            let v = list.fetch(api, &path, "preview_databases").await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    &v,
                    "preview_databases",
                    &[
                        ("ID", &|p| field(p, "id")),
                        ("NAME", &|p| field(p, "name")),
                        ("STATE", &|p| field(p, "state")),
                        ("EXPIRES", &|p| field(p, "ttl_expires_at")),
                        ("SOURCE", &|p| field(p, "source_backup_key")),
                    ],
                ),
            }
        }
        PreviewCmd::Get { preview } => {
            show(&api.get(&format!("/v1/preview-databases/{}", preview_id(cli, api, preview).await?)).await?)
        }
        PreviewCmd::Extend { preview, ttl_hours } => {
            let id = preview_id(cli, api, preview).await?;
            show(
                &api.post(&format!("/v1/preview-databases/{id}/extend"), json!({ "ttl_hours": ttl_hours }), None)
                    .await?,
            )
        }
        PreviewCmd::Delete { preview } => {
            let id = preview_id(cli, api, preview).await?;
            let v = api.delete(&format!("/v1/preview-databases/{id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Preview database {preview} deleted."),
            }
        }
    }
    Ok(())
}

pub async fn points(cli: &Cli, api: &Api, cmd: &RestorePointsCmd, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    match cmd {
        RestorePointsCmd::Create { label, kind, backup_key, pitr_time, note } => {
            let mut body = json!({ "label": label });
            for (name, value) in [("kind", kind), ("backup_key", backup_key), ("pitr_time", pitr_time), ("note", note)]
            {
                if let Some(v) = value {
                    body[name] = json!(v);
                }
            }
            let v = api.post(&format!("/v1/projects/{project}/restore-points"), body, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => {
                    let p = &v["restore_point"];
                    println!("Restore point {} ({}) created.", field(p, "label"), field(p, "id"));
                    println!("Restore it with: capydb restore --restore-point {} --wait", field(p, "id"));
                }
            }
        }
        RestorePointsCmd::List(list) => {
            let v = list.fetch(api, &format!("/v1/projects/{project}/restore-points"), "restore_points").await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    &v,
                    "restore_points",
                    &[
                        ("ID", &|p| field(p, "id")),
                        ("LABEL", &|p| field(p, "label")),
                        ("KIND", &|p| field(p, "kind")),
                        ("STATE", &|p| field(p, "state")),
                        ("BACKUP / TIME", &|p| match p["pitr_time"].as_str() {
                            Some(t) => t.to_string(),
                            None => field(p, "backup_key"),
                        }),
                        ("CREATED", &|p| field(p, "created_at")),
                    ],
                ),
            }
        }
        RestorePointsCmd::Delete { restore_point_id } => {
            let v = api.delete(&format!("/v1/projects/{project}/restore-points/{restore_point_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Restore point {restore_point_id} deleted."),
            }
        }
    }
    Ok(())
}
