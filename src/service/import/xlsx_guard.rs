//! XLSX decompression limits, checked before the spreadsheet reader allocates anything.
//!
//! An XLSX is a ZIP of XML files, and the reader (calamine) loads some of them whole: the
//! shared strings (every distinct text of the workbook), styles, the workbook. A 780 KB upload
//! that inflates to one 800 MB shared string drove the server to 2.4 GB. So every XML part is
//! inflated once here, as a stream in constant memory, counting what it really holds (the sizes
//! a ZIP declares can lie): its size, the longest text or tag (one cell's worth of allocation),
//! and the number of shared strings. Past any limit the file is refused with the field `file`.
//! Parts the reader never opens (images, printer settings) are not inflated.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::super::{Error, Result};

/// The limits, in decompressed bytes (or items). The defaults keep one import of the largest
/// allowed file under ~300 MB of memory.
#[derive(Debug, Clone, Copy)]
pub struct XlsxLimits {
    /// A worksheet's XML: read as a stream, cell by cell.
    pub sheet_bytes: u64,
    /// The shared strings: held in memory for the whole import.
    pub shared_strings_bytes: u64,
    /// How many shared strings (each costs a few dozen bytes beyond its text).
    pub shared_strings_count: u64,
    /// Every other XML part (workbook, styles, relationships): read whole.
    pub other_part_bytes: u64,
    /// All XML parts together.
    pub total_bytes: u64,
    /// The longest text or tag in any XML part: what one cell (or attribute) may allocate.
    /// Excel's own cell limit is 32,767 characters (up to ~160 KB of escaped UTF-8).
    pub run_bytes: u64,
}

pub const LIMITS: XlsxLimits = XlsxLimits {
    sheet_bytes: 1 << 30,
    shared_strings_bytes: 128 << 20,
    shared_strings_count: 3_000_000,
    other_part_bytes: 16 << 20,
    total_bytes: (1 << 30) + (128 << 20),
    run_bytes: 256 << 10,
};

fn refused(what: String) -> Error {
    Error::validation(
        "file",
        format!(
            "Excel 文件解压后超出限制（{what}），可能已损坏或被构造；请另存为 CSV 或拆分后导入"
        ),
    )
}

fn unreadable(e: zip::result::ZipError) -> Error {
    Error::validation("file", format!("无法读取 Excel 文件：{e}"))
}

enum Part {
    Sheet,
    SharedStrings,
    Other,
    Skipped,
}

fn part_of(name: &[u8]) -> Part {
    let name = name.to_ascii_lowercase();
    let xml = name.ends_with(b".xml") || name.ends_with(b".rels") || name.ends_with(b".vml");
    if !xml {
        Part::Skipped
    } else if name.starts_with(b"xl/worksheets/") || name.starts_with(b"xl/chartsheets/") {
        Part::Sheet
    } else if name.ends_with(b"sharedstrings.xml") {
        Part::SharedStrings
    } else {
        Part::Other
    }
}

/// Refuses an XLSX whose parts inflate past `limits`; reads it once, in constant memory.
pub fn check(path: &Path, limits: &XlsxLimits) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::Internal(format!("opening the import: {e}")))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(unreadable)?;
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(unreadable)?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let (cap, label) = match part_of(entry.name_raw()) {
            Part::Skipped => continue,
            Part::Sheet => (limits.sheet_bytes, "工作表"),
            Part::SharedStrings => (limits.shared_strings_bytes, "共享字符串"),
            Part::Other => (limits.other_part_bytes, "文件部件"),
        };
        let shared = matches!(part_of(entry.name_raw()), Part::SharedStrings);
        let mut scan = Scan::default();
        loop {
            let n = entry.read(&mut buf).map_err(|e| {
                Error::validation("file", format!("无法读取 Excel 文件：{name}: {e}"))
            })?;
            if n == 0 {
                break;
            }
            scan.feed(&buf[..n]);
            total += n as u64;
            if scan.bytes > cap {
                return Err(refused(format!("{label} {name} 超过 {} MB", cap >> 20)));
            }
            if total > limits.total_bytes {
                return Err(refused(format!("合计超过 {} MB", limits.total_bytes >> 20)));
            }
            if scan.longest_run > limits.run_bytes {
                return Err(refused(format!(
                    "{name} 中有单个单元格或标记超过 {} KB",
                    limits.run_bytes >> 10
                )));
            }
            if shared && scan.items > limits.shared_strings_count {
                return Err(refused(format!(
                    "共享字符串超过 {} 个",
                    limits.shared_strings_count
                )));
            }
        }
    }
    Ok(())
}

/// What one XML part holds, fed in chunks: its size, the longest run between `<` and `>`
/// (a text or a tag), and how many `<si>` items (shared strings) it has.
#[derive(Default)]
struct Scan {
    bytes: u64,
    /// Offset of the last `<` or `>` seen, plus one.
    run_start: u64,
    longest_run: u64,
    items: u64,
    /// The last 3 bytes of the previous chunk: an `<si>` may straddle two chunks.
    carry: Vec<u8>,
}

impl Scan {
    fn feed(&mut self, chunk: &[u8]) {
        let base = self.bytes;
        for at in memchr::memchr2_iter(b'<', b'>', chunk) {
            let pos = base + at as u64;
            self.longest_run = self.longest_run.max(pos - self.run_start);
            self.run_start = pos + 1;
        }
        self.bytes += chunk.len() as u64;
        self.longest_run = self.longest_run.max(self.bytes - self.run_start);
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(chunk);
        self.items += (memchr::memmem::find_iter(&joined, b"<si>").count()
            + memchr::memmem::find_iter(&joined, b"<si ").count()) as u64;
        let keep = joined.len().min(3);
        self.carry = joined.split_off(joined.len() - keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_items_are_counted_across_chunks() {
        let xml = b"<sst><si><t>abc</t></si><si><t>defgh</t></si></sst>";
        for split in 1..xml.len() {
            let mut s = Scan::default();
            s.feed(&xml[..split]);
            s.feed(&xml[split..]);
            assert_eq!(s.items, 2, "split at {split}");
            assert_eq!(s.longest_run, 5, "split at {split}");
            assert_eq!(s.bytes, xml.len() as u64);
        }
    }
}
