//! What a hostile or unlucky user does to the service and the CLI: a cancel
//! racing a start, made-up HTTP methods, tenant paths, late-validated
//! fields, key guessing, `$ref` probing, FIFOs, a file as `--out`, huge
//! specs, and a killed service's builds.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::service_harness::*;
use crate::support::{aip, keys, repo, text};

fn post(service: &BuilderService, path: &str, key: &str, body: Option<&[u8]>) -> (u16, Value) {
    let (status, _, value) = call("POST", &service.url(path), Some(key), body, &[]);
    (status, value)
}

fn submit(service: &BuilderService, body: &Value) -> (u16, Value) {
    post(
        service,
        "/v1/builder/adapter",
        "builder-key-1",
        Some(&serde_json::to_vec(body).expect("json")),
    )
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn registered(data: &Path, name: &str, version: &str) -> bool {
    data.join("modules/acme")
        .join(name)
        .join(version)
        .join("manifest.yaml")
        .is_file()
}

#[test]
fn a_cancel_racing_a_start_never_lets_the_build_register() {
    let data = tempfile::tempdir().expect("tempdir");
    let holds = tempfile::tempdir().expect("tempdir");
    let hold = holds.path().display().to_string();
    let service = BuilderService::start_with_env(
        data.path(),
        &["--max-builds", "1"],
        &[("AIP_FAILPOINT_HOLD_START", &hold)],
    );
    // A: a build slot took it; it is held just before it starts.
    let (status, job) = submit(
        &service,
        &serde_json::from_slice(&submission("race-a", "1.0.0")).expect("json"),
    );
    assert_eq!(status, 202, "{job}");
    let a = job["id"].as_str().expect("id").to_string();
    wait_for_file(&holds.path().join(format!("{a}.held")));
    // B waits in the queue behind it.
    let (status, job) = submit(
        &service,
        &serde_json::from_slice(&submission("race-b", "1.0.0")).expect("json"),
    );
    assert_eq!(status, 202, "{job}");
    let b = job["id"].as_str().expect("id").to_string();

    // Cancelling A now reaches the build that holds it (the earlier bug:
    // "cancelled before it started" while the build went on to register).
    let (status, answer) = post(
        &service,
        &format!("/v1/builder/jobs/{a}/cancel"),
        "builder-key-1",
        None,
    );
    assert_eq!(status, 202, "{answer}");
    // Cancelling B, queued, ends it at once; no build may start it.
    let (status, answer) = post(
        &service,
        &format!("/v1/builder/jobs/{b}/cancel"),
        "builder-key-1",
        None,
    );
    assert_eq!(
        (status, &answer["state"]),
        (200, &json!("cancelled")),
        "{answer}"
    );

    std::fs::write(holds.path().join(format!("{a}.go")), b"").expect("release");
    for (id, name) in [(&a, "race-a"), (&b, "race-b")] {
        let events = follow(&service, id, "builder-key-1");
        let states = states(&events);
        assert_eq!(
            states.last().map(String::as_str),
            Some("cancelled"),
            "{name}: {events:?}"
        );
        let after_cancel = states
            .iter()
            .skip_while(|s| *s != "cancelled")
            .skip(1)
            .count();
        assert_eq!(
            after_cancel, 0,
            "{name}: nothing after cancelled: {states:?}"
        );
        assert!(!registered(data.path(), name, "1.0.0"), "{name} registered");
    }
    // B never ran: its release file is awaited by nobody, so write it too
    // and check it stayed cancelled with no running state.
    std::fs::write(holds.path().join(format!("{b}.go")), b"").expect("release");
    let events = follow(&service, &b, "builder-key-1");
    assert!(
        !states(&events).contains(&"running".to_string()),
        "{events:?}"
    );
}

#[test]
fn fifty_submit_cancel_pairs_register_no_module_for_a_cancelled_job() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let mut jobs = Vec::new();
    // A cheap pseudo-random delay sequence (no clock luck needed: every
    // interleaving must keep the invariant).
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..50 {
        let version = format!("1.0.{i}");
        let (status, job) = submit(
            &service,
            &serde_json::from_slice(&submission("pairs", &version)).expect("json"),
        );
        assert_eq!(status, 202, "{job}");
        let id = job["id"].as_str().expect("id").to_string();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 40));
        let (status, answer) = post(
            &service,
            &format!("/v1/builder/jobs/{id}/cancel"),
            "builder-key-1",
            None,
        );
        assert!([200, 202, 409].contains(&status), "{status}: {answer}");
        jobs.push((id, version));
    }
    let mut cancelled = 0;
    for (id, version) in &jobs {
        let events = follow(&service, id, "builder-key-1");
        let state = states(&events).last().cloned().unwrap_or_default();
        match state.as_str() {
            "cancelled" => {
                cancelled += 1;
                assert!(
                    !registered(data.path(), "pairs", version),
                    "cancelled {version} registered: {events:?}"
                );
            }
            "succeeded" => assert!(registered(data.path(), "pairs", version)),
            other => panic!("{version}: ended {other}: {events:?}"),
        }
    }
    assert!(cancelled > 0, "some cancels landed");
}

#[test]
fn made_up_methods_do_not_grow_metrics() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let metrics = |service: &BuilderService| {
        call("GET", &service.url("/metrics"), None, None, &[])
            .2
            .as_str()
            .unwrap_or_default()
            .len()
    };
    let addr = service.url("").trim_start_matches("http://").to_string();
    let made_up = |method: &str| {
        let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
        write!(
            stream,
            "{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    };
    // The label sets a made-up method can reach exist after the first one.
    call("GET", &service.url("/healthz"), None, None, &[]);
    made_up("MADEUP");
    let before = metrics(&service);
    for i in 0..1000 {
        made_up(&format!("MADEUP{i}"));
    }
    let after = metrics(&service);
    assert!(
        after < before * 2,
        "/metrics grew from {before} to {after} bytes"
    );
}

#[test]
fn tenants_fields_keys_and_refs_are_checked_before_any_work() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    // ?tenant= is a name, never a path, even for admins.
    for tenant in ["../../x/modules/t1", "..", "a/b", "%2e%2e"] {
        let (status, _, answer) = call(
            "GET",
            &service.url(&format!("/v1/modules?tenant={tenant}")),
            Some("admin-key-01"),
            None,
            &[],
        );
        assert_eq!(status, 422, "{tenant}: {answer}");
    }
    // Fields that used to fail only after compiling are refused at submit.
    let long = format!("1.0.0-{}", "a".repeat(300));
    for (extra, needle) in [
        (json!({"version": long}), "at most 128"),
        (json!({"resources": {"memory": "lots"}}), "resources.memory"),
        (json!({"resources": {"cpu": "fast"}}), "resources.cpu"),
    ] {
        let (status, problem) = submit(
            &service,
            &serde_json::from_slice(&submission_with("late", "1.0.0", &extra)).expect("json"),
        );
        let problem_text = problem.to_string();
        assert_eq!(status, 422, "{extra}: {problem_text}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(needle)),
            "{extra}: {problem_text}"
        );
    }
    // A $ref out of the job's folder reads the same whether its target
    // exists or not, and never shows the service's paths.
    let spec = |target: &str| {
        format!(
            "openapi: 3.0.0\ninfo: {{title: t, version: '1'}}\nservers: [{{url: 'https://x.example'}}]\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '{target}'}}\n"
        )
    };
    let mut details = Vec::new();
    for target in [
        "../../../../../../../../etc/passwd",
        "../../../../../../../../etc/no-such-file",
        "/etc/passwd",
        "/etc/no-such-file",
    ] {
        let (status, problem) = submit(
            &service,
            &json!({"name": "probe", "protocol": "rest", "spec": spec(target)}),
        );
        assert_eq!(status, 422, "{target}: {problem}");
        let detail = problem["detail"]
            .as_str()
            .unwrap_or_default()
            .replace(target, "REF");
        assert!(
            !detail.contains(&data.path().display().to_string()),
            "{detail}"
        );
        details.push(detail);
    }
    assert_eq!(details[0], details[1]);
    assert_eq!(details[2], details[3]);
    assert!(
        data.path()
            .join("jobs")
            .read_dir()
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no job folder left"
    );
}

#[test]
fn guessing_keys_is_throttled_per_address() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let url = service.url("/v1/modules");
    let mut throttled = 0;
    for i in 0..500 {
        let (status, _, _) = call("GET", &url, Some(&format!("guess-{i:04}")), None, &[]);
        assert!(status == 401 || status == 429, "{status}");
        if status == 429 {
            throttled += 1;
        }
    }
    assert!(
        throttled >= 400,
        "only {throttled} of 500 wrong keys were throttled"
    );
    // While throttled, even a right key from that address waits. A block
    // lasts at least a second from the refusal that set it; the loop
    // skips a pair where the machine was too slow to send the right key
    // within it (it does not shorten the block, it only outlived it).
    let mut checked = false;
    for i in 0..20 {
        let (status, _, _) = call("GET", &url, Some(&format!("again-{i:02}")), None, &[]);
        if status != 429 {
            continue;
        }
        let refused_at = Instant::now();
        let (status, _, _) = call("GET", &url, Some("viewer-key-1"), None, &[]);
        if refused_at.elapsed() < Duration::from_millis(900) {
            assert_eq!(status, 429, "a right key inside the block");
            checked = true;
            break;
        }
    }
    assert!(checked, "no right key could be sent within a block");
}

#[test]
fn a_spec_with_100000_operations_is_refused_at_submit_before_anything_is_stored() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with(data.path(), &["--max-body-bytes", "33554432"]);
    let mut paths = serde_json::Map::new();
    for i in 0..100_000 {
        paths.insert(
            format!("/p{i}"),
            json!({"get": {"responses": {"200": {"description": "ok"}}}}),
        );
    }
    let spec = json!({"openapi": "3.0.0", "info": {"title": "huge", "version": "1"}, "servers": [{"url": "https://x.example"}], "paths": paths});
    let body = serde_json::to_vec(&json!({"name": "huge", "protocol": "rest", "spec": spec}))
        .expect("json");
    let started = Instant::now();
    let (status, problem) = post(
        &service,
        "/v1/builder/adapter",
        "builder-key-1",
        Some(&body),
    );
    let took = started.elapsed();
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("defines 100000 operations; at most 5000")),
        "{problem}"
    );
    assert!(
        problem["hint"]
            .as_str()
            .is_some_and(|h| h.contains("max_operations")),
        "{problem}"
    );
    // How fast is a benchmark's question (BENCHMARKS.md, ci/bench-limits);
    // what the test pins is that it was refused before anything was stored
    // or parsed into the IR, and in little memory.
    println!("refused in {took:?}");
    let stored = std::fs::read_dir(data.path().join("jobs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stored, 0, "nothing was stored for the refused spec");
    let pid = service.pid().expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    assert!(peak_kb < 300 * 1024, "peak RSS {peak_kb} kB");
}

/// Runs `aip-builder` with a deadline; `None` when it had to be killed.
fn aip_within(cwd: &Path, args: &[&str], limit: Duration) -> Option<std::process::Output> {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aip-builder"))
        .args(args)
        .current_dir(cwd)
        .env("COSIGN_PASSWORD", crate::support::PASSWORD)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return child.wait_with_output().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn fifos_and_a_file_as_out_are_refused_before_any_work() {
    let work = tempfile::tempdir().expect("tempdir");
    let fifo = work.path().join("spec.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let key = keys().1.display().to_string();
    let module = crate::support::e2e_module().display().to_string();
    for args in [
        vec!["describe", "spec.yaml"],
        vec!["build", "spec.yaml", "--key", &key],
        vec!["verify", &module, "--key", "spec.yaml"],
    ] {
        let out = aip_within(work.path(), &args, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{args:?} hung on a FIFO"));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not a regular file"),
            "{args:?}: {}",
            text(&out)
        );
    }
    std::fs::write(work.path().join("out"), b"a file").expect("write");
    let spec = repo("tests/fixtures/specs/e2e-vendor.yaml")
        .display()
        .to_string();
    let out = aip(
        work.path(),
        &["build", &spec, "--key", &key, "--out", "out"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr.contains("--out out is not a folder"), "{stderr}");
    assert!(
        !stderr.contains("==> ingest"),
        "refused before any work: {stderr}"
    );
}

/// Process ids of every descendant of `pid`, with their command names.
fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head
            .split_once('(')
            .map(|(_, c)| c.to_string())
            .unwrap_or_default();
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        all.push((child, ppid, comm));
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, ppid, comm) in &all {
            if *ppid == parent {
                out.push((*child, comm.clone()));
                frontier.push(*child);
            }
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn no_cargo_outlives_a_killed_service() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut service = BuilderService::start(data.path());
    let (id, _) = submit_uncached(&service, "orphan");
    wait_for_compile(&service, &id);
    let pid = service.pid().expect("pid");
    // Wait until cargo really runs under the service (the shared build
    // folder's lock may make it wait for another build first).
    let deadline = Instant::now() + Duration::from_secs(120);
    let builders = loop {
        let found: Vec<(u32, String)> = descendants(pid)
            .into_iter()
            .filter(|(_, comm)| comm == "cargo" || comm.starts_with("rustc"))
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "cargo never ran: {}",
            service.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    service.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<&(u32, String)> = builders.iter().filter(|(p, _)| alive(*p)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 5 s after the service was killed: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
