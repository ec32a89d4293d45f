//! Host tests of channels: messages put and taken through the system calls
//! of tasks made of heap memory, blocking and waking, capabilities in
//! flight, and what destroying a channel or a waiting task does.

use crate::fastpath;
use crate::objects::channel::{CAPACITY, Channel, Outgoing};
use crate::objects::task::TaskState;
use crate::objects::testing::{System, system};
use crate::objects::{AnyObject, ManagedArc, ObjectKind, Task, cpool};
use crate::scheduler;
use crate::syscalls::{self, After};
use abi::syscall::{MAX_PAYLOAD, MessageKind, REVOKED_IN_FLIGHT};
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
        self.set_call(index, call, args);
        let after = syscalls::handle(&self.tasks[index], &self.system.root);
        (self.registers(index).0, self.registers(index).1, after)
    }

    /// Task `index` traps with `call` in its registers (not handled yet).
    fn set_call(&self, index: usize, call: Call, args: [u64; 6]) {
        // SAFETY: the test is the task's only user.
        let frame = &mut unsafe { self.tasks[index].context() }.frame;
        frame.rax = call as u64;
        [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9] = args;
    }

    /// Task `index` traps with `call`, and the scheduler tries the fast
    /// path: the number of the task it switched to, if it took it.
    fn fast(&self, index: usize, call: Call, args: [u64; 6]) -> Option<u64> {
        self.set_call(index, call, args);
        fastpath::channel_put(&self.tasks[index], &self.system.root).map(|next| next.id())
    }

    /// Task `index`'s put of `value`, by the fast path if it is taken, by
    /// the general path otherwise.
    fn fast_put_raw(&self, index: usize, value: u64) -> Option<u64> {
        self.fast(index, Call::ChannelPut, [raw(CHANNEL), MessageKind::Raw as u64, value, 0, 0, 0])
    }

    /// Every task's registers that carry results (rax, rdx, rsi) and state.
    fn snapshot(&self) -> Vec<(u64, u64, u64, TaskState)> {
        let registers = |task: &ManagedArc<Task>| {
            // SAFETY: the test is the task's only user.
            let frame = &unsafe { task.context() }.frame;
            (frame.rax, frame.rdx, frame.rsi, task.run_state())
        };
        self.tasks.iter().map(registers).collect()
    }

    fn channel(&self) -> ManagedArc<Channel> {
        self.system.root.slot(CHANNEL).upgrade::<Channel>().unwrap()
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

#[test]
fn put_itself_takes_a_full_payload_and_refuses_one_byte_more() {
    // The system call checks the length before `put` sees it; `put` must
    // hold its own bound too, whoever calls it.
    let world = world(2);
    let channel = world.channel();
    let longest = [0xa5u8; MAX_PAYLOAD];
    assert_eq!(channel.put(Outgoing::Payload(&longest)), Ok(()));
    assert_eq!(channel.len(), 1);
    let too_long = [0x5au8; MAX_PAYLOAD + 1];
    assert_eq!(channel.put(Outgoing::Payload(&too_long)), Err(Error::BufferTooLong));
    assert_eq!(channel.len(), 1, "a refused put changes nothing");
    assert_eq!(world.take(1, 0), (Ok(MAX_PAYLOAD as u64), MessageKind::Payload as u64, After::Continue));
    assert_eq!(world.buffer(1)[..MAX_PAYLOAD], longest);
    assert_eq!(world.buffer(1)[MAX_PAYLOAD], 0, "not one byte more");
    assert!(channel.is_empty());
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

// ANCHOR: fastpath_tests
/// The fast path (`fastpath.rs`) is taken when its conditions hold: the
/// oldest taker gets the number and runs next, the sender is ready.
#[test]
fn the_fast_path_hands_a_number_to_the_oldest_taker_and_switches_to_it() {
    let _queue = run_queue();
    let world = world(3);
    assert_eq!(world.take(1, 0).2, After::Blocked);
    assert_eq!(world.take(2, 0).2, After::Blocked);

    assert_eq!(world.fast_put_raw(0, 5), Some(world.tasks[1].id()), "taken, to the oldest taker");
    assert_eq!(world.registers(1), (Ok(5), MessageKind::Raw as u64));
    assert_eq!(world.registers(0).0, Ok(0), "the put succeeded");
    assert_eq!(world.tasks[1].run_state(), TaskState::Running, "the receiver runs next");
    assert_eq!(world.tasks[0].run_state(), TaskState::Ready);
    assert_eq!(scheduler::ready_tasks(8).collect::<Vec<_>>(), [world.tasks[0].id()]);
    assert_eq!(world.channel().takers(8).collect::<Vec<_>>(), [world.tasks[2].id()]);
    assert!(world.channel().is_empty());

    // The sender runs again (the scheduler took it from the queue): its
    // next put goes to the second taker.
    assert_eq!(scheduler::run_queue().pop_front().map(|task| task.id()), Some(world.tasks[0].id()));
    world.tasks[0].set_run_state(TaskState::Running);
    assert_eq!(world.fast_put_raw(0, 6), Some(world.tasks[2].id()));
    assert_eq!(world.registers(2), (Ok(6), MessageKind::Raw as u64));
    assert!(world.channel().takers(8).next().is_none());
}

/// When a condition does not hold, the fast path changes nothing, and the
/// general path does what it always did.
#[test]
fn the_fast_path_is_not_taken_otherwise_and_changes_nothing() {
    let _queue = run_queue();
    let world = world(3);
    let put = |value| [raw(CHANNEL), MessageKind::Raw as u64, value, 0, 0, 0];
    // No taker waits: the message must wait in the channel.
    let before = world.snapshot();
    assert_eq!(world.fast(0, Call::ChannelPut, put(1)), None);
    assert_eq!(world.snapshot()[1..], before[1..]);
    assert!(world.channel().is_empty(), "nothing was put");
    assert_eq!(world.put_raw(0, 1), Ok(0));
    assert_eq!(world.take(1, 0).0, Ok(1));

    assert_eq!(world.take(1, 0).2, After::Blocked);
    // Not a put of a number, or not a channel: the general path's cases.
    world.buffer(0)[0] = b'x';
    for (call, args) in [
        (Call::Nop, [0; 6]),
        (Call::ChannelTake, [raw(CHANNEL), 0, 0, 0, 0, 0]),
        (Call::ChannelPut, [raw(CHANNEL), MessageKind::Payload as u64, 1, 0, 0, 0]),
        (Call::ChannelPut, [raw(CHANNEL), MessageKind::Capability as u64, raw(0), 0, 0, 0]),
        (Call::ChannelPut, [raw(1), MessageKind::Raw as u64, 7, 0, 0, 0]),
        (Call::ChannelPut, [raw(99), MessageKind::Raw as u64, 7, 0, 0, 0]),
        (Call::ChannelPut, [0x0909, MessageKind::Raw as u64, 7, 0, 0, 0]),
    ] {
        let before = world.snapshot();
        assert_eq!(world.fast(0, call, args), None, "{call:?} {args:?}");
        assert_eq!(world.snapshot()[1..], before[1..], "{call:?} {args:?}: changed nothing");
        assert_eq!(world.channel().takers(8).collect::<Vec<_>>(), [world.tasks[1].id()]);
    }
    assert_eq!(
        world.call(0, Call::ChannelPut, [raw(1), MessageKind::Raw as u64, 7, 0, 0, 0]).0,
        Err(Error::WrongKind)
    );
    assert_eq!(
        world.call(0, Call::ChannelPut, [raw(99), MessageKind::Raw as u64, 7, 0, 0, 0]).0,
        Err(Error::EmptySlot)
    );

    // Another task is ready: the general path, which runs the sender on.
    world.tasks[2].set_run_state(TaskState::Inactive);
    scheduler::make_ready(&world.tasks[2]);
    let before = world.snapshot();
    assert_eq!(world.fast(0, Call::ChannelPut, put(8)), None);
    assert_eq!(world.snapshot()[1..], before[1..]);
    assert_eq!(world.tasks[1].run_state(), TaskState::Blocked);
    assert_eq!(world.put_raw(0, 8), Ok(0));
    assert_eq!(world.registers(1), (Ok(8), MessageKind::Raw as u64));
    let ready = [world.tasks[2].id(), world.tasks[1].id()];
    assert_eq!(scheduler::ready_tasks(8).collect::<Vec<_>>(), ready);
}

/// The fast path leaves what the general path leaves: the same results in
/// every register, the same takers, a channel that fills and empties the
/// same way afterwards. The one difference is who runs first.
#[test]
fn the_fast_path_leaves_the_same_state_as_the_general_path() {
    let outcome = |fast: bool| {
        let _queue = run_queue();
        let world = world(3);
        assert_eq!(world.take(1, 0).2, After::Blocked);
        assert_eq!(world.take(2, 0).2, After::Blocked);
        for value in [10, 11] {
            match fast {
                true => {
                    let receiver = world.fast_put_raw(0, value).expect("the fast path is taken");
                    // The scheduler would run the receiver, then the sender.
                    let receiver = world.tasks.iter().find(|task| task.id() == receiver).unwrap();
                    receiver.set_run_state(TaskState::Ready);
                    let sender = scheduler::run_queue().pop_front().unwrap();
                    sender.set_run_state(TaskState::Running);
                }
                false => {
                    assert_eq!(world.put_raw(0, value), Ok(0));
                    // Both receivers are ready, in the run queue.
                    scheduler::run_queue().pop_front().unwrap().set_run_state(TaskState::Ready);
                }
            }
        }
        let mut seen = vec![world.snapshot()];
        // The channel afterwards: full after CAPACITY puts, then emptied in order.
        for value in 0..CAPACITY as u64 {
            assert_eq!(world.put_raw(0, value), Ok(0));
        }
        assert_eq!(world.put_raw(0, 99), Err(Error::ChannelFull));
        for value in 0..CAPACITY as u64 {
            assert_eq!(world.take(1, 0).0, Ok(value));
        }
        seen.push(world.snapshot());
        assert!(scheduler::ready_tasks(8).next().is_none());
        seen
    };
    assert_eq!(outcome(true), outcome(false));
}
// ANCHOR_END: fastpath_tests
