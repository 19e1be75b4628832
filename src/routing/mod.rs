//! The routing engine: which member of a pool sends one message, and why.
//! Pure: the caller loads the pool's state, asks for a decision, sends, and
//! stores what happened. Strategies, sticky senders, service windows,
//! region and department tags, eligibility and Meta's error classes.

pub mod errors;

use std::borrow::Cow;

pub use errors::{ErrorClass, classify};

use crate::domain::{NumberStatus, OutOfRotation, WabaStatus};

/// How a pool spreads messages over its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Members in slot order after the pool's pointer, which each send moves.
    RoundRobin,
    /// Highest priority first; round robin among equals.
    Priority,
    /// Smooth weighted round robin.
    Weighted,
    LeastRecentlyUsed,
}

impl Strategy {
    /// Whether the strategy walks the pool's round robin pointer.
    pub fn takes_turns(self) -> bool {
        matches!(self, Strategy::RoundRobin | Strategy::Priority)
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "round_robin" => Some(Self::RoundRobin),
            "priority" => Some(Self::Priority),
            "weighted" => Some(Self::Weighted),
            "least_recently_used" => Some(Self::LeastRecentlyUsed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::Priority => "priority",
            Self::Weighted => "weighted",
            Self::LeastRecentlyUsed => "least_recently_used",
        }
    }
}

/// Why a member cannot send right now (besides region and department):
/// out of rotation (the first three, see [`crate::domain::rotation`]), or
/// resting for a while after Meta's answer or its own throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    NotActivated(NumberStatus),
    WabaNotActive(WabaStatus),
    QualityRed,
    CoolingDown,
    WabaOutOfRotation,
    OverThroughput,
}

impl Unavailable {
    pub fn reason(&self) -> Cow<'static, str> {
        match self {
            Self::NotActivated(status) => format!("number is {status}").into(),
            Self::WabaNotActive(status) => format!("WABA is {status}").into(),
            Self::QualityRed => "quality is RED".into(),
            Self::CoolingDown => "cooling down after Meta's spam limit".into(),
            Self::WabaOutOfRotation => "WABA out of rotation after Meta's error".into(),
            Self::OverThroughput => "at its messages-per-second limit".into(),
        }
    }
}

impl From<OutOfRotation> for Unavailable {
    fn from(out: OutOfRotation) -> Self {
        match out {
            OutOfRotation::NotActivated(status) => Self::NotActivated(status),
            OutOfRotation::WabaNotActive(status) => Self::WabaNotActive(status),
            OutOfRotation::QualityRed => Self::QualityRed,
        }
    }
}

/// One member as the engine sees it.
#[derive(Debug, Clone)]
pub struct Member {
    pub number_id: i64,
    pub slot: i32,
    pub priority: i32,
    pub weight: i32,
    /// Smooth weighted round robin state.
    pub current_weight: i64,
    /// Country calling codes, e.g. "44", "1".
    pub regions: Vec<String>,
    pub departments: Vec<String>,
    /// Seconds since the epoch; None when never used.
    pub last_used: Option<i64>,
    pub unavailable: Option<Unavailable>,
    /// The recipient wrote to this number within 24 hours.
    pub window_open: bool,
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub strategy: Strategy,
    pub strict: bool,
    /// Slot of the member that last sent (round robin).
    pub pointer: i32,
}

#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The recipient's digits (E.164 without "+").
    pub recipient: &'a str,
    /// Free-form (not a template): needs an open service window.
    pub free_form: bool,
    pub department: Option<&'a str>,
    /// The member that last served this recipient.
    pub sticky: Option<i64>,
}

/// Each member's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub number_id: i64,
    pub eligible: bool,
    pub reason: Cow<'static, str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Members to try, best first (failover order).
    Send(Vec<i64>),
    /// A free-form message with no open service window on any eligible member.
    NeedsTemplate,
    /// Nobody can send now.
    NoEligibleMember,
    /// The department is not on any member.
    UnknownDepartment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub verdicts: Vec<Verdict>,
}

/// The longest calling-code tag of `member` that prefixes the recipient.
fn region_match(member: &Member, recipient: &str) -> Option<usize> {
    member.regions.iter().filter(|code| !code.is_empty() && recipient.starts_with(code.as_str())).map(String::len).max()
}

pub fn decide(pool: &Pool, members: &[Member], request: &Request<'_>) -> Decision {
    let mut verdicts: Vec<Verdict> = members
        .iter()
        .map(|m| Verdict {
            number_id: m.number_id,
            eligible: m.unavailable.is_none(),
            reason: m.unavailable.as_ref().map_or(Cow::Borrowed("eligible"), Unavailable::reason),
        })
        .collect();
    let finish = |outcome: Outcome, verdicts: Vec<Verdict>| Decision { outcome, verdicts };

    if let Some(department) = request.department
        && !members.iter().any(|m| m.departments.iter().any(|d| d.eq_ignore_ascii_case(department)))
    {
        return finish(Outcome::UnknownDepartment, verdicts);
    }
    let mut candidates: Vec<usize> = (0..members.len()).filter(|&i| members[i].unavailable.is_none()).collect();

    // Department: tagged members first; untagged ones only when none is eligible and the pool is not strict.
    if let Some(department) = request.department {
        let tagged: Vec<usize> =
            candidates.iter().copied().filter(|&i| members[i].departments.iter().any(|d| d.eq_ignore_ascii_case(department))).collect();
        let keep = if !tagged.is_empty() {
            tagged
        } else if pool.strict {
            Vec::new()
        } else {
            candidates.iter().copied().filter(|&i| members[i].departments.is_empty()).collect()
        };
        mark_dropped(&mut verdicts, &candidates, &keep, "not in that department");
        candidates = keep;
    }

    // Region: members tagged with the longest calling code that prefixes the
    // recipient serve it; when none of them is eligible, untagged members
    // do, unless the pool is strict. Members tagged for other regions never do.
    let untagged: Vec<usize> = candidates.iter().copied().filter(|&i| members[i].regions.is_empty()).collect();
    let keep: Vec<usize> = match members.iter().filter_map(|m| region_match(m, request.recipient)).max() {
        Some(len) => {
            let tagged: Vec<usize> = candidates.iter().copied().filter(|&i| region_match(&members[i], request.recipient) == Some(len)).collect();
            if !tagged.is_empty() {
                tagged
            } else if pool.strict {
                Vec::new()
            } else {
                untagged
            }
        }
        None => untagged,
    };
    mark_dropped(&mut verdicts, &candidates, &keep, "serves other regions");
    candidates = keep;

    // Free-form messages only from a number with an open window with this recipient.
    if request.free_form {
        let open: Vec<usize> = candidates.iter().copied().filter(|&i| members[i].window_open).collect();
        if open.is_empty() {
            if candidates.is_empty() {
                return finish(Outcome::NoEligibleMember, verdicts);
            }
            mark_dropped(&mut verdicts, &candidates, &open, "no open service window with this recipient");
            return finish(Outcome::NeedsTemplate, verdicts);
        }
        mark_dropped(&mut verdicts, &candidates, &open, "no open service window with this recipient");
        candidates = open;
    }
    if candidates.is_empty() {
        return finish(Outcome::NoEligibleMember, verdicts);
    }

    let mut order = ordered(pool, members, &candidates);
    if let Some(sticky) = request.sticky
        && let Some(pos) = order.iter().position(|&i| members[i].number_id == sticky)
    {
        let chosen = order.remove(pos);
        order.insert(0, chosen);
    }
    if let Some(first) = order.first()
        && let Some(v) = verdicts.iter_mut().find(|v| v.number_id == members[*first].number_id)
    {
        v.reason = if request.sticky == Some(members[*first].number_id) { "chosen: last served this recipient".into() } else { "chosen".into() };
    }
    finish(Outcome::Send(order.into_iter().map(|i| members[i].number_id).collect()), verdicts)
}

fn mark_dropped(verdicts: &mut [Verdict], before: &[usize], after: &[usize], reason: &'static str) {
    for &i in before.iter().filter(|i| !after.contains(i)) {
        verdicts[i].eligible = false;
        verdicts[i].reason = Cow::Borrowed(reason);
    }
}

/// The candidates in the order the strategy tries them.
fn ordered(pool: &Pool, members: &[Member], candidates: &[usize]) -> Vec<usize> {
    let by_slot_after_pointer = |list: &mut Vec<usize>| {
        list.sort_by_key(|&i| {
            let slot = members[i].slot;
            (if slot > pool.pointer { 0 } else { 1 }, slot)
        });
    };
    let mut list = candidates.to_vec();
    match pool.strategy {
        Strategy::RoundRobin => by_slot_after_pointer(&mut list),
        Strategy::Priority => {
            by_slot_after_pointer(&mut list);
            // A stable sort keeps round robin order among equal priorities.
            list.sort_by_key(|&i| std::cmp::Reverse(members[i].priority));
        }
        Strategy::Weighted => {
            let mut scored: Vec<(usize, i64)> = list.iter().map(|&i| (i, members[i].current_weight + i64::from(members[i].weight))).collect();
            scored.sort_by_key(|&(i, score)| (std::cmp::Reverse(score), members[i].slot));
            list = scored.into_iter().map(|(i, _)| i).collect();
        }
        Strategy::LeastRecentlyUsed => list.sort_by_key(|&i| (members[i].last_used.unwrap_or(i64::MIN), members[i].slot)),
    }
    list
}

/// Smooth weighted round robin: after `chosen` sends, every eligible
/// member's current weight grows by its weight and the chosen one's drops
/// by the total. Returns (number_id, new current weight).
pub fn weighted_after(members: &[Member], eligible: &[i64], chosen: i64) -> Vec<(i64, i64)> {
    let total: i64 = members.iter().filter(|m| eligible.contains(&m.number_id)).map(|m| i64::from(m.weight)).sum();
    members
        .iter()
        .filter(|m| eligible.contains(&m.number_id))
        .map(|m| {
            let grown = m.current_weight + i64::from(m.weight);
            (m.number_id, if m.number_id == chosen { grown - total } else { grown })
        })
        .collect()
}

/// Parses stored tags: comma or space separated, trimmed, lower-cased for departments.
pub fn tags(raw: &str) -> Vec<String> {
    raw.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests;
