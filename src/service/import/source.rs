//! Reading an import file as a stream of rows, in constant memory: CSV (UTF-8 with or without
//! BOM, else GB18030, which covers GBK and GB2312) through a decoding reader, XLSX (first sheet)
//! cell by cell. Rows are pushed to a callback with their 1-based line number; blank rows are
//! dropped and cells trimmed.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::super::{Error, Result};

/// Columns beyond this are ignored; rows beyond this refuse the file. A sparse sheet with one
/// cell at XFD1048576 must not make us allocate rows × columns.
pub const MAX_COLUMNS: u32 = 256;
pub const MAX_ROWS: u32 = 2_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Gb18030,
    Xlsx,
}

/// What the file is, found by looking at it once (a streaming pass for CSV: is it all UTF-8?).
/// An XLSX is only answered once its parts passed the decompression limits of
/// [`xlsx_guard`](super::xlsx_guard): every XLSX path (upload, preview, CLI) sniffs first.
pub fn sniff(path: &Path) -> Result<Encoding> {
    let mut f = open(path)?;
    let mut head = [0u8; 4];
    let n = read_full(&mut f, &mut head)?;
    if head[..n].starts_with(b"PK") {
        super::xlsx_guard::check(path, &super::xlsx_guard::LIMITS)?;
        return Ok(Encoding::Xlsx);
    }
    if head[..n].starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(Encoding::Utf8Bom);
    }
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    // Valid UTF-8 all the way through, checked in chunks (a sequence may straddle two).
    let mut buf = vec![0u8; 1 << 16];
    let mut carry = 0;
    loop {
        let n = f.read(&mut buf[carry..]).map_err(io)?;
        if n == 0 {
            return Ok(if carry == 0 {
                Encoding::Utf8
            } else {
                Encoding::Gb18030
            });
        }
        let len = carry + n;
        match std::str::from_utf8(&buf[..len]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..len, 0);
                carry = len - valid;
            }
            Err(_) => return Ok(Encoding::Gb18030),
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("reading the import file: {e}"))
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(io)
}

fn read_full(f: &mut File, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..]).map_err(io)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

/// GB18030 bytes in, UTF-8 bytes out, chunk by chunk.
struct Gb18030Reader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    raw_len: usize,
    out: Vec<u8>,
    out_pos: usize,
    out_len: usize,
    eof: bool,
}

impl<R: Read> Gb18030Reader<R> {
    fn new(inner: R) -> Self {
        Gb18030Reader {
            inner,
            decoder: encoding_rs::GB18030.new_decoder_without_bom_handling(),
            raw: vec![0; 1 << 16],
            raw_len: 0,
            out: vec![0; (1 << 17) + 16],
            out_pos: 0,
            out_len: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for Gb18030Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out_pos == self.out_len {
            if self.eof && self.raw_len == 0 {
                return Ok(0);
            }
            if !self.eof && self.raw_len < self.raw.len() {
                let n = self.inner.read(&mut self.raw[self.raw_len..])?;
                if n == 0 {
                    self.eof = true;
                }
                self.raw_len += n;
            }
            let (_, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.raw[..self.raw_len], &mut self.out, self.eof);
            self.raw.copy_within(read..self.raw_len, 0);
            self.raw_len -= read;
            self.out_pos = 0;
            self.out_len = written;
            if self.eof && read == 0 && written == 0 {
                self.raw_len = 0;
            }
        }
        let n = buf.len().min(self.out_len - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Rows of a CSV whose raw bytes may be UTF-8 or GB18030: a cheap count for progress bars
/// (commas, quotes and newlines are single ASCII bytes in both, never inside a GBK pair).
pub fn count_csv_rows(path: &Path) -> Result<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(open(path)?));
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut rec).unwrap_or(false) {
        if rec
            .iter()
            .any(|c| c.iter().any(|b| !b.is_ascii_whitespace()))
        {
            n += 1;
        }
    }
    Ok(n)
}

/// The rows of the first sheet declared by the XLSX's dimension, when it declares one.
pub fn xlsx_declared_rows(path: &Path) -> Result<Option<u64>> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(BufReader::new(open(path)?)).map_err(unreadable)?;
    let Some(first) = book.sheet_names().first().cloned() else {
        return Ok(None);
    };
    let cells = book.worksheet_cells_reader(&first).map_err(unreadable)?;
    let d = cells.dimensions();
    Ok(Some(u64::from(d.end.0.saturating_sub(d.start.0)) + 1))
}

fn unreadable(e: calamine::XlsxError) -> Error {
    Error::validation("file", format!("无法读取 Excel 文件：{e}"))
}

pub fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Int(i) => i.to_string(),
        // Excel stores long digit strings typed without a leading quote as numbers
        // (13800138000 → 1.38e10): print integral values without a fraction.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::String(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::DateTime(dt) => dt.to_string(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// Trims cells and drops trailing empty ones; `None` for a blank row.
fn tidy(mut cells: Vec<String>) -> Option<Vec<String>> {
    for c in cells.iter_mut() {
        let t = c.trim();
        if t.len() != c.len() {
            *c = t.to_string();
        }
    }
    if cells.iter().all(|c| c.is_empty()) {
        return None;
    }
    Some(cells)
}

/// Feeds every non-blank row to `visit` (line number, cells) until it returns `false`.
pub fn each_row(
    path: &Path,
    encoding: Encoding,
    visit: &mut dyn FnMut(usize, Vec<String>) -> Result<bool>,
) -> Result<()> {
    match encoding {
        Encoding::Xlsx => each_xlsx_row(path, visit),
        Encoding::Utf8 => each_csv_row(BufReader::new(open(path)?), visit),
        Encoding::Utf8Bom => {
            let mut f = open(path)?;
            f.seek(SeekFrom::Start(3)).map_err(io)?;
            each_csv_row(BufReader::new(f), visit)
        }
        Encoding::Gb18030 => each_csv_row(Gb18030Reader::new(open(path)?), visit),
    }
}

/// Passes bytes through and notes where each newline is, so a record's line in the file can
/// be told from its byte offset: the CSV reader skips blank lines and does not count them.
/// Only newlines read ahead of the records are held (at most one reader buffer's worth).
struct LineTracker<R> {
    inner: R,
    offset: u64,
    newlines: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut q = self.newlines.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                q.push_back(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

fn each_csv_row(
    input: impl Read,
    visit: &mut dyn FnMut(usize, Vec<String>) -> Result<bool>,
) -> Result<()> {
    let newlines = std::rc::Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
    let tracked = LineTracker {
        inner: input,
        offset: 0,
        newlines: std::rc::Rc::clone(&newlines),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(tracked);
    let mut rec = csv::StringRecord::new();
    let mut count = 0usize;
    let mut line = 1usize;
    loop {
        let more = reader
            .read_record(&mut rec)
            .map_err(|e| Error::validation("file", format!("CSV 格式错误：{e}")))?;
        if !more {
            return Ok(());
        }
        count += 1;
        if count > MAX_ROWS as usize {
            return Err(too_many_rows());
        }
        // The record's line: one more than the newlines before its last byte (the reader's
        // start position may still point at blank lines it skipped; a quoted field spanning
        // lines gives its last line).
        let last_byte = reader.position().byte().saturating_sub(1);
        {
            let mut q = newlines.borrow_mut();
            while q.front().is_some_and(|&nl| nl < last_byte) {
                q.pop_front();
                line += 1;
            }
        }
        if let Some(cells) = tidy(rec.iter().map(str::to_string).collect())
            && !visit(line, cells)?
        {
            return Ok(());
        }
    }
}

fn too_many_rows() -> Error {
    Error::validation(
        "file",
        format!("文件行数超过上限（{MAX_ROWS} 行），请拆分后导入"),
    )
}

fn each_xlsx_row(
    path: &Path,
    visit: &mut dyn FnMut(usize, Vec<String>) -> Result<bool>,
) -> Result<()> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(BufReader::new(open(path)?)).map_err(unreadable)?;
    let first = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| Error::validation("file", "Excel 文件中没有工作表"))?;
    let mut cells = book.worksheet_cells_reader(&first).map_err(unreadable)?;
    // Cells arrive in row order; a row is complete when the next one starts.
    let mut current: Option<(u32, Vec<String>)> = None;
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        if c >= MAX_COLUMNS {
            continue;
        }
        if r >= MAX_ROWS {
            return Err(too_many_rows());
        }
        let text = cell_text(&calamine::Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        if current.as_ref().is_some_and(|(cr, _)| *cr != r)
            && let Some((cr, row)) = current.take()
            && let Some(row) = tidy(row)
            && !visit(cr as usize + 1, row)?
        {
            return Ok(());
        }
        let (_, row) = current.get_or_insert_with(|| (r, Vec::new()));
        let c = c as usize;
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    if let Some((cr, row)) = current
        && let Some(row) = tidy(row)
    {
        visit(cr as usize + 1, row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(bytes: &[u8]) -> (Encoding, Vec<(usize, Vec<String>)>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        let enc = sniff(&p).unwrap();
        let mut out = Vec::new();
        each_row(&p, enc, &mut |l, r| {
            out.push((l, r));
            Ok(true)
        })
        .unwrap();
        (enc, out)
    }

    #[test]
    fn gbk_utf8_and_bom_read_alike() {
        let text = "姓名,手机号\n\n张三 ,13800138000\n";
        let expect = vec![
            (1, vec!["姓名".to_string(), "手机号".into()]),
            (3, vec!["张三".to_string(), "13800138000".into()]),
        ];
        let (e, r) = rows_of(text.as_bytes());
        assert_eq!((e, &r), (Encoding::Utf8, &expect));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let (e, r) = rows_of(&bom);
        assert_eq!((e, &r), (Encoding::Utf8Bom, &expect));
        let gbk = encoding_rs::GBK.encode(text).0.into_owned();
        let (e, r) = rows_of(&gbk);
        assert_eq!((e, &r), (Encoding::Gb18030, &expect));
    }

    #[test]
    fn a_large_gbk_file_decodes_across_chunk_boundaries() {
        let mut text = String::from("姓名,城市\n");
        for i in 0..20_000 {
            text.push_str(&format!("张三丰{i},成都市锦江区\n"));
        }
        let gbk = encoding_rs::GBK.encode(&text).0.into_owned();
        let (e, r) = rows_of(&gbk);
        assert_eq!(e, Encoding::Gb18030);
        assert_eq!(r.len(), 20_001);
        assert_eq!(r[19_999].1, vec!["张三丰19998", "成都市锦江区"]);
    }
}
