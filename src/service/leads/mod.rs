//! Leads from outside (docs/leads.md): the lead-vendor duplicate check (撞库, [`check`]) and
//! the public online application forms (在线申请, [`forms`], [`apply`]).

pub mod apply;
pub mod check;
pub mod forms;
pub mod fresh;
mod limits;

pub use limits::{Limiter, Seen};

use crate::crypto::field::Kind;
use crate::service::{Error, Result};

crate::service::use_cases!(
    leads,
    "Leads from outside: the duplicate check for lead vendors and the online application forms."
);

/// Customers per write transaction of the lead index fill.
const FILL_BATCH: usize = 2_000;

impl UseCases<'_> {
    /// Fills the lead-check index of customers written before schema 24
    /// (`store::leads::FILL_CURSOR`), in batches that each commit their cursor: run at start,
    /// before serving. Returns whether there was anything to fill.
    pub fn fill_lead_index(&self) -> Result<bool> {
        let pending = self
            .store
            .read(|tx| Ok::<_, Error>(crate::store::leads::fill_pending(tx)?))?;
        if !pending {
            return Ok(false);
        }
        let lead_of = |id: &str, field: &str, s: &crate::domain::customer::Sealed| {
            let plain = self
                .fields
                .decrypt(id, field, &s.enc)
                .map_err(|e| format!("{id}.{field}: {e}"))?;
            // The stored value is the normalised mobile; the blind index proves it.
            if self.fields.blind_index(Kind::Phone, &plain) != s.bidx {
                return Err(format!("{id}.{field}: blind index does not match"));
            }
            Ok(self.fields.lead_index(&plain))
        };
        let mut batches = 0u64;
        loop {
            let done = self.store.write(|tx| {
                Ok::<_, Error>(crate::store::leads::fill_batch(tx, FILL_BATCH, &lead_of)?)
            })?;
            batches += 1;
            if done {
                tracing::info!(batches, "lead-check index filled (schema 24)");
                return Ok(true);
            }
        }
    }
}
