//! `aip-builder keygen [--out DIR]`

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::exit::{CliError, internal, user};
use crate::password::password_from_env;
use crate::progress::Format;

/// Write a cosign-compatible key pair. The private key is encrypted with
/// the password in COSIGN_PASSWORD (which may be empty, as with cosign).
#[derive(Debug, Args)]
pub struct Opts {
    /// Folder to write cosign.key and cosign.pub into.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Overwrite existing key files.
    #[arg(long)]
    force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let (password, set) = password_from_env();
        if !set {
            eprintln!(
                "warning: COSIGN_PASSWORD is not set: the private key is written without a password"
            );
        }
        let private = self.out.join("cosign.key");
        let public = self.out.join("cosign.pub");
        for path in [&private, &public] {
            if path.exists() && !self.force {
                return Err(user(anyhow::anyhow!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                )));
            }
        }
        write_key_pair(&self.out, &password)?;
        match self.format {
            Format::Json => {
                crate::outln!("{}", json!({"private_key": private, "public_key": public}))
            }
            Format::Text => crate::outln!(
                "Private key written to {}\nPublic key written to {}",
                private.display(),
                public.display()
            ),
        }
        Ok(())
    }
}

/// Generates a key pair into `dir` as cosign.key / cosign.pub.
pub fn write_key_pair(dir: &std::path::Path, password: &[u8]) -> Result<(), CliError> {
    let pair = aip_sign::generate_key_pair(password).map_err(internal)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| user(anyhow::anyhow!("cannot create {}: {e}", dir.display())))?;
    write_private(&dir.join("cosign.key"), pair.private_pem.as_bytes())?;
    let public = dir.join("cosign.pub");
    std::fs::write(&public, pair.public_pem.as_bytes())
        .map_err(|e| user(anyhow::anyhow!("cannot write {}: {e}", public.display())))
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| user(anyhow::anyhow!("cannot write {}: {e}", path.display())))?;
    file.write_all(bytes)
        .map_err(|e| user(anyhow::anyhow!("cannot write {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .map_err(|e| user(anyhow::anyhow!("cannot write {}: {e}", path.display())))
}
