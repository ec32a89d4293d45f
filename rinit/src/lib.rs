//! The shell of stage 6 (its reference, every command, slot and line: the
//! book's appendix "The shell", `book/src/shell.md`): everything
//! in it that is logic rather than system calls, so that the host tests run
//! it (`cargo test -p rinit`), against a model of the kernel. The program
//! (`main.rs`) adds the system calls (`syscalls.rs`), the child task
//! (`child.rs`) and the entry.
//!
//! | module | what |
//! |---|---|
//! | [`commands`] | **the command table and handlers: add a command here** |
//! | [`parse`] | a line to a command of the table, or a one-line error |
//! | [`number`] | decimal and 0x-hex numbers |
//! | [`programs`] | the other programs GRUB loaded, from the arguments |
//! | [`drivers`] | the serial and keyboard drivers the shell starts |
//! | [`tasks`] | `tasks`: the tasks the shell knows and their states |
//! | [`input`] | input channel messages (serial bytes, scancodes) to keys |
//! | [`line`](mod@line) | the line editor: echo, backspace, the length limit |
//! | [`shell`] | the loop: boot lines, prompt, input, editing, running |
//! | [`system`] | the system calls the shell makes, as a trait |
//! | [`received`] | the lines the child prints for what it receives |

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod commands;
pub mod drivers;
pub mod input;
pub mod line;
#[cfg(test)]
mod model;
pub mod number;
pub mod pager;
pub mod parse;
pub mod programs;
pub mod received;
pub mod shell;
pub mod system;
pub mod tasks;
