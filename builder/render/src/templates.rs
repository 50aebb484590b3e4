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

/// The `wasm-component` target's templates.
pub const WASM_TEMPLATES: &[Template] = &[
    Template {
        path: "src/lib.rs",
        source: include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/wasm-component/src/lib.rs.j2"
        )),
    },
    Template {
        path: "src/operations.rs",
        source: include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/wasm-component/src/operations.rs.j2"
        )),
    },
];

/// The `wasm-component` target's verbatim files: manifest, pinned lockfile,
/// adapter runtime and the WIT world with its WASI dependencies.
pub const WASM_STATIC: &[StaticFile] = &[
    static_file!("Cargo.toml", "templates/wasm-component/Cargo.toml"),
    static_file!("Cargo.lock", "templates/wasm-component/Cargo.lock"),
    static_file!("build.rs", "templates/wasm-component/build.rs"),
    static_file!(
        "src/runtime/mod.rs",
        "templates/wasm-component/src/runtime/mod.rs"
    ),
    static_file!(
        "src/runtime/spec.rs",
        "templates/wasm-component/src/runtime/spec.rs"
    ),
    static_file!(
        "src/runtime/request.rs",
        "templates/wasm-component/src/runtime/request.rs"
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
