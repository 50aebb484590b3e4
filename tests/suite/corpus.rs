//! Every real spec in specs/ (the shared corpus's quirks included: multi-file
//! layouts with `../` refs, gateway specs with repeated operationIds,
//! dangling refs, a 1,000-operation spec, proto2 extensions, streaming
//! services) ingests, and `describe` lists every operation the spec has.
//!
//! Operations are counted here independently of our ingest: OpenAPI path
//! items (following external path-item `$ref` files) times HTTP methods,
//! and `rpc` declarations in the .proto files.

use std::path::Path;

use serde_json::Value;

use crate::support::{aip, repo, spec_index, text};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Reads a JSON or YAML document.
fn read_document(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // JSON first (YAML loaders refuse the C1 controls some JSON specs
    // hold); YAML through its own value type, which takes integers wider
    // than 64 bits.
    serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        let text = without_huge_integers(&String::from_utf8_lossy(&bytes));
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// `text` with every run of 19 or more digits replaced by `0`: the YAML
/// value type takes no integer wider than 64 bits, and no operation count
/// depends on one.
fn without_huge_integers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    for ch in text.chars().chain(std::iter::once('\n')) {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        if digits.len() >= 19 {
            out.push('0');
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        out.push(ch);
    }
    out.pop();
    out
}

/// The value a `$ref` names: `file#/pointer` relative to `base`'s folder.
fn follow(base: &Path, value: &Value) -> (std::path::PathBuf, Value) {
    let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
        return (base.to_path_buf(), value.clone());
    };
    let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let path = if file.is_empty() {
        base.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(file)
    };
    let document = read_document(&path);
    let target = document.pointer(pointer).cloned().unwrap_or(Value::Null);
    follow(&path, &target)
}

/// Path items times methods, the way a reader of the spec counts them.
fn count_openapi_operations(spec: &Path) -> usize {
    let document = read_document(spec);
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    paths
        .iter()
        .filter(|(path, _)| path.starts_with('/'))
        .map(|(_, item)| {
            let (_, item) = follow(spec, item);
            METHODS.iter().filter(|m| item.get(**m).is_some()).count()
        })
        .sum()
}

/// `rpc` declarations in every .proto file under `dir` (comments skipped).
fn count_rpcs(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let source = std::fs::read_to_string(&path).expect("proto");
                count += source
                    .lines()
                    .map(str::trim_start)
                    .filter(|l| l.starts_with("rpc ") || l.starts_with("rpc\t"))
                    .count();
            }
        }
    }
    count
}

/// `describe --format json` of a spec: its operations.
fn described_operations(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["describe"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = aip(&repo(""), &all);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    let document: Value = serde_json::from_slice(&out.stdout).expect("describe JSON");
    document["operations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn every_openapi_spec_lists_every_operation() {
    let mut specs: Vec<String> = spec_index()
        .iter()
        .filter(|s| s.path.starts_with("openapi/"))
        .map(|s| s.path.clone())
        .collect();
    specs.sort();
    specs.dedup();
    assert!(specs.len() >= 18, "the corpus's OpenAPI specs: {specs:?}");
    for spec in specs {
        let path = repo(&format!("specs/{spec}"));
        let expected = count_openapi_operations(&path);
        let described = described_operations(&[&format!("specs/{spec}")]);
        assert_eq!(described.len(), expected, "{spec}: operations described");
        let mut ids: Vec<&str> = described.iter().filter_map(|o| o["id"].as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), expected, "{spec}: operation ids are unique");
    }
}

#[test]
fn every_proto_set_lists_every_method() {
    for set in [
        "envoy",
        "google-bytestream",
        "google-longrunning",
        "hf-tei",
        "hf-tgi",
        "kserve-v2",
        "weaviate",
    ] {
        let dir = repo(&format!("specs/proto/{set}"));
        let expected = count_rpcs(&dir);
        assert!(expected > 0, "{set} declares methods");
        let described = described_operations(&[&format!("specs/proto/{set}")]);
        assert_eq!(described.len(), expected, "{set}: methods described");
    }
    // sentencepiece is a proto2 model format with no service: said so.
    let out = aip(&repo(""), &["describe", "specs/proto/sentencepiece"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("defines no operations"),
        "{}",
        text(&out)
    );
}
