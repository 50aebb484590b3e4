//! Tidy checks: what ARCHITECTURE.md says about the code is true. Every
//! crate under `builder/` has a row in its folder table, and depends (in
//! its normal dependencies, per `cargo metadata`) only on the crates of
//! ours that row allows. Hand-written sources stay small.
//!
//! (Two more rules are enforced by the lints `ci/test` runs with clippy
//! `-D warnings`: `missing_docs` on every public item, and `unwrap_used` /
//! `expect_used` outside tests.)

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::repo;

/// What a row of the folder table allows: the crates named in backticks,
/// or every stage (`every stage`, `stages`).
#[derive(Debug)]
struct Allowed {
    any_stage: bool,
    crates: BTreeSet<String>,
}

/// `builder/<folder>` -> what it may depend on, from ARCHITECTURE.md.
fn architecture_table() -> BTreeMap<String, Allowed> {
    let text = std::fs::read_to_string(repo("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `builder/")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [folder, _, may_depend_on] = cells[..] else {
            panic!("a folder row has three cells: {line}");
        };
        let folder = folder
            .trim_matches('`')
            .trim_start_matches("builder/")
            .to_string();
        let crates = may_depend_on
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        let any_stage = may_depend_on.contains("every stage") || may_depend_on.contains("stages");
        rows.insert(folder, Allowed { any_stage, crates });
    }
    rows
}

/// Each workspace crate under `builder/`: folder -> its normal
/// dependencies on crates of ours (as folder names).
fn workspace_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo(""))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let root = repo("builder");
    let mut folders = BTreeMap::new();
    let mut ours = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let manifest = std::path::PathBuf::from(package["manifest_path"].as_str().unwrap_or(""));
        let Ok(rel) = manifest.parent().unwrap_or(&manifest).strip_prefix(&root) else {
            continue;
        };
        let folder = rel.display().to_string();
        ours.insert(
            package["name"].as_str().unwrap_or("").to_string(),
            folder.clone(),
        );
        folders.insert(folder, package.clone());
    }
    folders
        .into_iter()
        .map(|(folder, package)| {
            let deps = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| ours.get(d["name"].as_str().unwrap_or("")).cloned())
                .collect();
            (folder, deps)
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_what_architecture_md_allows() {
    let table = architecture_table();
    let crates = workspace_dependencies();
    assert!(crates.len() >= 10, "{crates:?}");
    let mut wrong = Vec::new();
    for (folder, deps) in &crates {
        let Some(allowed) = table.get(folder) else {
            wrong.push(format!(
                "builder/{folder} has no row in ARCHITECTURE.md's folder table"
            ));
            continue;
        };
        if allowed.any_stage {
            continue;
        }
        for dep in deps.iter().filter(|d| !allowed.crates.contains(*d)) {
            wrong.push(format!(
                "builder/{folder} depends on {dep}, which ARCHITECTURE.md does not allow it ({:?})",
                allowed.crates
            ));
        }
    }
    for folder in table.keys() {
        let exists = repo(&format!("builder/{folder}")).is_dir();
        if !exists {
            wrong.push(format!(
                "ARCHITECTURE.md lists builder/{folder}, which does not exist"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md is not true:\n{}",
        wrong.join("\n")
    );
}

/// The most lines a hand-written source file of `builder/` or `templates/`
/// may have: past it, a file does more than one job. Generated code
/// (`@generated` in its first lines) is exempt.
const MAX_SOURCE_LINES: usize = 700;

#[test]
fn hand_written_sources_stay_small() {
    let mut too_long = Vec::new();
    let mut stack = vec![repo("builder"), repo("templates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let generated = text.lines().take(5).any(|l| l.contains("@generated"));
            let lines = text.lines().count();
            if !generated && lines > MAX_SOURCE_LINES {
                too_long.push(format!("{} has {lines} lines", path.display()));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "split these into files with one job each (at most {MAX_SOURCE_LINES} lines):\n{}",
        too_long.join("\n")
    );
}

/// `name -> versions` of the packages a Cargo.lock pins.
fn locked_versions(lockfile: &str) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repo(lockfile)).expect("a lockfile");
    let lock: toml::Table = toml::from_str(&text).expect("Cargo.lock is TOML");
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock
        .get("package")
        .and_then(toml::Value::as_array)
        .expect("[[package]] tables")
    {
        let field = |key: &str| package.get(key).and_then(toml::Value::as_str).unwrap_or("");
        versions
            .entry(field("name").to_string())
            .or_default()
            .insert(field("version").to_string());
    }
    versions
}

/// The runtime crates are tested (templates/Cargo.lock) with the very
/// versions generated adapters build with (the targets' lockfiles), so a
/// test that passes there says something about what ships.
#[test]
fn runtime_crates_are_tested_with_the_versions_adapters_pin() {
    let tested = locked_versions("templates/Cargo.lock");
    let mut shipped = locked_versions("templates/grpc-service/Cargo.lock");
    for (name, versions) in locked_versions("templates/wasm-component/Cargo.lock") {
        shipped.entry(name).or_default().extend(versions);
    }
    let mut differ = Vec::new();
    for (name, versions) in &tested {
        if name.starts_with("aip-") {
            continue;
        }
        let Some(pinned) = shipped.get(name) else {
            continue; // only the tests use it
        };
        for version in versions.difference(pinned) {
            differ.push(format!("{name} {version} (adapters pin {pinned:?})"));
        }
    }
    assert!(
        differ.is_empty(),
        "templates/Cargo.lock tests the runtime with versions no adapter uses; \
         align it (cargo update --manifest-path templates/Cargo.toml -p NAME --precise VERSION):\n{}",
        differ.join("\n")
    );
}

/// The gRPC service runtime builds in place because the files render copies
/// into it from elsewhere are symlinks to those very files.
#[test]
fn runtime_symlinks_point_at_the_files_render_copies() {
    let links = [
        (
            "runtime/request.rs",
            "templates/shared/src/runtime/request.rs",
        ),
        (
            "runtime/response.rs",
            "templates/shared/src/runtime/response.rs",
        ),
        ("runtime/spec.rs", "templates/shared/src/runtime/spec.rs"),
        (
            "proto/aip.adapter.v1.rs",
            "builder/adapter-proto/src/aip.adapter.v1.rs",
        ),
        (
            "proto/adapter.binpb",
            "builder/adapter-proto/src/adapter.binpb",
        ),
    ];
    let render =
        std::fs::read_to_string(repo("builder/render/src/templates.rs")).expect("templates.rs");
    for (link, target) in links {
        let path = repo(&format!("templates/grpc-service/runtime/src/{link}"));
        let meta = std::fs::symlink_metadata(&path).expect("the link exists");
        assert!(
            meta.file_type().is_symlink(),
            "{} must be a symlink to {target}",
            path.display()
        );
        assert_eq!(
            std::fs::canonicalize(&path).expect("the link resolves"),
            std::fs::canonicalize(repo(target)).expect("the target exists"),
            "{link}"
        );
        assert!(
            render.contains(target),
            "render no longer copies {target}; the link {link} is stale"
        );
    }
}
