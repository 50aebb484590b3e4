//! Compile: turns a rendered adapter crate into a `wasm32-wasip2` component
//! or a static `x86_64-unknown-linux-musl` service executable.
//!
//! 1. The crate is written into a fresh build directory.
//! 2. The rustup target and the pinned dependency set (the crate's
//!    checked-in `Cargo.lock`) are provisioned if missing; this is the
//!    only step that touches the network, and it says so.
//! 3. `cargo build --release --target <triple> --locked --offline` runs
//!    against one shared target directory, so dependencies are compiled once
//!    for all adapters and a second adapter compiles only its own crate.
//!    Builds sharing that directory are serialised by a file lock.
//! 4. The artifact's bytes are read back. On failure the build directory is
//!    kept for inspection and cargo's output is returned.

mod artifact_cache;
mod cache;
mod cancel;
mod cargo;
mod write;

use std::path::{Path, PathBuf};

pub use cache::CacheDirs;
pub use cancel::CancelFlag;
pub use cargo::{BACKGROUND_NICE, BuildOptions, CompileTarget, Compiled, compile};
pub use write::write_crate;

/// Why a compile failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A file could not be written or read.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A tool could not be started.
    #[error(
        "cannot run {tool}: {source}\nhint: aip-builder needs the Rust toolchain (cargo and rustup) on PATH"
    )]
    Spawn {
        /// The tool.
        tool: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// Provisioning the target or the dependency set failed.
    #[error(
        "cannot provision {what}: {detail}\nhint: this needs network access once; afterwards builds run offline"
    )]
    Provision {
        /// What was being provisioned.
        what: String,
        /// Tool output.
        detail: String,
    },
    /// The build was cancelled (by the caller, or its time limit).
    #[error("the build was cancelled")]
    Cancelled,
    /// cargo failed to build the generated crate.
    #[error(
        "cargo build of the generated adapter failed; the crate is kept at {build_dir} for inspection\nhint: this is a bug in aip-builder or its templates; please report it with the spec\n--- cargo output (last lines) ---\n{output}"
    )]
    Build {
        /// The kept build directory.
        build_dir: PathBuf,
        /// The tail of cargo's output.
        output: String,
    },
    /// cargo succeeded but produced no component.
    #[error("cargo reported success but {path} is missing")]
    MissingOutput {
        /// Where the component was expected.
        path: PathBuf,
    },
}

pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> CompileError + use<> {
    let path = path.to_path_buf();
    move |source| CompileError::Io {
        action,
        path,
        source,
    }
}
