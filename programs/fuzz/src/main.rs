//! The system-call fuzzer: hostile user space, on purpose.
//!
//! rinit starts this program when the kernel command line says
//! `fuzz=SEED,COUNT`, and sends it, over the channel in slot 255 that the
//! kernel gives every program, what it needs: an untyped to fuzz with (the
//! *arena*, slot 8), an untyped for its own tasks (slot 9), a channel for
//! the answer (slot 10), the devices pool (slot 12), the seed and the
//! count. Of the devices it keeps only lines 3, 5 and 8 and the COM2 and
//! CMOS ports (slots 13 to 15, 19 and 23), never the keyboard's or COM1's,
//! which the shell's input needs; it derives its own IrqLines and
//! PortRanges from those, out of the arena, binds, acknowledges, reads
//! and writes (the CMOS clock's writes can turn on its interrupt, line 8:
//! real interrupts on a line the fuzzer binds).
//!
//! The program (the *main* task) then starts [`CHILDREN`] child tasks that
//! share its address space and root pool, each running [`child_main`]: a
//! loop of random system calls drawn from a seeded xorshift generator.
//! Random call numbers (invalid ones too), half-valid arguments (real
//! slots, real kinds, out-of-range numbers, garbage capability addresses of
//! every depth, huge lengths), biased towards what matters: retype until
//! memory runs out, copy, move, delete and revoke across nested pools,
//! map pages and tables, channel puts and takes with capabilities,
//! configuring and starting *victim* tasks in the arena (whose pools and
//! stacks a revoke destroys while they run), faults on purpose, and fault
//! channels (victims suspended by a fault, resumed or stopped at random).
//!
//! The first children have a fault channel (slot 11) the fuzzing tasks
//! take from often, resuming or stopping the task a fault message names.
//! The main task restarts children that stopped, blocked or faulted, asks
//! the kernel to audit its invariants every [`AUDIT_EVERY`] calls, and at
//! the end revokes the arena, audits once more and answers rinit. The
//! children count their calls in a shared atomic.
//!
//! What the fuzzer must not do is destroy itself: slots 0 to 31 of the root
//! pool and slot 255 hold what it runs with; the random calls change only
//! slots 32 to 254 and the pools below them (they may read slot 3, the
//! address space, and slot 8, the arena).

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use abi::syscall::{MapRights, MessageKind, TaskField};
use abi::{CAddr, Call, Error, ObjectKind};
use core::arch::{asm, naked_asm};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ulib::println;
use ulib::syscall::{
    audit, channel_put, channel_take, map_page, map_table, retype, revoke, task_set, task_stop, yield_now,
};

ulib::entry!(main);

/// Root slots: the pool itself, the address space, the arena, the
/// untyped for the program's own tasks, the answer channel, the children,
/// their buffers; slot 255 is the channel to rinit.
const POOL: u8 = 0;
const SPACE: u8 = 3;
const ARENA: u8 = 8;
const OWN: u8 = 9;
const ANSWER: u8 = 10;
/// The fault channel of the first children (`FAULTED_CHILDREN`): their
/// faults suspend them, and the fuzzing tasks take from it often.
const CHILD_FAULTS: u8 = 11;
const FAULTED_CHILDREN: u8 = 2;
/// The devices pool rinit sends (deleted once the fuzzer has copied what
/// it may use), and those: IrqLines of free lines, COM2's and the CMOS
/// clock's ports.
const DEVICES: u8 = 12;
const FUZZ_LINES: [(u8, u8); 3] = [(13, 3), (14, 5), (15, 8)];
const FUZZ_PORTS: [(u8, u8); 2] = [(19, abi::device::slot::COM2), (23, abi::device::slot::CMOS)];
const FIRST_CHILD: u8 = 16;
const FIRST_CHILD_BUFFER: u8 = 20;
const FIRST_OWN_TABLE: u8 = 24;
const SCRATCH: u8 = 30;
const FIRST_FUZZ_SLOT: u8 = 32;
const TO_RINIT: u8 = 255;

/// How many children fuzz at once, and their stacks: `STACK_PAGES` pages
/// each, `STACK_STRIDE` apart from `CHILD_STACKS` (the gap is a guard).
const CHILDREN: u8 = 3;
const CHILD_STACKS: u64 = 0x5000_0000;
const STACK_STRIDE: u64 = 0x1_0000;
const STACK_PAGES: u64 = 4;
/// Where victims get their one-page stacks (a page made from the arena,
/// so revoking it pulls the stack out from under a running victim).
const VICTIM_STACKS: u64 = 0x6000_0000;
/// Where a victim's pool has a channel for it to block on.
const VICTIM_CHANNEL: u8 = 40;
/// The calls between two audits.
const AUDIT_EVERY: u64 = 1000;

/// Calls made so far, by every task; the count to stop at; the seed.
static CALLS: AtomicU64 = AtomicU64::new(0);
static LIMIT: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
/// Each start of a fuzzing task takes a new number, for its generator.
static STARTS: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// For each call number (0 for the unknown ones), how many calls the
/// kernel did and how many it refused: what the run covered.
static DONE: [AtomicU64; COUNTERS] = [const { AtomicU64::new(0) }; COUNTERS];
static REFUSED: [AtomicU64; COUNTERS] = [const { AtomicU64::new(0) }; COUNTERS];
/// One counter per call number up to the highest (numbers between that
/// name no call stay 0), and index 0 for unknown numbers.
const COUNTERS: usize = highest_call() as usize + 1;

/// The highest call number.
const fn highest_call() -> u64 {
    let (mut highest, mut index) = (0, 0);
    while index < Call::ALL.len() {
        if Call::ALL[index] as u64 > highest {
            highest = Call::ALL[index] as u64;
        }
        index += 1;
    }
    highest
}

// ANCHOR: rng
/// xorshift64*: a tiny generator; the same seed gives the same sequence.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Mix the seed (splitmix64's finalizer) so near seeds differ, and
        // never start at 0, which xorshift never leaves.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True once in `n` times.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A fuzzing task's generator, and the slots where its retypes last made
/// each kind of object: calls aimed there are more often valid, so they
/// get past the checks to the code that acts.
struct Fuzzer {
    rng: Rng,
    known: [u64; 13],
}

impl Fuzzer {
    fn next(&mut self) -> u64 {
        self.rng.next()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.rng.one_in(n)
    }

    /// Where an object of `kind` was last made, two times in three (if
    /// one was); else any target.
    fn known(&mut self, kind: ObjectKind) -> u64 {
        let slot = self.known[kind as usize];
        if slot != 0 && !self.one_in(3) { slot } else { target(self) }
    }

    /// Records where a retype made an object of kind `code`, if it did.
    fn made(&mut self, rax: u64, code: u64, at: u64) {
        if rax == 0
            && let Some(slot) = self.known.get_mut(code as usize)
        {
            *slot = at;
        }
    }
}

/// One of `items`, chosen by `rng` (the items first: they may use `rng`).
fn pick<T: Copy, const N: usize>(items: [T; N], rng: &mut Fuzzer) -> T {
    items[rng.below(N as u64) as usize]
}
// ANCHOR_END: rng

// ANCHOR: main
/// Takes what rinit sends, starts the children, watches them, audits, and
/// answers rinit: 0 if every audit passed.
fn main(_args: &str) -> Result<(), Error> {
    let to_rinit = CAddr::root(TO_RINIT);
    for slot in [ARENA, OWN, ANSWER, DEVICES] {
        if channel_take(to_rinit, CAddr::root(slot))?.0 != MessageKind::Capability {
            // Started some other way (the shell's `run`): nothing to fuzz with.
            println!("fuzz: start me with fuzz=SEED,COUNT on the kernel command line");
            return Err(Error::NotConfigured);
        }
    }
    let (_, seed) = channel_take(to_rinit, CAddr::root(POOL))?;
    let (_, count) = channel_take(to_rinit, CAddr::root(POOL))?;
    println!("fuzz: seed {seed}, {count} calls");
    keep_fuzzable_devices()?;
    SEED.store(seed, Ordering::Relaxed);
    LIMIT.store(count, Ordering::Relaxed);
    prepare_children()?;

    let mut next_audit = AUDIT_EVERY;
    let mut audits = 0;
    let mut failed = None;
    let mut round = 0u64;
    while CALLS.load(Ordering::Relaxed) < count && failed.is_none() {
        if CALLS.load(Ordering::Relaxed) >= next_audit {
            next_audit += AUDIT_EVERY;
            audits += 1;
            // Not audited (too many objects) is no failure, and is told apart.
            failed = audit().err().filter(|&error| error != Error::NotAudited);
        }
        // Every few rounds every child starts afresh (a blocked or looping
        // one too); in between, only those that stopped.
        round += 1;
        for child in 0..CHILDREN {
            if round.is_multiple_of(8) {
                let _ = task_stop(CAddr::root(FIRST_CHILD + child));
            }
            start_child(child);
        }
        let _ = yield_now();
    }
    STOP.store(true, Ordering::Relaxed);
    for child in 0..CHILDREN {
        let _ = task_stop(CAddr::root(FIRST_CHILD + child));
    }
    // Everything the fuzzing made goes: victims, pools, mappings, messages.
    let revoked = revoke(CAddr::root(ARENA));
    let last = audit();
    let calls = CALLS.load(Ordering::Relaxed);
    print_coverage();
    let verdict = match (failed, last, revoked) {
        (None, Err(Error::NotAudited), Ok(_)) => {
            println!(
                "fuzz: {calls} calls, seed {seed}, audit not done: too many objects ({} audits)",
                audits + 1
            );
            0
        }
        (None, Ok(objects), Ok(_)) => {
            println!("fuzz: {calls} calls, seed {seed}, audit ok ({} audits, {objects} objects)", audits + 1);
            0
        }
        (failed, last, revoked) => {
            println!(
                "fuzz: {calls} calls, seed {seed}: FUZZ FAILED: {failed:?} {last:?}, revoke {revoked:?}"
            );
            1
        }
    };
    channel_put(CAddr::root(ANSWER), MessageKind::Raw, verdict)?;
    Ok(())
}
// ANCHOR_END: main

/// Copies the devices the random calls may use out of the devices pool,
/// and deletes the pool: no address the fuzzer makes can then name the
/// keyboard's or COM1's line, which the shell's input needs.
fn keep_fuzzable_devices() -> Result<(), Error> {
    for (at, index) in
        FUZZ_LINES.iter().map(|&(at, line)| (at, abi::device::slot::irq(line))).chain(FUZZ_PORTS)
    {
        let from = CAddr::new(&[DEVICES, index]).map_err(|_| Error::MalformedAddress)?;
        ulib::syscall::copy(from, CAddr::root(at))?;
    }
    ulib::syscall::delete(CAddr::root(DEVICES))?;
    Ok(())
}

/// Makes the children from the program's own untyped: a task, a buffer
/// page and a mapped stack each, and the tables for the stacks and for
/// the victims' stacks.
fn prepare_children() -> Result<(), Error> {
    let (own, space) = (CAddr::root(OWN), CAddr::root(SPACE));
    let mut table = FIRST_OWN_TABLE;
    let mut map_tables = |address: u64| -> Result<(), Error> {
        for kind in [ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt] {
            let slot = CAddr::root(table);
            retype(own, kind, slot, 0)?;
            table += 1;
            match map_table(slot, space, address) {
                Ok(_) => {}
                Err(Error::AlreadyMapped) => drop(ulib::syscall::delete(slot)?),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    };
    map_tables(CHILD_STACKS)?;
    map_tables(VICTIM_STACKS)?;
    retype(own, ObjectKind::Channel, CAddr::root(CHILD_FAULTS), 0)?;
    for child in 0..CHILDREN {
        retype(own, ObjectKind::Task, CAddr::root(FIRST_CHILD + child), 0)?;
        retype(own, ObjectKind::RawPage, CAddr::root(FIRST_CHILD_BUFFER + child), 0)?;
        let task = CAddr::root(FIRST_CHILD + child);
        task_set(task, TaskField::CPool, CAddr::root(POOL).to_raw())?;
        task_set(task, TaskField::Table, CAddr::root(SPACE).to_raw())?;
        task_set(task, TaskField::Buffer, CAddr::root(FIRST_CHILD_BUFFER + child).to_raw())?;
        if child < FAULTED_CHILDREN {
            task_set(task, TaskField::FaultChannel, CAddr::root(CHILD_FAULTS).to_raw())?;
        }
        let base = CHILD_STACKS + u64::from(child) * STACK_STRIDE;
        for page in 0..STACK_PAGES {
            // The stack pages have no slot of their own: they are named
            // only by the mapping, and live as long as the untyped.
            let slot = CAddr::root(SCRATCH);
            retype(own, ObjectKind::RawPage, slot, 0)?;
            map_page(slot, space, base + page * 4096, MapRights::WRITABLE)?;
            ulib::syscall::delete(slot)?;
        }
    }
    Ok(())
}

/// (Re)starts child `child` at its entry if it is not running.
fn start_child(child: u8) {
    let task = CAddr::root(FIRST_CHILD + child);
    let top = CHILD_STACKS + u64::from(child) * STACK_STRIDE + STACK_PAGES * 4096;
    if task_set(task, TaskField::Instruction, entry()).is_err()
        || task_set(task, TaskField::Stack, top).is_err()
    {
        return;
    }
    // SAFETY: the child runs `child_main` on its own stack, and shares only
    // atomics with this task.
    let _ = unsafe { ulib::syscall::task_start(task) };
}

/// The address of [`task_entry`].
fn entry() -> u64 {
    task_entry as *const () as u64
}

// ANCHOR: task_entry
/// Where every fuzzing task starts: aligns the stack and calls
/// [`child_main`], which never returns.
#[unsafe(naked)]
extern "C" fn task_entry() -> ! {
    naked_asm!("and rsp, -16", "call {main}", "ud2", main = sym child_main)
}
// ANCHOR_END: task_entry

/// A fuzzing task: random calls until the count is reached.
extern "C" fn child_main() -> ! {
    let start = STARTS.fetch_add(1, Ordering::Relaxed);
    let seed = SEED.load(Ordering::Relaxed) ^ start.wrapping_mul(0x1000_0000_01B3);
    let mut rng = Fuzzer { rng: Rng::new(seed), known: [0; 13] };
    let stack = 0u8;
    let victim = (VICTIM_STACKS..VICTIM_STACKS + 512 * 4096).contains(&(&stack as *const u8 as u64));
    if victim && rng.one_in(2) {
        let (channel, to) = (CAddr::root(VICTIM_CHANNEL), CAddr::root(VICTIM_CHANNEL + 1));
        call(Call::ChannelTake, [channel.to_raw(), to.to_raw(), 0, 0, 0, 0]);
    }
    loop {
        if STOP.load(Ordering::Relaxed) || CALLS.load(Ordering::Relaxed) >= LIMIT.load(Ordering::Relaxed) {
            ulib::syscall::exit(0);
        }
        step(&mut rng);
    }
}

/// One system call, counted: `rax` and `rdx` back.
fn sys(number: u64, args: [u64; 6]) -> (u64, u64) {
    CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: a system call writes only what its arguments name: kernel
    // objects, and the task buffer (a page this task has no reference
    // into). Whatever the fuzzer passes, the kernel must refuse or do it
    // without touching this task's memory beyond that.
    let (rax, rdx) = unsafe { ulib::syscall::raw(number, args) };
    let index = if number < COUNTERS as u64 { number as usize } else { 0 };
    let counter = if rax == 0 { &DONE[index] } else { &REFUSED[index] };
    counter.fetch_add(1, Ordering::Relaxed);
    (rax, rdx)
}

/// Prints, for each call, how many the kernel did and refused.
fn print_coverage() {
    for call in Call::ALL {
        let index = *call as usize;
        let (done, refused) = (DONE[index].load(Ordering::Relaxed), REFUSED[index].load(Ordering::Relaxed));
        println!("fuzz:   {call:?}: {done} done, {refused} refused");
    }
    println!("fuzz:   unknown numbers: {} refused", REFUSED[0].load(Ordering::Relaxed));
}

fn call(call: Call, args: [u64; 6]) -> u64 {
    sys(call as u64, args).0
}

// ANCHOR: arguments
/// A slot the random calls may change: 32 to 254 of the root pool.
fn fuzz_slot(rng: &mut Fuzzer) -> u8 {
    FIRST_FUZZ_SLOT + rng.below(u64::from(TO_RINIT - FIRST_FUZZ_SLOT)) as u8
}

/// A capability address the random calls may change: mostly a root slot
/// or one level down, sometimes deeper, sometimes garbage (which the kernel
/// must refuse, unless it happens to decode: then it is kept away from the
/// protected slots like any other).
fn target(rng: &mut Fuzzer) -> u64 {
    let address = match rng.below(20) {
        0..=10 => CAddr::root(fuzz_slot(rng)).to_raw(),
        11..=15 => path(rng, 2),
        16..=17 => {
            let depth = 3 + rng.below(5) as usize;
            path(rng, depth)
        }
        _ => rng.next() >> rng.below(64),
    };
    match CAddr::from_raw(address) {
        Ok(decoded) if protected(decoded.path()[0]) => CAddr::root(fuzz_slot(rng)).to_raw(),
        _ => address,
    }
}

/// A path starting in a fuzz slot; the levels below any index.
fn path(rng: &mut Fuzzer, depth: usize) -> u64 {
    let mut indices = [0u8; 7];
    indices[0] = fuzz_slot(rng);
    for index in indices.iter_mut().take(depth).skip(1) {
        *index = pick([0, 1, 2, 3, 8, rng.below(256) as u8], rng);
    }
    CAddr::new(&indices[..depth]).map_or(0, |address| address.to_raw())
}

fn protected(first: u8) -> bool {
    first < FIRST_FUZZ_SLOT || first == TO_RINIT
}

/// An address to read from: a target, or the arena or the address space.
fn source(rng: &mut Fuzzer) -> u64 {
    match rng.below(6) {
        0 => CAddr::root(ARENA).to_raw(),
        1 => CAddr::root(SPACE).to_raw(),
        _ => target(rng),
    }
}

/// An untyped to retype or revoke: the arena often, else a target.
fn untyped(rng: &mut Fuzzer) -> u64 {
    if rng.one_in(3) { CAddr::root(ARENA).to_raw() } else { target(rng) }
}

/// A kind code: mostly real ones.
fn kind(rng: &mut Fuzzer) -> u64 {
    match rng.below(12) {
        0 => rng.next() >> rng.below(64),
        1 => 0,
        _ => pick([1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11], rng),
    }
}

/// A kind that retype makes.
fn any_kind(rng: &mut Fuzzer) -> ObjectKind {
    use ObjectKind::*;
    pick([Untyped, CPool, Pml4, Pdpt, Pd, Pt, RawPage, Task, Channel], rng)
}

/// A user address to map at: near the victims' stacks (where the tables
/// are), anywhere low, page-aligned or not, or anything.
fn address(rng: &mut Fuzzer) -> u64 {
    match rng.below(8) {
        0..=3 => VICTIM_STACKS + rng.below(512) * 4096,
        4 => rng.below(1 << 47) & !0xfff,
        5 => 0x7000_0000 + rng.below(1 << 30),
        6 => rng.next(),
        _ => 0x8000_0000_0000 - 4096 * rng.below(4),
    }
}

/// A length: small, at the limits, or huge.
fn length(rng: &mut Fuzzer) -> u64 {
    pick([0, 1, 7, 16, 255, 256, 257, 4095, 4096, 4097, u64::MAX, rng.next(), rng.below(300)], rng)
}
// ANCHOR_END: arguments

// ANCHOR: step
/// One random operation (a call, a few, or a fault).
fn step(rng: &mut Fuzzer) {
    match rng.below(100) {
        // Any number, any arguments.
        0..=3 => {
            let number = pick([0, 17, 18, 29, 30, 31, 64, u64::MAX, rng.below(34)], rng);
            // Never the calls that would end or stall this loop for good.
            if number != Call::Exit as u64 && number != Call::ChannelTake as u64 {
                let args = core::array::from_fn(|_| if rng.one_in(2) { target(rng) } else { rng.next() });
                sys(number, args);
            }
        }
        4..=23 => {
            let size = match rng.below(4) {
                0 => rng.below(64) * 4096,
                1 => rng.next(),
                _ => 0,
            };
            let (from, code, to) = (untyped(rng), kind(rng), target(rng));
            let rax = call(Call::Retype, [from, code, to, size, 0, 0]);
            rng.made(rax, code, to);
            // Out of memory: start over now and then (the arena's objects
            // all go, wherever they are named and whatever runs on them).
            if rax == Error::OutOfMemory as u64 && rng.one_in(16) {
                call(Call::Revoke, [CAddr::root(ARENA).to_raw(), 0, 0, 0, 0, 0]);
            }
        }
        // Retype until the memory runs out, then (often) revoke.
        24 => {
            let (from, kind) = (untyped(rng), pick([7, 6, 2, 9, 10], rng));
            for _ in 0..64 {
                let slot = CAddr::root(fuzz_slot(rng)).to_raw();
                let rax = call(Call::Retype, [from, kind, slot, 0, 0, 0]);
                rng.made(rax, kind, slot);
                if rax == Error::OutOfMemory as u64 {
                    break;
                }
            }
            if rng.one_in(2) {
                call(Call::Revoke, [from, 0, 0, 0, 0, 0]);
            }
        }
        25..=26 => map_chain(rng),
        27..=34 => {
            let from = if rng.one_in(2) {
                {
                    let kind = any_kind(rng);
                    rng.known(kind)
                }
            } else {
                source(rng)
            };
            call(Call::Copy, [from, target(rng), 0, 0, 0, 0]);
        }
        35..=40 => {
            let from = {
                let kind = any_kind(rng);
                rng.known(kind)
            };
            call(Call::Move, [from, target(rng), 0, 0, 0, 0]);
        }
        41..=46 => {
            let at = {
                let kind = any_kind(rng);
                rng.known(kind)
            };
            call(Call::Delete, [at, 0, 0, 0, 0, 0]);
        }
        47..=49 => {
            let untyped = if rng.one_in(2) { rng.known(ObjectKind::Untyped) } else { untyped(rng) };
            call(Call::Revoke, [untyped, 0, 0, 0, 0, 0]);
        }
        50..=56 => {
            let space = if rng.one_in(2) { CAddr::root(SPACE).to_raw() } else { rng.known(ObjectKind::Pml4) };
            let level = pick([ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt], rng);
            let table = rng.known(level);
            call(Call::MapTable, [table, space, address(rng), 0, 0, 0]);
        }
        57..=63 => {
            let space = if rng.one_in(2) { CAddr::root(SPACE).to_raw() } else { rng.known(ObjectKind::Pml4) };
            let rights = if rng.one_in(8) { rng.next() } else { rng.below(4) };
            let page = rng.known(ObjectKind::RawPage);
            call(Call::MapPage, [page, space, address(rng), rights, 0, 0]);
        }
        64..=69 => task_calls(rng),
        70..=71 => spawn_victim(rng),
        72..=81 => channel_calls(rng),
        82..=85 => device_calls(rng),
        86..=90 => {
            call(
                Call::ListPool,
                [if rng.one_in(3) { CAddr::root(POOL).to_raw() } else { target(rng) }, 0, 0, 0, 0, 0],
            );
        }
        91..=92 => {
            // Short prints only: the buffer may hold any bytes.
            call(Call::Print, [pick([0, 1, 4097, u64::MAX, 1 << 40], rng), 0, 0, 0, 0, 0]);
        }
        93..=95 => {
            call(Call::Yield, [0; 6]);
        }
        96 => {
            call(Call::Audit, [0; 6]);
        }
        97 if rng.one_in(4) => {
            call(Call::Exit, [0; 6]);
        }
        // Faults now and then (each stops the task, with a report line).
        _ if rng.one_in(8) => fault(rng),
        _ => {
            call(Call::Yield, [0; 6]);
        }
    }
}
// ANCHOR_END: step

/// Builds a path of tables down to a page at a fresh address, each made
/// from the arena and mapped (in this address space, or in a PML4 made
/// here): every level of map_table with a good chance of success.
fn map_chain(rng: &mut Fuzzer) {
    let arena = CAddr::root(ARENA).to_raw();
    let space = match rng.one_in(3) {
        true => {
            let space = CAddr::root(fuzz_slot(rng)).to_raw();
            let rax = call(Call::Retype, [arena, ObjectKind::Pml4 as u64, space, 0, 0, 0]);
            rng.made(rax, ObjectKind::Pml4 as u64, space);
            space
        }
        false => CAddr::root(SPACE).to_raw(),
    };
    let address =
        ((1 + rng.below(8)) << 39) | (rng.below(4) << 30) | (rng.below(4) << 21) | (rng.below(8) << 12);
    for kind in [ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt, ObjectKind::RawPage] {
        let slot = CAddr::root(fuzz_slot(rng)).to_raw();
        let rax = call(Call::Retype, [arena, kind as u64, slot, 0, 0, 0]);
        rng.made(rax, kind as u64, slot);
        match kind {
            ObjectKind::RawPage => call(Call::MapPage, [slot, space, address, rng.below(4), 0, 0]),
            _ => call(Call::MapTable, [slot, space, address, 0, 0, 0]),
        };
    }
}

/// Configures, starts and stops tasks in the fuzz slots.
fn task_calls(rng: &mut Fuzzer) {
    let task = rng.known(ObjectKind::Task);
    match rng.below(5) {
        0 | 1 => {
            let field = pick([1, 2, 3, 4, 5, 0, 6, 6, 7, rng.next()], rng);
            let value = match field {
                1 | 2 => pick([entry(), rng.next(), 0x8000_0000_0000, VICTIM_STACKS + 4096], rng),
                6 if rng.one_in(2) => rng.known(ObjectKind::Channel),
                _ => source(rng),
            };
            call(Call::TaskSet, [task, field, value, 0, 0, 0]);
        }
        2 => {
            call(Call::TaskStart, [task, 0, 0, 0, 0, 0]);
        }
        // Resume a task, suspended by a fault or not (a take of a fault
        // message may have put a capability to it in any target slot).
        3 => {
            let task = if rng.one_in(2) { task } else { target(rng) };
            call(Call::TaskResume, [task, 0, 0, 0, 0, 0]);
        }
        _ => {
            call(Call::TaskStop, [task, 0, 0, 0, 0, 0]);
        }
    }
}

// ANCHOR: victim
/// Makes a *victim* in the fuzz slots: a task made from the arena with a
/// pool of its own (holding copies of the arena and the address space)
/// and a one-page stack from the arena, running the fuzzing loop. A revoke
/// of the arena destroys its pool, its stack or the task itself, at any
/// point of its run.
fn spawn_victim(rng: &mut Fuzzer) {
    let arena = CAddr::root(ARENA).to_raw();
    let (task, pool, stack, table) = (fuzz_slot(rng), fuzz_slot(rng), fuzz_slot(rng), fuzz_slot(rng));
    let at = |slot: u8| CAddr::root(slot).to_raw();
    // Its pool and stack (and sometimes an address space of its own) are
    // often made from an untyped made from the arena: revoking that one
    // destroys them under the task, which lives on without them.
    let from = if rng.one_in(2) { rng.known(ObjectKind::Untyped) } else { arena };
    call(Call::Retype, [arena, ObjectKind::Task as u64, at(task), 0, 0, 0]);
    call(Call::Retype, [from, ObjectKind::CPool as u64, at(pool), 0, 0, 0]);
    call(Call::Retype, [from, ObjectKind::RawPage as u64, at(stack), 0, 0, 0]);
    let space = match rng.one_in(4) {
        true => {
            call(Call::Retype, [from, ObjectKind::Pml4 as u64, at(table), 0, 0, 0]);
            table
        }
        false => SPACE,
    };
    for slot in [ARENA, SPACE] {
        if let Ok(inside) = CAddr::new(&[pool, slot]) {
            call(Call::Copy, [at(slot), inside.to_raw(), 0, 0, 0, 0]);
        }
    }
    // A channel made before the victim, for it to block on: a revoke then
    // destroys the channel and its waiting taker together.
    if let Ok(inside) = CAddr::new(&[pool, VICTIM_CHANNEL]) {
        let channel = rng.known(ObjectKind::Channel);
        call(Call::Copy, [channel, inside.to_raw(), 0, 0, 0, 0]);
    }
    let page = rng.below(512);
    call(
        Call::MapPage,
        [at(stack), at(SPACE), VICTIM_STACKS + page * 4096, MapRights::WRITABLE.bits(), 0, 0],
    );
    call(Call::TaskSet, [at(task), TaskField::CPool as u64, at(pool), 0, 0, 0]);
    call(Call::TaskSet, [at(task), TaskField::Table as u64, at(space), 0, 0, 0]);
    call(Call::TaskSet, [at(task), TaskField::Buffer as u64, at(stack), 0, 0, 0]);
    call(Call::TaskSet, [at(task), TaskField::Instruction as u64, entry(), 0, 0, 0]);
    call(Call::TaskSet, [at(task), TaskField::Stack as u64, VICTIM_STACKS + (page + 1) * 4096, 0, 0, 0]);
    // Often a fault channel: its faults then suspend it, and a fuzzing
    // task's take of the message gets a capability to resume or stop it
    // with (or never answers; or the channel goes while the message waits).
    if rng.one_in(2) {
        let channel = rng.known(ObjectKind::Channel);
        call(Call::TaskSet, [at(task), TaskField::FaultChannel as u64, channel, 0, 0, 0]);
    }
    call(Call::TaskStart, [at(task), 0, 0, 0, 0, 0]);
}
// ANCHOR_END: victim

// ANCHOR: device_calls
/// Derives, binds and acknowledges interrupt lines, and derives, reads and
/// writes port ranges: from the devices kept (`FUZZ_LINES`, `FUZZ_PORTS`)
/// or the ones derived into the fuzz slots, out of the arena or an
/// untyped made from it (so a revoke destroys them, bound or not).
fn device_calls(rng: &mut Fuzzer) {
    let irq = |rng: &mut Fuzzer| match rng.below(3) {
        0 => CAddr::root(pick(FUZZ_LINES, rng).0).to_raw(),
        _ => rng.known(ObjectKind::IrqLine),
    };
    let ports = |rng: &mut Fuzzer| match rng.below(3) {
        0 => CAddr::root(pick(FUZZ_PORTS, rng).0).to_raw(),
        _ => rng.known(ObjectKind::PortRange),
    };
    let port = |rng: &mut Fuzzer| {
        pick([0x2f8, 0x2f9, 0x2fd, 0x2ff, 0x300, 0x70, 0x71, 0x72, 0x3f8, 0x60, 0x64, rng.next()], rng)
    };
    let width = |rng: &mut Fuzzer| pick([1, 1, 2, 4, 0, 3, 8, rng.next()], rng);
    match rng.below(8) {
        0 | 1 => {
            let (from, to) = (irq(rng), target(rng));
            let rax = call(Call::IrqDerive, [from, untyped(rng), to, 0, 0, 0]);
            rng.made(rax, ObjectKind::IrqLine as u64, to);
        }
        2 if rng.one_in(2) => {
            let (line, channel) = (irq(rng), rng.known(ObjectKind::Channel));
            call(Call::IrqBind, [line, channel, 0, 0, 0, 0]);
        }
        // A driver's start: a line of its own and a channel, bound.
        2 => {
            let arena = CAddr::root(ARENA).to_raw();
            let (line, channel) =
                (CAddr::root(fuzz_slot(rng)).to_raw(), CAddr::root(fuzz_slot(rng)).to_raw());
            let from = CAddr::root(pick(FUZZ_LINES, rng).0).to_raw();
            let rax = call(Call::IrqDerive, [from, arena, line, 0, 0, 0]);
            rng.made(rax, ObjectKind::IrqLine as u64, line);
            let rax = call(Call::Retype, [arena, ObjectKind::Channel as u64, channel, 0, 0, 0]);
            rng.made(rax, ObjectKind::Channel as u64, channel);
            call(Call::IrqBind, [line, channel, 0, 0, 0, 0]);
        }
        3 => {
            let line = irq(rng);
            call(Call::IrqAcknowledge, [line, 0, 0, 0, 0, 0]);
        }
        4 => {
            let (from, to) = (ports(rng), target(rng));
            let (first, count) = (port(rng), pick([1, 2, 4, 8, 0, rng.next()], rng));
            let rax = call(Call::PortDerive, [from, untyped(rng), to, first, count, 0]);
            rng.made(rax, ObjectKind::PortRange as u64, to);
        }
        5 | 6 => {
            let (range, at, width) = (ports(rng), port(rng), width(rng));
            call(Call::PortRead, [range, at, width, 0, 0, 0]);
        }
        _ => {
            let (range, at, width) = (ports(rng), port(rng), width(rng));
            call(Call::PortWrite, [range, at, width, rng.next(), 0, 0]);
        }
    }
}
// ANCHOR_END: device_calls

/// Puts and takes on channels in the fuzz slots (made there by retype).
fn channel_calls(rng: &mut Fuzzer) {
    if rng.one_in(8) {
        let (slot, code) = (CAddr::root(fuzz_slot(rng)).to_raw(), ObjectKind::Channel as u64);
        let rax = call(Call::Retype, [untyped(rng), code, slot, 0, 0, 0]);
        rng.made(rax, code, slot);
    }
    if rng.one_in(4) {
        take_and_answer(rng, CAddr::root(CHILD_FAULTS).to_raw());
        return;
    }
    let channel = rng.known(ObjectKind::Channel);
    match rng.below(6) {
        0 => {
            call(Call::ChannelPut, [channel, 1, rng.next(), 0, 0, 0]);
        }
        1 => {
            call(Call::ChannelPut, [channel, 2, length(rng), 0, 0, 0]);
        }
        2 | 3 => {
            call(Call::ChannelPut, [channel, 3, source(rng), 0, 0, 0]);
        }
        4 => {
            call(Call::ChannelPut, [channel, pick([0, 4, rng.next()], rng), rng.next(), 0, 0, 0]);
        }
        // A take may block: a put by another task, or the main task's
        // restart, ends it. A fault message's capability to the suspended
        // task (or any capability) lands at `to`: answer it now and then.
        _ => take_and_answer(rng, channel),
    }
}

/// A take from `channel` (it may block: a put by another task, or the main
/// task's restart, ends it). A fault message's capability to the suspended
/// task (or any capability) lands at `to`: most often answer it at once,
/// with a resume or a stop.
fn take_and_answer(rng: &mut Fuzzer, channel: u64) {
    let to = target(rng);
    let (rax, rdx) = sys(Call::ChannelTake as u64, [channel, to, 0, 0, 0, 0]);
    if rax == 0 && rdx == to && !rng.one_in(4) {
        let answer = if rng.one_in(4) { Call::TaskStop } else { Call::TaskResume };
        call(answer, [to, 0, 0, 0, 0, 0]);
    }
}

/// A fault on purpose: the kernel stops the task, and the main task starts
/// it again later (a victim with a fault channel is suspended instead, and
/// a resume runs the same faulting instruction again: a fault storm the
/// kernel ends).
fn fault(rng: &mut Fuzzer) {
    // SAFETY: each of these traps at once, on purpose; the kernel stops the
    // task there, and it only ever restarts at its entry.
    unsafe {
        match rng.below(6) {
            0 => asm!("ud2"),
            1 => asm!("int3"),
            2 => asm!("mov qword ptr [0], 1"),
            3 => asm!("mov rax, qword ptr [{}]", in(reg) 0xFFFF_8000_0000_0000u64, out("rax") _),
            4 => asm!("hlt"),
            _ => asm!("cli"),
        }
    }
}
