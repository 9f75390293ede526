//! The mapping step: before importing, the UI shows what the file looks like — its encoding,
//! header, the field each column would go to and the first rows — and lets the importer change
//! the mapping (or apply a saved template whose headers match).

use std::path::Path;

use serde::Serialize;

use super::super::access::auth::Caller;
use super::super::{Error, Result};
use super::templates::ImportTemplate;
use super::{HEADER_SEARCH, Mapping, all_fields, auto_field, is_header, source};
use crate::domain::capability::Capability;

/// Data rows shown in a preview.
pub const PREVIEW_ROWS: usize = 10;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldChoice {
    pub key: String,
    pub label: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportPreview {
    pub encoding: source::Encoding,
    /// Line of the header in the file (1-based).
    pub header_row: usize,
    pub headers: Vec<String>,
    /// Header → field, as the import would map it (a matching template applied).
    pub mapping: Vec<(String, Option<String>)>,
    /// The first data rows, as text cells.
    pub rows: Vec<Vec<String>>,
    /// Data rows in the file, when counted.
    pub total: Option<u64>,
    /// A saved template whose headers this file has (the newest), already applied above.
    pub template: Option<ImportTemplate>,
    /// Fields a column can go to (custom fields as `custom.<key>`).
    pub fields: Vec<FieldChoice>,
}

impl crate::service::import::UseCases<'_> {
    pub fn preview_import(&self, caller: &Caller, path: &Path) -> Result<ImportPreview> {
        caller.require(Capability::CustomerImport)?;
        let encoding = source::sniff(path)?;
        let mut head: Vec<(usize, Vec<String>)> = Vec::new();
        let mut header: Option<(usize, Vec<String>)> = None;
        let mut rows = Vec::new();
        source::each_row(path, encoding, &mut |line, cells| {
            if header.is_some() {
                rows.push(cells);
                return Ok(rows.len() < PREVIEW_ROWS);
            }
            if head.len() < HEADER_SEARCH && is_header(&cells, &Mapping::new()) {
                header = Some((line, cells));
                return Ok(true);
            }
            head.push((line, cells));
            Ok(head.len() < HEADER_SEARCH + PREVIEW_ROWS)
        })?;
        // No recognisable header: the first line is shown as one, to be mapped by hand.
        let (header_row, headers) = match header {
            Some(h) => h,
            None if head.is_empty() => return Err(Error::validation("file", "文件是空的")),
            None => {
                let (line, first) = head.remove(0);
                rows = head
                    .into_iter()
                    .take(PREVIEW_ROWS)
                    .map(|(_, c)| c)
                    .collect();
                (line, first)
            }
        };
        let templates = self.list_import_templates(caller)?.items;
        let template = templates.into_iter().rev().find(|t| t.matches(&headers));
        let explicit: Mapping = template
            .as_ref()
            .map(|t| t.mapping.clone())
            .unwrap_or_default();
        let defs = self.custom_field_defs()?;
        let mapping = headers
            .iter()
            .map(|h| {
                let f = match explicit.get(h.trim()) {
                    Some(f) => f.clone(),
                    None => auto_field(h, &defs),
                };
                (h.clone(), f)
            })
            .collect();
        let total = match encoding {
            source::Encoding::Xlsx => source::xlsx_declared_rows(path)?,
            _ => Some(source::count_csv_rows(path)?),
        }
        .map(|n| n.saturating_sub(header_row as u64));
        let mut fields: Vec<FieldChoice> = all_fields()
            .map(|(k, l)| FieldChoice {
                key: k.to_string(),
                label: l.to_string(),
            })
            .collect();
        // In the firm's order, named by their labels.
        fields.extend(defs.into_iter().map(|d| FieldChoice {
            key: format!("custom.{}", d.key),
            label: d.label,
        }));
        Ok(ImportPreview {
            encoding,
            header_row,
            headers,
            mapping,
            rows,
            total,
            template,
            fields,
        })
    }
}
