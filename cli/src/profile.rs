//! Profiles: the API URL, key and defaults that `capydb login` and `capydb config set` keep in
//! `$XDG_CONFIG_HOME/capydb/config.toml` (else `~/.config/capydb/config.toml`), readable by its
//! owner only. Flags and environment variables always win over a profile.

use crate::exit::CliError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub api_url: Option<String>,
    pub api_key: Option<String>,
    pub project: Option<String>,
    pub org: Option<String>,
}

pub fn path() -> Result<PathBuf, CliError> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME").ok_or_else(|| CliError::Usage("HOME is not set; set XDG_CONFIG_HOME".into()))?,
        )
        .join(".config"),
    };
    Ok(base.join("capydb").join("config.toml"))
}

/// The config file, or an empty one when there is none yet.
pub fn load() -> Result<ConfigFile, CliError> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| CliError::Usage(format!("{} is not valid: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(CliError::Other(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes the file whole: beside the old one with mode 0600, then renamed over it, so a reader
/// never sees half a file and the key is never readable by others, not even for a moment.
pub fn save(config: &ConfigFile) -> Result<PathBuf, CliError> {
    let path = path()?;
    let dir = path.parent().expect("config path has a folder");
    let io = |e: std::io::Error| CliError::Other(format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    let text = toml::to_string_pretty(config).map_err(|e| CliError::Other(e.to_string()))?;
    let partial = path.with_extension("toml.partial");
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&partial, &path).map_err(io)?;
    Ok(path)
}

/// A key shown without its secret part.
pub fn masked(key: &str) -> String {
    let shown: String = key.chars().take(14).collect();
    format!("{shown}…")
}
