//! Publishing certified modules: the bundle into the Object Store, the
//! CloudEvent onto JetStream.

use std::path::Path;

use async_nats::jetstream::{self, object_store, stream};
use sha2::{Digest, Sha256};

use crate::event::{ArtifactRef, CertifiedData, CertifiedEvent, Provenance};
use crate::{BUCKET, BUNDLE_MEDIA_TYPE, EVENT_TYPE, FleetError, STREAM, SUBJECT};

/// A connection to NATS JetStream for announcing modules.
#[derive(Clone)]
pub struct Announcer {
    url: String,
    jetstream: jetstream::Context,
    bucket: object_store::ObjectStore,
}

pub(crate) fn nats_error(url: &str, action: &str, e: impl std::fmt::Display) -> FleetError {
    FleetError::Nats {
        url: url.to_string(),
        action: action.to_string(),
        reason: e.to_string(),
    }
}

/// The JetStream context, with the bucket and a stream for [`SUBJECT`]
/// (an existing stream covering the subject is used as it is).
pub(crate) async fn connect(
    url: &str,
) -> Result<
    (
        jetstream::Context,
        object_store::ObjectStore,
        stream::Stream,
    ),
    FleetError,
> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| nats_error(url, "connect", e))?;
    let js = jetstream::new(client);
    let bucket = match js.get_object_store(BUCKET).await {
        Ok(bucket) => bucket,
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: BUCKET.to_string(),
                description: Some("aip-builder: signed module bundles".into()),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error(url, &format!("create the object store {BUCKET}"), e))?,
    };
    let stream = match js.stream_by_subject(SUBJECT).await {
        Ok(name) => js
            .get_stream(name)
            .await
            .map_err(|e| nats_error(url, "open the stream", e))?,
        Err(_) => js
            .get_or_create_stream(stream::Config {
                name: STREAM.to_string(),
                subjects: vec![SUBJECT.to_string()],
                description: Some("aip-builder: certified-module events".into()),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error(url, &format!("create the stream {STREAM}"), e))?,
    };
    Ok((js, bucket, stream))
}

/// `sha256:<hex>`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Now, RFC 3339.
fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Announcer {
    /// Connects to `url` (e.g. `nats://127.0.0.1:4222`), creating the
    /// bucket and the stream if they do not exist.
    pub async fn connect(url: &str) -> Result<Announcer, FleetError> {
        let (jetstream, bucket, _) = connect(url).await?;
        Ok(Announcer {
            url: url.to_string(),
            jetstream,
            bucket,
        })
    }

    /// Puts the registered module in `folder` into the bucket and publishes
    /// its event (waiting for JetStream's acknowledgement). `spec_digest`
    /// is the `sha256:` of the spec it was built from.
    pub async fn announce(
        &self,
        folder: &Path,
        tenant: &str,
        spec_digest: &str,
    ) -> Result<CertifiedEvent, FleetError> {
        // Only the manifest is needed here (the bundle carries the rest):
        // `open_module` would also load, and for images unpack, the payload.
        let manifest_path = folder.join("manifest.yaml");
        let manifest_bytes =
            std::fs::read(&manifest_path).map_err(|e| FleetError::io("read", &manifest_path, e))?;
        let manifest = aip_register::ModuleManifest::from_yaml(&manifest_bytes)?;
        let bundle = {
            let folder = folder.to_path_buf();
            tokio::task::spawn_blocking(move || crate::bundle::pack(&folder))
                .await
                .map_err(|e| FleetError::Bundle(format!("pack: {e}")))??
        };
        let digest = sha256(&bundle);
        let (name, version) = (&manifest.metadata.name, &manifest.metadata.version);
        let object = format!("{name}/{version}.tar");
        self.bucket
            .put(object.as_str(), &mut bundle.as_slice())
            .await
            .map_err(|e| nats_error(&self.url, &format!("put {BUCKET}/{object}"), e))?;
        let issued = now();
        let event = CertifiedEvent {
            specversion: "1.0".into(),
            id: format!("{name}@{version}/{digest}"),
            source: format!("/aip-builder/tenants/{tenant}"),
            kind: EVENT_TYPE.into(),
            subject: format!("{name}@{version}"),
            time: issued.clone(),
            datacontenttype: "application/json".into(),
            data: CertifiedData {
                module_id: name.clone(),
                version: version.clone(),
                target: manifest.runtime.kind.clone(),
                artifact: ArtifactRef {
                    store: "nats-object".into(),
                    bucket: BUCKET.into(),
                    object,
                    content_type: BUNDLE_MEDIA_TYPE.into(),
                    size_bytes: bundle.len() as u64,
                    digest,
                },
                provenance: Provenance {
                    spec_digest: spec_digest.to_string(),
                    builder_version: env!("CARGO_PKG_VERSION").into(),
                },
                issued_at: issued,
            },
        };
        let payload = serde_json::to_vec(&event).map_err(|e| FleetError::Bundle(e.to_string()))?;
        // The event id as Nats-Msg-Id: JetStream drops a duplicate publish
        // of the same module within its dedupe window.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.as_str());
        self.jetstream
            .publish_with_headers(SUBJECT, headers, payload.into())
            .await
            .map_err(|e| nats_error(&self.url, &format!("publish on {SUBJECT}"), e))?
            .await
            .map_err(|e| nats_error(&self.url, &format!("publish on {SUBJECT}"), e))?;
        Ok(event)
    }
}
