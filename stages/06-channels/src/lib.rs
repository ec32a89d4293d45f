//! Stage 6's kernel pieces, host-testable where they need no hardware:
//! kernel objects, tasks and channels among them ([`objects`]); the system
//! calls ([`syscalls`]); faults sent to handlers in user space
//! ([`faults`]); the scheduler with blocking and the idle loop
//! ([`scheduler`]); device interrupts and input ([`devices`]) and the
//! hardware the device objects touch ([`io`]); the first
//! task and the other programs, built from their ELF modules
//! ([`first_task`]); the division of RAM ([`memory_plan`]), paging levels
//! and rules ([`paging`]) and the kernel's own address space
//! ([`kernel_space`]). `main.rs` puts them to work.
//!
//! All of it works on page tables in whatever memory a
//! [`paging::PhysicalWindow`] shows: in the kernel, physical memory through
//! the direct map; in the host unit tests, ordinary heap memory.

#![cfg_attr(not(any(test, feature = "host-twin")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod devices;
pub mod fastpath;
pub mod faults;
pub mod first_task;
pub mod io;
pub use common::kernel_space;
pub use common::memory_plan;
pub mod objects;
pub mod paging;
pub mod phases;
pub mod scheduler;
pub mod shared_console;
pub mod syscalls;

#[cfg(test)]
mod channel_tests;
#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(any(test, feature = "host-twin"))]
pub mod fuzz_twin;
#[cfg(test)]
mod syscall_tests;
