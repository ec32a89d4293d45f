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
use crate::objects::task::{TaskState, make_ready, nothing_ready};
use crate::objects::{CPool, ManagedArc, Task, cpool};
use abi::syscall::MessageKind;
use abi::{CAddr, Call};

// ANCHOR: put_to_waiting_taker
/// The fast path of `ChannelPut(channel, Raw, value)` from `sender`
/// (with its root pool `root`), which just trapped into the kernel: if
/// the conditions above hold, delivers the message and returns the
/// receiver, to which `syscalls::handle` switches (`Next::Switch`; the
/// sender is ready). `None`, having changed nothing, otherwise.
#[inline]
pub fn put_to_waiting_taker(sender: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Option<ManagedArc<Task>> {
    let call = sender.call();
    // Conditions 1 and 2: a few comparisons, so that every other call
    // pays almost nothing for the fast path.
    if call.number != Call::ChannelPut as u64 || call.arg(1) != MessageKind::Raw as u64 {
        return None;
    }
    if !nothing_ready() {
        return None;
    }
    // Condition 3 and 4: the channel, and a taker on it.
    let address = CAddr::from_raw(call.arg(0)).ok()?;
    let channel = cpool::lookup_object::<Channel>(root, address).ok()?;
    let value = call.arg(2);
    let receiver = channel.hand_to_taker(value)?;
    // From here on the put has happened. The sender's call returns
    // `Ok(0)`, and it is ready; the receiver's take returns the number.
    sender.set_result(Ok(0));
    make_ready(sender);
    receiver.set_take_answer(Ok((MessageKind::Raw, value)));
    receiver.set_run_state(TaskState::Running);
    Some(receiver)
}
// ANCHOR_END: put_to_waiting_taker
