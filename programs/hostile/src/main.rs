//! `hostile`: a program that does what well-behaved programs never do, to
//! show that the kernel withstands it (the boot test
//! `a_hostile_program_cannot_crash_the_kernel_or_reach_the_next_task`).
//!
//! Its `.data` survives from one `run hostile` to the next, so it counts
//! its runs. The first run makes every system call with every register
//! full of patterns and checks what comes back against the ABI
//! ([`registers`]), makes a system call with RFLAGS.NT set, then
//! leaves its own values in the data segment registers and the SSE and
//! x87 control registers, and exits. Every later run first prints what it
//! finds in them (a new task must see defined values, none of another
//! task's), then commits an x87 error, which the kernel must report as a
//! fault of this task (#MF) and not let go unnoticed.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use core::sync::atomic::{AtomicU64, Ordering};
use ulib::hostile::{self, NESTED_TASK};
use ulib::{Error, println};

mod registers;

ulib::entry!(main);

/// How many times this program has started (kept in `.data`).
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The value the first run leaves in DS, ES, FS and GS: the user data
/// segment's selector, the one other value ring 3 can load there.
const LEFT_SELECTOR: u16 = 0x1b;

fn main(_args: &str) -> Result<(), Error> {
    let run = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    let [ds, es, fs, gs] = hostile::segments();
    let (mxcsr, control) = (mxcsr(), x87_control_word());
    println!(
        "hostile: run {run}: ds {ds:#x} es {es:#x} fs {fs:#x} gs {gs:#x}, mxcsr {mxcsr:#x}, x87 control {control:#x}"
    );
    if run == 1 {
        // Lines that look like the kernel's reports: they must not fail a
        // boot test, nor could they hide a real one (the tests read the
        // kernel's reports on its own channel, which no task can write).
        println!("hostile: EXCEPTION: forged; AUDIT FAILED: forged; KERNEL PANIC: forged");
        registers::check_every_call();
        let flags = hostile::yield_with_nested_task();
        println!("hostile: a system call with NT set came back (NT after it: {})", flags & NESTED_TASK != 0);
        // SAFETY: the user data selector, as `set_segments` requires.
        unsafe { hostile::set_segments(LEFT_SELECTOR) };
        set_fpu_controls();
        println!(
            "hostile: left {LEFT_SELECTOR:#x} in ds, es, fs and gs, and changed mxcsr and the x87 control word"
        );
        return Ok(());
    }
    println!("hostile: committing an x87 divide by zero");
    hostile::x87_divide_by_zero();
    println!("hostile: MISMATCH: the x87 error did not fault");
    Ok(())
}

/// The SSE control and status register.
fn mxcsr() -> u32 {
    let mut value = 0u32;
    // SAFETY: `stmxcsr` writes 4 bytes, to `value`.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags)) };
    value
}

/// The x87 control word.
fn x87_control_word() -> u16 {
    let mut value = 0u16;
    // SAFETY: `fnstcw` writes 2 bytes, to `value`.
    unsafe { core::arch::asm!("fnstcw [{}]", in(reg) &mut value, options(nostack, preserves_flags)) };
    value
}

/// Leaves values a new task must not inherit: MXCSR rounding toward zero
/// (all exceptions still masked), x87 precision single and rounding down.
fn set_fpu_controls() {
    let (mxcsr, control): (u32, u16) = (0x7f80, 0x047f);
    // SAFETY: changes only rounding, which nothing after this in the
    // program depends on (it prints integers and exits).
    unsafe {
        core::arch::asm!("ldmxcsr [{}]", "fldcw [{}]", in(reg) &mxcsr, in(reg) &control, options(nostack));
    }
}
