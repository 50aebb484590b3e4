//! Step 5 for each target: the compiled artifact as an OCI artifact or image.

use aip_ir::Api;
use aip_package::oci::Descriptor;
use aip_package::{ImageInfo, LayoutBuilder, WasmArtifactInfo};
use aip_register::Runtime;

use crate::manifest::description;
use crate::{ADAPTER_WORLD, BUILDER_VERSION, PipelineError, Target};

/// The packaged artifact, before the SBOM and signature are attached.
pub(crate) struct Packaged {
    /// The layout being built.
    pub layout: LayoutBuilder,
    /// The artifact or image manifest.
    pub manifest: Descriptor,
    /// Its one layer.
    pub layer: Descriptor,
    /// `runtime` of manifest.yaml.
    pub runtime: Runtime,
}

/// Packages `artifact` (component or executable) for `target`.
pub(crate) fn package(
    api: &Api,
    version: &str,
    target: Target,
    artifact: Vec<u8>,
) -> Result<Packaged, PipelineError> {
    let mut layout = LayoutBuilder::new();
    match target {
        Target::WasmComponent => {
            let (imports, exports) = aip_host::LoadedComponent::new(&artifact)?.interface();
            let packaged = aip_package::add_wasm_artifact(
                &mut layout,
                artifact,
                &WasmArtifactInfo {
                    name: api.name.clone(),
                    version: version.to_string(),
                    description: description(api),
                    world: ADAPTER_WORLD.into(),
                    imports,
                    exports,
                    spec_digest: api.source.digest.clone(),
                    builder_version: BUILDER_VERSION.into(),
                },
            );
            Ok(Packaged {
                layout,
                manifest: packaged.manifest,
                layer: packaged.layer,
                runtime: Runtime {
                    kind: Runtime::WASM.into(),
                    wasi: Some(true),
                    world: Some(ADAPTER_WORLD.into()),
                    image: None,
                    port: None,
                    service: None,
                },
            })
        }
        Target::GrpcService => {
            let image = aip_package::add_service_image(
                &mut layout,
                &artifact,
                &ImageInfo {
                    name: api.name.clone(),
                    version: version.to_string(),
                    description: description(api),
                    spec_digest: api.source.digest.clone(),
                    builder_version: BUILDER_VERSION.into(),
                },
            )?;
            Ok(Packaged {
                layout,
                runtime: Runtime {
                    kind: Runtime::GRPC.into(),
                    wasi: None,
                    world: None,
                    image: Some(image.manifest.digest.clone()),
                    port: Some(aip_package::SERVICE_PORT),
                    service: Some(aip_adapter_proto::SERVICE_NAME.into()),
                },
                manifest: image.manifest,
                layer: image.layer,
            })
        }
    }
}
