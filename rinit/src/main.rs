//! Stage 6's first program, `rinit`: the interactive shell of the full
//! system, and the child task it starts.
//!
//! At boot, rinit prepares the child (its task buffer mapped at
//! `abi::CHILD_TASK_BUFFER`, its stack), reads from its arguments which
//! other programs GRUB loaded (for `run`), prints where the child starts,
//! and shows the prompt. Then it reads keys from the input channel, edits
//! the line, and runs each line as a command. The shell itself is the
//! library beside this file (`lib.rs`: parser, commands, line editor, key
//! decoding), which runs in host tests; this file adds what needs the
//! kernel:
//!
//! - `syscalls`: the shell's `System` trait on the real kernel, via `ulib`;
//! - `child`: the child task, which prints what channel 255 brings.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod bench;
mod child;
mod fuzz;
mod pager_setup;
mod syscalls;

use rinit::programs::Programs;
use rinit::shell::Shell;

ulib::entry!(main);

// ANCHOR: main
/// Prepares the child, then runs the shell (until `shutdown`); `args`
/// names the other programs GRUB loaded (`program=NAME@SLOT`). With
/// `fuzz=SEED,COUNT` in `args`, runs the fuzzer instead (`fuzz.rs`); with
/// `bench` or `bench=N`, the bench (`bench.rs`).
fn main(args: &str) -> Result<(), ulib::Error> {
    match fuzz::requested(args) {
        Some(Ok((seed, count))) => fuzz::run(args, seed, count),
        Some(Err(word)) => ulib::println!("rinit: fuzz={word}: expected fuzz=SEED,COUNT; running the shell"),
        None => {}
    }
    let child = child::prepare();
    if let Some(reps) = bench::requested(args) {
        // Where the shell would print its prompt: the instructions since
        // the machine was reset, under `make bench`.
        return bench::run(reps, bench::boot_counter(), args);
    }
    Shell::new(child, Programs::from_args(args)).run(&mut syscalls::Kernel)
}
// ANCHOR_END: main
