//! Step 6: `manifest.yaml` from the IR and the packaged artifact.

use aip_ir::Api;
use aip_package::oci::sha256_digest;
use aip_register::{
    Artifact, Builder, ContractRef, Intent, Layer, Metadata, ModuleManifest, Permissions,
    Resources, SbomRef, SignatureRef, Source, Vendor,
};

use crate::BUILDER_VERSION;
use crate::package::Packaged;

/// The module's one-line description.
pub(crate) fn description(api: &Api) -> String {
    format!("AIP adapter for {} {}", api.title, api.api_version)
        .trim()
        .to_string()
}

/// The manifest of a packaged module.
pub(crate) fn module_manifest(
    api: &Api,
    version: &str,
    resources: &Resources,
    packaged: &Packaged,
    sbom: &[u8],
    referrer: &str,
    contract: ContractRef,
) -> ModuleManifest {
    ModuleManifest {
        api_version: "aip.dev/v1".into(),
        kind: "Module".into(),
        metadata: Metadata {
            name: api.name.clone(),
            version: version.to_string(),
            description: description(api),
            vendor: Vendor {
                title: api.title.clone(),
                api_version: api.api_version.clone(),
            },
            source: Source {
                format: api.source.format.as_str().into(),
                digest: api.source.digest.clone(),
                location: api.source.location.clone(),
                repairs: api.source.warnings.clone(),
            },
            builder: Builder {
                name: "aip-builder".into(),
                version: BUILDER_VERSION.into(),
            },
        },
        runtime: packaged.runtime.clone(),
        resources: resources.clone(),
        permissions: Permissions {
            fs: "none".into(),
            net: api.vendor_hosts(),
        },
        intents: api
            .operations
            .iter()
            .map(|op| Intent {
                name: op.intent.clone(),
                operation: op.id.clone(),
                method: op.method.as_str().into(),
                path: op.path.clone(),
                summary: op.summary.clone(),
            })
            .collect(),
        artifact: Artifact {
            layout: "oci".into(),
            tag: version.to_string(),
            media_type: aip_package::oci::MANIFEST_MEDIA_TYPE.into(),
            digest: packaged.manifest.digest.clone(),
            layer: Layer {
                media_type: packaged.layer.media_type.clone(),
                digest: packaged.layer.digest.clone(),
                size: packaged.layer.size,
            },
        },
        sbom: SbomRef {
            path: "sbom.cdx.json".into(),
            format: "CycloneDX".into(),
            spec_version: "1.5".into(),
            digest: sha256_digest(sbom),
            referrer: referrer.to_string(),
        },
        contract: Some(contract),
        signature: SignatureRef {
            format: "cosign".into(),
            tag: aip_package::cosign::signature_tag(&packaged.manifest.digest),
            algorithm: "ecdsa-p256-sha256".into(),
        },
    }
}
