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
use crate::objects::irq_line::{self, IrqLine};
use crate::objects::port_range::PortRange;
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
/// buffers and their PML4, 13 a pool of devices as the kernel hands them
/// out; the calls change slots from 16 on.
const TASKS: u8 = 4;
const SPACE: u8 = 12;
const DEVICES: u8 = 13;
const FIRST_FUZZ_SLOT: u8 = 16;

/// Not a system call: the twin takes it for an interrupt on the line in
/// its first argument, as if the PIC had raised it between two calls
/// (`objects/irq_line.rs`), and for a timer tick, which delivers what is
/// owed. (A random call number is this one once in 2^64 calls: then an
/// interrupt comes, which any call may meet.)
pub const INTERRUPT: u64 = 0x8000_0000_0000_1717;

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

/// A device to derive from or use: one of the devices pool's, often, or
/// any source (where a derived one may be).
fn device(choices: &mut impl Choices) -> u64 {
    match choices.below(3) {
        0 => {
            let index = pick([1, 3, 4, 7, 8, 15, 16, 17, 18, 19, choices.below(24)], choices);
            CAddr::new(&[DEVICES, index as u8]).unwrap().to_raw()
        }
        _ => source(choices),
    }
}

/// A port: in or near a handed range, a kernel port, or anything.
fn port(choices: &mut impl Choices) -> u64 {
    pick(
        [0x2f8, 0x2fb, 0x2ff, 0x300, 0x70, 0x71, 0x3f8, 0x3fd, 0x60, 0x20, 0xf4, 0xffff, choices.next()],
        choices,
    )
}

/// Calls for one turn: usually one, sometimes the calls that make a
/// *victim*, a task made from the arena that runs calls in the same pool
/// (so a revoke destroys it, and the channels it waits on, at any time).
pub fn random_calls(choices: &mut impl Choices) -> Vec<(u64, [u64; 6])> {
    if choices.below(16) == 0 {
        return vec![(INTERRUPT, [choices.below(17), 0, 0, 0, 0, 0])];
    }
    if choices.below(30) == 0 {
        return driver_calls(choices);
    }
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

/// The calls of a driver: a line of its own, derived from the devices
/// pool's into a fuzz slot, bound to a new channel there, an interrupt,
/// and (mostly) its acknowledgment; each may fail, like any call here.
fn driver_calls(choices: &mut impl Choices) -> Vec<(u64, [u64; 6])> {
    let arena = CAddr::root(1).to_raw();
    let line = pick([1, 3, 4, 5, 7, 8, 15], choices);
    let pool_irq = CAddr::new(&[DEVICES, line as u8]).unwrap().to_raw();
    let (irq, channel) = (CAddr::root(fuzz_slot(choices)).to_raw(), CAddr::root(fuzz_slot(choices)).to_raw());
    let mut calls = vec![
        (Call::IrqDerive as u64, [pool_irq, arena, irq, 0, 0, 0]),
        (Call::Retype as u64, [arena, ObjectKind::Channel as u64, channel, 0, 0, 0]),
        (Call::IrqBind as u64, [irq, channel, 0, 0, 0, 0]),
        (INTERRUPT, [line, 0, 0, 0, 0, 0]),
    ];
    if choices.below(4) != 0 {
        calls.push((Call::IrqAcknowledge as u64, [irq, 0, 0, 0, 0, 0]));
    }
    calls
}

/// One call's number and arguments.
fn random_call<C: Choices>(choices: &mut C) -> (u64, [u64; 6]) {
    let arena = CAddr::root(1).to_raw();
    let untyped = |choices: &mut C| if choices.below(2) == 0 { arena } else { target(choices) };
    let kind = |choices: &mut C| {
        pick([1, 2, 3, 4, 5, 6, 7, 7, 9, 9, 10, 10, 0, 8, 11, 12, 13, choices.next()], choices)
    };
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
    let call = match choices.below(27) {
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
        20 => Call::IrqDerive,
        21 => Call::IrqBind,
        22 => Call::IrqAcknowledge,
        23 => Call::PortDerive,
        24 => Call::PortRead,
        25 => Call::PortWrite,
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
        Call::Delete | Call::TaskStart | Call::TaskStop | Call::ListPool => [target(choices), 0, 0, 0, 0, 0],
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
        Call::IrqDerive => [device(choices), untyped(choices), target(choices), 0, 0, 0],
        Call::IrqBind => [device(choices), target(choices), 0, 0, 0, 0],
        Call::IrqAcknowledge => [device(choices), 0, 0, 0, 0, 0],
        Call::PortDerive => {
            let count = pick([1, 2, 4, 8, 0, choices.next()], choices);
            [device(choices), untyped(choices), target(choices), port(choices), count, 0]
        }
        Call::PortRead | Call::PortWrite => {
            let width = pick([1, 2, 4, 0, 3, 8, choices.next()], choices);
            [device(choices), port(choices), width, choices.next(), 0, 0]
        }
        _ => [target(choices), target(choices), 0, 0, 0, 0],
    };
    (call as u64, args)
}

/// A system of fuzzing tasks. (Fields drop in order: the tasks before the
/// memory they live in.)
pub struct Twin {
    /// For each call number below 32, how many calls succeeded.
    done: core::cell::RefCell<[u64; 32]>,
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
        root.slot(DEVICES).downgrade(&devices(&own)).unwrap();
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
        Twin { done: Default::default(), tasks, own, _own_arena: own_arena, system }
    }

    /// How many calls of `call` succeeded so far (a blocked take counts
    /// when it is answered: not here).
    pub fn done(&self, call: Call) -> u64 {
        self.done.borrow().get(call as usize).copied().unwrap_or(0)
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
            if number == INTERRUPT {
                irq_line::fire(args[0] as u8);
                irq_line::deliver_pending();
                continue;
            }
            task.set_call(SyscallArgs { number, args });
            let next = syscalls::handle(&task, &pool);
            if task.result_registers()[0] == 0
                && let Some(done) = self.done.borrow_mut().get_mut(number as usize)
            {
                *done += 1;
            }
            match next {
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

/// The devices pool as the kernel makes it (`first_task::devices_pool`),
/// from `own`, but not pinned: the twin's objects all go when it does, so
/// the thread's record of the lines names none of them afterwards.
fn devices(own: &ManagedArc<Untyped>) -> ManagedArc<CPool> {
    use abi::device::{HANDED_PORTS, LINES, is_handable_line, slot};
    let pool = own.retype::<CPool>().unwrap();
    for line in (0..LINES).filter(|&line| is_handable_line(u64::from(line))) {
        let irq = own.retype::<IrqLine>().unwrap();
        irq.set_line(line);
        pool.slot(slot::irq(line)).downgrade(&irq).unwrap();
    }
    for (index, span, _) in HANDED_PORTS {
        let range = own.retype::<PortRange>().unwrap();
        range.set_span(span);
        pool.slot(index).downgrade(&range).unwrap();
    }
    pool
}

impl Default for Twin {
    fn default() -> Self {
        Self::new()
    }
}
