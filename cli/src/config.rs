//! `capydb login` and `capydb config …`: the profile in the config file.

use crate::client::Api;
use crate::exit::CliError;
use crate::{output, profile, Cli};
use capydb_api::identity::Me;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Set a default of the profile (flags and environment variables still win).
    Set {
        #[arg(value_enum)]
        name: ConfigName,
        value: String,
    },
    /// Remove a default from the profile.
    Unset {
        #[arg(value_enum)]
        name: ConfigName,
    },
    /// Show the profile (the key masked) and where it is kept.
    Show,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ConfigName {
    Project,
    Org,
    ApiUrl,
}

/// A line from stdin, after a prompt when a person is typing.
fn ask(prompt: &str) -> Result<String, CliError> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::Other(e.to_string()))?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err(CliError::Usage(format!("no {}: pass it as a flag or on stdin", prompt.to_lowercase())));
    }
    Ok(line)
}

pub async fn login(cli: &Cli) -> Result<(), CliError> {
    let url = match &cli.api_url {
        Some(u) => u.clone(),
        None => ask("API URL")?,
    };
    let key = match &cli.api_key {
        Some(k) => k.clone(),
        None => ask("API key")?,
    };
    let me: Me = Api::new(&url, &key)?.get("/v1/me").await?;
    let mut config = profile::load()?;
    let entry = config.profiles.entry(cli.profile.clone()).or_default();
    entry.api_url = Some(url.clone());
    entry.api_key = Some(key);
    entry.org = Some(me.organization_id.clone());
    if let Some(p) = &me.project_id {
        entry.project.get_or_insert_with(|| p.clone());
    }
    let path = profile::save(&config)?;
    println!(
        "Logged in to {url} as organization {} (profile {}, kept in {}).",
        me.organization_id,
        cli.profile,
        path.display()
    );
    Ok(())
}

pub fn run(cli: &Cli, cmd: &ConfigCmd) -> Result<(), CliError> {
    let mut config = profile::load()?;
    match cmd {
        ConfigCmd::Show => {
            let p = config.profiles.get(&cli.profile).cloned().unwrap_or_default();
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            output::record(&[
                ("profile", cli.profile.clone()),
                ("file", profile::path()?.display().to_string()),
                ("api_url", shown(&p.api_url)),
                ("api_key", p.api_key.as_deref().map(profile::masked).unwrap_or_else(|| "-".into())),
                ("project", shown(&p.project)),
                ("org", shown(&p.org)),
            ]);
            return Ok(());
        }
        ConfigCmd::Set { name, value } => {
            let entry = config.profiles.entry(cli.profile.clone()).or_default();
            *slot(entry, *name) = Some(value.clone());
        }
        ConfigCmd::Unset { name } => {
            let entry = config.profiles.entry(cli.profile.clone()).or_default();
            *slot(entry, *name) = None;
        }
    }
    profile::save(&config)?;
    Ok(())
}

fn slot(p: &mut profile::Profile, name: ConfigName) -> &mut Option<String> {
    match name {
        ConfigName::Project => &mut p.project,
        ConfigName::Org => &mut p.org,
        ConfigName::ApiUrl => &mut p.api_url,
    }
}
