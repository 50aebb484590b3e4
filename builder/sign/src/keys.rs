//! ECDSA P-256 key pairs in cosign's file formats.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::SignError;
use crate::envelope::{self, OpenError};

/// PEM label cosign writes today.
const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign releases wrote.
const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// A private signing key.
pub struct PrivateKey {
    key: SigningKey,
}

/// A public verification key.
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey,
}

/// A freshly generated pair in cosign's file formats.
pub struct KeyPair {
    /// `cosign.key` contents.
    pub private_pem: Zeroizing<String>,
    /// `cosign.pub` contents.
    pub public_pem: String,
}

/// Generates a key pair; the private key is encrypted with `password`.
pub fn generate_key_pair(password: &[u8]) -> Result<KeyPair, SignError> {
    let key = SigningKey::random(&mut OsRng);
    let fail = |message: String| SignError::Format {
        reference: "new key".into(),
        message,
    };
    let der = key.to_pkcs8_der().map_err(|e| fail(e.to_string()))?;
    let sealed = envelope::seal(der.as_bytes(), password).map_err(fail)?;
    let private_pem = pem_encode(SIGSTORE_LABEL, &sealed);
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| fail(e.to_string()))?;
    Ok(KeyPair {
        private_pem: Zeroizing::new(private_pem),
        public_pem,
    })
}

impl PrivateKey {
    /// Loads a cosign private key PEM, decrypting it with `password`.
    pub fn from_cosign_pem(
        pem: &str,
        password: &[u8],
        reference: &str,
    ) -> Result<PrivateKey, SignError> {
        let (label, body) = pem_decode(pem).map_err(|message| SignError::Format {
            reference: reference.to_string(),
            message,
        })?;
        if label != SIGSTORE_LABEL && label != COSIGN_LABEL {
            return Err(SignError::Format {
                reference: reference.to_string(),
                message: format!(
                    "expected a cosign private key (PEM type {SIGSTORE_LABEL}), found {label}"
                ),
            });
        }
        let der = envelope::open(&body, password).map_err(|e| match e {
            OpenError::Decrypt => SignError::WrongPassword(reference.to_string()),
            OpenError::Malformed(message) => SignError::Format {
                reference: reference.to_string(),
                message,
            },
        })?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|e| SignError::Format {
            reference: reference.to_string(),
            message: format!("not an ECDSA P-256 key: {e}"),
        })?;
        Ok(PrivateKey { key })
    }

    /// Signs `payload`: ECDSA P-256 over SHA-256, ASN.1 DER.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(payload);
        sig.to_der().as_bytes().to_vec()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }
}

impl PublicKey {
    /// Loads a PKIX `PUBLIC KEY` PEM.
    pub fn from_pem(pem: &str, reference: &str) -> Result<PublicKey, SignError> {
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| SignError::Format {
            reference: reference.to_string(),
            message: format!("not an ECDSA P-256 public key PEM: {e}"),
        })?;
        Ok(PublicKey { key })
    }

    /// Checks a DER signature over `payload`.
    pub fn verify(&self, payload: &[u8], der_signature: &[u8]) -> Result<(), SignError> {
        let sig = Signature::from_der(der_signature).map_err(|_| SignError::BadSignature)?;
        self.key
            .verify(payload, &sig)
            .map_err(|_| SignError::BadSignature)
    }

    /// The PEM text.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }
}

fn pem_encode(label: &str, body: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), String> {
    use base64::Engine;
    let pem = pem.trim();
    let first = pem.lines().next().unwrap_or("");
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| "not a PEM file".to_string())?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in pem.lines().skip(1) {
        if line.trim() == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            continue; // PEM headers
        }
        body.push_str(line.trim());
    }
    if !ended {
        return Err(format!("PEM block {label} has no end line"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("PEM body is not base64: {e}"))?;
    Ok((label, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let pair = generate_key_pair(b"secret").expect("keygen");
        assert!(
            pair.private_pem
                .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
        );
        let key = PrivateKey::from_cosign_pem(&pair.private_pem, b"secret", "k").expect("load");
        let public = PublicKey::from_pem(&pair.public_pem, "p").expect("pub");
        let sig = key.sign(b"payload");
        public.verify(b"payload", &sig).expect("verifies");
        assert!(public.verify(b"payloaD", &sig).is_err());
        let err = PrivateKey::from_cosign_pem(&pair.private_pem, b"wrong", "cosign.key").err();
        assert!(matches!(err, Some(SignError::WrongPassword(_))));
    }

    #[test]
    fn garbage_is_a_format_error() {
        for pem in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nnot base64!\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----",
        ] {
            assert!(
                matches!(
                    PrivateKey::from_cosign_pem(pem, b"x", "k"),
                    Err(SignError::Format { .. })
                ),
                "{pem:?}"
            );
        }
    }
}

#[cfg(test)]
mod cosign_fixture {
    use super::*;

    /// A key written by the real `cosign generate-key-pair` (empty password).
    const COSIGN_KEY: &str =
        include_str!("../../../tests/fixtures/cosign/cosign-generated-empty-password.key");

    #[test]
    fn loads_a_key_made_by_cosign() {
        let key =
            PrivateKey::from_cosign_pem(COSIGN_KEY, b"", "fixture").expect("cosign key loads");
        let sig = key.sign(b"hello");
        key.public_key()
            .verify(b"hello", &sig)
            .expect("signature verifies");
        assert!(matches!(
            PrivateKey::from_cosign_pem(COSIGN_KEY, b"not-empty", "fixture"),
            Err(SignError::WrongPassword(_))
        ));
    }
}
