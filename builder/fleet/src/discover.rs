//! The consumer side: a durable JetStream consumer installing announced
//! modules that verify.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::event::CertifiedEvent;
use crate::publish::{connect, nats_error, sha256};
use crate::{EVENT_TYPE, FleetError, SUBJECT};

/// Largest bundle accepted.
const MAX_BUNDLE_BYTES: u64 = 1 << 30;
/// Attempts for an event whose bytes cannot be fetched (NATS trouble),
/// before JetStream gives up on it.
const MAX_DELIVER: i64 = 5;

/// How to discover.
pub struct DiscoverOptions {
    /// The NATS server.
    pub url: String,
    /// The key signatures must verify with.
    pub key: aip_sign::PublicKey,
    /// The modules folder installs go into (`modules/<name>`).
    pub out: PathBuf,
    /// The durable consumer's name (one per installation point).
    pub durable: String,
    /// Stop once no event is pending, instead of waiting for more.
    pub once: bool,
}

/// What happened to one event.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Verified and installed.
    Installed {
        /// Module name.
        name: String,
        /// Version.
        version: String,
        /// Bundle digest.
        digest: String,
    },
    /// This exact bundle is installed already (a redelivery).
    AlreadyInstalled {
        /// Module name.
        name: String,
        /// Bundle digest.
        digest: String,
    },
    /// Refused for good (acknowledged as terminal, recorded).
    Rejected {
        /// The event id, when it parsed.
        id: Option<String>,
        /// Why.
        reason: String,
    },
    /// Failed for a reason that may pass (redelivered later).
    Retry {
        /// Why.
        reason: String,
    },
}

/// Every outcome of a run.
#[derive(Debug, Default, serde::Serialize)]
pub struct DiscoverReport {
    /// In order.
    pub outcomes: Vec<Outcome>,
}

/// Consumes certified-module events until none is pending (`once`) or
/// forever; `on` sees each outcome as it happens.
pub async fn discover(
    options: &DiscoverOptions,
    on: &mut (dyn FnMut(&Outcome) + Send),
) -> Result<DiscoverReport, FleetError> {
    let url = &options.url;
    let (js, _, stream) = connect(url).await?;
    let consumer = stream
        .get_or_create_consumer(
            &options.durable,
            pull::Config {
                durable_name: Some(options.durable.clone()),
                filter_subject: SUBJECT.to_string(),
                ack_policy: AckPolicy::Explicit,
                max_deliver: MAX_DELIVER,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats_error(url, &format!("open the consumer {}", options.durable), e))?;
    let mut report = DiscoverReport::default();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(16)
            .expires(Duration::from_secs(if options.once { 1 } else { 30 }))
            .messages()
            .await
            .map_err(|e| nats_error(url, "fetch events", e))?;
        let mut seen = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| nats_error(url, "receive an event", e))?;
            seen += 1;
            let outcome = handle(&js, options, &message.payload).await;
            let ack = match &outcome {
                Outcome::Retry { .. } => AckKind::Nak(Some(Duration::from_secs(2))),
                Outcome::Rejected { .. } => AckKind::Term,
                _ => AckKind::Ack,
            };
            if let Outcome::Rejected { id, reason } = &outcome {
                record_rejection(&options.out, id.as_deref(), reason);
            }
            message
                .ack_with(ack)
                .await
                .map_err(|e| nats_error(url, "acknowledge an event", e))?;
            on(&outcome);
            report.outcomes.push(outcome);
        }
        if options.once && seen == 0 {
            return Ok(report);
        }
    }
}

/// One event: parse, fetch, check digest, stage, verify, install.
async fn handle(
    js: &async_nats::jetstream::Context,
    options: &DiscoverOptions,
    payload: &[u8],
) -> Outcome {
    let reject = |id: Option<&str>, reason: String| Outcome::Rejected {
        id: id.map(str::to_string),
        reason,
    };
    let value: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(value) => value,
        Err(e) => return reject(None, format!("not a {EVENT_TYPE} event: {e}")),
    };
    let id = value["id"].as_str().map(str::to_string);
    if let Err(reason) = crate::event::validate_event(&value) {
        return reject(id.as_deref(), reason);
    }
    let event: CertifiedEvent = match serde_json::from_value(value) {
        Ok(event) => event,
        Err(e) => return reject(id.as_deref(), format!("not a {EVENT_TYPE} event: {e}")),
    };
    let id = Some(event.id.as_str());
    let data = &event.data;
    if event.kind != EVENT_TYPE || data.artifact.store != "nats-object" {
        return reject(
            id,
            format!(
                "event type {:?} / store {:?} is not {EVENT_TYPE} / nats-object",
                event.kind, data.artifact.store
            ),
        );
    }
    if !aip_ir::is_valid_module_name(&data.module_id) {
        return reject(
            id,
            format!("moduleId {:?} is not a module name", data.module_id),
        );
    }
    if data.artifact.size_bytes > MAX_BUNDLE_BYTES {
        return reject(
            id,
            format!("the bundle is larger than {MAX_BUNDLE_BYTES} bytes"),
        );
    }
    let target = options.out.join(&data.module_id);
    if installed_digest(&target).as_deref() == Some(data.artifact.digest.as_str()) {
        return Outcome::AlreadyInstalled {
            name: data.module_id.clone(),
            digest: data.artifact.digest.clone(),
        };
    }
    let bundle = match fetch(js, &data.artifact.bucket, &data.artifact.object).await {
        Ok(bytes) => bytes,
        Err(reason) => return Outcome::Retry { reason },
    };
    let actual = sha256(&bundle);
    if actual != data.artifact.digest {
        return reject(
            id,
            format!(
                "{}/{} has digest {actual}, the event says {}",
                data.artifact.bucket, data.artifact.object, data.artifact.digest
            ),
        );
    }
    let options_out = options.out.clone();
    let key = options.key.clone();
    let event = event.clone();
    let installed =
        tokio::task::spawn_blocking(move || install(&options_out, &key, &event, &bundle))
            .await
            .unwrap_or_else(|e| Err(format!("install task: {e}")));
    match installed {
        Ok(outcome) => outcome,
        Err(reason) => reject(id, reason),
    }
}

async fn fetch(
    js: &async_nats::jetstream::Context,
    bucket: &str,
    object: &str,
) -> Result<Vec<u8>, String> {
    let store = js
        .get_object_store(bucket)
        .await
        .map_err(|e| format!("open the object store {bucket}: {e}"))?;
    let mut reader = store
        .get(object)
        .await
        .map_err(|e| format!("get {bucket}/{object}: {e}"))?;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("read {bucket}/{object}: {e}"))?;
    Ok(bytes)
}

/// The bundle digest the module installed at `target` came from.
fn installed_digest(target: &Path) -> Option<String> {
    aip_register::Origin::read(target)
        .ok()
        .flatten()
        .map(|o| o.digest)
}

/// Stages the bundle content-addressed (`out/.discover/sha256-<hex>`),
/// verifies it, and moves it into `out/<name>` in one step.
fn install(
    out: &Path,
    key: &aip_sign::PublicKey,
    event: &CertifiedEvent,
    bundle: &[u8],
) -> Result<Outcome, String> {
    let data = &event.data;
    let digest = &data.artifact.digest;
    let staging = out.join(".discover").join(digest.replace(':', "-"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("create {}: {e}", staging.display()))?;
    let result = (|| {
        crate::bundle::unpack(bundle, &staging, MAX_BUNDLE_BYTES).map_err(|e| e.to_string())?;
        let report = aip_register::verify_module(&staging, key)
            .map_err(|e| format!("does not verify: {e}"))?;
        if report.name != data.module_id || report.version != data.version {
            return Err(format!(
                "the bundle holds {} {}, the event announces {} {}",
                report.name, report.version, data.module_id, data.version
            ));
        }
        let origin = aip_register::Origin {
            registry: format!("nats-object:{}", data.artifact.bucket),
            repository: data.artifact.object.clone(),
            requested: event.id.clone(),
            digest: digest.clone(),
            verification: aip_register::Verification::Verified {
                key: sha256(key.to_pem().as_bytes()),
            },
        };
        let origin_path = staging.join(aip_register::ORIGIN_FILE);
        std::fs::write(&origin_path, origin.to_bytes())
            .map_err(|e| format!("write {}: {e}", origin_path.display()))?;
        let target = out.join(&data.module_id);
        aip_register::move_into_place(&staging, &target).map_err(|e| e.to_string())?;
        Ok(Outcome::Installed {
            name: data.module_id.clone(),
            version: data.version.clone(),
            digest: digest.clone(),
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// Appends a rejection to `out/.discover/rejected.jsonl`.
fn record_rejection(out: &Path, id: Option<&str>, reason: &str) {
    use std::io::Write;
    tracing::warn!(event = id.unwrap_or("?"), "rejected: {reason}");
    let dir = out.join(".discover");
    let line = serde_json::json!({"id": id, "reason": reason}).to_string();
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("rejected.jsonl"))?;
        writeln!(file, "{line}")
    });
    if let Err(e) = written {
        tracing::error!("cannot record a rejection in {}: {e}", dir.display());
    }
}
