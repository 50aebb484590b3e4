//! Running rustup and cargo for one adapter build.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::write::write_files;
use crate::{CacheDirs, CompileError, io_err};

/// The target every adapter is compiled for.
pub const WASM_TARGET: &str = "wasm32-wasip2";
/// How many lines of cargo output a build error carries.
const ERROR_TAIL_LINES: usize = 60;

/// How to build.
pub struct BuildOptions<'a> {
    /// Shared cache folders.
    pub cache: CacheDirs,
    /// Receives progress lines (provisioning notices and cargo's output).
    pub progress: &'a mut dyn FnMut(&str),
    /// Reuse a component compiled from identical sources with the same toolchain.
    pub use_cache: bool,
}

/// A compiled component.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The component's bytes.
    pub wasm: Vec<u8>,
    /// The `Cargo.lock` the component was built against.
    pub cargo_lock: String,
    /// `(name, version)` of every crate compiled into the component
    /// (normal dependencies for the target, proc-macros excluded).
    pub crates: Vec<(String, String)>,
}

/// Compiles the crate made of `files` (as rendered) into a component.
///
/// Components are cached by the digest of the crate's files and the
/// toolchain, so rebuilding an unchanged adapter skips cargo entirely.
pub fn compile_wasm(
    files: &BTreeMap<String, Vec<u8>>,
    opts: BuildOptions<'_>,
) -> Result<Compiled, CompileError> {
    let BuildOptions {
        cache,
        progress,
        use_cache,
    } = opts;
    let builds = cache.builds_dir();
    std::fs::create_dir_all(&builds).map_err(io_err("create", &builds))?;
    ensure_target(progress)?;
    let cargo_lock = String::from_utf8_lossy(
        files
            .get("Cargo.lock")
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
    .into_owned();
    let key = crate::component_cache::key(files)?;
    if use_cache && let Some((wasm, crates)) = crate::component_cache::lookup(&cache, &key) {
        progress(&format!("compile cache hit: {key}"));
        return Ok(Compiled {
            wasm,
            cargo_lock,
            crates,
        });
    }

    // One build at a time per shared target dir. The lock is taken before
    // the sources are written: cargo judges the adapter crate (whose
    // fingerprint is shared by every adapter) by mtimes, so sources must be
    // newer than the previous adapter's outputs.
    let lock_path = cache.lock_file();
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("open", &lock_path))?;
    lock.lock().map_err(io_err("lock", &lock_path))?;

    let build_dir = tempfile::Builder::new()
        .prefix("adapter-")
        .tempdir_in(&builds)
        .map_err(io_err("create a build folder in", &builds))?;
    write_files(files, build_dir.path())?;
    let manifest = build_dir.path().join("Cargo.toml");
    ensure_dependencies(&manifest, progress)?;

    let target_dir = cache.target_dir();
    forget_previous_adapter(&target_dir);
    let mut cmd = Command::new(cargo_bin());
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--offline",
        "--target",
        WASM_TARGET,
    ])
    .arg("--manifest-path")
    .arg(&manifest)
    .env("CARGO_TARGET_DIR", &target_dir)
    .env("RUSTFLAGS", remap_flags())
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .env_remove("CARGO_BUILD_TARGET");
    let (ok, output) = run_streaming(cmd, "cargo", progress)?;
    if !ok {
        return Err(CompileError::Build {
            build_dir: build_dir.keep(),
            output: tail(&output),
        });
    }
    let wasm_path = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join("aip_adapter.wasm");
    let wasm = std::fs::read(&wasm_path).map_err(|_| CompileError::MissingOutput {
        path: wasm_path.clone(),
    })?;
    drop(lock);
    let crates = compiled_crates(&manifest)?;
    crate::component_cache::store(&cache, &key, &wasm, &crates);
    Ok(Compiled {
        wasm,
        cargo_lock,
        crates,
    })
}

/// Every adapter crate is `aip-adapter 0.1.0`, so cargo keeps one
/// fingerprint for all of them; dropping it makes cargo rebuild the adapter
/// (and only the adapter) instead of trusting mtimes.
fn forget_previous_adapter(target_dir: &Path) {
    let dir = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(".fingerprint");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("aip-adapter-")
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Registry sources are remapped so component bytes do not depend on where
/// `CARGO_HOME` is. (The adapter crate's own paths are already relative.)
fn remap_flags() -> String {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match home {
        Some(home) => format!("--remap-path-prefix={}=/cargo", home.display()),
        None => String::new(),
    }
}

fn ensure_target(progress: &mut dyn FnMut(&str)) -> Result<(), CompileError> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|source| CompileError::Spawn {
            tool: "rustup",
            source,
        })?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    progress(&format!(
        "provisioning: rustup target add {WASM_TARGET} (one-time download)"
    ));
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", WASM_TARGET]);
    let (ok, output) = run_streaming(cmd, "rustup", progress)?;
    if ok {
        Ok(())
    } else {
        Err(CompileError::Provision {
            what: format!("the {WASM_TARGET} Rust target"),
            detail: tail(&output),
        })
    }
}

fn ensure_dependencies(
    manifest: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CompileError> {
    let offline = Command::new(cargo_bin())
        .args([
            "fetch",
            "--locked",
            "--offline",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(manifest)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|source| CompileError::Spawn {
            tool: "cargo",
            source,
        })?;
    if offline.success() {
        return Ok(());
    }
    progress("provisioning: fetching the pinned adapter dependency set (one-time download)");
    let mut cmd = Command::new(cargo_bin());
    cmd.args([
        "fetch",
        "--locked",
        "--target",
        WASM_TARGET,
        "--manifest-path",
    ])
    .arg(manifest);
    let (ok, output) = run_streaming(cmd, "cargo", progress)?;
    if ok {
        Ok(())
    } else {
        Err(CompileError::Provision {
            what: "the pinned adapter dependency set".into(),
            detail: tail(&output),
        })
    }
}

/// Runs `cmd`, passing each stderr line to `progress`, and returns whether
/// it succeeded plus everything it printed.
fn run_streaming(
    mut cmd: Command,
    tool: &'static str,
    progress: &mut dyn FnMut(&str),
) -> Result<(bool, Vec<String>), CompileError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CompileError::Spawn { tool, source })?;
    let mut lines = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            progress(&line);
            lines.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|source| CompileError::Spawn { tool, source })?;
    Ok((status.success(), lines))
}

fn tail(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(ERROR_TAIL_LINES);
    lines[start..].join("\n")
}

/// The crates linked into the component: `cargo tree` over normal edges for
/// the wasm target, without proc-macros (they run at build time only).
fn compiled_crates(manifest: &Path) -> Result<Vec<(String, String)>, CompileError> {
    let out = Command::new(cargo_bin())
        .args([
            "tree",
            "--locked",
            "--offline",
            "--target",
            WASM_TARGET,
            "-e",
            "normal,no-proc-macro",
        ])
        .args(["--prefix", "none", "--format", "{p}", "--manifest-path"])
        .arg(manifest)
        .output()
        .map_err(|source| CompileError::Spawn {
            tool: "cargo",
            source,
        })?;
    if !out.status.success() {
        return Err(CompileError::Provision {
            what: "the list of compiled crates (cargo tree)".into(),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let mut crates: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let name = parts.next()?;
            let version = parts.next()?.strip_prefix('v')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect();
    crates.sort();
    crates.dedup();
    Ok(crates)
}
