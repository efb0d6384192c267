//! One line on what each command does and an example of it, kept in one table and attached to
//! the command tree at start, so `--help` of every command shows both (a test holds every
//! command to it).

use clap::Command;

/// (command path below `capydb`, what it does, an example).
const HELP: &[(&str, &str, &str)] = &[
    ("config set", "Set a default of the profile", "capydb config set project prj_01j…"),
    ("config unset", "Remove a default from the profile", "capydb config unset org"),
    ("config show", "Show the profile (key masked) and where it is kept", "capydb config show --profile ci"),
    ("completions", "Print shell completions", "capydb completions zsh > \"${fpath[1]}/_capydb\""),
    ("projects create", "Create a project and its database", "capydb projects create --name shop --wait"),
    ("projects list", "List the organisation's projects", "capydb projects list --all"),
    ("projects get", "Show a project and its point-in-time window", "capydb projects get prj_01j…"),
    ("connection-string", "Print a connection URL ready for psql", "psql \"$(capydb connection-string)\""),
    ("backups create", "Take a verified backup now", "capydb backups create --label before-migration --wait"),
    (
        "backups list",
        "List the project's backups, newest first",
        "capydb backups list -o json | jq -r '.backups[0].backup_key'",
    ),
    ("backups get", "Show a backup with its checksum and verification", "capydb backups get bkp_01j…"),
    ("backups delete", "Delete a backup and its archive", "capydb backups delete bkp_01j…"),
    (
        "backups download",
        "Download a backup's archive, checksum checked",
        "capydb backups download bkp_01j… --decompress && pg_restore -d mydb bkp_01j….dump",
    ),
    ("backups schedule get", "Show the daily backup schedule", "capydb backups schedule get"),
    (
        "backups schedule set",
        "Back up every day at a UTC time",
        "capydb backups schedule set --hour 3 --minute 5 --retention-days 14",
    ),
    ("backups schedule disable", "Stop the daily backups, keeping the settings", "capydb backups schedule disable"),
    ("jobs get", "Show a job, or wait for it to finish", "capydb jobs get job_01j… --wait"),
    ("jobs list", "List the project's jobs, newest first", "capydb jobs list --limit 10"),
    (
        "jobs cancel",
        "Cancel a pending or running backup or restore (a restore only until its swap begins)",
        "capydb jobs cancel job_01j… --wait",
    ),
    (
        "restore",
        "Restore a backup or a moment into a preview or the project",
        "capydb restore --backup-key \"$KEY\" --preview-name inspect --wait",
    ),
    ("restores list", "List the project's restores", "capydb restores list"),
    ("restores get", "Show a restore with its safety backup", "capydb restores get rst_01j…"),
    ("preview list", "List the project's preview databases", "capydb preview list"),
    ("preview get", "Show a preview database and its connection URL", "capydb preview get inspect"),
    ("preview delete", "Delete a preview database now", "capydb preview delete inspect"),
    ("preview extend", "Give a preview a new time to live from now", "capydb preview extend inspect --ttl-hours 48"),
    (
        "restore-points create",
        "Name a backup or a moment to restore later",
        "capydb restore-points create --label pre-launch --kind pitr",
    ),
    ("restore-points list", "List the project's restore points", "capydb restore-points list"),
    ("restore-points delete", "Delete a restore point (unpinning its backup)", "capydb restore-points delete rp_01j…"),
    ("webhooks list", "List the organisation's webhook endpoints", "capydb webhooks list"),
    (
        "webhooks create",
        "Add a webhook endpoint (its secret is shown once)",
        "capydb webhooks create --url https://hooks.example.com/capydb --events backup.completed,backup.failed",
    ),
    ("webhooks update", "Change or pause an endpoint", "capydb webhooks update whk_01j… --active false"),
    ("webhooks delete", "Delete an endpoint", "capydb webhooks delete whk_01j…"),
    ("webhooks rotate-secret", "Replace an endpoint's signing secret", "capydb webhooks rotate-secret whk_01j…"),
    ("webhooks deliveries", "Recent deliveries with every attempt", "capydb webhooks deliveries whk_01j… --limit 5"),
    ("webhooks test", "Send a webhook.test event now", "capydb webhooks test whk_01j…"),
    ("webhooks redeliver", "Send a delivery's event again", "capydb webhooks redeliver whk_01j… dlv_01j…"),
    ("regions list", "List regions and their point-in-time windows", "capydb regions list"),
    ("integrations list", "List the project's deployment integrations", "capydb integrations list"),
    (
        "integrations set vercel",
        "Keep a Vercel project's DATABASE_URL in step",
        "capydb integrations set vercel --vercel-project my-app --token \"$VERCEL_TOKEN\"",
    ),
    (
        "integrations set netlify",
        "Keep a Netlify site's DATABASE_URL in step",
        "capydb integrations set netlify --site-id my-site --token \"$NETLIFY_AUTH_TOKEN\"",
    ),
    ("integrations remove", "Stop syncing a provider", "capydb integrations remove vercel"),
    ("integrations sync", "Push the connection strings to a provider now", "capydb integrations sync vercel"),
    ("api-keys list", "List the organisation's API keys", "capydb api-keys list --all"),
    (
        "api-keys create",
        "Create an API key (its secret is shown once)",
        "capydb api-keys create --name ci --scopes backups:read,backups:write",
    ),
    ("api-keys revoke", "Revoke an API key and every key it created", "capydb api-keys revoke key_01j…"),
];

/// The command tree with every description and example attached.
pub fn attach(cmd: Command) -> Command {
    walk(cmd, "")
}

fn walk(mut cmd: Command, path: &str) -> Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        cmd = cmd.mut_subcommand(&name, |sub| {
            let mut sub = walk(sub, &sub_path);
            if let Some((_, about, example)) = HELP.iter().find(|(p, _, _)| *p == sub_path) {
                if sub.get_about().is_none() {
                    sub = sub.about(*about);
                }
                sub = sub.after_help(format!("Example:\n  {example}"));
            }
            sub
        });
    }
    cmd
}
