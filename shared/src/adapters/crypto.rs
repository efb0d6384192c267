//! Secrets at rest (database passwords): AES-256-GCM with a random nonce, stored as
//! base64(nonce ‖ ciphertext).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
#[error("stored secret cannot be decrypted with the configured key")]
pub struct SealError;

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox { cipher: Aes256Gcm::new(key.into()) }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SealError)?;
        if bytes.len() < 12 {
            return Err(SealError);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| SealError)?;
        String::from_utf8(plain).map_err(|_| SealError)
    }
}

/// A random password for a database role: 32 hex characters, safe in URLs and SQL literals.
pub fn random_password() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_wrong_key_fails() {
        let a = SecretBox::new(&[7u8; 32]);
        let sealed = a.seal("hunter2");
        assert_ne!(sealed, a.seal("hunter2"), "nonces differ");
        assert_eq!(a.open(&sealed).unwrap(), "hunter2");
        assert!(SecretBox::new(&[8u8; 32]).open(&sealed).is_err());
        assert!(a.open("not base64!").is_err());
    }
}
