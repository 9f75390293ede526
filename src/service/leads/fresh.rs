//! The fresh entries of a lead check as an XLSX file (the 撞库 page's download): one text
//! column, each cell a normalised mobile number or a SHA-256 that the caller sent back, written
//! by the export's cell rule (text cells, defused). Nothing is looked up here, and an entry that
//! is neither a number nor a hash is refused, so no other content reaches the file.

use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::customers::cells::xlsx_text;
use crate::service::{Error, Result};

/// Entries in one file: a vendor list of this size is many checks (1,000 per request).
pub const MAX_FRESH: usize = 100_000;

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::Internal(e.to_string())
}

impl crate::service::leads::UseCases<'_> {
    /// `POST /leads/fresh.xlsx` (`lead.check`): the entries as a one-column workbook.
    pub fn fresh_xlsx(&self, caller: &Caller, entries: &[String]) -> Result<Vec<u8>> {
        caller.require(Capability::LeadCheck)?;
        if entries.len() > MAX_FRESH {
            return Err(Error::validation(
                "entries",
                format!("每个文件最多{MAX_FRESH}条"),
            ));
        }
        let mut cells = Vec::with_capacity(entries.len());
        for e in entries {
            let e = e.trim();
            let cell = if e.len() == 64 && e.bytes().all(|b| b.is_ascii_hexdigit()) {
                e.to_ascii_lowercase()
            } else {
                crate::domain::phone::parse(e)
                    .map_err(|_| Error::validation("entries", format!("不是手机号或SHA-256：{e}")))?
                    .as_str()
                    .to_string()
            };
            cells.push(cell);
        }
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet
            .write_string(0, 0, "手机号 / SHA-256")
            .map_err(xlsx_error)?;
        for (i, cell) in cells.iter().enumerate() {
            let row = u32::try_from(i + 1).map_err(|e| Error::Internal(e.to_string()))?;
            sheet
                .write_string(row, 0, xlsx_text(cell))
                .map_err(xlsx_error)?;
        }
        sheet.set_column_width(0, 70).map_err(xlsx_error)?;
        book.save_to_buffer().map_err(xlsx_error)
    }
}
