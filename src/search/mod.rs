//! Customer search: a tantivy index in `data/index/`, derived from the store. Every change of a
//! searchable record puts the customer's id in the store's outbox in the same transaction
//! (`store::outbox`); [`Search::catch_up`] applies the outbox in batches and records the last
//! applied sequence in the tantivy commit payload, so after any crash the index replays exactly
//! what it missed. A rebuild writes a new generation beside the live one and swaps it in.
//!
//! Layout: `data/index/CURRENT` names the live generation directory `data/index/g-<ulid>/`.

pub mod analysis;
mod directory;
mod facets;
pub mod fields;
pub mod list;
pub mod query;
pub mod ranked;
pub mod scope_sets;
mod union;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use tantivy::schema::Term;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::domain::customer::Customer;
use crate::store::customers::{Reader, Unscoped};
use crate::store::{self, Store, outbox};
pub use facets::Columns;
pub use fields::{Card, dept_term};
use fields::{Fields, OwnerDepartments};
pub use list::{ListFilters, ListRequest, ListSort, Listed};
pub use query::{Filters, Hits, Request, Restrict, Word};

/// Gives the last six characters of a customer's ID number (decrypted), for the `id6` terms.
pub type IdTail<'a> = &'a (dyn Fn(&Customer) -> Option<String> + Sync);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("search index files: {0}")]
    Io(#[from] std::io::Error),
    #[error("the search index is being rebuilt")]
    Rebuilding,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Memory for documents not yet written as a segment. A long backlog (an import, a rebuild)
/// fills it between commits, and each time it is full it becomes a segment; smaller segments
/// mean more merges. With 64 MB on two threads a 1M import peaked at 413 MB, with 32 MB on two
/// threads at 368–384 MB; with 24 MB on one thread at 359–398 MB, and faster (below).
const WRITER_HEAP: usize = 24 * 1024 * 1024;

/// Indexing threads: one. An import keeps both cores busy without a second one (reading and
/// checking rows, writing the store, building documents, merging segments), and a second thread
/// halves each segment, so every document is merged more often: on the 1M import one thread
/// took 47.1–50.2 s and 87–93 CPU-s, two threads of 16 MB 56.7–57.7 s and 104–107 CPU-s, in the
/// same sitting; the 10M import 10.9 min against 12.6. A rebuild from the store, which has
/// nothing else to do, is 8% slower on one thread (27.4 s against 25.5 s at 1M) and lets the
/// server keep a core for its requests (docs/benchmarks.md, "One indexing thread").
const WRITER_THREADS: usize = 1;
/// Segment merges at once. Tantivy's default is 4; on the 2-core machines this runs on they
/// only compete for the same cores, and each merge holds its segments' pages and its own
/// buffers at once.
const MERGE_THREADS: usize = 1;
const BATCH: usize = 2_000;
/// Bytes per compressed doc-store block.
const DOCSTORE_BLOCK: usize = 2048;

/// Outbox entries applied between two commits when catching up on a backlog.
const COMMIT_EVERY: usize = 50_000;
/// Test hook: abort the process after documents are added but before the index commits.
pub const CRASH_HOOK_ENV: &str = "ZHUDAI_TEST_CRASH_BEFORE_INDEX_COMMIT";

/// What the commit payload records: the schema of the index, the store it was built from and
/// the last outbox sequence it contains.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Payload {
    v: u32,
    store: String,
    seq: u64,
    /// [`Writing::newest`] at the commit, as a ULID (absent from indexes committed before it
    /// was kept: those start from the bound their segments give).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<String>,
}

/// The index writer, and a bound on the ids it may hold.
struct Writing {
    writer: IndexWriter<TantivyDocument>,
    /// No document has a ULID above this: the value kept in the last commit, then raised by
    /// every document added (an index committed without it starts from the largest `id_hi` of
    /// its segments, any low half). A customer whose id is above it is new to the index, so
    /// adding it needs no delete first. The bound must be exact to be of use: an import's ids
    /// share their millisecond and high half, so a bound rounded up to the next high half
    /// would send every one of them through a delete. Tantivy keeps every delete in memory
    /// until a commit and then looks it up in every segment: an import of a million new
    /// customers would carry a million of them (~50 MB) for nothing.
    newest: u128,
}

impl Writing {
    fn added(&mut self, id: &str) {
        if let Some(u) = fields::ulid_of(id) {
            self.raise(u);
        }
    }

    fn raise(&mut self, ulid: u128) {
        self.newest = self.newest.max(ulid);
    }

    fn raise_to_committed(&mut self, searcher: &tantivy::Searcher) -> Result<()> {
        for segment in searcher.segment_readers() {
            let hi = segment.fast_fields().u64("id_hi")?.max_value();
            self.raise((u128::from(hi) << 64) | u128::from(u64::MAX));
        }
        Ok(())
    }
}

/// One open generation of the index.
pub struct Engine {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Writing>,
    applied: AtomicU64,
    generation: String,
    /// Each segment's facet columns and scope sets, kept between searches (see
    /// [`query::Kept`]).
    kept: query::Kept,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generation: String,
    pub documents: u64,
    pub applied_seq: u64,
    pub store_seq: u64,
}

pub struct Search {
    root: PathBuf,
    engine: RwLock<Option<Arc<Engine>>>,
    /// Held while an engine is being opened or a generation built.
    opening: Mutex<()>,
    /// Outbox entries above this are kept even when applied (a rebuild will replay them).
    drain_floor: AtomicU64,
}

/// Every user's department chain, read in the same snapshot as the customers indexed with it.
fn owner_departments(tx: &redb::ReadTransaction) -> Result<OwnerDepartments> {
    Ok(OwnerDepartments::new(
        &store::users::all(tx)?,
        &store::org::departments(tx)?,
    ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The identity of the store, so an index built from another store is never trusted.
fn store_identity(store: &Store) -> Result<String> {
    if let Some(id) = store.setting("store_id")? {
        return Ok(id);
    }
    let id = ulid::Ulid::generate().to_string();
    store.set_setting("store_id", &id)?;
    Ok(id)
}

impl Engine {
    fn create(dir: &Path, generation: &str) -> Result<Engine> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = fields::schema();
        // Small doc-store blocks: a result page fetches ~20 scattered documents (id + card),
        // and each fetch decompresses its whole block (16 KB by default).
        let settings = tantivy::IndexSettings {
            docstore_blocksize: DOCSTORE_BLOCK,
            ..tantivy::IndexSettings::default()
        };
        let index = Index::create(directory::IndexDir::open(dir)?, schema, settings)?;
        Engine::from_index(index, fields, generation, 0, Some(0))
    }

    /// `newest`: the commit's [`Writing::newest`], `None` when it did not keep one.
    fn from_index(
        index: Index,
        fields: Fields,
        generation: &str,
        applied: u64,
        newest: Option<u128>,
    ) -> Result<Engine> {
        fields::register_tokenizers(&index)?;
        let writer = index.writer_with_options(
            tantivy::indexer::IndexWriterOptions::builder()
                .num_worker_threads(WRITER_THREADS)
                .memory_budget_per_thread(WRITER_HEAP / WRITER_THREADS)
                .num_merge_threads(MERGE_THREADS)
                .build(),
        )?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let mut writing = Writing {
            writer,
            newest: newest.unwrap_or(0),
        };
        if newest.is_none() {
            writing.raise_to_committed(&reader.searcher())?;
        }
        Ok(Engine {
            index,
            reader,
            fields,
            writer: Mutex::new(writing),
            applied: AtomicU64::new(applied),
            generation: generation.to_string(),
            kept: query::Kept::default(),
        })
    }

    /// Opens an existing generation if it was built from this store with this schema.
    fn open_valid(
        dir: &Path,
        generation: &str,
        store_id: &str,
        store_seq: u64,
    ) -> Result<Option<Engine>> {
        let index = match directory::IndexDir::open(dir).and_then(Index::open) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "search index unreadable; rebuilding");
                return Ok(None);
            }
        };
        let payload = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok());
        let (_, fields) = fields::schema();
        match payload {
            Some(p)
                if p.v == fields::INDEX_VERSION && p.store == store_id && p.seq <= store_seq =>
            {
                let newest = p.newest.as_deref().and_then(fields::ulid_of);
                Ok(Some(Engine::from_index(
                    index, fields, generation, p.seq, newest,
                )?))
            }
            other => {
                tracing::info!(payload = ?other, "search index is from another store, schema or time; rebuilding");
                Ok(None)
            }
        }
    }

    /// Replaces the documents of `ids` (each once) with their live records': the records read
    /// with one table handle ([`Reader::any_many`]), an absent or deleted one leaving no document.
    /// An id above [`Writing::newest`] has no document to replace.
    fn add_many(
        &self,
        w: &mut Writing,
        tx: &redb::ReadTransaction,
        ids: &[&str],
        id_tail: IdTail,
        departments: &OwnerDepartments,
    ) -> Result<()> {
        let all = Reader::unscoped(tx, Unscoped::Maintenance);
        let records = all.any_many(ids)?;
        for (id, record) in ids.iter().zip(records) {
            let ulid = fields::ulid_of(id);
            if ulid.is_none_or(|u| u <= w.newest) {
                w.writer
                    .delete_term(Term::from_field_text(self.fields.id, id));
            }
            if let Some(c) = record.filter(|c| c.deleted_at.is_none()) {
                let followups = all.followups(&c)?;
                if let Some(u) = ulid {
                    w.raise(u);
                }
                w.writer.add_document(fields::document(
                    &self.fields,
                    &c,
                    &followups,
                    id_tail(&c),
                    departments,
                ))?;
            }
        }
        Ok(())
    }

    fn commit(&self, w: &mut Writing, store_id: &str, seq: u64) -> Result<()> {
        let payload = Payload {
            v: fields::INDEX_VERSION,
            store: store_id.to_string(),
            seq,
            newest: Some(ulid::Ulid::from(w.newest).to_string()),
        };
        let mut prepared = w.writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&payload).unwrap_or_default());
        prepared.commit()?;
        self.reader.reload()?;
        self.applied.store(seq, Ordering::SeqCst);
        Ok(())
    }

    /// Applies outbox entries after `applied`; returns how many entries were applied.
    fn apply(&self, store: &Store, store_id: &str, id_tail: IdTail) -> Result<u64> {
        let mut writer = lock(&self.writer);
        let mut total = 0;
        let mut after = self.applied.load(Ordering::SeqCst);
        let mut uncommitted = 0;
        loop {
            let last = store.read(|tx| {
                let pending = outbox::pending(tx, after, BATCH)?;
                let departments = if pending.is_empty() {
                    OwnerDepartments::default()
                } else {
                    owner_departments(tx)?
                };
                let mut seen = std::collections::HashSet::new();
                let ids: Vec<&str> = pending
                    .iter()
                    .map(|(_, id)| id.as_str())
                    .filter(|id| seen.insert(*id))
                    .collect();
                self.add_many(&mut writer, tx, &ids, id_tail, &departments)?;
                total += pending.len() as u64;
                uncommitted += pending.len();
                Ok::<_, Error>(pending.last().map(|(s, _)| *s))
            })?;
            if let Some(seq) = last {
                after = seq;
            }
            // A backlog (an import) is committed in large steps; a trickle at once.
            let done = last.is_none();
            if uncommitted > 0 && (done || uncommitted >= COMMIT_EVERY) {
                if std::env::var_os(CRASH_HOOK_ENV).is_some() {
                    tracing::error!("{CRASH_HOOK_ENV} is set: aborting before the index commit");
                    std::process::abort();
                }
                self.commit(&mut writer, store_id, after)?;
                uncommitted = 0;
            }
            if done {
                return Ok(total);
            }
        }
    }

    pub fn search(&self, req: &Request) -> Result<Hits> {
        let searcher = self.reader.searcher();
        self.kept.columns.retain(&searcher);
        self.kept.scopes.retain(&searcher);
        Ok(query::run(
            &searcher,
            &self.index,
            &self.fields,
            req,
            Some(&self.kept),
        )?)
    }

    /// One page of the customer list (see [`list`]).
    pub fn list(&self, req: &ListRequest) -> Result<Listed> {
        Ok(list::run(&self.reader.searcher(), &self.fields, req)?)
    }

    /// The customer list's matches per stage (see [`list::stage_counts`]).
    pub fn list_stage_counts(
        &self,
        req: &ListRequest,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let searcher = self.reader.searcher();
        self.kept.columns.retain(&searcher);
        Ok(list::stage_counts(
            &searcher,
            &self.fields,
            req,
            std::sync::Arc::clone(&self.kept.columns),
        )?)
    }

    /// Whether a customer has a document in this generation.
    pub fn contains(&self, id: &str) -> Result<bool> {
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            tantivy::schema::IndexRecordOption::Basic,
        );
        Ok(self
            .reader
            .searcher()
            .search(&q, &tantivy::collector::Count)?
            > 0)
    }

    pub fn documents(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The segments of `searcher`, when its generation is not the one `seen` holds (which it then
/// becomes): what the caches kept per segment ([`facets::Columns`], [`scope_sets::ScopeSets`])
/// check once per generation to let merged-away segments go.
pub(crate) fn segments_if_new(
    seen: &std::sync::atomic::AtomicU64,
    searcher: &tantivy::Searcher,
) -> Option<std::collections::HashSet<tantivy::index::SegmentId>> {
    let generation = searcher.generation().generation_id();
    if seen.swap(generation, std::sync::atomic::Ordering::SeqCst) == generation {
        return None;
    }
    Some(
        searcher
            .segment_readers()
            .iter()
            .map(tantivy::SegmentReader::segment_id)
            .collect(),
    )
}

impl Search {
    pub fn new(data_dir: &Path) -> Search {
        Search {
            root: data_dir.join("index"),
            engine: RwLock::new(None),
            opening: Mutex::new(()),
            drain_floor: AtomicU64::new(u64::MAX),
        }
    }

    /// The generation `index/CURRENT` names, or `None` when there is no such file (no index
    /// yet). A file that cannot be read, or names no generation, is an error: taking it for
    /// "no index" would rebuild and then delete the generations that are there.
    fn current_generation(&self) -> Result<Option<String>> {
        let path = self.root.join("CURRENT");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", path.display()),
                )));
            }
        };
        let name = text.trim();
        if name.starts_with("g-") && !name.contains('/') {
            Ok(Some(name.to_string()))
        } else {
            Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} names no index generation; run `zhudai reindex` to rebuild the index",
                    path.display()
                ),
            )))
        }
    }

    fn set_current(&self, generation: &str) -> Result<()> {
        let tmp = self.root.join("CURRENT.tmp");
        std::fs::write(&tmp, generation)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, self.root.join("CURRENT"))?;
        Ok(())
    }

    fn live(&self) -> Option<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The live engine, opening it (and replaying or rebuilding as needed) on first use.
    pub fn engine(&self, store: &Store, id_tail: IdTail) -> Result<Arc<Engine>> {
        if let Some(e) = self.live() {
            return Ok(e);
        }
        let _opening = self.opening.try_lock().map_err(|_| Error::Rebuilding)?;
        if let Some(e) = self.live() {
            return Ok(e);
        }
        std::fs::create_dir_all(&self.root)?;
        let store_id = store_identity(store)?;
        let store_seq = store.read(outbox::last_seq)?;
        let existing = match self.current_generation()? {
            Some(g) => Engine::open_valid(&self.root.join(&g), &g, &store_id, store_seq)?,
            None => None,
        };
        let engine = match existing {
            Some(e) => Arc::new(e),
            None => self.build_generation(store, &store_id, id_tail, &|_, _| {})?,
        };
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&engine));
        self.remove_stale_generations(&engine.generation);
        Ok(engine)
    }

    /// Builds a new generation from a store snapshot and makes it current on disk.
    fn build_generation(
        &self,
        store: &Store,
        store_id: &str,
        id_tail: IdTail,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Arc<Engine>> {
        let generation = format!("g-{}", ulid::Ulid::generate());
        let engine = Engine::create(&self.root.join(&generation), &generation)?;
        {
            let mut writer = lock(&engine.writer);
            let seq = store.read(|tx| {
                let seq = outbox::last_seq(tx)?;
                let all = Reader::unscoped(tx, Unscoped::Maintenance);
                let total = all.count_all()?;
                let departments = owner_departments(tx)?;
                let mut done = 0u64;
                let mut failed = None;
                all.scan_all(None, |c| {
                    done += 1;
                    if c.deleted_at.is_none() {
                        writer.added(&c.id);
                        let result = all.followups(&c).map_err(Error::from).and_then(|f| {
                            writer
                                .writer
                                .add_document(fields::document(
                                    &engine.fields,
                                    &c,
                                    &f,
                                    id_tail(&c),
                                    &departments,
                                ))
                                .map_err(Error::from)
                        });
                        if let Err(e) = result {
                            failed = Some(e);
                            return false;
                        }
                    }
                    if done.is_multiple_of(10_000) {
                        progress(done, total);
                    }
                    true
                })?;
                progress(done, total);
                match failed {
                    Some(e) => Err(e),
                    None => Ok(seq),
                }
            })?;
            engine.commit(&mut writer, store_id, seq)?;
        }
        self.set_current(&generation)?;
        Ok(Arc::new(engine))
    }

    fn remove_stale_generations(&self, keep: &str) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("g-") && name != keep {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    /// Applies whatever the outbox holds that the index does not; returns entries applied.
    pub fn catch_up(&self, store: &Store, id_tail: IdTail) -> Result<u64> {
        let engine = self.engine(store, id_tail)?;
        let store_id = store_identity(store)?;
        let applied = engine.apply(store, &store_id, id_tail)?;
        let upto = engine
            .applied
            .load(Ordering::SeqCst)
            .min(self.drain_floor.load(Ordering::SeqCst));
        if applied > 0 {
            store.write(|tx| outbox::drain(tx, upto))?;
        }
        Ok(applied)
    }

    /// Whether the store holds changes the index has not applied yet.
    pub fn behind(&self, store: &Store) -> Result<bool> {
        let Some(engine) = self.live() else {
            return Ok(true);
        };
        let seq = store.read(outbox::last_seq)?;
        Ok(seq > engine.applied.load(Ordering::SeqCst))
    }

    /// Searches the live index after applying pending changes (callers read their own writes).
    pub fn search(&self, store: &Store, id_tail: IdTail, req: &Request) -> Result<Hits> {
        if self.behind(store)? {
            self.catch_up(store, id_tail)?;
        }
        self.engine(store, id_tail)?.search(req)
    }

    /// One page of the customer list from the live index, after applying pending changes (a
    /// list right after a write shows it).
    pub fn list(&self, store: &Store, id_tail: IdTail, req: &ListRequest) -> Result<Listed> {
        if self.behind(store)? {
            self.catch_up(store, id_tail)?;
        }
        self.engine(store, id_tail)?.list(req)
    }

    /// The customer list's matches per stage, caught up with the store first (see
    /// [`Engine::list_stage_counts`]).
    pub fn list_stage_counts(
        &self,
        store: &Store,
        id_tail: IdTail,
        req: &ListRequest,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        if self.behind(store)? {
            self.catch_up(store, id_tail)?;
        }
        self.engine(store, id_tail)?.list_stage_counts(req)
    }

    /// Rebuilds the index from the store while the old generation keeps serving; changes made
    /// during the build are replayed into the new generation before it is swapped in.
    /// `during` runs after the snapshot is taken (tests use it to write concurrently).
    pub fn rebuild(
        &self,
        store: &Store,
        id_tail: IdTail,
        progress: &(dyn Fn(u64, u64) + Sync),
        during: &dyn Fn(),
    ) -> Result<Status> {
        let old = self.engine(store, id_tail).ok();
        let _building = lock(&self.opening);
        let store_id = store_identity(store)?;
        let floor = old
            .as_ref()
            .map(|e| e.applied.load(Ordering::SeqCst))
            .unwrap_or(0);
        self.drain_floor.store(floor, Ordering::SeqCst);
        let built = (|| {
            let engine = self.build_generation(store, &store_id, id_tail, progress)?;
            during();
            // Stop the old generation from applying more, replay into the new one, swap.
            let _old_writer = old.as_ref().map(|e| lock(&e.writer));
            engine.apply(store, &store_id, id_tail)?;
            *self.engine.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&engine));
            Ok::<_, Error>(engine)
        })();
        self.drain_floor.store(u64::MAX, Ordering::SeqCst);
        let engine = built?;
        drop(old);
        self.remove_stale_generations(&engine.generation);
        let upto = engine.applied.load(Ordering::SeqCst);
        store.write(|tx| outbox::drain(tx, upto))?;
        self.status(store, id_tail)
    }

    /// The last outbox sequence the open index has applied; `None` while no index is open
    /// (nothing is opened to answer).
    pub fn applied_seq_if_open(&self) -> Option<u64> {
        self.live().map(|e| e.applied.load(Ordering::SeqCst))
    }

    pub fn status(&self, store: &Store, id_tail: IdTail) -> Result<Status> {
        let engine = self.engine(store, id_tail)?;
        Ok(Status {
            generation: engine.generation.clone(),
            documents: engine.documents(),
            applied_seq: engine.applied.load(Ordering::SeqCst),
            store_seq: store.read(outbox::last_seq)?,
        })
    }

    /// Closes the live engine (releasing the writer lock), e.g. before a process hands the
    /// directory to another.
    pub fn close(&self) {
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// What `zhudai doctor` reports about the index (read-only: nothing is rebuilt or replayed).
#[derive(Debug, Clone)]
pub struct Inspection {
    /// `None` when there is no index yet (the next start builds it).
    pub generation: Option<String>,
    pub documents: u64,
    pub live_customers: u64,
    /// Outbox entries the index has not applied (replayed at the next start).
    pub pending: u64,
    /// Whether the index was built from this store with this schema.
    pub trusted: bool,
    pub sampled: u64,
    /// Sampled live customers missing from the index, and deleted ones still in it.
    pub drifted: Vec<String>,
}

/// Compares the index with the store: counts, pending changes, and a sample of customers.
pub fn inspect(data_dir: &Path, store: &Store, sample: u64) -> Result<Inspection> {
    let root = data_dir.join("index");
    let search = Search::new(data_dir);
    let store_seq = store.read(outbox::last_seq)?;
    let store_id = store.setting("store_id")?.unwrap_or_default();
    let mut live = Vec::new();
    let mut total = 0u64;
    store.read(|tx| {
        Reader::unscoped(tx, Unscoped::Maintenance).scan_all(None, |c| {
            total += 1;
            if c.deleted_at.is_none() {
                live.push(c.id);
            }
            true
        })
    })?;
    let mut out = Inspection {
        generation: search.current_generation()?,
        documents: 0,
        live_customers: live.len() as u64,
        pending: 0,
        trusted: false,
        sampled: 0,
        drifted: Vec::new(),
    };
    let Some(generation) = out.generation.clone() else {
        return Ok(out);
    };
    let index = Index::open(directory::IndexDir::open(&root.join(&generation))?)?;
    let payload = index
        .load_metas()?
        .payload
        .and_then(|p| serde_json::from_str::<Payload>(&p).ok());
    let (_, f) = fields::schema();
    let reader: IndexReader = index.reader()?;
    let searcher = reader.searcher();
    out.documents = searcher.num_docs();
    if let Some(p) = &payload {
        out.trusted = p.v == fields::INDEX_VERSION && p.store == store_id && p.seq <= store_seq;
        out.pending = store_seq.saturating_sub(p.seq);
    }
    let step = (live.len() as u64 / sample.max(1)).max(1) as usize;
    for id in live.iter().step_by(step) {
        out.sampled += 1;
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(f.id, id),
            tantivy::schema::IndexRecordOption::Basic,
        );
        if searcher.search(&q, &tantivy::collector::Count)? == 0 {
            out.drifted.push(id.clone());
        }
    }
    Ok(out)
}
