//! Today's random fuzzer (`fuzz_tests.rs`, `programs/fuzz`) in the same
//! harness as `calls`, for a fair comparison of the coverage each reaches
//! in the same time: each run plays the next seed's random calls, as many
//! turns as a `calls` run at most, and ignores the input (so libFuzzer's
//! choices guide nothing; its coverage count is the random fuzzer's).

#![no_main]

use kernel_fuzz::{TURNS, play};
use stage6_channels::fuzz_twin::Rng;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_SEED: AtomicU64 = AtomicU64::new(1);

libfuzzer_sys::fuzz_target!(|_data: &[u8]| {
    play(TURNS, &mut Rng::for_seed(NEXT_SEED.fetch_add(1, Ordering::Relaxed)));
});
