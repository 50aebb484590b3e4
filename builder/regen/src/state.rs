//! An adapter as its spec, the templates and the toolchain make it now:
//! the spec ingested as the build would (vendor URL, target check, intent
//! overrides), the sources it renders to, and their digests.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::RegenError;
use crate::config::{AdapterConfig, Project};

/// An adapter as it would be generated now.
#[derive(Debug, Clone)]
pub struct Current {
    /// The spec as ingested, options applied (the contract `diff` reads).
    pub api: aip_ir::Api,
    /// The generated sources: path -> bytes.
    pub sources: BTreeMap<String, Vec<u8>>,
    /// `sha256:` of `api`.
    pub spec_digest: String,
    /// `sha256:` of `sources`.
    pub sources_digest: String,
    /// `sha256:` of the options.
    pub options_digest: String,
    /// `rustc -V` and aip-builder's version.
    pub toolchain: String,
    /// `sha256:` of all of the above.
    pub fingerprint: String,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// `sha256:` over a crate's files: each path and its bytes, length-framed.
pub fn sources_digest(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut h = Sha256::new();
    for (path, bytes) in files {
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    format!("sha256:{:x}", h.finalize())
}

/// The ingest options an adapter's spec is read with.
pub fn ingest_options(project: &Project, adapter: &AdapterConfig) -> aip_ingest::IngestOptions {
    aip_ingest::IngestOptions {
        name: Some(adapter.name.clone()),
        proto_paths: adapter
            .proto_paths
            .iter()
            .map(|p| project.resolve(p))
            .collect(),
        ..aip_ingest::IngestOptions::default()
    }
}

/// Ingests and renders `adapter` as it would be built now.
pub fn current(
    project: &Project,
    adapter: &AdapterConfig,
    toolchain: &str,
) -> Result<Current, RegenError> {
    let at = |e: &dyn std::fmt::Display| RegenError::Adapter {
        name: adapter.name.clone(),
        message: e.to_string(),
    };
    let spec = project.resolve(&adapter.spec);
    let ingested = aip_ingest::ingest(
        aip_ingest::SpecSource::File(spec),
        &ingest_options(project, adapter),
    )
    .map_err(|e| RegenError::Spec {
        name: adapter.name.clone(),
        source: Box::new(e),
    })?;
    let mut api = ingested.api;
    // Named as configured (relative to the config file), so the contract
    // and the sources do not depend on where the repository is checked out.
    api.source.location = adapter.spec.display().to_string();
    if let Some(url) = &adapter.vendor_url {
        aip_pipeline::set_vendor_url(&mut api, url).map_err(|e| at(&e))?;
    }
    let target = adapter.target.pipeline();
    aip_pipeline::check_target(&api, target).map_err(|e| at(&e))?;
    aip_pipeline::apply_intent_overrides(&mut api, &adapter.intents).map_err(|e| at(&e))?;
    let sources = aip_render::render_target(&api, target)
        .map_err(|e| at(&e))?
        .files;
    let spec_digest = digest(&serde_json::to_vec(&api).map_err(|e| at(&e))?);
    let sources_digest = sources_digest(&sources);
    let options = serde_json::json!({
        "target": adapter.target,
        "vendor_url": adapter.vendor_url,
        "intents": adapter.intents,
        "proto_paths": adapter.proto_paths,
    });
    let options_digest = digest(options.to_string().as_bytes());
    let fingerprint = digest(
        format!("{spec_digest}\n{sources_digest}\n{options_digest}\n{toolchain}\n").as_bytes(),
    );
    Ok(Current {
        api,
        sources,
        spec_digest,
        sources_digest,
        options_digest,
        toolchain: toolchain.to_string(),
        fingerprint,
    })
}

/// The files under `dir`, by path relative to it (`/`-separated); empty
/// when `dir` is missing.
pub fn files_on_disk(dir: &std::path::Path) -> Result<BTreeMap<String, Vec<u8>>, RegenError> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return Ok(files);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| RegenError::io("read", &folder, e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| RegenError::io("read", &folder, e))?
                .path();
            let kind =
                std::fs::symlink_metadata(&path).map_err(|e| RegenError::io("read", &path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&path).map_err(|e| RegenError::io("read", &path, e))?;
                files.insert(relative, bytes);
            }
        }
    }
    Ok(files)
}
