//! Pushing a module folder to a repository.

use std::collections::BTreeMap;
use std::path::Path;

use aip_package::cosign::signature_tag;
use aip_package::oci::{
    Descriptor, EMPTY_MEDIA_TYPE, INDEX_MEDIA_TYPE, ImageIndex, ImageManifest, MANIFEST_MEDIA_TYPE,
};
use aip_package::{Layout, LayoutBuilder, ReadLayout};
use aip_register::ModuleManifest;
use bytes::Bytes;

use crate::client::RegistryClient;
use crate::version::{tag_version, version_tag};
use crate::{DistributeError, ModuleRef};

/// `artifactType` (and layer media type) of the `manifest.yaml` referrer.
pub const MANIFEST_ARTIFACT_TYPE: &str = "application/vnd.aip.module.manifest.v1+yaml";

/// What to push besides the version tag.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Also tag the artifact `latest` (only moved forward: not when the
    /// repository holds a newer stable version, nor for a pre-release).
    pub latest: bool,
    /// One more tag (the `:TAG` of the destination).
    pub extra_tag: Option<String>,
}

/// Progress of a push.
#[derive(Debug, Clone)]
pub enum PushEvent {
    /// A blob was uploaded, or found already present.
    Blob {
        /// Its digest.
        digest: String,
        /// Its size.
        size: u64,
        /// `false` when the registry had it.
        uploaded: bool,
    },
    /// A manifest was uploaded under a tag or its digest.
    Manifest {
        /// What it is (`artifact`, `signature`, `sbom referrer`, ...).
        what: String,
        /// `repo:tag` or `repo@digest`.
        reference: String,
    },
    /// Something the user should know.
    Note(String),
}

impl std::fmt::Display for PushEvent {
    /// The progress line front ends show.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushEvent::Blob {
                digest,
                size,
                uploaded,
            } => write!(
                f,
                "{} {digest} ({size} bytes)",
                if *uploaded { "uploaded" } else { "present " }
            ),
            PushEvent::Manifest { what, reference } => write!(f, "pushed {what} -> {reference}"),
            PushEvent::Note(note) => f.write_str(note),
        }
    }
}

/// The publish step `aip-builder build --push`, `aip-builder push` and the
/// build service share: pushes the module in `module_dir` to `dest`
/// (`REGISTRY/REPO`, or `REGISTRY/REPO:TAG` for one more tag; the module's
/// version is always its tag), moving `latest` when `latest` allows.
pub async fn publish(
    client: &RegistryClient,
    module_dir: &Path,
    dest: &ModuleRef,
    latest: bool,
    on: &mut (dyn FnMut(PushEvent) + Send),
) -> Result<PushReport, DistributeError> {
    let extra_tag = match &dest.selector {
        crate::Selector::Latest => None,
        crate::Selector::Tag(tag) => Some(tag.clone()),
        other => {
            return Err(DistributeError::Reference {
                reference: dest.to_string(),
                reason: format!(
                    "push to REGISTRY/REPO or REGISTRY/REPO:TAG, not {other}: the module's own version is its tag"
                ),
            });
        }
    };
    push(
        client,
        module_dir,
        dest,
        &PushOptions { latest, extra_tag },
        on,
    )
    .await
}

/// What a push did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushReport {
    /// `registry/repo@sha256:…` of the artifact.
    pub reference: String,
    /// The artifact digest.
    pub digest: String,
    /// Tags now pointing at it.
    pub tags: Vec<String>,
    /// Blobs uploaded.
    pub blobs_uploaded: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Blobs the registry already had.
    pub blobs_present: usize,
    /// The signature tag.
    pub signature_tag: String,
    /// Digests of the referrers (SBOM, manifest.yaml).
    pub referrers: Vec<String>,
    /// Whether the referrers tag schema index was written (the registry
    /// has no referrers API).
    pub referrers_index_written: bool,
}

/// Pushes the module in `module_dir` to `dest` (its selector is ignored
/// except for a `:TAG`, pushed as an extra tag).
pub async fn push(
    client: &RegistryClient,
    module_dir: &Path,
    dest: &ModuleRef,
    options: &PushOptions,
    on: &mut (dyn FnMut(PushEvent) + Send),
) -> Result<PushReport, DistributeError> {
    let plan = PushPlan::read(module_dir)?;
    let digest = plan.artifact.digest.clone();
    let sig_tag = signature_tag(&digest);

    // 0. Nothing to do when the registry already has all of it.
    if let Some(tags) = already_pushed(client, dest, &plan, options).await? {
        on(PushEvent::Note(format!(
            "already in {}: artifact, signature, referrers and tags {}; nothing sent",
            dest.repo_string(),
            tags.join(", ")
        )));
        return Ok(PushReport {
            reference: format!("{}@{digest}", dest.repo_string()),
            digest,
            tags,
            blobs_uploaded: 0,
            bytes_uploaded: 0,
            blobs_present: plan.blobs.blobs().count(),
            signature_tag: sig_tag,
            referrers: plan
                .referrers
                .iter()
                .map(|(_, d)| d.digest.clone())
                .collect(),
            referrers_index_written: false,
        });
    }

    // 1. Blobs, skipping those already there.
    let (mut uploaded, mut present, mut bytes_uploaded) = (0, 0, 0);
    for (blob_digest, bytes) in plan.blobs.blobs() {
        let size = bytes.len() as u64;
        if client.has_blob(dest, blob_digest).await? {
            present += 1;
            on(PushEvent::Blob {
                digest: blob_digest.to_string(),
                size,
                uploaded: false,
            });
        } else {
            client
                .push_blob(dest, blob_digest, &Bytes::copy_from_slice(bytes))
                .await?;
            uploaded += 1;
            bytes_uploaded += size;
            on(PushEvent::Blob {
                digest: blob_digest.to_string(),
                size,
                uploaded: true,
            });
        }
    }

    // 2. Manifests by digest: the artifact, then what refers to it. Tags
    //    move last, so a tag never points at an artifact whose signature
    //    and referrers are not there yet.
    push_manifest(client, dest, &plan, "artifact", &plan.artifact, None, on).await?;
    for (what, referrer) in &plan.referrers {
        push_manifest(client, dest, &plan, what, referrer, None, on).await?;
    }
    push_manifest(
        client,
        dest,
        &plan,
        "signature",
        &plan.signature,
        Some(&sig_tag),
        on,
    )
    .await?;

    // 3. The referrers tag schema, unless the registry already lists them.
    let listed = client.referrers(dest, &digest).await?;
    let missing: Vec<&Descriptor> = plan
        .referrers
        .iter()
        .map(|(_, d)| d)
        .filter(|d| !listed.iter().any(|l| l.digest == d.digest))
        .collect();
    let referrers_index_written = !missing.is_empty();
    if referrers_index_written {
        let mut manifests = listed.clone();
        manifests.extend(missing.into_iter().cloned());
        let index = ImageIndex {
            schema_version: 2,
            media_type: INDEX_MEDIA_TYPE.into(),
            manifests,
        };
        let bytes = Bytes::from(
            serde_json::to_vec(&index).map_err(|e| DistributeError::Invalid(e.to_string()))?,
        );
        let tag = digest.replace(':', "-");
        client
            .push_manifest(&dest.at_tag(&tag), INDEX_MEDIA_TYPE, &bytes)
            .await?;
        on(PushEvent::Manifest {
            what: "referrers index".into(),
            reference: dest.at_tag(&tag).whole(),
        });
    }

    // 4. Tags.
    let mut tags = vec![plan.version_tag.clone()];
    if let Some(extra) = &options.extra_tag
        && !tags.contains(extra)
    {
        tags.push(extra.clone());
    }
    if options.latest {
        match latest_blocker(client, dest, &plan.version_tag).await? {
            None => tags.push("latest".into()),
            Some(why) => on(PushEvent::Note(format!("`latest` not moved: {why}"))),
        }
    }
    for tag in &tags {
        push_manifest(client, dest, &plan, "tag", &plan.artifact, Some(tag), on).await?;
    }

    Ok(PushReport {
        reference: format!("{}@{digest}", dest.repo_string()),
        digest,
        tags,
        blobs_uploaded: uploaded,
        bytes_uploaded,
        blobs_present: present,
        signature_tag: sig_tag,
        referrers: plan
            .referrers
            .iter()
            .map(|(_, d)| d.digest.clone())
            .collect(),
        referrers_index_written,
    })
}

/// The tags the push would leave, if the registry already holds every part
/// of it: the version (and extra) tag and the signature tag on the right
/// digests, the referrers listed, and `latest` where it would point.
/// Manifests are content-addressed, so a matching digest means every blob
/// they name is there too.
async fn already_pushed(
    client: &RegistryClient,
    dest: &ModuleRef,
    plan: &PushPlan,
    options: &PushOptions,
) -> Result<Option<Vec<String>>, DistributeError> {
    let points_at = async |tag: &str, digest: &str| -> Result<bool, DistributeError> {
        Ok(client
            .manifest(&dest.at_tag(tag))
            .await?
            .is_some_and(|(_, d)| d == digest))
    };
    let digest = &plan.artifact.digest;
    let mut tags = vec![plan.version_tag.clone()];
    tags.extend(
        options
            .extra_tag
            .iter()
            .filter(|t| **t != plan.version_tag)
            .cloned(),
    );
    for tag in &tags {
        if !points_at(tag, digest).await? {
            return Ok(None);
        }
    }
    if !points_at(&signature_tag(digest), &plan.signature.digest).await? {
        return Ok(None);
    }
    let listed = client.referrers(dest, digest).await?;
    if !plan
        .referrers
        .iter()
        .all(|(_, r)| listed.iter().any(|l| l.digest == r.digest))
    {
        return Ok(None);
    }
    if options.latest {
        if points_at("latest", digest).await? {
            tags.push("latest".into());
        } else if latest_blocker(client, dest, &plan.version_tag)
            .await?
            .is_none()
        {
            return Ok(None);
        }
    }
    Ok(Some(tags))
}

/// Uploads one manifest of the plan under `tag`, or its digest.
async fn push_manifest(
    client: &RegistryClient,
    dest: &ModuleRef,
    plan: &PushPlan,
    what: &str,
    desc: &Descriptor,
    tag: Option<&str>,
    on: &mut (dyn FnMut(PushEvent) + Send),
) -> Result<(), DistributeError> {
    let reference = match tag {
        Some(tag) => dest.at_tag(tag),
        None => dest.at_digest(&desc.digest),
    };
    let bytes = plan.manifest_bytes(&desc.digest)?;
    client
        .push_manifest(&reference, &desc.media_type, &bytes)
        .await?;
    on(PushEvent::Manifest {
        what: what.to_string(),
        reference: reference.whole(),
    });
    Ok(())
}

/// Why `latest` should not point at `version_tag`, if it should not.
async fn latest_blocker(
    client: &RegistryClient,
    dest: &ModuleRef,
    version_tag: &str,
) -> Result<Option<String>, DistributeError> {
    let Some(version) = tag_version(version_tag) else {
        return Ok(Some(format!("{version_tag} is not a semver version")));
    };
    if !version.pre.is_empty() {
        return Ok(Some(format!("{version} is a pre-release")));
    }
    let tags = match client.tags(dest).await {
        Ok(tags) => tags,
        Err(DistributeError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(crate::version::pick(tags.iter().map(String::as_str), None)
        .filter(|(_, newest)| *newest > version)
        .map(|(tag, _)| format!("the repository holds the newer {tag}")))
}

/// Everything a push sends, read from the module folder.
struct PushPlan {
    /// Every config and layer blob.
    blobs: LayoutBuilder,
    /// Every manifest's bytes, by digest.
    manifests: BTreeMap<String, Bytes>,
    artifact: Descriptor,
    signature: Descriptor,
    referrers: Vec<(String, Descriptor)>,
    version_tag: String,
}

impl PushPlan {
    fn read(dir: &Path) -> Result<PushPlan, DistributeError> {
        let manifest_path = dir.join("manifest.yaml");
        let manifest_yaml = std::fs::read(&manifest_path).map_err(|e| {
            DistributeError::Invalid(format!(
                "{} is not a module folder: cannot read {}: {e}",
                dir.display(),
                manifest_path.display()
            ))
        })?;
        let manifest = ModuleManifest::from_yaml(&manifest_yaml)?;
        let layout = Layout::open(&dir.join("oci"))?;
        let mut blobs = LayoutBuilder::new();
        let mut manifests = BTreeMap::new();

        let artifact = layout
            .tagged(&manifest.artifact.tag)
            .filter(|d| d.digest == manifest.artifact.digest)
            .cloned()
            .ok_or_else(|| {
                DistributeError::Invalid(format!(
                    "{}: the layout has no artifact {} tagged {}",
                    dir.display(),
                    manifest.artifact.digest,
                    manifest.artifact.tag
                ))
            })?;
        copy_manifest(&layout, &mut blobs, &mut manifests, &artifact.digest)?;

        let sig_tag = signature_tag(&artifact.digest);
        let signature = layout.tagged(&sig_tag).cloned().ok_or_else(|| {
            DistributeError::Invalid(format!(
                "{}: the module is not signed (no {sig_tag} in its layout)",
                dir.display()
            ))
        })?;
        copy_manifest(&layout, &mut blobs, &mut manifests, &signature.digest)?;

        let mut referrers = Vec::new();
        for (desc, _) in layout.referrers(&artifact.digest)? {
            copy_manifest(&layout, &mut blobs, &mut manifests, &desc.digest)?;
            let what = match desc.artifact_type.as_deref() {
                Some(aip_package::CONTRACT_MEDIA_TYPE) => "contract referrer",
                _ => "sbom referrer",
            };
            referrers.push((what.to_string(), referrer_entry(&desc, &layout)?));
        }
        let manifest_referrer =
            add_manifest_referrer(&mut blobs, &mut manifests, &artifact, manifest_yaml);
        referrers.push(("manifest.yaml referrer".to_string(), manifest_referrer));

        let version = semver::Version::parse(&manifest.metadata.version).map_err(|e| {
            DistributeError::Invalid(format!(
                "manifest.yaml version {:?}: {e}",
                manifest.metadata.version
            ))
        })?;
        Ok(PushPlan {
            blobs,
            manifests,
            artifact,
            signature,
            referrers,
            version_tag: version_tag(&version),
        })
    }

    fn manifest_bytes(&self, digest: &str) -> Result<Bytes, DistributeError> {
        self.manifests
            .get(digest)
            .cloned()
            .ok_or_else(|| DistributeError::Invalid(format!("no manifest {digest} to push")))
    }
}

/// Copies a manifest and the blobs it names from `layout` into `blobs`.
fn copy_manifest(
    layout: &Layout,
    blobs: &mut LayoutBuilder,
    manifests: &mut BTreeMap<String, Bytes>,
    digest: &str,
) -> Result<(), DistributeError> {
    let bytes = layout.blob(digest)?;
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| DistributeError::Invalid(format!("manifest {digest}: {e}")))?;
    manifests.insert(digest.to_string(), Bytes::from(bytes));
    for desc in std::iter::once(&manifest.config).chain(&manifest.layers) {
        blobs.add_blob(&desc.media_type, layout.blob(&desc.digest)?);
    }
    Ok(())
}

/// The referrers index entry of a referrer manifest: its descriptor with
/// its `artifactType` and annotations.
fn referrer_entry(desc: &Descriptor, layout: &Layout) -> Result<Descriptor, DistributeError> {
    let manifest = layout.manifest(&desc.digest)?;
    Ok(Descriptor {
        media_type: MANIFEST_MEDIA_TYPE.into(),
        digest: desc.digest.clone(),
        size: desc.size,
        artifact_type: manifest.artifact_type.clone(),
        annotations: manifest.annotations.clone(),
        platform: None,
    })
}

/// `manifest.yaml` as a referrer of the artifact: an OCI 1.1 artifact with
/// an empty config and one layer. Deterministic, so re-pushing the same
/// module gives the same digest.
fn add_manifest_referrer(
    blobs: &mut LayoutBuilder,
    manifests: &mut BTreeMap<String, Bytes>,
    artifact: &Descriptor,
    manifest_yaml: Vec<u8>,
) -> Descriptor {
    let config = blobs.add_blob(EMPTY_MEDIA_TYPE, b"{}".to_vec());
    let mut layer = blobs.add_blob(MANIFEST_ARTIFACT_TYPE, manifest_yaml);
    layer.annotations = BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        "manifest.yaml".to_string(),
    )]);
    let mut manifest = ImageManifest::new(config, vec![layer]);
    manifest.artifact_type = Some(MANIFEST_ARTIFACT_TYPE.into());
    manifest.subject = Some(Descriptor {
        media_type: artifact.media_type.clone(),
        digest: artifact.digest.clone(),
        size: artifact.size,
        artifact_type: None,
        annotations: BTreeMap::new(),
        platform: None,
    });
    let bytes = manifest.to_bytes();
    let mut desc = Descriptor::of(MANIFEST_MEDIA_TYPE, &bytes);
    manifests.insert(desc.digest.clone(), Bytes::from(bytes));
    desc.artifact_type = Some(MANIFEST_ARTIFACT_TYPE.into());
    desc
}
