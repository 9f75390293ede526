//! A deal's own attachments (docs/api.md: `POST /deals/{id}/attachments?name=` with the raw
//! body, `GET /attachments/{id}`): files that belong to the deal rather than to one document of
//! its custody checklist. They live on the deal's checklist record (`Checklist::attachments`),
//! are blobs of the blob store like the scans (encrypted, sniffed, referenced as
//! `doc:<deal>/attachments`), go with the customer's erasure and are served only through a deal
//! the caller sees.

use serde_json::json;

use super::files::{FileDownload, reference_upload, upload_name};
use super::{UseCases, blob_ref};
use crate::blobs::Staged;
use crate::domain::capability::Capability;
use crate::domain::custody::{self, DocFile};
use crate::service::access::auth::Caller;
use crate::service::{Error, Result};
use crate::store;
use crate::store::deals::Reader;

/// The reference of a deal's own attachments in `blobs.refs` (an item id never looks like it:
/// items are `i<n>`).
pub(crate) const ATTACHMENTS: &str = "attachments";

impl UseCases<'_> {
    /// Whether `caller` may attach a file to the deal (checked before the upload is read).
    pub fn check_deal_attach(&self, caller: &Caller, deal_id: &str) -> Result<()> {
        caller.require(Capability::DealEdit)?;
        let scope = self.scope_of(caller)?;
        self.store.read(|tx| {
            Reader::scoped(tx, &scope)
                .get(deal_id)?
                .map(|_| ())
                .ok_or(Error::NotFound)
        })
    }

    /// Records a staged upload as an attachment of the deal (`deal.edit`): the blob row (or one
    /// more reference to an equal file), the deal's list, the customer's timeline and the audit
    /// (`document.attached`), in one transaction. On refusal the staged file is removed.
    pub fn attach_to_deal(
        &self,
        caller: &Caller,
        deal_id: &str,
        staged: Staged,
        name: Option<&str>,
        source: &str,
    ) -> Result<DocFile> {
        let result = self.attach_to_deal_staged(caller, deal_id, &staged, name, source);
        if result.is_err() {
            self.blobs.discard(staged);
        }
        result
    }

    fn attach_to_deal_staged(
        &self,
        caller: &Caller,
        deal_id: &str,
        staged: &Staged,
        name: Option<&str>,
        source: &str,
    ) -> Result<DocFile> {
        caller.require(Capability::DealEdit)?;
        let name = upload_name(name, "附件", staged)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let (deal, before, mut c) = Self::open(w, deal_id)?;
            if c.attachments.len() >= custody::MAX_ATTACHMENTS {
                return Err(Error::validation(
                    "file",
                    format!("每笔业务最多{}个附件", custody::MAX_ATTACHMENTS),
                ));
            }
            let (file, existed) = reference_upload(
                w,
                staged,
                &blob_ref(deal_id, ATTACHMENTS),
                name,
                &caller.user.id,
            )?;
            // The same file again would change nothing listed: refused (nothing is written),
            // rather than a 201 and a timeline entry naming an attachment that is not there.
            if let Some(same) = c.attachments.iter().find(|f| f.blob == file.blob) {
                return Err(Error::Conflict {
                    code: "attachment_exists",
                    message: format!("这笔业务已有相同的附件「{}」", same.name),
                });
            }
            c.attachments.push(file.clone());
            store::custody::put(w.tx, before.as_ref(), &c, &deal)?;
            w.event(
                &deal.customer_id,
                "document",
                Some("业务附件".to_string()),
                Some("attached".to_string()),
                Some(file.name.clone()),
            )?;
            w.audit(
                "document.attached",
                Some(&deal.id),
                json!({"deal_id": deal.id, "attachment": true, "name": file.name,
                       "blob": file.blob, "size": file.size, "content_type": file.content_type}),
            )?;
            // Last, as for the scans: a failed commit after this leaves an unreferenced file
            // that `doctor` reports.
            self.blobs
                .place(staged, existed)
                .map_err(|e| Error::Internal(e.to_string()))?;
            Ok(file)
        })
    }

    /// Removes one of the deal's own attachments (`deal.edit`): a wrong upload must not stay
    /// on the deal. The reference goes in one transaction with the list, the timeline and the
    /// audit (`document.removed`); the file is deleted after the commit when no other deal
    /// holds it (a failure stays queued for `doctor` and the next start).
    pub fn remove_attachment(
        &self,
        caller: &Caller,
        deal_id: &str,
        blob: &str,
        source: &str,
    ) -> Result<()> {
        caller.require(Capability::DealEdit)?;
        let ctx = self.ctx(caller, source)?;
        ctx.write(|w| {
            let (deal, before, mut c) = Self::open(w, deal_id)?;
            let at = c
                .attachments
                .iter()
                .position(|f| f.blob == blob)
                .ok_or(Error::NotFound)?;
            let file = c.attachments.remove(at);
            store::blobs::remove_ref(w.tx, blob, &blob_ref(deal_id, ATTACHMENTS), w.now())?;
            store::custody::put(w.tx, before.as_ref(), &c, &deal)?;
            w.event(
                &deal.customer_id,
                "document",
                Some("业务附件".to_string()),
                Some("removed".to_string()),
                Some(file.name.clone()),
            )?;
            w.audit(
                "document.removed",
                Some(&deal.id),
                json!({"deal_id": deal.id, "attachment": true, "name": file.name, "blob": blob}),
            )
        })?;
        self.remove_unreferenced_files();
        Ok(())
    }

    /// A deal's own attachments, oldest first (`deal.read`; 404 outside the scope).
    pub fn deal_attachments(&self, caller: &Caller, deal_id: &str) -> Result<Vec<DocFile>> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        self.store.read(|tx| {
            Reader::scoped(tx, &scope)
                .get(deal_id)?
                .ok_or(Error::NotFound)?;
            Ok::<_, Error>(
                store::custody::get(tx, deal_id)?
                    .map(|c| c.attachments)
                    .unwrap_or_default(),
            )
        })
    }

    /// `GET /attachments/{id}`: a file by its blob id, through any deal that holds it (as an
    /// attachment or a checklist scan) and that the caller sees; else 404, whether the blob
    /// exists or not.
    pub fn attachment(&self, caller: &Caller, blob: &str) -> Result<FileDownload> {
        caller.require(Capability::DealRead)?;
        let scope = self.scope_of(caller)?;
        let (file, meta) = self.store.read(|tx| {
            let meta = store::blobs::get(tx, blob)?.ok_or(Error::NotFound)?;
            let deals = Reader::scoped(tx, &scope);
            for reference in &meta.refs {
                let Some((deal_id, item)) = reference
                    .strip_prefix("doc:")
                    .and_then(|r| r.split_once('/'))
                else {
                    continue;
                };
                if deals.get(deal_id)?.is_none() {
                    continue;
                }
                let Some(c) = store::custody::get(tx, deal_id)? else {
                    continue;
                };
                let files = if item == ATTACHMENTS {
                    Some(&c.attachments)
                } else {
                    c.item(item).map(|i| &i.files)
                };
                if let Some(f) = files.and_then(|fs| fs.iter().find(|f| f.blob == blob)) {
                    return Ok::<_, Error>((f.clone(), meta.clone()));
                }
            }
            Err(Error::NotFound)
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
}
