//! Rendering: turns an [`aip_ir::Api`] into the files of an adapter crate,
//! for one of two targets: a WASM component or a gRPC microservice.
//!
//! Rendering is a pure function of the IR and the embedded templates: it
//! does no I/O, and the same IR always gives byte-identical files. Every
//! rendered Rust file is parsed with `syn` and formatted with `prettyplease`,
//! so output that is not valid Rust is caught here, not by `cargo`.

mod describe;
mod model;
mod runtime_enums;
mod sanitize;
mod templates;

use std::collections::BTreeMap;

use aip_ir::Api;
use minijinja::{Environment, UndefinedBehavior};

pub use describe::describe_document;
pub use model::{CrateModel, choose_media_type, crate_model};
pub use runtime_enums::{Encoding, Kind, Location, SchemeKind, Style};
pub use sanitize::{IdentScope, rust_str, snake_ident};

/// What can go wrong while rendering. Any of these is a bug in aip-builder
/// or its templates, never a problem with the spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed to render.
    #[error(
        "template {template} failed to render: {source}\nhint: this is a bug in aip-builder; please report it with the spec"
    )]
    Template {
        /// The template path.
        template: &'static str,
        /// minijinja's error.
        source: minijinja::Error,
    },
    /// A template produced something that is not valid Rust.
    #[error(
        "rendered {path} is not valid Rust ({source}) at line {line}\nhint: this is a bug in aip-builder; please report it with the spec"
    )]
    InvalidRust {
        /// The generated file.
        path: &'static str,
        /// syn's error.
        source: syn::Error,
        /// The line in the unformatted output.
        line: usize,
    },
    /// describe.json could not be serialised.
    #[error("cannot serialise describe.json: {0}")]
    Describe(#[from] serde_json::Error),
}

/// The files of one generated crate, by relative path, in path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedCrate {
    /// Relative path -> contents.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// A generated crate's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A `wasm32-wasip2` component (`templates/wasm-component`).
    WasmComponent,
    /// A tonic gRPC microservice (`templates/grpc-service`).
    GrpcService,
}

impl Target {
    /// The template folder name, also used under `generated/<name>/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Target::WasmComponent => "wasm",
            Target::GrpcService => "grpc",
        }
    }
}

/// Renders the wasm-component adapter crate for `api`.
pub fn render_wasm(api: &Api) -> Result<RenderedCrate, RenderError> {
    render(
        api,
        templates::WASM_TEMPLATES,
        &[("", templates::WASM_STATIC), ("", templates::SHARED_STATIC)],
        &[],
    )
}

/// Renders the gRPC microservice crate for `api` (REST or gRPC vendor).
pub fn render_service(api: &Api) -> Result<RenderedCrate, RenderError> {
    let mut rendered = render(
        api,
        templates::SERVICE_TEMPLATES,
        &[
            ("", templates::SERVICE_STATIC),
            // The shared runtime files are part of the service runtime crate.
            ("runtime/", templates::SHARED_STATIC),
        ],
        templates::SERVICE_STATIC_BYTES,
    )?;
    if let Some(descriptors) = &api.descriptor_set {
        rendered
            .files
            .insert("src/vendor.binpb".to_string(), descriptors.clone());
    }
    Ok(rendered)
}

/// Renders the crate of `target` for `api`.
pub fn render_target(api: &Api, target: Target) -> Result<RenderedCrate, RenderError> {
    match target {
        Target::WasmComponent => render_wasm(api),
        Target::GrpcService => render_service(api),
    }
}

fn render(
    api: &Api,
    templates: &[templates::Template],
    statics: &[(&str, &[templates::StaticFile])],
    static_bytes: &[(&str, &[u8])],
) -> Result<RenderedCrate, RenderError> {
    let model = crate_model(api);
    let env = environment();
    let mut files = BTreeMap::new();
    for (prefix, group) in statics {
        for file in *group {
            files.insert(
                format!("{prefix}{}", file.path),
                file.contents.as_bytes().to_vec(),
            );
        }
    }
    for (path, bytes) in static_bytes {
        files.insert(path.to_string(), bytes.to_vec());
    }
    for template in templates {
        let raw =
            env.render_str(template.source, &model)
                .map_err(|source| RenderError::Template {
                    template: template.path,
                    source,
                })?;
        let formatted = format_rust(template.path, &raw)?;
        files.insert(template.path.to_string(), formatted.into_bytes());
    }
    let mut describe = serde_json::to_string_pretty(&describe_document(api))?;
    describe.push('\n');
    files.insert("src/describe.json".to_string(), describe.into_bytes());
    Ok(RenderedCrate { files })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.add_filter("rust_str", |s: &str| rust_str(s));
    env.add_filter("rust_bool", |b: bool| if b { "true" } else { "false" });
    env
}

fn format_rust(path: &'static str, source: &str) -> Result<String, RenderError> {
    let file = syn::parse_file(source).map_err(|e| RenderError::InvalidRust {
        path,
        line: e.span().start().line,
        source: e,
    })?;
    let mut out = String::from("// Generated by aip-builder. Do not edit.\n");
    out.push_str(&prettyplease::unparse(&file));
    Ok(out)
}
