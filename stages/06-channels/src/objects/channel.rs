//! Channels: how tasks send each other messages.
//!
//! A channel is a kernel object holding a short queue of messages (at most
//! [`CAPACITY`]), each a number, a few bytes, or a capability, and a queue
//! of tasks waiting to take one. Its memory is all it needs: zeroed memory
//! is an empty channel.
//!
//! - **Put** never blocks: on a full channel it fails with `ChannelFull`.
//!   If a task is waiting, the message goes straight to it, and it is ready
//!   to run again.
//! - **Take** gives the oldest message; on an empty channel the task
//!   blocks, in the channel's queue of takers, until a put. Takers are
//!   served first come, first served.
//! - A **capability** in a message is a weak pointer, like one in a pool:
//!   the sender keeps its own, and revoking the object while the message
//!   waits empties it (the taker then learns it was revoked in flight). The
//!   taker names the slot of its own pool the capability goes to.
//! - Destroying a channel wakes its takers with `ChannelClosed`.
//! - An **interrupt** message is put by the kernel only, when a line bound
//!   to the channel fires (`irq_line.rs`): a number, the line.
//! - A **fault** message is put by the kernel only (`faults.rs`): a
//!   capability to the task that faulted, delivered as a capability is, and
//!   a fault record, delivered into the taker's task buffer as a payload is.
//!   Destroying a channel with fault messages still waiting stops their
//!   tasks, with a report: no task stays suspended for a handler that can
//!   no longer hear of it.
//!
//! ```text
//!   Channel: messages [ m0 | m1 | m2 |    |    | ... ]   takers: T3 -> T5
//!                       ^first, count = 3                (blocked on take)
//! ```

use super::header::{Doomed, Header};
use super::task::{TaskQueue, TaskState, make_ready};
use super::weak::Slot;
use super::{CPool, KernelObject, Layout, ManagedArc, ObjectKind, RetypeError, Task, cpool, reach};
use abi::fault::FaultMessage;
use abi::syscall::{MAX_PAYLOAD, MessageKind, REVOKED_IN_FLIGHT};
use abi::{CAddr, Error};
use core::cell::{Cell, UnsafeCell};

/// The most messages a channel holds.
pub const CAPACITY: usize = 16;
const _: () = assert!(FaultMessage::SIZE <= MAX_PAYLOAD, "a fault record fits in a message");

/// A channel: the marker type of its kind.
pub struct Channel;

// ANCHOR: body
/// One message waiting in a channel.
#[repr(C)]
struct Message {
    /// A `MessageKind` code.
    kind: Cell<u64>,
    /// The number, or the payload's length.
    value: Cell<u64>,
    /// The capability a `Capability` message carries.
    capability: Slot,
    payload: UnsafeCell<[u8; MAX_PAYLOAD]>,
}

/// A channel's memory.
#[repr(C)]
pub struct ChannelBody {
    messages: [Message; CAPACITY],
    /// Where the oldest message is, and how many there are.
    first: Cell<usize>,
    count: Cell<usize>,
    /// The tasks blocked in a take, oldest first.
    takers: TaskQueue,
    /// The number of the task that took the last fault message (0: none
    /// yet): the channel's fault handler, as far as the kernel knows.
    handler: Cell<u64>,
}
// ANCHOR_END: body

// ANCHOR: kind
impl KernelObject for Channel {
    const KIND: ObjectKind = ObjectKind::Channel;
    type State = ();

    fn layout(size: u64) -> Result<Layout, RetypeError> {
        let (body, align) = (size_of::<ChannelBody>() as u64, align_of::<ChannelBody>() as u64);
        Layout::fixed(Self::KIND, size, body, align)
    }

    unsafe fn destroy(object: &Header, _: &mut Doomed) {
        // SAFETY: the channel is being destroyed; its memory stays until its
        // untyped's watermark is reset, after this returns.
        let body = unsafe { reach::<ChannelBody>(object.body()) };
        // (A taker destroyed by the same revoke is left to its own
        // destruction: see `pop_front_living`.)
        while let Some(taker) = body.takers.pop_front_living() {
            answer(&taker, Err(Error::ChannelClosed));
        }
        for index in 0..body.count.get() {
            let message = &body.messages[(body.first.get() + index) % CAPACITY];
            if message.kind.get() == MessageKind::Fault as u64 {
                // SAFETY: a waiting message's payload, which only the
                // channel writes.
                let payload = unsafe { &*message.payload.get() };
                stop_unheard(&message.capability, &payload[..FaultMessage::SIZE]);
            }
        }
        for message in &body.messages {
            message.capability.clear();
        }
        // An interrupt line bound here is unbound (and masked) at once.
        super::irq_line::forget_closed_channels();
    }

    fn detail(channel: &ManagedArc<Channel>) -> u64 {
        channel.body().count.get() as u64
    }
}
// ANCHOR_END: kind

/// A message to put.
#[derive(Clone, Copy)]
pub enum Outgoing<'a> {
    Raw(u64),
    /// Bytes (at most `MAX_PAYLOAD`).
    Payload(&'a [u8]),
    /// The capability in this slot (copied: the sender keeps its own).
    Capability(&'a Slot),
    /// A fault of `task` (the kernel's only: `faults.rs`), with the fault
    /// record for the taker's task buffer.
    Fault {
        task: &'a ManagedArc<Task>,
        record: &'a [u8; FaultMessage::SIZE],
    },
    /// An interrupt on this line (the kernel's only: `objects/irq_line.rs`).
    Interrupt(u64),
}

impl ManagedArc<Channel> {
    fn body(&self) -> &ChannelBody {
        // SAFETY: this strong pointer keeps the channel alive; zeroed
        // memory is a valid `ChannelBody`.
        unsafe { reach(self.address()) }
    }

    /// The number of messages waiting.
    pub fn len(&self) -> usize {
        self.body().count.get()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: put
    /// Puts a message at the back of the queue, and hands waiting messages
    /// to waiting takers. Refused, changing nothing, if the channel is full
    /// or the message is malformed.
    pub fn put(&self, message: Outgoing) -> Result<(), Error> {
        let body = self.body();
        if body.count.get() == CAPACITY {
            return Err(Error::ChannelFull);
        }
        let slot = &body.messages[(body.first.get() + body.count.get()) % CAPACITY];
        match message {
            Outgoing::Raw(value) | Outgoing::Interrupt(value) => slot.value.set(value),
            Outgoing::Payload(bytes) => {
                let len = bytes.len();
                if len > MAX_PAYLOAD {
                    return Err(Error::BufferTooLong);
                }
                // SAFETY: a free message's payload, which nothing else uses.
                let payload = unsafe { &mut *slot.payload.get() };
                payload[..len].copy_from_slice(bytes);
                slot.value.set(len as u64);
            }
            Outgoing::Capability(source) => {
                source.copy_to(&slot.capability).map_err(|_| Error::EmptySlot)?;
                slot.value.set(0);
            }
            Outgoing::Fault { task, record } => {
                slot.capability.downgrade(task).expect("a free message holds no capability");
                // SAFETY: a free message's payload, which nothing else uses.
                let payload = unsafe { &mut *slot.payload.get() };
                payload[..FaultMessage::SIZE].copy_from_slice(record);
                slot.value.set(0);
            }
        }
        slot.kind.set(kind_of(&message) as u64);
        body.count.set(body.count.get() + 1);
        self.serve_takers();
        Ok(())
    }
    // ANCHOR_END: put

    // ANCHOR: take
    /// Takes the oldest message for `taker`: a payload into its task
    /// buffer, a capability into the empty slot `destination` of its root
    /// pool. Returns the message's kind and value. If the message cannot be
    /// delivered (no buffer, the slot is not empty, ...), it stays, and the
    /// error says why. `None` if the channel is empty.
    pub fn take(
        &self,
        taker: &ManagedArc<Task>,
        destination: u64,
    ) -> Option<Result<(MessageKind, u64), Error>> {
        let body = self.body();
        if body.count.get() == 0 {
            return None;
        }
        let message = &body.messages[body.first.get()];
        let result = deliver(message, taker, destination);
        if let Ok((MessageKind::Fault, _)) = result {
            body.handler.set(taker.id());
        }
        if result.is_ok() {
            message.capability.clear();
            body.first.set((body.first.get() + 1) % CAPACITY);
            body.count.set(body.count.get() - 1);
        }
        Some(result)
    }

    /// Blocks `taker`, which found the channel empty, until a put.
    pub fn wait(&self, taker: &ManagedArc<Task>) {
        taker.set_run_state(TaskState::Blocked);
        self.body().takers.push_back(taker);
    }

    /// Gives waiting messages to waiting takers, oldest to oldest; each
    /// taker served is ready to run again, with its result in its
    /// registers.
    fn serve_takers(&self) {
        let body = self.body();
        while body.count.get() > 0 {
            let Some(taker) = body.takers.pop_front() else { break };
            // The slot the taker named is still in its saved registers.
            let destination = taker.take_destination();
            let result = self.take(&taker, destination).expect("a message is waiting");
            answer(&taker, result);
        }
    }
    // ANCHOR_END: take

    // ANCHOR: hand_to_taker
    /// The fast path's put of the number `value` (`fastpath.rs`): if a
    /// taker waits, it comes out of the queue and the message is its, and
    /// the channel is left as [`put`](Self::put) then its `take` would
    /// leave it. `None`, changing nothing, if no taker waits (or, which
    /// cannot be while one does, a message waits).
    pub fn hand_to_taker(&self, value: u64) -> Option<ManagedArc<Task>> {
        let body = self.body();
        if body.count.get() != 0 {
            return None;
        }
        let taker = body.takers.pop_front()?;
        // The message `put` would write at `first`, and `take` move past.
        let slot = &body.messages[body.first.get()];
        slot.kind.set(MessageKind::Raw as u64);
        slot.value.set(value);
        body.first.set((body.first.get() + 1) % CAPACITY);
        Some(taker)
    }
    // ANCHOR_END: hand_to_taker

    /// The number of the task that took this channel's last fault message
    /// (0: none has): a task that faults into a channel it handles itself
    /// would wait for itself (`faults.rs`).
    pub fn handler(&self) -> u64 {
        self.body().handler.get()
    }

    /// The tasks waiting to take, oldest first (at most `limit`: a bound,
    /// so that a broken link cannot make a walk spin).
    pub fn takers(&self, limit: usize) -> impl Iterator<Item = u64> + '_ {
        self.body().takers.ids(limit)
    }
}

/// What the audit reads of the live channel whose header is `channel`: its
/// takers, and the capability slot of each message with whether the
/// message is waiting (a slot outside the waiting ones must be empty).
///
/// # Safety
/// `channel` must be a live channel's header, as long as these are used.
pub(super) unsafe fn audit_view<'a>(channel: &Header) -> (&'a TaskQueue, [(&'a Slot, bool); CAPACITY]) {
    // SAFETY: the caller's promise.
    let body: &'a ChannelBody = unsafe { reach(channel.body()) };
    let (first, count) = (body.first.get(), body.count.get());
    let slots = core::array::from_fn(|index| {
        let waiting = (index + CAPACITY - first % CAPACITY) % CAPACITY < count;
        (&body.messages[index].capability, waiting)
    });
    (&body.takers, slots)
}

/// The kind of an outgoing message.
fn kind_of(message: &Outgoing) -> MessageKind {
    match message {
        Outgoing::Raw(_) => MessageKind::Raw,
        Outgoing::Payload(_) => MessageKind::Payload,
        Outgoing::Capability(_) => MessageKind::Capability,
        Outgoing::Fault { .. } => MessageKind::Fault,
        Outgoing::Interrupt(_) => MessageKind::Interrupt,
    }
}

/// Stops the task a fault message (`record`) in a channel being destroyed
/// names, if it still lives and waits for that fault's handler
/// (`faults.rs`). A task doomed in the same destruction is left to it (see
/// `pop_front_living`).
fn stop_unheard(capability: &Slot, record: &[u8]) {
    let Some(task) = capability.links().0.get() else { return };
    // SAFETY: a waiting message's capability names a live (or doomed, not
    // yet destroyed) object.
    if unsafe { reach::<Header>(task) }.strong_count() == 0 {
        return;
    }
    if let Ok(task) = capability.upgrade::<Task>() {
        crate::faults::stop_unheard(&task, record);
    }
}

// ANCHOR: deliver
/// Checks that `message` can be delivered to `taker`, then delivers it.
/// Nothing changes if it cannot.
fn deliver(
    message: &Message,
    taker: &ManagedArc<Task>,
    destination: u64,
) -> Result<(MessageKind, u64), Error> {
    let kind = MessageKind::try_from(message.kind.get()).expect("the channel wrote the kind");
    let value = message.value.get();
    match kind {
        MessageKind::Raw | MessageKind::Interrupt => Ok((kind, value)),
        MessageKind::Payload => {
            let (_page, buffer) = taker.buffer().ok_or(Error::NoBuffer)?;
            // SAFETY: the message's payload, which only the channel writes.
            let payload = unsafe { &*message.payload.get() };
            buffer[..value as usize].copy_from_slice(&payload[..value as usize]);
            Ok((kind, value))
        }
        MessageKind::Capability | MessageKind::Fault => {
            let address = CAddr::from_raw(destination).map_err(|_| Error::MalformedAddress)?;
            let root = taker.cpool_slot().upgrade::<CPool>().map_err(|_| Error::EmptySlot)?;
            let found = cpool::lookup(&root, address)?;
            if !found.slot().is_empty() {
                return Err(Error::SlotOccupied);
            }
            if kind == MessageKind::Fault {
                let (_page, buffer) = taker.buffer().ok_or(Error::NoBuffer)?;
                // SAFETY: the message's payload, which only the channel writes.
                let record = unsafe { &*message.payload.get() };
                buffer[..FaultMessage::SIZE].copy_from_slice(&record[..FaultMessage::SIZE]);
            }
            if message.capability.is_empty() {
                return Ok((kind, REVOKED_IN_FLIGHT));
            }
            message.capability.move_to(found.slot()).expect("a full source and an empty destination");
            Ok((kind, destination))
        }
    }
}
// ANCHOR_END: deliver

// ANCHOR: answer
/// Gives a woken taker its result (in its saved registers, as if its take
/// had returned it) and makes it ready to run.
fn answer(taker: &ManagedArc<Task>, result: Result<(MessageKind, u64), Error>) {
    taker.set_take_answer(result);
    make_ready(taker);
}
// ANCHOR_END: answer
