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
//! It takes two calls, the one-way `ChannelPut` and the round trip's
//! `ChannelCall` (a put, then a take from a second channel), and applies
//! when all of these hold; otherwise it returns `None`, having changed
//! nothing, and the call takes the general path:
//!
//! 1. the call is `ChannelPut` or `ChannelCall` of a number
//!    (`MessageKind::Raw`);
//! 2. no other task is ready (the run queue is empty);
//! 3. the first argument names a channel in the sender's root pool;
//! 4. a task is blocked in a take on it;
//! 5. for `ChannelCall`, the fourth argument names a channel with no
//!    message waiting, so that the take half would block.
//!
//! Condition 2 keeps the schedule fair and simple: with nothing else
//! ready, the general path would run the sender on (a put) or the
//! receiver next (a call, whose sender waits for its reply); the fast
//! path runs the receiver now, and after a put the sender next. That
//! order is the one thing that differs, and it is the point: the receiver
//! runs at once, as in L4's "direct process switch". Every error (a
//! malformed address, a wrong kind, a full channel) is the general path's
//! business.
//!
//! A round trip is two `ChannelCall`s, both on this path: the client's
//! (the request to the waiting server, then the client waits on its reply
//! channel) and the server's (the reply to the waiting client, then the
//! server waits for the next request).
//!
//! `channel_tests.rs` checks it is taken exactly when these hold, and
//! that it leaves the same state as the general path.

use crate::objects::channel::Channel;
use crate::objects::task::{TaskState, make_ready, nothing_ready};
use crate::objects::{CPool, ManagedArc, Task, cpool};
use abi::syscall::{MessageKind, SyscallArgs};
use abi::{CAddr, Call};

// ANCHOR: to_waiting_taker
/// The fast path of `ChannelPut(channel, Raw, value)` from `sender`
/// (with its root pool `root`), which just trapped into the kernel: if
/// the conditions above hold, delivers the message and returns the
/// receiver, to which `syscalls::handle` switches (`Next::Switch`); the
/// sender is ready. `None`, having changed nothing, otherwise.
#[inline]
pub fn put_to_waiting_taker(sender: &ManagedArc<Task>, root: &ManagedArc<CPool>) -> Option<ManagedArc<Task>> {
    let call = sender.call();
    // Condition 1's number first: one comparison, so that every other
    // call pays almost nothing for the fast path.
    if call.number != Call::ChannelPut as u64 {
        return None;
    }
    hand_over::<false>(sender, root, &call)
}

/// The fast path of `ChannelCall(channel, Raw, value, reply,
/// destination)`, which `syscalls::handle_call` tries first for that
/// call: as [`put_to_waiting_taker`], but the sender then waits on
/// `reply` for its answer.
#[inline]
pub fn call_to_waiting_taker(
    sender: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
    call: &SyscallArgs,
) -> Option<ManagedArc<Task>> {
    hand_over::<true>(sender, root, call)
}

/// Both fast paths, `CALL` saying which (a constant, so that each is
/// compiled without the other's steps).
#[inline(always)]
fn hand_over<const CALL: bool>(
    sender: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
    call: &SyscallArgs,
) -> Option<ManagedArc<Task>> {
    // The rest of condition 1 (a number), and condition 2.
    if call.arg(1) != MessageKind::Raw as u64 || !nothing_ready() {
        return None;
    }
    // Conditions 3 and 5: the channels; condition 4 is checked as the
    // message is handed over, the last step that may decline.
    let channel = cpool::lookup_object::<Channel>(root, CAddr::from_raw(call.arg(0)).ok()?).ok()?;
    let reply = match CALL {
        true => Some(cpool::lookup_object::<Channel>(root, CAddr::from_raw(call.arg(3)).ok()?).ok()?),
        false => None,
    };
    if reply.as_ref().is_some_and(|reply| !reply.is_empty()) {
        return None;
    }
    let value = call.arg(2);
    let receiver = channel.hand_to_taker(value)?;
    // From here on the put has happened. The receiver's take returns the
    // number; the sender of a put gets `Ok(0)` and is ready, the sender of
    // a call waits for its reply.
    match reply {
        None => {
            sender.set_result(Ok(0));
            make_ready(sender);
        }
        Some(reply) => reply.wait(sender),
    }
    receiver.set_take_answer(Ok((MessageKind::Raw, value)));
    receiver.set_run_state(TaskState::Running);
    Some(receiver)
}
// ANCHOR_END: to_waiting_taker
