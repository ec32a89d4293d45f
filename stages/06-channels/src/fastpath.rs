//! The IPC fast path: a put of a number to a channel where a task already
//! waits to take, done without the general path's detours.
//!
//! **An optimisation of the slow path, not a feature.** Everything here
//! the general path (`syscalls::handle`, then the scheduler's loop) does
//! too, and this path must leave every object exactly as that one would:
//! the same message to the same taker (the oldest), the same results in
//! both tasks' registers, the same channel and queues. It is only
//! shorter: the message goes straight from the sender's registers into
//! the receiver's, without being written into the channel and taken out,
//! and the CPU goes straight to the receiver, without the run queue.
//!
//! It applies when all of these hold, and otherwise returns `None`,
//! having changed nothing, and the call takes the general path:
//!
//! 1. the call is `ChannelPut` of a number (`MessageKind::Raw`);
//! 2. no other task is ready (the run queue is empty);
//! 3. the first argument names a channel in the sender's root pool;
//! 4. a task is blocked in a take on it.
//!
//! Condition 2 keeps the schedule fair and simple: with nothing else
//! ready, the general path would run the sender on and the receiver next;
//! the fast path runs the receiver now and the sender next. That order is
//! the one thing that differs, and it is the point: the receiver runs at
//! once, as in L4's "direct process switch". Every error (a malformed
//! address, a wrong kind, a full channel) is the general path's business.
//!
//! `channel_tests.rs` checks it is taken exactly when these hold, and
//! that it leaves the same state as the general path.

use crate::objects::channel::Channel;
use crate::objects::task::TaskState;
use crate::objects::{CPool, ManagedArc, Task, cpool};
use crate::scheduler;
use abi::syscall::{MessageKind, encode_result};
use abi::{CAddr, Call};

// ANCHOR: channel_put
/// The fast path of `ChannelPut(channel, Raw, value)` from `sender`
/// (with its root pool `root`), which just trapped into the kernel: if
/// the conditions above hold, delivers the message and returns the
/// receiver, which the scheduler runs next (the sender is ready). `None`,
/// having changed nothing, otherwise.
#[inline]
pub fn channel_put(sender: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Option<ManagedArc<Task>> {
    // SAFETY: the sender is not running; this is the only reference to
    // its registers until the end of the function.
    let frame = &mut unsafe { sender.context() }.frame;
    // Conditions 1 and 2: a few comparisons, so that every other call
    // pays almost nothing for the fast path.
    if frame.rax != Call::ChannelPut as u64 || frame.rsi != MessageKind::Raw as u64 {
        return None;
    }
    if !scheduler::nothing_ready() {
        return None;
    }
    // Condition 3 and 4: the channel, and a taker on it.
    let address = CAddr::from_raw(frame.rdi).ok()?;
    let channel = cpool::find_object::<Channel>(root, address).ok()?;
    let value = frame.rdx;
    let receiver = channel.hand_to_taker(value)?;
    // From here on the put has happened. The sender's call returns
    // `Ok(0)`, and it is ready; the receiver's take returns the number.
    (frame.rax, frame.rdx) = encode_result(Ok(0));
    scheduler::make_ready(sender);
    // SAFETY: the receiver was blocked (it is not the sender, which was
    // running); nothing else uses its registers.
    let theirs = &mut unsafe { receiver.context() }.frame;
    (theirs.rax, theirs.rdx) = encode_result(Ok(value));
    theirs.rsi = MessageKind::Raw as u64;
    receiver.set_run_state(TaskState::Running);
    Some(receiver)
}
// ANCHOR_END: channel_put
