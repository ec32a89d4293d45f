//! The system-call fuzzer's host twin: tasks made of heap memory issue
//! system calls through their saved registers, scheduled as the kernel's
//! loop would (one call, then the back of the run queue), with the
//! invariant audit to check the state between calls. Faults cannot be
//! played here (`programs/fuzz` has them).
//!
//! The calls come from [`random_calls`], biased by hand as in
//! `programs/fuzz`, which takes every decision from a [`Choices`]: a seeded
//! generator ([`Rng`]) for the random fuzzer of `fuzz_tests.rs`, or the
//! bytes of an input ([`Bytes`]) for the coverage-guided fuzzer in `fuzz/`
//! (libFuzzer changes the bytes, and so the decisions, and keeps the inputs
//! that reach code no input reached before). Built for host tests, and
//! with the feature `host-twin` for the fuzzer.

use crate::objects::audit::{AuditError, AuditReport, audit};
use crate::objects::task::{RUN_QUEUE, Stop, TaskState, make_inactive, make_ready};
use crate::objects::testing::{Arena, System, system};
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, Pml4, RawPage, Task, Untyped, cpool};
use crate::syscalls::{self, Next};
use abi::syscall::{SyscallArgs, TaskField};
use abi::{CAddr, Call};
use std::vec::Vec;

/// Where the fuzzer's decisions come from.
pub trait Choices {
    /// Any 64-bit value.
    fn next(&mut self) -> u64;
    /// A value below `n` (not zero).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Whether no decision is left to take (a generator never runs out).
    fn is_exhausted(&self) -> bool {
        false
    }
}

/// xorshift64*, as in `programs/fuzz`: the random fuzzer's choices.
pub struct Rng(pub u64);

impl Rng {
    /// The generator for `seed` (any seed, zero included).
    pub fn for_seed(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
}

impl Choices for Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The coverage-guided fuzzer's choices: the bytes of its input, read in
/// order. A choice below `n` reads as few bytes as `n` needs, so that one
/// byte changed changes one decision; a full 64-bit value reads eight.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    fn take(&mut self, count: usize) -> u64 {
        let (now, rest) = self.data.split_at(count.min(self.data.len()));
        self.data = rest;
        now.iter().fold(0, |value, &byte| (value << 8) | u64::from(byte))
    }
}

impl Choices for Bytes<'_> {
    fn next(&mut self) -> u64 {
        self.take(8)
    }

    fn is_exhausted(&self) -> bool {
        self.data.is_empty()
    }

    fn below(&mut self, n: u64) -> u64 {
        let bytes = (64 - (n - 1).leading_zeros()).div_ceil(8).max(1) as usize;
        self.take(bytes) % n
    }
}

/// One of `items` (given first: they may use `choices`).
fn pick<const N: usize>(items: [u64; N], choices: &mut impl Choices) -> u64 {
    items[choices.below(N as u64) as usize]
}

/// Root slots: 1 the untyped (the arena), 2.. the fuzzing tasks, their
/// buffers and their PML4; the calls change slots from 16 on.
const TASKS: u8 = 4;
const SPACE: u8 = 12;
const FIRST_FUZZ_SLOT: u8 = 16;

fn fuzz_slot(choices: &mut impl Choices) -> u8 {
    FIRST_FUZZ_SLOT + choices.below(u64::from(255 - FIRST_FUZZ_SLOT)) as u8
}

/// A capability address the calls may change (see `programs/fuzz`).
fn target(choices: &mut impl Choices) -> u64 {
    let raw = match choices.below(10) {
        0..=5 => CAddr::root(fuzz_slot(choices)).to_raw(),
        6..=8 => {
            let depth = 2 + choices.below(3) as usize;
            let mut path = [0u8; 7];
            path[0] = fuzz_slot(choices);
            for index in path.iter_mut().take(depth).skip(1) {
                *index = pick([0, 1, 2, 3, 16, 17, choices.below(256)], choices) as u8;
            }
            CAddr::new(&path[..depth]).unwrap().to_raw()
        }
        _ => choices.next() >> choices.below(64),
    };
    match CAddr::from_raw(raw) {
        Ok(address) if address.path()[0] < FIRST_FUZZ_SLOT => CAddr::root(fuzz_slot(choices)).to_raw(),
        _ => raw,
    }
}

fn source(choices: &mut impl Choices) -> u64 {
    match choices.below(5) {
        0 => CAddr::root(1).to_raw(),
        1 => CAddr::root(SPACE).to_raw(),
        _ => target(choices),
    }
}

/// Calls for one turn: usually one, sometimes the calls that make a
/// *victim*, a task made from the arena that runs calls in the same pool
/// (so a revoke destroys it, and the channels it waits on, at any time).
pub fn random_calls(choices: &mut impl Choices) -> Vec<(u64, [u64; 6])> {
    if choices.below(40) != 0 {
        return vec![random_call(choices)];
    }
    let (arena, task) = (CAddr::root(1).to_raw(), CAddr::root(fuzz_slot(choices)).to_raw());
    let set = |field: TaskField, value: u64| (Call::TaskSet as u64, [task, field as u64, value, 0, 0, 0]);
    vec![
        (Call::Retype as u64, [arena, ObjectKind::Task as u64, task, 0, 0, 0]),
        set(TaskField::CPool, CAddr::root(0).to_raw()),
        set(TaskField::Table, CAddr::root(SPACE).to_raw()),
        set(TaskField::Instruction, 0x40_1000),
        (Call::TaskStart as u64, [task, 0, 0, 0, 0, 0]),
    ]
}

/// One call's number and arguments.
fn random_call<C: Choices>(choices: &mut C) -> (u64, [u64; 6]) {
    let arena = CAddr::root(1).to_raw();
    let untyped = |choices: &mut C| if choices.below(2) == 0 { arena } else { target(choices) };
    let kind =
        |choices: &mut C| pick([1, 2, 3, 4, 5, 6, 7, 7, 9, 9, 10, 10, 0, 8, 11, choices.next()], choices);
    let address = |choices: &mut C| {
        pick(
            [
                0x40_0000 + choices.below(16) * 0x1000,
                ((1 + choices.below(4)) << 39)
                    | (choices.below(2) << 30)
                    | (choices.below(2) << 21)
                    | (choices.below(4) << 12),
                choices.next(),
                0x8000_0000_0000 - 0x1000,
            ],
            choices,
        )
    };
    let call = match choices.below(22) {
        0..=4 => Call::Retype,
        5 | 6 => Call::Copy,
        7 => Call::Move,
        8 => Call::Delete,
        9 => Call::Revoke,
        10 => Call::MapTable,
        11 => Call::MapPage,
        12 | 13 => Call::TaskSet,
        14 => Call::TaskStart,
        15 => Call::TaskStop,
        16 => Call::ChannelPut,
        17 => Call::ChannelTake,
        18 => Call::ListPool,
        19 => Call::ChannelCall,
        20 => Call::UnmapPage,
        _ => {
            let number = pick([0, 1, 2, 17, 18, 99, u64::MAX], choices);
            return (number, [0; 6].map(|_: u64| choices.next()));
        }
    };
    let args = match call {
        Call::Retype => {
            let size = pick([0, 0, 0, 4096 * choices.below(32), choices.next()], choices);
            [untyped(choices), kind(choices), target(choices), size, 0, 0]
        }
        Call::Copy => [source(choices), target(choices), 0, 0, 0, 0],
        Call::Move => [target(choices), target(choices), 0, 0, 0, 0],
        Call::Delete | Call::TaskStart | Call::TaskStop | Call::ListPool | Call::UnmapPage => {
            [target(choices), 0, 0, 0, 0, 0]
        }
        Call::Revoke => [untyped(choices), 0, 0, 0, 0, 0],
        Call::MapTable => [target(choices), source(choices), address(choices), 0, 0, 0],
        Call::MapPage => [
            target(choices),
            source(choices),
            address(choices),
            pick([0, 1, 2, 3, 4, choices.next()], choices),
            0,
            0,
        ],
        Call::TaskSet => {
            let field = pick([1, 2, 3, 4, 5, 0, 6], choices);
            let value = match field {
                1 | 2 => pick([0x40_1000, choices.next(), 0x8000_0000_0000], choices),
                _ => source(choices),
            };
            [target(choices), field, value, 0, 0, 0]
        }
        Call::ChannelPut => {
            let value = pick([choices.next(), 0, 16, 256, 257, source(choices), source(choices)], choices);
            [target(choices), pick([1, 2, 3, 3, 0, 4], choices), value, 0, 0, 0]
        }
        Call::ChannelCall => {
            let value = pick([choices.next(), 0, 16, 256, 257, source(choices), source(choices)], choices);
            let kind = pick([1, 1, 2, 3, 0, 4], choices);
            [target(choices), kind, value, target(choices), target(choices), 0]
        }
        _ => [target(choices), target(choices), 0, 0, 0, 0],
    };
    (call as u64, args)
}

/// A system of fuzzing tasks. (Fields drop in order: the tasks before the
/// memory they live in.)
pub struct Twin {
    tasks: Vec<ManagedArc<Task>>,
    own: ManagedArc<Untyped>,
    _own_arena: Arena,
    system: System,
}

impl Twin {
    /// The fuzzing tasks, their buffers and address space, all from the
    /// system's own pool memory (not the arena): they live through every
    /// revoke of the arena. The run queue must be empty.
    pub fn new() -> Twin {
        assert!(RUN_QUEUE.pop_front().is_none(), "the twin has the run queue to itself");
        let system = system(512);
        let own_arena = Arena::for_pages(64);
        let own = own_arena.untyped();
        let root = &system.root;
        root.slot(0).downgrade(root).unwrap();
        let space = own.retype::<Pml4>().unwrap().into_any();
        root.slot(SPACE).downgrade(&space).unwrap();
        let tasks = (0..TASKS)
            .map(|index| {
                let task = own.retype::<Task>().unwrap();
                let buffer = own.retype::<RawPage>().unwrap();
                root.slot(2 + index).downgrade(&task).unwrap();
                root.slot(2 + TASKS + index).downgrade(&buffer).unwrap();
                task.cpool_slot().downgrade(root).unwrap();
                task.table_slot().downgrade(&space).unwrap();
                task.buffer_slot().downgrade(&buffer).unwrap();
                task.set_entry(0x40_1000);
                task.set_stack(0x7000_0000);
                task
            })
            .collect();
        Twin { tasks, own, _own_arena: own_arena, system }
    }

    /// The invariant audit of everything the twin holds.
    pub fn audit(&self) -> Result<AuditReport, AuditError> {
        let roots = [self.system.roots()[0], self.system.roots()[1], &self.own];
        audit(&roots, &RUN_QUEUE, &mut vec![0; 1 << 14])
    }

    // ANCHOR: turn
    /// The scheduler's turn: the task at the front runs the calls `calls`
    /// gives it (until one blocks, yields, exits or stops it). With none
    /// ready, every fuzzing task starts afresh (as the fuzz program's main
    /// task does) and no call runs.
    pub fn turn(&self, calls: impl FnOnce() -> Vec<(u64, [u64; 6])>) {
        let Some(task) = RUN_QUEUE.pop_front() else {
            for task in &self.tasks {
                make_inactive(task);
                make_ready(task);
            }
            return;
        };
        task.set_run_state(TaskState::Running);
        let Ok(pool) = task.cpool_slot().upgrade::<CPool>() else {
            task.set_run_state(TaskState::Faulted(Stop::NoPool));
            return;
        };
        let table = task.table_slot().upgrade::<AnyObject>();
        if !table.is_ok_and(|table| table.kind() == ObjectKind::Pml4) {
            task.set_run_state(TaskState::Faulted(Stop::NoTable));
            return;
        }
        for (number, args) in calls() {
            task.set_call(SyscallArgs { number, args });
            match syscalls::handle(&task, &pool) {
                Next::Caller | Next::Other if task.run_state() == TaskState::Running => {}
                // The fast path handed the CPU to the receiver: it runs
                // when the twin's queue comes to it.
                Next::Switch(receiver) => {
                    make_ready(&receiver);
                    break;
                }
                Next::Exit(_) => {
                    task.reset_to_start();
                    task.set_run_state(TaskState::Inactive);
                    break;
                }
                _ => break,
            }
        }
        if task.run_state() == TaskState::Running {
            make_ready(&task);
        }
    }
    // ANCHOR_END: turn

    /// Revokes the arena: everything made from it goes (nothing holds any
    /// of it: a strong pointer leaked by some call would make this
    /// refuse), and the twin ends with the run queue empty. The audit must
    /// pass after it.
    pub fn finish(self) -> Result<(), String> {
        cpool::revoke(&self.system.root, CAddr::root(1))
            .map_err(|error| format!("revoking the arena: {error}"))?;
        let audited = self.audit().map(|_| ()).map_err(|error| format!("after revoking the arena: {error}"));
        for task in &self.tasks {
            make_inactive(task);
        }
        audited
    }
}

impl Default for Twin {
    fn default() -> Self {
        Self::new()
    }
}
