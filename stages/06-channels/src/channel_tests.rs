//! Host tests of channels: messages put and taken through the system calls
//! of tasks made of heap memory, blocking and waking, capabilities in
//! flight, and what destroying a channel or a waiting task does.

use crate::objects::channel::CAPACITY;
use crate::objects::task::TaskState;
use crate::objects::testing::{System, system};
use crate::objects::{AnyObject, ManagedArc, ObjectKind, Task, cpool};
use crate::scheduler;
use crate::syscalls::{self, After};
use abi::syscall::{MessageKind, REVOKED_IN_FLIGHT};
use abi::{CAddr, Call, Error};
use scheduler::run_queue_for_tests as run_queue;

/// Root slots the tests use (1 is the untyped).
const CHANNEL: u8 = 2;
const SECOND_UNTYPED: u8 = 3;

/// Tasks sharing one root pool, each with its own buffer page, and a
/// channel. The tasks go before the memory they live in.
struct World {
    tasks: Vec<ManagedArc<Task>>,
    system: System,
}

fn world(tasks: usize) -> World {
    let system = system(128);
    let root = &system.root;
    root.slot(0).downgrade(root).unwrap();
    let untyped = CAddr::root(1);
    cpool::retype(root, untyped, ObjectKind::Channel, 0, CAddr::root(CHANNEL)).unwrap();
    cpool::retype(root, untyped, ObjectKind::Untyped, 16 * 4096, CAddr::root(SECOND_UNTYPED)).unwrap();
    let tasks = (0..tasks as u8)
        .map(|index| {
            let (task_slot, buffer_slot) = (10 + 2 * index, 11 + 2 * index);
            cpool::retype(root, untyped, ObjectKind::Task, 0, CAddr::root(task_slot)).unwrap();
            cpool::retype(root, untyped, ObjectKind::RawPage, 0, CAddr::root(buffer_slot)).unwrap();
            let task = root.slot(task_slot).upgrade::<Task>().unwrap();
            task.cpool_slot().downgrade(root).unwrap();
            task.buffer_slot().downgrade(&root.slot(buffer_slot).upgrade::<AnyObject>().unwrap()).unwrap();
            task.set_run_state(TaskState::Running);
            task
        })
        .collect();
    World { tasks, system }
}

fn raw(slot: u8) -> u64 {
    CAddr::root(slot).to_raw()
}

impl World {
    /// Task `index` makes `call`; returns the result in its registers, the
    /// message kind in `rsi`, and what the scheduler is told.
    fn call(&self, index: usize, call: Call, args: [u64; 6]) -> (Result<u64, Error>, u64, After) {
        let task = &self.tasks[index];
        {
            // SAFETY: the test is the task's only user.
            let frame = &mut unsafe { task.context() }.frame;
            frame.rax = call as u64;
            [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9] = args;
        }
        let after = syscalls::handle(task, &self.system.root);
        (self.registers(index).0, self.registers(index).1, after)
    }

    /// The result and kind in task `index`'s registers.
    fn registers(&self, index: usize) -> (Result<u64, Error>, u64) {
        // SAFETY: the test is the task's only user.
        let frame = &unsafe { self.tasks[index].context() }.frame;
        (abi::syscall::decode_result(frame.rax, frame.rdx).expect("ABI codes"), frame.rsi)
    }

    fn put_raw(&self, index: usize, value: u64) -> Result<u64, Error> {
        self.call(index, Call::ChannelPut, [raw(CHANNEL), MessageKind::Raw as u64, value, 0, 0, 0]).0
    }

    fn take(&self, index: usize, destination: u64) -> (Result<u64, Error>, u64, After) {
        self.call(index, Call::ChannelTake, [raw(CHANNEL), destination, 0, 0, 0, 0])
    }

    /// Task `index`'s buffer.
    #[allow(clippy::mut_from_ref)] // heap memory the test owns
    fn buffer(&self, index: usize) -> &mut [u8; 4096] {
        self.tasks[index].buffer().unwrap().1
    }
}

// ANCHOR: queue_tests
#[test]
fn messages_come_out_in_order_and_a_full_channel_refuses_more() {
    let world = world(1);
    for value in 1..=CAPACITY as u64 {
        assert_eq!(world.put_raw(0, value), Ok(0));
    }
    assert_eq!(world.put_raw(0, 99), Err(Error::ChannelFull), "a put never blocks");
    for value in 1..=CAPACITY as u64 {
        assert_eq!(world.take(0, 0), (Ok(value), MessageKind::Raw as u64, After::Continue));
    }
    assert_eq!(world.put_raw(0, 7), Ok(0), "room again");
    assert_eq!(world.take(0, 0).0, Ok(7));
}

#[test]
fn a_take_on_an_empty_channel_blocks_until_a_put_and_takers_are_served_in_order() {
    let _queue = run_queue();
    let world = world(3);
    assert_eq!(world.take(1, 0).2, After::Blocked);
    assert_eq!(world.take(2, 0).2, After::Blocked);
    assert_eq!(world.tasks[1].run_state(), TaskState::Blocked);
    let channel = world.system.root.slot(CHANNEL).upgrade::<crate::objects::channel::Channel>().unwrap();
    assert_eq!(channel.takers(8).collect::<Vec<_>>(), [world.tasks[1].id(), world.tasks[2].id()]);

    assert_eq!(world.put_raw(0, 5), Ok(0));
    assert_eq!(world.registers(1), (Ok(5), MessageKind::Raw as u64), "the first taker got it");
    assert_eq!(world.tasks[1].run_state(), TaskState::Ready);
    assert_eq!(world.tasks[2].run_state(), TaskState::Blocked, "the second still waits");
    assert_eq!(scheduler::ready_tasks(8).collect::<Vec<_>>(), [world.tasks[1].id()]);
    assert_eq!(world.put_raw(0, 6), Ok(0));
    assert_eq!(world.registers(2), (Ok(6), MessageKind::Raw as u64));
    assert!(channel.is_empty() && channel.takers(8).next().is_none());
}
// ANCHOR_END: queue_tests

#[test]
fn payloads_travel_from_buffer_to_buffer() {
    let world = world(2);
    world.buffer(0)[..5].copy_from_slice(b"hello");
    let put = [raw(CHANNEL), MessageKind::Payload as u64, 5, 0, 0, 0];
    assert_eq!(world.call(0, Call::ChannelPut, put).0, Ok(0));
    let too_long = [raw(CHANNEL), MessageKind::Payload as u64, 257, 0, 0, 0];
    assert_eq!(world.call(0, Call::ChannelPut, too_long).0, Err(Error::BufferTooLong));
    assert_eq!(world.take(1, 0), (Ok(5), MessageKind::Payload as u64, After::Continue));
    assert_eq!(&world.buffer(1)[..5], b"hello");
}

// ANCHOR: capability_tests
#[test]
fn a_capability_is_copied_in_and_moved_out_into_the_slot_the_taker_names() {
    let world = world(2);
    let put = [raw(CHANNEL), MessageKind::Capability as u64, raw(0), 0, 0, 0];
    assert_eq!(world.call(0, Call::ChannelPut, put).0, Ok(0));
    assert!(!world.system.root.slot(0).is_empty(), "the sender keeps its own");

    // An occupied destination: refused, and the message stays.
    assert_eq!(world.take(1, raw(CHANNEL)).0, Err(Error::SlotOccupied));
    assert_eq!(world.take(1, 0x0909).0, Err(Error::MalformedAddress));
    assert_eq!(world.take(1, raw(200)), (Ok(raw(200)), MessageKind::Capability as u64, After::Continue));
    assert_eq!(world.system.root.slot(200).kind(), Some(ObjectKind::CPool));
}

#[test]
fn revoking_an_object_in_flight_empties_its_message() {
    let world = world(2);
    let page = ObjectKind::RawPage.code();
    let retype = [raw(SECOND_UNTYPED), page, raw(40), 0, 0, 0];
    assert_eq!(world.call(0, Call::Retype, retype).0, Ok(0));
    let put = [raw(CHANNEL), MessageKind::Capability as u64, raw(40), 0, 0, 0];
    assert_eq!(world.call(0, Call::ChannelPut, put).0, Ok(0));
    assert_eq!(world.call(0, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]).0, Ok(0));
    assert_eq!(
        world.take(1, raw(41)),
        (Ok(REVOKED_IN_FLIGHT), MessageKind::Capability as u64, After::Continue)
    );
    assert!(world.system.root.slot(41).is_empty());
}
// ANCHOR_END: capability_tests

#[test]
fn destroying_a_channel_wakes_its_takers_with_an_error() {
    let _queue = run_queue();
    let world = world(2);
    let retype = [raw(SECOND_UNTYPED), ObjectKind::Channel.code(), raw(50), 0, 0, 0];
    assert_eq!(world.call(0, Call::Retype, retype).0, Ok(0));
    let take = [raw(50), 0, 0, 0, 0, 0];
    assert_eq!(world.call(1, Call::ChannelTake, take).2, After::Blocked);
    assert_eq!(world.call(0, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]).0, Ok(0));
    assert_eq!(world.registers(1).0, Err(Error::ChannelClosed));
    assert_eq!(world.tasks[1].run_state(), TaskState::Ready);
}

#[test]
fn stopping_or_destroying_a_waiting_task_takes_it_out_of_the_queue() {
    let _queue = run_queue();
    let world = world(2);
    assert_eq!(world.take(1, 0).2, After::Blocked);
    let channel = world.system.root.slot(CHANNEL).upgrade::<crate::objects::channel::Channel>().unwrap();
    assert_eq!(world.call(0, Call::TaskStart, [raw(12), 0, 0, 0, 0, 0]).0, Err(Error::InUse), "it is active");
    assert_eq!(world.call(0, Call::TaskStop, [raw(12), 0, 0, 0, 0, 0]).0, Ok(0));
    assert!(channel.takers(8).next().is_none());
    assert_eq!(world.registers(1).0, Err(Error::ChannelEmpty), "its take was cancelled");
    assert_eq!(world.put_raw(0, 1), Ok(0), "the message waits for the next take");
    assert_eq!(channel.len(), 1);
}
