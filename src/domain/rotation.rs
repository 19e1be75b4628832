//! Whether a number is in rotation: activated, its WABA active, and its
//! quality not RED (DESIGN.md, "Eligible"). The pool listing, the pool
//! page and the routing plan all ask [`out_of_rotation`]; routing then
//! adds what changes from second to second (cool-downs, a WABA resting
//! after Meta's error, throughput).
//!
//! Joining a pool asks less on purpose: R5 wants the number activated
//! ([`NumberStatus::is_activated`]), so a RED number or one of a suspended
//! WABA stays a member and returns to rotation when it recovers.

use super::{NumberStatus, QualityRating, WabaStatus};

/// Why a number is out of rotation. A WABA that cannot send is named
/// first: it explains every number it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfRotation {
    WabaNotActive(WabaStatus),
    NotActivated(NumberStatus),
    QualityRed,
}

/// None when the number is in rotation.
pub fn out_of_rotation(status: NumberStatus, quality: &QualityRating, waba: WabaStatus) -> Option<OutOfRotation> {
    if !waba.is_active() {
        Some(OutOfRotation::WabaNotActive(waba))
    } else if !status.is_activated() {
        Some(OutOfRotation::NotActivated(status))
    } else if quality.is_red() {
        Some(OutOfRotation::QualityRed)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OutOfRotation::*;

    #[test]
    fn only_an_activated_number_of_an_active_waba_below_red_is_in_rotation() {
        use NumberStatus::{Activated, Deactivated, Pending};
        use WabaStatus::{Active, ReconnectNeeded, Suspended};
        let green = QualityRating::Green;
        let red = QualityRating::Red;
        let table = [
            (Activated, &green, Active, None),
            (Activated, &QualityRating::Yellow, Active, None),
            (Activated, &QualityRating::Unknown, Active, None),
            (Activated, &QualityRating::parse("PURPLE"), Active, None),
            (Activated, &red, Active, Some(QualityRed)),
            (Activated, &QualityRating::parse("red"), Active, Some(QualityRed)),
            (Pending, &green, Active, Some(NotActivated(Pending))),
            (Deactivated, &red, Active, Some(NotActivated(Deactivated))),
            (Activated, &green, Suspended, Some(WabaNotActive(Suspended))),
            (Activated, &green, WabaStatus::Pending, Some(WabaNotActive(WabaStatus::Pending))),
            (Deactivated, &red, ReconnectNeeded, Some(WabaNotActive(ReconnectNeeded))),
        ];
        for (status, quality, waba, expected) in table {
            assert_eq!(out_of_rotation(status, quality, waba), expected, "{status} {quality} {waba}");
        }
    }
}
