//! Crashing on purpose, to show the fault reports: the kernel command line
//! `crash=NAME` makes `kmain` fail in the named way. To boot with one:
//! `make stage-N CMDLINE="crash=stack-overflow"` (the boot tests use
//! `Boot::command_line`). The names are in `NAMES` below.
//!
//! Every stage offers the same crashes, and what they do shows what the
//! stage enforces. Under stage 1's boot page tables everything is writable
//! and executable, so `write-read-only` and `execute-data` do *not* fault;
//! from stage 2 on, the kernel's own tables make both page faults.

use crate::{print, println};

// ANCHOR: crash
/// The ways the kernel can be asked to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// Write to an address nothing is mapped at.
    PageFault,
    /// Recurse until the stack runs into its guard page.
    StackOverflow,
    /// Execute `ud2`, an instruction defined to be invalid.
    InvalidOpcode,
    /// Call `panic!`.
    Panic,
    /// Write to a constant: its page is mapped read-only.
    WriteReadOnly,
    /// Call code placed in a data page: it is mapped no-execute.
    ExecuteData,
}

/// Every crash, with the name the command line uses for it.
const NAMES: &[(&str, Crash)] = &[
    ("page-fault", Crash::PageFault),
    ("stack-overflow", Crash::StackOverflow),
    ("invalid-opcode", Crash::InvalidOpcode),
    ("panic", Crash::Panic),
    ("write-read-only", Crash::WriteReadOnly),
    ("execute-data", Crash::ExecuteData),
];

/// A constant, in the read-only data section.
static READ_ONLY: u64 = 0x1234;

/// One `ret` instruction, in the writable data section.
static mut CODE_IN_DATA: [u8; 1] = [0xC3];
// ANCHOR_END: crash

impl Crash {
    /// The crash the command line asks for, if any. An unknown name is
    /// reported and ignored: a typo must not stop the kernel.
    pub fn from_command_line(command_line: &str) -> Option<Crash> {
        let name = command_line.split_whitespace().find_map(|word| word.strip_prefix("crash="))?;
        let crash = NAMES.iter().find(|(known, _)| *known == name).map(|&(_, crash)| crash);
        if crash.is_none() {
            print!("unknown crash '{name}'; known:");
            NAMES.iter().for_each(|(known, _)| print!(" {known}"));
            println!();
        }
        crash
    }

    // ANCHOR: trigger
    /// Makes the kernel fail in this way.
    pub fn trigger(self) {
        println!("crashing on purpose: {self:?}");
        match self {
            Crash::PageFault => {
                let unmapped = 0x0000_7000_0000_0000 as *mut u64;
                // SAFETY: not sound, on purpose: nothing is mapped at this
                // address, so the write faults and the handler stops the
                // machine before anything could observe the write.
                unsafe { unmapped.write_volatile(0xdead) };
            }
            Crash::StackOverflow => println!("recursed {} times", recurse_forever(0)),
            // SAFETY: `ud2` raises #UD, and the handler stops the machine.
            Crash::InvalidOpcode => unsafe { core::arch::asm!("ud2") },
            Crash::Panic => panic!("crash requested on the command line"),
            Crash::WriteReadOnly => {
                let constant = (&raw const READ_ONLY).cast_mut();
                println!("writing to the constant at {constant:p}");
                // SAFETY: not sound, on purpose: the page is read-only, so
                // the write faults and the handler stops the machine.
                unsafe { constant.write_volatile(0xdead) };
            }
            Crash::ExecuteData => {
                let code = &raw const CODE_IN_DATA;
                println!("calling the data at {code:p}");
                // SAFETY: not sound, on purpose: the page is no-execute, so
                // fetching the instruction faults and the handler stops the
                // machine.
                let function: extern "C" fn() = unsafe { core::mem::transmute(code) };
                function();
            }
        }
        println!("the crash did not stop the kernel");
    }
    // ANCHOR_END: trigger
}

/// Calls itself until the stack runs into the guard page.
#[allow(unconditional_recursion)]
fn recurse_forever(depth: u64) -> u64 {
    // `black_box` keeps the compiler from turning the recursion into a loop.
    let frame = core::hint::black_box([depth; 32]);
    recurse_forever(depth + 1) + frame[0]
}
