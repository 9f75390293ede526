//! Document custody (权证) of deals and their attached scans: the checklist, hand-overs,
//! uploads (the raw body streamed into the encrypted blob store) and ranged downloads; the
//! firm's held documents and their export. Scope of the deal (outside it: 404).

use std::pin::Pin;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Source;
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::custody::DocFile;
use crate::service::Error;
use crate::service::access::auth::Caller;
use crate::service::documents::{
    CustodyPage, CustodyQuery, DocumentsView, ItemView, MoveBody, NewItem, Upload, blob_error,
};

/// Served files: no script, no plugins, no framing, a sandbox in case one is opened directly.
pub const FILE_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'";

/// A deal's documents checklist (from the product's documents until first changed).
#[utoipa::path(get, path = "/deals/{id}/documents", operation_id = "deal_documents", tag = "documents", responses(
    (status = 200, description = "The checklist", body = DocumentsView),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DocumentsView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.documents().list(&caller, &id))
            .await?,
    ))
}

/// Add a document to a deal's checklist (`deal.edit`).
#[utoipa::path(post, path = "/deals/{id}/documents", operation_id = "add_deal_document", tag = "documents",
    request_body = NewItem, responses(
    (status = 201, description = "Added", body = ItemView),
    (status = 400, description = "Empty, too long or duplicate name", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn add(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewItem>,
) -> Result<(StatusCode, Json<ItemView>), ApiError> {
    let item = app
        .blocking(move |app| app.documents().add_item(&caller, &id, input, &source))
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// Remove a pending document from the checklist (`deal.edit`); 409 `document_not_pending`
/// once it has been received.
#[utoipa::path(delete, path = "/deals/{id}/documents/{item}", operation_id = "remove_deal_document", tag = "documents", responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "Not pending", body = ErrorBody)))]
pub async fn remove(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, item)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| app.documents().remove_item(&caller, &id, &item, &source))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Record a hand-over: received, lent out (recipient required), returned, or lost (note
/// required) (`deal.edit`). A move the custody machine has no place for is 409
/// `document_move_illegal`.
#[utoipa::path(post, path = "/deals/{id}/documents/{item}/moves", operation_id = "move_deal_document", tag = "documents",
    request_body = MoveBody, responses(
    (status = 200, description = "The item after the move", body = ItemView),
    (status = 400, description = "Recipient or note missing or too long", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "The move is refused", body = ErrorBody)))]
pub async fn move_item(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, item)): Path<(String, String)>,
    ApiJson(body): ApiJson<MoveBody>,
) -> Result<Json<ItemView>, ApiError> {
    Ok(Json(
        app.blocking(move |app| {
            app.documents()
                .move_item(&caller, &id, &item, body, &source)
        })
        .await?,
    ))
}

/// The same hand-over under the name docs/api.md gives it (`…/handover`).
#[utoipa::path(post, path = "/deals/{id}/documents/{item}/handover", operation_id = "hand_over_deal_document", tag = "documents",
    request_body = MoveBody, responses(
    (status = 200, description = "The item after the move", body = ItemView),
    (status = 400, description = "Recipient or note missing or too long", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 409, description = "The move is refused", body = ErrorBody)))]
pub async fn handover(
    state: State<AppState>,
    source: Source,
    caller: Caller,
    path: Path<(String, String)>,
    body: ApiJson<MoveBody>,
) -> Result<Json<ItemView>, ApiError> {
    move_item(state, source, caller, path, body).await
}

/// Attach a scan or photo (the raw request body; JPEG, PNG, WebP, HEIC or PDF, recognised from
/// the bytes; at most `documents.upload_limit_bytes`) (`deal.edit`). Stored encrypted.
#[utoipa::path(post, path = "/deals/{id}/documents/{item}/files", operation_id = "upload_deal_document_file", tag = "documents",
    params(Upload),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
    (status = 201, description = "Attached", body = DocFile),
    (status = 400, description = "Empty file or bad name", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 413, description = "Larger than the limit", body = ErrorBody),
    (status = 422, description = "`file_type_refused` or `file_too_large`", body = ErrorBody)))]
pub async fn upload(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, item)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<Upload>,
    body: Body,
) -> Result<(StatusCode, Json<DocFile>), ApiError> {
    // Who may attach is settled before a byte of the body is read.
    let check = (caller.clone(), id.clone(), item.clone());
    app.blocking(move |app| app.documents().check_attach(&check.0, &check.1, &check.2))
        .await?;
    let writer = app.blobs.writer().map_err(blob_error)?;
    let staged = receive(writer, body).await?.map_err(blob_error)?;
    let file = app
        .blocking(move |app| {
            app.documents()
                .attach(&caller, &id, &item, staged, q.name.as_deref(), &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// Attach a file to the deal itself, outside the custody checklist (the raw request body;
/// JPEG, PNG, WebP, HEIC or PDF, recognised from the bytes; at most
/// `documents.upload_limit_bytes`) (`deal.edit`). Stored encrypted; read back with `GET
/// /attachments/{blob}`.
#[utoipa::path(post, path = "/deals/{id}/attachments", operation_id = "upload_deal_attachment", tag = "documents",
    params(Upload),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
    (status = 201, description = "Attached: `{blob, name, content_type, size, at, by}`; `blob` is the id for `GET /attachments/{id}`", body = DocFile),
    (status = 400, description = "Empty file, bad name, or the deal holds the most attachments it may", body = ErrorBody),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 413, description = "Larger than the limit", body = ErrorBody),
    (status = 422, description = "`file_type_refused` or `file_too_large`", body = ErrorBody)))]
pub async fn upload_attachment(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<Upload>,
    body: Body,
) -> Result<(StatusCode, Json<DocFile>), ApiError> {
    // Who may attach is settled before a byte of the body is read.
    let check = (caller.clone(), id.clone());
    app.blocking(move |app| app.documents().check_deal_attach(&check.0, &check.1))
        .await?;
    let writer = app.blobs.writer().map_err(blob_error)?;
    let staged = receive(writer, body).await?.map_err(blob_error)?;
    let file = app
        .blocking(move |app| {
            app.documents()
                .attach_to_deal(&caller, &id, staged, q.name.as_deref(), &source)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// Remove one of the deal's own attachments (`deal.edit`); the file is deleted when no other
/// deal holds it.
#[utoipa::path(delete, path = "/deals/{id}/attachments/{blob}", operation_id = "remove_deal_attachment", tag = "documents",
    responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "No such attachment on the deal, or the deal is outside my scope", body = ErrorBody)))]
pub async fn remove_attachment(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    Path((id, blob)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.blocking(move |app| {
        app.documents()
            .remove_attachment(&caller, &id, &blob, &source)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The deal's own attachments, oldest first (`deal.read`).
#[utoipa::path(get, path = "/deals/{id}/attachments", operation_id = "list_deal_attachments", tag = "documents",
    responses(
    (status = 200, description = "The attachments", body = [DocFile]),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody)))]
pub async fn list_attachments(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<DocFile>>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.documents().deal_attachments(&caller, &id))
            .await?,
    ))
}

/// A file by its id (the `blob` of an attachment or of a checklist scan), through a deal the
/// caller sees (`deal.read`); `Range: bytes=a-b` answers 206, an unsatisfiable range 416.
/// Outside the scope, or no such file: 404.
#[utoipa::path(get, path = "/attachments/{id}", operation_id = "download_attachment", tag = "documents",
    params(Download), responses(
    (status = 200, description = "The whole file"),
    (status = 206, description = "The range asked for (`Content-Range`)"),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 416, description = "Range not satisfiable")))]
pub async fn download_attachment(
    State(app): State<AppState>,
    caller: Caller,
    Path(blob): Path<String>,
    ApiQuery(q): ApiQuery<Download>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let f = app
        .blocking(move |app| app.documents().attachment(&caller, &blob))
        .await?;
    send(f, &headers, q.disposition()).await
}

/// Whether a download is shown in place (`?inline=1`, images) or saved.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Download {
    pub inline: Option<u8>,
}

impl Download {
    /// `inline` (shown in place) with `?inline=1`, else `attachment` (saved).
    fn disposition(&self) -> &'static str {
        if self.inline == Some(1) {
            "inline"
        } else {
            "attachment"
        }
    }
}

/// RFC 5987 encoding of a download name (every byte outside a safe set escaped, so no quote,
/// CR or LF ever reaches the header).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `Content-Disposition` with an ASCII fallback name and the real one as `filename*`.
pub fn disposition(kind: &str, name: &str, ext: &str) -> String {
    let ascii: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let ascii = if ascii.trim_matches('.').is_empty() {
        format!("file.{ext}")
    } else {
        ascii
    };
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// Download an attached file; `Range: bytes=a-b` (one range, suffix forms too) answers 206,
/// an unsatisfiable range 416. Served with `nosniff` and a sandboxing CSP.
#[utoipa::path(get, path = "/deals/{id}/documents/{item}/files/{blob}", operation_id = "download_deal_document_file", tag = "documents",
    params(Download), responses(
    (status = 200, description = "The whole file"),
    (status = 206, description = "The range asked for (`Content-Range`)"),
    (status = 404, description = "Absent, or outside my scope", body = ErrorBody),
    (status = 416, description = "Range not satisfiable")))]
pub async fn download(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, item, blob)): Path<(String, String, String)>,
    ApiQuery(q): ApiQuery<Download>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let f = app
        .blocking(move |app| app.documents().file(&caller, &id, &item, &blob))
        .await?;
    send(f, &headers, q.disposition()).await
}

/// Streams a request body into a blob writer (hashed, sniffed and encrypted a chunk at a time
/// on a blocking thread). The outer error: the body was cut short or the task failed; the
/// inner one: the writer refused (too large, wrong type, empty) — mapped by the caller, whose
/// refusal names what it accepts.
pub async fn receive(
    mut writer: crate::blobs::BlobWriter,
    body: Body,
) -> Result<Result<crate::blobs::Staged, crate::blobs::BlobError>, ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let worker = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = rx.blocking_recv() {
            writer.write(&chunk)?;
        }
        writer.finish()
    });
    let mut stream = body.into_data_stream();
    let mut cut_short = None;
    loop {
        let next =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut stream), cx))
                .await;
        match next {
            None => break,
            Some(Ok(chunk)) => {
                if tx.send(chunk).await.is_err() {
                    break; // the writer refused (too large, wrong type): its error follows
                }
            }
            Some(Err(e)) => {
                cut_short = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let staged = worker
        .await
        .map_err(|e| Error::Internal(format!("upload task failed: {e}")))?;
    if let Some(e) = cut_short {
        // The client went away or the body passed the server's hard limit; the partial file
        // was removed with the writer.
        tracing::info!(error = %e, "upload cut short");
        return Err(Error::validation("file", "上传中断，请重试").into());
    }
    Ok(staged)
}

/// Serves a blob the service has let the caller read: the whole file, or one `Range`
/// (206; unsatisfiable: 416), with `nosniff`, a sandboxing CSP and no caching. `kind` is the
/// disposition (`inline` or `attachment`).
pub async fn send(
    f: crate::service::documents::FileDownload,
    headers: &HeaderMap,
    kind: &str,
) -> Result<Response, ApiError> {
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let size = f.size;
    let range = match crate::blobs::parse_range(range_header, size) {
        Ok(r) => r,
        Err(()) => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let mut reader = f.reader;
    // Decrypt the first chunk before answering: a damaged file is a 500, not a 200 with
    // garbage; later damage ends the body early (logged).
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    tokio::task::spawn_blocking(move || {
        let mut first = Some(first_tx);
        let result = reader.read_range(start, end, |piece| {
            if let Some(f) = first.take() {
                let _ = f.send(Ok(()));
            }
            tx.blocking_send(Ok(Bytes::copy_from_slice(piece))).is_ok()
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "reading a blob");
            match first.take() {
                Some(f) => {
                    let _ = f.send(Err(e.to_string()));
                }
                None => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                }
            }
        } else if let Some(f) = first.take() {
            let _ = f.send(Ok(()));
        }
    });
    match first_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Error::Internal(e).into()),
        Err(_) => return Err(Error::Internal("blob reader stopped".into()).into()),
    }
    let mut resp = Body::from_stream(Chunks(rx)).into_response();
    if range.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let h = resp.headers_mut();
    let put = |h: &mut HeaderMap, k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put(h, header::CONTENT_TYPE, &f.content_type);
    put(h, header::CONTENT_LENGTH, &(end + 1 - start).to_string());
    put(h, header::ACCEPT_RANGES, "bytes");
    if range.is_some() {
        put(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{end}/{size}"),
        );
    }
    let ext = crate::blobs::sniff::extension(&f.content_type);
    put(
        h,
        header::CONTENT_DISPOSITION,
        &disposition(kind, &f.name, ext),
    );
    put(h, header::CONTENT_SECURITY_POLICY, FILE_CSP);
    put(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(h, header::CACHE_CONTROL, "private, no-store");
    Ok(resp)
}

struct Chunks(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_core::Stream for Chunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// The documents the firm holds now (received or lent out) on deals I see; `overdue=1`: lent
/// out longer than `documents.overdue_days`, oldest first.
#[utoipa::path(get, path = "/documents/custody", operation_id = "document_custody", tag = "documents",
    params(CustodyQuery), responses(
    (status = 200, description = "A page of held documents", body = CustodyPage),
    (status = 400, description = "Invalid filter", body = ErrorBody)))]
pub async fn custody(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CustodyQuery>,
) -> Result<Json<CustodyPage>, ApiError> {
    Ok(Json(
        app.blocking(move |app| app.documents().custody(&caller, &q))
            .await?,
    ))
}

/// The held documents as XLSX (audited).
#[utoipa::path(get, path = "/documents/custody/export", operation_id = "export_document_custody", tag = "documents",
    params(CustodyQuery), responses(
    (status = 200, description = "The XLSX file (`Content-Disposition: attachment`)"),
    (status = 400, description = "Invalid filter", body = ErrorBody)))]
pub async fn export(
    State(app): State<AppState>,
    Source(source): Source,
    caller: Caller,
    ApiQuery(q): ApiQuery<CustodyQuery>,
) -> Result<Response, ApiError> {
    let file = app
        .blocking(move |app| app.documents().export_custody(&caller, &q, &source))
        .await?;
    let mut resp = Body::from(file.bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition("attachment", &file.filename, "xlsx")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&file.rows.to_string()) {
        h.insert("x-export-rows", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_cannot_inject_headers() {
        let d = disposition("attachment", "房产证\r\nSet-Cookie: x=1\".pdf", "pdf");
        assert!(!d.contains('\r') && !d.contains('\n'));
        assert!(d.starts_with("attachment; filename=\""));
        assert_eq!(d.matches('"').count(), 2, "{d}");
        assert!(d.contains("filename*=UTF-8''%E6%88%BF"));
        assert!(HeaderValue::from_str(&d).is_ok());
        assert_eq!(
            disposition("inline", "扫描件", "png"),
            "inline; filename=\"file.png\"; filename*=UTF-8''%E6%89%AB%E6%8F%8F%E4%BB%B6"
        );
    }
}
