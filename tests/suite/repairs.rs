//! Real-world spec layouts and defects through the CLI: references across
//! folders inside the reference root, escapes refused without looking,
//! dangling refs and repeated operationIds repaired with warnings that
//! reach the output and the manifest, and refused under `--strict` with a
//! hint in the CLI's own terms.

use std::path::Path;

use serde_json::Value;

use crate::support::{aip, build, text};

/// A repository-like tree: `.git/`, `spec/swagger.json` whose responses
/// reference `../common/Error.json`.
fn sibling_layout(root: &Path) {
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    std::fs::create_dir_all(root.join("spec")).expect("mkdir");
    std::fs::create_dir_all(root.join("common")).expect("mkdir");
    std::fs::write(
        root.join("common/Error.json"),
        r#"{"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}"#,
    )
    .expect("write");
    std::fs::write(
        root.join("common/Things.json"),
        r#"{"type": "array", "items": {"type": "string", "x-from": "common"}}"#,
    )
    .expect("write");
    std::fs::write(
        root.join("spec/swagger.json"),
        swagger("../common/Error.json"),
    )
    .expect("write");
}

/// A Swagger 2.0 document whose error response is `$ref: error_ref`.
fn swagger(error_ref: &str) -> String {
    serde_json::json!({
        "swagger": "2.0",
        "info": {"title": "Sibling", "version": "1"},
        "host": "api.example.com",
        "paths": {"/things": {"get": {
            "operationId": "listThings",
            "responses": {
                "200": {"description": "ok", "schema": {"$ref": "../common/Things.json"}},
                "default": {"description": "error", "schema": {"$ref": error_ref}}
            }
        }}}
    })
    .to_string()
}

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[test]
fn a_sibling_folder_ref_resolves_inside_the_repository() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("vendor-api");
    sibling_layout(&root);
    // Run from elsewhere: the root is the repository's top, not the cwd.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let spec = root.join("spec/swagger.json").display().to_string();
    let out = aip(elsewhere.path(), &["describe", &spec, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let described = stdout_json(&out);
    assert_eq!(described["operations"][0]["id"], "listThings");
    // The answer's schema came from the sibling folder.
    assert!(
        described.to_string().contains("\"x-from\":\"common\""),
        "{described}"
    );
    // A root that does not hold common/ refuses it, naming ref and root,
    // with the hint to widen it.
    let out = aip(
        elsewhere.path(),
        &[
            "describe",
            &spec,
            "--ref-root",
            &root.join("spec").display().to_string(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("$ref \"../common/Things.json\" leaves the reference root"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") && stderr.contains("--ref-root DIR"),
        "{stderr}"
    );
    // And --ref-root naming the top works like the default.
    let out = aip(
        elsewhere.path(),
        &["describe", &spec, "--ref-root", &root.display().to_string()],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn escaping_refs_are_refused_without_telling_what_exists() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    sibling_layout(&root);
    let secret_dir = tmp.path().join("secret");
    std::fs::create_dir_all(&secret_dir).expect("mkdir");
    std::fs::write(secret_dir.join("token.json"), r#"{"type": "string"}"#).expect("write");
    std::os::unix::fs::symlink(secret_dir.join("token.json"), root.join("spec/link.json"))
        .expect("symlink");
    let cases = [
        ("dotdot-existing", "../../secret/token.json".to_string()),
        ("dotdot-missing", "../../secret/none.json".to_string()),
        ("absolute-existing", "/etc/passwd".to_string()),
        ("absolute-missing", "/etc/no-such-file-here".to_string()),
        ("symlink", "link.json".to_string()),
    ];
    let mut messages = Vec::new();
    for (name, reference) in &cases {
        std::fs::write(root.join("spec/swagger.json"), swagger(reference)).expect("write");
        let out = aip(&root, &["generate", "spec/swagger.json", "--out", "gen"]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(
            stderr.contains(&format!("$ref {reference:?} leaves the reference root")),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(&root.canonicalize().expect("root").display().to_string()),
            "{name}: root named: {stderr}"
        );
        assert!(!root.join("gen").exists(), "{name}: nothing generated");
        messages.push(stderr.replace(reference.as_str(), "REF"));
    }
    // An existing and a missing target read exactly alike.
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[2], messages[3]);
}

/// A small OpenAPI 3.0 spec with one dangling schema ref and one
/// operationId used on two paths (as gateways emit it).
const DEFECTIVE: &str = r#"openapi: 3.0.0
info: {title: Defective, version: '1'}
servers: [{url: 'https://api.example.com'}]
paths:
  /v1/items:
    get:
      operationId: ListItems
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Missing'}
  /v1/users/{user}/items:
    get:
      operationId: ListItems
      parameters: [{name: user, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok}}
  /v1/other:
    get:
      operationId: ListItems_2
      responses: {'200': {description: ok}}
components:
  schemas:
    Item: {type: object}
"#;

#[test]
fn dangling_refs_and_repeated_ids_are_repaired_with_warnings_or_refused_when_strict() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("defective.yaml"), DEFECTIVE).expect("write");
    // Same names on every run, and the id the spec already uses is skipped.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = aip(
            tmp.path(),
            &["describe", "defective.yaml", "--format", "json"],
        );
        assert!(out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("warning: defective.yaml#/paths/~1v1~1items/get/responses/200/content/application~1json/schema: $ref \"#/components/schemas/Missing\" resolves to nothing"),
            "{stderr}"
        );
        assert!(
            stderr.contains("[dangling-ref]") && stderr.contains("[duplicate-operation-id]"),
            "{stderr}"
        );
        let described = stdout_json(&out);
        ids.push(
            described["operations"]
                .as_array()
                .expect("operations")
                .iter()
                .map(|op| op["id"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(ids[0], vec!["ListItems", "ListItems_3", "ListItems_2"]);
    assert_eq!(ids[0], ids[1]);

    // generate --format json carries the warnings as data.
    let out = aip(
        tmp.path(),
        &[
            "generate",
            "defective.yaml",
            "--format",
            "json",
            "--out",
            "gen",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let warnings = stdout_json(&out)["warnings"].clone();
    let kinds: Vec<&str> = warnings
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        vec!["dangling-ref", "duplicate-operation-id"],
        "{warnings}"
    );
    assert_eq!(warnings[1]["file"], "defective.yaml");
    assert_eq!(
        warnings[1]["pointer"],
        "/paths/~1v1~1users~1{user}~1items/get"
    );

    // --strict refuses the first defect, with the CLI's hint and no API terms.
    let out = aip(tmp.path(), &["describe", "defective.yaml", "--strict"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("refused in strict mode: dangling-ref"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: --strict refused this"), "{stderr}");
    assert!(
        !stderr.contains("\"strict\""),
        "no API field names in the CLI: {stderr}"
    );
}

#[test]
fn repairs_reach_the_manifest_of_a_built_module() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = tmp.path().join("defective.yaml");
    std::fs::write(&spec, DEFECTIVE).expect("write");
    let (_work, module) = build(&spec, "defective", &["--format", "json"]);
    let manifest: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(module.join("manifest.yaml")).expect("manifest"),
    )
    .expect("yaml");
    let repairs = manifest["metadata"]["source"]["repairs"]
        .as_array()
        .expect("repairs in the manifest")
        .clone();
    assert_eq!(repairs.len(), 2, "{repairs:?}");
    assert_eq!(repairs[0]["kind"], "dangling-ref");
    assert!(
        repairs[0]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("/defective.yaml")),
        "{repairs:?}"
    );
    assert!(
        repairs[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("read as \"any value\""),
        "{repairs:?}"
    );
    // The manifest still validates against its schema and verifies.
    let key = crate::support::keys().2.display().to_string();
    let out = aip(
        tmp.path(),
        &["verify", &module.display().to_string(), "--key", &key],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_missing_spec_or_proto_file_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for spec in ["none.yaml", "none.proto"] {
        let out = aip(tmp.path(), &["describe", spec]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            stderr.contains(&format!("cannot read {spec}")) && stderr.contains("o such file"),
            "{spec}: {stderr}"
        );
    }
}
