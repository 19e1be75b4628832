//! The engine's rules, one behaviour per test, and proptests over random pools.

use proptest::prelude::{Just, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
use proptest::strategy::Strategy as _;

use super::*;

fn member(number_id: i64, slot: i32) -> Member {
    Member {
        number_id,
        slot,
        priority: 50,
        weight: 1,
        current_weight: 0,
        regions: Vec::new(),
        departments: Vec::new(),
        last_used: None,
        unavailable: None,
        window_open: false,
    }
}

fn pool(strategy: Strategy, pointer: i32) -> Pool {
    Pool { strategy, strict: false, pointer }
}

fn template_to(recipient: &str) -> Request<'_> {
    Request { recipient, free_form: false, department: None, sticky: None }
}

fn first(decision: &Decision) -> Option<i64> {
    match &decision.outcome {
        Outcome::Send(order) => order.first().copied(),
        _ => None,
    }
}

#[test]
fn round_robin_takes_the_slot_after_the_pointer_and_wraps() {
    let members = [member(10, 1), member(20, 2), member(30, 3)];
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &template_to("15550000000"))), Some(10));
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 1), &members, &template_to("15550000000"))), Some(20));
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 3), &members, &template_to("15550000000"))), Some(10));
}

#[test]
fn priority_prefers_the_highest_and_rotates_among_equals() {
    let mut members = [member(10, 1), member(20, 2), member(30, 3)];
    members[1].priority = 90;
    members[2].priority = 90;
    assert_eq!(first(&decide(&pool(Strategy::Priority, 0), &members, &template_to("1555"))), Some(20));
    assert_eq!(first(&decide(&pool(Strategy::Priority, 2), &members, &template_to("1555"))), Some(30));
}

#[test]
fn smooth_weighted_round_robin_spreads_by_weight() {
    let mut members = vec![member(1, 1), member(2, 2)];
    members[0].weight = 3;
    members[1].weight = 1;
    let mut counts = [0, 0];
    for _ in 0..8 {
        let chosen = first(&decide(&pool(Strategy::Weighted, 0), &members, &template_to("1555"))).unwrap();
        counts[(chosen - 1) as usize] += 1;
        for (id, weight) in weighted_after(&members, &[1, 2], chosen) {
            members.iter_mut().find(|m| m.number_id == id).unwrap().current_weight = weight;
        }
    }
    assert_eq!(counts, [6, 2]);
}

#[test]
fn least_recently_used_takes_the_longest_idle_member() {
    let mut members = [member(10, 1), member(20, 2)];
    members[0].last_used = Some(200);
    members[1].last_used = Some(100);
    assert_eq!(first(&decide(&pool(Strategy::LeastRecentlyUsed, 0), &members, &template_to("1555"))), Some(20));
}

#[test]
fn the_sticky_member_keeps_its_recipient_while_eligible() {
    let mut members = [member(10, 1), member(20, 2)];
    let request = Request { sticky: Some(20), ..template_to("1555") };
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &request)), Some(20));
    members[1].unavailable = Some(Unavailable::QualityRed);
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &request)), Some(10));
}

#[test]
fn free_form_messages_need_an_open_window_or_a_template() {
    let mut members = [member(10, 1), member(20, 2)];
    let request = Request { free_form: true, ..template_to("1555") };
    let decision = decide(&pool(Strategy::RoundRobin, 0), &members, &request);
    assert_eq!(decision.outcome, Outcome::NeedsTemplate);
    members[1].window_open = true;
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &request)), Some(20));
}

#[test]
fn the_longest_matching_calling_code_wins_and_untagged_members_are_the_fallback() {
    let mut members = [member(10, 1), member(20, 2), member(30, 3)];
    members[0].regions = vec!["4".into()];
    members[1].regions = vec!["44".into()];
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &template_to("447700900123"))), Some(20));
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &template_to("15550000000"))), Some(30));
    members[1].unavailable = Some(Unavailable::CoolingDown);
    assert_eq!(first(&decide(&pool(Strategy::RoundRobin, 0), &members, &template_to("447700900123"))), Some(30), "untagged members are the fallback");
    let strict = Pool { strict: true, ..pool(Strategy::RoundRobin, 0) };
    assert_eq!(decide(&strict, &members, &template_to("447700900123")).outcome, Outcome::NoEligibleMember);
}

#[test]
fn a_strict_pool_does_not_fall_back_to_untagged_members() {
    let mut members = [member(10, 1), member(20, 2)];
    members[0].departments = vec!["billing".into()];
    members[0].unavailable = Some(Unavailable::QualityRed);
    let request = Request { department: Some("billing"), ..template_to("1555") };
    let loose = decide(&pool(Strategy::RoundRobin, 0), &members, &request);
    assert_eq!(first(&loose), Some(20));
    let strict = decide(&Pool { strict: true, ..pool(Strategy::RoundRobin, 0) }, &members, &request);
    assert_eq!(strict.outcome, Outcome::NoEligibleMember);
}

#[test]
fn an_unknown_department_is_refused() {
    let members = [member(10, 1)];
    let request = Request { department: Some("legal"), ..template_to("1555") };
    assert_eq!(decide(&pool(Strategy::RoundRobin, 0), &members, &request).outcome, Outcome::UnknownDepartment);
}

#[test]
fn every_member_gets_a_reason() {
    let mut members = [member(10, 1), member(20, 2)];
    members[0].unavailable = Some(Unavailable::NotActivated(NumberStatus::Deactivated));
    let decision = decide(&pool(Strategy::RoundRobin, 0), &members, &template_to("1555"));
    assert_eq!(decision.verdicts[0].reason, "number is deactivated");
    assert!(!decision.verdicts[0].eligible);
    assert_eq!(decision.verdicts[1].reason, "chosen");
}

fn arb_member() -> impl proptest::strategy::Strategy<Value = Member> {
    (
        1i32..=100,
        1i32..=10,
        proptest::option::of(0usize..6),
        proptest::collection::vec(prop_oneof![Just("1"), Just("44"), Just("4"), Just("91")], 0..2),
        proptest::collection::vec(prop_oneof![Just("sales"), Just("support")], 0..2),
        any::<bool>(),
    )
        .prop_map(|(priority, weight, unavailable, regions, departments, window_open)| Member {
            number_id: 0,
            slot: 0,
            priority,
            weight,
            current_weight: 0,
            regions: regions.into_iter().map(str::to_owned).collect(),
            departments: departments.into_iter().map(str::to_owned).collect(),
            last_used: None,
            unavailable: unavailable.map(|k| match k {
                0 => Unavailable::QualityRed,
                1 => Unavailable::CoolingDown,
                2 => Unavailable::OverThroughput,
                3 => Unavailable::WabaOutOfRotation,
                4 => Unavailable::NotActivated(NumberStatus::Pending),
                _ => Unavailable::WabaNotActive(WabaStatus::Suspended),
            }),
            window_open,
        })
}

proptest! {
    #[test]
    fn a_decision_sends_only_through_eligible_members_or_gives_a_reason(
        mut members in proptest::collection::vec(arb_member(), 1..=10),
        strategy in prop_oneof![Just(Strategy::RoundRobin), Just(Strategy::Priority), Just(Strategy::Weighted), Just(Strategy::LeastRecentlyUsed)],
        strict in any::<bool>(),
        pointer in 0i32..=10,
        free_form in any::<bool>(),
        department in proptest::option::of(prop_oneof![Just("sales"), Just("support")]),
        recipient in prop_oneof![Just("447700900123"), Just("15550000000"), Just("919810000000"), Just("6581000000")],
    ) {
        for (i, m) in members.iter_mut().enumerate() {
            m.number_id = i as i64 + 1;
            m.slot = i as i32 + 1;
        }
        let request = Request { recipient, free_form, department, sticky: None };
        let decision = decide(&Pool { strategy, strict, pointer }, &members, &request);
        prop_assert_eq!(decision.verdicts.len(), members.len());
        prop_assert!(decision.verdicts.iter().all(|v| !v.reason.is_empty()));
        if let Outcome::Send(order) = &decision.outcome {
            prop_assert!(!order.is_empty());
            for id in order {
                let m = members.iter().find(|m| m.number_id == *id).unwrap();
                prop_assert!(m.unavailable.is_none(), "an unavailable member was chosen");
                if free_form {
                    prop_assert!(m.window_open, "a free-form message without an open window");
                }
            }
        }
    }
}
