//! A module copied out of a registry into an OCI image layout by the
//! standard tools (`skopeo copy docker://… oci:DIR:TAG`, with the
//! `sha256-<hex>.sig` signature and the `sha256-<hex>` referrers index
//! copied beside it), read back as a module so it can be verified.

use std::path::Path;

use aip_package::cosign::signature_tag;
use aip_package::oci::{
    INDEX_MEDIA_TYPE, ImageIndex, ImageManifest, MANIFEST_MEDIA_TYPE, REF_NAME,
};
use aip_package::{Layout, LayoutBuilder, ReadLayout, SBOM_MEDIA_TYPE};
use aip_register::{ModuleManifest, StagedModule};

use crate::DistributeError;
use crate::push::MANIFEST_ARTIFACT_TYPE;

/// Reads the module in the OCI layout at `dir`: the artifact tagged `tag`,
/// or the only AIP artifact in the layout when `tag` is `None`.
pub fn read_layout_module(dir: &Path, tag: Option<&str>) -> Result<StagedModule, DistributeError> {
    let layout = Layout::open(dir)?;
    let invalid = |why: String| DistributeError::Invalid(format!("{}: {why}", dir.display()));
    let artifacts: Vec<_> = layout
        .entries()
        .iter()
        .filter(|d| d.media_type == MANIFEST_MEDIA_TYPE)
        .filter(|d| tag.is_none_or(|t| d.annotations.get(REF_NAME).map(String::as_str) == Some(t)))
        .filter(|d| {
            layout
                .manifest(&d.digest)
                .is_ok_and(|m| m.annotations.contains_key("dev.aip.module.name"))
        })
        .cloned()
        .collect();
    let artifact = match artifacts.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(invalid(format!(
                "no AIP module artifact{}",
                tag.map(|t| format!(" tagged {t}")).unwrap_or_default()
            )));
        }
        many => {
            let tags: Vec<&str> = many
                .iter()
                .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
                .collect();
            return Err(invalid(format!(
                "several AIP module artifacts ({}); name one as DIR:TAG",
                tags.join(", ")
            )));
        }
    };
    let digest = artifact.digest.clone();

    // Referrers: listed directly in index.json (as `build` writes layouts),
    // or inside the referrers tag schema index `sha256-<hex>`.
    let mut referrers: Vec<(String, ImageManifest)> = Vec::new();
    for (desc, manifest) in layout.referrers(&digest)? {
        referrers.push((desc.digest, manifest));
    }
    if let Some(index_desc) = layout
        .tagged(&digest.replace(':', "-"))
        .filter(|d| d.media_type == INDEX_MEDIA_TYPE)
    {
        let index: ImageIndex = serde_json::from_slice(&layout.blob(&index_desc.digest)?)
            .map_err(|e| invalid(format!("the referrers index is malformed: {e}")))?;
        for child in index.manifests {
            let manifest = layout.manifest(&child.digest)?;
            if manifest.subject.as_ref().map(|s| s.digest.as_str()) == Some(digest.as_str())
                && !referrers.iter().any(|(d, _)| *d == child.digest)
            {
                referrers.push((child.digest, manifest));
            }
        }
    }
    let layer_of =
        |manifest: &ImageManifest, media_type: &str| -> Result<Option<Vec<u8>>, DistributeError> {
            match manifest.layers.iter().find(|l| l.media_type == media_type) {
                Some(layer) => Ok(Some(layout.blob(&layer.digest)?)),
                None => Ok(None),
            }
        };
    let mut manifest_yaml = None;
    for (_, manifest) in referrers
        .iter()
        .filter(|(_, m)| m.artifact_type.as_deref() == Some(MANIFEST_ARTIFACT_TYPE))
    {
        manifest_yaml = layer_of(manifest, MANIFEST_ARTIFACT_TYPE)?;
        if manifest_yaml.is_some() {
            break;
        }
    }
    let manifest_yaml = manifest_yaml.ok_or_else(|| {
        invalid(format!(
            "no manifest.yaml referrer of {digest}; copy the referrers index too: skopeo copy --all docker://REPO:{} oci:DIR:{}",
            digest.replace(':', "-"),
            digest.replace(':', "-")
        ))
    })?;
    let manifest = ModuleManifest::from_yaml(&manifest_yaml)?;
    let (_, sbom_manifest) = referrers
        .iter()
        .find(|(d, _)| *d == manifest.sbom.referrer)
        .ok_or_else(|| {
            invalid(format!(
                "the SBOM referrer {} is not in the layout",
                manifest.sbom.referrer
            ))
        })?;
    let sbom = layer_of(sbom_manifest, SBOM_MEDIA_TYPE)?
        .ok_or_else(|| invalid(format!("the SBOM referrer has no {SBOM_MEDIA_TYPE} layer")))?;

    // The module's own layout: the artifact tagged as manifest.yaml says,
    // the SBOM and contract referrers, and the signature if the layout has
    // it.
    let mut out = LayoutBuilder::new();
    let mut copy = |desc_digest: &str, tag: Option<&str>| -> Result<(), DistributeError> {
        let bytes = layout.blob(desc_digest)?;
        let parsed: ImageManifest = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("manifest {desc_digest}: {e}")))?;
        for blob in std::iter::once(&parsed.config).chain(&parsed.layers) {
            out.add_blob(&blob.media_type, layout.blob(&blob.digest)?);
        }
        out.add_raw_manifest(MANIFEST_MEDIA_TYPE, bytes, tag)?;
        Ok(())
    };
    copy(&digest, Some(&manifest.artifact.tag))?;
    copy(&manifest.sbom.referrer, None)?;
    if let Some(contract) = &manifest.contract {
        if !referrers.iter().any(|(d, _)| *d == contract.referrer) {
            return Err(invalid(format!(
                "the contract referrer {} is not in the layout",
                contract.referrer
            )));
        }
        copy(&contract.referrer, None)?;
    }
    let sig_tag = signature_tag(&digest);
    if let Some(sig) = layout.tagged(&sig_tag) {
        let sig_digest = sig.digest.clone();
        copy(&sig_digest, Some(&sig_tag))?;
    }
    Ok(StagedModule {
        name: manifest.metadata.name.clone(),
        layout: out,
        manifest_yaml,
        sbom,
        origin: None,
    })
}
