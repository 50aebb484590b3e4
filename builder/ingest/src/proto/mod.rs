//! Protobuf ingest: `.proto` sources compiled with protox (no protoc), or a
//! binary `FileDescriptorSet`, lowered into the same IR as OpenAPI. Every
//! method of every service becomes an operation: `POST /<package.Service>/<Method>`,
//! input the request message (an array of them for client streaming),
//! output the response message (an array for server streaming).

mod comments;
mod reflection;
mod resolver;
mod schema;

use std::path::{Path, PathBuf};

use aip_ir::{
    Api, MediaType, Operation, Protocol, RequestBody, Response, Rpc, SourceInfo, SpecFormat,
};
use prost::Message;
use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{ChainFileResolver, GoogleFileResolver};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{IngestError, IngestOptions, Ingested, module_name, source};

/// File extensions of binary descriptor sets.
const DESCRIPTOR_SET_EXTENSIONS: &[&str] = &["binpb", "pb", "desc"];

/// Whether `path` is protobuf input: a `.proto` file, a descriptor set, or a
/// folder holding `.proto` files.
pub fn is_protobuf(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("proto") => true,
        Some(ext) if DESCRIPTOR_SET_EXTENSIONS.contains(&ext) => true,
        _ => path.is_dir(),
    }
}

/// Reads a live server's schema through gRPC server reflection and lowers
/// it. The server itself becomes the API's server: `grpc://host:port` is
/// called as `http://host:port`, `grpcs://` as `https://`.
pub fn ingest_reflection(url: &str, opts: &IngestOptions) -> Result<Ingested, IngestError> {
    let (pool, files, bytes) = reflection::fetch(url, opts.limits.fetch_timeout)?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let mut ingested = lower(&pool, &files, url, digest, opts)?;
    let endpoint = if let Some(rest) = url.strip_prefix("grpcs://") {
        format!("https://{}", rest.trim_end_matches('/'))
    } else {
        format!(
            "http://{}",
            url.trim_start_matches("grpc://").trim_end_matches('/')
        )
    };
    ingested.api.servers = vec![aip_ir::Server {
        url: endpoint,
        description: Some("the server read through reflection".into()),
        variables: Vec::new(),
    }];
    Ok(ingested)
}

/// Reads and lowers protobuf input at `path`.
pub fn ingest_protobuf(path: &Path, opts: &IngestOptions) -> Result<Ingested, IngestError> {
    let location = path.display().to_string();
    let is_set = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| DESCRIPTOR_SET_EXTENSIONS.contains(&e));
    let (pool, files, digest) = if is_set {
        let bytes = source::read_file(path, opts.limits.max_spec_bytes)?;
        let pool = DescriptorPool::decode(bytes.as_slice()).map_err(|e| IngestError::Invalid {
            location: location.clone(),
            pointer: String::new(),
            message: format!("not a valid FileDescriptorSet: {e}"),
        })?;
        let files: Vec<String> = pool.files().map(|f| f.name().to_string()).collect();
        (
            pool,
            files,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        )
    } else {
        compile_sources(path, opts)?
    };
    lower(&pool, &files, &location, digest, opts)
}

fn compile_sources(
    path: &Path,
    opts: &IngestOptions,
) -> Result<(DescriptorPool, Vec<String>, String), IngestError> {
    let location = path.display().to_string();
    let read_err = |source: std::io::Error| IngestError::Read {
        location: location.clone(),
        source,
    };
    if !path.exists() {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or folder",
        )));
    }
    if !path.is_dir() && !path.is_file() {
        return Err(read_err(crate::source::not_regular()));
    }
    let mut inputs = Vec::new();
    let default_root = if path.is_dir() {
        collect_protos(path, &mut inputs).map_err(read_err)?;
        inputs.sort();
        path.to_path_buf()
    } else {
        inputs.push(path.to_path_buf());
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    if inputs.is_empty() {
        return Err(IngestError::NoOperations { location });
    }
    let roots: Vec<PathBuf> = if opts.proto_paths.is_empty() {
        vec![default_root]
    } else {
        opts.proto_paths.clone()
    };
    let confined = resolver::ConfinedRoots::new(&roots).map_err(read_err)?;
    let mut names = Vec::new();
    for input in &inputs {
        let name = confined
            .name_of(input)
            .ok_or_else(|| IngestError::ProtoOutsideRoots {
                location: input.display().to_string(),
            })?;
        names.push(name);
    }
    let mut chain = ChainFileResolver::new();
    chain.add(confined);
    chain.add(resolver::EmbeddedGoogleApis);
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_source_info(true).include_imports(true);
    compiler
        .open_files(&names)
        .map_err(|e| proto_error(&e, &location))?;
    let digest = {
        let mut set = compiler.file_descriptor_set();
        for file in &mut set.file {
            file.source_code_info = None;
        }
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(set.encode_to_vec()))
        )
    };
    Ok((compiler.descriptor_pool(), names, digest))
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("proto") {
            out.push(path);
        }
    }
    Ok(())
}

/// A protox error with the file, line and column it reports.
fn proto_error(err: &protox::Error, location: &str) -> IngestError {
    use miette::Diagnostic;
    let file = err.file().unwrap_or(location).to_string();
    let position = err.source_code().and_then(|code| {
        let span = err.labels()?.next()?;
        let contents = code.read_span(span.inner(), 0, 0).ok()?;
        Some((contents.line() + 1, contents.column() + 1))
    });
    match position {
        Some((line, column)) => IngestError::Proto {
            location: file,
            line,
            column,
            message: err.to_string(),
        },
        None => IngestError::Proto {
            location: file,
            line: 0,
            column: 0,
            message: err.to_string(),
        },
    }
}

/// Every file of the pool, in the pool's (dependency) order, without source
/// info: what a generated service needs to encode and decode messages.
fn descriptor_set(pool: &DescriptorPool) -> Vec<u8> {
    let file = pool
        .file_descriptor_protos()
        .map(|f| {
            let mut f = f.clone();
            f.source_code_info = None;
            f
        })
        .collect();
    prost::Message::encode_to_vec(&prost_types::FileDescriptorSet { file })
}

fn lower(
    pool: &DescriptorPool,
    files: &[String],
    location: &str,
    digest: String,
    opts: &IngestOptions,
) -> Result<Ingested, IngestError> {
    let files: Vec<FileDescriptor> = files
        .iter()
        .filter_map(|f| pool.get_file_by_name(f))
        .collect();
    let services: Vec<_> = files.iter().flat_map(|f| f.services()).collect();
    let single_service = services.len() == 1;
    let method_name_count = |name: &str| {
        services
            .iter()
            .flat_map(|s| s.methods())
            .filter(|m| m.name() == name)
            .count()
    };
    let mut schemas = schema::ProtoSchemas::default();
    let mut operations = Vec::new();
    for service in &services {
        for method in service.methods() {
            let id = if single_service {
                method.name().to_string()
            } else {
                format!("{}.{}", service.name(), method.name())
            };
            let input = schemas.message(&method.input());
            let output = schemas.message(&method.output());
            let rpc = Rpc {
                service: service.full_name().to_string(),
                method: method.name().to_string(),
                input_type: method.input().full_name().to_string(),
                output_type: method.output().full_name().to_string(),
                client_streaming: method.is_client_streaming(),
                server_streaming: method.is_server_streaming(),
            };
            let stream = |schema: Value, streaming: bool| {
                if streaming {
                    json!({"type": "array", "items": schema})
                } else {
                    schema
                }
            };
            // Intents come from the method name unless two services share it.
            let intent = if method_name_count(method.name()) == 1 {
                aip_ir::intent_for(method.name())
            } else {
                aip_ir::intent_for(&id)
            };
            operations.push(Operation {
                intent,
                id,
                id_derived: false,
                method: aip_ir::HttpMethod::Post,
                path: format!("/{}/{}", service.full_name(), method.name()),
                summary: comments::leading_comment(&method.parent_file(), method.path())
                    .map(|c| c.lines().next().unwrap_or_default().to_string()),
                description: comments::leading_comment(&method.parent_file(), method.path()),
                tags: vec![service.full_name().to_string()],
                deprecated: method
                    .method_descriptor_proto()
                    .options
                    .as_ref()
                    .and_then(|o| o.deprecated)
                    .unwrap_or(false),
                parameters: Vec::new(),
                request_body: Some(RequestBody {
                    required: true,
                    description: None,
                    contents: vec![MediaType {
                        media_type: "application/json".into(),
                        schema: Some(stream(input, rpc.client_streaming)),
                    }],
                }),
                responses: vec![Response {
                    status: "200".into(),
                    description: None,
                    contents: vec![MediaType {
                        media_type: "application/json".into(),
                        schema: Some(stream(output, rpc.server_streaming)),
                    }],
                }],
                security: Vec::new(),
                pointer: method.full_name().to_string(),
                rpc: Some(rpc),
            });
        }
    }
    if operations.is_empty() {
        return Err(IngestError::NoOperations {
            location: location.to_string(),
        });
    }
    if operations.len() > opts.limits.max_operations {
        return Err(IngestError::TooManyOperations {
            location: location.to_string(),
            count: operations.len(),
            limit: opts.limits.max_operations,
        });
    }
    let title = match services.as_slice() {
        [one] => one.full_name().to_string(),
        many => many.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
    };
    let package = services
        .first()
        .map(|s| s.parent_file().package_name().to_string())
        .unwrap_or_default();
    let name = module_name(opts, if package.is_empty() { &title } else { &package })?;
    let api = Api {
        name,
        title,
        api_version: String::new(),
        description: None,
        source: SourceInfo {
            format: SpecFormat::Protobuf,
            digest,
            location: location.to_string(),
            warnings: Vec::new(),
        },
        protocol: Protocol::Grpc,
        servers: Vec::new(),
        security_schemes: Default::default(),
        operations,
        schemas: schemas.defs,
        descriptor_set: Some(descriptor_set(pool)),
    };
    Ok(Ingested { api })
}
