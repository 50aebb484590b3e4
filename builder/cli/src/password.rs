//! The signing-key password, from COSIGN_PASSWORD like cosign.

use zeroize::Zeroizing;

use crate::exit::{CliError, user};

/// The password in `COSIGN_PASSWORD`. Unset is an error (there is no
/// prompt: builds run unattended); an empty value is an empty password.
pub fn password_from_env() -> Result<Zeroizing<Vec<u8>>, CliError> {
    match std::env::var_os("COSIGN_PASSWORD") {
        Some(value) => Ok(Zeroizing::new(value.into_encoded_bytes())),
        None => Err(user(anyhow::anyhow!(
            "COSIGN_PASSWORD is not set\nhint: export COSIGN_PASSWORD=<password of the key> (an empty value means no password)"
        ))),
    }
}
