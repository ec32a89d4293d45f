//! Stage 5's first program, `rinit`: the first code that runs in user mode.
//!
//! It shows what the chapter built, one system call at a time: it prints
//! through the task buffer, lists the capabilities the kernel gave it,
//! builds page tables and maps a page of its own, then starts a second task
//! in its own address space, and the two count side by side while the timer
//! switches between them.
//!
//! Arguments (the kernel passes them from its command line):
//! - `fault=NAME`: the child task commits one fault (see [`faults`]); the
//!   kernel reports it and stops the child, and rinit goes on;
//! - `hostile`: before starting the child, make every system call with
//!   every register full of patterns and check what comes back (see
//!   [`registers`]), make a system call with RFLAGS.NT set and leave
//!   `0x1b` in the data segment registers; the child prints the ones it
//!   starts with (see [`hostile`]);
//! - `syscalls`: before starting the child, make a table of bad system
//!   calls and check each error code (see [`bad_calls`]);
//! - `spin=N`: busy-wait N million time-stamp-counter ticks between two
//!   numbered lines (default [`child::DEFAULT_SPIN_MILLIONS`]).

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod bad_calls;
mod child;
mod faults;
mod hostile;
mod memory;
mod registers;

use abi::syscall::ListEntry;
use abi::task_root;
use abi::{CAddr, ObjectKind};
use core::fmt;
use faults::Fault;
use ulib::{Error, println};

ulib::entry!(main);

// ANCHOR: main
fn main(args: &str) -> Result<(), Error> {
    println!("rinit: hello from user mode");
    let options = Options::parse(args);
    list_root_pool()?;
    memory::map_a_page()?;
    if options.bad_calls {
        bad_calls::run()?;
    }
    if options.hostile {
        registers::check_every_call();
        hostile::run();
    }
    child::start(options.fault, options.spin_millions)?;
    child::count("parent", options.spin_millions);
    child::wait()?;
    println!("rinit: done");
    Ok(())
}
// ANCHOR_END: main

/// What the argument string asks for.
struct Options {
    fault: Option<Fault>,
    bad_calls: bool,
    hostile: bool,
    spin_millions: u64,
}

impl Options {
    /// Reads the words of `args`; a word it does not know is reported and
    /// skipped.
    fn parse(args: &str) -> Options {
        let mut options = Options {
            fault: None,
            bad_calls: false,
            hostile: false,
            spin_millions: child::DEFAULT_SPIN_MILLIONS,
        };
        if !args.is_empty() {
            println!("rinit: arguments: {args}");
        }
        for word in args.split_whitespace() {
            match word.split_once('=') {
                None if word == "syscalls" => options.bad_calls = true,
                None if word == "hostile" => options.hostile = true,
                Some(("fault", name)) => match Fault::from_name(name) {
                    Some(fault) => options.fault = Some(fault),
                    None => println!("rinit: unknown fault '{name}'; known: {}", Fault::NAMES),
                },
                Some(("spin", millions)) => match millions.parse() {
                    Ok(millions) => options.spin_millions = millions,
                    Err(_) => println!("rinit: spin= takes a number, not '{millions}'"),
                },
                _ => println!(
                    "rinit: ignoring the argument '{word}' (known: fault=NAME, syscalls, hostile, spin=N)"
                ),
            }
        }
        options
    }
}

// ANCHOR: list_root_pool
/// Prints the occupied slots of the root pool, as the list call gives them.
fn list_root_pool() -> Result<(), Error> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let entries = ulib::syscall::list_pool(CAddr::root(task_root::CPOOL), &mut entries)?;
    println!("rinit: my root pool has {} capabilities:", entries.len());
    for entry in entries {
        println!("  slot {:>3}: {}", entry.slot, Described(entry));
    }
    Ok(())
}
// ANCHOR_END: list_root_pool

/// A list entry as text: the kind, and its detail where it has one.
struct Described<'e>(&'e ListEntry);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let ListEntry { kind, detail, .. } = *self.0;
        match ObjectKind::try_from(u64::from(kind)) {
            Ok(ObjectKind::Untyped) => write!(f, "Untyped, {detail} bytes free"),
            Ok(ObjectKind::CPool) => write!(f, "CPool, {detail} slots used"),
            Ok(kind) => write!(f, "{kind}"),
            Err(unknown) => write!(f, "{unknown}"),
        }
    }
}
