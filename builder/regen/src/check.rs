//! Why an adapter is out of date with its lock entry.

use crate::RegenError;
use crate::config::{AdapterConfig, Project};
use crate::lock::LockEntry;
use crate::state::{Current, files_on_disk, sources_digest};

/// One reason an adapter must be regenerated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The lock has no entry for it.
    NotLocked,
    /// Its spec changed; the diff against the locked contract asks for
    /// this bump.
    SpecChanged {
        /// The bump.
        bump: aip_diff::Bump,
        /// How many changes break callers.
        breaking: usize,
        /// How many changes in all.
        changes: usize,
    },
    /// The locked contract (`aip-builder.lock.d/NAME.api.json`) is missing
    /// or unreadable, so the spec change cannot be judged.
    ContractMissing,
    /// The spec is the same but the sources it generates are not: the
    /// templates or aip-builder changed.
    TemplatesChanged,
    /// Its options (target, vendor URL, intents, proto paths) changed.
    OptionsChanged,
    /// Another Rust toolchain or aip-builder.
    ToolchainChanged {
        /// The locked one.
        locked: String,
        /// This one.
        now: String,
    },
    /// The generated sources on disk are not what the lock says was
    /// generated.
    EditedByHand {
        /// The files that differ, are missing or are extra (empty when
        /// they cannot be named: the templates changed too).
        files: Vec<String>,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NotLocked => write!(f, "the lock has no entry for it"),
            Reason::SpecChanged {
                bump,
                breaking,
                changes,
            } => write!(
                f,
                "the spec changed ({changes} change(s), {breaking} breaking: a {} bump)",
                bump.as_str()
            ),
            Reason::ContractMissing => write!(
                f,
                "its locked contract is missing, so the spec change cannot be judged"
            ),
            Reason::TemplatesChanged => write!(
                f,
                "the templates or aip-builder changed (the generated sources differ)"
            ),
            Reason::OptionsChanged => write!(
                f,
                "its options changed (target, vendor URL, intents or proto paths)"
            ),
            Reason::ToolchainChanged { locked, now } => {
                write!(f, "the toolchain changed ({locked} -> {now})")
            }
            Reason::EditedByHand { files } if files.is_empty() => {
                write!(f, "the generated sources were edited by hand")
            }
            Reason::EditedByHand { files } => {
                write!(f, "generated sources edited by hand: {}", files.join(", "))
            }
        }
    }
}

/// Reads the locked contract of `adapter`, if it is there.
pub fn locked_contract(project: &Project, adapter: &AdapterConfig) -> Option<aip_ir::Api> {
    let text = std::fs::read(project.contract_path(adapter)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Why `adapter`, as it is now (`current`), differs from its lock entry;
/// empty when it is up to date.
pub fn check(
    project: &Project,
    adapter: &AdapterConfig,
    entry: Option<&LockEntry>,
    current: &Current,
) -> Result<Vec<Reason>, RegenError> {
    let Some(entry) = entry else {
        return Ok(vec![Reason::NotLocked]);
    };
    let mut reasons = Vec::new();
    if entry.spec_digest != current.spec_digest {
        match locked_contract(project, adapter) {
            Some(old) => {
                let report = aip_diff::diff(&old, &current.api);
                reasons.push(Reason::SpecChanged {
                    bump: report.bump,
                    breaking: report.breaking,
                    changes: report.changes.len(),
                });
            }
            None => reasons.push(Reason::ContractMissing),
        }
    } else if entry.sources_digest != current.sources_digest {
        reasons.push(Reason::TemplatesChanged);
    }
    if entry.options_digest != current.options_digest {
        reasons.push(Reason::OptionsChanged);
    }
    if entry.toolchain != current.toolchain {
        reasons.push(Reason::ToolchainChanged {
            locked: entry.toolchain.clone(),
            now: current.toolchain.clone(),
        });
    }
    let on_disk = files_on_disk(&project.generated_dir(adapter))?;
    if sources_digest(&on_disk) != entry.sources_digest {
        let files = if current.sources_digest == entry.sources_digest {
            differing(&on_disk, &current.sources)
        } else {
            Vec::new()
        };
        reasons.push(Reason::EditedByHand { files });
    }
    Ok(reasons)
}

/// The paths that differ between two sets of files.
fn differing(
    a: &std::collections::BTreeMap<String, Vec<u8>>,
    b: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut paths: Vec<String> = a
        .iter()
        .filter(|(path, bytes)| b.get(*path) != Some(*bytes))
        .map(|(path, _)| path.clone())
        .chain(
            b.keys()
                .filter(|p| !a.contains_key(*p))
                .map(|p| format!("{p} (missing)")),
        )
        .collect();
    paths.sort();
    paths
}
