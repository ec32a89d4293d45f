//! `hello`: a second user program, the one to copy to write your own.
//!
//! GRUB loads it beside `rinit` as a module named `hello`. The kernel makes
//! it a task of its own, in its own address space, with its own root pool,
//! and gives that task to the shell, which starts it with `run hello`.
//! Its root pool holds (see `abi::task_root`):
//!
//! - `0`: the pool itself
//! - `3`: the top-level page table (PML4) of its address space
//! - `4`: the task itself
//! - `5`: the pool of its image's pages and page tables
//! - `6`: its task buffer page, mapped at `abi::TASK_BUFFER`
//!
//! When `main` returns, the task ends; `run hello` runs it again from its
//! entry (its `.data` is not reset).
//!
//! # Adding another program
//!
//! 1. Copy this folder to `programs/<name>/` (a name of 1 to 16 letters
//!    `a-z`, digits or `-`), and set `name = "<name>"` in its `Cargo.toml`,
//!    for the package and the binary.
//! 2. Add `"programs/<name>"` to the workspace members in the top-level
//!    `Cargo.toml`.
//!
//! Nothing else: `make image-6` builds every crate under `programs/` and
//! hands it to GRUB as a module of that name, and `run <name>` starts it.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::abi::ObjectKind;
use ulib::abi::syscall::ListEntry;
use ulib::abi::task_root::CPOOL;
use ulib::syscall::list_pool;
use ulib::{CAddr, Error, println};

ulib::entry!(main);

/// Says hello, then lists this program's own root pool.
fn main(_args: &str) -> Result<(), Error> {
    println!("hello: a second program, in its own address space");
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    for entry in list_pool(CAddr::root(CPOOL), &mut entries)? {
        match ObjectKind::try_from(u64::from(entry.kind)) {
            Ok(kind) => println!("hello: slot {}: {kind}", entry.slot),
            Err(unknown) => println!("hello: slot {}: {unknown}", entry.slot),
        }
    }
    Ok(())
}
