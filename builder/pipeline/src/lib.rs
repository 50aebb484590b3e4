//! The build pipeline, top to bottom. [`build_module`] runs it:
//!
//! 1. **Ingest** (`aip-ingest`): read the spec under size limits, resolve
//!    `$ref`s inside its folder, lower it into the IR (`aip-ir`).
//! 2. **Key**: load the signing key now, so a wrong password fails before
//!    minutes of compiling.
//! 3. **Render** (`aip-render`): IR -> adapter crate files (pure), for the
//!    chosen target: a WASM component or a gRPC microservice.
//! 4. **Compile** (`aip-compile`): `cargo build --target wasm32-wasip2` (or
//!    `x86_64-unknown-linux-musl`) `--locked --offline` against the target's
//!    pinned dependency set.
//! 5. **Package** (`aip-package`): the component as a CNCF Wasm OCI artifact,
//!    or the static executable as a one-layer linux/amd64 image; its
//!    CycloneDX SBOM as an OCI 1.1 referrer.
//! 6. **Manifest** (`aip-register`): `manifest.yaml`, validated against its
//!    schema.
//! 7. **Sign** (`aip-sign`): a cosign simple-signing payload over the
//!    artifact digest that also binds the manifest and SBOM digests.
//! 8. **Register** (`aip-register`): the module folder, swapped into
//!    `modules/<name>` in one rename.
//!
//! Nothing reaches `modules/` before step 8, so any earlier failure leaves
//! it exactly as it was.

mod intents;
mod manifest;
mod package;
mod target;

use std::path::PathBuf;

use aip_ingest::{IngestError, IngestOptions, SpecSource};
use aip_package::oci::sha256_digest;
use aip_package::{CrateRef, SbomInput};
use aip_register::{
    MANIFEST_DIGEST_CLAIM, ModuleManifest, Resources, SBOM_DIGEST_CLAIM, StagedModule,
};
use aip_sign::{KeyRef, PrivateKey, SimpleSigning};
use base64::Engine;

pub use aip_render::Target;
pub use intents::{apply_intent_overrides, is_valid_intent};
pub use target::{check_target, set_vendor_url};

/// aip-builder's version, recorded in every artifact.
pub const BUILDER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The WIT world adapters target.
pub const ADAPTER_WORLD: &str = "aip:adapter/adapter@0.1.0";

/// A pipeline stage, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and lowering the spec.
    Ingest,
    /// Loading the signing key.
    Key,
    /// Rendering sources.
    Render,
    /// Compiling the adapter.
    Compile,
    /// Building the OCI layout and SBOM.
    Package,
    /// Signing.
    Sign,
    /// Writing the module folder.
    Register,
}

impl Stage {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Key => "key",
            Stage::Render => "render",
            Stage::Compile => "compile",
            Stage::Package => "package",
            Stage::Sign => "sign",
            Stage::Register => "register",
        }
    }
}

/// Receives progress.
pub trait Observer {
    /// A stage starts.
    fn stage(&mut self, stage: Stage, detail: &str);
    /// A note of the pipeline's own (counts, sizes, paths).
    fn note(&mut self, note: &str);
    /// A line printed by a tool the pipeline runs (cargo, rustup) or a
    /// provisioning notice.
    fn tool_output(&mut self, line: &str);
    /// Something the ingest repaired in the spec (or could not adapt).
    fn warn(&mut self, warning: &aip_ir::SpecWarning);
}

/// Why a build failed, by stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The spec is bad.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The signing key is unusable.
    #[error(transparent)]
    Sign(#[from] aip_sign::SignError),
    /// A bad argument.
    #[error("{0}")]
    Argument(String),
    /// A valid request this version cannot build yet.
    #[error("not supported yet: {0}")]
    NotSupported(String),
    /// Rendering failed (a bug).
    #[error(transparent)]
    Render(#[from] aip_render::RenderError),
    /// Compiling failed.
    #[error(transparent)]
    Compile(#[from] aip_compile::CompileError),
    /// The compiled component does not load.
    #[error(transparent)]
    Host(#[from] aip_host::HostError),
    /// Packaging failed.
    #[error(transparent)]
    Package(#[from] aip_package::PackageError),
    /// Writing the module failed.
    #[error(transparent)]
    Register(#[from] aip_register::RegisterError),
    /// The build was cancelled before it ended.
    #[error("the build was cancelled")]
    Cancelled,
    /// The rendered crate is larger than rustc should be asked to compile.
    #[error(
        "the adapter's sources come to {bytes} bytes, more than the {limit}-byte limit (rustc's memory grows with them); build a smaller part of the API"
    )]
    RenderedTooLarge {
        /// Total bytes of the rendered files.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
}

/// The most bytes of rendered sources compiled into one adapter. The
/// largest real spec we know (Kubernetes, 1,123 operations) renders to
/// about 12 MB.
pub const MAX_RENDERED_BYTES: u64 = 48 << 20;

/// Refuses a rendered crate over [`MAX_RENDERED_BYTES`].
pub fn check_rendered_size(rendered: &aip_render::RenderedCrate) -> Result<(), PipelineError> {
    let bytes: u64 = rendered.files.values().map(|f| f.len() as u64).sum();
    if bytes > MAX_RENDERED_BYTES {
        return Err(PipelineError::RenderedTooLarge {
            bytes,
            limit: MAX_RENDERED_BYTES,
        });
    }
    Ok(())
}

impl PipelineError {
    /// What the user could do about this error, if anything.
    pub fn hint(&self) -> Option<aip_hint::Hint> {
        match self {
            PipelineError::Ingest(e) => e.hint(),
            _ => None,
        }
    }

    /// Whether the user's input (spec, key, arguments) is at fault.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            PipelineError::Ingest(_)
                | PipelineError::Sign(_)
                | PipelineError::Argument(_)
                | PipelineError::NotSupported(_)
                | PipelineError::RenderedTooLarge { .. }
        )
    }
}

/// What to build.
pub struct BuildRequest {
    /// Where the spec is.
    pub spec: SpecSource,
    /// Ingest options (name, limits).
    pub ingest: IngestOptions,
    /// What to build: a WASM component or a gRPC microservice image.
    pub target: Target,
    /// Replaces the spec's servers: the vendor endpoint the module calls by
    /// default and may reach (`permissions.net`).
    pub vendor_url: Option<String>,
    /// Operation id -> intent, replacing the default intents of those
    /// operations.
    pub intents: std::collections::BTreeMap<String, String>,
    /// Module version.
    pub version: String,
    /// Signing key reference.
    pub key: KeyRef,
    /// Password of the signing key.
    pub password: zeroize::Zeroizing<Vec<u8>>,
    /// Where the module is registered (`modules/<name>`, or
    /// `<registry>/<name>/<version>` in the build service).
    pub destination: aip_register::Destination,
    /// Where to also write the generated sources, if anywhere.
    pub generated_dir: Option<PathBuf>,
    /// Resource requests written into the manifest.
    pub resources: Resources,
    /// Shared build cache.
    pub cache: aip_compile::CacheDirs,
    /// Reuse a cached artifact compiled from identical sources.
    pub use_compile_cache: bool,
    /// Stops the build at its next stage, or kills cargo while it runs.
    pub cancel: Option<aip_compile::CancelFlag>,
    /// Compile at a lower CPU priority (the build service's builds, below
    /// its API).
    pub background: bool,
}

/// A registered module.
#[derive(Debug, Clone)]
pub struct BuiltModule {
    /// The module folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: ModuleManifest,
    /// Size in bytes of the component or executable.
    pub artifact_size: u64,
    /// What the ingest repaired in the spec (also in the manifest).
    pub warnings: Vec<aip_ir::SpecWarning>,
}

/// Starts `stage`, unless the build was cancelled.
fn enter(
    observer: &mut dyn Observer,
    cancel: Option<&aip_compile::CancelFlag>,
    stage: Stage,
    detail: &str,
) -> Result<(), PipelineError> {
    let cancelled = || cancel.is_some_and(aip_compile::CancelFlag::is_cancelled);
    if cancelled() {
        return Err(PipelineError::Cancelled);
    }
    observer.stage(stage, detail);
    // The observer may have stopped the build as the stage began (a
    // service whose job was cancelled meanwhile): checked again, so a
    // stopped build never enters the stage.
    if cancelled() {
        return Err(PipelineError::Cancelled);
    }
    Ok(())
}

/// Runs the whole pipeline.
pub fn build_module(
    req: BuildRequest,
    observer: &mut dyn Observer,
) -> Result<BuiltModule, PipelineError> {
    let version = aip_register::check_version(&req.version).map_err(PipelineError::Argument)?;
    req.resources.check().map_err(PipelineError::Argument)?;

    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Ingest,
        &req.spec.location(),
    )?;
    let ingested = aip_ingest::ingest(req.spec.clone(), &req.ingest)?;
    let mut api = ingested.api;
    if let Some(url) = &req.vendor_url {
        set_vendor_url(&mut api, url)?;
    }
    check_target(&api, req.target)?;
    apply_intent_overrides(&mut api, &req.intents)?;
    for w in &api.source.warnings {
        observer.warn(w);
    }
    observer.note(&format!(
        "{} operations, {} schemas ({})",
        api.operations.len(),
        api.schemas.len(),
        api.source.format.as_str()
    ));

    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Key,
        &req.key.display(),
    )?;
    let key = PrivateKey::from_cosign_pem(&req.key.read()?, &req.password, &req.key.display())?;

    let compile_target = target::compile_target(req.target);
    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Render,
        &format!("{} templates", target::template_dir(req.target)),
    )?;
    let rendered = aip_render::render_target(&api, req.target)?;
    check_rendered_size(&rendered)?;
    if let Some(dir) = &req.generated_dir {
        aip_compile::write_crate(&rendered.files, dir)?;
        observer.note(&format!("sources -> {}", dir.display()));
    }

    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Compile,
        &format!("cargo build --release --target {}", compile_target.triple()),
    )?;
    let compiled = aip_compile::compile(
        &rendered.files,
        compile_target,
        aip_compile::BuildOptions {
            cache: req.cache.clone(),
            progress: &mut |line: &str| observer.tool_output(line),
            use_cache: req.use_compile_cache,
            cancel: req.cancel.clone(),
            background: req.background,
        },
    )?;
    let artifact_size = compiled.artifact.len() as u64;
    let artifact_digest = sha256_digest(&compiled.artifact);
    observer.note(&format!(
        "{}: {artifact_size} bytes",
        match req.target {
            Target::WasmComponent => "component",
            Target::GrpcService => "static executable",
        }
    ));

    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Package,
        match req.target {
            Target::WasmComponent => "OCI Wasm artifact + CycloneDX SBOM",
            Target::GrpcService => "OCI image (linux/amd64) + CycloneDX SBOM",
        },
    )?;
    let mut packaged = package::package(&api, &version, req.target, compiled.artifact)?;
    let crates: Vec<CrateRef> = compiled
        .crates
        .iter()
        .map(|(name, version)| CrateRef {
            name: name.clone(),
            version: version.clone(),
        })
        .collect();
    let sbom = aip_package::cyclonedx_json(&SbomInput {
        module: &api.name,
        version: &version,
        component_digest: &artifact_digest,
        crates: &crates,
        cargo_lock: &compiled.cargo_lock,
        spec_location: &api.source.location,
        spec_digest: &api.source.digest,
        builder_version: BUILDER_VERSION,
    })?;
    let referrer =
        aip_package::add_sbom_referrer(&mut packaged.layout, &packaged.manifest, sbom.clone());
    let contract = contract_json(&api)?;
    let contract_ref = aip_register::ContractRef {
        digest: sha256_digest(&contract),
        referrer: aip_package::add_contract_referrer(
            &mut packaged.layout,
            &packaged.manifest,
            contract,
        )
        .digest,
    };

    let manifest = manifest::module_manifest(
        &api,
        &version,
        &req.resources,
        &packaged,
        &sbom,
        &referrer.digest,
        contract_ref,
    );
    let manifest_yaml = manifest.to_yaml()?;

    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Sign,
        "cosign simple signing, ECDSA P-256",
    )?;
    let mut claims = serde_json::Map::new();
    claims.insert(
        MANIFEST_DIGEST_CLAIM.into(),
        sha256_digest(&manifest_yaml).into(),
    );
    claims.insert(SBOM_DIGEST_CLAIM.into(), sha256_digest(&sbom).into());
    claims.insert(
        "dev.aip.module".into(),
        format!("{}@{version}", api.name).into(),
    );
    let payload = SimpleSigning::new(
        &format!("aip.local/{}", api.name),
        &packaged.manifest.digest,
        claims,
    )
    .to_bytes();
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload));
    aip_package::cosign::add_signature(
        &mut packaged.layout,
        &packaged.manifest,
        payload,
        &signature,
    );

    let folder = req.destination.folder(&api.name, &version);
    enter(
        observer,
        req.cancel.as_ref(),
        Stage::Register,
        &folder.display().to_string(),
    )?;
    let dir = aip_register::register_at(
        &folder,
        &StagedModule {
            name: api.name.clone(),
            layout: packaged.layout,
            manifest_yaml,
            sbom,
            origin: None,
        },
    )?;
    Ok(BuiltModule {
        dir,
        manifest,
        artifact_size,
        warnings: api.source.warnings.clone(),
    })
}

/// The contract a module records: the IR it was built from, as compact
/// JSON (the same API gives the same bytes).
fn contract_json(api: &aip_ir::Api) -> Result<Vec<u8>, PipelineError> {
    serde_json::to_vec(api).map_err(|e| {
        PipelineError::Package(aip_package::PackageError::Invalid(format!(
            "the contract does not serialize: {e}"
        )))
    })
}
