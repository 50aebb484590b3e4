//! Arguments shared by every command that reads a spec.

use std::path::PathBuf;

use aip_ingest::{IngestOptions, Ingested, Limits, RefRoot, SpecSource};
use clap::Args;

use crate::exit::{CliError, ingest_error};
use crate::progress::Progress;

/// Which spec to read and how.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The spec: a file path, `-` for stdin, or an http(s) URL.
    pub spec: String,
    /// Module name (default: derived from the spec's title).
    #[arg(long)]
    pub name: Option<String>,
    /// Largest spec document accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_spec_bytes)]
    pub max_spec_bytes: u64,
    /// Refuse every spec defect aip-builder would otherwise repair with a
    /// warning (a dangling schema $ref, a repeated operationId, ...).
    #[arg(long)]
    pub strict: bool,
    /// The folder external $refs must stay inside (default: the top of the
    /// git repository holding the spec, else the current directory when it
    /// holds the spec, else the spec's folder).
    #[arg(long, value_name = "DIR")]
    pub ref_root: Option<PathBuf>,
    /// Accepted for compatibility: dangling schema $refs are repaired by
    /// default now (use --strict to refuse them).
    #[arg(long, hide = true, conflicts_with = "strict")]
    pub allow_dangling_refs: bool,
    /// Most operations one spec may define (compile time and rustc's memory
    /// grow with it).
    #[arg(long, default_value_t = Limits::default().max_operations)]
    pub max_operations: usize,
    /// Timeout in seconds for fetching a spec URL or reading a gRPC server's schema.
    #[arg(long, default_value_t = Limits::default().fetch_timeout.as_secs())]
    pub fetch_timeout: u64,
    /// Import root for .proto input, like protoc's -I (repeatable).
    #[arg(long = "proto-path", value_name = "DIR")]
    pub proto_paths: Vec<PathBuf>,
}

impl SpecArgs {
    /// The ingest options these arguments ask for.
    pub fn options(&self) -> IngestOptions {
        IngestOptions {
            name: self.name.clone(),
            limits: Limits {
                max_spec_bytes: self.max_spec_bytes,
                max_operations: self.max_operations,
                fetch_timeout: std::time::Duration::from_secs(self.fetch_timeout.max(1)),
                ..Limits::default()
            },
            strict: self.strict,
            ref_root: self.ref_root.clone().map(RefRoot::new),
            proto_paths: self.proto_paths.clone(),
        }
    }

    /// Reads and lowers the spec, reporting warnings.
    pub fn ingest(&self, progress: &mut Progress) -> Result<Ingested, CliError> {
        progress.stage("ingest", &self.spec);
        let opts = self.options();
        let ingested =
            aip_ingest::ingest(SpecSource::from_arg(&self.spec), &opts).map_err(ingest_error)?;
        for warning in ingested.warnings() {
            progress.spec_warning(warning);
        }
        progress.note(&format!(
            "{} operations, {} schemas ({:?}) in {:.2}s",
            ingested.api.operations.len(),
            ingested.api.schemas.len(),
            ingested.api.source.format,
            progress.stage_secs()
        ));
        Ok(ingested)
    }
}

/// The target a module is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Target {
    /// A wasm32-wasip2 component in the `aip:adapter` world.
    #[default]
    Wasm,
    /// A gRPC microservice image.
    Grpc,
}

impl Target {
    /// The pipeline's target.
    pub fn pipeline(self) -> aip_pipeline::Target {
        match self {
            Target::Wasm => aip_pipeline::Target::WasmComponent,
            Target::Grpc => aip_pipeline::Target::GrpcService,
        }
    }
}

/// Default output folder for generated sources of `name`:
/// `generated/<name>/wasm` or `generated/<name>/grpc`.
pub fn default_generated_dir(name: &str, target: Target) -> PathBuf {
    PathBuf::from("generated")
        .join(name)
        .join(target.pipeline().dir_name())
}

/// `--intent OPERATION_ID=INTENT`.
pub fn parse_intent(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(op, intent)| !op.is_empty() && !intent.is_empty())
        .map(|(op, intent)| (op.to_string(), intent.to_string()))
        .ok_or_else(|| format!("{text:?} is not OPERATION_ID=INTENT"))
}
