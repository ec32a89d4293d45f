//! Faults on request (`fault=NAME`): the child task commits one, to show
//! that the kernel reports it, stops that task only, and goes on.
//!
//! Each fault is one instruction in inline assembly, so that the program
//! does exactly what it says (Rust would check a division by zero itself,
//! and a null pointer read is undefined behaviour, not a fault, to the
//! compiler). If the instruction does not fault, the child says so.

use core::arch::asm;
use core::cell::UnsafeCell;

// ANCHOR: faults
/// The faults a task can commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `div` by zero: divide error (#DE).
    DivideError,
    /// `ud2`: invalid opcode (#UD).
    InvalidOpcode,
    /// `hlt`, privileged, in user mode: general protection (#GP).
    GeneralProtection,
    /// A read of address 0: page fault (#PF), nothing is mapped in page 0.
    NullPointer,
    /// A write to the program's own read-only data: page fault.
    WriteReadOnly,
    /// A call into a data page: page fault on an instruction fetch (NX).
    ExecuteNx,
    /// A read of the kernel half: page fault (the pages are supervisor-only).
    KernelMemory,
    /// `int3`: breakpoint (#BP, or #GP if the kernel keeps vector 3 away
    /// from user mode).
    Breakpoint,
    /// Endless recursion: page fault on the unmapped guard page below the
    /// child's stack.
    StackOverflow,
    /// An unmasked x87 divide by zero, then `fwait`: x87 floating-point
    /// error (#MF), since the kernel sets CR0.NE.
    X87Error,
    /// `sgdt` in user mode: general protection (#GP) where the CPU has UMIP
    /// and the kernel turns it on; elsewhere it does not fault.
    Umip,
}
// ANCHOR_END: faults

impl Fault {
    /// Every fault with its name on the command line.
    const ALL: [(Fault, &'static str); 11] = [
        (Fault::DivideError, "divide-error"),
        (Fault::InvalidOpcode, "invalid-opcode"),
        (Fault::GeneralProtection, "general-protection"),
        (Fault::NullPointer, "null-pointer"),
        (Fault::WriteReadOnly, "write-read-only"),
        (Fault::ExecuteNx, "execute-nx"),
        (Fault::KernelMemory, "kernel-memory"),
        (Fault::Breakpoint, "breakpoint"),
        (Fault::StackOverflow, "stack-overflow"),
        (Fault::X87Error, "x87-error"),
        (Fault::Umip, "umip"),
    ];

    /// The names, for a usage message.
    pub const NAMES: &str = "divide-error, invalid-opcode, general-protection, null-pointer, \
        write-read-only, execute-nx, kernel-memory, breakpoint, stack-overflow, x87-error, umip";

    /// The fault called `name` on the command line.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().find(|(_, known)| *known == name).map(|&(fault, _)| fault)
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        Fault::ALL.iter().find(|(fault, _)| *fault == self).map_or("?", |&(_, name)| name)
    }

    /// The fault's code, to pass it to the child through an atomic (0 is none).
    pub fn code(fault: Option<Fault>) -> u8 {
        fault.map_or(0, |fault| {
            Fault::ALL.iter().position(|&(known, _)| known == fault).unwrap_or(0) as u8 + 1
        })
    }

    /// The fault with code `code`.
    pub fn from_code(code: u8) -> Option<Fault> {
        Fault::ALL.get(usize::from(code).checked_sub(1)?).map(|&(fault, _)| fault)
    }

    // ANCHOR: commit
    /// Commits the fault. Returns only if the CPU did not fault.
    pub fn commit(self) {
        // Each instruction either faults, and the kernel stops this task, or
        // (if the kernel failed to make it fault) changes nothing Rust relies on.
        match self {
            // SAFETY: writes only the declared registers.
            Fault::DivideError => unsafe {
                asm!("div {zero}", zero = in(reg) 0u64, inout("rax") 1u64 => _, inout("rdx") 0u64 => _,
                    options(nomem, nostack));
            },
            // SAFETY: an undefined instruction does nothing but fault.
            Fault::InvalidOpcode => unsafe { asm!("ud2", options(nomem, nostack)) },
            // SAFETY: in user mode `hlt` does nothing but fault.
            Fault::GeneralProtection => unsafe { asm!("hlt", options(nomem, nostack)) },
            // SAFETY: a read into a scratch register.
            Fault::NullPointer => unsafe {
                asm!("mov {value}, qword ptr [{address}]", value = out(reg) _, address = in(reg) 0u64,
                    options(readonly, nostack));
            },
            // SAFETY: meant to fault; if it does not, READ_ONLY is only ever
            // read by this write's caller's report, not relied upon.
            Fault::WriteReadOnly => unsafe {
                asm!("mov byte ptr [{address}], 0", address = in(reg) READ_ONLY.as_ptr(), options(nostack));
            },
            // SAFETY: NOT_CODE holds `ret`: if the page were executable, the
            // call would simply come back (clobbering what a call may).
            Fault::ExecuteNx => unsafe {
                asm!("call {address}", address = in(reg) NOT_CODE.0.get(), clobber_abi("C"));
            },
            // SAFETY: a read into a scratch register.
            Fault::KernelMemory => unsafe {
                asm!("mov {value}, qword ptr [{address}]", value = out(reg) _,
                    address = in(reg) 0xffff_8000_0000_0000u64, options(readonly, nostack));
            },
            // SAFETY: a breakpoint trap does nothing but trap.
            Fault::Breakpoint => unsafe { asm!("int3", options(nomem, nostack)) },
            Fault::StackOverflow => {
                core::hint::black_box(recurse(0));
            }
            Fault::X87Error => ulib::hostile::x87_divide_by_zero(),
            Fault::Umip => {
                core::hint::black_box(ulib::hostile::sgdt());
            }
        }
    }
    // ANCHOR_END: commit
}

/// Read-only data (in `.rodata`) for [`Fault::WriteReadOnly`].
static READ_ONLY: [u8; 8] = *b"constant";

/// Data (in `.data`, writable, not executable) holding the instruction
/// `ret`, for [`Fault::ExecuteNx`].
struct NotCode(UnsafeCell<[u8; 16]>);
// SAFETY: nothing reads or writes it from Rust; only the CPU fetches it.
unsafe impl Sync for NotCode {}
static NOT_CODE: NotCode = NotCode(UnsafeCell::new([0xc3; 16]));

/// Recurses without end, 512 bytes of stack and more per call, until the
/// stack runs into the guard page (each frame is smaller than the guard, so
/// none can jump over it).
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 512];
    frame[0] = depth as u8;
    core::hint::black_box(&mut frame);
    recurse(depth + 1).wrapping_add(u64::from(frame[1]))
}
