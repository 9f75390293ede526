//! Master-key rotation (`zhudai doctor --rotate-key`), offline and resumable.
//!
//! 1. A new key is written to `keys/master.next.key` (kept if it already exists: resume).
//! 2. Records are re-sealed in batches, one write transaction each: every sensitive value is
//!    decrypted with the old key and encrypted, and blind-indexed, with the new one. A value
//!    that already opens with the new key is skipped, so a rerun after an interruption picks
//!    up where it stopped and never double-encrypts.
//! 3. Only when every record is done, `master.key` is renamed to `master.key.retired-<time>`
//!    and `master.next.key` becomes `master.key`. While `master.next.key` exists the server
//!    refuses to start (see `datadir::prepare`).

use serde_json::json;

use crate::crypto::field::{FieldCipher, Kind};
use crate::domain::contract::Contract;
use crate::domain::customer::{Customer, Sealed};
use crate::domain::org::User;
use crate::service::{Error, Result, access::audit};
use crate::store::customers::{Reader, Unscoped};
use crate::store::{audit::NewAudit, contracts, customers, users};

const BATCH: usize = 500;

/// Progress reports: (records done, records in all).
pub type OnProgress<'a> = &'a mut dyn FnMut(u64, u64);

fn reseal(
    old: &FieldCipher,
    new: &FieldCipher,
    record: &str,
    field: &str,
    kind: Kind,
    s: &Sealed,
) -> Result<Option<Sealed>> {
    if new.decrypt(record, field, &s.enc).is_ok() {
        return Ok(None);
    }
    let plain = old
        .decrypt(record, field, &s.enc)
        .map_err(|e| Error::Internal(format!("{record}.{field} opens with neither key: {e}")))?;
    Ok(Some(Sealed {
        enc: new
            .encrypt(record, field, &plain)
            .map_err(|e| Error::Internal(e.to_string()))?,
        bidx: new.blind_index(kind, &plain),
        lead: match kind {
            Kind::Phone => new.lead_index(&plain),
            _ => String::new(),
        },
        masked: s.masked.clone(),
        tail: s.tail.clone(),
    }))
}

fn reseal_customer(old: &FieldCipher, new: &FieldCipher, c: &Customer) -> Result<Option<Customer>> {
    let mut out = c.clone();
    let mut changed = false;
    if let Some(s) = reseal(old, new, &c.id, "phone", Kind::Phone, &c.phone)? {
        out.phone = s;
        changed = true;
    }
    for (i, p) in c.extra_phones.iter().enumerate() {
        if let Some(s) = reseal(
            old,
            new,
            &c.id,
            &format!("extra_phones.{i}"),
            Kind::Phone,
            p,
        )? {
            out.extra_phones[i] = s;
            changed = true;
        }
    }
    if let Some(idn) = &c.id_number
        && let Some(s) = reseal(old, new, &c.id, "id_number", Kind::IdNumber, idn)?
    {
        out.id_number = Some(s);
        changed = true;
    }
    Ok(changed.then_some(out))
}

/// One encrypted text value (no blind index) under the new key; `None` when it already is.
fn reseal_text(
    old: &FieldCipher,
    new: &FieldCipher,
    record: &str,
    field: &str,
    enc: &str,
) -> Result<Option<String>> {
    if new.decrypt(record, field, enc).is_ok() {
        return Ok(None);
    }
    let plain = old
        .decrypt(record, field, enc)
        .map_err(|e| Error::Internal(format!("{record}.{field} opens with neither key: {e}")))?;
    new.encrypt(record, field, &plain)
        .map(Some)
        .map_err(|e| Error::Internal(e.to_string()))
}

/// A contract's frozen text and signature image under the new key.
fn reseal_contract(old: &FieldCipher, new: &FieldCipher, c: &Contract) -> Result<Option<Contract>> {
    let mut out = c.clone();
    let mut changed = false;
    // An erased contract's content is gone (empty): nothing to reseal.
    if !c.content_enc.is_empty()
        && let Some(enc) = reseal_text(old, new, &c.id, "content", &c.content_enc)?
    {
        out.content_enc = enc;
        changed = true;
    }
    if let Some(s) = &c.signing
        && let Some(enc) = reseal_text(old, new, &c.id, "signature", &s.signature_enc)?
        && let Some(os) = out.signing.as_mut()
    {
        os.signature_enc = enc;
        changed = true;
    }
    Ok(changed.then_some(out))
}

fn reseal_user(old: &FieldCipher, new: &FieldCipher, u: &User) -> Result<Option<User>> {
    let Some(enc) = &u.phone_enc else {
        return Ok(None);
    };
    if new.decrypt(&u.id, "phone", enc).is_ok() {
        return Ok(None);
    }
    let plain = old
        .decrypt(&u.id, "phone", enc)
        .map_err(|e| Error::Internal(format!("user {} phone opens with neither key: {e}", u.id)))?;
    let mut out = u.clone();
    out.phone_enc = Some(
        new.encrypt(&u.id, "phone", &plain)
            .map_err(|e| Error::Internal(e.to_string()))?,
    );
    out.phone_bidx = Some(new.blind_index(Kind::Phone, &plain));
    Ok(Some(out))
}

/// A call's numbers under `new` (`None`: already there).
fn reseal_call(
    old: &FieldCipher,
    new: &FieldCipher,
    c: &crate::domain::call::Call,
) -> Result<Option<crate::domain::call::Call>> {
    if new.decrypt(&c.id, "from", &c.from_enc).is_ok() {
        return Ok(None);
    }
    let mut out = c.clone();
    for (field, enc) in [("from", &mut out.from_enc), ("to", &mut out.to_enc)] {
        let plain = old.decrypt(&c.id, field, enc).map_err(|e| {
            Error::Internal(format!("call {} {field} opens with neither key: {e}", c.id))
        })?;
        *enc = new
            .encrypt(&c.id, field, &plain)
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    Ok(Some(out))
}

impl crate::service::platform::UseCases<'_> {
    /// Re-seals every sensitive value under `new` (this app's own cipher is the old key).
    /// Returns how many records changed.
    pub fn rotate_fields(&self, new: &FieldCipher, progress: OnProgress) -> Result<u64> {
        let now = self.now();
        let all_users = self.store.read(users::all)?;
        let mut ids = Vec::new();
        self.store.read(|tx| {
            Reader::unscoped(tx, Unscoped::Maintenance).scan_all(None, |c| {
                ids.push(c.id);
                true
            })
        })?;
        let contract_ids = self
            .store
            .read(|tx| Ok::<_, Error>(contracts::all_ids(tx)?))?;
        let total = (all_users.len() + ids.len() + contract_ids.len()) as u64;
        let mut done = 0u64;
        let mut changed = 0u64;
        self.store.write(|tx| {
            for u in &all_users {
                if let Some(nu) = reseal_user(&self.fields, new, u)? {
                    users::update(tx, &nu)?;
                    changed += 1;
                }
            }
            Ok::<_, Error>(())
        })?;
        done += all_users.len() as u64;
        progress(done, total);
        for chunk in ids.chunks(BATCH) {
            let n = self.store.write(|tx| {
                let mut n = 0;
                let all = Reader::unscoped(tx, Unscoped::Maintenance);
                for id in chunk {
                    let Some(before) = all.any(id)? else {
                        continue;
                    };
                    if let Some(after) = reseal_customer(&self.fields, new, &before)? {
                        customers::put(tx, Some(&before), &after)?;
                        n += 1;
                    }
                }
                Ok::<_, Error>(n)
            })?;
            changed += n;
            done += chunk.len() as u64;
            progress(done, total);
        }
        for chunk in contract_ids.chunks(BATCH) {
            let n = self.store.write(|tx| {
                let mut n = 0;
                for id in chunk {
                    let Some(before) = contracts::for_maintenance(tx, id)? else {
                        continue;
                    };
                    if let Some(after) = reseal_contract(&self.fields, new, &before)? {
                        contracts::put(tx, Some(&before), &after)?;
                        n += 1;
                    }
                }
                Ok::<_, Error>(n)
            })?;
            changed += n;
            done += chunk.len() as u64;
            progress(done, total);
        }
        // Calls' numbers (issue 22): encrypted with the field cipher too.
        let call_ids = self.store.read(crate::store::calls::all_ids)?;
        for chunk in call_ids.chunks(BATCH) {
            changed += self.store.write(|tx| {
                let mut n = 0;
                let calls = crate::store::calls::Reader::unscoped(
                    tx,
                    crate::store::calls::Unscoped::Maintenance,
                );
                for id in chunk {
                    let Some(before) = calls.get(id)? else {
                        continue;
                    };
                    if let Some(after) = reseal_call(&self.fields, new, &before)? {
                        crate::store::calls::update(tx, &after)?;
                        n += 1;
                    }
                }
                Ok::<_, Error>(n)
            })?;
        }
        self.store.write(|tx| {
            audit::record(
                tx,
                now,
                NewAudit {
                    actor_id: None,
                    actor: "operator".into(),
                    action: "key.rotated",
                    target: None,
                    detail: json!({"records_resealed": changed, "records_checked": total}),
                    source: "cli".into(),
                },
            )
        })?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::call::{Call, CallResult, Direction};

    fn cipher() -> FieldCipher {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = crate::crypto::keyfile::load_or_create(&dir.path().join("k")).unwrap();
        FieldCipher::new(&key)
    }

    #[test]
    fn a_calls_numbers_move_to_the_new_key_once() {
        let (old, new) = (cipher(), cipher());
        let call = Call {
            id: "c1".into(),
            external_id: "x".into(),
            direction: Direction::Out,
            from_enc: old.encrypt("c1", "from", "8001").unwrap(),
            from_masked: "****".into(),
            to_enc: old.encrypt("c1", "to", "13800138000").unwrap(),
            to_masked: "138****8000".into(),
            started_at: chrono::DateTime::UNIX_EPOCH,
            ring_seconds: 0,
            talk_seconds: 0,
            result: CallResult::Busy,
            agent: "8001".into(),
            user_id: None,
            customer_id: None,
            recording: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let after = reseal_call(&old, &new, &call).unwrap().unwrap();
        assert_eq!(new.decrypt("c1", "from", &after.from_enc).unwrap(), "8001");
        assert_eq!(
            new.decrypt("c1", "to", &after.to_enc).unwrap(),
            "13800138000"
        );
        assert!(
            reseal_call(&old, &new, &after).unwrap().is_none(),
            "resumable: done once"
        );
    }
}
