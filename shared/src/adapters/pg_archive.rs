//! Staging a `pg_dump` custom-format archive in a local file for `pg_restore --jobs`.
//!
//! pg_dump records where each table's data starts only when it writes to a seekable file; our
//! archives are written to a pipe, so their table of contents says "position not set", and a
//! parallel pg_restore then has every worker scan the file from the start for its block (in
//! measurements, slower than one job). While copying the archive to disk we note where each
//! data block begins and then write those positions into the TOC, as pg_dump does on close.
//!
//! Patching is best-effort: an archive version we do not know, or anything unexpected, leaves
//! the file exactly as received, which pg_restore reads correctly (only slower).
//!
//! The layout follows `pg_backup_archiver.c` (`WriteHead`, `WriteToc`) and `pg_backup_custom.c`
//! (`_StartData`, `_EndData`, `_StartLOs`) for archive versions 1.14 to 1.16 (PostgreSQL 12–17).

use std::collections::HashMap;
use std::io::SeekFrom;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
};

const K_OFFSET_POS_NOT_SET: u8 = 1;
const K_OFFSET_POS_SET: u8 = 2;
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;
const FORMAT_CUSTOM: u8 = 1;

/// Where a TOC entry's data-offset field sits in the file, and the block it should point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    pub dump_id: i64,
    /// File position of the entry's offset flag byte.
    field_at: u64,
    pub flag: u8,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub bytes: u64,
    /// Whether the TOC now carries every data block's position.
    pub offsets_written: bool,
}

#[derive(Debug, thiserror::Error)]
enum Layout {
    #[error("not a custom-format archive")]
    NotCustom,
    #[error("archive version 1.{0} is not one we know")]
    Version(u8),
    #[error("malformed archive: {0}")]
    Malformed(&'static str),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Copies the archive from `input` to `file` (truncated first), then writes the data blocks'
/// positions into its TOC when the layout is one we know. I/O errors are returned; layout
/// surprises are not (the copy completes unpatched).
pub async fn stage(input: &mut (impl AsyncRead + Unpin), file: tokio::fs::File) -> std::io::Result<Staged> {
    let mut tee = Tee {
        input: BufReader::with_capacity(1024 * 1024, input),
        out: BufWriter::with_capacity(1024 * 1024, file),
        pos: 0,
    };
    let parsed = read_layout(&mut tee).await;
    // Whatever the parser left unread is copied as it is.
    tokio::io::copy(&mut tee.input, &mut tee.out).await.map(|n| tee.pos += n)?;
    tee.out.flush().await?;
    let bytes = tee.pos;
    let mut file = tee.out.into_inner();
    let (toc, format) = match parsed {
        Ok(found) => found,
        Err(Layout::Io(e)) => return Err(e),
        Err(other) => {
            tracing::info!(reason = %other, "staging the archive without data offsets");
            return Ok(Staged { bytes, offsets_written: false });
        }
    };
    let mut written = false;
    for entry in toc.iter().filter(|e| e.flag == K_OFFSET_POS_NOT_SET) {
        let Some(&at) = format.blocks.get(&entry.dump_id) else { continue };
        let mut field = vec![K_OFFSET_POS_SET];
        field.extend_from_slice(&at.to_le_bytes()[..format.off_size]);
        file.seek(SeekFrom::Start(entry.field_at)).await?;
        file.write_all(&field).await?;
        written = true;
    }
    file.flush().await?;
    Ok(Staged { bytes, offsets_written: written })
}

/// The data-offset fields of an archive file's TOC (for checking a staged file).
pub async fn toc_offsets(path: &std::path::Path) -> std::io::Result<Vec<TocEntry>> {
    let file = tokio::fs::File::open(path).await?;
    let mut tee = Tee { input: BufReader::new(file), out: tokio::io::sink(), pos: 0 };
    match read_header_and_toc(&mut tee).await {
        Ok((toc, _)) => Ok(toc),
        Err(Layout::Io(e)) => Err(e),
        Err(other) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string())),
    }
}

fn little_endian(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | *b as u64)
}

/// Reads through `input`, writing every byte read to `out` and counting them.
struct Tee<R, W> {
    input: BufReader<R>,
    out: W,
    pos: u64,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Tee<R, W> {
    /// Fills `buf` (pg_dump writes one chunk per row, so this path stays allocation-free).
    async fn fill(&mut self, buf: &mut [u8]) -> Result<(), Layout> {
        self.input.read_exact(buf).await?;
        self.out.write_all(buf).await?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    async fn byte(&mut self) -> Result<u8, Layout> {
        let mut b = [0u8; 1];
        self.fill(&mut b).await?;
        Ok(b[0])
    }

    /// One byte, or `None` at a clean end of the archive.
    async fn byte_or_end(&mut self) -> Result<Option<u8>, Layout> {
        if self.input.fill_buf().await?.is_empty() {
            return Ok(None);
        }
        self.byte().await.map(Some)
    }

    async fn copy(&mut self, mut n: u64) -> Result<(), Layout> {
        while n > 0 {
            let buf = self.input.fill_buf().await?;
            if buf.is_empty() {
                return Err(Layout::Malformed("archive ends inside a data chunk"));
            }
            let k = buf.len().min(n.try_into().unwrap_or(usize::MAX));
            self.out.write_all(&buf[..k]).await?;
            self.input.consume(k);
            self.pos += k as u64;
            n -= k as u64;
        }
        Ok(())
    }
}

/// Sizes the archive declares for its integers and offsets.
struct Format {
    int_size: usize,
    off_size: usize,
    minor: u8,
    /// Data block start positions by dump id.
    blocks: HashMap<i64, u64>,
}

impl Format {
    async fn int<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(&self, t: &mut Tee<R, W>) -> Result<i64, Layout> {
        let mut raw = [0u8; 9];
        t.fill(&mut raw[..=self.int_size]).await?;
        let v = little_endian(&raw[1..=self.int_size]) as i64;
        Ok(if raw[0] != 0 { -v } else { v })
    }

    /// A length-prefixed string; its contents are not needed, only skipped.
    async fn str<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(&self, t: &mut Tee<R, W>) -> Result<Option<()>, Layout> {
        let len = self.int(t).await?;
        if len < 0 {
            return Ok(None);
        }
        t.copy(len as u64).await?;
        Ok(Some(()))
    }
}

async fn read_layout<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    t: &mut Tee<R, W>,
) -> Result<(Vec<TocEntry>, Format), Layout> {
    let (toc, mut format) = read_header_and_toc(t).await?;
    // Data blocks follow the TOC until the end of the archive.
    while let Some(kind) = t.byte_or_end().await? {
        let start = t.pos - 1;
        let dump_id = format.int(t).await?;
        match kind {
            BLK_DATA => skip_chunks(&format, t).await?,
            BLK_BLOBS => loop {
                if format.int(t).await? == 0 {
                    break;
                }
                skip_chunks(&format, t).await?;
            },
            _ => return Err(Layout::Malformed("unknown data block type")),
        }
        format.blocks.insert(dump_id, start);
    }
    Ok((toc, format))
}

async fn skip_chunks<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(f: &Format, t: &mut Tee<R, W>) -> Result<(), Layout> {
    // pg_dump writes one chunk per row: walk the chunks already in the read buffer without an
    // await per row, and fall back to field-by-field reads only where a chunk crosses it.
    let header = 1 + f.int_size;
    loop {
        let Tee { input, out, pos } = &mut *t;
        let buf = input.fill_buf().await?;
        let (mut at, mut ended) = (0usize, false);
        while buf.len() - at >= header {
            let len = little_endian(&buf[at + 1..at + header]);
            if buf[at] != 0 && len != 0 {
                return Err(Layout::Malformed("negative chunk length"));
            }
            if len == 0 {
                at += header;
                ended = true;
                break;
            }
            match usize::try_from(len).ok().and_then(|l| (at + header).checked_add(l)) {
                Some(end) if end <= buf.len() => at = end,
                _ => break,
            }
        }
        out.write_all(&buf[..at]).await?;
        input.consume(at);
        *pos += at as u64;
        if ended {
            return Ok(());
        }
        if at == 0 {
            // The next header or chunk spans the buffer's end.
            let len = f.int(t).await?;
            if len == 0 {
                return Ok(());
            }
            if len < 0 {
                return Err(Layout::Malformed("negative chunk length"));
            }
            t.copy(len as u64).await?;
        }
    }
}

async fn read_header_and_toc<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    t: &mut Tee<R, W>,
) -> Result<(Vec<TocEntry>, Format), Layout> {
    let mut magic = [0u8; 5];
    t.fill(&mut magic).await?;
    if &magic != b"PGDMP" {
        return Err(Layout::NotCustom);
    }
    let mut v = [0u8; 3];
    t.fill(&mut v).await?;
    let (major, minor) = (v[0], v[1]);
    if major != 1 || !(14..=16).contains(&minor) {
        return Err(Layout::Version(minor));
    }
    let int_size = t.byte().await? as usize;
    let off_size = t.byte().await? as usize;
    if !(1..=8).contains(&int_size) || !(1..=8).contains(&off_size) {
        return Err(Layout::Malformed("integer sizes"));
    }
    if t.byte().await? != FORMAT_CUSTOM {
        return Err(Layout::NotCustom);
    }
    let f = Format { int_size, off_size, minor, blocks: HashMap::new() };
    // Compression: an int before 1.15, an algorithm byte since.
    if f.minor >= 15 {
        t.byte().await?;
    } else {
        f.int(t).await?;
    }
    for _ in 0..7 {
        f.int(t).await?; // creation time fields
    }
    for _ in 0..3 {
        f.str(t).await?; // database name, server and pg_dump versions
    }
    let count = f.int(t).await?;
    if !(0..=10_000_000).contains(&count) {
        return Err(Layout::Malformed("TOC entry count"));
    }
    let mut toc = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let dump_id = f.int(t).await?;
        f.int(t).await?; // had dumper
        f.str(t).await?; // table oid
        f.str(t).await?; // oid
        f.str(t).await?; // tag
        f.str(t).await?; // desc
        f.int(t).await?; // section
        for _ in 0..5 {
            f.str(t).await?; // defn, drop statement, copy statement, namespace, tablespace
        }
        f.str(t).await?; // table access method
        if f.minor >= 16 {
            f.int(t).await?; // relkind
        }
        f.str(t).await?; // owner
        f.str(t).await?; // "false" (with oids)
        while f.str(t).await?.is_some() {} // dependencies, ended by a null string
        let field_at = t.pos;
        let flag = t.byte().await?;
        let mut raw = [0u8; 8];
        t.fill(&mut raw[..f.off_size]).await?;
        let offset = little_endian(&raw[..f.off_size]);
        toc.push(TocEntry { dump_id, field_at, flag, offset });
    }
    Ok((toc, f))
}
