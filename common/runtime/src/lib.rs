//! The freestanding runtime of a kernel image.
//!
//! Everything here exists only because a kernel has no operating system
//! underneath it: the boot stub GRUB jumps to, the memory functions the
//! compiler expects a C library to provide, and the panic handler. None of
//! it may be linked into a host test binary, where the host's C library and
//! `std` provide the same symbols, so it lives in its own crate that only the
//! stage binaries pull in (`use runtime as _;`).
//!
//! The crate also knows the kernel's layout: the linker script
//! (`kernel.ld`) defines where each part of the image lies, and [`layout`]
//! turns those symbols into numbers the rest of the kernel can use.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

// `cargo clippy --all-targets` also checks a test build of this crate, where
// `std` brings its own panic handler and C library: there, leave ours out.
#[cfg(not(test))]
mod freestanding {
    mod mem;
    mod panic;

    core::arch::global_asm!(include_str!("boot.S"));

    /// The precompiled `core` refers to this symbol from its unwinding
    /// tables. The kernel never unwinds (panics abort): it is never called.
    #[unsafe(no_mangle)]
    pub extern "C" fn rust_eh_personality() {}
}

pub mod layout;
