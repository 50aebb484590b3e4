//! Installing a module from a registry into `modules/<name>/`.

use std::path::PathBuf;

use aip_package::oci::sha256_digest;
use aip_register::{Origin, Verification};
use aip_sign::PublicKey;

use crate::DistributeError;
use crate::client::RegistryClient;
use crate::fetch::fetch;
use crate::reference::ModuleRef;

/// How to install.
pub struct InstallOptions<'a> {
    /// The public keys a signature may verify with (any one of them).
    pub keys: &'a [PublicKey],
    /// Refuse (and write nothing) unless the signature verifies.
    pub require_signed: bool,
    /// Where to register it (`modules/<name>`).
    pub destination: aip_register::Destination,
}

/// What was installed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    /// Module name.
    pub name: String,
    /// Module version.
    pub version: String,
    /// `modules/<name>`.
    pub dir: PathBuf,
    /// Where it came from and whether it verified.
    pub origin: Origin,
}

/// `sha256:` of a public key's PEM: how `origin.json` names the key.
pub fn key_fingerprint(key: &PublicKey) -> String {
    sha256_digest(key.to_pem().as_bytes())
}

/// Pulls `reference`, verifies it, and registers it under
/// `modules_dir/<name>` in one step (the previous version, if any, is
/// replaced only once the new one is complete). With `require_signed`, a
/// module whose signature is missing or does not verify is refused and
/// nothing is written; without it, it is installed as unverified.
pub async fn install(
    client: &RegistryClient,
    reference: &ModuleRef,
    options: &InstallOptions<'_>,
) -> Result<Installed, DistributeError> {
    let mut fetched = fetch(client, reference).await?;
    let verification = if !fetched.signed {
        Verification::Unverified {
            reason: format!(
                "the module is not signed: {} has no {} tag",
                fetched.resolved.repo_string(),
                aip_package::cosign::signature_tag(&fetched.digest)
            ),
        }
    } else if options.keys.is_empty() {
        Verification::Unverified {
            reason:
                "no public key to verify the signature with (--key, or `key` in the config file)"
                    .into(),
        }
    } else {
        let mut outcome = None;
        for key in options.keys {
            match aip_register::verify_staged(&fetched.module, key) {
                Ok(_) => {
                    outcome = Some(Verification::Verified {
                        key: key_fingerprint(key),
                    });
                    break;
                }
                Err(e) => {
                    outcome = Some(Verification::Unverified {
                        reason: e.to_string(),
                    });
                }
            }
        }
        outcome.unwrap_or(Verification::Unverified {
            reason: "no key verified it".into(),
        })
    };
    if let (true, Verification::Unverified { reason }) = (options.require_signed, &verification) {
        return Err(DistributeError::Refused(format!(
            "{} ({}) is not verified: {reason}",
            fetched.resolved, fetched.digest
        )));
    }
    let origin = Origin {
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        requested: match &reference.selector {
            crate::Selector::Latest => "@latest".to_string(),
            other => other.to_string(),
        },
        digest: fetched.digest.clone(),
        verification,
    };
    fetched.module.origin = Some(origin.clone());
    let folder = options.destination.folder(
        &fetched.manifest.metadata.name,
        &fetched.manifest.metadata.version,
    );
    let dir = aip_register::register_at(&folder, &fetched.module)?;
    Ok(Installed {
        name: fetched.manifest.metadata.name.clone(),
        version: fetched.manifest.metadata.version.clone(),
        dir,
        origin,
    })
}
