//! What the kernel does when its own code raises a CPU exception: print a
//! report (which exception, the error code, the faulting address for page
//! faults, every register) and stop with the failure code, except for a
//! breakpoint, after which the kernel simply continues.

use crate::memory::Span;
use crate::qemu::{ExitCode, exit};
use crate::trap::TrapFrame;
use crate::{console, println};
use core::fmt;
use spin::Once;

/// Vector of the breakpoint exception (`int3`).
pub const BREAKPOINT: u64 = 3;
/// Vector of the page fault exception.
pub const PAGE_FAULT: u64 = 14;

/// The name of exception `vector` (the Intel manual's, kept in
/// `abi::fault` for user space's reports too), or "interrupt" for vectors
/// 32 and up.
pub fn name(vector: u64) -> &'static str {
    abi::fault::EXCEPTION_NAMES.get(vector as usize).copied().unwrap_or("interrupt")
}

/// A page-fault error code, decoded.
pub struct PageFaultCause(pub u64);

impl fmt::Display for PageFaultCause {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let bit = |n: u32| self.0 & (1 << n) != 0;
        let page = if bit(0) { "protection violation" } else { "page not present" };
        let access = match (bit(4), bit(1)) {
            (true, _) => "instruction fetch",
            (false, true) => "write",
            (false, false) => "read",
        };
        let mode = if bit(2) { "user mode" } else { "kernel mode" };
        write!(f, "{page}, {access}, {mode}")?;
        if bit(3) {
            write!(f, ", reserved bit set")?;
        }
        Ok(())
    }
}

static STACK_GUARD: Once<Span> = Once::new();

/// Tells the reports where the stack guard page is, so a page fault there
/// is named as what it is: a stack overflow.
pub fn watch_stack_guard(guard: Span) {
    STACK_GUARD.call_once(|| guard);
}

// ANCHOR: handle
/// The trap handler of a kernel that runs no user code: a breakpoint is
/// reported and execution continues after the `int3`; anything else is
/// reported and stops the machine.
pub fn handle_kernel_exception(frame: &mut TrapFrame) {
    if frame.vector == BREAKPOINT {
        println!("breakpoint (vector 3) at rip {:#x}: continuing", frame.rip);
        return;
    }
    console::take_over_for_report();
    report(frame);
    exit(ExitCode::Failure)
}
// ANCHOR_END: handle

/// Prints everything known about the exception in `frame`.
pub fn report(frame: &TrapFrame) {
    println!("EXCEPTION: {} (vector {})", name(frame.vector), frame.vector);
    println!("  error code {:#x}", frame.error_code);
    if frame.vector == PAGE_FAULT {
        let address = x86_64::registers::control::Cr2::read_raw();
        println!("  page fault: {}", PageFaultCause(frame.error_code));
        println!("  faulting address (cr2) {address:#x}");
        if STACK_GUARD.get().is_some_and(|guard| guard.contains(address)) {
            println!("  the address is in the stack guard page: kernel stack overflow");
        }
    }
    println!(
        "  rip {:#018x}  cs {:#x}  rflags {:#x}  rsp {:#018x}  ss {:#x}",
        frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss
    );
    let registers = [
        ("rax", frame.rax),
        ("rbx", frame.rbx),
        ("rcx", frame.rcx),
        ("rdx", frame.rdx),
        ("rsi", frame.rsi),
        ("rdi", frame.rdi),
        ("rbp", frame.rbp),
        ("r8", frame.r8),
        ("r9", frame.r9),
        ("r10", frame.r10),
        ("r11", frame.r11),
        ("r12", frame.r12),
        ("r13", frame.r13),
        ("r14", frame.r14),
        ("r15", frame.r15),
    ];
    for row in registers.chunks(3) {
        for (name, value) in row {
            crate::print!("  {name:>3} {value:#018x}");
        }
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_exceptions_and_interrupts() {
        assert_eq!(name(0), "divide error");
        assert_eq!(name(14), "page fault");
        assert_eq!(name(31), "reserved");
        assert_eq!(name(32), "interrupt");
    }

    #[test]
    fn decodes_page_fault_error_codes() {
        assert_eq!(PageFaultCause(0b0_0010).to_string(), "page not present, write, kernel mode");
        assert_eq!(PageFaultCause(0b0_0011).to_string(), "protection violation, write, kernel mode");
        assert_eq!(
            PageFaultCause(0b1_0101).to_string(),
            "protection violation, instruction fetch, user mode"
        );
        assert_eq!(
            PageFaultCause(0b0_1000).to_string(),
            "page not present, read, kernel mode, reserved bit set"
        );
    }
}
