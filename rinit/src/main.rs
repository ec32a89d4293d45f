//! Stage 6's first program, `rinit`: the interactive shell of the full
//! system (`../shared/SHELL.md` is its contract), and the child task it
//! starts.
//!
//! At boot, rinit prepares the child (its stack, and its task buffer
//! mapped at `abi::CHILD_TASK_BUFFER`), prints where the child starts, and
//! shows the prompt. Then it reads keys from the input channel, edits the
//! line, and runs each line as a command.
//!
//! | module | what |
//! |---|---|
//! | `commands` | **the command table and handlers: add a command here** |
//! | `parse` | a line to a command of the table, or a one-line error |
//! | `number` | decimal and 0x-hex numbers |
//! | `input` | input channel messages (serial bytes, scancodes) to keys |
//! | `line` | the line editor: echo, backspace, the length limit |
//! | `shell` | the loop: input, editing, running, the prompt |
//! | `system` | the system calls the shell makes, as a trait |
//! | `syscalls` | that trait on the real kernel, through `ulib` |
//! | `child` | the child task: waits on channel 255, prints what comes |
//!
//! Everything but `syscalls`, `child` and the entry runs in host tests
//! (`cargo test -p rinit`), against a model of the kernel (`model`).

#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_op_in_unsafe_fn)]

mod commands;
mod input;
mod line;
mod number;
mod parse;
mod system;
