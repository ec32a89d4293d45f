//! The system calls behind `run lazy` (`rinit::pager`): the objects the
//! pager serves with, and the meeting over channel 255 that `ulib::pager`
//! describes.

use abi::syscall::{MessageKind, TaskField};
use abi::task_root::{CHANNEL, UNTYPED};
use abi::{CAddr, Error, ObjectKind};
use ulib::pager::{PAGER_MEMORY, READY};
use ulib::syscall::{channel_put, channel_take, retype, task_set};

/// The shell's slots for the pager's objects: the fault channel, the reply
/// channel, the pager's untyped, and where a reply's (absent) capability
/// would go. Made at the first `run lazy` and used again by the next.
/// (Slot 251 is the kernel's devices pool.)
const FAULTS: u8 = 252;
const REPLIES: u8 = 253;
const MEMORY: u8 = 254;
const SCRATCH: u8 = 218;

// ANCHOR: attach
/// Gives the program in `program` a fault channel, starts the pager in
/// `pager`, hands it its capabilities and waits until it holds them, then
/// puts the program's two on channel 255: the program takes them when it
/// starts.
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
    let to_programs = CAddr::root(CHANNEL);
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
