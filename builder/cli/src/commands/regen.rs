//! `aip-builder regen [--check] [--push] [--adapter NAME]...`

use std::path::{Path, PathBuf};

use aip_regen::{AdapterConfig, Lock, Project, Reason};
use clap::Args;
use serde_json::json;

use crate::exit::{CliError, gate, internal, user, user_hinted};
use crate::progress::{Format, Progress};
use crate::registry_args::RegistryArgs;

/// Regenerate the adapters listed in aip-builder.toml (`[[adapter]]`)
/// whose spec, generated sources, options or toolchain no longer match
/// aip-builder.lock: each gets the next version the diff against its
/// locked contract asks for, a changelog entry, fresh sources and a signed
/// module. Adapters that match are not rebuilt.
#[derive(Debug, Args)]
pub struct Opts {
    /// Change nothing: exit 3 naming each adapter that is out of date and
    /// why (the drift gate for pull requests).
    #[arg(long)]
    check: bool,
    /// Push each module it builds to the adapter's `registry`.
    #[arg(long, conflicts_with = "check")]
    push: bool,
    /// Do not contract-test what it builds (`aip-builder test`: by
    /// default a module that fails it is not registered).
    #[arg(long, conflicts_with = "check")]
    no_test: bool,
    /// With --check: spec changes alone (each with its bump) do not fail
    /// the gate, unless they break callers of an adapter whose
    /// version_policy is "no-breaking" (the pull-request gate when the
    /// main branch regenerates).
    #[arg(long, requires = "check")]
    allow_spec_changes: bool,
    /// With --check: also write what changed for callers of each
    /// out-of-date adapter, as Markdown, to FILE (a pull-request comment).
    #[arg(long, value_name = "FILE", requires = "check")]
    markdown: Option<PathBuf>,
    /// Only this adapter (repeatable; default: all).
    #[arg(long = "adapter", value_name = "NAME")]
    adapters: Vec<String>,
    /// Signing key: a cosign.key path or env://VAR (password in
    /// COSIGN_PASSWORD). Default: cosign.key next to aip-builder.toml.
    #[arg(long)]
    key: Option<String>,
    /// Folder modules are registered in (default: modules/ next to
    /// aip-builder.toml).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// One adapter's state, for the report.
struct Row {
    name: String,
    version: Option<String>,
    reasons: Vec<String>,
    rebuilt: Option<(String, Option<aip_diff::Bump>, PathBuf)>,
    tested: Option<usize>,
    pushed: Option<String>,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let mut progress = Progress::new(self.format);
        let (config, config_path) = self.registry.config()?;
        let Some(config_path) = config_path else {
            return Err(user(anyhow::anyhow!(
                "no aip-builder.toml: regen reads the adapters to keep generated from its [[adapter]] tables (--config FILE names another)"
            )));
        };
        let root = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let project = Project {
            root,
            adapters: config.adapters,
        };
        let selected = self.selected(&project, &config_path)?;
        let toolchain = toolchain()?;
        let lock_path = project.lock_path();
        let mut lock = Lock::read(&lock_path).map_err(user)?;
        let mut rows = Vec::new();
        let mut stale = 0;
        let mut markdown = String::new();
        for adapter in &selected {
            let current = aip_regen::current(&project, adapter, &toolchain).map_err(regen_error)?;
            let reasons =
                aip_regen::check(&project, adapter, lock.entries.get(&adapter.name), &current)
                    .map_err(regen_error)?;
            let mut row = Row {
                name: adapter.name.clone(),
                version: lock.entries.get(&adapter.name).map(|e| e.version.clone()),
                reasons: reasons.iter().map(Reason::to_string).collect(),
                rebuilt: None,
                tested: None,
                pushed: None,
            };
            if !reasons.is_empty() {
                if !(self.allow_spec_changes && only_allowed_spec_changes(adapter, &reasons)) {
                    stale += 1;
                }
                if self.markdown.is_some() {
                    markdown.push_str(&drift_section(&project, adapter, &row, &current));
                }
                if !self.check {
                    self.rebuild(
                        &project,
                        adapter,
                        &current,
                        &mut lock,
                        &mut row,
                        &mut progress,
                    )?;
                    lock.write(&lock_path).map_err(internal)?;
                }
            }
            rows.push(row);
        }
        // Entries of adapters no longer configured (only when all are looked at).
        if self.adapters.is_empty() {
            let configured: Vec<&str> = project.adapters.iter().map(|a| a.name.as_str()).collect();
            let gone: Vec<String> = lock
                .entries
                .keys()
                .filter(|name| !configured.contains(&name.as_str()))
                .cloned()
                .collect();
            for name in gone {
                stale += 1;
                rows.push(Row {
                    name: name.clone(),
                    version: lock.entries.get(&name).map(|e| e.version.clone()),
                    reasons: vec!["in the lock, but no longer in aip-builder.toml".into()],
                    rebuilt: None,
                    tested: None,
                    pushed: None,
                });
                if !self.check {
                    lock.entries.remove(&name);
                    lock.write(&lock_path).map_err(internal)?;
                }
            }
        }
        if let Some(path) = &self.markdown {
            let text = if markdown.is_empty() {
                format!(
                    "All {} adapter(s) are up to date with aip-builder.lock.\n",
                    rows.len()
                )
            } else {
                format!(
                    "## Adapters out of date ({stale} of {})\n\n{markdown}",
                    rows.len()
                )
            };
            std::fs::write(path, text).map_err(|e| {
                user(anyhow::anyhow!(
                    "cannot write --markdown {}: {e}",
                    path.display()
                ))
            })?;
        }
        self.print(&rows, &progress);
        if self.check && stale > 0 {
            return Err(gate(anyhow::anyhow!(
                "{stale} of {} adapter(s) out of date with {}: run `aip-builder regen`",
                rows.len(),
                lock_path.display()
            )));
        }
        Ok(())
    }

    /// The adapters to look at, checked: names unique and valid, every
    /// `--adapter` configured.
    fn selected(&self, project: &Project, config: &Path) -> Result<Vec<AdapterConfig>, CliError> {
        if project.adapters.is_empty() {
            return Err(user(anyhow::anyhow!(
                "{} has no [[adapter]] tables: nothing to regenerate",
                config.display()
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for adapter in &project.adapters {
            if !aip_ir::is_valid_module_name(&adapter.name) {
                return Err(user(anyhow::anyhow!(
                    "{}: adapter name {:?} is not a module name (lowercase letters, digits and -, starting with a letter)",
                    config.display(),
                    adapter.name
                )));
            }
            if !seen.insert(adapter.name.as_str()) {
                return Err(user(anyhow::anyhow!(
                    "{}: adapter {:?} is listed twice",
                    config.display(),
                    adapter.name
                )));
            }
        }
        for wanted in &self.adapters {
            if !seen.contains(wanted.as_str()) {
                return Err(user(anyhow::anyhow!(
                    "--adapter {wanted}: {} lists no such adapter (it has {})",
                    config.display(),
                    seen.iter().copied().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(project
            .adapters
            .iter()
            .filter(|a| self.adapters.is_empty() || self.adapters.contains(&a.name))
            .cloned()
            .collect())
    }

    fn rebuild(
        &self,
        project: &Project,
        adapter: &AdapterConfig,
        current: &aip_regen::Current,
        lock: &mut Lock,
        row: &mut Row,
        progress: &mut Progress,
    ) -> Result<(), CliError> {
        progress.stage(
            "regen",
            &format!("{}: {}", adapter.name, row.reasons.join("; ")),
        );
        let settings = aip_regen::BuildSettings {
            key: self.key_ref(project, progress)?,
            password: crate::password::password_from_env().0,
            modules_dir: self
                .out
                .clone()
                .unwrap_or_else(|| project.root.join("modules")),
            cache: aip_compile::CacheDirs::from_env(),
            contract_test: !self.no_test,
        };
        let regenerated = aip_regen::regenerate(
            project,
            adapter,
            current,
            lock.entries.get(&adapter.name),
            &settings,
            &mut super::build::ProgressObserver(progress),
        )
        .map_err(regen_error)?;
        row.rebuilt = Some((
            regenerated.entry.version.clone(),
            regenerated.bump,
            regenerated.module_dir.clone(),
        ));
        row.version = Some(regenerated.entry.version.clone());
        row.tested = regenerated.tested;
        lock.entries.insert(adapter.name.clone(), regenerated.entry);
        if self.push {
            let Some(registry) = &adapter.registry else {
                return Err(user(anyhow::anyhow!(
                    "--push: adapter {} names no registry (registry = \"REGISTRY/REPO\" in its [[adapter]] table)",
                    adapter.name
                )));
            };
            let dest = crate::registry_args::module_ref(registry)?;
            let report = super::push::push_module(
                &regenerated.module_dir,
                &dest,
                true,
                &self.registry,
                progress,
            )?;
            row.pushed = Some(report.reference.clone());
        }
        Ok(())
    }

    fn key_ref(
        &self,
        project: &Project,
        progress: &mut Progress,
    ) -> Result<aip_sign::KeyRef, CliError> {
        if let Some(key) = &self.key {
            return aip_sign::KeyRef::parse(key).map_err(user);
        }
        let default = project.root.join("cosign.key");
        if !default.exists() {
            progress.note(&format!(
                "provisioning: no --key given and no {}: generating a key pair there with the password in COSIGN_PASSWORD (empty if unset)",
                default.display()
            ));
            super::keygen::write_key_pair(&project.root, &crate::password::password_from_env().0)?;
        }
        Ok(aip_sign::KeyRef::File(default))
    }

    fn print(&self, rows: &[Row], progress: &Progress) {
        match self.format {
            Format::Json => crate::outln!(
                "{}",
                json!({
                    "adapters": rows.iter().map(|r| json!({
                        "name": r.name,
                        "version": r.version,
                        "up_to_date": r.reasons.is_empty(),
                        "reasons": r.reasons,
                        "rebuilt": r.rebuilt.as_ref().map(|(v, bump, dir)| json!({
                            "version": v,
                            "bump": bump.map(|b| b.as_str()),
                            "module": dir,
                        })),
                        "tested_operations": r.tested,
                        "pushed": r.pushed,
                    })).collect::<Vec<_>>(),
                    "seconds": progress.total_secs(),
                })
            ),
            Format::Text => {
                for row in rows {
                    let version = row.version.as_deref().unwrap_or("-");
                    match (&row.rebuilt, row.reasons.is_empty()) {
                        (_, true) => crate::outln!("{} {version}: up to date", row.name),
                        (Some((v, bump, dir)), false) => crate::outln!(
                            "{}: regenerated {v}{} -> {} ({})",
                            row.name,
                            bump.map(|b| format!(" ({} bump)", b.as_str()))
                                .unwrap_or_default(),
                            dir.display(),
                            row.reasons.join("; ")
                        ),
                        (None, false) => crate::outln!(
                            "{} {version}: out of date: {}",
                            row.name,
                            row.reasons.join("; ")
                        ),
                    }
                    if let Some(tested) = row.tested.filter(|n| *n > 0) {
                        crate::outln!("    contract test: {tested} operation(s) passed");
                    }
                    if let Some(pushed) = &row.pushed {
                        crate::outln!("    pushed {pushed}");
                    }
                }
            }
        }
    }
}

/// Whether every reason is a spec change the gate allows: not one that
/// breaks callers of a `no-breaking` adapter.
fn only_allowed_spec_changes(adapter: &AdapterConfig, reasons: &[Reason]) -> bool {
    reasons.iter().all(|r| match r {
        Reason::SpecChanged { breaking, .. } => {
            *breaking == 0 || adapter.version_policy != aip_regen::VersionPolicy::NoBreaking
        }
        _ => false,
    })
}

/// One adapter's part of the --markdown report: why it is out of date and,
/// when its spec changed, what changed for its callers.
fn drift_section(
    project: &Project,
    adapter: &AdapterConfig,
    row: &Row,
    current: &aip_regen::Current,
) -> String {
    let mut out = format!(
        "### {} {}\n\n{}\n",
        adapter.name,
        row.version.as_deref().unwrap_or("(new)"),
        row.reasons
            .iter()
            .map(|r| format!("- {r}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let changed = row.version.is_some()
        && row
            .reasons
            .iter()
            .any(|r| r.starts_with("the spec changed"));
    if let (true, Some(old)) = (changed, aip_regen::locked_contract(project, adapter)) {
        let report = aip_diff::diff(&old, &current.api);
        let markdown = aip_diff::markdown(&report, &adapter.name);
        // The section's heading is this adapter's.
        out.push_str(markdown.split_once('\n').map_or("", |(_, rest)| rest));
    }
    out.push('\n');
    out
}

/// `rustc -V` and aip-builder's version: what a lock entry's toolchain is.
fn toolchain() -> Result<String, CliError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(&rustc)
        .arg("-V")
        .output()
        .map_err(|e| {
            internal(anyhow::anyhow!(
                "cannot run rustc -V: {e} (aip-builder needs the Rust toolchain)"
            ))
        })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(format!(
        "{version}; aip-builder {}",
        env!("CARGO_PKG_VERSION")
    ))
}

fn regen_error(e: aip_regen::RegenError) -> CliError {
    if matches!(e, aip_regen::RegenError::BreakingRefused { .. }) {
        gate(e)
    } else if e.is_user_error() {
        let hint = e.hint();
        user_hinted(e, hint)
    } else {
        internal(e)
    }
}
