//! The system-call fuzzer's host twin: tasks made of heap memory issue
//! random system calls through their saved registers, scheduled as the
//! kernel's loop would (one call, then the back of the run queue), and the
//! invariant audit runs every few calls. Many more calls a second than in
//! QEMU, and a failure stops at the call that broke an invariant, in a
//! debugger if need be. (Faults cannot be played here: `programs/fuzz` has
//! them.)

use crate::objects::audit::audit;
use crate::objects::task::{RUN_QUEUE, Stop, TaskState, make_inactive, make_ready, run_queue_for_tests};
use crate::objects::testing::{System, system};
use crate::objects::{AnyObject, CPool, ManagedArc, ObjectKind, Task, cpool};
use crate::syscalls::{self, Next};
use abi::syscall::{SyscallArgs, TaskField};
use abi::{CAddr, Call};

/// xorshift64*, as in `programs/fuzz`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One of `items` (given first: they may use `rng`).
fn pick<const N: usize>(items: [u64; N], rng: &mut Rng) -> u64 {
    items[rng.below(N as u64) as usize]
}

/// Root slots: 1 the untyped (the arena), 2.. the fuzzing tasks, their
/// buffers and their PML4; the random calls change slots from 16 on.
const TASKS: u8 = 4;
const SPACE: u8 = 12;
const FIRST_FUZZ_SLOT: u8 = 16;

fn fuzz_slot(rng: &mut Rng) -> u8 {
    FIRST_FUZZ_SLOT + rng.below(u64::from(255 - FIRST_FUZZ_SLOT)) as u8
}

/// A capability address the random calls may change (see `programs/fuzz`).
fn target(rng: &mut Rng) -> u64 {
    let raw = match rng.below(10) {
        0..=5 => CAddr::root(fuzz_slot(rng)).to_raw(),
        6..=8 => {
            let depth = 2 + rng.below(3) as usize;
            let mut path = [0u8; 7];
            path[0] = fuzz_slot(rng);
            for index in path.iter_mut().take(depth).skip(1) {
                *index = pick([0, 1, 2, 3, 16, 17, rng.below(256)], rng) as u8;
            }
            CAddr::new(&path[..depth]).unwrap().to_raw()
        }
        _ => rng.next() >> rng.below(64),
    };
    match CAddr::from_raw(raw) {
        Ok(address) if address.path()[0] < FIRST_FUZZ_SLOT => CAddr::root(fuzz_slot(rng)).to_raw(),
        _ => raw,
    }
}

fn source(rng: &mut Rng) -> u64 {
    match rng.below(5) {
        0 => CAddr::root(1).to_raw(),
        1 => CAddr::root(SPACE).to_raw(),
        _ => target(rng),
    }
}

/// Random calls: usually one, sometimes the calls that make a *victim*, a
/// task made from the arena that runs random calls in the same pool (so a
/// revoke destroys it, and the channels it waits on, at any time).
fn random_calls(rng: &mut Rng) -> Vec<(u64, [u64; 6])> {
    if rng.below(40) != 0 {
        return vec![random_call(rng)];
    }
    let (arena, task) = (CAddr::root(1).to_raw(), CAddr::root(fuzz_slot(rng)).to_raw());
    let set = |field: TaskField, value: u64| (Call::TaskSet as u64, [task, field as u64, value, 0, 0, 0]);
    vec![
        (Call::Retype as u64, [arena, ObjectKind::Task as u64, task, 0, 0, 0]),
        set(TaskField::CPool, CAddr::root(0).to_raw()),
        set(TaskField::Table, CAddr::root(SPACE).to_raw()),
        set(TaskField::Instruction, 0x40_1000),
        (Call::TaskStart as u64, [task, 0, 0, 0, 0, 0]),
    ]
}

/// One random call's number and arguments.
fn random_call(rng: &mut Rng) -> (u64, [u64; 6]) {
    let arena = CAddr::root(1).to_raw();
    let untyped = |rng: &mut Rng| if rng.below(2) == 0 { arena } else { target(rng) };
    let kind = |rng: &mut Rng| pick([1, 2, 3, 4, 5, 6, 7, 7, 9, 9, 10, 10, 0, 8, 11, rng.next()], rng);
    let address = |rng: &mut Rng| {
        pick(
            [
                0x40_0000 + rng.below(16) * 0x1000,
                ((1 + rng.below(4)) << 39)
                    | (rng.below(2) << 30)
                    | (rng.below(2) << 21)
                    | (rng.below(4) << 12),
                rng.next(),
                0x8000_0000_0000 - 0x1000,
            ],
            rng,
        )
    };
    let call = match rng.below(21) {
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
        _ => return (pick([0, 1, 2, 17, 18, 99, u64::MAX], rng), [0; 6].map(|_: u64| rng.next())),
    };
    let args = match call {
        Call::Retype => {
            let size = pick([0, 0, 0, 4096 * rng.below(32), rng.next()], rng);
            [untyped(rng), kind(rng), target(rng), size, 0, 0]
        }
        Call::Copy => [source(rng), target(rng), 0, 0, 0, 0],
        Call::Move => [target(rng), target(rng), 0, 0, 0, 0],
        Call::Delete | Call::TaskStart | Call::TaskStop | Call::ListPool => [target(rng), 0, 0, 0, 0, 0],
        Call::Revoke => [untyped(rng), 0, 0, 0, 0, 0],
        Call::MapTable => [target(rng), source(rng), address(rng), 0, 0, 0],
        Call::MapPage => {
            [target(rng), source(rng), address(rng), pick([0, 1, 2, 3, 4, rng.next()], rng), 0, 0]
        }
        Call::TaskSet => {
            let field = pick([1, 2, 3, 4, 5, 0, 6], rng);
            let value = match field {
                1 | 2 => pick([0x40_1000, rng.next(), 0x8000_0000_0000], rng),
                _ => source(rng),
            };
            [target(rng), field, value, 0, 0, 0]
        }
        Call::ChannelPut => {
            let value = pick([rng.next(), 0, 16, 256, 257, source(rng), source(rng)], rng);
            [target(rng), pick([1, 2, 3, 3, 0, 4], rng), value, 0, 0, 0]
        }
        Call::ChannelCall => {
            let value = pick([rng.next(), 0, 16, 256, 257, source(rng), source(rng)], rng);
            [target(rng), pick([1, 1, 2, 3, 0, 4], rng), value, target(rng), target(rng), 0]
        }
        _ => [target(rng), target(rng), 0, 0, 0, 0],
    };
    (call as u64, args)
}

/// The fuzzing tasks, their buffers and address space, all from the
/// system's own pool memory (not the arena): they live through every
/// revoke of the arena.
fn fuzzing_tasks(system: &System, own: &ManagedArc<crate::objects::Untyped>) -> Vec<ManagedArc<Task>> {
    let root = &system.root;
    root.slot(0).downgrade(root).unwrap();
    let space = own.retype::<crate::objects::Pml4>().unwrap().into_any();
    root.slot(SPACE).downgrade(&space).unwrap();
    (0..TASKS)
        .map(|index| {
            let task = own.retype::<Task>().unwrap();
            let buffer = own.retype::<crate::objects::RawPage>().unwrap();
            root.slot(2 + index).downgrade(&task).unwrap();
            root.slot(2 + TASKS + index).downgrade(&buffer).unwrap();
            task.cpool_slot().downgrade(root).unwrap();
            task.table_slot().downgrade(&space).unwrap();
            task.buffer_slot().downgrade(&buffer).unwrap();
            task.set_entry(0x40_1000);
            task.set_stack(0x7000_0000);
            task
        })
        .collect()
}

/// Runs `calls` random calls from seed `seed`, auditing every `every`.
fn fuzz(seed: u64, calls: usize, every: usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let system = system(512);
    let own_arena = crate::objects::testing::Arena::for_pages(64);
    let own = own_arena.untyped();
    let tasks = fuzzing_tasks(&system, &own);
    let roots = [system.roots()[0], system.roots()[1], &own];
    let check = |when: &str| {
        if let Err(error) = audit(&roots, &RUN_QUEUE, &mut vec![0; 1 << 14]) {
            panic!("seed {seed}: the audit failed {when}: {error}");
        }
    };
    for call in 0..calls {
        if call % every == 0 {
            check(&format!("before call {call}"));
        }
        // The scheduler's turn: the task at the front runs one call. With
        // none ready, every fuzzing task starts afresh (as the fuzz
        // program's main task does).
        let Some(task) = RUN_QUEUE.pop_front() else {
            for task in &tasks {
                make_inactive(task);
                make_ready(task);
            }
            continue;
        };
        task.set_run_state(TaskState::Running);
        let Ok(pool) = task.cpool_slot().upgrade::<CPool>() else {
            task.set_run_state(TaskState::Faulted(Stop::NoPool));
            continue;
        };
        let table = task.table_slot().upgrade::<AnyObject>();
        if !table.is_ok_and(|table| table.kind() == ObjectKind::Pml4) {
            task.set_run_state(TaskState::Faulted(Stop::NoTable));
            continue;
        }
        for (number, args) in random_calls(&mut rng) {
            task.set_call(SyscallArgs { number, args });
            match syscalls::handle_general(&task, &pool) {
                Next::Caller | Next::Other if task.run_state() == TaskState::Running => {}
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
    check("at the end");
    // Everything made from the arena goes (nothing holds any of it: a
    // strong pointer leaked by some call would make this refuse), and the
    // audit still passes.
    cpool::revoke(&system.root, CAddr::root(1)).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    check("after revoking the arena");
    for task in &tasks {
        make_inactive(task);
    }
    drop(tasks);
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
    for seed in seeds.unwrap_or(1..=40) {
        fuzz(seed, 5000, 25);
    }
}
