//! One batch of an import: rows checked and sealed outside the transaction, then written in
//! one write transaction with duplicates against the store, automatic assignment and the
//! batch's audit row.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde_json::json;

use crate::domain::custom_field::{self, CustomField};
use crate::domain::customer::{self, Customer, CustomerInput};
use crate::domain::pool::Pool;
use crate::service::access::auth::Caller;
use crate::service::access::scope::Scope;
use crate::service::pools::assign::{Picker, Placed};
use crate::service::{Error, Result, access::audit, new_id};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{WriteTransaction, customers};

use super::columns::{field_label, row_input};
use super::{
    BadOptional, Counts, ImportOptions, ImportReport, KEPT_ERRORS, OnDuplicate, Progress,
    REQUIRED_FIELDS, REVIEW_TAG, RowError,
};

/// Short, stable 64-bit digest of a blind index: earlier rows of the file are remembered in
/// 8 bytes each, not as full strings.
pub(super) fn digest(kind: char, bidx: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    bidx.hash(&mut h);
    h.finish()
}

/// Everything a running import carries from batch to batch.
pub(super) struct Run<'a> {
    pub(super) caller: &'a Caller,
    pub(super) scope: Scope,
    pub(super) opts: &'a ImportOptions,
    pub(super) source: &'a str,
    pub(super) import_id: &'a str,
    pub(super) columns: Vec<Option<String>>,
    /// The header row (rejection reasons name the column).
    pub(super) headers: Vec<String>,
    /// Custom field definitions, read once per import.
    pub(super) defs: Vec<CustomField>,
    /// Owner of rows without an owner cell (`None` with `pool_id`: to the pool; `None` with
    /// `auto_mode`: assigned).
    pub(super) default_owner: Option<String>,
    pub(super) pool_id: Option<String>,
    /// The assignment mode when rows without an owner cell are assigned automatically.
    pub(super) auto_mode: Option<String>,
    pub(super) now: chrono::DateTime<chrono::Utc>,
    pub(super) today: chrono::NaiveDate,
}

/// What checking rows carries from batch to batch (on the thread that checks and seals).
#[derive(Default)]
pub(super) struct Seen {
    /// Username or display name → user id, or why rows cannot be given to them.
    pub(super) owners: HashMap<String, std::result::Result<String, String>>,
    /// Digests of phone and ID-number blind indexes of earlier rows of this file.
    pub(super) seen: super::digests::DigestSet,
}

/// What writing batches carries from batch to batch (on the thread that writes).
#[derive(Default)]
pub(super) struct Writing {
    /// Candidates, loads and fallback pool: made in the first batch's transaction, then kept
    /// up to date row by row for the whole import.
    pub(super) auto: Option<AutoRun>,
    pub(super) batch_no: usize,
    /// The import key log, when the import's keys go there ([`ImportOptions::key_log`]).
    pub(super) log: Option<crate::store::keylog::ImportLog>,
}

/// A batch checked and sealed (outside any transaction), waiting for its write.
#[derive(Default)]
pub(super) struct Prepared {
    /// Rows read.
    pub(super) rows: usize,
    pub(super) ready: Vec<Ready>,
    /// Rows refused by the check, in file order: (line, field, reason, cells).
    pub(super) refused: Vec<(usize, String, String, Vec<String>)>,
}

/// Who gets rows without an owner cell (see [`App::import_target`]).
pub(crate) struct Target {
    pub owner: Option<String>,
    /// The mode, when they are assigned automatically.
    pub auto: Option<String>,
}

/// Automatic assignment across an import's batches.
pub(super) struct AutoRun {
    pub(super) picker: Picker,
    /// Where rows nobody can take go (`None`: there is no pool; the importer keeps them).
    pub(super) fallback: Option<Pool>,
}

/// A row checked and sealed, waiting for its batch's transaction.
pub(super) struct Ready {
    pub(super) line: usize,
    /// Its owner is to be chosen by automatic assignment.
    pub(super) auto: bool,
    /// The row's input, kept only for an update's merge (`on_duplicate: update`).
    pub(super) input: Option<CustomerInput>,
    pub(super) record: Customer,
    /// The row's cells, kept only when the write may still refuse the row or warn about it
    /// (an update, required custom fields, a field left out): a batch in flight holds no more
    /// than it needs.
    pub(super) cells: Vec<String>,
    /// The optional fields left out of it (kept for review), as warnings.
    pub(super) review: Vec<RowError>,
}

/// The columns that fill `field`.
fn columns_of(columns: &[Option<String>], field: &str) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.as_deref() == Some(field))
        .map(|(i, _)| i)
        .collect()
}

/// A refused row or a warning, with the row's name and the offending cell as typed.
pub(super) fn row_error(
    defs: &[CustomField],
    columns: &[Option<String>],
    row: usize,
    field: String,
    reason: String,
    cells: &[String],
) -> RowError {
    let cell = |f: &str| {
        columns_of(columns, f)
            .into_iter()
            .filter_map(|i| cells.get(i))
            .find(|v| !v.is_empty())
            .cloned()
            .unwrap_or_default()
    };
    RowError {
        row,
        label: field_label(&field, defs),
        name: cell("name"),
        value: cell(&field),
        field,
        reason,
    }
}

/// One row's outcome before its transaction: input, owner and checked values, or the first
/// problem (field, reason).
type RowChecked =
    std::result::Result<(CustomerInput, Option<String>, customer::Checked), (String, String)>;

impl crate::service::import::UseCases<'_> {
    /// Automatic assignment for an import, made once (in its first batch that needs it): the
    /// importer's candidates with their loads, and the pool for rows nobody can take.
    pub(super) fn auto_run(&self, tx: &WriteTransaction, r: &Run) -> Result<AutoRun> {
        let mode = r.auto_mode.clone().unwrap_or_default();
        let fallback = match &r.pool_id {
            Some(id) => crate::store::pools::get_w(tx, id)?,
            None => crate::service::pools::UseCases::caller_pool(tx, &r.caller.user)?,
        };
        Ok(AutoRun {
            picker: self.pools().picker(tx, r.caller, &r.scope, mode)?,
            fallback,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn reject(
        report: &mut ImportReport,
        progress: &mut dyn Progress,
        defs: &[CustomField],
        columns: &[Option<String>],
        row: usize,
        field: impl Into<String>,
        reason: impl Into<String>,
        cells: &[String],
    ) -> Result<()> {
        let e = row_error(defs, columns, row, field.into(), reason.into(), cells);
        progress.rejected(&e, cells)?;
        report.rejected += 1;
        if report.errors.len() < KEPT_ERRORS {
            report.errors.push(e);
        }
        Ok(())
    }

    /// Writes one batch checked and sealed by [`Self::prepare_rows`] (its refused rows are
    /// reported first); `false` when the watcher asks to stop.
    pub(super) fn import_batch(
        &self,
        r: &Run,
        w: &mut Writing,
        batch: Prepared,
        report: &mut ImportReport,
        progress: &mut dyn Progress,
    ) -> Result<bool> {
        let rejected_before = report.rejected;
        report.rows += batch.rows;
        for (line, field, reason, cells) in batch.refused {
            Self::reject(
                report, progress, &r.defs, &r.columns, line, field, reason, &cells,
            )?;
        }
        let ready = batch.ready;
        let counts_before = Counts {
            processed: report.rows as u64,
            created: report.created as u64,
            updated: report.updated as u64,
            skipped: report.skipped as u64,
            flagged: report.flagged as u64,
            rejected: report.rejected as u64,
            assigned: report.assigned as u64,
            to_review: report.to_review as u64,
            unchanged: report.unchanged as u64,
            pooled: report.pooled as u64,
        };
        let batch_no = w.batch_no;
        w.batch_no += 1;
        let errors_in_batch = report.rejected - rejected_before;
        let mut auto = w.auto.take();
        if let Some(log) = w.log.as_mut() {
            log.begin_batch();
        }
        let log = &mut w.log;
        let outcome = self.store.write(|tx| {
            let out = self.write_rows(tx, r, ready, &mut auto, log.as_mut())?;
            if r.opts.dry_run {
                // Nothing of a dry run may stick: abort by returning the outcome as an "error".
                return Err(BatchError::DryRun(Box::new(out)));
            }
            let counts = Counts {
                created: counts_before.created + out.created as u64,
                updated: counts_before.updated + out.updated as u64,
                skipped: counts_before.skipped + out.skipped as u64,
                flagged: counts_before.flagged + out.flagged as u64,
                assigned: counts_before.assigned + out.assigned as u64,
                unchanged: counts_before.unchanged + out.unchanged as u64,
                pooled: counts_before.pooled + out.pooled as u64,
                to_review: counts_before.to_review + out.reviewed.len() as u64,
                rejected: counts_before.rejected + out.refused.len() as u64,
                ..counts_before
            };
            // Audited with the batch, in its transaction: an interrupted import leaves exactly
            // the batches it wrote, each with its audit row.
            let detail = json!({
                "batch": batch_no, "rows": counts.processed, "created": out.created,
                "updated": out.updated, "skipped": out.skipped, "flagged": out.flagged,
                "errors": errors_in_batch + out.refused.len(),
                "on_duplicate": r.opts.on_duplicate, "pool_id": r.pool_id,
                "assign": r.auto_mode, "assigned": out.assigned,
                "unchanged": out.unchanged, "pooled": out.pooled,
            });
            let target = Some(r.import_id.to_string());
            let entry = audit::by_user(
                &r.caller.user,
                "customer.imported",
                r.source,
                target,
                detail,
            );
            audit::record(tx, r.now, entry)?;
            progress.in_batch(tx, &counts)?;
            Ok(out)
        });
        w.auto = auto;
        let out = match outcome {
            Ok(o) => o,
            Err(BatchError::DryRun(o)) => *o,
            Err(BatchError::Service(e)) => return Err(e),
        };
        report.assigned += out.assigned;
        report.created += out.created;
        report.updated += out.updated;
        report.skipped += out.skipped;
        report.flagged += out.flagged;
        report.unchanged += out.unchanged;
        report.pooled += out.pooled;
        for change in out.changes {
            if report.changes.len() < KEPT_ERRORS {
                report.changes.push(change);
            }
        }
        for p in out.placements {
            let same = report
                .placements
                .iter()
                .position(|q| q.to == p.to && q.pool_id == p.pool_id && q.reason == p.reason);
            let kept = report.placements.len();
            match same.and_then(|i| report.placements.get_mut(i)) {
                Some(q) => q.rows += p.rows,
                // Reasons are few (one per cause and pool); the cap only guards the answer.
                None if kept < KEPT_ERRORS => report.placements.push(p),
                None => {}
            }
        }
        for (line, field, reason, cells) in out.duplicates {
            let e = row_error(&r.defs, &r.columns, line, field, reason, &cells);
            progress.skipped(&e, &cells)?;
            if report.duplicates.len() < KEPT_ERRORS {
                report.duplicates.push(e);
            }
        }
        for (line, field, reason, cells) in out.refused {
            Self::reject(
                report, progress, &r.defs, &r.columns, line, field, reason, &cells,
            )?;
        }
        // Warnings only for rows that were written (created or updated), after the commit.
        for (warnings, cells) in out.reviewed {
            report.to_review += 1;
            for w in warnings {
                progress.warned(&w, &cells)?;
                if report.warnings.len() < KEPT_ERRORS {
                    report.warnings.push(w);
                }
            }
        }
        progress.after_batch(report)
    }

    /// One row's cells → its input, owner and checked values, or the first problem. `review`
    /// adds the [`REVIEW_TAG`] (the row lost a bad optional field).
    fn check_row(
        &self,
        r: &Run,
        state: &mut Seen,
        cells: &[String],
        review: bool,
    ) -> Result<RowChecked> {
        let (mut input, owner_cell) = match row_input(&r.columns, &r.headers, &r.defs, cells) {
            Ok(i) => i,
            Err(problem) => return Ok(Err(problem)),
        };
        let owner = match owner_cell {
            Some(name) => {
                if !state.owners.contains_key(&name) {
                    let o = self.owner_for(r.caller, &r.scope, &name);
                    state.owners.insert(name.clone(), o);
                }
                match state.owners.get(&name) {
                    Some(Ok(id)) => Some(id.clone()),
                    Some(Err(reason)) => return Ok(Err(("owner".into(), reason.clone()))),
                    None => None,
                }
            }
            None => r.default_owner.clone(),
        };
        input.owner_id = owner.clone();
        if review {
            let tags = input.tags.get_or_insert_with(Vec::new);
            if !tags.iter().any(|t| t == REVIEW_TAG) {
                tags.push(REVIEW_TAG.to_string());
            }
        }
        Ok(match customer::check(&input, true, r.today) {
            Ok(checked) => Ok((input, owner, checked)),
            Err((field, reason)) => Err((field.to_string(), reason)),
        })
    }

    /// Phase 1, outside the transaction (on its own thread while the batch before is
    /// written): each row checked and sealed; a row with a problem, or repeating a phone or ID
    /// number of an earlier row of the file, is refused.
    pub(super) fn prepare_rows(
        &self,
        r: &Run,
        state: &mut Seen,
        rows: Vec<(usize, Vec<String>)>,
    ) -> Result<Prepared> {
        let mut out = Prepared {
            rows: rows.len(),
            ready: Vec::with_capacity(rows.len()),
            refused: Vec::new(),
        };
        for (line, cells) in rows {
            // With `BadOptional::Keep`, a bad optional cell is blanked and the row checked
            // again (each round blanks at least one non-empty cell, so this ends).
            let mut work: Option<Vec<String>> = None;
            let mut review: Vec<RowError> = Vec::new();
            let passed = loop {
                let checked = self.check_row(
                    r,
                    state,
                    work.as_ref().unwrap_or(&cells),
                    !review.is_empty(),
                )?;
                let (field, reason) = match checked {
                    Ok(ok) => break Some(ok),
                    Err(problem) => problem,
                };
                let cols = columns_of(&r.columns, &field);
                let current = work.as_ref().unwrap_or(&cells);
                let keep = r.opts.bad_optional == BadOptional::Keep
                    && !REQUIRED_FIELDS.contains(&field.as_str())
                    && cols
                        .iter()
                        .any(|&i| current.get(i).is_some_and(|v| !v.is_empty()));
                if !keep {
                    out.refused.push((line, field, reason, cells.clone()));
                    break None;
                }
                review.push(row_error(&r.defs, &r.columns, line, field, reason, &cells));
                let blanked = work.get_or_insert_with(|| cells.clone());
                for i in cols {
                    if let Some(v) = blanked.get_mut(i) {
                        v.clear();
                    }
                }
            };
            let Some((input, owner, checked)) = passed else {
                continue;
            };
            let mut record = self.customers().new_record(
                &input,
                checked,
                owner.clone(),
                &r.caller.user.id,
                r.now,
            )?;
            let auto = owner.is_none() && r.auto_mode.is_some();
            if owner.is_none() && !auto {
                record.pool_id = r.pool_id.clone();
            }
            let phone = digest('p', &record.phone.bidx);
            if state.seen.contains(phone) {
                out.refused.push((
                    line,
                    "phone".into(),
                    "与文件中前面的行手机号重复".into(),
                    cells,
                ));
                continue;
            }
            if let Some(i) = &record.id_number {
                let d = digest('i', &i.bidx);
                if !state.seen.insert(d) {
                    out.refused.push((
                        line,
                        "id_number".into(),
                        "与文件中前面的行身份证号重复".into(),
                        cells,
                    ));
                    continue;
                }
            }
            state.seen.insert(phone);
            let update = r.opts.on_duplicate == OnDuplicate::Update;
            // A skipped duplicate is listed with its cells too.
            let may_refuse = update
                || r.opts.on_duplicate == OnDuplicate::Skip
                || r.defs.iter().any(|d| d.active && d.required);
            out.ready.push(Ready {
                line,
                auto,
                input: update.then_some(input),
                record,
                cells: if may_refuse || !review.is_empty() {
                    cells
                } else {
                    Vec::new()
                },
                review,
            });
        }
        Ok(out)
    }

    /// Phase 2, in the batch's write transaction: duplicates against the store (skip, update
    /// or flag), required custom fields, automatic assignment, the records written (not in a
    /// dry run). New customers are written table by table at the end of the batch
    /// ([`customers::insert_many`], their assignment events with [`customers::add_events`]);
    /// an update first writes the new customers of the rows before it, so the store sees the
    /// rows in file order, as [`ImportOptions::row_by_row`] (the reference) writes them.
    fn write_rows(
        &self,
        tx: &WriteTransaction,
        r: &Run,
        ready: Vec<Ready>,
        auto: &mut Option<AutoRun>,
        mut log: Option<&mut crate::store::keylog::ImportLog>,
    ) -> Result<BatchOutcome, BatchError> {
        let mut out = BatchOutcome::default();
        let matches = existing_matches(tx, &ready, r.opts.on_duplicate, log.as_deref())?;
        let one_by_one = r.opts.row_by_row;
        let mut created: Vec<Customer> = Vec::new();
        let mut events: Vec<(usize, customers::TimelineEvent)> = Vec::new();
        for (row, found) in ready.into_iter().zip(matches) {
            let mut c = row.record;
            if let Some(found) = found {
                match r.opts.on_duplicate {
                    OnDuplicate::Skip => {
                        out.skipped += 1;
                        let (field, reason) = match &found {
                            Found::Record(e) => {
                                let field = matched_field(e, &c);
                                let what = if field == "phone" {
                                    "手机号"
                                } else {
                                    "身份证号"
                                };
                                // Whose it is only when the importer may see it: a name
                                // outside the scope tells who holds a number.
                                let reason = if r.scope.can_see(e.as_ref()) {
                                    format!(
                                        "与已有客户（{}）的{what}重复，已跳过",
                                        customer::mask_name(&e.name)
                                    )
                                } else {
                                    format!("与已有客户的{what}重复，已跳过")
                                };
                                (field, reason)
                            }
                            Found::Key => ("phone", "与已有客户重复，已跳过".to_string()),
                        };
                        out.duplicates
                            .push((row.line, field.into(), reason, row.cells));
                        continue;
                    }
                    OnDuplicate::Update => {
                        let existing = match found {
                            Found::Record(e) => *e,
                            Found::Key => continue,
                        };
                        if existing.deleted_at.is_some() || !r.scope.can_see(&existing) {
                            out.refused.push((
                                row.line,
                                "phone".into(),
                                "该客户已存在且不在您的权限范围内".into(),
                                row.cells,
                            ));
                            continue;
                        }
                        let input = row.input.as_ref().ok_or_else(|| {
                            Error::Internal("an update without the row's input".into())
                        })?;
                        let (u, changed) =
                            match self.merged(tx, &existing, &c, input, r.today, r.now)? {
                                Ok(m) => m,
                                Err((field, reason)) => {
                                    out.refused.push((row.line, field, reason, row.cells));
                                    continue;
                                }
                            };
                        if changed.is_empty() {
                            out.unchanged += 1;
                            continue;
                        }
                        if !r.opts.dry_run {
                            write_created(
                                tx,
                                &mut created,
                                &mut events,
                                &r.caller.user.id,
                                log.as_deref_mut(),
                            )?;
                            customers::put(tx, Some(&existing), &u)?;
                            if u.stage != existing.stage {
                                let event = customers::TimelineEvent::new(
                                    new_id(r.now),
                                    r.now,
                                    &r.caller.user.id,
                                    "stage_changed",
                                    crate::service::customers::stage_name(existing.stage),
                                    crate::service::customers::stage_name(u.stage),
                                    None,
                                );
                                customers::add_event(tx, &u.id, &event)?;
                            }
                        }
                        out.updated += 1;
                        out.changes.push(super::RowChange {
                            row: row.line,
                            customer_id: u.id.clone(),
                            fields: changed,
                        });
                        if !row.review.is_empty() {
                            out.reviewed.push((row.review, row.cells));
                        }
                        continue;
                    }
                    OnDuplicate::Flag => {
                        c.duplicate_flag = true;
                        out.flagged += 1;
                    }
                }
            }
            // A new customer needs every required custom field, as a form does.
            if let Err((field, reason)) = custom_field::required_present(&r.defs, &c.custom) {
                out.refused.push((row.line, field, reason, row.cells));
                continue;
            }
            if row.auto {
                let a = match auto.as_mut() {
                    Some(a) => a,
                    None => auto.insert(self.auto_run(tx, r)?),
                };
                let (placed, reason) = self.pools().place_new(
                    tx,
                    &mut a.picker,
                    &mut c,
                    a.fallback.as_ref(),
                    &r.caller.user,
                    r.now,
                )?;
                if !r.opts.dry_run {
                    let (kind, to) = placed.event(&c);
                    let event = customers::TimelineEvent::new(
                        new_id(r.now),
                        r.now,
                        &r.caller.user.id,
                        kind,
                        None,
                        Some(to),
                        Some(reason.clone()),
                    );
                    if one_by_one {
                        customers::add_event(tx, &c.id, &event)?;
                    } else {
                        // Written with the customer it belongs to (its index in `created`).
                        events.push((created.len(), event));
                    }
                }
                match &placed {
                    Placed::User(_) => out.assigned += 1,
                    Placed::Pool(id) => {
                        out.pooled += 1;
                        let name = a.fallback.as_ref().map(|p| p.name.clone());
                        out.placed("pool", Some(id.clone()), name, reason);
                    }
                    Placed::Creator => out.placed("creator", None, None, reason),
                }
            }
            if !r.opts.dry_run {
                if one_by_one {
                    customers::put_by(tx, None, &c, Some(&r.caller.user.id))?;
                } else {
                    created.push(c);
                }
            }
            out.created += 1;
            if !row.review.is_empty() {
                out.reviewed.push((row.review, row.cells));
            }
        }
        write_created(tx, &mut created, &mut events, &r.caller.user.id, log)?;
        Ok(out)
    }
}

/// Writes the new customers collected so far (and their assignment events, each with the
/// index of its customer in `created`) table by table, and empties both lists.
fn write_created(
    tx: &WriteTransaction,
    created: &mut Vec<Customer>,
    events: &mut Vec<(usize, customers::TimelineEvent)>,
    actor: &str,
    log: Option<&mut crate::store::keylog::ImportLog>,
) -> Result<(), BatchError> {
    if !events.is_empty() {
        let rows: Vec<(&str, customers::TimelineEvent)> = std::mem::take(events)
            .into_iter()
            .map(|(i, e)| {
                created.get(i).map(|c| (c.id.as_str(), e)).ok_or_else(|| {
                    crate::store::Error::Misuse("an assignment event without its customer".into())
                })
            })
            .collect::<std::result::Result<_, _>>()?;
        customers::add_events(tx, &rows)?;
    }
    if !created.is_empty() {
        let all: Vec<&Customer> = created.iter().collect();
        customers::insert_many_logged(tx, &all, Some(actor), log)?;
        created.clear();
    }
    Ok(())
}

/// An existing customer with the same phone or ID number: only its key is needed to skip or
/// flag; the record itself to update it.
pub(super) enum Found {
    Key,
    Record(Box<Customer>),
}

/// For each ready row, the first existing customer sharing a phone or ID number, found through
/// the blind-index keys with one table handle for the whole batch (and the keys this import
/// logged in its earlier batches, `log`).
pub(super) fn existing_matches(
    tx: &WriteTransaction,
    ready: &[Ready],
    mode: OnDuplicate,
    log: Option<&crate::store::keylog::ImportLog>,
) -> Result<Vec<Option<Found>>, BatchError> {
    let all = Reader::unscoped(tx, Unscoped::Duplicates);
    let probes: Vec<Vec<(char, &str)>> = ready
        .iter()
        .map(|row| {
            let c = &row.record;
            std::iter::once(('p', c.phone.bidx.as_str()))
                .chain(c.extra_phones.iter().map(|p| ('p', p.bidx.as_str())))
                .chain(c.id_number.iter().map(|i| ('i', i.bidx.as_str())))
                .collect()
        })
        .collect();
    let ids = all
        .first_ids_by_index_logged(&probes, log)
        .map_err(crate::service::Error::from)?;
    ids.into_iter()
        .map(|id| match (id, mode) {
            (None, _) => Ok(None),
            // The record: to update it, or to say whose field a skipped row repeats.
            (Some(id), OnDuplicate::Update | OnDuplicate::Skip) => {
                Ok(all.any(&id)?.map(|c| Found::Record(Box::new(c))))
            }
            (Some(_), _) => Ok(Some(Found::Key)),
        })
        .collect()
}

#[derive(Default)]
pub(super) struct BatchOutcome {
    pub(super) created: usize,
    pub(super) updated: usize,
    pub(super) skipped: usize,
    pub(super) flagged: usize,
    pub(super) assigned: usize,
    /// Rows refused inside the transaction (line, field, reason, cells).
    pub(super) refused: Vec<(usize, String, String, Vec<String>)>,
    /// Rows written without a bad optional field: their warnings and cells.
    pub(super) reviewed: Vec<(Vec<RowError>, Vec<String>)>,
    pub(super) unchanged: usize,
    pub(super) changes: Vec<super::RowChange>,
    pub(super) pooled: usize,
    pub(super) placements: Vec<super::Placement>,
    /// Rows skipped as duplicates (line, field matched, reason, cells).
    pub(super) duplicates: Vec<(usize, String, String, Vec<String>)>,
}

impl BatchOutcome {
    /// One more row that automatic assignment gave nobody, counted by destination and reason.
    fn placed(
        &mut self,
        to: &str,
        pool_id: Option<String>,
        pool_name: Option<String>,
        reason: String,
    ) {
        match self
            .placements
            .iter_mut()
            .find(|p| p.to == to && p.pool_id == pool_id && p.reason == reason)
        {
            Some(p) => p.rows += 1,
            None => self.placements.push(super::Placement {
                to: to.into(),
                pool_id,
                pool_name,
                reason,
                rows: 1,
            }),
        }
    }
}

/// The field through which a row matched an existing customer: a phone (main or extra) or
/// the ID number.
fn matched_field(existing: &Customer, row: &Customer) -> &'static str {
    let phones = |c: &Customer| -> Vec<String> {
        std::iter::once(c.phone.bidx.clone())
            .chain(c.extra_phones.iter().map(|p| p.bidx.clone()))
            .collect()
    };
    let theirs = phones(existing);
    if phones(row).iter().any(|b| theirs.contains(b)) {
        "phone"
    } else {
        "id_number"
    }
}

/// How a batch transaction ends other than committing: a dry run's outcome (so that it aborts)
/// or a failure.
pub(super) enum BatchError {
    DryRun(Box<BatchOutcome>),
    Service(Error),
}

impl From<Error> for BatchError {
    fn from(e: Error) -> Self {
        BatchError::Service(e)
    }
}

impl From<crate::store::Error> for BatchError {
    fn from(e: crate::store::Error) -> Self {
        BatchError::Service(e.into())
    }
}
