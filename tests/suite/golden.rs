//! Golden sources: generated/ is exactly what the specs in specs/index.txt
//! render to, rendering is deterministic, and every generated crate compiles
//! to a wasm32-wasip2 component that speaks the aip:adapter world.

use std::collections::BTreeMap;

use aip_ingest::{IngestOptions, SpecSource};

use crate::support::{IndexedSpec, repo, snapshot, spec_index};

fn render(spec: &IndexedSpec) -> BTreeMap<String, Vec<u8>> {
    let opts = IngestOptions {
        name: Some(spec.name.clone()),
        allow_dangling_refs: spec.flags.iter().any(|f| f == "--allow-dangling-refs"),
        ..IngestOptions::default()
    };
    // Rendered sources do not depend on where the spec was read from.
    let path = repo(&format!("specs/{}", spec.path));
    let api = aip_ingest::ingest(SpecSource::File(path.clone()), &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .api;
    aip_render::render_wasm(&api).expect("render").files
}

#[test]
fn generated_sources_match_the_specs() {
    let mut drift = Vec::new();
    for spec in spec_index() {
        let rendered = render(&spec);
        let on_disk = snapshot(&repo(&format!("generated/{}/wasm", spec.name)));
        for (path, bytes) in &rendered {
            match on_disk.get(path) {
                None => drift.push(format!("generated/{}/wasm/{path}: missing", spec.name)),
                Some(disk) if disk != bytes => {
                    drift.push(format!("generated/{}/wasm/{path}: differs", spec.name))
                }
                Some(_) => {}
            }
        }
        for path in on_disk.keys().filter(|p| !rendered.contains_key(*p)) {
            drift.push(format!(
                "generated/{}/wasm/{path}: not rendered any more",
                spec.name
            ));
        }
    }
    assert!(
        drift.is_empty(),
        "generated/ drifted from specs/:\n{}\nhint: run ci/generate and commit generated/",
        drift.join("\n")
    );
}

#[test]
fn the_index_covers_every_spec_dialect_and_a_large_spec() {
    let index = spec_index();
    assert!(index.len() >= 6);
    let mut formats = Vec::new();
    for spec in &index {
        let raw = std::fs::read_to_string(repo(&format!("specs/{}", spec.path))).expect("spec");
        let head: String = raw.chars().take(200).collect();
        formats.push((
            head.contains("swagger"),
            head.contains("3.0"),
            head.contains("3.1"),
            spec.path.ends_with(".json"),
            raw.len(),
        ));
    }
    assert!(formats.iter().any(|f| f.0), "a Swagger 2.0 spec");
    assert!(formats.iter().any(|f| f.1), "an OpenAPI 3.0 spec");
    assert!(formats.iter().any(|f| f.2), "an OpenAPI 3.1 spec");
    assert!(
        formats.iter().any(|f| f.3) && formats.iter().any(|f| !f.3),
        "JSON and YAML"
    );
    assert!(formats.iter().any(|f| f.4 > 1_000_000), "one large spec");
}

#[test]
fn rendering_is_byte_identical_on_rerun() {
    let spec = spec_index()
        .into_iter()
        .find(|s| s.name == "openai")
        .expect("openai in index");
    assert_eq!(render(&spec), render(&spec));
}

#[test]
fn generated_crates_compile_to_aip_adapter_components() {
    let cache = aip_compile::CacheDirs::from_env();
    for spec in spec_index() {
        let files = snapshot(&repo(&format!("generated/{}/wasm", spec.name)));
        let compiled = aip_compile::compile_wasm(
            &files,
            aip_compile::BuildOptions {
                cache: cache.clone(),
                progress: &mut |_| {},
                use_cache: false,
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        // A component, not a core module: layer 1 in the preamble.
        assert_eq!(
            &compiled.wasm[..8],
            b"\0asm\x0d\0\x01\0",
            "{} is not a component",
            spec.name
        );
        let loaded = aip_host::LoadedComponent::new(&compiled.wasm).expect("loads");
        let (imports, exports) = loaded.interface();
        assert!(
            imports
                .iter()
                .any(|i| i.starts_with("wasi:http/outgoing-handler@0.2")),
            "{imports:?}"
        );
        assert_eq!(exports, vec!["describe".to_string(), "invoke".to_string()]);
        let mut adapter = loaded
            .instantiate(&aip_host::HostOptions {
                allow: aip_host::AllowList::default(),
                max_memory_bytes: 256 << 20,
            })
            .expect("instantiates");
        let describe: serde_json::Value =
            serde_json::from_str(&adapter.describe().expect("describe")).expect("json");
        let expected: serde_json::Value =
            serde_json::from_slice(files.get("src/describe.json").expect("describe.json"))
                .expect("json");
        assert_eq!(
            describe, expected,
            "{}: describe() answers its describe.json",
            spec.name
        );
        assert!(compiled.crates.iter().any(|(n, _)| n == "serde_json"));
    }
}

#[test]
fn a_compile_failure_keeps_the_crate_and_reports_cargo_output() {
    let mut files = snapshot(&repo("generated/assemblyai/wasm"));
    let lib = files.get_mut("src/lib.rs").expect("lib.rs");
    lib.extend_from_slice(b"\nfn broken() -> u32 { \"not a number\" }\n");
    let err = aip_compile::compile_wasm(
        &files,
        aip_compile::BuildOptions {
            cache: aip_compile::CacheDirs::from_env(),
            progress: &mut |_| {},
            use_cache: false,
        },
    )
    .expect_err("must not compile");
    let aip_compile::CompileError::Build { build_dir, output } = &err else {
        panic!("expected a build error, got {err}");
    };
    assert!(
        build_dir.join("src/lib.rs").is_file(),
        "the crate is kept at {}",
        build_dir.display()
    );
    assert!(output.contains("mismatched types"), "{output}");
    assert!(err.to_string().contains("please report it"), "{err}");
    let _ = std::fs::remove_dir_all(build_dir);
}
