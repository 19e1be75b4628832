//! The rules a pool keeps: R3 (three activated numbers), R4 (1–10 numbers),
//! R5 (activated, same enterprise, one WABA) and R6 (one pool per number).

use std::collections::HashSet;

use super::{EnterpriseId, NumberId, NumberStatus, PoolId, WabaId};

/// R3: an enterprise needs this many activated numbers to change pools.
pub const MIN_ACTIVATED_NUMBERS: i64 = 3;
/// R4: a pool holds at most this many numbers.
pub const MAX_POOL_NUMBERS: usize = 10;

/// The numbers chosen in a form, as typed ids, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberSelection(Vec<NumberId>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("Choose at least one number.")]
    Empty,
    #[error("A WABA Pool holds at most 10 numbers; {0} were chosen.")]
    TooMany(usize),
    #[error("The number choice \"{0}\" is not valid; reload the page and choose again.")]
    NotAnId(String),
    #[error("A number was chosen twice; reload the page and choose again.")]
    Repeated,
}

impl NumberSelection {
    /// Parses the repeated `phone_number_ids` values. The size check
    /// comes first, so a flood of values is refused before anything else.
    pub fn parse<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Self, SelectionError> {
        let raw: Vec<&str> = raw.into_iter().collect();
        if raw.is_empty() {
            return Err(SelectionError::Empty);
        }
        if raw.len() > MAX_POOL_NUMBERS {
            return Err(SelectionError::TooMany(raw.len()));
        }
        let mut seen = HashSet::with_capacity(raw.len());
        let mut ids = Vec::with_capacity(raw.len());
        for value in raw {
            let id: NumberId = value.parse().map_err(|_| SelectionError::NotAnId(shorten(value)))?;
            if !seen.insert(id) {
                return Err(SelectionError::Repeated);
            }
            ids.push(id);
        }
        Ok(Self(ids))
    }

    pub fn ids(&self) -> &[NumberId] {
        &self.0
    }

    pub fn contains(&self, id: NumberId) -> bool {
        self.0.contains(&id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn shorten(value: &str) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control()).take(24).collect();
    if value.chars().count() > 24 { format!("{clean}…") } else { clean }
}

/// R3's message, naming the enterprise and its count.
pub fn too_few_activated_numbers(enterprise_name: &str, activated: i64) -> Option<String> {
    (activated < MIN_ACTIVATED_NUMBERS).then(|| {
        let noun = if activated == 1 { "number" } else { "numbers" };
        format!("{enterprise_name} has {activated} activated WhatsApp {noun}; a WABA Pool needs at least {MIN_ACTIVATED_NUMBERS}.")
    })
}

/// What the rules need to know about one chosen number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCandidate {
    pub id: NumberId,
    pub display: String,
    pub enterprise_id: Option<EnterpriseId>,
    pub waba_id: WabaId,
    pub status: NumberStatus,
    /// The pool it already sits in, with that pool's name.
    pub pool: Option<(PoolId, String)>,
}

/// The outcome of checking a selection against one pool's frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipCheck {
    /// A chosen id that is not the enterprise's: answered with 404 (R2).
    Foreign(NumberId),
    /// Rule violations to show beside the numbers field.
    Invalid(Vec<String>),
    /// The numbers may be the pool's members.
    Valid,
}

/// Checks the chosen numbers for a pool of `enterprise` (R5, R6).
///
/// `pool` is the pool being edited (None when adding); `waba` is the WABA
/// the pool is bound to, or None when adding, where the first chosen
/// number's WABA binds it. `current_members` may stay even when no longer
/// activated: deactivating a number keeps its membership.
pub fn check_membership(
    enterprise: EnterpriseId,
    pool: Option<PoolId>,
    waba: Option<WabaId>,
    selection: &NumberSelection,
    candidates: &[PoolCandidate],
    current_members: &[NumberId],
) -> MembershipCheck {
    let mut errors = Vec::new();
    let mut wabas = HashSet::new();
    for id in selection.ids() {
        let Some(candidate) = candidates.iter().find(|c| c.id == *id) else {
            return MembershipCheck::Foreign(*id);
        };
        if candidate.enterprise_id != Some(enterprise) {
            return MembershipCheck::Foreign(*id);
        }
        let already_member = current_members.contains(id);
        if !already_member && !candidate.status.is_activated() {
            errors.push(format!("{} is {}; only activated numbers can join a pool.", candidate.display, candidate.status.as_str()));
        }
        if let Some((other, other_name)) = &candidate.pool
            && Some(*other) != pool
        {
            errors.push(format!("{} is already in the pool \"{other_name}\".", candidate.display));
        }
        wabas.insert(candidate.waba_id);
    }
    let bound = waba.or_else(|| selection.ids().first().and_then(|first| candidates.iter().find(|c| c.id == *first)).map(|c| c.waba_id));
    if wabas.len() > 1 || bound.is_some_and(|w| wabas.iter().any(|x| *x != w)) {
        errors.push("All numbers of a pool must belong to one WABA, so templates approved there work on every number.".to_owned());
    }
    if errors.is_empty() { MembershipCheck::Valid } else { MembershipCheck::Invalid(errors) }
}

/// The free slots (1..=10) a pool can give to new members (R4 in the schema).
pub fn free_slots(taken: &[i32], wanted: usize) -> Option<Vec<i32>> {
    let free: Vec<i32> = (1..=MAX_POOL_NUMBERS as i32).filter(|s| !taken.contains(s)).take(wanted).collect();
    (free.len() == wanted).then_some(free)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn candidate(id: i64, waba: i64) -> PoolCandidate {
        PoolCandidate {
            id: NumberId(id),
            display: format!("+1555010000{id}"),
            enterprise_id: Some(EnterpriseId(1)),
            waba_id: WabaId(waba),
            status: NumberStatus::Activated,
            pool: None,
        }
    }

    fn select(ids: &[&str]) -> NumberSelection {
        NumberSelection::parse(ids.iter().copied()).unwrap()
    }

    #[test]
    fn an_empty_selection_is_refused() {
        assert_eq!(NumberSelection::parse([]), Err(SelectionError::Empty));
    }

    #[test]
    fn eleven_numbers_are_refused_and_ten_fit() {
        let ten: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
        assert!(NumberSelection::parse(ten.iter().map(String::as_str)).is_ok());
        let eleven: Vec<String> = (1..=11).map(|i| i.to_string()).collect();
        assert_eq!(NumberSelection::parse(eleven.iter().map(String::as_str)), Err(SelectionError::TooMany(11)));
    }

    #[test]
    fn repeated_and_malformed_ids_are_refused() {
        assert_eq!(NumberSelection::parse(["1", "1"]), Err(SelectionError::Repeated));
        assert!(matches!(NumberSelection::parse(["1", "x"]), Err(SelectionError::NotAnId(_))));
        assert!(matches!(NumberSelection::parse(["-3"]), Err(SelectionError::NotAnId(_))));
    }

    #[test]
    fn the_three_number_rule_names_the_enterprise_and_count() {
        assert_eq!(
            too_few_activated_numbers("Globex Health", 2).as_deref(),
            Some("Globex Health has 2 activated WhatsApp numbers; a WABA Pool needs at least 3.")
        );
        assert_eq!(too_few_activated_numbers("Acme Retail", 3), None);
    }

    #[test]
    fn another_enterprises_number_is_foreign() {
        let mut other = candidate(2, 1);
        other.enterprise_id = Some(EnterpriseId(9));
        let check = check_membership(EnterpriseId(1), None, None, &select(&["1", "2"]), &[candidate(1, 1), other], &[]);
        assert_eq!(check, MembershipCheck::Foreign(NumberId(2)));
    }

    #[test]
    fn an_unknown_number_is_foreign() {
        let check = check_membership(EnterpriseId(1), None, None, &select(&["7"]), &[candidate(1, 1)], &[]);
        assert_eq!(check, MembershipCheck::Foreign(NumberId(7)));
    }

    #[test]
    fn numbers_from_two_wabas_are_refused() {
        let check = check_membership(EnterpriseId(1), None, None, &select(&["1", "2"]), &[candidate(1, 1), candidate(2, 2)], &[]);
        assert!(matches!(check, MembershipCheck::Invalid(ref e) if e[0].contains("one WABA")));
    }

    #[test]
    fn a_number_in_another_pool_is_refused_but_stays_in_its_own() {
        let mut taken = candidate(1, 1);
        taken.pool = Some((PoolId(4), "Acme Support".into()));
        let check = check_membership(EnterpriseId(1), None, None, &select(&["1"]), &[taken.clone()], &[]);
        assert!(matches!(check, MembershipCheck::Invalid(ref e) if e[0].contains("Acme Support")));
        let own = check_membership(EnterpriseId(1), Some(PoolId(4)), Some(WabaId(1)), &select(&["1"]), &[taken], &[NumberId(1)]);
        assert_eq!(own, MembershipCheck::Valid);
    }

    #[test]
    fn a_pending_number_cannot_join_but_a_deactivated_member_may_stay() {
        let mut pending = candidate(1, 1);
        pending.status = NumberStatus::Pending;
        let check = check_membership(EnterpriseId(1), None, None, &select(&["1"]), &[pending.clone()], &[]);
        assert!(matches!(check, MembershipCheck::Invalid(_)));
        let mut member = candidate(2, 1);
        member.status = NumberStatus::Deactivated;
        let stay = check_membership(EnterpriseId(1), Some(PoolId(1)), Some(WabaId(1)), &select(&["2"]), &[member], &[NumberId(2)]);
        assert_eq!(stay, MembershipCheck::Valid);
    }

    #[test]
    fn numbers_outside_the_pools_waba_are_refused_on_edit() {
        let check = check_membership(EnterpriseId(1), Some(PoolId(1)), Some(WabaId(1)), &select(&["2"]), &[candidate(2, 2)], &[]);
        assert!(matches!(check, MembershipCheck::Invalid(_)));
    }

    #[test]
    fn free_slots_fill_the_gaps_and_never_exceed_ten() {
        assert_eq!(free_slots(&[1, 3], 2), Some(vec![2, 4]));
        assert_eq!(free_slots(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 2), None);
    }

    proptest! {
        #[test]
        fn a_parsed_selection_holds_one_to_ten_distinct_ids(ids in proptest::collection::vec("[0-9]{1,3}|[a-z]{1,2}|-1", 0..16)) {
            if let Ok(sel) = NumberSelection::parse(ids.iter().map(String::as_str)) {
                prop_assert!(!sel.is_empty() && sel.len() <= MAX_POOL_NUMBERS);
                let distinct: HashSet<_> = sel.ids().iter().collect();
                prop_assert_eq!(distinct.len(), sel.len());
            }
        }

        #[test]
        fn free_slots_are_distinct_unused_and_in_range(taken in proptest::collection::hash_set(1i32..=10, 0..10), wanted in 0usize..12) {
            let taken: Vec<i32> = taken.into_iter().collect();
            match free_slots(&taken, wanted) {
                Some(slots) => {
                    prop_assert_eq!(slots.len(), wanted);
                    prop_assert!(slots.iter().all(|s| (1..=10).contains(s) && !taken.contains(s)));
                    prop_assert!(taken.len() + wanted <= MAX_POOL_NUMBERS);
                }
                None => prop_assert!(taken.len() + wanted > MAX_POOL_NUMBERS),
            }
        }
    }
}
