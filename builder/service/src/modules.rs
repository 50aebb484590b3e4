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

/// A verification's result: the fingerprint of the key that verified and
/// the report, or why it did not verify.
pub type Verified = Result<(String, VerifyReport), VerifyError>;

/// Reads the registry under `root` (`DATA/modules`).
#[derive(Clone)]
pub struct Registry {
    root: PathBuf,
    trusted: Vec<PublicKey>,
    /// The trusted keys' fingerprints, part of every cache key.
    keys_id: String,
    cache: crate::verify_cache::VerifyCache,
}

impl Registry {
    /// A registry at `root`, verifying with `trusted` keys.
    pub fn new(root: PathBuf, trusted: Vec<PublicKey>) -> Registry {
        let keys_id = trusted
            .iter()
            .map(aip_distribute::key_fingerprint)
            .collect::<Vec<_>>()
            .join(",");
        Registry {
            root,
            trusted,
            keys_id,
            cache: Default::default(),
        }
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

    /// One page of the modules of `tenant` (`None`: every tenant), by
    /// tenant and name: at most `limit` after the cursor `after`
    /// (`tenant/name`), and the cursor of the next page if there is one.
    /// Only the page's modules are read.
    pub fn list(
        &self,
        tenant: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<ModuleInfo>, Option<String>) {
        let mut out = Vec::new();
        for tenant in self.tenants(tenant) {
            for name in sorted_dirs(&self.root.join(&tenant)) {
                if after.is_some_and(|a| !is_after(&tenant, &name, a)) {
                    continue;
                }
                if out.len() == limit {
                    let next = out
                        .last()
                        .map(|m: &ModuleInfo| format!("{}/{}", m.tenant, m.name));
                    return (out, next);
                }
                if let Some(module) = self.module(&tenant, &name) {
                    out.push(module);
                }
            }
        }
        (out, None)
    }

    /// One module of `tenant` with its versions; `None` when it has none.
    pub fn module(&self, tenant: &str, name: &str) -> Option<ModuleInfo> {
        if !aip_ir::is_valid_module_name(tenant) || !aip_ir::is_valid_module_name(name) {
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
        let (status, detail, failed_check) = match self.verify_cached(folder) {
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

    /// Whether `tenant` has any registered version of `name` (no manifest
    /// is read, nothing verified).
    pub fn has_module(&self, tenant: &str, name: &str) -> bool {
        aip_ir::is_valid_module_name(tenant)
            && aip_ir::is_valid_module_name(name)
            && sorted_dirs(&self.root.join(tenant).join(name))
                .iter()
                .any(|v| self.folder(tenant, name, v).is_some())
    }

    /// The folder of `tenant`'s `name` at `version`, if registered.
    pub fn folder(&self, tenant: &str, name: &str, version: &str) -> Option<PathBuf> {
        if !aip_ir::is_valid_module_name(tenant)
            || !aip_ir::is_valid_module_name(name)
            || semver::Version::parse(version).is_err()
        {
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

    /// The verification result of a folder from the cache, verifying (and
    /// caching) when its manifest, SBOM, layout index or the trusted keys
    /// changed since.
    pub fn verify_cached(&self, folder: &Path) -> Verified {
        let key = crate::verify_cache::VerifyCache::key(folder, &self.keys_id);
        if let Some(hit) = key.as_ref().and_then(|k| self.cache.get(k)) {
            return hit;
        }
        let result = self.verify_uncached(folder);
        if let Some(key) = key {
            self.cache.put(key, result.clone());
        }
        result
    }

    /// Verifies a folder now, reading every blob, and refreshes its cache
    /// entry (the verify endpoint: a re-verify always checks for real).
    pub fn verify(&self, folder: &Path) -> Verified {
        let result = self.verify_uncached(folder);
        if let Some(key) = crate::verify_cache::VerifyCache::key(folder, &self.keys_id) {
            self.cache.put(key, result.clone());
        }
        result
    }

    /// Verifies a registered folder with each trusted key in turn: the
    /// first that verifies is the result (with that key's fingerprint);
    /// otherwise the last key's error.
    fn verify_uncached(&self, folder: &Path) -> Verified {
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

/// Whether module `tenant/name` comes after the paging cursor `after`
/// (`tenant/name`) in listing order: by tenant, then name. Compared as a
/// pair, not as text: `acme-x/a` comes after `acme/z` though `-` sorts
/// before `/`.
pub fn is_after(tenant: &str, name: &str, after: &str) -> bool {
    let (after_tenant, after_name) = after.split_once('/').unwrap_or((after, ""));
    (tenant, name) > (after_tenant, after_name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_paging_cursor_compares_tenant_then_name() {
        assert!(super::is_after("acme-x", "a", "acme/zeta"));
        assert!(super::is_after("acme", "zeta", "acme/beta"));
        assert!(!super::is_after("acme", "beta", "acme/beta"));
        assert!(!super::is_after("aaa", "zeta", "acme/beta"));
    }
}
