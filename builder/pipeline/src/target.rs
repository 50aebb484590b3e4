//! Which target a spec can be built for, and the vendor endpoint override.

use aip_compile::CompileTarget;
use aip_ir::{Api, Protocol, Server};

use crate::{PipelineError, Target};

/// The compile target of a render target.
pub(crate) fn compile_target(target: Target) -> CompileTarget {
    match target {
        Target::WasmComponent => CompileTarget::WasmComponent,
        Target::GrpcService => CompileTarget::StaticService,
    }
}

/// The template folder of a target, for progress lines.
pub(crate) fn template_dir(target: Target) -> &'static str {
    match target {
        Target::WasmComponent => "templates/wasm-component",
        Target::GrpcService => "templates/grpc-service",
    }
}

/// Refuses the one combination that cannot be built: WASM adapters call
/// vendors through `wasi:http`, which gives guests no HTTP/2 trailers, so a
/// gRPC vendor cannot be adapted as a component.
pub fn check_target(api: &Api, target: Target) -> Result<(), PipelineError> {
    match (api.protocol, target) {
        (Protocol::Grpc, Target::WasmComponent) => Err(PipelineError::NotSupported(format!(
            "building {} ({} gRPC methods) as a WASM component: gRPC needs HTTP/2 trailers that wasi:http does not give components; \
             build it as a gRPC microservice image instead: --target grpc",
            api.name,
            api.operations.len()
        ))),
        _ => Ok(()),
    }
}

/// Makes `url` the API's only server: the endpoint the module calls unless
/// configured otherwise, and the one host it may reach.
pub fn set_vendor_url(api: &mut Api, url: &str) -> Result<(), PipelineError> {
    let url = url.trim().trim_end_matches('/');
    let authority = aip_ir::authority_of(url)
        .filter(|_| url.starts_with("http://") || url.starts_with("https://"));
    if authority.is_none() {
        return Err(PipelineError::Argument(format!(
            "--vendor-url {url:?} is not an absolute http:// or https:// URL with a host \
             (gRPC vendors: http://host:port, or https://host:port for TLS)"
        )));
    }
    api.servers = vec![Server {
        url: url.to_string(),
        description: Some("set by --vendor-url".into()),
        variables: Vec::new(),
    }];
    Ok(())
}
