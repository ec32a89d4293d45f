//! The system-call ABI shared by the kernels and user space: call numbers,
//! argument conventions, error codes and capability addresses.
//!
//! Stage 1 has no user space yet, so this crate is still empty; stage 4
//! adds capability addresses (`CAddr`) and the root capability pool's
//! layout, and stage 5 the system calls.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
