//! Golden sources: generated/ is exactly what the specs in specs/index.txt
//! render to, rendering is deterministic, and every generated crate compiles:
//! WASM crates to a wasm32-wasip2 component that speaks the aip:adapter
//! world (and passes `aip-builder test`'s contract test: every operation
//! against a mock vendor derived from its spec), gRPC service crates to a
//! static executable.

use std::collections::BTreeMap;

use aip_ingest::{IngestOptions, SpecSource};

use crate::service::ServiceProcess;
use crate::support::{IndexedSpec, repo, snapshot, spec_index};

/// The spec of an index line, ingested as `ci/generate` reads it.
fn ingest(spec: &IndexedSpec) -> aip_ir::Api {
    let opts = IngestOptions {
        name: Some(spec.name.clone()),
        strict: spec.flags.iter().any(|f| f == "--strict"),
        ref_root: spec
            .flag_value("--ref-root")
            .map(|dir| aip_ingest::RefRoot::new(repo(dir))),
        proto_paths: spec
            .flag_value("--proto-path")
            .map(repo)
            .into_iter()
            .collect(),
        ..IngestOptions::default()
    };
    // Rendered sources do not depend on where the spec was read from.
    let path = repo(&format!("specs/{}", spec.path));
    aip_ingest::ingest(SpecSource::File(path.clone()), &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .api
}

fn render(spec: &IndexedSpec) -> BTreeMap<String, Vec<u8>> {
    let api = ingest(spec);
    let target = match spec.target() {
        "grpc" => aip_render::Target::GrpcService,
        _ => aip_render::Target::WasmComponent,
    };
    aip_render::render_target(&api, target)
        .expect("render")
        .files
}

// One test per line of specs/index.txt (written by builder/cli/build.rs):
// `sources_of_<name>_<target>`.
include!(concat!(env!("OUT_DIR"), "/golden_cases.rs"));

#[test]
fn there_is_one_golden_case_per_index_line() {
    assert_eq!(
        GOLDEN_CASES,
        spec_index().len(),
        "builder/cli/build.rs wrote a golden test per index line of another checkout; touch builder/cli/build.rs"
    );
}

/// generated/<name>/<target> is exactly what its spec renders to; a
/// difference shows as a unified diff of each file that drifted.
fn check_golden_sources(name: &str, target: &str) {
    let spec = spec_index()
        .into_iter()
        .find(|s| s.name == name && s.target() == target)
        .unwrap_or_else(|| panic!("{name} ({target}) is not in specs/index.txt"));
    let rendered = render(&spec);
    let dir = spec.generated_dir();
    let on_disk = snapshot(&repo(&dir));
    let mut drift = Vec::new();
    for (path, bytes) in &rendered {
        match on_disk.get(path) {
            None => drift.push(format!("{dir}/{path}: missing")),
            Some(disk) if disk != bytes => {
                drift.push(unified_diff(&format!("{dir}/{path}"), disk, bytes));
            }
            Some(_) => {}
        }
    }
    for path in on_disk.keys().filter(|p| !rendered.contains_key(*p)) {
        drift.push(format!("{dir}/{path}: not rendered any more"));
    }
    assert!(
        drift.is_empty(),
        "generated/ drifted from specs/:\n{}\nhint: run ci/generate and commit generated/",
        drift.join("\n")
    );
}

#[test]
fn every_generated_folder_has_its_line_in_the_index() {
    let index = spec_index();
    for entry in std::fs::read_dir(repo("generated"))
        .expect("generated/")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        for target in std::fs::read_dir(entry.path())
            .expect("target dirs")
            .flatten()
        {
            let target = target.file_name().to_string_lossy().into_owned();
            assert!(
                index.iter().any(|s| s.name == name && s.target() == target),
                "generated/{name}/{target} has no line in specs/index.txt (remove it, or add the spec)"
            );
        }
    }
}

/// A unified diff (three lines of context) from the checked-in file to
/// what renders now; binary files are only named.
fn unified_diff(path: &str, checked_in: &[u8], rendered: &[u8]) -> String {
    let (Ok(old), Ok(new)) = (
        std::str::from_utf8(checked_in),
        std::str::from_utf8(rendered),
    ) else {
        return format!("Binary files {path} differ\n");
    };
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{path} (checked in)"),
            &format!("b/{path} (rendered now)"),
        )
        .to_string()
}

#[test]
fn the_index_covers_every_spec_dialect_and_a_large_spec() {
    let index = spec_index();
    let proto_sets: Vec<&str> = index
        .iter()
        .filter(|s| s.path.starts_with("proto/"))
        .map(|s| s.path.split('/').nth(1).unwrap_or_default())
        .collect();
    assert!(
        proto_sets.len() >= 5,
        "five real proto sets: {proto_sets:?}"
    );
    assert!(
        index
            .iter()
            .any(|s| s.path.starts_with("openapi/") && s.target() == "grpc"),
        "a REST spec rendered as a gRPC service"
    );
    let openapi: Vec<_> = index
        .iter()
        .filter(|s| s.path.starts_with("openapi/"))
        .collect();
    assert!(openapi.len() >= 6);
    let mut formats = Vec::new();
    for spec in openapi {
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
    for spec in spec_index().into_iter().filter(|s| s.target() == "wasm") {
        let files = snapshot(&repo(&spec.generated_dir()));
        let compiled = compile_uncached(&files).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        // A component, not a core module: layer 1 in the preamble.
        assert_eq!(
            &compiled.artifact[..8],
            b"\0asm\x0d\0\x01\0",
            "{} is not a component",
            spec.name
        );
        let loaded = aip_host::LoadedComponent::new(&compiled.artifact).expect("loads");
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
        contract_test(&spec, &compiled.artifact);
    }
}

/// `files` compiled to a WASM component, the artifact cache bypassed.
fn compile_uncached(
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<aip_compile::Compiled, aip_compile::CompileError> {
    aip_compile::compile(
        files,
        aip_compile::CompileTarget::WasmComponent,
        aip_compile::BuildOptions {
            cache: aip_compile::CacheDirs::from_env(),
            progress: &mut |_| {},
            use_cache: false,
            cancel: None,
            background: false,
        },
    )
}

/// `aip-builder test`'s contract test on a golden component: every
/// operation, called with an input synthesized from its schema, reaches a
/// mock vendor derived from the spec that finds nothing wrong with the
/// request, and the answer decodes against the output schema.
fn contract_test(spec: &IndexedSpec, component: &[u8]) {
    let report = aip_contract::test_component(&ingest(spec), component)
        .unwrap_or_else(|e| panic!("{}: the contract test does not run: {e}", spec.name));
    assert_passed(spec, &report);
}

/// Every operation passed; else the failures, each named.
fn assert_passed(spec: &IndexedSpec, report: &aip_contract::Report) {
    let failed: Vec<String> = report
        .operations
        .iter()
        .filter(|o| !(o.accepted && o.decoded))
        .map(|o| {
            format!(
                "{}: {}",
                o.operation,
                o.problem.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{}: {} of {} operations fail the contract test:\n{}",
        spec.name,
        failed.len(),
        report.operations.len(),
        failed.join("\n")
    );
}

/// The golden adapter `name` compiled with `right` replaced by `wrong` in
/// the request template (`templates/shared/src/runtime/request.rs`, which
/// every adapter carries verbatim), contract-tested.
fn contract_test_with_altered_template(
    name: &str,
    right: &str,
    wrong: &str,
) -> (aip_ir::Api, aip_contract::Report) {
    let spec = spec_index()
        .into_iter()
        .find(|s| s.name == name && s.target() == "wasm")
        .unwrap_or_else(|| panic!("{name} in the index"));
    let mut files = snapshot(&repo(&spec.generated_dir()));
    let template = std::fs::read_to_string(repo("templates/shared/src/runtime/request.rs"))
        .expect("the request template");
    assert_eq!(
        files.get("src/runtime/request.rs").map(Vec::as_slice),
        Some(template.as_bytes()),
        "the adapter's request code is the template, verbatim"
    );
    assert_eq!(template.matches(right).count(), 1, "{right}");
    files.insert(
        "src/runtime/request.rs".into(),
        template.replace(right, wrong).into_bytes(),
    );
    let compiled = compile_uncached(&files).expect("the altered adapter compiles");
    let api = ingest(&spec);
    let report =
        aip_contract::test_component(&api, &compiled.artifact).expect("the contract test runs");
    (api, report)
}

/// The contract test catches a runtime template gone wrong: gotify's
/// adapter built from a request template that puts header credentials in
/// the query fails, naming each operation that takes one and the
/// misplaced credential, while the operations that need none still pass.
#[test]
fn generated_crate_from_an_altered_template_fails_the_contract_test_naming_operations() {
    let (api, report) = contract_test_with_altered_template(
        "gotify",
        "SchemeKind::Header(name) => headers.push((name.to_string(), value.to_string())),",
        "SchemeKind::Header(name) => query.push((encode(name, false), encode(value, false))),",
    );
    assert!(!report.passed());
    for op in &api.operations {
        let result = report
            .operations
            .iter()
            .find(|r| r.operation == op.id)
            .unwrap_or_else(|| panic!("{} is reported", op.id));
        // The adapter applies the first alternative it has credentials
        // for: the test gives it all of them.
        let header_key_first = op.security.first().is_some_and(|alternative| {
            alternative.iter().all(|scheme| {
                matches!(
                    api.security_schemes.get(scheme),
                    Some(aip_ir::SecurityScheme::ApiKey {
                        location: aip_ir::ApiKeyLocation::Header,
                        ..
                    })
                )
            })
        });
        if !header_key_first {
            assert!(result.accepted && result.decoded, "{result:?}");
            continue;
        }
        let problem = result.problem.as_deref().unwrap_or_default();
        assert!(!result.accepted, "{result:?}");
        assert!(
            problem.contains("credential") && problem.contains("header"),
            "{}: {problem}",
            op.id
        );
    }
}

/// A parameter style serialized wrongly: gitea's adapter built from a
/// template that joins exploded query arrays with commas fails exactly
/// the operations with such a parameter (`collectionFormat: multi`),
/// each named with the parameter and both forms.
#[test]
fn generated_crate_with_a_wrong_parameter_style_fails_the_contract_test() {
    let (api, report) = contract_test_with_altered_template(
        "gitea",
        "(_, Value::Array(items)) if param.explode => {\n            for item in items {\n                out.push((name.clone(), enc(&scalar(item))));\n            }\n        }",
        "(_, Value::Array(items)) if param.explode => out.push((name, joined(items, \",\"))),",
    );
    let exploded_array_query = |op: &aip_ir::Operation| {
        op.parameters.iter().any(|p| {
            p.location == aip_ir::ParamLocation::Query
                && p.explode
                && p.style == aip_ir::ParamStyle::Form
                && p.schema.get("type").and_then(serde_json::Value::as_str) == Some("array")
        })
    };
    let mut failing = 0;
    for op in &api.operations {
        let result = report
            .operations
            .iter()
            .find(|r| r.operation == op.id)
            .unwrap_or_else(|| panic!("{} is reported", op.id));
        if exploded_array_query(op) {
            failing += 1;
            let problem = result.problem.as_deref().unwrap_or_default();
            assert!(
                !result.accepted && problem.contains("not as its style (Form, explode true)"),
                "{}: {problem}",
                op.id
            );
        } else {
            assert!(result.accepted && result.decoded, "{result:?}");
        }
    }
    assert_eq!(
        failing, 6,
        "gitea's 6 operations with a collectionFormat: multi parameter"
    );
}

#[test]
fn a_compile_failure_keeps_the_crate_and_reports_cargo_output() {
    let mut files = snapshot(&repo("generated/assemblyai/wasm"));
    let lib = files.get_mut("src/lib.rs").expect("lib.rs");
    lib.extend_from_slice(b"\nfn broken() -> u32 { \"not a number\" }\n");
    let err = compile_uncached(&files).expect_err("must not compile");
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

#[test]
fn generated_service_crates_compile_to_static_services_that_answer_describe() {
    let cache = aip_compile::CacheDirs::from_env();
    for spec in spec_index().into_iter().filter(|s| s.target() == "grpc") {
        let files = snapshot(&repo(&spec.generated_dir()));
        let compiled = aip_compile::compile(
            &files,
            aip_compile::CompileTarget::StaticService,
            aip_compile::BuildOptions {
                cache: cache.clone(),
                progress: &mut |_| {},
                use_cache: true,
                cancel: None,
                background: false,
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert_eq!(&compiled.artifact[..4], b"\x7fELF", "{}", spec.name);
        assert!(
            !contains(&compiled.artifact, b"ld-linux") && !contains(&compiled.artifact, b"ld-musl"),
            "{}: statically linked, no program interpreter",
            spec.name
        );
        let service = ServiceProcess::start(&compiled.artifact, &[]);
        let describe = service.describe();
        let expected: serde_json::Value =
            serde_json::from_slice(files.get("src/describe.json").expect("describe.json"))
                .expect("json");
        assert_eq!(
            describe, expected,
            "{}: Describe answers describe.json",
            spec.name
        );
        assert_eq!(service.health(), "SERVING", "{}", spec.name);
        assert!(compiled.crates.iter().any(|(n, _)| n == "tonic"));
        drop(service);
        let report = aip_contract::test_service(&ingest(&spec), &compiled.artifact)
            .unwrap_or_else(|e| panic!("{}: the contract test does not run: {e}", spec.name));
        assert_passed(&spec, &report);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
