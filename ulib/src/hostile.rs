//! What a hostile program does to the kernel, for the boot tests that
//! check the kernel withstands it: registers and flags a well-behaved Rust
//! program never touches, and instructions that show what ring 3 can see.
//!
//! Each function is one or two instructions of inline assembly, so that
//! the program does exactly what the test says it does. Stage 5's rinit
//! (`fault=` and `hostile`) and stage 6's hostile programs (under
//! `programs/`) call them.

use abi::syscall::Call;
use core::arch::asm;

/// The RFLAGS nested-task flag (bit 14): meaningless in 64-bit mode except
/// to `iretq`, which raises #GP if it is set in the kernel.
pub const NESTED_TASK: u64 = 1 << 14;

// ANCHOR: nested_task
/// Makes a `Yield` system call with NT set in RFLAGS, and clears it again
/// afterwards; returns the flags the task had just after the call (the
/// kernel returns them as the task left them, within what a task may set).
pub fn yield_with_nested_task() -> u64 {
    let flags: u64;
    // SAFETY: `pushfq`/`popfq` change only RFLAGS, and only NT, which no
    // compiled code reads; the call is a `Yield`, which preserves every
    // register but rax, rdx, rsi, rcx and r11 (declared clobbered); the
    // stack is used below rsp only by push and pop, balanced.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {nt}",
            "popfq",
            "syscall",
            "pushfq",
            "pop {flags}",
            "pushfq",
            "and qword ptr [rsp], {not_nt}",
            "popfq",
            nt = const NESTED_TASK,
            not_nt = const !NESTED_TASK,
            flags = out(reg) flags,
            inlateout("rax") u64::from(Call::Yield) => _,
            lateout("rdx") _,
            lateout("rsi") _,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    flags
}
// ANCHOR_END: nested_task

// ANCHOR: segments
/// The data segment registers as the task sees them: DS, ES, FS, GS.
pub fn segments() -> [u16; 4] {
    let (ds, es, fs, gs): (u16, u16, u16, u16);
    // SAFETY: reading a segment register changes nothing.
    unsafe {
        asm!(
            "mov {ds:x}, ds",
            "mov {es:x}, es",
            "mov {fs:x}, fs",
            "mov {gs:x}, gs",
            ds = out(reg) ds,
            es = out(reg) es,
            fs = out(reg) fs,
            gs = out(reg) gs,
            options(nomem, nostack, preserves_flags),
        );
    }
    [ds, es, fs, gs]
}

/// Loads `selector` into DS, ES, FS and GS. In 64-bit mode no compiled
/// code depends on them (the bases of DS and ES are ignored; FS and GS get
/// base 0 from the flat user data segment, as they had).
///
/// # Safety
/// `selector` must be the null selector or the user data segment's
/// (`0x1b`): anything else faults.
pub unsafe fn set_segments(selector: u16) {
    // SAFETY: the caller's promise; no memory is touched.
    unsafe {
        asm!(
            "mov ds, {0:x}",
            "mov es, {0:x}",
            "mov fs, {0:x}",
            "mov gs, {0:x}",
            in(reg) selector,
            options(nomem, nostack, preserves_flags),
        );
    }
}
// ANCHOR_END: segments

// ANCHOR: descriptor_tables
/// `sgdt`: the GDT's limit and base address, a kernel address. With UMIP
/// (CR4 bit 11) on, ring 3 gets #GP instead, and this does not return.
pub fn sgdt() -> (u16, u64) {
    let mut table = [0u8; 10];
    // SAFETY: `sgdt` writes 10 bytes, the size of `table`.
    unsafe { asm!("sgdt [{}]", in(reg) table.as_mut_ptr(), options(nostack, preserves_flags)) };
    (u16::from_le_bytes([table[0], table[1]]), u64::from_le_bytes(table[2..10].try_into().unwrap_or([0; 8])))
}

/// `smsw`: the low 16 bits of CR0. Also #GP under UMIP.
pub fn smsw() -> u16 {
    let word: u16;
    // SAFETY: reads CR0's low word into a register, nothing else.
    unsafe { asm!("smsw {0:x}", out(reg) word, options(nomem, nostack, preserves_flags)) };
    word
}
// ANCHOR_END: descriptor_tables

// ANCHOR: x87_error
/// An x87 divide by zero with the zero-divide exception unmasked, then
/// `fwait`: with CR0.NE set, the CPU raises #MF (vector 16) at the `fwait`.
/// If the kernel leaves NE clear, nothing happens and this returns.
pub fn x87_divide_by_zero() {
    let control_word: u16 = 0x037B; // the default 0x037F with ZM (bit 2) unmasked
    let zero = 0.0f64;
    // SAFETY: changes only the x87 state, which no compiled code of this
    // program uses (Rust's floating point is SSE); the operands are read
    // from this function's locals.
    unsafe {
        asm!(
            "fldcw word ptr [{cw}]",
            "fld1",
            "fdiv qword ptr [{zero}]",
            "fwait",
            "fninit",
            cw = in(reg) &control_word,
            zero = in(reg) &zero,
            options(nostack),
        );
    }
}
// ANCHOR_END: x87_error
