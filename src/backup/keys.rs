//! Key material for backups: what to encrypt to (a passphrase, or age X25519 recipients) and
//! what to decrypt with (the passphrase, or identity files). Secrets come from files, never
//! from the command line.

use std::path::Path;
use std::str::FromStr;

use age::secrecy::SecretString;

use super::{Error, Result};

/// The scrypt work factor (log2 N) for passphrase backups: what the age command-line tool
/// uses. Set explicitly: the crate's default is tuned to ~1 s of the running binary, which
/// would make a debug build write weak files.
pub const SCRYPT_WORK_FACTOR: u8 = 18;
/// The largest work factor accepted when decrypting (2^20 needs 1 GiB of memory).
pub const SCRYPT_MAX_WORK_FACTOR: u8 = 20;

/// How a new backup is encrypted.
pub enum Encryption {
    Passphrase(SecretString),
    Recipients(Vec<age::x25519::Recipient>),
}

/// How an existing backup is opened.
pub enum Unlock {
    Passphrase(SecretString),
    Identities(Vec<Box<dyn age::Identity + Send + Sync>>),
}

/// The passphrase is the file's first line (without its line ending); an empty one is refused.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Key(format!(
            "cannot read the passphrase file {}: {e}",
            path.display()
        ))
    })?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(Error::Key(format!(
            "the passphrase file {} is empty (its first line is the passphrase)",
            path.display()
        )));
    }
    Ok(SecretString::from(first.to_string()))
}

/// Parses one `age1…` X25519 recipient.
pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient> {
    let text = text.trim();
    if text.starts_with("ssh-") {
        return Err(Error::Key(format!(
            "SSH keys are not supported as backup recipients ({}…); create an age key with age-keygen and use its age1… recipient",
            &text.chars().take(11).collect::<String>()
        )));
    }
    age::x25519::Recipient::from_str(text).map_err(|_| {
        Error::Key(format!(
            "`{}` is not an age X25519 recipient (expected age1… as printed by age-keygen)",
            text.chars().take(80).collect::<String>()
        ))
    })
}

/// A recipients file: one recipient per line; blank lines and `#` comments are skipped.
pub fn read_recipients_file(path: &Path) -> Result<Vec<age::x25519::Recipient>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Key(format!(
            "cannot read the recipients file {}: {e}",
            path.display()
        ))
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(
            parse_recipient(line)
                .map_err(|e| Error::Key(format!("{} line {}: {e}", path.display(), n + 1)))?,
        );
    }
    if out.is_empty() {
        return Err(Error::Key(format!(
            "the recipients file {} names no recipient",
            path.display()
        )));
    }
    Ok(out)
}

/// An identity file as written by `age-keygen` (X25519 identities).
pub fn read_identity_file(path: &Path) -> Result<Unlock> {
    let file = age::IdentityFile::from_file(path.display().to_string()).map_err(|e| {
        Error::Key(format!(
            "cannot read the identity file {}: {e}",
            path.display()
        ))
    })?;
    let identities = file
        .into_identities()
        .map_err(|e| Error::Key(format!("identity file {}: {e}", path.display())))?;
    if identities.is_empty() {
        return Err(Error::Key(format!(
            "the identity file {} holds no identity (AGE-SECRET-KEY-1…)",
            path.display()
        )));
    }
    Ok(Unlock::Identities(identities))
}

impl Encryption {
    pub(super) fn encryptor(&self) -> Result<age::Encryptor> {
        match self {
            Encryption::Passphrase(pass) => {
                let mut r = age::scrypt::Recipient::new(pass.clone());
                r.set_work_factor(SCRYPT_WORK_FACTOR);
                age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                    .map_err(|e| Error::Key(format!("cannot encrypt: {e}")))
            }
            Encryption::Recipients(list) => {
                if list.is_empty() {
                    return Err(Error::Key("no recipient given".into()));
                }
                age::Encryptor::with_recipients(list.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| Error::Key(format!("cannot encrypt: {e}")))
            }
        }
    }
}

/// Opens the age layer of `input`, mapping age's errors to ours.
pub(super) fn decrypt<R: std::io::BufRead>(
    input: R,
    unlock: &Unlock,
    path: &Path,
) -> Result<age::stream::StreamReader<R>> {
    let decryptor = match age::Decryptor::new_buffered(input) {
        Ok(d) => d,
        Err(age::DecryptError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(Error::Truncated);
        }
        Err(age::DecryptError::Io(e)) if e.kind() != std::io::ErrorKind::InvalidData => {
            return Err(Error::Io {
                what: format!("cannot read {}", path.display()),
                source: e,
            });
        }
        Err(_) => return Err(Error::NotAge(path.to_path_buf())),
    };
    let result = match (unlock, decryptor.is_scrypt()) {
        (Unlock::Passphrase(pass), true) => {
            let mut identity = age::scrypt::Identity::new(pass.clone());
            identity.set_max_work_factor(SCRYPT_MAX_WORK_FACTOR);
            decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        }
        (Unlock::Identities(ids), false) => {
            decryptor.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        }
        (Unlock::Passphrase(_), false) => return Err(Error::NeedsIdentity),
        (Unlock::Identities(_), true) => return Err(Error::NeedsPassphrase),
    };
    result.map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => Error::WrongKey,
        age::DecryptError::InvalidMac => Error::Corrupted(
            "the age header does not verify (damaged file, or the passphrase is wrong)".into(),
        ),
        age::DecryptError::ExcessiveWork { required, .. } => Error::Corrupted(format!(
            "the passphrase work factor 2^{required} is larger than zhudai accepts (2^{SCRYPT_MAX_WORK_FACTOR})"
        )),
        other => Error::Corrupted(other.to_string()),
    })
}
