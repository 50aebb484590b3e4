//! The templates and verbatim files of each target, embedded at build time
//! so rendering does no I/O.

/// A file copied into the generated crate as is.
pub struct StaticFile {
    /// Path inside the generated crate.
    pub path: &'static str,
    /// Contents.
    pub contents: &'static str,
}

/// A template rendered into the generated crate.
pub struct Template {
    /// Path inside the generated crate.
    pub path: &'static str,
    /// minijinja source.
    pub source: &'static str,
}

macro_rules! static_file {
    ($path:literal, $source:literal) => {
        StaticFile {
            path: $path,
            contents: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../", $source)),
        }
    };
}

macro_rules! template {
    ($path:literal, $source:literal) => {
        Template {
            path: $path,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../", $source)),
        }
    };
}

/// Runtime files every target carries (`templates/shared`): the static API
/// description types, the request builder and the response mapping.
pub const SHARED_STATIC: &[StaticFile] = &[
    static_file!(
        "src/runtime/spec.rs",
        "templates/shared/src/runtime/spec.rs"
    ),
    static_file!(
        "src/runtime/request.rs",
        "templates/shared/src/runtime/request.rs"
    ),
    static_file!(
        "src/runtime/response.rs",
        "templates/shared/src/runtime/response.rs"
    ),
];

/// The `wasm-component` target's templates.
pub const WASM_TEMPLATES: &[Template] = &[
    template!("src/lib.rs", "templates/wasm-component/src/lib.rs.j2"),
    template!("src/operations.rs", "templates/shared/src/operations.rs.j2"),
];

/// The `wasm-component` target's verbatim files: manifest, pinned lockfile,
/// the `wasi:http` runtime and the WIT world with its WASI dependencies.
pub const WASM_STATIC: &[StaticFile] = &[
    static_file!("Cargo.toml", "templates/wasm-component/Cargo.toml"),
    static_file!("Cargo.lock", "templates/wasm-component/Cargo.lock"),
    static_file!("build.rs", "templates/wasm-component/build.rs"),
    static_file!(
        "src/runtime/mod.rs",
        "templates/wasm-component/src/runtime/mod.rs"
    ),
    static_file!(
        "src/runtime/http.rs",
        "templates/wasm-component/src/runtime/http.rs"
    ),
    static_file!("wit/adapter.wit", "builder/wit/adapter.wit"),
    static_file!("wit/deps/cli.wit", "builder/wit/deps/cli.wit"),
    static_file!("wit/deps/clocks.wit", "builder/wit/deps/clocks.wit"),
    static_file!("wit/deps/filesystem.wit", "builder/wit/deps/filesystem.wit"),
    static_file!("wit/deps/http.wit", "builder/wit/deps/http.wit"),
    static_file!("wit/deps/io.wit", "builder/wit/deps/io.wit"),
    static_file!("wit/deps/random.wit", "builder/wit/deps/random.wit"),
    static_file!("wit/deps/sockets.wit", "builder/wit/deps/sockets.wit"),
];

/// The `grpc-service` target's templates.
pub const SERVICE_TEMPLATES: &[Template] = &[
    template!("src/main.rs", "templates/grpc-service/src/main.rs.j2"),
    template!("src/operations.rs", "templates/shared/src/operations.rs.j2"),
];

/// The `grpc-service` target's verbatim files: manifest and pinned lockfile,
/// and the service runtime crate (`runtime/`) with the `aip.adapter.v1`
/// contract (generated code from `aip-adapter-proto`).
pub const SERVICE_STATIC: &[StaticFile] = &[
    static_file!("Cargo.toml", "templates/grpc-service/Cargo.toml"),
    static_file!("Cargo.lock", "templates/grpc-service/Cargo.lock"),
    static_file!(
        "runtime/Cargo.toml",
        "templates/grpc-service/runtime/Cargo.toml"
    ),
    static_file!(
        "runtime/src/lib.rs",
        "templates/grpc-service/runtime/src/lib.rs"
    ),
    static_file!(
        "runtime/src/config.rs",
        "templates/grpc-service/runtime/src/config.rs"
    ),
    static_file!(
        "runtime/src/errors.rs",
        "templates/grpc-service/runtime/src/errors.rs"
    ),
    static_file!(
        "runtime/src/grpc_vendor.rs",
        "templates/grpc-service/runtime/src/grpc_vendor.rs"
    ),
    static_file!(
        "runtime/src/rest.rs",
        "templates/grpc-service/runtime/src/rest.rs"
    ),
    static_file!(
        "runtime/src/server.rs",
        "templates/grpc-service/runtime/src/server.rs"
    ),
    static_file!(
        "runtime/src/service.rs",
        "templates/grpc-service/runtime/src/service.rs"
    ),
    static_file!(
        "runtime/src/tests.rs",
        "templates/grpc-service/runtime/src/tests.rs"
    ),
    static_file!(
        "runtime/src/runtime/mod.rs",
        "templates/grpc-service/runtime/src/runtime/mod.rs"
    ),
    static_file!(
        "runtime/src/proto/mod.rs",
        "templates/grpc-service/runtime/src/proto/mod.rs"
    ),
    static_file!(
        "runtime/src/proto/aip.adapter.v1.rs",
        "builder/adapter-proto/src/aip.adapter.v1.rs"
    ),
];

/// The `grpc-service` target's binary verbatim files.
pub const SERVICE_STATIC_BYTES: &[(&str, &[u8])] = &[(
    "runtime/src/proto/adapter.binpb",
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../builder/adapter-proto/src/adapter.binpb"
    )),
)];
