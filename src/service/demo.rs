//! Synthetic data written through the store, for `zhudai demo`, benchmarks and trials.

use super::{App, Error, Result, new_id, password};
use crate::domain::org::{User, UserStatus};
use crate::store::users;
use crate::synth::Generator;

/// The password of every synthetic staff account (printed by `zhudai demo`).
pub const DEMO_PASSWORD: &str = "zhudai-demo-2026";

impl App {
    /// Adds `n` synthetic staff accounts (`staff0001`…; one manager per ten) in one
    /// transaction; existing usernames are skipped, so running it twice adds nothing.
    /// Returns how many were added.
    pub fn demo_staff(&self, n: u64, seed: u64) -> Result<u64> {
        let now = self.now();
        // One hash for all: hashing thousands of demo passwords would take minutes.
        let hash = password::hash(DEMO_PASSWORD)?;
        let mut generator = Generator::new(seed, now);
        self.store.write(|tx| {
            let mut added = 0;
            for i in 1..=n {
                let username = format!("staff{i:04}");
                let role = if i % 10 == 1 { "manager" } else { "sales" };
                let user = User {
                    id: new_id(now),
                    username,
                    display_name: generator.staff_name(),
                    password_hash: hash.clone(),
                    roles: vec![role.into()],
                    status: UserStatus::Active,
                    department_id: None,
                    manager_id: None,
                    phone_enc: None,
                    phone_bidx: None,
                    phone_masked: None,
                    created_at: now,
                    updated_at: now,
                };
                match users::insert(tx, &user) {
                    Ok(()) => added += 1,
                    Err(crate::store::Error::Conflict(_)) => {}
                    Err(e) => return Err(Error::from(e)),
                }
            }
            Ok(added)
        })
    }
}
