//! The user library: what a user program needs under it, as `runtime` is
//! for a kernel image.
//!
//! - the entry point `_start`, which calls the program's `main(args)` (named
//!   with [`entry!`]) and exits with what it returns;
//! - [`syscall`]: the `syscall` instruction and one typed wrapper per call;
//! - [`io`]: `print!`/`println!` through the task buffer;
//! - [`hostile`]: what a hostile program does, for the kernel's boot tests;
//! - [`task`]: stacks and the entry of the tasks a program starts itself;
//! - [`pager`]: the protocol of the pager and the programs it serves;
//! - [`driver`]: how a driver gets its capabilities, and its ring of bytes;
//! - the panic handler (print the message and where, then exit with
//!   [`PANIC_EXIT_CODE`]) and `memcpy` and friends (the kernel's own, from
//!   `common/runtime`).
//!
//! A program is `#![no_std] #![no_main]`, built for the host target, linked
//! by its `build.rs` with `ulib/link_user.rs` and `ulib/user.ld`:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! ulib::entry!(main);
//!
//! fn main(args: &str) -> Result<(), ulib::Error> {
//!     ulib::println!("hello from user mode; my arguments: {args}");
//!     Ok(())
//! }
//! ```
//!
//! The logic that needs no kernel (chunking text for the print call, the
//! task registry) has host tests: `cargo test -p ulib`. As in `runtime`, what
//! would clash with the host's C library and `std` in a test binary (the
//! entry point, `memcpy`, the panic handler) is left out of test builds.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod driver;
pub mod hostile;
pub mod io;
pub mod pager;
pub mod syscall;
pub mod task;

#[cfg(not(test))]
mod entry;
#[cfg(not(test))]
#[path = "../../common/runtime/src/freestanding/mem.rs"]
mod mem;

pub use abi::{self, CAddr, Error};

/// The address where this program starts over, from `main`, with no
/// arguments (see `entry.rs`); 0 in host tests, which have no such entry.
pub fn start_over_address() -> u64 {
    #[cfg(not(test))]
    let address = entry::_start_over as *const () as u64;
    #[cfg(test)]
    let address = 0;
    address
}

/// The exit code of a task whose program panicked.
pub const PANIC_EXIT_CODE: u64 = 101;

/// The exit code for what a program's `main` (or a task's entry) returned:
/// 0 for success, else the error's code.
pub fn exit_code(result: Result<(), Error>) -> u64 {
    match result {
        Ok(()) => 0,
        Err(error) => u64::from(error),
    }
}

/// Names the program's main function: `ulib::entry!(main);` with
/// `fn main(args: &str) -> Result<(), ulib::Error>`. `_start` calls it with
/// the argument string the kernel put in the task buffer, then exits with
/// [`exit_code`] of its result (printing the error, if any).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The program's entry, called by ulib's `_start`.
        #[unsafe(no_mangle)]
        pub fn __ulib_main(args: &str) -> Result<(), $crate::Error> {
            let main: fn(&str) -> Result<(), $crate::Error> = $main;
            main(args)
        }
    };
}
