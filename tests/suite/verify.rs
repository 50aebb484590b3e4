//! Verification: a fresh module verifies; any tampered byte does not; the
//! SBOM is valid CycloneDX 1.5; builds are reproducible.

use std::path::Path;

use serde_json::Value;

use crate::support::{aip, build, copy_dir, e2e_module, keys, repo, text};

fn verify(module: &Path, key: &Path) -> std::process::Output {
    aip(
        &repo(""),
        &[
            "verify",
            &module.display().to_string(),
            "--key",
            &key.display().to_string(),
        ],
    )
}

#[test]
fn a_fresh_module_verifies() {
    let out = verify(e2e_module(), &keys().2);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified e2e-vendor 0.1.0"));
}

/// Copies the e2e module, applies `tamper` to it and expects verification
/// to fail with `expected` in the message and, with `--format json`, the
/// failed check named `check` (null for a layout that does not even read).
fn tampered(name: &str, tamper: impl Fn(&Path), expected: &str, check: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("e2e-vendor");
    copy_dir(e2e_module(), &copy);
    tamper(&copy);
    let out = verify(&copy, &keys().2);
    assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(expected),
        "{name}: expected {expected:?} in:\n{stderr}"
    );
    let out = aip(
        &repo(""),
        &[
            "verify",
            &copy.display().to_string(),
            "--key",
            &keys().2.display().to_string(),
            "--format",
            "json",
        ],
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answer["verified"], Value::Bool(false), "{name}: {answer}");
    assert_eq!(
        answer["check"].as_str(),
        check,
        "{name}: the failed check by name: {answer}"
    );
}

fn manifest(dir: &Path) -> aip_register::ModuleManifest {
    aip_register::ModuleManifest::from_yaml(
        &std::fs::read(dir.join("manifest.yaml")).expect("manifest"),
    )
    .expect("parses")
}

fn blob(dir: &Path, digest: &str) -> std::path::PathBuf {
    dir.join("oci/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn any_tampered_byte_fails_verification() {
    tampered(
        "artifact",
        |d| {
            let path = blob(d, &manifest(d).artifact.layer.digest);
            let mut bytes = std::fs::read(&path).expect("read");
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(path, bytes).expect("write");
        },
        "digest mismatch",
        None,
    );
    tampered(
        "manifest",
        |d| {
            let text = std::fs::read_to_string(d.join("manifest.yaml")).expect("read");
            std::fs::write(
                d.join("manifest.yaml"),
                text.replace("memory: 128Mi", "memory: 4Gi"),
            )
            .expect("write");
        },
        "manifest.yaml was modified after signing",
        Some("manifest-modified"),
    );
    tampered(
        "manifest permissions",
        |d| {
            let text = std::fs::read_to_string(d.join("manifest.yaml")).expect("read");
            std::fs::write(
                d.join("manifest.yaml"),
                text.replace("- api.e2e.example", "- evil.example"),
            )
            .expect("write");
        },
        "manifest.yaml was modified after signing",
        Some("manifest-modified"),
    );
    tampered(
        "sbom",
        |d| {
            let text = std::fs::read_to_string(d.join("sbom.cdx.json")).expect("read");
            std::fs::write(
                d.join("sbom.cdx.json"),
                text.replacen("serde_json", "serde_jsom", 1),
            )
            .expect("write");
        },
        "sbom.cdx.json was modified",
        Some("sbom-modified"),
    );
    tampered(
        "signature",
        |d| {
            let index = std::fs::read_to_string(d.join("oci/index.json")).expect("index");
            let index: Value = serde_json::from_str(&index).expect("json");
            let tag = manifest(d).signature.tag;
            let sig_digest = index["manifests"]
                .as_array()
                .expect("manifests")
                .iter()
                .find(|m| {
                    m["annotations"]["org.opencontainers.image.ref.name"]
                        == Value::String(tag.clone())
                })
                .and_then(|m| m["digest"].as_str())
                .expect("signature manifest")
                .to_string();
            // A forged signature, consistently re-hashed into the layout.
            let text = std::fs::read_to_string(blob(d, &sig_digest)).expect("read");
            let sig: Value = serde_json::from_str(&text).expect("json");
            let old = sig["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .expect("sig")
                .to_string();
            let mut chars: Vec<char> = old.chars().collect();
            chars[12] = if chars[12] == 'A' { 'B' } else { 'A' };
            let forged = text.replace(&old, &chars.into_iter().collect::<String>());
            let forged_digest = aip_package::oci::sha256_digest(forged.as_bytes());
            std::fs::write(blob(d, &forged_digest), &forged).expect("write");
            let index = std::fs::read_to_string(d.join("oci/index.json")).expect("index");
            let index = index.replace(&sig_digest, &forged_digest).replace(
                &format!("\"size\": {}", text.len()),
                &format!("\"size\": {}", forged.len()),
            );
            std::fs::write(d.join("oci/index.json"), index).expect("write");
        },
        "does not verify with the given public key",
        Some("signature-invalid"),
    );
    tampered(
        "missing signature",
        |d| {
            let index = std::fs::read_to_string(d.join("oci/index.json")).expect("index");
            let mut index: Value = serde_json::from_str(&index).expect("json");
            let tag = manifest(d).signature.tag;
            index["manifests"]
                .as_array_mut()
                .expect("manifests")
                .retain(|m| {
                    m["annotations"]["org.opencontainers.image.ref.name"]
                        != Value::String(tag.clone())
                });
            std::fs::write(d.join("oci/index.json"), index.to_string()).expect("write");
        },
        "module is unsigned",
        Some("unsigned"),
    );
}

#[test]
fn another_key_does_not_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = aip(dir.path(), &["keygen", "--out", "."]);
    assert!(out.status.success(), "{}", text(&out));
    let out = verify(e2e_module(), &dir.path().join("cosign.pub"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify with the given public key"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_sbom_is_valid_cyclonedx_1_5_and_lists_what_was_compiled() {
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(e2e_module().join("sbom.cdx.json")).expect("sbom"))
            .expect("json");
    let fixture = |name: &str| -> Value {
        serde_json::from_slice(
            &std::fs::read(repo(&format!("tests/fixtures/cyclonedx/{name}"))).expect("schema"),
        )
        .expect("json")
    };
    let schema = fixture("bom-1.5.SNAPSHOT.schema.json");
    let validator = jsonschema::options()
        .with_resource(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            jsonschema::Resource::from_contents(fixture("spdx.SNAPSHOT.schema.json"))
                .expect("spdx schema"),
        )
        .with_resource(
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
            jsonschema::Resource::from_contents(fixture("jsf-0.82.SNAPSHOT.schema.json"))
                .expect("jsf schema"),
        )
        .build(&schema)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sbom)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SBOM invalid:\n{}", errors.join("\n"));

    assert_eq!(sbom["specVersion"], "1.5");
    let module = aip_register::open_module(e2e_module()).expect("opens");
    let wasm_hex = aip_package::oci::sha256_digest(&module.payload);
    assert_eq!(
        format!(
            "sha256:{}",
            sbom["metadata"]["component"]["hashes"][0]["content"]
                .as_str()
                .unwrap_or("")
        ),
        wasm_hex
    );
    let components = sbom["components"].as_array().expect("components");
    let serde_json_entry = components
        .iter()
        .find(|c| c["name"] == "serde_json")
        .expect("serde_json listed");
    assert!(
        serde_json_entry["purl"]
            .as_str()
            .unwrap_or("")
            .starts_with("pkg:cargo/serde_json@")
    );
    assert_eq!(
        serde_json_entry["hashes"][0]["content"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    assert!(
        components
            .iter()
            .all(|c| c["name"] != "wit-bindgen-rust-macro"),
        "proc-macros are not compiled into the component"
    );
    let spec = components
        .iter()
        .find(|c| c["type"] == "file")
        .expect("spec input");
    let spec_bytes = std::fs::read(repo("tests/fixtures/specs/e2e-vendor.yaml")).expect("spec");
    assert_eq!(
        format!(
            "sha256:{}",
            spec["hashes"][0]["content"].as_str().unwrap_or("")
        ),
        aip_package::oci::sha256_digest(&spec_bytes)
    );
}

#[test]
fn the_same_spec_builds_to_the_same_digests() {
    let spec = repo("tests/fixtures/specs/e2e-vendor.yaml");
    // --no-cache: both builds really run cargo.
    let (_w1, first) = build(&spec, "e2e-vendor", &["--no-cache"]);
    let (_w2, second) = build(&spec, "e2e-vendor", &["--no-cache"]);
    let (a, b) = (manifest(&first), manifest(&second));
    assert_eq!(a.artifact.digest, b.artifact.digest);
    assert_eq!(a.artifact.layer.digest, b.artifact.layer.digest);
    assert_eq!(a.sbom.digest, b.sbom.digest);
    assert_eq!(a, b);
}

#[test]
fn keys_are_read_from_environment_variables() {
    let work = tempfile::tempdir().expect("tempdir");
    let pem = std::fs::read_to_string(&keys().1).expect("key");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aip-builder"))
        .args([
            "build",
            &repo("tests/fixtures/specs/e2e-vendor.yaml")
                .display()
                .to_string(),
            "--key",
            "env://AIP_TEST_SIGNING_KEY",
            "--out",
            "modules",
        ])
        .current_dir(work.path())
        .env("COSIGN_PASSWORD", crate::support::PASSWORD)
        .env("AIP_TEST_SIGNING_KEY", pem)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let public = std::fs::read_to_string(&keys().2).expect("pub");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aip-builder"))
        .args([
            "verify",
            "modules/e2e-vendor",
            "--key",
            "env://AIP_TEST_PUBLIC_KEY",
        ])
        .current_dir(work.path())
        .env("AIP_TEST_PUBLIC_KEY", public)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    // No key material in what the build printed.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("PRIVATE KEY"));
}
