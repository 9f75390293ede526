//! Scans and photos of a deal's documents: attached as blobs (the upload is streamed, hashed
//! and encrypted before this runs, see `http::documents`), served only through a deal the
//! caller sees, removed from disk when their last reference goes (an item removed, a customer
//! erased). A file whose removal fails stays queued in `blob_deletions`, where `doctor` shows
//! it and the next start retries it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{UseCases, blob_ref};
use crate::blobs::{BlobError, BlobReader, Staged};
use crate::domain::capability::Capability;
use crate::domain::custody::{self, DocFile};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store;
use crate::store::deals::Reader;

/// What an upload says about itself besides its bytes.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Upload {
    /// The file's name, for display and downloads (the type comes from the bytes).
    pub name: Option<String>,
}

/// A file to send: its reader, type and download name.
pub struct FileDownload {
    pub reader: BlobReader,
    pub size: u64,
    pub content_type: String,
    pub name: String,
}

/// A blob-store refusal as the client sees it.
pub fn blob_error(e: BlobError) -> Error {
    match e {
        BlobError::TooLarge { limit } => Error::Unprocessable {
            code: "file_too_large",
            message: format!("文件超过大小上限（{} MB）", limit / (1024 * 1024)),
        },
        BlobError::Empty => Error::validation("file", "文件为空"),
        BlobError::TypeRefused => Error::Unprocessable {
            code: "file_type_refused",
            message: "只接受 JPEG、PNG、WebP、HEIC 图片或 PDF 文件".into(),
        },
        other => Error::Internal(other.to_string()),
    }
}

/// Erasure of a customer (`customers::recycle`): every file attached to the documents of their
/// deals loses its reference (the blob row goes with its last one, the file is queued for
/// removal) and the items' notes go; statuses and hand-over times stay. Returns the files
/// detached. Runs in the erasure's transaction; remove the queued files after it commits
/// ([`UseCases::remove_unreferenced_files`]).
pub fn erase_customer(
    tx: &store::WriteTransaction,
    customer_id: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut n = 0;
    for before in store::custody::of_customer(tx, customer_id)? {
        let mut c = before.clone();
        let reference = blob_ref(&c.deal_id, super::attachments::ATTACHMENTS);
        for f in c.attachments.drain(..) {
            store::blobs::remove_ref(tx, &f.blob, &reference, now)?;
            n += 1;
        }
        for item in &mut c.items {
            let reference = blob_ref(&c.deal_id, &item.id);
            for f in item.files.drain(..) {
                store::blobs::remove_ref(tx, &f.blob, &reference, now)?;
                n += 1;
            }
            item.notes = None;
            for h in &mut item.history {
                h.note = None;
            }
        }
        store::custody::rewrite(tx, &before, &c)?;
    }
    Ok(n)
}

/// The display name of an upload: the one given (checked), else `<stem>.<ext>` from the
/// sniffed type.
pub(super) fn upload_name(name: Option<&str>, stem: &str, staged: &Staged) -> Result<String> {
    let ext = crate::blobs::sniff::extension(staged.content_type);
    Ok(custody::check_text("name", name.unwrap_or(""), 80, false)
        .map_err(|(f, r)| Error::validation(f, r))?
        .unwrap_or_else(|| format!("{stem}.{ext}")))
}

/// One more reference (`reference`) to a staged upload in the use case's transaction: the
/// blob row created on the first, and the file entry that names it. Returns whether an equal
/// file was already stored (for `BlobStore::place`).
pub(super) fn reference_upload(
    w: &crate::service::context::W<'_>,
    staged: &Staged,
    reference: &str,
    name: String,
    by: &str,
) -> Result<(DocFile, bool)> {
    let now = w.now();
    let existed = store::blobs::add_ref(
        w.tx,
        &staged.id,
        || store::blobs::BlobMeta {
            size: staged.size,
            content_type: staged.content_type.to_string(),
            created_at: now,
            key: staged.wrapped_key.clone(),
            refs: Vec::new(),
        },
        reference,
    )?;
    let file = DocFile {
        blob: staged.id.clone(),
        name,
        content_type: staged.content_type.to_string(),
        size: staged.size,
        at: now,
        by: by.to_string(),
    };
    Ok((file, existed))
}

impl UseCases<'_> {
    /// Whether `caller` may attach a file to the item (checked before the upload is read).
    pub fn check_attach(&self, caller: &Caller, deal_id: &str, item_id: &str) -> Result<()> {
        caller.require(Capability::DealEdit)?;
        let scope = self.scope_of(caller)?;
        self.store.read(|tx| {
            let deal = Reader::scoped(tx, &scope)
                .get(deal_id)?
                .ok_or(Error::NotFound)?;
            let known = match store::custody::get(tx, deal_id)? {
                Some(c) => c.item(item_id).is_some(),
                None => {
                    let docs = Self::product_documents(tx.into(), &deal)?;
                    custody::Checklist::from_documents(deal_id, &docs, "", deal.created_at)
                        .item(item_id)
                        .is_some()
                }
            };
            if known { Ok(()) } else { Err(Error::NotFound) }
        })
    }

    /// Records a staged upload on the item (`deal.edit`): the blob row (or one more reference
    /// to an equal file), the file moved to its name, the item's file list, the timeline and
    /// the audit, in one transaction. On refusal the staged file is removed.
    pub fn attach(
        &self,
        caller: &Caller,
        deal_id: &str,
        item_id: &str,
        staged: Staged,
        name: Option<&str>,
        source: &str,
    ) -> Result<DocFile> {
        let result = self.attach_staged(caller, deal_id, item_id, &staged, name, source);
        if result.is_err() {
            self.blobs.discard(staged);
        }
        result
    }

    fn attach_staged(
        &self,
        caller: &Caller,
        deal_id: &str,
        item_id: &str,
        staged: &Staged,
        name: Option<&str>,
        source: &str,
    ) -> Result<DocFile> {
        caller.require(Capability::DealEdit)?;
        let name = upload_name(name, "扫描件", staged)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let (deal, before, mut c) = Self::open(w, deal_id)?;
            let item = c.item_mut(item_id).ok_or(Error::NotFound)?;
            if item.files.len() >= custody::MAX_FILES {
                return Err(Error::validation(
                    "file",
                    format!("每项资料最多{}个附件", custody::MAX_FILES),
                ));
            }
            let (file, existed) = reference_upload(
                w,
                staged,
                &blob_ref(deal_id, item_id),
                name,
                &caller.user.id,
            )?;
            if !item.files.iter().any(|f| f.blob == file.blob) {
                item.files.push(file.clone());
            }
            let item = item.clone();
            Self::save(
                w,
                &deal,
                before.as_ref(),
                &c,
                "document.attached",
                &item,
                Some(file.name.clone()),
                json!({"blob": file.blob, "size": file.size, "content_type": file.content_type}),
            )?;
            // Last: transactions are serialised, so the name is never raced for; a failed
            // commit after this leaves an unreferenced file that `doctor` reports.
            self.blobs
                .place(staged, existed)
                .map_err(|e| Error::Internal(e.to_string()))?;
            Ok(file)
        })
    }

    /// A file of an item, for download: only through a deal the caller sees (`deal.read`).
    pub fn file(
        &self,
        caller: &Caller,
        deal_id: &str,
        item_id: &str,
        blob: &str,
    ) -> Result<FileDownload> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let (file, meta) = self.store.read(|tx| {
            Reader::scoped(tx, &scope)
                .get(deal_id)?
                .ok_or(Error::NotFound)?;
            let c = store::custody::get(tx, deal_id)?.ok_or(Error::NotFound)?;
            let file = c
                .item(item_id)
                .and_then(|i| i.files.iter().find(|f| f.blob == blob))
                .cloned()
                .ok_or(Error::NotFound)?;
            let meta = store::blobs::get(tx, blob)?.ok_or_else(|| {
                Error::Internal(format!("blob {blob} is attached but has no row"))
            })?;
            Ok::<_, Error>((file, meta))
        })?;
        let reader = self
            .blobs
            .open(blob, meta.size, &meta.key)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(FileDownload {
            reader,
            size: meta.size,
            content_type: meta.content_type,
            name: file.name,
        })
    }

    /// Removes the files of blobs whose last reference went (queued in `blob_deletions`);
    /// a failure stays queued and is logged (and shown by `doctor`).
    pub fn remove_unreferenced_files(&self) {
        let queued = match self.store.read(store::blobs::pending_deletions) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(error = %e, "reading the blob removal queue");
                return;
            }
        };
        for (id, _) in queued {
            // In a write transaction: an upload of the same file (which would bring the row
            // back and place a new file under this name) cannot run in between.
            let removed = self.store.write(|tx| {
                if store::blobs::get(tx, &id)?.is_some() {
                    // Uploaded again before the removal: the file is in use.
                    store::blobs::deleted(tx, &id)?;
                    return Ok(());
                }
                self.blobs
                    .delete(&id)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                store::blobs::deleted(tx, &id)?;
                Ok::<_, Error>(())
            });
            if let Err(e) = removed {
                tracing::error!(blob = %id, error = %e, "removing a blob file; left queued for doctor and the next start");
            }
        }
    }
}
