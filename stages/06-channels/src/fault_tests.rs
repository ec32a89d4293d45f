//! Host tests of faults handled in user space (`faults.rs`): a task with a
//! fault channel is suspended and its handler hears of it; resume and stop;
//! and every way a fault cannot reach a handler (no channel, a full one, a
//! destroyed one, the handler's own fault, a fault storm) stops the task
//! instead of leaving it suspended for ever.

use crate::faults::{self, STORM_LIMIT, Undelivered};
use crate::objects::audit::audit;
use crate::objects::channel::{CAPACITY, Channel, Outgoing};
use crate::objects::task::{RUN_QUEUE, run_queue_for_tests as run_queue};
use crate::objects::task::{Stop, TaskState};
use crate::objects::testing::{System, system};
use crate::objects::{AnyObject, ManagedArc, ObjectKind, Task, cpool};
use crate::scheduler;
use crate::syscalls;
use abi::fault::{FaultMessage, PAGE_FAULT};
use abi::syscall::{MessageKind, REVOKED_IN_FLIGHT, SyscallArgs, TaskField};
use abi::{CAddr, Call, Error};
use common::user::Fault;

/// Root slots: 1 the untyped, 2 the fault channel, 3 an untyped the
/// channel can be revoked with, tasks from 10 (task, buffer, task, ...).
const CHANNEL: u8 = 2;
const SECOND_UNTYPED: u8 = 3;
/// Task 0 faults; task 1 handles.
const PROGRAM: usize = 0;
const HANDLER: usize = 1;
/// Where the handler's take puts the capability to the faulting task.
const FAULTED: u8 = 100;

struct World {
    tasks: Vec<ManagedArc<Task>>,
    system: System,
}

fn raw(slot: u8) -> u64 {
    CAddr::root(slot).to_raw()
}

fn task_slot(index: usize) -> u8 {
    10 + 2 * index as u8
}

/// Two running tasks sharing a root pool, each with a buffer, and a
/// channel in a second untyped (so it can be revoked).
fn world() -> World {
    let system = system(128);
    let root = &system.root;
    root.slot(0).downgrade(root).unwrap();
    let untyped = CAddr::root(1);
    cpool::retype(root, untyped, ObjectKind::Untyped, 16 * 4096, CAddr::root(SECOND_UNTYPED)).unwrap();
    cpool::retype(root, CAddr::root(SECOND_UNTYPED), ObjectKind::Channel, 0, CAddr::root(CHANNEL)).unwrap();
    let tasks = (0..2)
        .map(|index| {
            let (task, buffer) = (task_slot(index), task_slot(index) + 1);
            cpool::retype(root, untyped, ObjectKind::Task, 0, CAddr::root(task)).unwrap();
            cpool::retype(root, untyped, ObjectKind::RawPage, 0, CAddr::root(buffer)).unwrap();
            let task = root.slot(task).upgrade::<Task>().unwrap();
            task.cpool_slot().downgrade(root).unwrap();
            task.buffer_slot().downgrade(&root.slot(buffer).upgrade::<AnyObject>().unwrap()).unwrap();
            task.set_entry(0x40_0000);
            task
        })
        .collect();
    World { tasks, system }
}

/// A page fault at `address`, a write from user mode, at `rip`.
fn page_fault(address: u64, rip: u64) -> Fault {
    Fault { vector: PAGE_FAULT, error_code: 0b110, rip, address: Some(address) }
}

/// `task`, running, takes `fault`.
fn fault_on(task: &ManagedArc<Task>, fault: Fault) -> Result<(), Undelivered> {
    task.set_run_state(TaskState::Running);
    task.set_saved_instruction_pointer(fault.rip);
    faults::suspend(task, fault)
}

impl World {
    /// Task `index` makes `call` (as if it were running); returns the
    /// result in its registers.
    fn call(&self, index: usize, call: Call, args: [u64; 6]) -> Result<u64, Error> {
        let task = &self.tasks[index];
        let state = task.run_state();
        task.set_run_state(TaskState::Running);
        task.set_call(SyscallArgs { number: call as u64, args });
        syscalls::handle(task, &self.system.root);
        if task.run_state() == TaskState::Running {
            task.set_run_state(state);
        }
        let [rax, rdx, _] = task.result_registers();
        abi::syscall::decode_result(rax, rdx).expect("ABI codes")
    }

    /// Gives task `index` the fault channel in root slot `channel`.
    fn set_fault_channel(&self, index: usize, channel: u8) -> Result<u64, Error> {
        let args = [raw(task_slot(index)), TaskField::FaultChannel as u64, raw(channel), 0, 0, 0];
        self.call(HANDLER, Call::TaskSet, args)
    }

    /// Task `index`, running, takes `fault` (what the scheduler does, with
    /// the instruction pointer the trap path saved).
    fn fault(&self, index: usize, fault: Fault) -> Result<(), Undelivered> {
        fault_on(&self.tasks[index], fault)
    }

    /// The handler's take of a fault message into slot [`FAULTED`]: the
    /// result, and the fault record in its buffer.
    fn take_fault(&self) -> (Result<u64, Error>, Option<FaultMessage>) {
        let result = self.call(HANDLER, Call::ChannelTake, [raw(CHANNEL), raw(FAULTED), 0, 0, 0, 0]);
        let kind = self.tasks[HANDLER].result_registers()[2];
        let record = self.tasks[HANDLER].buffer().and_then(|(_, bytes)| FaultMessage::decode(&bytes[..]));
        (result, record.filter(|_| kind == MessageKind::Fault as u64))
    }

    fn resume(&self, slot: u8) -> Result<u64, Error> {
        self.call(HANDLER, Call::TaskResume, [raw(slot), 0, 0, 0, 0, 0])
    }

    fn channel(&self) -> ManagedArc<Channel> {
        self.system.root.slot(CHANNEL).upgrade::<Channel>().unwrap()
    }

    fn audit(&self) {
        let mut scratch = vec![0; 4096];
        audit(&self.system.roots(), &RUN_QUEUE, &mut scratch).expect("the audit passes");
    }
}

// ANCHOR: round_trip
#[test]
fn a_fault_suspends_the_task_and_its_handler_resumes_it_at_the_faulting_instruction() {
    let _queue = run_queue();
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    let fault = page_fault(0x5000_0008, 0x40_1234);
    assert_eq!(world.fault(PROGRAM, fault), Ok(()));
    let program = &world.tasks[PROGRAM];
    assert_eq!(program.run_state(), TaskState::Suspended(fault));
    assert!(scheduler::ready_tasks(8).next().is_none(), "a suspended task is in no queue");
    world.audit();

    // The handler learns what happened, and gets a capability to the task.
    let (result, record) = world.take_fault();
    assert_eq!(result, Ok(raw(FAULTED)));
    let expected = FaultMessage {
        vector: PAGE_FAULT,
        address: Some(0x5000_0008),
        error_code: 0b110,
        instruction: 0x40_1234,
        task_id: program.id(),
    };
    assert_eq!(record, Some(expected));
    assert!(world.system.root.slot(FAULTED).names(program));
    assert_eq!(world.channel().handler(), world.tasks[HANDLER].id());

    // It resumes the task by that capability: ready, at the same instruction.
    assert_eq!(world.resume(FAULTED), Ok(0));
    assert_eq!(program.run_state(), TaskState::Ready);
    assert_eq!(program.saved_registers()[0], 0x40_1234, "rip");
    assert_eq!(scheduler::ready_tasks(8).collect::<Vec<_>>(), [program.id()]);
    world.audit();
}
// ANCHOR_END: round_trip

#[test]
fn a_task_without_a_fault_channel_is_stopped_as_before() {
    let world = world();
    let fault = Fault { vector: 6, error_code: 0, rip: 0x40_0010, address: None };
    assert_eq!(world.fault(PROGRAM, fault), Err(Undelivered::NoChannel));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Faulted(Stop::Fault(fault)));
    assert!(world.channel().is_empty());
}

#[test]
fn resuming_a_task_that_is_not_suspended_is_refused() {
    let _queue = run_queue();
    let world = world();
    let program = task_slot(PROGRAM);
    assert_eq!(world.resume(program), Err(Error::NotSuspended), "inactive");
    world.tasks[PROGRAM].set_run_state(TaskState::Faulted(Stop::NoPool));
    assert_eq!(world.resume(program), Err(Error::NotSuspended), "stopped by a fault");
    world.tasks[PROGRAM].set_run_state(TaskState::Inactive);
    assert_eq!(world.resume(task_slot(HANDLER)), Err(Error::NotSuspended), "itself, running");
    assert_eq!(world.resume(CHANNEL), Err(Error::WrongKind));
    assert_eq!(world.resume(99), Err(Error::EmptySlot));

    // Once resumed it is no longer suspended: a second resume is refused.
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    assert_eq!(world.fault(PROGRAM, page_fault(0x1000, 0x40_0000)), Ok(()));
    assert_eq!(world.resume(program), Ok(0));
    assert_eq!(world.resume(program), Err(Error::NotSuspended));
    assert!(RUN_QUEUE.pop_front().is_some_and(|task| task.id() == world.tasks[PROGRAM].id()));
    assert!(RUN_QUEUE.is_empty(), "queued once");
}

#[test]
fn a_suspended_task_can_be_stopped_but_not_started_or_changed() {
    let _queue = run_queue();
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    assert_eq!(world.fault(PROGRAM, page_fault(0x1000, 0x40_0000)), Ok(()));
    let program = raw(task_slot(PROGRAM));
    assert_eq!(world.call(HANDLER, Call::TaskStart, [program, 0, 0, 0, 0, 0]), Err(Error::InUse));
    let set = [program, TaskField::Stack as u64, 0x1000, 0, 0, 0];
    assert_eq!(world.call(HANDLER, Call::TaskSet, set), Err(Error::InUse));
    assert_eq!(world.call(HANDLER, Call::TaskStop, [program, 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Inactive);
    assert_eq!(world.resume(task_slot(PROGRAM)), Err(Error::NotSuspended), "stopped, not suspended");
    world.audit();
}

#[test]
fn only_a_channel_can_be_a_fault_channel_and_only_the_kernel_puts_faults() {
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, 1), Err(Error::WrongKind), "an untyped");
    assert_eq!(world.set_fault_channel(PROGRAM, 99), Err(Error::EmptySlot));
    let args = [raw(task_slot(PROGRAM)), TaskField::FaultChannel as u64, 0x0909, 0, 0, 0];
    assert_eq!(world.call(HANDLER, Call::TaskSet, args), Err(Error::MalformedAddress));
    // A task may not set its own fault channel while it runs.
    let own = [raw(task_slot(HANDLER)), TaskField::FaultChannel as u64, raw(CHANNEL), 0, 0, 0];
    assert_eq!(world.call(HANDLER, Call::TaskSet, own), Err(Error::InUse));
    assert!(world.tasks[PROGRAM].fault_channel_slot().is_empty(), "each refusal changed nothing");

    let forged = [raw(CHANNEL), MessageKind::Fault as u64, raw(task_slot(PROGRAM)), 0, 0, 0];
    assert_eq!(world.call(HANDLER, Call::ChannelPut, forged), Err(Error::OutOfRange));
    assert!(world.channel().is_empty());
}

#[test]
fn a_full_fault_channel_stops_the_task() {
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    for value in 0..CAPACITY as u64 {
        world.channel().put(Outgoing::Raw(value)).unwrap();
    }
    let fault = page_fault(0x2000, 0x40_0000);
    assert_eq!(world.fault(PROGRAM, fault), Err(Undelivered::Full));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Faulted(Stop::Fault(fault)));
    assert_eq!(world.channel().len(), CAPACITY, "no message was put");
}

#[test]
fn a_revoked_fault_channel_is_no_fault_channel() {
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    assert_eq!(world.call(HANDLER, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert!(world.tasks[PROGRAM].fault_channel_slot().is_empty());
    let fault = page_fault(0x2000, 0x40_0000);
    assert_eq!(world.fault(PROGRAM, fault), Err(Undelivered::NoChannel));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Faulted(Stop::Fault(fault)));
}

#[test]
fn destroying_a_channel_with_a_fault_waiting_stops_the_task() {
    let _queue = run_queue();
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    let fault = page_fault(0x2000, 0x40_0000);
    assert_eq!(world.fault(PROGRAM, fault), Ok(()));
    assert_eq!(world.call(HANDLER, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(
        world.tasks[PROGRAM].run_state(),
        TaskState::Faulted(Stop::Fault(fault)),
        "not suspended for ever"
    );
    world.audit();
}

#[test]
fn destroying_a_channel_with_an_old_fault_leaves_a_task_suspended_for_a_new_one() {
    let _queue = run_queue();
    let world = world();
    // A second fault channel, outside the untyped that will be revoked.
    let other = CAddr::root(5);
    cpool::retype(&world.system.root, CAddr::root(1), ObjectKind::Channel, 0, other).unwrap();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    assert_eq!(world.fault(PROGRAM, page_fault(0x2000, 0x40_0000)), Ok(()));
    // Stopped by someone, given the other channel, started, and faulting again.
    let program = raw(task_slot(PROGRAM));
    assert_eq!(world.call(HANDLER, Call::TaskStop, [program, 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(world.set_fault_channel(PROGRAM, 5), Ok(0));
    let second = page_fault(0x3000, 0x40_0008);
    assert_eq!(world.fault(PROGRAM, second), Ok(()));
    // The first channel goes, with the old message: the task waits on.
    assert_eq!(world.call(HANDLER, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Suspended(second));
    world.audit();
}

#[test]
fn a_handler_that_never_answers_leaves_the_task_suspended_in_no_queue() {
    let _queue = run_queue();
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    let fault = page_fault(0x3000, 0x40_0000);
    assert_eq!(world.fault(PROGRAM, fault), Ok(()));
    assert_eq!(world.take_fault().0, Ok(raw(FAULTED)));
    // The handler goes on with other things; the task waits, costing nothing.
    for _ in 0..3 {
        assert_eq!(world.call(HANDLER, Call::Yield, [0; 6]), Ok(0));
    }
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Suspended(fault));
    assert!(scheduler::ready_tasks(8).next().is_none());
    world.audit();
    // Destroying the channel now changes nothing for it (its message was
    // taken), and whoever holds its capability can still stop it.
    assert_eq!(world.call(HANDLER, Call::Revoke, [raw(SECOND_UNTYPED), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Suspended(fault));
    assert_eq!(world.call(HANDLER, Call::TaskStop, [raw(FAULTED), 0, 0, 0, 0, 0]), Ok(0));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Inactive);
}

#[test]
fn a_fault_inside_the_handler_of_its_own_channel_stops_it() {
    let _queue = run_queue();
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    assert_eq!(world.fault(PROGRAM, page_fault(0x3000, 0x40_0000)), Ok(()));
    assert_eq!(world.take_fault().0, Ok(raw(FAULTED)));
    // The handler is stopped for a moment to be given the same channel.
    world.tasks[HANDLER].set_run_state(TaskState::Inactive);
    let set = [raw(task_slot(HANDLER)), TaskField::FaultChannel as u64, raw(CHANNEL), 0, 0, 0];
    assert_eq!(world.call(PROGRAM, Call::TaskSet, set), Ok(0));
    // Its own fault could only be taken by itself: stopped, not suspended.
    let fault = Fault { vector: 13, error_code: 0, rip: 0x40_0100, address: None };
    assert_eq!(world.fault(HANDLER, fault), Err(Undelivered::OwnHandler));
    assert_eq!(world.tasks[HANDLER].run_state(), TaskState::Faulted(Stop::Fault(fault)));
    assert!(world.channel().is_empty());
    // Had another task been waiting to take, that one would have got it.
    // (Its registers hold its result only once a put answers it.)
    let _ = world.call(PROGRAM, Call::ChannelTake, [raw(CHANNEL), raw(FAULTED + 1), 0, 0, 0, 0]);
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Blocked);
    assert_eq!(world.fault(HANDLER, Fault { rip: 0x40_0104, ..fault }), Ok(()));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Ready, "the other taker has it");
    assert!(world.system.root.slot(FAULTED + 1).names(&world.tasks[HANDLER]));
    RUN_QUEUE.pop_front().unwrap();
    // A handler with no fault channel of its own is stopped as any task.
    world.tasks[HANDLER].fault_channel_slot().clear();
    assert_eq!(world.fault(HANDLER, fault), Err(Undelivered::NoChannel));
}

#[test]
fn a_fault_storm_is_stopped_and_progress_is_not_a_storm() {
    let _queue = run_queue();
    let world = world();
    assert_eq!(world.set_fault_channel(PROGRAM, CHANNEL), Ok(0));
    // Progress: a new page each time, as a program a pager serves.
    for page in 0..3 * STORM_LIMIT as u64 {
        assert_eq!(world.fault(PROGRAM, page_fault(0x10_0000 + page * 4096, 0x40_0000)), Ok(()));
        assert!(world.take_fault().1.is_some());
        world.system.root.slot(FAULTED).clear();
        assert_eq!(world.resume(task_slot(PROGRAM)), Ok(0));
        RUN_QUEUE.pop_front().unwrap();
    }
    // The same fault again and again, but the task ran on in between (a
    // register changed: a pager that takes pages back, a counter): no storm.
    let fault = page_fault(0x20_0000, 0x40_0000);
    for round in 0..3 * STORM_LIMIT as u64 {
        world.tasks[PROGRAM].set_call(SyscallArgs { number: round, args: [0; 6] });
        assert_eq!(world.fault(PROGRAM, fault), Ok(()), "round {round}");
        assert!(world.take_fault().1.is_some());
        world.system.root.slot(FAULTED).clear();
        assert_eq!(world.resume(task_slot(PROGRAM)), Ok(0));
        RUN_QUEUE.pop_front().unwrap();
    }
    // A storm: a handler that resumes without mending anything, so the
    // task faults again before it runs one instruction.
    world.tasks[PROGRAM].set_call(SyscallArgs { number: u64::MAX, args: [0; 6] });
    for _ in 1..STORM_LIMIT {
        assert_eq!(world.fault(PROGRAM, fault), Ok(()));
        assert!(world.take_fault().1.is_some());
        world.system.root.slot(FAULTED).clear();
        assert_eq!(world.resume(task_slot(PROGRAM)), Ok(0));
        RUN_QUEUE.pop_front().unwrap();
    }
    assert_eq!(world.fault(PROGRAM, fault), Err(Undelivered::Storm));
    assert_eq!(world.tasks[PROGRAM].run_state(), TaskState::Faulted(Stop::Fault(fault)));
    assert!(world.channel().is_empty());
    world.audit();
}

#[test]
fn a_task_destroyed_while_its_fault_waits_empties_the_message() {
    let _queue = run_queue();
    let world = world();
    let root = &world.system.root;
    // A task of its own untyped, so that revoking it destroys the task alone.
    let (untyped, slot) = (CAddr::root(4), CAddr::root(30));
    cpool::retype(root, CAddr::root(1), ObjectKind::Untyped, 4 * 4096, untyped).unwrap();
    cpool::retype(root, untyped, ObjectKind::Task, 0, slot).unwrap();
    let doomed = root.slot(30).upgrade::<Task>().unwrap();
    doomed.fault_channel_slot().downgrade(&world.channel()).unwrap();
    assert_eq!(fault_on(&doomed, page_fault(0x3000, 0x40_0000)), Ok(()));
    drop(doomed);
    assert_eq!(world.call(HANDLER, Call::Revoke, [untyped.to_raw(), 0, 0, 0, 0, 0]), Ok(0));
    // The handler still gets the record; the capability is gone.
    let (result, record) = world.take_fault();
    assert_eq!(result, Ok(REVOKED_IN_FLIGHT));
    assert_eq!(record.map(|record| record.address), Some(Some(0x3000)));
    assert!(world.system.root.slot(FAULTED).is_empty());
    world.audit();
}

#[test]
fn the_audit_catches_a_suspended_task_in_a_queue() {
    let _queue = run_queue();
    let world = world();
    world.audit();
    let fault = page_fault(0x3000, 0x40_0000);
    world.tasks[PROGRAM].set_run_state(TaskState::Suspended(fault));
    RUN_QUEUE.push_back(&world.tasks[PROGRAM]);
    let mut scratch = vec![0; 4096];
    let error = audit(&world.system.roots(), &RUN_QUEUE, &mut scratch).unwrap_err();
    assert!(error.what.contains("state does not match the queue"), "{error}");
    RUN_QUEUE.pop_front().unwrap();
    world.audit();
}
