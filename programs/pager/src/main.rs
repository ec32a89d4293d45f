//! `pager`: a pager in user space. The kernel does not know what a pager
//! is: it only suspends a task that faults and puts a message on the task's
//! fault channel (`abi::fault`). This program takes those messages and, for
//! a page fault in the buffer of the program it serves (`programs/lazy`),
//! retypes a page from its own untyped, maps it where the program touched,
//! and resumes it at the instruction that faulted.
//!
//! rinit starts it for `run lazy`, and the two meet as `ulib::pager`
//! describes. Root slots, beside the kernel's (`abi::task_root`):
//!
//! - `8`: the fault channel; `9`: its untyped; `10`: the reply channel;
//! - `11`: the program's address space (its PML4), which the program sends;
//! - `12`: where a take puts the capability a message carries (the faulting
//!   task, or the address space); `13`: a page or table being mapped;
//!   `14`: a page waiting while the tables over it are mapped.
//!
//! Anything else it is sent (a fault that is not a page fault, or not in
//! the buffer) it refuses by stopping the task, with a line saying why:
//! a pager maps what it was asked to serve, not whatever a task touches.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use ulib::abi::fault::FaultMessage;
use ulib::abi::syscall::{MapRights, MessageKind};
use ulib::abi::task_root::CHANNEL;
use ulib::abi::{ObjectKind, PAGE_SIZE};
use ulib::io::TaskBuffer;
use ulib::pager::{FAULTS, LAZY_BUFFER, LAZY_PAGES, MEMORY, READY, REPLIES};
use ulib::syscall::{
    channel_put, channel_take, delete, map_page, map_table, move_cap, retype, revoke, task_resume, task_stop,
};
use ulib::{CAddr, Error, println};

ulib::entry!(main);

/// The served program's address space, once it has sent it.
const SPACE: u8 = 11;
/// Where a take puts a message's capability.
const TAKEN: u8 = 12;
/// A page or table on its way into the address space.
const SCRATCH: u8 = 13;
/// A page waiting for the tables over it.
const WAITING_PAGE: u8 = 14;

/// Takes its capabilities, says it is ready, then serves faults until the
/// program says it is done.
fn main(_args: &str) -> Result<(), Error> {
    let to_rinit = CAddr::root(CHANNEL);
    for slot in [FAULTS, MEMORY, REPLIES] {
        if channel_take(to_rinit, CAddr::root(slot))?.0 != MessageKind::Capability {
            println!("pager: start me with `run lazy` (rinit hands me what I serve with)");
            return Err(Error::NotConfigured);
        }
    }
    channel_put(CAddr::root(REPLIES), MessageKind::Raw, READY)?;
    let mapped = serve()?;
    channel_put(CAddr::root(REPLIES), MessageKind::Raw, mapped)?;
    // Every page and table mapped goes, so the next run faults afresh.
    revoke(CAddr::root(MEMORY))?;
    for slot in [FAULTS, MEMORY, REPLIES, SPACE] {
        let _ = delete(CAddr::root(slot));
    }
    Ok(())
}

// ANCHOR: serve
/// The pager's loop: one message at a time from the fault channel. Returns
/// the number of pages it mapped once the program reports it is done.
fn serve() -> Result<u64, Error> {
    let (taken, mut mapped) = (CAddr::root(TAKEN), 0);
    loop {
        match channel_take(CAddr::root(FAULTS), taken)? {
            // The program's address space, to map into.
            (MessageKind::Capability, _) => move_cap(taken, CAddr::root(SPACE)).map(drop)?,
            // The program is done: it reports how many pages it touched.
            (MessageKind::Raw, _) => return Ok(mapped),
            (MessageKind::Fault, _) => {
                let mut record = [0; FaultMessage::SIZE];
                TaskBuffer::current().read(0, &mut record);
                let fault = FaultMessage::decode(&record).ok_or(Error::OutOfRange)?;
                match handle(&fault) {
                    Ok(()) => {
                        mapped += 1;
                        task_resume(taken)?;
                    }
                    Err(why) => {
                        println!("pager: task {}: {why}; stopping it", fault.task_id);
                        task_stop(taken)?;
                    }
                }
                delete(taken)?;
            }
            (MessageKind::Payload | MessageKind::Interrupt, _) => {}
        }
    }
}

/// Maps a fresh page where `fault` touched, if it is a page fault the
/// pager serves: a page not present, in the buffer.
fn handle(fault: &FaultMessage) -> Result<(), &'static str> {
    let Some((address, code)) = fault.page_fault() else { return Err("not a page fault") };
    let buffer = LAZY_BUFFER..LAZY_BUFFER + LAZY_PAGES * PAGE_SIZE;
    if !buffer.contains(&address) {
        return Err("a page fault outside the buffer it serves");
    }
    if code.contains(ulib::abi::fault::PageFaultCode::PRESENT) {
        return Err("a protection fault on a page it mapped");
    }
    map_fresh_page(address & !(PAGE_SIZE - 1)).map_err(|_| "no memory left to map a page")
}
// ANCHOR_END: serve

// ANCHOR: map_fresh_page
/// Retypes a zeroed page from the pager's untyped and maps it writable at
/// `page` in the program's address space, with the page tables on the way
/// if they are missing. The page keeps no slot: the mapping names it, and
/// revoking the untyped unmaps it.
fn map_fresh_page(page: u64) -> Result<(), Error> {
    let (memory, space, scratch) = (CAddr::root(MEMORY), CAddr::root(SPACE), CAddr::root(SCRATCH));
    retype(memory, ObjectKind::RawPage, scratch, 0)?;
    let mut result = map_page(scratch, space, page, MapRights::WRITABLE);
    if result == Err(Error::MissingTable) {
        let page_object = CAddr::root(WAITING_PAGE);
        move_cap(scratch, page_object)?;
        // From the top: a level that is there already is refused (its new
        // table is left unused until the untyped is revoked).
        for kind in [ObjectKind::Pdpt, ObjectKind::Pd, ObjectKind::Pt] {
            retype(memory, kind, scratch, 0)?;
            match map_table(scratch, space, page) {
                Ok(_) | Err(Error::AlreadyMapped) => {}
                Err(error) => return Err(error),
            }
            delete(scratch)?;
        }
        move_cap(page_object, scratch)?;
        result = map_page(scratch, space, page, MapRights::WRITABLE);
    }
    delete(scratch)?;
    result.map(drop)
}
// ANCHOR_END: map_fresh_page
