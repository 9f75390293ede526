//! The bounded log of plugin failures at run time (a script that throws, returns a result that
//! breaks its hook's schema, or names someone it was not offered). Every failure is recorded
//! here with where it happened and the record it was deciding about; the plugins page shows
//! the counts since the last save and the latest failures, and a hook whose last call failed
//! is "failing" (the admin banner) until a call succeeds or the plugin is saved again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ScriptError;

/// Failures kept in memory (the oldest go first).
pub const KEEP: usize = 200;
/// Failures a sweep report lists.
pub const REPORT_FIRST: usize = 10;

/// One failure of a hook at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginFailure {
    /// `pool.recall`
    pub hook: String,
    /// The saved version that ran (`None`: a file not saved as a version, or the built-in).
    pub version: Option<String>,
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    /// The customer the hook was deciding about.
    pub record_id: Option<String>,
    pub at: DateTime<Utc>,
}

impl PluginFailure {
    pub fn new(
        hook: &str,
        version: Option<String>,
        e: &ScriptError,
        record_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> PluginFailure {
        PluginFailure {
            hook: hook.to_string(),
            version,
            file: e.file.clone(),
            line: e.line,
            message: e.message.clone(),
            record_id: record_id.map(str::to_string),
            at,
        }
    }
}

#[derive(Default)]
struct State {
    recent: VecDeque<PluginFailure>,
    /// Failures per hook since the plugin serving it was last saved.
    counts: BTreeMap<String, u64>,
    /// Hooks whose last call failed.
    failing: BTreeSet<String>,
}

/// The log, shared by every thread that runs hooks.
#[derive(Default)]
pub struct ErrorLog {
    state: Mutex<State>,
}

impl ErrorLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one failure.
    pub fn record(&self, f: PluginFailure) {
        self.record_many(&f.hook.clone(), 1, vec![f]);
    }

    /// Records `count` failures of `hook` of which `sample` are kept (a sweep's first ones).
    pub fn record_many(&self, hook: &str, count: u64, sample: Vec<PluginFailure>) {
        if count == 0 {
            return;
        }
        let mut st = self.lock();
        *st.counts.entry(hook.to_string()).or_default() += count;
        st.failing.insert(hook.to_string());
        for f in sample {
            if st.recent.len() >= KEEP {
                st.recent.pop_front();
            }
            st.recent.push_back(f);
        }
    }

    /// A call of `hook` succeeded: it is no longer failing.
    pub fn ok(&self, hook: &str) {
        let mut st = self.lock();
        if st.failing.contains(hook) {
            st.failing.remove(hook);
        }
    }

    /// Forgets the counts and failing state of these hooks (their plugin was saved).
    pub fn reset(&self, hooks: &[&str]) {
        let mut st = self.lock();
        for h in hooks {
            st.counts.remove(*h);
            st.failing.remove(*h);
        }
        st.recent.retain(|f| !hooks.contains(&f.hook.as_str()));
    }

    pub fn count(&self, hook: &str) -> u64 {
        self.lock().counts.get(hook).copied().unwrap_or(0)
    }

    pub fn failing(&self) -> Vec<String> {
        self.lock().failing.iter().cloned().collect()
    }

    /// The latest failures of these hooks, newest first.
    pub fn recent(&self, hooks: &[&str], limit: usize) -> Vec<PluginFailure> {
        self.lock()
            .recent
            .iter()
            .rev()
            .filter(|f| hooks.contains(&f.hook.as_str()))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// Failures met during one sweep: counted, the first few kept, logged once at the end.
#[derive(Default)]
pub struct Collector {
    state: Mutex<(u64, Vec<PluginFailure>)>,
}

impl Collector {
    pub fn add(&self, f: PluginFailure) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += 1;
        if st.1.len() < REPORT_FIRST {
            st.1.push(f);
        }
    }

    pub fn take(&self) -> (u64, Vec<PluginFailure>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = (st.0, std::mem::take(&mut st.1));
        st.0 = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(hook: &str, n: usize) -> PluginFailure {
        PluginFailure {
            hook: hook.into(),
            version: None,
            file: "pool.rhai".into(),
            line: Some(n),
            message: "boom".into(),
            record_id: None,
            at: DateTime::default(),
        }
    }

    #[test]
    fn the_log_is_bounded_counts_since_save_and_tracks_failing_hooks() {
        let log = ErrorLog::default();
        for n in 0..KEEP + 5 {
            log.record(failure("pool.recall", n));
        }
        log.record(failure("assign.pick", 1));
        assert_eq!(log.count("pool.recall"), (KEEP + 5) as u64);
        let recent = log.recent(&["pool.recall"], usize::MAX);
        assert_eq!(recent.len(), KEEP - 1, "bounded, the oldest dropped");
        assert_eq!(recent[0].line, Some(KEEP + 4), "newest first");
        assert_eq!(log.failing(), vec!["assign.pick", "pool.recall"]);
        log.ok("assign.pick");
        assert_eq!(log.failing(), vec!["pool.recall"]);
        log.reset(&["pool.recall", "pool.can_claim"]);
        assert_eq!(log.count("pool.recall"), 0);
        assert!(log.failing().is_empty());
        assert_eq!(log.recent(&["assign.pick"], 10).len(), 1);
    }
}
