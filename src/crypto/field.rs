//! Sensitive-field encryption and blind indexes.
//!
//! - Encryption: XChaCha20-Poly1305 under a key derived from the master key (HKDF-SHA256,
//!   info `zhudai field-encryption v1`), a random 192-bit nonce per value (random nonces are
//!   safe at this size), and the record id plus field name as associated data, so a ciphertext
//!   copied onto another record or field fails to decrypt. Stored form: `1:<hex nonce‖ct>`;
//!   the leading key generation lets a key rotation re-encrypt gradually.
//! - Blind index: HMAC-SHA256 under a second derived key (info `zhudai blind-index v1`) over
//!   the field kind and the normalised value. Equal values give equal indexes, so exact lookup
//!   and duplicate checks work without plaintext, and without the key the index reveals nothing
//!   (a plain hash of an 11-digit phone number would be reversed by brute force in seconds).

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::aead::{Aead, AeadInOut, KeyInit, Payload};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keyfile::MasterKey;

const GENERATION: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("encrypted value is malformed")]
    Malformed,
    #[error(
        "encrypted value was written with key generation {0}, which this data directory does not have"
    )]
    UnknownGeneration(String),
    #[error("encrypted value does not verify (wrong key, or moved from another record)")]
    Verify,
    #[error("random generator failed")]
    Random,
}

/// Which kind of value a blind index is over: the same digits as a phone and as a bank card
/// must not collide.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Phone,
    IdNumber,
    BankCard,
}

impl Kind {
    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Phone => b"phone",
            Kind::IdNumber => b"id_number",
            Kind::BankCard => b"bank_card",
        }
    }
}

pub struct FieldCipher {
    aead: XChaCha20Poly1305,
    index_key: [u8; 32],
    lead_key: [u8; 32],
    ticket_key: [u8; 32],
}

pub(crate) fn derive(master: &MasterKey, info: &[u8]) -> [u8; 32] {
    let hk = hkdf::Hkdf::<Sha256>::new(None, master.bytes());
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail here.
    let _ = hk.expand(info, &mut out);
    out
}

impl FieldCipher {
    pub fn new(master: &MasterKey) -> FieldCipher {
        let enc = derive(master, b"zhudai field-encryption v1");
        FieldCipher {
            aead: XChaCha20Poly1305::new(&enc.into()),
            index_key: derive(master, b"zhudai blind-index v1"),
            lead_key: derive(master, b"zhudai lead-check v1"),
            ticket_key: derive(master, b"zhudai apply-ticket v1"),
        }
    }

    /// Encrypts `plain` for field `field` of record `record_id`.
    pub fn encrypt(&self, record_id: &str, field: &str, plain: &str) -> Result<String, FieldError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|_| FieldError::Random)?;
        let aad = format!("{record_id}\0{field}");
        let ct = self
            .aead
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| FieldError::Verify)?;
        let mut out = String::with_capacity(2 + 2 * (24 + ct.len()));
        out.push_str(GENERATION);
        out.push(':');
        out.push_str(&hex::encode(nonce));
        out.push_str(&hex::encode(ct));
        Ok(out)
    }

    pub fn decrypt(
        &self,
        record_id: &str,
        field: &str,
        stored: &str,
    ) -> Result<String, FieldError> {
        let (generation, body) = stored.split_once(':').ok_or(FieldError::Malformed)?;
        if generation != GENERATION {
            return Err(FieldError::UnknownGeneration(generation.to_string()));
        }
        let bytes = hex::decode(body).map_err(|_| FieldError::Malformed)?;
        self.open(record_id, field, generation, &bytes, str::to_string)
    }

    /// [`FieldCipher::decrypt`] of a stored value already split into its key generation and
    /// its nonce‖ciphertext bytes (the compact record keeps them so): the plaintext is handed
    /// to `f` from a stack buffer, which is zeroed afterwards, so a value that is only looked
    /// at (the ID number for an age) is never copied to the heap.
    pub fn open<R>(
        &self,
        record_id: &str,
        field: &str,
        generation: &str,
        bytes: &[u8],
        f: impl FnOnce(&str) -> R,
    ) -> Result<R, FieldError> {
        if generation != GENERATION {
            return Err(FieldError::UnknownGeneration(generation.to_string()));
        }
        if bytes.len() < 24 + 16 {
            return Err(FieldError::Malformed);
        }
        let (nonce, rest) = bytes.split_at(24);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let nonce = XNonce::try_from(nonce).map_err(|_| FieldError::Malformed)?;
        let tag = Tag::try_from(tag).map_err(|_| FieldError::Malformed)?;
        // The associated data `record id \0 field`, on the stack when it fits (it always does
        // for ULID record ids and the field names in use).
        let mut aad_stack = [0u8; 96];
        let aad_heap: Vec<u8>;
        let aad_len = record_id.len() + 1 + field.len();
        let aad: &[u8] = if aad_len <= aad_stack.len() {
            aad_stack[..record_id.len()].copy_from_slice(record_id.as_bytes());
            aad_stack[record_id.len() + 1..aad_len].copy_from_slice(field.as_bytes());
            &aad_stack[..aad_len]
        } else {
            aad_heap = format!("{record_id}\0{field}").into_bytes();
            &aad_heap
        };
        let mut plain_stack = [0u8; 64];
        let mut plain_heap: Vec<u8>;
        let plain: &mut [u8] = if ct.len() <= plain_stack.len() {
            &mut plain_stack[..ct.len()]
        } else {
            plain_heap = vec![0u8; ct.len()];
            &mut plain_heap
        };
        let buf = InOutBuf::new(ct, plain).map_err(|_| FieldError::Malformed)?;
        self.aead
            .decrypt_inout_detached(&nonce, aad, buf, &tag)
            .map_err(|_| FieldError::Verify)?;
        let answer = std::str::from_utf8(plain)
            .map(f)
            .map_err(|_| FieldError::Malformed);
        plain.fill(0);
        answer
    }

    /// A fingerprint of the key (an HMAC of a constant): stored with the data so that a store
    /// is never opened with a key that did not write it.
    pub fn key_check(&self) -> String {
        self.blind_index(Kind::Phone, "zhudai key check v1")
    }

    /// The blind index of a normalised value (hex, 64 characters).
    pub fn blind_index(&self, kind: Kind, normalised: &str) -> String {
        // HMAC accepts keys of any length: new_from_slice cannot fail for 32 bytes.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.index_key) else {
            return String::new();
        };
        mac.update(kind.tag());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl FieldCipher {
    /// A keyed fingerprint of a contract's full text, for the audit log: HMAC-SHA256 under the
    /// blind-index key with its own tag. The same text gives the same value, so entries can be
    /// matched and the server can check a text against them; but unlike a plain SHA-256 an
    /// audit reader cannot test guesses at the masked digits against it offline.
    pub fn content_seal(&self, text: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.index_key) else {
            return String::new();
        };
        mac.update(b"contract_content");
        mac.update(&[0]);
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The lead-check index of a normalised mobile (`docs/leads.md`): HMAC-SHA256 under its
    /// own derived key (info `zhudai lead-check v1`) over the SHA-256 hex of the 11 digits.
    /// A vendor who only sends SHA-256 hashes is answered from the same index
    /// ([`FieldCipher::lead_index_of_sha256`]), and the store file alone reveals nothing: a
    /// plain SHA-256 of an 11-digit number would be reversed by brute force in seconds.
    pub fn lead_index(&self, normalised: &str) -> String {
        self.lead_index_of_sha256(&super::sha256_hex(normalised.as_bytes()))
    }

    /// The MAC of an application form's fill-time ticket (`service::leads::apply`), under its
    /// own derived key (info `zhudai apply-ticket v1`).
    pub fn ticket_mac(&self, data: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.ticket_key) else {
            return String::new();
        };
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// [`FieldCipher::lead_index`] from the lower-case SHA-256 hex of the normalised number.
    pub fn lead_index_of_sha256(&self, sha256_hex: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.lead_key) else {
            return String::new();
        };
        mac.update(sha256_hex.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// `6222 **** **** 1234`-style masking for bank cards: first 4 and last 4 digits.
pub fn mask_bank_card(card: &str) -> String {
    let digits: String = card.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return "*".repeat(digits.len());
    }
    format!(
        "{}{}{}",
        &digits[..4],
        "*".repeat(digits.len() - 8),
        &digits[digits.len() - 4..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> FieldCipher {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = super::super::keyfile::load_or_create(&dir.path().join("k")).unwrap();
        FieldCipher::new(&key)
    }

    #[test]
    fn round_trip_and_binding() {
        let c = cipher();
        let a = c.encrypt("01A", "phone", "13800138000").unwrap();
        let b = c.encrypt("01A", "phone", "13800138000").unwrap();
        assert_ne!(a, b, "random nonce");
        assert!(!a.contains("13800138000"));
        assert_eq!(c.decrypt("01A", "phone", &a).unwrap(), "13800138000");
        assert!(
            matches!(c.decrypt("01B", "phone", &a), Err(FieldError::Verify)),
            "bound to the record"
        );
        assert!(
            matches!(c.decrypt("01A", "id_number", &a), Err(FieldError::Verify)),
            "bound to the field"
        );
        let mut flipped = a.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(
            c.decrypt("01A", "phone", std::str::from_utf8(&flipped).unwrap())
                .is_err()
        );
        assert!(matches!(
            c.decrypt("01A", "phone", "9:00"),
            Err(FieldError::UnknownGeneration(_))
        ));
        assert!(matches!(
            c.decrypt("01A", "phone", "1:zz"),
            Err(FieldError::Malformed)
        ));
        let other = cipher();
        assert!(
            other.decrypt("01A", "phone", &a).is_err(),
            "another master key cannot read it"
        );
    }

    /// `open` (bytes, plaintext on the stack) answers exactly as `decrypt` (text), for short
    /// and long values and long record ids (the heap fallbacks), and refuses alike.
    #[test]
    fn open_agrees_with_decrypt() {
        let c = cipher();
        let long_id = "R".repeat(200);
        let long_value = "长".repeat(40);
        for (id, field, plain) in [
            (
                "01JABCDEFGHJKMNPQRSTVWXYZ0",
                "id_number",
                "11010519491231002X",
            ),
            ("01A", "phone", ""),
            (long_id.as_str(), "id_number", "11010519491231002X"),
            ("01A", "note", long_value.as_str()),
        ] {
            let stored = c.encrypt(id, field, plain).unwrap();
            let (generation, body) = stored.split_once(':').unwrap();
            let bytes = hex::decode(body).unwrap();
            let opened = c
                .open(id, field, generation, &bytes, str::to_string)
                .unwrap();
            assert_eq!(opened, c.decrypt(id, field, &stored).unwrap());
            assert_eq!(opened, plain);
            assert!(matches!(
                c.open("other", field, generation, &bytes, |_| ()),
                Err(FieldError::Verify)
            ));
            assert!(matches!(
                c.open(id, "other", generation, &bytes, |_| ()),
                Err(FieldError::Verify)
            ));
            let mut flipped = bytes.clone();
            flipped[30] ^= 1;
            assert!(matches!(
                c.open(id, field, generation, &flipped, |_| ()),
                Err(FieldError::Verify)
            ));
            assert!(matches!(
                c.open(id, field, "9", &bytes, |_| ()),
                Err(FieldError::UnknownGeneration(_))
            ));
            assert!(matches!(
                c.open(id, field, generation, &bytes[..39], |_| ()),
                Err(FieldError::Malformed)
            ));
        }
    }

    #[test]
    fn lead_index_answers_plain_and_hashed_alike_and_is_keyed() {
        let c = cipher();
        let plain = c.lead_index("13800138000");
        let sha = crate::crypto::sha256_hex(b"13800138000");
        assert_eq!(plain, c.lead_index_of_sha256(&sha));
        assert_ne!(plain, sha, "not the bare hash");
        assert_ne!(plain, c.blind_index(Kind::Phone, "13800138000"));
        assert_eq!(plain.len(), 64);
    }

    #[test]
    fn blind_index_is_keyed_and_kind_separated() {
        let c = cipher();
        let p = c.blind_index(Kind::Phone, "13800138000");
        assert_eq!(p, c.blind_index(Kind::Phone, "13800138000"));
        assert_eq!(p.len(), 64);
        assert_ne!(p, c.blind_index(Kind::BankCard, "13800138000"));
        assert_ne!(p, cipher().blind_index(Kind::Phone, "13800138000"), "keyed");
        assert_ne!(p, crate::crypto::sha256_hex(b"13800138000"));
    }

    #[test]
    fn bank_card_mask() {
        assert_eq!(
            mask_bank_card("6222 0212 3456 7890 123"),
            "6222***********0123"
        );
        assert_eq!(mask_bank_card("1234"), "****");
    }
}
