//! `capydb backups download`: the archive streamed to disk through its SHA-256, optionally
//! decompressed into the plain `pg_dump` archive `pg_restore` reads.

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
    let path = to.map(Path::to_path_buf).unwrap_or_else(|| {
        PathBuf::from(if decompress { format!("{backup_id}.dump") } else { format!("{backup_id}.dump.zst") })
    });
    // Written beside and renamed into place: a failed download never leaves a file that looks whole.
    let partial = path.with_extension("partial");
    let result = write(api, &d, &partial, decompress).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &path).map_err(|e| CliError::Other(format!("cannot write {}: {e}", path.display())))?;
    match out {
        Format::Json => output::json(&Downloaded { path: &path, download: &d }),
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

async fn write(api: &Api, d: &DownloadUrl, partial: &Path, decompress: bool) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Other(format!("cannot write {}: {e}", partial.display()));
    let file = std::fs::File::create(partial).map_err(io)?;
    let mut sink: Box<dyn Write> = if decompress {
        Box::new(zstd::stream::write::Decoder::new(file).map_err(io)?)
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    let mut resp = api.fetch(&d.url).await?;
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
    if got != d.sha256 || bytes != d.size_bytes {
        return Err(CliError::Other(format!(
            "the downloaded archive does not match the backup (sha256 {got}, {bytes} bytes; expected {}, {} bytes); nothing was kept",
            d.sha256, d.size_bytes
        )));
    }
    Ok(())
}
