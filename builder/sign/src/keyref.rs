//! Key references: where key material comes from.

use std::path::PathBuf;

use crate::SignError;

/// A reference to key material: a file path or `env://VAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A PEM file.
    File(PathBuf),
    /// An environment variable holding the PEM text.
    Env(String),
}

impl KeyRef {
    /// Parses a reference. Other URI schemes (`awskms://`, `gcpkms://`,
    /// `azurekms://`, `hashivault://`, `k8s://`, `pkcs11:`) are refused.
    pub fn parse(text: &str) -> Result<KeyRef, SignError> {
        if let Some(var) = text.strip_prefix("env://") {
            if var.is_empty() {
                return Err(SignError::UnsupportedKeyRef(text.to_string()));
            }
            return Ok(KeyRef::Env(var.to_string()));
        }
        if text.contains("://") || text.starts_with("pkcs11:") {
            return Err(SignError::UnsupportedKeyRef(text.to_string()));
        }
        Ok(KeyRef::File(PathBuf::from(text)))
    }

    /// The PEM text the reference points at.
    pub fn read(&self) -> Result<String, SignError> {
        match self {
            KeyRef::File(path) => regular_file(path)
                .and_then(|()| std::fs::read_to_string(path))
                .map_err(|source| SignError::Read {
                    reference: path.display().to_string(),
                    source,
                }),
            KeyRef::Env(var) => {
                std::env::var(var).map_err(|_| SignError::EnvUnset(format!("env://{var}")))
            }
        }
    }

    /// How the reference is named in messages (never the key itself).
    pub fn display(&self) -> String {
        match self {
            KeyRef::File(path) => path.display().to_string(),
            KeyRef::Env(var) => format!("env://{var}"),
        }
    }
}

/// `Ok` for a regular file: a FIFO or device would block a reader.
fn regular_file(path: &std::path::Path) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a folder, FIFO or device)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            KeyRef::parse("cosign.key").ok(),
            Some(KeyRef::File("cosign.key".into()))
        );
        assert_eq!(
            KeyRef::parse("env://SIGNING_KEY").ok(),
            Some(KeyRef::Env("SIGNING_KEY".into()))
        );
        for bad in [
            "awskms://x",
            "k8s://ns/secret",
            "hashivault://k",
            "pkcs11:token=x",
            "env://",
        ] {
            assert!(
                matches!(KeyRef::parse(bad), Err(SignError::UnsupportedKeyRef(_))),
                "{bad}"
            );
        }
    }
}
