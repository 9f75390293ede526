//! The archive itself: writing entries as a tar stream into age into a file, and reading one
//! back with every check of the format (see the module above). Both stream with constant
//! memory; neither knows where the entries come from or go.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::keys::{self, Encryption, Unlock};
use super::{Error, FORMAT_NAME, FORMAT_VERSION, MANIFEST, Manifest, ManifestEntry, Result, io};

/// One file to put into the archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Name inside the archive (`plugins/a.rhai`).
    pub path: String,
    /// Where its bytes are read from.
    pub source: PathBuf,
}

/// The manifest fields that are not about entries.
#[derive(Debug, Clone)]
pub struct Header {
    pub schema_version: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The audit chain's newest entry in the archived store.
    pub audit_head: Option<crate::store::audit::Head>,
}

/// Largest manifest a reader accepts (a million entries fit well below this).
const MANIFEST_LIMIT: u64 = 256 * 1024 * 1024;
/// After the tar's end blocks only zero padding may follow, and not much of it.
const PADDING_LIMIT: u64 = 64 * 1024;

/// The error a cancelled read returns. Not `ErrorKind::Interrupted`: `io::copy` (inside tar)
/// and `read_exact` retry those, so a cancelled backup would spin instead of stopping.
#[derive(Debug)]
struct CancelledRead;

impl std::fmt::Display for CancelledRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for CancelledRead {}

fn is_cancel(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<CancelledRead>())
}

/// Reads through a source, hashing, counting, reporting progress and honouring cancellation.
struct Tap<'a, R> {
    inner: R,
    hasher: Option<Sha256>,
    count: u64,
    /// Shared copy of `count` for those who cannot reach the Tap (inside the decryptor).
    shared: Option<Arc<AtomicU64>>,
    progress: &'a mut dyn FnMut(u64),
    cancel: &'a AtomicBool,
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other(CancelledRead));
        }
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        if let Some(shared) = &self.shared {
            shared.store(self.count, Ordering::Relaxed);
        }
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// A file read with its holes (ranges the file system holds no data for, which read as zeros)
/// given as zeros without asking the kernel: a store snapshot keeps the holes of the store
/// file (`store::snapshot`), and reading them through the page cache costs more than reading
/// the data.
struct Sparse {
    file: File,
    /// Data ranges not yet passed, in order.
    ranges: std::collections::VecDeque<(u64, u64)>,
    pos: u64,
    len: u64,
}

impl Sparse {
    fn open(file: File, len: u64) -> io::Result<Sparse> {
        let ranges = crate::store::snapshot::data_ranges(&file, len)?;
        Ok(Sparse {
            file,
            ranges: ranges.into(),
            pos: 0,
            len,
        })
    }
}

/// A piece longer than the buffer it was cut for: a bug here, reported instead of reading less.
fn short_buffer() -> io::Error {
    io::Error::other("a sparse read was cut longer than its buffer")
}

impl Read for Sparse {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        while self.ranges.front().is_some_and(|&(_, end)| end <= self.pos) {
            self.ranges.pop_front();
        }
        let (next_data, data_end) = self.ranges.front().copied().unwrap_or((self.len, self.len));
        let room = buf.len() as u64;
        if self.pos >= self.len || room == 0 {
            return Ok(0);
        }
        if self.pos < next_data && next_data == self.len {
            // The hole that ends the file: only as long as the file still is.
            self.len = self.len.min(self.file.metadata()?.len());
            if self.pos >= self.len {
                return Ok(0);
            }
        }
        let next_data = next_data.min(self.len);
        let n = if self.pos < next_data {
            // In a hole.
            let n = usize::try_from(room.min(next_data - self.pos)).unwrap_or(buf.len());
            buf.get_mut(..n).ok_or_else(short_buffer)?.fill(0);
            n
        } else {
            let n = usize::try_from(room.min(data_end - self.pos)).unwrap_or(buf.len());
            let n = self
                .file
                .read_at(buf.get_mut(..n).ok_or_else(short_buffer)?, self.pos)?;
            if n == 0 {
                // Shorter than it was: the size check after the entry reports it.
                self.len = self.pos;
            }
            n
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// Writes `entries` and the manifest to `out` (never overwriting it): the bytes go to
/// `out.partial` first, which is synced and then linked to `out` only when complete.
pub fn write(
    out: &Path,
    entries: &[Entry],
    header: &Header,
    encryption: &Encryption,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<(Manifest, u64)> {
    if out.exists() {
        return Err(Error::Exists(out.to_path_buf()));
    }
    let partial = partial_name(out);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::Refused(format!(
                    "{} exists: another backup is writing it, or an interrupted one left it (delete it if so)",
                    partial.display()
                ))
            } else {
                Error::Io {
                    what: format!("cannot create {}", partial.display()),
                    source: e,
                }
            }
        })?;
    let result =
        write_into(file, entries, header, encryption, progress, cancel).and_then(|manifest| {
            // A hard link never replaces an existing file, unlike rename.
            std::fs::hard_link(&partial, out).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    Error::Exists(out.to_path_buf())
                } else {
                    Error::Io {
                        what: format!("cannot create {}", out.display()),
                        source: e,
                    }
                }
            })?;
            Ok(manifest)
        });
    let _ = std::fs::remove_file(&partial);
    let manifest = result?;
    sync_dir(out);
    let size = std::fs::metadata(out)
        .map_err(io(format!("cannot read {}", out.display())))?
        .len();
    Ok((manifest, size))
}

pub fn partial_name(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Size of the pieces of tar stream handed from the reading thread to the compressing one.
const CHUNK: usize = 1 << 20;
/// Pieces in flight between the two threads (bounded: memory stays constant).
const IN_FLIGHT: usize = 4;

/// A piece of the tar stream for the compressing thread, or the word that the stream is
/// complete. A channel that closes without `End` means the writer gave up: the compressing
/// thread then stops without finishing the archive.
enum Piece {
    Data(Vec<u8>),
    End,
}

/// The reading side of the pipeline: collects the tar stream into `CHUNK`-sized pieces and
/// sends them to the compressing thread, reusing the buffers it gives back.
struct Pipe {
    buf: Vec<u8>,
    to_compress: std::sync::mpsc::SyncSender<Piece>,
    returned: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Pipe {
    fn send(&mut self) -> io::Result<()> {
        let next = match self.returned.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::with_capacity(CHUNK),
        };
        let full = std::mem::replace(&mut self.buf, next);
        self.to_compress.send(Piece::Data(full)).map_err(|_| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the compressing thread stopped")
        })
    }

    /// Sends what is left and the end mark.
    fn finish(mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.to_compress.send(Piece::End).map_err(|_| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the compressing thread stopped")
        })
    }
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The compressing side: zstd, then age, then the file, on its own thread so that reading and
/// hashing the entries (the caller's thread) overlaps compressing and encrypting them.
fn compress_and_encrypt(
    file: File,
    encryptor: age::Encryptor,
    pieces: std::sync::mpsc::Receiver<Piece>,
    give_back: std::sync::mpsc::Sender<Vec<u8>>,
) -> io::Result<File> {
    let age_out = encryptor.wrap_output(BufWriter::with_capacity(CHUNK, file))?;
    let mut zstd_out = zstd::Encoder::new(age_out, super::ZSTD_LEVEL)?;
    // zstd's own workers compress while this thread encrypts and writes what they finished
    // (the frame is the same standard zstd frame: `zstd -d` reads it).
    zstd_out.multithread(zstd_workers())?;
    loop {
        match pieces.recv() {
            Ok(Piece::Data(buf)) => {
                zstd_out.write_all(&buf)?;
                // The reader may be gone already (it failed): nothing to give back to then.
                let _ = give_back.send(buf);
            }
            Ok(Piece::End) => break,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "the backup stopped before its end",
                ));
            }
        }
    }
    let age_out = zstd_out.finish()?;
    let buffered = age_out.finish()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file)
}

/// Compression workers: one per core, at most [`super::ZSTD_MAX_WORKERS`].
fn zstd_workers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cores.min(super::ZSTD_MAX_WORKERS)).unwrap_or(1)
}

fn write_into(
    file: File,
    entries: &[Entry],
    header: &Header,
    encryption: &Encryption,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<Manifest> {
    let encryptor = encryption.encryptor()?;
    let (to_compress, pieces) = std::sync::mpsc::sync_channel(IN_FLIGHT);
    let (give_back, returned) = std::sync::mpsc::channel();
    let compressor = std::thread::Builder::new()
        .name("backup-compress".into())
        .spawn(move || compress_and_encrypt(file, encryptor, pieces, give_back))
        .map_err(io("cannot start the backup"))?;
    let pipe = Pipe {
        buf: Vec::with_capacity(CHUNK),
        to_compress,
        returned,
    };
    let produced = write_tar(pipe, entries, header, progress, cancel);
    // `write_tar` has dropped the pipe however it ended, so the thread always comes back.
    let compressed = compressor.join();
    let closed = |e: &Error| matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe);
    match (produced, compressed) {
        (Ok(manifest), Ok(Ok(_))) => Ok(manifest),
        // The reading side's own failure (a source file, a cancellation) explains it best.
        (Err(e), _) if !closed(&e) => Err(e),
        // The compressing side's failure (a full disk, …).
        (_, Ok(Err(e))) => Err(Error::Io {
            what: "cannot write the backup".into(),
            source: e,
        }),
        (Err(e), Ok(Ok(_))) => Err(e),
        (_, Err(_)) => Err(Error::Io {
            what: "cannot write the backup".into(),
            source: io::Error::other("the compressing thread panicked"),
        }),
    }
}

/// The tar stream of `entries` and the manifest, into `pipe` (the reading side of the
/// pipeline): each entry is read in large pieces and hashed on the way.
fn write_tar(
    pipe: Pipe,
    entries: &[Entry],
    header: &Header,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<Manifest> {
    let cancelled = |e: io::Error, what: String| {
        if is_cancel(&e) {
            Error::Cancelled
        } else {
            Error::Io { what, source: e }
        }
    };
    let mut tar = tar::Builder::new(pipe);
    let mtime = u64::try_from(header.created_at.timestamp()).unwrap_or(0);
    let mut manifest = Manifest {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        zhudai_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: header.schema_version,
        created_at: header.created_at,
        audit_head: header.audit_head.clone(),
        entries: Vec::with_capacity(entries.len()),
    };
    for entry in entries {
        let source = File::open(&entry.source)
            .map_err(io(format!("cannot read {}", entry.source.display())))?;
        let size = source
            .metadata()
            .map_err(io(format!("cannot read {}", entry.source.display())))?
            .len();
        let source = Sparse::open(source, size)
            .map_err(io(format!("cannot read {}", entry.source.display())))?;
        let mut tap = Tap {
            inner: source.take(size),
            hasher: Some(Sha256::new()),
            count: 0,
            shared: None,
            progress: &mut *progress,
            cancel,
        };
        let mut h = tar_header(size, mtime);
        // Large reads: tar copies from a BufReader in pieces of its buffer's size.
        let buffered = BufReader::with_capacity(CHUNK, &mut tap);
        tar.append_data(&mut h, &entry.path, buffered)
            .map_err(|e| cancelled(e, format!("cannot back up {}", entry.source.display())))?;
        if tap.count != size {
            // tar has already written a header promising `size` bytes: the archive is broken.
            return Err(Error::Refused(format!(
                "{} changed size while being backed up; run the backup again",
                entry.source.display()
            )));
        }
        manifest.entries.push(ManifestEntry {
            path: entry.path.clone(),
            size,
            sha256: hex::encode(tap.hasher.take().unwrap_or_default().finalize()),
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Io {
        what: "cannot encode the manifest".into(),
        source: io::Error::other(e),
    })?;
    let mut h = tar_header(json.len() as u64, mtime);
    tar.append_data(&mut h, MANIFEST, json.as_slice())
        .map_err(io("cannot write the backup"))?;
    let pipe = tar.into_inner().map_err(io("cannot write the backup"))?;
    pipe.finish().map_err(io("cannot write the backup"))?;
    Ok(manifest)
}

/// The tar inside the decryption: zstd-compressed (format 2, recognised by the zstd frame's
/// magic number) or plain (format 1; a tar starts with an entry name, never with that magic).
fn decompressed<'r, R: Read + 'r>(plain: R) -> io::Result<Box<dyn Read + 'r>> {
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let mut buffered = BufReader::with_capacity(zstd::zstd_safe::DCtx::in_size(), plain);
    let head = buffered.fill_buf()?;
    if head.starts_with(&ZSTD_MAGIC) {
        Ok(Box::new(zstd::Decoder::with_buffer(buffered)?))
    } else {
        Ok(Box::new(buffered))
    }
}

fn tar_header(size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Best effort: makes a rename or link in `path`'s directory durable.
pub(super) fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Reads a whole archive and checks it against its manifest. With `extract_to`, entries are
/// written below that (existing, empty) directory as they stream past; the caller must
/// discard it on error. `progress` counts bytes of the encrypted file.
pub fn read(
    path: &Path,
    unlock: &Unlock,
    extract_to: Option<&Path>,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<Manifest> {
    let file = File::open(path).map_err(io(format!("cannot open {}", path.display())))?;
    let file_size = file
        .metadata()
        .map_err(io(format!("cannot read {}", path.display())))?
        .len();
    let read_so_far = Arc::new(AtomicU64::new(0));
    // A chunk that fails to authenticate once the whole file has been read is at its end.
    let stream_error = |e: io::Error| {
        let at_end = read_so_far.load(Ordering::Relaxed) >= file_size;
        if e.kind() == io::ErrorKind::InvalidData && at_end {
            Error::DamagedEnd
        } else {
            stream_error(e)
        }
    };
    let counted = Tap {
        inner: file,
        hasher: None,
        count: 0,
        shared: Some(Arc::clone(&read_so_far)),
        progress,
        cancel,
    };
    // A small buffer keeps `read_so_far` at the end of the chunk being decrypted.
    let plain = keys::decrypt(BufReader::new(counted), unlock, path)?;
    let mut archive = tar::Archive::new(decompressed(plain).map_err(stream_error)?);
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    {
        let entries = archive.entries().map_err(stream_error)?;
        for entry in entries {
            let mut entry = entry.map_err(|e| {
                // tar's own complaint before any entry: the content is not a tar archive.
                if seen.is_empty() && e.kind() == io::ErrorKind::Other {
                    Error::NotZhudai("the decrypted content is not a tar archive".into())
                } else {
                    stream_error(e)
                }
            })?;
            if manifest.is_some() {
                return Err(Error::Corrupted(
                    "entries follow the manifest (the manifest must be last)".into(),
                ));
            }
            let kind = entry.header().entry_type();
            let name = entry
                .path()
                .map_err(|_| Error::NotZhudai("an entry name is not valid".into()))?
                .to_str()
                .map(str::to_string)
                .ok_or_else(|| Error::NotZhudai("an entry name is not UTF-8".into()))?;
            if !kind.is_file() {
                return Err(Error::NotZhudai(format!(
                    "entry {name} is not a regular file"
                )));
            }
            if name == MANIFEST {
                let mut text = Vec::new();
                (&mut entry)
                    .take(MANIFEST_LIMIT)
                    .read_to_end(&mut text)
                    .map_err(stream_error)?;
                let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
                    Error::NotZhudai(format!("manifest.json is not a zhudai manifest: {e}"))
                })?;
                if m.format != FORMAT_NAME {
                    return Err(Error::NotZhudai(format!(
                        "manifest format is `{}`",
                        m.format
                    )));
                }
                if m.format_version > FORMAT_VERSION {
                    return Err(Error::FormatTooNew(m.format_version));
                }
                manifest = Some(m);
                continue;
            }
            if !super::allowed_entry(&name) {
                return Err(Error::NotZhudai(format!("unexpected entry {name}")));
            }
            if seen.contains_key(&name) {
                return Err(Error::Corrupted(format!("entry {name} appears twice")));
            }
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut sink: Box<dyn Write> = match extract_to {
                Some(dir) => Box::new(BufWriter::new(create_private(dir, &name)?)),
                None => Box::new(io::sink()),
            };
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = entry.read(&mut buf).map_err(stream_error)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
                sink.write_all(&buf[..n])
                    .map_err(io(format!("cannot write {name}")))?;
            }
            sink.flush().map_err(io(format!("cannot write {name}")))?;
            drop(sink);
            if let Some(dir) = extract_to {
                File::open(dir.join(&name))
                    .and_then(|f| f.sync_all())
                    .map_err(io(format!("cannot write {name}")))?;
            }
            order.push(name.clone());
            seen.insert(name, (size, hex::encode(hasher.finalize())));
        }
    }
    let Some(manifest) = manifest else {
        return Err(if seen.is_empty() {
            Error::NotZhudai("the archive holds no zhudai entries".into())
        } else {
            Error::Corrupted("manifest.json is missing".into())
        });
    };
    // Past the tar's end: only zero padding, then the end of the age stream, which is where
    // age notices a truncated file or bytes appended to it.
    let mut rest = archive.into_inner();
    let mut buf = vec![0u8; 64 * 1024];
    let mut padding = 0u64;
    loop {
        let n = rest.read(&mut buf).map_err(stream_error)?;
        if n == 0 {
            break;
        }
        padding += n as u64;
        if padding > PADDING_LIMIT || buf[..n].iter().any(|b| *b != 0) {
            return Err(Error::Corrupted(
                "data follows the end of the archive".into(),
            ));
        }
    }
    check_against(&manifest, &seen, &order)?;
    Ok(manifest)
}

fn check_against(
    manifest: &Manifest,
    seen: &BTreeMap<String, (u64, String)>,
    order: &[String],
) -> Result<()> {
    for e in &manifest.entries {
        match seen.get(&e.path) {
            None => {
                return Err(Error::Corrupted(format!(
                    "entry {} is listed in the manifest but missing",
                    e.path
                )));
            }
            Some((size, _)) if *size != e.size => {
                return Err(Error::Corrupted(format!(
                    "entry {} has {size} bytes, the manifest says {}",
                    e.path, e.size
                )));
            }
            Some((_, sha)) if *sha != e.sha256 => {
                return Err(Error::Corrupted(format!(
                    "entry {} does not match its SHA-256 in the manifest",
                    e.path
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = order
        .iter()
        .find(|p| !manifest.entries.iter().any(|e| &e.path == *p))
    {
        return Err(Error::Corrupted(format!(
            "entry {extra} is not listed in the manifest"
        )));
    }
    if !seen.contains_key("zhudai.redb") {
        return Err(Error::NotZhudai("it holds no zhudai.redb".into()));
    }
    Ok(())
}

/// Creates `dir/name` (and its directories) for an extracted entry, owner-only.
fn create_private(dir: &Path, name: &str) -> Result<File> {
    let target = dir.join(name);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(io(format!("cannot create {}", parent.display())))?;
        let mut p = parent;
        while p != dir && p.starts_with(dir) {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
            match p.parent() {
                Some(up) => p = up,
                None => break,
            }
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .map_err(io(format!("cannot create {}", target.display())))
}

/// Errors while reading the decrypted stream: age reports truncation as UnexpectedEof and a
/// failed chunk authentication as InvalidData; tar reports damaged headers as `Other`.
fn stream_error(e: io::Error) -> Error {
    if is_cancel(&e) {
        return Error::Cancelled;
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated,
        io::ErrorKind::InvalidData => Error::Corrupted(format!(
            "a part of the file does not authenticate ({e}): it was damaged or altered"
        )),
        _ => Error::Corrupted(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_sparse_file_reads_as_its_bytes_holes_as_zeros() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        // Hole, data, hole, data, hole at the end.
        let a: Vec<u8> = (0..70_000u32).map(|i| (i % 253 + 1) as u8).collect();
        let b: Vec<u8> = (0..5_000u32).map(|i| (i % 7 + 1) as u8).collect();
        f.write_all_at(&a, 3 << 20).unwrap();
        f.write_all_at(&b, 9 << 20).unwrap();
        f.set_len(12 << 20).unwrap();
        drop(f);
        let want = std::fs::read(&path).unwrap();
        for piece in [1 << 20, 4093, 65_536] {
            let len = want.len() as u64;
            let mut sparse = Sparse::open(File::open(&path).unwrap(), len).unwrap();
            let mut got = Vec::new();
            let mut buf = vec![7u8; piece];
            loop {
                let n = sparse.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got.len(), want.len(), "pieces of {piece}");
            assert!(got == want, "pieces of {piece}");
        }
        // A file shorter than measured (it shrank meanwhile) ends early, not padded with zeros:
        // the entry's size check then refuses the backup.
        let mut sparse = Sparse::open(File::open(&path).unwrap(), 13 << 20).unwrap();
        let mut got = Vec::new();
        sparse.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), want.len());
        let mut sparse = Sparse::open(File::open(&path).unwrap(), want.len() as u64).unwrap();
        let mut head = vec![0u8; 4 << 20];
        sparse.read_exact(&mut head).unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(5 << 20)
            .unwrap();
        let mut rest = Vec::new();
        sparse.read_to_end(&mut rest).unwrap();
        assert!(head.len() + rest.len() < want.len(), "{}", rest.len());
    }

    fn header() -> Header {
        Header {
            schema_version: 1,
            created_at: chrono::Utc::now(),
            audit_head: None,
        }
    }

    /// Several pipeline pieces of incompressible and compressible bytes.
    fn entries(dir: &Path) -> Vec<Entry> {
        let mut random = vec![0u8; 3 * CHUNK + 12345];
        getrandom::fill(&mut random).unwrap();
        std::fs::write(dir.join("random"), &random).unwrap();
        let text: Vec<u8> = (0..4 * CHUNK + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("text"), &text).unwrap();
        vec![
            Entry {
                path: "zhudai.redb".into(),
                source: dir.join("text"),
            },
            Entry {
                path: "blobs/00/0000".into(),
                source: dir.join("random"),
            },
        ]
    }

    #[test]
    fn many_pieces_round_trip_through_the_two_threads() {
        let dir = tempfile::tempdir().unwrap();
        let entries = entries(dir.path());
        let id = age::x25519::Identity::generate();
        let out = dir.path().join("b.age");
        let mut seen = 0;
        let (written, size) = write(
            &out,
            &entries,
            &header(),
            &Encryption::Recipients(vec![id.to_public()]),
            &mut |n| seen += n,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(seen, written.total_size());
        // The compressible entry shrank: the archive is smaller than the entries.
        assert!(size < written.total_size() / 2 + 4 * CHUNK as u64, "{size}");
        let unlock = Unlock::Identities(vec![Box::new(id)]);
        let extracted = dir.path().join("x");
        std::fs::create_dir(&extracted).unwrap();
        let read = read(
            &out,
            &unlock,
            Some(&extracted),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(read, written);
        for e in &entries {
            assert_eq!(
                std::fs::read(extracted.join(&e.path)).unwrap(),
                std::fs::read(&e.source).unwrap(),
                "{}",
                e.path
            );
        }
    }

    #[test]
    fn a_cancelled_backup_stops_both_threads_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let entries = entries(dir.path());
        let id = age::x25519::Identity::generate();
        let out = dir.path().join("b.age");
        let cancel = AtomicBool::new(false);
        let mut read_so_far = 0;
        let err = write(
            &out,
            &entries,
            &header(),
            &Encryption::Recipients(vec![id.to_public()]),
            &mut |n| {
                read_so_far += n;
                if read_so_far > 2 * CHUNK as u64 {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
            &cancel,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert!(!out.exists());
        assert!(!partial_name(&out).exists());
    }

    #[test]
    fn a_failing_write_is_reported_and_the_reading_side_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let entries = entries(dir.path());
        let id = age::x25519::Identity::generate();
        // The compressing thread writes to a file opened for reading only: its first write
        // fails, mid-stream (the random entry) or at the end (a small one).
        for entries in [entries.clone(), entries[..1].to_vec()] {
            let readonly = dir.path().join("readonly");
            std::fs::write(&readonly, b"").unwrap();
            let err = write_into(
                File::open(&readonly).unwrap(),
                &entries,
                &header(),
                &Encryption::Recipients(vec![id.to_public()]),
                &mut |_| {},
                &AtomicBool::new(false),
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::Io { what, source } if what == "cannot write the backup" && source.kind() != io::ErrorKind::BrokenPipe),
                "{err:?}"
            );
        }
    }
}
