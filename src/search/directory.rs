//! The index directory: tantivy's memory-mapped files, except the document stores (`.store`:
//! the id and card of each customer, most of the index), which are read with positioned reads.
//!
//! A result page reads ~20 scattered 2 KB blocks of the store. Through a memory map each of
//! those page faults maps the whole read-ahead window around the block into the process, so
//! after a day of searches nearly every store page of 1M customers (220 MB) counted as the
//! server's resident memory. Read with `pread`, the blocks stay in the kernel's page cache
//! (shared, dropped under pressure like any file cache) and the process holds only the blocks
//! its store reader caches. Postings, term dictionaries and fast fields stay memory-mapped:
//! they are read in place, many times per query.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::HasLen;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback,
    WatchHandle, WritePtr,
};

#[derive(Debug, Clone)]
pub struct IndexDir {
    mmap: MmapDirectory,
    root: PathBuf,
}

impl IndexDir {
    pub fn open(root: &Path) -> tantivy::Result<IndexDir> {
        Ok(IndexDir {
            mmap: MmapDirectory::open(root).map_err(tantivy::TantivyError::from)?,
            root: root.to_path_buf(),
        })
    }
}

/// Reads at least this large go through the memory map instead of a buffer of their own.
///
/// A segment merge reads each merged segment's whole store, one segment after the other. Into
/// a buffer, that is one store at a time, freed once stacked; through the map, every store's
/// pages stay in the process until the merge ends (at 1M customers ~70 MB of an import's
/// peak for a merge of eight segments). Only a store too large for one buffer is mapped:
/// those are file pages the kernel can drop, where a buffer of that size would be heap.
const MAP_FROM: usize = 64 << 20;

/// A file read with positioned reads, each into its own buffer; the largest through the map.
#[derive(Debug)]
struct ReadAt {
    file: File,
    len: usize,
    mapped: Arc<dyn FileHandle>,
}

impl FileHandle for ReadAt {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.len() >= MAP_FROM {
            return self.mapped.read_bytes(range);
        }
        if range.start > range.end || range.end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("range {range:?} outside a file of {} bytes", self.len),
            ));
        }
        let mut buf = vec![0; range.len()];
        self.file.read_exact_at(&mut buf, range.start as u64)?;
        Ok(OwnedBytes::new(buf))
    }
}

impl HasLen for ReadAt {
    fn len(&self) -> usize {
        self.len
    }
}

fn read_at(path: &Path, full: &Path, mapped: Arc<dyn FileHandle>) -> Result<ReadAt, OpenReadError> {
    let wrap = |e: io::Error| {
        if e.kind() == io::ErrorKind::NotFound {
            OpenReadError::FileDoesNotExist(path.to_path_buf())
        } else {
            OpenReadError::wrap_io_error(e, path.to_path_buf())
        }
    };
    let file = File::open(full).map_err(wrap)?;
    let len = file.metadata().map_err(wrap)?.len();
    let len = usize::try_from(len).map_err(|_| wrap(io::Error::other("file too large")))?;
    Ok(ReadAt { file, len, mapped })
}

impl Directory for IndexDir {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if path.extension().is_some_and(|e| e == "store") {
            let mapped = self.mmap.get_file_handle(path)?;
            return Ok(Arc::new(read_at(path, &self.root.join(path), mapped)?));
        }
        self.mmap.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mmap.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mmap.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mmap.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mmap.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mmap.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mmap.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mmap.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mmap.watch(watch_callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_files_are_read_in_ranges_and_others_delegated() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.store"), b"0123456789").unwrap();
        std::fs::write(tmp.path().join("a.idx"), b"abc").unwrap();
        let dir = IndexDir::open(tmp.path()).unwrap();
        let store = dir.open_read(Path::new("a.store")).unwrap();
        assert_eq!(store.len(), 10);
        assert_eq!(store.slice(2..5).read_bytes().unwrap().as_slice(), b"234");
        assert_eq!(store.read_bytes().unwrap().as_slice(), b"0123456789");
        assert!(store.slice(8..10).read_bytes().unwrap().as_slice() == b"89");
        let idx = dir.open_read(Path::new("a.idx")).unwrap();
        assert_eq!(idx.read_bytes().unwrap().as_slice(), b"abc");
        assert!(matches!(
            dir.open_read(Path::new("b.store")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
        // A read as large as a big merge's (through the map) gives the same bytes as small
        // ones, and so does a whole store read into a buffer.
        let big: Vec<u8> = (0..MAP_FROM + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(tmp.path().join("c.store"), &big).unwrap();
        let c = dir.open_read(Path::new("c.store")).unwrap();
        assert_eq!(c.read_bytes().unwrap().as_slice(), big.as_slice());
        let below = c.slice(8..MAP_FROM + 7).read_bytes().unwrap();
        assert_eq!(below.as_slice(), &big[8..]);
        let tail = c.slice(MAP_FROM..MAP_FROM + 7).read_bytes().unwrap();
        assert_eq!(tail.as_slice(), &big[MAP_FROM..]);
    }
}
