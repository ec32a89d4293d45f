//! Where a system call's instructions go: timestamps at the boundaries of
//! its phases, for the breakdown in the book's chapter "What it costs".
//!
//! **A measuring aid, off by default.** Only a kernel built with the
//! cargo feature `bench-phases` (`make bench-phases`) reads the counter;
//! otherwise [`mark`] is empty and compiles to nothing. Under
//! `-icount shift=0` the counter counts instructions, so the difference
//! between two marks is the instructions between them (plus the mark's own
//! few: it is measured, and printed as `mark`).
//!
//! Only the null system call (`Nop`) is broken down: its caller passes the
//! counter it read just before `syscall` as the call's first argument, and
//! the counter it read when its previous `Nop` returned as the second. For
//! each phase the kernel keeps the least count over every `Nop`, and
//! prints them when the first task exits:
//!
//! ```text
//! phases: entry=.. decode=.. act=.. answer=.. loop=.. return=.. mark=..
//! ```
//!
//! `entry` runs from the user's reading through `syscall`, the entry code
//! and the return from `switch_to`; `return` from the top of the
//! scheduler's loop through `user::run`, `switch_to` and `iretq` to the
//! user's reading.
//! Each phase also holds one mark (`mark`: reading the counter and storing
//! it).

/// The boundaries, in the order a `Nop` passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Back from `user::run` with the trap.
    Trapped = 0,
    /// The call number and arguments decoded (the fast path's conditions
    /// checked and found not to hold).
    Decoded = 1,
    /// The call done.
    Acted = 2,
    /// The result written into the task's registers.
    Answered = 3,
    /// Back at the top of the scheduler's loop, about to run the task
    /// again.
    Resuming = 4,
}

#[cfg(feature = "bench-phases")]
mod enabled {
    use super::Mark;
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    const MARKS: usize = 5;
    /// The counter at each mark of the call being followed.
    static AT: [AtomicU64; MARKS] = [const { AtomicU64::new(0) }; MARKS];
    /// The user's reading before that call.
    static START: AtomicU64 = AtomicU64::new(0);
    /// Whether a `Nop` is being followed.
    static FOLLOWING: AtomicBool = AtomicBool::new(false);
    /// The instructions `follow` took (its bookkeeping), left out of `decode`.
    static PAUSE: AtomicU64 = AtomicU64::new(0);
    /// The least count of each phase: entry, decode, act, answer, loop,
    /// return.
    static LEAST: [AtomicU64; MARKS + 1] = [const { AtomicU64::new(u64::MAX) }; MARKS + 1];
    static MARK_COST: AtomicU64 = AtomicU64::new(u64::MAX);
    /// The `Trapped` mark of the call being followed.
    static TRAPPED: AtomicU64 = AtomicU64::new(0);
    /// Where the cost of a mark is measured.
    static SCRATCH: AtomicU64 = AtomicU64::new(0);

    fn counter() -> u64 {
        // SAFETY: reads the time-stamp counter, nothing else.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[inline(always)]
    pub fn mark(at: Mark) {
        AT[at as usize].store(counter(), Relaxed);
    }

    pub fn follow(nop: bool, start: u64, previous_end: u64) {
        let paused = counter();
        if FOLLOWING.swap(false, Relaxed) && nop {
            // The previous `Nop`, now that its caller says when it ended.
            // The current call has marked `Trapped` already: the previous
            // one's was kept aside.
            let at = |mark: usize| if mark == 0 { TRAPPED.load(Relaxed) } else { AT[mark].load(Relaxed) };
            let mut phases = [0; MARKS + 1];
            phases[0] = at(0).wrapping_sub(START.load(Relaxed));
            for (index, phase) in phases.iter_mut().enumerate().take(MARKS).skip(1) {
                *phase = at(index).wrapping_sub(at(index - 1));
            }
            phases[1] = phases[1].wrapping_sub(PAUSE.load(Relaxed));
            phases[MARKS] = previous_end.wrapping_sub(at(MARKS - 1));
            for (least, phase) in LEAST.iter().zip(phases) {
                least.fetch_min(phase, Relaxed);
            }
            let first = counter();
            SCRATCH.store(counter(), Relaxed);
            MARK_COST.fetch_min(SCRATCH.load(Relaxed).wrapping_sub(first), Relaxed);
        }
        if nop {
            TRAPPED.store(AT[0].load(Relaxed), Relaxed);
            START.store(start, Relaxed);
            FOLLOWING.store(true, Relaxed);
        }
        PAUSE.store(counter().wrapping_sub(paused), Relaxed);
    }

    pub fn report() {
        let least = |index: usize| LEAST[index].load(Relaxed);
        common::println!(
            "phases: entry={} decode={} act={} answer={} loop={} return={} mark={}",
            least(0),
            least(1),
            least(2),
            least(3),
            least(4),
            least(5),
            MARK_COST.load(Relaxed)
        );
    }
}

/// Records that the current call reached `at` (nothing without the
/// feature).
#[inline(always)]
pub fn mark(_at: Mark) {
    #[cfg(feature = "bench-phases")]
    enabled::mark(_at);
}

/// A system call was decoded: if it is a `Nop` (`nop`), follow it; its
/// caller read the counter at `start` just before it, and passes when its
/// previous `Nop` ended (`previous_end`), so that the previous one's
/// phases, return included, can be counted now.
#[inline(always)]
pub fn follow(_nop: bool, _start: u64, _previous_end: u64) {
    #[cfg(feature = "bench-phases")]
    enabled::follow(_nop, _start, _previous_end);
}

/// Prints the least count of each phase (nothing without the feature).
pub fn report() {
    #[cfg(feature = "bench-phases")]
    enabled::report();
}
