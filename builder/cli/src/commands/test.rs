//! `aip-builder test MODULE --spec SPEC`

use std::path::PathBuf;

use clap::Args;

use crate::exit::{CliError, internal, user};
use crate::progress::{Format, Progress};
use crate::spec_args::SpecArgs;

/// Contract-test a built module: a mock vendor derived from the spec checks
/// every request the module sends (parameters, credentials and their
/// placement, the body against its schema) and answers with schema-valid
/// data; every operation is invoked with an input synthesized from its
/// input schema. Exits 1 if any operation fails.
#[derive(Debug, Args)]
pub struct Opts {
    /// The module folder (e.g. modules/pets).
    module: PathBuf,
    /// The spec the module was built from (a module does not keep it).
    #[arg(long = "spec", value_name = "SPEC")]
    spec: String,
    /// Module name the spec was built under (default: the module's).
    #[arg(long)]
    name: Option<String>,
    /// Intent overrides the module was built with (OPERATION=INTENT).
    #[arg(long = "intent", value_name = "OPERATION=INTENT", value_parser = crate::spec_args::parse_intent)]
    intents: Vec<(String, String)>,
    /// Import root for .proto specs (repeatable).
    #[arg(long = "proto-path", value_name = "DIR")]
    proto_paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let mut progress = Progress::new(self.format);
        let manifest = aip_register::open_module(&self.module)
            .map_err(user)?
            .manifest;
        let args = SpecArgs {
            spec: self.spec.clone(),
            name: self.name.clone().or(Some(manifest.metadata.name.clone())),
            max_spec_bytes: aip_ingest::Limits::default().max_spec_bytes,
            strict: false,
            ref_root: None,
            allow_dangling_refs: false,
            max_operations: aip_ingest::Limits::default().max_operations,
            fetch_timeout: aip_ingest::Limits::default().fetch_timeout.as_secs(),
            proto_paths: self.proto_paths.clone(),
        };
        let mut api = args.ingest(&mut progress)?.api;
        aip_pipeline::apply_intent_overrides(&mut api, &self.intents.iter().cloned().collect())
            .map_err(crate::exit::pipeline_error)?;
        progress.stage(
            "test",
            &format!("{} operations against a mock vendor", api.operations.len()),
        );
        let report = aip_contract::test_module(&self.module, &api).map_err(|e| match e {
            aip_contract::ContractError::Run(_) | aip_contract::ContractError::Mock(_) => {
                internal(e)
            }
            other => user(other),
        })?;
        let failed = report
            .operations
            .iter()
            .filter(|o| !(o.accepted && o.decoded))
            .count();
        match self.format {
            Format::Json => crate::outln!(
                "{}",
                serde_json::json!({
                    "passed": report.passed(),
                    "failed": failed,
                    "operations": report.operations,
                    "seconds": progress.total_secs(),
                })
            ),
            Format::Text => {
                for op in &report.operations {
                    let verdict = if op.accepted && op.decoded {
                        "ok  "
                    } else {
                        "FAIL"
                    };
                    crate::outln!(
                        "{verdict} {}{}",
                        op.operation,
                        op.problem
                            .as_deref()
                            .map(|p| format!(": {p}"))
                            .unwrap_or_default()
                    );
                }
                crate::outln!(
                    "{} of {} operations passed in {:.1}s",
                    report.operations.len() - failed,
                    report.operations.len(),
                    progress.total_secs()
                );
            }
        }
        if failed > 0 {
            return Err(user(anyhow::anyhow!(
                "{failed} operation(s) failed the contract test: {}",
                report
                    .operations
                    .iter()
                    .filter(|o| !(o.accepted && o.decoded))
                    .map(|o| o.operation.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(())
    }
}
