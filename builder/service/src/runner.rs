//! The in-process queue: accepted jobs wait for one of a bounded number of
//! build slots; each build runs the pipeline on a blocking thread and
//! records every stage, log line and the outcome as job events.

use std::path::PathBuf;
use std::sync::Arc;

use aip_pipeline::{Observer, Stage};
use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::ServiceConfig;
use crate::fair::FairQueue;
use crate::job::{Announced, FailureKind, JobError, JobFailure, JobUpdate, ModuleOutcome, Pushed};
use crate::job_spec::JobSpec;
use crate::metrics::Metrics;
use crate::modules::Registry;
use crate::request::AdapterRequest;
use crate::scrub::Scrubber;
use crate::stop::{Running, StopReason};
use crate::store::{JobEvent, JobState, Store};

/// A live event: which job, and the event.
pub type LiveEvent = (String, JobEvent);

/// Hands jobs to build slots, tenants taking turns (`fair.rs`).
#[derive(Clone)]
pub struct Runner {
    queue: Arc<FairQueue>,
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
        let queue = Arc::new(FairQueue::new(config.max_builds_per_tenant));
        let (live, _) = broadcast::channel(1024);
        let depth = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let running = Running::default();
        let runner = Runner {
            queue: queue.clone(),
            live: live.clone(),
            depth: depth.clone(),
            running: running.clone(),
        };
        let slots = Arc::new(Semaphore::new(config.max_builds.max(1)));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (tenant, id) = queue.next().await;
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
                let queue = queue.clone();
                tokio::spawn(async move {
                    run_job(&ctx, &id).await;
                    drop(permit);
                    queue.done(&tenant);
                });
            }
        });
        runner
    }

    /// Queues job `id` of `tenant`.
    pub fn enqueue(&self, tenant: &str, id: &str) {
        self.depth.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.queue.push(tenant, id);
    }
}

/// Records an event and publishes it live.
pub async fn emit(store: &Store, live: &broadcast::Sender<LiveEvent>, id: &str, event: &JobUpdate) {
    match store.append_event(id, event.kind(), event.data()).await {
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
    emit(store, live, id, &JobUpdate::state(JobState::Running)).await;
    // Jobs accepted before jobs stored their resolved spec resolve it now,
    // as acceptance would have.
    let spec = match job.spec.clone() {
        Some(spec) => Ok(spec),
        None => serde_json::from_value::<AdapterRequest>(job.request.clone())
            .map(|request| JobSpec::of(&request))
            .map_err(|e| JobFailure::internal(format!("the stored request does not parse: {e}"))),
    };
    let outcome = match spec {
        Err(failure) => Err(failure.into()),
        Ok(spec) => build_and_publish(ctx, id, attempt, &job.tenant, &spec, &guard).await,
    };
    let stopped = guard.stop.reason();
    drop(guard);
    ctx.metrics.builds_running(-1);
    let (state, error, module) = match (outcome, stopped) {
        (Ok(module), None) => (JobState::Succeeded, None, Some(module)),
        (Err(JobError { failure, module }), None) => (JobState::Failed, Some(failure), module),
        // The job is no longer this build's: nothing to record.
        (_, Some(StopReason::Lost)) => return,
        // Stopped before it committed to registering, so nothing was
        // registered (`outcome` is the cancellation).
        (outcome, Some(StopReason::Cancelled)) => (
            JobState::Cancelled,
            Some(JobFailure::user("cancelled while running")),
            outcome.ok(),
        ),
        (outcome, Some(StopReason::TimedOut(limit))) => (
            JobState::Failed,
            Some(JobFailure::internal(format!(
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
            let event = JobUpdate::State {
                state,
                failure: error,
                module: module.map(Box::new),
            };
            emit(store, live, id, &event).await;
        }
        Ok(false) => {}
        Err(e) => tracing::error!(job = id, "cannot record the outcome: {e}"),
    }
}

/// Builds the job's module, then pushes and announces it as the job and
/// the service ask.
async fn build_and_publish(
    ctx: &JobContext,
    id: &str,
    attempt: i64,
    tenant: &str,
    spec: &JobSpec,
    guard: &crate::stop::RunningGuard,
) -> Result<ModuleOutcome, JobError> {
    let handle = tokio::runtime::Handle::current();
    let job_dir = ctx.config.job_dir(id);
    let destination = ctx.registry.destination(tenant);
    let scrubber = scrubber(&ctx.config, spec, &job_dir, tenant);
    let build = spec.build_request(&ctx.config, &job_dir, destination, tenant);
    let mut observer = JobObserver {
        handle,
        store: ctx.store.clone(),
        live: ctx.live.clone(),
        id: id.to_string(),
        attempt,
        stop: guard.stop.clone(),
        metrics: ctx.metrics.clone(),
        current: None,
        scrubber,
    };
    let cancel = guard.stop.flag();
    let built = tokio::task::spawn_blocking(move || {
        let mut build = build?;
        build.cancel = Some(cancel);
        let built = aip_pipeline::build_module(build, &mut observer);
        observer.finish_stage();
        built
            .map(|built| ModuleOutcome::of(&built))
            .map_err(|e| JobFailure {
                message: observer.scrubber.scrub(&e.to_string()),
                kind: if e.is_user_error() {
                    FailureKind::User
                } else {
                    FailureKind::Internal
                },
                hint: e.hint(),
            })
    })
    .await
    .unwrap_or_else(|e| Err(JobFailure::internal(format!("the build task failed: {e}"))))?;
    let mut module = built;
    if guard.stop.reason().is_some() {
        return Ok(module);
    }
    let fail = |failure: JobFailure, module: &ModuleOutcome| JobError {
        failure,
        module: Some(module.clone()),
    };
    if let Some(dest) = &spec.push {
        let pushed = push_module(ctx, id, attempt, tenant, &module, dest).await;
        module.pushed = Some(pushed.map_err(|f| fail(f, &module))?);
    }
    if let Some(announcer) = &ctx.announcer
        && guard.stop.reason().is_none()
    {
        let announced = announce(ctx, announcer, id, attempt, tenant, &module).await;
        module.announced = Some(announced.map_err(|f| fail(f, &module))?);
    }
    Ok(module)
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
    module: &ModuleOutcome,
) -> Result<Announced, JobFailure> {
    let folder = ctx
        .registry
        .destination(tenant)
        .folder(&module.name, &module.version);
    let stage = JobUpdate::Stage {
        stage: "announce".into(),
        detail: aip_fleet::SUBJECT.into(),
    };
    emit(&ctx.store, &ctx.live, id, &stage).await;
    let _ = ctx.store.set_stage(id, attempt, "announce").await;
    match announcer
        .announce(&folder, tenant, &module.spec_digest)
        .await
    {
        Ok(event) => {
            let line = format!(
                "announced {} on {} ({})",
                event.id,
                aip_fleet::SUBJECT,
                event.data.artifact.object
            );
            emit(&ctx.store, &ctx.live, id, &JobUpdate::Log { line }).await;
            Ok(Announced {
                event_id: event.id,
                object: event.data.artifact.object,
                digest: event.data.artifact.digest,
            })
        }
        Err(e) => Err(JobFailure::internal(format!(
            "registered {} {}, but announcing it failed: {e}",
            module.name, module.version
        ))),
    }
}

/// Pushes a registered module to `dest` (the publish step `aip-builder
/// build --push` takes too); a failed push fails the job but leaves the
/// module registered (and named in the job).
async fn push_module(
    ctx: &JobContext,
    id: &str,
    attempt: i64,
    tenant: &str,
    module: &ModuleOutcome,
    dest: &str,
) -> Result<Pushed, JobFailure> {
    let (store, live) = (&ctx.store, &ctx.live);
    let folder = ctx
        .registry
        .destination(tenant)
        .folder(&module.name, &module.version);
    let stage = JobUpdate::Stage {
        stage: "push".into(),
        detail: dest.into(),
    };
    emit(store, live, id, &stage).await;
    let _ = store.set_stage(id, attempt, "push").await;
    // Push progress is recorded live, as the build's is.
    let (lines, mut received) = mpsc::unbounded_channel::<String>();
    let (store2, live2, id2) = (store.clone(), live.clone(), id.to_string());
    let forward = tokio::spawn(async move {
        while let Some(line) = received.recv().await {
            emit(&store2, &live2, &id2, &JobUpdate::Log { line }).await;
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
        aip_distribute::publish(&client, &folder, &dest, true, &mut |event| {
            let _ = lines.send(event.to_string());
        })
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    drop(lines);
    let _ = forward.await;
    match report {
        Ok(report) => Ok(Pushed {
            reference: report.reference,
            tags: report.tags,
            signature_tag: report.signature_tag,
        }),
        Err(e) => Err(JobFailure::internal(format!(
            "registered {} {}, but the push to {dest} failed: {e}",
            module.name, module.version
        ))),
    }
}

/// What the job's events and errors show instead of server paths.
fn scrubber(
    config: &ServiceConfig,
    spec: &JobSpec,
    job_dir: &std::path::Path,
    tenant: &str,
) -> Scrubber {
    let key = config
        .signing_key_for(&spec.key_ref, tenant)
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

    fn record(&self, event: JobUpdate) {
        self.handle
            .block_on(emit(&self.store, &self.live, &self.id, &event));
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
        self.record(JobUpdate::Stage {
            stage: stage.name().into(),
            detail: self.scrubber.scrub(detail),
        });
    }
    fn note(&mut self, note: &str) {
        let line = self.scrubber.scrub(note);
        self.record(JobUpdate::Log { line });
    }
    fn tool_output(&mut self, line: &str) {
        let line = self.scrubber.scrub(line);
        self.record(JobUpdate::Log { line });
    }
    fn warn(&mut self, warning: &aip_ir::SpecWarning) {
        self.record(JobUpdate::Warning {
            kind: warning.kind.as_str().into(),
            file: self.scrubber.scrub(&warning.file),
            pointer: warning.pointer.clone(),
            message: self.scrubber.scrub(&warning.message),
            line: self.scrubber.scrub(&warning.to_string()),
        });
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
