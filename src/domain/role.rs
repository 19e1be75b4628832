//! Who a user is (role) and what they may act on (scope).

use super::{AggregatorId, EnterpriseId};

/// A user's role (R1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    SuperAdmin,
    Admin,
    Agent,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "super_admin" => Some(Self::SuperAdmin),
            "admin" => Some(Self::Admin),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuperAdmin => "super_admin",
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::SuperAdmin => "Super admin",
            Self::Admin => "Admin",
            Self::Agent => "Agent",
        }
    }

    /// Admins and super admins manage pools, numbers and routing (R1).
    pub fn manages_channels(self) -> bool {
        matches!(self, Self::SuperAdmin | Self::Admin)
    }

    /// Only super admins manage users and API keys (R1).
    pub fn manages_users(self) -> bool {
        self == Self::SuperAdmin
    }
}

/// The tenant a user belongs to: one enterprise, or one aggregator (R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Enterprise(EnterpriseId),
    Aggregator(AggregatorId),
}

impl Scope {
    pub fn from_columns(enterprise_id: Option<i64>, aggregator_id: Option<i64>) -> Option<Self> {
        match (enterprise_id, aggregator_id) {
            (Some(e), None) => Some(Self::Enterprise(EnterpriseId(e))),
            (None, Some(a)) => Some(Self::Aggregator(AggregatorId(a))),
            _ => None,
        }
    }

    pub fn is_aggregator(self) -> bool {
        matches!(self, Self::Aggregator(_))
    }

    /// Whether an enterprise (with its aggregator, if any) is inside this scope.
    pub fn covers(self, enterprise: EnterpriseId, enterprise_aggregator: Option<AggregatorId>) -> bool {
        match self {
            Self::Enterprise(own) => own == enterprise,
            Self::Aggregator(own) => enterprise_aggregator == Some(own),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_do_not_manage_channels() {
        assert!(!Role::Agent.manages_channels());
        assert!(Role::Admin.manages_channels());
        assert!(Role::SuperAdmin.manages_channels());
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in [Role::SuperAdmin, Role::Admin, Role::Agent] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn an_aggregator_covers_only_its_own_enterprises() {
        let scope = Scope::Aggregator(AggregatorId(1));
        assert!(scope.covers(EnterpriseId(5), Some(AggregatorId(1))));
        assert!(!scope.covers(EnterpriseId(5), Some(AggregatorId(2))));
        assert!(!scope.covers(EnterpriseId(5), None));
    }

    #[test]
    fn an_enterprise_covers_only_itself() {
        let scope = Scope::Enterprise(EnterpriseId(3));
        assert!(scope.covers(EnterpriseId(3), None));
        assert!(!scope.covers(EnterpriseId(4), None));
    }
}
