//! Cells we write into spreadsheets (exports, the import error report): one defusing rule
//! against formula injection, and Excel's cell length limit applied by truncating with a note
//! instead of failing the whole file.

/// Excel's limit for one cell, in UTF-16 code units (rust_xlsxwriter refuses longer strings).
pub const XLSX_MAX_CELL: usize = 32_767;

/// Spreadsheet programs run a cell starting with these as a formula (CSV injection): prefix a
/// quote so it stays text.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// A text cell for an XLSX file: defused, and cut to Excel's limit with a note saying how long
/// the original was, so one overlong cell does not lose the whole file.
pub fn xlsx_text(cell: &str) -> String {
    let cell = defuse(cell);
    let units: usize = cell.chars().map(char::len_utf16).sum();
    if units <= XLSX_MAX_CELL {
        return cell;
    }
    let note = format!("……（内容过长已截断，原文 {} 字）", cell.chars().count());
    let room = XLSX_MAX_CELL - note.chars().map(char::len_utf16).sum::<usize>();
    let mut used = 0;
    let mut out: String = cell
        .chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= room
        })
        .collect();
    out.push_str(&note);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defusing() {
        for bad in ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(defuse(bad).starts_with('\''), "{bad}");
            assert!(xlsx_text(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(defuse("张三"), "张三");
    }

    #[test]
    fn overlong_cells_are_cut_to_excels_limit_with_a_note() {
        let fits = "a".repeat(XLSX_MAX_CELL);
        assert_eq!(xlsx_text(&fits), fits);
        for long in ["长".repeat(40_000), "😀".repeat(20_000), "=".repeat(40_000)] {
            let cut = xlsx_text(&long);
            let units: usize = cut.chars().map(char::len_utf16).sum();
            assert!(units <= XLSX_MAX_CELL, "{units}");
            assert!(cut.contains("内容过长已截断"), "says so");
        }
    }
}
