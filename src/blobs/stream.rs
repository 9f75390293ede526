//! STREAM (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over ChaCha20-Poly1305, as the `age`
//! format uses it: chunk `i` is sealed under the blob's own key with the 96-bit nonce
//! `i as 88-bit big-endian ‖ 0x01 if last else 0x00`. The key is fresh for every blob, so a
//! nonce never repeats under a key; the flag makes a file cut at a chunk boundary fail.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

/// Bytes a sealed chunk adds (the Poly1305 tag).
pub const TAG: usize = 16;

#[derive(Debug)]
pub struct StreamError;

fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// Seals chunks in order.
pub struct Sealer {
    aead: ChaCha20Poly1305,
    next: u64,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            aead: ChaCha20Poly1305::new(&(*key).into()),
            next: 0,
        }
    }

    pub fn seal(&mut self, plain: &[u8], last: bool) -> Result<Vec<u8>, std::io::Error> {
        let out = self
            .aead
            .encrypt(&nonce(self.next, last), plain)
            .map_err(|_| std::io::Error::other("chunk encryption failed"))?;
        self.next += 1;
        Ok(out)
    }
}

/// Opens any chunk by its index.
pub struct Opener {
    aead: ChaCha20Poly1305,
}

impl Opener {
    pub fn new(key: &[u8; 32]) -> Opener {
        Opener {
            aead: ChaCha20Poly1305::new(&(*key).into()),
        }
    }

    pub fn open(&self, index: u64, sealed: &[u8], last: bool) -> Result<Vec<u8>, StreamError> {
        self.aead
            .decrypt(&nonce(index, last), sealed)
            .map_err(|_| StreamError)
    }
}
