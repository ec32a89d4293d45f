//! The registers and flags a call is made with, fuzzed: every system call
//! the fuzzer makes goes through [`syscall`], which sets RFLAGS to random
//! bits a ring-3 `popfq` can set and fills every general register the
//! call does not take with a random value, then makes the call.
//!
//! The values come from a hash of the call, its arguments and the count
//! of calls so far, not from a fuzzing task's generator: the same seed
//! still replays the same run, and the callers need not change.
//!
//! This is not `ulib::registers::syscall_with`, the register test's
//! trampoline, for two reasons: that one keeps the caller's `rsp` and the
//! output's address in statics, sound only for a program with one thread,
//! while the fuzzer's tasks share its memory and call at once; and it
//! gives compiled code back the flags the kernel returned, where the
//! fuzzer must clear the TF, AC and NT it set itself before any compiled
//! code runs again.

use abi::Call;
use core::arch::naked_asm;
use core::sync::atomic::{AtomicU64, Ordering};

// ANCHOR: flags
/// The RFLAGS bits a ring-3 `popfq` can change (Intel SDM vol. 2, POPF;
/// AMD APM vol. 3): the arithmetic flags (CF, PF, AF, ZF, SF, OF), TF, DF,
/// NT, AC and ID. IF and IOPL stay as they are at privilege 3 (no I/O
/// privilege), RF is never set by `popfq`, VM, VIF and VIP are not
/// changed. The kernel must clear those that matter to it on the way in
/// (TF, DF, AC, NT: `SFMASK`) and give the task its own back.
const USER_POPF_FLAGS: u64 = 0x0000_0CD5 | TRAP | 1 << 14 | 1 << 18 | 1 << 21;
/// TF: single-stepping, which makes the instruction after the call raise
/// a debug exception (#DB) in the task, a fault it is stopped for. Set
/// once in [`TRAP_ONE_IN`] calls, so that it does not stop most of them.
const TRAP: u64 = 1 << 8;
const TRAP_ONE_IN: u64 = 64;
// ANCHOR_END: flags

/// How many calls went through [`syscall`] with TF set.
pub static TRAPPED: AtomicU64 = AtomicU64::new(0);

// ANCHOR: syscall
/// Makes the system call `number` with `args`, RFLAGS and the registers it
/// does not take random (derived from `salt` and the call): returns `rax`
/// and `rdx`. `rsp` stays this task's stack (the register test,
/// `programs/hostile`, gives the kernel a kernel-half one).
///
/// # Safety
/// As for `ulib::syscall::raw`: the call must be sound for this program.
pub unsafe fn syscall(number: u64, args: [u64; 6], salt: u64) -> (u64, u64) {
    let mut mix =
        Mix(salt ^ number.rotate_left(17) ^ args.iter().fold(0u64, |all, &arg| all.rotate_left(9) ^ arg));
    // rax, rbx, rcx, rdx, rsi, rdi, rbp, r8 ... r15: rsp is not in it.
    let mut registers = [0u64; 15];
    for register in registers.iter_mut() {
        *register = mix.junk();
    }
    registers[0] = number;
    let taken = arguments_taken(number);
    // The argument registers' places above: rdi, rsi, rdx, r10, r8, r9.
    for (index, (place, arg)) in [5, 4, 3, 9, 7, 8].into_iter().zip(args).enumerate() {
        if index < taken {
            registers[place] = arg;
        }
    }
    let mut flags = mix.next() & USER_POPF_FLAGS & !TRAP;
    if mix.next().is_multiple_of(TRAP_ONE_IN) {
        flags |= TRAP;
        TRAPPED.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: the caller's promise for the call; `with_registers` keeps
    // the callee-saved registers and clears the flags again before it
    // returns to compiled code.
    let answer = unsafe { with_registers(&registers, flags) };
    (answer.rax, answer.rdx)
}
// ANCHOR_END: syscall

/// How many argument registers call `number` takes, in order; all six for
/// a number this fuzzer does not know (another branch's call, say), so
/// that such a call gets exactly the arguments it was given.
fn arguments_taken(number: u64) -> usize {
    let Ok(call) = Call::try_from(number) else { return 6 };
    match call {
        Call::Yield | Call::Audit | Call::Nop => 0,
        Call::Print
        | Call::Exit
        | Call::ListPool
        | Call::Delete
        | Call::Revoke
        | Call::TaskStart
        | Call::TaskStop
        | Call::TaskResume => 1,
        Call::Copy | Call::Move | Call::ChannelTake => 2,
        Call::MapTable | Call::TaskSet | Call::ChannelPut => 3,
        Call::Retype | Call::MapPage => 4,
        Call::ChannelCall => 5,
        #[allow(unreachable_patterns)] // calls added on other branches
        _ => 6,
    }
}

/// A call's answer, as the kernel leaves it in `rax` and `rdx` (returned
/// in those same registers under the C calling convention).
#[repr(C)]
struct Answer {
    rax: u64,
    rdx: u64,
}

/// Loads the fifteen registers (`rax` first, `rsp` left out) and RFLAGS,
/// makes the call, and answers `rax` and `rdx`.
///
/// # Safety
/// As for [`syscall`].
#[unsafe(naked)]
unsafe extern "C" fn with_registers(registers: &[u64; 15], flags: u64) -> Answer {
    naked_asm!(
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "push rsi", // the flags, popped just before the call
        "mov rax, [rdi + 0]",
        "mov rbx, [rdi + 8]",
        "mov rcx, [rdi + 16]",
        "mov rdx, [rdi + 24]",
        "mov rsi, [rdi + 32]",
        "mov rbp, [rdi + 48]",
        "mov r8, [rdi + 56]",
        "mov r9, [rdi + 64]",
        "mov r10, [rdi + 72]",
        "mov r11, [rdi + 80]",
        "mov r12, [rdi + 88]",
        "mov r13, [rdi + 96]",
        "mov r14, [rdi + 104]",
        "mov r15, [rdi + 112]",
        "mov rdi, [rdi + 40]",
        "popfq",
        "syscall",
        // Compiled code expects DF clear and AC, TF, NT off: the flags of
        // a fresh ring-3 task (IF stays set whatever popfq is given).
        "push 0x202",
        "popfq",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        "ret",
    )
}

/// splitmix64: a hash of the salt, then a stream from it.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A register's value: often one a kernel might trip on (a kernel-half
    /// address, all ones, an upper half alone, a user address), else any.
    fn junk(&mut self) -> u64 {
        let value = self.next();
        match value % 8 {
            0 => 0xffff_8000_0000_0000 | (value >> 20 << 3),
            1 => u64::MAX,
            2 => value & 0xffff_ffff_0000_0000,
            3 => value >> 17,
            _ => value,
        }
    }
}
