//! Regenerating one adapter: the next version from the diff, the sources,
//! the signed module, the changelog entry, the locked contract and the new
//! lock entry.

use std::path::PathBuf;

use aip_diff::{Bump, Report};

use crate::RegenError;
use crate::check::locked_contract;
use crate::config::{AdapterConfig, Project, VersionPolicy};
use crate::lock::LockEntry;
use crate::state::Current;

/// What regenerating gave.
#[derive(Debug)]
pub struct Regenerated {
    /// The new lock entry.
    pub entry: LockEntry,
    /// The registered module's folder.
    pub module_dir: PathBuf,
    /// The bump taken (`None`: the first version).
    pub bump: Option<Bump>,
    /// The diff against the locked contract, if there was one.
    pub report: Option<Report>,
    /// How many operations passed the contract test (`None`: not run).
    pub tested: Option<usize>,
}

/// Runs the contract test of the module built for `adapter`.
fn contract_test(
    adapter: &AdapterConfig,
    module: &std::path::Path,
    api: &aip_ir::Api,
) -> Result<usize, RegenError> {
    let report = aip_contract::test_module(module, api).map_err(|e| RegenError::Adapter {
        name: adapter.name.clone(),
        message: format!("the contract test could not run: {e}"),
    })?;
    let failed: Vec<String> = report
        .operations
        .iter()
        .filter(|o| !(o.accepted && o.decoded))
        .map(|o| {
            format!(
                "{}: {}",
                o.operation,
                o.problem.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(report.operations.len())
    } else {
        Err(RegenError::ContractFailed {
            name: adapter.name.clone(),
            failures: failed,
        })
    }
}

/// How a build is signed and where modules go.
pub struct BuildSettings {
    /// The signing key.
    pub key: aip_sign::KeyRef,
    /// Its password.
    pub password: zeroize::Zeroizing<Vec<u8>>,
    /// The modules folder (`<dir>/<name>`).
    pub modules_dir: PathBuf,
    /// The compile cache.
    pub cache: aip_compile::CacheDirs,
    /// Contract-test each module before it replaces the registered one.
    pub contract_test: bool,
}

/// The version after `locked` for `bump`.
pub fn next_version(locked: &str, bump: Bump) -> Result<String, RegenError> {
    let mut v = semver::Version::parse(locked).map_err(|e| RegenError::Version {
        version: locked.to_string(),
        message: e.to_string(),
    })?;
    // The bump as semver names it, 0.x included: a breaking change of
    // 0.3.1 is 1.0.0 (set `version = "1.0.0"` for the first release to
    // start there).
    match bump {
        Bump::Major => {
            v.major += 1;
            v.minor = 0;
            v.patch = 0;
        }
        Bump::Minor => {
            v.minor += 1;
            v.patch = 0;
        }
        Bump::Patch | Bump::None => v.patch += 1,
    }
    v.pre = semver::Prerelease::EMPTY;
    Ok(v.to_string())
}

/// Regenerates `adapter` (out of date for `reasons`) and builds its module.
pub fn regenerate(
    project: &Project,
    adapter: &AdapterConfig,
    current: &Current,
    entry: Option<&LockEntry>,
    settings: &BuildSettings,
    observer: &mut dyn aip_pipeline::Observer,
) -> Result<Regenerated, RegenError> {
    let report = match entry {
        Some(_) => locked_contract(project, adapter).map(|old| aip_diff::diff(&old, &current.api)),
        None => None,
    };
    let (version, bump) = match (entry, &report) {
        (None, _) => (
            adapter.version.clone().unwrap_or_else(|| "0.1.0".into()),
            None,
        ),
        (Some(locked), report) => {
            // A rebuild with an unchanged contract (templates, toolchain,
            // options, hand edits undone) is a patch.
            let bump = report
                .as_ref()
                .map_or(Bump::Patch, |r| r.bump.max(Bump::Patch));
            (next_version(&locked.version, bump)?, Some(bump))
        }
    };
    if let (VersionPolicy::NoBreaking, Some(report)) = (adapter.version_policy, &report)
        && report.breaking > 0
    {
        return Err(RegenError::BreakingRefused {
            name: adapter.name.clone(),
            breaking: report.breaking,
        });
    }
    let staging = settings.modules_dir.join(".aip-regen-staging");
    let request = aip_pipeline::BuildRequest {
        spec: aip_ingest::SpecSource::File(project.resolve(&adapter.spec)),
        ingest: crate::state::ingest_options(project, adapter),
        target: adapter.target.pipeline(),
        vendor_url: adapter.vendor_url.clone(),
        intents: adapter.intents.clone(),
        version: version.clone(),
        key: settings.key.clone(),
        password: settings.password.clone(),
        // Built beside the registered module, tested, then swapped in: a
        // module that fails its contract test replaces nothing.
        destination: aip_register::Destination::Flat(staging.clone()),
        generated_dir: Some(project.generated_dir(adapter)),
        resources: aip_register::Resources {
            cpu: "250m".into(),
            memory: "128Mi".into(),
        },
        cache: settings.cache.clone(),
        use_compile_cache: true,
        cancel: None,
        background: false,
    };
    let built = aip_pipeline::build_module(request, observer).map_err(|e| RegenError::Build {
        name: adapter.name.clone(),
        source: Box::new(e),
    })?;
    let tested = if settings.contract_test {
        observer.note(&format!(
            "contract test: {} operations against a mock vendor",
            current.api.operations.len()
        ));
        Some(contract_test(adapter, &built.dir, &current.api))
    } else {
        None
    };
    if let Some(Err(e)) = tested {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let module_dir = settings.modules_dir.join(&adapter.name);
    aip_register::move_into_place(&built.dir, &module_dir).map_err(|e| RegenError::Adapter {
        name: adapter.name.clone(),
        message: e.to_string(),
    })?;
    let _ = std::fs::remove_dir_all(&staging);
    // The pipeline wrote the sources it rendered from the spec as found on
    // disk; written again from `current`, they are exactly what the lock
    // records (the spec named as configured, wherever the checkout is).
    aip_compile::write_crate(&current.sources, &project.generated_dir(adapter)).map_err(|e| {
        RegenError::Adapter {
            name: adapter.name.clone(),
            message: e.to_string(),
        }
    })?;
    let contract = serde_json::to_vec_pretty(&current.api).map_err(|e| RegenError::Adapter {
        name: adapter.name.clone(),
        message: e.to_string(),
    })?;
    crate::write_atomically(&project.contract_path(adapter), &contract)?;
    write_changelog(project, adapter, &version, bump, report.as_ref())?;
    Ok(Regenerated {
        entry: LockEntry {
            name: adapter.name.clone(),
            version,
            spec_digest: current.spec_digest.clone(),
            sources_digest: current.sources_digest.clone(),
            options_digest: current.options_digest.clone(),
            toolchain: current.toolchain.clone(),
            fingerprint: current.fingerprint.clone(),
            artifact_digest: built.manifest.artifact.digest.clone(),
        },
        module_dir,
        tested: tested.and_then(Result::ok),
        bump,
        report,
    })
}

/// Adds this version's entry at the top of the adapter's changelog.
fn write_changelog(
    project: &Project,
    adapter: &AdapterConfig,
    version: &str,
    bump: Option<Bump>,
    report: Option<&Report>,
) -> Result<(), RegenError> {
    let path = project.changelog_path(adapter);
    let title = format!("# {}\n", adapter.name);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let earlier = old.strip_prefix(&title).unwrap_or(&old).trim_start();
    let body = match (bump, report) {
        (None, _) => format!("First version, from `{}`.\n", adapter.spec.display()),
        (Some(bump), Some(report)) if !report.changes.is_empty() => {
            let markdown = aip_diff::markdown(report, &format!("{} {version}", adapter.name));
            // The report's own heading is this entry's.
            let rest = markdown.split_once('\n').map_or("", |(_, rest)| rest);
            format!("A {} release.\n{rest}", bump.as_str())
        }
        (Some(_), _) => {
            "Rebuilt: the contract is unchanged (templates, toolchain or options changed).\n".into()
        }
    };
    let entry = format!("## {version}\n\n{body}");
    let text = if earlier.is_empty() {
        format!("{title}\n{entry}")
    } else {
        format!("{title}\n{entry}\n{earlier}")
    };
    crate::write_atomically(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_bump() {
        assert_eq!(next_version("1.2.3", Bump::Major).expect("v"), "2.0.0");
        assert_eq!(next_version("1.2.3", Bump::Minor).expect("v"), "1.3.0");
        assert_eq!(next_version("1.2.3", Bump::Patch).expect("v"), "1.2.4");
        assert_eq!(next_version("0.3.1", Bump::Major).expect("v"), "1.0.0");
        assert_eq!(next_version("0.3.1", Bump::Minor).expect("v"), "0.4.0");
        assert_eq!(next_version("1.0.0-rc.1", Bump::Patch).expect("v"), "1.0.1");
        assert!(next_version("one", Bump::Minor).is_err());
    }
}
