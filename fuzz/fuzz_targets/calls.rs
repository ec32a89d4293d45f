//! Coverage-guided fuzzing of the system calls on the host twin: every
//! decision the random fuzzer would take from its generator (which call,
//! which slot, which address, a victim task or not) is read from the
//! input's bytes instead, so libFuzzer, changing bytes and keeping the
//! inputs that reach new code, steers the call sequence. The audit runs
//! every few turns and at the end, and the arena's revoke must leave a
//! state that passes it: a failure aborts, and libFuzzer saves the input.

#![no_main]

use kernel_fuzz::{TURNS, play};
use stage6_channels::fuzz_twin::Bytes;

libfuzzer_sys::fuzz_target!(|data: &[u8]| play(TURNS, &mut Bytes::new(data)));
