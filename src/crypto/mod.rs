//! Secrets and hashing: random tokens, SHA-256 digests, the master key file.
//! Field encryption and blind indexes build on the master key (accounts issue).

pub mod field;
pub mod keyfile;

use sha2::{Digest, Sha256};

/// 256 bits from the OS generator, hex-encoded. Used for session, setup and API tokens.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The key of the audit log's HMAC chain (HKDF-SHA256 of the master key, info
/// `zhudai audit-chain v1`): whoever can edit the store file but lacks the key cannot
/// recompute the chain after rewriting or deleting entries.
pub fn audit_key(master: &keyfile::MasterKey) -> crate::store::audit::AuditKey {
    crate::store::audit::AuditKey::new(
        field::derive(master, b"zhudai audit-chain v1"),
        field::FieldCipher::new(master).key_check(),
    )
}

/// Equal-time comparison for secrets of equal length (hash strings).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
