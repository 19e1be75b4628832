//! Browser tests: the portal in headless Chromium, driven through
//! chromedriver. Each test starts the app on a fresh demo
//! database and a fresh browser profile, and leaves a screenshot of its
//! final screen in `target/screenshots/`.
//!
//! Without /usr/bin/chromium and /usr/bin/chromedriver the tests say so
//! loudly and return, unless `CI` is set: then they fail.

mod accessibility;
mod app;
mod axe;
mod bad_input;
mod browser;
#[path = "../common/mod.rs"]
mod common;
mod flows;
mod harness;
mod keyboard;
mod looks;
