//! The demo dataset (DESIGN.md §6), and the Graph API sandbox fixture that
//! holds the same WABAs and numbers so linking, sync and sending work offline.

use secrecy::SecretString;

use crate::db::{DbConnection, write_transaction};
use crate::domain::{E164, NumberStatus, QualityRating, Role, ThroughputLevel, WabaStatus};
use crate::meta::sandbox::{Fixture, FixtureWaba};
use crate::meta::types::{PhoneNumberInfo, Throughput};
use crate::security::password::hash_password;
use crate::security::secrets::SecretKeys;
use crate::services::ServiceError;
use crate::services::tenants::{UserHome, create_user_with_hash};
use crate::store::{numbers, orgs, pools, wabas};

pub const DEFAULT_PASSWORD: &str = "wabapool-demo";

/// The demo's enterprises: three of Northwind Partners, one of Southwind
/// Connect and one on its own, in that order.
pub const ENTERPRISES: [&str; 5] = ["Acme Retail", "Globex Health", "Initech Bank", "Hooli Travel", "Umbrella Foods"];

/// One demo number: display form, verified name, portal status, quality.
struct DemoNumber(&'static str, &'static str, NumberStatus, &'static str);

struct DemoWaba {
    enterprise: &'static str,
    meta_waba_id: &'static str,
    name: &'static str,
    numbers: &'static [DemoNumber],
}

const ACTIVE: NumberStatus = NumberStatus::Activated;

const WABAS: &[DemoWaba] = &[
    DemoWaba {
        enterprise: "Acme Retail",
        meta_waba_id: "102000000000101",
        name: "Acme Retail",
        numbers: &[
            DemoNumber("+1 555-010-0101", "Acme Retail", ACTIVE, "GREEN"),
            DemoNumber("+1 555-010-0102", "Acme Retail", ACTIVE, "GREEN"),
            DemoNumber("+44 7700 900101", "Acme Retail UK", ACTIVE, "GREEN"),
            DemoNumber("+91 98100 00101", "Acme Retail India", ACTIVE, "YELLOW"),
            DemoNumber("+65 8100 0101", "Acme Retail Singapore", ACTIVE, "GREEN"),
            DemoNumber("+1 555-010-0103", "Acme Retail", NumberStatus::Pending, "UNKNOWN"),
        ],
    },
    DemoWaba {
        enterprise: "Globex Health",
        meta_waba_id: "102000000000201",
        name: "Globex Health",
        numbers: &[
            DemoNumber("+1 555-020-0201", "Globex Health", ACTIVE, "GREEN"),
            DemoNumber("+1 555-020-0202", "Globex Health", ACTIVE, "GREEN"),
            DemoNumber("+1 555-020-0203", "Globex Health", NumberStatus::Deactivated, "RED"),
        ],
    },
    DemoWaba {
        enterprise: "Initech Bank",
        meta_waba_id: "102000000000301",
        name: "Initech Retail Banking",
        numbers: &[
            DemoNumber("+1 555-030-0301", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0302", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0303", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0304", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0305", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0306", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0307", "Initech Retail Banking", ACTIVE, "YELLOW"),
            DemoNumber("+1 555-030-0308", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0309", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0310", "Initech Retail Banking", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0311", "Initech Retail Banking", ACTIVE, "GREEN"),
        ],
    },
    DemoWaba {
        enterprise: "Initech Bank",
        meta_waba_id: "102000000000302",
        name: "Initech Cards",
        numbers: &[
            DemoNumber("+1 555-030-0401", "Initech Cards", ACTIVE, "GREEN"),
            DemoNumber("+1 555-030-0402", "Initech Cards", ACTIVE, "UNKNOWN"),
        ],
    },
    DemoWaba {
        enterprise: "Hooli Travel",
        meta_waba_id: "102000000000401",
        name: "Hooli Travel",
        numbers: &[
            DemoNumber("+1 555-040-0501", "Hooli Travel", ACTIVE, "GREEN"),
            DemoNumber("+1 555-040-0502", "Hooli Travel", ACTIVE, "GREEN"),
            DemoNumber("+44 7700 900501", "Hooli Travel UK", ACTIVE, "GREEN"),
            DemoNumber("+61 491 570 501", "Hooli Travel Australia", ACTIVE, "YELLOW"),
        ],
    },
    DemoWaba {
        enterprise: "Umbrella Foods",
        meta_waba_id: "102000000000501",
        name: "Umbrella Foods",
        numbers: &[
            DemoNumber("+1 555-050-0601", "Umbrella Foods", ACTIVE, "GREEN"),
            DemoNumber("+1 555-050-0602", "Umbrella Foods", ACTIVE, "GREEN"),
            DemoNumber("+1 555-050-0603", "Umbrella Foods", ACTIVE, "GREEN"),
        ],
    },
];

/// Pools: enterprise, name, member display numbers.
const POOLS: &[(&str, &str, &[&str])] = &[
    ("Acme Retail", "Acme Support", &["+1 555-010-0101", "+1 555-010-0102"]),
    ("Hooli Travel", "Hooli Trips", &["+1 555-040-0501", "+1 555-040-0502"]),
    ("Umbrella Foods", "Umbrella Orders", &["+1 555-050-0601", "+1 555-050-0602"]),
];

/// The sandbox token a demo WABA accepts.
pub fn sandbox_token(meta_waba_id: &str) -> String {
    format!("sandbox-token-{meta_waba_id}")
}

/// Meta's id for a demo number, derived from its digits.
fn phone_number_id(display: &str) -> Result<String, ServiceError> {
    let e164 = E164::parse(display).map_err(|e| ServiceError::Internal(e.into()))?;
    Ok(format!("10{}", e164.digits()))
}

/// The Graph API sandbox's view of the demo WABAs.
pub fn sandbox_fixture() -> Fixture {
    let wabas = WABAS
        .iter()
        .map(|w| FixtureWaba {
            id: w.meta_waba_id.to_owned(),
            name: w.name.to_owned(),
            access_token: sandbox_token(w.meta_waba_id),
            phone_numbers: w
                .numbers
                .iter()
                .map(|DemoNumber(display, verified_name, status, quality)| {
                    let pending = *status == NumberStatus::Pending;
                    PhoneNumberInfo {
                        id: phone_number_id(display).unwrap_or_default(),
                        display_phone_number: (*display).to_owned(),
                        verified_name: Some((*verified_name).to_owned()),
                        status: Some(if pending { "PENDING" } else { "CONNECTED" }.to_owned()),
                        quality_rating: Some((*quality).to_owned()),
                        code_verification_status: Some(if pending { "NOT_VERIFIED" } else { "VERIFIED" }.to_owned()),
                        messaging_limit_tier: Some("TIER_1K".to_owned()),
                        throughput: Some(Throughput { level: Some("STANDARD".to_owned()) }),
                    }
                })
                .collect(),
        })
        .collect();
    Fixture { wabas }
}

/// Loads the dataset; the caller checks the database is empty first.
/// Each WABA's sandbox token is sealed with `keys`, as a real link would be.
pub fn load(conn: &mut DbConnection, password: &SecretString, keys: &SecretKeys) -> Result<(), ServiceError> {
    let hash = hash_password(password)?;
    write_transaction(conn, |conn| {
        let northwind = orgs::insert_aggregator(conn, "Northwind Partners")?;
        let southwind = orgs::insert_aggregator(conn, "Southwind Connect")?;
        for (name, aggregator) in ENTERPRISES.into_iter().zip([Some(northwind), Some(northwind), Some(northwind), Some(southwind), None]) {
            orgs::insert_enterprise(conn, name, aggregator)?;
        }
        for waba in WABAS {
            add_waba(conn, waba, keys)?;
        }
        for (enterprise, name, members) in POOLS {
            add_pool(conn, enterprise, name, members)?;
        }
        Ok::<(), ServiceError>(())
    })?;

    let users: [(&str, Role, UserHome<'_>); 12] = [
        ("super@northwind.example", Role::SuperAdmin, UserHome::Aggregator("Northwind Partners")),
        ("admin@northwind.example", Role::Admin, UserHome::Aggregator("Northwind Partners")),
        ("agent@northwind.example", Role::Agent, UserHome::Aggregator("Northwind Partners")),
        ("super@acme.example", Role::SuperAdmin, UserHome::Enterprise("Acme Retail")),
        ("admin@acme.example", Role::Admin, UserHome::Enterprise("Acme Retail")),
        ("agent@acme.example", Role::Agent, UserHome::Enterprise("Acme Retail")),
        ("admin@globex.example", Role::Admin, UserHome::Enterprise("Globex Health")),
        ("admin@initech.example", Role::Admin, UserHome::Enterprise("Initech Bank")),
        ("admin@southwind.example", Role::Admin, UserHome::Aggregator("Southwind Connect")),
        ("admin@hooli.example", Role::Admin, UserHome::Enterprise("Hooli Travel")),
        ("super@umbrella.example", Role::SuperAdmin, UserHome::Enterprise("Umbrella Foods")),
        ("admin@umbrella.example", Role::Admin, UserHome::Enterprise("Umbrella Foods")),
    ];
    for (email, role, home) in users {
        create_user_with_hash(conn, email, role, home, &hash)?;
    }
    Ok(())
}

fn enterprise_id(conn: &mut DbConnection, name: &str) -> Result<i64, ServiceError> {
    Ok(orgs::find_enterprise_by_name(conn, name)?.ok_or(ServiceError::NotFound)?.id)
}

fn add_waba(conn: &mut DbConnection, demo: &DemoWaba, keys: &SecretKeys) -> Result<(), ServiceError> {
    let enterprise = enterprise_id(conn, demo.enterprise)?;
    let waba = wabas::insert(
        conn,
        &wabas::NewWaba { meta_waba_id: demo.meta_waba_id, business_id: Some("900000000000001"), name: demo.name, status: WabaStatus::Active },
    )?;
    let sealed = keys.seal(&SecretString::from(sandbox_token(demo.meta_waba_id)));
    wabas::store_token(conn, waba, enterprise, &sealed.ciphertext, &sealed.key_id)?;
    for DemoNumber(display, verified_name, status, quality) in demo.numbers {
        let e164 = E164::parse(display).map_err(|e| ServiceError::Internal(e.into()))?;
        let pending = *status == NumberStatus::Pending;
        numbers::insert(
            conn,
            &numbers::NewNumber {
                waba_id: waba,
                enterprise_id: Some(enterprise),
                phone_number_id: &phone_number_id(display)?,
                display_phone_number: display,
                e164: e164.as_str(),
                verified_name,
                status: *status,
                meta_status: Some(if pending { "PENDING" } else { "CONNECTED" }),
                code_verification_status: Some(if pending { "NOT_VERIFIED" } else { "VERIFIED" }),
                quality_rating: &QualityRating::parse(quality),
                messaging_limit_tier: Some("TIER_1K"),
                throughput_level: Some(&ThroughputLevel::Standard),
            },
        )?;
    }
    wabas::record_sync(conn, waba, demo.name, WabaStatus::Active)?;
    Ok(())
}

fn add_pool(conn: &mut DbConnection, enterprise: &str, name: &str, members: &[&str]) -> Result<(), ServiceError> {
    let enterprise = enterprise_id(conn, enterprise)?;
    let mut ids = Vec::with_capacity(members.len());
    for display in members {
        let number = numbers::find_by_phone_number_id(conn, &phone_number_id(display)?)?.ok_or(ServiceError::NotFound)?;
        ids.push((number.id, number.waba_id));
    }
    let waba_id = ids.first().map(|(_, w)| *w).ok_or(ServiceError::NotFound)?;
    let id = pools::insert(conn, &pools::NewPool { enterprise_id: enterprise, waba_id, name, name_key: &crate::domain::pool_name::key_of(name) })?;
    let pool = pools::find(conn, id)?.ok_or(ServiceError::NotFound)?;
    let slots: Vec<(i64, i32)> = ids.iter().map(|(n, _)| *n).zip(1..).collect();
    pools::insert_members(conn, &pool, &slots)?;
    Ok(())
}

/// Empties every table (for `demo --reset`), children first.
pub fn reset(conn: &mut DbConnection) -> Result<(), ServiceError> {
    use crate::db::schema::*;
    use diesel::RunQueryDsl as _;
    write_transaction(conn, |conn| {
        diesel::delete(audit_entries::table).execute(conn)?;
        diesel::delete(pool_members::table).execute(conn)?;
        diesel::delete(pools::table).execute(conn)?;
        diesel::delete(numbers::table).execute(conn)?;
        diesel::delete(waba_links::table).execute(conn)?;
        diesel::delete(wabas::table).execute(conn)?;
        diesel::delete(users::table).execute(conn)?;
        diesel::delete(enterprises::table).execute(conn)?;
        diesel::delete(aggregators::table).execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_holds_every_demo_number_with_a_unique_id() {
        let fixture = sandbox_fixture();
        let ids: std::collections::HashSet<_> = fixture.wabas.iter().flat_map(|w| w.phone_numbers.iter().map(|n| n.id.clone())).collect();
        assert_eq!(ids.len(), 6 + 3 + 11 + 2 + 4 + 3);
        assert!(ids.iter().all(|id| !id.is_empty()));
    }
}
