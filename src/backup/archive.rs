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

/// Reads through a source, counting, reporting progress and honouring cancellation.
struct Tap<'a, R> {
    inner: R,
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
        self.count += n as u64;
        if let Some(shared) = &self.shared {
            shared.store(self.count, Ordering::Relaxed);
        }
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// A piece longer than the buffer it was cut for: a bug here, reported instead of reading less.
fn short_buffer() -> io::Error {
    io::Error::other("a piece of the archive was cut longer than its buffer")
}

/// Where an entry's bytes lie in its file: the ranges that hold data, in order. The rest are
/// holes, which read as zeros: `store::snapshot` keeps the store file's (space redb reserved
/// and never wrote), and an archive stores a file with holes as a GNU sparse entry — its data
/// ranges behind a map of where they lie — so the holes are neither read nor compressed.
struct Layout {
    ranges: Vec<(u64, u64)>,
    size: u64,
}

impl Layout {
    fn of(file: &File, size: u64) -> io::Result<Layout> {
        Ok(Layout {
            ranges: crate::store::snapshot::data_ranges(file, size)?,
            size,
        })
    }

    /// Stored as a sparse entry: the file has holes, and every data range but the last is
    /// whole tar blocks (readers of the format require it; file systems give whole pages).
    fn sparse(&self) -> bool {
        let whole = self.ranges.as_slice() == [(0, self.size)];
        let aligned = self.ranges.split_last().is_none_or(|(_, before)| {
            before
                .iter()
                .all(|(start, end)| (end - start).is_multiple_of(TAR_BLOCK))
        });
        self.size > 0 && !whole && aligned
    }

    /// The sparse map: (offset, length) of each data range, and a last empty one at the end
    /// of the file when the file ends in a hole.
    fn map(&self) -> Vec<(u64, u64)> {
        let mut map: Vec<(u64, u64)> = self.ranges.iter().map(|&(s, e)| (s, e - s)).collect();
        if self.ranges.last().is_none_or(|&(_, end)| end < self.size) {
            map.push((self.size, 0));
        }
        map
    }

    /// Bytes of data the entry stores.
    fn stored(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }
}

/// A GNU sparse header for `layout` (`tar -x` recreates the holes) and the extension blocks
/// its map needs beyond the header's four slots.
fn sparse_header(layout: &Layout, mtime: u64) -> io::Result<(tar::Header, Vec<u8>)> {
    let map = layout.map();
    let mut h = tar_header(layout.stored(), mtime);
    h.set_entry_type(tar::EntryType::GNUSparse);
    let gnu = h
        .as_gnu_mut()
        .ok_or_else(|| io::Error::other("a sparse entry needs a GNU header"))?;
    gnu.set_real_size(layout.size);
    let (first, rest) = map.split_at(map.len().min(gnu.sparse.len()));
    for (slot, &(offset, length)) in gnu.sparse.iter_mut().zip(first) {
        slot.set_offset(offset);
        slot.set_length(length);
    }
    gnu.set_is_extended(!rest.is_empty());
    let mut ext_blocks = Vec::new();
    let mut groups = rest.chunks(21).peekable();
    while let Some(group) = groups.next() {
        let mut ext = tar::GnuExtSparseHeader::new();
        for (slot, &(offset, length)) in ext.sparse_mut().iter_mut().zip(group) {
            slot.set_offset(offset);
            slot.set_length(length);
        }
        ext.set_is_extended(groups.peek().is_some());
        ext_blocks.extend_from_slice(ext.as_bytes());
    }
    Ok((h, ext_blocks))
}

/// Zeros to hash the holes of a sparse entry with (they are in its content, not in the tar).
static ZEROS: [u8; 1 << 20] = [0; 1 << 20];

/// Hashes `len` zeros (a hole) and counts them as read.
fn hash_zeros(hasher: &mut blake3::Hasher, mut len: u64, progress: &mut dyn FnMut(u64)) {
    while len > 0 {
        let n = usize::try_from(len).map_or(ZEROS.len(), |l| l.min(ZEROS.len()));
        hasher.update(&ZEROS[..n]);
        len -= n as u64;
        progress(n as u64);
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

/// A piece of the tar stream for the compressing thread (a buffer and how much of it is the
/// stream), or the word that the stream is complete. A channel that closes without `End`
/// means the writer gave up: the compressing thread then stops without finishing the archive.
enum Piece {
    Data(Vec<u8>, usize),
    End,
}

/// The reading side of the pipeline: collects the tar stream into `CHUNK`-sized pieces and
/// sends them to the compressing thread, reusing the buffers it gives back. Entries are read
/// straight into the pieces (`Pipe::copy_entry`): no copy between the file and compression.
struct Pipe {
    /// Always `CHUNK` bytes long; `len` of them are the stream.
    buf: Vec<u8>,
    len: usize,
    to_compress: std::sync::mpsc::SyncSender<Piece>,
    returned: std::sync::mpsc::Receiver<Vec<u8>>,
}

fn compressor_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the compressing thread stopped")
}

impl Pipe {
    fn new(
        to_compress: std::sync::mpsc::SyncSender<Piece>,
        returned: std::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Pipe {
        Pipe {
            buf: vec![0; CHUNK],
            len: 0,
            to_compress,
            returned,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let next = self.returned.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        let full = std::mem::replace(&mut self.buf, next);
        let len = std::mem::take(&mut self.len);
        self.to_compress
            .send(Piece::Data(full, len))
            .map_err(|_| compressor_gone())
    }

    /// The free part of the current piece (sends the piece first when it is full).
    fn room(&mut self) -> io::Result<&mut [u8]> {
        if self.len == self.buf.len() {
            self.send()?;
        }
        self.buf.get_mut(self.len..).ok_or_else(short_buffer)
    }

    /// Appends `data`.
    fn put(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let room = self.room()?;
            let n = room.len().min(data.len());
            room[..n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
        }
        Ok(())
    }

    /// Appends bytes `start..end` of `file`, read straight into the pieces and hashed.
    /// Returns how many the file gave: fewer when it ended early (the caller refuses the
    /// archive then), never more.
    fn copy_range(
        &mut self,
        file: &File,
        (start, end): (u64, u64),
        hasher: &mut blake3::Hasher,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> io::Result<u64> {
        use std::os::unix::fs::FileExt;
        let mut at = start;
        while at < end {
            if cancel.load(Ordering::Relaxed) {
                return Err(io::Error::other(CancelledRead));
            }
            let room = self.room()?;
            let want = usize::try_from(end - at).map_or(room.len(), |left| left.min(room.len()));
            let into = room.get_mut(..want).ok_or_else(short_buffer)?;
            let n = match file.read_at(into, at) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            hasher.update(into.get(..n).ok_or_else(short_buffer)?);
            self.len += n;
            at += n as u64;
            progress(n as u64);
        }
        Ok(at - start)
    }

    /// Appends zeros up to the next tar block after `written` bytes of an entry's data.
    fn pad(&mut self, written: u64) -> io::Result<()> {
        let tail = (TAR_BLOCK - written % TAR_BLOCK) % TAR_BLOCK;
        self.put(&[0u8; TAR_BLOCK as usize][..tail as usize])
    }

    /// Sends what is left and the end mark.
    fn finish(mut self) -> io::Result<()> {
        if self.len > 0 {
            self.send()?;
        }
        self.to_compress
            .send(Piece::End)
            .map_err(|_| compressor_gone())
    }
}

/// The tar block: headers and padded data come in multiples of it.
const TAR_BLOCK: u64 = 512;

/// The header block(s) of a regular file entry: tar's own writer makes them (a GNU long-name
/// block first when the name needs one), with no data, which `Pipe::copy_entry` then adds.
fn header_blocks(mut header: tar::Header, path: &str) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header, path, io::empty())?;
    let blocks = std::mem::take(tar.get_mut());
    if blocks.is_empty() || !(blocks.len() as u64).is_multiple_of(TAR_BLOCK) {
        return Err(io::Error::other(format!(
            "the tar header of {path} is {} bytes, not whole blocks",
            blocks.len()
        )));
    }
    Ok(blocks)
}

/// The compressing side: zstd, then age, then the file, on its own thread so that reading and
/// hashing the entries (the caller's thread) overlaps compressing and encrypting them.
fn compress_and_encrypt(
    file: File,
    encryptor: age::Encryptor,
    pieces: std::sync::mpsc::Receiver<Piece>,
    give_back: std::sync::mpsc::Sender<Vec<u8>>,
) -> io::Result<File> {
    let out = Writeback::start(file, WRITEBACK_EVERY)?;
    let age_out = encryptor.wrap_output(BufWriter::with_capacity(CHUNK, out))?;
    let mut zstd_out = zstd::Encoder::new(age_out, super::ZSTD_LEVEL)?;
    // zstd's own workers compress while this thread encrypts and writes what they finished
    // (the frame is the same standard zstd frame: `zstd -d` reads it).
    zstd_out.multithread(zstd_workers())?;
    loop {
        match pieces.recv() {
            Ok(Piece::Data(buf, len)) => {
                zstd_out.write_all(buf.get(..len).ok_or_else(short_buffer)?)?;
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
    buffered.into_inner().map_err(|e| e.into_error())?.finish()
}

/// Bytes written between two background syncs of the archive.
const WRITEBACK_EVERY: u64 = 64 << 20;

/// The archive file as the compressing thread writes it. Every [`WRITEBACK_EVERY`] bytes a
/// second thread syncs what is written so far, so the disk writes while the backup is made
/// and the final sync has only the tail left (on a quiet disk the kernel would otherwise hold
/// the whole archive in memory and write it all at that last sync, both cores waiting).
struct Writeback {
    file: File,
    every: u64,
    since_kick: u64,
    /// Background syncs done (what a test looks at).
    #[cfg_attr(not(test), expect(dead_code, reason = "only tests read it"))]
    synced: Arc<AtomicU64>,
    /// Asks the syncing thread for a sync; full while one is under way (the kick is skipped).
    kick: Option<std::sync::mpsc::SyncSender<()>>,
    syncer: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Writeback {
    fn start(file: File, every: u64) -> io::Result<Writeback> {
        let to_sync = file.try_clone()?;
        let synced = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&synced);
        let (kick, kicks) = std::sync::mpsc::sync_channel::<()>(1);
        let syncer = std::thread::Builder::new()
            .name("backup-sync".into())
            .spawn(move || {
                for () in kicks {
                    to_sync.sync_data()?;
                    counted.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })?;
        Ok(Writeback {
            file,
            every,
            since_kick: 0,
            synced,
            kick: Some(kick),
            syncer: Some(syncer),
        })
    }

    /// Waits for the syncing thread (its failure is the archive's), then syncs the rest.
    fn finish(mut self) -> io::Result<File> {
        drop(self.kick.take());
        if let Some(syncer) = self.syncer.take() {
            syncer
                .join()
                .map_err(|_| io::Error::other("the backup's syncing thread panicked"))??;
        }
        self.file.sync_all()?;
        Ok(self.file)
    }
}

impl Write for Writeback {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        self.since_kick += n as u64;
        if self.since_kick >= self.every {
            self.since_kick = 0;
            if let Some(kick) = &self.kick {
                // Full: a sync is under way, which this write's pages will catch or the next
                // one will. Gone: the thread stopped on an error, which `finish` reports.
                let _ = kick.try_send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
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
    let pipe = Pipe::new(to_compress, returned);
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
/// pipeline): each entry is read into the stream's pieces and hashed on the way.
fn write_tar(
    mut pipe: Pipe,
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
    // The announcement: the manifest without entries, first, so that readers know the format
    // (and the hash) before any entry, and releases before format 3 — which read the first
    // `manifest.json` they meet as the manifest — say the format is too new.
    let announcement = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Io {
        what: "cannot encode the manifest".into(),
        source: io::Error::other(e),
    })?;
    header_blocks(tar_header(announcement.len() as u64, mtime), MANIFEST)
        .and_then(|blocks| pipe.put(&blocks))
        .and_then(|()| pipe.put(&announcement))
        .and_then(|()| pipe.pad(announcement.len() as u64))
        .map_err(io("cannot write the backup"))?;
    for entry in entries {
        let what = || format!("cannot back up {}", entry.source.display());
        let source = File::open(&entry.source)
            .map_err(io(format!("cannot read {}", entry.source.display())))?;
        let size = source
            .metadata()
            .map_err(io(format!("cannot read {}", entry.source.display())))?
            .len();
        let layout = Layout::of(&source, size)
            .map_err(io(format!("cannot read {}", entry.source.display())))?;
        let mut hasher = blake3::Hasher::new();
        // Bytes the tar entry promises, and bytes the file gave.
        let (promised, stored) = if layout.sparse() {
            let (h, ext_blocks) = sparse_header(&layout, mtime).map_err(io(what()))?;
            pipe.put(&header_blocks(h, &entry.path).map_err(io(what()))?)
                .and_then(|()| pipe.put(&ext_blocks))
                .map_err(io(what()))?;
            let mut at = 0;
            let mut stored = 0;
            for &(start, end) in &layout.ranges {
                hash_zeros(&mut hasher, start - at, progress);
                let copied = pipe
                    .copy_range(&source, (start, end), &mut hasher, progress, cancel)
                    .map_err(|e| cancelled(e, what()))?;
                stored += copied;
                at = end;
                if copied != end - start {
                    break;
                }
            }
            hash_zeros(&mut hasher, size - at, progress);
            (layout.stored(), stored)
        } else {
            let h = tar_header(size, mtime);
            pipe.put(&header_blocks(h, &entry.path).map_err(io(what()))?)
                .map_err(io(what()))?;
            let copied = pipe
                .copy_range(&source, (0, size), &mut hasher, progress, cancel)
                .map_err(|e| cancelled(e, what()))?;
            (size, copied)
        };
        // A file that shrank into a hole (hashed as zeros) or grew meanwhile is caught here.
        let now = source
            .metadata()
            .map_err(io(format!("cannot read {}", entry.source.display())))?
            .len();
        if stored != promised || now != size {
            // The header already promises other bytes: the archive is broken.
            return Err(Error::Refused(format!(
                "{} changed size while being backed up; run the backup again",
                entry.source.display()
            )));
        }
        pipe.pad(stored).map_err(io(what()))?;
        manifest.entries.push(ManifestEntry {
            path: entry.path.clone(),
            size,
            sha256: None,
            blake3: Some(hasher.finalize().to_hex().to_string()),
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Io {
        what: "cannot encode the manifest".into(),
        source: io::Error::other(e),
    })?;
    let failed = io("cannot write the backup");
    let end = header_blocks(tar_header(json.len() as u64, mtime), MANIFEST)
        .and_then(|blocks| pipe.put(&blocks))
        .and_then(|()| pipe.put(&json))
        .and_then(|()| {
            let tail = (TAR_BLOCK - json.len() as u64 % TAR_BLOCK) % TAR_BLOCK;
            pipe.put(&[0u8; TAR_BLOCK as usize][..tail as usize])
        })
        // The tar's end: two zero blocks.
        .and_then(|()| pipe.put(&[0u8; 2 * TAR_BLOCK as usize]))
        .and_then(|()| pipe.finish());
    end.map_err(failed)?;
    Ok(manifest)
}

/// The hash of an archive's entries: BLAKE3 from format 3 (the one reading thread of a backup
/// hashes the whole store; BLAKE3 takes less than half of SHA-256's time there), SHA-256 before.
enum EntryHash {
    Sha256(Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl EntryHash {
    fn for_format(version: u32) -> EntryHash {
        if version >= 3 {
            EntryHash::Blake3(Box::new(blake3::Hasher::new()))
        } else {
            EntryHash::Sha256(Sha256::new())
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            EntryHash::Sha256(h) => h.update(data),
            EntryHash::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// Lower-case hex, as the manifest writes it.
    fn finish(self) -> String {
        match self {
            EntryHash::Sha256(h) => hex::encode(h.finalize()),
            EntryHash::Blake3(h) => h.finalize().to_hex().to_string(),
        }
    }
}

/// The tar inside the decryption, and the format that implies until a manifest opening the tar
/// says otherwise: zstd-compressed (format 2 and later, recognised by the zstd frame's magic
/// number) or plain (format 1; a tar starts with an entry name, never with that magic).
fn decompressed<'r, R: Read + 'r>(plain: R) -> Result<(Box<dyn Read + 'r>, u32)> {
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let mut buffered = BufReader::with_capacity(zstd::zstd_safe::DCtx::in_size(), plain);
    let head = buffered.fill_buf().map_err(stream_error)?;
    if head.starts_with(&ZSTD_MAGIC) {
        let decoder = zstd::Decoder::with_buffer(buffered).map_err(stream_error)?;
        Ok((Box::new(decoder), 2))
    } else {
        Ok((Box::new(buffered), 1))
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
        count: 0,
        shared: Some(Arc::clone(&read_so_far)),
        progress,
        cancel,
    };
    // A small buffer keeps `read_so_far` at the end of the chunk being decrypted.
    let plain = keys::decrypt(BufReader::new(counted), unlock, path)?;
    let (tar_stream, mut stream_format) = decompressed(plain)?;
    // Format 3 and later: the manifest without entries opens the tar.
    let mut announced: Option<Manifest> = None;
    let mut archive = tar::Archive::new(tar_stream);
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
            if !kind.is_file() && !kind.is_gnu_sparse() {
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
                if seen.is_empty() && announced.is_none() {
                    // The announcement (format 3 and later): the hash of what follows.
                    if m.format_version < 3 || !m.entries.is_empty() {
                        return Err(Error::Corrupted(format!(
                            "the archive opens with a manifest of format {} and {} entries",
                            m.format_version,
                            m.entries.len()
                        )));
                    }
                    stream_format = m.format_version;
                    announced = Some(m);
                    continue;
                }
                // The manifest must say what the announcement said (or, without one, be of
                // a format before announcements).
                let agrees = match &announced {
                    Some(a) => a.same_archive(&m),
                    None => m.format_version < 3,
                };
                if !agrees {
                    return Err(Error::Corrupted(format!(
                        "the manifest (format {}) does not say what the archive opened with (format {stream_format})",
                        m.format_version
                    )));
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
            let mut hasher = EntryHash::for_format(stream_format);
            let mut size = 0u64;
            let mut sink: Box<dyn Write> = match extract_to {
                // A sparse entry is written back with its holes (runs of zeros skipped).
                Some(dir) if kind.is_gnu_sparse() => Box::new(HoleWriter {
                    file: create_private(dir, &name)?,
                    at: 0,
                }),
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
            seen.insert(name, (size, hasher.finish()));
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
            Some((_, hash)) => {
                let (listed, name) = if manifest.format_version >= 3 {
                    (&e.blake3, "BLAKE3")
                } else {
                    (&e.sha256, "SHA-256")
                };
                match listed {
                    None => {
                        return Err(Error::Corrupted(format!(
                            "the manifest gives no {name} for entry {}",
                            e.path
                        )));
                    }
                    Some(listed) if listed != hash => {
                        return Err(Error::Corrupted(format!(
                            "entry {} does not match its {name} in the manifest",
                            e.path
                        )));
                    }
                    Some(_) => {}
                }
            }
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

/// Writes a file whose pieces of zeros become holes: a sparse entry restored as sparse as it
/// was archived (its holes are zeros in the stream; nothing reads differently).
struct HoleWriter {
    file: File,
    /// Where the next piece goes; the file's length once flushed.
    at: u64,
}

impl Write for HoleWriter {
    fn write(&mut self, piece: &[u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if piece.iter().any(|b| *b != 0) {
            self.file.write_all_at(piece, self.at)?;
        }
        self.at += piece.len() as u64;
        Ok(piece.len())
    }

    /// Sets the length: a file that ends in a hole ends where its last piece did.
    fn flush(&mut self) -> io::Result<()> {
        self.file.set_len(self.at)
    }
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

    /// A file of `len` bytes with `pieces` written at their offsets, holes elsewhere.
    fn holey(path: &Path, len: u64, pieces: &[(u64, Vec<u8>)]) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let f = File::create(path).unwrap();
        for (at, bytes) in pieces {
            f.write_all_at(bytes, *at).unwrap();
        }
        f.set_len(len).unwrap();
        std::fs::read(path).unwrap()
    }

    fn bytes(n: u32, seed: u32) -> Vec<u8> {
        (0..n).map(|i| ((i * seed) % 251 + 1) as u8).collect()
    }

    #[test]
    fn a_file_with_holes_is_a_sparse_entry_that_stores_only_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        // Hole, data, hole, data, hole at the end; 30 data ranges (a map longer than the
        // header's four slots: extension blocks); holes only; data to the end.
        let files = [
            (
                "zhudai.redb",
                holey(
                    &p("a"),
                    12 << 20,
                    &[(3 << 20, bytes(70_000, 7)), (9 << 20, bytes(5_000, 3))],
                ),
            ),
            (
                "blobs/00/many",
                holey(
                    &p("b"),
                    40 << 20,
                    &(0..30u64)
                        .map(|i| (i << 20, bytes(4096, i as u32 + 1)))
                        .collect::<Vec<_>>(),
                ),
            ),
            ("blobs/00/none", holey(&p("c"), 5 << 20, &[])),
            (
                "blobs/00/tail",
                holey(&p("d"), (2 << 20) + 100, &[(2 << 20, bytes(100, 5))]),
            ),
        ];
        let entries: Vec<Entry> = files
            .iter()
            .zip(["a", "b", "c", "d"])
            .map(|((path, _), source)| Entry {
                path: path.to_string(),
                source: p(source),
            })
            .collect();
        let id = age::x25519::Identity::generate();
        let out = p("b.age");
        let mut counted = 0;
        let (m, _) = write(
            &out,
            &entries,
            &header(),
            &Encryption::Recipients(vec![id.to_public()]),
            &mut |n| counted += n,
            &AtomicBool::new(false),
        )
        .unwrap();
        let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        assert_eq!(counted, total, "holes count as read");
        for ((path, content), listed) in files.iter().zip(&m.entries) {
            assert_eq!(
                listed.blake3,
                b3(content).1,
                "{path}: the hash is of the whole content"
            );
        }
        // The tar holds the data, not the holes.
        let unlock = Unlock::Identities(vec![Box::new(id)]);
        let plain =
            keys::decrypt(BufReader::new(File::open(&out).unwrap()), &unlock, &out).unwrap();
        let (mut tar, compressed) = decompressed(plain).unwrap();
        assert_eq!(compressed, 2, "zstd inside the encryption");
        let mut tar_bytes = Vec::new();
        tar.read_to_end(&mut tar_bytes).unwrap();
        assert!(
            tar_bytes.len() < 1 << 20,
            "{} bytes of tar for {total} of files",
            tar_bytes.len()
        );
        // Read back whole, holes as zeros.
        let x = p("x");
        std::fs::create_dir(&x).unwrap();
        read(
            &out,
            &unlock,
            Some(&x),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        for (path, content) in &files {
            assert!(std::fs::read(x.join(path)).unwrap() == *content, "{path}");
        }
        // Written back with its holes: 30 pages of data in 40 MiB take about 30 pages.
        use std::os::unix::fs::MetadataExt;
        let on_disk = std::fs::metadata(x.join("blobs/00/many")).unwrap().blocks() * 512;
        assert!(on_disk < 4 << 20, "{on_disk} bytes on disk");
    }

    #[test]
    fn a_file_that_shrinks_into_a_hole_while_archived_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        holey(&path, 12 << 20, &[(0, bytes(3 << 20, 7))]);
        let entries = [Entry {
            path: "zhudai.redb".into(),
            source: path.clone(),
        }];
        let id = age::x25519::Identity::generate();
        let mut shrunk = false;
        let err = write(
            &dir.path().join("b.age"),
            &entries,
            &header(),
            &Encryption::Recipients(vec![id.to_public()]),
            &mut |_| {
                if !shrunk {
                    File::options()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(8 << 20)
                        .unwrap();
                    shrunk = true;
                }
            },
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(err.to_string().contains("changed size"), "{err}");
        assert!(!dir.path().join("b.age").exists());
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
        std::fs::write(dir.join("empty"), b"").unwrap();
        std::fs::write(dir.join("short"), b"rule").unwrap();
        vec![
            Entry {
                path: "zhudai.redb".into(),
                source: dir.join("text"),
            },
            Entry {
                path: "blobs/00/0000".into(),
                source: dir.join("random"),
            },
            Entry {
                path: "config.toml".into(),
                source: dir.join("empty"),
            },
            // Longer than a tar header's 100-byte name field: a GNU long-name block precedes it.
            Entry {
                path: format!("plugins/{}.rhai", "长名称的插件".repeat(8)),
                source: dir.join("short"),
            },
        ]
    }

    #[test]
    fn the_archive_is_synced_in_the_background_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = Writeback::start(File::create(&path).unwrap(), 64 * 1024).unwrap();
        let piece: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..256 {
            w.write_all(&piece).unwrap();
            // Give the syncing thread a moment now and then, as compressing does.
            std::thread::yield_now();
        }
        let synced = Arc::clone(&w.synced);
        let file = w.finish().unwrap();
        drop(file);
        assert!(synced.load(Ordering::Relaxed) >= 1, "no background sync");
        assert_eq!(std::fs::read(&path).unwrap(), piece.repeat(256));
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

    /// What a manifest entry lists for an entry's bytes: (`sha256`, `blake3`).
    type Listed = fn(&[u8]) -> (Option<String>, Option<String>);

    fn sha(b: &[u8]) -> (Option<String>, Option<String>) {
        (Some(hex::encode(Sha256::digest(b))), None)
    }

    fn b3(b: &[u8]) -> (Option<String>, Option<String>) {
        (None, Some(blake3::hash(b).to_hex().to_string()))
    }

    /// An archive made by hand, as another version of zhudai (or a forger with the key) would:
    /// an optional announcement (the manifest without entries, first, of format `frame`), the tar compressed or not, and a manifest of `version` whose
    /// entries list what `listed` gives for each file's bytes.
    fn craft(
        out: &Path,
        to: &age::x25519::Identity,
        frame: Option<u32>,
        compressed: bool,
        version: u32,
        listed: Listed,
    ) {
        let files: [(&str, Vec<u8>); 2] = [
            (
                "zhudai.redb",
                (0..100_000u32).map(|i| (i % 241) as u8).collect(),
            ),
            ("keys/master.key", b"a key".to_vec()),
        ];
        let mut tar = tar::Builder::new(Vec::new());
        let mut m = Manifest {
            format: FORMAT_NAME.into(),
            format_version: version,
            zhudai_version: "0.0.0".into(),
            schema_version: 1,
            created_at: chrono::Utc::now(),
            audit_head: None,
            entries: vec![],
        };
        if let Some(v) = frame {
            let announcement = Manifest {
                format_version: v,
                ..m.clone()
            };
            let json = serde_json::to_vec(&announcement).unwrap();
            tar.append_data(
                &mut tar_header(json.len() as u64, 0),
                MANIFEST,
                json.as_slice(),
            )
            .unwrap();
        }
        for (path, bytes) in &files {
            tar.append_data(
                &mut tar_header(bytes.len() as u64, 0),
                path,
                bytes.as_slice(),
            )
            .unwrap();
            let (sha256, blake3) = listed(bytes);
            m.entries.push(ManifestEntry {
                path: path.to_string(),
                size: bytes.len() as u64,
                sha256,
                blake3,
            });
        }
        let json = serde_json::to_vec(&m).unwrap();
        tar.append_data(
            &mut tar_header(json.len() as u64, 0),
            MANIFEST,
            json.as_slice(),
        )
        .unwrap();
        let tar = tar.into_inner().unwrap();
        let mut inner = Vec::new();
        if compressed {
            inner.extend(zstd::encode_all(tar.as_slice(), 1).unwrap());
        } else {
            inner.extend(tar);
        }
        let enc = Encryption::Recipients(vec![to.to_public()])
            .encryptor()
            .unwrap();
        let mut w = enc.wrap_output(File::create(out).unwrap()).unwrap();
        w.write_all(&inner).unwrap();
        w.finish().unwrap();
    }

    fn read_crafted(
        frame: Option<u32>,
        compressed: bool,
        version: u32,
        listed: Listed,
    ) -> Result<Manifest> {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let out = dir.path().join("c.age");
        craft(&out, &id, frame, compressed, version, listed);
        let unlock = Unlock::Identities(vec![Box::new(id)]);
        read(&out, &unlock, None, &mut |_| {}, &AtomicBool::new(false))
    }

    #[test]
    fn archives_of_formats_1_and_2_are_still_read_and_checked_with_sha256() {
        // Format 1: a plain tar; format 2: zstd; both list SHA-256, neither has a frame.
        for (compressed, version) in [(false, 1), (true, 2)] {
            let m = read_crafted(None, compressed, version, sha).unwrap();
            assert_eq!(m.format_version, version);
            let wrong: Listed = |b| sha(&b[1..]);
            let err = read_crafted(None, compressed, version, wrong).unwrap_err();
            assert!(
                err.to_string().contains("does not match its SHA-256"),
                "{err}"
            );
            let err = read_crafted(None, compressed, version, b3).unwrap_err();
            assert!(err.to_string().contains("gives no SHA-256"), "{err}");
        }
    }

    #[test]
    fn a_format_3_archive_is_checked_with_blake3() {
        let m = read_crafted(Some(3), true, 3, b3).unwrap();
        assert_eq!(m.format_version, 3);
        let wrong: Listed = |b| b3(&b[1..]);
        let err = read_crafted(Some(3), true, 3, wrong).unwrap_err();
        assert!(
            err.to_string().contains("does not match its BLAKE3"),
            "{err}"
        );
        let err = read_crafted(Some(3), true, 3, sha).unwrap_err();
        assert!(err.to_string().contains("gives no BLAKE3"), "{err}");
    }

    #[test]
    fn the_stream_and_the_manifest_agree_on_the_format() {
        // A frame saying 3 around a format-2 manifest, a format-3 manifest without a frame.
        let err = read_crafted(Some(3), true, 2, sha).unwrap_err();
        assert!(
            err.to_string().contains("manifest (format 2) does not say"),
            "{err}"
        );
        let err = read_crafted(None, true, 3, b3).unwrap_err();
        assert!(
            err.to_string().contains("manifest (format 3) does not say"),
            "{err}"
        );
        // A newer format is named as such before any entry is read.
        let err = read_crafted(Some(FORMAT_VERSION + 1), true, FORMAT_VERSION + 1, b3).unwrap_err();
        assert!(
            matches!(err, Error::FormatTooNew(v) if v == FORMAT_VERSION + 1),
            "{err}"
        );
        // Formats before 3 never open with a manifest.
        let err = read_crafted(Some(2), true, 2, sha).unwrap_err();
        assert!(
            err.to_string()
                .contains("opens with a manifest of format 2"),
            "{err}"
        );
    }

    #[test]
    fn what_we_write_announces_format_3_and_lists_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let entries = entries(dir.path());
        let id = age::x25519::Identity::generate();
        let out = dir.path().join("b.age");
        let (m, _) = write(
            &out,
            &entries,
            &header(),
            &Encryption::Recipients(vec![id.to_public()]),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(m.format_version, 3);
        for (e, listed) in entries.iter().zip(&m.entries) {
            let bytes = std::fs::read(&e.source).unwrap();
            assert_eq!(listed.blake3, b3(&bytes).1, "{}", e.path);
            assert_eq!(listed.sha256, None);
        }
        let plain = keys::decrypt(
            BufReader::new(File::open(&out).unwrap()),
            &Unlock::Identities(vec![Box::new(id)]),
            &out,
        )
        .unwrap();
        let (stream, _) = decompressed(plain).unwrap();
        let mut tar = tar::Archive::new(stream);
        let mut names = Vec::new();
        let mut first = None;
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_str().unwrap().to_string();
            if names.is_empty() {
                let mut text = Vec::new();
                entry.read_to_end(&mut text).unwrap();
                first = Some(text);
            }
            names.push(name);
        }
        assert_eq!(names.first().map(String::as_str), Some(MANIFEST));
        assert_eq!(names.get(1).map(String::as_str), Some("zhudai.redb"));
        assert_eq!(names.last().map(String::as_str), Some(MANIFEST));
        // A release before format 3 parsed the first manifest.json it met (with a SHA-256
        // string required of each entry) and refused a format newer than its own: it must find
        // the number there.
        #[derive(serde::Deserialize)]
        struct OldEntry {
            #[allow(dead_code)]
            sha256: String,
        }
        #[derive(serde::Deserialize)]
        struct OldManifest {
            format_version: u32,
            entries: Vec<OldEntry>,
        }
        let old: OldManifest = serde_json::from_slice(&first.unwrap()).unwrap();
        assert_eq!(old.format_version, 3);
        assert!(old.entries.is_empty());
    }
}
