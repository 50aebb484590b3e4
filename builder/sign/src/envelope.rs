//! The encrypted-key envelope cosign writes inside its private-key PEM
//! (go-securesystemslib `encrypted`): scrypt derives a key from the
//! password, NaCl secretbox (XSalsa20-Poly1305) seals the PKCS#8 DER.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// cosign's scrypt parameters: N = 32768, r = 8, p = 1.
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// The largest scrypt cost accepted from a key file (N = 2^20), so a
/// crafted key cannot make loading take unbounded memory and time.
const MAX_SCRYPT_LOG_N: u8 = 20;

#[derive(Serialize, Deserialize)]
pub(crate) struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Why an envelope could not be opened.
pub(crate) enum OpenError {
    Malformed(String),
    Decrypt,
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, OpenError> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| OpenError::Malformed(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut())
        .map_err(|e| OpenError::Malformed(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Seals `plaintext` under `password` exactly as cosign does.
pub(crate) fn seal(plaintext: &[u8], password: &[u8]) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    // The fixed cosign parameters are valid; failure here is impossible.
    let key = derive_key(password, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
        .map_err(|_| "scrypt rejected cosign's parameters".to_string())?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(key.as_ref()));
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| "secretbox encryption failed".to_string())?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << SCRYPT_LOG_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ciphertext),
    };
    serde_json::to_vec(&envelope).map_err(|e| e.to_string())
}

/// Opens an envelope with `password`.
pub(crate) fn open(json: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let env: Envelope = serde_json::from_slice(json)
        .map_err(|e| OpenError::Malformed(format!("not a cosign key envelope: {e}")))?;
    if env.kdf.name != "scrypt" || env.cipher.name != "nacl/secretbox" {
        return Err(OpenError::Malformed(format!(
            "unsupported key encryption {}/{}",
            env.kdf.name, env.cipher.name
        )));
    }
    let n = env.kdf.params.n;
    if !n.is_power_of_two() || n < 2 {
        return Err(OpenError::Malformed(
            "scrypt N must be a power of two".into(),
        ));
    }
    let log_n = n.trailing_zeros() as u8;
    if log_n > MAX_SCRYPT_LOG_N || env.kdf.params.r > 32 || env.kdf.params.p > 16 {
        return Err(OpenError::Malformed(
            "scrypt parameters are too costly".into(),
        ));
    }
    let decode = |what: &str, text: &str| {
        STANDARD
            .decode(text)
            .map_err(|e| OpenError::Malformed(format!("{what}: {e}")))
    };
    let salt = decode("salt", &env.kdf.salt)?;
    let nonce = decode("nonce", &env.cipher.nonce)?;
    let ciphertext = decode("ciphertext", &env.ciphertext)?;
    if nonce.len() != 24 {
        return Err(OpenError::Malformed("nonce must be 24 bytes".into()));
    }
    let key = derive_key(password, &salt, log_n, env.kdf.params.r, env.kdf.params.p)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(key.as_ref()));
    cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Decrypt)
}
