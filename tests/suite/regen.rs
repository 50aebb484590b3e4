//! `aip-builder regen` on a temporary project of two adapters: nothing
//! changed -> nothing rebuilt and the same lock bytes; a compatible spec
//! change -> only that adapter, a minor version; a breaking one -> major,
//! pushed to a real registry; a hand-edited generated file -> `--check`
//! exits 3 naming it; `version_policy = "no-breaking"` refuses a breaking
//! change and leaves everything as it was.

use std::path::Path;

use crate::support::{Steps, aip, text};

const NOTES: &str = "openapi: 3.0.3
info: {title: Notes, version: '1'}
servers: [{url: 'https://notes.example.com/v1'}]
paths:
  /notes/{noteId}:
    get:
      operationId: getNote
      parameters:
        - {name: noteId, in: path, required: true, schema: {type: string}}
      responses:
        '200': {description: ok, content: {application/json: {schema: {type: object, properties: {text: {type: string}}}}}}
";

fn config(registry: &str, pets_policy: &str) -> String {
    format!(
        "[[adapter]]\nname = \"pets\"\nspec = \"specs/pets.yaml\"\nregistry = \"{registry}/team/pets\"\nversion_policy = \"{pets_policy}\"\n\n\
         [[adapter]]\nname = \"notes\"\nspec = \"specs/notes.yaml\"\nversion = \"1.0.0\"\n"
    )
}

fn edit(project: &Path, file: &str, from: &str, to: &str) {
    let path = project.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.matches(from).count(), 1, "{from:?} in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn manifest_version(project: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(project.join(format!("modules/{name}/manifest.yaml")))
        .expect("manifest");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("version: "))
        .map(|v| v.trim_matches(|c| c == '"' || c == '\'').to_string())
        .unwrap_or_default()
}

#[test]
fn regen_rebuilds_exactly_what_changed_with_the_version_the_diff_asks_for() {
    let registry = crate::registry_server::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path();
    std::fs::create_dir(project.join("specs")).expect("mkdir");
    std::fs::write(project.join("specs/pets.yaml"), crate::support::PETS_SPEC).expect("write");
    std::fs::write(project.join("specs/notes.yaml"), NOTES).expect("write");
    std::fs::write(
        project.join("aip-builder.toml"),
        config(&registry.host(), "semver"),
    )
    .expect("write");
    crate::support::aip(project, &["keygen", "--out", "."]);

    let mut steps = Steps::start("a new project: --check names both adapters, exit 3");
    let out = aip(project, &["regen", "--check"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        stdout(&out).matches("the lock has no entry for it").count(),
        2,
        "{}",
        text(&out)
    );
    assert!(
        !project.join("aip-builder.lock").exists(),
        "--check changes nothing"
    );

    steps.enter("regen builds both at their first versions");
    let out = aip(project, &["regen"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        (
            manifest_version(project, "pets"),
            manifest_version(project, "notes")
        ),
        ("0.1.0".into(), "1.0.0".into())
    );
    let lock = std::fs::read(project.join("aip-builder.lock")).expect("lock");
    for file in [
        "aip-builder.lock.d/pets.api.json",
        "changelog/pets.md",
        "generated/pets/src/lib.rs",
        "generated/notes/Cargo.toml",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }

    steps.enter("nothing changed: nothing rebuilt, exit 0, the same lock bytes");
    let notes_manifest = project.join("modules/notes/manifest.yaml");
    let built_at = std::fs::metadata(&notes_manifest)
        .and_then(|m| m.modified())
        .expect("mtime");
    let out = aip(project, &["regen"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout(&out),
        "pets 0.1.0: up to date\nnotes 1.0.0: up to date\n"
    );
    assert_eq!(
        std::fs::read(project.join("aip-builder.lock")).expect("lock"),
        lock
    );
    let check = aip(project, &["regen", "--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    steps.enter("a compatible change to pets: only pets, a minor version, a changelog entry");
    edit(
        project,
        "specs/pets.yaml",
        "required: true, schema: {type: integer}}\n",
        "required: true, schema: {type: integer}}\n        - {name: fields, in: query, schema: {type: string}}\n",
    );
    let check = aip(project, &["regen", "--check"]);
    assert_eq!(check.status.code(), Some(3), "{}", text(&check));
    assert!(
        stdout(&check).contains(
            "pets 0.1.0: out of date: the spec changed (1 change(s), 0 breaking: a minor bump)"
        ),
        "{}",
        text(&check)
    );
    assert!(
        stdout(&check).contains("notes 1.0.0: up to date"),
        "{}",
        text(&check)
    );
    let out = aip(project, &["regen"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(manifest_version(project, "pets"), "0.2.0");
    assert_eq!(
        std::fs::metadata(&notes_manifest)
            .and_then(|m| m.modified())
            .expect("mtime"),
        built_at,
        "notes was not rebuilt"
    );
    let changelog = std::fs::read_to_string(project.join("changelog/pets.md")).expect("changelog");
    assert!(changelog.starts_with("# pets\n\n## 0.2.0\n"), "{changelog}");
    assert!(changelog.contains("`input-property-added`"), "{changelog}");
    assert!(
        changelog.contains("## 0.1.0"),
        "earlier entries stay: {changelog}"
    );

    steps.enter("a breaking change: a major version, pushed to the registry");
    edit(
        project,
        "specs/pets.yaml",
        "name: {type: string}",
        "name: {type: integer}",
    );
    let out = aip(project, &["regen", "--push", "--adapter", "pets"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(manifest_version(project, "pets"), "1.0.0");
    assert!(stdout(&out).contains("(major bump)"), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!("pushed {}/team/pets", registry.host())),
        "{}",
        text(&out)
    );
    let verified = aip(
        project,
        &[
            "verify",
            &format!("{}/team/pets:1.0.0", registry.host()),
            "--key",
            "cosign.pub",
        ],
    );
    assert!(verified.status.success(), "{}", text(&verified));

    steps.enter("diff reads the contract a module records, in its folder and in the registry");
    let pushed = format!("oci://{}/team/pets:1.0.0", registry.host());
    let out = aip(
        project,
        &[
            "diff",
            &pushed,
            "modules/pets",
            "--fail-on",
            "any",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["bump"], "none", "{report}");
    let next = std::fs::read_to_string(project.join("specs/pets.yaml"))
        .expect("read")
        .replacen("name: {type: integer}", "name: {type: string}", 1);
    std::fs::write(project.join("pets-next.yaml"), next).expect("write");
    let out = aip(
        project,
        &[
            "diff",
            &format!("{}/team/pets@1", registry.host()),
            "pets-next.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["bump"], "major", "{report}");
    assert!(
        report["changes"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["message"].as_str().is_some_and(|m| m.contains("name")))),
        "{report}"
    );

    steps.enter("a hand-edited generated file: --check exits 3 naming it");
    let lib = project.join("generated/notes/src/lib.rs");
    let mut source = std::fs::read_to_string(&lib).expect("read");
    source.push_str("// edited by hand\n");
    std::fs::write(&lib, source).expect("write");
    let check = aip(project, &["regen", "--check"]);
    assert_eq!(check.status.code(), Some(3), "{}", text(&check));
    assert!(
        stdout(&check)
            .contains("notes 1.0.0: out of date: generated sources edited by hand: src/lib.rs"),
        "{}",
        text(&check)
    );
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("1 of 2 adapter(s) out of date"),
        "{}",
        text(&check)
    );

    steps.enter(
        "version_policy = no-breaking refuses a breaking change (exit 3) and keeps everything",
    );
    let out = aip(project, &["regen"]);
    assert!(
        out.status.success(),
        "the hand edit is undone: {}",
        text(&out)
    );
    assert_eq!(manifest_version(project, "notes"), "1.0.1");
    std::fs::write(
        project.join("aip-builder.toml"),
        config(&registry.host(), "no-breaking"),
    )
    .expect("write");
    let out = aip(project, &["regen"]);
    assert!(
        out.status.success(),
        "the policy alone changes no contract: {}",
        text(&out)
    );
    let lock = std::fs::read(project.join("aip-builder.lock")).expect("lock");
    edit(
        project,
        "specs/pets.yaml",
        "        - {name: fields, in: query, schema: {type: string}}\n",
        "",
    );
    let out = aip(project, &["regen"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("version_policy is \"no-breaking\""),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(project.join("aip-builder.lock")).expect("lock"),
        lock,
        "the lock is unchanged"
    );
    assert_eq!(manifest_version(project, "pets"), "1.0.0");
}

#[test]
fn regen_refuses_a_project_it_cannot_read_with_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = aip(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no aip-builder.toml"),
        "{}",
        text(&out)
    );
    std::fs::write(dir.path().join("aip-builder.toml"), "[[adapter]]\nname = \"a\"\nspec = \"missing.yaml\"\n[[adapter]]\nname = \"a\"\nspec = \"x.yaml\"\n").expect("write");
    let out = aip(dir.path(), &["regen", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("adapter \"a\" is listed twice"),
        "{}",
        text(&out)
    );
    std::fs::write(
        dir.path().join("aip-builder.toml"),
        "[[adapter]]\nname = \"a\"\nspec = \"missing.yaml\"\n",
    )
    .expect("write");
    let out = aip(dir.path(), &["regen", "--check", "--adapter", "b"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--adapter b"),
        "{}",
        text(&out)
    );
    let out = aip(dir.path(), &["regen", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.yaml"),
        "names the spec: {}",
        text(&out)
    );
    std::fs::write(
        dir.path().join("aip-builder.toml"),
        "[[adapter]]\nname = \"a\"\nspec = \"a.yaml\"\ncolour = \"blue\"\n",
    )
    .expect("write");
    let out = aip(dir.path(), &["regen", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("colour"),
        "{}",
        text(&out)
    );
}
