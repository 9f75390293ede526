//! The encrypted blob store (`data/blobs/`): scans, photos and later recordings, kept as files
//! beside the store. docs/documents.md describes the design; in short:
//!
//! - **Names**: a blob's id is HMAC-SHA256 of the SHA-256 of its plaintext under a key derived
//!   from the master key (`zhudai blob-name v1`): equal files share one blob (content
//!   addressing), yet a file name says nothing about which well-known file is stored. The file
//!   is `blobs/<first two hex digits>/<id>`.
//! - **Encryption**: a fresh random 256-bit key per blob, wrapped (XChaCha20-Poly1305, random
//!   nonce, the blob id as associated data) by a key derived from the master key
//!   (`zhudai blob-wrap v1`); the wrapped key lives in the blob's row in redb, not in the file.
//!   The content is cut in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under the blob key
//!   with the nonce `chunk index (11 bytes, big-endian) ‖ last-chunk flag` — the STREAM
//!   construction the `age` format uses ([`stream`]): chunks cannot be reordered, dropped or
//!   cut off at the end unnoticed, and any chunk can be read alone, so a `Range` request reads
//!   only the chunks it covers and nothing is ever held whole in memory.
//! - **Uploads** stream into `blobs/tmp/` while they are hashed and encrypted; the type is
//!   sniffed from the first bytes ([`sniff`]), never taken from the client; the size is capped.
//!   The finished file is renamed to its name inside the write transaction that records it.

pub mod sniff;
pub mod stream;

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::crypto::field::derive;
use crate::crypto::keyfile::MasterKey;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// The file header: format and version.
const MAGIC: &[u8; 8] = b"ZDBLOB1\n";
const WRAP_GENERATION: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("the file type is not accepted here")]
    TypeRefused,
    #[error("blob {0} is missing on disk")]
    Missing(String),
    #[error("blob {0} does not verify: its file was changed or damaged")]
    Verify(String),
    #[error("the random generator failed")]
    Random,
    #[error("blob i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The keys of the blob store, derived from the master key.
#[derive(Clone)]
pub struct BlobKeys {
    wrap: XChaCha20Poly1305,
    name_key: [u8; 32],
}

impl BlobKeys {
    pub fn new(master: &MasterKey) -> BlobKeys {
        BlobKeys {
            wrap: XChaCha20Poly1305::new(&derive(master, b"zhudai blob-wrap v1").into()),
            name_key: derive(master, b"zhudai blob-name v1"),
        }
    }

    /// The id of a blob whose plaintext has SHA-256 `digest`.
    fn id_of(&self, digest: &[u8]) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.name_key) else {
            // HMAC takes keys of any length: unreachable for 32 bytes.
            return hex::encode(digest);
        };
        mac.update(digest);
        hex::encode(mac.finalize().into_bytes())
    }

    fn wrap(&self, id: &str, key: &[u8; 32]) -> Result<String, BlobError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|_| BlobError::Random)?;
        let ct = self
            .wrap
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: key,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| BlobError::Random)?;
        Ok(format!(
            "{WRAP_GENERATION}:{}{}",
            hex::encode(nonce),
            hex::encode(ct)
        ))
    }

    fn unwrap_key(&self, id: &str, wrapped: &str) -> Result<[u8; 32], BlobError> {
        let verify = || BlobError::Verify(id.to_string());
        let (generation, body) = wrapped.split_once(':').ok_or_else(verify)?;
        if generation != WRAP_GENERATION {
            return Err(verify());
        }
        let bytes = hex::decode(body).map_err(|_| verify())?;
        if bytes.len() != 24 + 32 + 16 {
            return Err(verify());
        }
        let (nonce, ct) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| verify())?;
        let key = self
            .wrap
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| verify())?;
        key.try_into().map_err(|_| verify())
    }

    /// Whether `wrapped` is a key of blob `id` wrapped under these keys.
    pub fn opens(&self, id: &str, wrapped: &str) -> bool {
        self.unwrap_key(id, wrapped).is_ok()
    }

    /// The same blob key wrapped under `other` (a master-key rotation).
    pub fn rewrap(&self, other: &BlobKeys, id: &str, wrapped: &str) -> Result<String, BlobError> {
        let key = self.unwrap_key(id, wrapped)?;
        other.wrap(id, &key)
    }
}

/// The blob store of one data directory.
#[derive(Clone)]
pub struct Blobs {
    root: PathBuf,
    keys: BlobKeys,
    /// Largest accepted upload, bytes.
    pub limit: u64,
}

/// An upload that has been written and encrypted under a temporary name, ready to be recorded.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    pub id: String,
    pub size: u64,
    pub content_type: &'static str,
    pub wrapped_key: String,
}

impl Blobs {
    pub fn new(data_dir: &Path, keys: BlobKeys, limit: u64) -> Blobs {
        Blobs {
            root: data_dir.join("blobs"),
            keys,
            limit,
        }
    }

    pub fn keys(&self) -> &BlobKeys {
        &self.keys
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where uploads are written before they are named.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The file of blob `id` (ids are 64 hex digits; anything else has no path).
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(self.root.join(&id[..2]).join(id))
    }

    /// Starts an upload of a scan or photo (at most [`Blobs::limit`]).
    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        self.writer_for(sniff::Accept::Scans, self.limit)
    }

    /// Starts an upload: a new temporary file under `blobs/tmp`, of the formats `accept`
    /// allows, at most `limit` bytes.
    pub fn writer_for(&self, accept: sniff::Accept, limit: u64) -> Result<BlobWriter, BlobError> {
        let dir = self.tmp_dir();
        std::fs::create_dir_all(&dir)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| BlobError::Random)?;
        let tmp = dir.join(format!(
            "{}.part",
            crate::crypto::random_token().map_err(|_| BlobError::Random)?
        ));
        let mut file = BufWriter::new(File::create(&tmp)?);
        file.write_all(MAGIC)?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            seal: stream::Sealer::new(&key),
            key,
            keys: self.keys.clone(),
            hasher: Sha256::new(),
            buf: Vec::with_capacity(CHUNK * 2),
            size: 0,
            limit,
            accept,
            content_type: None,
        })
    }

    /// Gives a staged upload its name. `exists`: the store already has this blob (same
    /// content), so the upload is dropped. Call inside the write transaction that records it:
    /// transactions are serialised, so two uploads of one file never race for the name.
    pub fn place(&self, staged: &Staged, exists: bool) -> Result<(), BlobError> {
        if exists {
            std::fs::remove_file(&staged.tmp)?;
            return Ok(());
        }
        let target = self
            .path_of(&staged.id)
            .ok_or_else(|| BlobError::Verify(staged.id.clone()))?;
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(&staged.tmp, &target)?;
        if let Some(dir) = target.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes a staged upload that will not be recorded.
    pub fn discard(&self, staged: Staged) {
        if let Err(e) = std::fs::remove_file(&staged.tmp) {
            tracing::warn!(error = %e, path = %staged.tmp.display(), "removing an unused upload");
        }
    }

    /// Opens blob `id` (`size` plaintext bytes, `wrapped_key` from its row) for reading.
    pub fn open(&self, id: &str, size: u64, wrapped_key: &str) -> Result<BlobReader, BlobError> {
        let path = self
            .path_of(id)
            .ok_or_else(|| BlobError::Missing(id.to_string()))?;
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let key = self.keys.unwrap_key(id, wrapped_key)?;
        Ok(BlobReader {
            file,
            open: stream::Opener::new(&key),
            id: id.to_string(),
            size,
        })
    }

    /// Deletes blob `id`'s file; an absent file is no error.
    pub fn delete(&self, id: &str) -> Result<(), BlobError> {
        let Some(path) = self.path_of(id) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// An upload in progress: bytes in, hashed, sniffed, encrypted chunk by chunk to a temporary
/// file. Dropped without [`BlobWriter::finish`], the temporary file is removed.
pub struct BlobWriter {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    seal: stream::Sealer,
    key: [u8; 32],
    keys: BlobKeys,
    hasher: Sha256,
    buf: Vec<u8>,
    size: u64,
    limit: u64,
    accept: sniff::Accept,
    content_type: Option<&'static str>,
}

impl BlobWriter {
    /// Adds bytes. Refuses as soon as the limit is passed or the first bytes are not an
    /// accepted type.
    pub fn write(&mut self, data: &[u8]) -> Result<(), BlobError> {
        self.size += data.len() as u64;
        if self.size > self.limit {
            return Err(BlobError::TooLarge { limit: self.limit });
        }
        self.hasher.update(data);
        self.buf.extend_from_slice(data);
        if self.content_type.is_none() && self.buf.len() >= sniff::NEEDED {
            self.content_type =
                Some(sniff::sniff_as(self.accept, &self.buf).ok_or(BlobError::TypeRefused)?);
        }
        // Keep at least one byte back: the last chunk is sealed differently.
        while self.buf.len() > CHUNK {
            let sealed = self.seal.seal(&self.buf[..CHUNK], false)?;
            self.out()?.write_all(&sealed)?;
            self.buf.drain(..CHUNK);
        }
        Ok(())
    }

    fn out(&mut self) -> Result<&mut BufWriter<File>, BlobError> {
        self.file
            .as_mut()
            .ok_or_else(|| BlobError::Io(std::io::Error::other("upload already finished")))
    }

    /// Seals the last chunk and closes the file.
    pub fn finish(mut self) -> Result<Staged, BlobError> {
        if self.size == 0 {
            return Err(BlobError::Empty);
        }
        let content_type = match self.content_type {
            Some(t) => t,
            None => sniff::sniff_as(self.accept, &self.buf).ok_or(BlobError::TypeRefused)?,
        };
        let rest = std::mem::take(&mut self.buf);
        let sealed = self.seal.seal(&rest, true)?;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| BlobError::Io(std::io::Error::other("upload already finished")))?;
        file.write_all(&sealed)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let digest = std::mem::take(&mut self.hasher).finalize();
        let id = self.keys.id_of(&digest);
        let wrapped_key = self.keys.wrap(&id, &self.key)?;
        Ok(Staged {
            tmp: std::mem::take(&mut self.tmp),
            id,
            size: self.size,
            content_type,
            wrapped_key,
        })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        self.key = [0; 32];
        // Not finished (an error or a cut-off upload): the partial file goes.
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            if let Err(e) = std::fs::remove_file(&self.tmp)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                // Left in blobs/tmp (never served, never backed up): the operator sees why.
                tracing::warn!(path = %self.tmp.display(), error = %e, "cannot remove an unfinished upload");
            }
        }
    }
}

/// Reads ranges of one blob, decrypting only the chunks a range covers.
pub struct BlobReader {
    file: File,
    open: stream::Opener,
    id: String,
    pub size: u64,
}

impl BlobReader {
    /// Calls `each` with the plaintext of bytes `start..=end` in pieces of at most one chunk.
    /// A chunk that does not authenticate is an error (never garbage); `each` returning
    /// `false` stops early (the client went away).
    pub fn read_range(
        &mut self,
        start: u64,
        end: u64,
        mut each: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), BlobError> {
        if start > end || end >= self.size {
            return Ok(());
        }
        let chunk = CHUNK as u64;
        let last = (self.size - 1) / chunk;
        let sealed_len = CHUNK + stream::TAG;
        let mut buf = vec![0u8; sealed_len];
        for index in start / chunk..=end / chunk {
            let plain_len = if index == last {
                self.size - index * chunk
            } else {
                chunk
            };
            let len = usize::try_from(plain_len).unwrap_or(CHUNK) + stream::TAG;
            self.file.seek(SeekFrom::Start(
                MAGIC.len() as u64 + index * sealed_len as u64,
            ))?;
            let got = &mut buf[..len];
            if let Err(e) = self.file.read_exact(got) {
                return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    BlobError::Verify(self.id.clone())
                } else {
                    e.into()
                });
            }
            let plain = self
                .open
                .open(index, got, index == last)
                .map_err(|_| BlobError::Verify(self.id.clone()))?;
            let from = if index == start / chunk {
                usize::try_from(start % chunk).unwrap_or(0)
            } else {
                0
            };
            let to = if index == end / chunk {
                usize::try_from(end % chunk).unwrap_or(0) + 1
            } else {
                plain.len()
            };
            if !each(&plain[from..to.min(plain.len())]) {
                return Ok(());
            }
        }
        // A file longer than the chunks the size accounts for was appended to.
        if index_end(&mut self.file)? != MAGIC.len() as u64 + expected_len(self.size) {
            return Err(BlobError::Verify(self.id.clone()));
        }
        Ok(())
    }

    /// The whole plaintext (tests and small files).
    pub fn read_all(&mut self) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        let end = self.size.saturating_sub(1);
        self.read_range(0, end, |b| {
            out.extend_from_slice(b);
            true
        })?;
        Ok(out)
    }
}

fn index_end(file: &mut File) -> std::io::Result<u64> {
    file.seek(SeekFrom::End(0))
}

/// The sealed length of `size` plaintext bytes (without the header).
fn expected_len(size: u64) -> u64 {
    let chunk = CHUNK as u64;
    let chunks = size.div_ceil(chunk).max(1);
    size + chunks * stream::TAG as u64
}

/// A `Range` header's single byte range over `size` bytes, as inclusive (start, end).
/// `Ok(None)`: no range asked (whole file). `Err(())`: unsatisfiable (416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(h) = header else {
        return Ok(None);
    };
    let spec = h.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') || size == 0 {
        // Several ranges are not served (a client then asks again one at a time).
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().map_err(|_| ());
    match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n = parse(b)?;
            if n == 0 {
                return Err(());
            }
            Ok(Some((size.saturating_sub(n), size - 1)))
        }
        (false, true) => {
            let start = parse(a)?;
            if start >= size {
                return Err(());
            }
            Ok(Some((start, size - 1)))
        }
        (false, false) => {
            let (start, end) = (parse(a)?, parse(b)?);
            if start > end || start >= size {
                return Err(());
            }
            Ok(Some((start, end.min(size - 1))))
        }
        (true, true) => Err(()),
    }
}

#[cfg(test)]
mod tests;
