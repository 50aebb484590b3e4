//! Certified-module events: the service announces what it registers on a
//! real `nats-server -js`, and `aip-builder discover` installs it, refusing
//! tampered bundles.

use std::path::Path;

use serde_json::{Value, json};

use crate::nats_server::Nats;
use crate::service_harness::*;
use crate::support::{Steps, aip, repo, text};

/// A NATS client for the test's own looks at the stream and the bucket.
struct Client {
    runtime: tokio::runtime::Runtime,
    js: async_nats::jetstream::Context,
}

impl Client {
    fn connect(url: &str) -> Client {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let js = runtime.block_on(async {
            let client = async_nats::connect(url).await.expect("connect to nats");
            async_nats::jetstream::new(client)
        });
        Client { runtime, js }
    }

    /// The last event on the certified-module subject.
    fn last_event(&self) -> Value {
        self.runtime.block_on(async {
            let stream = self.js.get_stream(aip_fleet::STREAM).await.expect("stream");
            let message = stream
                .get_last_raw_message_by_subject(aip_fleet::SUBJECT)
                .await
                .expect("an event");
            serde_json::from_slice(&message.payload).expect("JSON event")
        })
    }

    fn object(&self, name: &str) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        self.runtime.block_on(async {
            let bucket = self
                .js
                .get_object_store(aip_fleet::BUCKET)
                .await
                .expect("bucket");
            let mut object = bucket.get(name).await.expect("object");
            let mut bytes = Vec::new();
            object.read_to_end(&mut bytes).await.expect("read");
            bytes
        })
    }

    fn put_object(&self, name: &str, bytes: &[u8]) {
        self.runtime.block_on(async {
            let bucket = self
                .js
                .get_object_store(aip_fleet::BUCKET)
                .await
                .expect("bucket");
            bucket.put(name, &mut &bytes[..]).await.expect("put");
        });
    }

    fn publish(&self, event: &Value) {
        self.runtime.block_on(async {
            self.js
                .publish(
                    aip_fleet::SUBJECT,
                    serde_json::to_vec(event).expect("json").into(),
                )
                .await
                .expect("publish")
                .await
                .expect("ack");
        });
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// `aip-builder discover --once` into `out` as consumer `durable`.
fn discover(cwd: &Path, nats: &Nats, key: &Path, out: &str, durable: &str) -> String {
    let run = aip(
        cwd,
        &[
            "discover",
            "--nats",
            &nats.url(),
            "--key",
            &key.display().to_string(),
            "--out",
            out,
            "--durable",
            durable,
            "--once",
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    text(&run)
}

#[test]
fn registered_modules_are_announced_and_discovered_and_tampering_is_refused() {
    let mut steps = Steps::start("set up");
    let nats = Nats::start();
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with(data.path(), &["--nats", &nats.url()]);
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission("svc-fleet", "1.0.0")),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}\n{}",
        service.log()
    );

    steps.enter("The event: CloudEvents 1.0, valid against the schema in the repo,");
    // The event: CloudEvents 1.0, valid against the schema in the repo,
    // naming the bundle in the bucket by size and digest.
    let client = Client::connect(&nats.url());
    let event = client.last_event();
    let schema: Value = serde_json::from_str(aip_fleet::EVENT_SCHEMA).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&event)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{event}");
    assert_eq!(event["type"], json!("com.aip.module.certified.v1"));
    let data_ = &event["data"];
    assert_eq!(
        (&data_["moduleId"], &data_["version"], &data_["target"]),
        (&json!("svc-fleet"), &json!("1.0.0"), &json!("wasm"))
    );
    let artifact = &data_["artifact"];
    assert_eq!(artifact["store"], json!("nats-object"));
    assert_eq!(artifact["bucket"], json!("aip-certified-modules"));
    assert_eq!(artifact["object"], json!("svc-fleet/1.0.0.tar"));
    let bundle = client.object("svc-fleet/1.0.0.tar");
    assert_eq!(artifact["digest"], json!(sha256(&bundle)));
    assert_eq!(artifact["sizeBytes"], json!(bundle.len()));
    let spec = std::fs::read(repo("tests/fixtures/specs/e2e-vendor.yaml")).expect("spec");
    assert_eq!(data_["provenance"]["specDigest"], json!(sha256(&spec)));

    steps.enter("discover installs it, verified, and a redelivery is harmless");
    let key = data.path().join("cosign.pub");
    let cwd = data.path();
    let out = discover(cwd, &nats, &key, "fleet-a", "site-a");
    assert!(out.contains("installed svc-fleet 1.0.0"), "{out}");
    let installed = cwd.join("fleet-a/svc-fleet");
    let run = aip(
        cwd,
        &[
            "verify",
            &installed.display().to_string(),
            "--key",
            &key.display().to_string(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    client.publish(&event);
    let out = discover(cwd, &nats, &key, "fleet-a", "site-a");
    assert!(out.contains("0 installed, 1 already installed"), "{out}");

    steps.enter("An event off the contract (a digest that is not sha256:<hex>) is refused by the schema, naming where");
    // An event off the contract (a digest that is not sha256:<hex>) is
    // refused by the schema, naming where.
    let mut off_contract = event.clone();
    off_contract["data"]["artifact"]["digest"] = json!("md5:abc");
    client.publish(&off_contract);
    let out = discover(cwd, &nats, &key, "fleet-a", "site-a");
    assert!(
        out.contains("REJECTED") && out.contains("/data/artifact/digest"),
        "{out}"
    );

    steps.enter("A tampered object under the announced name: refused, recorded, nothing installed");
    let mut tampered = bundle.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    client.put_object("svc-fleet/1.0.0.tar", &tampered);
    client.publish(&event);
    let out = discover(cwd, &nats, &key, "fleet-b", "site-b");
    assert!(out.contains("REJECTED"), "{out}");
    assert!(out.contains("0 installed"), "{out}");
    assert!(out.contains("the event says"), "{out}");
    assert!(!cwd.join("fleet-b/svc-fleet").exists(), "nothing installed");
    let rejected = std::fs::read_to_string(cwd.join("fleet-b/.discover/rejected.jsonl"))
        .expect("rejections recorded");
    assert!(rejected.contains("svc-fleet@1.0.0"), "{rejected}");

    steps.enter("A consistent digest over content the signature does not cover: refused by the signature check");
    let module = data.path().join("modules/acme/svc-fleet/1.0.0");
    let forged_dir = tempfile::tempdir().expect("tempdir");
    let forged_module = forged_dir.path().join("m");
    copy_dir(&module, &forged_module);
    let sbom = forged_module.join("sbom.cdx.json");
    let mut sbom_bytes = std::fs::read(&sbom).expect("sbom");
    sbom_bytes.extend_from_slice(b"\n");
    std::fs::write(&sbom, sbom_bytes).expect("forge");
    let forged = aip_fleet::pack(&forged_module).expect("pack");
    client.put_object("svc-fleet/1.0.0.tar", &forged);
    let mut forged_event = event.clone();
    forged_event["data"]["artifact"]["digest"] = json!(sha256(&forged));
    forged_event["data"]["artifact"]["sizeBytes"] = json!(forged.len());
    client.publish(&forged_event);
    let out = discover(cwd, &nats, &key, "fleet-c", "site-c");
    assert!(
        out.contains("REJECTED") && out.contains("does not verify"),
        "{out}"
    );
    assert!(!cwd.join("fleet-c/svc-fleet").exists(), "nothing installed");
    assert!(
        std::fs::read_dir(cwd.join("fleet-c/.discover"))
            .expect("discover dir")
            .flatten()
            .all(|e| e.file_name() == "rejected.jsonl"),
        "no staging left behind"
    );

    steps.enter("Rejected events are not redelivered: the same consumer finds nothing");
    let out = discover(cwd, &nats, &key, "fleet-c", "site-c");
    assert!(
        out.contains("0 installed, 0 already installed, 0 rejected"),
        "{out}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
