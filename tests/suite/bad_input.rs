//! Bad input: every case gives a clear error (exit code 1) or safe output,
//! never a panic, and leaves modules/ exactly as it was.

use std::path::{Path, PathBuf};

use crate::support::{aip, copy_dir, e2e_module, keys, repo, snapshot, text};

/// A work dir holding a good module in modules/ and a spec folder.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(e2e_module(), &dir.path().join("modules/e2e-vendor"));
        std::fs::create_dir_all(dir.path().join("spec/sub")).expect("mkdir");
        Work { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let path = self.path(rel);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// Builds `spec` as module `name`; expects exit 1 with `expected` in
    /// stderr and modules/ untouched.
    fn refuses(&self, spec: &Path, name: &str, expected: &str) {
        self.refuses_with(spec, name, &[], expected);
    }

    /// As `refuses`, with more arguments for `build`.
    fn refuses_with(&self, spec: &Path, name: &str, extra: &[&str], expected: &str) {
        let before = snapshot(&self.path("modules"));
        let key = keys().1.display().to_string();
        let spec = spec.display().to_string();
        let mut args = vec![
            "build", &spec, "--name", name, "--key", &key, "--out", "modules",
        ];
        args.extend_from_slice(extra);
        let out = aip(self.dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
        assert_eq!(
            before,
            snapshot(&self.path("modules")),
            "{name}: modules/ changed"
        );
    }
}

const HEAD: &str =
    "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://x.example'}]\n";

fn spec_with(paths_and_components: &str) -> String {
    format!("{HEAD}{paths_and_components}")
}

#[test]
fn malformed_documents_are_located() {
    let w = Work::new();
    let yaml = w.write(
        "spec/bad.yaml",
        format!("{HEAD}paths:\n  /a: [unclosed\n").as_bytes(),
    );
    w.refuses(&yaml, "bad-yaml", "bad.yaml:6:1: invalid YAML: did not find expected ',' or ']', while parsing a flow sequence");
    let json = w.write(
        "spec/bad.json",
        b"{\n  \"openapi\": \"3.0.0\",\n  \"info\": {,}\n}",
    );
    w.refuses(&json, "bad-json", "bad.json:3:12: invalid JSON");
    let not_openapi = w.write("spec/plain.yaml", b"hello: world\n");
    w.refuses(&not_openapi, "plain", "not an OpenAPI document");
    let v4 = w.write(
        "spec/v4.yaml",
        b"openapi: 4.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
    );
    w.refuses(&v4, "v4", "unsupported spec version \"4.0.0\"");
}

#[test]
fn bad_references_are_refused() {
    let w = Work::new();
    let op = "paths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: 'REF'}\n";
    let unresolvable = w.write(
        "spec/unresolvable.yaml",
        spec_with(&op.replace("REF", "#/components/schemas/Nope")).as_bytes(),
    );
    // Repaired by default (see repairs.rs); refused in strict mode.
    w.refuses_with(
        &unresolvable,
        "unresolvable",
        &["--strict"],
        "$ref \"#/components/schemas/Nope\" resolves to nothing",
    );
    // The reference root here is the current directory (no repository):
    // one level up from spec/ is inside, two levels up is not.
    let outside = w.write(
        "spec/outside.yaml",
        spec_with(&op.replace("REF", "../../outside.yaml")).as_bytes(),
    );
    w.refuses(&outside, "outside", "leaves the reference root");
    let missing_file = w.write(
        "spec/missing.yaml",
        spec_with(&op.replace("REF", "sub/none.yaml#/X")).as_bytes(),
    );
    w.refuses(
        &missing_file,
        "missing-file",
        "cannot resolve $ref \"sub/none.yaml#/X\"",
    );
    let cycle = format!(
        "{}components:\n  schemas:\n    A: {{$ref: '#/components/schemas/B'}}\n    B: {{$ref: '#/components/schemas/A'}}\n",
        op.replace("REF", "#/components/schemas/A")
    );
    let cycle = w.write("spec/cycle.yaml", spec_with(&cycle).as_bytes());
    w.refuses(&cycle, "cycle", "$ref cycle with no schema in between");
    let param_cycle = "paths:\n  /a:\n    get:\n      parameters: [{$ref: '#/components/parameters/P'}]\n      responses: {'200': {description: ok}}\ncomponents:\n  parameters:\n    P: {$ref: '#/components/parameters/Q'}\n    Q: {$ref: '#/components/parameters/P'}\n";
    let param_cycle = w.write("spec/param-cycle.yaml", spec_with(param_cycle).as_bytes());
    w.refuses(&param_cycle, "param-cycle", "$ref cycle");
}

#[test]
fn resource_bombs_are_refused() {
    let w = Work::new();
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
        bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = name;
    }
    let bomb = w.write(
        "spec/bomb.yaml",
        format!("{HEAD}paths: {{}}\n{bomb}").as_bytes(),
    );
    w.refuses(&bomb, "bomb", "invalid YAML");
    let mut big = spec_with("paths: {}\nx-padding: \"");
    big.push_str(&"x".repeat(50 * 1024 * 1024));
    big.push_str("\"\n");
    let big = w.write("spec/big.yaml", big.as_bytes());
    w.refuses(&big, "big", "larger than the 16777216-byte spec size limit");
    let deep = format!(
        "{}paths: {{}}\nx-deep: {}{}\n",
        HEAD,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let deep = w.write("spec/deep.yaml", deep.as_bytes());
    w.refuses(&deep, "deep", "invalid YAML");
}

#[test]
fn semantic_errors_are_named() {
    let w = Work::new();
    let dup = "paths:\n  /a:\n    get: {operationId: same, responses: {'200': {description: ok}}}\n  /b:\n    get: {operationId: same, responses: {'200': {description: ok}}}\n";
    let dup = w.write("spec/dup.yaml", spec_with(dup).as_bytes());
    w.refuses_with(
        &dup,
        "dup",
        &["--strict"],
        "#/paths/~1b/get: operationId \"same\" is also the id of #/paths/~1a/get",
    );
    let empty = w.write("spec/empty.yaml", spec_with("paths: {}\n").as_bytes());
    w.refuses(&empty, "empty", "the spec defines no operations");
    let bad_in = "paths:\n  /a:\n    get:\n      parameters: [{name: p, in: body2}]\n      responses: {'200': {description: ok}}\n";
    let bad_in = w.write("spec/bad-in.yaml", spec_with(bad_in).as_bytes());
    w.refuses(
        &bad_in,
        "bad-in",
        "#/paths/~1a/get/parameters/0/in: parameter location must be",
    );
    let undefined_scheme =
        "security: [{nope: []}]\npaths:\n  /a:\n    get: {responses: {'200': {description: ok}}}\n";
    let undefined_scheme = w.write("spec/scheme.yaml", spec_with(undefined_scheme).as_bytes());
    w.refuses(
        &undefined_scheme,
        "scheme",
        "undefined security scheme \"nope\"",
    );
}

#[test]
fn bad_names_and_keys_are_refused() {
    let w = Work::new();
    let spec = repo("tests/fixtures/specs/e2e-vendor.yaml");
    w.refuses(&spec, "../x", "invalid module name \"../x\"");
    w.refuses(&spec, "Upper", "invalid module name \"Upper\"");
    // Wrong password: refused before anything is compiled or written.
    let before = snapshot(&w.path("modules"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aip-builder"))
        .args([
            "build",
            &spec.display().to_string(),
            "--name",
            "e2e-vendor",
            "--key",
            &keys().1.display().to_string(),
            "--out",
            "modules",
        ])
        .current_dir(w.path(""))
        .env("COSIGN_PASSWORD", "wrong")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong password"),
        "{}",
        text(&out)
    );
    assert_eq!(before, snapshot(&w.path("modules")));
    let out = aip(
        w.path("").as_path(),
        &[
            "build",
            &spec.display().to_string(),
            "--key",
            "awskms://alias/x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported key reference"),
        "{}",
        text(&out)
    );
    let out = aip(
        w.path("").as_path(),
        &[
            "build",
            &spec.display().to_string(),
            "--key",
            &keys().1.display().to_string(),
            "--target",
            "arm",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "bad arguments are user errors");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("possible values: wasm, grpc"),
        "{}",
        text(&out)
    );
}

#[test]
fn hostile_identifiers_and_text_give_safe_output() {
    let spec = repo("tests/fixtures/specs/hostile.yaml");
    let api = aip_ingest::ingest(
        aip_ingest::SpecSource::File(spec.clone()),
        &Default::default(),
    )
    .expect("ingests")
    .api;
    let files = aip_render::render_wasm(&api).expect("renders");
    let ops = String::from_utf8_lossy(files.files.get("src/operations.rs").expect("operations.rs"))
        .into_owned();
    for module in [
        "pub mod r#type",
        "pub mod self_",
        "pub mod op_123start",
        "pub mod ber_gr_e",
        "pub mod get_user",
        "pub mod get_user_2",
        "pub mod r#async",
    ] {
        assert!(ops.contains(module), "{module} missing:\n{ops}");
    }
    // Builds, compiles and runs; describe() returns the hostile text intact.
    let (_work, dir) = crate::support::build(&spec, "hostile", &[]);
    let out = aip(
        &repo(""),
        &["describe", &dir.display().to_string(), "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["title"], "Hostile */ \"# ``` } API");
    let type_op = doc["operations"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["id"] == "type")
        .expect("type op");
    assert_eq!(type_op["summary"], "*/ } pub fn injected() {} /*");
    let param = &doc["operations"]
        .as_array()
        .expect("ops")
        .iter()
        .find(|o| o["id"] == "async")
        .expect("async")["input_schema"];
    assert_eq!(
        param["properties"]["match"]["description"],
        "\"}); std::process::exit(3); ({\""
    );
    assert!(param["properties"].get("\"quoted\\name").is_some());
}

#[test]
fn intent_overrides_reach_the_sources_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = repo("tests/fixtures/specs/e2e-vendor.yaml")
        .display()
        .to_string();
    let out = aip(
        dir.path(),
        &[
            "generate",
            &spec,
            "--name",
            "intents",
            "--out",
            "src-a",
            "--intent",
            "search=find.items",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let sources: String = snapshot(&dir.path().join("src-a"))
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        sources.contains("\"find.items\""),
        "the override is in the operation table"
    );
    for (flag, needle) in [
        ("nope=find", "no such operation"),
        ("search=Find Items", "is not an intent name"),
        ("search=get-item", "would route to two operations"),
        ("search", "is not OPERATION_ID=INTENT"),
    ] {
        let out = aip(
            dir.path(),
            &[
                "generate", &spec, "--name", "intents", "--out", "src-b", "--intent", flag,
            ],
        );
        assert!(!out.status.success(), "{flag}");
        assert!(text(&out).contains(needle), "{flag}: {}", text(&out));
        assert!(
            !dir.path().join("src-b").exists(),
            "{flag}: nothing written"
        );
    }
}
