//! `aip-builder build <SPEC> [--name N] [--version SEMVER] [--target wasm|grpc] [--vendor-url URL] [--key KEYREF] [--out DIR]`

use std::path::PathBuf;

use aip_ingest::SpecSource;
use aip_pipeline::{BuildRequest, Observer, Stage};
use aip_register::Resources;
use aip_sign::KeyRef;
use clap::Args;
use serde_json::json;

use crate::exit::{CliError, user};
use crate::password::password_from_env;
use crate::progress::{Format, Progress};
use crate::spec_args::{SpecArgs, Target};

/// Build a signed, SBOM-carrying module from a spec.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    spec: SpecArgs,
    /// Module version (semver).
    #[arg(long, default_value = "0.1.0")]
    version: String,
    /// What to build: a WASM component, or a gRPC microservice image (the
    /// only target for gRPC vendors).
    #[arg(long, value_enum, default_value_t)]
    target: Target,
    /// The vendor endpoint, replacing the spec's servers: what the module
    /// calls by default and may reach (permissions.net). gRPC vendors read
    /// from .proto files name none: http://host:port (https:// for TLS).
    #[arg(long, value_name = "URL")]
    vendor_url: Option<String>,
    /// Route an intent to an operation instead of the default (the
    /// operation id in kebab case): OPERATION_ID=INTENT, repeatable.
    #[arg(long = "intent", value_name = "OPERATION=INTENT", value_parser = crate::spec_args::parse_intent)]
    intents: Vec<(String, String)>,
    /// Signing key: a cosign.key path or env://VAR (password in COSIGN_PASSWORD).
    /// Default: ./cosign.key, generated on first use if it does not exist.
    #[arg(long)]
    key: Option<String>,
    /// Folder modules are registered in.
    #[arg(long, default_value = "modules")]
    out: PathBuf,
    /// Also write the generated sources here.
    #[arg(long)]
    generated: Option<PathBuf>,
    /// CPU request written into the manifest (Kubernetes notation).
    #[arg(long, default_value = "250m")]
    cpu: String,
    /// Memory limit written into the manifest and enforced by `invoke`.
    #[arg(long, default_value = "128Mi")]
    memory: String,
    /// Always run cargo, even when an identical adapter was compiled before.
    #[arg(long)]
    no_cache: bool,
    /// Then push the module to this registry repository (REGISTRY/REPO[:TAG]),
    /// as `aip-builder push` does.
    #[arg(long, value_name = "REGISTRY/REPO")]
    push: Option<String>,
    /// With --push: do not move the `latest` tag.
    #[arg(long, requires = "push")]
    no_latest: bool,
    #[command(flatten)]
    registry: crate::registry_args::RegistryArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Pipeline progress on stderr (shared with `regen`).
pub(crate) struct ProgressObserver<'a>(pub(crate) &'a mut Progress);

impl Observer for ProgressObserver<'_> {
    fn stage(&mut self, stage: Stage, detail: &str) {
        self.0.stage(stage.name(), detail);
    }
    fn note(&mut self, note: &str) {
        self.0.note(note);
    }
    fn tool_output(&mut self, line: &str) {
        self.0.tool_line(line);
    }
    fn warn(&mut self, warning: &aip_ir::SpecWarning) {
        self.0.spec_warning(warning);
    }
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let mut progress = Progress::new(self.format);
        // A bad destination is refused before anything is built.
        crate::exit::check_out_folder(&self.out, "--out")?;
        if let Some(generated) = &self.generated {
            crate::exit::check_out_folder(generated, "--generated")?;
        }
        let push_to = self
            .push
            .as_deref()
            .map(crate::registry_args::module_ref)
            .transpose()?;
        let (password, _) = password_from_env();
        let key = match &self.key {
            Some(k) => KeyRef::parse(k).map_err(user)?,
            None => {
                let default = std::path::Path::new("cosign.key");
                if !default.exists() {
                    progress.note("provisioning: no --key given and no ./cosign.key: generating a key pair (cosign.key, cosign.pub) with the password in COSIGN_PASSWORD (empty if unset)");
                    super::keygen::write_key_pair(std::path::Path::new("."), &password)?;
                }
                KeyRef::File(default.to_path_buf())
            }
        };
        let request = BuildRequest {
            spec: SpecSource::from_arg(&self.spec.spec),
            ingest: self.spec.options(),
            target: self.target.pipeline(),
            vendor_url: self.vendor_url.clone(),
            intents: self.intents.iter().cloned().collect(),
            cancel: None,
            background: false,
            version: self.version.clone(),
            key,
            password,
            destination: aip_register::Destination::Flat(self.out.clone()),
            generated_dir: self.generated.clone(),
            resources: Resources {
                cpu: self.cpu.clone(),
                memory: self.memory.clone(),
            },
            cache: aip_compile::CacheDirs::from_env(),
            use_compile_cache: !self.no_cache,
        };
        let built = aip_pipeline::build_module(request, &mut ProgressObserver(&mut progress))
            .map_err(crate::exit::pipeline_error)?;
        let pushed = match &push_to {
            Some(dest) => Some(super::push::push_module(
                &built.dir,
                dest,
                !self.no_latest,
                &self.registry,
                &mut progress,
            )?),
            None => None,
        };
        let m = &built.manifest;
        match self.format {
            Format::Json => crate::outln!(
                "{}",
                json!({
                    "name": m.metadata.name,
                    "version": m.metadata.version,
                    "dir": built.dir,
                    "artifact_digest": m.artifact.digest,
                    "artifact_size": built.artifact_size,
                    "runtime": m.runtime.kind,
                    "sbom_digest": m.sbom.digest,
                    "intents": m.intents.len(),
                    "net": m.permissions.net,
                    "warnings": built.warnings,
                    "pushed": pushed,
                    "seconds": progress.total_secs(),
                })
            ),
            Format::Text => crate::outln!(
                "built {} {} -> {} ({} intents, {} {} bytes, artifact {}) in {:.1}s",
                m.metadata.name,
                m.metadata.version,
                built.dir.display(),
                m.intents.len(),
                if m.runtime.kind == aip_register::Runtime::GRPC {
                    "executable"
                } else {
                    "component"
                },
                built.artifact_size,
                m.artifact.digest,
                progress.total_secs()
            ),
        }
        if let (Some(report), Format::Text) = (&pushed, self.format) {
            super::push::print_report(report, self.format, &progress);
        }
        Ok(())
    }
}
