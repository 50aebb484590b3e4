//! The signing-key password, from COSIGN_PASSWORD like cosign.

use zeroize::Zeroizing;

/// The password in `COSIGN_PASSWORD`; unset means an empty password (there
/// is no prompt: builds run unattended). Returns whether it was set.
pub fn password_from_env() -> (Zeroizing<Vec<u8>>, bool) {
    match std::env::var_os("COSIGN_PASSWORD") {
        Some(value) => (Zeroizing::new(value.into_encoded_bytes()), true),
        None => (Zeroizing::new(Vec::new()), false),
    }
}
