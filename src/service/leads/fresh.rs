//! Files of the 撞库 page: a vendor's list read from an upload (CSV in UTF-8 or GB18030, or
//! XLSX, through the import's guarded reader), and the fresh entries of a check as an XLSX
//! file: one text column, each cell a normalised mobile number or a SHA-256 that the caller
//! sent back, written by the export's cell rule (text cells, defused). Nothing is looked up
//! here, and an entry that is neither a number nor a hash is refused, so no other content
//! reaches the file.

use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::customers::cells::xlsx_text;
use crate::service::{Error, Result};

/// Entries in one file: a vendor list of this size is many checks (1,000 per request).
pub const MAX_FRESH: usize = 100_000;

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::Internal(e.to_string())
}

/// The entries of an uploaded list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EntryList {
    /// Every cell holding a digit, trimmed, in file order, without repeats.
    pub entries: Vec<String>,
}

impl crate::service::leads::UseCases<'_> {
    /// `POST /leads/list-file` (`lead.check`): the cells of an uploaded vendor list that hold
    /// a digit (numbers, hashes; headers and notes are left out), at most [`MAX_FRESH`].
    pub fn list_entries(&self, caller: &Caller, path: &std::path::Path) -> Result<EntryList> {
        use crate::service::import::source;
        caller.require(Capability::LeadCheck)?;
        let encoding = source::sniff(path)?;
        let mut seen = std::collections::HashSet::new();
        let mut entries = Vec::new();
        source::each_row(path, encoding, &mut |_, cells| {
            for c in cells {
                if c.bytes().any(|b| b.is_ascii_digit()) && c.len() <= 100 && seen.insert(c.clone())
                {
                    if entries.len() == MAX_FRESH {
                        return Err(Error::validation(
                            "file",
                            format!("每个文件最多{MAX_FRESH}个号码"),
                        ));
                    }
                    entries.push(c);
                }
            }
            Ok(true)
        })?;
        Ok(EntryList { entries })
    }

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
