//! Sign: cosign-compatible key pairs and signatures.
//!
//! - Keys: `cosign.key` is the encrypted PEM that `cosign generate-key-pair`
//!   writes (scrypt + NaCl secretbox over a PKCS#8 ECDSA P-256 key, PEM type
//!   `ENCRYPTED SIGSTORE PRIVATE KEY`; the older `ENCRYPTED COSIGN PRIVATE
//!   KEY` loads too); `cosign.pub` is a PKIX `PUBLIC KEY` PEM.
//! - Signatures: ECDSA P-256 / SHA-256 (ASN.1 DER) over a cosign "simple
//!   signing" payload naming the OCI manifest digest, stored the way cosign
//!   stores them (see the package stage).

mod envelope;
mod keyref;
mod keys;
mod payload;

pub use keyref::KeyRef;
pub use keys::{KeyPair, PrivateKey, PublicKey, generate_key_pair};
pub use payload::SimpleSigning;

/// Why a key could not be loaded or a signature made or checked.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key reference with a scheme this tool cannot resolve.
    #[error(
        "unsupported key reference {0:?}: use a file path or env://VARIABLE (KMS, Vault, Kubernetes and PKCS#11 references are not supported yet)"
    )]
    UnsupportedKeyRef(String),
    /// The key file could not be read.
    #[error("cannot read key {reference}: {source}")]
    Read {
        /// The reference.
        reference: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `env://VAR` names an unset variable.
    #[error("key reference {0}: the environment variable is not set")]
    EnvUnset(String),
    /// Not a PEM file of the expected kind.
    #[error("{reference}: {message}")]
    Format {
        /// The reference.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// Decryption failed: almost always the wrong password.
    #[error(
        "{0}: cannot decrypt the private key: wrong password\nhint: set COSIGN_PASSWORD to the key's password (unset means an empty password)"
    )]
    WrongPassword(String),
    /// A signature did not verify.
    #[error("signature does not verify with the given public key")]
    BadSignature,
    /// A signature payload could not be parsed.
    #[error("invalid signature payload: {0}")]
    Payload(String),
}
