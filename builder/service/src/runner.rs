//! The in-process queue: accepted jobs wait for one of a bounded number of
//! build slots; each build runs the pipeline on a blocking thread and
//! records every stage, log line and the outcome as job events.

use std::path::PathBuf;
use std::sync::Arc;

use aip_pipeline::{BuildRequest, Observer, Stage};
use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::ServiceConfig;
use crate::job::JobFailure;
use crate::metrics::Metrics;
use crate::modules::Registry;
use crate::request::{AdapterRequest, TargetName};
use crate::scrub::Scrubber;
use crate::stop::{Running, StopReason};
use crate::store::{JobEvent, JobState, Store};

/// A live event: which job, and the event.
pub type LiveEvent = (String, JobEvent);

/// Hands jobs to build slots.
#[derive(Clone)]
pub struct Runner {
    queue: mpsc::UnboundedSender<String>,
    /// Live events for SSE subscribers.
    pub live: broadcast::Sender<LiveEvent>,
    /// Jobs waiting for a slot.
    pub depth: Arc<std::sync::atomic::AtomicUsize>,
    /// Builds running now, with their stop switches.
    pub running: Running,
}

impl Runner {
    /// Starts the dispatcher with `config.max_builds` slots.
    pub fn start(
        store: Store,
        config: Arc<ServiceConfig>,
        registry: Registry,
        metrics: Metrics,
        announcer: Option<aip_fleet::Announcer>,
    ) -> Runner {
        let (queue, mut jobs) = mpsc::unbounded_channel::<String>();
        let (live, _) = broadcast::channel(1024);
        let depth = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let running = Running::default();
        let runner = Runner {
            queue,
            live: live.clone(),
            depth: depth.clone(),
            running: running.clone(),
        };
        let slots = Arc::new(Semaphore::new(config.max_builds.max(1)));
        tokio::spawn(async move {
            while let Some(id) = jobs.recv().await {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                depth.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                let ctx = JobContext {
                    store: store.clone(),
                    config: config.clone(),
                    registry: registry.clone(),
                    live: live.clone(),
                    running: running.clone(),
                    metrics: metrics.clone(),
                    announcer: announcer.clone(),
                };
                tokio::spawn(async move {
                    run_job(&ctx, &id).await;
                    drop(permit);
                });
            }
        });
        runner
    }

    /// Queues a job.
    pub fn enqueue(&self, id: &str) {
        self.depth.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = self.queue.send(id.to_string());
    }
}

/// Records an event and publishes it live.
pub async fn emit(
    store: &Store,
    live: &broadcast::Sender<LiveEvent>,
    id: &str,
    kind: &str,
    data: serde_json::Value,
) {
    match store.append_event(id, kind, data).await {
        Ok(event) => {
            let _ = live.send((id.to_string(), event));
        }
        Err(e) => tracing::error!(job = id, "cannot record an event: {e}"),
    }
}

/// What a running job needs.
struct JobContext {
    store: Store,
    config: Arc<ServiceConfig>,
    registry: Registry,
    live: broadcast::Sender<LiveEvent>,
    running: Running,
    metrics: Metrics,
    announcer: Option<aip_fleet::Announcer>,
}

async fn run_job(ctx: &JobContext, id: &str) {
    let (store, live) = (&ctx.store, &ctx.live);
    let job = match store.get(id).await {
        Ok(Some(job)) if job.state == JobState::Queued || job.state == JobState::Running => job,
        Ok(_) => return, // cancelled while queued, or already ended
        Err(e) => {
            tracing::error!(job = id, "cannot read the job: {e}");
            return;
        }
    };
    // The stop switch is in place before the job is taken, so a cancel
    // that arrives from here on reaches this build (or finds it gone).
    let guard = ctx.running.start(id, ctx.config.build_timeout);
    failpoint_hold_start(id).await;
    let attempt = match store.start(id).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return, // cancelled (or ended) meanwhile: nothing runs
        Err(e) => {
            tracing::error!(job = id, "cannot start the job: {e}");
            return;
        }
    };
    ctx.metrics.builds_running(1);
    emit(
        store,
        live,
        id,
        "state",
        serde_json::json!({"state": "running"}),
    )
    .await;
    let request: Result<AdapterRequest, _> = serde_json::from_value(job.request.clone());
    let outcome = match request {
        Err(e) => Err((
            JobFailure::new(format!("the stored request does not parse: {e}")),
            None,
        )),
        Ok(request) => {
            let handle = tokio::runtime::Handle::current();
            let (store2, live2, id2) = (store.clone(), live.clone(), id.to_string());
            let metrics = ctx.metrics.clone();
            let job_dir = ctx.config.job_dir(id);
            let destination = ctx.registry.destination(&job.tenant);
            let scrubber = scrubber(&ctx.config, &request, &job_dir, &job.tenant);
            let build = build_request(&ctx.config, &request, &job_dir, destination, &job.tenant);
            let push = request.push.clone();
            let cancel = guard.stop.flag();
            let stop = guard.stop.clone();
            let built = tokio::task::spawn_blocking(move || {
                let mut build = build.map_err(JobFailure::new)?;
                build.cancel = Some(cancel);
                let mut observer = JobObserver {
                    handle,
                    store: store2,
                    live: live2,
                    id: id2,
                    attempt,
                    stop,
                    metrics,
                    current: None,
                    scrubber: scrubber.clone(),
                };
                let built = aip_pipeline::build_module(build, &mut observer);
                observer.finish_stage();
                built
                    .map(|built| {
                        serde_json::json!({
                            "name": built.manifest.metadata.name,
                            "version": built.manifest.metadata.version,
                            "runtime": built.manifest.runtime.kind,
                            "artifact_digest": built.manifest.artifact.digest,
                            "artifact_size": built.artifact_size,
                            "intents": built.manifest.intents.len(),
                            "spec_digest": built.manifest.metadata.source.digest,
                            "warnings": built.warnings,
                        })
                    })
                    .map_err(|e| JobFailure {
                        message: scrubber.scrub(&e.to_string()),
                        hint: e.hint(),
                    })
            })
            .await
            .unwrap_or_else(|e| Err(JobFailure::new(format!("the build task failed: {e}"))));
            let pushed = match (built, push) {
                (Ok(module), Some(dest)) if guard.stop.reason().is_none() => {
                    push_module(ctx, id, attempt, &job.tenant, module, &dest).await
                }
                (built, _) => built.map_err(|e| (e, None)),
            };
            match (pushed, &ctx.announcer) {
                (Ok(module), Some(announcer)) if guard.stop.reason().is_none() => {
                    announce(ctx, announcer, id, attempt, &job.tenant, module).await
                }
                (pushed, _) => pushed,
            }
        }
    };
    let stopped = guard.stop.reason();
    drop(guard);
    ctx.metrics.builds_running(-1);
    let (state, error, module) = match (outcome, stopped) {
        (Ok(module), None) => (JobState::Succeeded, None, Some(module)),
        (Err((error, module)), None) => (JobState::Failed, Some(error), module),
        // The job is no longer this build's: nothing to record.
        (_, Some(StopReason::Lost)) => return,
        // Stopped before it committed to registering, so nothing was
        // registered (`outcome` is the cancellation).
        (outcome, Some(StopReason::Cancelled)) => (
            JobState::Cancelled,
            Some(JobFailure::new("cancelled while running")),
            outcome.ok(),
        ),
        (outcome, Some(StopReason::TimedOut(limit))) => (
            JobState::Failed,
            Some(JobFailure::new(format!(
                "the build exceeded its time limit of {} s and was stopped (serve --build-timeout)",
                limit.as_secs()
            ))),
            outcome.ok(),
        ),
    };
    // Recorded only if this attempt still holds the job.
    match store
        .finish(id, attempt, state, error.as_ref(), module.as_ref())
        .await
    {
        Ok(true) => {
            emit(
                store,
                live,
                id,
                "state",
                serde_json::json!({
                    "state": state,
                    "error": error.as_ref().map(|f| &f.message),
                    "hint": error.as_ref().and_then(|f| f.hint.as_ref()).map(crate::hints::render),
                    "module": module,
                }),
            )
            .await;
        }
        Ok(false) => {}
        Err(e) => tracing::error!(job = id, "cannot record the outcome: {e}"),
    }
}

/// Announces a registered module on NATS (bundle into the Object Store,
/// CloudEvent onto JetStream); a failed announcement fails the job but
/// leaves the module registered (and named in the job).
async fn announce(
    ctx: &JobContext,
    announcer: &aip_fleet::Announcer,
    id: &str,
    attempt: i64,
    tenant: &str,
    mut module: serde_json::Value,
) -> Result<serde_json::Value, (JobFailure, Option<serde_json::Value>)> {
    let name = module["name"].as_str().unwrap_or_default().to_string();
    let version = module["version"].as_str().unwrap_or_default().to_string();
    let folder = ctx.registry.destination(tenant).folder(&name, &version);
    let data = serde_json::json!({"stage": "announce", "detail": aip_fleet::SUBJECT});
    emit(&ctx.store, &ctx.live, id, "stage", data).await;
    let _ = ctx.store.set_stage(id, attempt, "announce").await;
    let spec_digest = module["spec_digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match announcer.announce(&folder, tenant, &spec_digest).await {
        Ok(event) => {
            let line = format!(
                "announced {} on {} ({})",
                event.id,
                aip_fleet::SUBJECT,
                event.data.artifact.object
            );
            emit(
                &ctx.store,
                &ctx.live,
                id,
                "log",
                serde_json::json!({"line": line}),
            )
            .await;
            module["announced"] = serde_json::json!({
                "event_id": event.id,
                "object": event.data.artifact.object,
                "digest": event.data.artifact.digest,
            });
            Ok(module)
        }
        Err(e) => Err((
            JobFailure::new(format!(
                "registered {name} {version}, but announcing it failed: {e}"
            )),
            Some(module),
        )),
    }
}

/// Pushes a registered module to `dest`; a failed push fails the job but
/// leaves the module registered (and named in the job).
async fn push_module(
    ctx: &JobContext,
    id: &str,
    attempt: i64,
    tenant: &str,
    mut module: serde_json::Value,
    dest: &str,
) -> Result<serde_json::Value, (JobFailure, Option<serde_json::Value>)> {
    let (store, live) = (&ctx.store, &ctx.live);
    let name = module["name"].as_str().unwrap_or_default().to_string();
    let version = module["version"].as_str().unwrap_or_default().to_string();
    let folder = ctx.registry.destination(tenant).folder(&name, &version);
    let data = serde_json::json!({"stage": "push", "detail": dest});
    emit(store, live, id, "stage", data).await;
    let _ = store.set_stage(id, attempt, "push").await;
    // Push progress is recorded live, as the build's is.
    let (lines, mut received) = mpsc::unbounded_channel::<String>();
    let (store2, live2, id2) = (store.clone(), live.clone(), id.to_string());
    let forward = tokio::spawn(async move {
        while let Some(line) = received.recv().await {
            emit(
                &store2,
                &live2,
                &id2,
                "log",
                serde_json::json!({"line": line}),
            )
            .await;
        }
    });
    let report = async {
        let dest = aip_distribute::ModuleRef::parse(dest).map_err(|e| e.to_string())?;
        let options = aip_distribute::ClientOptions {
            insecure_registries: ctx.config.insecure_registries.clone(),
            ..Default::default()
        };
        let client = aip_distribute::RegistryClient::connect(&dest.registry, &options)
            .await
            .map_err(|e| e.to_string())?;
        let extra_tag = match &dest.selector {
            aip_distribute::Selector::Tag(tag) => Some(tag.clone()),
            _ => None,
        };
        aip_distribute::push(
            &client,
            &folder,
            &dest,
            &aip_distribute::PushOptions {
                latest: true,
                extra_tag,
            },
            &mut |event| {
                let _ = lines.send(push_line(&event));
            },
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    drop(lines);
    let _ = forward.await;
    match report {
        Ok(report) => {
            module["pushed"] = serde_json::json!({
                "reference": report.reference,
                "tags": report.tags,
                "signature_tag": report.signature_tag,
            });
            Ok(module)
        }
        Err(e) => Err((
            JobFailure::new(format!(
                "registered {name} {version}, but the push to {dest} failed: {e}"
            )),
            Some(module),
        )),
    }
}

fn push_line(event: &aip_distribute::PushEvent) -> String {
    match event {
        aip_distribute::PushEvent::Blob {
            digest,
            size,
            uploaded,
        } => format!(
            "{} {digest} ({size} bytes)",
            if *uploaded { "uploaded" } else { "present " }
        ),
        aip_distribute::PushEvent::Manifest { what, reference } => {
            format!("pushed {what} -> {reference}")
        }
        aip_distribute::PushEvent::Note(note) => note.clone(),
    }
}

fn build_request(
    config: &ServiceConfig,
    request: &AdapterRequest,
    job_dir: &std::path::Path,
    destination: aip_register::Destination,
    tenant: &str,
) -> Result<BuildRequest, String> {
    let key_ref = request
        .signing
        .as_ref()
        .map_or(crate::DEFAULT_KEY_REF, |s| s.cosign_key_ref.as_str());
    let key = config.signing_key_for(key_ref, tenant).ok_or_else(|| {
        format!("signing key {key_ref:?} is no longer configured for tenant {tenant}")
    })?;
    Ok(BuildRequest {
        spec: aip_ingest::SpecSource::File(crate::request::spec_path(job_dir, request)),
        ingest: crate::request::ingest_options(job_dir, request, config.max_operations),
        target: match request.target {
            Some(TargetName::Grpc) => aip_pipeline::Target::GrpcService,
            None if request.protocol == crate::request::Protocol::Grpc => {
                aip_pipeline::Target::GrpcService
            }
            _ => aip_pipeline::Target::WasmComponent,
        },
        vendor_url: None,
        intents: request.intents.clone().unwrap_or_default(),
        version: request.version.clone().unwrap_or_else(|| "0.1.0".into()),
        key: aip_sign::KeyRef::File(key.path.clone()),
        password: key.password.clone(),
        // Each tenant registers into its own folder, each version into its
        // own: two tenants' modules of the same name never replace each
        // other, and earlier versions stay.
        destination,
        generated_dir: None,
        resources: request.resources(),
        cache: aip_compile::CacheDirs::from_env(),
        use_compile_cache: true,
        cancel: None,
    })
}

/// What the job's events and errors show instead of server paths.
fn scrubber(
    config: &ServiceConfig,
    request: &AdapterRequest,
    job_dir: &std::path::Path,
    tenant: &str,
) -> Scrubber {
    let key_ref = request
        .signing
        .as_ref()
        .map_or(crate::DEFAULT_KEY_REF, |s| s.cosign_key_ref.as_str());
    let key = config
        .signing_key_for(key_ref, tenant)
        .map(|k| (k.name.as_str(), k.path.as_path()));
    Scrubber::for_job(
        job_dir,
        key,
        &config.data,
        &aip_compile::CacheDirs::from_env().root,
    )
}

/// Pipeline progress, recorded as job events from the build thread.
struct JobObserver {
    handle: tokio::runtime::Handle,
    store: Store,
    live: broadcast::Sender<LiveEvent>,
    id: String,
    /// The attempt this build holds the job with.
    attempt: i64,
    /// The build's stop switch: set when the job was taken from it.
    stop: crate::stop::Stop,
    metrics: Metrics,
    /// The stage running and when it started.
    current: Option<(Stage, std::time::Instant)>,
    /// Hides server paths from the job's events.
    scrubber: Scrubber,
}

impl JobObserver {
    /// Records the running stage's duration.
    fn finish_stage(&mut self) {
        if let Some((stage, started)) = self.current.take() {
            self.metrics
                .stage_finished(stage.name(), started.elapsed().as_secs_f64());
        }
    }

    fn record(&self, kind: &str, data: serde_json::Value) {
        self.handle
            .block_on(emit(&self.store, &self.live, &self.id, kind, data));
    }
}

impl Observer for JobObserver {
    fn stage(&mut self, stage: Stage, detail: &str) {
        self.finish_stage();
        self.current = Some((stage, std::time::Instant::now()));
        // Each stage is entered only while this attempt holds the job; a
        // build that lost it (cancelled, or taken by a later attempt)
        // stops here. Registering commits: from then on the build is not
        // stopped, so a module is registered exactly when the job succeeds.
        let held = self
            .handle
            .block_on(self.store.set_stage(&self.id, self.attempt, stage.name()))
            .unwrap_or(false);
        if !held {
            let _ = self.stop.stop(StopReason::Lost);
            return;
        }
        if stage == Stage::Register && !self.stop.commit() {
            return;
        }
        self.record(
            "stage",
            serde_json::json!({"stage": stage.name(), "detail": self.scrubber.scrub(detail)}),
        );
    }
    fn note(&mut self, note: &str) {
        let line = self.scrubber.scrub(note);
        self.record("log", serde_json::json!({"line": line}));
    }
    fn tool_output(&mut self, line: &str) {
        let line = self.scrubber.scrub(line);
        self.record("log", serde_json::json!({"line": line}));
    }
    fn warn(&mut self, warning: &aip_ir::SpecWarning) {
        self.record(
            "warning",
            serde_json::json!({
                "kind": warning.kind.as_str(),
                "file": self.scrubber.scrub(&warning.file),
                "pointer": warning.pointer,
                "message": self.scrubber.scrub(&warning.message),
                "line": self.scrubber.scrub(&warning.to_string()),
            }),
        );
    }
}

/// A failpoint for tests (`AIP_FAILPOINT_HOLD_START=DIR`): after a build
/// slot took the job and before the job is started, write `DIR/<id>.held`
/// and wait (up to a minute) for `DIR/<id>.go`. It makes the race between a
/// cancel and a start reproducible; unset, it does nothing.
async fn failpoint_hold_start(id: &str) {
    let Some(dir) = std::env::var_os("AIP_FAILPOINT_HOLD_START").map(PathBuf::from) else {
        return;
    };
    let _ = std::fs::write(dir.join(format!("{id}.held")), b"");
    for _ in 0..6000 {
        if dir.join(format!("{id}.go")).exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Where accepted specs are kept: `data/jobs/<id>/`.
pub fn job_dir(data: &std::path::Path, id: &str) -> PathBuf {
    data.join("jobs").join(id)
}
