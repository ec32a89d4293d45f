//! The panic handler: report where and why, then stop the machine.

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    common::panic::report_and_stop(info)
}
