//! `keys/master.key`: 256 random bits from which the field-encryption and blind-index keys are
//! derived. Created once, mode 0600; losing it makes encrypted fields unreadable, so backups
//! carry it (inside the encrypted archive).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

const HEADER: &str = "zhudai-master-key-v1";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the key file {0} is not a zhudai master key (expected a `{HEADER}` header and 64 hex digits)"
    )]
    Format(String),
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// The master key bytes. Not `Debug`/`Display`, so it cannot end up in a log line by accident.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0 = [0; 32];
    }
}

/// Loads the key, creating it (0600, in a 0700 directory) when absent. Returns whether it was new.
pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(&text, path).map(|k| (k, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    // Written whole to a temporary name, then linked into place: a crash never leaves a
    // half-written key under the real name, and a link never overwrites a key that appeared
    // meanwhile.
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    writeln!(file, "{HEADER}\n{}", hex::encode(bytes)).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(io)?;
    if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok((MasterKey(bytes), true))
}

fn parse(text: &str, path: &Path) -> Result<MasterKey, KeyError> {
    let bad = || KeyError::Format(path.display().to_string());
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(bad());
    }
    let hex_key = lines.next().ok_or_else(bad)?.trim();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut bytes).map_err(|_| bad())?;
    Ok(MasterKey(bytes))
}

/// Loads an existing key; never creates one (for checks and restores).
pub fn load(path: &Path) -> Result<MasterKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, path)
}

/// Mode bits of the key file when group or others can read it (reported by `doctor`).
pub fn loose_permissions(path: &Path) -> std::io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let (a, new_a) = load_or_create(&path).unwrap();
        let (b, new_b) = load_or_create(&path).unwrap();
        assert!(new_a && !new_b);
        assert_eq!(a.bytes(), b.bytes());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(loose_permissions(&path).unwrap(), None);
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(load_or_create(&path), Err(KeyError::Format(_))));
    }
}
