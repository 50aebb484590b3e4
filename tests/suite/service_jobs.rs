//! The build service's jobs: crash recovery (SQLite and PostgreSQL),
//! cancellation, time limits, attempts, rate limits, 100 concurrent
//! submissions, fairness between tenants.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::service_harness::*;
use crate::support::{aip, text};

#[test]
fn jobs_survive_a_killed_service_and_end_exactly_once() {
    killed_service_case(&[], "sqlite");
}

#[test]
fn jobs_in_postgresql_survive_a_killed_service_and_end_exactly_once() {
    let postgres = crate::postgres_server::Postgres::start();
    let url = postgres.url();
    killed_service_case(&["--database", &url], "pg");
    // The job state is in PostgreSQL, not in a jobs.db beside it.
    let out = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-At",
            "-c",
            "SELECT state, attempts FROM jobs",
        ])
        .output()
        .expect("psql runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "succeeded|2",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Submits a build, kills the service (SIGKILL) while cargo compiles it,
/// restarts it on the same data (and `extra` arguments): the job ends
/// exactly once, resumed, with one module registered and nothing staged.
fn killed_service_case(extra: &[&str], tag: &str) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start_with(data.path(), extra);
    // A name no other test uses, so the compile cache misses and the kill
    // lands while cargo is building.
    let name = format!("svc-crash-{tag}-{}", std::process::id());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission(&name, "1.0.0")),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    wait_for_compile(&service, &id);
    service.kill();

    let service = BuilderService::start_with(data.path(), extra);
    let events = follow(&service, &id, "builder-key-1");
    let states = states(&events);
    let terminal: Vec<&String> = states
        .iter()
        .filter(|s| ["succeeded", "failed", "cancelled"].contains(&s.as_str()))
        .collect();
    assert_eq!(
        terminal,
        [&"succeeded".to_string()],
        "exactly one terminal state: {states:?}\n{}",
        service.log()
    );
    assert!(
        events.iter().any(|(_, d)| d["data"]["line"]
            .as_str()
            .is_some_and(|l| l.contains("the service restarted while this job was running"))),
        "the resume is recorded: {events:?}"
    );
    let names = |dir: PathBuf| -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("modules")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        names(data.path().join("modules/acme")),
        std::slice::from_ref(&name),
        "one module"
    );
    assert_eq!(
        names(data.path().join("modules/acme").join(&name)),
        ["1.0.0"],
        "one version, no staging leftovers"
    );
    let out = aip(
        data.path(),
        &[
            "verify",
            &data
                .path()
                .join("modules/acme")
                .join(&name)
                .join("1.0.0")
                .display()
                .to_string(),
            "--key",
            &data.path().join("cosign.pub").display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn running_builds_are_cancelled_and_stopped_at_their_time_limit() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start(data.path());
    let (id, name) = submit_uncached(&service, "cancel");
    wait_for_compile(&service, &id);
    let (status, _, job) = call(
        "POST",
        &service.url(&format!("/v1/builder/jobs/{id}/cancel")),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("cancelled"),
        "{events:?}\n{}",
        service.log()
    );
    let job = job_of(&service, &id);
    assert_eq!(job["error"], json!("cancelled while running"), "{job}");
    assert_eq!(job["error_kind"], json!("user"), "{job}");
    assert!(
        !data.path().join("modules/acme").join(&name).exists(),
        "nothing registered"
    );
    service.kill();

    // A one-second limit stops the next uncached build in compile.
    let mut service = BuilderService::start_with(data.path(), &["--build-timeout", "1"]);
    let (id, name) = submit_uncached(&service, "timeout");
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("failed"),
        "{events:?}"
    );
    let job = job_of(&service, &id);
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("exceeded its time limit of 1 s")),
        "{job}"
    );
    assert_eq!(job["error_kind"], json!("internal"), "{job}");
    assert!(!data.path().join("modules/acme").join(&name).exists());
    service.kill();

    // The killed cargo left the shared build folder usable: building the
    // same module again succeeds.
    let service = BuilderService::start(data.path());
    let (status, _, job) = call(
        "POST",
        &service.url("/v1/builder/adapter"),
        Some("builder-key-1"),
        Some(&submission(&name, "1.0.0")),
        &[],
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("succeeded"),
        "{events:?}"
    );
}

/// One build slot; acme submits five jobs, then globex one: globex's job
/// starts second, not after acme's queue drains.
#[test]
fn one_tenants_burst_does_not_hold_up_another_tenants_job() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with(data.path(), &["--max-builds", "1"]);
    // One body for every job: after the first, builds hit the compile
    // cache, so the queue, not cargo, decides the order.
    let body = submission("fair", "1.0.0");
    let submit = |key: &str| submit_job(&service, key, &body);
    let acme: Vec<String> = (0..5).map(|_| submit("builder-key-1")).collect();
    let globex = submit("globex-key-1");
    let started = |id: &str, key: &str| {
        let events = follow(&service, id, key);
        assert_eq!(
            states(&events).last().map(String::as_str),
            Some("succeeded"),
            "{events:?}"
        );
        let (_, _, job) = call(
            "GET",
            &service.url(&format!("/v1/builder/jobs/{id}")),
            Some(key),
            None,
            &[],
        );
        job["started_at"].as_i64().expect("started_at")
    };
    let globex_started = started(&globex, "globex-key-1");
    let acme_started: Vec<i64> = acme.iter().map(|id| started(id, "builder-key-1")).collect();
    let after = acme_started
        .iter()
        .filter(|&&at| at > globex_started)
        .count();
    assert!(
        after >= 3,
        "globex's job waited for {} of acme's 5 (started {globex_started}; acme's {acme_started:?})",
        5 - after
    );
}

#[test]
fn a_job_that_keeps_stopping_the_service_is_failed_after_three_attempts() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start(data.path());
    let (id, _) = submit_uncached(&service, "crashloop");
    for attempt in 1..=3 {
        wait_for_compile_attempt(&service, &id, attempt);
        service.kill();
        service = BuilderService::start(data.path());
    }
    let events = follow(&service, &id, "builder-key-1");
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("failed"),
        "{events:?}"
    );
    let job = job_of(&service, &id);
    assert_eq!(job["attempts"], json!(3), "{job}");
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("stopped 3 times")),
        "{job}"
    );
    assert_eq!(job["error_kind"], json!("internal"), "{job}");
}

#[test]
fn each_key_is_rate_limited_on_its_own_with_retry_after() {
    let data = tempfile::tempdir().expect("tempdir");
    let service =
        BuilderService::start_with(data.path(), &["--rate-limit", "1", "--rate-burst", "3"]);
    let get = |key: &str| {
        agent()
            .get(&service.url("/v1/modules"))
            .header("X-API-Key", key)
            .call()
            .expect("GET")
    };
    let mut limited = None;
    for _ in 0..10 {
        let mut response = get("viewer-key-1");
        if response.status().as_u16() == 429 {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value =
                serde_json::from_slice(&response.body_mut().read_to_vec().unwrap_or_default())
                    .unwrap_or(Value::Null);
            limited = Some((retry_after, body));
            break;
        }
        assert_eq!(response.status().as_u16(), 200);
    }
    let (retry_after, body) = limited.expect("the burst of 3 runs out within 10 requests");
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
    assert_eq!(
        body["type"],
        json!("https://aip.dev/problems/rate-limited"),
        "{body}"
    );
    // Another key is not affected.
    assert_eq!(get("globex-key-1").status().as_u16(), 200);
    // The service serves its OpenAPI document, without a key.
    let (status, content_type, document) = get_bytes(&service, "/openapi.json", "");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(
        String::from_utf8_lossy(&document),
        aip_service::openapi_document()
    );
    // And the limited key is served again once its time has come.
    std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(1)));
    assert_eq!(get("viewer-key-1").status().as_u16(), 200);
}

#[test]
fn a_hundred_concurrent_submissions_are_each_accepted_once_and_all_end() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with(data.path(), &["--rate-limit", "0"]);
    let url = service.url("/v1/builder/adapter");
    let body = Arc::new(submission("svc-many", "1.0.0"));
    // 100 clients, each sending its submission twice at once (a client
    // retrying): 200 requests, 100 Idempotency-Keys.
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                let key = format!("client-{}", i % 100);
                let (status, _, job) = call(
                    "POST",
                    &url,
                    Some("builder-key-1"),
                    Some(&body),
                    &[("Idempotency-Key", &key)],
                );
                (key, status, job["id"].as_str().map(str::to_string))
            })
        })
        .collect();
    let mut by_key: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for handle in handles {
        let (key, status, id) = handle.join().expect("client thread");
        assert_eq!(status, 202, "{key}: {}", service.log());
        by_key.entry(key).or_default().insert(id.expect("a job id"));
    }
    assert_eq!(by_key.len(), 100);
    assert!(
        by_key.values().all(|ids| ids.len() == 1),
        "each key maps to one job: {by_key:?}"
    );
    let ids: std::collections::BTreeSet<String> = by_key.values().flatten().cloned().collect();
    assert_eq!(ids.len(), 100, "100 distinct jobs");

    let deadline = Instant::now() + Duration::from_secs(600);
    for id in &ids {
        loop {
            let job = job_of(&service, id);
            if job["state"] == json!("succeeded") {
                break;
            }
            assert!(
                job["state"] == json!("queued") || job["state"] == json!("running"),
                "{job}"
            );
            assert!(Instant::now() < deadline, "not done: {job}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The store holds exactly these 100 jobs, all succeeded, each with one
    // terminal event.
    let (_, _, metrics) = get_bytes(&service, "/metrics", "viewer-key-1");
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics
            .lines()
            .any(|l| l == "aip_builder_jobs{state=\"succeeded\"} 100"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "aip_builder_jobs{state=\"queued\"} 0")
    );
    for id in ids.iter().take(10) {
        let events = follow(&service, id, "builder-key-1");
        assert_eq!(states(&events), ["queued", "running", "succeeded"], "{id}");
    }
}
