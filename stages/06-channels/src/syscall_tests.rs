//! Host tests of the system calls: a task made of heap memory issues calls
//! through its saved registers, as it would from user mode, and each bad
//! argument must come back as its exact error code, changing nothing.

use crate::objects::mapping;
use crate::objects::task::TaskState;
use crate::objects::testing::{System, system};
use crate::objects::{AnyObject, ManagedArc, ObjectKind, Task, cpool};
use crate::syscalls::{self, Next};
use abi::syscall::{MapRights, MessageKind, SyscallArgs, TaskField};
use abi::{CAddr, Call, Error};
use proptest::prelude::*;

/// Where the tests put things in the root pool (slot 1 is the untyped).
const TASK: u8 = 2;
const BUFFER: u8 = 3;
const SPACE: u8 = 4;

/// A system with a task whose root pool is the system's, a buffer page and
/// a PML4.
struct Caller {
    // Dropped in this order: the task before the memory it lives in.
    task: ManagedArc<Task>,
    system: System,
}

fn caller() -> Caller {
    let system = system(64);
    let untyped = CAddr::root(1);
    for (kind, slot) in [(ObjectKind::Task, TASK), (ObjectKind::RawPage, BUFFER), (ObjectKind::Pml4, SPACE)] {
        cpool::retype(&system.root, untyped, kind, 0, CAddr::root(slot)).unwrap();
    }
    system.root.slot(0).downgrade(&system.root).unwrap();
    let task = system.root.slot(TASK).upgrade::<Task>().unwrap();
    task.cpool_slot().downgrade(&system.root).unwrap();
    let buffer = system.root.slot(BUFFER).upgrade::<AnyObject>().unwrap();
    task.buffer_slot().downgrade(&buffer).unwrap();
    Caller { task, system }
}

impl Caller {
    /// Makes the call `call` with `args`, as the task would.
    fn call(&self, call: u64, args: [u64; 6]) -> (Result<u64, Error>, Next) {
        self.task.set_call(SyscallArgs { number: call, args });
        let after = syscalls::handle(&self.task, &self.system.root);
        let [rax, rdx, _] = self.task.result_registers();
        let result = abi::syscall::decode_result(rax, rdx).expect("the kernel returns ABI codes");
        (result, after)
    }

    fn result(&self, call: Call, args: [u64; 6]) -> Result<u64, Error> {
        self.call(call as u64, args).0
    }

    /// The task buffer's bytes.
    #[allow(clippy::mut_from_ref)] // a view of heap memory the test owns
    fn buffer(&self) -> &mut [u8; 4096] {
        let page = self.system.root.slot(BUFFER).upgrade::<AnyObject>().unwrap();
        // SAFETY: a RawPage of heap memory; the test is its only user.
        unsafe { &mut *(page.address() as *mut [u8; 4096]) }
    }

    /// A picture of the root pool: each slot's kind.
    fn pool_state(&self) -> Vec<Option<ObjectKind>> {
        (0..=255u8).map(|slot| self.system.root.slot(slot).kind()).collect()
    }
}

fn raw(path: &[u8]) -> u64 {
    CAddr::new(path).unwrap().to_raw()
}

// ANCHOR: bad_calls
#[test]
fn every_bad_argument_gets_its_error_and_changes_nothing() {
    let caller = caller();
    caller.buffer()[..2].copy_from_slice(&[0xff, 0xfe]);
    let page = ObjectKind::RawPage.code();
    let cases: &[(&str, u64, [u64; 6], Error)] = &[
        ("unknown call", 999, [0; 6], Error::UnknownCall),
        (
            "garbage address",
            Call::Delete as u64,
            [0xffff_ffff_ffff_ff09, 0, 0, 0, 0, 0],
            Error::MalformedAddress,
        ),
        ("empty slot", Call::Delete as u64, [raw(&[200]), 0, 0, 0, 0, 0], Error::EmptySlot),
        ("through an empty slot", Call::Delete as u64, [raw(&[200, 1]), 0, 0, 0, 0, 0], Error::EmptySlot),
        (
            "retype from a task",
            Call::Retype as u64,
            [raw(&[TASK]), page, raw(&[9]), 0, 0, 0],
            Error::WrongKind,
        ),
        ("unknown kind", Call::Retype as u64, [raw(&[1]), 99, raw(&[9]), 0, 0, 0], Error::OutOfRange),
        ("size for a page", Call::Retype as u64, [raw(&[1]), page, raw(&[9]), 4096, 0, 0], Error::OutOfRange),
        (
            "into an occupied slot",
            Call::Retype as u64,
            [raw(&[1]), page, raw(&[TASK]), 0, 0, 0],
            Error::SlotOccupied,
        ),
        ("print past the page", Call::Print as u64, [5000, 0, 0, 0, 0, 0], Error::BufferTooLong),
        ("print bad UTF-8", Call::Print as u64, [2, 0, 0, 0, 0, 0], Error::InvalidUtf8),
        (
            "map at a kernel address",
            Call::MapPage as u64,
            [raw(&[BUFFER]), raw(&[SPACE]), 0xffff_8000_0000_0000, 0, 0, 0],
            Error::NotUserAddress,
        ),
        (
            "map misaligned",
            Call::MapPage as u64,
            [raw(&[BUFFER]), raw(&[SPACE]), 0x40_0010, 0, 0, 0],
            Error::Misaligned,
        ),
        (
            "map without tables",
            Call::MapPage as u64,
            [raw(&[BUFFER]), raw(&[SPACE]), 0x40_0000, 0, 0, 0],
            Error::MissingTable,
        ),
        (
            "map with unknown rights",
            Call::MapPage as u64,
            [raw(&[BUFFER]), raw(&[SPACE]), 0x40_0000, 4, 0, 0],
            Error::OutOfRange,
        ),
        (
            "map into a page",
            Call::MapPage as u64,
            [raw(&[BUFFER]), raw(&[BUFFER]), 0x40_0000, 0, 0, 0],
            Error::WrongKind,
        ),
        (
            "map a PML4 as a table",
            Call::MapTable as u64,
            [raw(&[SPACE]), raw(&[SPACE]), 0, 0, 0, 0],
            Error::WrongKind,
        ),
        (
            "start an unconfigured task",
            Call::TaskStart as u64,
            [raw(&[TASK]), 0, 0, 0, 0, 0],
            Error::NotConfigured,
        ),
        ("unknown task field", Call::TaskSet as u64, [raw(&[TASK]), 9, 0, 0, 0, 0], Error::OutOfRange),
        (
            "kernel stack pointer",
            Call::TaskSet as u64,
            [raw(&[TASK]), TaskField::Stack as u64, 0xffff_8000_0000_0000, 0, 0, 0],
            Error::NotUserAddress,
        ),
        (
            "a page as root pool",
            Call::TaskSet as u64,
            [raw(&[TASK]), TaskField::CPool as u64, raw(&[BUFFER]), 0, 0, 0],
            Error::WrongKind,
        ),
        ("revoke what the caller runs on", Call::Revoke as u64, [raw(&[1]), 0, 0, 0, 0, 0], Error::InUse),
        ("list a page", Call::ListPool as u64, [raw(&[BUFFER]), 0, 0, 0, 0, 0], Error::WrongKind),
        ("put on a page", Call::ChannelPut as u64, [raw(&[BUFFER]), 1, 5, 0, 0, 0], Error::WrongKind),
        ("take from a page", Call::ChannelTake as u64, [raw(&[BUFFER]), 0, 0, 0, 0, 0], Error::WrongKind),
    ];
    for &(what, call, args, expected) in cases {
        let before = caller.pool_state();
        let (result, after) = caller.call(call, args);
        assert_eq!(result, Err(expected), "{what}");
        assert_eq!(after, Next::Caller, "{what}");
        assert_eq!(caller.pool_state(), before, "{what}: a refused call changes nothing");
    }
}
// ANCHOR_END: bad_calls

#[test]
fn listing_the_pool_writes_one_entry_per_slot() {
    let caller = caller();
    let count = caller.result(Call::ListPool, [raw(&[0]), 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(count, 5, "the pool itself, the untyped, the task, the buffer and the PML4");
    let entries: Vec<_> =
        abi::syscall::ListEntry::decode_all(caller.buffer(), count).map(Option::unwrap).collect();
    let slots: Vec<_> = entries.iter().map(|entry| (entry.slot, entry.kind)).collect();
    assert_eq!(slots, [(0, 2), (1, 1), (TASK, 9), (BUFFER, 7), (SPACE, 3)]);
    assert_eq!(entries[0].detail, 5, "a pool reports its used slots");
    assert_eq!(entries[1].detail, caller.system.untyped.free(), "an untyped reports its free bytes");
    assert_eq!((entries[3].detail, entries[4].detail), (0, 0), "a page and a PML4 have nothing to count");
}

/// What a listing says of a channel and a task beside their slots: the
/// messages waiting in the channel, and the task's number (the one the
/// kernel's reports name it by).
#[test]
fn a_listing_shows_a_channels_messages_and_a_tasks_number() {
    let caller = caller();
    cpool::retype(&caller.system.root, CAddr::root(1), ObjectKind::Channel, 0, CAddr::root(5)).unwrap();
    let detail = |slot: u8| {
        let count = caller.result(Call::ListPool, [raw(&[0]), 0, 0, 0, 0, 0]).unwrap();
        let entries = abi::syscall::ListEntry::decode_all(caller.buffer(), count).map(Option::unwrap);
        entries.into_iter().find(|entry| entry.slot == slot).map(|entry| entry.detail)
    };
    assert_eq!(detail(5), Some(0), "an empty channel");
    for (value, waiting) in [(7, 1), (8, 2), (9, 3)] {
        caller.result(Call::ChannelPut, [raw(&[5]), MessageKind::Raw as u64, value, 0, 0, 0]).unwrap();
        assert_eq!(detail(5), Some(waiting), "messages waiting");
    }
    // Two tasks, two numbers: no constant gives both.
    cpool::retype(&caller.system.root, CAddr::root(1), ObjectKind::Task, 0, CAddr::root(6)).unwrap();
    let other = caller.system.root.slot(6).upgrade::<Task>().unwrap();
    assert_ne!(other.id(), caller.task.id());
    assert_eq!(detail(TASK), Some(caller.task.id()), "the task's number");
    assert_eq!(detail(6), Some(other.id()), "the other task's number");
}

#[test]
fn printing_accepts_text_in_the_buffer() {
    let caller = caller();
    caller.buffer()[..6].copy_from_slice(b"hello\n");
    assert_eq!(caller.result(Call::Print, [6, 0, 0, 0, 0, 0]), Ok(6));
}

#[test]
fn a_task_without_a_buffer_cannot_print() {
    let caller = caller();
    caller.task.buffer_slot().clear();
    assert_eq!(caller.result(Call::Print, [1, 0, 0, 0, 0, 0]), Err(Error::NoBuffer));
}

/// Maps the tables and a page at 0x40_0000 through system calls.
fn map_a_page(caller: &Caller, page_slot: u8) {
    let untyped = raw(&[1]);
    for (kind, slot) in [(ObjectKind::Pdpt, 10), (ObjectKind::Pd, 11), (ObjectKind::Pt, 12)] {
        let code = kind.code();
        assert_eq!(caller.result(Call::Retype, [untyped, code, raw(&[slot]), 0, 0, 0]), Ok(0));
        assert_eq!(caller.result(Call::MapTable, [raw(&[slot]), raw(&[SPACE]), 0x40_0000, 0, 0, 0]), Ok(0));
    }
    let page = ObjectKind::RawPage.code();
    assert_eq!(caller.result(Call::Retype, [untyped, page, raw(&[page_slot]), 0, 0, 0]), Ok(0));
    let rights = MapRights::WRITABLE.bits();
    assert_eq!(
        caller.result(Call::MapPage, [raw(&[page_slot]), raw(&[SPACE]), 0x40_0000, rights, 0, 0]),
        Ok(0)
    );
}

#[test]
fn pages_map_through_their_capabilities_once() {
    let caller = caller();
    map_a_page(&caller, 13);
    let space = caller.system.root.slot(SPACE).upgrade::<AnyObject>().unwrap();
    let page = caller.system.root.slot(13).upgrade::<AnyObject>().unwrap();
    let (frame, flags) = mapping::translate(&space, 0x40_0000).expect("mapped");
    assert_eq!(frame, page.address());
    assert!(flags.contains(
        x86_64::structures::paging::PageTableFlags::WRITABLE
            | x86_64::structures::paging::PageTableFlags::USER_ACCESSIBLE
    ));
    assert!(flags.contains(x86_64::structures::paging::PageTableFlags::NO_EXECUTE));
    // The same page again, or another page at the same address: refused.
    let rights = 0;
    assert_eq!(
        caller.result(Call::MapPage, [raw(&[13]), raw(&[SPACE]), 0x40_1000, rights, 0, 0]),
        Err(Error::AlreadyMapped)
    );
    let page_kind = ObjectKind::RawPage.code();
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), page_kind, raw(&[14]), 0, 0, 0]), Ok(0));
    assert_eq!(
        caller.result(Call::MapPage, [raw(&[14]), raw(&[SPACE]), 0x40_0000, rights, 0, 0]),
        Err(Error::AlreadyMapped)
    );
    // A table where one is already: refused.
    let pt = ObjectKind::Pt.code();
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), pt, raw(&[15]), 0, 0, 0]), Ok(0));
    assert_eq!(
        caller.result(Call::MapTable, [raw(&[15]), raw(&[SPACE]), 0x40_0000, 0, 0, 0]),
        Err(Error::AlreadyMapped)
    );
}

/// A second untyped in the root pool, carved from the first, so that what
/// is made from it can be revoked while the caller's own objects live on.
fn second_untyped(caller: &Caller, slot: u8) -> CAddr {
    let code = ObjectKind::Untyped.code();
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), code, raw(&[slot]), 64 * 1024, 0, 0]), Ok(0));
    CAddr::root(slot)
}

// ANCHOR: revoke_mapped
#[test]
fn revoking_a_mapped_page_unmaps_it() {
    let caller = caller();
    map_a_page(&caller, 13);
    let untyped = second_untyped(&caller, 20);
    let page = ObjectKind::RawPage.code();
    assert_eq!(caller.result(Call::Retype, [untyped.to_raw(), page, raw(&[21]), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapPage, [raw(&[21]), raw(&[SPACE]), 0x40_1000, 0, 0, 0]), Ok(0));
    let space = caller.system.root.slot(SPACE).upgrade::<AnyObject>().unwrap();
    assert!(mapping::translate(&space, 0x40_1000).is_some());
    assert_eq!(caller.result(Call::Revoke, [untyped.to_raw(), 0, 0, 0, 0, 0]), Ok(0));
    assert!(mapping::translate(&space, 0x40_1000).is_none(), "the entry is cleared with the page");
    assert!(mapping::translate(&space, 0x40_0000).is_some(), "the other page stays");
}

#[test]
fn revoking_a_table_frees_what_was_mapped_in_it() {
    let caller = caller();
    let untyped = second_untyped(&caller, 20);
    let (code, to) = (|kind: ObjectKind| kind.code(), |slot| raw(&[slot]));
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), code(ObjectKind::Pdpt), to(10), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapTable, [to(10), to(SPACE), 0x40_0000, 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::Retype, [untyped.to_raw(), code(ObjectKind::Pd), to(21), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapTable, [to(21), to(SPACE), 0x40_0000, 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), code(ObjectKind::Pt), to(12), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapTable, [to(12), to(SPACE), 0x40_0000, 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), code(ObjectKind::RawPage), to(13), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapPage, [to(13), to(SPACE), 0x40_0000, 0, 0, 0]), Ok(0));

    let pt = caller.system.root.slot(12).upgrade::<AnyObject>().unwrap();
    assert!(mapping::is_mapped(&pt), "the PT is mapped under its PD");

    // The PD goes: the PT under it is no longer mapped, nor reachable.
    assert_eq!(caller.result(Call::Revoke, [untyped.to_raw(), 0, 0, 0, 0, 0]), Ok(0));
    let space = caller.system.root.slot(SPACE).upgrade::<AnyObject>().unwrap();
    assert!(mapping::translate(&space, 0x40_0000).is_none());
    assert!(!mapping::is_mapped(&pt), "the PT learnt that its PD is gone");
    // So it can be mapped again, under a new PD.
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), code(ObjectKind::Pd), to(22), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapTable, [to(22), to(SPACE), 0x40_0000, 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::MapTable, [to(12), to(SPACE), 0x40_0000, 0, 0, 0]), Ok(0));
    assert!(mapping::translate(&space, 0x40_0000).is_some(), "the page under the PT is back");
}
// ANCHOR_END: revoke_mapped

// ANCHOR: task_rules
#[test]
fn a_task_pins_nothing_it_runs_with() {
    let caller = caller();
    let untyped = second_untyped(&caller, 20);
    let (code, to) = (|kind: ObjectKind| kind.code(), |slot| raw(&[slot]));
    assert_eq!(
        caller.result(Call::Retype, [untyped.to_raw(), code(ObjectKind::CPool), to(21), 0, 0, 0]),
        Ok(0)
    );
    assert_eq!(
        caller.result(Call::Retype, [untyped.to_raw(), code(ObjectKind::Pml4), to(22), 0, 0, 0]),
        Ok(0)
    );
    assert_eq!(caller.result(Call::TaskSet, [to(TASK), TaskField::CPool as u64, to(21), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::TaskSet, [to(TASK), TaskField::Table as u64, to(22), 0, 0, 0]), Ok(0));
    assert!(!caller.task.cpool_slot().is_empty() && !caller.task.table_slot().is_empty());
    assert_eq!(caller.result(Call::Revoke, [untyped.to_raw(), 0, 0, 0, 0, 0]), Ok(0));
    assert!(caller.task.cpool_slot().is_empty(), "revoking the pool cleared the task's pointer to it");
    assert!(caller.task.table_slot().is_empty(), "and to its page table");
}

#[test]
fn destroying_a_ready_task_takes_it_out_of_the_run_queue() {
    let _queue = crate::objects::task::run_queue_for_tests();
    let caller = caller();
    let untyped = second_untyped(&caller, 20);
    let (code, to) = (|kind: ObjectKind| kind.code(), |slot| raw(&[slot]));
    assert_eq!(
        caller.result(Call::Retype, [untyped.to_raw(), code(ObjectKind::Task), to(21), 0, 0, 0]),
        Ok(0)
    );
    assert_eq!(
        caller.result(Call::TaskSet, [to(21), TaskField::Instruction as u64, 0x40_0000, 0, 0, 0]),
        Ok(0)
    );
    assert_eq!(caller.result(Call::TaskSet, [to(21), TaskField::CPool as u64, to(0), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::TaskSet, [to(21), TaskField::Table as u64, to(SPACE), 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::TaskStart, [to(21), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::TaskStart, [to(21), 0, 0, 0, 0, 0]), Err(Error::InUse), "started twice");
    assert_eq!(
        caller.result(Call::TaskSet, [to(21), TaskField::Stack as u64, 0x1000, 0, 0, 0]),
        Err(Error::InUse)
    );
    let child = caller.system.root.slot(21).upgrade::<Task>().unwrap();
    assert_eq!(child.run_state(), TaskState::Ready);
    assert_eq!(crate::scheduler::ready_tasks(8).collect::<Vec<_>>(), [child.id()]);
    drop(child);
    assert_eq!(caller.result(Call::Revoke, [untyped.to_raw(), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(crate::scheduler::ready_tasks(8).count(), 0, "the destroyed task left the queue");
}

#[test]
fn stopping_a_task_takes_it_out_of_the_queue_and_stopping_oneself_leaves_the_cpu() {
    let _queue = crate::objects::task::run_queue_for_tests();
    let caller = caller();
    let to = |slot| raw(&[slot]);
    for (field, value) in
        [(TaskField::Instruction, 0x40_0000), (TaskField::CPool, to(0)), (TaskField::Table, to(SPACE))]
    {
        assert_eq!(caller.result(Call::TaskSet, [to(TASK), field as u64, value, 0, 0, 0]), Ok(0));
    }
    assert_eq!(caller.result(Call::TaskStart, [to(TASK), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(crate::scheduler::ready_tasks(8).count(), 1);
    assert_eq!(caller.call(Call::TaskStop as u64, [to(TASK), 0, 0, 0, 0, 0]), (Ok(0), Next::Other));
    assert_eq!(caller.task.run_state(), TaskState::Inactive);
    assert_eq!(crate::scheduler::ready_tasks(8).count(), 0);
}
// ANCHOR_END: task_rules

/// A task starts only once it has an instruction pointer (as well as a
/// pool and a table), from the registers it was given; an exit puts every
/// register back to them (`reset_to_start`), the start argument included.
#[test]
fn a_task_starts_from_the_registers_it_was_given_and_an_exit_puts_them_back() {
    let caller = caller();
    let to = |slot| raw(&[slot]);
    let set =
        |field: TaskField, value| caller.result(Call::TaskSet, [to(TASK), field as u64, value, 0, 0, 0]);
    assert_eq!(set(TaskField::Table, to(SPACE)), Ok(0));
    assert_eq!(set(TaskField::Stack, 0x7000_0000), Ok(0));
    let start = [to(TASK), 0, 0, 0, 0, 0];
    assert_eq!(caller.result(Call::TaskStart, start), Err(Error::NotConfigured), "no instruction pointer");
    assert_eq!(set(TaskField::Instruction, 0x40_0000), Ok(0));
    caller.task.set_start_argument(42);
    let [rip, rsp, _, _, _, _, _, _, rdi, ..] = caller.task.saved_registers();
    assert_eq!((rip, rsp, rdi), (0x40_0000, 0x7000_0000, 42));
    caller.task.reset_to_start();
    let [rip, rsp, _, _, _, _, _, _, rdi, ..] = caller.task.saved_registers();
    assert_eq!((rip, rsp, rdi), (0x40_0000, 0x7000_0000, 0));
}

#[test]
fn yield_and_exit_tell_the_scheduler() {
    let caller = caller();
    assert_eq!(caller.call(Call::Yield as u64, [0; 6]), (Ok(0), Next::Other));
    assert_eq!(caller.call(Call::Exit as u64, [7, 0, 0, 0, 0, 0]), (Ok(0), Next::Exit(7)));
}

// ANCHOR: garbage
/// One argument of a random call: mostly things that are almost right
/// (real slots at every depth, real kinds and fields, user addresses),
/// sometimes anything at all.
fn argument() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u8..24).prop_map(|slot| CAddr::root(slot).to_raw()),
        (0u8..24, 0u8..4).prop_map(|(pool, slot)| CAddr::new(&[pool, slot]).unwrap().to_raw()),
        0u64..16,
        (0u64..0x200).prop_map(|page| 0x40_0000 + page * 0x1000),
        Just(0xffff_8000_0000_0000),
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random sequences of system calls with hostile arguments: the kernel
    /// never panics, and every answer is success or an ABI error code.
    #[test]
    fn garbage_system_calls_get_errors_never_a_panic(
        calls in proptest::collection::vec((0u64..=16 + 2, proptest::array::uniform6(argument())), 1..80),
    ) {
        let _queue = crate::objects::task::run_queue_for_tests();
        let caller = caller();
        caller.task.set_run_state(TaskState::Running);
        for (number, args) in calls {
            // Exit would end the task: the scheduler's business, not the
            // kernel's state.
            if number == Call::Exit as u64 {
                continue;
            }
            let (result, _) = caller.call(number, args);
            if let Err(error) = result {
                prop_assert!(Error::try_from(error as u64).is_ok());
            }
            // The scheduler would now run another task; this one is the
            // caller again, whatever the call did to it.
            if caller.task.run_state() != TaskState::Running {
                crate::objects::task::make_inactive(&caller.task);
                caller.task.set_run_state(TaskState::Running);
            }
        }
    }
}
// ANCHOR_END: garbage

// ANCHOR: read_only
/// The audit over the caller's system: it must pass.
fn audit_passes(caller: &Caller) -> Result<(), crate::objects::audit::AuditError> {
    let mut scratch = vec![0; 4096];
    crate::objects::audit::audit(&caller.system.roots(), &crate::objects::task::RUN_QUEUE, &mut scratch)
        .map(drop)
}

/// Makes a page in `slot` and marks it read-only, as the kernel marks the
/// pages of a boot module it hands to the first task.
fn read_only_page(caller: &Caller, slot: u8) -> ManagedArc<AnyObject> {
    let page = ObjectKind::RawPage.code();
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), page, raw(&[slot]), 0, 0, 0]), Ok(0));
    let page = caller.system.root.slot(slot).upgrade::<AnyObject>().unwrap();
    mapping::mark_read_only(&page);
    page
}

#[test]
fn a_read_only_page_maps_only_read_only_and_is_never_a_task_buffer() {
    let caller = caller();
    map_a_page(&caller, 13);
    let page = read_only_page(&caller, 20);
    let (writable, executable) = (MapRights::WRITABLE.bits(), MapRights::EXECUTABLE.bits());
    let before = caller.pool_state();
    for rights in [writable, writable | executable] {
        assert_eq!(
            caller.result(Call::MapPage, [raw(&[20]), raw(&[SPACE]), 0x40_1000, rights, 0, 0]),
            Err(Error::ReadOnly)
        );
    }
    assert!(!mapping::is_mapped(&page), "a refused map changes nothing");
    assert_eq!(
        caller.result(Call::TaskSet, [raw(&[TASK]), TaskField::Buffer as u64, raw(&[20]), 0, 0, 0]),
        Err(Error::ReadOnly)
    );
    assert_eq!(caller.pool_state(), before);
    // Read-only (and executable: a loader may run code in place) it maps.
    assert_eq!(caller.result(Call::MapPage, [raw(&[20]), raw(&[SPACE]), 0x40_1000, executable, 0, 0]), Ok(0));
    let space = caller.system.root.slot(SPACE).upgrade::<AnyObject>().unwrap();
    let (_, flags) = mapping::translate(&space, 0x40_1000).expect("mapped");
    assert!(!flags.contains(x86_64::structures::paging::PageTableFlags::WRITABLE));
    audit_passes(&caller).expect("the audit passes");
    // A copy of its capability is just as read-only: the mark is the
    // object's, not the slot's.
    assert_eq!(caller.result(Call::Copy, [raw(&[20]), raw(&[21]), 0, 0, 0, 0]), Ok(0));
    assert_eq!(caller.result(Call::UnmapPage, [raw(&[21]), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(
        caller.result(Call::MapPage, [raw(&[21]), raw(&[SPACE]), 0x40_1000, writable, 0, 0]),
        Err(Error::ReadOnly)
    );
}

#[test]
fn the_audit_finds_a_read_only_page_mapped_writable_or_used_as_a_buffer() {
    let caller = caller();
    map_a_page(&caller, 13);
    audit_passes(&caller).expect("clean");
    // Page 13 is mapped writable; marked read-only afterwards (what a
    // kernel bug would do), the audit must notice.
    let page = caller.system.root.slot(13).upgrade::<AnyObject>().unwrap();
    mapping::mark_read_only(&page);
    let error = audit_passes(&caller).unwrap_err();
    assert!(error.to_string().contains("a read-only page is mapped writable"), "{error}");
    let caller = caller_with_read_only_buffer();
    let error = audit_passes(&caller).unwrap_err();
    assert!(error.to_string().contains("a task's buffer is a read-only page"), "{error}");
}

/// A caller whose buffer was marked read-only after it became the buffer.
fn caller_with_read_only_buffer() -> Caller {
    let caller = caller();
    let buffer = caller.system.root.slot(BUFFER).upgrade::<AnyObject>().unwrap();
    mapping::mark_read_only(&buffer);
    caller
}
// ANCHOR_END: read_only

/// The audit reads a read-only page's entry from the page's record of
/// where it is mapped, at any index of its table: here the PT's second
/// entry (0x40_1000), not its first.
#[test]
fn the_audit_finds_a_read_only_page_mapped_writable_at_any_entry() {
    let caller = caller();
    map_a_page(&caller, 13);
    let page = ObjectKind::RawPage.code();
    assert_eq!(caller.result(Call::Retype, [raw(&[1]), page, raw(&[14]), 0, 0, 0]), Ok(0));
    let writable = MapRights::WRITABLE.bits();
    assert_eq!(caller.result(Call::MapPage, [raw(&[14]), raw(&[SPACE]), 0x40_1000, writable, 0, 0]), Ok(0));
    audit_passes(&caller).expect("clean");
    mapping::mark_read_only(&caller.system.root.slot(14).upgrade::<AnyObject>().unwrap());
    let error = audit_passes(&caller).unwrap_err();
    assert!(error.to_string().contains("a read-only page is mapped writable"), "{error}");
}

// ANCHOR: unmap_page_test
#[test]
fn unmap_page_takes_a_page_out_and_it_maps_again_elsewhere() {
    let caller = caller();
    map_a_page(&caller, 13);
    let space = caller.system.root.slot(SPACE).upgrade::<AnyObject>().unwrap();
    assert_eq!(caller.result(Call::UnmapPage, [raw(&[13]), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(mapping::translate(&space, 0x40_0000), None);
    assert_eq!(
        caller.result(Call::UnmapPage, [raw(&[13]), 0, 0, 0, 0, 0]),
        Err(Error::MissingTable),
        "not mapped"
    );
    assert_eq!(caller.result(Call::UnmapPage, [raw(&[12]), 0, 0, 0, 0, 0]), Err(Error::WrongKind), "a table");
    assert_eq!(caller.result(Call::UnmapPage, [raw(&[TASK]), 0, 0, 0, 0, 0]), Err(Error::WrongKind));
    assert_eq!(caller.result(Call::UnmapPage, [raw(&[99]), 0, 0, 0, 0, 0]), Err(Error::EmptySlot));
    let rights = MapRights::WRITABLE.bits();
    assert_eq!(caller.result(Call::MapPage, [raw(&[13]), raw(&[SPACE]), 0x40_2000, rights, 0, 0]), Ok(0));
    let page = caller.system.root.slot(13).upgrade::<AnyObject>().unwrap();
    assert_eq!(mapping::translate(&space, 0x40_2000).map(|(frame, _)| frame), Some(page.address()));
    audit_passes(&caller).expect("the audit passes");
}
// ANCHOR_END: unmap_page_test

// ANCHOR: loader_garbage
/// What a user-space loader asks of the kernel, with hostile arguments:
/// retypes, tables, maps (of read-only module pages too), unmaps, task
/// fields. Slots 20 to 23 hold read-only pages.
fn loader_call() -> impl Strategy<Value = (Call, [u64; 6])> {
    let slot = || {
        prop_oneof![
            2 => (20u8..24).prop_map(|slot| raw(&[slot])),
            2 => (0u8..32).prop_map(|slot| raw(&[slot])),
            1 => any::<u64>(),
        ]
    };
    let space = prop_oneof![3 => Just(raw(&[SPACE])), 1 => slot()];
    let kind = prop_oneof![(1u64..=10), any::<u64>()];
    let address = prop_oneof![
        (0u64..8).prop_map(|page| 0x40_0000 + page * 0x1000),
        Just(0),
        Just(0xffff_8000_0000_0000),
        Just(0x8000_0000_0000),
        any::<u64>(),
    ];
    let rights = prop_oneof![0u64..4, any::<u64>()];
    prop_oneof![
        (slot(), kind, slot()).prop_map(|(untyped, kind, to)| (Call::Retype, [untyped, kind, to, 0, 0, 0])),
        (slot(), address.clone())
            .prop_map(|(table, at)| (Call::MapTable, [table, raw(&[SPACE]), at, 0, 0, 0])),
        (slot(), space, address, rights)
            .prop_map(|(page, space, at, rights)| (Call::MapPage, [page, space, at, rights, 0, 0])),
        slot().prop_map(|page| (Call::UnmapPage, [page, 0, 0, 0, 0, 0])),
        (0u64..8, slot()).prop_map(|(field, value)| (Call::TaskSet, [raw(&[TASK]), field, value, 0, 0, 0])),
        (slot(), slot()).prop_map(|(from, to)| (Call::Copy, [from, to, 0, 0, 0, 0])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever a loader asks, the kernel keeps its invariants: the audit
    /// passes after every call (so no read-only page is ever mapped
    /// writable or a task's buffer), and every refusal is an ABI error.
    #[test]
    fn a_hostile_loader_never_breaks_the_kernel(calls in proptest::collection::vec(loader_call(), 1..60)) {
        let caller = caller();
        // Tables for 0x40_0000 on, and a writable page at 0x40_0000.
        map_a_page(&caller, 13);
        for slot in 20..24 {
            read_only_page(&caller, slot);
        }
        for (call, args) in calls {
            let result = caller.result(call, args);
            if let Err(error) = result {
                prop_assert!(Error::try_from(error as u64).is_ok());
            }
            if let Err(error) = audit_passes(&caller) {
                prop_assert!(false, "after {call:?} {args:x?}: {error}");
            }
        }
        for slot in 20..24 {
            let page = caller.system.root.slot(slot).upgrade::<AnyObject>();
            if let Ok(page) = page {
                prop_assert!(mapping::is_read_only(&page));
            }
        }
    }
}
// ANCHOR_END: loader_garbage
