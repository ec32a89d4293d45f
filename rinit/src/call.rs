//! `send` as a call: the shell puts a message on channel 255 and waits for
//! the child's answer on a reply channel of its own, in one system call
//! (`ChannelCall`), so that the child's line always comes before the next
//! prompt.
//!
//! ```text
//!   shell: ChannelCall(put 255, take 216) ──message──> child prints its line
//!   shell goes on <──answer (or the child's fault)── child: ChannelCall(put 216, take 255)
//! ```
//!
//! The shell is the first task: blocked for ever, it would take the
//! machine with it. So it waits only when an answer must come:
//!
//! - the child is running as far as the shell knows: `start child` made it
//!   (with the reply channel, [`REPLY`], and that channel as its fault
//!   channel), and neither `set active 249 0` stopped it since nor a `set`
//!   made it another program (a task configured by hand may be anything,
//!   and need never answer: see [`Takers::field_set`]);
//! - no other task the shell started takes from channel 255 as far as it
//!   knows: a program `run` started with channel 255 (`revoke` takes from
//!   it) could take the message first, and then no answer would come. From
//!   its `run` until `set active <its slot> 0`, `send` only puts, as it
//!   does without a child.
//!
//! A fault of the child suspends it and puts a fault message on its fault
//! channel, the reply channel: the shell's wait ends with it. The kernel
//! prints no report for a fault it delivers, so the shell prints one, as
//! the kernel's would say it, stops the task and goes on.
//!
//! Answers of messages sent while the shell did not wait (before the child
//! started, or while it was stopped) pile up in the reply channel, before
//! the answer to the message the shell waits for: the listing says how
//! many, and the shell takes them first. When it does not wait, `send`
//! takes what waits there all the same, so that a fault of the child is
//! reported at the next `send` at the latest.

use crate::commands::{CHILD_TASK, Context, Failure};
use crate::system::{Answer, Message, say};
use abi::fault::FaultMessage;
use abi::syscall::{ListEntry, TaskField};
use abi::task_root::{CHANNEL, CPOOL, FAULTED, REPLY};
use abi::{CAddr, Error, ObjectKind};

/// What the shell knows of the tasks that take from channel 255.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Takers {
    child: ChildState,
    /// The task slots (bit `slot - 200`) of programs started with channel
    /// 255 and not stopped since.
    programs: u64,
}

/// The child, as far as the shell knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// No child of `start child`'s (none yet, or slot 249's task was
    /// configured by hand): nothing answers.
    Unknown,
    /// Made and started by `start child` (or started again since).
    Running,
    /// Stopped, by `set active 249 0` or after its fault.
    Stopped,
}

impl Takers {
    pub const fn new() -> Takers {
        Takers { child: ChildState::Unknown, programs: 0 }
    }

    /// The child as far as the shell knows.
    pub fn child(&self) -> ChildState {
        self.child
    }

    /// Whether a `send` waits for the child's answer.
    pub fn answer_comes(&self) -> bool {
        self.child == ChildState::Running && self.programs == 0
    }

    /// `start child` started the child it made.
    pub fn child_made(&mut self) {
        self.child = ChildState::Running;
    }

    /// The task in `slot` was started (`set active <slot> 1`).
    pub fn started(&mut self, slot: u8) {
        if slot == CHILD_TASK && self.child == ChildState::Stopped {
            self.child = ChildState::Running;
        }
    }

    /// The task in `slot` was stopped (`set active <slot> 0`).
    pub fn stopped(&mut self, slot: u8) {
        if slot == CHILD_TASK && self.child == ChildState::Running {
            self.child = ChildState::Stopped;
        }
        if let Some(bit) = Takers::bit(slot) {
            self.programs &= !bit;
        }
    }

    /// A field of the task in `slot` was set (`set stack` and `set
    /// buffer` aside, see [`Takers::field_set`]), or a new task made
    /// there: if it is slot 249, it is no longer the child `start child`
    /// made.
    pub fn changed(&mut self, slot: u8) {
        if slot == CHILD_TASK {
            self.child = ChildState::Unknown;
        }
    }

    /// `field` of the task in `slot` was set. The child with another
    /// stack pointer or task buffer is still the child: its code, pool,
    /// page table and fault channel are `start child`'s, so it answers,
    /// or faults into the reply channel (a stack where nothing is mapped,
    /// say). Any other field makes it a task configured by hand, which
    /// need never answer. (**Teaching shortcut**, as `set active` is: a
    /// stack pointer into the shell's own memory lets the child break the
    /// shell, as a wild thread would.)
    pub fn field_set(&mut self, slot: u8, field: TaskField) {
        if !matches!(field, TaskField::Stack | TaskField::Buffer) {
            self.changed(slot);
        }
    }

    /// `run` started the program whose task is in `slot` with channel 255
    /// as its slot 255.
    pub fn program_started(&mut self, slot: u8) {
        if let Some(bit) = Takers::bit(slot) {
            self.programs |= bit;
        }
    }

    fn bit(slot: u8) -> Option<u64> {
        let index = slot.checked_sub(crate::programs::FIRST_TASK_SLOT)?;
        1u64.checked_shl(u32::from(index))
    }
}

impl Default for Takers {
    fn default() -> Self {
        Takers::new()
    }
}

// ANCHOR: call_child
/// Puts `message` on channel 255 and waits for the child's answer (or its
/// fault) on the reply channel. Only when [`Takers::answer_comes`].
pub fn call_child(cx: &mut Context, message: Message) -> Result<(), Failure> {
    // Answers of messages sent while the shell did not wait come first
    // (the reply channel is a queue): taken, then the next is this one's.
    let mut earlier = waiting_answers(cx)?.unwrap_or(0);
    let reply = CAddr::root(REPLY);
    let mut answer = match cx.sys.channel_call(CAddr::root(CHANNEL), message, reply, CAddr::root(FAULTED)) {
        Ok(answer) => answer,
        Err(Error::ChannelFull) => return Err(Failure::Refused(FULL)),
        // The reply channel was destroyed (its untyped revoked): with
        // it, the shell's way of hearing from the child.
        Err(Error::ChannelClosed) => {
            cx.takers.changed(CHILD_TASK);
            return Err(Failure::Refused(CLOSED));
        }
        Err(error) => return Err(error.into()),
    };
    while answer == Answer::Done && earlier > 0 {
        earlier -= 1;
        answer = cx.sys.take_answer(reply, CAddr::root(FAULTED))?;
    }
    match answer {
        Answer::Done => Ok(()),
        // The child faulted, on this message or before: its fault
        // message answered the wait.
        Answer::Fault { record, taken } => report_fault(cx, record, taken),
    }
}
// ANCHOR_END: call_child

/// What `send` says when channel 255 is full.
pub const FULL: &str = "the channel is full: no task takes its messages (start child?)";
/// What `send` says when the reply channel is gone.
const CLOSED: &str = "the child's reply channel was destroyed: send no longer waits for it";

/// Puts `message` on channel 255 without waiting, then lets the other
/// tasks run, so that what the child prints mostly comes first; takes
/// what waits in the reply channel, if there is one (it never waits: the
/// listing says how many), and reports the faults among it, so that no
/// fault of the child goes unsaid.
pub fn put_only(cx: &mut Context, message: Message) -> Result<(), Failure> {
    match cx.sys.channel_put(CAddr::root(CHANNEL), message) {
        Ok(()) => {}
        Err(Error::ChannelFull) => return Err(Failure::Refused(FULL)),
        Err(error) => return Err(error.into()),
    }
    cx.sys.yield_now();
    for _ in 0..waiting_answers(cx)?.unwrap_or(0) {
        if let Answer::Fault { record, taken } =
            cx.sys.take_answer(CAddr::root(REPLY), CAddr::root(FAULTED))?
        {
            report_fault(cx, record, taken)?;
        }
    }
    Ok(())
}

/// How many messages wait in the reply channel (its `list` detail);
/// `None` if slot 216 holds no channel (no `start child` yet).
fn waiting_answers(cx: &mut Context) -> Result<Option<u64>, Failure> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries)?;
    let reply = entries[..count].iter().find(|entry| entry.slot == REPLY);
    Ok(reply.filter(|entry| entry.kind == ObjectKind::Channel as u8).map(|entry| entry.detail))
}

// ANCHOR: report_fault
/// A fault message came on the reply channel: prints what faulted as the
/// kernel's report would say it (the kernel prints none for a fault it
/// delivers), stops the task and lets its capability go.
fn report_fault(cx: &mut Context, record: Option<FaultMessage>, taken: bool) -> Result<(), Failure> {
    let child_number = crate::commands::task_number(cx, CAddr::root(CHILD_TASK));
    match record {
        Some(fault) if Some(fault.task_id) == child_number => say!(
            cx.sys,
            "task {CHILD_TASK} (the child, the kernel's task {}) stopped by a fault: {fault}",
            fault.task_id
        ),
        Some(fault) => say!(cx.sys, "the kernel's task {} stopped by a fault: {fault}", fault.task_id),
        None => say!(cx.sys, "a task stopped by a fault the kernel did not describe"),
    }
    if !taken {
        // Destroyed while its fault waited: nothing to stop.
        return Ok(());
    }
    if record.is_none_or(|fault| Some(fault.task_id) == child_number) {
        cx.takers.stopped(CHILD_TASK);
    }
    let (faulted, stopped) = (CAddr::root(FAULTED), cx.sys.task_stop(CAddr::root(FAULTED)));
    cx.sys.delete(faulted)?;
    Ok(stopped?)
}
// ANCHOR_END: report_fault
