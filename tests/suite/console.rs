//! The operators' console in a real headless Chromium: sign-in with an API
//! key exchanged for an HttpOnly session cookie, the Agents page with
//! status chips from real verification, tenants, filters, the module page
//! with its SBOM and re-verification, sign-out that revokes; and, over
//! plain HTTP, the cookie's attributes, CSRF refusals and page headers.

use std::path::Path;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::service_harness::{BuilderService, call};
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

    steps.enter("a viewer of acme signs in and sees acme's module, Installed");
    browser.fill("#api_key", "viewer-key-1");
    browser.click("#sign-in");
    assert!(
        browser.url().ends_with("/console/agents"),
        "the key is not in the URL: {}",
        browser.url()
    );
    assert_eq!(browser.text("#who"), "acme · viewer");
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
