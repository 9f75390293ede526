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

/// Opens the age layer of `input`, mapping age's errors to ours. A key that does not open the
/// file is told from a damaged header: when decryption fails, the header is checked on its own
/// (see [`header_problem`]) and any damage found is reported as such, not as a wrong key.
pub(super) fn decrypt<R: std::io::BufRead>(
    input: R,
    unlock: &Unlock,
    path: &Path,
) -> Result<age::stream::StreamReader<R>> {
    let damaged = |fallback: Error| match header_problem(path) {
        Some(HeaderProblem::Damaged(why)) => Error::DamagedHeader(why),
        Some(HeaderProblem::NotAge) => Error::NotAge(path.to_path_buf()),
        None => fallback,
    };
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
        Err(e) => {
            return Err(damaged(Error::DamagedHeader(format!(
                "age cannot parse it: {e}"
            ))));
        }
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
        (Unlock::Passphrase(_), false) => return Err(damaged(Error::NeedsIdentity)),
        (Unlock::Identities(_), true) => return Err(damaged(Error::NeedsPassphrase)),
    };
    result.map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => damaged(Error::WrongKey),
        // The key unwrapped the file key (a wrong one cannot), so the header was altered.
        age::DecryptError::InvalidMac => Error::DamagedHeader(
            "its MAC does not match the rest of the header, which the key given did open".into(),
        ),
        age::DecryptError::InvalidHeader => {
            damaged(Error::DamagedHeader("age cannot read a recipient stanza".into()))
        }
        age::DecryptError::ExcessiveWork { required, .. } => damaged(Error::Corrupted(format!(
            "the passphrase work factor 2^{required} is larger than zhudai accepts (2^{SCRYPT_MAX_WORK_FACTOR})"
        ))),
        other => damaged(Error::Corrupted(other.to_string())),
    })
}

/// What is wrong with a file's age header, read on its own (no key needed).
#[derive(Debug, PartialEq)]
pub(super) enum HeaderProblem {
    /// Nothing in it looks like age: not an age file at all.
    NotAge,
    /// An age header, but one that zhudai (or age) never writes: damaged.
    Damaged(String),
}

/// The longest header read: zhudai writes one scrypt stanza or one stanza per recipient.
const HEADER_LIMIT: usize = 256 * 1024;
const MAGIC: &str = "age-encryption.org/v1";

/// Checks the age header of `path` strictly, as zhudai and age write it: the version line, then
/// `scrypt` (a 16-byte salt and a work factor) or `X25519` (a 32-byte share) stanzas, each with
/// a 32-byte wrapped key, in canonical unpadded base64, then the 32-byte MAC line. `None` when
/// it is well-formed (or cannot be read: the caller's own error stands). A bit flipped inside
/// a wrapped key or a salt is still well-formed; only the key can tell, and then it is
/// reported as the key.
pub(super) fn header_problem(path: &Path) -> Option<HeaderProblem> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(HEADER_LIMIT as u64)
        .read_to_end(&mut head)
        .ok()?;
    let looks_like_age = head.starts_with(b"age")
        || head.windows(4).take(256).any(|w| w == b"\n-> ")
        || head
            .get(..MAGIC.len())
            .is_some_and(|h| h.iter().zip(MAGIC.bytes()).filter(|(a, b)| *a != b).count() <= 2);
    if !looks_like_age {
        return Some(HeaderProblem::NotAge);
    }
    let damaged = |why: String| Some(HeaderProblem::Damaged(why));
    let mut lines = head.split(|b| *b == b'\n');
    if lines.next() != Some(MAGIC.as_bytes()) {
        return damaged("its first line is not age's version line".into());
    }
    let b64 = |s: &[u8], len: usize| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s)
            .ok()
            .filter(|v| v.len() == len)
    };
    let mut kinds = Vec::new();
    let mut line = lines.next();
    loop {
        // Ended inside the header: age reports that as truncated.
        let l = line?;
        if let Some(mac) = l.strip_prefix(b"--- ") {
            if b64(mac, 32).is_none() {
                return damaged("its MAC line is not a 32-byte MAC".into());
            }
            break;
        }
        let Some(stanza) = l.strip_prefix(b"-> ") else {
            return damaged(format!(
                "line {} is neither a recipient stanza nor the MAC line",
                kinds.len() + 2
            ));
        };
        let parts: Vec<&[u8]> = stanza.split(|b| *b == b' ').collect();
        let kind = String::from_utf8_lossy(parts[0]).to_string();
        let args_ok = match (kind.as_str(), &parts[1..]) {
            ("scrypt", [salt, work]) => {
                b64(salt, 16).is_some()
                    && !work.is_empty()
                    && work.len() <= 2
                    && work.iter().all(u8::is_ascii_digit)
                    && work[0] != b'0'
            }
            ("X25519", [share]) => b64(share, 32).is_some(),
            ("scrypt" | "X25519", _) => false,
            (other, _) => {
                let near = |known: &str| {
                    other.len() == known.len()
                        && other
                            .bytes()
                            .zip(known.bytes())
                            .filter(|(a, b)| a != b)
                            .count()
                            == 1
                };
                if near("scrypt") || near("X25519") {
                    return damaged(format!("its recipient stanza type \"{other}\" is garbled"));
                }
                // Another program's stanza (age's "grease", a plugin): age skips those.
                true
            }
        };
        if !args_ok {
            return damaged(format!("the arguments of its {kind} stanza are garbled"));
        }
        // The body: full 64-column lines, then a shorter (possibly empty) last one.
        let mut body = Vec::new();
        loop {
            let b = lines.next()?;
            body.extend_from_slice(b);
            if b.len() < 64 {
                break;
            }
        }
        if (kind == "scrypt" || kind == "X25519") && b64(&body, 32).is_none() {
            return damaged(format!("the wrapped key of its {kind} stanza is garbled"));
        }
        kinds.push(kind);
        line = lines.next();
    }
    let known = kinds
        .iter()
        .filter(|k| *k == "scrypt" || *k == "X25519")
        .count();
    if known == 0 {
        return damaged("it has no passphrase (scrypt) or X25519 recipient stanza".into());
    }
    if kinds.iter().any(|k| k == "scrypt") && kinds.len() > 1 {
        return damaged("a passphrase (scrypt) stanza must be its only one".into());
    }
    None
}
