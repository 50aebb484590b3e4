//! Resolving a module reference and pulling a module into memory.

use aip_package::cosign::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signature_tag};
use aip_package::oci::{ImageManifest, MANIFEST_MEDIA_TYPE, sha256_digest};
use aip_package::{CONTRACT_MEDIA_TYPE, LayoutBuilder, SBOM_MEDIA_TYPE};
use aip_register::{MANIFEST_DIGEST_CLAIM, ModuleManifest, StagedModule};
use aip_sign::{PublicKey, SimpleSigning};
use base64::Engine;

use crate::DistributeError;
use crate::client::RegistryClient;
use crate::push::MANIFEST_ARTIFACT_TYPE;
use crate::reference::{ModuleRef, Selector};
use crate::version::{pick, versions};

/// A module pulled from a registry, digest-checked but not yet verified.
pub struct Fetched {
    /// Where it came from, with the tag or digest it resolved to.
    pub resolved: ModuleRef,
    /// The artifact manifest digest.
    pub digest: String,
    /// Its `manifest.yaml`.
    pub manifest: ModuleManifest,
    /// Everything, ready for [`aip_register::verify_staged`] and
    /// [`aip_register::register`].
    pub module: StagedModule,
    /// Whether the registry holds a signature for the artifact.
    pub signed: bool,
}

/// Which tag or digest `reference` selects, as a reference with a
/// [`Selector::Tag`] or [`Selector::Digest`].
pub async fn resolve(
    client: &RegistryClient,
    reference: &ModuleRef,
) -> Result<ModuleRef, DistributeError> {
    let req = match &reference.selector {
        Selector::Tag(_) | Selector::Digest(_) => return Ok(reference.clone()),
        Selector::Latest => None,
        Selector::Version(req) => Some(req),
    };
    let tags = client.tags(reference).await?;
    let tag = match pick(tags.iter().map(String::as_str), req) {
        Some((tag, _)) => tag,
        None if req.is_none() && tags.iter().any(|t| t == "latest") => "latest".to_string(),
        None => {
            let known: Vec<String> = versions(tags.iter().map(String::as_str))
                .iter()
                .map(ToString::to_string)
                .collect();
            return Err(DistributeError::NotFound(format!(
                "no version of {} matches {}: it has {}{}",
                reference.repo_string(),
                match &reference.selector {
                    Selector::Version(_) => reference.selector.to_string(),
                    _ => "@latest (the newest stable version)".to_string(),
                },
                if known.is_empty() {
                    "no semver tags".to_string()
                } else {
                    known.join(", ")
                },
                if known.iter().any(|v| v.contains('-')) {
                    "\nhint: pre-releases are installed only when named exactly, e.g. @1.0.0-rc.1"
                } else {
                    ""
                }
            )));
        }
    };
    Ok(ModuleRef {
        selector: Selector::Tag(tag),
        ..reference.clone()
    })
}

/// Resolves `reference` and pulls the module: artifact, signature (if
/// any), SBOM, contract and `manifest.yaml` referrers, every blob
/// digest-checked.
/// Refuses content that is not a complete AIP module, or whose
/// `manifest.yaml` describes another artifact.
pub async fn fetch(
    client: &RegistryClient,
    reference: &ModuleRef,
) -> Result<Fetched, DistributeError> {
    let resolved = resolve(client, reference).await?;
    let (artifact_bytes, digest) = resolved_manifest(client, &resolved).await?;
    let artifact = parse_manifest(&artifact_bytes, &format!("{resolved}"))?;
    let mut layout = LayoutBuilder::new();
    for desc in std::iter::once(&artifact.config).chain(&artifact.layers) {
        layout.add_blob(&desc.media_type, client.blob(&resolved, desc).await?);
    }

    // The signature first: it names the manifest.yaml it covers.
    let sig_tag = signature_tag(&digest);
    let signature = client.manifest(&resolved.at_tag(&sig_tag)).await?;
    let mut signed_manifest_digest = None;
    if let Some((sig_bytes, _)) = &signature {
        let sig = parse_manifest(sig_bytes, &format!("{}:{sig_tag}", resolved.repo_string()))?;
        for desc in std::iter::once(&sig.config).chain(&sig.layers) {
            let bytes = client.blob(&resolved, desc).await?;
            if desc.media_type == SIMPLE_SIGNING_MEDIA_TYPE {
                signed_manifest_digest = SimpleSigning::from_bytes(&bytes)
                    .ok()
                    .and_then(|p| p.optional_str(MANIFEST_DIGEST_CLAIM).map(str::to_string));
            }
            layout.add_blob(&desc.media_type, bytes);
        }
    }

    // Referrers: manifest.yaml (the one the signature covers, if several)
    // and the SBOM it names.
    let referrers = client.referrers(&resolved, &digest).await?;
    let mut manifest_yaml = None;
    for desc in referrers
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(MANIFEST_ARTIFACT_TYPE))
    {
        let Some(bytes) =
            referrer_layer(client, &resolved, &desc.digest, MANIFEST_ARTIFACT_TYPE).await?
        else {
            continue;
        };
        let matches_signature =
            signed_manifest_digest.as_deref() == Some(sha256_digest(&bytes).as_str());
        if manifest_yaml.is_none() || matches_signature {
            manifest_yaml = Some(bytes);
        }
        if matches_signature {
            break;
        }
    }
    let manifest_yaml = manifest_yaml.ok_or_else(|| {
        DistributeError::Invalid(format!(
            "{resolved} ({digest}) is not an AIP module: no manifest.yaml referrer (artifactType {MANIFEST_ARTIFACT_TYPE}) is attached to it"
        ))
    })?;
    let manifest = ModuleManifest::from_yaml(&manifest_yaml).map_err(|e| {
        DistributeError::Invalid(format!("the manifest.yaml attached to {resolved}: {e}"))
    })?;
    if manifest.artifact.digest != digest {
        return Err(DistributeError::Invalid(format!(
            "the manifest.yaml attached to {resolved} describes artifact {} but the registry's is {digest}",
            manifest.artifact.digest
        )));
    }
    let (sbom_manifest_bytes, sbom) = pull_referrer(
        client,
        &resolved,
        &referrers,
        &manifest.sbom.referrer,
        ("SBOM", SBOM_MEDIA_TYPE),
        &mut layout,
    )
    .await?;
    // The contract the adapter was built from (modules built before
    // contracts were recorded name none).
    let contract_manifest_bytes = match &manifest.contract {
        Some(contract) => Some(
            pull_referrer(
                client,
                &resolved,
                &referrers,
                &contract.referrer,
                ("contract", CONTRACT_MEDIA_TYPE),
                &mut layout,
            )
            .await?
            .0,
        ),
        None => None,
    };

    // The layout, as `build` writes it: the artifact tagged with its
    // version, the SBOM referrer, the signature tagged where cosign looks.
    layout.add_raw_manifest(
        MANIFEST_MEDIA_TYPE,
        artifact_bytes,
        Some(&manifest.artifact.tag),
    )?;
    layout.add_raw_manifest(MANIFEST_MEDIA_TYPE, sbom_manifest_bytes, None)?;
    if let Some(bytes) = contract_manifest_bytes {
        layout.add_raw_manifest(MANIFEST_MEDIA_TYPE, bytes, None)?;
    }
    if let Some((sig_bytes, _)) = signature.as_ref() {
        layout.add_raw_manifest(MANIFEST_MEDIA_TYPE, sig_bytes.clone(), Some(&sig_tag))?;
    }
    Ok(Fetched {
        module: StagedModule {
            name: manifest.metadata.name.clone(),
            layout,
            manifest_yaml,
            sbom,
            origin: None,
        },
        resolved,
        digest,
        manifest,
        signed: signature.is_some(),
    })
}

/// The manifest bytes and digest `resolved` (a tag or digest) points at.
pub(crate) async fn resolved_manifest(
    client: &RegistryClient,
    resolved: &ModuleRef,
) -> Result<(Vec<u8>, String), DistributeError> {
    let at = match &resolved.selector {
        Selector::Digest(d) => resolved.at_digest(d),
        Selector::Tag(t) => resolved.at_tag(t),
        Selector::Latest | Selector::Version(_) => resolved.at_tag("latest"),
    };
    client
        .manifest(&at)
        .await?
        .ok_or_else(|| DistributeError::NotFound(format!("{resolved} is not in the registry")))
}

/// The one layer of media type `media_type` of a referrer manifest.
/// Pulls the referrer `digest` (one of `referrers`, named by
/// manifest.yaml) into `layout`: its manifest's bytes, and the bytes of
/// its layer of `media_type` (`what` names it in errors).
async fn pull_referrer(
    client: &RegistryClient,
    resolved: &ModuleRef,
    referrers: &[aip_package::oci::Descriptor],
    digest: &str,
    (what, media_type): (&str, &str),
    layout: &mut LayoutBuilder,
) -> Result<(Vec<u8>, Vec<u8>), DistributeError> {
    let desc = referrers
        .iter()
        .find(|d| d.digest == digest)
        .ok_or_else(|| {
            DistributeError::Invalid(format!(
                "{resolved}: the {what} referrer {digest} named by manifest.yaml is not attached"
            ))
        })?;
    let (manifest_bytes, _) = client
        .manifest(&resolved.at_digest(&desc.digest))
        .await?
        .ok_or_else(|| {
            DistributeError::NotFound(format!(
                "{resolved}: {what} referrer {} is listed but missing",
                desc.digest
            ))
        })?;
    let manifest = parse_manifest(&manifest_bytes, &desc.digest)?;
    let mut content = None;
    for desc in std::iter::once(&manifest.config).chain(&manifest.layers) {
        let bytes = client.blob(resolved, desc).await?;
        if desc.media_type == media_type {
            content = Some(bytes.clone());
        }
        layout.add_blob(&desc.media_type, bytes);
    }
    let content = content.ok_or_else(|| {
        DistributeError::Invalid(format!(
            "{resolved}: the {what} referrer has no {media_type} layer"
        ))
    })?;
    Ok((manifest_bytes, content))
}

async fn referrer_layer(
    client: &RegistryClient,
    repo: &ModuleRef,
    digest: &str,
    media_type: &str,
) -> Result<Option<Vec<u8>>, DistributeError> {
    let Some((bytes, _)) = client.manifest(&repo.at_digest(digest)).await? else {
        return Ok(None);
    };
    let manifest = parse_manifest(&bytes, digest)?;
    match manifest.layers.iter().find(|l| l.media_type == media_type) {
        Some(layer) => Ok(Some(client.blob(repo, layer).await?)),
        None => Ok(None),
    }
}

fn parse_manifest(bytes: &[u8], what: &str) -> Result<ImageManifest, DistributeError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| DistributeError::Invalid(format!("{what}: the manifest is not JSON: {e}")))?;
    let media_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    if media_type != MANIFEST_MEDIA_TYPE {
        return Err(DistributeError::Invalid(format!(
            "{what} is a {} manifest, not an AIP module (an OCI image manifest)",
            if media_type.is_empty() {
                "untyped"
            } else {
                media_type
            }
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| DistributeError::Invalid(format!("{what}: malformed OCI manifest: {e}")))
}

/// Whether an artifact in a registry is signed, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureState {
    /// No `sha256-<hex>.sig` tag.
    Missing,
    /// A signature is there; no key was given to check it.
    Present,
    /// It verifies with the key and covers this artifact.
    Valid,
    /// It does not verify with the key, or covers another artifact.
    Invalid,
}

/// The signature state of `digest` in `repo`.
pub async fn signature_state(
    client: &RegistryClient,
    repo: &ModuleRef,
    digest: &str,
    key: Option<&PublicKey>,
) -> Result<SignatureState, DistributeError> {
    let Some((bytes, _)) = client
        .manifest(&repo.at_tag(&signature_tag(digest)))
        .await?
    else {
        return Ok(SignatureState::Missing);
    };
    let Some(key) = key else {
        return Ok(SignatureState::Present);
    };
    let sig = parse_manifest(&bytes, "signature")?;
    let Some(layer) = sig
        .layers
        .iter()
        .find(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
    else {
        return Ok(SignatureState::Invalid);
    };
    let payload = client.blob(repo, layer).await?;
    let valid = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .is_some_and(|sig| key.verify(&payload, &sig).is_ok())
        && SimpleSigning::from_bytes(&payload)
            .is_ok_and(|p| p.critical.image.docker_manifest_digest == digest);
    Ok(if valid {
        SignatureState::Valid
    } else {
        SignatureState::Invalid
    })
}
