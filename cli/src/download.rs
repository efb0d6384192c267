//! `capydb backups download`: the archive streamed to disk through its SHA-256, optionally
//! decompressed into the plain `pg_dump` archive `pg_restore` reads. A directory archive
//! becomes a folder of its files, each checked against its own hash.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, size, Format};
use capydb_api::backups::{DownloadUrl, DownloadUrlRequest};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub async fn run(
    api: &Api,
    project: &str,
    backup_id: &str,
    to: Option<&Path>,
    decompress: bool,
    out: Format,
) -> Result<(), CliError> {
    let path = format!("/v1/projects/{project}/backups/{backup_id}/download-url");
    let d: DownloadUrl = api.post(&path, &DownloadUrlRequest::default(), None).await?;
    let directory = !d.files.is_empty();
    let path = to.map(Path::to_path_buf).unwrap_or_else(|| {
        PathBuf::from(match (directory, decompress) {
            (true, _) => backup_id.to_string(),
            (false, true) => format!("{backup_id}.dump"),
            (false, false) => format!("{backup_id}.dump.zst"),
        })
    });
    // Written beside and renamed into place: a failed download never leaves a file (or folder)
    // that looks whole.
    let partial = path.with_extension("partial");
    let result = match directory {
        true => write_folder(api, &d, &partial, decompress).await,
        false => write(api, "archive", &d.url, &d.sha256, d.size_bytes, &partial, decompress).await,
    };
    if let Err(e) = result {
        let _ = if directory { std::fs::remove_dir_all(&partial) } else { std::fs::remove_file(&partial) };
        return Err(e);
    }
    std::fs::rename(&partial, &path).map_err(|e| CliError::Other(format!("cannot write {}: {e}", path.display())))?;
    match out {
        Format::Json => output::json(&Downloaded { path: &path, download: &d }),
        Format::Table if directory => println!(
            "Downloaded backup {backup_id} to {}/ ({} files, {}, each file's sha256 verified){}.",
            path.display(),
            d.files.len(),
            size(Some(d.size_bytes)),
            match decompress {
                true => format!(
                    "; restore with: pg_restore --format=directory --jobs=4 --no-owner --dbname=<target> {}",
                    path.display()
                ),
                false => format!("; decompress with: zstd -d --rm {}/*.zst", path.display()),
            }
        ),
        Format::Table => println!(
            "Downloaded backup {backup_id} to {} ({} archive, sha256 {} verified){}.",
            path.display(),
            size(Some(d.size_bytes)),
            d.sha256,
            if decompress { ", decompressed for pg_restore" } else { "" }
        ),
    }
    Ok(())
}

/// What `-o json` prints: where the archive went and what it is.
#[derive(Serialize)]
struct Downloaded<'a> {
    path: &'a Path,
    download: &'a DownloadUrl,
}

/// Every file of a directory archive into the folder `partial`: `<name>.zst` as stored, or
/// `<name>` decompressed, each checked against its own hash.
async fn write_folder(api: &Api, d: &DownloadUrl, partial: &Path, decompress: bool) -> Result<(), CliError> {
    std::fs::create_dir_all(partial)
        .map_err(|e| CliError::Other(format!("cannot write {}: {e}", partial.display())))?;
    for f in &d.files {
        // The names come from our own manifest; a path in one is refused all the same.
        if f.name.is_empty()
            || !f.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            || f.name.starts_with('.')
        {
            return Err(CliError::Other(format!("the backup lists an unexpected file name {:?}", f.name)));
        }
        let name = if decompress { f.name.clone() } else { format!("{}.zst", f.name) };
        let what = format!("file {}", f.name);
        write(api, &what, &f.url, &f.sha256, f.size_bytes, &partial.join(name), decompress).await?;
    }
    Ok(())
}

async fn write(
    api: &Api,
    what: &str,
    url: &str,
    sha256: &str,
    size_bytes: u64,
    partial: &Path,
    decompress: bool,
) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Other(format!("cannot write {}: {e}", partial.display()));
    let file = std::fs::File::create(partial).map_err(io)?;
    let mut sink: Box<dyn Write> = if decompress {
        Box::new(zstd::stream::write::Decoder::new(file).map_err(io)?)
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    let mut resp = api.fetch(url).await?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| CliError::Other(format!("download interrupted: {e}")))? {
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        sink.write_all(&chunk).map_err(io)?;
    }
    sink.flush().map_err(io)?;
    drop(sink);
    let got = hex::encode(hasher.finalize());
    if got != sha256 || bytes != size_bytes {
        return Err(CliError::Other(format!(
            "the downloaded {what} does not match the backup (sha256 {got}, {bytes} bytes; expected {sha256}, {size_bytes} bytes); nothing was kept"
        )));
    }
    Ok(())
}
