//! Stage 5's kernel pieces, host-testable where they need no hardware:
//! kernel objects, tasks among them, and mapping pages and tables through
//! their capabilities ([`objects`]); the system calls ([`syscalls`]); the
//! scheduler ([`scheduler`], whose `run_forever` is the kernel's main
//! loop); the first task, built from its ELF module ([`first_task`]); the
//! division of RAM ([`memory_plan`]), paging levels and rules ([`paging`])
//! and the kernel's own address space ([`kernel_space`]). `main.rs` puts
//! them to work.
//!
//! All of it works on page tables in whatever memory a
//! [`paging::PhysicalWindow`] shows: in the kernel, physical memory through
//! the direct map; in the host unit tests, ordinary heap memory.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod first_task;
pub use common::kernel_space;
pub use common::memory_plan;
pub mod objects;
pub mod paging;
pub mod scheduler;
pub mod syscalls;

#[cfg(test)]
mod syscall_tests;
