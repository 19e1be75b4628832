//! `Browser`: one Chromium session on the app under test, with the few
//! things the tests do in it (go to a page, sign in, find, wait, press
//! keys, run a script, take a screenshot).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::Value as Json;

use crate::app::{PASSWORD, TestApp};
use crate::harness::screenshot_dir;

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Browser {
    pub client: Client,
    pub app: Arc<TestApp>,
}

impl Browser {
    pub fn new(client: Client, app: Arc<TestApp>) -> Self {
        Self { client, app }
    }

    /// Opens a path of the app and waits for the page to load.
    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.app.url(path)).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        self.wait_for_load().await;
    }

    /// Signs in as a demo user through the login form.
    pub async fn login(&self, email: &str) {
        self.goto("/login").await;
        self.submit_login(email, PASSWORD).await;
        self.wait_until(&format!("{email} is signed in"), "return location.pathname !== '/login' && document.readyState === 'complete'").await;
    }

    /// Types an email and a password into the login form on screen and submits it.
    pub async fn submit_login(&self, email: &str, password: &str) {
        self.find("#email").await.send_keys(email).await.expect("email typed");
        self.find("#password").await.send_keys(password).await.expect("password typed");
        self.click("form[action='/login'] button[type=submit]").await;
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The first element matching a CSS selector, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element matches {css} on {}: {e}", self.path_or_unknown().await),
        }
    }

    /// Every element matching a CSS selector, now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap_or_else(|e| panic!("find_all {css}: {e}"))
    }

    /// Whether any element matches a CSS selector, now.
    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// The visible text of the first element matching a CSS selector,
    /// whitespace collapsed.
    pub async fn text(&self, css: &str) -> String {
        let raw = self.find(css).await.text().await.unwrap_or_else(|e| panic!("text of {css}: {e}"));
        collapse(&raw)
    }

    /// The visible text of the whole page, whitespace collapsed.
    pub async fn page_text(&self) -> String {
        collapse(self.js("return document.body.innerText").await.as_str().unwrap_or_default())
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Runs a script (a function body; `arguments` holds `args`).
    pub async fn js_with(&self, script: &str, args: Vec<Json>) -> Json {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn js(&self, script: &str) -> Json {
        self.js_with(script, Vec::new()).await
    }

    /// Runs an asynchronous script whose last argument is its callback.
    pub async fn js_async(&self, script: &str, args: Vec<Json>) -> Json {
        self.client.execute_async(script, args).await.unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// Waits until a script returns true; fails with `what` otherwise.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // A navigation in progress can make a script fail: try again.
            if let Ok(Json::Bool(true)) = self.client.execute(script, Vec::new()).await {
                return;
            }
            if Instant::now() > deadline {
                panic!("waited {PATIENCE:?} for: {what} (on {})", self.path_or_unknown().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) {
        let script = format!("return document.readyState === 'complete' && document.body.innerText.includes({})", Json::from(needle));
        self.wait_until(&format!("the page says \u{201c}{needle}\u{201d}"), &script).await;
    }

    pub async fn wait_for_load(&self) {
        self.wait_until("the page loads", "return document.readyState === 'complete'").await;
    }

    /// Waits until the page is at `path` (and loaded).
    pub async fn wait_for_path(&self, path: &str) {
        let script = format!("return document.readyState === 'complete' && (location.pathname + location.search) === {}", Json::from(path));
        self.wait_until(&format!("the browser is at {path}"), &script).await;
    }

    /// Sets a marker on `window`; it survives only while no page loads.
    pub async fn mark_window(&self) {
        self.js("window.__wabapoolMarker = 'still the same page'; return true").await;
    }

    pub async fn window_marker_survives(&self) -> bool {
        self.js("return window.__wabapoolMarker === 'still the same page'").await == Json::Bool(true)
    }

    /// Presses keys one after another through WebDriver key actions, as a
    /// keyboard would (each key down, then up).
    pub async fn press(&self, keys: &[Key]) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys {
            let value: char = (*key).into();
            actions = actions.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.expect("keys pressed");
    }

    /// Types text through WebDriver key actions, one key per character.
    pub async fn type_text(&self, text: &str) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for value in text.chars() {
            actions = actions.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.expect("text typed");
    }

    /// Presses Shift+Tab: focus moves backwards.
    pub async fn press_shift_tab(&self) {
        let (shift, tab): (char, char) = (Key::Shift.into(), Key::Tab.into());
        let actions = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        self.client.perform_actions(actions).await.expect("Shift+Tab pressed");
    }

    /// Double-clicks an element with the mouse: two presses in quick
    /// succession, as an impatient user does.
    pub async fn double_click(&self, css: &str) {
        let element = self.find(css).await;
        let actions = MouseActions::new("mouse".to_owned())
            .then(PointerAction::MoveToElement { element, duration: None, x: 0.0, y: 0.0 })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(actions).await.expect("double click");
    }

    /// The checkbox of a number on the Add or Edit page, by display number.
    pub async fn number_box(&self, display: &str) -> Element {
        let xpath = format!(
            "//label[contains(concat(' ', normalize-space(@class), ' '), ' number-choice ')][.//*[normalize-space()='{display}']]//input[@type='checkbox']"
        );
        match self.client.wait().at_most(PATIENCE).for_element(Locator::XPath(&xpath)).await {
            Ok(element) => element,
            Err(e) => panic!("no checkbox for {display} on {}: {e}", self.path_or_unknown().await),
        }
    }

    /// Ticks (or unticks) the boxes of these numbers with the mouse.
    pub async fn click_numbers(&self, displays: &[&str]) {
        for display in displays {
            self.number_box(display).await.click().await.unwrap_or_else(|e| panic!("click the box of {display}: {e}"));
        }
    }

    /// The live counter under the numbers ("3 of 10 selected").
    pub async fn counter(&self) -> String {
        self.text("[data-selection-counter]").await
    }

    /// Waits until the counter reads `expected`.
    pub async fn wait_for_counter(&self, expected: &str) {
        let script = format!(
            "const c = document.querySelector('[data-selection-counter]'); return c !== null && c.textContent.replace(/\\s+/g, ' ').trim() === {}",
            Json::from(expected)
        );
        self.wait_until(&format!("the counter reads \u{201c}{expected}\u{201d}"), &script).await;
    }

    /// Signs out with the header's button.
    pub async fn sign_out(&self) {
        self.click("form[action='/logout'] button[type=submit]").await;
        self.wait_for_path("/login").await;
    }

    /// The HTTP status of the page now shown, as the browser received it.
    pub async fn page_status(&self) -> u64 {
        self.js("const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0").await.as_u64().unwrap_or_default()
    }

    /// A short description of the focused element, for assertions and
    /// failure messages: tag, then its accessible name or text.
    pub async fn focused(&self) -> String {
        let script = r#"
            const el = document.activeElement;
            if (!el || el === document.body) return 'body';
            const name = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].innerText)
                || el.innerText || el.value || el.id || '';
            return el.tagName.toLowerCase() + ': ' + name.replace(/\s+/g, ' ').trim();
        "#;
        self.js(script).await.as_str().unwrap_or_default().to_owned()
    }

    /// Presses Tab until the focused element matches `css`, at most `limit`
    /// times, as a keyboard user moving through the page.
    pub async fn tab_to(&self, css: &str, limit: usize) {
        let check = format!("return document.activeElement !== null && document.activeElement.matches({})", Json::from(css));
        let mut visited = Vec::new();
        for _ in 0..limit {
            if self.js(&check).await == Json::Bool(true) {
                return;
            }
            self.press(&[Key::Tab]).await;
            visited.push(self.focused().await);
        }
        if self.js(&check).await != Json::Bool(true) {
            panic!("{limit} presses of Tab did not reach {css}; focus went through: {visited:#?}");
        }
    }

    /// Saves a screenshot of the visible screen as
    /// `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        match self.client.screenshot().await {
            Ok(png) => {
                let path = screenshot_dir().join(format!("{name}.png"));
                std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            }
            Err(e) => eprintln!("no screenshot for {name}: {e}"),
        }
    }

    /// Resizes the window so that the page's viewport is `width` CSS
    /// pixels wide, and checks that it is.
    pub async fn set_viewport_width(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.expect("window resized");
        let inner = self.js("return window.innerWidth").await.as_u64().unwrap_or_default();
        if inner != u64::from(width) {
            // Whatever the window adds around the page, add it to the window.
            let extra = u32::try_from(i64::from(width) - i64::try_from(inner).unwrap_or_default()).unwrap_or_default();
            self.client.set_window_size(width + extra, height).await.expect("window resized");
        }
        let inner = self.js("return window.innerWidth").await.as_u64().unwrap_or_default();
        assert_eq!(inner, u64::from(width), "the viewport should be {width} px wide");
    }

    async fn path_or_unknown(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.path().to_owned(),
            Err(_) => "an unknown page".to_owned(),
        }
    }
}

pub fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
