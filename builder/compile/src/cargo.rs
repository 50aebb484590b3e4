//! Running rustup and cargo for one adapter build.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::write::{sync_files, write_files};
use crate::{CacheDirs, CancelFlag, CompileError, io_err};

/// What a generated crate compiles into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileTarget {
    /// A `wasm32-wasip2` component (`aip_adapter.wasm`).
    WasmComponent,
    /// A statically linked `x86_64-unknown-linux-musl` executable
    /// (`aip-adapter`), the gRPC microservice.
    StaticService,
}

impl CompileTarget {
    /// The rustc target triple.
    pub fn triple(self) -> &'static str {
        match self {
            CompileTarget::WasmComponent => "wasm32-wasip2",
            CompileTarget::StaticService => "x86_64-unknown-linux-musl",
        }
    }

    /// The file cargo writes under `<target>/<triple>/release/`.
    fn output_file(self) -> &'static str {
        match self {
            CompileTarget::WasmComponent => "aip_adapter.wasm",
            CompileTarget::StaticService => "aip-adapter",
        }
    }

    /// The fingerprint-folder prefix of the generated package.
    fn package_prefix(self) -> &'static str {
        match self {
            CompileTarget::WasmComponent => "aip-adapter-",
            CompileTarget::StaticService => "aip-adapter-service-",
        }
    }
}
/// How many lines of cargo output a build error carries.
const ERROR_TAIL_LINES: usize = 60;

/// How to build.
pub struct BuildOptions<'a> {
    /// Shared cache folders.
    pub cache: CacheDirs,
    /// Receives progress lines (provisioning notices and cargo's output).
    pub progress: &'a mut dyn FnMut(&str),
    /// Reuse an artifact compiled from identical sources with the same toolchain.
    pub use_cache: bool,
    /// Stops the build: cargo then runs in its own process group, killed
    /// with its rustc processes when the flag is set. (`None`: cargo stays
    /// in the caller's group, so a terminal's Ctrl-C reaches it.)
    pub cancel: Option<CancelFlag>,
    /// Run cargo (and the rustc processes it starts, which inherit it) at
    /// [`BACKGROUND_NICE`]: below a service answering requests on the
    /// same machine.
    pub background: bool,
}

/// The nice value of background builds.
pub const BACKGROUND_NICE: i32 = 10;

/// A compiled adapter.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The component's or executable's bytes.
    pub artifact: Vec<u8>,
    /// The `Cargo.lock` the artifact was built against.
    pub cargo_lock: String,
    /// `(name, version)` of every crate compiled into the artifact
    /// (normal dependencies for the target, proc-macros excluded).
    pub crates: Vec<(String, String)>,
}

/// Compiles the crate made of `files` (as rendered) for `target`.
///
/// Artifacts are cached by the digest of the crate's files and the
/// toolchain, so rebuilding an unchanged adapter skips cargo entirely.
pub fn compile(
    files: &BTreeMap<String, Vec<u8>>,
    target: CompileTarget,
    opts: BuildOptions<'_>,
) -> Result<Compiled, CompileError> {
    let BuildOptions {
        cache,
        progress,
        use_cache,
        cancel,
        background,
    } = opts;
    let builds = cache.builds_dir();
    std::fs::create_dir_all(&builds).map_err(io_err("create", &builds))?;
    ensure_target(target.triple(), progress)?;
    let cargo_lock = String::from_utf8_lossy(
        files
            .get("Cargo.lock")
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
    .into_owned();
    let key = crate::artifact_cache::key(files)?;
    if use_cache && let Some((artifact, crates)) = crate::artifact_cache::lookup(&cache, &key) {
        progress(&format!("compile cache hit: {key}"));
        return Ok(Compiled {
            artifact,
            cargo_lock,
            crates,
        });
    }

    // One build at a time per shared target dir. The lock is taken before
    // the sources are written: cargo judges the adapter crate (whose
    // fingerprint is shared by every adapter) by mtimes, so sources must be
    // newer than the previous adapter's outputs.
    //
    // Each target builds in one fixed folder, and only files whose bytes
    // changed are rewritten: path dependencies (the gRPC service runtime
    // crate in `runtime/`) keep their path and mtimes, so cargo compiles
    // them once and every later build compiles only the adapter crate.
    let lock_path = cache.lock_file();
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("open", &lock_path))?;
    lock.lock().map_err(io_err("lock", &lock_path))?;
    // Waiting for the lock can take a whole other build.
    if cancel.as_ref().is_some_and(CancelFlag::is_cancelled) {
        return Err(CompileError::Cancelled);
    }

    let build_dir = builds.join(target.triple());
    sync_files(files, &build_dir)?;
    let manifest = build_dir.join("Cargo.toml");
    ensure_dependencies(&manifest, target.triple(), progress)?;

    let target_dir = cache.target_dir();
    forget_previous_adapter(&target_dir, target);
    let mut cmd = Command::new(cargo_bin());
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--offline",
        "--target",
        target.triple(),
    ])
    .arg("--manifest-path")
    .arg(&manifest)
    .env("CARGO_TARGET_DIR", &target_dir)
    .env("RUSTFLAGS", remap_flags())
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .env_remove("CARGO_BUILD_TARGET");
    let nice = background.then_some(BACKGROUND_NICE);
    let (ok, output) = run_streaming(cmd, "cargo", progress, cancel.as_ref(), nice)?;
    if !ok {
        // The fixed folder is reused by the next build: keep a copy.
        let kept = tempfile::Builder::new()
            .prefix("failed-")
            .tempdir_in(&builds)
            .map_err(io_err("create a build folder in", &builds))?
            .keep();
        write_files(files, &kept)?;
        return Err(CompileError::Build {
            build_dir: kept,
            output: tail(&output),
        });
    }
    let output_path = target_dir
        .join(target.triple())
        .join("release")
        .join(target.output_file());
    let artifact = std::fs::read(&output_path).map_err(|_| CompileError::MissingOutput {
        path: output_path.clone(),
    })?;
    drop(lock);
    let crates = compiled_crates(&manifest, target.triple())?;
    crate::artifact_cache::store(&cache, &key, &artifact, &crates);
    Ok(Compiled {
        artifact,
        cargo_lock,
        crates,
    })
}

/// Every adapter crate of a target has the same package name and version,
/// so cargo keeps one fingerprint for all of them; dropping it makes cargo
/// rebuild the adapter (and only the adapter) instead of trusting mtimes.
fn forget_previous_adapter(target_dir: &Path, target: CompileTarget) {
    let dir = target_dir
        .join(target.triple())
        .join("release")
        .join(".fingerprint");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Exactly `<package>-<hash>`: `aip-adapter-service-<hash>` is not
            // the wasm adapter's fingerprint.
            if name.starts_with(target.package_prefix())
                && name[target.package_prefix().len()..]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit())
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

/// Registry sources are remapped so artifact bytes do not depend on where
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

fn ensure_target(triple: &str, progress: &mut dyn FnMut(&str)) -> Result<(), CompileError> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|source| CompileError::Spawn {
            tool: "rustup",
            source,
        })?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == triple)
    {
        return Ok(());
    }
    progress(&format!(
        "provisioning: rustup target add {triple} (one-time download)"
    ));
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", triple]);
    let (ok, output) = run_streaming(cmd, "rustup", progress, None, None)?;
    if ok {
        Ok(())
    } else {
        Err(CompileError::Provision {
            what: format!("the {triple} Rust target"),
            detail: tail(&output),
        })
    }
}

fn ensure_dependencies(
    manifest: &Path,
    triple: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CompileError> {
    let offline = Command::new(cargo_bin())
        .args([
            "fetch",
            "--locked",
            "--offline",
            "--target",
            triple,
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
    cmd.args(["fetch", "--locked", "--target", triple, "--manifest-path"])
        .arg(manifest);
    let (ok, output) = run_streaming(cmd, "cargo", progress, None, None)?;
    if ok {
        Ok(())
    } else {
        Err(CompileError::Provision {
            what: "the pinned adapter dependency set".into(),
            detail: tail(&output),
        })
    }
}

/// Sets `child`'s nice value.
fn lower_priority(child: &std::process::Child, nice: i32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::setpriority_process(Some(pid), nice).map_err(std::io::Error::from)
}

/// Runs `cmd`, passing each stderr line to `progress`, and returns whether
/// it succeeded plus everything it printed. When `cancel` is set, the tool
/// and everything it started are killed and the result is
/// [`CompileError::Cancelled`]. With `nice`, the tool runs at that nice
/// value (set as it starts, before it starts anything of its own: cargo
/// reads its manifests and lock file first).
fn run_streaming(
    mut cmd: Command,
    tool: &'static str,
    progress: &mut dyn FnMut(&str),
    cancel: Option<&CancelFlag>,
    nice: Option<i32>,
) -> Result<(bool, Vec<String>), CompileError> {
    #[cfg(unix)]
    if cancel.is_some() {
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CompileError::Spawn { tool, source })?;
    if let Some(nice) = nice
        && let Err(e) = lower_priority(&child, nice)
    {
        progress(&format!(
            "note: {tool} runs at normal priority (cannot set nice {nice}: {e})"
        ));
    }
    let _watch = cancel.map(|flag| crate::cancel::watch(&child, flag));
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
    if cancel.is_some_and(CancelFlag::is_cancelled) {
        return Err(CompileError::Cancelled);
    }
    Ok((status.success(), lines))
}

fn tail(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(ERROR_TAIL_LINES);
    lines[start..].join("\n")
}

/// The crates linked into the artifact: `cargo tree` over normal edges for
/// the target, without proc-macros (they run at build time only).
fn compiled_crates(manifest: &Path, triple: &str) -> Result<Vec<(String, String)>, CompileError> {
    let out = Command::new(cargo_bin())
        .args([
            "tree",
            "--locked",
            "--offline",
            "--target",
            triple,
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

#[cfg(test)]
mod tests {
    #[test]
    fn background_tools_run_at_a_lower_priority() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep starts");
        super::lower_priority(&child, super::BACKGROUND_NICE).expect("setpriority");
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).expect("stat");
        // The nice value is field 19; fields 3.. follow the `(comm)` part.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let nice: i32 = after
            .split_whitespace()
            .nth(16)
            .and_then(|n| n.parse().ok())
            .expect("nice field");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(nice, super::BACKGROUND_NICE);
    }
}
