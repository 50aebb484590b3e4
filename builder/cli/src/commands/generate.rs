//! `aip-builder generate <SPEC> [--name N] [--target wasm|grpc] [--vendor-url URL] [--intent OP=INTENT]... [--out DIR]`

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
    /// The vendor endpoint, replacing the spec's servers (see `build`).
    #[arg(long, value_name = "URL")]
    vendor_url: Option<String>,
    /// Route an intent to an operation instead of the default (see `build`):
    /// OPERATION_ID=INTENT, repeatable.
    #[arg(long = "intent", value_name = "OPERATION=INTENT", value_parser = crate::spec_args::parse_intent)]
    intents: Vec<(String, String)>,
    /// Output folder (default: generated/<name>/<wasm|grpc>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let mut progress = Progress::new(self.format);
        if let Some(out) = &self.out {
            crate::exit::check_out_folder(out, "--out")?;
        }
        let mut ingested = self.spec.ingest(&mut progress)?;
        if let Some(url) = &self.vendor_url {
            aip_pipeline::set_vendor_url(&mut ingested.api, url).map_err(user)?;
        }
        let intents = self.intents.iter().cloned().collect();
        aip_pipeline::apply_intent_overrides(&mut ingested.api, &intents).map_err(user)?;
        let api = &ingested.api;
        let target = self.target.pipeline();
        aip_pipeline::check_target(api, target).map_err(user)?;
        progress.stage("render", &format!("{} templates", target.dir_name()));
        let rendered = aip_render::render_target(api, target).map_err(internal)?;
        aip_pipeline::check_rendered_size(&rendered).map_err(user)?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| default_generated_dir(&api.name, self.target));
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
                    "warnings": ingested.warnings(),
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
