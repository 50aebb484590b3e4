//! What a registry holds: `info` on one repository, `search` across the
//! catalog.

use aip_register::ModuleManifest;
use aip_sign::PublicKey;

use crate::DistributeError;
use crate::client::RegistryClient;
use crate::fetch::{SignatureState, resolve, signature_state};
use crate::push::MANIFEST_ARTIFACT_TYPE;
use crate::reference::ModuleRef;
use crate::version::tag_version;

/// One version of a module in a registry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    /// The version tag.
    pub version: String,
    /// Artifact manifest digest.
    pub digest: String,
    /// Bytes of config and layers.
    pub size: u64,
    /// Its signature.
    pub signature: SignatureState,
}

/// A module repository.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModuleInfo {
    /// `registry/repo`.
    pub repository: String,
    /// The selected version's `manifest.yaml` (the newest stable unless a
    /// version was named).
    pub selected: String,
    /// Module name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `wasm` or `grpc`.
    pub runtime: String,
    /// Intent names.
    pub intents: Vec<String>,
    /// Every semver version, newest first.
    pub versions: Vec<VersionInfo>,
    /// Tags that are not versions (`latest`, ...), with their digests.
    pub other_tags: Vec<(String, String)>,
    /// SBOM summary of the selected version.
    pub sbom: SbomSummary,
}

/// The SBOM of a version, summarised.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SbomSummary {
    /// `CycloneDX 1.5`.
    pub format: String,
    /// Number of components (crates compiled in).
    pub components: usize,
    /// The component the SBOM describes and its hash.
    pub subject: String,
    /// The SBOM's digest.
    pub digest: String,
}

/// A search result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    /// `registry/repo`.
    pub repository: String,
    /// Module name.
    pub name: String,
    /// Newest stable version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Intent names.
    pub intents: Vec<String>,
}

/// Describes the repository of `reference`.
pub async fn info(
    client: &RegistryClient,
    reference: &ModuleRef,
    key: Option<&PublicKey>,
) -> Result<ModuleInfo, DistributeError> {
    let tags = client.tags(reference).await?;
    let mut versions = Vec::new();
    let mut other_tags = Vec::new();
    for tag in &tags {
        let is_version = tag_version(tag).is_some();
        if !is_version && (tag.starts_with("sha256-")) {
            continue;
        }
        let Some((bytes, digest)) = client.manifest(&reference.at_tag(tag)).await? else {
            continue;
        };
        if !is_version {
            other_tags.push((tag.clone(), digest));
            continue;
        }
        let size = manifest_content_size(&bytes);
        let signature = signature_state(client, reference, &digest, key).await?;
        versions.push(VersionInfo {
            version: tag.clone(),
            digest,
            size,
            signature,
        });
    }
    versions.sort_by_key(|v| std::cmp::Reverse(tag_version(&v.version)));
    let resolved = resolve(client, reference).await?;
    let (manifest, sbom) = describe_version(client, &resolved).await?;
    Ok(ModuleInfo {
        repository: reference.repo_string(),
        selected: manifest.metadata.version.clone(),
        name: manifest.metadata.name.clone(),
        description: manifest.metadata.description.clone(),
        runtime: manifest.runtime.kind.clone(),
        intents: manifest.intents.iter().map(|i| i.name.clone()).collect(),
        versions,
        other_tags,
        sbom,
    })
}

/// Repositories in `client`'s registry whose newest module matches every
/// word of `query` (name, description, intents, repository; any case).
pub async fn search(
    client: &RegistryClient,
    query: &str,
) -> Result<Vec<SearchHit>, DistributeError> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut hits = Vec::new();
    for repository in client.catalog().await? {
        let Ok(repo) = ModuleRef::parse(&format!("{}/{repository}", client.registry())) else {
            continue;
        };
        // Repositories that hold no module (or no stable version) are not
        // modules to find.
        let Ok(resolved) = resolve(client, &repo).await else {
            continue;
        };
        let Ok((manifest, _)) = describe_version(client, &resolved).await else {
            continue;
        };
        let intents: Vec<String> = manifest.intents.iter().map(|i| i.name.clone()).collect();
        let haystack = format!(
            "{} {} {} {}",
            manifest.metadata.name,
            manifest.metadata.description,
            intents.join(" "),
            repository
        )
        .to_lowercase();
        if words.iter().all(|w| haystack.contains(w.as_str())) {
            hits.push(SearchHit {
                repository: repo.repo_string(),
                name: manifest.metadata.name.clone(),
                version: manifest.metadata.version.clone(),
                description: manifest.metadata.description.clone(),
                intents,
            });
        }
    }
    hits.sort_by(|a, b| a.name.cmp(&b.name).then(a.repository.cmp(&b.repository)));
    Ok(hits)
}

/// The `manifest.yaml` and SBOM summary of a resolved version, read from
/// its referrers (no layer is downloaded).
async fn describe_version(
    client: &RegistryClient,
    resolved: &ModuleRef,
) -> Result<(ModuleManifest, SbomSummary), DistributeError> {
    let (_, digest) = crate::fetch::resolved_manifest(client, resolved).await?;
    let referrers = client.referrers(resolved, &digest).await?;
    let yaml_ref = referrers
        .iter()
        .find(|d| d.artifact_type.as_deref() == Some(MANIFEST_ARTIFACT_TYPE))
        .ok_or_else(|| {
            DistributeError::Invalid(format!(
                "{resolved} is not an AIP module: no manifest.yaml referrer"
            ))
        })?;
    let yaml = single_layer(client, resolved, &yaml_ref.digest, MANIFEST_ARTIFACT_TYPE).await?;
    let manifest = ModuleManifest::from_yaml(&yaml)?;
    let sbom = single_layer(
        client,
        resolved,
        &manifest.sbom.referrer,
        aip_package::SBOM_MEDIA_TYPE,
    )
    .await?;
    let sbom_json: serde_json::Value = serde_json::from_slice(&sbom)
        .map_err(|e| DistributeError::Invalid(format!("{resolved}: the SBOM is not JSON: {e}")))?;
    let summary = SbomSummary {
        format: format!(
            "{} {}",
            sbom_json["bomFormat"].as_str().unwrap_or("unknown"),
            sbom_json["specVersion"].as_str().unwrap_or("?")
        ),
        components: sbom_json["components"].as_array().map_or(0, Vec::len),
        subject: format!(
            "{} sha256:{}",
            sbom_json
                .pointer("/metadata/component/name")
                .and_then(|v| v.as_str())
                .unwrap_or("?"),
            sbom_json
                .pointer("/metadata/component/hashes/0/content")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
        ),
        digest: aip_package::oci::sha256_digest(&sbom),
    };
    Ok((manifest, summary))
}

async fn single_layer(
    client: &RegistryClient,
    repo: &ModuleRef,
    manifest_digest: &str,
    media_type: &str,
) -> Result<Vec<u8>, DistributeError> {
    let (bytes, _) = client
        .manifest(&repo.at_digest(manifest_digest))
        .await?
        .ok_or_else(|| {
            DistributeError::NotFound(format!(
                "{}: referrer {manifest_digest} is listed but missing",
                repo.repo_string()
            ))
        })?;
    let manifest: aip_package::oci::ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| DistributeError::Invalid(format!("referrer {manifest_digest}: {e}")))?;
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == media_type)
        .ok_or_else(|| {
            DistributeError::Invalid(format!(
                "referrer {manifest_digest} has no {media_type} layer"
            ))
        })?;
    client.blob(repo, layer).await
}

/// Config plus layer sizes of an image manifest (0 if it does not parse).
fn manifest_content_size(bytes: &[u8]) -> u64 {
    serde_json::from_slice::<aip_package::oci::ImageManifest>(bytes)
        .map(|m| m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>())
        .unwrap_or(0)
}
