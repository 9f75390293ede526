//! Audited exports.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::auth::Source;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiQuery, AppState};
use crate::service::access::auth::Caller;
use crate::service::customers::export::ExportQuery;

/// RFC 5987 encoding for a non-ASCII download name.
pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The file's bytes as a body stream, read in 64 KiB chunks on a blocking thread: a large
/// export is never held in memory. A read error ends the download early (the client sees a
/// short body against Content-Length) and is logged.
fn stream_file(mut file: std::fs::File) -> Chunks {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match std::io::Read::read(&mut file, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx
                        .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        return; // the client went away
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading an export file");
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Chunks(rx)
}

struct Chunks(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_core::Stream for Chunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Customers in my scope as CSV or XLSX (needs `customer.export`; masked unless `full` is
/// allowed; audited with the filter and row count).
#[utoipa::path(get, path = "/exports/customers", operation_id = "export_customers", tag = "customers", params(ExportQuery), responses(
    (status = 200, description = "The file (`Content-Disposition: attachment`)"),
    (status = 403, description = "Missing customer.export, or full values not allowed", body = ErrorBody),
    (status = 503, description = "`search_rebuilding`: the list's index is being rebuilt; try again shortly", body = ErrorBody)))]
pub async fn customers(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let file = app
        .blocking(move |app| app.customers().export_customers(&caller, &q, &source))
        .await?;
    let mut resp = Body::from_stream(stream_file(file.file)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.len.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    let ext = file.filename.rsplit('.').next().unwrap_or("csv");
    let disposition = format!(
        "attachment; filename=\"customers.{ext}\"; filename*=UTF-8''{}",
        percent_encode(&file.filename)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&file.rows.to_string()) {
        h.insert("x-export-rows", v);
    }
    Ok(resp)
}
