//! Where a program starts and how it ends: `_start`, the panic handler, and
//! the symbol the precompiled `core` needs. Left out of host test builds,
//! where the host's C runtime and `std` provide their own.

use crate::io::TaskBuffer;
use crate::syscall::exit;
use crate::{Error, PANIC_EXIT_CODE, exit_code, println};
use abi::syscall::TASK_BUFFER_SIZE;
use core::arch::naked_asm;
use core::cell::UnsafeCell;
use core::panic::PanicInfo;

// ANCHOR: start
/// The program's first instruction. The kernel sets `rsp` and `rip` and puts
/// the length of the argument string in `rdi`; the string itself is at the
/// start of the task buffer.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    naked_asm!(
        "xor ebp, ebp",   // the end of the frame-pointer chain
        "and rsp, -16",   // the System V ABI's alignment, whatever the kernel gave
        "call {start}",   // start(argument length in rdi)
        "ud2",
        start = sym start,
    )
}

/// Where a program starts over, from the beginning, with no arguments:
/// `_start` with an argument length of 0. A task stopped (`TaskStop`)
/// and started again goes on where it stopped; set back here (with its
/// stack pointer at `abi::STACK_TOP`), it runs `main` afresh, as after an
/// exit. A driver tells rinit this address (`crate::driver`).
#[unsafe(naked)]
pub extern "C" fn _start_over() -> ! {
    naked_asm!(
        "xor edi, edi", // no arguments: the buffer holds what was printed
        "jmp {start}",
        start = sym _start,
    )
}

unsafe extern "Rust" {
    /// The program's main function, named with `ulib::entry!`.
    safe fn __ulib_main(args: &str) -> Result<(), Error>;
}

/// Copies the arguments out of the task buffer (the first print would
/// overwrite them), runs `main`, and exits with its result.
extern "C" fn start(argument_length: u64) -> ! {
    let result = __ulib_main(arguments(argument_length));
    if let Err(error) = result {
        println!("main failed: {error} ({error:?})");
    }
    exit(exit_code(result))
}
// ANCHOR_END: start

/// The argument string, kept for the whole run.
struct Arguments(UnsafeCell<[u8; TASK_BUFFER_SIZE]>);

// SAFETY: written once, by `arguments`, before `main` runs and before the
// program can start another task; only read after that.
unsafe impl Sync for Arguments {}

static ARGUMENTS: Arguments = Arguments(UnsafeCell::new([0; TASK_BUFFER_SIZE]));

/// Copies the first `length` bytes of the task buffer (at most a page) and
/// reads them as text; text that is not UTF-8 is reported and ignored.
fn arguments(length: u64) -> &'static str {
    let length = usize::try_from(length).unwrap_or(usize::MAX).min(TASK_BUFFER_SIZE);
    // SAFETY: called once, from `start`, before anything else reads or
    // writes ARGUMENTS (see the `Sync` implementation).
    let bytes = unsafe { &mut *ARGUMENTS.0.get() };
    TaskBuffer::current().read(0, &mut bytes[..length]);
    match core::str::from_utf8(&bytes[..length]) {
        Ok(text) => text,
        Err(_) => {
            println!("ulib: the argument string is not UTF-8; ignoring it");
            ""
        }
    }
}

// ANCHOR: panic
/// Prints the panic message with the file and line it came from, then ends
/// the task with [`PANIC_EXIT_CODE`].
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    match info.location() {
        Some(location) => println!(
            "panic at {}:{}:{}: {}",
            location.file(),
            location.line(),
            location.column(),
            info.message()
        ),
        None => println!("panic: {}", info.message()),
    }
    exit(PANIC_EXIT_CODE)
}
// ANCHOR_END: panic

/// The precompiled `core` refers to this symbol from its unwinding tables.
/// A program never unwinds (panics abort): it is never called.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
