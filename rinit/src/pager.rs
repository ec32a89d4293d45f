//! `run lazy`: the one program the shell starts with a pager. Before it
//! starts `lazy`, the shell gives it a fault channel and starts the pager
//! program to serve it (`ulib::pager` is the protocol, `programs/pager`
//! the pager); `lazy` then prints `lazy: touched N pages, the pager mapped
//! N`. The system calls are behind [`System::attach_pager`], so the shell's
//! side of it, the names and the refusals, has host tests.

use crate::commands::{CHILD_TASK, Context, Failure};
use crate::system::say;
use abi::syscall::ListEntry;
use abi::task_root::CPOOL;
use abi::{CAddr, Error, ObjectKind};

/// The program served by a pager.
pub const PAGED: &str = "lazy";
/// The pager program.
pub const PAGER: &str = "pager";

// ANCHOR: attach
/// Gives the program `name`, in root slot `slot`, its pager if it is the
/// one that needs it (else does nothing).
pub fn attach_if_paged(cx: &mut Context, name: &str, slot: u8) -> Result<(), Failure> {
    if name != PAGED {
        return Ok(());
    }
    let Some(pager) = cx.programs.find(PAGER) else {
        return Err(Failure::explained(format_args!(
            "{PAGED} needs the {PAGER} program, which was not loaded"
        )));
    };
    let pager = pager.slot;
    // The pager's capabilities travel over channel 255, which a child
    // takes from too (a shortcut `ulib::pager` explains).
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries)?;
    if entries[..count].iter().any(|entry| entry.slot == CHILD_TASK && entry.kind == ObjectKind::Task as u8) {
        return Err(Failure::explained(format_args!(
            "{PAGED}'s pager is handed its capabilities on channel 255, where the child in {CHILD_TASK} takes"
        )));
    }
    match cx.sys.attach_pager(CAddr::root(slot), CAddr::root(pager)) {
        Err(Error::InUse) => Err(Failure::explained(format_args!(
            "{PAGED} or its {PAGER} is still running (set active {slot} 0, set active {pager} 0 stop them)"
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
