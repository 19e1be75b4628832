//! axe-core, pinned (see `axe/VERSION`), run in the page: a screen passes
//! when axe finds no violation of serious or critical impact.

use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

use crate::browser::Browser;

const AXE_SOURCE: &str = include_str!("axe/axe.min.js");
const AXE_VERSION_FILE: &str = include_str!("axe/VERSION");

/// The sha256 of `axe.min.js` that `axe/VERSION` records.
fn pinned_sha256() -> &'static str {
    AXE_VERSION_FILE
        .lines()
        .find_map(|line| line.strip_prefix("axe.min.js sha256:"))
        .map(str::trim)
        .expect("axe/VERSION records the sha256 of axe.min.js")
}

/// The script is the one `axe/VERSION` names, byte for byte.
pub fn assert_axe_is_the_pinned_release() {
    let actual = hex::encode(Sha256::digest(AXE_SOURCE.as_bytes()));
    assert_eq!(actual, pinned_sha256(), "tests/browser/axe/axe.min.js differs from the release recorded in axe/VERSION");
}

impl Browser {
    /// Runs axe on the current page and fails, listing them, when it finds
    /// violations of serious or critical impact. Returns how many rules
    /// axe checked, so that a test can tell axe really ran.
    pub async fn assert_accessible(&self, screen: &str) -> usize {
        assert_axe_is_the_pinned_release();
        self.wait_for_load().await;
        let loaded = self.js("return typeof window.axe === 'object' && typeof window.axe.run === 'function'").await;
        if loaded != Json::Bool(true) {
            // The script sets window.axe; executed as a function body here,
            // so the page's Content-Security-Policy does not apply.
            self.js(&format!("{AXE_SOURCE}\n;return typeof window.axe;")).await;
        }
        let script = r#"
            const done = arguments[arguments.length - 1];
            window.axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(JSON.stringify({ violations: r.violations, rules: r.passes.length + r.violations.length + r.incomplete.length + r.inapplicable.length, version: r.testEngine.version })))
                .catch(e => done(JSON.stringify({ error: String(e) })));
        "#;
        let raw = self.js_async(script, Vec::new()).await;
        let report: Json = serde_json::from_str(raw.as_str().expect("axe reports JSON text")).expect("axe report parses");
        if let Some(error) = report.get("error") {
            panic!("axe failed on {screen}: {error}");
        }
        assert_eq!(report["version"], "4.10.3", "the pinned axe-core ran");
        let serious: Vec<&Json> = report["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        if !serious.is_empty() {
            let mut message = format!("axe found {} serious or critical violation(s) on {screen}:\n", serious.len());
            for v in &serious {
                message.push_str(&format!("- [{}] {}: {} ({})\n", v["impact"], v["id"], v["help"], v["helpUrl"]));
                for node in v["nodes"].as_array().into_iter().flatten() {
                    message.push_str(&format!(
                        "    at {}\n      {}\n      {}\n",
                        node["target"],
                        node["html"].as_str().unwrap_or_default(),
                        node["failureSummary"].as_str().unwrap_or_default().replace('\n', "\n      ")
                    ));
                }
            }
            panic!("{message}");
        }
        let rules = report["rules"].as_u64().unwrap_or_default();
        usize::try_from(rules).unwrap_or_default()
    }
}
