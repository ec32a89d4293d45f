//! The second task: the same program and the same page table as rinit, its
//! own stack and task buffer. rinit makes it with system calls, one field
//! at a time, then both count side by side: neither makes a system call
//! between two lines, so only the timer can switch between them.

use crate::faults::Fault;
use abi::syscall::{MapRights, TaskField};
use abi::task_root::{CPOOL, PML4, SPARE_BUFFER, UNTYPED};
use abi::{CAddr, CHILD_TASK_BUFFER, ObjectKind};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use ulib::syscall::{map_page, retype, task_set, task_start, yield_now};
use ulib::task::{self, Stack};
use ulib::{Error, println};

/// The free slot rinit retypes the child's task into.
const CHILD_TASK: u8 = 68;
/// Numbered lines each task prints.
const LINES: u32 = 5;
/// Busy-wait between two lines, in million time-stamp-counter ticks: long
/// enough for several timer ticks per task under QEMU.
pub const DEFAULT_SPIN_MILLIONS: u64 = 50;
/// How many times rinit yields, at most, waiting for the child.
const MAX_YIELDS: u32 = 100_000;

// ANCHOR: child_stack
/// The child's stack: in `.stacks`, above a page the loader leaves unmapped.
#[unsafe(link_section = ".stacks")]
static CHILD_STACK: Stack<{ 16 * 4096 }> = Stack::new();
// ANCHOR_END: child_stack

/// What rinit tells the child (memory they share, so atomics): the fault
/// to commit (a [`Fault::code`]) and how long to spin between lines.
static FAULT: AtomicU8 = AtomicU8::new(0);
static SPIN_MILLIONS: AtomicU64 = AtomicU64::new(DEFAULT_SPIN_MILLIONS);
/// What the child tells rinit: it is about to fault, or it has finished.
static ABOUT_TO_FAULT: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicBool = AtomicBool::new(false);

// ANCHOR: start
/// Makes the child task and starts it.
pub fn start(fault: Option<Fault>, spin_millions: u64) -> Result<(), Error> {
    FAULT.store(Fault::code(fault), Ordering::Relaxed);
    SPIN_MILLIONS.store(spin_millions, Ordering::Relaxed);
    let (pml4, spare_buffer) = (CAddr::root(PML4), CAddr::root(SPARE_BUFFER));
    // The child shares rinit's page table, so it sees its buffer where rinit
    // maps it.
    map_page(spare_buffer, pml4, CHILD_TASK_BUFFER, MapRights::WRITABLE)?;
    // SAFETY: the spare buffer page is now mapped writable at
    // CHILD_TASK_BUFFER, where no Rust data lives; the child is started
    // once, below, after this.
    let start = unsafe { task::prepare(&CHILD_STACK, CHILD_TASK_BUFFER, child_main) }
        .expect("the first task registered");
    println!(
        "rinit: child stack {:#x}..{:#x}, guard page at {:#x}, task buffer at {CHILD_TASK_BUFFER:#x}",
        CHILD_STACK.bottom(),
        CHILD_STACK.top(),
        CHILD_STACK.bottom() - 4096,
    );
    println!("rinit: child entry {:#x}, stack pointer {:#x}", start.instruction_pointer, start.stack_pointer);

    let task = CAddr::root(CHILD_TASK);
    retype(CAddr::root(UNTYPED), ObjectKind::Task, task, 0)?;
    task_set(task, TaskField::Stack, start.stack_pointer)?;
    task_set(task, TaskField::Instruction, start.instruction_pointer)?;
    task_set(task, TaskField::CPool, CAddr::root(CPOOL).to_raw())?;
    task_set(task, TaskField::Table, pml4.to_raw())?;
    task_set(task, TaskField::Buffer, spare_buffer.to_raw())?;
    // SAFETY: the child runs `child_main` on its own stack with its own
    // buffer, and shares only atomics with rinit.
    unsafe { task_start(task) }?;
    println!("rinit: started the child task in slot {CHILD_TASK}");
    Ok(())
}
// ANCHOR_END: start

/// The child's entry: counts, or commits the fault it was asked for.
fn child_main() -> Result<(), Error> {
    // Before any call: what the child's first instruction found.
    let [ds, es, fs, gs] = ulib::hostile::segments();
    println!("child: hello, my task buffer is at {CHILD_TASK_BUFFER:#x}");
    if crate::hostile::REQUESTED.load(Ordering::Relaxed) {
        println!("child: I started with ds {ds:#x} es {es:#x} fs {fs:#x} gs {gs:#x}");
    }
    if let Some(fault) = Fault::from_code(FAULT.load(Ordering::Relaxed)) {
        println!("child: committing the fault {}", fault.name());
        ABOUT_TO_FAULT.store(true, Ordering::Release);
        fault.commit();
        println!("child: MISMATCH: {} did not fault", fault.name());
        return Ok(());
    }
    count("child", SPIN_MILLIONS.load(Ordering::Relaxed));
    FINISHED.store(true, Ordering::Release);
    Ok(())
}

// ANCHOR: count
/// Prints `who: 1` to `who: 5`, busy-waiting between lines without a
/// system call: only a timer interrupt can let the other task run.
pub fn count(who: &str, spin_millions: u64) {
    for line in 1..=LINES {
        spin(spin_millions * 1_000_000);
        println!("{who}: {line}");
    }
}
// ANCHOR_END: count

/// Waits for the child: until it has finished, or, if it was asked to
/// fault, until it had its chance to, so that what rinit prints next shows
/// the kernel went on.
pub fn wait() -> Result<(), Error> {
    let faulting = FAULT.load(Ordering::Relaxed) != 0;
    let flag = if faulting { &ABOUT_TO_FAULT } else { &FINISHED };
    let mut yields = 0;
    while !flag.load(Ordering::Acquire) {
        if yields == MAX_YIELDS {
            println!("rinit: MISMATCH: the child did not get that far; exiting with 1");
            ulib::syscall::exit(1);
        }
        yield_now()?;
        yields += 1;
    }
    if faulting {
        // The child sets the flag just before its faulting instruction:
        // give it the processor a few more times to get there.
        for _ in 0..10 {
            yield_now()?;
        }
        println!("rinit: the child was to fault; rinit still runs:");
        count("parent after the fault", 0);
    } else {
        println!("rinit: the child has finished");
    }
    Ok(())
}

/// Busy-waits `ticks` time-stamp-counter ticks.
fn spin(ticks: u64) {
    let start = timestamp();
    while timestamp().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}

/// The time-stamp counter.
fn timestamp() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: `rdtsc` reads the counter into edx:eax, nothing else.
    unsafe {
        core::arch::asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    u64::from(high) << 32 | u64::from(low)
}
