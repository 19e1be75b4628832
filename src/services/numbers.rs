//! WhatsApp numbers from Meta: the Numbers page, linking a WABA with its
//! access token, syncing its numbers, and a number's portal status.
//!
//! Graph API calls are async and happen outside any transaction: a
//! service first checks permission, the caller talks to Meta, and a second
//! service stores the answer in one transaction, or nothing when Meta failed.

use secrecy::SecretString;
use serde_json::json;

use super::access::{EnterpriseChoices, chosen_enterprise, enterprise_choices, enterprise_in_scope, enterprises_in_scope, require_channel_admin};
use super::{Actor, DatabaseRunner, FieldErrors, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{E164, EnterpriseId, NumberStatus, QualityRating, ThroughputLevel, WabaStatus};
use crate::meta::GraphClient;
use crate::meta::error::GraphError;
pub use crate::meta::types::MetaWaba;
use crate::meta::types::PhoneNumberInfo;
use crate::security::secrets::{Sealed, SecretKeys};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::numbers::{self, MetaFields, NumberRow};
use crate::store::orgs::EnterpriseRow;
use crate::store::pools;
use crate::store::wabas::{self, WabaRow};

/// The least time between two syncs of one WABA: with two calls a sync,
/// manual and background syncs together stay inside Meta's ~200 calls/hour.
pub const MIN_SECONDS_BETWEEN_SYNCS: i64 = 60;

#[derive(Debug, Clone)]
pub struct NumberView {
    pub id: i64,
    pub phone_number_id: String,
    pub display: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub meta_status: String,
    pub quality: QualityRating,
    pub messaging_limit: String,
    pub throughput: String,
    pub pool_name: Option<String>,
    pub last_synced: String,
    /// Meta reports it connected and verified: an admin may activate it.
    pub ready: bool,
    /// Assigned to another enterprise (R13); shown without naming it.
    pub unavailable: bool,
}

#[derive(Debug, Clone)]
pub struct WabaView {
    pub waba: WabaRow,
    pub numbers: Vec<NumberView>,
}

impl WabaView {
    pub fn needs_reconnect(&self) -> bool {
        self.waba.status.needs_reconnect()
    }

    pub fn last_synced(&self) -> String {
        self.waba.last_synced_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "never".into())
    }
}

#[derive(Debug, Clone)]
pub struct NumbersPage {
    /// The enterprises the picker offers: a bounded few.
    pub enterprises: EnterpriseChoices,
    pub enterprise: Option<EnterpriseRow>,
    pub activated_count: i64,
    pub wabas: Vec<WabaView>,
}

fn view(n: NumberRow, pool_name: Option<String>, enterprise_id: i64) -> NumberView {
    let unavailable = n.enterprise_id != Some(enterprise_id);
    let ready = n.is_ready_at_meta();
    NumberView {
        id: n.id,
        phone_number_id: n.phone_number_id,
        display: n.display_phone_number,
        verified_name: n.verified_name,
        status: n.status,
        meta_status: n.meta_status.unwrap_or_default(),
        quality: n.quality_rating,
        messaging_limit: n.messaging_limit_tier.unwrap_or_default(),
        throughput: n.throughput_level.map(|level| level.to_string()).unwrap_or_default(),
        // Another enterprise's pool is not ours to name.
        pool_name: if unavailable { None } else { pool_name },
        last_synced: n.last_synced_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
        ready,
        unavailable,
    }
}

pub fn numbers_page(conn: &mut DbConnection, actor: &Actor, enterprise_id: Option<&str>) -> Result<NumbersPage, ServiceError> {
    require_channel_admin(actor)?;
    let chosen = chosen_enterprise(conn, actor, enterprise_id)?;
    let enterprises = enterprise_choices(conn, actor, chosen.as_ref())?;
    let Some(enterprise) = chosen else {
        return Ok(NumbersPage { enterprises, enterprise: None, activated_count: 0, wabas: Vec::new() });
    };
    let mut wabas: Vec<WabaView> =
        wabas::of_enterprise(conn, enterprise.id)?.into_iter().map(|waba| WabaView { waba, numbers: Vec::new() }).collect();
    for row in numbers::of_linked_wabas(conn, enterprise.id)? {
        let waba_id = row.number.waba_id;
        let number = view(row.number, row.pool_name, enterprise.id);
        if let Some(waba) = wabas.iter_mut().find(|w| w.waba.id == waba_id) {
            waba.numbers.push(number);
        }
    }
    let activated_count = numbers::count_activated(conn, enterprise.id)?;
    Ok(NumbersPage { enterprises, enterprise: Some(enterprise), activated_count, wabas })
}

/// Numbers one read of the CSV export holds: the export streams chunk after chunk.
pub const EXPORT_CHUNK: i64 = 500;

/// The chosen enterprise's own numbers from `offset` on, with their WABA's
/// name, in the Numbers page's order, at most [`EXPORT_CHUNK`]: one chunk of
/// the CSV export; none when no enterprise is chosen. A chunk shorter than
/// that is the last.
pub fn export_numbers(
    conn: &mut DbConnection,
    actor: &Actor,
    enterprise_id: Option<&str>,
    offset: i64,
) -> Result<Vec<(String, NumberView)>, ServiceError> {
    require_channel_admin(actor)?;
    let Some(enterprise) = chosen_enterprise(conn, actor, enterprise_id)? else { return Ok(Vec::new()) };
    Ok(numbers::own_in_linked_wabas(conn, enterprise.id, offset, EXPORT_CHUNK)?
        .into_iter()
        .map(|row| (row.waba_name, view(row.number, row.pool_name, enterprise.id)))
        .collect())
}

// ----------------------------------------------------------------- linking

/// A WABA id and token as typed, checked before Meta is asked anything.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    pub waba_id: String,
    pub access_token: SecretString,
}

impl LinkRequest {
    pub fn parse(waba_id: &str, access_token: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let waba_id = waba_id.trim();
        if waba_id.is_empty() {
            errors.add("waba_id", "Enter the WABA ID from WhatsApp Manager.");
        } else if waba_id.len() > 32 || !waba_id.bytes().all(|b| b.is_ascii_digit()) {
            errors.add("waba_id", "A WABA ID is made of digits only, at most 32 of them.");
        }
        let token = access_token.trim();
        if token.is_empty() {
            errors.add("access_token", "Enter the access token (a system user token with whatsapp_business_management).");
        } else if token.len() < 16 || token.len() > 1024 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            errors.add("access_token", "That does not look like a Meta access token: 16 to 1,024 visible characters, no spaces.");
        }
        if errors.is_empty() { Ok(Self { waba_id: waba_id.to_owned(), access_token: SecretString::from(token.to_owned()) }) } else { Err(errors) }
    }
}

/// What linking (or reconnecting) a WABA came to.
#[derive(Debug)]
pub enum LinkOutcome {
    /// Meta confirmed the WABA; it is stored with its sealed token and every number.
    Linked { waba_name: String, enterprise_name: String, numbers: usize },
    /// The form breaks a rule; messages for its fields. Meta was not asked.
    Invalid(FieldErrors),
    /// Meta failed or refused (logged); nothing was stored.
    MetaFailed(GraphError),
    /// Meta's answer breaks a rule; nothing was stored.
    NotStored(FieldErrors),
}

/// Links a WABA to the enterprise the form names, or gives it a new token:
/// checks the actor may and the form, asks Meta for the WABA and its
/// numbers, seals the token and stores it all in one transaction.
pub async fn link_waba<D: DatabaseRunner>(
    db: &D,
    graph: &GraphClient,
    keys: &SecretKeys,
    actor: &Actor,
    enterprise_id: Option<String>,
    waba_id: &str,
    access_token: &str,
) -> Result<LinkOutcome, ServiceError> {
    let who = actor.clone();
    let enterprise = match db.run(move |conn| Ok(link_target(conn, &who, enterprise_id.as_deref()))).await? {
        Ok(enterprise) => enterprise,
        Err(ServiceError::Invalid(errors)) => return Ok(LinkOutcome::Invalid(errors)),
        Err(other) => return Err(other),
    };
    let request = match LinkRequest::parse(waba_id, access_token) {
        Ok(request) => request,
        Err(errors) => return Ok(LinkOutcome::Invalid(errors)),
    };
    let meta = match graph.waba_with_numbers(&request.waba_id, &request.access_token).await {
        Ok(meta) => meta,
        Err(error) => {
            tracing::info!(waba = %request.waba_id, error = %error, "linking a WABA failed at Meta");
            return Ok(LinkOutcome::MetaFailed(error));
        }
    };
    let sealed = keys.seal(&request.access_token);
    let (who, numbers, enterprise_name) = (actor.clone(), meta.numbers.len(), enterprise.name.clone());
    match db.run(move |conn| Ok(store_link(conn, &who, &enterprise, &meta, &sealed))).await? {
        Ok(waba) => Ok(LinkOutcome::Linked { waba_name: waba.name, enterprise_name, numbers }),
        Err(ServiceError::Invalid(errors)) => Ok(LinkOutcome::NotStored(errors)),
        Err(other) => Err(other),
    }
}

/// Checks the actor may link a WABA for the enterprise the form names.
fn link_target(conn: &mut DbConnection, actor: &Actor, enterprise_id: Option<&str>) -> Result<EnterpriseRow, ServiceError> {
    require_channel_admin(actor)?;
    chosen_enterprise(conn, actor, enterprise_id)?.ok_or_else(|| ServiceError::invalid("enterprise_id", "Choose the enterprise the WABA belongs to."))
}

fn meta_fields(info: &PhoneNumberInfo) -> Result<(String, MetaFields<'_>), String> {
    let e164 = E164::parse(&info.display_phone_number)
        .map_err(|_| format!("Meta sent a number that is not in E.164 form: {}", info.display_phone_number))?;
    if info.id.is_empty() || info.id.len() > 32 {
        return Err("Meta sent a number without a valid id.".into());
    }
    Ok((
        e164.as_str().to_owned(),
        MetaFields {
            display_phone_number: &info.display_phone_number,
            e164: "",
            verified_name: info.verified_name.as_deref().unwrap_or_default(),
            meta_status: info.status.as_deref(),
            code_verification_status: info.code_verification_status.as_deref(),
            quality_rating: info.quality_rating.as_deref().map_or(QualityRating::Unknown, QualityRating::parse),
            messaging_limit_tier: info.messaging_limit_tier.as_deref(),
            throughput_level: info.throughput.as_ref().and_then(|t| t.level.as_deref()).map(ThroughputLevel::parse),
        },
    ))
}

fn clip(value: &str, max: usize) -> String {
    value.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Stores a WABA Meta has confirmed, the sealed token and every number, in
/// one transaction (R10, R12, R13). Numbers another enterprise already owns stay theirs.
pub fn store_link(
    conn: &mut DbConnection,
    actor: &Actor,
    enterprise: &EnterpriseRow,
    meta: &MetaWaba,
    sealed: &Sealed,
) -> Result<WabaRow, ServiceError> {
    write_transaction(conn, |conn| {
        let name = clip(meta.info.name.as_deref().unwrap_or(&meta.info.id), 200);
        let name = if name.is_empty() { meta.info.id.clone() } else { name };
        let waba = match wabas::find_by_meta_id(conn, &meta.info.id)? {
            Some(existing) => existing,
            None => {
                let id =
                    wabas::insert(conn, &wabas::NewWaba { meta_waba_id: &meta.info.id, business_id: None, name: &name, status: WabaStatus::Active })?;
                wabas::find(conn, id)?.ok_or(ServiceError::NotFound)?
            }
        };
        let created = wabas::store_token(conn, waba.id, enterprise.id, &sealed.ciphertext, &sealed.key_id)?;
        let changes = apply_numbers(conn, Some(actor), enterprise.id, waba.id, &meta.numbers)?;
        wabas::record_sync(conn, waba.id, &name, meta.info.portal_status())?;
        audit::record(
            conn,
            &NewAuditEntry {
                actor_user_id: Some(actor.user_id.get()),
                actor_email: Some(actor.email.clone()),
                enterprise_id: Some(enterprise.id),
                action: if created { "waba.link" } else { "waba.token_change" },
                subject_type: "waba",
                subject_id: Some(meta.info.id.clone()),
                before: (!created).then(|| json!({ "status": waba.status })),
                after: Some(json!({ "name": name, "numbers": meta.numbers.len(), "changed_numbers": changes })),
                client_ip: actor.client_ip.clone(),
            },
        )?;
        wabas::find(conn, waba.id)?.ok_or(ServiceError::NotFound)
    })
}

/// Inserts new numbers (pending, owned by `enterprise_id`) and refreshes
/// known ones, auditing each change of quality, status, limit or throughput.
fn apply_numbers(
    conn: &mut DbConnection,
    actor: Option<&Actor>,
    enterprise_id: i64,
    waba_id: i64,
    list: &[PhoneNumberInfo],
) -> Result<usize, ServiceError> {
    let mut changed = 0;
    for info in list {
        let (e164, mut fields) = meta_fields(info).map_err(|m| ServiceError::invalid("meta", m))?;
        fields.e164 = &e164;
        match numbers::find_by_phone_number_id(conn, &info.id)? {
            Some(existing) if existing.waba_id != waba_id => {
                return Err(ServiceError::invalid("meta", format!("Meta listed {} under two WABAs; nothing was stored.", info.display_phone_number)));
            }
            Some(existing) => {
                let before = json!({
                    "quality_rating": existing.quality_rating, "meta_status": existing.meta_status,
                    "messaging_limit_tier": existing.messaging_limit_tier, "throughput_level": existing.throughput_level,
                });
                let after = json!({
                    "quality_rating": fields.quality_rating, "meta_status": fields.meta_status,
                    "messaging_limit_tier": fields.messaging_limit_tier, "throughput_level": fields.throughput_level,
                });
                numbers::update_from_meta(conn, existing.id, &fields)?;
                if existing.enterprise_id.is_none() {
                    numbers::claim(conn, existing.id, enterprise_id)?;
                }
                if before != after {
                    changed += 1;
                    crate::services::events::number_health(conn, existing.id, Some("SYNC"))?;
                    audit::record(
                        conn,
                        &NewAuditEntry {
                            actor_user_id: actor.map(|a| a.user_id.get()),
                            actor_email: actor.map(|a| a.email.clone()),
                            enterprise_id: existing.enterprise_id,
                            action: "number.sync",
                            subject_type: "number",
                            subject_id: Some(existing.phone_number_id.clone()),
                            before: Some(before),
                            after: Some(after),
                            client_ip: actor.and_then(|a| a.client_ip.clone()),
                        },
                    )?;
                }
            }
            None => {
                numbers::insert_from_meta(conn, waba_id, enterprise_id, &info.id, &fields)?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

// ------------------------------------------------------------------ sync

/// What a sync needs: the WABA, the enterprise whose token is used, the token.
struct SyncTarget {
    waba: WabaRow,
    enterprise: EnterpriseRow,
    token: SecretString,
}

/// What syncing one WABA with Meta came to.
#[derive(Debug)]
pub enum SyncOutcome {
    /// Meta's answer is stored: `from_meta` numbers listed, `changed` of them new or changed.
    Synced { waba_name: String, from_meta: usize, changed: usize },
    /// Not started: the WABA was synced `seconds_ago`, under
    /// [`MIN_SECONDS_BETWEEN_SYNCS`] ago, and Meta's call budget is kept.
    TooSoon { waba_name: String, seconds_ago: i64 },
    /// Not started: no access token is stored for the WABA.
    NoToken,
    /// Not started: the stored token cannot be opened with this server's keys (logged).
    TokenUnreadable,
    /// Meta's answer breaks a rule, or storing it failed; nothing was stored.
    NotStored { waba_name: String, problem: ServiceError },
    /// Meta failed or refused; nothing was stored. A refused token (code
    /// 190) has marked the WABA reconnect-needed.
    MetaFailed { waba_name: String, error: GraphError },
}

/// Syncs one WABA for a person in the portal: checks they may, that the
/// last sync is a minute old and the token opens, then asks Meta and stores
/// its answer. `enterprise_id` is the enterprise the form names, if any.
pub async fn sync_waba<D: DatabaseRunner>(
    db: &D,
    graph: &GraphClient,
    keys: &SecretKeys,
    actor: &Actor,
    waba_id: i64,
    enterprise_id: Option<String>,
) -> Result<SyncOutcome, ServiceError> {
    let (who, keys) = (actor.clone(), keys.clone());
    let target = db.run(move |conn| sync_target(conn, &who, &keys, waba_id, enterprise_id.as_deref())).await?;
    match target {
        Ok(target) => sync_with_meta(db, graph, Some(actor.clone()), target).await,
        Err(not_started) => Ok(not_started),
    }
}

/// Syncs every linked WABA with a token, as the system; answers how many
/// were stored. A WABA that fails is logged and the others carry on.
pub async fn sync_every_waba<D: DatabaseRunner>(db: &D, graph: &GraphClient, keys: &SecretKeys) -> Result<usize, ServiceError> {
    let keys = keys.clone();
    let targets = db.run(move |conn| background_sync_targets(conn, &keys)).await?;
    let mut synced = 0;
    for target in targets {
        let meta_waba_id = target.waba.meta_waba_id.clone();
        match sync_with_meta(db, graph, None, target).await? {
            SyncOutcome::Synced { .. } => synced += 1,
            SyncOutcome::NotStored { problem, .. } => tracing::warn!(error = %problem, "storing a background sync failed"),
            SyncOutcome::MetaFailed { error, .. } => tracing::warn!(waba = %meta_waba_id, error = %error, "background sync: Meta refused"),
            // Never for the background's targets: they are checked before.
            SyncOutcome::TooSoon { .. } | SyncOutcome::NoToken | SyncOutcome::TokenUnreadable => {}
        }
    }
    Ok(synced)
}

/// The sync itself: asks Meta for the WABA and its numbers, then stores the
/// answer, or marks the WABA reconnect-needed when Meta refused the token.
async fn sync_with_meta<D: DatabaseRunner>(
    db: &D,
    graph: &GraphClient,
    actor: Option<Actor>,
    target: SyncTarget,
) -> Result<SyncOutcome, ServiceError> {
    let waba_name = target.waba.name.clone();
    match graph.waba_with_numbers(&target.waba.meta_waba_id, &target.token).await {
        Ok(meta) => {
            let from_meta = meta.numbers.len();
            let stored = db.run(move |conn| Ok(store_sync(conn, actor.as_ref(), &target, &meta))).await?;
            Ok(match stored {
                Ok(changed) => SyncOutcome::Synced { waba_name, from_meta, changed },
                Err(problem) => SyncOutcome::NotStored { waba_name, problem },
            })
        }
        Err(error) => {
            if error.is_token_invalid() {
                let (waba, enterprise_id) = (target.waba, target.enterprise.id);
                db.run(move |conn| mark_reconnect_needed(conn, actor.as_ref(), &waba, enterprise_id)).await?;
            }
            Ok(SyncOutcome::MetaFailed { waba_name, error })
        }
    }
}

/// Checks the actor may sync the WABA (404 when not linked to one of their
/// enterprises), that it was not synced in the last minute and that its
/// token opens; a sync that must not start is the outcome it ends with.
fn sync_target(
    conn: &mut DbConnection,
    actor: &Actor,
    keys: &SecretKeys,
    waba_id: i64,
    enterprise_id: Option<&str>,
) -> Result<Result<SyncTarget, SyncOutcome>, ServiceError> {
    require_channel_admin(actor)?;
    let waba = wabas::find(conn, waba_id)?.ok_or(ServiceError::NotFound)?;
    // The enterprise the form names, else the first of the actor's enterprises linked to the WABA.
    let enterprise = match chosen_enterprise(conn, actor, enterprise_id)? {
        Some(enterprise) => enterprise,
        None => {
            let linked = wabas::linked_enterprises(conn, waba.id)?;
            enterprises_in_scope(conn, actor)?.into_iter().find(|e| linked.contains(&e.id)).ok_or(ServiceError::NotFound)?
        }
    };
    let link = wabas::find_link(conn, waba.id, enterprise.id)?.ok_or(ServiceError::NotFound)?;
    if let Some(last) = waba.last_synced_at {
        let elapsed = (crate::store::now() - last).num_seconds();
        if elapsed < MIN_SECONDS_BETWEEN_SYNCS && !waba.status.needs_reconnect() {
            return Ok(Err(SyncOutcome::TooSoon { waba_name: waba.name, seconds_ago: elapsed }));
        }
    }
    match open_token(keys, &link) {
        Ok(Some(token)) => Ok(Ok(SyncTarget { waba, enterprise, token })),
        Ok(None) => Ok(Err(SyncOutcome::NoToken)),
        Err(unreadable @ ServiceError::TokenUnreadable { .. }) => {
            if let ServiceError::TokenUnreadable { key_id, .. } = &unreadable {
                tracing::error!(key_id = %key_id, "sync refused: {unreadable}");
            }
            Ok(Err(SyncOutcome::TokenUnreadable))
        }
        Err(other) => Err(other),
    }
}

/// The link's access token, opened; None when no token is stored.
fn open_token(keys: &SecretKeys, link: &wabas::LinkRow) -> Result<Option<SecretString>, ServiceError> {
    let (Some(ciphertext), Some(key_id)) = (&link.access_token_ciphertext, &link.access_token_key_id) else {
        return Ok(None);
    };
    keys.open(&Sealed { ciphertext: ciphertext.clone(), key_id: key_id.clone() })
        .map(Some)
        .map_err(|cause| ServiceError::TokenUnreadable { key_id: key_id.clone(), cause })
}

/// Stores a sync's answer in one transaction; `actor` is None for the background sync.
fn store_sync(conn: &mut DbConnection, actor: Option<&Actor>, target: &SyncTarget, meta: &MetaWaba) -> Result<usize, ServiceError> {
    write_transaction(conn, |conn| {
        let changed = apply_numbers(conn, actor, target.enterprise.id, target.waba.id, &meta.numbers)?;
        let name = clip(meta.info.name.as_deref().unwrap_or(&target.waba.name), 200);
        // Meta's answer is newer than any webhook before it: the WABA takes
        // the status it shows (see `WabaInfo::portal_status`).
        let status = meta.info.portal_status();
        wabas::record_sync(conn, target.waba.id, if name.is_empty() { &target.waba.name } else { &name }, status)?;
        if status != target.waba.status {
            crate::services::events::waba_status(conn, target.waba.id, status.as_str(), Some("SYNC"))?;
        }
        Ok(changed)
    })
}

/// Meta refused the token (code 190): the WABA needs reconnecting.
fn mark_reconnect_needed(conn: &mut DbConnection, actor: Option<&Actor>, waba: &WabaRow, enterprise_id: i64) -> Result<(), ServiceError> {
    if waba.status.needs_reconnect() {
        return Ok(());
    }
    write_transaction(conn, |conn| {
        wabas::set_status(conn, waba.id, WabaStatus::ReconnectNeeded, Some("Meta refused the access token"))?;
        crate::services::events::waba_status(conn, waba.id, WabaStatus::ReconnectNeeded.as_str(), Some("Meta refused the access token"))?;
        audit::record(
            conn,
            &NewAuditEntry {
                actor_user_id: actor.map(|a| a.user_id.get()),
                actor_email: actor.map(|a| a.email.clone()),
                enterprise_id: Some(enterprise_id),
                action: "waba.reconnect_needed",
                subject_type: "waba",
                subject_id: Some(waba.meta_waba_id.clone()),
                before: Some(json!({ "status": waba.status })),
                after: Some(json!({ "status": WabaStatus::ReconnectNeeded })),
                client_ip: actor.and_then(|a| a.client_ip.clone()),
            },
        )?;
        Ok(())
    })
}

// ------------------------------------------------------- portal status

/// What switching a number on or off came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberSwitch {
    /// The number has the status asked for (it may have had it already).
    Switched { display: String },
    /// Not activated: Meta does not report the number connected and verified.
    NotReadyAtMeta { display: String, meta_status: Option<String>, code_verification_status: Option<String> },
}

/// What deactivating a number would do, for the page that asks first.
#[derive(Debug, Clone)]
pub struct Deactivation {
    pub number_id: i64,
    pub display: String,
    /// The pool it sits in, if any, and how many of that pool's numbers
    /// would stay activated.
    pub pool: Option<(String, usize)>,
}

pub fn deactivation(conn: &mut DbConnection, actor: &Actor, number_id: i64) -> Result<Deactivation, ServiceError> {
    require_channel_admin(actor)?;
    let number = numbers::find(conn, number_id)?.ok_or(ServiceError::NotFound)?;
    let owner = number.enterprise_id.ok_or(ServiceError::NotFound)?;
    enterprise_in_scope(conn, actor, EnterpriseId(owner))?;
    let pool = match pools::pool_of_number(conn, number_id)? {
        Some(pool_id) => {
            let name = pools::find(conn, pool_id)?.map(|p| p.name).unwrap_or_default();
            let members = pools::members_of(conn, &[pool_id])?;
            let staying = members.iter().filter(|m| m.number_id != number_id && m.status == NumberStatus::Activated).count();
            Some((name, staying))
        }
        None => None,
    };
    Ok(Deactivation { number_id, display: number.display_phone_number, pool })
}

/// Activates or deactivates a number (R10). Only numbers Meta reports
/// ready can be activated. Deactivating keeps pool membership; the pool
/// listing shows the number out of rotation.
pub fn set_number_status(conn: &mut DbConnection, actor: &Actor, number_id: i64, activate: bool) -> Result<NumberSwitch, ServiceError> {
    require_channel_admin(actor)?;
    write_transaction(conn, |conn| {
        let number = numbers::find(conn, number_id)?.ok_or(ServiceError::NotFound)?;
        let owner = number.enterprise_id.ok_or(ServiceError::NotFound)?;
        enterprise_in_scope(conn, actor, EnterpriseId(owner))?;
        let target = if activate { NumberStatus::Activated } else { NumberStatus::Deactivated };
        if number.status == target {
            return Ok(NumberSwitch::Switched { display: number.display_phone_number });
        }
        if activate && !number.is_ready_at_meta() {
            return Ok(NumberSwitch::NotReadyAtMeta {
                display: number.display_phone_number,
                meta_status: number.meta_status,
                code_verification_status: number.code_verification_status,
            });
        }
        numbers::set_status(conn, number.id, target)?;
        crate::services::events::number_health(conn, number.id, Some(if activate { "ACTIVATED" } else { "DEACTIVATED" }))?;
        audit::record(
            conn,
            &NewAuditEntry {
                actor_user_id: Some(actor.user_id.get()),
                actor_email: Some(actor.email.clone()),
                enterprise_id: Some(owner),
                action: if activate { "number.activate" } else { "number.deactivate" },
                subject_type: "number",
                subject_id: Some(number.phone_number_id.clone()),
                before: Some(json!({ "status": number.status })),
                after: Some(json!({ "status": target })),
                client_ip: actor.client_ip.clone(),
            },
        )?;
        Ok(NumberSwitch::Switched { display: number.display_phone_number })
    })
}

/// Every linked WABA with a token, for the background sync (no actor: the system).
fn background_sync_targets(conn: &mut DbConnection, keys: &SecretKeys) -> Result<Vec<SyncTarget>, ServiceError> {
    let mut targets = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for link in wabas::links_with_tokens(conn)? {
        // One sync per WABA, with the first linked enterprise's token.
        if !seen.insert(link.waba_id) {
            continue;
        }
        let (Some(waba), Some(enterprise)) = (wabas::find(conn, link.waba_id)?, crate::store::orgs::find_enterprise(conn, link.enterprise_id)?)
        else {
            continue;
        };
        if waba.status.needs_reconnect() {
            continue;
        }
        match open_token(keys, &link) {
            Ok(Some(token)) => targets.push(SyncTarget { waba, enterprise, token }),
            Ok(None) => tracing::warn!(waba = %waba.meta_waba_id, "skipping background sync: no access token"),
            Err(error) => {
                tracing::warn!(waba = %waba.meta_waba_id, %error, "skipping background sync")
            }
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn malformed_waba_ids_and_tokens_are_refused_before_meta_is_asked() {
        assert!(LinkRequest::parse("", "EAAGxxxxxxxxxxxxxxxx").unwrap_err().get("waba_id").is_some());
        assert!(LinkRequest::parse("12ab", "EAAGxxxxxxxxxxxxxxxx").unwrap_err().get("waba_id").is_some());
        assert!(LinkRequest::parse(&"1".repeat(33), "EAAGxxxxxxxxxxxxxxxx").unwrap_err().get("waba_id").is_some());
        assert!(LinkRequest::parse("102000000000101", "short").unwrap_err().get("access_token").is_some());
        assert!(LinkRequest::parse("102000000000101", "has spaces in it ok?").unwrap_err().get("access_token").is_some());
        let ok = LinkRequest::parse(" 102000000000101 ", " EAAGxxxxxxxxxxxxxxxx ").unwrap();
        assert_eq!(ok.waba_id, "102000000000101");
        assert_eq!(ok.access_token.expose_secret(), "EAAGxxxxxxxxxxxxxxxx");
    }
}
