//! What the kernel does when a device interrupts: the timer ticks, and a
//! line a task's IrqLine is bound to becomes a message on its channel
//! (`objects/irq_line.rs`).
//!
//! The kernel reads no device itself. What is typed on the serial line
//! (COM1, IRQ 4) or the PS/2 keyboard (IRQ 1) is read by the drivers, the
//! programs `programs/serial` and `programs/keyboard`, which rinit starts
//! at boot with an IrqLine and a PortRange each, and which put each byte on
//! the input channel the shell takes from; decoding scancodes is the
//! shell's business. The kernel keeps the timer, the PIC, and its own
//! console output: it writes COM1, and programmed the UART at boot (its
//! receive interrupt included), which the serial driver's read-only range
//! cannot change.

use crate::objects::irq_line;
use common::pic::{self, TIMER_IRQ};
use core::sync::atomic::{AtomicU64, Ordering};

/// Timer ticks since the timer started.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// What an interrupt was, for the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// The timer: time for the next task.
    Tick,
    /// Anything else (a driver's line, or a spurious interrupt).
    Other,
}

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
    // The timer, or a line no task serves: masked, so only a spurious
    // interrupt, or one the PIC had latched before its driver went.
    if pic::end_of_interrupt(line) && line == TIMER_IRQ {
        // Messages owed to channels that were full, now that their
        // takers may have made room.
        irq_line::deliver_pending();
        TICKS.fetch_add(1, Ordering::Relaxed);
        return Interrupt::Tick;
    }
    Interrupt::Other
}
// ANCHOR_END: interrupt

/// Timer ticks so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
