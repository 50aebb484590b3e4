//! The service's module registry: `DATA/modules/<tenant>/<name>/<version>/`,
//! each a complete module folder (registered atomically by the pipeline or
//! by an install), read for `/v1/modules…`.

use std::path::{Path, PathBuf};

use aip_register::{ModuleManifest, Origin, VerifyReport};
use aip_sign::PublicKey;
use serde::Serialize;

use crate::problem::Problem;

/// A module's status chip, as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Status {
    /// Registered; signature, digests and SBOM verify with a trusted key.
    Installed,
    /// Registered, but it does not verify with any trusted key.
    Unverified,
}

/// One version of a module.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    /// Semver.
    pub version: String,
    /// `wasm` or `grpc`.
    pub runtime: String,
    /// The signed artifact manifest digest.
    pub artifact_digest: String,
    /// Size of the component or image layer.
    pub artifact_size: u64,
    /// Status chip.
    pub status: Status,
    /// What verified, or why not.
    pub detail: String,
    /// The verification check that failed, when Unverified because one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_check: Option<String>,
    /// Intent names the platform routes to it.
    pub intents: Vec<String>,
    /// Where it was installed from (none: built here).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub origin: Option<Origin>,
    /// Links to its parts.
    #[schema(value_type = Object)]
    pub links: serde_json::Value,
}

/// A module and its versions, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModuleInfo {
    /// Module name.
    pub name: String,
    /// Owner.
    pub tenant: String,
    /// One line about it.
    pub description: String,
    /// The newest version.
    pub latest: String,
    /// Status chip of the newest version.
    pub status: Status,
    /// Intents of the newest version.
    pub intents: Vec<String>,
    /// Every version, newest first.
    pub versions: Vec<VersionInfo>,
}

/// A part of a module version served by
/// `/v1/modules/{name}/versions/{version}/{part}`.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// `manifest.yaml`.
    Manifest,
    /// `sbom.cdx.json`.
    Sbom,
    /// The component, or the image layer.
    Artifact,
}

impl Part {
    /// Parses the path segment.
    pub fn parse(text: &str) -> Option<Part> {
        match text {
            "manifest" => Some(Part::Manifest),
            "sbom" => Some(Part::Sbom),
            "artifact" => Some(Part::Artifact),
            _ => None,
        }
    }
}

/// Reads the registry under `root` (`DATA/modules`).
#[derive(Clone)]
pub struct Registry {
    root: PathBuf,
    trusted: Vec<PublicKey>,
}

impl Registry {
    /// A registry at `root`, verifying with `trusted` keys.
    pub fn new(root: PathBuf, trusted: Vec<PublicKey>) -> Registry {
        Registry { root, trusted }
    }

    /// Where `tenant` registers: `root/<tenant>` (versioned).
    pub fn destination(&self, tenant: &str) -> aip_register::Destination {
        aip_register::Destination::Versioned(self.root.join(tenant))
    }

    /// The trusted keys (the service's own first).
    pub fn trusted(&self) -> &[PublicKey] {
        &self.trusted
    }

    /// Every tenant folder (`None`: all tenants).
    fn tenants(&self, tenant: Option<&str>) -> Vec<String> {
        match tenant {
            Some(t) => vec![t.to_string()],
            None => sorted_dirs(&self.root),
        }
    }

    /// Modules of `tenant` (`None`: every tenant), by tenant and name.
    pub fn list(&self, tenant: Option<&str>) -> Vec<ModuleInfo> {
        let mut out = Vec::new();
        for tenant in self.tenants(tenant) {
            for name in sorted_dirs(&self.root.join(&tenant)) {
                if let Some(module) = self.module(&tenant, &name) {
                    out.push(module);
                }
            }
        }
        out
    }

    /// One module of `tenant` with its versions; `None` when it has none.
    pub fn module(&self, tenant: &str, name: &str) -> Option<ModuleInfo> {
        if !aip_ir::is_valid_module_name(name) {
            return None;
        }
        let dir = self.root.join(tenant).join(name);
        let mut versions: Vec<(semver::Version, PathBuf)> = sorted_dirs(&dir)
            .into_iter()
            .filter_map(|v| Some((semver::Version::parse(&v).ok()?, dir.join(&v))))
            .filter(|(_, d)| d.join("manifest.yaml").is_file())
            .collect();
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        let mut infos = Vec::new();
        let mut description = String::new();
        for (version, folder) in &versions {
            let manifest = read_manifest(folder).ok();
            if description.is_empty()
                && let Some(m) = &manifest
            {
                description.clone_from(&m.metadata.description);
            }
            infos.push(self.version_info(name, &version.to_string(), folder, manifest));
        }
        let newest = infos.first()?;
        Some(ModuleInfo {
            name: name.to_string(),
            tenant: tenant.to_string(),
            description,
            latest: newest.version.clone(),
            status: newest.status,
            intents: newest.intents.clone(),
            versions: infos,
        })
    }

    fn version_info(
        &self,
        name: &str,
        version: &str,
        folder: &Path,
        manifest: Option<ModuleManifest>,
    ) -> VersionInfo {
        let (status, detail, failed_check) = match self.verify(folder) {
            Ok((key, report)) => (
                Status::Installed,
                format!("{} checks passed with key {key}", report.checks.len()),
                None,
            ),
            Err(e) => (Status::Unverified, e.message, e.check.map(str::to_string)),
        };
        let base = format!("/v1/modules/{name}/versions/{version}");
        let links = serde_json::json!({
            "manifest": format!("{base}/manifest"),
            "sbom": format!("{base}/sbom"),
            "artifact": format!("{base}/artifact"),
            "verify": format!("{base}/verify"),
        });
        let origin = Origin::read(folder).ok().flatten();
        match manifest {
            Some(m) => VersionInfo {
                version: version.to_string(),
                runtime: m.runtime.kind.clone(),
                artifact_digest: m.artifact.digest.clone(),
                artifact_size: m.artifact.layer.size,
                status,
                detail,
                failed_check,
                intents: m.intents.iter().map(|i| i.name.clone()).collect(),
                origin,
                links,
            },
            None => VersionInfo {
                version: version.to_string(),
                runtime: String::new(),
                artifact_digest: String::new(),
                artifact_size: 0,
                status: Status::Unverified,
                detail,
                failed_check,
                intents: Vec::new(),
                origin,
                links,
            },
        }
    }

    /// The folder of `tenant`'s `name` at `version`, if registered.
    pub fn folder(&self, tenant: &str, name: &str, version: &str) -> Option<PathBuf> {
        if !aip_ir::is_valid_module_name(name) || semver::Version::parse(version).is_err() {
            return None;
        }
        let folder = self.root.join(tenant).join(name).join(version);
        folder.join("manifest.yaml").is_file().then_some(folder)
    }

    /// The bytes and content type of a part of a registered version.
    pub fn part(&self, folder: &Path, part: Part) -> Result<(Vec<u8>, String), Problem> {
        let read = |file: &str| {
            std::fs::read(folder.join(file)).map_err(|e| {
                tracing::error!("cannot read {}: {e}", folder.join(file).display());
                Problem::internal("the module's files cannot be read; see the service log")
            })
        };
        match part {
            Part::Manifest => Ok((read("manifest.yaml")?, "application/yaml".into())),
            Part::Sbom => Ok((
                read("sbom.cdx.json")?,
                "application/vnd.cyclonedx+json".into(),
            )),
            Part::Artifact => {
                let manifest = read_manifest(folder).map_err(Problem::internal)?;
                let layout = aip_package::Layout::open(&folder.join("oci"))
                    .map_err(|e| Problem::internal(e.to_string()))?;
                let bytes = aip_package::ReadLayout::blob(&layout, &manifest.artifact.layer.digest)
                    .map_err(|e| Problem::internal(e.to_string()))?;
                Ok((bytes, manifest.artifact.layer.media_type))
            }
        }
    }

    /// Verifies a registered folder with each trusted key in turn: the
    /// first that verifies is the result (with that key's fingerprint);
    /// otherwise the last key's error.
    pub fn verify(&self, folder: &Path) -> Result<(String, VerifyReport), VerifyError> {
        let mut last = VerifyError {
            check: None,
            message: "no trusted key is configured".to_string(),
        };
        for key in &self.trusted {
            match aip_register::verify_module(folder, key) {
                Ok(report) => return Ok((aip_distribute::key_fingerprint(key), report)),
                Err(e) => {
                    last = VerifyError {
                        check: match &e {
                            aip_register::RegisterError::Verify(failure) => Some(failure.check()),
                            _ => None,
                        },
                        message: e.to_string(),
                    }
                }
            }
        }
        Err(last)
    }
}

/// Why a module did not verify: the failed check's name (none when the
/// module could not even be read) and the message.
#[derive(Debug, Clone)]
pub struct VerifyError {
    /// The failed check (`unsigned`, `manifest-modified`, ...).
    pub check: Option<&'static str>,
    /// What did not match.
    pub message: String,
}

fn read_manifest(folder: &Path) -> Result<ModuleManifest, String> {
    let path = folder.join("manifest.yaml");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    ModuleManifest::from_yaml(&bytes).map_err(|e| e.to_string())
}

/// Names of the visible sub-folders of `dir`, sorted (staging folders,
/// which start with a dot, are not modules).
fn sorted_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}
