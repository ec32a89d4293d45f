//! `revoke`: a probe, from user space, that a revoke unmaps at once.
//!
//! Started with `run revoke`, it waits on channel 255 for an untyped (the
//! shell's `send cap 2` sends one), makes an untyped of its own out of it
//! and a page and the tables to map it out of that, maps the page in its
//! own address space, writes and reads it back, revokes its untyped (which
//! destroys the page and the tables, and nothing else the sender made:
//! the shell's drivers live on) and touches the page again. That touch must fault: the kernel
//! stops the task with its fault report. Were the page still reachable (a
//! translation left in the TLB because the kernel did not flush it after
//! clearing the entry), the write would land in memory the untyped may
//! hand out again, and the program says so with a line starting
//! `revoke: STILL MAPPED`, which its boot test refuses.
//!
//! Its root pool is a program's (see `hello`), with slot 255 the channel
//! shared with the shell; it uses slots 10 to 15 for what it makes.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::abi::ObjectKind;
use ulib::abi::syscall::MapRights;
use ulib::abi::task_root::PML4;
use ulib::syscall::{channel_take, map_page, map_table, retype, revoke};
use ulib::{CAddr, Error, println};

ulib::entry!(main);

/// The channel the shell sends on, and where the untyped it sends goes;
/// the untyped made from it, which the probe revokes, and its size.
const CHANNEL: u8 = 255;
const RECEIVED: u8 = 10;
const UNTYPED: u8 = 15;
const UNTYPED_SIZE: u64 = 8 * 4096;
/// The tables and the page, made from the untyped.
const TABLES: [(u8, ObjectKind); 3] = [(11, ObjectKind::Pdpt), (12, ObjectKind::Pd), (13, ObjectKind::Pt)];
const PAGE: u8 = 14;
/// Far from everything the program already has mapped (PML4 entry 32), so
/// that every table on the way is a new one, made from the untyped.
const ADDRESS: u64 = 0x1000_0000_0000;

fn main(_args: &str) -> Result<(), Error> {
    println!("revoke: waiting for an untyped on channel {CHANNEL}");
    channel_take(CAddr::root(CHANNEL), CAddr::root(RECEIVED))?;
    let untyped = CAddr::root(UNTYPED);
    retype(CAddr::root(RECEIVED), ObjectKind::Untyped, untyped, UNTYPED_SIZE)?;
    let space = CAddr::root(PML4);
    for (slot, kind) in TABLES {
        retype(untyped, kind, CAddr::root(slot), 0)?;
        map_table(CAddr::root(slot), space, ADDRESS)?;
    }
    retype(untyped, ObjectKind::RawPage, CAddr::root(PAGE), 0)?;
    map_page(CAddr::root(PAGE), space, ADDRESS, MapRights::WRITABLE)?;
    let word = ADDRESS as *mut u64;
    // SAFETY: the page is mapped writable at ADDRESS, and nothing else in
    // this program uses it.
    let read = unsafe {
        word.write_volatile(0x5eed);
        word.read_volatile()
    };
    println!("revoke: wrote and read back {read:#x} at {ADDRESS:#x}");
    revoke(untyped)?;
    println!("revoke: untyped revoked; touching the page again must fault");
    // SAFETY: none: the revoke unmapped the page, so this must fault and
    // the kernel stop the task. If it does not fault, the write lands in
    // freed memory, which is what this probe reports.
    let read = unsafe {
        word.write_volatile(0xbad);
        word.read_volatile()
    };
    println!("revoke: STILL MAPPED: wrote and read back {read:#x} after the revoke");
    Ok(())
}
