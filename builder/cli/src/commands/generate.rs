//! `aip-builder generate <SPEC> [--name N] [--target wasm] [--out DIR]`

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::exit::{CliError, internal, user};
use crate::progress::{Format, Progress};
use crate::spec_args::{SpecArgs, Target, default_generated_dir};

/// Render the adapter crate for a spec without compiling it.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    spec: SpecArgs,
    /// What to generate.
    #[arg(long, value_enum, default_value_t)]
    target: Target,
    /// Output folder (default: generated/<name>/wasm).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        self.target.require_supported()?;
        let mut progress = Progress::new(self.format);
        let ingested = self.spec.ingest(&mut progress)?;
        let api = &ingested.api;
        aip_pipeline::require_rest(api).map_err(user)?;
        progress.stage("render", "wasm-component templates");
        let rendered = aip_render::render_wasm(api).map_err(internal)?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| default_generated_dir(&api.name));
        aip_compile::write_crate(&rendered.files, &out).map_err(internal)?;
        progress.note(&format!(
            "{} files -> {} in {:.2}s",
            rendered.files.len(),
            out.display(),
            progress.stage_secs()
        ));
        match self.format {
            Format::Json => crate::outln!(
                "{}",
                json!({
                    "name": api.name,
                    "out": out.display().to_string(),
                    "operations": api.operations.len(),
                    "files": rendered.files.keys().collect::<Vec<_>>(),
                    "warnings": ingested.warnings,
                })
            ),
            Format::Text => crate::outln!(
                "generated {} ({} operations) in {}",
                api.name,
                api.operations.len(),
                out.display()
            ),
        }
        Ok(())
    }
}
