//! The operators' console in a real headless Chromium: sign-in with an API
//! key exchanged for an HttpOnly session cookie, the Agents page with
//! status chips from real verification, tenants, filters, the module page
//! with its SBOM and re-verification, sign-out that revokes; and, over
//! plain HTTP, the cookie's attributes, CSRF refusals and page headers.

use std::path::Path;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::service_harness::{BuilderService, call, submit_job};
use crate::support::{Steps, copy_dir, e2e_module, keys};

/// A service whose registry holds the e2e module for `acme` (verifies with
/// the trusted test key) and a copy for `globex` whose manifest was edited
/// after signing, its description now carrying markup.
fn service_with_modules(data: &Path) -> (BuilderService, String) {
    let module = e2e_module();
    let manifest: Value =
        serde_yaml_ng::from_slice(&std::fs::read(module.join("manifest.yaml")).expect("manifest"))
            .expect("YAML");
    let version = manifest["metadata"]["version"]
        .as_str()
        .expect("a version")
        .to_string();
    copy_dir(
        module,
        &data.join(format!("modules/acme/e2e-vendor/{version}")),
    );
    let tampered = data.join(format!("modules/globex/e2e-vendor/{version}"));
    copy_dir(module, &tampered);
    let text = std::fs::read_to_string(tampered.join("manifest.yaml")).expect("manifest");
    let description = manifest["metadata"]["description"]
        .as_str()
        .expect("a description");
    let edited = text.replacen(description, "<img src=x onerror=alert(1)> edited", 1);
    assert_ne!(edited, text, "the description was edited");
    std::fs::write(tampered.join("manifest.yaml"), edited).expect("write");
    let config = data.join("aip-builder.toml");
    std::fs::write(
        &config,
        format!(
            "[service]\ntrusted_keys = [{:?}]\n",
            keys().2.display().to_string()
        ),
    )
    .expect("config");
    let service =
        BuilderService::start_with_env(data, &[], &[("AIP_CONFIG", &config.display().to_string())]);
    (service, version)
}

/// Signs `key` in on the console's sign-in page.
fn sign_in(browser: &Browser, service: &BuilderService, key: &str) {
    browser.goto(&service.url("/console/sign-in"));
    browser.fill("#api_key", key);
    browser.click("#sign-in");
}

/// Waits (up to ten minutes: a cold compile) until the job page the
/// browser shows has reloaded itself at the job's end.
fn wait_for_job_end(browser: &Browser) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while browser.count("#job-module") == 0 && browser.count("#job-error") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the job page never showed the end: {}",
            browser.text("main")
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn operators_sign_in_see_true_chips_inspect_modules_and_sign_out_in_a_real_browser() {
    let data = tempfile::tempdir().expect("tempdir");
    let (service, version) = service_with_modules(data.path());
    let browser = Browser::start();

    let mut steps = Steps::start("the console sends a visitor without a session to sign in");
    browser.goto(&service.url("/console"));
    assert!(
        browser.url().ends_with("/console/sign-in"),
        "{}",
        browser.url()
    );

    assert_keyboard_ready(&browser);

    steps.enter("a wrong key is refused on the page");
    browser.fill("#api_key", "not-a-real-key");
    browser.click("#sign-in");
    assert!(
        browser
            .text("#problem")
            .contains("not one this service accepts"),
        "{}",
        browser.text("#problem")
    );

    steps.enter(
        "a viewer of acme signs in with the keyboard alone and sees acme's module, Installed",
    );
    browser.type_and_enter("#api_key", "viewer-key-1");
    assert!(
        browser.url().ends_with("/console/agents"),
        "the key is not in the URL: {}",
        browser.url()
    );
    assert_eq!(browser.text("#who"), "acme · viewer");
    assert_keyboard_ready(&browser);
    assert_eq!(browser.count("#modules tbody tr"), 1, "only acme's module");
    let row = "#modules tr[data-module='e2e-vendor']";
    assert_eq!(browser.text(&format!("{row} .chip")), "Installed");
    assert!(browser.text(row).contains(&version));
    assert!(browser.text(row).contains("WASM component"));

    steps.enter("the session cookie is HttpOnly: the page's script cannot read it");
    let (session, http_only) = browser.cookie("aip_session").expect("a session cookie");
    assert!(http_only);
    assert_eq!(browser.script("return document.cookie;"), json!(""));
    assert!(
        !service.log().contains("viewer-key-1"),
        "the key never reaches the log"
    );

    steps.enter("the module page shows the manifest, the key, the SBOM and every check");
    browser.click(&format!("{row} a"));
    assert_eq!(browser.text("#chip"), "Installed");
    assert!(
        browser.text("#hosts").contains("api.e2e.example"),
        "{}",
        browser.text("#hosts")
    );
    assert!(browser.text("#artifact-digest").starts_with("sha256:"));
    assert!(
        browser.text("#key").starts_with("sha256:"),
        "{}",
        browser.text("#key")
    );
    assert!(
        browser.count("#components tbody tr") > 0,
        "the SBOM lists components"
    );
    assert!(browser.count("#intents tbody tr") > 0);

    steps.enter("re-running verification shows each check passed");
    browser.click("#re-verify");
    assert!(
        browser
            .text("#verify-detail")
            .ends_with("checks passed just now"),
        "{}",
        browser.text("#verify-detail")
    );
    assert!(
        browser.count("#checks td.ok") >= 3,
        "each check has its row"
    );

    steps.enter(
        "the JSON API accepts the session for reads, and refuses writes without the CSRF token",
    );
    let sbom = browser.async_script(
        "const done = arguments[arguments.length - 1];
         fetch(document.querySelector('#download-sbom').href).then(r => r.json()).then(j => done(j.bomFormat), e => done(String(e)));",
    );
    assert_eq!(sbom, json!("CycloneDX"));
    let write = browser.async_script(&format!(
        "const done = arguments[arguments.length - 1];
         fetch('/v1/modules/e2e-vendor/versions/{version}/verify', {{method: 'POST'}}).then(r => done(r.status), e => done(String(e)));"
    ));
    assert_eq!(write, json!(403));

    steps.enter("sign-out revokes the session: the old cookie opens nothing");
    browser.click("#sign-out");
    assert!(
        browser.url().ends_with("/console/sign-in"),
        "{}",
        browser.url()
    );
    browser.goto(&service.url("/console/agents"));
    assert!(browser.url().ends_with("/console/sign-in"));
    let cookie = format!("aip_session={session}");
    let (status, _, _) = call(
        "GET",
        &service.url("/v1/modules"),
        None,
        None,
        &[("Cookie", &cookie)],
    );
    assert_eq!(status, 401);

    steps.enter(
        "an admin sees every tenant, and globex's edited module is Unverified, naming the check",
    );
    browser.fill("#api_key", "admin-key-01");
    browser.click("#sign-in");
    assert_eq!(browser.count("#modules tbody tr"), 2);
    browser.goto(&service.url("/console/agents?tenant=acme"));
    assert_eq!(
        browser.count("#modules tbody tr"),
        1,
        "an admin narrows to one tenant"
    );
    assert!(browser.text("#modules tbody tr").contains("acme"));
    browser.goto(&service.url("/console/agents?tenant=Not_A_Tenant"));
    assert!(
        browser.text("#problem").contains("a tenant is a name"),
        "{}",
        browser.text("main")
    );
    browser.goto(&service.url("/console/agents?chip=Unverified"));
    assert_eq!(browser.count("#modules tbody tr"), 1);
    let unverified = browser.text("#modules tbody tr");
    assert!(
        unverified.contains("globex") && unverified.contains("Unverified"),
        "{unverified}"
    );
    assert!(
        unverified.contains("failed check: manifest"),
        "{unverified}"
    );

    steps.enter(
        "spec and manifest text stays text: the edited description's markup is shown, not run",
    );
    assert!(
        unverified.contains("<img src=x onerror=alert(1)> edited"),
        "{unverified}"
    );
    assert_eq!(browser.count("#modules img"), 0);

    steps.enter("filters that match nothing say so");
    browser.fill("#filter-name", "no-such-module");
    browser.click("#filter");
    assert_eq!(browser.text("#no-modules"), "No modules match.");
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

#[test]
fn sessions_are_strict_cookies_and_state_changes_need_the_csrf_token() {
    let data = tempfile::tempdir().expect("tempdir");
    let (service, version) = service_with_modules(data.path());
    let agent = no_redirects();

    let mut steps = Steps::start("sign-in answers with a redirect and a strict, HttpOnly cookie");
    let response = agent
        .post(&service.url("/console/sign-in"))
        .header("X-Forwarded-Proto", "https")
        .send_form([("api_key", "builder-key-1")])
        .expect("sign-in");
    assert_eq!(response.status().as_u16(), 303);
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_string();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
        "Secure",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let cookie = set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string();

    steps.enter("another tenant's modules are not there for this one");
    let mut response = agent
        .get(&service.url("/console/agents?tenant=globex"))
        .header("Cookie", &cookie)
        .call()
        .expect("agents");
    assert_eq!(response.status().as_u16(), 404);
    let html = response.body_mut().read_to_string().expect("html");
    assert!(
        html.contains("no such tenant") && !html.contains("data-module="),
        "{html}"
    );

    steps.enter("pages carry a policy that allows only this origin, and are not cached");
    let response = agent
        .get(&service.url("/console/agents"))
        .header("Cookie", &cookie)
        .call()
        .expect("agents");
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header("content-security-policy").contains("default-src 'none'"));
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("cache-control"), "no-store");

    steps.enter("a form without the session's CSRF token changes nothing");
    let verify = format!("/console/modules/e2e-vendor/versions/{version}/verify");
    let response = agent
        .post(&service.url(&verify))
        .header("Cookie", &cookie)
        .send_form([("csrf", "forged")])
        .expect("verify");
    assert_eq!(response.status().as_u16(), 403);
    let response = agent
        .post(&service.url("/console/sign-out"))
        .header("Cookie", &cookie)
        .send_form([("csrf", "forged")])
        .expect("sign-out");
    assert_eq!(
        response.status().as_u16(),
        403,
        "no other site can sign an operator out"
    );
    let (status, _, _) = call(
        "GET",
        &service.url("/v1/modules"),
        None,
        None,
        &[("Cookie", &cookie)],
    );
    assert_eq!(status, 200, "the session still works");

    steps.enter("an API write with the session and its token is accepted");
    let mut response = agent
        .get(&service.url("/console/agents"))
        .header("Cookie", &cookie)
        .call()
        .expect("agents");
    let html = response.body_mut().read_to_string().expect("html");
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSRF token")
        .to_string();
    let (status, _, body) = call(
        "POST",
        &service.url(&format!("/v1/modules/e2e-vendor/versions/{version}/verify")),
        None,
        Some(b""),
        &[("Cookie", &cookie), ("X-CSRF-Token", &token)],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verified"], json!(true), "{body}");
    let (status, _, _) = call(
        "POST",
        &service.url(&format!("/v1/modules/e2e-vendor/versions/{version}/verify")),
        None,
        Some(b""),
        &[("Cookie", &cookie)],
    );
    assert_eq!(status, 403);
}

/// A spec whose two operations share an operationId: lenient mode renames
/// the second with a warning, strict mode refuses it.
const TWICE: &str = "openapi: 3.0.3
info: {title: Twice, version: '1.0'}
servers: [{url: 'https://twice.example/api'}]
paths:
  /a: {get: {operationId: fetch, responses: {'200': {description: ok}}}}
  /b: {get: {operationId: fetch, responses: {'200': {description: ok}}}}
";

#[test]
fn operators_check_and_build_vendor_specs_and_follow_the_job_live() {
    let data = tempfile::tempdir().expect("tempdir");
    let (service, _) = service_with_modules(data.path());
    let browser = Browser::start();

    let mut steps = Steps::start("a viewer is offered no build controls");
    sign_in(&browser, &service, "viewer-key-1");
    assert_eq!(browser.count("#add-vendor-spec"), 0);
    browser.goto(&service.url("/console/build"));
    assert_eq!(browser.count("#build-form"), 0);
    assert!(browser.text("#viewer-note").contains("viewer role"));
    browser.click("#sign-out");

    steps.enter("a builder checks a pasted spec: its operations, hosts and the repair it needs");
    browser.fill("#api_key", "builder-key-1");
    browser.click("#sign-in");
    browser.click("#add-vendor-spec");
    browser.fill("#name", "twice");
    browser.fill("#spec-text", TWICE);
    browser.click("#check");
    assert_eq!(
        browser.count("#report-operations tbody tr"),
        2,
        "{}",
        browser.text("main")
    );
    assert_eq!(browser.text("#report-hosts"), "twice.example");
    assert!(
        browser
            .text("#report-warnings")
            .contains("duplicate-operation-id"),
        "{}",
        browser.text("#report-warnings")
    );
    assert_eq!(
        std::fs::read_dir(data.path().join("checks"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "a check leaves nothing behind"
    );

    steps.enter("strict refuses the same spec, with the error and a hint in the form's terms");
    assert_eq!(
        browser.script("return document.querySelector('#spec-text').value;"),
        json!(TWICE),
        "the form kept the spec"
    );
    browser.toggle("#strict");
    browser.click("#check");
    let problem = browser.text("#problem");
    assert!(problem.contains("fetch"), "{problem}");
    assert!(problem.contains("hint: Strict is ticked"), "{problem}");
    assert!(
        !problem.contains("\"strict\": true"),
        "no API terms in the console: {problem}"
    );

    steps.enter("a multi-file spec uploaded as files, with its entry named, checks");
    let upload = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        upload.path().join("main.yaml"),
        "openapi: 3.0.3\ninfo: {title: Split, version: '1'}\nservers: [{url: 'https://split.example'}]\npaths:\n  /things: {get: {operationId: listThings, responses: {'200': {description: ok, content: {application/json: {schema: {$ref: 'schemas.yaml#/Thing'}}}}}}}\n",
    )
    .expect("write");
    std::fs::write(
        upload.path().join("schemas.yaml"),
        "Thing: {type: object, properties: {id: {type: string}}}\n",
    )
    .expect("write");
    browser.goto(&service.url("/console/build"));
    browser.fill("#name", "split");
    let paths = format!(
        "{}\n{}",
        upload.path().join("main.yaml").display(),
        upload.path().join("schemas.yaml").display()
    );
    browser.fill("#spec-files", &paths);
    browser.fill("#entry", "main.yaml");
    browser.click("#check");
    assert_eq!(
        browser.text("#report-operations tbody tr td"),
        "listThings",
        "{}",
        browser.text("main")
    );

    steps.enter(
        "with the keyboard alone, Build Adapter builds the multi-file spec; its page follows the job live",
    );
    browser.goto(&service.url("/console/agents"));
    assert_keyboard_ready(&browser);
    browser.tab_to("#add-vendor-spec");
    browser.enter_and_wait();
    assert_keyboard_ready(&browser);
    browser.tab_to("#name");
    browser.keys("console-built");
    browser.tab_to("#version");
    browser.keys("1.2.0");
    // A file input takes its paths as keys: WebDriver's way of choosing
    // files, and the only one (the chooser is the system's, not the page's).
    browser.tab_to("#spec-files");
    browser.keys(&paths);
    browser.tab_to("#entry");
    browser.keys("main.yaml");
    browser.tab_to("#build");
    browser.enter_and_wait();
    assert!(
        browser.url().contains("/console/jobs/job-"),
        "{}",
        browser.url()
    );
    let job_url = browser.url();
    wait_for_job_end(&browser);
    assert_eq!(
        browser.text("#job-state"),
        "succeeded",
        "{}",
        browser.text("main")
    );
    assert!(
        browser.url() == job_url,
        "the page reloaded itself at the end"
    );
    let stages = browser.text("#stages");
    for stage in ["ingest", "render", "compile", "register"] {
        assert!(stages.contains(stage), "{stage} in {stages}");
    }
    assert!(browser.count("#events tbody tr") > 5);

    steps.enter("a reconnecting event stream resumes after the last event it saw");
    let job_id = job_url.rsplit('/').next().expect("a job id").to_string();
    let (session, _) = browser.cookie("aip_session").expect("a session");
    let mut response = crate::service_harness::agent()
        .get(&service.url(&format!("/v1/builder/jobs/{job_id}/events")))
        .header("Cookie", &format!("aip_session={session}"))
        .header("Last-Event-ID", "3")
        .call()
        .expect("events");
    let stream = response
        .body_mut()
        .read_to_string()
        .expect("the stream ends: the job has");
    let ids: Vec<i64> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .filter_map(|id| id.trim().parse().ok())
        .collect();
    assert_eq!(ids.first(), Some(&4), "{stream}");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");

    assert_keyboard_ready(&browser);

    steps.enter("the job links to its module, Installed (by keyboard)");
    browser.tab_to("#job-module a");
    browser.enter_and_wait();
    assert_keyboard_ready(&browser);
    assert_eq!(browser.text("#chip"), "Installed");
    assert!(
        browser.text("#built-by").contains(&job_id),
        "the module names the job that built it"
    );
    assert!(browser.text("h1").starts_with("console-built"));
    assert!(browser.text("#intents").contains("listThings"));
    assert!(
        browser.count("#components tbody tr") > 10,
        "the SBOM table lists the adapter's crates"
    );
    browser.tab_to("#re-verify");
    browser.enter_and_wait();
    assert_eq!(browser.text("#chip"), "Installed");
    assert!(browser.count("#checks td.ok") >= 3, "every check passed");

    steps.enter("the jobs list shows it, and filters by state");
    browser.goto(&service.url("/console/jobs?state=succeeded"));
    assert_keyboard_ready(&browser);
    assert_eq!(browser.count("#jobs tbody tr"), 1);
    browser.goto(&service.url("/console/jobs?state=failed"));
    assert_eq!(browser.text("#no-jobs"), "No jobs match.");
}

/// Every visible control on the page is reachable by Tab and has a label a
/// person can see, and the focused control is outlined.
fn assert_keyboard_ready(browser: &Browser) {
    let bad = browser.controls_without_keyboard_or_label();
    assert!(bad.is_empty(), "on {}: {bad:?}", browser.url());
    browser.tab_to("a[href], button");
    let outline = browser.script("return getComputedStyle(document.activeElement).outlineStyle;");
    assert_ne!(
        outline,
        json!("none"),
        "the focus is visible on {}",
        browser.url()
    );
}

#[test]
fn a_queued_build_is_cancelled_from_its_page() {
    let data = tempfile::tempdir().expect("tempdir");
    let hold = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with_env(
        data.path(),
        &["--max-builds", "1"],
        &[(
            "AIP_FAILPOINT_HOLD_START",
            &hold.path().display().to_string(),
        )],
    );
    let browser = Browser::start();
    sign_in(&browser, &service, "builder-key-1");

    let mut steps = Steps::start("a first build holds the only build slot");
    let build = |name: &str| {
        browser.goto(&service.url("/console/build"));
        browser.fill("#name", name);
        browser.fill("#spec-text", TWICE);
        browser.click("#build");
        browser.url()
    };
    let _first = build("holds-the-slot");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_dir(hold.path())
        .map(|d| d.count())
        .unwrap_or(0)
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first build never took the slot"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    steps.enter("a second build waits, queued, and Cancel ends it");
    let second = build("waits");
    assert!(
        second.contains("/console/jobs/job-"),
        "{second}: {}",
        browser.text("main")
    );
    assert_eq!(browser.text("#job-state"), "queued");
    browser.click("#cancel");
    browser.wait_for_text("#job-state", "cancelled", 10);
    assert!(
        browser
            .text("#job-error")
            .contains("cancelled before it started"),
        "{}",
        browser.text("main")
    );
    assert_eq!(browser.count("#cancel"), 0, "an ended job offers no Cancel");
}

#[test]
fn the_check_endpoint_tells_ci_and_vendors_what_would_be_built() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start(data.path());
    let url = service.url("/v1/builder/adapter/check");
    let body = |strict: bool| {
        serde_json::to_vec(
            &json!({"name": "twice", "protocol": "rest", "spec": TWICE, "strict": strict}),
        )
        .expect("json")
    };

    let mut steps = Steps::start("a builder gets the operations, intents, hosts and repairs");
    let (status, _, report) = call("POST", &url, Some("builder-key-1"), Some(&body(false)), &[]);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["name"], json!("twice"));
    assert_eq!(report["target"], json!("wasm"));
    assert_eq!(report["hosts"], json!(["twice.example"]));
    let ids: Vec<&str> = report["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(ids, ["fetch", "fetch_2"]);
    assert_eq!(
        report["warnings"][0]["kind"],
        json!("duplicate-operation-id")
    );
    let (_, _, jobs) = call(
        "GET",
        &service.url("/v1/modules"),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(
        jobs["modules"],
        json!([]),
        "nothing was built or registered"
    );

    steps.enter("strict refuses, with the hint in the API's terms");
    let (status, _, problem) = call("POST", &url, Some("builder-key-1"), Some(&body(true)), &[]);
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("\"strict\": true"),
        "{problem}"
    );

    steps.enter("a viewer may not");
    let (status, _, _) = call("POST", &url, Some("viewer-key-1"), Some(&body(false)), &[]);
    assert_eq!(status, 403);
}

/// The injection spec stayed text on the page: no script ran, no dialog
/// opened, no element it carries exists, and `needle` reads literally.
fn assert_inert(browser: &Browser, needle: &str) {
    assert!(!browser.dialog_open(), "a dialog opened");
    assert_eq!(
        browser.script("return typeof window.injected;"),
        json!("undefined"),
        "an injected script ran"
    );
    for injected in [
        "main img",
        "main svg",
        "main script",
        "main b",
        "main a[href^='javascript:']",
    ] {
        assert_eq!(browser.count(injected), 0, "{injected} exists");
    }
    let text = browser.text("main");
    assert!(
        text.contains(needle),
        "{needle} is not visible literally in: {text}"
    );
}

#[test]
fn spec_text_stays_text_on_every_page_and_bad_specs_are_refused_with_their_location() {
    let data = tempfile::tempdir().expect("tempdir");
    let (service, _) = service_with_modules(data.path());
    let browser = Browser::start();
    browser.resize(1280, 800);
    sign_in(&browser, &service, "builder-key-1");
    let injection = crate::support::repo("tests/fixtures/specs/injection.yaml")
        .display()
        .to_string();

    let mut steps = Steps::start("Check shows the injection spec's title and operation id as text");
    browser.goto(&service.url("/console/build"));
    browser.fill("#name", "injection");
    browser.fill("#spec-files", &injection);
    browser.click("#check");
    assert_inert(
        &browser,
        "<script>window.injected = 1</script>Injection {{ 7 * 7 }}",
    );
    assert!(
        browser
            .text("#report-operations")
            .contains("get<b>Thing</b>{{id}}")
    );

    steps.enter("built, its job page and module page keep it text");
    browser.goto(&service.url("/console/build"));
    browser.fill("#name", "injection");
    browser.fill("#spec-files", &injection);
    browser.click("#build");
    wait_for_job_end(&browser);
    browser.screenshot("job");
    assert_eq!(
        browser.text("#job-state"),
        "succeeded",
        "{}",
        browser.text("main")
    );
    browser.click("#job-module a");
    assert_inert(
        &browser,
        "AIP adapter for <script>window.injected = 1</script>Injection {{ 7 * 7 }}",
    );
    assert!(browser.text("#intents").contains("get<b>Thing</b>{{id}}"));
    browser.screenshot("module");
    browser.goto(&service.url("/console/agents"));
    assert_inert(
        &browser,
        "AIP adapter for <script>window.injected = 1</script>Injection {{ 7 * 7 }}",
    );
    browser.screenshot("agents-text");
    browser.resize(390, 844);
    browser.screenshot("agents-narrow");
    let overflow =
        browser.script("return document.documentElement.scrollWidth - window.innerWidth;");
    assert!(
        overflow.as_i64() <= Some(0),
        "the page scrolls sideways at 390 px: {overflow}"
    );
    browser.resize(1280, 800);

    steps.enter("an invalid spec: the error names where, and nothing is registered");
    browser.goto(&service.url("/console/build"));
    browser.fill("#name", "broken");
    browser.fill(
        "#spec-text",
        "openapi: 3.0.3\ninfo: {title: Broken, version: '1'}\npaths:\n  /x:\n    get:\n      responses: {'200': {description: ok, content: {application/json: {schema: {$ref: 'missing.yaml#/X'}}}}}\n",
    );
    browser.click("#build");
    let problem = browser.text("#problem");
    assert!(problem.contains("missing.yaml"), "{problem}");
    assert!(
        problem.contains("#/paths/~1x/get"),
        "the JSON pointer of the ref: {problem}"
    );
    assert!(browser.url().ends_with("/console/build"), "no job was made");
    assert!(
        !data.path().join("modules/acme/broken").exists(),
        "nothing registered"
    );
    assert_eq!(
        browser.script("return document.querySelector('#name').value;"),
        json!("broken"),
        "the form kept its values"
    );

    steps.enter(
        "a module tampered with on disk: Re-run verification says Unverified and names the check",
    );
    let installed = std::fs::read_dir(data.path().join("modules/acme/e2e-vendor"))
        .expect("acme's module")
        .flatten()
        .next()
        .expect("a version")
        .path();
    let sbom = installed.join("sbom.cdx.json");
    let mut bytes = std::fs::read(&sbom).expect("sbom");
    bytes.extend_from_slice(b"\n");
    std::fs::write(&sbom, bytes).expect("tamper");
    browser.goto(&service.url("/console/modules/e2e-vendor"));
    browser.click("#re-verify");
    assert_eq!(browser.text("#chip"), "Unverified");
    assert!(
        browser.text("#failed-check").contains("sbom-modified"),
        "{}",
        browser.text("#verification")
    );
}

#[test]
fn the_api_lists_jobs_and_signing_keys_and_trades_keys_for_sessions() {
    let data = tempfile::tempdir().expect("tempdir");
    let hold = tempfile::tempdir().expect("tempdir");
    let service = BuilderService::start_with_env(
        data.path(),
        &["--max-builds", "1"],
        &[(
            "AIP_FAILPOINT_HOLD_START",
            &hold.path().display().to_string(),
        )],
    );
    let submit = |name: &str, key: &str| {
        let body = serde_json::to_vec(&json!({"name": name, "protocol": "rest", "spec": TWICE}))
            .expect("json");
        submit_job(&service, key, &body)
    };

    let mut steps = Steps::start("jobs are listed newest first, paged, by state, per tenant");
    let first = submit("one", "builder-key-1");
    let second = submit("two", "builder-key-1");
    let third = submit("three", "builder-key-1");
    let other = submit("theirs", "globex-key-1");
    let (status, _, page) = call(
        "GET",
        &service.url("/v1/builder/jobs?limit=2"),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{page}");
    let ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|j| j["id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(ids(&page), [third.as_str(), second.as_str()]);
    let next = page["next"].as_str().expect("a next page").to_string();
    let (_, _, page) = call(
        "GET",
        &service.url(&format!("/v1/builder/jobs?limit=2&before={next}")),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(
        ids(&page),
        std::slice::from_ref(&first),
        "globex's job is not acme's to see"
    );
    assert!(page.get("next").is_none());
    let (status, _, _) = call(
        "POST",
        &service.url(&format!("/v1/builder/jobs/{second}/cancel")),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert!(status == 200 || status == 202, "{status}");
    let (_, _, cancelled) = call(
        "GET",
        &service.url("/v1/builder/jobs?state=cancelled"),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(ids(&cancelled), std::slice::from_ref(&second));
    let (_, _, all) = call(
        "GET",
        &service.url("/v1/builder/jobs"),
        Some("admin-key-01"),
        None,
        &[],
    );
    assert!(ids(&all).contains(&other), "an admin sees every tenant's");
    let (status, _, _) = call(
        "GET",
        &service.url("/v1/builder/jobs?before=nonsense"),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 422);

    steps.enter("the signing keys a tenant may use");
    let (status, _, keys) = call(
        "GET",
        &service.url("/v1/builder/signing-keys"),
        Some("viewer-key-1"),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(keys["keys"], json!(["default"]));

    steps.enter("a key becomes a session cookie, and sign-out needs its CSRF token");
    let body = serde_json::to_vec(&json!({"api_key": "builder-key-1"})).expect("json");
    let mut response = crate::service_harness::agent()
        .post(&service.url("/v1/session"))
        .header("Content-Type", "application/json")
        .send(&body[..])
        .expect("sign-in");
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let info: Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().expect("body")).expect("json");
    assert_eq!(
        (info["tenant"].as_str(), info["role"].as_str()),
        (Some("acme"), Some("builder"))
    );
    assert!(
        !info
            .to_string()
            .contains(cookie.trim_start_matches("aip_session=")),
        "the token is only in the cookie"
    );
    let csrf = info["csrf"].as_str().expect("a CSRF token").to_string();
    let (status, _, _) = call(
        "GET",
        &service.url("/v1/builder/jobs"),
        None,
        None,
        &[("Cookie", &cookie)],
    );
    assert_eq!(status, 200);
    let sign_out = |token: &str| {
        crate::service_harness::agent()
            .delete(&service.url("/v1/session"))
            .header("Cookie", &cookie)
            .header("X-CSRF-Token", token)
            .call()
            .expect("sign-out")
            .status()
            .as_u16()
    };
    assert_eq!(sign_out("forged"), 403);
    assert_eq!(sign_out(&csrf), 204);
    let (status, _, _) = call(
        "GET",
        &service.url("/v1/builder/jobs"),
        None,
        None,
        &[("Cookie", &cookie)],
    );
    assert_eq!(status, 401, "the session is over");
    let bad = serde_json::to_vec(&json!({"api_key": "wrong-key-123"})).expect("json");
    let (status, _, _) = call("POST", &service.url("/v1/session"), None, Some(&bad), &[]);
    assert_eq!(status, 401);
}

/// Hard-links every file of `from` into `to` (a thousand module copies
/// cost no disk).
fn link_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            link_dir(&entry.path(), &target);
        } else {
            std::fs::hard_link(entry.path(), &target).expect("hard link");
        }
    }
}

/// What the browser measured of the page it shows (Navigation and
/// Resource Timing): ms to interactive, bytes transferred.
fn page_cost(browser: &Browser) -> (f64, f64) {
    let cost = browser.script(
        "const nav = performance.getEntriesByType('navigation')[0];
         const bytes = performance.getEntriesByType('resource').reduce((n, r) => n + r.transferSize, nav.transferSize);
         return [nav.domInteractive, bytes];",
    );
    (
        cost[0].as_f64().unwrap_or(-1.0),
        cost[1].as_f64().unwrap_or(-1.0),
    )
}

/// A thousand modules: every one is reached exactly once by paging, the
/// filters find one among them, and the browser's own timing of each page
/// is printed (`ci/bench-console` runs this in release for BENCHMARKS.md).
#[test]
fn the_agents_page_pages_through_a_thousand_modules() {
    let data = tempfile::tempdir().expect("tempdir");
    let (service, version) = service_with_modules(data.path());
    for i in 0..1000 {
        link_dir(
            e2e_module(),
            &data.path().join(format!("modules/acme/m{i:04}/{version}")),
        );
    }
    let browser = Browser::start();
    browser.resize(1280, 800);
    sign_in(&browser, &service, "viewer-key-1");

    let mut steps = Steps::start("paging visits every module once");
    let mut seen = std::collections::BTreeSet::new();
    let mut costs = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        costs.push(page_cost(&browser));
        let names = browser.script(
            "return [...document.querySelectorAll('#modules tbody tr')].map(r => r.dataset.module);",
        );
        for name in names.as_array().into_iter().flatten() {
            let name = name.as_str().expect("a name").to_string();
            assert!(seen.insert(name.clone()), "{name} shown twice");
        }
        if browser.count("#next-page") == 0 {
            break;
        }
        browser.click("#next-page");
    }
    assert_eq!(seen.len(), 1001, "1,000 copies and e2e-vendor");
    assert_eq!(pages, 21, "50 per page");

    steps.enter("a name filter finds one module among a thousand");
    browser.goto(&service.url("/console/agents?name=m0999"));
    assert_eq!(browser.count("#modules tbody tr"), 1);
    // The peer, same run, same browser: the JSON API's first page of the
    // same modules (what a single-page app would fetch before drawing).
    let api = browser.async_script(
        "const done = arguments[arguments.length - 1];
         const t0 = performance.now();
         fetch('/v1/modules?limit=50').then(r => r.text()).then(t => done([performance.now() - t0, t.length]), e => done(String(e)));",
    );
    let (interactive, bytes) = costs[0];
    let worst = costs.iter().map(|c| c.0).fold(0.0, f64::max);
    let heaviest = costs.iter().map(|c| c.1).fold(0.0, f64::max);
    println!(
        "agents page, 1,001 modules, 50 per page: first page interactive in {interactive:.0} ms, {bytes:.0} bytes; worst of {pages} pages {worst:.0} ms, heaviest {heaviest:.0} bytes; peer GET /v1/modules?limit=50 {:.0} ms, {} bytes",
        api[0].as_f64().unwrap_or(-1.0),
        api[1]
    );
}

/// `aip-builder build` of the e2e spec as `name` at `version`, signed with
/// `key`, pushed to `dest`.
fn build_and_push(name: &str, version: &str, key: &Path, dest: &str) {
    let work = tempfile::tempdir().expect("tempdir");
    let spec = crate::support::repo("tests/fixtures/specs/e2e-vendor.yaml")
        .display()
        .to_string();
    let key = key.display().to_string();
    let out = crate::support::aip(
        work.path(),
        &[
            "build",
            &spec,
            "--name",
            name,
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
    assert!(
        out.status.success(),
        "build and push {name} {version}: {}",
        crate::support::text(&out)
    );
}

#[test]
fn registry_modules_show_not_installed_and_needs_update_and_install_from_the_console() {
    let registry = crate::registry_server::Registry::start();
    let host = registry.host();
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("aip-builder.toml");
    std::fs::write(
        &config,
        format!(
            "[service]\ntrusted_keys = [{:?}]\n",
            keys().2.display().to_string()
        ),
    )
    .expect("config");
    let service = BuilderService::start_with_env(
        data.path(),
        &["--registry", &host],
        &[("AIP_CONFIG", &config.display().to_string())],
    );
    let mut steps = Steps::start("a module only in the registry is Not Installed");
    let pushed = crate::support::aip(
        data.path(),
        &[
            "push",
            &e2e_module().display().to_string(),
            &format!("{host}/team/e2e-vendor"),
        ],
    );
    assert!(pushed.status.success(), "{}", crate::support::text(&pushed));
    let browser = Browser::start();
    sign_in(&browser, &service, "builder-key-1");
    let row = "#modules tr[data-module='e2e-vendor']";
    assert_eq!(
        browser.text(&format!("{row} .chip")),
        "Not Installed",
        "{}",
        browser.text("main")
    );
    let (_, _, catalog) = call(
        "GET",
        &service.url("/v1/catalog"),
        Some("builder-key-1"),
        None,
        &[],
    );
    assert_eq!(
        catalog["modules"][0]["status"],
        json!("Not Installed"),
        "{catalog}"
    );

    steps.enter("Install makes it Installed, verified with the service's keys");
    browser.click(&format!("{row} button.install"));
    assert_eq!(
        browser.text("#chip"),
        "Installed",
        "{}",
        browser.text("main")
    );

    steps.enter("a newer signed version in the registry: Needs Update; another publisher's module: Not Installed, untrusted");
    build_and_push(
        "e2e-vendor",
        "9.0.0",
        &keys().1,
        &format!("{host}/team/e2e-vendor"),
    );
    let stranger_keys = tempfile::tempdir().expect("tempdir");
    let made = crate::support::aip(stranger_keys.path(), &["keygen", "--out", "."]);
    assert!(made.status.success(), "{}", crate::support::text(&made));
    build_and_push(
        "a-stranger",
        "1.0.0",
        &stranger_keys.path().join("cosign.key"),
        &format!("{host}/team/a-stranger"),
    );
    browser.resize(1280, 800);
    browser.goto(&service.url("/console/agents"));
    assert_eq!(
        browser.text(&format!("{row} .chip")),
        "Needs Update",
        "{}",
        browser.text("main")
    );
    browser.screenshot("agents");
    let stranger = "#modules tr[data-module='a-stranger']";
    assert_eq!(browser.text(&format!("{stranger} .chip")), "Not Installed");
    assert_eq!(
        browser.script(
            "return Array.from(document.querySelectorAll('#modules tbody tr')).map(r => r.dataset.module);"
        ),
        json!(["a-stranger", "e2e-vendor"]),
        "installed and available modules in one order by name"
    );
    assert!(
        browser
            .text(stranger)
            .contains("no version there is signed with a key this service trusts")
    );

    steps.enter("a module no trusted key signed cannot be installed, and the page says why");
    browser.click(&format!("{stranger} button.install"));
    let problem = browser.text("#problem");
    assert!(problem.to_lowercase().contains("sign"), "{problem}");
    assert!(
        !data.path().join("modules/acme/a-stranger").exists(),
        "nothing installed"
    );

    steps.enter("Update installs the newer signed version");
    browser.goto(&service.url("/console/agents?chip=Needs+Update"));
    assert_eq!(browser.count("#modules tbody tr"), 1);
    browser.click(&format!("{row} button.update"));
    assert_eq!(browser.text("#chip"), "Installed");
    assert!(
        browser.url().contains("/versions/9.0.0"),
        "{}",
        browser.url()
    );
    let (_, _, catalog) = call(
        "GET",
        &service.url("/v1/catalog?refresh=true"),
        Some("builder-key-1"),
        None,
        &[],
    );
    let statuses: Vec<(&str, &str)> = catalog["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m["name"].as_str()?, m["status"].as_str()?)))
        .collect();
    assert_eq!(
        statuses,
        [("a-stranger", "Not Installed"), ("e2e-vendor", "Installed")]
    );
}
