//! Registry credentials: `AIP_REGISTRY_USERNAME`/`AIP_REGISTRY_PASSWORD`,
//! else `~/.docker/config.json` (with its credential helpers), else
//! anonymous. Secrets are held only inside `oci_client::secrets::RegistryAuth`
//! and never formatted.

use oci_client::secrets::RegistryAuth;

use crate::DistributeError;

/// Username variable.
pub const USERNAME_VAR: &str = "AIP_REGISTRY_USERNAME";
/// Password variable.
pub const PASSWORD_VAR: &str = "AIP_REGISTRY_PASSWORD";

/// Credentials for one registry, and where they came from (for messages).
pub struct Credentials {
    pub(crate) auth: RegistryAuth,
    /// Where they came from, without any secret: `anonymous`,
    /// `AIP_REGISTRY_USERNAME (alice)`, `docker config (alice)`.
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({})", self.source)
    }
}

impl Credentials {
    /// No credentials.
    pub fn anonymous() -> Credentials {
        Credentials {
            auth: RegistryAuth::Anonymous,
            source: "anonymous".into(),
        }
    }

    /// Username and password (basic auth, or exchanged for a bearer
    /// token when the registry asks for one).
    pub fn basic(username: &str, password: &str, source: &str) -> Credentials {
        Credentials {
            auth: RegistryAuth::Basic(username.to_string(), password.to_string()),
            source: format!("{source} ({username})"),
        }
    }

    /// Credentials for `registry` from the environment or the docker config.
    pub fn for_registry(registry: &str) -> Result<Credentials, DistributeError> {
        let username = std::env::var(USERNAME_VAR).ok().filter(|v| !v.is_empty());
        let password = std::env::var(PASSWORD_VAR).ok();
        match (username, password) {
            (Some(user), Some(password)) => {
                return Ok(Credentials::basic(&user, &password, USERNAME_VAR));
            }
            (Some(_), None) => {
                return Err(DistributeError::Config(format!(
                    "{USERNAME_VAR} is set but {PASSWORD_VAR} is not"
                )));
            }
            (None, Some(_)) => {
                return Err(DistributeError::Config(format!(
                    "{PASSWORD_VAR} is set but {USERNAME_VAR} is not"
                )));
            }
            (None, None) => {}
        }
        // docker_credential looks the server up as written in config.json
        // (`host:port`); Docker Hub is keyed by its index URL.
        let server = if registry == "docker.io" {
            "https://index.docker.io/v1/"
        } else {
            registry
        };
        use docker_credential::{CredentialRetrievalError as E, DockerCredential};
        match docker_credential::get_credential(server) {
            Ok(DockerCredential::UsernamePassword(user, password)) => {
                Ok(Credentials::basic(&user, &password, "docker config"))
            }
            Ok(DockerCredential::IdentityToken(token)) => Ok(Credentials {
                auth: RegistryAuth::Bearer(token),
                source: "docker config (identity token)".into(),
            }),
            Err(E::ConfigNotFound | E::ConfigReadError | E::NoCredentialConfigured) => {
                Ok(Credentials::anonymous())
            }
            Err(E::HelperFailure { helper, .. }) => Err(DistributeError::Config(format!(
                "the docker credential helper docker-credential-{helper} failed for {registry}"
            ))),
            Err(e) => Err(DistributeError::Config(format!(
                "cannot read docker credentials for {registry}: {}",
                credential_error_name(&e)
            ))),
        }
    }
}

/// A description of a credential error that cannot carry a secret (the
/// helper's stdout might).
fn credential_error_name(e: &docker_credential::CredentialRetrievalError) -> &'static str {
    use docker_credential::CredentialRetrievalError as E;
    match e {
        E::HelperCommunicationError => "cannot run the credential helper",
        E::MalformedHelperResponse => "the credential helper's answer is malformed",
        E::HelperFailure { .. } => "the credential helper failed",
        E::CredentialDecodingError => "the stored credential is not valid base64 user:password",
        E::NoCredentialConfigured => "no credential configured",
        E::ConfigNotFound => "no docker config found",
        E::ConfigReadError => "the docker config cannot be read",
        E::CredentialMismatchError => "the stored credential is for another registry",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials::basic("alice", "s3cret-pw", USERNAME_VAR);
        let shown = format!("{c:?} {}", c.source);
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("alice"));
    }
}
