//! The gRPC microservice image: standard OCI tools accept it (skopeo,
//! umoci), it runs as a real container under podman and serves health and
//! Invoke, and building it twice gives the same digest.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::free_port;

use serde_json::{Value, json};

use crate::service::ServiceProcess;
use crate::support::{FakeVendor, build, json_reply, keys, repo, text};

fn tool(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (.ci/run installs it): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", text(&out));
    out
}

/// Removes the container and image when the test ends, pass or fail.
struct Podman {
    container: String,
    image: String,
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", &self.container])
            .output();
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

#[test]
fn service_images_are_reproducible_oci_images_that_run_under_podman() {
    let spec = repo("tests/fixtures/specs/e2e-vendor.yaml");
    let args = ["--target", "grpc", "--no-cache", "--version", "1.2.3"];
    let (_a, first) = build(&spec, "image-e2e", &args);
    let (_b, second) = build(&spec, "image-e2e", &args);
    let manifest = aip_register::open_module(&first).expect("opens").manifest;
    let again = aip_register::open_module(&second).expect("opens").manifest;
    assert_eq!(
        manifest.artifact.digest, again.artifact.digest,
        "two builds from scratch give the same image digest"
    );
    assert_eq!(manifest.artifact.layer, again.artifact.layer);

    let out = crate::support::aip(
        &repo(""),
        &[
            "verify",
            &first.display().to_string(),
            "--key",
            &keys().2.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    // skopeo reads the layout: platform, digest and config.
    let reference = format!("oci:{}:1.2.3", first.join("oci").display());
    let inspect: Value =
        serde_json::from_slice(&tool("skopeo", &["inspect", &reference]).stdout).expect("json");
    assert_eq!(inspect["Digest"], json!(manifest.artifact.digest));
    assert_eq!(
        (inspect["Os"].as_str(), inspect["Architecture"].as_str()),
        (Some("linux"), Some("amd64"))
    );
    assert_eq!(
        inspect["Labels"]["dev.aip.spec.digest"],
        json!(manifest.metadata.source.digest)
    );
    let config: Value =
        serde_json::from_slice(&tool("skopeo", &["inspect", "--config", &reference]).stdout)
            .expect("json");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["config"]["Entrypoint"], json!(["/aip-adapter"]));
    assert!(
        config["config"]["ExposedPorts"]["50051/tcp"].is_object(),
        "{config}"
    );

    // umoci unpacks it into a runtime bundle holding the executable.
    let bundle = tempfile::tempdir().expect("tempdir");
    let bundle_dir = bundle.path().join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:1.2.3", first.join("oci").display()),
            &bundle_dir.display().to_string(),
        ],
    );
    let unpacked = std::fs::read(bundle_dir.join("rootfs/aip-adapter")).expect("executable");
    assert_eq!(
        unpacked,
        aip_register::open_module(&first).expect("opens").payload
    );
    let runtime_config: Value =
        serde_json::from_slice(&std::fs::read(bundle_dir.join("config.json")).expect("config"))
            .expect("json");
    assert_eq!(runtime_config["process"]["user"]["uid"], 65532);

    run_under_podman(&first, &reference);
}

fn run_under_podman(module: &Path, reference: &str) {
    let vendor = FakeVendor::start(|_| json_reply(json!({"id": 7, "name": "seven"})));
    let port = free_port();
    // Into podman's image store the way a registry push would go.
    let image = format!("localhost/aip-image-test-{port}:1.2.3");
    tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            reference,
            &format!("containers-storage:{image}"),
        ],
    );
    let container = format!("aip-image-test-{port}");
    let _cleanup = Podman {
        container: container.clone(),
        image: image.clone(),
    };
    let server = format!("{}/v2", vendor.url());
    tool(
        "podman",
        &[
            "--runtime",
            "runc",
            "run",
            "-d",
            "--name",
            &container,
            "--network",
            "host",
            "--ulimit",
            "nofile=4096:4096",
            "--ulimit",
            "nproc=4096:4096",
            "-e",
            &format!("AIP_LISTEN=127.0.0.1:{port}"),
            "-e",
            &format!("AIP_VENDOR_URL={server}"),
            "-e",
            r#"AIP_CREDENTIALS={"headerKey":"from-container"}"#,
            &image,
        ],
    );
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let Some(service) = ServiceProcess::attach(addr, Duration::from_secs(30)) else {
        let logs = Command::new("podman").args(["logs", &container]).output();
        panic!(
            "the container never answered health checks; logs: {:?}",
            logs.map(|o| text(&o))
        );
    };
    assert_eq!(service.health(), "SERVING");
    assert_eq!(
        service.describe()["name"],
        json!(
            aip_register::open_module(module)
                .expect("opens")
                .manifest
                .metadata
                .name
        )
    );
    let out = service
        .invoke("getItem", r#"{"itemId":7}"#, &[])
        .expect("Invoke from inside the container");
    assert_eq!(out, json!({"id": 7, "name": "seven"}));
    let seen = vendor.take();
    assert_eq!(seen[0].url, "/v2/items/7");
    assert_eq!(seen[0].header("x-api-key"), Some("from-container"));

    // `podman stop` sends SIGTERM; the service drains and exits 0.
    tool("podman", &["stop", "-t", "10", &container]);
    let state = tool(
        "podman",
        &["inspect", &container, "--format", "{{.State.ExitCode}}"],
    );
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "0");
}
