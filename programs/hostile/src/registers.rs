//! Every register around every system call: each call, with valid and
//! invalid arguments, is made with all sixteen general registers (`rsp`
//! a kernel-half address among them) and the SSE registers full of
//! patterns (`ulib::registers`), and what comes back is checked against
//! the ABI: every register it keeps unchanged bit for bit, the others
//! holding nothing of the kernel's, and the answer the one expected.

use ulib::abi::syscall::{Call, MapRights, MessageKind};
use ulib::abi::task_root::{CHANNEL, CPOOL, PML4, TASK, TASK_BUFFER};
use ulib::registers::{self, Case, JUNK};
use ulib::{CAddr, Error};

/// Slots this program's root pool leaves empty, for a copy and a move.
const EMPTY: u8 = 100;
const MOVED: u8 = 101;

/// A capability address in the root pool, as a call takes it.
const fn slot(index: u8) -> u64 {
    CAddr::root(index).to_raw()
}

/// A value with every byte and both halves in use, for a message.
const VALUE: u64 = 0x8899_aabb_ccdd_eeff;

// ANCHOR: cases
/// The calls, in order (some rely on the one before: the take finds the
/// put's message, the move the copy), with their arguments and the answer
/// expected: every call number from 0 to 31 but `Exit`'s is made at least
/// once, and two far past them. The numbers that are the exercises' (19 to 23)
/// and the drivers' (25 to 29, 31) may answer anything (`None`): the
/// registers are what is checked there. Not `Exit`, which does not return (the program's
/// own exit makes it), nor a valid `TaskStop` or `TaskStart` of a task,
/// which this program has none to spare for.
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
        [slot(TASK_BUFFER), 1, slot(EMPTY), 0, 0, 0],
        Some(Err(Error::WrongKind)),
    ),
    ("copy a capability", Call::Copy as u64, [slot(TASK_BUFFER), slot(EMPTY), 0, 0, 0, 0], Some(Ok(()))),
    (
        "copy from a malformed address",
        Call::Copy as u64,
        [u64::MAX, slot(MOVED), 0, 0, 0, 0],
        Some(Err(Error::MalformedAddress)),
    ),
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
        [slot(TASK_BUFFER), slot(PML4), 1 << 40, MapRights::WRITABLE.bits(), 0, 0],
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
    (
        "put a number",
        Call::ChannelPut as u64,
        [slot(CHANNEL), MessageKind::Raw as u64, VALUE, 0, 0, 0],
        Some(Ok(())),
    ),
    ("take it back", Call::ChannelTake as u64, [slot(CHANNEL), slot(EMPTY), 0, 0, 0, 0], Some(Ok(()))),
    (
        "put a fault",
        Call::ChannelPut as u64,
        [slot(CHANNEL), MessageKind::Fault as u64, 0, 0, 0, 0],
        Some(Err(Error::OutOfRange)),
    ),
    (
        "take from a PML4",
        Call::ChannelTake as u64,
        [slot(PML4), slot(EMPTY), 0, 0, 0, 0],
        Some(Err(Error::WrongKind)),
    ),
    ("audit", Call::Audit as u64, JUNK, Some(Ok(()))),
    ("nop", Call::Nop as u64, JUNK, Some(Ok(()))),
    ("nop with an upper half", Call::Nop as u64 | 1 << 32, JUNK, Some(Err(Error::UnknownCall))),
    ("call 19", 19, JUNK, None),
    ("call 20", 20, JUNK, None),
    ("call 21", 21, JUNK, None),
    ("call 22", 22, JUNK, None),
    ("call 23", 23, JUNK, None),
    (
        "call: put and take back",
        Call::ChannelCall as u64,
        [slot(CHANNEL), MessageKind::Raw as u64, VALUE, slot(CHANNEL), slot(EMPTY), 0],
        Some(Ok(())),
    ),
    (
        "call on a PML4",
        Call::ChannelCall as u64,
        [slot(PML4), 1, 0, slot(CHANNEL), slot(EMPTY), 0],
        Some(Err(Error::WrongKind)),
    ),
    ("call 25", 25, JUNK, None),
    ("call 26", 26, JUNK, None),
    ("call 27", 27, JUNK, None),
    ("call 28", 28, JUNK, None),
    ("call 29", 29, JUNK, None),
    (
        "resume a running task",
        Call::TaskResume as u64,
        [slot(TASK), 0, 0, 0, 0, 0],
        Some(Err(Error::NotSuspended)),
    ),
    ("call 31", 31, JUNK, None),
    ("no call u64::MAX", u64::MAX, JUNK, Some(Err(Error::UnknownCall))),
];
// ANCHOR_END: cases

/// Makes every call of [`CASES`] and checks the registers
/// (`ulib::registers::check_calls`): one line per mismatch (`hostile:
/// MISMATCH: ...`) and a line for the whole.
pub fn check_every_call() {
    // SAFETY: each call is one of the above, which change only this
    // program's own pool (slots 100 and 101, left empty), its channel
    // (the message taken back at once) and its buffer (the listing), or
    // nothing; none uses the stack.
    unsafe { registers::check_calls("hostile", CASES) }
}
