//! The CycloneDX 1.5 SBOM of a module, written with the `cyclonedx-bom`
//! crate: the component itself (with its sha256), every crate compiled into
//! it (purl and Cargo.lock checksum), and the vendor spec it was generated
//! from (with its digest). Deterministic: no timestamp, and the serial
//! number is derived from the content.

use std::collections::BTreeMap;

use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::uri::Purl;
use cyclonedx_bom::models::bom::{Bom, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::{Tool, Tools};
use sha2::{Digest, Sha256};

use crate::PackageError;

/// Media type of the SBOM (and artifactType of its referrer manifest).
pub const SBOM_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

/// A crate compiled into the component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrateRef {
    /// Crate name.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// What the SBOM describes.
#[derive(Debug, Clone)]
pub struct SbomInput<'a> {
    /// Module name.
    pub module: &'a str,
    /// Module version.
    pub version: &'a str,
    /// The component bytes' `sha256:` digest.
    pub component_digest: &'a str,
    /// Crates compiled into the component (from `cargo tree`).
    pub crates: &'a [CrateRef],
    /// The `Cargo.lock` the build used.
    pub cargo_lock: &'a str,
    /// The vendor spec's location as given.
    pub spec_location: &'a str,
    /// The vendor spec's `sha256:` digest.
    pub spec_digest: &'a str,
    /// aip-builder's version.
    pub builder_version: &'a str,
}

/// The SBOM as CycloneDX 1.5 JSON bytes.
pub fn cyclonedx_json(input: &SbomInput<'_>) -> Result<Vec<u8>, PackageError> {
    let checksums = lock_checksums(input.cargo_lock)?;
    let module_ref = format!("module:{}@{}", input.module, input.version);
    let mut main = Component::new(
        Classification::Application,
        input.module,
        input.version,
        Some(module_ref.clone()),
    );
    main.description = Some(NormalizedString::new(
        "AIP adapter module (wasm32-wasip2 component)",
    ));
    main.hashes = Some(sha256_hashes(input.component_digest));
    main.mime_type = None;

    let mut components = Vec::new();
    let mut crate_refs = Vec::new();
    let mut crates = input.crates.to_vec();
    crates.sort();
    crates.dedup();
    for krate in &crates {
        let bom_ref = format!("crate:{}@{}", krate.name, krate.version);
        let mut c = Component::new(
            Classification::Library,
            &krate.name,
            &krate.version,
            Some(bom_ref.clone()),
        );
        c.purl = Purl::new("cargo", &krate.name, &krate.version).ok();
        if let Some(sum) = checksums.get(&(krate.name.clone(), krate.version.clone())) {
            c.hashes = Some(Hashes(vec![Hash {
                alg: HashAlgorithm::SHA_256,
                content: HashValue(sum.clone()),
            }]));
        } else {
            c.properties = Some(Properties(vec![Property::new(
                "aip:source",
                "generated adapter crate",
            )]));
        }
        components.push(c);
        crate_refs.push(bom_ref);
    }
    let spec_ref = "input:vendor-spec".to_string();
    let mut spec = Component::new(
        Classification::File,
        file_name(input.spec_location),
        "",
        Some(spec_ref.clone()),
    );
    spec.version = None;
    spec.description = Some(NormalizedString::new(
        "vendor API spec the adapter was generated from",
    ));
    spec.hashes = Some(sha256_hashes(input.spec_digest));
    spec.properties = Some(Properties(vec![
        Property::new("aip:role", "input"),
        Property::new("aip:spec-location", input.spec_location),
    ]));
    components.push(spec);

    let mut deps = crate_refs.clone();
    deps.push(spec_ref);
    let serial = serial_number(input);
    let bom = Bom {
        version: 1,
        serial_number: UrnUuid::new(serial).ok(),
        metadata: Some(Metadata {
            timestamp: None,
            tools: Some(Tools::List(vec![Tool::new(
                "aip",
                "aip-builder",
                input.builder_version,
            )])),
            authors: None,
            component: Some(main),
            manufacture: None,
            supplier: None,
            licenses: None,
            properties: None,
            lifecycles: None,
        }),
        components: Some(Components(components)),
        dependencies: Some(Dependencies(vec![Dependency {
            dependency_ref: module_ref,
            dependencies: deps,
        }])),
        spec_version: SpecVersion::V1_5,
        ..Bom::default()
    };
    let mut out = Vec::new();
    bom.output_as_json(&mut out, SpecVersion::V1_5)
        .map_err(|e| PackageError::Invalid(format!("cannot write the SBOM: {e}")))?;
    // Pretty-print through serde_json for stable, readable output.
    let value: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| PackageError::Invalid(format!("SBOM JSON: {e}")))?;
    let mut pretty = serde_json::to_vec_pretty(&value).unwrap_or(out);
    pretty.push(b'\n');
    Ok(pretty)
}

fn sha256_hashes(digest: &str) -> Hashes {
    Hashes(vec![Hash {
        alg: HashAlgorithm::SHA_256,
        content: HashValue(digest.trim_start_matches("sha256:").to_string()),
    }])
}

fn file_name(location: &str) -> &str {
    location.rsplit(['/', '\\']).next().unwrap_or(location)
}

/// A UUID (v4 layout) derived from what the SBOM describes.
fn serial_number(input: &SbomInput<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        input.module,
        input.version,
        input.component_digest,
        input.spec_digest,
        input.builder_version,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `(name, version) -> checksum` from a Cargo.lock.
fn lock_checksums(lock: &str) -> Result<BTreeMap<(String, String), String>, PackageError> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        version: String,
        checksum: Option<String>,
    }
    let lock: Lock =
        toml::from_str(lock).map_err(|e| PackageError::Invalid(format!("Cargo.lock: {e}")))?;
    Ok(lock
        .package
        .into_iter()
        .filter_map(|p| p.checksum.map(|c| ((p.name, p.version), c)))
        .collect())
}
