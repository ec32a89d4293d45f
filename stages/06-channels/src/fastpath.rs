//! The IPC fast path: a put or a call of a number to a channel where a
//! task already waits to take, done without the general path's detours.
//!
//! **An optimisation of the slow path, not a feature.** Everything here
//! the general path (`syscalls::handle`, then the scheduler's loop) does
//! too, and this path must leave every object exactly as that one would:
//! the same message to the same taker (the oldest), the same results in
//! both tasks' registers, the same channels and queues. It is only
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
//! 3. the first argument names a channel in a slot of the sender's root
//!    pool (an address of depth 1);
//! 4. a task is blocked in a take on it;
//! 5. for `ChannelCall`, the fourth argument names a channel in the root
//!    pool too, with no message waiting, so that the take half would
//!    block.
//!
//! Condition 2 keeps the schedule fair and simple: with nothing else
//! ready, the general path would run the sender on (a put) or the
//! receiver next (a call, whose sender waits for its reply); the fast
//! path runs the receiver now, and after a put the sender next. That
//! order is the one thing that differs, and it is the point: the receiver
//! runs at once, as in L4's "direct process switch". Every error (a
//! malformed address, a wrong kind, a full channel) is the general path's
//! business, and so is a deeper address (condition 3): the root pool is
//! where a server and its clients keep their channels.
//!
//! A round trip is two `ChannelCall`s, both on this path: the client's
//! (the request to the waiting server, then the client waits on its reply
//! channel) and the server's (the reply to the waiting client, then the
//! server waits for the next request), as seL4 pairs `Call` with
//! `ReplyRecv`.
//!
//! **Two shortcuts the general path does not take**, each sound for the
//! reason given where it is taken:
//! - the channels are *borrowed* from their slots, not counted
//!   (`cpool::borrow_in_root`, `header::Borrowed`): nothing on this path
//!   destroys an object or empties a slot, so a channel a full slot names
//!   lives until the path is done;
//! - the sender's root pool, which the scheduler holds while the sender
//!   runs, is handed on to the receiver when the receiver has the same one
//!   (`Held::hand_on` in `scheduler.rs`), and the page table likewise: then
//!   no count goes up and down, and CR3 is not written.
//!
//! `channel_tests.rs` checks it is taken exactly when these hold, and
//! that it leaves the same state as the general path.

use crate::objects::channel::Channel;
use crate::objects::task::{TaskState, make_ready, nothing_ready};
use crate::objects::{CPool, ManagedArc, Task, cpool};
use abi::Call;
use abi::syscall::MessageKind;

// ANCHOR: to_waiting_taker
/// The fast path of the call `sender` (with its root pool `root`) just
/// trapped into the kernel with, whose number is `number`: if it is a
/// `ChannelPut(channel, Raw, value)` or a `ChannelCall(channel, Raw,
/// value, reply, destination)` and the conditions above hold, delivers
/// the message and returns the receiver, to which `syscalls::handle`
/// switches (`Next::Switch`). The sender of a put is ready; the sender of
/// a call waits on `reply`. `None`, having changed nothing, otherwise.
#[inline]
pub fn to_waiting_taker(
    sender: &ManagedArc<Task>,
    root: &ManagedArc<CPool>,
    number: u64,
) -> Option<ManagedArc<Task>> {
    // Condition 1's number: a comparison each, so that every other call
    // pays almost nothing for the fast path.
    let is_call = match number {
        n if n == Call::ChannelCall as u64 => true,
        n if n == Call::ChannelPut as u64 => false,
        _ => return None,
    };
    let [put_on, kind, value, take_from, ..] = sender.call().args;
    // The rest of condition 1 (a number), and condition 2.
    if kind != MessageKind::Raw as u64 || !nothing_ready() {
        return None;
    }
    // Conditions 3 and 5: the channels, borrowed (see the module's
    // documentation); condition 4 is checked as the message is handed
    // over, the last step that may decline.
    let channel = cpool::borrow_in_root::<Channel>(root, put_on)?;
    let reply = match is_call {
        true => Some(cpool::borrow_in_root::<Channel>(root, take_from).filter(|reply| reply.is_empty())?),
        false => None,
    };
    let receiver = channel.hand_to_taker(value)?;
    // From here on the put has happened. The receiver's take returns the
    // number; the sender of a put gets `Ok(0)` and is ready, the sender of
    // a call waits for its reply (its destination stays in its registers,
    // for the put that answers it).
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
