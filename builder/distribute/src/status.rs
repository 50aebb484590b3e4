//! `list`: installed modules and their status against their registries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aip_package::oci::sha256_digest;
use aip_register::{ModuleManifest, Origin, Verification};
use aip_sign::PublicKey;

use crate::DistributeError;
use crate::client::{ClientOptions, RegistryClient};
use crate::fetch::{SignatureState, signature_state};
use crate::reference::{ModuleRef, Selector};
use crate::version::{pick, tag_version};

/// A module's status, as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Status {
    /// Installed; manifest and SBOM verified.
    Installed,
    /// In the registry, not installed here.
    #[serde(rename = "Not Installed")]
    NotInstalled,
    /// Installed, and the registry holds a newer signed version.
    #[serde(rename = "Needs Update")]
    NeedsUpdate,
    /// Installed, but its signature is missing or invalid (or its files
    /// no longer match their digests).
    Unverified,
}

impl Status {
    /// The label (`Not Installed`).
    pub fn label(self) -> &'static str {
        match self {
            Status::Installed => "Installed",
            Status::NotInstalled => "Not Installed",
            Status::NeedsUpdate => "Needs Update",
            Status::Unverified => "Unverified",
        }
    }
}

/// A module folder under `modules/`, checked locally.
#[derive(Debug, Clone)]
pub struct LocalModule {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest (if it reads).
    pub manifest: Option<ModuleManifest>,
    /// Where it was installed from.
    pub origin: Option<Origin>,
    /// `Installed` or `Unverified`.
    pub status: Status,
    /// What was checked, or what failed.
    pub detail: String,
}

/// One row of `list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusRow {
    /// Module name.
    pub name: String,
    /// Installed version (none when not installed).
    pub version: Option<String>,
    /// The newest stable version in its registry, when known.
    pub latest: Option<String>,
    /// Its status.
    pub status: Status,
    /// `registry/repo` it comes from, if any.
    pub source: Option<String>,
    /// What was checked, or why the status is what it is.
    pub detail: String,
}

/// Reads and checks every module folder in `modules_dir`: digests always,
/// the signature too when `key` is given.
pub fn local_modules(
    modules_dir: &Path,
    key: Option<&PublicKey>,
) -> Result<Vec<LocalModule>, DistributeError> {
    let entries = match std::fs::read_dir(modules_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(DistributeError::Invalid(format!(
                "cannot read {}: {e}",
                modules_dir.display()
            )));
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !dir.join("manifest.yaml").is_file() {
            continue;
        }
        out.push(check_local(&dir, key));
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

fn check_local(dir: &Path, key: Option<&PublicKey>) -> LocalModule {
    let origin = Origin::read(dir).ok().flatten();
    let unverified =
        |manifest: Option<ModuleManifest>, origin: Option<Origin>, detail: String| LocalModule {
            dir: dir.to_path_buf(),
            manifest,
            origin,
            status: Status::Unverified,
            detail,
        };
    let opened = match aip_register::open_module(dir) {
        Ok(opened) => opened,
        Err(e) => return unverified(None, origin, e.to_string()),
    };
    let manifest = opened.manifest;
    let sbom_ok = std::fs::read(dir.join("sbom.cdx.json"))
        .is_ok_and(|b| sha256_digest(&b) == manifest.sbom.digest);
    if !sbom_ok {
        return unverified(
            Some(manifest),
            origin,
            "sbom.cdx.json does not match the digest in manifest.yaml".into(),
        );
    }
    if let Some(key) = key {
        return match aip_register::verify_module(dir, key) {
            Ok(_) => LocalModule {
                dir: dir.to_path_buf(),
                manifest: Some(manifest),
                origin,
                status: Status::Installed,
                detail: "signature, digests and SBOM verified with the given key".into(),
            },
            Err(e) => unverified(Some(manifest), origin, e.to_string()),
        };
    }
    match origin.as_ref().map(|o| o.verification.clone()) {
        Some(Verification::Unverified { reason }) => unverified(Some(manifest), origin, reason),
        Some(Verification::Verified { key }) => LocalModule {
            dir: dir.to_path_buf(),
            manifest: Some(manifest),
            origin,
            status: Status::Installed,
            detail: format!("digests checked; signature verified at install with key {key}"),
        },
        None => LocalModule {
            dir: dir.to_path_buf(),
            manifest: Some(manifest),
            origin,
            status: Status::Installed,
            detail: "built here; digests checked (give --key to check the signature)".into(),
        },
    }
}

/// The `list` table: every local module, updated against the registry it
/// came from, plus (with `registry`) the modules that registry holds and
/// this machine does not. Registries that cannot be reached are reported
/// in the returned warnings; their modules keep their local status.
pub async fn status(
    modules_dir: &Path,
    registry: Option<&str>,
    options: &ClientOptions,
    key: Option<&PublicKey>,
) -> Result<(Vec<StatusRow>, Vec<String>), DistributeError> {
    let local = local_modules(modules_dir, key)?;
    let mut clients: BTreeMap<String, Option<RegistryClient>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    for module in &local {
        let name = module
            .manifest
            .as_ref()
            .map(|m| m.metadata.name.clone())
            .unwrap_or_else(|| {
                module
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let version = module.manifest.as_ref().map(|m| m.metadata.version.clone());
        let mut row = StatusRow {
            name,
            version: version.clone(),
            latest: None,
            status: module.status,
            source: module
                .origin
                .as_ref()
                .map(|o| format!("{}/{}", o.registry, o.repository)),
            detail: module.detail.clone(),
        };
        if let (Some(origin), Some(installed)) = (
            &module.origin,
            version
                .as_deref()
                .and_then(|v| semver::Version::parse(v).ok()),
        ) {
            let client = client_for(&mut clients, &origin.registry, options, &mut warnings).await;
            if let Some(client) = client {
                let repo = ModuleRef {
                    registry: origin.registry.clone(),
                    repository: origin.repository.clone(),
                    selector: Selector::Latest,
                };
                match newest_signed(client, &repo, key).await {
                    Ok(Some(newest)) => {
                        if newest > installed && row.status == Status::Installed {
                            row.status = Status::NeedsUpdate;
                            row.detail = format!("{newest} is in {} (signed)", repo.repo_string());
                        }
                        row.latest = Some(newest.to_string());
                    }
                    Ok(None) => {}
                    Err(e) => warnings.push(format!(
                        "cannot check {} for updates: {e}",
                        repo.repo_string()
                    )),
                }
            }
        }
        rows.push(row);
    }
    if let Some(registry) = registry
        && let Some(client) = client_for(&mut clients, registry, options, &mut warnings).await
    {
        match client.catalog().await {
            Ok(repos) => {
                for repository in repos {
                    let repo = ModuleRef {
                        registry: registry.to_string(),
                        repository: repository.clone(),
                        selector: Selector::Latest,
                    };
                    let Ok(Some((name, version))) = newest_module_name(client, &repo).await else {
                        continue;
                    };
                    if rows.iter().any(|r| r.name == name) {
                        continue;
                    }
                    rows.push(StatusRow {
                        name,
                        version: None,
                        latest: Some(version),
                        status: Status::NotInstalled,
                        source: Some(repo.repo_string()),
                        detail: "in the registry, not installed here".into(),
                    });
                }
            }
            Err(e) => warnings.push(format!("cannot list the catalog of {registry}: {e}")),
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((rows, warnings))
}

async fn client_for<'a>(
    clients: &'a mut BTreeMap<String, Option<RegistryClient>>,
    registry: &str,
    options: &ClientOptions,
    warnings: &mut Vec<String>,
) -> Option<&'a RegistryClient> {
    if !clients.contains_key(registry) {
        // `list` is a glance: one retry, not a push's patience.
        let options = ClientOptions {
            retry: crate::RetryPolicy {
                attempts: 2,
                ..options.retry
            },
            ..options.clone()
        };
        let client = match RegistryClient::connect(registry, &options).await {
            Ok(client) => Some(client),
            Err(e) => {
                warnings.push(format!("{registry}: {e}"));
                None
            }
        };
        clients.insert(registry.to_string(), client);
    }
    clients.get(registry).and_then(Option::as_ref)
}

/// The newest stable version in `repo` that is signed (validly, when a
/// key is given).
async fn newest_signed(
    client: &RegistryClient,
    repo: &ModuleRef,
    key: Option<&PublicKey>,
) -> Result<Option<semver::Version>, DistributeError> {
    let tags = client.tags(repo).await?;
    let mut candidates: Vec<(String, semver::Version)> = tags
        .iter()
        .filter_map(|t| {
            tag_version(t)
                .filter(|v| v.pre.is_empty())
                .map(|v| (t.clone(), v))
        })
        .collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1));
    for (tag, version) in candidates {
        let Some((_, digest)) = client.manifest(&repo.at_tag(&tag)).await? else {
            continue;
        };
        match signature_state(client, repo, &digest, key).await? {
            SignatureState::Valid | SignatureState::Present => return Ok(Some(version)),
            SignatureState::Missing | SignatureState::Invalid => continue,
        }
    }
    Ok(None)
}

/// The module name (annotation `dev.aip.module.name`) and version of the
/// newest stable artifact in `repo`; `None` for repositories that hold no
/// module.
async fn newest_module_name(
    client: &RegistryClient,
    repo: &ModuleRef,
) -> Result<Option<(String, String)>, DistributeError> {
    let tags = client.tags(repo).await?;
    let Some((tag, version)) = pick(tags.iter().map(String::as_str), None) else {
        return Ok(None);
    };
    let Some((bytes, _)) = client.manifest(&repo.at_tag(&tag)).await? else {
        return Ok(None);
    };
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(manifest
        .pointer("/annotations/dev.aip.module.name")
        .and_then(|v| v.as_str())
        .map(|name| (name.to_string(), version.to_string())))
}
