//! What the kernel does when a device interrupts: the timer ticks, a
//! line a task's IrqLine is bound to becomes a message on its channel
//! (`objects/irq_line.rs`), and input arrives.
//!
//! Until a driver binds its line, the kernel reads the keyboard and the
//! serial line itself, as below; the moment a task binds line 1 (the
//! keyboard) or 4 (COM1), the kernel's reader of that line stops, and the
//! driver's program reads the device through its port capability
//! ([`KERNEL_READS`]). So the system works before the drivers exist and
//! after.
//!
//! Every byte typed on the serial line (COM1, IRQ 4) and every scancode
//! from the PS/2 keyboard (IRQ 1) becomes one message in the *input
//! channel*, which the first task (the shell) takes from. The kernel does
//! not interpret keys: decoding scancodes is the shell's business.
//!
//! Serial bytes are read only while the channel has room: the rest wait
//! in the serial chip (and QEMU holds back what does not fit there), and
//! the kernel reads them at the next timer tick, or when it next idles,
//! after the shell has taken some. So a pasted line is not lost, and it
//! is not stuck either while a task keeps the CPU busy: the chip raises
//! its interrupt again only once it has been emptied, so without the tick
//! nothing would read it until the machine idled. A keyboard scancode must be read
//! when it arrives; if the shell falls a channel's worth of messages
//! behind, it is counted as lost, never a crash.

use crate::objects::ManagedArc;
use crate::objects::channel::{CAPACITY, Channel, Outgoing};
use crate::objects::irq_line;
use abi::syscall::input::{self, Source};
use common::console;
use common::pic::{self, COM1_IRQ, KEYBOARD_IRQ, TIMER_IRQ};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

/// The PS/2 controller's data port, where a scancode waits.
const PS2_DATA: u16 = 0x60;

/// The input channel, once the kernel has made it.
struct InputChannel(UnsafeCell<Option<ManagedArc<Channel>>>);

// SAFETY: one CPU, and the kernel runs with interrupts disabled: the input
// channel is never used by two threads of control at once.
unsafe impl Sync for InputChannel {}

static INPUT: InputChannel = InputChannel(UnsafeCell::new(None));
/// Input bytes that found the channel full.
static LOST: AtomicU64 = AtomicU64::new(0);
/// Timer ticks since the timer started.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// Makes `channel` the one input goes to. The kernel keeps a strong
/// pointer to it for good: input never stops.
pub fn attach_input(channel: ManagedArc<Channel>) {
    // SAFETY: one CPU, interrupts off: no other reference to the cell.
    unsafe { *INPUT.0.get() = Some(channel) };
}

/// What an interrupt was, for the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// The timer: time for the next task.
    Tick,
    /// Anything else (input, or a spurious interrupt).
    Other,
}

/// The lines whose device the kernel reads itself while no task has bound
/// them: the keyboard and COM1.
pub const KERNEL_READS: &[u8] = &[KEYBOARD_IRQ, COM1_IRQ];

// ANCHOR: interrupt
/// Handles IRQ `line`, from user mode or from the idle loop.
pub fn interrupt(line: u8) -> Interrupt {
    // A driver's line: masked, one message to its channel, then the end
    // of the interrupt (a spurious one gets only the end it needs).
    if irq_line::is_bound(line) {
        if !pic::is_spurious(line) {
            irq_line::fire(line);
        }
        pic::end_of_interrupt(line);
        return Interrupt::Other;
    }
    let tick = line == TIMER_IRQ;
    match line {
        TIMER_IRQ => {
            // Messages owed to channels that were full, now that their
            // takers may have made room.
            irq_line::deliver_pending();
            // Bytes left in the chip when the channel was full raise no
            // second interrupt (see the module documentation).
            poll_serial();
        }
        COM1_IRQ => {
            poll_serial();
        }
        KEYBOARD_IRQ => {
            // SAFETY: reading the PS/2 data port takes the waiting
            // scancode; nothing else reads it.
            let scancode: u8 = unsafe { Port::new(PS2_DATA).read() };
            put_input(Source::Keyboard, scancode);
        }
        _ => {}
    }
    match pic::end_of_interrupt(line) && tick {
        true => {
            TICKS.fetch_add(1, Ordering::Relaxed);
            Interrupt::Tick
        }
        false => Interrupt::Other,
    }
}

/// Moves the bytes waiting in the serial chip into the input channel, as
/// far as it has room, unless a task's driver has bound COM1's line.
/// Returns how many it moved.
pub fn poll_serial() -> usize {
    if irq_line::is_bound(COM1_IRQ) {
        return 0;
    }
    let mut moved = 0;
    while input_channel().is_some_and(|channel| channel.len() < CAPACITY) {
        let Some(byte) = console::read_serial_byte() else { break };
        put_input(Source::Serial, byte);
        moved += 1;
    }
    moved
}

/// Puts one input byte into the input channel (which wakes the shell if
/// it waits); counts it as lost if the channel is full.
fn put_input(source: Source, byte: u8) {
    let Some(channel) = input_channel() else { return };
    if channel.put(Outgoing::Raw(input::encode(source, byte))).is_err() {
        LOST.fetch_add(1, Ordering::Relaxed);
    }
}
// ANCHOR_END: interrupt

/// The input channel, once attached.
fn input_channel() -> Option<&'static ManagedArc<Channel>> {
    // SAFETY: one CPU, interrupts off: no other reference to the cell; the
    // channel, once attached, stays for good.
    unsafe { (*INPUT.0.get()).as_ref() }
}

/// Input bytes lost to a full channel so far.
pub fn lost_input() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// Timer ticks so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
