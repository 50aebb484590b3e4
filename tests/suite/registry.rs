//! Distribution through a real registry (Debian's `docker-registry`):
//! push, install, run, semver, rollback, signature refusals, updates,
//! interrupted pushes, and what the standard tools read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::registry_server::{OCI_INDEX, OCI_MANIFEST, Proxy, Registry};
use crate::support::{FakeVendor, Steps, aip, invoke, json_reply, keys, repo, snapshot, text};

const SPEC: &str = "tests/fixtures/specs/e2e-vendor.yaml";
const NAME: &str = "e2e-vendor";

/// Runs aip-builder and parses its `--format json` stdout; asserts success.
fn aip_json(cwd: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = aip(cwd, &all);
    assert!(out.status.success(), "aip-builder {args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

/// Builds the e2e spec as `version` with `key` and pushes it to `dest`.
/// Returns the work dir (holding modules/) and the build's JSON.
fn build_and_push(version: &str, dest: &str, key: &Path) -> (tempfile::TempDir, Value) {
    let work = tempfile::tempdir().expect("tempdir");
    let spec = repo(SPEC).display().to_string();
    let key = key.display().to_string();
    let json = aip_json(
        work.path(),
        &[
            "build",
            &spec,
            "--name",
            NAME,
            "--version",
            version,
            "--key",
            &key,
            "--out",
            "modules",
            "--push",
            dest,
        ],
    );
    (work, json)
}

fn pub_key() -> String {
    keys().2.display().to_string()
}

/// A second key pair, as another publisher's.
fn other_keys() -> &'static (PathBuf, PathBuf, PathBuf) {
    static KEYS: std::sync::OnceLock<(PathBuf, PathBuf, PathBuf)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let out = aip(&dir, &["keygen", "--out", "."]);
        assert!(out.status.success(), "keygen: {}", text(&out));
        (dir.clone(), dir.join("cosign.key"), dir.join("cosign.pub"))
    })
}

fn install(cwd: &Path, reference: &str, extra: &[&str]) -> Output {
    let key = pub_key();
    let mut args = vec![
        "install",
        reference,
        "--key",
        key.as_str(),
        "--out",
        "modules",
    ];
    args.extend_from_slice(extra);
    aip(cwd, &args)
}

fn installed_version(cwd: &Path) -> String {
    let yaml = std::fs::read_to_string(cwd.join("modules").join(NAME).join("manifest.yaml"))
        .expect("installed manifest");
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix("version: "))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn list(cwd: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["list", "--modules", "modules"];
    args.extend_from_slice(extra);
    let json = aip_json(cwd, &args);
    json["modules"].as_array().cloned().unwrap_or_default()
}

fn skopeo(args: &[&str]) -> Output {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("skopeo must be installed (.ci/run installs it): {e}"));
    assert!(out.status.success(), "skopeo {args:?}: {}", text(&out));
    out
}

#[test]
fn a_pushed_module_installs_verifies_and_runs_and_standard_tools_read_it() {
    let mut steps = Steps::start("set up");
    let registry = Registry::start();
    let host = registry.host();
    let dest = format!("{host}/acme/e2e");
    let (built_work, built) = build_and_push("1.0.0", &dest, &keys().1);
    let pushed = &built["pushed"];
    let digest = pushed["digest"].as_str().expect("digest").to_string();
    assert_eq!(pushed["tags"], json!(["1.0.0", "latest"]), "{built}");
    assert_eq!(
        pushed["referrers_index_written"],
        json!(true),
        "docker-registry has no referrers API: {built}"
    );
    assert!(pushed["blobs_uploaded"].as_u64() >= Some(5), "{built}");

    steps.enter("Pushing again uploads nothing");
    let module_dir = built_work.path().join("modules").join(NAME);
    let again = aip_json(
        built_work.path(),
        &["push", &module_dir.display().to_string(), &dest],
    );
    assert_eq!(again["pushed"]["blobs_uploaded"], json!(0), "{again}");
    assert_eq!(again["pushed"]["digest"], json!(digest));

    steps.enter("Install on a clean machine: verified, byte-identical manifest and SBOM");
    let work = tempfile::tempdir().expect("tempdir");
    let out = install(
        work.path(),
        &dest,
        &["--require-signed", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["installed"]["version"], json!("1.0.0"));
    assert_eq!(
        json["installed"]["origin"]["verification"]["status"],
        json!("verified"),
        "{json}"
    );
    let installed = work.path().join("modules").join(NAME);
    for file in ["manifest.yaml", "sbom.cdx.json"] {
        assert_eq!(
            std::fs::read(installed.join(file)).expect("installed file"),
            std::fs::read(module_dir.join(file)).expect("built file"),
            "{file} travels unchanged"
        );
    }
    let verified = aip(
        work.path(),
        &[
            "verify",
            &installed.display().to_string(),
            "--key",
            &pub_key(),
        ],
    );
    assert!(verified.status.success(), "{}", text(&verified));

    steps.enter("It runs");
    let vendor = FakeVendor::start(|_| json_reply(json!({"id": 7, "name": "seven"})));
    let server = format!("{}/v2", vendor.url());
    let (out, result) = invoke(
        &installed,
        "getItem",
        r#"{"itemId":7}"#,
        &["--server", &server, "--credential", "headerKey=hk"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        result["output"],
        json!({"id": 7, "name": "seven"}),
        "{}",
        text(&out)
    );
    assert_eq!(vendor.take().len(), 1);

    steps.enter("`list` shows it Installed, from this registry");
    let rows = list(work.path(), &[]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], json!("Installed"), "{rows:?}");
    assert_eq!(rows[0]["source"], json!(dest));

    steps.enter("Verify in place, without installing");
    let remote = aip_json(
        work.path(),
        &["verify", &format!("{dest}@1.0.0"), "--key", &pub_key()],
    );
    assert_eq!(remote["verified"], json!(true), "{remote}");

    steps.enter("info and search read the registry");
    let info = aip_json(work.path(), &["info", &dest, "--key", &pub_key()]);
    assert_eq!(info["name"], json!(NAME), "{info}");
    assert_eq!(info["versions"][0]["signature"], json!("valid"), "{info}");
    assert!(
        info["intents"].as_array().is_some_and(|i| !i.is_empty()),
        "{info}"
    );
    assert!(info["sbom"]["components"].as_u64() > Some(0), "{info}");
    let hits = aip_json(work.path(), &["search", &host, "e2e"]);
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    assert_eq!(hits[0]["repository"], json!(dest));
    let none = aip_json(work.path(), &["search", &host, "no-such-module-anywhere"]);
    assert_eq!(none, json!([]));

    steps.enter("skopeo reads the artifact and finds the SBOM through the referrers tag schema");
    // skopeo reads the artifact (raw: a Wasm config is not an image config)
    // and the SBOM is discoverable through the referrers tag schema.
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{dest}:1.0.0"),
    ]);
    let manifest: Value = serde_json::from_slice(&raw.stdout).expect("manifest");
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        json!("application/wasm")
    );
    let index_tag = digest.replace(':', "-");
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{dest}:{index_tag}"),
    ]);
    let index: Value = serde_json::from_slice(&raw.stdout).expect("index");
    let types: Vec<&str> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["artifactType"].as_str())
        .collect();
    assert!(types.contains(&"application/vnd.cyclonedx+json"), "{index}");
    assert!(
        types.contains(&"application/vnd.aip.module.manifest.v1+yaml"),
        "{index}"
    );
    let sig = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{dest}:{index_tag}.sig"),
    ]);
    assert!(String::from_utf8_lossy(&sig.stdout).contains("dev.cosignproject.cosign/signature"));

    steps.enter("skopeo copy into an OCI layout keeps the artifact byte for byte");
    // skopeo copy into an OCI layout keeps the artifact byte for byte, and
    // with its signature and referrers index beside it, it still verifies.
    let layout = work.path().join("copied");
    let oci = |tag: &str| format!("oci:{}:{tag}", layout.display());
    let src = |tag: &str| format!("docker://{dest}:{tag}");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &src("1.0.0"),
        &oci("1.0.0"),
    ]);
    let copied: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(copied["manifests"][0]["digest"], json!(digest), "{copied}");
    let unsigned = aip(
        work.path(),
        &["verify", &layout.display().to_string(), "--key", &pub_key()],
    );
    assert_eq!(unsigned.status.code(), Some(1), "{}", text(&unsigned));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &src(&format!("{index_tag}.sig")),
        &oci(&format!("{index_tag}.sig")),
    ]);
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &src(&index_tag),
        &oci(&index_tag),
    ]);
    let out = aip(
        work.path(),
        &[
            "verify",
            &format!("{}:1.0.0", layout.display()),
            "--key",
            &pub_key(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    steps.enter("The ORAS Python SDK pulls the component by its title annotation");
    let oras_out = work.path().join("oras");
    let script = format!(
        "import oras.client\nc = oras.client.OrasClient(hostname='{host}', insecure=True)\nprint(c.pull(target='{dest}:1.0.0', outdir='{}'))",
        oras_out.display()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the ORAS Python SDK (pip install oras; .ci/run installs it) pulls the module: {}",
        text(&out)
    );
    let pulled =
        std::fs::read(oras_out.join(format!("{NAME}.wasm"))).expect("oras wrote the component");
    let layer = std::fs::read(
        installed.join("oci/blobs/sha256").join(
            manifest["layers"][0]["digest"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("sha256:"),
        ),
    )
    .expect("installed layer");
    assert_eq!(pulled, layer, "ORAS pulls the same component bytes");
}

#[test]
fn versions_resolve_by_semver_and_older_ones_roll_back() {
    let mut steps = Steps::start("set up");
    let registry = Registry::start();
    let dest = format!("{}/acme/e2e", registry.host());
    let mut digests = std::collections::BTreeMap::new();
    steps.enter("0.9.0 after 1.1.0: `latest` must not move back; pre-releases never take it");
    for version in ["1.0.0", "1.1.0", "0.9.0", "1.2.0-rc.1", "2.0.0-beta.1"] {
        let (_work, built) = build_and_push(version, &dest, &keys().1);
        digests.insert(
            version,
            built["pushed"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        let tags = built["pushed"]["tags"].clone();
        let moves_latest = matches!(version, "1.0.0" | "1.1.0");
        assert_eq!(
            tags.as_array()
                .is_some_and(|t| t.contains(&json!("latest"))),
            moves_latest,
            "{version}: {tags}"
        );
    }
    let (_, latest_digest) = registry
        .api()
        .manifest("acme/e2e", "latest")
        .expect("latest");
    assert_eq!(latest_digest, digests["1.1.0"]);

    let work = tempfile::tempdir().expect("tempdir");
    for (selector, expected) in [
        ("", "1.1.0"),
        ("@latest", "1.1.0"),
        ("@1", "1.1.0"),
        ("@1.0", "1.0.0"),
        ("@0", "0.9.0"),
        ("@1.2.0-rc.1", "1.2.0-rc.1"),
        (":latest", "1.1.0"),
        ("@1.1.0", "1.1.0"),
    ] {
        let out = install(
            work.path(),
            &format!("{dest}{selector}"),
            &["--require-signed"],
        );
        assert!(out.status.success(), "{selector}: {}", text(&out));
        assert_eq!(installed_version(work.path()), expected, "{selector}");
    }
    let by_digest = install(
        work.path(),
        &format!("{dest}@{}", digests["0.9.0"]),
        &["--require-signed"],
    );
    assert!(by_digest.status.success(), "{}", text(&by_digest));
    assert_eq!(installed_version(work.path()), "0.9.0");

    steps.enter("A repository that is not there is named");
    let out = install(
        work.path(),
        &format!("{}/acme/nothing-here", registry.host()),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no repository acme/nothing-here"),
        "{}",
        text(&out)
    );

    steps.enter("Pre-releases only when asked for: @2 has only 2.0.0-beta.1");
    let out = install(work.path(), &format!("{dest}@2"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no version of")
            && stderr.contains("2.0.0-beta.1")
            && stderr.contains("pre-releases"),
        "{stderr}"
    );
    assert_eq!(
        installed_version(work.path()),
        "0.9.0",
        "a failed install changes nothing"
    );

    steps.enter("Rollback: install 1.1.0, then 1.0.0; `list` then says an update is available");
    assert!(
        install(work.path(), &format!("{dest}@1.1.0"), &["--require-signed"])
            .status
            .success()
    );
    let rows = list(work.path(), &["--key", &pub_key()]);
    assert_eq!(rows[0]["status"], json!("Installed"), "{rows:?}");
    assert!(
        install(work.path(), &format!("{dest}@1.0.0"), &["--require-signed"])
            .status
            .success()
    );
    assert_eq!(installed_version(work.path()), "1.0.0");
    let rows = list(work.path(), &["--key", &pub_key()]);
    assert_eq!(rows[0]["status"], json!("Needs Update"), "{rows:?}");
    assert_eq!(rows[0]["latest"], json!("1.1.0"), "{rows:?}");

    steps.enter("A registry's modules not installed here are Not Installed");
    let empty = tempfile::tempdir().expect("tempdir");
    let rows = list(empty.path(), &["--registry", &registry.host()]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], json!("Not Installed"), "{rows:?}");
    assert_eq!(rows[0]["latest"], json!("1.1.0"), "{rows:?}");
}

#[test]
fn require_signed_refuses_unsigned_foreign_and_tampered_modules_and_writes_nothing() {
    let mut steps = Steps::start("set up");
    let registry = Registry::start();
    let api = registry.api();
    let host = registry.host();
    let refused = |reference: &str, needle: &str| {
        let work = tempfile::tempdir().expect("tempdir");
        let out = install(work.path(), reference, &["--require-signed"]);
        assert_eq!(out.status.code(), Some(1), "{reference}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            stderr.contains(needle),
            "{reference}: expected {needle:?} in\n{stderr}"
        );
        assert!(
            !work.path().join("modules").join(NAME).exists(),
            "{reference}: nothing is installed"
        );
        let leftovers: Vec<_> = std::fs::read_dir(work.path().join("modules"))
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert!(
            leftovers.is_empty(),
            "{reference}: no staging folder is left: {leftovers:?}"
        );
        stderr
    };

    steps.enter("Unsigned: the signature was deleted from the registry");
    let (_w, built) = build_and_push("1.0.0", &format!("{host}/acme/unsigned"), &keys().1);
    let digest = built["pushed"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, sig_digest) = api
        .manifest(
            "acme/unsigned",
            &format!("{}.sig", digest.replace(':', "-")),
        )
        .expect("sig");
    api.delete_manifest("acme/unsigned", &sig_digest);
    refused(&format!("{host}/acme/unsigned"), "not signed");
    steps.enter("`require_signed = true` and `key` in the config file do the same without flags");
    let configured = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&keys().2, configured.path().join("trusted.pub")).expect("copy key");
    std::fs::write(
        configured.path().join("aip-builder.toml"),
        "require_signed = true\nkey = \"trusted.pub\"\n",
    )
    .expect("config");
    let out = aip(
        configured.path(),
        &[
            "install",
            &format!("{host}/acme/unsigned"),
            "--out",
            "modules",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not signed"),
        "{}",
        text(&out)
    );
    assert!(!configured.path().join("modules").join(NAME).exists());
    steps.enter("Without --require-signed it installs, marked Unverified, with a warning");
    let work = tempfile::tempdir().expect("tempdir");
    let out = install(work.path(), &format!("{host}/acme/unsigned"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UNVERIFIED"),
        "{}",
        text(&out)
    );
    let rows = list(work.path(), &[]);
    assert_eq!(rows[0]["status"], json!("Unverified"), "{rows:?}");

    steps.enter("Signed by another publisher's key");
    let (_w, foreign) = build_and_push("1.0.0", &format!("{host}/acme/foreign"), &other_keys().1);
    let foreign_digest = foreign["pushed"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    refused(
        &format!("{host}/acme/foreign"),
        "does not verify with the given public key",
    );

    steps.enter("The artifact replaced after signing");
    // The artifact replaced after signing: a different layer under the
    // same tag, with the old signature and referrers copied next to it.
    let (_w, good) = build_and_push("1.0.0", &format!("{host}/acme/good"), &keys().1);
    let good_digest = good["pushed"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (bytes, _) = api.manifest("acme/good", "1.0.0").expect("artifact");
    let mut manifest: Value = serde_json::from_slice(&bytes).expect("json");
    let evil = b"\0asm\x0d\0\x01\0evil".to_vec();
    let evil_digest = api.put_blob("acme/good", &evil);
    manifest["layers"][0]["digest"] = json!(evil_digest);
    manifest["layers"][0]["size"] = json!(evil.len());
    let forged = serde_json::to_vec(&manifest).expect("json");
    api.put_manifest("acme/good", "1.0.0", OCI_MANIFEST, &forged);
    let (_, forged_digest) = api.manifest("acme/good", "1.0.0").expect("forged");
    let hex = |d: &str| d.replace(':', "-");
    api.copy_manifest(
        "acme/good",
        &format!("{}.sig", hex(&good_digest)),
        "acme/good",
        &format!("{}.sig", hex(&forged_digest)),
    );
    let (index, _) = api
        .manifest("acme/good", &hex(&good_digest))
        .expect("referrers index");
    api.put_manifest("acme/good", &hex(&forged_digest), OCI_INDEX, &index);
    let stderr = refused(&format!("{host}/acme/good@1.0.0"), &forged_digest);
    assert!(
        stderr.contains(&good_digest),
        "names both digests: {stderr}"
    );

    steps.enter("The signature replaced: the foreign publisher's signature under the good artifact's signature tag");
    let (_w, good2) = build_and_push("1.0.0", &format!("{host}/acme/good2"), &keys().1);
    let good2_digest = good2["pushed"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    api.copy_manifest(
        "acme/foreign",
        &format!("{}.sig", hex(&foreign_digest)),
        "acme/good2",
        &format!("{}.sig", hex(&good2_digest)),
    );
    refused(&format!("{host}/acme/good2"), "verification failed");
    steps.enter("verify in place says the same, without installing");
    let out = aip(
        Path::new("."),
        &["verify", &format!("{host}/acme/good2"), "--key", &pub_key()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn an_interrupted_push_fails_clearly_and_completes_when_rerun() {
    let mut registry = Registry::start();
    let proxy = Proxy::start(registry.addr());
    let dest = format!("{}/acme/e2e", proxy.host());

    // Build without pushing, then push through the proxy, which kills the
    // registry as the third blob upload starts: two blobs are in.
    let (work, _) = {
        let work = tempfile::tempdir().expect("tempdir");
        let spec = repo(SPEC).display().to_string();
        let key = keys().1.display().to_string();
        let json = aip_json(
            work.path(),
            &[
                "build",
                &spec,
                "--name",
                NAME,
                "--version",
                "1.0.0",
                "--key",
                &key,
                "--out",
                "modules",
            ],
        );
        (work, json)
    };
    let module = work.path().join("modules").join(NAME);
    let before = snapshot(&module);
    proxy.kill_at_upload(3, registry.pid().expect("pid"));
    let out = aip(work.path(), &["push", &module.display().to_string(), &dest]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a registry failure is not the user's: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gave up after 4 attempts"), "{stderr}");
    assert!(
        stderr.contains("running the same push again completes it"),
        "{stderr}"
    );
    assert_eq!(snapshot(&module), before, "the local module is untouched");
    assert_eq!(
        std::fs::read_dir(work.path().join("modules"))
            .expect("modules")
            .count(),
        1
    );

    // Restarted, the same push completes without sending those two again.
    registry.restart();
    proxy.reset_uploads();
    let json = aip_json(work.path(), &["push", &module.display().to_string(), &dest]);
    let pushed = &json["pushed"];
    assert_eq!(pushed["blobs_present"], json!(2), "{json}");
    assert_eq!(
        pushed["blobs_uploaded"].as_u64(),
        Some(proxy.uploads() as u64),
        "{json}"
    );
    let installed = tempfile::tempdir().expect("tempdir");
    let out = install(
        installed.path(),
        &format!("{}/acme/e2e", registry.host()),
        &["--require-signed"],
    );
    assert!(out.status.success(), "{}", text(&out));

    // 5xx answers are retried with backoff.
    proxy.fail_next_connections(2);
    let json = aip_json(work.path(), &["push", &module.display().to_string(), &dest]);
    assert_eq!(json["pushed"]["blobs_uploaded"], json!(0), "{json}");
    assert_eq!(proxy.answered_503(), 2);
}

#[test]
fn bad_references_and_unreachable_registries_are_clear_errors() {
    let work = tempfile::tempdir().expect("tempdir");
    for (args, needle) in [
        (vec!["install", "weather"], "REGISTRY/REPO"),
        (
            vec!["install", "localhost:5000/Weather"],
            "not a repository name",
        ),
        (
            vec!["install", "localhost:5000/weather@1.x"],
            "is not a version",
        ),
        (
            vec!["push", "modules/none", "localhost:5000/weather@1.0.0"],
            "not @1.0.0",
        ),
        (
            vec!["install", "localhost:5000/weather", "--require-signed"],
            "--require-signed needs the public key",
        ),
    ] {
        let out = aip(work.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out)
        );
    }
    // A config file with a typo is named, not ignored.
    std::fs::write(
        work.path().join("aip-builder.toml"),
        "require_signd = true\n",
    )
    .expect("config");
    let out = aip(work.path(), &["install", "localhost:5000/weather"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("aip-builder.toml") && stderr.contains("require_signd"),
        "{stderr}"
    );
    std::fs::remove_file(work.path().join("aip-builder.toml")).expect("rm");
    // Nothing listens on this port: a registry error after bounded retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let out = aip(
        work.path(),
        &[
            "install",
            &format!("127.0.0.1:{port}/acme/none"),
            "--key",
            &pub_key(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("gave up after"),
        "{stderr}"
    );
    assert!(!work.path().join("modules").exists());
}

/// Runs aip-builder with extra environment variables (and no inherited
/// registry credentials).
fn aip_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aip-builder"));
    cmd.args(args)
        .current_dir(cwd)
        .env("COSIGN_PASSWORD", crate::support::PASSWORD)
        .env_remove("AIP_REGISTRY_USERNAME")
        .env_remove("AIP_REGISTRY_PASSWORD")
        .env("DOCKER_CONFIG", cwd.join("no-docker-config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("aip-builder runs")
}

#[test]
fn registry_credentials_come_from_the_environment_or_docker_config_and_never_leak() {
    let mut steps = Steps::start("set up");
    const SECRET: &str = "s3cret-registry-pw";
    let registry = Registry::start_with_auth("ci-bot", SECRET);
    let host = registry.host();
    let dest = format!("{host}/acme/private");
    let work = tempfile::tempdir().expect("tempdir");
    let spec = repo(SPEC).display().to_string();
    let key = keys().1.display().to_string();
    let built = aip(
        work.path(),
        &[
            "build",
            &spec,
            "--name",
            NAME,
            "--version",
            "1.0.0",
            "--key",
            &key,
            "--out",
            "modules",
        ],
    );
    assert!(built.status.success(), "{}", text(&built));
    let module = work.path().join("modules").join(NAME).display().to_string();
    let leaks = |out: &Output| {
        let all = text(out);
        assert!(
            !all.contains(SECRET),
            "the password must never be printed:\n{all}"
        );
    };

    steps.enter("Anonymous: refused, with a hint; exit 1 (the user's to fix)");
    let out = aip_env(work.path(), &["push", &module, &dest], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused")
            && stderr.contains("anonymous")
            && stderr.contains("AIP_REGISTRY_USERNAME"),
        "{stderr}"
    );

    steps.enter("A wrong password: refused, and neither password is printed");
    let out = aip_env(
        work.path(),
        &["push", &module, &dest],
        &[
            ("AIP_REGISTRY_USERNAME", "ci-bot"),
            ("AIP_REGISTRY_PASSWORD", "wrong-pw-123"),
            ("AIP_LOG", "debug"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("wrong-pw-123"), "{}", text(&out));

    steps.enter("From the environment, with debug logging on: pushed, nothing leaked");
    let out = aip_env(
        work.path(),
        &["push", &module, &dest],
        &[
            ("AIP_REGISTRY_USERNAME", "ci-bot"),
            ("AIP_REGISTRY_PASSWORD", SECRET),
            ("AIP_LOG", "debug"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    leaks(&out);

    steps.enter("From ~/.docker/config.json (DOCKER_CONFIG), as `docker login` writes it");
    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker).expect("mkdir");
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci-bot:{SECRET}"));
    std::fs::write(
        docker.join("config.json"),
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .expect("write");
    let docker_dir = docker.display().to_string();
    let key = pub_key();
    let out = aip_env(
        work.path(),
        &[
            "install",
            &dest,
            "--key",
            &key,
            "--require-signed",
            "--out",
            "installed",
        ],
        &[("DOCKER_CONFIG", &docker_dir), ("AIP_LOG", "debug")],
    );
    assert!(out.status.success(), "{}", text(&out));
    leaks(&out);
    for file in crate::support::snapshot(&work.path().join("installed")).values() {
        assert!(
            !String::from_utf8_lossy(file).contains(SECRET),
            "no installed file holds the password"
        );
    }
}

#[test]
fn service_images_travel_through_the_registry_and_run_after_install() {
    let registry = Registry::start();
    let dest = format!("{}/acme/e2e-grpc", registry.host());
    let work = tempfile::tempdir().expect("tempdir");
    let spec = repo(SPEC).display().to_string();
    let key = keys().1.display().to_string();
    let built = aip_json(
        work.path(),
        &[
            "build",
            &spec,
            "--name",
            NAME,
            "--target",
            "grpc",
            "--version",
            "2.0.0",
            "--key",
            &key,
            "--out",
            "modules",
            "--push",
            &dest,
        ],
    );
    let digest = built["pushed"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // An image: plain `skopeo inspect` reads its config.
    let inspect = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{dest}:2.0.0"),
    ]);
    let inspect: Value = serde_json::from_slice(&inspect.stdout).expect("json");
    assert_eq!(inspect["Digest"], json!(digest), "{inspect}");
    assert_eq!(
        (inspect["Os"].as_str(), inspect["Architecture"].as_str()),
        (Some("linux"), Some("amd64"))
    );

    let target = tempfile::tempdir().expect("tempdir");
    let out = install(target.path(), &dest, &["--require-signed"]);
    assert!(out.status.success(), "{}", text(&out));
    let installed = target.path().join("modules").join(NAME);
    let vendor = FakeVendor::start(|_| json_reply(json!({"id": 7, "name": "seven"})));
    let server = format!("{}/v2", vendor.url());
    let (out, result) = invoke(
        &installed,
        "getItem",
        r#"{"itemId":7}"#,
        &["--server", &server, "--credential", "headerKey=hk"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        result["output"],
        json!({"id": 7, "name": "seven"}),
        "{}",
        text(&out)
    );

    // Every module command works on a service image as on a component
    // (the component side is a_pushed_module_installs_verifies_and_runs...).
    let installed_arg = installed.display().to_string();
    let described = aip_json(target.path(), &["describe", &installed_arg]);
    let ids: Vec<&str> = described["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"getItem"),
        "describe runs the service: {described}"
    );
    let verified = aip_json(
        target.path(),
        &["verify", &installed_arg, "--key", &pub_key()],
    );
    assert_eq!(verified["verified"], json!(true), "{verified}");
    let verified = aip_json(target.path(), &["verify", &dest, "--key", &pub_key()]);
    assert_eq!(verified["verified"], json!(true), "remote: {verified}");
    let info = aip_json(target.path(), &["info", &dest, "--key", &pub_key()]);
    assert_eq!(info["versions"][0]["signature"], json!("valid"), "{info}");
    let rows = list(target.path(), &["--key", &pub_key()]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], json!("Installed"), "{rows:?}");
    // And pushing the installed image onward works too.
    let onward = format!("{}/acme/e2e-grpc-copy", registry.host());
    let pushed = aip_json(target.path(), &["push", &installed_arg, &onward]);
    assert_eq!(pushed["pushed"]["digest"], json!(digest), "{pushed}");
}

#[test]
fn registries_behind_a_token_service_are_reached_with_bearer_tokens() {
    const SECRET: &str = "token-flow-pw-42";
    let tokens = crate::registry_server::TokenServer::start("ci-bot", SECRET);
    let registry = Registry::start_with_token_auth(&tokens);
    let dest = format!("{}/acme/tokened", registry.host());
    let work = tempfile::tempdir().expect("tempdir");
    let spec = repo(SPEC).display().to_string();
    let key = keys().1.display().to_string();
    let built = aip(
        work.path(),
        &[
            "build",
            &spec,
            "--name",
            NAME,
            "--version",
            "1.0.0",
            "--key",
            &key,
            "--out",
            "modules",
        ],
    );
    assert!(built.status.success(), "{}", text(&built));
    let module = work.path().join("modules").join(NAME).display().to_string();

    // Anonymous: the token service refuses, and so the push is refused.
    let out = aip_env(work.path(), &["push", &module, &dest], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{}",
        text(&out)
    );
    assert_eq!(tokens.issued(), 0);

    // With credentials: exchanged for bearer tokens, push and install work.
    let creds = [
        ("AIP_REGISTRY_USERNAME", "ci-bot"),
        ("AIP_REGISTRY_PASSWORD", SECRET),
        ("AIP_LOG", "debug"),
    ];
    let out = aip_env(work.path(), &["push", &module, &dest], &creds);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(SECRET));
    assert!(tokens.issued() > 0, "the token service issued tokens");
    let key = pub_key();
    let out = aip_env(
        work.path(),
        &[
            "install",
            &dest,
            "--key",
            &key,
            "--require-signed",
            "--out",
            "installed",
        ],
        &creds,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(SECRET));
    assert!(
        work.path()
            .join("installed")
            .join(NAME)
            .join("manifest.yaml")
            .is_file()
    );
}

#[test]
fn plain_http_is_used_only_for_loopback_names_or_when_allowed() {
    // The same registry reached as 127.0.0.2: loopback, but not one of the
    // names (127.0.0.1, localhost, [::1]) that may use plain HTTP unasked.
    let registry = Registry::start();
    let proxy = Proxy::start_at("127.0.0.2", registry.addr());
    let dest = format!("{}/acme/plain", proxy.host());
    let work = tempfile::tempdir().expect("tempdir");
    let spec = repo(SPEC).display().to_string();
    let key = keys().1.display().to_string();
    let built = aip(
        work.path(),
        &[
            "build", &spec, "--name", NAME, "--key", &key, "--out", "modules",
        ],
    );
    assert!(built.status.success(), "{}", text(&built));
    let module = work.path().join("modules").join(NAME).display().to_string();

    let out = aip(work.path(), &["push", &module, &dest]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "HTTPS to a plain-HTTP registry fails: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--insecure-registry"),
        "{}",
        text(&out)
    );
    assert_eq!(proxy.uploads(), 0, "nothing was sent in the clear");

    let out = aip(
        work.path(),
        &["push", &module, &dest, "--insecure-registry"],
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(
        work.path().join("aip-builder.toml"),
        format!("insecure_registries = [\"{}\"]\n", proxy.host()),
    )
    .expect("config");
    let out = aip(
        work.path(),
        &[
            "install",
            &dest,
            "--key",
            &pub_key(),
            "--require-signed",
            "--out",
            "installed",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}
