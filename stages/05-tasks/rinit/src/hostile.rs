//! What a hostile task does (`hostile`): rinit makes a system call with
//! RFLAGS.NT set (the kernel's `iretq` used to fault on it, stopping the
//! machine), then leaves `0x1b` in its data segment registers before it
//! starts the child, which prints the ones it starts with: none of rinit's
//! may reach it.

use core::sync::atomic::{AtomicBool, Ordering};
use ulib::hostile::{self, NESTED_TASK};
use ulib::println;

/// Whether `hostile` was asked for: the child then prints its segment
/// registers.
pub static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The value left in DS, ES, FS and GS: the user data segment's selector.
const LEFT_SELECTOR: u16 = 0x1b;

/// The hostile calls, before the child starts.
pub fn run() {
    REQUESTED.store(true, Ordering::Relaxed);
    // Lines that look like the kernel's reports: they must not fail a boot
    // test (the tests read those on the kernel's own channel).
    println!("rinit: EXCEPTION: forged; AUDIT FAILED: forged; KERNEL PANIC: forged");
    let flags = hostile::yield_with_nested_task();
    println!("rinit: a system call with NT set came back (NT after it: {})", flags & NESTED_TASK != 0);
    // SAFETY: the user data selector, as `set_segments` requires.
    unsafe { hostile::set_segments(LEFT_SELECTOR) };
    println!("rinit: left {LEFT_SELECTOR:#x} in ds, es, fs and gs");
}
