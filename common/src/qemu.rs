//! Stopping the machine: exit QEMU with a status a test can read, or halt.
//!
//! QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,
//! iosize=0x04`) ends QEMU when the kernel writes a value `v` to port `0xf4`,
//! with exit status `(v << 1) | 1`. Without the device the write goes
//! nowhere, and the kernel halts instead: a person can read the screen, and
//! the last line says how to quit (the QEMU hint at the start has long
//! scrolled away by then).

use crate::println;
use x86_64::instructions::port::Port;

/// The I/O port of the `isa-debug-exit` device.
const DEBUG_EXIT_PORT: u16 = 0xf4;

/// What the kernel reports when it stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything went as planned: QEMU exits with status 33.
    Success = 0x10,
    /// A fault, a panic or a failed check: QEMU exits with status 35.
    Failure = 0x11,
}

impl ExitCode {
    /// The exit status QEMU reports for this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }
}

/// What the kernel prints when it halts because QEMU has no exit device:
/// `make stage-N` connects the serial console to the terminal through
/// QEMU's monitor multiplexer, where Ctrl-A, then X quits.
pub const HALT_HINT: &str = "halted. To quit QEMU: Ctrl-A, then X (or close its window)";

/// Stops the machine with `code`: QEMU exits if it has the exit device,
/// otherwise the kernel says how to quit and the CPU halts for good.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is the debug-exit device or nothing at all; writing
    // it has no other effect.
    unsafe { Port::new(DEBUG_EXIT_PORT).write(code as u32) };
    // Still running: there is no exit device, so a person is watching.
    println!("{HALT_HINT}");
    halt_forever()
}

/// Disables interrupts and halts the CPU, for ever.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_statuses_tests_expect() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::Failure.qemu_status(), 35);
    }
}
