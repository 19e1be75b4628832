//! The large-tenant dataset for load tests (`wabapool bench-data`):
//! aggregators, enterprises with one WABA each, activated numbers and pools,
//! written with multi-row inserts in one transaction so that 20,000 numbers
//! and 5,000 pools take seconds. Every aggregator has a super admin
//! `admin@aggregator-N.bench` and the first enterprise an admin
//! `admin@enterprise-1.bench`, all with the given password.
//!
//! Every WABA is linked with its own random access token, sealed with the
//! given keys as a real link is, and the Graph API sandbox fixture that
//! accepts those tokens comes back with the counts, so the send API can be
//! loaded against the sandbox too. The first enterprise's numbers are at
//! HIGH throughput (1,000 messages/s each, Meta's highest level) so that a
//! send load through its pools measures the server, not Meta's limit.

use diesel::RunQueryDsl;
use secrecy::{ExposeSecret as _, SecretString};

use crate::db::{DbConnection, write_transaction};
use crate::domain::{AggregatorId, Role, Scope, UserId};
use crate::meta::sandbox::{Fixture, FixtureWaba};
use crate::meta::types::{PhoneNumberInfo, Throughput};
use crate::security::password::hash_password;
use crate::security::secrets::SecretKeys;
use crate::services::{Actor, ServiceError, api_keys};
use crate::store::users;

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub aggregators: usize,
    pub enterprises: usize,
    pub numbers_per_enterprise: usize,
    pub pools_per_enterprise: usize,
}

#[derive(Debug, Default)]
pub struct Written {
    pub enterprises: usize,
    pub numbers: usize,
    pub pools: usize,
    pub members: usize,
    /// The first enterprise, whose numbers are at HIGH throughput.
    pub first_enterprise_id: i64,
    /// Its first pool (active; ten members when the enterprise has twenty
    /// numbers or more, else up to three): where a send load goes.
    pub send_pool_id: Option<i64>,
    /// The WABAs and numbers as the Graph API sandbox serves them, with the
    /// access tokens the stored links hold.
    pub sandbox: Fixture,
}

/// The send pool's members, where numbers allow: a pool's most (R4), so
/// that its limit (10 × 1,000 messages/s) is above what the server sends.
const SEND_POOL_MEMBERS: usize = 10;

/// The user who creates the send load's API key.
const SEND_KEY_CREATOR: &str = "admin@aggregator-1.bench";

/// A random access token for one WABA of the dataset.
fn new_token() -> SecretString {
    SecretString::from(format!("bench-{}", crate::security::csrf::new_token()))
}

/// A blob literal in the backend's own syntax (the hex of bytes is safe SQL).
fn blob_literal(conn: &DbConnection, bytes: &[u8]) -> String {
    match conn {
        DbConnection::Sqlite(_) => format!("X'{}'", hex::encode(bytes)),
        DbConnection::Postgres(_) => format!("'\\x{}'::bytea", hex::encode(bytes)),
    }
}

const CHUNK: usize = 500;

/// Runs `INSERT INTO table (columns) VALUES …` for rows of already-safe SQL literals.
fn insert_rows(conn: &mut DbConnection, table: &str, columns: &str, rows: &[String]) -> Result<(), ServiceError> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!("INSERT INTO {table} ({columns}) VALUES {}", chunk.join(","));
        diesel::sql_query(sql).execute(conn)?;
    }
    Ok(())
}

fn max_id(conn: &mut DbConnection, table: &str) -> Result<i64, ServiceError> {
    #[derive(diesel::QueryableByName)]
    struct Max {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Max = diesel::sql_query(format!("SELECT COALESCE(MAX(id), 0) AS id FROM {table}")).get_result(conn)?;
    Ok(row.id)
}

/// Fills an empty database; refuses shapes that break R4 (more than 10 numbers a pool).
/// WABA tokens are sealed with `keys`, those the server will open them with.
pub fn fill(conn: &mut DbConnection, shape: Shape, password: &SecretString, keys: &SecretKeys) -> Result<Written, ServiceError> {
    if shape.aggregators == 0 || shape.enterprises == 0 || shape.numbers_per_enterprise == 0 {
        return Err(ServiceError::invalid("shape", "Ask for at least one aggregator, enterprise and number."));
    }
    if shape.pools_per_enterprise > shape.numbers_per_enterprise {
        return Err(ServiceError::invalid("shape", "Each pool needs at least one number of its own."));
    }
    let hash = hash_password(password)?;
    let now = format!("'{}'", crate::store::now().format("%Y-%m-%d %H:%M:%S%.6f"));
    write_transaction(conn, |conn| {
        let first_aggregator = max_id(conn, "aggregators")? + 1;
        let rows: Vec<String> = (1..=shape.aggregators).map(|a| format!("('Aggregator {a:04}', {now})")).collect();
        insert_rows(conn, "aggregators", "name, created_at", &rows)?;
        let first_enterprise = max_id(conn, "enterprises")? + 1;
        let rows: Vec<String> = (1..=shape.enterprises)
            .map(|e| format!("('Enterprise {e:05}', {}, {now})", first_aggregator + ((e - 1) % shape.aggregators) as i64))
            .collect();
        insert_rows(conn, "enterprises", "name, aggregator_id, created_at", &rows)?;
        let first_waba = max_id(conn, "wabas")? + 1;
        let rows: Vec<String> = (1..=shape.enterprises).map(|e| format!("('9{e:014}', 'Enterprise {e:05} WABA', 'active', {now}, {now})")).collect();
        insert_rows(conn, "wabas", "meta_waba_id, name, status, last_synced_at, created_at", &rows)?;
        let mut sandbox = Fixture { wabas: Vec::with_capacity(shape.enterprises) };
        let mut rows = Vec::with_capacity(shape.enterprises);
        for e in 1..=shape.enterprises {
            let token = new_token();
            let sealed = keys.seal(&token);
            rows.push(format!(
                "({}, {}, {}, '{}', {now})",
                first_waba + (e - 1) as i64,
                first_enterprise + (e - 1) as i64,
                blob_literal(conn, &sealed.ciphertext),
                sealed.key_id
            ));
            sandbox.wabas.push(FixtureWaba {
                id: format!("9{e:014}"),
                name: format!("Enterprise {e:05} WABA"),
                access_token: token.expose_secret().to_owned(),
                phone_numbers: Vec::with_capacity(shape.numbers_per_enterprise),
            });
        }
        insert_rows(conn, "waba_links", "waba_id, enterprise_id, access_token_ciphertext, access_token_key_id, linked_at", &rows)?;
        let first_number = max_id(conn, "numbers")? + 1;
        let mut rows = Vec::with_capacity(shape.enterprises * shape.numbers_per_enterprise);
        for e in 0..shape.enterprises {
            for n in 0..shape.numbers_per_enterprise {
                let serial = e * shape.numbers_per_enterprise + n;
                let digits = format!("1555{serial:07}");
                let quality = if serial.is_multiple_of(13) { "YELLOW" } else { "GREEN" };
                let throughput = if e == 0 { "HIGH" } else { "STANDARD" };
                rows.push(format!(
                    "({}, {}, '7{serial:09}', '+{digits}', '+{digits}', 'Enterprise {:05}', 'activated', 'CONNECTED', 'VERIFIED', '{quality}', 'TIER_10K', '{throughput}', {now}, {now}, {now})",
                    first_waba + e as i64,
                    first_enterprise + e as i64,
                    e + 1,
                ));
                sandbox.wabas[e].phone_numbers.push(PhoneNumberInfo {
                    id: format!("7{serial:09}"),
                    display_phone_number: format!("+{digits}"),
                    verified_name: Some(format!("Enterprise {:05}", e + 1)),
                    status: Some("CONNECTED".to_owned()),
                    quality_rating: Some(quality.to_owned()),
                    code_verification_status: Some("VERIFIED".to_owned()),
                    messaging_limit_tier: Some("TIER_10K".to_owned()),
                    throughput: Some(Throughput { level: Some(throughput.to_owned()) }),
                });
            }
        }
        insert_rows(
            conn,
            "numbers",
            "waba_id, enterprise_id, phone_number_id, display_phone_number, e164, verified_name, status, meta_status, code_verification_status, quality_rating, messaging_limit_tier, throughput_level, last_synced_at, created_at, updated_at",
            &rows,
        )?;
        let first_pool = max_id(conn, "pools")? + 1;
        let mut pools = Vec::new();
        let mut members = Vec::new();
        let wide_send_pool = shape.numbers_per_enterprise >= 2 * SEND_POOL_MEMBERS;
        for e in 0..shape.enterprises {
            for p in 0..shape.pools_per_enterprise {
                let pool_id = first_pool + pools.len() as i64;
                pools.push(format!(
                    "({}, {}, 'Pool {p:02} of enterprise {:05}', 'pool {p:02} of enterprise {:05}', {}, 1, {now}, {now})",
                    first_enterprise + e as i64,
                    first_waba + e as i64,
                    e + 1,
                    e + 1,
                    if p % 10 == 9 { "FALSE" } else { "TRUE" },
                ));
                // Up to three numbers n with n % pools == p: R4 holds and some numbers stay free for Add Pool.
                // The send pool takes the first ten when there are numbers enough.
                let first = if e == 0 && wide_send_pool { SEND_POOL_MEMBERS } else { 0 };
                let mine: Vec<usize> = if e == 0 && p == 0 && wide_send_pool {
                    (0..SEND_POOL_MEMBERS).collect()
                } else {
                    (first..shape.numbers_per_enterprise).filter(|n| n % shape.pools_per_enterprise == p).take(3).collect()
                };
                for (slot, n) in mine.iter().enumerate() {
                    members.push(format!(
                        "({pool_id}, {}, {}, {}, {}, {now})",
                        first_number + (e * shape.numbers_per_enterprise + n) as i64,
                        first_waba + e as i64,
                        first_enterprise + e as i64,
                        slot + 1
                    ));
                }
            }
        }
        insert_rows(conn, "pools", "enterprise_id, waba_id, name, name_key, active, version, created_at, updated_at", &pools)?;
        insert_rows(conn, "pool_members", "pool_id, number_id, waba_id, enterprise_id, slot, added_at", &members)?;
        let mut users: Vec<String> = (0..shape.aggregators)
            .map(|a| format!("('admin@aggregator-{}.bench', '{hash}', 'super_admin', NULL, {}, FALSE, 0, {now})", a + 1, first_aggregator + a as i64))
            .collect();
        users.push(format!("('admin@enterprise-1.bench', '{hash}', 'admin', {first_enterprise}, NULL, FALSE, 0, {now})"));
        insert_rows(conn, "users", "email, password_hash, role, enterprise_id, aggregator_id, disabled, session_epoch, created_at", &users)?;
        Ok(Written {
            enterprises: shape.enterprises,
            numbers: rows.len(),
            pools: pools.len(),
            members: members.len(),
            first_enterprise_id: first_enterprise,
            send_pool_id: (shape.pools_per_enterprise > 0).then_some(first_pool),
            sandbox,
        })
    })
}

/// Creates an API key for the first enterprise, as its aggregator's super
/// admin would on the API keys page, and returns it (shown once).
pub fn create_send_key(conn: &mut DbConnection, written: &Written) -> Result<String, ServiceError> {
    let creator = users::find_by_email(conn, SEND_KEY_CREATOR)?.ok_or(ServiceError::NotFound)?;
    let aggregator = creator.aggregator_id.ok_or(ServiceError::NotFound)?;
    let actor = Actor {
        user_id: UserId(creator.id),
        email: creator.email,
        role: Role::SuperAdmin,
        scope: Scope::Aggregator(AggregatorId(aggregator)),
        client_ip: None,
    };
    api_keys::create(conn, &actor, Some(&written.first_enterprise_id.to_string()), "bench-data send load")
}
