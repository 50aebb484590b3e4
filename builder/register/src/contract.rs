//! The contract a module records: the IR its adapter was built from, as
//! JSON, attached to the artifact as an OCI referrer
//! (`application/vnd.aip.contract.v1+json`) and named by digest in the
//! signed `manifest.yaml`. `aip-builder diff` compares it when given a
//! module folder or a registry reference instead of a spec.

use std::path::Path;

use aip_package::{CONTRACT_MEDIA_TYPE, Layout, ReadLayout};

use crate::{ContractRef, ModuleManifest, RegisterError, StagedModule, VerifyFailure};

/// The contract bytes `contract` names, read from `layout`: the referrer
/// of `artifact_digest` it names must carry a layer of its digest.
pub(crate) fn contract_bytes(
    layout: &dyn ReadLayout,
    artifact_digest: &str,
    contract: &ContractRef,
) -> Result<Vec<u8>, RegisterError> {
    let missing = || {
        RegisterError::Verify(VerifyFailure::ContractReferrerMissing {
            referrer: contract.referrer.clone(),
            digest: contract.digest.clone(),
        })
    };
    let referrers = layout.referrers(artifact_digest)?;
    let (_, referrer) = referrers
        .iter()
        .find(|(d, _)| d.digest == contract.referrer)
        .ok_or_else(missing)?;
    if referrer.artifact_type.as_deref() != Some(CONTRACT_MEDIA_TYPE)
        || !referrer.layers.iter().any(|l| l.digest == contract.digest)
    {
        return Err(missing());
    }
    Ok(layout.blob(&contract.digest)?)
}

/// The contract of the module in `dir`; `None` for a module built before
/// modules recorded one.
pub fn module_contract(dir: &Path) -> Result<Option<aip_ir::Api>, RegisterError> {
    let bytes = crate::store::read_regular(&dir.join("manifest.yaml"))?;
    let manifest = ModuleManifest::from_yaml(&bytes)?;
    let layout = Layout::open(&dir.join("oci"))?;
    read(&layout, &manifest, &dir.display().to_string())
}

/// The contract of a module not written anywhere yet (one pulled from a
/// registry); `None` for a module built before modules recorded one.
pub fn staged_contract(module: &StagedModule) -> Result<Option<aip_ir::Api>, RegisterError> {
    let manifest = ModuleManifest::from_yaml(&module.manifest_yaml)?;
    read(&module.layout, &manifest, &module.name)
}

fn read(
    layout: &dyn ReadLayout,
    manifest: &ModuleManifest,
    what: &str,
) -> Result<Option<aip_ir::Api>, RegisterError> {
    let Some(contract) = &manifest.contract else {
        return Ok(None);
    };
    let bytes = contract_bytes(layout, &manifest.artifact.digest, contract)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        RegisterError::Manifest(format!(
            "the contract recorded in {what} is not one this aip-builder reads: {e}"
        ))
    })
}
