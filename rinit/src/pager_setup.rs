//! The system calls behind `run lazy` (`rinit::pager`): the objects the
//! pager serves with, and the meeting over the pager's own channel (root
//! slot `rinit::pager::PAGER_CHANNEL`, which the loader gave the pager and
//! lazy as their slot 255) that `ulib::pager` describes.

use abi::syscall::{MessageKind, TaskField};
use abi::task_root::UNTYPED;
use abi::{CAddr, Error, ObjectKind};
use ulib::pager::{PAGER_MEMORY, READY};
use ulib::syscall::{channel_put, channel_take, retype, task_set};

/// The shell's slots for the pager's objects: the fault channel, the reply
/// channel, the pager's untyped, and where a reply's (absent) capability
/// would go. Made at the first `run lazy` and used again by the next.
const FAULTS: u8 = 251;
const REPLIES: u8 = 252;
const MEMORY: u8 = 253;
const SCRATCH: u8 = 254;

// ANCHOR: attach
/// Gives the program in `program` a fault channel, starts the pager in
/// `pager`, hands it its capabilities and waits until it holds them, then
/// puts the program's two on the pager's channel: the program takes them
/// when it starts.
pub fn attach(program: CAddr, pager: CAddr) -> Result<(), Error> {
    let (faults, replies, memory) = (CAddr::root(FAULTS), CAddr::root(REPLIES), CAddr::root(MEMORY));
    for (slot, kind, size) in [
        (faults, ObjectKind::Channel, 0),
        (replies, ObjectKind::Channel, 0),
        (memory, ObjectKind::Untyped, PAGER_MEMORY),
    ] {
        match retype(CAddr::root(UNTYPED), kind, slot, size) {
            // Made by an earlier `run lazy` (the pager revoked what it made
            // from the untyped): used again.
            Ok(_) | Err(Error::SlotOccupied) => {}
            Err(error) => return Err(error),
        }
    }
    task_set(program, TaskField::FaultChannel, faults.to_raw())?;
    // SAFETY: the pager runs in its own address space.
    unsafe { ulib::syscall::task_start(pager) }?;
    let to_programs = CAddr::root(rinit::pager::PAGER_CHANNEL);
    for capability in [faults, memory, replies] {
        channel_put(to_programs, MessageKind::Capability, capability.to_raw())?;
    }
    match channel_take(replies, CAddr::root(SCRATCH))? {
        (MessageKind::Raw, READY) => {}
        _ => return Err(Error::NotConfigured),
    }
    for capability in [faults, replies] {
        channel_put(to_programs, MessageKind::Capability, capability.to_raw())?;
    }
    Ok(())
}
// ANCHOR_END: attach
