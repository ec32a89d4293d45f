//! Every register around one system call, for the boot tests that check
//! the kernel gives back what the ABI says it keeps (`abi::syscall`):
//! all of the general registers but `rax` and `rdx` (the result), `rsi`
//! for a take (the message kind), `rcx` and `r11` (the CPU's own), bit for
//! bit, upper halves included, and the SSE registers.
//!
//! [`syscall_with`] loads all sixteen general registers, `rsp` among them,
//! and `xmm0` to `xmm15` from a [`Registers`], makes the call, and stores
//! every one of them as the kernel left it. No compiled code runs in
//! between, so nothing the compiler does can hide a register the kernel
//! changed. [`patterns`] fills registers with values that tell each
//! register and each call apart, and [`check`] compares before and after.
//! The clobbered registers are checked too: each must hold a value the
//! ABI allows, never one of the kernel's (an address in the kernel half).

use abi::Error;
use abi::syscall::{Call, MessageKind, USER_END};

/// The general registers, in the order of [`Registers::general`].
pub const NAMES: [&str; 16] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];
pub const RAX: usize = 0;
pub const RCX: usize = 2;
pub const RDX: usize = 3;
pub const RSI: usize = 4;
pub const RDI: usize = 5;
pub const RSP: usize = 7;
pub const R8: usize = 8;
pub const R9: usize = 9;
pub const R10: usize = 10;
pub const R11: usize = 11;
/// The argument registers, in the order of `SyscallArgs::args`.
pub const ARGUMENTS: [usize; 6] = [RDI, RSI, RDX, R10, R8, R9];

/// The stack pointer a call is made with: an address in the kernel half.
/// The kernel never uses the task's stack (`syscall` leaves `rsp` alone,
/// and the entry switches to the kernel's at once), so it must give this
/// back as it got it, and not trip over it.
pub const KERNEL_HALF_STACK: u64 = 0xffff_8000_5eed_5f00;

// ANCHOR: registers
/// What a task sees of the CPU around a call: the general registers
/// (`rax`, `rbx`, `rcx`, `rdx`, `rsi`, `rdi`, `rbp`, `rsp`, `r8` to `r15`),
/// the SSE registers, each as two words, and RFLAGS.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registers {
    pub general: [u64; 16],
    pub xmm: [[u64; 2]; 16],
    pub rflags: u64,
}

/// The RFLAGS bits a task sets for itself and the kernel must give back:
/// the arithmetic flags (CF, PF, AF, ZF, SF, OF) and DF.
pub const TASK_FLAGS: u64 = 0x0CD5;
/// RFLAGS bit 1 is always set, and IF is on in ring 3 (`popfq` there
/// cannot clear it).
const FIXED_FLAGS: u64 = 0x202;
// ANCHOR_END: registers

const _: () = assert!(core::mem::offset_of!(Registers, xmm) == 128, "the offsets syscall_with uses");
const _: () = assert!(core::mem::offset_of!(Registers, rflags) == 384, "the offset syscall_with uses");

core::arch::global_asm!(
    ".pushsection .text.ulib_syscall_with, \"ax\"",
    ".global ulib_syscall_with",
    // extern "C" fn(input: *const Registers, output: *mut Registers)
    "ulib_syscall_with:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rip + {saved_rsp}], rsp",
    "mov [rip + {output}], rsi",
    ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
    "movdqu xmm\\n, [rdi + 128 + 16 * \\n]",
    ".endr",
    // RFLAGS now, while the stack is still this program's: the loads
    // below are all `mov`, which leave the flags alone.
    "push qword ptr [rdi + 384]",
    "popfq",
    "mov rax, [rdi + 0]",
    "mov rbx, [rdi + 8]",
    "mov rcx, [rdi + 16]",
    "mov rdx, [rdi + 24]",
    "mov rsi, [rdi + 32]",
    "mov rbp, [rdi + 48]",
    "mov rsp, [rdi + 56]",
    "mov r8, [rdi + 64]",
    "mov r9, [rdi + 72]",
    "mov r10, [rdi + 80]",
    "mov r11, [rdi + 88]",
    "mov r12, [rdi + 96]",
    "mov r13, [rdi + 104]",
    "mov r14, [rdi + 112]",
    "mov r15, [rdi + 120]",
    "mov rdi, [rdi + 40]",
    "syscall",
    // Free one register to hold the output's address.
    "mov [rip + {scratch}], rdi",
    "mov rdi, [rip + {output}]",
    "mov [rdi + 0], rax",
    "mov [rdi + 8], rbx",
    "mov [rdi + 16], rcx",
    "mov [rdi + 24], rdx",
    "mov [rdi + 32], rsi",
    "mov rax, [rip + {scratch}]",
    "mov [rdi + 40], rax",
    "mov [rdi + 48], rbp",
    "mov [rdi + 56], rsp",
    "mov [rdi + 64], r8",
    "mov [rdi + 72], r9",
    "mov [rdi + 80], r10",
    "mov [rdi + 88], r11",
    "mov [rdi + 96], r12",
    "mov [rdi + 104], r13",
    "mov [rdi + 112], r14",
    "mov [rdi + 120], r15",
    ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
    "movdqu [rdi + 128 + 16 * \\n], xmm\\n",
    ".endr",
    "mov rsp, [rip + {saved_rsp}]",
    // Nothing since the call changed the flags (only `mov`s).
    "pushfq",
    "pop qword ptr [rdi + 384]",
    // Compiled code expects DF clear.
    "cld",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
    ".popsection",
    saved_rsp = sym SAVED_RSP,
    output = sym OUTPUT,
    scratch = sym SCRATCH,
);

// Where `ulib_syscall_with` keeps what it needs while every register is
// the call's: only it touches them, between its first and last
// instruction, and a program has one thread.
static mut SAVED_RSP: u64 = 0;
static mut OUTPUT: u64 = 0;
static mut SCRATCH: u64 = 0;

unsafe extern "C" {
    fn ulib_syscall_with(input: *const Registers, output: *mut Registers);
}

/// Makes the system call `input` describes (`rax` the number, the
/// arguments in theirs, every other register as given, `rsp` too) and
/// returns every register as the kernel left it.
///
/// # Safety
/// As for [`crate::syscall::raw`]: the call must be sound for this
/// program. `rsp` may be anything: the call does not use the stack.
pub unsafe fn syscall_with(input: &Registers) -> Registers {
    let mut output = Registers { general: [0; 16], xmm: [[0; 2]; 16], rflags: 0 };
    // SAFETY: the function reads `input` and writes `output`, both whole
    // `Registers`; it saves and restores the callee-saved registers and
    // `rsp`, and declares (as an `extern "C"` function) that it clobbers
    // the rest; the caller vouches for the call.
    unsafe { ulib_syscall_with(input, &mut output) };
    output
}

/// Registers for call number `number` with `args`, made in case `case`:
/// every other register holds a value of its own, with an upper half that
/// names the case and the register (`0x5e_cc_00_rr` above, `0xc0de_00rr`
/// below), `rsp` is [`KERNEL_HALF_STACK`], and RFLAGS has a set of the
/// [`TASK_FLAGS`] that depends on the case (DF among them every other
/// case).
pub fn patterns(case: u8, number: u64, args: [u64; 6]) -> Registers {
    let pattern =
        |register: u64| (0x5e00_0000 | u64::from(case) << 16 | register) << 32 | 0xc0de_0000 | register;
    let flags = [TASK_FLAGS, 0, 0x0401, 0x08c4][usize::from(case % 4)];
    let mut registers = Registers { general: [0; 16], xmm: [[0; 2]; 16], rflags: flags | FIXED_FLAGS };
    for (index, value) in registers.general.iter_mut().enumerate() {
        *value = pattern(index as u64);
    }
    for (index, value) in registers.xmm.iter_mut().enumerate() {
        *value = [pattern(0x40 + index as u64), pattern(0x80 + index as u64)];
    }
    registers.general[RAX] = number;
    registers.general[RSP] = KERNEL_HALF_STACK;
    for (register, arg) in ARGUMENTS.into_iter().zip(args) {
        registers.general[register] = arg;
    }
    registers
}

/// Whether the call numbered `number` returns a message kind in `rsi`.
pub fn returns_kind(number: u64) -> bool {
    number == u64::from(Call::ChannelTake) || number == u64::from(Call::ChannelCall)
}

// ANCHOR: check
/// What [`check`] found wrong: a register and its values before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The register's name (`xmm3` for an SSE register).
    pub register: Register,
    pub before: u64,
    pub after: u64,
    /// What is wrong with it.
    pub what: &'static str,
}

/// A register, by its place in [`Registers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    General(usize),
    /// An SSE register and which of its halves (0 the low).
    Xmm(usize, usize),
    /// RFLAGS (the bits of [`TASK_FLAGS`]).
    Flags,
}

impl core::fmt::Display for Register {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match *self {
            Register::General(index) => f.write_str(NAMES[index]),
            Register::Xmm(index, half) => write!(f, "xmm{index}[{}]", ["low", "high"][half]),
            Register::Flags => f.write_str("rflags"),
        }
    }
}

/// Whether `value` is an address in the kernel half: what no register may
/// bring back from the kernel.
pub fn is_kernel_half(value: u64) -> bool {
    value >= 0xffff_8000_0000_0000
}

/// Compares the registers before a call and after it, as the ABI says:
/// every register it keeps is unchanged (`rsp`, the SSE registers and
/// the flags a task sets, [`TASK_FLAGS`], too); `rax` is 0 or an error code, and `rdx` is 0 after an error; `rsi`,
/// for a call that returns a message kind, is 0 or a kind, or after an
/// error may be as it was; `rcx` (the
/// CPU's copy of the return address) is a user-half address, and none of
/// the clobbered registers holds a kernel-half address. The first thing
/// wrong, if any.
pub fn check(before: &Registers, after: &Registers) -> Option<Mismatch> {
    let number = before.general[RAX];
    let kind_in_rsi = returns_kind(number);
    let general = |index: usize, what| {
        Some(Mismatch {
            register: Register::General(index),
            before: before.general[index],
            after: after.general[index],
            what,
        })
    };
    for index in 0..16 {
        let (was, is) = (before.general[index], after.general[index]);
        let clobbered = matches!(index, RAX | RDX | RCX | R11) || (kind_in_rsi && index == RSI);
        if !clobbered && was != is {
            return general(index, "a register the ABI keeps changed");
        }
        // The task's own value, given back, is none of the kernel's.
        if clobbered && is != was && is_kernel_half(is) {
            return general(index, "holds a kernel-half address");
        }
    }
    let rax = after.general[RAX];
    if rax != 0 && Error::try_from(rax).is_err() {
        return general(RAX, "is neither 0 nor an error code");
    }
    if rax != 0 && after.general[RDX] != 0 {
        return general(RDX, "is not 0 after an error");
    }
    // A take refused before it reached a channel (a bad address, say)
    // leaves rsi as it was; one that reached it puts 0 there on failure.
    let rsi = after.general[RSI];
    let kept = rax != 0 && rsi == before.general[RSI];
    if kind_in_rsi && rsi != 0 && !kept && MessageKind::try_from(rsi).is_err() {
        return general(RSI, "is neither 0, a message kind, nor (after an error) as it was");
    }
    if after.general[RCX] >= USER_END {
        return general(RCX, "is not a user-half return address");
    }
    if (before.rflags ^ after.rflags) & TASK_FLAGS != 0 {
        let (before, after) = (before.rflags, after.rflags);
        return Some(Mismatch {
            register: Register::Flags,
            before,
            after,
            what: "a flag the task set changed",
        });
    }
    for index in 0..16 {
        for half in 0..2 {
            let (was, is) = (before.xmm[index][half], after.xmm[index][half]);
            if was != is {
                let what = "an SSE register changed";
                return Some(Mismatch { register: Register::Xmm(index, half), before: was, after: is, what });
            }
        }
    }
    None
}
// ANCHOR_END: check

/// A call for [`check_calls`]: what it is, its number and arguments, and
/// the answer expected (`None`: any).
pub type Case = (&'static str, u64, [u64; 6], Option<Result<(), Error>>);

/// Arguments for the calls that take none: every byte and both halves in
/// use, so that a kernel which reads them by mistake, or changes their
/// registers, shows.
pub const JUNK: [u64; 6] = [
    0xa1a1_b2b2_c3c3_d4d4,
    0xffff_ffff_0000_0001,
    0x0000_0001_ffff_ffff,
    0x8000_0000_8000_0000,
    0x7fff_ffff_7fff_ffff,
    0xffff_8000_0000_0000,
];

/// Makes every call of `cases`, in order, with [`syscall_with`] and the
/// registers of [`patterns`], and checks what comes back with [`check`]
/// and against the answer expected; prints one line per mismatch
/// (`<program>: MISMATCH: ...`) and a line for the whole.
///
/// # Safety
/// As for [`syscall_with`], for every case: each call may change only
/// what no Rust code of the caller relies on (objects, its task buffer),
/// and none uses the stack.
pub unsafe fn check_calls(program: &str, cases: &[Case]) {
    let mut wrong = 0;
    for (case, &(name, number, args, expected)) in cases.iter().enumerate() {
        let before = patterns(case as u8, number, args);
        // SAFETY: the caller's promise, for this case.
        let after = unsafe { syscall_with(&before) };
        if let Some(mismatch) = check(&before, &after) {
            wrong += 1;
            crate::println!(
                "{program}: MISMATCH: {name}: {} was {:#x}, now {:#x}: {}",
                mismatch.register,
                mismatch.before,
                mismatch.after,
                mismatch.what
            );
        }
        let answer = match after.general[RAX] {
            0 => Ok(()),
            code => Err(Error::try_from(code).unwrap_or(Error::UnknownCall)),
        };
        if expected.is_some_and(|expected| answer != expected) {
            wrong += 1;
            crate::println!(
                "{program}: MISMATCH: {name}: answered {answer:?}, expected {:?}",
                expected.unwrap_or(Ok(()))
            );
        }
    }
    let count = cases.len();
    match wrong {
        0 => crate::println!(
            "{program}: registers: {count} calls, every register the ABI keeps came back bit for bit, none with a kernel value"
        ),
        _ => crate::println!("{program}: registers: {count} calls, {wrong} MISMATCH lines above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a kernel that keeps to the ABI gives back: the result in rax
    /// and rdx, rcx and r11 the CPU's.
    fn answered(before: &Registers, rax: u64, rdx: u64) -> Registers {
        let mut after = *before;
        after.general[RAX] = rax;
        after.general[RDX] = rdx;
        after.general[RCX] = 0x40_1234;
        after.general[R11] = 0x202;
        after
    }

    #[test]
    fn patterns_tell_registers_and_cases_apart_and_carry_the_call() {
        let registers = patterns(3, 17, [1, 2, 3, 4, 5, 6]);
        assert_eq!(registers.general[RAX], 17);
        assert_eq!(registers.general[RSP], KERNEL_HALF_STACK);
        assert_eq!(ARGUMENTS.map(|index| registers.general[index]), [1, 2, 3, 4, 5, 6]);
        assert_eq!(registers.general[1], 0x5e03_0001_c0de_0001, "rbx: upper half the case and register");
        let other = patterns(4, 17, [1, 2, 3, 4, 5, 6]);
        assert_ne!(registers.general[12], other.general[12], "another case, other values");
        let mut seen = registers.xmm.iter().flatten().chain(&registers.general).copied().collect::<Vec<_>>();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 48, "every value differs");
    }

    #[test]
    fn a_kernel_that_keeps_to_the_abi_passes() {
        let before = patterns(1, u64::from(Call::Nop), [0; 6]);
        assert_eq!(check(&before, &answered(&before, 0, 7)), None);
        let error = u64::from(Error::EmptySlot);
        assert_eq!(check(&before, &answered(&before, error, 0)), None);
        let take = patterns(2, u64::from(Call::ChannelTake), [0; 6]);
        let mut after = answered(&take, 0, 5);
        after.general[RSI] = MessageKind::Raw as u64;
        assert_eq!(check(&take, &after), None, "a take returns the kind in rsi");
        let refused = answered(&take, u64::from(Error::WrongKind), 0);
        assert_eq!(check(&take, &refused), None, "a refused take may leave rsi as it was");
        let mut own = patterns(2, u64::from(Call::ChannelTake), [0, 0xffff_8000_0000_0001, 0, 0, 0, 0]);
        own.general[RAX] = 16;
        let refused = answered(&own, u64::from(Error::MalformedAddress), 0);
        assert_eq!(check(&own, &refused), None, "the task's own kernel-half value, given back as it was");
    }

    #[test]
    fn every_kept_register_is_checked_bit_for_bit() {
        let before = patterns(1, u64::from(Call::Yield), [0; 6]);
        for index in [1, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15] {
            for bit in [0, 31, 32, 63] {
                let mut after = answered(&before, 0, 0);
                after.general[index] ^= 1 << bit;
                let found = check(&before, &after).map(|m| m.register);
                assert_eq!(found, Some(Register::General(index)), "{} bit {bit}", NAMES[index]);
            }
        }
        for bit in [0, 2, 4, 6, 7, 10, 11] {
            let mut after = answered(&before, 0, 0);
            after.rflags ^= 1 << bit;
            assert_eq!(check(&before, &after).map(|m| m.register), Some(Register::Flags), "flag bit {bit}");
        }
        let mut after = answered(&before, 0, 0);
        after.rflags ^= 1 << 16; // RF: not a task's to keep
        assert_eq!(check(&before, &after), None);
        for index in 0..16 {
            for half in 0..2 {
                let mut after = answered(&before, 0, 0);
                after.xmm[index][half] ^= 1 << 40;
                assert_eq!(check(&before, &after).map(|m| m.register), Some(Register::Xmm(index, half)));
            }
        }
    }

    #[test]
    fn a_clobbered_register_with_a_kernel_value_is_found() {
        let before = patterns(1, u64::from(Call::ChannelTake), [0; 6]);
        let kernel = 0xffff_8000_0012_3000;
        for index in [RAX, RDX, RSI, RCX, R11] {
            let mut after = answered(&before, 0, 0);
            after.general[RSI] = 0;
            after.general[index] = kernel;
            assert_eq!(
                check(&before, &after).map(|m| m.register),
                Some(Register::General(index)),
                "{}",
                NAMES[index]
            );
        }
        // (register, rax, rdx, rsi, rcx): one value the ABI does not allow.
        let error = u64::from(Error::ChannelEmpty);
        let strays: [(usize, [u64; 4]); 4] = [
            (RAX, [0xdead, 0, 0, 0x40_1234]),
            (RDX, [error, 9, 0, 0x40_1234]),
            (RSI, [0, 5, 77, 0x40_1234]),
            (RCX, [0, 5, 1, USER_END]),
        ];
        for (index, [rax, rdx, rsi, rcx]) in strays {
            let mut after = answered(&before, rax, rdx);
            after.general[RSI] = rsi;
            after.general[RCX] = rcx;
            assert_eq!(
                check(&before, &after).map(|m| m.register),
                Some(Register::General(index)),
                "{}",
                NAMES[index]
            );
        }
    }

    /// `syscall_with` itself, on the host: Linux's `getpid` (39) keeps
    /// every register but rax, rcx and r11, so what comes back must be
    /// what went in, register for register (a load or store of the wrong
    /// register, or a missed one, shows here).
    #[cfg(target_os = "linux")]
    #[test]
    fn syscall_with_loads_and_stores_every_register() {
        let before = patterns(8, 39, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
        assert_eq!(before.rflags & TASK_FLAGS, TASK_FLAGS, "every flag a task sets, DF among them");
        // SAFETY: getpid changes nothing.
        let after = unsafe { syscall_with(&before) };
        assert_eq!(after.general[RAX], u64::from(std::process::id()));
        for index in (0..16).filter(|&index| !matches!(index, RAX | RCX | R11)) {
            assert_eq!(after.general[index], before.general[index], "{}", NAMES[index]);
        }
        assert_eq!(after.xmm, before.xmm);
        assert_eq!(after.rflags & TASK_FLAGS, before.rflags & TASK_FLAGS, "rflags");
    }
}
