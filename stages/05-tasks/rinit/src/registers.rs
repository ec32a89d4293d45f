//! Every register around every system call, in stage 5: each call, with
//! valid and invalid arguments, is made with all sixteen general registers
//! (`rsp` a kernel-half address among them) and the SSE registers full of
//! patterns (`ulib::registers`), and what comes back is checked against
//! the ABI: every register it keeps unchanged bit for bit, the others
//! holding nothing of the kernel's, and the answer the one expected.
//! (Stage 6's `programs/hostile` does the same with its calls.)

use abi::syscall::Call;
use abi::task_root::{CPOOL, PML4, TASK, TASK_BUFFER, UNTYPED};
use abi::{CAddr, ObjectKind};
use ulib::Error;
use ulib::registers::{self, Case, JUNK};

/// Slots the root pool leaves empty, for a retype, a copy and a move.
const EMPTY: u8 = 100;
const MOVED: u8 = 101;

/// A capability address in the root pool, as a call takes it.
const fn slot(index: u8) -> u64 {
    CAddr::root(index).to_raw()
}

// ANCHOR: cases
/// The calls, in order (the copy, move and delete rely on the retype
/// before them): every number from 0 to 31 but `Exit`'s; stage 6's calls
/// (15 on) are unknown here. The exercises' numbers (19 to 23) may answer
/// anything (`None`). Not a valid `TaskStart` or `TaskStop`: the child
/// those would start is not configured yet.
const CASES: &[Case] = &[
    ("no call 0", 0, JUNK, Some(Err(Error::UnknownCall))),
    ("print nothing", Call::Print as u64, [0; 6], Some(Ok(()))),
    ("print too much", Call::Print as u64, [4097, 0, 0, 0, 0, 0], Some(Err(Error::BufferTooLong))),
    ("yield", Call::Yield as u64, JUNK, Some(Ok(()))),
    ("list the root pool", Call::ListPool as u64, [slot(CPOOL), 0, 0, 0, 0, 0], Some(Ok(()))),
    ("list an empty slot", Call::ListPool as u64, [slot(EMPTY), 0, 0, 0, 0, 0], Some(Err(Error::EmptySlot))),
    (
        "retype a page",
        Call::Retype as u64,
        [slot(UNTYPED), ObjectKind::RawPage as u64, slot(EMPTY), 0, 0, 0],
        Some(Ok(())),
    ),
    (
        "retype from a page",
        Call::Retype as u64,
        [slot(TASK_BUFFER), ObjectKind::RawPage as u64, slot(MOVED), 0, 0, 0],
        Some(Err(Error::WrongKind)),
    ),
    ("copy it", Call::Copy as u64, [slot(EMPTY), slot(MOVED), 0, 0, 0, 0], Some(Ok(()))),
    (
        "copy from a malformed address",
        Call::Copy as u64,
        [u64::MAX, slot(MOVED), 0, 0, 0, 0],
        Some(Err(Error::MalformedAddress)),
    ),
    ("delete the copy", Call::Delete as u64, [slot(MOVED), 0, 0, 0, 0, 0], Some(Ok(()))),
    ("move it", Call::Move as u64, [slot(EMPTY), slot(MOVED), 0, 0, 0, 0], Some(Ok(()))),
    ("delete it", Call::Delete as u64, [slot(MOVED), 0, 0, 0, 0, 0], Some(Ok(()))),
    ("delete an empty slot", Call::Delete as u64, [slot(MOVED), 0, 0, 0, 0, 0], Some(Err(Error::EmptySlot))),
    ("revoke a PML4", Call::Revoke as u64, [slot(PML4), 0, 0, 0, 0, 0], Some(Err(Error::WrongKind))),
    (
        "map a page as a table",
        Call::MapTable as u64,
        [slot(TASK_BUFFER), slot(PML4), 1 << 40, 0, 0, 0],
        Some(Err(Error::WrongKind)),
    ),
    (
        "map a mapped page",
        Call::MapPage as u64,
        [slot(TASK_BUFFER), slot(PML4), 1 << 40, 1, 0, 0],
        Some(Err(Error::AlreadyMapped)),
    ),
    (
        "set no field",
        Call::TaskSet as u64,
        [slot(TASK), 0x1_0000_0001, 0, 0, 0, 0],
        Some(Err(Error::OutOfRange)),
    ),
    (
        "start an empty slot",
        Call::TaskStart as u64,
        [slot(EMPTY), 0, 0, 0, 0, 0],
        Some(Err(Error::EmptySlot)),
    ),
    ("start itself", Call::TaskStart as u64, [slot(TASK), 0, 0, 0, 0, 0], Some(Err(Error::InUse))),
    ("stop an empty slot", Call::TaskStop as u64, [slot(EMPTY), 0, 0, 0, 0, 0], Some(Err(Error::EmptySlot))),
    ("no call 15", 15, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 16", 16, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 17", 17, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 18", 18, JUNK, Some(Err(Error::UnknownCall))),
    ("call 19", 19, JUNK, None),
    ("call 20", 20, JUNK, None),
    ("call 21", 21, JUNK, None),
    ("call 22", 22, JUNK, None),
    ("call 23", 23, JUNK, None),
    ("no call 24", 24, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 25", 25, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 26", 26, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 27", 27, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 28", 28, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 29", 29, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 30", 30, JUNK, Some(Err(Error::UnknownCall))),
    ("no call 31", 31, JUNK, Some(Err(Error::UnknownCall))),
    ("no call with an upper half", Call::Yield as u64 | 1 << 32, JUNK, Some(Err(Error::UnknownCall))),
    ("no call u64::MAX", u64::MAX, JUNK, Some(Err(Error::UnknownCall))),
];
// ANCHOR_END: cases

/// Makes every call of [`CASES`] and checks the registers
/// (`ulib::registers::check_calls`): one line per mismatch (`rinit:
/// MISMATCH: ...`) and a line for the whole.
pub fn check_every_call() {
    // SAFETY: each call is one of the above, which change only rinit's
    // own pool (slots 100 and 101, left empty; the page retyped is its
    // untyped's, for good) and its buffer (the listing), or nothing; none
    // uses the stack.
    unsafe { registers::check_calls("rinit", CASES) }
}
