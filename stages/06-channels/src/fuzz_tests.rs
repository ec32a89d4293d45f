//! The random system-call fuzzer on the host twin (`fuzz_twin`): seeded
//! random calls, scheduled as the kernel's loop would, with the invariant
//! audit every few calls. Many more calls a second than in QEMU, and a
//! failure stops at the call that broke an invariant, in a debugger if
//! need be. (`fuzz/` drives the same twin with coverage guidance.)

use crate::fuzz_twin::{Rng, Twin, random_calls};
use crate::objects::task::run_queue_for_tests;
use abi::Call;

/// Runs `calls` turns of random calls from seed `seed`, auditing every
/// `every`; returns how many of each of `counted` succeeded.
fn fuzz<const N: usize>(seed: u64, calls: usize, every: usize, counted: [Call; N]) -> [u64; N] {
    let mut rng = Rng::for_seed(seed);
    let twin = Twin::new();
    let check = |twin: &Twin, when: &str| {
        if let Err(error) = twin.audit() {
            panic!("seed {seed}: the audit failed {when}: {error}");
        }
    };
    for call in 0..calls {
        if call % every == 0 {
            check(&twin, &format!("before call {call}"));
        }
        twin.turn(|| random_calls(&mut rng));
    }
    check(&twin, "at the end");
    let done = counted.map(|call| twin.done(call));
    twin.finish().unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    done
}

/// 40 seeds by default; `FUZZ_SEEDS=FIRST..LAST` for a longer search
/// (`FUZZ_SEEDS=1..2000 cargo test -p stage6-channels --lib fuzz_tests`).
#[test]
fn random_system_calls_keep_every_invariant() {
    let _queue = run_queue_for_tests();
    let seeds = std::env::var("FUZZ_SEEDS").ok().and_then(|range| {
        let (first, last) = range.split_once("..")?;
        Some(first.parse::<u64>().ok()?..=last.parse::<u64>().ok()?)
    });
    // The device calls, which the fuzzer must get past the checks too.
    let devices = [
        Call::IrqDerive,
        Call::IrqBind,
        Call::IrqAcknowledge,
        Call::PortDerive,
        Call::PortRead,
        Call::PortWrite,
    ];
    let mut done = [0; 6];
    for seed in seeds.unwrap_or(1..=40) {
        let more = fuzz(seed, 5000, 25, devices);
        done = core::array::from_fn(|index| done[index] + more[index]);
    }
    for (call, done) in devices.iter().zip(done) {
        assert!(done > 0, "no {call:?} succeeded");
    }
}
