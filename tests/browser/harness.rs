//! Headless Chromium driven through chromedriver: the check that both are
//! installed, one chromedriver and one browser session per test, tests run
//! one at a time, and a screenshot of every test's final screen.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::app::spawn_app;
use crate::browser::Browser;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The default window: a laptop screen.
pub const DESKTOP: (u32, u32) = (1280, 900);

/// One browser at a time: the machines that run this have two cores, and
/// a test's timing should not depend on its neighbours.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether Chromium and chromedriver are installed. In CI their absence
/// fails the test; elsewhere it is reported loudly and the test returns.
fn browser_installed(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    match browser_gate(&missing, std::env::var("CI").ok().as_deref()) {
        Gate::Run => true,
        Gate::Fail(message) => panic!("{message}"),
        Gate::SkipLoudly(message) => {
            let bar = "!".repeat(78);
            eprintln!("\n{bar}\n!!! BROWSER TEST NOT RUN: {test}\n!!! {message}\n{bar}\n");
            false
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Gate {
    Run,
    Fail(String),
    SkipLoudly(String),
}

/// What to do given the missing programs and the value of `CI`.
fn browser_gate(missing: &[&str], ci: Option<&str>) -> Gate {
    if missing.is_empty() {
        return Gate::Run;
    }
    let what = missing.join(" and ");
    if ci.is_some_and(|v| !v.is_empty()) {
        Gate::Fail(format!("CI is set and {what} is missing: the browser tests cannot be skipped in CI (apt-get install chromium chromium-driver)"))
    } else {
        Gate::SkipLoudly(format!(
            "{what} not installed; install them with `apt-get install chromium chromium-driver`. With CI set, this is a failure."
        ))
    }
}

#[test]
fn a_missing_browser_fails_the_tests_in_ci_and_is_reported_elsewhere() {
    assert_eq!(browser_gate(&[], Some("true")), Gate::Run);
    assert_eq!(browser_gate(&[], None), Gate::Run);
    assert!(matches!(browser_gate(&[CHROMIUM], Some("true")), Gate::Fail(m) if m.contains(CHROMIUM)));
    assert!(matches!(browser_gate(&[CHROMEDRIVER], Some("1")), Gate::Fail(_)));
    assert!(matches!(browser_gate(&[CHROMIUM, CHROMEDRIVER], None), Gate::SkipLoudly(m) if m.contains(CHROMEDRIVER)));
    assert!(matches!(browser_gate(&[CHROMIUM], Some("")), Gate::SkipLoudly(_)));
}

/// Runs one browser test: the app on a fresh demo database, a fresh
/// Chromium profile, the test body, then a screenshot of the final screen
/// at `target/screenshots/<test>.png`, taken whether the body passed or not.
pub async fn browser_test<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !browser_installed(test) {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let app = Arc::new(spawn_app().await);
    let driver = ChromeDriver::start();
    let client = driver.new_session().await;
    let browser = Browser::new(client.clone(), Arc::clone(&app));

    // The body runs as its own task so that a failed assertion still
    // leaves us the browser to photograph and close.
    let outcome = tokio::spawn(body(browser.clone())).await;

    browser.screenshot(test).await;
    let _ = client.close().await;
    drop(driver);
    drop(app);
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(other) => panic!("{test} did not finish: {other}"),
        }
    }
}

/// A chromedriver process of our own on a free port, with the Chromium it
/// starts in the same process group, ended together when dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl ChromeDriver {
    fn start() -> Self {
        use std::os::unix::process::CommandExt as _;
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let port = free_port();
        let log = std::fs::File::create(profile.path().join("chromedriver.log")).expect("chromedriver log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} starts: {e}"));
        let driver = Self { child, port, profile };
        driver.wait_until_ready();
        driver
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not listen on port {} within 20 s: {}", self.port, self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromedriver.log")).unwrap_or_default()
    }

    async fn new_session(&self) -> Client {
        let user_data = self.profile.path().join("chromium");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-quic".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--lang=en-GB".to_owned(),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            format!("--user-data-dir={}", user_data.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "timeouts": { "script": 30_000, "pageLoad": 30_000, "implicit": 0 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut last_error = None;
        // Chromium's first start on a cold machine can outlast one attempt.
        for _ in 0..3 {
            match ClientBuilder::new(HttpConnector::new()).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return client,
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("Chromium session did not start: {last_error:?}\nchromedriver log:\n{}", self.log());
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started share the process group
        // we gave it; end that group only.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// Where screenshots go: `target/screenshots/`, under `CARGO_TARGET_DIR`
/// when it is set.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}
