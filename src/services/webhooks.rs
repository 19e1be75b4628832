//! Meta's webhooks applied to the portal's state: number health
//! (`phone_number_quality_update`) and WABA status (`account_update`).
//! Meta delivers late, out of order and more than once, so a delivery
//! whose exact bytes were applied before is skipped; an event dated before
//! the moment the state it would change is known true as of (an event's
//! time at Meta, or a sync) changes nothing; and a message's status only
//! moves forward. Every change is applied only when it changes something,
//! so nothing is audited twice.

use serde_json::json;

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::{DatabaseRunner, ServiceError, events};
use crate::db::{DbConnection, write_transaction};
use crate::domain::events::EventType;
use crate::domain::{QualityRating, ThroughputLevel, WabaStatus};
use crate::meta::signature;
use crate::meta::webhook::{self, AccountUpdate, Envelope, MessagesValue, QualityUpdate, digits};
use crate::routing::{ErrorClass, classify};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::events as event_store;
use crate::store::numbers;
use crate::store::routing as routing_store;
use crate::store::wabas::{self, WabaRow};
use crate::store::webhook_deliveries;

/// How long a delivery's body is remembered: Meta redelivers for up to
/// seven days; a day more covers clocks and queues.
pub const REMEMBER_DELIVERIES_FOR: chrono::Duration = chrono::Duration::days(8);

/// What a delivery did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub applied: usize,
    pub unchanged: usize,
    pub ignored: usize,
    /// Changes older than the state they would change.
    pub stale: usize,
    /// The same bytes were applied before; nothing was read.
    pub redelivered: bool,
}

/// What one change did.
enum Applied {
    Changed,
    Unchanged,
    Ignored,
    Stale,
}

impl From<bool> for Applied {
    fn from(changed: bool) -> Self {
        if changed { Self::Changed } else { Self::Unchanged }
    }
}

/// Whether an event dated `event_at` is older than state known true as of
/// `state_as_of`. Meta dates events to the second, so the state's moment is
/// cut to its second: an event of the same second is not older.
pub fn is_stale(event_at: chrono::NaiveDateTime, state_as_of: Option<chrono::NaiveDateTime>) -> bool {
    use chrono::Timelike as _;
    state_as_of.is_some_and(|as_of| event_at < as_of.with_nanosecond(0).unwrap_or(as_of))
}

/// Forgets deliveries older than [`REMEMBER_DELIVERIES_FOR`]; run periodically.
pub fn prune_deliveries(conn: &mut DbConnection) -> Result<usize, ServiceError> {
    Ok(webhook_deliveries::prune(conn, crate::store::now() - REMEMBER_DELIVERIES_FOR)?)
}

/// The WABA status an `account_update` event leads to; None leaves it as it is.
pub fn status_after(event: &str) -> Option<WabaStatus> {
    match event {
        "ACCOUNT_RESTRICTION" | "ACCOUNT_VIOLATION" | "DISABLED_UPDATE" | "ACCOUNT_DELETED" | "ACCOUNT_OFFBOARDED" => Some(WabaStatus::Suspended),
        "ACCOUNT_RECONNECTED" => Some(WabaStatus::Active),
        _ => None,
    }
}

/// The quality, limit and throughput a `phone_number_quality_update` leads to.
pub fn health_after(
    update: &QualityUpdate,
    quality: &QualityRating,
    tier: Option<&str>,
    throughput: Option<&ThroughputLevel>,
) -> (QualityRating, Option<String>, Option<ThroughputLevel>) {
    let mut quality = quality.clone();
    let mut tier = tier.map(str::to_owned);
    let mut throughput = throughput.cloned();
    if let Some(rating) = update.quality_rating.as_deref().filter(|r| !r.is_empty()) {
        quality = QualityRating::from(rating.to_ascii_uppercase());
    }
    match update.event.as_deref() {
        Some("FLAGGED") => quality = QualityRating::Red,
        Some("UNFLAGGED") if quality.is_red() => quality = QualityRating::Green,
        Some("THROUGHPUT_UPGRADE") => throughput = Some(ThroughputLevel::High),
        _ => {}
    }
    if let Some(limit) = update.current_limit.as_deref().filter(|l| !l.is_empty()) {
        tier = Some(limit.to_owned());
    }
    (quality, tier, throughput)
}

/// What became of one delivery, for Meta's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Applied, or known and skipped (see [`Outcome`]).
    Applied(Outcome),
    /// The signature is missing or is not the app secret's; nothing was read.
    BadSignature,
    /// The body is not a WhatsApp Business Account payload.
    NotWaba,
    /// A change lacks required fields; nothing was applied.
    Refused,
    /// Applying failed for now (logged); Meta redelivers for up to 7 days.
    Failed,
}

/// Receives one delivery as Meta sent it: checks `signature` (the
/// `X-Hub-Signature-256` header) over the exact bytes before reading them,
/// parses them and applies them in one write.
pub async fn receive<D: DatabaseRunner>(db: &D, app_secret: &SecretString, body: &[u8], signature: Option<&str>) -> Result<Receipt, ServiceError> {
    if !signature::verify(app_secret.expose_secret().as_bytes(), body, signature) {
        tracing::warn!("webhook with a missing or wrong signature refused");
        return Ok(Receipt::BadSignature);
    }
    let envelope = match webhook::parse(body) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::info!(%error, "webhook payload refused");
            return Ok(Receipt::NotWaba);
        }
    };
    let body_sha256 = hex::encode(Sha256::digest(body));
    Ok(match db.write(move |conn| Ok(apply(conn, &envelope, &body_sha256))).await? {
        Ok(outcome) => {
            if outcome.applied > 0 {
                events::wake_deliveries();
            }
            tracing::info!(
                applied = outcome.applied,
                unchanged = outcome.unchanged,
                ignored = outcome.ignored,
                stale = outcome.stale,
                redelivered = outcome.redelivered,
                "webhook applied"
            );
            Receipt::Applied(outcome)
        }
        Err(ServiceError::Invalid(errors)) => {
            tracing::info!(problem = ?errors.all(), "webhook change refused");
            Receipt::Refused
        }
        Err(error) => {
            tracing::error!(error = ?error, "applying a webhook failed");
            Receipt::Failed
        }
    })
}

/// Applies one delivery in one transaction; `body_sha256` names its exact
/// bytes, remembered in the same transaction as the changes they made.
pub fn apply(conn: &mut DbConnection, envelope: &Envelope, body_sha256: &str) -> Result<Outcome, ServiceError> {
    write_transaction(conn, |conn| {
        let mut outcome = Outcome::default();
        let received_at = crate::store::now();
        if !webhook_deliveries::note(conn, body_sha256, received_at)? {
            outcome.redelivered = true;
            return Ok(outcome);
        }
        for entry in &envelope.entry {
            let Some(waba) = wabas::find_by_meta_id(conn, &entry.id)? else {
                tracing::info!(waba = %entry.id, "webhook for a WABA this portal does not know");
                outcome.ignored += entry.changes.len();
                continue;
            };
            // An entry Meta did not date is taken as happening now.
            let happened_at = entry.happened_at().unwrap_or(received_at);
            for change in &entry.changes {
                let result = match change.field.as_str() {
                    "messages" => match serde_json::from_value::<MessagesValue>(change.value.clone()) {
                        Ok(value) => messages(conn, &waba, &value)?,
                        Err(e) => return Err(ServiceError::invalid("payload", format!("messages: {e}"))),
                    },
                    "phone_number_quality_update" => match serde_json::from_value::<QualityUpdate>(change.value.clone()) {
                        Ok(update) => quality_update(conn, &waba, &update, happened_at)?,
                        Err(e) => {
                            return Err(ServiceError::invalid("payload", format!("phone_number_quality_update: {e}")));
                        }
                    },
                    "account_update" => match serde_json::from_value::<AccountUpdate>(change.value.clone()) {
                        Ok(update) => account_update(conn, &waba, &update, happened_at)?,
                        Err(e) => {
                            return Err(ServiceError::invalid("payload", format!("account_update: {e}")));
                        }
                    },
                    other => {
                        tracing::info!(field = %other, waba = %entry.id, "webhook field acknowledged without action");
                        Applied::Ignored
                    }
                };
                match result {
                    Applied::Changed => outcome.applied += 1,
                    Applied::Unchanged => outcome.unchanged += 1,
                    Applied::Ignored => outcome.ignored += 1,
                    Applied::Stale => outcome.stale += 1,
                }
            }
        }
        Ok(outcome)
    })
}

fn quality_update(
    conn: &mut DbConnection,
    waba: &WabaRow,
    update: &QualityUpdate,
    happened_at: chrono::NaiveDateTime,
) -> Result<Applied, ServiceError> {
    let wanted = format!("+{}", digits(&update.display_phone_number));
    let Some(number) = numbers::find_in_waba_by_e164(conn, waba.id, &wanted)? else {
        tracing::info!(waba = %waba.meta_waba_id, "quality update for a number this portal does not know");
        return Ok(Applied::Ignored);
    };
    if is_stale(happened_at, numbers::health_as_of(conn, number.id)?) {
        tracing::info!(number = %number.phone_number_id, event = ?update.event, %happened_at, "quality update older than the number's health ignored");
        return Ok(Applied::Stale);
    }
    let (quality, tier, throughput) =
        health_after(update, &number.quality_rating, number.messaging_limit_tier.as_deref(), number.throughput_level.as_ref());
    if quality == number.quality_rating && tier == number.messaging_limit_tier && throughput == number.throughput_level {
        numbers::confirm_health(conn, number.id, happened_at)?;
        return Ok(Applied::Unchanged);
    }
    numbers::set_health(conn, number.id, &quality, tier.as_deref(), throughput.as_ref(), happened_at)?;
    events::number_health(conn, number.id, update.event.as_deref())?;
    audit::record(
        conn,
        &NewAuditEntry {
            enterprise_id: number.enterprise_id,
            action: "number.quality_update",
            subject_type: "number",
            subject_id: Some(number.phone_number_id.clone()),
            before: Some(
                json!({ "quality_rating": number.quality_rating, "messaging_limit_tier": number.messaging_limit_tier, "throughput_level": number.throughput_level }),
            ),
            after: Some(json!({ "quality_rating": quality, "messaging_limit_tier": tier, "throughput_level": throughput, "event": update.event })),
            ..NewAuditEntry::default()
        },
    )?;
    Ok(Applied::Changed)
}

/// Inbound messages open the 24-hour service window for (number, user) and
/// refresh the sticky sender; statuses update the send log, and a failure
/// with a number-level code cools the member down as the send path does.
fn messages(conn: &mut DbConnection, waba: &WabaRow, value: &MessagesValue) -> Result<Applied, ServiceError> {
    let Some(number) = numbers::find_by_phone_number_id(conn, &value.metadata.phone_number_id)?.filter(|n| n.waba_id == waba.id) else {
        tracing::info!(waba = %waba.meta_waba_id, "messages webhook for a number this portal does not know");
        return Ok(Applied::Ignored);
    };
    let mut changed = false;
    let membership = event_store::membership(conn, number.id)?;
    for inbound in &value.messages {
        let from = digits(&inbound.from);
        if from.is_empty() || from.len() > 15 {
            continue;
        }
        let sent_at = inbound.timestamp.parse::<i64>().ok().and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|t| t.naive_utc());
        let expires = sent_at.unwrap_or_else(crate::store::now) + chrono::Duration::hours(24);
        routing_store::open_window(conn, number.id, &from, expires)?;
        if let Some((pool_id, ..)) = &membership {
            routing_store::set_sticky(conn, *pool_id, &from, number.id)?;
        }
        if let Some(enterprise_id) = membership.as_ref().map(|m| m.1).or(number.enterprise_id) {
            let contact = value.contacts.iter().find(|c| c.wa_id.as_deref().map(digits).as_deref() == Some(from.as_str())).or(value.contacts.first());
            let tags = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
            events::emit(
                conn,
                events::Event {
                    enterprise_id,
                    kind: EventType::MessageReceived,
                    pool_id: membership.as_ref().map(|m| m.0),
                    message_id: None,
                    customer: Some(&from),
                    data: json!({
                        "pool_id": membership.as_ref().map(|m| m.0),
                        "phone_number_id": number.phone_number_id,
                        "display_phone_number": number.display_phone_number,
                        "from": from,
                        "wamid": inbound.id,
                        "message_type": inbound.kind,
                        "text": inbound.text.as_ref().map(|t| &t.body),
                        "contact_name": contact.and_then(|c| c.profile.as_ref()).and_then(|p| p.name.as_ref()),
                        "region": membership.as_ref().map(|m| tags(&m.2)).unwrap_or_default(),
                        "department": membership.as_ref().map(|m| tags(&m.3)).unwrap_or_default(),
                        "received_at": sent_at.unwrap_or_else(crate::store::now).and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    }),
                },
            )?;
        }
        changed = true;
    }
    for status in &value.statuses {
        let code = status.errors.first().map(|e| e.code);
        let wanted = match status.status.as_str() {
            "sent" | "delivered" | "read" | "failed" => status.status.as_str(),
            _ => continue,
        };
        // A status that does not move the message forward changes nothing,
        // and cools nothing down.
        let moved = routing_store::set_status_by_wamid(conn, &status.id, wanted, code)? > 0;
        changed |= moved;
        if moved && let Some((message_id, pool_id, enterprise_id, to)) = event_store::message_by_wamid(conn, &status.id)? {
            let error = status.errors.first().map(|e| (e.code, e.title.as_deref()));
            events::message_status(conn, enterprise_id, message_id, pool_id, Some(&number.phone_number_id), &to, Some(&status.id), wanted, error)?;
        }
        if moved
            && wanted == "failed"
            && classify(code, None) == ErrorClass::CoolDownMember
            && let Some(pool_id) = crate::store::pools::pool_of_number(conn, number.id)?
        {
            routing_store::cool_down(
                conn,
                pool_id,
                number.id,
                crate::store::now() + chrono::Duration::minutes(crate::services::routing::COOL_DOWN_MINUTES),
            )?;
        }
    }
    Ok(changed.into())
}

fn account_update(
    conn: &mut DbConnection,
    waba: &WabaRow,
    update: &AccountUpdate,
    happened_at: chrono::NaiveDateTime,
) -> Result<Applied, ServiceError> {
    let Some(status) = status_after(&update.event) else {
        tracing::info!(event = %update.event, waba = %waba.meta_waba_id, "account update acknowledged without action");
        return Ok(Applied::Ignored);
    };
    if is_stale(happened_at, waba.status_as_of) {
        tracing::info!(event = %update.event, waba = %waba.meta_waba_id, %happened_at, "account update older than the WABA's status ignored");
        return Ok(Applied::Stale);
    }
    if !wabas::set_status_as_of(conn, waba.id, status, Some(&update.event), happened_at)? {
        return Ok(Applied::Unchanged);
    }
    let linked = wabas::linked_enterprises(conn, waba.id)?;
    events::waba_status(conn, waba.id, status.as_str(), Some(&update.event))?;
    for enterprise_id in linked {
        audit::record(
            conn,
            &NewAuditEntry {
                enterprise_id: Some(enterprise_id),
                action: "waba.account_update",
                subject_type: "waba",
                subject_id: Some(waba.meta_waba_id.clone()),
                before: Some(json!({ "status": waba.status })),
                after: Some(
                    json!({ "status": status, "event": update.event, "restriction_info": update.restriction_info, "ban_info": update.ban_info }),
                ),
                ..NewAuditEntry::default()
            },
        )?;
    }
    Ok(Applied::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(event: Option<&str>, limit: Option<&str>) -> QualityUpdate {
        QualityUpdate {
            display_phone_number: "15550100101".into(),
            event: event.map(str::to_owned),
            current_limit: limit.map(str::to_owned),
            old_limit: None,
            quality_rating: None,
        }
    }

    #[test]
    fn flagged_numbers_turn_red_and_unflagged_ones_recover() {
        assert_eq!(health_after(&update(Some("FLAGGED"), None), &QualityRating::Green, None, None).0, QualityRating::Red);
        assert_eq!(health_after(&update(Some("UNFLAGGED"), None), &QualityRating::Red, None, None).0, QualityRating::Green);
        assert_eq!(health_after(&update(Some("UNFLAGGED"), None), &QualityRating::Yellow, None, None).0, QualityRating::Yellow);
    }

    #[test]
    fn limits_and_throughput_follow_the_event() {
        let (_, tier, throughput) = health_after(
            &update(Some("THROUGHPUT_UPGRADE"), Some("TIER_10K")),
            &QualityRating::Green,
            Some("TIER_1K"),
            Some(&ThroughputLevel::Standard),
        );
        assert_eq!(tier.as_deref(), Some("TIER_10K"));
        assert_eq!(throughput, Some(ThroughputLevel::High));
    }

    #[test]
    fn restrictions_and_bans_suspend_and_reconnection_restores() {
        for event in ["ACCOUNT_RESTRICTION", "ACCOUNT_VIOLATION", "DISABLED_UPDATE", "ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED"] {
            assert_eq!(status_after(event), Some(WabaStatus::Suspended), "{event}");
        }
        assert_eq!(status_after("ACCOUNT_RECONNECTED"), Some(WabaStatus::Active));
        assert_eq!(status_after("PARTNER_ADDED"), None);
    }

    #[test]
    fn only_an_event_older_than_the_state_is_stale() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc();
        assert!(is_stale(at(99), Some(at(100))));
        assert!(!is_stale(at(100), Some(at(100))), "the same second is not older");
        assert!(!is_stale(at(100), Some(at(100) + chrono::Duration::milliseconds(900))), "nor is the start of that second");
        assert!(!is_stale(at(101), Some(at(100))));
        assert!(!is_stale(at(1), None), "state of no known age takes any event");
    }
}
