//! What the base layout shows around every page: the user, their
//! organisation and role, the menu, flash messages and the demo banner.

use super::session::{CurrentUser, Flash, take_flash};

/// The menu entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Numbers,
    Pools,
    Users,
    Audit,
    Password,
    ApiKeys,
    Events,
    None,
}

pub struct Chrome {
    pub email: String,
    pub organisation: String,
    pub role_label: &'static str,
    pub is_aggregator: bool,
    pub manages_channels: bool,
    pub manages_users: bool,
    pub current: Nav,
    pub flash: Option<Flash>,
    pub demo: bool,
    pub csrf_token: String,
}

impl Chrome {
    pub fn new(user: &CurrentUser, current: Nav, demo: bool) -> Self {
        Self {
            email: user.actor.email.clone(),
            organisation: user.organisation.clone(),
            role_label: user.actor.role.label(),
            is_aggregator: user.actor.scope.is_aggregator(),
            manages_channels: user.actor.role.manages_channels(),
            manages_users: user.actor.role.manages_users(),
            current,
            flash: take_flash(&user.session),
            demo,
            csrf_token: user.csrf_token(),
        }
    }

    /// `aria-current="page"` for the current menu entry.
    pub fn is_current(&self, nav: Nav) -> bool {
        self.current == nav
    }
}
