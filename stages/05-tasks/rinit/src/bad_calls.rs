//! A table of bad system calls (`syscalls`): each must come back with its
//! exact error code, and none may change anything, which rinit checks by
//! listing its root pool before and after.
//!
//! The calls go through `ulib::syscall::raw`, so that they can carry what the
//! typed wrappers would never send (an unknown number, a garbage capability
//! address, a field or kind out of range).

use crate::memory::DEMO_PAGE;
use abi::syscall::{Call, ListEntry, MapRights, TaskField};
use abi::task_root::{CPOOL, PML4, UNTYPED, VGA};
use abi::{CAddr, Error, ObjectKind};
use ulib::io::TaskBuffer;
use ulib::println;
use ulib::syscall::{decode, delete, list_pool, raw, retype};

/// Free slots for the table's own objects: a task never configured and a
/// page never mapped. (Slot 200 stays empty.)
const UNCONFIGURED_TASK: u8 = 70;
const UNMAPPED_PAGE: u8 = 71;
const EMPTY: u8 = 200;

/// One bad call: what it is, the call and its arguments, the error it must get.
struct Case {
    what: &'static str,
    number: u64,
    args: [u64; 6],
    expected: Error,
}

/// A call with `first` as its first arguments, the rest 0.
fn case(what: &'static str, call: Call, first: &[u64], expected: Error) -> Case {
    let mut args = [0; 6];
    args[..first.len()].copy_from_slice(first);
    Case { what, number: u64::from(call), args, expected }
}

/// Slot `index` of the root pool, as a register carries it.
fn slot(index: u8) -> u64 {
    CAddr::root(index).to_raw()
}

// ANCHOR: cases
const W: u64 = MapRights::WRITABLE.bits();
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_0000;

/// The cases, in the order of the errors they test.
fn cases() -> [Case; 19] {
    [
        Case { what: "call number 999", number: 999, args: [0; 6], expected: Error::UnknownCall },
        case("Delete(raw address 0: depth 0)", Call::Delete, &[0], Error::MalformedAddress),
        case("Delete(raw address all ones: depth 255)", Call::Delete, &[u64::MAX], Error::MalformedAddress),
        case("Delete(slot 200, empty)", Call::Delete, &[slot(EMPTY)], Error::EmptySlot),
        case(
            "Retype(from the VGA page, slot 1)",
            Call::Retype,
            &[slot(VGA), ObjectKind::RawPage.code(), slot(EMPTY)],
            Error::WrongKind,
        ),
        case(
            "MapTable(the VGA page as a table)",
            Call::MapTable,
            &[slot(VGA), slot(PML4), DEMO_PAGE],
            Error::WrongKind,
        ),
        case("Retype(kind code 99)", Call::Retype, &[slot(UNTYPED), 99, slot(EMPTY)], Error::OutOfRange),
        case("TaskSet(field 99)", Call::TaskSet, &[slot(UNCONFIGURED_TASK), 99, 0], Error::OutOfRange),
        case(
            "MapPage(rights 0b100)",
            Call::MapPage,
            &[slot(UNMAPPED_PAGE), slot(PML4), DEMO_PAGE + 0x1000, 0b100],
            Error::OutOfRange,
        ),
        case("Print(5000 bytes)", Call::Print, &[5000], Error::BufferTooLong),
        case("Print(bytes ff fe: not UTF-8)", Call::Print, &[2], Error::InvalidUtf8),
        case(
            "Retype(into slot 0, occupied)",
            Call::Retype,
            &[slot(UNTYPED), ObjectKind::RawPage.code(), slot(CPOOL)],
            Error::SlotOccupied,
        ),
        case(
            "MapPage(at 0xffff800000000000, kernel half)",
            Call::MapPage,
            &[slot(UNMAPPED_PAGE), slot(PML4), KERNEL_ADDRESS, W],
            Error::NotUserAddress,
        ),
        case(
            "TaskSet(stack 0xffff800000000000, kernel half)",
            Call::TaskSet,
            &[slot(UNCONFIGURED_TASK), TaskField::Stack as u64, KERNEL_ADDRESS],
            Error::NotUserAddress,
        ),
        case(
            "MapPage(at demo page + 0x1123, misaligned)",
            Call::MapPage,
            &[slot(UNMAPPED_PAGE), slot(PML4), DEMO_PAGE + 0x1123, W],
            Error::Misaligned,
        ),
        case(
            "MapPage(at the demo page, already mapped)",
            Call::MapPage,
            &[slot(UNMAPPED_PAGE), slot(PML4), DEMO_PAGE, W],
            Error::AlreadyMapped,
        ),
        case(
            "MapPage(at 0x20000000000, no tables there)",
            Call::MapPage,
            &[slot(UNMAPPED_PAGE), slot(PML4), 0x0000_0200_0000_0000, W],
            Error::MissingTable,
        ),
        case(
            "TaskStart(a task never configured)",
            Call::TaskStart,
            &[slot(UNCONFIGURED_TASK)],
            Error::NotConfigured,
        ),
        case("Revoke(the PML4, not an untyped)", Call::Revoke, &[slot(PML4)], Error::WrongKind),
    ]
}
// ANCHOR_END: cases

// ANCHOR: run
/// Makes every bad call and prints, for each, what it got against what it
/// should get; then checks the root pool did not change.
pub fn run() -> Result<(), Error> {
    let untyped = CAddr::root(UNTYPED);
    retype(untyped, ObjectKind::Task, CAddr::root(UNCONFIGURED_TASK), 0)?;
    retype(untyped, ObjectKind::RawPage, CAddr::root(UNMAPPED_PAGE), 0)?;
    let mut before = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let before = list_pool(CAddr::root(CPOOL), &mut before)?;

    let cases = cases();
    let mut passed = 0;
    for case in &cases {
        if case.expected == Error::InvalidUtf8 {
            TaskBuffer::current().write(0, &[0xff, 0xfe]);
        }
        // SAFETY: every case is refused by a correct kernel, and none would
        // start a task or unmap memory Rust uses if it were not.
        let (rax, rdx) = unsafe { raw(case.number, case.args) };
        let result = decode(rax, rdx);
        let verdict = if result == Err(case.expected) {
            passed += 1;
            "ok"
        } else {
            "MISMATCH"
        };
        match result {
            Err(error) => println!("bad call: {} -> {error:?}: {verdict}", case.what),
            Ok(value) => println!("bad call: {} -> Ok({value}): {verdict}", case.what),
        }
        if verdict != "ok" {
            println!("  expected {:?}", case.expected);
        }
    }
    println!("bad calls: {passed} of {} refused as expected", cases.len());

    let mut after = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let after = list_pool(CAddr::root(CPOOL), &mut after)?;
    match before == after {
        true => println!("bad calls: the root pool is unchanged: ok"),
        false => println!("bad calls: the root pool changed: MISMATCH"),
    }
    delete(CAddr::root(UNCONFIGURED_TASK))?;
    delete(CAddr::root(UNMAPPED_PAGE))?;
    Ok(())
}
// ANCHOR_END: run
