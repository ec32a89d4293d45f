//! `run lazy`: the one program the shell starts with a pager. Before it
//! starts `lazy`, the shell loads the pager, both with a channel of their
//! own ([`PAGER_CHANNEL`]), gives `lazy` a fault channel and starts the
//! pager to serve it (`ulib::pager` is the protocol, `programs/pager`
//! the pager); `lazy` then prints `lazy: touched N pages, the pager mapped
//! N`. The system calls are behind [`System::attach_pager`], so the shell's
//! side of it, the names and the refusals, has host tests.

use crate::commands::{Context, Failure, load_once};
use crate::system::say;
use abi::task_root::{CHANNEL, UNTYPED};
use abi::{CAddr, Error, ObjectKind};

/// The program served by a pager.
pub const PAGED: &str = "lazy";
/// The pager program.
pub const PAGER: &str = "pager";
/// The root slot of the channel over which the shell hands the pager and
/// the paged program their capabilities: their own, in their slot 255, so
/// that a child taking from channel 255 cannot get in the way.
pub const PAGER_CHANNEL: u8 = 215;

// ANCHOR: channel_for
/// The channel the program `name` gets as its slot 255 when it is
/// loaded: the pager's own for the paged program, after loading the pager
/// with it (the first time); channel 255 for the others.
pub fn channel_for(cx: &mut Context, name: &str) -> Result<u8, Failure> {
    if name != PAGED {
        return Ok(CHANNEL);
    }
    let Some(&pager) = cx.programs.find(PAGER) else {
        return Err(Failure::explained(format_args!(
            "{PAGED} needs the {PAGER} program, which was not loaded"
        )));
    };
    match cx.sys.retype(CAddr::root(UNTYPED), ObjectKind::Channel, CAddr::root(PAGER_CHANNEL)) {
        // Made by an earlier `run lazy`: used again.
        Ok(()) | Err(Error::SlotOccupied) => {}
        Err(error) => return Err(error.into()),
    }
    load_once(cx, &pager, PAGER_CHANNEL)?;
    Ok(PAGER_CHANNEL)
}
// ANCHOR_END: channel_for

// ANCHOR: attach
/// Gives the program `name`, loaded in root slot `task`, its pager if it
/// is the one that needs it (else does nothing): `channel_for` loaded the
/// pager.
pub fn attach_if_paged(cx: &mut Context, name: &str, task: u8) -> Result<(), Failure> {
    if name != PAGED {
        return Ok(());
    }
    let Some(pager) = cx.programs.find(PAGER).map(|pager| pager.task_slot()) else {
        return Err(Failure::explained(format_args!(
            "{PAGED} needs the {PAGER} program, which was not loaded"
        )));
    };
    match cx.sys.attach_pager(CAddr::root(task), CAddr::root(pager)) {
        Err(Error::InUse) => Err(Failure::explained(format_args!(
            "{PAGED} or its {PAGER} is still running (set active {task} 0, set active {pager} 0 stop them)"
        ))),
        result => Ok(result?),
    }
}
// ANCHOR_END: attach

/// `help`'s line about the paged program, if it was loaded.
pub fn help(cx: &mut Context) {
    if cx.programs.find(PAGED).is_some() {
        say!(cx.sys, "  (run {PAGED}: its buffer is mapped by the {PAGER}, one page fault per page)");
    }
}
