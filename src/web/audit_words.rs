//! The audit log in words: each entry as a sentence whose subject links to
//! its page, and the fields a change touched, before and after.

use serde_json::Value;

/// What an action is called in the filter, and the words of its sentence
/// between the actor and the subject.
pub fn action_words(action: &str) -> (&'static str, &'static str) {
    match action {
        "login.success" => ("Sign-ins", "signed in"),
        "login.failure" => ("Failed sign-ins", "failed to sign in"),
        "pool.create" => ("Pools added", "added pool"),
        "pool.update" => ("Pools changed", "changed pool"),
        "pool.activate" => ("Pools activated", "activated pool"),
        "pool.deactivate" => ("Pools deactivated", "deactivated pool"),
        "pool.routing_update" => ("Routing changed", "changed the routing of pool"),
        "api_key.create" => ("API keys created", "created API key"),
        "api_key.revoke" => ("API keys revoked", "revoked API key"),
        "number.activate" => ("Numbers activated", "activated number"),
        "number.deactivate" => ("Numbers deactivated", "deactivated number"),
        "number.sync" => ("Numbers synced", "synced number"),
        "number.quality_update" => ("Quality changes from Meta", "recorded Meta's quality change of number"),
        "waba.link" => ("WABAs linked", "linked WABA"),
        "waba.token_change" => ("Access tokens changed", "changed the access token of WABA"),
        "waba.reconnect_needed" => ("WABAs to reconnect", "marked for reconnecting WABA"),
        "waba.account_update" => ("Account changes from Meta", "recorded Meta's account change of WABA"),
        "user.create" => ("Users added", "added user"),
        "user.role_change" => ("Roles changed", "changed the role of user"),
        "user.disable" => ("Users disabled", "disabled user"),
        "user.enable" => ("Users enabled", "enabled user"),
        "user.password_reset" => ("Passwords reset", "reset the password of user"),
        "user.password_change" => ("Own passwords changed", "changed the password of user"),
        "user.sessions_ended" => ("Signed out everywhere", "signed out everywhere as user"),
        "event_endpoint.create" => ("Event endpoints added", "added event endpoint"),
        "event_endpoint.disable" => ("Event endpoints disabled", "disabled event endpoint"),
        "event_endpoint.enable" => ("Event endpoints enabled", "enabled event endpoint"),
        "event_endpoint.rotate_secret" => ("Signing secrets rotated", "rotated the signing secret of event endpoint"),
        "event_endpoint.test" => ("Test events sent", "sent a test event to event endpoint"),
        "event_endpoint.update" => ("Event endpoints changed", "changed the URL of event endpoint"),
        "event_endpoint.auto_disable" => ("Event endpoints disabled by wabapool", "disabled event endpoint"),
        "event_delivery.resend" => ("Event deliveries resent", "resent a delivery to event endpoint"),
        _ => ("Other", "did something to"),
    }
}

/// One entry, said as a sentence.
pub struct Sentence {
    pub who: String,
    pub verb: &'static str,
    pub subject: String,
    /// Where the subject is seen, if it has a page.
    pub href: Option<String>,
    /// What follows the subject, e.g. "with 2 numbers".
    pub tail: String,
    /// Each changed field: its name, its value before (none for a new
    /// subject) and after.
    pub changes: Vec<(String, Option<String>, String)>,
}

fn parse(json: Option<&str>) -> Value {
    json.and_then(|text| serde_json::from_str(text).ok()).unwrap_or(Value::Null)
}

/// A value as a person reads it.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(text) => format!("\u{201c}{text}\u{201d}"),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

/// The fields that differ between `before` and `after`, in `after`'s order
/// then `before`'s; the version counter is left out.
fn changes(before: &Value, after: &Value) -> Vec<(String, Option<String>, String)> {
    let empty = serde_json::Map::new();
    let (b, a) = (before.as_object(), after.as_object().unwrap_or(&empty));
    let known = b.unwrap_or(&empty);
    let keys = a.keys().chain(known.keys().filter(|k| !a.contains_key(*k)));
    keys.filter(|k| k.as_str() != "version")
        .filter(|k| known.get(*k) != a.get(*k))
        .map(|k| (k.replace('_', " "), b.map(|b| b.get(k).map_or("—".into(), shown)), a.get(k).map_or("—".into(), shown)))
        .collect()
}

/// An audit entry as recorded.
#[derive(Clone, Copy, Default)]
pub struct Entry<'a> {
    pub actor_email: Option<&'a str>,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Option<&'a str>,
    pub enterprise_id: Option<i64>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

impl Sentence {
    /// The entry in words; links to the Numbers page name the enterprise
    /// for an aggregator's user.
    pub fn new(entry: Entry<'_>, is_aggregator: bool) -> Self {
        let Entry { actor_email, action, subject_type, subject_id, enterprise_id, .. } = entry;
        let (before, after) = (parse(entry.before), parse(entry.after));
        let named = |key: &str| after.get(key).or_else(|| before.get(key)).and_then(Value::as_str).map(str::to_owned);
        let id = subject_id.unwrap_or_default();
        let numbers_page = match (is_aggregator, enterprise_id) {
            (true, Some(e)) => format!("/channels/whatsapp/numbers?enterprise_id={e}"),
            _ => "/channels/whatsapp/numbers".to_owned(),
        };
        let (subject, href) = match subject_type {
            _ if action.starts_with("login.") => (String::new(), None),
            "pool" => {
                (named("name").map_or_else(|| format!("#{id}"), |n| format!("\u{201c}{n}\u{201d}")), Some(format!("/channels/whatsapp/pools/{id}")))
            }
            "api_key" => {
                (named("label").map_or_else(|| format!("#{id}"), |n| format!("\u{201c}{n}\u{201d}")), Some("/channels/whatsapp/api-keys".to_owned()))
            }
            "user" => (named("email").unwrap_or_else(|| format!("#{id}")), Some("/settings/users".to_owned())),
            "number" => (named("display").unwrap_or_else(|| format!("#{id}")), Some(numbers_page)),
            "waba" => (named("name").map_or_else(|| format!("#{id}"), |n| format!("\u{201c}{n}\u{201d}")), Some(numbers_page)),
            "event_endpoint" => (named("url").unwrap_or_else(|| format!("#{id}")), Some(format!("/settings/events/{id}"))),
            _ => (id.to_owned(), None),
        };
        let tail = match (action, after.get("numbers")) {
            ("pool.create", Some(Value::Array(numbers))) => {
                format!(" with {} {}", numbers.len(), if numbers.len() == 1 { "number" } else { "numbers" })
            }
            ("event_endpoint.auto_disable", _) => " after 24 hours of failed deliveries".to_owned(),
            ("event_delivery.resend", _) => after.get("delivery").map_or_else(String::new, |d| format!(" (delivery {d})")),
            _ => String::new(),
        };
        let changes = if action == "pool.create" || action.starts_with("login.") { Vec::new() } else { changes(&before, &after) };
        let who = actor_email.map_or_else(|| "wabapool".to_owned(), str::to_owned);
        Self { who, verb: action_words(action).1, subject, href, tail, changes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pool_is_said_with_its_name_link_and_numbers() {
        let after = r#"{"name":"Acme Support","active":true,"numbers":["+1 555-010-0101","+1 555-010-0102"]}"#;
        let entry = Entry {
            actor_email: Some("super@acme.example"),
            action: "pool.create",
            subject_type: "pool",
            subject_id: Some("1"),
            after: Some(after),
            ..Entry::default()
        };
        let said = Sentence::new(entry, false);
        assert_eq!(
            format!("{} {} {}{}", said.who, said.verb, said.subject, said.tail),
            "super@acme.example added pool \u{201c}Acme Support\u{201d} with 2 numbers"
        );
        assert_eq!(said.href.as_deref(), Some("/channels/whatsapp/pools/1"));
        assert!(said.changes.is_empty());
    }

    #[test]
    fn a_change_lists_the_fields_it_touched_and_leaves_the_version_out() {
        let before = r#"{"name":"Acme Support","numbers":["+1 555-010-0101"],"version":1}"#;
        let after = r#"{"name":"Acme Care","numbers":["+1 555-010-0101"],"version":2}"#;
        let entry = Entry {
            action: "pool.update",
            subject_type: "pool",
            subject_id: Some("1"),
            before: Some(before),
            after: Some(after),
            ..Entry::default()
        };
        let said = Sentence::new(entry, false);
        assert_eq!(said.who, "wabapool");
        assert_eq!(said.changes, vec![("name".to_owned(), Some("\u{201c}Acme Support\u{201d}".to_owned()), "\u{201c}Acme Care\u{201d}".to_owned())]);
    }

    #[test]
    fn a_sign_in_names_no_subject_and_a_new_user_shows_values_without_arrows() {
        let entry = Entry {
            actor_email: Some("super@acme.example"),
            action: "login.success",
            subject_type: "user",
            subject_id: Some("4"),
            ..Entry::default()
        };
        let said = Sentence::new(entry, false);
        assert_eq!((said.verb, said.subject.as_str(), said.href), ("signed in", "", None));
        let entry = Entry {
            action: "user.create",
            subject_type: "user",
            subject_id: Some("5"),
            after: Some(r#"{"email":"a@b.example"}"#),
            ..Entry::default()
        };
        let said = Sentence::new(entry, false);
        assert_eq!(said.subject, "a@b.example");
        assert_eq!(said.changes, vec![("email".to_owned(), None, "\u{201c}a@b.example\u{201d}".to_owned())]);
    }

    #[test]
    fn an_event_endpoint_is_named_by_its_url_and_links_to_its_page() {
        let entry = Entry {
            actor_email: Some("super@acme.example"),
            action: "event_endpoint.create",
            subject_type: "event_endpoint",
            subject_id: Some("7"),
            after: Some(r#"{"url":"https://hooks.example.com/wa","event_types":["message.status"],"pool_ids":[]}"#),
            ..Entry::default()
        };
        let said = Sentence::new(entry, false);
        assert_eq!(format!("{} {} {}", said.who, said.verb, said.subject), "super@acme.example added event endpoint https://hooks.example.com/wa");
        assert_eq!(said.href.as_deref(), Some("/settings/events/7"));
        let entry = Entry {
            action: "event_endpoint.auto_disable",
            subject_type: "event_endpoint",
            subject_id: Some("7"),
            before: Some(r#"{"enabled":true}"#),
            after: Some(r#"{"enabled":false}"#),
            ..Entry::default()
        };
        let said = Sentence::new(entry, false);
        assert_eq!(
            format!("{} {} {}{}", said.who, said.verb, said.subject, said.tail),
            "wabapool disabled event endpoint #7 after 24 hours of failed deliveries"
        );
        let entry = Entry {
            action: "event_delivery.resend",
            subject_type: "event_endpoint",
            subject_id: Some("7"),
            before: Some(r#"{"delivery":31,"state":"failed"}"#),
            after: Some(r#"{"delivery":31,"state":"pending"}"#),
            ..Entry::default()
        };
        assert_eq!(Sentence::new(entry, false).tail, " (delivery 31)");
    }

    #[test]
    fn every_action_of_the_log_has_its_words() {
        for action in crate::services::audit_log::ACTIONS {
            assert_ne!(action_words(action).0, "Other", "{action}");
        }
    }
}
