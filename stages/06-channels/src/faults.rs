//! Faults handled in user space: a task's fault becomes a message to its
//! handler, which resumes or stops it.
//!
//! A task without a fault channel that faults is stopped, with a report,
//! as in stage 5. A task *with* one (`TaskField::FaultChannel`) is
//! suspended instead, and one fault message goes on that channel
//! (`abi::fault`): a capability to the task, which the handler's take puts
//! in its own pool, and the fault's vector, address, error code and
//! instruction pointer, into its task buffer. The handler does what it
//! likes (a pager maps a page into the task's address space with the
//! capabilities it holds), then names the task by that capability:
//! `TaskResume` runs it again from the faulting instruction, `TaskStop`
//! stops it.
//!
//! ```text
//!   task faults ──> kernel: Suspended, Fault message ──> channel
//!                                                          │ take
//!   task runs again <── TaskResume(slot) <── handler (maps the page)
//! ```
//!
//! The kernel never waits for a handler, and no fault leaves a task
//! suspended without a word. A fault that cannot be delivered stops the
//! task with stage 5's report and one line saying why:
//!
//! - the channel is full (the handler is not keeping up);
//! - the task is its channel's own handler (it took the last fault message
//!   from it) and no other task waits to take: suspended, it could never
//!   take its own fault;
//! - a fault storm: the same fault with every register the same, for the
//!   [`STORM_LIMIT`]th time in a row: the task has not run one instruction
//!   since the last one, so a handler that resumes it without mending
//!   anything would bounce it for ever. (The same fault after the task ran
//!   on, say the same page touched again once a pager took it back, is
//!   not a storm: some register differs.)
//!
//! A channel destroyed or revoked is as no channel: the fault stops the
//! task. A channel destroyed while a fault message waits in it stops that
//! task (`channel.rs`); one whose handler took the message and never
//! answers leaves the task suspended, in no queue, costing nothing, until
//! a holder of its capability stops it.

use crate::objects::channel::{Channel, Outgoing};
use crate::objects::task::{Stop, TaskState, make_ready};
use crate::objects::{ManagedArc, Task};
use crate::scheduler;
use abi::Error;
use abi::fault::FaultMessage;
use common::println;
use common::user::Fault;
use core::fmt;

/// The most times in a row a task may take the very same fault, with the
/// very same registers: the next one stops it. (A teaching shortcut: a
/// handler that mends a fault never sees it twice so, and a task that ran
/// on between two faults has changed some register, if only its counter
/// or its stack pointer; so a small number is enough.)
pub const STORM_LIMIT: u32 = 8;

/// Why a fault was not delivered to a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undelivered {
    /// The task has no fault channel (none was set, or it was destroyed).
    NoChannel,
    /// The channel holds as many messages as it can.
    Full,
    /// The task handles its own fault channel.
    OwnHandler,
    /// The same fault [`STORM_LIMIT`] times in a row.
    Storm,
}

impl fmt::Display for Undelivered {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Undelivered::NoChannel => f.write_str("it has no fault channel"),
            Undelivered::Full => f.write_str("its fault channel is full"),
            Undelivered::OwnHandler => f.write_str("it is its own fault channel's handler"),
            Undelivered::Storm => {
                write!(
                    f,
                    "a fault storm: the same fault {STORM_LIMIT} times in a row, with nothing run between"
                )
            }
        }
    }
}

// ANCHOR: suspend
/// `task`, which was running, took `fault`: suspends it and puts the fault
/// message on its fault channel. If that cannot be, the task is stopped,
/// with a report, and the error says why (no channel: stage 5's report
/// alone, exactly as before fault channels).
pub fn suspend(task: &ManagedArc<Task>, fault: Fault) -> Result<(), Undelivered> {
    let result = deliver(task, fault);
    match result {
        Ok(()) => task.set_run_state(TaskState::Suspended(fault)),
        Err(why) => {
            scheduler::report_stop(task, Stop::Fault(fault));
            if why != Undelivered::NoChannel {
                println!("task {}: the fault was not sent to a handler: {why}", task.id());
            }
        }
    }
    result
}

/// Checks the fault can go to a handler, and puts its message.
fn deliver(task: &ManagedArc<Task>, fault: Fault) -> Result<(), Undelivered> {
    let channel = task.fault_channel_slot().upgrade::<Channel>().map_err(|_| Undelivered::NoChannel)?;
    if task.note_fault(fingerprint(task, fault)) >= STORM_LIMIT {
        return Err(Undelivered::Storm);
    }
    if channel.handler() == task.id() && channel.takers(1).next().is_none() {
        return Err(Undelivered::OwnHandler);
    }
    let record = message(task, fault).encode();
    channel.put(Outgoing::Fault { task, record: &record }).map_err(|_| Undelivered::Full)
}
// ANCHOR_END: suspend

/// A fingerprint of `fault` and of every general register, the
/// instruction and stack pointers and the flags of `task` (FNV-1a over
/// the words): equal fingerprints in a row mean no progress.
fn fingerprint(task: &ManagedArc<Task>, fault: Fault) -> u64 {
    let fault_words = [fault.vector, fault.error_code, fault.address.unwrap_or(u64::MAX)];
    let words = fault_words.into_iter().chain(task.saved_registers());
    words.fold(0xcbf2_9ce4_8422_2325, |hash, word| (hash ^ word).wrapping_mul(0x0100_0000_01b3))
}

/// The fault message for `task`'s `fault`.
pub fn message(task: &ManagedArc<Task>, fault: Fault) -> FaultMessage {
    FaultMessage {
        vector: fault.vector,
        address: fault.address,
        error_code: fault.error_code,
        instruction: fault.rip,
        task_id: task.id(),
    }
}

// ANCHOR: resume
/// `TaskResume(task)`: a suspended task runs again from the instruction
/// that faulted (its saved registers are as the fault left them).
pub fn resume(task: &ManagedArc<Task>) -> Result<u64, Error> {
    if !matches!(task.run_state(), TaskState::Suspended(_)) {
        return Err(Error::NotSuspended);
    }
    make_ready(task);
    Ok(0)
}
// ANCHOR_END: resume

/// Stops `task` if it is suspended for the fault of `record`: that fault's
/// message was in a channel being destroyed, so no handler will ever hear
/// of it. (A task stopped and started since, now suspended for another
/// fault, waits for that one's handler.)
pub fn stop_unheard(task: &ManagedArc<Task>, record: &[u8]) {
    if let TaskState::Suspended(fault) = task.run_state()
        && message(task, fault).encode()[..] == *record
    {
        scheduler::report_stop(task, Stop::Fault(fault));
        println!("task {}: its fault channel was destroyed before a handler took the fault", task.id());
    }
}
