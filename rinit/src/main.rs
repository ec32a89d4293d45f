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
mod driver_setup;
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
/// `bench` or `bench=N`, the bench (`bench.rs`); with `stop-self` or
/// `fault-self`, it stops its own task, or faults, first (boot tests of
/// the kernel's rule that the machine stops with its first task).
fn main(args: &str) -> Result<(), ulib::Error> {
    match fuzz::requested(args) {
        Some(Ok((seed, count))) => fuzz::run(args, seed, count),
        Some(Err(word)) => ulib::println!("rinit: fuzz={word}: expected fuzz=SEED,COUNT; running the shell"),
        None => {}
    }
    if args.split_ascii_whitespace().any(|word| word == "fill-memory") {
        fill_memory();
    }
    stop_self_if_asked(args);
    let child = child::prepare();
    if let Some(reps) = bench::requested(args) {
        // Where the shell would print its prompt: the instructions since
        // the machine was reset, under `make bench`.
        return bench::run(reps, bench::boot_counter(), args);
    }
    Shell::new(child, Programs::from_args(args)).run(&mut syscalls::Kernel)
}
// ANCHOR_END: main

/// `fill-memory`, for a boot test of the kernel's audit with as many
/// objects as memory holds: retypes pages out of every untyped and deletes
/// each capability, until memory runs out, then asks for an audit.
fn fill_memory() {
    use ulib::abi::task_root::{FIRST_UNTYPED, MAX_UNTYPED, UNTYPED};
    use ulib::abi::{CAddr, ObjectKind};
    let scratch = CAddr::root(ulib::abi::task_root::FIRST_FREE);
    let untypeds = core::iter::once(UNTYPED).chain(FIRST_UNTYPED..FIRST_UNTYPED + MAX_UNTYPED);
    let mut pages = 0u64;
    for untyped in untypeds {
        while ulib::syscall::retype(CAddr::root(untyped), ObjectKind::RawPage, scratch, 0).is_ok() {
            let _ = ulib::syscall::delete(scratch);
            pages += 1;
        }
    }
    ulib::println!("rinit: retyped and deleted {pages} pages (fill-memory)");
    match ulib::syscall::audit() {
        Ok(objects) => ulib::println!("rinit: audit ok, {objects} objects"),
        Err(error) => ulib::println!("rinit: audit: {error}"),
    }
}

/// `stop-self`: rinit stops its own task with `TaskStop` (as the shell
/// refuses to, `set active 4 0`); `fault-self`: it reads address 0, a page
/// fault with no handler. Either way the kernel must say so and stop the
/// machine: nothing would be left to start rinit again.
fn stop_self_if_asked(args: &str) {
    for word in args.split_ascii_whitespace() {
        match word {
            "stop-self" => {
                ulib::println!("rinit: stopping my own task (stop-self)");
                let _ = ulib::syscall::task_stop(ulib::abi::CAddr::root(ulib::abi::task_root::TASK));
            }
            "fault-self" => {
                ulib::println!("rinit: reading address 0 (fault-self)");
                // SAFETY: page 0 is never mapped (the loader refuses it), so
                // the read faults and the kernel stops rinit: no Rust value
                // is read or written.
                unsafe { core::arch::asm!("mov {0}, qword ptr [0]", out(reg) _) };
            }
            _ => continue,
        }
        ulib::println!("rinit: MISMATCH: still running after {word}");
    }
}
