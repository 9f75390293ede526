//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1: the OWASP minimum).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::service::{Error, Result};

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// At most one argon2 computation per CPU at a time: each takes 19 MiB, and unauthenticated
/// requests (login, setup) can ask for them.
struct Slots {
    free: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

fn slots() -> &'static Slots {
    static SLOTS: std::sync::OnceLock<Slots> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| Slots {
        free: std::sync::Mutex::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        freed: std::sync::Condvar::new(),
    })
}

fn with_slot<T>(f: impl FnOnce() -> T) -> T {
    let s = slots();
    {
        let mut free = s.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = s.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
    }
    let out = f();
    *s.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    s.freed.notify_one();
    out
}

pub fn hash(password: &str) -> Result<String> {
    let hasher = hasher()?;
    let hash = with_slot(|| hasher.hash_password(password.as_bytes()))
        .map_err(|e| Error::Internal(format!("argon2 hash: {e}")))?;
    Ok(hash.to_string())
}

/// True when `password` matches `phc`. A malformed stored hash counts as no match (and is
/// logged), so a damaged record locks one account rather than opening it.
pub fn verify(phc: &str, password: &str) -> bool {
    let Ok(h) = hasher() else { return false };
    match with_slot(|| h.verify_password(password.as_bytes(), phc)) {
        Ok(()) => true,
        Err(argon2::password_hash::Error::PasswordInvalid) => false,
        Err(e) => {
            tracing::warn!(error = %e, "stored password hash could not be checked");
            false
        }
    }
}

/// Spends the same time as a real check, for unknown usernames (no user enumeration by timing).
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("zhudai-dummy-password").unwrap_or_default());
    let _ = verify(phc, password);
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(super::verify(&h, "correct horse"));
        assert!(!super::verify(&h, "correct horsE"));
        assert!(!super::verify("not a hash", "x"));
    }
}
