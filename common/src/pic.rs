//! The legacy interrupt controller: two chained 8259 PICs, as every PC
//! emulates them. They deliver the hardware interrupt lines (IRQs 0-15)
//! as vectors; out of the box they collide with the CPU's exception
//! vectors 8-15, so [`init`] moves them to 32-47 and masks every line the
//! kernel does not ask for.

use crate::user::FIRST_IRQ_VECTOR;
use pic8259::ChainedPics;
use spin::Mutex;

/// The timer (PIT channel 0).
pub const TIMER_IRQ: u8 = 0;
/// The PS/2 keyboard.
pub const KEYBOARD_IRQ: u8 = 1;
/// The first serial port, COM1.
pub const COM1_IRQ: u8 = 4;
/// The line of the second controller's cascade into the first.
pub const CASCADE_IRQ: u8 = 2;
/// The lines on which a controller reports spurious interrupts.
const SPURIOUS_IRQS: [u8; 2] = [7, 15];

static PICS: Mutex<ChainedPics> =
    // SAFETY: 32..48 are free vectors: the CPU's exceptions end at 31.
    Mutex::new(unsafe { ChainedPics::new(FIRST_IRQ_VECTOR as u8, FIRST_IRQ_VECTOR as u8 + 8) });

// ANCHOR: init
/// Remaps the controllers to vectors 32-47 and enables exactly the IRQ
/// lines in `enabled`. The CPU still takes none while the kernel runs: its
/// interrupt flag is off except in user mode and when idle.
pub fn init(enabled: &[u8]) {
    let mut mask: u16 = !0;
    for &line in enabled.iter().chain(&[CASCADE_IRQ]) {
        mask &= !(1 << line);
    }
    let mut pics = PICS.lock();
    // SAFETY: the controllers are programmed once, with interrupts off,
    // onto vectors the IDT has entries for.
    unsafe {
        pics.initialize();
        pics.write_masks(mask as u8, (mask >> 8) as u8);
    }
}
// ANCHOR_END: init

// ANCHOR: eoi
/// Tells the controllers that IRQ `line` has been handled, so it can fire
/// again. Returns false for a spurious interrupt (nothing to acknowledge on
/// that controller and nothing to handle).
pub fn end_of_interrupt(line: u8) -> bool {
    let mut pics = PICS.lock();
    if SPURIOUS_IRQS.contains(&line) && !is_in_service(line) {
        if line >= 8 {
            // The first controller did see the cascade line fire.
            // SAFETY: acknowledging IRQ 2 on the first controller.
            unsafe { pics.notify_end_of_interrupt(FIRST_IRQ_VECTOR as u8 + CASCADE_IRQ) };
        }
        return false;
    }
    // SAFETY: `line` is being handled: acknowledging it is what the
    // controller waits for.
    unsafe { pics.notify_end_of_interrupt(FIRST_IRQ_VECTOR as u8 + line) };
    true
}
// ANCHOR_END: eoi

// ANCHOR: mask
/// Masks IRQ `line` (`masked`) or lets it through again: a masked line's
/// interrupt waits in the controller until the line is unmasked. (Stage 6
/// masks a driver's line from its interrupt until the driver acknowledges
/// it.) The cascade line is never masked here: the second controller's
/// lines need it.
pub fn set_masked(line: u8, masked: bool) {
    if line >= 16 || line == CASCADE_IRQ {
        return;
    }
    let mut pics = PICS.lock();
    // SAFETY: reading and writing the interrupt masks changes which lines
    // are delivered, nothing else; the lock keeps other commands out.
    unsafe {
        let [first, second] = pics.read_masks();
        let mut mask = u16::from(first) | (u16::from(second) << 8);
        match masked {
            true => mask |= 1 << line,
            false => mask &= !(1 << line),
        }
        pics.write_masks(mask as u8, (mask >> 8) as u8);
    }
}

/// Whether IRQ `line` is a spurious interrupt: line 7 or 15 that its
/// controller is not really serving. [`end_of_interrupt`] then does what
/// such an interrupt needs (nothing, or the cascade's end on the first
/// controller) and returns false.
pub fn is_spurious(line: u8) -> bool {
    let _pics = PICS.lock();
    SPURIOUS_IRQS.contains(&line) && !is_in_service(line)
}
// ANCHOR_END: mask

/// Whether the controller is really serving `line` (its in-service
/// register says so), which a spurious interrupt is not. Called with the
/// controllers' lock held, so that no other command comes in between.
fn is_in_service(line: u8) -> bool {
    use x86_64::instructions::port::Port;
    let (command, bit) = if line < 8 { (0x20, line) } else { (0xA0, line - 8) };
    let mut port: Port<u8> = Port::new(command);
    // SAFETY: OCW3 0x0B asks the controller for its in-service register on
    // the next read of the same port; the caller holds the controllers' lock.
    unsafe {
        port.write(0x0B);
        port.read() & (1 << bit) != 0
    }
}
