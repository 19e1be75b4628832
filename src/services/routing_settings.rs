//! A pool's routing settings page: strategy, strict tags, the members in
//! rotation below which the pool is degraded, and each member's priority,
//! weight, region and department tags.

use serde_json::json;
use validator::Validate;

use super::access::{enterprise_in_scope, require_channel_admin};
use super::{Actor, FieldErrors, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::EnterpriseId;
use crate::domain::events::MAX_DEGRADED_BELOW;
use crate::routing::Strategy;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::routing::{self as store, MemberState, PoolRouting};

pub struct RoutingSettings {
    pub pool: PoolRouting,
    pub enterprise_name: String,
    pub members: Vec<MemberState>,
    /// Fewer members in rotation than this make the pool degraded (None: fewer than half).
    pub degraded_below: Option<i32>,
}

pub fn load(conn: &mut DbConnection, actor: &Actor, pool_id: i64) -> Result<RoutingSettings, ServiceError> {
    require_channel_admin(actor)?;
    let pool = store::pool(conn, pool_id)?.ok_or(ServiceError::NotFound)?;
    let enterprise = enterprise_in_scope(conn, actor, EnterpriseId(pool.enterprise_id))?;
    let members = store::members(conn, pool.id)?;
    let degraded_below = crate::store::events::pool_health(conn, pool.id)?.and_then(|(_, _, threshold)| threshold);
    Ok(RoutingSettings { pool, enterprise_name: enterprise.name, members, degraded_below })
}

/// One member's settings as typed.
pub struct MemberInput {
    pub number_id: i64,
    pub priority: String,
    pub weight: String,
    pub regions: String,
    pub departments: String,
}

/// One member's settings as the page allows them; each message follows
/// the member's phone number.
#[derive(Validate)]
struct MemberSettings {
    #[validate(
        required(message = "priority is a whole number from 1 to 100."),
        range(min = 1, max = 100, message = "priority is a whole number from 1 to 100.")
    )]
    priority: Option<i32>,
    #[validate(
        required(message = "weight is a whole number from 1 to 1,000."),
        range(min = 1, max = 1000, message = "weight is a whole number from 1 to 1,000.")
    )]
    weight: Option<i32>,
    #[validate(required(message = "regions are country calling codes such as 44, 1, 91, separated by commas."))]
    regions: Option<String>,
    #[validate(required(message = "departments are names of letters, digits, spaces or dashes, separated by commas."))]
    departments: Option<String>,
}

const MEMBER_FIELDS: &[&str] = &["priority", "weight", "regions", "departments"];

impl MemberSettings {
    fn parse(input: &MemberInput) -> Self {
        Self {
            priority: input.priority.trim().parse().ok(),
            weight: input.weight.trim().parse().ok(),
            regions: clean_regions(&input.regions),
            departments: clean_departments(&input.departments),
        }
    }
}

fn clean_regions(raw: &str) -> Option<String> {
    let codes: Vec<&str> = raw.split([',', ' ']).map(str::trim).filter(|c| !c.is_empty()).map(|c| c.trim_start_matches('+')).collect();
    codes.iter().all(|c| (1..=4).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()) && !c.starts_with('0')).then(|| codes.join(","))
}

fn clean_departments(raw: &str) -> Option<String> {
    let names: Vec<String> = raw.split(',').map(|d| d.trim().to_lowercase()).filter(|d| !d.is_empty()).collect();
    names
        .iter()
        .all(|d| d.chars().count() <= 64 && d.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == ' '))
        .then(|| names.join(","))
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    pool_id: i64,
    strategy: &str,
    strict: bool,
    degraded_below: &str,
    inputs: &[MemberInput],
) -> Result<(), ServiceError> {
    write_transaction(conn, |conn| {
        let settings = load(conn, actor, pool_id)?;
        let mut errors = FieldErrors::default();
        let strategy = Strategy::parse(strategy);
        if strategy.is_none() {
            errors.add("strategy", "Choose round robin, priority, weighted or least recently used.");
        }
        let degraded_below = match degraded_below.trim() {
            "" => None,
            typed => match typed.parse::<i32>() {
                Ok(n) if (1..=MAX_DEGRADED_BELOW).contains(&n) => Some(n),
                _ => {
                    errors.add("degraded_below", "Leave it empty for half the members, or give a whole number from 1 to 10.");
                    None
                }
            },
        };
        let mut parsed = Vec::new();
        for member in &settings.members {
            let Some(input) = inputs.iter().find(|i| i.number_id == member.number_id) else { continue };
            let typed = MemberSettings::parse(input);
            match typed.validate() {
                Ok(()) => {
                    if let MemberSettings { priority: Some(p), weight: Some(w), regions: Some(r), departments: Some(d) } = typed {
                        parsed.push((member.number_id, p, w, r, d));
                    }
                }
                Err(found) => {
                    for (field, message) in FieldErrors::from_validation(MEMBER_FIELDS, &found).all() {
                        errors.add(format!("{field}_{}", member.number_id), format!("{}: {message}", member.display_phone_number));
                    }
                }
            }
        }
        let Some(strategy) = strategy.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
        store::set_pool_routing(conn, pool_id, strategy.as_str(), strict)?;
        crate::store::events::set_degraded_below(conn, pool_id, degraded_below)?;
        crate::services::events::pool_health(conn, pool_id)?;
        for (number_id, priority, weight, regions, departments) in &parsed {
            store::set_member_routing(conn, pool_id, *number_id, *priority, *weight, regions, departments)?;
        }
        audit::record(
            conn,
            &NewAuditEntry {
                actor_user_id: Some(actor.user_id.get()),
                actor_email: Some(actor.email.clone()),
                enterprise_id: Some(settings.pool.enterprise_id),
                action: "pool.routing_update",
                subject_type: "pool",
                subject_id: Some(pool_id.to_string()),
                before: Some(
                    json!({ "strategy": settings.pool.strategy, "strict": settings.pool.strict_routing, "degraded_below": settings.degraded_below }),
                ),
                after: Some(
                    json!({ "strategy": strategy.as_str(), "strict": strict, "degraded_below": degraded_below, "members": parsed.iter().map(|(n, p, w, r, d)| json!({ "number_id": n, "priority": p, "weight": w, "regions": r, "departments": d })).collect::<Vec<_>>() }),
                ),
                client_ip: actor.client_ip.clone(),
            },
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_tags_are_calling_codes_and_departments_are_plain_names() {
        assert_eq!(clean_regions("+44, 1 91").as_deref(), Some("44,1,91"));
        assert_eq!(clean_regions("").as_deref(), Some(""));
        assert!(clean_regions("UK").is_none() && clean_regions("012").is_none() && clean_regions("12345").is_none());
        assert_eq!(clean_departments("Sales, after-sales").as_deref(), Some("sales,after-sales"));
        assert!(clean_departments("<script>").is_none());
    }
}
