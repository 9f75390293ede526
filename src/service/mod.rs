//! Use cases. Every read and write of the application goes through here with the caller's
//! identity; authorization and audit happen here and nowhere else. Functions are synchronous
//! (redb and argon2 block): the HTTP layer calls them through [`App::blocking`].

pub mod access;
pub mod brokers;
pub mod calls;
pub mod context;
pub mod contracts;
pub mod customers;
pub mod deals;
pub mod documents;
mod error;
pub mod fees;
pub mod followups;
pub mod import;
pub mod leads;
pub mod notices;
pub mod org;
pub mod platform;
pub mod pools;
pub mod products;
pub mod reports;
pub mod search;
pub mod tools;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use error::Error;

use crate::config::Config;
use crate::store::Store;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Declares an aggregate's facade: `UseCases<'a>` in the calling module, reached as
/// `app.<accessor>()`, holding the aggregate's use cases (`impl UseCases<'_> { … }` in its
/// files). It derefs to [`App`] for what every use case shares (store, clock, scope, viewer,
/// the use-case context), so `App` itself keeps only those.
macro_rules! use_cases {
    ($accessor:ident, $doc:literal) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = concat!("Reached as `app.", stringify!($accessor), "()`.")]
        #[derive(Clone, Copy)]
        pub struct UseCases<'a>(&'a $crate::service::App);

        impl $crate::service::App {
            #[doc = $doc]
            pub fn $accessor(&self) -> UseCases<'_> {
                UseCases(self)
            }
        }

        impl std::ops::Deref for UseCases<'_> {
            type Target = $crate::service::App;
            fn deref(&self) -> &$crate::service::App {
                self.0
            }
        }
    };
}
pub(crate) use use_cases;

/// Where use cases get the time from, so rules are testable at any date.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests, benchmarks and "as of" previews.
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock(std::sync::Mutex::new(start))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running application: store, configuration, clock. Shared as `Arc<App>`.
pub struct App {
    pub store: Store,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub data_dir: PathBuf,
    pub login_throttle: access::throttle::LoginThrottle,
    /// Sessions, tokens and scopes as last read, valid while `store.auth_epoch()` is unchanged.
    pub auth_cache: access::cache::AuthCache,
    /// Requests per address to the public signing routes.
    pub sign_limiter: contracts::SignLimiter,
    /// Encrypts sensitive fields and computes their blind indexes.
    pub fields: crate::crypto::field::FieldCipher,
    /// The customer search index (derived from the store; opened on first use).
    pub search: crate::search::Search,
    /// Rhai plugins from `data/plugins` (hooks: pool.recall, pool.can_claim, assign.pick).
    pub plugins: Arc<crate::script::Plugins>,
    /// Request counters and job durations for `GET /metrics` (kept in memory).
    pub metrics: crate::metrics::Metrics,
    /// The encrypted files under `data/blobs` (scans, photos).
    pub blobs: crate::blobs::Blobs,
    /// The duplicate check's and the application forms' rate limits (kept in memory).
    pub limits: leads::Limiter,
    /// The number lookups each user made in the current day, as keyed hashes: a repeat is
    /// not metered again ([`App::take_number_lookups`]).
    pub looked_up: leads::Seen,
    /// Turns of the customer searches and list pages ([`App::searching`]).
    search_slots: Arc<tokio::sync::Semaphore>,
    /// How many slots there are, and how many requests wait for one (for `/metrics`).
    search_slot_count: usize,
    search_waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl App {
    pub fn new(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        data_dir: PathBuf,
        fields: crate::crypto::field::FieldCipher,
        blob_keys: crate::blobs::BlobKeys,
    ) -> App {
        let search = crate::search::Search::new(&data_dir);
        let search_slots = config.server.search_slots();
        let blobs =
            crate::blobs::Blobs::new(&data_dir, blob_keys, config.documents.upload_limit_bytes);
        let plugins = Arc::new(
            crate::script::Plugins::new(&data_dir.join("plugins")).with_report_limits(
                crate::script::ReportLimits {
                    max_operations: config.reports.max_operations,
                    max_ms: config.reports.max_ms,
                },
            ),
        );
        App {
            store,
            config,
            clock,
            data_dir,
            login_throttle: access::throttle::LoginThrottle::default(),
            auth_cache: access::cache::AuthCache::default(),
            sign_limiter: contracts::SignLimiter::default(),
            fields,
            search,
            plugins,
            metrics: crate::metrics::Metrics::default(),
            blobs,
            limits: leads::Limiter::default(),
            looked_up: leads::Seen::default(),
            search_slots: Arc::new(tokio::sync::Semaphore::new(search_slots)),
            search_slot_count: search_slots,
            search_waiting: Arc::default(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs a use case on tokio's blocking pool, never on an async worker.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        F: FnOnce(&App) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&app))
            .await
            .map_err(|e| Error::Internal(format!("use case task failed: {e}")))?
    }

    /// [`App::blocking`] for a customer search or list page, once one of the search slots
    /// (`server.search_concurrency`, two per core by default) is free. Waiting requests are
    /// let in in arrival order (tokio's semaphore is fair) and each holds its slot until its
    /// use case has returned, so at most that many of these CPU-bound reads share the cores:
    /// eight at once on two cores would each take four times as long, a slow one slowing all
    /// the others, where in turn each waits for the ones ahead and then runs at nearly full
    /// speed (at 10M customers, p99 ×0.60–0.78 for the heavy classes at the same throughput).
    /// A request cut off by the timeout while it waits leaves the queue.
    pub async fn searching<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        F: FnOnce(&App) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let slot = {
            let _waiting = Waiting::new(&self.search_waiting);
            Arc::clone(&self.search_slots)
                .acquire_owned()
                .await
                .map_err(|e| Error::Internal(format!("search slots closed: {e}")))?
        };
        self.blocking(move |app| {
            let out = f(app);
            drop(slot);
            out
        })
        .await
    }

    /// Search slots: (configured, taken now, requests waiting for one).
    pub fn search_slots(&self) -> (usize, usize, usize) {
        let free = self.search_slots.available_permits();
        (
            self.search_slot_count,
            self.search_slot_count.saturating_sub(free),
            self.search_waiting
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

/// Counts a request waiting for a search slot while it waits, also when it is dropped while
/// waiting (the client went away, the timeout cut it off).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a std::sync::atomic::AtomicUsize) -> Waiting<'a> {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A new ULID as a string, from the app's clock (IDs sort by creation time).
///
/// Monotonic within the process: an id made in the same millisecond as (or, with a clock that
/// went back, before) the previous one is the previous one plus one, so ids always sort in the
/// order records were created and cursors never skip or repeat.
pub fn new_id(now: DateTime<Utc>) -> String {
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let fresh = u128::from(ulid::Ulid::from_parts(ms, random_u128() >> 48));
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let next = if fresh > *last {
        fresh
    } else {
        last.saturating_add(1)
    };
    *last = next;
    ulid::Ulid::from(next).to_string()
}

fn random_u128() -> u128 {
    let mut b = [0u8; 16];
    // The OS generator does not fail on Linux once booted; a zero tail still gives a valid,
    // time-ordered id and the store rejects duplicate keys.
    let _ = getrandom::fill(&mut b);
    u128::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_in_creation_order_within_one_millisecond() {
        let now = chrono::Utc::now();
        let ids: Vec<String> = (0..1000).map(|_| super::new_id(now)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        let earlier = super::new_id(now - chrono::Duration::seconds(5));
        assert!(
            earlier > ids[999],
            "a clock that goes back does not break the order"
        );
    }
}
