//! What a kernel panic prints before the machine stops.

use crate::qemu::{ExitCode, exit};
use crate::{console, println};
use core::panic::PanicInfo;

// ANCHOR: panic
/// Prints the panic message with the file and line it came from, then stops
/// the machine with the failure code. Called by the runtime's
/// `#[panic_handler]`.
pub fn report_and_stop(info: &PanicInfo) -> ! {
    console::take_over_for_report();
    match info.location() {
        Some(location) => println!(
            "KERNEL PANIC at {}:{}:{}: {}",
            location.file(),
            location.line(),
            location.column(),
            info.message()
        ),
        None => println!("KERNEL PANIC: {}", info.message()),
    }
    exit(ExitCode::Failure)
}
// ANCHOR_END: panic
