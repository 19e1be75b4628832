//! Sending through a pool: check the message, decide the member, and after
//! the Graph call record what happened — weights, stickiness,
//! cool-downs, WABAs out of rotation and the send log — in one transaction.
//! The decision reads the routing state from the database, so every
//! instance shares it.

use std::collections::HashMap;

use secrecy::SecretString;
use serde_json::{Value, json};

use super::ServiceError;
use super::api_keys::ApiCaller;
use crate::db::{DbConnection, write_transaction, write_transaction_unflushed};
use crate::domain::{E164, ThroughputLevel, out_of_rotation};
use crate::routing::{self, Decision, Member, Outcome, Request, Strategy, Unavailable};
use crate::security::secrets::{Sealed, SecretKeys};
use crate::store::routing::{self as store, MemberState, NewMessage, PoolRouting};
use crate::store::{idempotency, wabas};

/// How long a member rests after Meta's spam limit (131048).
pub const COOL_DOWN_MINUTES: i64 = 10;
/// How long a WABA leaves rotation after a block, a lock or its rate limit.
pub const WABA_OUT_MINUTES: i64 = 15;
/// How often a send retries its turn when other sends keep moving the pointer.
const TURN_RETRIES: usize = 16;
/// How long an Idempotency-Key reserved by a send that never stored its
/// outcome (its instance crashed, or the database failed after the Graph
/// call) keeps the key: longer than the slowest send at the default Graph
/// timeout (10 members × 10 s), so a send still running is never taken
/// over; a retry after it sends again.
pub const RESERVATION_STALE_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// A message checked against Meta's limits before anything is sent.
#[derive(Debug, Clone)]
pub struct CheckedMessage {
    /// What goes to Meta: the Cloud API object without our own fields.
    pub body: Value,
    pub to: String,
    pub kind: String,
    pub department: Option<String>,
}

impl CheckedMessage {
    pub fn free_form(&self) -> bool {
        self.kind != "template"
    }
}

fn text_len(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// DESIGN.md §10's checks; the error names the field.
pub fn check_message(mut body: Value) -> Result<CheckedMessage, String> {
    let object = body.as_object_mut().ok_or("The body must be a JSON object.")?;
    let department = match object.remove("department") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if !d.trim().is_empty() && d.chars().count() <= 64 => Some(d.trim().to_lowercase()),
        Some(_) => return Err("department must be a name of 1 to 64 characters.".into()),
    };
    object.entry("messaging_product").or_insert_with(|| json!("whatsapp"));
    if object["messaging_product"] != "whatsapp" {
        return Err("messaging_product must be \"whatsapp\".".into());
    }
    let raw_to = object.get("to").and_then(Value::as_str).ok_or("to is required: the recipient's number in E.164 digits.")?;
    let to = E164::parse(raw_to).map_err(|_| "to must be a number in E.164 form, e.g. 447700900123.".to_owned())?;
    let to = to.digits().to_owned();
    object.insert("to".into(), json!(to));
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("text").to_owned();
    object.insert("type".into(), json!(kind));
    let part = object.get(kind.as_str()).cloned().unwrap_or(Value::Null);
    match kind.as_str() {
        "text" => {
            let n = text_len(&part["body"]);
            if !(1..=4096).contains(&n) {
                return Err("text.body must hold 1 to 4,096 characters.".into());
            }
        }
        "template" => {
            if text_len(&part["name"]) == 0 || text_len(&part["language"]["code"]) == 0 {
                return Err("template.name and template.language.code are required.".into());
            }
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let by_id = text_len(&part["id"]) > 0;
            let by_link = part["link"].as_str().is_some_and(|l| l.starts_with("https://") && l.len() <= 2048);
            if !by_id && !by_link {
                return Err(format!("{kind} needs an id or an https link."));
            }
        }
        "interactive" => {
            if text_len(&part["header"]["text"]) > 60 || text_len(&part["footer"]["text"]) > 60 {
                return Err("interactive header and footer text hold at most 60 characters.".into());
            }
            let body_len = text_len(&part["body"]["text"]);
            if !(1..=1024).contains(&body_len) {
                return Err("interactive.body.text must hold 1 to 1,024 characters.".into());
            }
            let buttons = part["action"]["buttons"].as_array().map(Vec::len).unwrap_or(0);
            if buttons > 3 {
                return Err("at most 3 quick-reply buttons.".into());
            }
            if part["type"] == "cta_url" && buttons > 2 {
                return Err("at most 2 call-to-action buttons.".into());
            }
        }
        other => return Err(format!("type \"{}\" is not supported.", other.chars().take(32).collect::<String>())),
    }
    Ok(CheckedMessage { body, to, kind, department })
}

/// Why a send or a route question was refused before Meta was asked.
#[derive(Debug, Clone)]
pub enum Refusal {
    PoolNotFound,
    /// Another request with this Idempotency-Key is being sent.
    IdempotencyInProgress,
    /// This Idempotency-Key was used for another pool or another message.
    IdempotencyKeyReused,
    PoolInactive,
    UnknownDepartment,
    NeedsTemplate(Decision, MemberPhones),
    NoEligibleMember(Decision, MemberPhones),
}

/// Each member's number id with its Graph phone number id, to name the
/// members of a decision in an answer.
pub type MemberPhones = Vec<(i64, String)>;

/// A member to try, with what the Graph call needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub number_id: i64,
    pub slot: i32,
    pub phone_number_id: String,
    pub display: String,
    pub waba_id: i64,
    pub token: SecretString,
}

pub struct Plan {
    pub pool: PoolRouting,
    pub targets: Vec<Target>,
    pub decision: Decision,
    pub phones: MemberPhones,
    pub members: Vec<Member>,
    pub eligible: Vec<i64>,
    /// The round robin turn this send took before the Graph call, if any.
    pub turn: Option<Turn>,
    /// The member whose throughput this send reserved before the Graph call.
    pub reserved: Option<i64>,
    /// The recipient's sticky sender when the Graph call was made.
    pub holder: Option<i64>,
}

/// A move of the pool's pointer: a failed send gives it back, a send that
/// failed over hands it on to the member that served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    pub from: i32,
    pub to: i32,
}

/// The hash of a send request that an Idempotency-Key is bound to: the pool
/// and the checked message (its JSON has sorted keys, so the order of the
/// request's fields does not matter).
pub fn request_hash(pool_id: i64, message: &CheckedMessage) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(pool_id.to_be_bytes());
    hasher.update(message.body.to_string().as_bytes());
    hasher.update(b"\0");
    hasher.update(message.department.as_deref().unwrap_or_default().as_bytes());
    hex::encode(hasher.finalize())
}

/// What an Idempotency-Key asks of a send before it may call Meta.
#[derive(Debug, Clone)]
enum KeyClaim {
    /// No key was given.
    None,
    /// The key is new: reserve it.
    New { key: String, hash: String },
    /// The key's earlier send never stored its outcome: take it over.
    TakeOver { key: String, hash: String, read_at: chrono::NaiveDateTime },
}

/// What the stored state of an Idempotency-Key means for a request with `hash`.
fn key_verdict(found: Option<idempotency::KeyState>, key: &str, hash: &str, now: chrono::NaiveDateTime) -> Result<KeyClaim, Planned> {
    let Some(found) = found else { return Ok(KeyClaim::New { key: key.to_owned(), hash: hash.to_owned() }) };
    // An empty hash: answered before requests were hashed.
    if !found.request_hash.is_empty() && found.request_hash != hash {
        return Err(Planned::Refused(Refusal::IdempotencyKeyReused));
    }
    match found.response {
        Some(answer) => Err(Planned::Replay(serde_json::from_str(&answer).unwrap_or(Value::Null))),
        None if found.reserved_at + RESERVATION_STALE_AFTER > now => Err(Planned::Refused(Refusal::IdempotencyInProgress)),
        None => Ok(KeyClaim::TakeOver { key: key.to_owned(), hash: hash.to_owned(), read_at: found.reserved_at }),
    }
}

/// Reserves the key (or takes it over) inside the send's claim transaction;
/// false when another request got it first.
fn claim_key(conn: &mut DbConnection, enterprise_id: i64, claim: &KeyClaim) -> diesel::QueryResult<bool> {
    match claim {
        KeyClaim::None => Ok(true),
        KeyClaim::New { key, hash } => idempotency::reserve(conn, enterprise_id, key, hash),
        KeyClaim::TakeOver { key, hash, read_at } => idempotency::take_over(conn, enterprise_id, key, hash, *read_at),
    }
}

/// The answer stored for an Idempotency-Key once its send ended: a replay,
/// a refusal when the key was used for another request, None while its
/// send is still under way.
pub fn settled_answer(conn: &mut DbConnection, enterprise_id: i64, key: &str, hash: &str) -> Result<Option<Planned>, ServiceError> {
    let found = idempotency::find(conn, enterprise_id, key)?;
    Ok(match key_verdict(found, key, hash, crate::store::now()) {
        Err(Planned::Refused(Refusal::IdempotencyInProgress)) | Ok(_) => None,
        Err(answer) => Some(answer),
    })
}

pub enum Planned {
    /// The same Idempotency-Key was answered before: its answer again.
    Replay(Value),
    Refused(Refusal),
    Send(Box<Plan>),
}

fn throughput_per_second(level: Option<&ThroughputLevel>) -> i64 {
    ThroughputLevel::messages_per_second_of(level)
}

fn to_member(m: &MemberState, now: chrono::NaiveDateTime, windows: &[i64]) -> Member {
    let unavailable = if let Some(out) = out_of_rotation(m.status, &m.quality_rating, m.waba_status) {
        Some(Unavailable::from(out))
    } else if m.cooldown_until.is_some_and(|t| t > now) {
        Some(Unavailable::CoolingDown)
    } else if m.waba_out_of_rotation_until.is_some_and(|t| t > now) {
        Some(Unavailable::WabaOutOfRotation)
    } else if m.sent_during(now.and_utc().timestamp()) >= throughput_per_second(m.throughput_level.as_ref()) {
        Some(Unavailable::OverThroughput)
    } else {
        None
    };
    Member {
        number_id: m.number_id,
        slot: m.slot,
        priority: m.priority,
        weight: m.weight,
        current_weight: m.current_weight,
        regions: routing::tags(&m.region_tags),
        departments: routing::tags(&m.department_tags.to_lowercase()),
        last_used: m.last_used_at.map(|t| t.and_utc().timestamp_micros()),
        unavailable,
        window_open: windows.contains(&m.number_id),
    }
}

/// Loads the pool's state and decides; for sends, opens the members' tokens.
pub fn plan(
    conn: &mut DbConnection,
    keys: Option<&SecretKeys>,
    caller: &ApiCaller,
    pool_id: i64,
    message: &CheckedMessage,
    idempotency_key: Option<&str>,
) -> Result<Planned, ServiceError> {
    // The key is looked at before anything else: a retry is answered from
    // what its first request stored, whatever changed in the pool since.
    let key_claim = match idempotency_key {
        Some(key) => {
            let hash = request_hash(pool_id, message);
            match key_verdict(idempotency::find(conn, caller.enterprise_id, key)?, key, &hash, crate::store::now()) {
                Ok(claim) => claim,
                Err(answered) => return Ok(answered),
            }
        }
        None => KeyClaim::None,
    };
    let Some(pool) = store::pool(conn, pool_id)?.filter(|p| p.enterprise_id == caller.enterprise_id) else {
        return Ok(Planned::Refused(Refusal::PoolNotFound));
    };
    if !pool.active {
        return Ok(Planned::Refused(Refusal::PoolInactive));
    }
    let now = crate::store::now();
    let states = store::members(conn, pool.id)?;
    let windows = store::open_windows(conn, &message.to)?;
    let mut members: Vec<Member> = states.iter().map(|m| to_member(m, now, &windows)).collect();
    let sticky = store::sticky(conn, pool.id, &message.to)?;
    let request = Request { recipient: &message.to, free_form: message.free_form(), department: message.department.as_deref(), sticky };
    let mut routing_pool = routing::Pool {
        strategy: Strategy::parse(&pool.strategy).unwrap_or(Strategy::RoundRobin),
        strict: pool.strict_routing,
        pointer: pool.rr_pointer,
    };
    let mut decision = routing::decide(&routing_pool, &members, &request);
    // A send takes its turn, reserves its place in the member's throughput
    // and claims a new recipient before the Graph call, in one write:
    // simultaneous sends on any instance take successive turns, never push
    // a number past its limit, and simultaneous first messages to one
    // recipient agree on one member. A send that will call Meta reserves
    // its Idempotency-Key in the same write: of simultaneous retries, on
    // any instance, one sends.
    // The members' tokens are opened before the send claims anything:
    // members share one WABA (R5), so one token; one that cannot be opened
    // answers token_unreadable and leaves no Idempotency-Key reserved.
    let mut tokens: HashMap<i64, Option<SecretString>> = HashMap::new();
    if let Some(keys) = keys {
        for state in &states {
            if let std::collections::hash_map::Entry::Vacant(e) = tokens.entry(state.waba_id) {
                let link = wabas::links_of_waba(conn, state.waba_id)?
                    .into_iter()
                    .find(|l| l.enterprise_id == pool.enterprise_id && l.access_token_ciphertext.is_some());
                let token = match link.and_then(|l| l.access_token_ciphertext.zip(l.access_token_key_id)) {
                    Some((ciphertext, key_id)) => Some(
                        keys.open(&Sealed { ciphertext, key_id: key_id.clone() }).map_err(|cause| ServiceError::TokenUnreadable { key_id, cause })?,
                    ),
                    None => None,
                };
                e.insert(token);
            }
        }
    }
    let mut holder = sticky;
    let mut turn = None;
    let mut reserved = None;
    if keys.is_some() {
        // Each claim is one statement that stands on its own, committed
        // unflushed on PostgreSQL (outside a transaction), so no row stays
        // locked while this request waits for its next statement. The turn
        // and the member's place in its second first: a claim that comes to
        // nothing later (the key taken, the recipient held by another
        // member) leaves a turn skipped or a place unused, never a number
        // over its limit.
        let now_second = now.and_utc().timestamp();
        (turn, reserved) = claim_member(conn, pool.id, &mut routing_pool, &mut members, &states, &request, &mut decision, now_second)?;
        if let (None, Some(chosen)) = (sticky, first_choice(&decision)) {
            holder = Some(match store::claim_sticky(conn, pool.id, &message.to, chosen)? {
                store::StickyClaim::Claimed => chosen,
                // A simultaneous first message claimed the recipient for
                // another member: it goes from that one too, if it has room.
                store::StickyClaim::HeldBy(held) => {
                    let limit = states.iter().find(|s| s.number_id == held).map_or(0, |s| throughput_per_second(s.throughput_level.as_ref()));
                    if store::reserve_send(conn, pool.id, held, now_second, limit)? {
                        reserved = Some(held);
                    }
                    held
                }
            });
        }
        if first_choice(&decision).is_some() && !claim_key(conn, pool.enterprise_id, &key_claim)? {
            return answer_to_a_taken_key(conn, caller.enterprise_id, &key_claim);
        }
    }
    let mut order = match &decision.outcome {
        Outcome::Send(order) => order.clone(),
        Outcome::NeedsTemplate => return Ok(Planned::Refused(Refusal::NeedsTemplate(decision, phones_of(&states)))),
        Outcome::NoEligibleMember => return Ok(Planned::Refused(Refusal::NoEligibleMember(decision, phones_of(&states)))),
        Outcome::UnknownDepartment => return Ok(Planned::Refused(Refusal::UnknownDepartment)),
    };
    // The recipient's member goes first where its place in this second is
    // reserved (a route question reserves nothing and shows it first too).
    let holder_first = holder.filter(|held| keys.is_none() || reserved == Some(*held));
    if let Some(pos) = holder_first.and_then(|holder| order.iter().position(|n| *n == holder)) {
        let held = order.remove(pos);
        order.insert(0, held);
    }
    let eligible: Vec<i64> = members.iter().filter(|m| m.unavailable.is_none()).map(|m| m.number_id).collect();
    let mut targets = Vec::new();
    if keys.is_some() {
        for number_id in order {
            let Some(state) = states.iter().find(|s| s.number_id == number_id) else { continue };
            let Some(Some(token)) = tokens.get(&state.waba_id) else { continue };
            targets.push(Target {
                number_id,
                slot: state.slot,
                phone_number_id: state.phone_number_id.clone(),
                display: state.display_phone_number.clone(),
                waba_id: state.waba_id,
                token: token.clone(),
            });
        }
    }
    let phones = phones_of(&states);
    Ok(Planned::Send(Box::new(Plan { pool, targets, decision, phones, members, eligible, turn, reserved, holder })))
}

/// The answer to a request whose key another request reserved first: that
/// request's answer if it has ended, else "in progress".
fn answer_to_a_taken_key(conn: &mut DbConnection, enterprise_id: i64, claim: &KeyClaim) -> Result<Planned, ServiceError> {
    let (KeyClaim::New { key, hash } | KeyClaim::TakeOver { key, hash, .. }) = claim else {
        return Ok(Planned::Refused(Refusal::IdempotencyInProgress));
    };
    Ok(settled_answer(conn, enterprise_id, key, hash)?.unwrap_or(Planned::Refused(Refusal::IdempotencyInProgress)))
}

fn phones_of(states: &[MemberState]) -> MemberPhones {
    states.iter().map(|m| (m.number_id, m.phone_number_id.clone())).collect()
}

fn first_choice(decision: &Decision) -> Option<i64> {
    match &decision.outcome {
        Outcome::Send(order) => order.first().copied(),
        _ => None,
    }
}

/// Takes the send's turn and reserves its place in the chosen member's
/// throughput. The pool's pointer moves to the decided member's slot only
/// from the value the decision read; when another send moved it first, or
/// the member filled its second meanwhile, decides again from what changed.
/// Returns the pointer's move and the member reserved, if any.
#[allow(clippy::too_many_arguments)]
fn claim_member(
    conn: &mut DbConnection,
    pool_id: i64,
    routing_pool: &mut routing::Pool,
    members: &mut [Member],
    states: &[MemberState],
    request: &Request<'_>,
    decision: &mut Decision,
    now_second: i64,
) -> diesel::QueryResult<(Option<Turn>, Option<i64>)> {
    let mut turn: Option<Turn> = None;
    for _ in 0..TURN_RETRIES {
        let Some(first) = first_choice(decision) else { break };
        let (Some(member), Some(state)) = (members.iter().find(|m| m.number_id == first), states.iter().find(|s| s.number_id == first)) else {
            break;
        };
        let slot = member.slot;
        if routing_pool.strategy.takes_turns() && routing_pool.pointer != slot {
            if !store::take_turn(conn, pool_id, routing_pool.pointer, slot)? {
                routing_pool.pointer = store::current_pointer(conn, pool_id)?;
                *decision = routing::decide(routing_pool, members, request);
                continue;
            }
            turn = Some(Turn { from: turn.map_or(routing_pool.pointer, |t| t.from), to: slot });
            routing_pool.pointer = slot;
        }
        let limit = throughput_per_second(state.throughput_level.as_ref());
        if store::reserve_send(conn, pool_id, first, now_second, limit)? {
            return Ok((turn, Some(first)));
        }
        if let Some(full) = members.iter_mut().find(|m| m.number_id == first) {
            full.unavailable = Some(Unavailable::OverThroughput);
        }
        *decision = routing::decide(routing_pool, members, request);
    }
    Ok((turn, None))
}

/// Settles the turn taken before the Graph call so that the pointer ends
/// where a successful send leaves it: on the member that served, or back
/// where it was when no member did. A later send that moved the pointer in
/// between wins; its own turn stands.
fn settle_turn(conn: &mut DbConnection, pool_id: i64, turn: Option<Turn>, served_slot: Option<i32>) -> diesel::QueryResult<()> {
    let Some(turn) = turn else { return Ok(()) };
    let settled = served_slot.unwrap_or(turn.from);
    if settled != turn.to {
        store::take_turn(conn, pool_id, turn.to, settled)?;
    }
    Ok(())
}

/// One try at one member.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub number_id: i64,
    pub phone_number_id: String,
    pub error_code: Option<i64>,
    pub class: Option<routing::ErrorClass>,
}

/// Why a send that reached Meta did not go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The member hit Meta's spam rate limit and cools down; not resent.
    NumberCoolingDown,
    /// Meta blocked or rate-limited the WABA; it leaves rotation.
    WabaOutOfRotation,
    /// Meta will not deliver to this recipient.
    RecipientRejected,
    /// The recipient's service window is closed: a template is needed.
    NeedsTemplate,
    /// Meta refused for another reason.
    MetaRefused,
    /// Every member tried failed in a way that lets the next one try.
    AllMembersFailed,
    /// Meta answered no member: every attempt timed out or found no route.
    MetaUnreachable,
}

/// How a send ended.
pub enum SendEnd<'a> {
    Sent { target: &'a Target, wamid: String },
    Failed { error_code: Option<i64>, failure: SendFailure },
}

/// Stores the outcome and returns the message's id: first the routing
/// state (the pool's turn, the member's last use, weights, stickiness,
/// cool-downs) committed unflushed, as statements of their own or, when
/// several members' rows move, one transaction, so that on PostgreSQL the
/// pool's hot rows are never locked across a round trip of a simple send
/// or a disk flush; then the send-log row in a flushed commit, which makes
/// both durable before the client hears of the send. With an Idempotency-Key,
/// `answer` words the answer a retry will get (it is given the message's
/// id) and it is stored with the key.
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    plan: &Plan,
    message: &CheckedMessage,
    attempts: &[Attempt],
    end: &SendEnd<'_>,
    idempotency_key: Option<&str>,
    answer: impl Fn(i64) -> String,
) -> Result<i64, ServiceError> {
    let attempts_json: Vec<Value> = attempts.iter().map(|a| json!({ "phone_number_id": a.phone_number_id, "error_code": a.error_code })).collect();
    let attempts_text = Value::Array(attempts_json).to_string();
    if served_at_first_try(plan, attempts, end) {
        record_routing(conn, plan, message, attempts, end)?;
    } else {
        write_transaction_unflushed(conn, |conn| record_routing(conn, plan, message, attempts, end))?;
    }
    let (status, number_id, wamid, error_code) = match end {
        SendEnd::Sent { target, wamid } => ("sent", Some(target.number_id), Some(wamid.as_str()), None),
        // A failure belongs to the member that tried last.
        SendEnd::Failed { error_code, .. } => ("failed", attempts.last().map(|a| a.number_id), None, *error_code),
    };
    write_transaction(conn, |conn| {
        let id = store::insert_message(
            conn,
            &NewMessage {
                pool_id: plan.pool.id,
                enterprise_id: plan.pool.enterprise_id,
                api_key_id: Some(caller.key_id),
                number_id,
                recipient: &message.to,
                message_type: &message.kind,
                status,
                wamid,
                error_code,
                attempts: &attempts_text,
                idempotency_key,
                response: "{}",
            },
        )?;
        let phone_number_id = match end {
            SendEnd::Sent { target, .. } => Some(target.phone_number_id.as_str()),
            SendEnd::Failed { .. } => attempts.last().map(|a| a.phone_number_id.as_str()),
        };
        crate::services::events::message_status(
            conn,
            plan.pool.enterprise_id,
            id,
            plan.pool.id,
            phone_number_id,
            &message.to,
            wamid,
            status,
            error_code.map(|code| (code, None)),
        )?;
        // The stored answer is read only to replay an idempotent retry.
        if let Some(key) = idempotency_key {
            store::set_response(conn, id, &answer(id))?;
            idempotency::settle(conn, plan.pool.enterprise_id, key, id)?;
        }
        Ok(id)
    })
}

/// Whether the first member tried sent the message, in a pool whose
/// weights do not move: its outcome then writes the pool's row (only when
/// its turn must settle), that member's row and the recipient's, each a
/// statement of its own, in the order in which a plan claims them.
fn served_at_first_try(plan: &Plan, attempts: &[Attempt], end: &SendEnd<'_>) -> bool {
    attempts.len() == 1 && matches!(end, SendEnd::Sent { .. }) && Strategy::parse(&plan.pool.strategy) != Some(Strategy::Weighted)
}

/// The routing state a send's outcome changes. An outcome other than
/// [`served_at_first_try`] writes several members' rows or a WABA's, in one
/// transaction that takes the pool's row lock first, so that those of one
/// pool run one at a time and never deadlock (SQLite's immediate
/// transactions queue them already).
fn record_routing(
    conn: &mut DbConnection,
    plan: &Plan,
    message: &CheckedMessage,
    attempts: &[Attempt],
    end: &SendEnd<'_>,
) -> diesel::QueryResult<()> {
    let weighted = Strategy::parse(&plan.pool.strategy) == Some(Strategy::Weighted);
    if matches!(conn, DbConnection::Postgres(_)) && !served_at_first_try(plan, attempts, end) {
        store::lock_pool(conn, plan.pool.id)?;
    }
    let now = crate::store::now();
    for attempt in attempts {
        match attempt.class {
            Some(routing::ErrorClass::CoolDownMember) => {
                store::cool_down(conn, plan.pool.id, attempt.number_id, now + chrono::Duration::minutes(COOL_DOWN_MINUTES))?
            }
            Some(routing::ErrorClass::WabaOutOfRotation) => {
                if let Some(target) = plan.targets.iter().find(|t| t.number_id == attempt.number_id) {
                    store::waba_out_of_rotation(conn, target.waba_id, now + chrono::Duration::minutes(WABA_OUT_MINUTES))?;
                }
            }
            _ => {}
        }
    }
    match end {
        SendEnd::Sent { target, .. } => {
            settle_turn(conn, plan.pool.id, plan.turn, Some(target.slot))?;
            store::record_success(conn, plan.pool.id, target.number_id)?;
            if plan.reserved != Some(target.number_id) {
                // Failed over: the member that served sent one more.
                store::reserve_send(conn, plan.pool.id, target.number_id, now.and_utc().timestamp(), i64::MAX)?;
            }
            if weighted {
                for (number_id, weight) in routing::weighted_after(&plan.members, &plan.eligible, target.number_id) {
                    store::set_current_weight(conn, plan.pool.id, number_id, weight)?;
                }
            }
            if plan.holder != Some(target.number_id) {
                store::set_sticky(conn, plan.pool.id, &message.to, target.number_id)?;
            }
        }
        SendEnd::Failed { .. } => settle_turn(conn, plan.pool.id, plan.turn, None)?,
    }
    Ok(())
}
