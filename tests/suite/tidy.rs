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
