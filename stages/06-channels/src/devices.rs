//! What the kernel does when a device interrupts: the timer ticks, and
//! input arrives.
//!
//! Every byte typed on the serial line (COM1, IRQ 4) and every scancode
//! from the PS/2 keyboard (IRQ 1) becomes one message in the *input
//! channel*, which the first task (the shell) takes from. The kernel does
//! not interpret keys: decoding scancodes is the shell's business. If the
//! shell falls more than a channel's worth of messages behind, what does
//! not fit is counted as lost, never a crash.

use crate::objects::ManagedArc;
use crate::objects::channel::{Channel, Outgoing};
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

// ANCHOR: interrupt
/// Handles IRQ `line`, from user mode or from the idle loop.
pub fn interrupt(line: u8) -> Interrupt {
    let tick = line == TIMER_IRQ;
    match line {
        COM1_IRQ => {
            while let Some(byte) = console::read_serial_byte() {
                put_input(Source::Serial, byte);
            }
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

/// Puts one input byte into the input channel (which wakes the shell if
/// it waits); counts it as lost if the channel is full.
fn put_input(source: Source, byte: u8) {
    // SAFETY: one CPU, interrupts off: no other reference to the cell.
    let Some(channel) = (unsafe { &*INPUT.0.get() }) else { return };
    if channel.put(Outgoing::Raw(input::encode(source, byte))).is_err() {
        LOST.fetch_add(1, Ordering::Relaxed);
    }
}
// ANCHOR_END: interrupt

/// Input bytes lost to a full channel so far.
pub fn lost_input() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// Timer ticks so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
