//! A real headless Chromium for the console's tests, driven over WebDriver
//! (chromedriver from Debian's `chromium-driver`, started per test on a
//! free loopback port) with fantoccini. `ci/provision` installs both.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// chromedriver and a browser session; both end when this is dropped.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// Runs the async WebDriver calls for the synchronous tests.
    pub runtime: tokio::runtime::Runtime,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver runs (apt-get install chromium-driver; ci/provision installs it)",
            );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let profile = tempfile::tempdir().expect("tempdir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = runtime.block_on(async {
            loop {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(capabilities.clone())
                    .connect(&url)
                    .await
                {
                    Ok(client) => break client,
                    Err(e) if Instant::now() > deadline => {
                        panic!("chromedriver at {url} gave no session: {e}")
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        Browser {
            client,
            runtime,
            driver,
            _profile: profile,
        }
    }

    /// Opens `url` and waits for the page.
    pub fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client.goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.runtime
            .block_on(self.client.current_url())
            .expect("the current URL")
            .to_string()
    }

    /// The text of the first element matching the CSS selector. A page
    /// that is still loading or reloading (the job page reloads itself when
    /// the job ends) is waited for, up to five seconds.
    pub fn text(&self, css: &str) -> String {
        let mut tries = 0;
        loop {
            let found = self
                .runtime
                .block_on(async { self.client.find(Locator::Css(css)).await?.text().await });
            match found {
                Ok(text) => return text,
                Err(e) if tries < 50 && is_transient(&e) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("no text at {css}: {e}"),
            }
        }
    }

    /// Waits (up to `seconds`) until the text at `css` is `expected`.
    pub fn wait_for_text(&self, css: &str, expected: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let text = self.text(css);
            if text == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} still says {text:?}, not {expected:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many elements match the CSS selector.
    pub fn count(&self, css: &str) -> usize {
        self.runtime
            .block_on(self.client.find_all(Locator::Css(css)))
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Types `value` into the field matching `css`.
    pub fn fill(&self, css: &str, value: &str) {
        self.runtime
            .block_on(async {
                let field = self.client.find(Locator::Css(css)).await?;
                field.clear().await?;
                field.send_keys(value).await
            })
            .unwrap_or_else(|e| panic!("cannot fill {css}: {e}"));
    }

    /// Clicks the link or button matching `css` and waits until the page
    /// it loads has replaced this one (the old page's root element is gone).
    pub fn click(&self, css: &str) {
        let old_page = self
            .runtime
            .block_on(self.client.find(Locator::Css("html")))
            .unwrap_or_else(|e| panic!("no page to click {css} on: {e}"));
        self.toggle(css);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.runtime.block_on(old_page.tag_name()).is_ok() {
            assert!(Instant::now() < deadline, "clicking {css} loaded no page");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `value` into the field matching `css` and presses Enter, as
    /// someone using the keyboard alone would, then waits for the page the
    /// form loads.
    pub fn type_and_enter(&self, css: &str, value: &str) {
        let old_page = self
            .runtime
            .block_on(self.client.find(Locator::Css("html")))
            .unwrap_or_else(|e| panic!("no page: {e}"));
        self.fill(css, &format!("{value}\u{E007}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.runtime.block_on(old_page.tag_name()).is_ok() {
            assert!(Instant::now() < deadline, "Enter in {css} loaded no page");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses Tab until the element matching `css` has the focus, as
    /// someone using the keyboard alone would; panics naming the controls
    /// the focus went through when it never gets there.
    pub fn tab_to(&self, css: &str) {
        let mut visited = Vec::new();
        for _ in 0..80 {
            let here = self.script(&format!(
                "var a = document.activeElement; \
                 return [a.matches({css:?}), a.id || a.tagName + ' ' + (a.textContent || '').trim().slice(0, 30)];"
            ));
            if here[0] == json!(true) {
                return;
            }
            visited.push(here[1].as_str().unwrap_or_default().to_string());
            self.press('\u{E004}');
        }
        panic!("Tab never reached {css}; the focus went through {visited:?}");
    }

    /// Presses and releases one key (a WebDriver key code such as Tab,
    /// `\u{E004}`) on the keyboard, wherever the focus is.
    pub fn press(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.runtime
            .block_on(self.client.perform_actions(actions))
            .unwrap_or_else(|e| panic!("cannot press {key:?}: {e}"));
    }

    /// Types `keys` into whatever has the focus (a file input takes paths).
    pub fn keys(&self, keys: &str) {
        self.runtime
            .block_on(async { self.client.active_element().await?.send_keys(keys).await })
            .unwrap_or_else(|e| panic!("cannot type {keys:?}: {e}"));
    }

    /// Presses Enter on whatever has the focus and waits for the page it
    /// loads.
    pub fn enter_and_wait(&self) {
        let old_page = self
            .runtime
            .block_on(self.client.find(Locator::Css("html")))
            .unwrap_or_else(|e| panic!("no page: {e}"));
        self.press('\u{E007}');
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.runtime.block_on(old_page.tag_name()).is_ok() {
            assert!(Instant::now() < deadline, "Enter loaded no page");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page's visible, enabled controls a keyboard cannot reach or that
    /// have no label a person can see (a `<label>`, or the control's own
    /// text). A disabled control is skipped: its label says why.
    pub fn controls_without_keyboard_or_label(&self) -> Vec<String> {
        let found = self.script(
            "var bad = []; \
             document.querySelectorAll('a[href], button, input, select, textarea').forEach(function (c) { \
               if (c.type === 'hidden' || c.disabled || c.offsetParent === null || c.classList.contains('skip')) { return; } \
               var name = c.id || c.tagName + ' ' + (c.textContent || '').trim().slice(0, 30); \
               if (c.tabIndex < 0) { bad.push(name + ': not reachable by Tab'); } \
               var text = (c.tagName === 'INPUT' && (c.type === 'submit' || c.type === 'button')) ? c.value : (c.textContent || '').trim(); \
               var labelled = text.length > 0 && c.tagName !== 'SELECT' && c.tagName !== 'TEXTAREA' && c.tagName !== 'INPUT'; \
               if (!labelled && c.labels && c.labels.length > 0) { labelled = Array.prototype.some.call(c.labels, function (l) { return l.textContent.trim().length > 0; }); } \
               if (!labelled) { bad.push(name + ': no visible label'); } \
             }); return bad;",
        );
        serde_json::from_value(found).unwrap_or_default()
    }

    /// Clicks the element matching `css` (a checkbox: nothing is loaded).
    pub fn toggle(&self, css: &str) {
        self.runtime
            .block_on(async { self.client.find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Runs `script` (its `return` value is the result) in the page.
    pub fn script(&self, script: &str) -> Value {
        self.runtime
            .block_on(self.client.execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Runs an async `script` whose last argument is the callback to call
    /// with the result.
    pub fn async_script(&self, script: &str) -> Value {
        self.runtime
            .block_on(self.client.execute_async(script, Vec::new()))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The value of the cookie `name`, as WebDriver (not the page) sees it.
    pub fn cookie(&self, name: &str) -> Option<(String, bool)> {
        self.runtime
            .block_on(self.client.get_named_cookie(name))
            .ok()
            .map(|c| (c.value().to_string(), c.http_only().unwrap_or(false)))
    }
}

impl Browser {
    /// Sets the window's size in CSS pixels.
    pub fn resize(&self, width: u32, height: u32) {
        self.runtime
            .block_on(self.client.set_window_size(width, height))
            .unwrap_or_else(|e| panic!("cannot resize the window: {e}"));
    }

    /// Saves a PNG of the page as `<name>.png` in the suite's scratch
    /// folder, and also in `docs/console/` when `AIP_UPDATE_SCREENSHOTS=1`
    /// (README's console section shows those). Returns the PNG.
    pub fn screenshot(&self, name: &str) -> Vec<u8> {
        let png = self
            .runtime
            .block_on(self.client.screenshot())
            .unwrap_or_else(|e| panic!("cannot take a screenshot: {e}"));
        let scratch = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
        let _ = std::fs::create_dir_all(&scratch);
        let _ = std::fs::write(scratch.join(format!("{name}.png")), &png);
        if std::env::var_os("AIP_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
            let docs = crate::support::repo("docs/console");
            std::fs::create_dir_all(&docs).expect("docs/console");
            std::fs::write(docs.join(format!("{name}.png")), &png).expect("write the screenshot");
        }
        png
    }

    /// Whether a JavaScript dialog (alert, confirm, prompt) is open.
    pub fn dialog_open(&self) -> bool {
        self.runtime.block_on(self.client.get_alert_text()).is_ok()
    }
}

/// Errors of a page in transition: the element went away with the page
/// it was on, or the new page has not drawn it yet.
fn is_transient(error: &fantoccini::error::CmdError) -> bool {
    let text = error.to_string();
    text.contains("stale element") || text.contains("no such element")
}

impl Drop for Browser {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.runtime.block_on(client.close());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
