//! Host tests of channels: messages put and taken through the system calls
//! of tasks made of heap memory, blocking and waking, capabilities in
//! flight, and what destroying a channel or a waiting task does.

use crate::fastpath;
use crate::objects::channel::{CAPACITY, Channel, Outgoing};
use crate::objects::task::{RUN_QUEUE, TaskState, make_ready, run_queue_for_tests as run_queue};
use crate::objects::testing::{System, system};
use crate::objects::{AnyObject, ManagedArc, ObjectKind, Task, cpool};
use crate::scheduler;
use crate::syscalls::{self, Next};
use abi::syscall::{MAX_PAYLOAD, MessageKind, REVOKED_IN_FLIGHT, SyscallArgs};
use abi::{CAddr, Call, Error};

/// Root slots the tests use (1 is the untyped).
const CHANNEL: u8 = 2;
const SECOND_UNTYPED: u8 = 3;
/// A second channel, for the replies of `ChannelCall`.
const REPLY: u8 = 4;

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
    cpool::retype(root, untyped, ObjectKind::Channel, 0, CAddr::root(REPLY)).unwrap();
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

/// The arguments of a `ChannelCall` of the number `value`.
fn call_args(put_on: u8, value: u64, take_from: u8) -> [u64; 6] {
    [raw(put_on), MessageKind::Raw as u64, value, raw(take_from), 0, 0]
}

impl World {
    /// Task `index` makes `call`; returns the result in its registers, the
    /// message kind in `rsi`, and what the scheduler is told.
    fn call(&self, index: usize, call: Call, args: [u64; 6]) -> (Result<u64, Error>, u64, Next) {
        self.set_call(index, call, args);
        let next = syscalls::handle_general(&self.tasks[index], &self.system.root);
        if self.tasks[index].run_state() == TaskState::Blocked {
            // No answer yet: its registers still hold the call.
            return (Ok(0), 0, next);
        }
        (self.registers(index).0, self.registers(index).1, next)
    }

    /// Task `index` traps with `call` in its registers (not handled yet).
    fn set_call(&self, index: usize, call: Call, args: [u64; 6]) {
        self.tasks[index].set_call(SyscallArgs { number: call as u64, args });
    }

    /// Task `index` traps with `call`, and the scheduler tries the fast
    /// path: the number of the task it switched to, if it took it.
    fn fast(&self, index: usize, call: Call, args: [u64; 6]) -> Option<u64> {
        self.set_call(index, call, args);
        let (sender, root) = (&self.tasks[index], &self.system.root);
        // `handle` tries the fast path for every call but `Nop`.
        fastpath::to_waiting_taker(sender, root, sender.call_number()).map(|next| next.id())
    }

    /// Task `index`'s put of `value`, by the fast path if it is taken, by
    /// the general path otherwise.
    fn fast_put_raw(&self, index: usize, value: u64) -> Option<u64> {
        self.fast(index, Call::ChannelPut, [raw(CHANNEL), MessageKind::Raw as u64, value, 0, 0, 0])
    }

    /// Every task's registers that carry results (rax, rdx, rsi) and state.
    fn snapshot(&self) -> Vec<(u64, u64, u64, TaskState)> {
        let registers = |task: &ManagedArc<Task>| {
            let [rax, rdx, rsi] = task.result_registers();
            (rax, rdx, rsi, task.run_state())
        };
        self.tasks.iter().map(registers).collect()
    }

    fn channel(&self) -> ManagedArc<Channel> {
        self.system.root.slot(CHANNEL).upgrade::<Channel>().unwrap()
    }

    /// The result and kind in task `index`'s registers.
    fn registers(&self, index: usize) -> (Result<u64, Error>, u64) {
        let [rax, rdx, rsi] = self.tasks[index].result_registers();
        (abi::syscall::decode_result(rax, rdx).expect("ABI codes"), rsi)
    }

    fn put_raw(&self, index: usize, value: u64) -> Result<u64, Error> {
        self.call(index, Call::ChannelPut, [raw(CHANNEL), MessageKind::Raw as u64, value, 0, 0, 0]).0
    }

    fn take(&self, index: usize, destination: u64) -> (Result<u64, Error>, u64, Next) {
        self.call(index, Call::ChannelTake, [raw(CHANNEL), destination, 0, 0, 0, 0])
    }

    /// Task `index`'s `ChannelCall` of the number `value`: put on
    /// `put_on`, take from `take_from` (a capability into slot 0's
    /// address, which tests of numbers never use).
    fn call_raw(
        &self,
        index: usize,
        put_on: u8,
        value: u64,
        take_from: u8,
    ) -> (Result<u64, Error>, u64, Next) {
        self.call(index, Call::ChannelCall, call_args(put_on, value, take_from))
    }

    /// The tasks waiting on the channel in `slot`, as indices into
    /// `tasks` (task numbers differ from world to world).
    fn takers_by_index(&self, slot: u8) -> Vec<usize> {
        let position = |id| self.tasks.iter().position(|task| task.id() == id).expect("a task of this world");
        self.channel_in(slot).takers(8).map(position).collect()
    }

    fn channel_in(&self, slot: u8) -> ManagedArc<Channel> {
        self.system.root.slot(slot).upgrade::<Channel>().unwrap()
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
        assert_eq!(world.take(0, 0), (Ok(value), MessageKind::Raw as u64, Next::Caller));
    }
    assert_eq!(world.put_raw(0, 7), Ok(0), "room again");
    assert_eq!(world.take(0, 0).0, Ok(7));
}

#[test]
fn a_take_on_an_empty_channel_blocks_until_a_put_and_takers_are_served_in_order() {
    let _queue = run_queue();
    let world = world(3);
    assert_eq!(world.take(1, 0).2, Next::Other);
    assert_eq!(world.take(2, 0).2, Next::Other);
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
    assert_eq!(world.take(1, 0), (Ok(5), MessageKind::Payload as u64, Next::Caller));
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
    assert_eq!(world.take(1, 0), (Ok(MAX_PAYLOAD as u64), MessageKind::Payload as u64, Next::Caller));
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
    assert_eq!(world.take(1, raw(200)), (Ok(raw(200)), MessageKind::Capability as u64, Next::Caller));
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
    assert_eq!(world.take(1, raw(41)), (Ok(REVOKED_IN_FLIGHT), MessageKind::Capability as u64, Next::Caller));
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
    assert_eq!(world.call(1, Call::ChannelTake, take).2, Next::Other);
    assert_eq!(world.call(0, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]).0, Ok(0));
    assert_eq!(world.registers(1).0, Err(Error::ChannelClosed));
    assert_eq!(world.tasks[1].run_state(), TaskState::Ready);
}

#[test]
fn stopping_or_destroying_a_waiting_task_takes_it_out_of_the_queue() {
    let _queue = run_queue();
    let world = world(2);
    assert_eq!(world.take(1, 0).2, Next::Other);
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
    assert_eq!(world.take(1, 0).2, Next::Other);
    assert_eq!(world.take(2, 0).2, Next::Other);

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
    assert_eq!(RUN_QUEUE.pop_front().map(|task| task.id()), Some(world.tasks[0].id()));
    world.tasks[0].set_run_state(TaskState::Running);
    // Through `handle`, the scheduler's way in: it says to switch.
    world.set_call(0, Call::ChannelPut, [raw(CHANNEL), MessageKind::Raw as u64, 6, 0, 0, 0]);
    let next = syscalls::handle(&world.tasks[0], &world.system.root);
    assert_eq!(next, Next::Switch(world.tasks[2].clone()));
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

    assert_eq!(world.take(1, 0).2, Next::Other);
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
    make_ready(&world.tasks[2]);
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
        assert_eq!(world.take(1, 0).2, Next::Other);
        assert_eq!(world.take(2, 0).2, Next::Other);
        for value in [10, 11] {
            match fast {
                true => {
                    let receiver = world.fast_put_raw(0, value).expect("the fast path is taken");
                    // The scheduler would run the receiver, then the sender.
                    let receiver = world.tasks.iter().find(|task| task.id() == receiver).unwrap();
                    receiver.set_run_state(TaskState::Ready);
                    let sender = RUN_QUEUE.pop_front().unwrap();
                    sender.set_run_state(TaskState::Running);
                }
                false => {
                    assert_eq!(world.put_raw(0, value), Ok(0));
                    // Both receivers are ready, in the run queue.
                    RUN_QUEUE.pop_front().unwrap().set_run_state(TaskState::Ready);
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

/// The fast path's lookup (`cpool::borrow_in_root`, no count taken) finds
/// a channel exactly when the general path's finds one in a root slot:
/// for every root slot (empty, a channel, another kind) and any register
/// value a task may pass.
#[test]
fn the_fast_lookup_finds_what_the_general_lookup_finds_in_the_root_pool() {
    let world = world(1);
    let root = &world.system.root;
    let agrees = |raw: u64| {
        let general =
            CAddr::from_raw(raw).ok().and_then(|address| cpool::lookup_object::<Channel>(root, address).ok());
        let counts = general.as_ref().map(|channel| channel.strong_count());
        let fast = cpool::borrow_in_root::<Channel>(root, raw);
        match (&fast, &general) {
            (Some(fast), Some(general)) => {
                assert!(fast.same_object(general), "{raw:#x}");
                assert_eq!(Some(fast.strong_count()), counts, "{raw:#x}: no count taken");
            }
            (Some(_), None) => panic!("{raw:#x}: the fast lookup found what the general one refused"),
            (None, Some(_)) => assert!(raw & 0xff != 1, "{raw:#x}: a root channel the fast lookup missed"),
            (None, None) => {}
        }
    };
    for index in 0..=u8::MAX {
        agrees(CAddr::root(index).to_raw());
        agrees(CAddr::new(&[0, index]).unwrap().to_raw());
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..10_000 {
        // A xorshift: any value, and many of depth 1 with junk above.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        agrees(state);
        agrees((state & !0xff) | 1);
        agrees(state & 0xff_ff00 | 1);
    }
}
// ANCHOR_END: fastpath_tests

// ANCHOR: call_tests
/// `ChannelCall` is a put, then a take: the client's request reaches the
/// waiting server and the client waits on its reply channel; the server's
/// reply reaches the client, and the server waits for the next request.
#[test]
fn a_call_puts_the_request_and_waits_for_the_reply_and_the_server_answers_the_same_way() {
    let _queue = run_queue();
    let world = world(2);
    let (client, server) = (0, 1);
    assert_eq!(world.take(server, 0).2, Next::Other, "the server waits for a request");

    assert_eq!(world.call_raw(client, CHANNEL, 5, REPLY).2, Next::Other, "the client waits");
    assert_eq!(world.tasks[client].run_state(), TaskState::Blocked);
    assert_eq!(world.channel_in(REPLY).takers(8).collect::<Vec<_>>(), [world.tasks[client].id()]);
    assert_eq!(world.registers(server), (Ok(5), MessageKind::Raw as u64), "the request arrived");
    assert_eq!(scheduler::ready_tasks(8).collect::<Vec<_>>(), [world.tasks[server].id()]);
    RUN_QUEUE.pop_front().unwrap().set_run_state(TaskState::Running);

    assert_eq!(world.call_raw(server, REPLY, 6, CHANNEL).2, Next::Other, "the server waits again");
    assert_eq!(world.registers(client), (Ok(6), MessageKind::Raw as u64), "the reply arrived");
    assert_eq!(world.tasks[client].run_state(), TaskState::Ready);
    assert_eq!(world.tasks[server].run_state(), TaskState::Blocked);
    assert_eq!(world.channel().takers(8).collect::<Vec<_>>(), [world.tasks[server].id()]);
    assert!(world.channel().is_empty() && world.channel_in(REPLY).is_empty());
}

/// A reply already waiting is taken at once; a payload or a capability
/// travels in the put half as with `ChannelPut`.
#[test]
fn a_call_whose_reply_waits_returns_at_once_and_any_message_kind_can_be_put() {
    let _queue = run_queue();
    let world = world(1);
    assert_eq!(
        world.call_raw(0, REPLY, 7, REPLY),
        (Ok(7), MessageKind::Raw as u64, Next::Caller),
        "its own message"
    );
    world.buffer(0)[..2].copy_from_slice(b"hi");
    let payload = [raw(REPLY), MessageKind::Payload as u64, 2, raw(CHANNEL), 0, 0];
    assert_eq!(world.put_raw(0, 8), Ok(0));
    assert_eq!(world.call(0, Call::ChannelCall, payload).0, Ok(8));
    world.buffer(0)[..2].copy_from_slice(b"--");
    let take_reply = [raw(REPLY), 0, 0, 0, 0, 0];
    assert_eq!(
        world.call(0, Call::ChannelTake, take_reply),
        (Ok(2), MessageKind::Payload as u64, Next::Caller)
    );
    assert_eq!(&world.buffer(0)[..2], b"hi");
}

/// A refused call changes nothing: a missing or wrong channel on either
/// side, a refused put (a full channel, a bad kind): nothing is put,
/// nothing taken, nobody waits.
#[test]
fn a_refused_call_changes_nothing() {
    let _queue = run_queue();
    let world = world(2);
    for value in 0..CAPACITY as u64 {
        assert_eq!(world.put_raw(0, value), Ok(0));
    }
    assert_eq!(world.call(1, Call::ChannelPut, [raw(REPLY), MessageKind::Raw as u64, 42, 0, 0, 0]).0, Ok(0));
    let cases = [
        (call_args(CHANNEL, 1, REPLY), Error::ChannelFull),
        (call_args(REPLY, 1, 1), Error::WrongKind),
        (call_args(REPLY, 1, 99), Error::EmptySlot),
        (call_args(1, 1, REPLY), Error::WrongKind),
        (call_args(99, 1, REPLY), Error::EmptySlot),
        ([raw(REPLY), 0, 1, raw(REPLY), 0, 0], Error::OutOfRange),
        ([raw(REPLY), MessageKind::Raw as u64, 1, 0x0909, 0, 0], Error::MalformedAddress),
        ([raw(REPLY), MessageKind::Payload as u64, 4097, raw(REPLY), 0, 0], Error::BufferTooLong),
    ];
    for (args, error) in cases {
        let state = |world: &World| {
            (world.snapshot()[1..].to_vec(), world.channel().len(), world.channel_in(REPLY).len())
        };
        let before = state(&world);
        let (result, _, next) = world.call(0, Call::ChannelCall, args);
        assert_eq!((result, next), (Err(error), Next::Caller), "{args:x?}");
        assert_eq!(state(&world), before, "{args:x?}: changed nothing");
        assert_eq!(world.tasks[0].run_state(), TaskState::Running);
        assert!(
            world.channel().takers(8).next().is_none() && world.channel_in(REPLY).takers(8).next().is_none()
        );
    }
    assert_eq!(world.take(0, 0).0, Ok(0), "the full channel is as it was");
    assert_eq!(world.call_raw(0, CHANNEL, 3, REPLY).0, Ok(42), "and takes calls again");
}

/// The fast path takes a call both ways: the client's request to the
/// waiting server (the client then waits for its reply), and the server's
/// reply to the waiting client (the server then waits for the next
/// request). Two calls are a whole round trip, and nobody is left in the
/// run queue.
#[test]
fn the_fast_path_takes_a_round_trip_of_two_calls() {
    let _queue = run_queue();
    let world = world(2);
    let (client, server) = (0, 1);
    assert_eq!(world.take(server, 0).2, Next::Other);
    for round in 0..3 {
        let request = world.fast(client, Call::ChannelCall, call_args(CHANNEL, 100 + round, REPLY));
        assert_eq!(request, Some(world.tasks[server].id()), "round {round}: the request");
        assert_eq!(world.registers(server), (Ok(100 + round), MessageKind::Raw as u64));
        assert_eq!(world.tasks[client].run_state(), TaskState::Blocked);
        assert_eq!(world.tasks[server].run_state(), TaskState::Running);

        let reply = world.fast(server, Call::ChannelCall, call_args(REPLY, 200 + round, CHANNEL));
        assert_eq!(reply, Some(world.tasks[client].id()), "round {round}: the reply");
        assert_eq!(world.registers(client), (Ok(200 + round), MessageKind::Raw as u64));
        assert_eq!(world.tasks[server].run_state(), TaskState::Blocked);
        assert_eq!(world.tasks[client].run_state(), TaskState::Running);
        assert!(scheduler::ready_tasks(8).next().is_none(), "no detour through the run queue");
        assert!(world.channel().is_empty() && world.channel_in(REPLY).is_empty());
    }
}

/// When a condition does not hold for a call, the fast path changes
/// nothing: no taker waits, a reply waits already (the take would not
/// block), the reply slot holds no channel, the message is not a number,
/// another task is ready. The general path then does the call.
#[test]
fn the_fast_path_declines_a_call_otherwise_and_changes_nothing() {
    let _queue = run_queue();
    let world = world(3);
    let lengths = |world: &World| (world.channel().len(), world.channel_in(REPLY).len());
    let declined = |world: &World, args: [u64; 6], why: &str| {
        let before = (world.snapshot(), lengths(world));
        assert_eq!(world.fast(0, Call::ChannelCall, args), None, "{why}");
        assert_eq!(
            (world.snapshot()[1..].to_vec(), lengths(world)),
            (before.0[1..].to_vec(), before.1),
            "{why}"
        );
    };
    declined(&world, call_args(CHANNEL, 1, REPLY), "no taker waits");
    assert_eq!(world.take(1, 0).2, Next::Other);
    assert_eq!(world.call(2, Call::ChannelPut, [raw(REPLY), MessageKind::Raw as u64, 9, 0, 0, 0]).0, Ok(0));
    declined(&world, call_args(CHANNEL, 1, REPLY), "a reply waits already");
    assert_eq!(world.call(2, Call::ChannelTake, [raw(REPLY), 0, 0, 0, 0, 0]).0, Ok(9));
    declined(&world, call_args(CHANNEL, 1, 1), "the reply slot holds an untyped");
    declined(&world, call_args(CHANNEL, 1, 99), "the reply slot is empty");
    declined(&world, [raw(CHANNEL), MessageKind::Raw as u64, 1, 0x0909, 0, 0], "a malformed reply address");
    // A channel reached through a pool in a root slot (depth 2) is the
    // general path's: the fast path looks in the root pool only.
    let deep = |slot: u8| CAddr::new(&[0, slot]).unwrap().to_raw();
    declined(
        &world,
        [deep(CHANNEL), MessageKind::Raw as u64, 1, raw(REPLY), 0, 0],
        "a deeper request address",
    );
    declined(&world, [raw(CHANNEL), MessageKind::Raw as u64, 1, deep(REPLY), 0, 0], "a deeper reply address");
    world.buffer(0)[0] = b'x';
    declined(&world, [raw(CHANNEL), MessageKind::Payload as u64, 1, raw(REPLY), 0, 0], "a payload");
    declined(
        &world,
        [raw(CHANNEL), MessageKind::Capability as u64, raw(0), raw(REPLY), 0, 0],
        "a capability",
    );
    world.tasks[2].set_run_state(TaskState::Inactive);
    make_ready(&world.tasks[2]);
    declined(&world, call_args(CHANNEL, 1, REPLY), "another task is ready");

    assert_eq!(world.call_raw(0, CHANNEL, 1, REPLY).2, Next::Other, "the general path does the call");
    assert_eq!(world.registers(1), (Ok(1), MessageKind::Raw as u64));
    assert_eq!(world.tasks[0].run_state(), TaskState::Blocked);
    let ready = [world.tasks[2].id(), world.tasks[1].id()];
    assert_eq!(scheduler::ready_tasks(8).collect::<Vec<_>>(), ready);
}

/// A round trip of calls leaves what the general path leaves: the same
/// registers, states, takers and channels. The general path gets there
/// through the run queue (each call makes the other task ready, and the
/// scheduler runs it next, since nothing else is ready).
#[test]
fn a_round_trip_on_the_fast_path_leaves_the_same_state_as_the_general_path() {
    let outcome = |fast: bool| {
        let _queue = run_queue();
        let world = world(2);
        let (client, server) = (0, 1);
        assert_eq!(world.take(server, 0).2, Next::Other);
        let mut seen = Vec::new();
        for (from, value, put_on, take_from) in
            [(client, 1, CHANNEL, REPLY), (server, 2, REPLY, CHANNEL), (client, 3, CHANNEL, REPLY)]
        {
            let args = call_args(put_on, value, take_from);
            match fast {
                true => assert!(world.fast(from, Call::ChannelCall, args).is_some(), "taken"),
                false => {
                    assert_eq!(world.call(from, Call::ChannelCall, args).2, Next::Other);
                    RUN_QUEUE.pop_front().expect("the other is ready").set_run_state(TaskState::Running);
                }
            }
            seen.push((world.snapshot(), world.takers_by_index(CHANNEL), world.takers_by_index(REPLY)));
        }
        // The channels afterwards: the reply channel fills and empties.
        for value in 0..CAPACITY as u64 {
            assert_eq!(
                world.call(server, Call::ChannelPut, [raw(REPLY), MessageKind::Raw as u64, value, 0, 0, 0]).0,
                Ok(0)
            );
        }
        assert!(RUN_QUEUE.pop_front().is_some(), "the client got the first");
        seen.push((world.snapshot(), world.takers_by_index(REPLY), vec![world.channel_in(REPLY).len()]));
        seen
    };
    assert_eq!(outcome(true), outcome(false));
}
// ANCHOR_END: call_tests
