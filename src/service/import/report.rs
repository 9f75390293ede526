//! The error report (错误报告): the refused rows with their original cells and, in Chinese,
//! what was wrong, as an XLSX the importer fixes and imports again. Every cell is written as
//! text so phone and ID numbers stay as typed, defused and cut to Excel's limit like the export
//! (`service::customers::cells`).

use rust_xlsxwriter::{Format, Workbook, Worksheet};

use super::super::{Error, Result};
use super::RowError;
use crate::service::customers::cells::xlsx_text;

/// Builds the report row by row; `finish` gives the file's bytes.
pub struct ErrorSheet {
    book: Workbook,
    width: usize,
    next: u32,
}

fn xl(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::Internal(format!("writing the error report: {e}"))
}

impl ErrorSheet {
    pub fn new(headers: &[String]) -> Result<ErrorSheet> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("错误行").map_err(xl)?;
        let bold = Format::new().set_bold();
        sheet
            .write_string_with_format(0, 0, "行号", &bold)
            .map_err(xl)?;
        for (i, h) in headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, col(i + 1)?, xlsx_text(h), &bold)
                .map_err(xl)?;
        }
        let width = headers.len();
        sheet
            .write_string_with_format(0, col(width + 1)?, "错误字段", &bold)
            .map_err(xl)?;
        sheet
            .write_string_with_format(0, col(width + 2)?, "错误原因", &bold)
            .map_err(xl)?;
        Ok(ErrorSheet {
            book,
            width,
            next: 1,
        })
    }

    fn sheet(&mut self) -> Result<&mut Worksheet> {
        self.book.worksheet_from_index(0).map_err(xl)
    }

    pub fn add(&mut self, e: &RowError, cells: &[String]) -> Result<()> {
        let r = self.next;
        let width = self.width;
        let sheet = self.sheet()?;
        sheet.write_number(r, 0, e.row as f64).map_err(xl)?;
        for (i, c) in cells.iter().take(width).enumerate() {
            sheet
                .write_string(r, col(i + 1)?, xlsx_text(c))
                .map_err(xl)?;
        }
        sheet
            .write_string(
                r,
                col(width + 1)?,
                xlsx_text(if e.label.is_empty() {
                    &e.field
                } else {
                    &e.label
                }),
            )
            .map_err(xl)?;
        sheet
            .write_string(r, col(width + 2)?, xlsx_text(&e.reason))
            .map_err(xl)?;
        self.next += 1;
        Ok(())
    }

    /// Rows written so far (without the header).
    pub fn rows(&self) -> u32 {
        self.next - 1
    }

    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.book.save_to_buffer().map_err(xl)
    }
}

fn col(i: usize) -> Result<u16> {
    u16::try_from(i).map_err(|_| Error::Internal("too many columns".into()))
}
