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
//!   changed it (a task configured by hand may be anything, and need
//!   never answer);
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
//! started, or while it was stopped) pile up in the reply channel; the
//! shell takes those first, so that the answer it waits for is its own
//! message's. (Its take of them never waits: the listing says how many
//! there are, and only the shell takes from the reply channel.)

use crate::commands::{CHILD_TASK, Context, Failure};
use crate::system::{Answer, Message, say};
use abi::fault::FaultMessage;
use abi::syscall::ListEntry;
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

    /// A field of the task in `slot` was set, or a new task made there:
    /// if it is slot 249, it is no longer the child `start child` made.
    pub fn changed(&mut self, slot: u8) {
        if slot == CHILD_TASK {
            self.child = ChildState::Unknown;
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
/// fault) on the reply channel, once the answers left from earlier are
/// taken. Only when [`Takers::answer_comes`].
pub fn call_child(cx: &mut Context, message: Message) -> Result<(), Failure> {
    for _ in 0..waiting_answers(cx)? {
        if let Answer::Fault { record, taken } =
            cx.sys.take_answer(CAddr::root(REPLY), CAddr::root(FAULTED))?
        {
            // The child faulted while nobody waited: it cannot answer.
            report_fault(cx, record, taken)?;
            return put_only(cx, message);
        }
    }
    match cx.sys.channel_call(CAddr::root(CHANNEL), message, CAddr::root(REPLY), CAddr::root(FAULTED)) {
        Ok(Answer::Done) => Ok(()),
        Ok(Answer::Fault { record, taken }) => report_fault(cx, record, taken),
        Err(Error::ChannelFull) => Err(Failure::Refused(FULL)),
        // The reply channel was destroyed (its untyped revoked): with it,
        // the shell's way of hearing from the child.
        Err(Error::ChannelClosed) => {
            cx.takers.changed(CHILD_TASK);
            Err(Failure::Refused("the child's reply channel was destroyed: send no longer waits for it"))
        }
        Err(error) => Err(error.into()),
    }
}
// ANCHOR_END: call_child

/// What `send` says when channel 255 is full.
pub const FULL: &str = "the channel is full: no task takes its messages (start child?)";

/// Puts `message` on channel 255 without waiting, then lets the other
/// tasks run, so that what the child prints mostly comes first.
pub fn put_only(cx: &mut Context, message: Message) -> Result<(), Failure> {
    match cx.sys.channel_put(CAddr::root(CHANNEL), message) {
        Ok(()) => {}
        Err(Error::ChannelFull) => return Err(Failure::Refused(FULL)),
        Err(error) => return Err(error.into()),
    }
    cx.sys.yield_now();
    Ok(())
}

/// How many messages wait in the reply channel (its `list` detail).
fn waiting_answers(cx: &mut Context) -> Result<u64, Failure> {
    let mut entries = [ListEntry { slot: 0, kind: 0, detail: 0 }; ListEntry::MAX];
    let count = cx.sys.list_pool(CAddr::root(CPOOL), &mut entries)?;
    let reply = entries[..count].iter().find(|entry| entry.slot == REPLY);
    match reply {
        Some(entry) if entry.kind == ObjectKind::Channel as u8 => Ok(entry.detail),
        _ => Err(Failure::Refused("slot 216 holds no channel: the child's reply channel is gone")),
    }
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
