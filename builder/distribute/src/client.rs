//! One registry, through `oci-client`: the calls the push and pull steps
//! make, each retried with backoff on 5xx and connection errors, and each
//! failure turned into an error that says what was being done where.

use std::future::Future;
use std::time::Duration;

use aip_package::oci::{Descriptor, ImageIndex, sha256_digest};
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::{Client, Reference};

use crate::auth::Credentials;
use crate::{DistributeError, ModuleRef};

/// Media types accepted when fetching a manifest.
const MANIFEST_TYPES: &[&str] = &[
    aip_package::oci::MANIFEST_MEDIA_TYPE,
    aip_package::oci::INDEX_MEDIA_TYPE,
];

/// The largest blob fetched (a module's layer is a few MB).
pub const MAX_BLOB_BYTES: u64 = 1 << 30;

/// How failed calls are retried: `attempts` in all, the delay doubling
/// from `first_delay`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt.
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts over about 3.5 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(500),
        }
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Registries (`host[:port]`) spoken to over plain HTTP besides
    /// loopback ones (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// Retries.
    pub retry: RetryPolicy,
}

impl ClientOptions {
    /// Whether `registry` is spoken to over plain HTTP: only loopback
    /// registries and those named insecure.
    pub fn is_plain_http(&self, registry: &str) -> bool {
        let host = registry
            .rsplit_once(':')
            .filter(|(h, _)| !h.ends_with(']') || registry.starts_with('['))
            .map_or(registry, |(h, _)| h);
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
            || self.insecure_registries.iter().any(|r| r == registry)
    }
}

/// A connection to one registry.
pub struct RegistryClient {
    client: Client,
    credentials: Credentials,
    registry: String,
    retry: RetryPolicy,
    plain_http: bool,
}

impl RegistryClient {
    /// A client for `registry`, with credentials from the environment or
    /// the docker config.
    pub async fn connect(
        registry: &str,
        options: &ClientOptions,
    ) -> Result<RegistryClient, DistributeError> {
        let credentials = Credentials::for_registry(registry)?;
        RegistryClient::with_credentials(registry, options, credentials).await
    }

    /// A client for `registry` with the given credentials.
    pub async fn with_credentials(
        registry: &str,
        options: &ClientOptions,
        credentials: Credentials,
    ) -> Result<RegistryClient, DistributeError> {
        // reqwest is built without a default crypto provider; use ring, as
        // tonic does. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain_http = options.is_plain_http(registry);
        let protocol = if plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("aip-builder/", env!("CARGO_PKG_VERSION")),
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| DistributeError::Registry {
            registry: registry.to_string(),
            action: "set up a client for".into(),
            reason: e.to_string(),
        })?;
        client
            .store_auth_if_needed(registry, &credentials.auth)
            .await;
        Ok(RegistryClient {
            client,
            credentials,
            registry: registry.to_string(),
            retry: options.retry,
            plain_http,
        })
    }

    /// The registry's `host[:port]`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Where the credentials came from (no secret).
    pub fn credentials_source(&self) -> &str {
        &self.credentials.source
    }

    /// Runs `call` until it succeeds, fails for good, or runs out of
    /// attempts. `action` says what it does, for the error.
    async fn retrying<T, F, Fut>(
        &self,
        action: impl Fn() -> String,
        mut call: F,
    ) -> Result<T, DistributeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = self.retry.first_delay;
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(e) if is_transient(&e) && attempt < attempts => {
                    tracing::warn!(
                        registry = %self.registry,
                        "{} failed (attempt {attempt} of {attempts}), retrying in {delay:?}: {}",
                        action(),
                        describe(&e)
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(self.error(action(), &e, attempt)),
            }
        }
    }

    fn error(&self, action: String, e: &OciDistributionError, attempts: u32) -> DistributeError {
        if is_unauthorized(e) {
            return DistributeError::Unauthorized {
                registry: self.registry.clone(),
                action,
                credentials: self.credentials.source.clone(),
            };
        }
        let mut reason = if attempts > 1 {
            format!("{} (gave up after {attempts} attempts)", describe(e))
        } else {
            describe(e)
        };
        let connect_failed = matches!(e, OciDistributionError::RequestError(r) if r.is_connect());
        if connect_failed && !self.plain_http {
            reason.push_str(&format!(
                "\nhint: this was HTTPS; if {} serves plain HTTP, pass --insecure-registry (or list it in `insecure_registries` in the config file)",
                self.registry
            ));
        }
        DistributeError::Registry {
            registry: self.registry.clone(),
            action,
            reason,
        }
    }

    /// Every tag of the repository (all pages).
    pub async fn tags(&self, repo: &ModuleRef) -> Result<Vec<String>, DistributeError> {
        let reference = repo.at_tag("latest");
        let mut tags: Vec<String> = Vec::new();
        loop {
            let last = tags.last().cloned();
            let page = self
                .retrying(
                    || format!("list the tags of {}", repo.repo_string()),
                    || {
                        self.client.list_tags(
                            &reference,
                            &self.credentials.auth,
                            Some(PAGE),
                            last.as_deref(),
                        )
                    },
                )
                .await;
            let page = match page {
                Ok(page) => page,
                Err(DistributeError::Registry { reason, .. })
                    if reason.contains("NAME_UNKNOWN")
                        || reason.contains("repository name not known") =>
                {
                    return Err(DistributeError::NotFound(format!(
                        "{} has no repository {}",
                        self.registry, repo.repository
                    )));
                }
                Err(e) => return Err(e),
            };
            if !extend_page(&mut tags, page.tags) {
                break;
            }
        }
        Ok(tags)
    }

    /// Every repository in the registry's catalog (all pages).
    pub async fn catalog(&self) -> Result<Vec<String>, DistributeError> {
        let probe = Reference::with_tag(self.registry.clone(), "library".into(), "latest".into());
        let mut repos: Vec<String> = Vec::new();
        loop {
            let last = repos.last().cloned();
            let page = self
                .retrying(
                    || "list the repositories (catalog)".to_string(),
                    || {
                        self.client.catalog(
                            &probe,
                            &self.credentials.auth,
                            Some(PAGE),
                            last.as_deref(),
                        )
                    },
                )
                .await?;
            if !extend_page(&mut repos, page.repositories) {
                break;
            }
        }
        Ok(repos)
    }

    /// A manifest's exact bytes and digest, `None` when the registry has
    /// no such tag or digest.
    pub async fn manifest(
        &self,
        reference: &Reference,
    ) -> Result<Option<(Vec<u8>, String)>, DistributeError> {
        let fetched = self
            .retrying(
                || format!("fetch the manifest {reference}"),
                || {
                    self.client
                        .pull_manifest_raw(reference, &self.credentials.auth, MANIFEST_TYPES)
                },
            )
            .await;
        match fetched {
            Ok((bytes, digest)) => Ok(Some((bytes.to_vec(), digest))),
            Err(DistributeError::Registry { reason, .. }) if is_not_found_text(&reason) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a manifest with `digest` is in the repository.
    pub async fn has_manifest(
        &self,
        repo: &ModuleRef,
        digest: &str,
    ) -> Result<bool, DistributeError> {
        Ok(self.manifest(&repo.at_digest(digest)).await?.is_some())
    }

    /// A blob, refused unless it has the descriptor's size and digest.
    pub async fn blob(
        &self,
        repo: &ModuleRef,
        desc: &Descriptor,
    ) -> Result<Vec<u8>, DistributeError> {
        if desc.size > MAX_BLOB_BYTES {
            return Err(DistributeError::Invalid(format!(
                "blob {} is {} bytes, more than the {MAX_BLOB_BYTES} this tool fetches",
                desc.digest, desc.size
            )));
        }
        let reference = repo.at_digest(&desc.digest);
        let bytes = self
            .retrying(
                || format!("fetch blob {} from {}", desc.digest, repo.repo_string()),
                || read_blob(&self.client, &reference, &desc.digest, desc.size),
            )
            .await?;
        let actual = sha256_digest(&bytes);
        if actual != desc.digest || bytes.len() as u64 != desc.size {
            return Err(DistributeError::Invalid(format!(
                "blob {} from {} does not match its descriptor (got {actual}, {} bytes; expected {} bytes)",
                desc.digest,
                repo.repo_string(),
                bytes.len(),
                desc.size
            )));
        }
        Ok(bytes)
    }

    /// Whether the repository holds the blob.
    pub async fn has_blob(&self, repo: &ModuleRef, digest: &str) -> Result<bool, DistributeError> {
        let reference = repo.at_digest(digest);
        self.retrying(
            || format!("check for blob {digest} in {}", repo.repo_string()),
            || self.client.blob_exists(&reference, digest),
        )
        .await
    }

    /// Uploads a blob.
    pub async fn push_blob(
        &self,
        repo: &ModuleRef,
        digest: &str,
        bytes: &bytes::Bytes,
    ) -> Result<(), DistributeError> {
        let reference = repo.at_digest(digest);
        self.retrying(
            || format!("upload blob {digest} to {}", repo.repo_string()),
            || self.client.push_blob(&reference, bytes.clone(), digest),
        )
        .await
        .map(|_| ())
    }

    /// Uploads a manifest under `reference` (a tag, or its own digest).
    pub async fn push_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: &bytes::Bytes,
    ) -> Result<(), DistributeError> {
        let content_type = reqwest::header::HeaderValue::from_str(media_type).map_err(|_| {
            DistributeError::Invalid(format!("media type {media_type:?} is not a header value"))
        })?;
        self.retrying(
            || format!("upload manifest {reference}"),
            || {
                self.client
                    .push_manifest_raw(reference, bytes.clone(), content_type.clone())
            },
        )
        .await
        .map(|_| ())
    }

    /// The referrers of `digest`: the registry's referrers API, or the
    /// OCI 1.1 tag schema index (`sha256-<hex>`) when it has none.
    pub async fn referrers(
        &self,
        repo: &ModuleRef,
        digest: &str,
    ) -> Result<Vec<Descriptor>, DistributeError> {
        let reference = repo.at_digest(digest);
        let index = self
            .retrying(
                || format!("list the referrers of {digest} in {}", repo.repo_string()),
                || self.client.pull_referrers(&reference, None),
            )
            .await?;
        // Re-read through our own types (oci-client's drop nothing we use,
        // but ours are what the layout and verification speak).
        let json =
            serde_json::to_vec(&index).map_err(|e| DistributeError::Invalid(e.to_string()))?;
        let index: ImageIndex = serde_json::from_slice(&json).map_err(|e| {
            DistributeError::Invalid(format!("the referrers index of {digest} is malformed: {e}"))
        })?;
        Ok(index.manifests)
    }
}

/// Page size asked for when listing tags and repositories.
const PAGE: usize = 1000;

/// Adds a page's new entries to `all`; whether another page may follow.
/// A short page ends the listing (the portable signal; registries may also
/// send a `Link` header), and so does a page with nothing new, so a
/// registry that ignores `last` cannot loop us forever.
fn extend_page(all: &mut Vec<String>, page: Vec<String>) -> bool {
    let full = page.len() >= PAGE;
    let seen: std::collections::HashSet<String> = all.iter().cloned().collect();
    let before = all.len();
    all.extend(page.into_iter().filter(|e| !seen.contains(e)));
    full && all.len() > before
}

async fn read_blob(
    client: &Client,
    reference: &Reference,
    digest: &str,
    size: u64,
) -> Result<Vec<u8>, OciDistributionError> {
    let mut stream = client.pull_blob_stream(reference, digest).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(64 << 20)).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (bytes.len() + chunk.len()) as u64 > size {
            return Err(OciDistributionError::SpecViolationError(format!(
                "blob {digest} is longer than its descriptor's {size} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// 5xx, 429, and failures to connect or to finish reading are worth
/// another attempt; everything else is an answer.
fn is_transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        OciDistributionError::RequestError(e) => {
            e.is_connect()
                || e.is_timeout()
                || e.is_request()
                || e.is_body()
                || e.status().is_some_and(|s| s.is_server_error())
        }
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

fn is_unauthorized(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
        OciDistributionError::ServerError { code, .. } => *code == 401 || *code == 403,
        OciDistributionError::RequestError(e) => e.status().is_some_and(|s| s == 401 || s == 403),
        _ => false,
    }
}

fn is_not_found_text(reason: &str) -> bool {
    [
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
        "NOT_FOUND",
        "not found",
        "code: 404",
    ]
    .iter()
    .any(|needle| reason.contains(needle))
}

/// One line about an `oci-client` error, with the OCI error codes spelled
/// out and the full error chain (reqwest's root cause: "connection refused").
fn describe(e: &OciDistributionError) -> String {
    match e {
        OciDistributionError::RegistryError { envelope, url } => {
            let errors: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| {
                    let code = serde_json::to_value(&e.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    format!("{code}: {}", e.message)
                })
                .collect();
            format!("{} ({url})", errors.join("; "))
        }
        OciDistributionError::ImageManifestNotFoundError(what) => format!("NOT_FOUND: {what}"),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    }
}
