//! `aip-builder diff OLD NEW`

use std::path::Path;

use aip_diff::FailOn;
use aip_ingest::Limits;
use clap::{Args, ValueEnum};

use crate::exit::{CliError, gate, internal, user};
use crate::progress::{Format, Progress};
use crate::registry_args::{RegistryArgs, block_on, distribute_error};
use crate::spec_args::SpecArgs;

/// Compare two versions of a vendor spec as the adapter's callers see
/// them: operations, input and output JSON, credentials, vendor hosts,
/// intents and (gRPC) the protobuf wire and JSON rules. Exits 3 when a
/// change meets --fail-on.
#[derive(Debug, Args)]
pub struct Opts {
    /// The old spec: a file, a folder of .proto files, a descriptor set,
    /// an http(s) URL, a grpc:// server, a locked contract
    /// (aip-builder.lock.d/NAME.api.json), a module folder, or a module in
    /// a registry (oci://REGISTRY/REPO[:TAG|@VERSION]; the oci:// may be
    /// left out): a module's recorded contract.
    old: String,
    /// The new spec, in any of the same forms.
    new: String,
    /// Output: `text` (a line per change), `json` (`{bump, breaking,
    /// changes}`) or `markdown` (for a pull-request comment).
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Exit 3 when any breaking change (`breaking`), any change at all
    /// (`any`) or never (`none`) is found.
    #[arg(long, value_enum, default_value_t = FailOnArg::Breaking)]
    fail_on: FailOnArg,
    /// Refuse every spec defect aip-builder would otherwise repair.
    #[arg(long)]
    strict: bool,
    /// Import root for .proto input, like protoc's -I (repeatable; used
    /// for both versions).
    #[arg(long = "proto-path", value_name = "DIR")]
    proto_paths: Vec<std::path::PathBuf>,
    /// Largest spec document accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_spec_bytes)]
    max_spec_bytes: u64,
    /// Most operations one spec may define.
    #[arg(long, default_value_t = Limits::default().max_operations)]
    max_operations: usize,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Markdown,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOnArg {
    Breaking,
    Any,
    None,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let mut progress = Progress::new(match self.format {
            DiffFormat::Text => Format::Text,
            _ => Format::Json,
        });
        let old = self.ingest(&self.old, &mut progress)?;
        let new = self.ingest(&self.new, &mut progress)?;
        let report = aip_diff::diff(&old, &new);
        match self.format {
            DiffFormat::Text => print!("{}", aip_diff::text(&report)),
            DiffFormat::Markdown => print!(
                "{}",
                aip_diff::markdown(&report, &format!("{}: what changed for callers", new.name))
            ),
            DiffFormat::Json => crate::outln!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(internal)?
            ),
        }
        let fail_on = match self.fail_on {
            FailOnArg::Breaking => FailOn::Breaking,
            FailOnArg::Any => FailOn::Any,
            FailOnArg::None => FailOn::None,
        };
        if report.fails(fail_on) {
            return Err(gate(anyhow::anyhow!(
                "{} breaking of {} change(s); the next version is a {} bump (--fail-on {})",
                report.breaking,
                report.changes.len(),
                report.bump.as_str(),
                match self.fail_on {
                    FailOnArg::Breaking => "breaking",
                    FailOnArg::Any => "any",
                    FailOnArg::None => "none",
                }
            )));
        }
        Ok(())
    }

    fn ingest(&self, spec: &str, progress: &mut Progress) -> Result<aip_ir::Api, CliError> {
        if spec.ends_with(".api.json") {
            // A locked contract (`aip-builder.lock.d/NAME.api.json`): the
            // spec as `regen` last built it.
            let text = std::fs::read(spec)
                .map_err(|e| user(anyhow::anyhow!("cannot read {spec}: {e}")))?;
            return serde_json::from_slice(&text).map_err(|e| {
                user(anyhow::anyhow!(
                    "{spec} is not a locked contract written by `aip-builder regen`: {e}"
                ))
            });
        }
        if Path::new(spec).join("manifest.yaml").is_file() {
            progress.stage("contract", &format!("recorded in the module {spec}"));
            let api = aip_register::module_contract(Path::new(spec))
                .map_err(|e| user(anyhow::anyhow!("{spec}: {e}")))?;
            return recorded(api, spec);
        }
        if let Some(reference) = registry_reference(spec) {
            let reference = reference.map_err(user)?;
            progress.stage("contract", &format!("recorded in {reference}"));
            let (config, _) = self.registry.config()?;
            let api = block_on(async {
                let client = self.registry.connect(&reference.registry, &config).await?;
                let fetched = aip_distribute::fetch(&client, &reference)
                    .await
                    .map_err(distribute_error)?;
                aip_register::staged_contract(&fetched.module).map_err(user)
            })?;
            return recorded(api, spec);
        }
        let args = SpecArgs {
            spec: spec.to_string(),
            name: None,
            max_spec_bytes: self.max_spec_bytes,
            strict: self.strict,
            ref_root: None,
            allow_dangling_refs: false,
            max_operations: self.max_operations,
            fetch_timeout: Limits::default().fetch_timeout.as_secs(),
            proto_paths: self.proto_paths.clone(),
        };
        Ok(args.ingest(progress)?.api)
    }
}

/// A module's recorded contract, or why there is none.
fn recorded(api: Option<aip_ir::Api>, spec: &str) -> Result<aip_ir::Api, CliError> {
    api.ok_or_else(|| {
        user(anyhow::anyhow!(
            "{spec} records no contract: it was built before modules recorded the contract they were built from (its manifest.yaml names none); diff the spec it was built from, or rebuild it"
        ))
    })
}

/// `oci://REGISTRY/REPO[:TAG|@VERSION]`, or the same without `oci://`
/// when it is no file here, no URL, and its first part names a registry
/// host (with a dot or a port, or `localhost`), as docker tells them.
///
/// `Some(Err)` for an `oci://` reference that does not parse: it was meant
/// as one, so its error is the answer, not "no such file".
fn registry_reference(
    spec: &str,
) -> Option<Result<aip_distribute::ModuleRef, aip_distribute::DistributeError>> {
    if let Some(rest) = spec.strip_prefix("oci://") {
        return Some(aip_distribute::ModuleRef::parse(rest));
    }
    if spec.contains("://") || Path::new(spec).exists() {
        return None;
    }
    let host = spec.split('/').next()?;
    if !(host.contains('.') || host.contains(':') || host == "localhost") || !spec.contains('/') {
        return None;
    }
    aip_distribute::ModuleRef::parse(spec).ok().map(Ok)
}

#[cfg(test)]
mod tests {
    use super::registry_reference;

    #[test]
    fn registry_references_are_told_from_specs() {
        for reference in [
            "oci://ghcr.io/acme/pets:1.2.0",
            "ghcr.io/acme/pets@1",
            "localhost:5000/team/pets",
            "localhost/pets",
        ] {
            assert!(
                registry_reference(reference).is_some_and(|r| r.is_ok()),
                "{reference}"
            );
        }
        for spec in [
            "specs/pets.yaml",
            "https://example.com/openapi.json",
            "grpc://127.0.0.1:50051",
            "pets.yaml",
            "Cargo.toml",
        ] {
            assert!(registry_reference(spec).is_none(), "{spec}");
        }
        assert!(
            registry_reference("oci://no-repository").is_some_and(|r| r.is_err()),
            "an oci:// that does not parse is a bad reference, not a file"
        );
    }
}
