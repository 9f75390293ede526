//! The audit chain's head kept outside the store: `data/audit-head`, one line `<seq>:<hash>`,
//! rewritten after each commit that appended audit entries. Deleting the newest entries from
//! the store leaves a chain that verifies; the anchor is what shows it is shorter than it was.
//!
//! The file is written after the commit, never before, so a crash in between leaves it behind
//! the chain (by the entries of the last commits), never ahead: `doctor` reports a lagging
//! anchor as a note when the chain holds the anchored entry unchanged, and a chain that ends
//! before the anchor, or holds another entry at its place, as a failure. When the server
//! starts on a store that does not extend its anchor, the file is left as evidence and not
//! advanced again until `doctor` has been run and the operator resolved it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::audit::{self, AgainstAnchor, Head};
use super::{Result, Store};

pub const FILE: &str = "audit-head";

/// The anchor file beside a store file.
pub fn path_for(store_path: &Path) -> PathBuf {
    store_path.with_file_name(FILE)
}

/// The anchored head; `None` when there is no file yet. A file that cannot be read or parsed
/// is an error, never "no anchor".
pub fn read(path: &Path) -> std::result::Result<Option<Head>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<Head>()
            .map(Some)
            .map_err(|e| format!("{} is damaged: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the file atomically and durably (temporary file, fsync, rename).
pub fn write(path: &Path, head: &Head) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!("{FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{head}")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The live anchor of an open store (see [`Store::keep_audit_anchor`]).
pub struct Anchor {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    /// The sequence number in the file; only a newer head is written.
    written: u64,
    /// The store does not extend the anchor: leave the file alone.
    frozen: bool,
}

impl Anchor {
    /// Checks the file against the store's chain and brings it up to the chain's head when
    /// the chain extends it (first start after an upgrade, or a crash after a commit).
    pub(super) fn open(store: &Store) -> Result<Anchor> {
        let path = path_for(store.path());
        let head = store.read(audit::head)?;
        let mut state = State {
            written: 0,
            frozen: false,
        };
        match read(&path) {
            Err(e) => {
                tracing::error!(error = %e, "audit anchor unreadable; left as is, run `zhudai doctor`");
                state.frozen = true;
            }
            Ok(anchored) => {
                let anchored = anchored.unwrap_or(Head {
                    seq: 0,
                    hash: String::new(),
                });
                match store.read(|tx| audit::against(tx, &anchored))? {
                    AgainstAnchor::Matches => state.written = anchored.seq,
                    AgainstAnchor::Extends { .. } => {
                        state.written = anchored.seq;
                        if let Some(head) = &head {
                            advance_file(&path, &mut state, head);
                        }
                    }
                    found => {
                        tracing::error!(
                            anchor = %anchored,
                            ?found,
                            "the audit log does not extend its anchor (entries deleted or rewritten?); the anchor is kept as evidence, run `zhudai doctor`"
                        );
                        state.frozen = true;
                    }
                }
            }
        }
        Ok(Anchor {
            path,
            state: Mutex::new(state),
        })
    }

    /// After a commit that appended entries up to `head`.
    pub(super) fn advance(&self, head: &Head) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        advance_file(&self.path, &mut state, head);
    }

    /// After the chain was re-sealed under a new key (hashes changed, same entries).
    pub(super) fn reset(&self, head: &Head) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        write(&self.path, head)?;
        state.written = head.seq;
        state.frozen = false;
        Ok(())
    }
}

fn advance_file(path: &Path, state: &mut State, head: &Head) {
    if state.frozen || head.seq <= state.written {
        return;
    }
    match write(path, head) {
        Ok(()) => state.written = head.seq,
        // The chain is committed; the anchor lags until the next write succeeds.
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "cannot write the audit anchor")
        }
    }
}
