//! One routing decision over a pool of 10 members with 100,000 known
//! recipients (sticky senders looked up in a map, as the service does after
//! loading them). Target: ≤ 1 µs median.

use std::collections::HashMap;

use criterion::{Criterion, criterion_group, criterion_main};
use wabapool::routing::{Member, Pool, Request, Strategy, decide};

fn members() -> Vec<Member> {
    (0..10)
        .map(|i| Member {
            number_id: i + 1,
            slot: i as i32 + 1,
            priority: 50 + (i as i32 % 3),
            weight: 1 + (i as i32 % 4),
            current_weight: 0,
            regions: if i < 3 { vec!["44".into()] } else { Vec::new() },
            departments: if i % 2 == 0 { vec!["sales".into()] } else { Vec::new() },
            last_used: Some(1_000 + i),
            unavailable: None,
            window_open: i % 3 == 0,
        })
        .collect()
}

fn routing_decision(c: &mut Criterion) {
    let members = members();
    let recipients: Vec<String> = (0..100_000).map(|i| format!("1555{i:07}")).collect();
    let sticky: HashMap<&str, i64> = recipients.iter().enumerate().map(|(i, r)| (r.as_str(), (i % 10) as i64 + 1)).collect();
    let pool = Pool { strategy: Strategy::Weighted, strict: false, pointer: 3 };
    let mut n = 0usize;
    c.bench_function("routing decision, pool of 10, 100k known recipients", |b| {
        b.iter(|| {
            n = (n + 7919) % recipients.len();
            let recipient = recipients[n].as_str();
            let request = Request { recipient, free_form: false, department: None, sticky: sticky.get(recipient).copied() };
            std::hint::black_box(decide(&pool, &members, &request))
        })
    });
}

criterion_group!(benches, routing_decision);
criterion_main!(benches);
