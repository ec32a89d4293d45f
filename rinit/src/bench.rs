//! `make bench`: what the kernel's paths cost, in instructions.
//!
//! With `bench` (or `bench=N`) on the kernel command line, rinit runs this
//! instead of the shell, prints one line per figure and exits (which stops
//! the machine):
//!
//! ```text
//! bench: null-syscall min=... median=... reps=1000
//! ```
//!
//! Each figure is a difference of two readings of the time-stamp counter
//! around the operation, repeated `N` times (1000 by default), minus the
//! cost of the reading itself (two readings back to back). Under QEMU's
//! `-icount shift=0` the counter advances by one per instruction executed,
//! so the figures are instruction counts, the same on every run: the host
//! tool (`tools/qemu-test/src/bin/bench.rs`) prints them as a table and
//! checks them against budgets (`qemu_test::bench::BUDGETS`). Under
//! ordinary emulation they are just noisy times.
//!
//! The other tasks the bench needs it makes itself, in slots 219 to 235 of
//! the root pool: a task that only yields, an echo task in this address
//! space ([`echo`], the same code as the `peer` program's) and the
//! `peer` program's task, in its own address space, given this root
//! pool so that it finds the bench's channels in the same slots.

#[path = "../../programs/peer/src/echo.rs"]
mod echo;

use abi::syscall::{Call, MapRights, MessageKind, TaskField};
use abi::task_root::{CPOOL, PML4, SPARE_BUFFER, UNTYPED};
use abi::{CAddr, CHILD_TASK_BUFFER, Error, ObjectKind};
use core::fmt;
use echo::{REPLY, REQUEST, rdtsc};
use ulib::println;
use ulib::syscall::{
    channel_call, channel_put, channel_take, decode, irq_acknowledge, map_page, port_read_byte,
    port_write_byte, raw, retype, revoke, task_set, task_start, task_stop, yield_now,
};
use ulib::task::{self, Stack};

/// The repetitions when the command line says only `bench`.
pub const DEFAULT_REPS: usize = 1000;
/// The most repetitions (the samples live in a static array).
const MAX_REPS: usize = 4096;

/// The root slots the bench fills (free in rinit's pool at boot).
const UNTYPED_FOR_CHILDREN: u8 = 220;
const CHILDREN: u8 = 221;
const PAGE: u8 = 222;
const SENT: u8 = 223;
const YIELDER: u8 = 225;
const ECHO: u8 = 226;
/// The page-fault figure's task, its fault channel, and where the fault
/// message's capability to it goes.
const TOUCHER: u8 = 227;
const FAULTS: u8 = 228;
const FAULTED: u8 = 229;
/// The interrupt figure's IrqLine (line 1, the keyboard's), the PS/2 data
/// port, the channel the line is bound to, and its driver task.
const IRQ1: u8 = 224;
const PS2: u8 = 230;
/// The CMOS clock's ports, for the port-write figure.
const CMOS: u8 = 219;
const INTERRUPTS: u8 = 231;
const DRIVER: u8 = 235;
/// An untyped of 1 MiB, room for the 100 children of the revoke figure.
const UNTYPED_SIZE: u64 = 1 << 20;
/// Where the map figure maps its page: under the page table that already
/// translates the task buffer, so no table is made.
const MAP_ADDRESS: u64 = 0x3010_0000;

/// How many repetitions `args` asks for: `bench` is [`DEFAULT_REPS`],
/// `bench=N` is `N` (at most 4096); `None` without either word.
pub fn requested(args: &str) -> Option<usize> {
    args.split_whitespace().find_map(|word| match word.strip_prefix("bench") {
        Some("") => Some(DEFAULT_REPS),
        Some(count) => count.strip_prefix('=')?.parse::<usize>().ok().map(|n| n.clamp(1, MAX_REPS)),
        None => None,
    })
}

/// The slot of the `peer` program's task, from the kernel's
/// `program=peer@SLOT` word.
fn peer_slot(args: &str) -> Option<u8> {
    args.split_whitespace().find_map(|word| word.strip_prefix("program=peer@")?.parse().ok())
}

/// The samples of one figure.
struct Samples {
    values: [u64; MAX_REPS],
    len: usize,
}

static mut SAMPLES: Samples = Samples { values: [0; MAX_REPS], len: 0 };

// ANCHOR: measure
/// Runs `step` `reps` times; each run returns its count (already less the
/// reading's own cost). Prints the figure's line: the least and the median
/// count.
fn figure(
    name: fmt::Arguments,
    reps: usize,
    mut step: impl FnMut() -> Result<u64, Error>,
) -> Result<(), Error> {
    // SAFETY: only the bench's own task touches SAMPLES (its helper tasks
    // never do), and only here, one figure at a time.
    let samples = unsafe { &mut *core::ptr::addr_of_mut!(SAMPLES) };
    samples.len = 0;
    for _ in 0..reps {
        samples.values[samples.len] = step()?;
        samples.len += 1;
    }
    let values = &mut samples.values[..samples.len];
    values.sort_unstable();
    println!("bench: {name} min={} median={} reps={reps}", values[0], values[values.len() / 2]);
    Ok(())
}

/// The cost of reading the counter: the least difference of two readings
/// back to back.
fn reading_cost() -> u64 {
    (0..100)
        .map(|_| {
            let first = rdtsc();
            rdtsc().wrapping_sub(first)
        })
        .min()
        .unwrap_or(0)
}
// ANCHOR_END: measure

/// Stacks of the two helper tasks in this address space.
#[unsafe(link_section = ".stacks")]
static YIELDER_STACK: Stack<{ 4 * 4096 }> = Stack::new();
#[unsafe(link_section = ".stacks")]
static ECHO_STACK: Stack<{ 4 * 4096 }> = Stack::new();
#[unsafe(link_section = ".stacks")]
static TOUCHER_STACK: Stack<{ 4 * 4096 }> = Stack::new();
#[unsafe(link_section = ".stacks")]
static DRIVER_STACK: Stack<{ 4 * 4096 }> = Stack::new();

/// The yielding task: gives the CPU straight back, for ever.
fn yielder() -> Result<(), Error> {
    loop {
        yield_now()?;
    }
}

/// Runs every figure with `reps` repetitions; `boot` is the counter as
/// rinit reached its prompt, `args` rinit's arguments.
pub fn run(reps: usize, boot: u64, args: &str) -> Result<(), Error> {
    let cost = reading_cost();
    println!("bench: reading-cost ticks={cost}");
    println!("bench: boot-to-prompt instructions={boot}");
    let start = rdtsc();
    // SAFETY: a thousand `nop`s do nothing.
    unsafe { core::arch::asm!(".rept 1000", "nop", ".endr", options(nomem, nostack, preserves_flags)) };
    println!("bench: thousand-nops ticks={}", rdtsc().wrapping_sub(start).wrapping_sub(cost));
    let since = |start: u64| rdtsc().wrapping_sub(start).wrapping_sub(cost);

    // ANCHOR: null_syscall
    let mut previous_end = 0;
    figure(format_args!("null-syscall"), reps, || {
        let start = rdtsc();
        // `Nop` ignores its arguments; a kernel built to break the call
        // down (`make bench-phases`) reads when this call started and when
        // the previous one ended.
        // SAFETY: `Nop` does nothing.
        let (rax, rdx) = unsafe { raw(u64::from(Call::Nop), [start, previous_end, 0, 0, 0, 0]) };
        previous_end = rdtsc();
        decode(rax, rdx)?;
        Ok(previous_end.wrapping_sub(start).wrapping_sub(cost))
    })?;
    // ANCHOR_END: null_syscall

    make_objects()?;
    let yielder_task = prepare_task(YIELDER, &YIELDER_STACK, yielder)?;
    // SAFETY: the yielder runs on its own stack and touches no memory.
    unsafe { task_start(yielder_task) }?;
    // ANCHOR: yield
    // Both tasks yield: a round is two system calls and two switches.
    figure(format_args!("yield"), reps, || {
        let start = rdtsc();
        yield_now()?;
        Ok(since(start) / 2)
    })?;
    // ANCHOR_END: yield
    task_stop(yielder_task)?;

    let echo_task = prepare_task(ECHO, &ECHO_STACK, echo::echo)?;
    // SAFETY: the echo task runs on its own stack and uses only the bench's
    // channels and slot RECEIVED.
    unsafe { task_start(echo_task) }?;
    messages("same-space", reps, cost)?;
    // ANCHOR: capability
    figure(format_args!("put-capability"), reps, || {
        let start = rdtsc();
        channel_put(CAddr::root(REQUEST), MessageKind::Capability, CAddr::root(SENT).to_raw())?;
        let spent = since(start);
        channel_take(CAddr::root(REPLY), CAddr::root(REPLY))?;
        // The echo's answer came by the fast path, which ran this task
        // before the echo went back to its take: let it get there, so that
        // the next put finds it blocked.
        yield_now()?;
        Ok(spent)
    })?;
    // ANCHOR_END: capability
    task_stop(echo_task)?;

    // ANCHOR: peer
    match peer_slot(args) {
        Some(slot) => {
            let peer = CAddr::root(slot);
            // A shortcut of the bench's: the peer gets rinit's root pool
            // instead of its own, to name the bench's channels.
            task_set(peer, TaskField::CPool, CAddr::root(CPOOL).to_raw())?;
            // SAFETY: the peer runs in its own address space.
            unsafe { task_start(peer) }?;
            messages("two-spaces", reps, cost)?;
            task_stop(peer)?;
        }
        None => println!("bench: no peer program was loaded: no figures between address spaces"),
    }
    // ANCHOR_END: peer

    memory_figures(reps, cost)?;
    page_fault_figure(reps, cost)?;
    interrupt_figures(reps, cost)?;
    println!("bench: done");
    Ok(())
}

// ANCHOR: messages
/// The message figures against an echo task blocked in its take: a
/// one-way message (from before the put to the echo's return from its
/// take, as the echo measures it), a round trip (from before the put to
/// the return of the take of the answer), and a put alone.
fn messages(space: &str, reps: usize, cost: u64) -> Result<(), Error> {
    let (request, reply) = (CAddr::root(REQUEST), CAddr::root(REPLY));
    let since = |start: u64| rdtsc().wrapping_sub(start).wrapping_sub(cost);
    // The echo task runs until it blocks in its take.
    yield_now()?;
    figure(format_args!("one-way-{space}"), reps, || {
        channel_put(request, MessageKind::Raw, rdtsc())?;
        let (_, one_way) = channel_take(reply, reply)?;
        Ok(one_way.wrapping_sub(cost))
    })?;
    figure(format_args!("round-trip-{space}"), reps, || {
        let start = rdtsc();
        channel_put(request, MessageKind::Raw, start)?;
        channel_take(reply, reply)?;
        Ok(since(start))
    })?;
    figure(format_args!("put-{space}"), reps, || {
        let start = rdtsc();
        channel_put(request, MessageKind::Raw, start)?;
        let spent = since(start);
        channel_take(reply, reply)?;
        Ok(spent)
    })?;
    // ANCHOR: call_figures
    // The same two with `ChannelCall`: the request and the wait for the
    // reply in one system call, answered the same way by the echo.
    figure(format_args!("call-one-way-{space}"), reps, || {
        let (_, one_way) = channel_call(request, MessageKind::Raw, rdtsc(), reply, reply)?;
        Ok(one_way.wrapping_sub(cost))
    })?;
    figure(format_args!("call-round-trip-{space}"), reps, || {
        let start = rdtsc();
        channel_call(request, MessageKind::Raw, start, reply, reply)?;
        Ok(since(start))
    })
    // ANCHOR_END: call_figures
}
// ANCHOR_END: messages

// ANCHOR: memory
/// Retype of a page, map of a page, and revoke of an untyped with 1, 10
/// and 100 children, each from a fresh untyped (revoked between runs).
fn memory_figures(reps: usize, cost: u64) -> Result<(), Error> {
    let untyped = CAddr::root(UNTYPED_FOR_CHILDREN);
    let page = CAddr::root(PAGE);
    let since = |start: u64| rdtsc().wrapping_sub(start).wrapping_sub(cost);
    figure(format_args!("retype-page"), reps, || {
        let start = rdtsc();
        retype(untyped, ObjectKind::RawPage, page, 0)?;
        let spent = since(start);
        revoke(untyped)?;
        Ok(spent)
    })?;
    figure(format_args!("map-page"), reps, || {
        retype(untyped, ObjectKind::RawPage, page, 0)?;
        let start = rdtsc();
        map_page(page, CAddr::root(PML4), MAP_ADDRESS, MapRights::WRITABLE)?;
        let spent = since(start);
        revoke(untyped)?;
        Ok(spent)
    })?;
    for children in [1, 10, 100] {
        figure(format_args!("revoke-{children}"), reps, || {
            for child in 0..children {
                let slot = CAddr::new(&[CHILDREN, child]).map_err(|_| Error::MalformedAddress)?;
                retype(untyped, ObjectKind::RawPage, slot, 0)?;
            }
            let start = rdtsc();
            revoke(untyped)?;
            Ok(since(start))
        })?;
    }
    Ok(())
}
// ANCHOR_END: memory

// ANCHOR: page_fault
/// The page-fault figure's task: at each request, touches the unmapped
/// page at [`MAP_ADDRESS`] between two readings of the counter, and
/// replies with the count: from just before the faulting instruction to
/// just after it ran again, with the pager's whole answer in between.
fn toucher() -> Result<(), Error> {
    let (request, reply) = (CAddr::root(REQUEST), CAddr::root(REPLY));
    let word = core::ptr::with_exposed_provenance::<u64>(MAP_ADDRESS as usize);
    loop {
        let (_, cost) = channel_take(request, request)?;
        let start = rdtsc();
        // SAFETY: nothing of this program lives at MAP_ADDRESS: the read
        // faults until the bench (the pager here) maps a page there.
        let _ = unsafe { word.read_volatile() };
        channel_put(reply, MessageKind::Raw, rdtsc().wrapping_sub(start).wrapping_sub(cost))?;
    }
}

/// A page fault handled by a pager in user space: the bench is the pager.
/// Each round it retypes a page (not counted), lets the toucher fault,
/// takes the fault message, maps the page where it faulted and resumes
/// it; then revokes the page (which unmaps it) for the next round.
fn page_fault_figure(reps: usize, cost: u64) -> Result<(), Error> {
    let (untyped, page) = (CAddr::root(UNTYPED_FOR_CHILDREN), CAddr::root(PAGE));
    let (faults, faulted) = (CAddr::root(FAULTS), CAddr::root(FAULTED));
    retype(CAddr::root(UNTYPED), ObjectKind::Channel, faults, 0)?;
    let toucher_task = prepare_task(TOUCHER, &TOUCHER_STACK, toucher)?;
    task_set(toucher_task, TaskField::FaultChannel, faults.to_raw())?;
    // SAFETY: the toucher runs on its own stack and reads only MAP_ADDRESS.
    unsafe { task_start(toucher_task) }?;
    yield_now()?;
    figure(format_args!("page-fault-pager"), reps, || {
        retype(untyped, ObjectKind::RawPage, page, 0)?;
        channel_put(CAddr::root(REQUEST), MessageKind::Raw, cost)?;
        let (kind, _) = channel_take(faults, faulted)?;
        if kind != MessageKind::Fault {
            return Err(Error::OutOfRange);
        }
        map_page(page, CAddr::root(PML4), MAP_ADDRESS, MapRights::WRITABLE)?;
        ulib::syscall::task_resume(faulted)?;
        ulib::syscall::delete(faulted)?;
        let (_, spent) = channel_take(CAddr::root(REPLY), CAddr::root(REPLY))?;
        revoke(untyped)?;
        Ok(spent)
    })?;
    task_stop(toucher_task).map(drop)
}
// ANCHOR_END: page_fault

// ANCHOR: interrupt
/// The PS/2 controller's data port: scancodes in, commands to the
/// keyboard out.
const PS2_DATA: u16 = 0x60;
/// The keyboard's Echo command: the keyboard answers with the same byte,
/// as if a key had been pressed.
const KEYBOARD_ECHO: u8 = 0xee;
/// The CMOS clock's index register, and the index of its status register
/// D (bit 7 of the index, clear here, would mask the NMI).
const CMOS_INDEX: u16 = 0x70;
const CMOS_STATUS_D: u8 = 0x0d;

/// The interrupt figure's driver, in this address space: for each
/// interrupt of line 1, reads the counter as its take returns, reads the
/// byte waiting at the data port, acknowledges, and replies with the
/// reading.
fn interrupt_driver() -> Result<(), Error> {
    let (irq, ports, interrupts) = (CAddr::root(IRQ1), CAddr::root(PS2), CAddr::root(INTERRUPTS));
    loop {
        let (kind, _line) = channel_take(interrupts, interrupts)?;
        let taken = rdtsc();
        if kind != MessageKind::Interrupt {
            return Err(Error::OutOfRange);
        }
        port_read_byte(ports, PS2_DATA)?;
        irq_acknowledge(irq)?;
        channel_put(CAddr::root(REPLY), MessageKind::Raw, taken)?;
    }
}

/// An interrupt raised by software, deterministic under icount: the
/// keyboard answers its Echo command at once, so writing 0xee to the data
/// port raises IRQ 1 inside the `out` of the kernel's `PortWrite`, as a
/// key would; the CPU takes the interrupt as the call returns to this
/// task, which then blocks in a take, so the driver runs. The figure runs
/// from just before the `PortWrite` to the driver's take returning its
/// message; `port-write` (of the CMOS clock's index register, which
/// raises nothing) is the call alone.
fn interrupt_figures(reps: usize, cost: u64) -> Result<(), Error> {
    let (irq, ports, interrupts) = (CAddr::root(IRQ1), CAddr::root(PS2), CAddr::root(INTERRUPTS));
    let device = |slot: u8| CAddr::new(&[abi::task_root::DEVICES, slot]).map_err(|_| Error::MalformedAddress);
    let from = CAddr::root(UNTYPED);
    ulib::syscall::port_derive(device(abi::device::slot::KEYBOARD)?, from, ports, PS2_DATA, 1)?;
    let cmos = CAddr::root(CMOS);
    ulib::syscall::port_derive(device(abi::device::slot::CMOS)?, from, cmos, CMOS_INDEX, 2)?;
    let since = |start: u64| rdtsc().wrapping_sub(start).wrapping_sub(cost);
    figure(format_args!("port-write"), reps, || {
        let start = rdtsc();
        port_write_byte(cmos, CMOS_INDEX, CMOS_STATUS_D)?;
        Ok(since(start))
    })?;
    ulib::syscall::irq_derive(device(1)?, from, irq)?;
    retype(from, ObjectKind::Channel, interrupts, 0)?;
    ulib::syscall::irq_bind(irq, interrupts)?;
    let driver = prepare_task(DRIVER, &DRIVER_STACK, interrupt_driver)?;
    // SAFETY: the driver runs on its own stack and uses only its slots.
    unsafe { task_start(driver) }?;
    yield_now()?;
    figure(format_args!("interrupt-to-driver"), reps, || {
        let start = rdtsc();
        port_write_byte(ports, PS2_DATA, KEYBOARD_ECHO)?;
        let (_, taken) = channel_take(CAddr::root(REPLY), CAddr::root(REPLY))?;
        // The reply came by the fast path: let the driver get back to its
        // take before the next interrupt.
        yield_now()?;
        Ok(taken.wrapping_sub(start).wrapping_sub(cost))
    })?;
    task_stop(driver)?;
    // The last capability to the line: it is unbound and masked.
    ulib::syscall::delete(irq).map(drop)
}
// ANCHOR_END: interrupt

/// The bench's objects, from rinit's untyped: its two channels, an
/// untyped for the memory figures, a pool for the revoked children, a page
/// to send.
fn make_objects() -> Result<(), Error> {
    let from = CAddr::root(UNTYPED);
    retype(from, ObjectKind::Channel, CAddr::root(REQUEST), 0)?;
    retype(from, ObjectKind::Channel, CAddr::root(REPLY), 0)?;
    retype(from, ObjectKind::Untyped, CAddr::root(UNTYPED_FOR_CHILDREN), UNTYPED_SIZE)?;
    retype(from, ObjectKind::CPool, CAddr::root(CHILDREN), 0)?;
    retype(from, ObjectKind::RawPage, CAddr::root(SENT), 0)?;
    Ok(())
}

/// Makes a task in root slot `slot` that runs `entry` on `stack` in this
/// address space, with this root pool; returns its address.
fn prepare_task<const SIZE: usize>(
    slot: u8,
    stack: &'static Stack<SIZE>,
    entry: fn() -> Result<(), Error>,
) -> Result<CAddr, Error> {
    // SAFETY: the child's buffer page (root slot 250) is mapped at
    // CHILD_TASK_BUFFER by `child::prepare`, which ran first; the bench
    // starts each helper once, on its own stack.
    let start = unsafe { task::prepare(stack, CHILD_TASK_BUFFER, entry) }.map_err(|_| Error::OutOfRange)?;
    let task = CAddr::root(slot);
    retype(CAddr::root(UNTYPED), ObjectKind::Task, task, 0)?;
    task_set(task, TaskField::Stack, start.stack_pointer)?;
    task_set(task, TaskField::Instruction, start.instruction_pointer)?;
    task_set(task, TaskField::CPool, CAddr::root(CPOOL).to_raw())?;
    task_set(task, TaskField::Table, CAddr::root(PML4).to_raw())?;
    task_set(task, TaskField::Buffer, CAddr::root(SPARE_BUFFER).to_raw())?;
    Ok(task)
}

/// The counter now: since the machine was reset, under icount the number
/// of instructions the machine executed (BIOS, GRUB, the kernel's boot,
/// rinit's start).
pub fn boot_counter() -> u64 {
    rdtsc()
}
