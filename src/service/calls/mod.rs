//! Calls from the PBX (issue 22.1–22.4): ingestion by an API token holding `call.ingest`,
//! matching to the customer by the customer-side number's blind index, the unmatched list and
//! attaching, recordings in the encrypted blob store played through the customer's scope, and
//! the per-user per-day statistics kept as counters in the call's transaction.
//!
//! A matched answered call is a contact with the customer: in the call's transaction it puts
//! a `call` event on the customer's timeline and moves `last_followup_at` (what recall rules
//! read) to the call's start when that is later. It is not written as a follow-up: a follow-up
//! also sets (or clears) the promised next follow-up, which a PBX knows nothing about, and the
//! follow-up counters stay the salesperson's own log; calls have their own counters.

crate::service::use_cases!(calls, "Calls from the PBX, recordings and call statistics.");

mod dial;
mod fetch;
mod stats;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use dial::Dialed;
pub use fetch::FetchBody;
pub use stats::{CallStatsQuery, CallStatsReport, CallStatsRow};

use super::access::audit;
use super::access::auth::Caller;
use super::{Error, Result, new_id};
use crate::blobs::{BlobError, Staged};
use crate::crypto::field::Kind;
use crate::domain::call::{self, Call, CallInput, CallResult, Direction, Recording};
use crate::domain::capability::Capability;
use crate::domain::customer::Customer;
use crate::domain::phone;
use crate::service::documents::FileDownload;
use crate::store::customers::{self as customer_store, TimelineEvent, Unscoped};
use crate::store::{self, WriteTransaction, calls as call_store, users};

/// Calls listed at most per page (a customer's, the unmatched list).
pub const PAGE: usize = 100;

/// A call as it leaves: numbers masked, never in full.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallView {
    pub id: String,
    pub external_id: String,
    pub direction: Direction,
    /// Caller number, masked.
    pub from: String,
    /// Callee number, masked.
    pub to: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ring_seconds: u32,
    pub talk_seconds: u32,
    pub result: CallResult,
    pub agent: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub customer_id: Option<String>,
    pub recording: Option<Recording>,
}

/// A call as the PBX that reported it reads it back: the call without the customer it
/// matched. `call.ingest` reads no customers, and the id of the customer behind a number
/// would tell the PBX account which numbers are the firm's borrowers and link their calls.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IngestedCall {
    pub id: String,
    pub external_id: String,
    pub direction: Direction,
    /// Caller number, masked.
    pub from: String,
    /// Callee number, masked.
    pub to: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ring_seconds: u32,
    pub talk_seconds: u32,
    pub result: CallResult,
    pub agent: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub recording: Option<Recording>,
}

impl From<CallView> for IngestedCall {
    fn from(v: CallView) -> Self {
        IngestedCall {
            id: v.id,
            external_id: v.external_id,
            direction: v.direction,
            from: v.from,
            to: v.to,
            started_at: v.started_at,
            ring_seconds: v.ring_seconds,
            talk_seconds: v.talk_seconds,
            result: v.result,
            agent: v.agent,
            user_id: v.user_id,
            user_name: v.user_name,
            recording: v.recording,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallList {
    pub items: Vec<CallView>,
    pub total: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    pub customer_id: String,
}

/// Whether click-to-call is configured (the button is disabled otherwise).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallsConfigView {
    pub click_to_call: bool,
    pub recording_limit_bytes: u64,
}

/// A recording refusal as the client sees it.
pub fn recording_error(e: BlobError) -> Error {
    match e {
        BlobError::TooLarge { limit } => Error::Unprocessable {
            code: "file_too_large",
            message: format!("文件超过大小上限（{} MB）", limit / (1024 * 1024)),
        },
        BlobError::Empty => Error::validation("file", "文件为空"),
        BlobError::TypeRefused => Error::Unprocessable {
            code: "recording_type_refused",
            message: "录音只接受 MP3、WAV、Ogg 或 M4A 文件".into(),
        },
        other => Error::Internal(other.to_string()),
    }
}

fn blob_ref(call_id: &str) -> String {
    format!("call:{call_id}")
}

fn view(tx: &redb::ReadTransaction, c: Call) -> Result<CallView> {
    let user_name = match &c.user_id {
        Some(u) => users::get(tx, u)?.map(|u| u.display_name),
        None => None,
    };
    Ok(view_named(c, user_name))
}

fn view_named(c: Call, user_name: Option<String>) -> CallView {
    CallView {
        id: c.id,
        external_id: c.external_id,
        direction: c.direction,
        from: c.from_masked,
        to: c.to_masked,
        started_at: c.started_at,
        ring_seconds: c.ring_seconds,
        talk_seconds: c.talk_seconds,
        result: c.result,
        agent: c.agent,
        user_id: c.user_id,
        user_name,
        customer_id: c.customer_id,
        recording: c.recording,
    }
}

/// `2分05秒` / `45秒`.
fn talk_text(secs: u32) -> String {
    if secs >= 60 {
        format!("{}分{:02}秒", secs / 60, secs % 60)
    } else {
        format!("{secs}秒")
    }
}

/// The contact a call is with the customer: a timeline event, and when answered the recall
/// clock moved to the call's start (never backwards). In the call's transaction.
fn record_contact(tx: &WriteTransaction, before: &Customer, c: &Call) -> Result<()> {
    let dir = match c.direction {
        Direction::In => "来电",
        Direction::Out => "去电",
    };
    let outcome = match c.result {
        CallResult::Answered => format!("已接通 {}", talk_text(c.talk_seconds)),
        CallResult::NoAnswer => "未接听".into(),
        CallResult::Busy => "占线".into(),
        CallResult::Rejected => "拒接".into(),
    };
    let actor = c.user_id.as_deref().unwrap_or("system");
    let e = TimelineEvent::new(
        new_id(c.created_at),
        c.started_at,
        actor,
        "call",
        None,
        Some(c.id.clone()),
        Some(format!("{dir} · {outcome}")),
    );
    customer_store::add_event(tx, &before.id, &e)?;
    if c.result == CallResult::Answered && before.last_followup_at.is_none_or(|t| t < c.started_at)
    {
        let mut after = before.clone();
        after.last_followup_at = Some(c.started_at);
        after.updated_at = c.created_at;
        customer_store::put(tx, Some(before), &after)?;
    }
    Ok(())
}

impl UseCases<'_> {
    /// Records a call from the PBX (`call.ingest`). The same `external_id` again answers the
    /// call recorded the first time (`false`: not created). Matched to a live customer by the
    /// customer-side number (a mainland mobile's blind index), to a user by id or username.
    pub fn ingest(
        &self,
        caller: &Caller,
        input: CallInput,
        source: &str,
    ) -> Result<(IngestedCall, bool)> {
        caller.require(Capability::CallIngest)?;
        let now = self.now();
        call::check(&input, now).map_err(|(f, r)| Error::validation(f, r))?;
        let external_id = input.key();
        let bidx = phone::parse(input.customer_number())
            .ok()
            .map(|m| self.fields.blind_index(Kind::Phone, m.as_str()));
        let (call, created) = self.store.write(|tx| {
            let calls = call_store::Reader::unscoped(tx, call_store::Unscoped::Intake);
            if let Some(existing) = calls.by_external(&external_id)? {
                return Ok::<_, Error>((existing, false));
            }
            let agent = input.agent.trim();
            // By extension first (what a PBX knows), then user id, then username.
            let by_extension = match call_store::extension_owner(tx, agent)? {
                Some(id) => users::find_by_id_w(tx, &id)?,
                None => None,
            };
            let user = match by_extension {
                Some(u) => Some(u),
                None => match users::find_by_id_w(tx, agent)? {
                    Some(u) => Some(u),
                    None => users::find_by_username_w(tx, agent)?,
                },
            };
            let customers = customer_store::Reader::unscoped(tx, Unscoped::CallMatch);
            let mut customer: Option<Customer> = None;
            if let Some(b) = &bidx {
                for id in customers.ids_by_index('p', b)? {
                    if let Some(c) = customers.live(&id)? {
                        // Several live records with one number: the agent's own first.
                        let mine = user
                            .as_ref()
                            .is_some_and(|u| c.owner_id.as_ref() == Some(&u.id));
                        if customer.is_none() || mine {
                            customer = Some(c);
                        }
                        if mine {
                            break;
                        }
                    }
                }
            }
            let id = new_id(now);
            let seal = |field: &str, n: &str| {
                self.fields
                    .encrypt(&id, field, &call::digits(n))
                    .map_err(|e| Error::Internal(e.to_string()))
            };
            let c = Call {
                id: id.clone(),
                external_id: external_id.clone(),
                direction: input.direction,
                from_enc: seal("from", &input.from)?,
                from_masked: call::mask(&input.from),
                to_enc: seal("to", &input.to)?,
                to_masked: call::mask(&input.to),
                started_at: input.started_at,
                ring_seconds: input.ring_seconds,
                talk_seconds: input.talk_seconds,
                result: input.result,
                agent: match user {
                    Some(_) => agent.to_string(),
                    None => call::agent_label(agent),
                },
                user_id: user.map(|u| u.id),
                customer_id: customer.as_ref().map(|c| c.id.clone()),
                recording: None,
                created_at: now,
            };
            call_store::insert(tx, &c)?;
            if let Some(before) = &customer {
                record_contact(tx, before, &c)?;
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "call.ingested",
                    source,
                    Some(c.id.clone()),
                    json!({"result": c.result.as_str(), "matched": c.customer_id.is_some(),
                           "customer": c.customer_id}),
                ),
            )?;
            Ok((c, true))
        })?;
        let v = self.store.read(|tx| view(tx, call))?;
        Ok((v.into(), created))
    }

    /// Calls waiting for a person to attach them (`customer.assign`), oldest first.
    pub fn unmatched(&self, caller: &Caller) -> Result<CallList> {
        caller.require(Capability::CustomerAssign)?;
        self.store.read(|tx| {
            let calls =
                call_store::Reader::unscoped(tx, call_store::Unscoped::Intake).unmatched(PAGE)?;
            let items = calls
                .into_iter()
                .map(|c| view(tx, c))
                .collect::<Result<Vec<_>>>()?;
            Ok(CallList {
                items,
                total: call_store::unmatched_count(tx)?,
            })
        })
    }

    /// Attaches a waiting call to a customer in the caller's scope (`customer.assign`): the
    /// customer's timeline and recall clock as if it had matched. An attached call is 409.
    pub fn attach(
        &self,
        caller: &Caller,
        call_id: &str,
        body: AttachBody,
        source: &str,
    ) -> Result<CallView> {
        caller.require(Capability::CustomerAssign)?;
        let ctx = self.ctx(caller, source)?;
        let call = ctx.write(|w| {
            let before = call_store::Reader::unscoped(w.tx, call_store::Unscoped::Intake)
                .get(call_id)?
                .ok_or(Error::NotFound)?;
            let customer = w.live(&body.customer_id)?;
            if before.customer_id.is_some() {
                return Err(Error::Conflict {
                    code: "call_already_attached",
                    message: "该通话已关联客户".into(),
                });
            }
            let mut after = before.clone();
            after.customer_id = Some(customer.id.clone());
            call_store::attach(w.tx, &before, &after)?;
            record_contact(w.tx, &customer, &after)?;
            w.audit(
                "call.attached",
                Some(&after.id),
                json!({"customer": customer.id}),
            )?;
            Ok(after)
        })?;
        self.store.read(|tx| view(tx, call))
    }

    /// A customer's calls, newest first (`customer.read`, the customer in the caller's read
    /// scope; otherwise 404).
    pub fn of_customer(&self, caller: &Caller, customer_id: &str) -> Result<CallList> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.read_scope_of(caller)?;
        self.store.read(|tx| {
            let customers = scope.customers(tx);
            customers.live(customer_id)?.ok_or(Error::NotFound)?;
            let calls =
                call_store::Reader::scoped(tx, &customers).of_customer(customer_id, PAGE)?;
            let items = calls
                .into_iter()
                .map(|c| view(tx, c))
                .collect::<Result<Vec<_>>>()?;
            let total = items.len() as u64;
            Ok(CallList { items, total })
        })
    }

    /// Whether `caller` may upload a recording for the call (checked before the body is read).
    pub fn check_recording(&self, caller: &Caller, call_id: &str) -> Result<()> {
        caller.require(Capability::CallIngest)?;
        self.store.read(|tx| {
            call_store::Reader::unscoped(tx, call_store::Unscoped::Intake)
                .get(call_id)?
                .map(|_| ())
                .ok_or(Error::NotFound)
        })
    }

    /// Records a staged recording on the call (`call.ingest`): the blob row (or one more
    /// reference), the file moved to its name, the call, the audit, in one transaction. A
    /// second recording replaces the first. On refusal the staged file is removed.
    pub fn add_recording(
        &self,
        caller: &Caller,
        call_id: &str,
        staged: Staged,
        source: &str,
    ) -> Result<IngestedCall> {
        let result = self.add_recording_staged(caller, call_id, &staged, source);
        if result.is_err() {
            self.blobs.discard(staged);
        }
        let call = result?;
        self.remove_unreferenced();
        Ok(self.store.read(|tx| view(tx, call))?.into())
    }

    fn add_recording_staged(
        &self,
        caller: &Caller,
        call_id: &str,
        staged: &Staged,
        source: &str,
    ) -> Result<Call> {
        caller.require(Capability::CallIngest)?;
        let now = self.now();
        self.store.write(|tx| {
            let before = call_store::Reader::unscoped(tx, call_store::Unscoped::Intake)
                .get(call_id)?
                .ok_or(Error::NotFound)?;
            let reference = blob_ref(call_id);
            let existed = store::blobs::add_ref(
                tx,
                &staged.id,
                || store::blobs::BlobMeta {
                    size: staged.size,
                    content_type: staged.content_type.to_string(),
                    created_at: now,
                    key: staged.wrapped_key.clone(),
                    refs: Vec::new(),
                },
                &reference,
            )?;
            if let Some(old) = &before.recording
                && old.blob != staged.id
            {
                store::blobs::remove_ref(tx, &old.blob, &reference, now)?;
            }
            let mut after = before.clone();
            after.recording = Some(Recording {
                blob: staged.id.clone(),
                size: staged.size,
                content_type: staged.content_type.to_string(),
                at: now,
            });
            call_store::update(tx, &after)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "call.recording_added",
                    source,
                    Some(after.id.clone()),
                    json!({"blob": staged.id, "size": staged.size,
                           "content_type": staged.content_type}),
                ),
            )?;
            // Last, as for document scans: transactions are serialised, so the name is never
            // raced for.
            self.blobs
                .place(staged, existed)
                .map_err(|e| Error::Internal(e.to_string()))?;
            Ok(after)
        })
    }

    /// A call's recording for playback: only when the caller's read scope covers the call's
    /// customer (otherwise 404, like an absent call). Every request is audited
    /// (`call.recording_played`, with the range asked for), in its own write transaction before
    /// a byte is sent.
    pub fn recording(
        &self,
        caller: &Caller,
        call_id: &str,
        range: Option<&str>,
        source: &str,
    ) -> Result<FileDownload> {
        caller.require(Capability::CustomerRead)?;
        let scope = self.read_scope_of(caller)?;
        let now = self.now();
        let (call, meta) = self.store.write(|tx| {
            let customers = scope.customers(tx);
            let call = call_store::Reader::scoped(tx, &customers)
                .get(call_id)?
                .ok_or(Error::NotFound)?;
            let rec = call.recording.clone().ok_or(Error::NotFound)?;
            let meta = store::blobs::get(tx, &rec.blob)?.ok_or_else(|| {
                Error::Internal(format!("blob {} is attached but has no row", rec.blob))
            })?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "call.recording_played",
                    source,
                    Some(call.id.clone()),
                    json!({"customer": call.customer_id, "range": range}),
                ),
            )?;
            Ok::<_, Error>((call, meta))
        })?;
        let rec = call.recording.ok_or(Error::NotFound)?;
        let reader = self
            .blobs
            .open(&rec.blob, meta.size, &meta.key)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let ext = crate::blobs::sniff::extension(&meta.content_type);
        Ok(FileDownload {
            reader,
            size: meta.size,
            content_type: meta.content_type,
            name: format!("录音-{}.{ext}", call.started_at.format("%Y%m%d-%H%M%S")),
        })
    }

    /// Whether click-to-call is configured, and the recording limit.
    pub fn config_view(&self, caller: &Caller) -> Result<CallsConfigView> {
        caller.require(Capability::CustomerRead)?;
        Ok(CallsConfigView {
            click_to_call: !self.config.calls.click_to_call_url.trim().is_empty(),
            recording_limit_bytes: self.config.calls.recording_limit_bytes,
        })
    }

    fn remove_unreferenced(&self) {
        self.documents().remove_unreferenced_files();
    }
}

/// Erasure of a customer: their calls' recordings lose their reference (the file is queued
/// for removal with the last one). Runs in the erasure's transaction; returns how many.
pub fn erase_customer(
    tx: &WriteTransaction,
    customer_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    let mut n = 0;
    for before in call_store::of_customer_w(tx, customer_id)? {
        if let Some(rec) = &before.recording {
            store::blobs::remove_ref(tx, &rec.blob, &blob_ref(&before.id), now)?;
            let mut after = before.clone();
            after.recording = None;
            call_store::update(tx, &after)?;
            n += 1;
        }
    }
    Ok(n)
}
